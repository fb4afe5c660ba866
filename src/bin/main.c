/* hark — one binary, one role per subcommand. */
#include <stdio.h>
#include <string.h>

#include "bin.h"
#include "hark/version.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: hark <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve     run everything in one process: API, store (SQLite)\n"
            "  admin     manage users and API tokens directly in the store\n"
            "  transcribe  transcribe audio files offline, or through the live path (--stream)\n"
            "  models    list and download whisper.cpp models\n"
            "  backup    write an online, consistent copy of the store\n"
            "  config    print the configuration keys (--doc) or effective values\n"
            "  webhook   set a user's webhook, send it a test event, list deliveries\n"
            "  bot       one meeting participant (started by serve's bot manager)\n"
            "  version   print the version\n"
            "\n"
            "Every configuration key is also a flag: --listen 127.0.0.1:8056, --data DIR.\n"
            "See docs/configuration.md, or `hark config --doc`.\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "admin"))
        return cmd_admin(argc - 1, argv + 1);
    if (!strcmp(cmd, "models"))
        return cmd_models(argc - 1, argv + 1);
    if (!strcmp(cmd, "transcribe"))
        return cmd_transcribe(argc - 1, argv + 1);
    if (!strcmp(cmd, "backup"))
        return cmd_backup(argc - 1, argv + 1);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "webhook"))
        return cmd_webhook(argc - 1, argv + 1);
    if (!strcmp(cmd, "bot"))
        return cmd_bot(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("hark %s\n", HARK_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
        return usage(stdout);
    fprintf(stderr, "hark: unknown command '%s'\n", cmd);
    return usage(stderr);
}
