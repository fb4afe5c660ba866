/* GET /recordings/{platform}/{native_meeting_id} (X-API-Key, scope tx):
 * the meeting's Ogg/Opus recording, and the removal of a meeting's audio
 * files when the meeting is deleted.
 *
 * Layout under the data dir (api_config.data_dir): the recording the
 * meeting pipeline wrote when the meeting ended is
 * `recordings/<meeting id>.ogg` (recording.h: the name appears only once the
 * file is complete), the audio log is `audio/` under key `m<meeting id>`
 * (alog.h). The meeting is looked up with the caller's user id, so another
 * user's meeting answers exactly as a missing one.
 *
 * The HTTP layer sends buffers only, so a recording is read whole into
 * memory for its response; RECORDING_SERVE_MAX bounds what one download
 * may cost. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_private.h"
#include "hark/alog.h"
#include "hark/log.h"
#include "hark/mem.h"

/* 1 GiB: some 97 hours at the default 24 kbit/s, 4.5 hours at the highest
 * bit rate libopus takes (510 kbit/s). Past it the answer is a 500 rather
 * than a response that could take that much memory per download. */
#define RECORDING_SERVE_MAX ((off_t)1 << 30)
#define NATIVE_ID_MAX 128

/* `<data_dir>/<sub>/<meeting_id><suffix>`; HARK_ETOOBIG when it does not fit. */
static int data_path(const struct api *a, const char *sub, int64_t meeting_id,
                     const char *suffix, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s/%" PRId64 "%s", a->cfg.data_dir, sub, meeting_id,
                     suffix);
    return n > 0 && (size_t)n < size ? 0 : HARK_ETOOBIG;
}

/* Reads the regular file fd of size bytes into a new buffer of size + 1
 * (NUL-terminated, as an hbuf's content is); *out freed with hark_free(). */
static int read_whole(int fd, size_t size, char **out)
{
    char *p = hark_malloc(size + 1);
    if (!p)
        return HARK_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* an error, or shorter than fstat said */
            hark_free(p);
            return HARK_EIO;
        }
        got += (size_t)r;
    }
    p[size] = '\0';
    *out = p;
    return 0;
}

/* Opens the recording of meeting_id: HARK_ENOENT when there is none (or
 * recordings are off), HARK_ETOOBIG past RECORDING_SERVE_MAX, HARK_EIO. */
