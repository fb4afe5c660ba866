/* The WhisperLive codec: options, audio, control and server messages, and
 * the transcript behind the segments messages. */
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "hark/mem.h"
#include "hark/stream.h"
#include "hark/whisperlive.h"

/* --- helpers ----------------------------------------------------------------- */

static int parse(const char *json, struct wl_options *o, char *err, size_t size)
{
    return wl_options_parse(json, strlen(json), o, err, size);
}

static void expect_invalid(const char *json, int rc, const char *err_has)
{
    struct wl_options o;
    char err[200];
    assert_int_equal(parse(json, &o, err, sizeof err), rc);
    if (!strstr(err, err_has))
        fail_msg("error \"%s\" does not mention \"%s\" for %s", err, err_has, json);
}

static struct stream_event event(enum stream_event_kind kind, int64_t start, int64_t end,
                                 const char *text)
{
    struct stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.final = kind == STREAM_EVENT_SEGMENT;
    ev.start_ms = start;
    ev.end_ms = end;
    ev.text = (char *)text; /* borrowed: wl_transcript_event copies */
    return ev;
}

static struct wl_transcript *transcript(int last_n, const char *speaker, int words)
{
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"u1\"}", &o, err, sizeof err), 0);
    o.send_last_n = last_n;
    o.word_timestamps = words;
    snprintf(o.speaker, sizeof o.speaker, "%s", speaker);
    struct wl_transcript *t;
    assert_int_equal(wl_transcript_new(&o, &t), 0);
    return t;
}

static void push(struct wl_transcript *t, enum stream_event_kind kind, int64_t start,
                 int64_t end, const char *text)
{
    struct stream_event ev = event(kind, start, end, text);
    assert_int_equal(wl_transcript_event(t, &ev), 0);
}

/* The next message as parsed JSON (caller puts), or NULL when none is due. */
static struct json_object *message(struct wl_transcript *t)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    int wrote = -1;
    assert_int_equal(wl_transcript_message(t, &b, &wrote), 0);
    struct json_object *o = wrote ? json_tokener_parse(b.data) : NULL;
    if (wrote)
        assert_non_null(o);
    else
        assert_int_equal(b.len, 0);
    hbuf_release(&b);
    return o;
}

static struct json_object *seg_at(struct json_object *msg, size_t i)
{
    struct json_object *segs = json_object_object_get(msg, "segments");
    assert_true(i < json_object_array_length(segs));
    return json_object_array_get_idx(segs, i);
}

static size_t n_segs(struct json_object *msg)
{
    return json_object_array_length(json_object_object_get(msg, "segments"));
}

static const char *field(struct json_object *o, const char *key)
{
    struct json_object *f = json_object_object_get(o, key);
    return f ? json_object_get_string(f) : NULL;
}

static void assert_seg(struct json_object *seg, const char *start, const char *end,
                       const char *text, int completed)
{
    struct json_object *s = json_object_object_get(seg, "start");
    assert_true(json_object_is_type(s, json_type_string)); /* strings, as WhisperLive */
    assert_string_equal(json_object_get_string(s), start);
    assert_string_equal(field(seg, "end"), end);
    assert_string_equal(field(seg, "text"), text);
    struct json_object *c = json_object_object_get(seg, "completed");
    assert_true(json_object_is_type(c, json_type_boolean));
    assert_int_equal(json_object_get_boolean(c), completed);
}

/* --- options ------------------------------------------------------------------ */

