/* The whisper.cpp model catalog and the verified download. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/models.h"
#include "hark/version.h"

/* Sizes and SHA-256s are the Git LFS ids of the files in
 * huggingface.co/ggerganov/whisper.cpp (tree/main). whisper.cpp's own
 * models/README.md lists SHA-1s only; these were taken from three
 * independent projects that pin the same files and agree on every entry. */
static const struct models_entry catalog[] = {
    {"tiny", 77691713ULL,
     "be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21"},
    {"tiny.en", 77704715ULL,
     "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f"},
    {"tiny-q5_1", 32152673ULL,
     "818710568da3ca15689e31a743197b520007872ff9576237bda97bd1b469c3d7"},
    {"tiny.en-q5_1", 32166155ULL,
     "c77c5766f1cef09b6b7d47f21b546cbddd4157886b3b5d6d4f709e91e66c7c2b"},
    {"tiny-q8_0", 43537433ULL,
     "c2085835d3f50733e2ff6e4b41ae8a2b8d8110461e18821b09a15c40c42d1cca"},
    {"base", 147951465ULL,
     "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe"},
    {"base.en", 147964211ULL,
     "a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002"},
    {"base-q5_1", 59707625ULL,
     "422f1ae452ade6f30a004d7e5c6a43195e4433bc370bf23fac9cc591f01a8898"},
    {"base.en-q5_1", 59721011ULL,
     "4baf70dd0d7c4247ba2b81fafd9c01005ac77c2f9ef064e00dcf195d0e2fdd2f"},
    {"base-q8_0", 81768585ULL,
     "c577b9a86e7e048a0b7eada054f4dd79a56bbfa911fbdacf900ac5b567cbb7d9"},
    {"small", 487601967ULL,
     "1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b"},
    {"small.en", 487614201ULL,
     "c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d"},
    {"small-q5_1", 190085487ULL,
     "ae85e4a935d7a567bd102fe55afc16bb595bdb618e11b2fc7591bc08120411bb"},
    {"small.en-q5_1", 190098681ULL,
     "bfdff4894dcb76bbf647d56263ea2a96645423f1669176f4844a1bf8e478ad30"},
    {"small-q8_0", 264464607ULL,
     "49c8fb02b65e6049d5fa6c04f81f53b867b5ec9540406812c643f177317f779f"},
    {"medium", 1533763059ULL,
     "6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208"},
    {"medium.en", 1533774781ULL,
     "cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356"},
    {"medium-q5_0", 539212467ULL,
     "19fea4b380c3a618ec4723c3eef2eb785ffba0d0538cf43f8f235e7b3b34220f"},
    {"medium.en-q5_0", 539225533ULL,
     "76733e26ad8fe1c7a5bf7531a9d41917b2adc0f20f2e4f5531688a8c6cd88eb0"},
    {"medium-q8_0", 823369779ULL,
     "42a1ffcbe4167d224232443396968db4d02d4e8e87e213d3ee2e03095dea6502"},
    {"large-v1", 3094623691ULL,
     "7d99f41a10525d0206bddadd86760181fa920438b6b33237e3118ff6c83bb53d"},
    {"large-v2", 3094623691ULL,
     "9a423fe4d40c82774b6af34115b8b935f34152246eb19e80e376071d3f999487"},
    {"large-v2-q5_0", 1080732091ULL,
     "3a214837221e4530dbc1fe8d734f302af393eb30bd0ed046042ebf4baf70f6f2"},
    {"large-v2-q8_0", 1656129691ULL,
     "fef54e6d898246a65c8285bfa83bd1807e27fadf54d5d4e81754c47634737e8c"},
    {"large-v3", 3095033483ULL,
     "64d182b440b98d5203c4f9bd541544d84c605196c4f7b845dfa11fb23594d1e2"},
    {"large-v3-q5_0", 1081140203ULL,
     "d75795ecff3f83b5faa89d1900604ad8c780abd5739fae406de19f23ecd98ad1"},
    {"large-v3-turbo", 1624555275ULL,
     "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69"},
    {"large-v3-turbo-q5_0", 574041195ULL,
     "394221709cd5ad1f40c46e6031ca61bce88931e6e088c188294c6d5a55ffa7e2"},
    {"large-v3-turbo-q8_0", 874188075ULL,
     "317eb69c11673c9de1e1f0d459b253999804ec71ac4c23c17ecf5fbe24e259a1"},
};

const struct models_entry *models_catalog(size_t *n)
{
    *n = sizeof catalog / sizeof *catalog;
    return catalog;
}

const struct models_entry *models_find(const char *name)
{
    for (size_t i = 0; i < sizeof catalog / sizeof *catalog; i++)
        if (!strcmp(catalog[i].name, name))
            return &catalog[i];
    return NULL;
}

struct models_download_config models_download_config_default(void)
{
    struct models_download_config c = {.base_url = MODELS_BASE_URL};
    return c;
}

