/* recording.c — Ogg/Opus writer for meeting audio (RFC 7845 mapping). */
#include "hark/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hark/audio.h"
#include "hark/log.h"
#include "hark/mem.h"

#define MOD "recording"

/* Granule positions and pre-skip count 48 kHz samples whatever the input
 * rate (RFC 7845 §4). */
#define OPUS_GRANULE_RATE 48000
#define GRANULE_PER_SAMPLE (OPUS_GRANULE_RATE / AUDIO_RATE)
/* libopus's recommended packet buffer; a 60 ms packet fits. */
#define PACKET_MAX 4000
/* A page per second of audio: a player can seek to the second, and a writer
 * never holds more than that in libogg's buffers. */
#define PAGE_GRANULES OPUS_GRANULE_RATE
/* One logical stream per file, so any serial works; a constant one keeps the
 * output reproducible. ASCII "hark". */
#define STREAM_SERIAL 0x6861726b
#define FRAME_MAX_SAMPLES (60 * AUDIO_RATE / 1000)

struct recording {
    char *path;
    char *tmp_path;
    int fd;
    int err;                      /* sticky error, 0 while healthy */
    OpusEncoder *enc;             /* hark_malloc'd, opus_encoder_init'd */
    ogg_stream_state os;
    size_t frame_samples;         /* per Opus frame at AUDIO_RATE */
    float frame[FRAME_MAX_SAMPLES];
    size_t frame_fill;            /* samples buffered in frame */
    uint64_t samples_in;          /* written by the caller */
    uint64_t samples_encoded;     /* fed to the encoder, padding included */
    int64_t page_granule;         /* granule of the last page written */
    int64_t packetno;
    int lookahead;                /* encoder delay in AUDIO_RATE samples */
    uint64_t bytes_out;
    unsigned char packet[PACKET_MAX];
};

struct recording_config recording_config_default(void)
{
    return (struct recording_config){
        .bitrate_bps = 24000,
        .complexity = 10,
        .frame_ms = 20,
    };
}

static int config_check(const struct recording_config *c)
{
    if (c->bitrate_bps < 6000 || c->bitrate_bps > 510000) {
        log_error(MOD, "msg=\"bitrate_bps out of range 6000..510000\" value=%d",
                  c->bitrate_bps);
        return HARK_ECONFIG;
    }
    if (c->complexity < 0 || c->complexity > 10) {
        log_error(MOD, "msg=\"complexity out of range 0..10\" value=%d", c->complexity);
        return HARK_ECONFIG;
    }
    if (c->frame_ms != 10 && c->frame_ms != 20 && c->frame_ms != 40 && c->frame_ms != 60) {
        log_error(MOD, "msg=\"frame_ms must be 10, 20, 40 or 60\" value=%d", c->frame_ms);
        return HARK_ECONFIG;
    }
    return 0;
}

static int io_error(const struct recording *r, const char *what)
{
    int e = errno;
    char q[512];
    log_error(MOD, "msg=\"%s failed\" path=%s errno=%d error=\"%s\"", what,
              log_quote(q, sizeof q, r->tmp_path), e, strerror(e));
    return HARK_EIO;
}

static int write_all(struct recording *r, const unsigned char *p, long len)
{
    size_t left = (size_t)len;
    while (left > 0) {
        ssize_t w = write(r->fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return io_error(r, "write");
        }
        p += w;
        left -= (size_t)w;
    }
    r->bytes_out += (uint64_t)len;
    return 0;
}

static int write_page(struct recording *r, const ogg_page *og)
{
    int rc = write_all(r, og->header, og->header_len);
    if (rc == 0)
        rc = write_all(r, og->body, og->body_len);
    return rc;
}

/* Writes every packet libogg holds, ending the current page. */
static int flush_pages(struct recording *r)
{
    ogg_page og;
    while (ogg_stream_flush(&r->os, &og) != 0) {
        int rc = write_page(r, &og);
        if (rc)
            return rc;
        r->page_granule = ogg_page_granulepos(&og);
    }
    return 0;
}

static int packet_in(struct recording *r, unsigned char *data, size_t len,
                     int64_t granule, int eos)
{
    ogg_packet op = {
        .packet = data,
        .bytes = (long)len,
        .b_o_s = r->packetno == 0,
        .e_o_s = eos,
        .granulepos = granule,
        .packetno = r->packetno,
    };
    /* libogg's only failure is its own (unhookable) realloc. */
    if (ogg_stream_packetin(&r->os, &op) != 0)
        return HARK_ENOMEM;
    r->packetno++;
    return 0;
}

static void put_le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    put_le16(p, v & 0xffff);
    put_le16(p + 2, v >> 16);
}

