/* Which files a file:/// bot source may name: only regular, readable files
 * inside the operator's file_source_dir, so a user of the API cannot make a
 * bot read (and transcribe back to them) any file the server can read.
 *
 * The URL's path is taken literally (no percent-decoding, so '%' is
 * refused rather than guessed at) and must be absolute. It is checked
 * twice: as written, with "." and ".." folded, so a path outside the
 * directory is refused without telling whether it exists; then resolved
 * with realpath(), so a symbolic link inside the directory cannot lead out
 * of it. Containment is component-wise: /srv/a admits /srv/a/x, not
 * /srv/ab. What the bot opens is the resolved path. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_private.h"
#include "hark/log.h"

/* Folds "//", "." and ".." of the absolute path in (".." stops at "/");
 * -1 when the result does not fit. */
static int path_fold(const char *in, char *out, size_t size)
{
    size_t len = 0;
    if (size < 2)
        return -1;
    out[len++] = '/';
    for (const char *p = in; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* nothing to add */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--; /* the '/' before the dropped component */
        } else {
            if (len + (len > 1) + n >= size)
                return -1;
            if (len > 1)
                out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p += n + (p[n] == '/');
    }
    out[len] = '\0';
    return 0;
}

/* Whether path is dir or lies below it (both absolute, folded). */
static int path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1) /* "/" holds everything */
        return 1;
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int api_file_source_resolve(const char *dir, const char *url, char *out, size_t size,
                            const char **why)
{
    char dir_real[PATH_MAX], dir_folded[PATH_MAX], folded[PATH_MAX], real[PATH_MAX];
    const char *path = url + strlen("file://");
    *why = NULL;
    if (!dir || !dir[0])
        *why = "file:// sources are disabled: the operator sets file_source_dir";
    else if (strncmp(url, "file:///", 8))
        *why = "A file URL should be file:///absolute/path";
    else if (strchr(path, '%'))
        *why = "Percent-encoding is not supported in file:// URLs: write the path as it is";
    if (*why)
        return HARK_EINVAL;
    if (!realpath(dir, dir_real)) {
        log_warn("api", "msg=\"file_source_dir cannot be resolved\" errno=%d", errno);
        *why = "file:// sources are unavailable: file_source_dir cannot be resolved";
        return HARK_EINVAL;
    }
    /* The directory as the operator wrote it, when absolute: a path under
     * a symbolic link in it passes the first check too. */
    if (dir[0] != '/' || path_fold(dir, dir_folded, sizeof dir_folded))
        memcpy(dir_folded, dir_real, sizeof dir_folded);
    if (path_fold(path, folded, sizeof folded) ||
        !(path_inside(folded, dir_real) || path_inside(folded, dir_folded))) {
        *why = "The path is outside file_source_dir";
        return HARK_EINVAL;
    }
    if (!realpath(path, real)) {
        *why = errno == ENOENT || errno == ENOTDIR ? "No such file"
               : errno == EACCES                   ? "The file is not readable"
                                                   : "The path cannot be resolved";
        return HARK_EINVAL;
    }
    struct stat st;
    if (!path_inside(real, dir_real))
        *why = "The path leads outside file_source_dir (through a symbolic link)";
    else if (stat(real, &st) || !S_ISREG(st.st_mode))
        *why = "Not a regular file";
    else if (access(real, R_OK))
        *why = "The file is not readable";
    if (*why)
        return HARK_EINVAL;
    int n = snprintf(out, size, "file://%s", real);
    if (n < 0 || (size_t)n >= size) {
        *why = "The resolved path is too long";
        return HARK_EINVAL;
    }
    return 0;
}
