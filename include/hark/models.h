/* models.h — the official whisper.cpp ggml models and a verified download.
 *
 * The catalog is the list whisper.cpp's models/download-ggml-model.sh offers
 * (tiny … large-v3-turbo and their q5/q8 quantized builds; not the
 * tinydiarize fine-tune, which lives in another repository), each with the
 * size and SHA-256 of its file ggml-<name>.bin in the Hugging Face repository
 * ggerganov/whisper.cpp (the Git LFS object ids).
 *
 * models_download() streams a model into a temporary file next to its final
 * place, hashing as it goes, and renames it into place only when the SHA-256
 * matches: a file under its final name is always a verified one, and a
 * failed or interrupted download leaves nothing behind.
 * Thread safety: the catalog is static; downloads share nothing. */
#ifndef HARK_MODELS_H
#define HARK_MODELS_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

#define MODELS_BASE_URL "https://huggingface.co/ggerganov/whisper.cpp/resolve/main"
#define MODELS_NAME_MAX 64             /* bytes of a model name, NUL excluded */
/* Bytes accepted for a download whose size the catalog does not pin: twice
 * the largest model. */
#define MODELS_MAX_BYTES (8ULL << 30)

struct models_entry {
    const char *name;                  /* "tiny.en"; the file is ggml-<name>.bin */
    uint64_t size_bytes;
    const char *sha256;                /* 64 lowercase hex digits */
};

/* The catalog in whisper.cpp's order (*n entries); static storage. */
const struct models_entry *models_catalog(size_t *n);
/* The entry named `name`, or NULL. */
const struct models_entry *models_find(const char *name);

struct models_download_config {
    const char *name;        /* a catalog name; any other name needs `sha256`.
                                1..MODELS_NAME_MAX of [A-Za-z0-9._-], not
                                starting with '.' or '-' */
    const char *dir;         /* where ggml-<name>.bin goes; created (0755, with
                                its parents) when missing */
    const char *base_url;    /* default MODELS_BASE_URL. https:// only, except
                                http:// to 127.0.0.1, localhost or [::1] */
    const char *sha256;      /* a pinned digest (64 hex digits, any case) that
                                replaces the catalog's, or NULL */
    /* Called as bytes arrive (total 0 when unknown); a non-zero return
     * cancels the download. NULL: no progress. */
    int (*progress)(void *user, uint64_t done, uint64_t total);
    void *user;              /* passed to progress, borrowed */
};
struct models_download_config models_download_config_default(void);

struct models_download_result {
    char path[4096];         /* the installed file */
    char sha256[65];         /* its digest, lowercase hex */
    uint64_t size_bytes;
    int already;             /* 1: it was already there with the right digest;
                                nothing was downloaded */
    char detail[512];        /* on failure: what went wrong, for an operator */
};

/* Downloads <base_url>/ggml-<name>.bin into dir, following redirects (to
 * https only), and installs it once its SHA-256 matches. All strings in c are
 * borrowed for the call; *out is filled in every case (detail on failure).
 *  HARK_EINVAL   bad name, unknown name without sha256, bad sha256 or URL
 *  HARK_ENOENT   the server has no such file (404)
 *  HARK_EEXIST   a file with another digest is in the way; it is kept
 *  HARK_ECRYPTO  the download's digest does not match; nothing is installed
 *  HARK_ETOOBIG  the server sent more than the catalog size (or
 *                MODELS_MAX_BYTES)
 *  HARK_EAGAIN   progress() cancelled it
 *  HARK_EIO      transport, HTTP or file system failure
 *  HARK_ENOMEM */
HARK_MUST_CHECK int models_download(const struct models_download_config *c,
                                    struct models_download_result *out);

#endif
