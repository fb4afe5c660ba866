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
 * The file is sent from its descriptor (http_reply_file()): a download
 * costs no memory whatever the recording's length. */
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

#define NATIVE_ID_MAX 128

/* `<data_dir>/<sub>/<meeting_id><suffix>`; HARK_ETOOBIG when it does not fit. */
static int data_path(const struct api *a, const char *sub, int64_t meeting_id,
                     const char *suffix, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s/%" PRId64 "%s", a->cfg.data_dir, sub, meeting_id,
                     suffix);
    return n > 0 && (size_t)n < size ? 0 : HARK_ETOOBIG;
}

/* Opens the recording of meeting_id: HARK_ENOENT when there is none (or
 * recordings are off), HARK_EIO. */
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
    if (rc) {
        log_warn("api", "msg=\"recording not served\" meeting=%" PRId64
                 " reason=not_a_regular_file", meeting_id);
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
    rc = recording_open_read(a, m.id, &fd, &size);
    int r2 = 0;
    if (rc == HARK_ENOENT)
        r2 = http_reply_error(resp, 404, "recording_not_found", "No recording for this meeting");
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
    http_reply_header(resp, "Content-Disposition", value);
    return http_reply_file(resp, 200, "audio/ogg", fd, size);
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
