/* The configuration keys and how a subcommand loads them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bin.h"
#include "hark/asr.h"
#include "hark/buf.h"
#include "hark/config.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/store.h"

extern char **environ;

static const struct config_key keys[] = {
    {"listen", CONFIG_STRING, "127.0.0.1:8056", 0, 0,
     "Address the HTTP API listens on, host:port ([v6]:port for IPv6)."},
    {"data", CONFIG_STRING, "./hark-data", 0, 0,
     "Directory for the SQLite store and other state; created 0700 if missing."},
    {"log_level", CONFIG_STRING, "info", 0, 0, "debug, info, warn or error."},
    {"admin_api_key", CONFIG_STRING, NULL, 0, 0,
     "Admin key for /admin routes. Unset: one is generated at first start, printed once "
     "and kept only as a hash."},
    {"http_threads", CONFIG_INT, "2", 1, 256, "Threads serving HTTP requests."},
    {"max_connections", CONFIG_INT, "1024", 1, 1000000,
     "Open HTTP connections in total; past it new connections are closed at once."},
    {"max_connections_per_ip", CONFIG_INT, "0", 0, 1000000,
     "Open connections per client address; 0 = no per-address cap (use behind a proxy)."},
    {"max_body_bytes", CONFIG_BYTES, "1M", 1024, 1LL << 30,
     "Largest request body accepted (413 beyond)."},
    {"max_header_bytes", CONFIG_BYTES, "16K", 1024, 1LL << 20,
     "Largest request head (request line + headers) accepted (431 beyond)."},
    {"idle_timeout", CONFIG_MS, "30s", 1000, 3600000,
     "Idle HTTP connections are closed after this long (whole seconds)."},
    {"access_log", CONFIG_BOOL, "true", 0, 0, "Log one line per HTTP request."},
    {"db_busy_timeout", CONFIG_MS, "5s", 0, 600000,
     "How long a store writer waits for a lock before failing with 503."},
    {"default_max_concurrent_bots", CONFIG_INT, "3", 0, 10000,
     "max_concurrent_bots for users created without one."},
    {"file_source_dir", CONFIG_STRING, "", 0, 0,
     "Directory whose files POST /bots may name as file:/// sources (symlinks resolved, "
     "must stay inside it); empty: file:// sources are refused."},
    {"asr_engine", CONFIG_STRING, "whisper", 0, 0,
     "whisper (whisper.cpp in process, needs model) or remote (an OpenAI-compatible server)."},
    {"remote_url", CONFIG_STRING, NULL, 0, 0,
     "remote engine: base URL ending in /v1, e.g. https://gpu-box:8056/v1."},
    {"remote_key", CONFIG_STRING, NULL, 0, 0, "remote engine: bearer token, if the server wants one."},
    {"remote_model", CONFIG_STRING, "whisper-1", 0, 0, "remote engine: model name to request."},
    {"remote_timeout", CONFIG_MS, "120s", 1000, 3600000, "remote engine: time limit per request."},
    {"model", CONFIG_STRING, NULL, 0, 0,
     "Whisper model file (ggml), e.g. DATA/models/ggml-base.en.bin. See docs/models.md."},
    {"vad_model", CONFIG_STRING, NULL, 0, 0,
     "Silero VAD model file (ggml) for streaming; unset: streams decode without VAD gating."},
    {"asr_decoders", CONFIG_INT, "1", 1, 64,
     "Decode states in the engine's pool: how many decodes run at once."},
    {"asr_threads", CONFIG_INT, "2", 1, 256, "Compute threads per decode."},
    {"max_upload_bytes", CONFIG_BYTES, "100M", 1024, 1LL << 32,
     "Largest audio upload to /v1/audio/transcriptions (413 beyond)."},
    {"batch_queue", CONFIG_INT, "16", 1, 100000,
     "Batch transcriptions waiting for a decoder; past it 503 with Retry-After."},
    {"webhook_allow_private", CONFIG_BOOL, "false", 0, 0,
     "Let webhooks reach loopback, private and link-local addresses (SSRF guard off)."},
    {"webhook_retry_schedule", CONFIG_STRING, "60,300,1800,7200", 0, 0,
     "Seconds to wait before each webhook retry, comma-separated (up to 16, each at most "
     "30 days, +-10 % jitter); after the last one fails the delivery is dead-lettered."},
    {"webhook_timeout", CONFIG_MS, "10s", 100, 600000,
     "Time limit of one webhook delivery attempt, connect included."},
    {"max_streams", CONFIG_INT, "8", 1, 10000,
     "Live streams transcribed at once (e.g. /ws/audio pushes); past it a new one is told "
     "to WAIT."},
    {"whisperlive_listen", CONFIG_STRING, NULL, 0, 0,
     "host:port of a WhisperLive-compatible listener (ws://host:port/, no API key), e.g. "
     "127.0.0.1:9090; unset: off. Bind it to trusted networks only. See docs/whisperlive.md."},
    {"whisperlive_user", CONFIG_STRING, NULL, 0, 0,
     "Email or id of the user who owns whisperlive_listen connections; required with it."},
    {"rtmp_host", CONFIG_STRING, "127.0.0.1", 0, 0,
     "Address rtmp bots listen on for their publisher (one port per meeting)."},
    {"rtmp_port_first", CONFIG_INT, "19350", 1, 65535,
     "First port of the rtmp ingest range; rtmp_port_count ports from it."},
    {"rtmp_port_count", CONFIG_INT, "100", 1, 10000,
     "rtmp meetings live at once (ports in the range); past it POST /bots answers 503."},
    {"bot_connect_timeout", CONFIG_MS, "30s", 1000, 3600000,
     "A bot that has not linked back to the API within it is killed and its meeting fails."},
    {"bot_memory_limit", CONFIG_BYTES, "0", 0, 1LL << 40,
     "Address-space limit of each bot process; 0: none."},
};

const struct config_key *settings_keys(size_t *n)
{
    *n = sizeof keys / sizeof *keys;
    return keys;
}

static int report(const struct config_error *err)
{
    char buf[512];
    fprintf(stderr, "hark: %s\n", config_error_str(err, buf, sizeof buf));
    return 2;
}

/* "--max-body-bytes" and "--max_body_bytes" both name max_body_bytes. */
static int flag_key(const char *arg, char *key, size_t size, const char **value)
{
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
        return 0;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    if (n >= size)
        return 0;
    for (size_t i = 0; i < n; i++)
        key[i] = name[i] == '-' ? '_' : name[i];
    key[n] = '\0';
    *value = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(keys[i].name, key))
            return 1;
    return !strcmp(key, "config") ? 1 : 0;
}