static void reference_client_options_parse(void **state)
{
    (void)state;
    /* What whisper_live/client.py sends in on_open, plus audio_format. */
    const char *json =
        "{\"uid\":\"0b6f8a6e-5c1e-4a55-9a1c-3f0e2c9d7b11\",\"language\":\"en\",\"task\":"
        "\"translate\",\"model\":\"small\",\"use_vad\":true,\"send_last_n_segments\":5,"
        "\"no_speech_thresh\":0.45,\"clip_audio\":false,\"same_output_threshold\":10,"
        "\"enable_translation\":false,\"target_language\":\"fr\",\"hotwords\":null,"
        "\"enable_diarization\":false,\"max_speakers\":10,\"word_timestamps\":true,"
        "\"initial_prompt\":null,\"vad_parameters\":{\"threshold\":0.5},"
        "\"audio_format\":\"int16\"}";
    struct wl_options o;
    char err[200];
    assert_int_equal(parse(json, &o, err, sizeof err), 0);
    assert_string_equal(o.uid, "0b6f8a6e-5c1e-4a55-9a1c-3f0e2c9d7b11");
    assert_string_equal(o.language, "en");
    assert_int_equal(o.translate, 1);
    assert_int_equal(o.format, WL_FORMAT_INT16);
    assert_int_equal(o.send_last_n, 5);
    assert_int_equal(o.word_timestamps, 1);
    assert_int_equal(o.unsupported, 0);
    assert_string_equal(o.speaker, "");
}

static void absent_fields_take_whisperlive_defaults(void **state)
{
    (void)state;
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"a\",\"platform\":\"x\",\"token\":1}", &o, err,
                           sizeof err), 0);
    assert_string_equal(o.language, "");
    assert_int_equal(o.translate, 0);
    assert_int_equal(o.format, WL_FORMAT_FLOAT32);
    assert_int_equal(o.send_last_n, 10);
    assert_int_equal(o.word_timestamps, 0);
}

static void null_or_auto_language_means_detect_and_codes_are_lowercased(void **state)
{
    (void)state;
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"a\",\"language\":null}", &o, err, sizeof err), 0);
    assert_string_equal(o.language, "");
    assert_int_equal(parse("{\"uid\":\"a\",\"language\":\"auto\"}", &o, err, sizeof err), 0);
    assert_string_equal(o.language, "");
    assert_int_equal(parse("{\"uid\":\"a\",\"language\":\"DE\"}", &o, err, sizeof err), 0);
    assert_string_equal(o.language, "de");
    assert_int_equal(parse("{\"uid\":\"a\",\"language\":\"haw\"}", &o, err, sizeof err), 0);
    assert_string_equal(o.language, "haw");
}

static void speaker_extension_and_unsupported_features_are_read(void **state)
{
    (void)state;
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"a\",\"speaker\":\"Zoë\",\"enable_translation\":true,"
                           "\"enable_diarization\":true}", &o, err, sizeof err), 0);
    assert_string_equal(o.speaker, "Zoë");
    assert_int_equal(o.unsupported, WL_UNSUPPORTED_TRANSLATION | WL_UNSUPPORTED_DIARIZATION);
}

static void malformed_options_are_parse_errors_with_a_message(void **state)
{
    (void)state;
    expect_invalid("", HARK_EPARSE, "JSON object");
    expect_invalid("{\"uid\":", HARK_EPARSE, "JSON object");
    expect_invalid("[1,2]", HARK_EPARSE, "JSON object");
    expect_invalid("\"uid\"", HARK_EPARSE, "JSON object");
    expect_invalid("{\"uid\":\"a\"} trailing", HARK_EPARSE, "JSON object");
}

static void uid_is_required_bounded_and_clean(void **state)
{
    (void)state;
    expect_invalid("{\"language\":\"en\"}", HARK_EINVAL, "uid");
    expect_invalid("{\"uid\":\"\"}", HARK_EINVAL, "uid");
    expect_invalid("{\"uid\":42}", HARK_EINVAL, "uid");
    expect_invalid("{\"uid\":\"a\\nb\"}", HARK_EINVAL, "uid");
    expect_invalid("{\"uid\":\"a\\u0000b\"}", HARK_EINVAL, "uid");
    char big[300];
    snprintf(big, sizeof big, "{\"uid\":\"%0129d\"}", 0);
    expect_invalid(big, HARK_EINVAL, "uid");
    snprintf(big, sizeof big, "{\"uid\":\"%0128d\"}", 0);
    struct wl_options o;
    char err[200];
    assert_int_equal(parse(big, &o, err, sizeof err), 0);
    assert_int_equal(strlen(o.uid), 128);
}

