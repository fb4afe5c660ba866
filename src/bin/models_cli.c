/* hark models list | download NAME — the official whisper.cpp models,
 * fetched over https and installed only once their SHA-256 checks out. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bin.h"
#include "hark/config.h"
#include "hark/models.h"


struct args {
    const char *sub, *name, *dir, *base_url, *sha256;
};

static int usage(void)
{
    fprintf(stderr,
            "usage: hark models list [--dir DIR]\n"
            "       hark models download NAME [--dir DIR] [--base-url URL] [--sha256 HEX]\n"
            "\n"
            "DIR defaults to the data directory's models/ (--data DIR). NAME is one of\n"
            "`hark models list`; any other needs --sha256. See docs/models.md.\n");
    return 2;
}

/* "--dir X" or "--dir=X": 1 and *value when arg is flag, 0 otherwise. */
static int own_flag(const char *flag, int argc, char **argv, int *i, const char **value)
{
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* Our flags and the positionals; configuration flags (--data DIR, ...)
 * may come anywhere and go to the configuration. */
static int parse(struct config *cfg, int argc, char **argv, int argi, struct args *a)
{
    for (int i = argi; i < argc; i++) {
        const char *v = NULL;
        const char **slot = NULL;
        int flag = settings_flag(cfg, argc, argv, &i);
        if (flag < 0)
            return -flag;
        if (flag)
            continue;
        if (own_flag("--dir", argc, argv, &i, &v))
            slot = &a->dir;
        else if (own_flag("--base-url", argc, argv, &i, &v))
            slot = &a->base_url;
        else if (own_flag("--sha256", argc, argv, &i, &v))
            slot = &a->sha256;
        if (slot && !v) {
            fprintf(stderr, "hark models: %s needs a value\n", argv[i]);
            return 2;
        }
        if (slot)
            *slot = v;
        else if (argv[i][0] == '-')
            return usage();
        else if (!a->sub)
            a->sub = argv[i];
        else if (!a->name)
            a->name = argv[i];
        else
            return usage();
    }
    return 0;
}

/* "74.1 MiB", "1.5 GiB" */
static const char *human(uint64_t bytes, char *buf, size_t size)
{
    if (bytes >= (1ULL << 30))
        snprintf(buf, size, "%.1f GiB", (double)bytes / (double)(1ULL << 30));
    else
        snprintf(buf, size, "%.1f MiB", (double)bytes / (double)(1ULL << 20));
    return buf;
}

static int list(const char *dir)
{
    size_t n;
    const struct models_entry *m = models_catalog(&n);
    for (size_t i = 0; i < n; i++) {
        char path[4096], size[32];
        struct stat st;
        int fits = (size_t)snprintf(path, sizeof path, "%s/ggml-%s.bin", dir, m[i].name) <
                   sizeof path;
        printf("%-20s %10s%s\n", m[i].name, human(m[i].size_bytes, size, sizeof size),
               fits && stat(path, &st) == 0 ? "  installed" : "");
    }
    return 0;
}

/* ---- download ----------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct progress {
    const char *file;
    int tty;
    int64_t start_ms, shown_ms;
    uint64_t shown;                    /* bytes at the last line drawn */
    int drawn;                         /* a tty line is open */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* On a terminal one line redrawn five times a second; in a log a line per
 * tenth (or per 64 MiB when the size is unknown). */
static int on_progress(void *user, uint64_t done, uint64_t total)
{
    struct progress *p = user;
    if (interrupted)
        return 1;
    int64_t now = now_ms();
    char d[32], t[32];
    if (p->tty) {
        int last = total && done == total;
        if ((p->drawn && done == p->shown) || (now - p->shown_ms < 200 && !last))
            return 0;
        p->shown_ms = now;
        p->shown = done;
        double secs = (double)(now - p->start_ms) / 1000.0;
        double rate = secs > 0 ? (double)done / secs / (double)(1 << 20) : 0;
        if (total)
            fprintf(stderr, "\r%s  %s / %s  %3d%%  %.1f MiB/s   ", p->file,
                    human(done, d, sizeof d), human(total, t, sizeof t),
                    (int)(done * 100 / total), rate);
        else
            fprintf(stderr, "\r%s  %s  %.1f MiB/s   ", p->file, human(done, d, sizeof d), rate);
        p->drawn = 1;
        return 0;
    }
    uint64_t step = total ? total / 10 : 64ULL << 20;
    if (step == 0 || done < p->shown + step)
        return 0;
    p->shown = done - done % step;
    if (total)
        fprintf(stderr, "%s  %3d%%  %s / %s\n", p->file, (int)(done * 100 / total),
                human(done, d, sizeof d), human(total, t, sizeof t));
    else
        fprintf(stderr, "%s  %s\n", p->file, human(done, d, sizeof d));
    return 0;
}

static void catch_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;           /* no SA_RESTART: waits end early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int download(const struct args *a, const char *dir)
{
    char file[MODELS_NAME_MAX + 16];
    snprintf(file, sizeof file, "ggml-%s.bin", a->name);
    struct progress p = {.file = file, .tty = isatty(2), .start_ms = now_ms()};
    struct models_download_config c = models_download_config_default();
    c.name = a->name;
    c.dir = dir;
    if (a->base_url)
        c.base_url = a->base_url;
    c.sha256 = a->sha256;
    c.progress = on_progress;
    c.user = &p;
    struct models_download_result r;
    catch_signals(on_signal);
    int rc = models_download(&c, &r);
    catch_signals(SIG_DFL);
    if (p.drawn)
        fputc('\n', stderr);
    char size[32];
    if (!rc) {
        printf("hark models: %s %s (%s)\nsha256 %s (%s)\n",
               r.already ? "already installed:" : "installed", r.path,
               human(r.size_bytes, size, sizeof size), r.sha256,
               a->sha256 ? "matches --sha256" : "matches the catalog");
        return 0;
    }
    if (rc == HARK_EAGAIN && interrupted) {
        fprintf(stderr, "hark models: interrupted; nothing was installed\n");
        return 130;
    }
    fprintf(stderr, "hark models: %s\n", r.detail[0] ? r.detail : hark_strerror(rc));
    return rc == HARK_EINVAL ? 2 : 1;
}

int cmd_models(int argc, char **argv)
{
    struct args a = {0};
    struct config *cfg;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &cfg);
    if (rc)
        return rc;
    rc = parse(cfg, argc, argv, argi, &a);
    int is_list = a.sub && !strcmp(a.sub, "list") && !a.name;
    int is_download = a.sub && !strcmp(a.sub, "download") && a.name;
    if (!rc && !is_list && !is_download)
        rc = usage();
    char dir[4096];
    if (!rc && !a.dir &&
        (size_t)snprintf(dir, sizeof dir, "%s/models", config_get_str(cfg, "data")) >=
            sizeof dir) {
        fprintf(stderr, "hark models: data dir path too long\n");
        rc = 1;
    }
    if (!rc) {
        const char *d = a.dir ? a.dir : dir;
        rc = is_list ? list(d) : download(&a, d);
    }
    config_free(cfg);
    return rc;
}
