/* bin.h — what the subcommands of the hark binary share. */
#ifndef HARK_BIN_H
#define HARK_BIN_H
#include <stddef.h>

struct config;
struct config_key;
struct store;

/* The configuration keys every role reads (docs/configuration.md is
 * generated from this table; a test keeps the two equal). */
const struct config_key *settings_keys(size_t *n);

/* Builds the configuration: defaults < --config FILE (or HARK_CONFIG) <
 * HARK_* environment < --key value flags. Parses flags from argv[*argi]
 * until the first argument that is not a known flag, leaving *argi there.
 * Prints the error and returns 2 (usage) or 1 on failure, 0 on success with
 * *out freed by config_free(). */
int settings_load(int argc, char **argv, int *argi, struct config **out);

/* A configuration flag met after other arguments (e.g. after a file name):
 * applies argv[*i] (and its value, advancing *i). 1 when it was one, 0 when
 * argv[*i] is not a configuration flag, a negative exit status (printed)
 * when its value is bad. */
int settings_flag(struct config *c, int argc, char **argv, int *i);

struct asr_config;
/* The engine settings (asr_engine, model, remote_*, asr_*); prints the
 * problem and returns 2 when they do not add up. Strings borrowed from c. */
int settings_asr(const struct config *c, struct asr_config *out);

/* Opens the store under the configured data dir (creating the dir, 0700).
 * Prints the cause and returns non-zero on failure. */
int settings_open_store(const struct config *c, struct store **out);

struct asr_engine;
struct hbuf;

/* Feeds pcm (n samples at 16 kHz) through a live stream on engine e and
 * appends one JSON line per event to out. fast: no real-time pacing, each
 * step decoded before the next is fed (deterministic). */
int transcribe_stream(struct asr_engine *e, const struct config *c, const char *language,
                      int translate, int fast, int step_ms, const float *pcm, size_t n,
                      struct hbuf *out);

int cmd_serve(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_bot(int argc, char **argv);

struct webhook_queue_config;
/* The webhook_* keys as a delivery-queue config (webhook_cli.c); prints the
 * problem and returns 2 when the retry schedule does not parse. */
int settings_webhooks(const struct config *c, struct webhook_queue_config *out);

#endif