static void bad_fields_name_the_field_and_keep_the_uid(void **state)
{
    (void)state;
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"u9\",\"task\":\"summarise\"}", &o, err, sizeof err),
                     HARK_EINVAL);
    assert_non_null(strstr(err, "task"));
    assert_string_equal(o.uid, "u9"); /* so the ERROR reply carries it */
    expect_invalid("{\"uid\":\"a\",\"audio_format\":\"pcm\"}", HARK_EINVAL, "audio_format");
    expect_invalid("{\"uid\":\"a\",\"audio_format\":16}", HARK_EINVAL, "audio_format");
    expect_invalid("{\"uid\":\"a\",\"language\":\"e\"}", HARK_EINVAL, "language");
    expect_invalid("{\"uid\":\"a\",\"language\":\"e1\"}", HARK_EINVAL, "language");
    expect_invalid("{\"uid\":\"a\",\"language\":\"english!\"}", HARK_EINVAL, "language");
    expect_invalid("{\"uid\":\"a\",\"language\":5}", HARK_EINVAL, "language");
    expect_invalid("{\"uid\":\"a\",\"send_last_n_segments\":101}", HARK_EINVAL,
                   "send_last_n_segments");
    expect_invalid("{\"uid\":\"a\",\"send_last_n_segments\":-1}", HARK_EINVAL,
                   "send_last_n_segments");
    expect_invalid("{\"uid\":\"a\",\"send_last_n_segments\":\"10\"}", HARK_EINVAL,
                   "send_last_n_segments");
    expect_invalid("{\"uid\":\"a\",\"word_timestamps\":1}", HARK_EINVAL, "word_timestamps");
    expect_invalid("{\"uid\":\"a\",\"speaker\":7}", HARK_EINVAL, "speaker");
    char big[200];
    snprintf(big, sizeof big, "{\"uid\":\"a\",\"speaker\":\"%065d\"}", 0);
    expect_invalid(big, HARK_EINVAL, "speaker");
}

static void options_past_64_kib_are_refused_unparsed(void **state)
{
    (void)state;
    size_t n = WL_OPTIONS_MAX_BYTES + 1;
    char *big = hark_malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"uid\":\"a\"}", 11);
    big[n] = '\0';
    struct wl_options o;
    char err[200];
    assert_int_equal(wl_options_parse(big, n, &o, err, sizeof err), HARK_ETOOBIG);
    assert_int_equal(wl_options_parse(big, n - 1, &o, err, sizeof err), 0);
    hark_free(big);
}

static void binary_options_with_invalid_utf8_are_refused(void **state)
{
    (void)state;
    static const char json[] = "{\"uid\":\"a\xff\"}";
    struct wl_options o;
    char err[200];
    assert_int_not_equal(wl_options_parse(json, sizeof json - 1, &o, err, sizeof err), 0);
    assert_string_equal(o.uid, "");
}

/* --- audio -------------------------------------------------------------------- */

