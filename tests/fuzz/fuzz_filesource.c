/* fuzz_filesource — file:// source URLs from POST /bots: the fuzz input,
 * as a URL, against a real directory holding a file, a subdirectory, a
 * symlink to a file outside it and one to the directory's parent.
 *
 * Beyond "no crash, no leak": whatever the input, an accepted URL is
 * "file://" + a path under the directory's realpath (component-wise: the
 * directory "/x/d" never admits "/x/dd"), and a refusal says why. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/http/api_private.h"

static char dir[256], real_dir[4096];

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("x", f);
    fclose(f);
}

/* A fixed place, so seeds can name the files; made again if it exists. */
#define BASE "/tmp/hark-fuzz-filesource"

static void make_dir(const char *path)
{
    if (mkdir(path, 0700) && errno != EEXIST)
        abort();
}

static void make_link(const char *target, const char *path)
{
    if (symlink(target, path) && errno != EEXIST)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/d", BASE);
    make_dir(BASE);
    make_dir(dir);
    make_dir(BASE "/dd"); /* shares the prefix */
    make_dir(BASE "/d/sub");
    touch(BASE "/dd/outside.wav");
    touch(BASE "/d/a.wav");
    touch(BASE "/d/sub/b.wav");
    make_link(BASE "/dd/outside.wav", BASE "/d/out.wav");
    make_link("..", BASE "/d/up");
    if (!realpath(dir, real_dir))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char url[4200];
    if (size >= sizeof url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char out[4200];
    const char *why = NULL;
    int rc = api_file_source_resolve(dir, url, out, sizeof out, &why);
    if (rc) {
        if (!why || !*why)
            abort();
        return 0;
    }
    size_t n = strlen(real_dir);
    if (strncmp(out, "file://", 7) || strncmp(out + 7, real_dir, n) || out[7 + n] != '/')
        abort();
    return 0;
}