/* OpusHead and OpusTags each end a page of their own (RFC 7845 §3). */
static int write_headers(struct recording *r)
{
    unsigned char head[19];
    memcpy(head, "OpusHead", 8);
    head[8] = 1;                                   /* version */
    head[9] = 1;                                   /* channels */
    put_le16(head + 10, (unsigned)(r->lookahead * GRANULE_PER_SAMPLE));
    put_le32(head + 12, AUDIO_RATE);               /* input rate, informative */
    put_le16(head + 16, 0);                        /* output gain */
    head[18] = 0;                                  /* mapping family: mono */
    int rc = packet_in(r, head, sizeof head, 0, 0);
    if (rc == 0)
        rc = flush_pages(r);
    if (rc)
        return rc;

    static const char vendor[] = "hark";
    unsigned char tags[8 + 4 + sizeof vendor - 1 + 4];
    memcpy(tags, "OpusTags", 8);
    put_le32(tags + 8, (uint32_t)(sizeof vendor - 1));
    memcpy(tags + 12, vendor, sizeof vendor - 1);
    put_le32(tags + 12 + sizeof vendor - 1, 0);    /* no user comments */
    rc = packet_in(r, tags, sizeof tags, 0, 0);
    return rc ? rc : flush_pages(r);
}

/* Granule position after the last real sample: pre-skip plus the input. */
static int64_t end_granule(const struct recording *r)
{
    return (int64_t)(r->samples_in + (uint64_t)r->lookahead) * GRANULE_PER_SAMPLE;
}

/* Encodes the full frame buffer as one packet. The last packet of the
 * stream carries EOS and the granule trimmed to the real end. */
static int encode_frame(struct recording *r, int eos)
{
    opus_int32 len = opus_encode_float(r->enc, r->frame, (int)r->frame_samples,
                                       r->packet, PACKET_MAX);
    if (len < 0) {
        /* Only a bad argument fails, and ours were checked at open. */
        log_error(MOD, "msg=\"opus_encode_float failed\" error=\"%s\"", opus_strerror(len));
        return HARK_EINVAL;
    }
    r->frame_fill = 0;
    r->samples_encoded += r->frame_samples;
    int64_t granule = (int64_t)r->samples_encoded * GRANULE_PER_SAMPLE;
    if (eos)
        granule = end_granule(r);
    int rc = packet_in(r, r->packet, (size_t)len, granule, eos);
    if (rc == 0 && (eos || granule - r->page_granule >= PAGE_GRANULES))
        rc = flush_pages(r);
    return rc;
}

static int fail(struct recording *r, int rc)
{
    if (rc && !r->err)
        r->err = rc;
    return rc;
}

static void recording_free(struct recording *r)
{
    if (r->fd >= 0)
        close(r->fd);
    ogg_stream_clear(&r->os);
    hark_free(r->enc);
    hark_free(r->path);
    hark_free(r->tmp_path);
    hark_free(r);
}

static void remove_tmp(const struct recording *r)
{
    if (unlink(r->tmp_path) != 0 && errno != ENOENT) {
        int e = errno;
        char q[512];
        log_warn(MOD, "msg=\"cannot remove temp file\" path=%s errno=%d error=\"%s\"",
                 log_quote(q, sizeof q, r->tmp_path), e, strerror(e));
    }
}

static int encoder_setup(struct recording *r, const struct recording_config *c)
{
    r->enc = hark_malloc((size_t)opus_encoder_get_size(1));
    if (!r->enc)
        return HARK_ENOMEM;
    /* VOIP tunes the encoder for intelligibility of speech (SILK at these
     * rates, a high-pass and formant emphasis); meetings are speech and the
     * file exists to check what was said. */
    int oe = opus_encoder_init(r->enc, AUDIO_RATE, 1, OPUS_APPLICATION_VOIP);
    if (oe == OPUS_OK)
        oe = opus_encoder_ctl(r->enc, OPUS_SET_BITRATE(c->bitrate_bps));
    if (oe == OPUS_OK)
        oe = opus_encoder_ctl(r->enc, OPUS_SET_COMPLEXITY(c->complexity));
    if (oe == OPUS_OK)
        oe = opus_encoder_ctl(r->enc, OPUS_GET_LOOKAHEAD(&r->lookahead));
    if (oe != OPUS_OK) {
        log_error(MOD, "msg=\"opus encoder setup failed\" error=\"%s\"", opus_strerror(oe));
        return HARK_ECONFIG;
    }
    r->frame_samples = (size_t)(c->frame_ms * AUDIO_RATE / 1000);
    return 0;
}

