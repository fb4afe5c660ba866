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

/* Opens the store under the configured data dir (creating the dir, 0700).
 * Prints the cause and returns non-zero on failure. */
int settings_open_store(const struct config *c, struct store **out);

int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_config(int argc, char **argv);

#endif