/* Applies flags in order; the file named by --config (or HARK_CONFIG) is
 * loaded first so flags always win over it. */
static int apply_flags(struct config *c, int argc, char **argv, int *argi, int pass)
{
    struct config_error err;
    int i = *argi;
    while (i < argc) {
        char key[64];
        const char *value;
        if (!flag_key(argv[i], key, sizeof key, &value))
            break;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hark: flag %s needs a value\n", argv[i]);
                return 2;
            }
            value = argv[++i];
        }
        i++;
        int is_file = !strcmp(key, "config");
        if (pass == 0 && is_file && config_load_file(c, value, &err))
            return report(&err);
        if (pass == 1 && !is_file && config_set(c, key, value, "flag", &err))
            return report(&err);
    }
    *argi = i;
    return 0;
}

int settings_flag(struct config *c, int argc, char **argv, int *i)
{
    char key[64];
    const char *value;
    struct config_error err;
    if (!flag_key(argv[*i], key, sizeof key, &value) || !strcmp(key, "config"))
        return 0;
    if (!value && *i + 1 >= argc) {
        fprintf(stderr, "hark: flag %s needs a value\n", argv[*i]);
        return -2;
    }
    if (!value)
        value = argv[++*i];
    if (config_set(c, key, value, "flag", &err))
        return -report(&err);
    enum log_level lvl;
    if (!strcmp(key, "log_level")) {
        if (log_level_parse(value, &lvl)) {
            fprintf(stderr, "hark: log_level must be debug, info, warn or error\n");
            return -2;
        }
        log_level_set(lvl);
    }
    return 1;
}