/* ---- checks ------------------------------------------------------------- */

static int fail(struct models_download_result *out, int rc, const char *fmt, ...)
    HARK_PRINTF(3, 4);

static int fail(struct models_download_result *out, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* The name becomes a file name and part of a URL path: no separators, no
 * dot files, nothing a URL would need to escape. */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MODELS_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* Copies a 64-digit hex digest to out (lowercase); 0 if it is not one. */
static int digest_ok(const char *hex, char out[65])
{
    if (strlen(hex) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        char ch = hex[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return 0;
        out[i] = ch;
    }
    out[64] = '\0';
    return 1;
}

static int is_loopback(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
           !strcmp(host, "::1");
}

/* https anywhere; plain http only to this machine (a test or a local
 * mirror), where nobody on the path can swap the bytes. The URL is parsed
 * the way libcurl will fetch it, so "http://127.0.0.1:80@evil/" is evil. */
static int url_ok(const char *url, int *plain, struct models_download_result *out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!u)
        return HARK_ENOMEM;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        rc = fail(out, HARK_EINVAL, "not a URL: %s", url);
    else if (!strcmp(scheme, "https"))
        *plain = 0;
    else if (!strcmp(scheme, "http") && is_loopback(host))
        *plain = 1;
    else
        rc = fail(out, HARK_EINVAL, "refusing %s: models are fetched over https (plain http "
                  "only from 127.0.0.1, localhost or [::1])", url);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* mkdir -p, 0755. */
static int make_dirs(const char *dir, struct models_download_result *out)
{
    char path[sizeof out->path];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return fail(out, HARK_EINVAL, "bad directory name");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) && errno != EEXIST)
            return fail(out, HARK_EIO, "cannot create %s: %s", path, strerror(errno));
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return fail(out, HARK_EIO, "%s is not a directory", dir);
    return 0;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 of a file already on disk. */
static int hash_file(const char *path, char digest[65], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return HARK_EIO;
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    unsigned char buf[1 << 16];
    ssize_t r;
    *size = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) {
            crypto_hash_sha256_update(&sha, buf, (unsigned long long)r);
            *size += (uint64_t)r;
        }
    close(fd);
    if (r < 0)
        return HARK_EIO;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sha, d);
    hex(d, sizeof d, digest);
    return 0;
}

/* ---- the transfer ------------------------------------------------------- */

struct sink {
    int fd;
    crypto_hash_sha256_state sha;
    uint64_t done, limit, total;
    int rc, err;                       /* why on_data stopped; errno */
    const struct models_download_config *c;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    if (s->done + n > s->limit) {
        s->rc = HARK_ETOOBIG;
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->rc = HARK_EIO;
            s->err = w < 0 ? errno : ENOSPC;
            return 0;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(&s->sha, (const unsigned char *)p, n);
    s->done += n;
    return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct sink *s = arg;
    (void)dlnow;                       /* restarts at each redirect; s->done does not */
    (void)ultotal;
    (void)ulnow;
    if (!s->total && dltotal > 0)
        s->total = (uint64_t)dltotal;
    return s->c->progress ? s->c->progress(s->c->user, s->done, s->total) : 0;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        init_rc = HARK_EIO;
}

static int set_options(CURL *h, const char *url, int plain, struct sink *s, char *errbuf)
{
    const char *proto = plain ? "http" : "https";
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, proto) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION) != CURLE_OK)
        return HARK_ENOMEM;
    /* Hugging Face answers with a redirect to its CDN; a loopback mirror
     * has no business sending us elsewhere. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, plain ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* No overall limit (3 GB take a while); a stalled transfer ends. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    return 0;
}

static int transfer_error(CURL *h, CURLcode cc, const struct sink *s, const char *url,
                          const char *errbuf, struct models_download_result *out)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_HTTP_RETURNED_ERROR && status == 404)
        return fail(out, HARK_ENOENT, "no such model file at %s (HTTP 404)", url);
    if (cc == CURLE_HTTP_RETURNED_ERROR)
        return fail(out, HARK_EIO, "%s answered HTTP %ld", url, status);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return fail(out, HARK_EAGAIN, "download cancelled after %llu bytes",
                    (unsigned long long)s->done);
    if (s->rc == HARK_ETOOBIG)
        return fail(out, HARK_ETOOBIG, "the server sent more than the expected %llu bytes",
                    (unsigned long long)s->limit);
    if (s->rc == HARK_EIO)
        return fail(out, HARK_EIO, "cannot write the download: %s", strerror(s->err));
    return fail(out, HARK_EIO, "download from %s failed after %llu bytes: %s", url,
                (unsigned long long)s->done, *errbuf ? errbuf : curl_easy_strerror(cc));
}

/* Fetches url into fd, hashing it. */
static int fetch(const char *url, int plain, struct sink *s, struct models_download_result *out)
{
    CURL *h = curl_easy_init();
    if (!h)
        return HARK_ENOMEM;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = set_options(h, url, plain, s, errbuf);
    if (!rc) {
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK)
            rc = transfer_error(h, cc, s, url, errbuf, out);
        else if (status < 200 || status > 299)
            rc = fail(out, HARK_EIO, "%s answered HTTP %ld", url, status);
    }
    curl_easy_cleanup(h);
    return rc;
}