static void put_f32(unsigned char *p, float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static void float32_is_little_endian_and_passes_through(void **state)
{
    (void)state;
    unsigned char b[12];
    put_f32(b, 0.25f);
    put_f32(b + 4, -1.0f);
    put_f32(b + 8, 1.0f);
    float out[3];
    size_t n, clamped;
    assert_int_equal(wl_audio_decode(WL_FORMAT_FLOAT32, b, sizeof b, out, 3, &n, &clamped), 0);
    assert_int_equal(n, 3);
    assert_int_equal(clamped, 0);
    assert_true(out[0] == 0.25f && out[1] == -1.0f && out[2] == 1.0f);
}

static void non_finite_and_loud_float_samples_are_clamped_and_counted(void **state)
{
    (void)state;
    unsigned char b[20];
    put_f32(b, NAN);
    put_f32(b + 4, INFINITY);
    put_f32(b + 8, -INFINITY);
    put_f32(b + 12, 2.5f);
    put_f32(b + 16, -0.5f);
    float out[5];
    size_t n, clamped;
    assert_int_equal(wl_audio_decode(WL_FORMAT_FLOAT32, b, sizeof b, out, 5, &n, &clamped), 0);
    assert_int_equal(clamped, 4);
    assert_true(out[0] == 0.0f && out[1] == 1.0f && out[2] == -1.0f && out[3] == 1.0f &&
                out[4] == -0.5f);
}

static void int16_and_uint8_scale_as_whisperlive(void **state)
{
    (void)state;
    const unsigned char s16[] = {0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x00, 0x40};
    float out[4];
    size_t n, clamped;
    assert_int_equal(wl_audio_decode(WL_FORMAT_INT16, s16, sizeof s16, out, 4, &n, &clamped), 0);
    assert_int_equal(n, 4);
    assert_true(out[0] == -1.0f && out[1] == 32767.0f / 32768.0f && out[2] == 0.0f &&
                out[3] == 0.5f);
    const unsigned char u8[] = {0, 128, 255};
    assert_int_equal(wl_audio_decode(WL_FORMAT_UINT8, u8, sizeof u8, out, 4, &n, &clamped), 0);
    assert_int_equal(n, 3);
    assert_true(out[0] == -1.0f && out[1] == 0.0f && out[2] == 127.0f / 128.0f);
    assert_int_equal(clamped, 0);
}

static void partial_samples_and_oversized_frames_are_refused(void **state)
{
    (void)state;
    unsigned char b[8] = {0};
    float out[4];
    size_t n = 9, clamped;
    assert_int_equal(wl_audio_decode(WL_FORMAT_FLOAT32, b, 7, out, 4, &n, &clamped), HARK_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(wl_audio_decode(WL_FORMAT_INT16, b, 3, out, 4, &n, &clamped), HARK_EINVAL);
    assert_int_equal(wl_audio_decode(WL_FORMAT_FLOAT32, b, 8, out, 1, &n, &clamped),
                     HARK_ETOOBIG);
    assert_int_equal(wl_audio_decode(WL_FORMAT_UINT8, b, WL_FRAME_MAX_BYTES + 1, out, 4, &n,
                                     &clamped), HARK_ETOOBIG);
    assert_int_equal(wl_audio_decode(WL_FORMAT_FLOAT32, b, 0, out, 0, &n, &clamped), 0);
    assert_int_equal(n, 0);
}

/* --- control messages ------------------------------------------------------------ */

static void end_of_audio_ends_as_binary_or_text(void **state)
{
    (void)state;
    struct wl_control c;
    char err[160];
    assert_int_equal(wl_control_parse("END_OF_AUDIO", 12, 1, &c, err, sizeof err), 0);
    assert_int_equal(c.kind, WL_CONTROL_END);
    assert_int_equal(wl_control_parse("END_OF_AUDIO", 12, 0, &c, err, sizeof err), 0);
    assert_int_equal(c.kind, WL_CONTROL_END);
    /* Twelve bytes of audio that are not the marker stay audio. */
    assert_int_equal(wl_control_parse("END_OF_AUDIo", 12, 1, &c, err, sizeof err), HARK_ENOENT);
    assert_int_equal(wl_control_parse("END_OF_AUDIO!", 13, 1, &c, err, sizeof err), HARK_ENOENT);
}

static void speaker_messages_set_or_clear_the_speaker(void **state)
{
    (void)state;
    struct wl_control c;
    char err[160];
    const char *m = "{\"speaker\":\"Alice\",\"uid\":\"x\"}";
    assert_int_equal(wl_control_parse(m, strlen(m), 0, &c, err, sizeof err), 0);
    assert_int_equal(c.kind, WL_CONTROL_SPEAKER);
    assert_string_equal(c.speaker, "Alice");
    m = "{\"speaker\":null}";
    assert_int_equal(wl_control_parse(m, strlen(m), 0, &c, err, sizeof err), 0);
    assert_string_equal(c.speaker, "");
}

static void other_text_messages_are_errors_with_a_message(void **state)
{
    (void)state;
    struct wl_control c;
    char err[160];
    assert_int_equal(wl_control_parse("hello", 5, 0, &c, err, sizeof err), HARK_EPARSE);
    assert_non_null(strstr(err, "binary"));
    assert_int_equal(wl_control_parse("{\"x\":1}", 7, 0, &c, err, sizeof err), HARK_EINVAL);
    assert_non_null(strstr(err, "speaker"));
    assert_int_equal(wl_control_parse("{\"speaker\":[1]}", 15, 0, &c, err, sizeof err),
                     HARK_EINVAL);
    assert_int_equal(wl_control_parse("", 0, 0, &c, err, sizeof err), HARK_EPARSE);
}

/* --- server messages --------------------------------------------------------------- */

static void server_messages_have_whisperlive_shapes(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 0);
    assert_int_equal(wl_msg_ready(&b, "u\"1", "faster_whisper"), 0);
    assert_string_equal(b.data,
                        "{\"uid\":\"u\\\"1\",\"message\":\"SERVER_READY\",\"backend\":\"faster_whisper\"}");
    hbuf_reset(&b);
    assert_int_equal(wl_msg_disconnect(&b, "u1"), 0);
    assert_string_equal(b.data, "{\"uid\":\"u1\",\"message\":\"DISCONNECT\"}");
    hbuf_reset(&b);
    assert_int_equal(wl_msg_status(&b, "u1", "ERROR", "bad"), 0);
    assert_string_equal(b.data, "{\"uid\":\"u1\",\"status\":\"ERROR\",\"message\":\"bad\"}");
    hbuf_reset(&b);
    assert_int_equal(wl_msg_wait(&b, "u1", 1.5), 0);
    struct json_object *o = json_tokener_parse(b.data);
    assert_string_equal(field(o, "status"), "WAIT");
    struct json_object *m = json_object_object_get(o, "message");
    assert_true(json_object_is_type(m, json_type_double)); /* minutes, a number */
    assert_true(json_object_get_double(m) == 1.5);
    json_object_put(o);
    hbuf_release(&b);
}

/* --- transcript -------------------------------------------------------------------- */

static void partial_is_the_trailing_incomplete_segment(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    assert_null(message(t));
    push(t, STREAM_EVENT_PARTIAL, 0, 1230, " And so my");
    struct json_object *m = message(t);
    assert_string_equal(field(m, "uid"), "u1");
    assert_int_equal(n_segs(m), 1);
    assert_seg(seg_at(m, 0), "0.000", "1.230", " And so my", 0);
    json_object_put(m);
    assert_null(message(t)); /* nothing changed */
    push(t, STREAM_EVENT_SEGMENT, 0, 2001, " And so my fellow Americans,");
    push(t, STREAM_EVENT_PARTIAL, 2001, 3500, " ask not");
    m = message(t);
    assert_int_equal(n_segs(m), 2);
    assert_seg(seg_at(m, 0), "0.000", "2.001", " And so my fellow Americans,", 1);
    assert_seg(seg_at(m, 1), "2.001", "3.500", " ask not", 0);
    json_object_put(m);
    wl_transcript_free(t);
}

static void a_segment_clears_the_partial_it_confirms(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    push(t, STREAM_EVENT_PARTIAL, 0, 900, " hello");
    push(t, STREAM_EVENT_SEGMENT, 0, 1000, " hello world");
    struct json_object *m = message(t);
    assert_int_equal(n_segs(m), 1);
    assert_seg(seg_at(m, 0), "0.000", "1.000", " hello world", 1);
    json_object_put(m);
    /* An empty partial removes the incomplete one. */
    push(t, STREAM_EVENT_PARTIAL, 1000, 1500, " and");
    json_object_put(message(t));
    push(t, STREAM_EVENT_PARTIAL, 1000, 1500, "");
    m = message(t);
    assert_int_equal(n_segs(m), 1);
    json_object_put(m);
    struct stream_event end = event(STREAM_EVENT_END, 0, 0, NULL);
    assert_int_equal(wl_transcript_event(t, &end), 0);
    assert_null(message(t));
    /* At the end a partial left over is withdrawn. */
    push(t, STREAM_EVENT_PARTIAL, 1000, 1500, " and");
    json_object_put(message(t));
    assert_int_equal(wl_transcript_event(t, &end), 0);
    m = message(t);
    assert_int_equal(n_segs(m), 1);
    assert_true(json_object_get_boolean(json_object_object_get(seg_at(m, 0), "completed")));
    json_object_put(m);
    wl_transcript_free(t);
}

static void open_segment_updates_wait_for_the_final_segment(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    push(t, STREAM_EVENT_PARTIAL, 60, 500, " formally");
    json_object_put(message(t));
    struct stream_event ev = event(STREAM_EVENT_SEGMENT, 60, 530, " formally");
    ev.final = 0; /* the open segment: more words may join it */
    assert_int_equal(wl_transcript_event(t, &ev), 0);
    assert_null(message(t)); /* still the same incomplete segment */
    push(t, STREAM_EVENT_PARTIAL, 60, 1500, " formally saliva");
    struct json_object *m = message(t);
    assert_int_equal(n_segs(m), 1);
    assert_seg(seg_at(m, 0), "0.060", "1.500", " formally saliva", 0);
    json_object_put(m);
    push(t, STREAM_EVENT_SEGMENT, 60, 2830, " formally saliva lumber");
    m = message(t);
    assert_int_equal(n_segs(m), 1);
    assert_seg(seg_at(m, 0), "0.060", "2.830", " formally saliva lumber", 1);
    json_object_put(m);
    wl_transcript_free(t);
}

static void last_n_completed_are_resent_and_none_is_ever_skipped(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(2, "", 0);
    char text[16];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, " s%d", i);
        push(t, STREAM_EVENT_SEGMENT, i * 1000, i * 1000 + 900, text);
    }
    struct json_object *m = message(t); /* five new ones: all five, past last_n */
    assert_int_equal(n_segs(m), 5);
    assert_string_equal(field(seg_at(m, 0), "text"), " s0");
    json_object_put(m);
    push(t, STREAM_EVENT_PARTIAL, 5000, 5500, " p");
    m = message(t); /* the last two again, then the partial */
    assert_int_equal(n_segs(m), 3);
    assert_seg(seg_at(m, 0), "3.000", "3.900", " s3", 1);
    assert_seg(seg_at(m, 1), "4.000", "4.900", " s4", 1);
    assert_seg(seg_at(m, 2), "5.000", "5.500", " p", 0);
    json_object_put(m);
    wl_transcript_free(t);

    t = transcript(0, "", 0); /* 0: only what is new */
    push(t, STREAM_EVENT_SEGMENT, 0, 900, " a");
    m = message(t);
    assert_int_equal(n_segs(m), 1);
    json_object_put(m);
    push(t, STREAM_EVENT_PARTIAL, 1000, 1400, " b");
    m = message(t);
    assert_int_equal(n_segs(m), 1);
    assert_seg(seg_at(m, 0), "1.000", "1.400", " b", 0);
    json_object_put(m);
    wl_transcript_free(t);
}