int settings_load(int argc, char **argv, int *argi, struct config **out)
{
    struct config *c;
    struct config_error err;
    size_t n;
    const struct config_key *k = settings_keys(&n);
    *out = NULL;
    if (config_new(k, n, &c)) {
        fprintf(stderr, "hark: out of memory\n");
        return 1;
    }
    const char *file = getenv("HARK_CONFIG");
    int start = *argi, rc = 0;
    if (file && *file && config_load_file(c, file, &err))
        rc = report(&err);
    if (!rc)
        rc = apply_flags(c, argc, argv, argi, 0);
    if (!rc && config_load_env(c, environ, &err))
        rc = report(&err);
    *argi = start;
    if (!rc)
        rc = apply_flags(c, argc, argv, argi, 1);
    enum log_level lvl;
    if (!rc && log_level_parse(config_get_str(c, "log_level"), &lvl)) {
        fprintf(stderr, "hark: log_level must be debug, info, warn or error (from %s)\n",
                config_origin(c, "log_level"));
        rc = 2;
    }
    if (rc) {
        config_free(c);
        return rc;
    }
    log_level_set(lvl);
    *out = c;
    return 0;
}

int settings_asr(const struct config *c, struct asr_config *out)
{
    struct asr_config ac = asr_config_default();
    const char *kind = config_get_str(c, "asr_engine");
    ac.model_path = config_get_str(c, "model");
    ac.decoders = (int)config_get_int(c, "asr_decoders");
    ac.threads = (int)config_get_int(c, "asr_threads");
    ac.remote_url = config_get_str(c, "remote_url");
    ac.remote_key = config_get_str(c, "remote_key");
    ac.remote_model = config_get_str(c, "remote_model");
    ac.remote_timeout_ms = (int)config_get_int(c, "remote_timeout");
    if (!strcmp(kind, "remote")) {
        ac.kind = ASR_KIND_REMOTE;
        if (!ac.remote_url) {
            fprintf(stderr, "hark: asr_engine = remote needs remote_url\n");
            return 2;
        }
    } else if (strcmp(kind, "whisper")) {
        fprintf(stderr, "hark: asr_engine must be whisper or remote, not '%s'\n", kind);
        return 2;
    }
    *out = ac;
    return 0;
}

int settings_open_store(const struct config *c, struct store **out)
{
    const char *dir = config_get_str(c, "data");
    if (mkdir(dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "hark: cannot create data dir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/hark.db", dir) >= sizeof path) {
        fprintf(stderr, "hark: data dir path too long\n");
        return 1;
    }
    struct store_config sc = store_config_default();
    sc.url = path;
    sc.busy_timeout_ms = (int)config_get_int(c, "db_busy_timeout");
    int rc = store_open(&sc, out);
    if (rc) {
        fprintf(stderr, "hark: cannot open store %s: %s\n", path, hark_strerror(rc));
        return 1;
    }
    return 0;
}

/* `hark config --doc` prints docs/configuration.md's table; plain `hark
 * config [flags]` prints the effective values and where each came from. */
int cmd_config(int argc, char **argv)
{
    size_t n;
    const struct config_key *k = settings_keys(&n);
    if (argc > 1 && !strcmp(argv[1], "--doc")) {
        struct hbuf b;
        hbuf_init(&b, 0);
        int rc = config_render_doc(k, n, &b);
        if (!rc)
            fwrite(b.data, 1, b.len, stdout);
        hbuf_release(&b);
        return rc ? 1 : 0;
    }
    struct config *c;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &c);
    if (rc)
        return rc;
    if (argi < argc) {
        fprintf(stderr, "hark config: unknown argument '%s'\n", argv[argi]);
        config_free(c);
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = config_get_str(c, k[i].name);
        if (!strcmp(k[i].name, "admin_api_key") && v)
            v = "(set)";
        printf("%s = %s    # %s\n", k[i].name, v ? v : "", config_origin(c, k[i].name));
    }
    config_free(c);
    return 0;
}