/* Makes the rename durable: a crash after it must not lose the file. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Downloads into a temporary file in dir and renames it to out->path once
 * verified; the temporary file never outlives the call. */
static int download(const struct models_download_config *c, const char *url, int plain,
                    const char *want, uint64_t size, struct models_download_result *out)
{
    char tmp[sizeof out->path + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.ggml-%s.bin.part-XXXXXX", c->dir, c->name) >=
        sizeof tmp)
        return fail(out, HARK_EINVAL, "directory name too long");
    struct sink s = {.limit = size ? size : MODELS_MAX_BYTES, .total = size, .c = c};
    s.fd = mkostemp(tmp, O_CLOEXEC);
    if (s.fd < 0)
        return fail(out, HARK_EIO, "cannot create a file in %s: %s", c->dir, strerror(errno));
    crypto_hash_sha256_init(&s.sha);
    int rc = fetch(url, plain, &s, out);
    if (!rc && (fsync(s.fd) || fchmod(s.fd, 0644)))
        rc = fail(out, HARK_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (close(s.fd) && !rc)
        rc = fail(out, HARK_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc) {
        unsigned char d[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&s.sha, d);
        hex(d, sizeof d, out->sha256);
        out->size_bytes = s.done;
        if (strcmp(out->sha256, want))
            rc = fail(out, HARK_ECRYPTO, "sha256 mismatch for ggml-%s.bin (%llu bytes): "
                      "expected %s, got %s; nothing was installed", c->name,
                      (unsigned long long)s.done, want, out->sha256);
    }
    if (!rc && rename(tmp, out->path))
        rc = fail(out, HARK_EIO, "cannot rename into %s: %s", out->path, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        sync_dir(c->dir);
    return rc;
}

/* A file already in place is fine when it is the one we want: 0 then (with
 * out->already set), 1 when there is none, or an error. */
static int existing(const char *want, struct models_download_result *out)
{
    struct stat st;
    if (lstat(out->path, &st))
        return errno == ENOENT ? 1 : fail(out, HARK_EIO, "cannot stat %s: %s", out->path,
                                          strerror(errno));
    char have[65];
    if (!S_ISREG(st.st_mode) || hash_file(out->path, have, &out->size_bytes))
        return fail(out, HARK_EEXIST, "%s is in the way and is not a readable file", out->path);
    if (strcmp(have, want))
        return fail(out, HARK_EEXIST, "%s exists with sha256 %s, not %s; remove it to "
                    "download again", out->path, have, want);
    memcpy(out->sha256, have, sizeof have);
    out->already = 1;
    return 0;
}

int models_download(const struct models_download_config *c, struct models_download_result *out)
{
    memset(out, 0, sizeof *out);
    if (!c->name || !name_ok(c->name))
        return fail(out, HARK_EINVAL, "bad model name '%s'", c->name ? c->name : "");
    const struct models_entry *e = models_find(c->name);
    char want[65];
    if (c->sha256 && !digest_ok(c->sha256, want))
        return fail(out, HARK_EINVAL, "--sha256 must be 64 hex digits");
    if (!c->sha256 && !e)
        return fail(out, HARK_EINVAL, "unknown model '%s' (see `hark models list`); another "
                    "file needs its digest pinned with --sha256", c->name);
    if (!c->sha256)
        memcpy(want, e->sha256, sizeof want);
    /* The catalog's size holds for the catalog's bytes only, not for
     * whatever another pinned digest names. */
    uint64_t size = e && !strcmp(want, e->sha256) ? e->size_bytes : 0;
    const char *base = c->base_url ? c->base_url : MODELS_BASE_URL;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    char url[2048];
    if ((size_t)snprintf(url, sizeof url, "%.*s/ggml-%s.bin", (int)blen, base, c->name) >=
        sizeof url)
        return fail(out, HARK_EINVAL, "base URL too long");
    int plain = 0;
    int rc = url_ok(url, &plain, out);
    if (rc)
        return rc;
    if (!c->dir)
        return fail(out, HARK_EINVAL, "no directory given");
    if ((size_t)snprintf(out->path, sizeof out->path, "%s/ggml-%s.bin", c->dir, c->name) >=
        sizeof out->path - 32)
        return fail(out, HARK_EINVAL, "directory name too long");
    pthread_once(&init_once, init);
    if (init_rc)
        return fail(out, HARK_EIO, "libsodium or libcurl failed to start");
    if ((rc = make_dirs(c->dir, out)))
        return rc;
    if ((rc = existing(want, out)) <= 0)
        return rc;
    return download(c, url, plain, want, size, out);
}