int recording_open(const char *path, const struct recording_config *c,
                   struct recording **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (!path || !*path)
        return HARK_EINVAL;
    struct recording_config def = recording_config_default();
    if (!c)
        c = &def;
    int rc = config_check(c);
    if (rc)
        return rc;

    struct recording *r = hark_calloc(1, sizeof *r);
    if (!r)
        return HARK_ENOMEM;
    r->fd = -1;
    if (ogg_stream_init(&r->os, STREAM_SERIAL) != 0) {
        hark_free(r);
        return HARK_ENOMEM;
    }
    size_t len = strlen(path);
    r->path = hark_strdup(path);
    r->tmp_path = hark_malloc(len + sizeof ".tmp");
    if (!r->path || !r->tmp_path) {
        recording_free(r);
        return HARK_ENOMEM;
    }
    memcpy(r->tmp_path, path, len);
    memcpy(r->tmp_path + len, ".tmp", sizeof ".tmp");
    rc = encoder_setup(r, c);
    if (rc) {
        recording_free(r);
        return rc;
    }

    r->fd = open(r->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (r->fd < 0) {
        rc = io_error(r, "open");
        recording_free(r);
        return rc;
    }
    rc = write_headers(r);
    if (rc) {
        recording_abort(r);
        return rc;
    }
    *out = r;
    return 0;
}

int recording_write(struct recording *r, const float *pcm, size_t n)
{
    if (!r || (!pcm && n > 0))
        return HARK_EINVAL;
    if (r->err)
        return r->err;
    for (size_t i = 0; i < n;) {
        size_t take = r->frame_samples - r->frame_fill;
        if (take > n - i)
            take = n - i;
        for (size_t k = 0; k < take; k++) {
            float s = pcm[i + k];
            r->frame[r->frame_fill + k] = isfinite(s) ? s : 0.0f;
        }
        r->frame_fill += take;
        r->samples_in += take;
        i += take;
        if (r->frame_fill == r->frame_samples) {
            int rc = encode_frame(r, 0);
            if (rc)
                return fail(r, rc);
        }
    }
    return 0;
}

/* Pads with silence until the encoder has seen every real sample plus its
 * lookahead, so the decoder can output all of them; the EOS granule then
 * cuts the padding off. */
static int encode_tail(struct recording *r)
{
    uint64_t need = r->samples_in + (uint64_t)r->lookahead;
    for (;;) {
        memset(r->frame + r->frame_fill, 0,
               (r->frame_samples - r->frame_fill) * sizeof *r->frame);
        int last = r->samples_encoded + r->frame_samples >= need;
        int rc = encode_frame(r, last);
        if (rc || last)
            return rc;
    }
}

/* Makes the rename itself durable. A failure here does not undo a complete
 * file under its final name, so it is only logged. */
static void sync_dir(const struct recording *r)
{
    const char *slash = strrchr(r->path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == r->path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - r->path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - r->path), r->path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        char q[512];
        log_warn(MOD, "msg=\"cannot fsync directory\" path=%s errno=%d error=\"%s\"",
                 log_quote(q, sizeof q, dir), e, strerror(e));
    }
    if (fd >= 0)
        close(fd);
}

int recording_close(struct recording *r)
{
    if (!r)
        return HARK_EINVAL;
    int rc = r->err;
    if (rc == 0)
        rc = encode_tail(r);
    if (rc == 0 && fsync(r->fd) != 0)
        rc = io_error(r, "fsync");
    if (rc == 0) {
        int cr = close(r->fd);
        r->fd = -1;
        if (cr != 0)
            rc = io_error(r, "close");
    }
    if (rc == 0 && rename(r->tmp_path, r->path) != 0)
        rc = io_error(r, "rename");
    if (rc) {
        recording_abort(r);
        return rc;
    }
    sync_dir(r);
    char q[512];
    log_info(MOD, "msg=\"recording written\" path=%s samples=%llu bytes=%llu",
             log_quote(q, sizeof q, r->path), (unsigned long long)r->samples_in,
             (unsigned long long)r->bytes_out);
    recording_free(r);
    return 0;
}

void recording_abort(struct recording *r)
{
    if (!r)
        return;
    remove_tmp(r);
    recording_free(r);
}

int recording_encode_file(const float *pcm, size_t n, const char *path,
                          const struct recording_config *c)
{
    if (!pcm && n > 0)
        return HARK_EINVAL;
    struct recording *r;
    int rc = recording_open(path, c, &r);
    if (rc)
        return rc;
    rc = recording_write(r, pcm, n);
    if (rc) {
        recording_abort(r);
        return rc;
    }
    return recording_close(r);
}
