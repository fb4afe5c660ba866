/* hark transcribe --stream: a file through the live path, the same stream
 * code `hark serve` runs for live meetings. Events print as JSON lines. */
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "bin.h"
#include "hark/clock.h"
#include "hark/config.h"
#include "hark/json.h"
#include "hark/stream.h"

#define CHUNK_MS 100

static int event_line(const struct stream_event *ev, int64_t t0, struct hbuf *out)
{
    static const char *const kinds[] = {"partial", "segment", "end"};
    struct json_object *o = json_object_new_object();
    int rc = (!o || json_add_str(o, "type", kinds[ev->kind])) ? HARK_ENOMEM : 0;
    if (!rc && ev->kind != STREAM_EVENT_END) {
        rc = json_add_str(o, "id", ev->id) ||
             json_add(o, "start", json_new_seconds(ev->start_ms)) ||
             json_add(o, "end", json_new_seconds(ev->end_ms)) ||
             json_add_str(o, "text", ev->text) || json_add_str(o, "language", ev->language);
    }
    if (!rc && ev->kind == STREAM_EVENT_SEGMENT)
        rc = json_add(o, "final", json_object_new_boolean(ev->final));
    if (!rc && t0 >= 0) /* wall time since the start: real-time runs only */
        rc = json_add_int(o, "at_ms", ev->emitted_mono_ms - t0);
    if (!rc)
        rc = json_append(out, o);
    if (!rc)
        rc = hbuf_puts(out, "\n");
    json_object_put(o);
    return rc;
}

/* Moves every event available within timeout_ms into out; 1 after END. */
static int drain(struct stream *st, int timeout_ms, int64_t t0, struct hbuf *out, int *done)
{
    struct stream_event ev;
    int rc;
    while ((rc = stream_next(st, &ev, timeout_ms)) == 0) {
        rc = event_line(&ev, t0, out);
        stream_event_release(&ev);
        if (rc)
            return rc;
        timeout_ms = 0;
    }
    *done = rc == HARK_ECLOSED;
    return rc == HARK_ETIMEDOUT || rc == HARK_ECLOSED ? 0 : rc;
}

static void sleep_until(int64_t mono_ms)
{
    int64_t now = clock_mono_ms();
    if (mono_ms <= now)
        return;
    struct timespec ts = {(time_t)((mono_ms - now) / 1000), (long)((mono_ms - now) % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --fast: feed a step, wait until it is decoded, repeat — the stream sees
 * the same windows as in real time, without the waiting, so the output is
 * the same on every run. Real time: feed 100 ms chunks on the wall clock. */
static int feed_all(struct stream *st, int fast, int step_ms, const float *pcm, size_t n,
                    struct hbuf *out)
{
    int64_t t0 = clock_mono_ms();
    size_t chunk = (size_t)(fast ? step_ms : CHUNK_MS) * ASR_RATE / 1000;
    int rc = 0, done = 0;
    for (size_t off = 0; !rc && off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        rc = stream_feed(st, pcm + off, len);
        uint64_t fed, decoded;
        stream_progress(st, &fed, &decoded);
        while (!rc && fast && fed - decoded >= (uint64_t)chunk) {
            rc = drain(st, 20, -1, out, &done);
            stream_progress(st, &fed, &decoded);
        }
        if (!rc && !fast) {
            int64_t due = t0 + (int64_t)((off + len) * 1000 / ASR_RATE);
            rc = drain(st, (int)(due - clock_mono_ms() > 0 ? due - clock_mono_ms() : 0), t0,
                       out, &done);
            sleep_until(due);
        }
    }
    stream_end(st);
    while (!rc && !done)
        rc = drain(st, 1000, fast ? -1 : t0, out, &done);
    return rc;
}

int transcribe_stream(struct asr_engine *e, const struct config *c, const char *language,
                      int translate, int fast, int step_ms, const float *pcm, size_t n,
                      struct hbuf *out)
{
    struct streamer_config sc = streamer_config_default();
    sc.max_streams = 1;
    sc.vad_model = config_get_str(c, "vad_model");
    struct streamer *s;
    int rc = streamer_new(e, &sc, &s);
    if (rc)
        return rc;
    struct stream_config cfg = stream_config_default();
    cfg.id = "file";
    cfg.asr.language = language;
    cfg.asr.translate = translate;
    cfg.step_ms = step_ms;
    struct stream *st;
    rc = stream_open(s, &cfg, &st);
    if (!rc) {
        rc = feed_all(st, fast, step_ms, pcm, n, out);
        stream_close(st);
    }
    streamer_free(s);
    return rc;
}