static void completed_segments_never_change_once_sent(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "Ann", 0);
    push(t, STREAM_EVENT_SEGMENT, 0, 1000, " one");
    struct json_object *m1 = message(t);
    const char *first = json_object_to_json_string(seg_at(m1, 0));
    assert_int_equal(wl_transcript_speaker(t, 1000, "Bob"), 0);
    push(t, STREAM_EVENT_SEGMENT, 1000, 2000, " two");
    struct json_object *m2 = message(t);
    assert_string_equal(json_object_to_json_string(seg_at(m2, 0)), first);
    assert_string_equal(field(seg_at(m2, 0), "speaker"), "Ann");
    assert_string_equal(field(seg_at(m2, 1), "speaker"), "Bob");
    json_object_put(m1);
    json_object_put(m2);
    wl_transcript_free(t);
}

static void speakers_label_segments_by_their_start(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    assert_string_equal(wl_transcript_speaker_at(t, 0), "");
    assert_int_equal(wl_transcript_speaker(t, 500, "Ann"), 0);
    assert_int_equal(wl_transcript_speaker(t, 3000, "Bob"), 0);
    assert_int_equal(wl_transcript_speaker(t, 3000, "Cy"), 0); /* same time: replaced */
    assert_int_equal(wl_transcript_speaker(t, 2000, "Dee"), HARK_EINVAL);
    assert_string_equal(wl_transcript_speaker_at(t, 499), "");
    assert_string_equal(wl_transcript_speaker_at(t, 2999), "Ann");
    assert_string_equal(wl_transcript_speaker_at(t, 3000), "Cy");
    push(t, STREAM_EVENT_SEGMENT, 0, 600, " unknown");
    push(t, STREAM_EVENT_PARTIAL, 3100, 3600, " later");
    struct json_object *m = message(t);
    assert_null(json_object_object_get(seg_at(m, 0), "speaker")); /* absent, as WhisperLive */
    assert_string_equal(field(seg_at(m, 1), "speaker"), "Cy");
    json_object_put(m);
    /* A change to the same speaker is no change; "" clears. */
    assert_int_equal(wl_transcript_speaker(t, 4000, "Cy"), 0);
    assert_int_equal(wl_transcript_speaker(t, 5000, ""), 0);
    assert_string_equal(wl_transcript_speaker_at(t, 4500), "Cy");
    assert_string_equal(wl_transcript_speaker_at(t, 5000), "");
    wl_transcript_free(t);
}

