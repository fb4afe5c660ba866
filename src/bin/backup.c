/* hark backup DEST — an online, consistent copy of the store while the
 * server keeps running (SQLite's backup API). Restore: stop hark, put the
 * copy in place as DATA/hark.db, start hark. */
#include <stdio.h>

#include "bin.h"
#include "hark/config.h"
#include "hark/store.h"

int cmd_backup(int argc, char **argv)
{
    struct config *c;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &c);
    if (rc)
        return rc;
    if (argi + 1 != argc) {
        fprintf(stderr, "usage: hark backup [--data DIR] DEST_FILE\n");
        config_free(c);
        return 2;
    }
    struct store *st;
    if (settings_open_store(c, &st)) {
        config_free(c);
        return 1;
    }
    rc = store_backup(st, argv[argi]);
    if (rc)
        fprintf(stderr, "hark backup: %s: %s\n", argv[argi],
                rc == HARK_EEXIST ? "already exists" : hark_strerror(rc));
    else
        printf("hark backup: wrote %s\n", argv[argi]);
    store_free(st);
    config_free(c);
    return rc ? 1 : 0;
}