static int recording_open_read(const struct api *a, int64_t meeting_id, int *fd_out,
                               size_t *size_out)
{
    char path[4096];
    if (!a->cfg.data_dir || !a->cfg.data_dir[0])
        return HARK_ENOENT;
    if (data_path(a, "recordings", meeting_id, ".ogg", path, sizeof path))
        return HARK_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return HARK_ENOENT;
        log_warn("api", "msg=\"cannot open recording\" meeting=%" PRId64 " errno=%d",
                 meeting_id, errno);
        return HARK_EIO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        rc = HARK_EIO;
    else if (st.st_size > RECORDING_SERVE_MAX)
        rc = HARK_ETOOBIG;
    if (rc) {
        log_warn("api", "msg=\"recording not served\" meeting=%" PRId64 " reason=%s",
                 meeting_id, rc == HARK_ETOOBIG ? "too_large" : "not_a_regular_file");
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return 0;
}

/* The attachment's name, "<platform>-<native id>.ogg". Both parts passed
 * the checks of POST /bots; anything a quoted-string cannot carry as it is
 * still becomes '_'. */
static void disposition(const struct store_meeting *m, char *buf, size_t size)
{
    char name[160];
    snprintf(name, sizeof name, "%s-%s", m->platform, m->native_meeting_id);
    for (char *p = name; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '_';
    snprintf(buf, size, "attachment; filename=\"%s.ogg\"", name);
}

/* The body moves into resp without a copy (a recording may be large). */
static void reply_ogg(struct http_response *resp, char *data, size_t size)
{
    hbuf_release(&resp->body);
    resp->body.data = data;
    resp->body.len = size;
    resp->body.cap = size + 1;
    resp->status = 200;
    resp->content_type = "audio/ogg";
}

int api_recording_get(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    char platform[32], native_id[NATIVE_ID_MAX + 1];
    struct store_meeting m;
    int rc = HARK_ENOENT; /* a parameter too long for any meeting names none */
    if (http_param(req, "platform", platform, sizeof platform) >= 0 &&
        http_param(req, "native_meeting_id", native_id, sizeof native_id) >= 0)
        rc = store_meeting_get_native(a->store, req->who.user_id, platform, native_id, &m);
    else
        memset(&m, 0, sizeof m);
    if (rc) {
        store_meeting_release(&m);
        return api_store_error(resp, rc, "Meeting not found");
    }
    int fd = -1;
    size_t size = 0;
    char *data = NULL;
    rc = recording_open_read(a, m.id, &fd, &size);
    if (!rc) {
        rc = read_whole(fd, size, &data);
        close(fd);
    }
    int r2 = 0;
    if (rc == HARK_ENOENT)
        r2 = http_reply_error(resp, 404, "recording_not_found", "No recording for this meeting");
    else if (rc == HARK_ETOOBIG)
        r2 = http_reply_error(resp, 500, "recording_too_large",
                              "The recording is larger than this server sends (1 GiB)");
    else if (rc == HARK_EIO)
        r2 = http_reply_error(resp, 500, "recording_unreadable", "The recording cannot be read");
    if (rc) {
        store_meeting_release(&m);
        return r2 ? r2 : rc;
    }
    char value[200];
    disposition(&m, value, sizeof value);
    log_info("api", "msg=\"recording served\" meeting=%" PRId64 " bytes=%zu", m.id, size);
    store_meeting_release(&m);
    reply_ogg(resp, data, size);
    http_reply_header(resp, "Content-Disposition", value);
    return 0;
}

/* Unlinks path; returns what happened, for the log line. */
static const char *remove_file(const char *path, int64_t meeting_id)
{
    if (unlink(path) == 0)
        return "removed";
    if (errno == ENOENT)
        return "absent";
    log_warn("api", "msg=\"cannot remove meeting file\" meeting=%" PRId64 " errno=%d",
             meeting_id, errno);
    return "failed";
}

void api_recording_remove(struct api *a, int64_t meeting_id)
{
    if (!a->cfg.data_dir || !a->cfg.data_dir[0])
        return;
    char path[4096], dir[4096], key[32];
    const char *rec = "failed", *tmp = "failed", *audio = "removed";
    if (!data_path(a, "recordings", meeting_id, ".ogg", path, sizeof path))
        rec = remove_file(path, meeting_id);
    if (!data_path(a, "recordings", meeting_id, ".ogg.tmp", path, sizeof path))
        tmp = remove_file(path, meeting_id);
    int n = snprintf(dir, sizeof dir, "%s/audio", a->cfg.data_dir);
    snprintf(key, sizeof key, "m%" PRId64, meeting_id);
    int rc = n > 0 && (size_t)n < sizeof dir ? alog_remove(dir, key) : HARK_ETOOBIG;
    if (rc == HARK_ENOENT) {
        audio = "absent"; /* no audio dir: no meeting ever logged audio */
    } else if (rc) {
        /* EBUSY: a log still open for a finished meeting (a bot that
         * outlived it); its files stay until the next removal. */
        audio = "failed";
        log_warn("api", "msg=\"cannot remove audio log\" meeting=%" PRId64 " err=%s",
                 meeting_id, hark_strerror(rc));
    }
    log_info("api", "msg=\"meeting files removed\" meeting=%" PRId64 " recording=%s "
             "recording_tmp=%s audio_log=%s", meeting_id, rec, tmp, audio);
}