static void the_speaker_timeline_stays_bounded(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    char name[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(wl_transcript_speaker(t, i * 10, name), 0);
    }
    assert_string_equal(wl_transcript_speaker_at(t, 9990), "s999");
    assert_string_equal(wl_transcript_speaker_at(t, 9365), "s936"); /* the last 64 */
    assert_string_equal(wl_transcript_speaker_at(t, 9355), ""); /* forgotten */
    push(t, STREAM_EVENT_SEGMENT, 9985, 9995, " x"); /* prunes what is before it */
    assert_string_equal(wl_transcript_speaker_at(t, 9985), "s998");
    assert_string_equal(wl_transcript_speaker_at(t, 9975), "");
    wl_transcript_free(t);
}

static void word_timestamps_add_words_to_completed_segments(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 1);
    struct agree_word w[2];
    memset(w, 0, sizeof w);
    snprintf(w[0].text, sizeof w[0].text, " ask");
    w[0].start_ms = 100;
    w[0].end_ms = 400;
    w[0].p = 0.987654f;
    snprintf(w[1].text, sizeof w[1].text, " not");
    w[1].start_ms = 400;
    w[1].end_ms = 700;
    w[1].p = 0.5f;
    struct stream_event ev = event(STREAM_EVENT_SEGMENT, 100, 700, " ask not");
    ev.words = w;
    ev.n_words = 2;
    assert_int_equal(wl_transcript_event(t, &ev), 0);
    push(t, STREAM_EVENT_PARTIAL, 700, 900, " what");
    struct json_object *m = message(t);
    struct json_object *words = json_object_object_get(seg_at(m, 0), "words");
    assert_int_equal(json_object_array_length(words), 2);
    struct json_object *w0 = json_object_array_get_idx(words, 0);
    assert_string_equal(field(w0, "word"), " ask");
    assert_string_equal(field(w0, "start"), "0.100");
    assert_string_equal(field(w0, "end"), "0.400");
    assert_true(fabs(json_object_get_double(json_object_object_get(w0, "probability")) -
                     0.9877) < 1e-9);
    assert_null(json_object_object_get(seg_at(m, 1), "words"));
    json_object_put(m);
    wl_transcript_free(t);
}

static void broken_utf8_from_the_decoder_is_replaced(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    push(t, STREAM_EVENT_PARTIAL, 0, 500, " caf\xc3");
    struct json_object *m = message(t);
    assert_string_equal(field(seg_at(m, 0), "text"), " caf\xef\xbf\xbd");
    json_object_put(m);
    wl_transcript_free(t);
}

static void times_are_seconds_with_three_decimals_never_negative(void **state)
{
    (void)state;
    struct wl_transcript *t = transcript(10, "", 0);
    push(t, STREAM_EVENT_SEGMENT, 61234, 61230, " backwards end");
    push(t, STREAM_EVENT_PARTIAL, -5, 7, " early");
    struct json_object *m = message(t);
    assert_seg(seg_at(m, 0), "61.234", "61.234", " backwards end", 1);
    assert_seg(seg_at(m, 1), "0.000", "0.007", " early", 0);
    json_object_put(m);
    wl_transcript_free(t);
}

static void allocation_failures_in_the_transcript_return_enomem(void **state)
{
    (void)state;
    struct wl_options o;
    char err[200];
    assert_int_equal(parse("{\"uid\":\"u1\"}", &o, err, sizeof err), 0);
    for (long i = 0;; i++) {
        struct wl_transcript *t = NULL;
        hark_mem_fail_after(i);
        int rc = wl_transcript_new(&o, &t);
        struct stream_event ev = event(STREAM_EVENT_SEGMENT, 0, 1000, " a");
        if (!rc)
            rc = wl_transcript_event(t, &ev);
        ev = event(STREAM_EVENT_PARTIAL, 1000, 1500, " b");
        if (!rc)
            rc = wl_transcript_event(t, &ev);
        struct hbuf b;
        hbuf_init(&b, 0);
        int wrote = 0;
        if (!rc)
            rc = wl_transcript_message(t, &b, &wrote);
        hark_mem_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(wrote, 1);
            assert_non_null(strstr(b.data, "\" b\""));
        } else {
            assert_int_equal(rc, HARK_ENOMEM);
            if (t) { /* after a failure the transcript still works */
                int w2 = 0;
                hbuf_reset(&b);
                assert_int_equal(wl_transcript_message(t, &b, &w2), 0);
            }
        }
        hbuf_release(&b);
        wl_transcript_free(t);
        harness_assert_no_leaks();
        if (rc == 0)
            break;
        assert_true(i < 50);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(reference_client_options_parse),
    cmocka_unit_test(absent_fields_take_whisperlive_defaults),
    cmocka_unit_test(null_or_auto_language_means_detect_and_codes_are_lowercased),
    cmocka_unit_test(speaker_extension_and_unsupported_features_are_read),
    cmocka_unit_test(malformed_options_are_parse_errors_with_a_message),
    cmocka_unit_test(uid_is_required_bounded_and_clean),
    cmocka_unit_test(bad_fields_name_the_field_and_keep_the_uid),
    cmocka_unit_test(options_past_64_kib_are_refused_unparsed),
    cmocka_unit_test(binary_options_with_invalid_utf8_are_refused),
    cmocka_unit_test(float32_is_little_endian_and_passes_through),
    cmocka_unit_test(non_finite_and_loud_float_samples_are_clamped_and_counted),
    cmocka_unit_test(int16_and_uint8_scale_as_whisperlive),
    cmocka_unit_test(partial_samples_and_oversized_frames_are_refused),
    cmocka_unit_test(end_of_audio_ends_as_binary_or_text),
    cmocka_unit_test(speaker_messages_set_or_clear_the_speaker),
    cmocka_unit_test(other_text_messages_are_errors_with_a_message),
    cmocka_unit_test(server_messages_have_whisperlive_shapes),
    cmocka_unit_test(partial_is_the_trailing_incomplete_segment),
    cmocka_unit_test(a_segment_clears_the_partial_it_confirms),
    cmocka_unit_test(open_segment_updates_wait_for_the_final_segment),
    cmocka_unit_test(last_n_completed_are_resent_and_none_is_ever_skipped),
    cmocka_unit_test(completed_segments_never_change_once_sent),
    cmocka_unit_test(speakers_label_segments_by_their_start),
    cmocka_unit_test(the_speaker_timeline_stays_bounded),
    cmocka_unit_test(word_timestamps_add_words_to_completed_segments),
    cmocka_unit_test(broken_utf8_from_the_decoder_is_replaced),
    cmocka_unit_test(times_are_seconds_with_three_decimals_never_negative),
    cmocka_unit_test(allocation_failures_in_the_transcript_return_enomem),
};

HARNESS_MAIN(tests)
