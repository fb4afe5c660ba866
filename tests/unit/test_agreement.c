#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hark/agreement.h"
#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_HYP 64
#define MAX_SEGS 512

struct hyp {
    struct agree_word w[MAX_HYP];
    size_t n;
};

static void hyp_add(struct hyp *h, const char *text, int64_t start,
                    int64_t end)
{
    assert_true(h->n < MAX_HYP);
    struct agree_word *w = &h->w[h->n++];
    memset(w, 0, sizeof *w);
    agree_word_set_text(w, text);
    w->start_ms = start;
    w->end_ms = end;
    w->p = 0.9f;
}

/* Space-separated words, word i at [t0 + 500 i, t0 + 500 i + 450], each
 * given whisper's leading space. */
static struct hyp hyp_of(const char *words, int64_t t0)
{
    struct hyp h = {.n = 0};
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", words);
    int64_t t = t0;
    for (char *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char text[AGREE_WORD_BYTES];
        snprintf(text, sizeof text, " %s", tok);
        hyp_add(&h, text, t, t + 450);
        t += 500;
    }
    return h;
}

/* Everything the module emitted, in order. */
struct got {
    struct agree_segment seg[MAX_SEGS];
    size_t n;
};

static void drain(struct agree *a, struct got *g)
{
    while (agree_segments_ready(a)) {
        assert_true(g->n < MAX_SEGS);
        assert_int_equal(agree_segment_pop(a, &g->seg[g->n]), 0);
        g->n++;
    }
    struct agree_segment none;
    assert_int_equal(agree_segment_pop(a, &none), HARK_ENOENT);
}

static void got_release(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        agree_segment_release(&g->seg[i]);
    g->n = 0;
}

/* The emitted segment texts joined with " | ". */
static const char *got_text(const struct got *g)
{
    static char out[8192];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < g->n; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? " | " : "",
                              g->seg[i].text);
    return out;
}

/* Each emitted word as "text@confirm_step", space-separated. */
static const char *got_steps(const struct got *g)
{
    static char out[8192];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < g->seg[i].n_words; j++) {
            const struct agree_word *w = &g->seg[i].words[j];
            const char *t = w->text[0] == ' ' ? w->text + 1 : w->text;
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s@%u",
                                  o ? " " : "", t, w->confirm_step);
        }
    return out;
}

/* Pure LocalAgreement-2: most tests pin the agreement rules, so the latency
 * bound (commit_lag_ms) is off unless a test turns it on. */
static struct agree_config la2_config(void)
{
    struct agree_config c = agree_config_default();
    c.commit_lag_ms = 0;
    return c;
}

static struct agree *make(const struct agree_config *c)
{
    struct agree *a = NULL;
    struct agree_config d = la2_config();
    assert_int_equal(agree_new(c ? c : &d, &a), 0);
    return a;
}

static void push(struct agree *a, const struct hyp *h, int64_t ws, int64_t we,
                 struct got *g)
{
    assert_int_equal(agree_push(a, h->w, h->n, ws, we), 0);
    drain(a, g);
}

static void flush(struct agree *a, struct got *g)
{
    assert_int_equal(agree_flush(a), 0);
    drain(a, g);
}

static const char *partial(const struct agree *a, int64_t *s, int64_t *e)
{
    static char out[4096];
    struct hbuf b;
    hbuf_init(&b, 0);
    int64_t s0, e0;
    assert_int_equal(agree_partial(a, &b, &s0, &e0), 0);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    hbuf_release(&b);
    if (s)
        *s = s0;
    if (e)
        *e = e0;
    return out;
}

/* ---- configuration and arguments ---------------------------------------- */

static void default_config_is_accepted_and_bad_ones_are_refused(void **state)
{
    (void)state;
    struct agree_config d = agree_config_default();
    assert_int_equal(d.pause_ms, 600);
    assert_int_equal(d.max_window_ms, 15000);
    assert_true(d.max_segment_ms < d.max_window_ms);
    struct agree *a = make(&d);
    agree_free(a);
    agree_free(NULL);

    assert_int_equal(d.commit_lag_ms, 1500);
    struct agree_config bad[10];
    for (size_t i = 0; i < 10; i++)
        bad[i] = d;
    bad[0].pause_ms = 0;
    bad[1].max_segment_ms = d.max_window_ms;
    bad[2].max_window_ms = AGREE_FORCE_HOLD_MS;
    bad[3].max_words_per_segment = 0;
    bad[4].max_words_per_segment = AGREE_MAX_WORDS + 1;
    bad[5].prompt_bytes = AGREE_MAX_PROMPT_BYTES + 1;
    bad[6].tolerance_ms = -1;
    bad[7].pause_ms = d.max_window_ms;
    bad[8].commit_lag_ms = -1;
    bad[9].commit_lag_ms = d.max_window_ms;
    for (size_t i = 0; i < 10; i++) {
        a = NULL;
        assert_int_equal(agree_new(&bad[i], &a), HARK_ECONFIG);
        assert_null(a);
    }
    assert_int_equal(agree_new(NULL, &a), HARK_EINVAL);
}

static void bad_pushes_are_refused_and_change_nothing(void **state)
{
    (void)state;
    struct agree *a = make(NULL);
    struct got g = {.n = 0};
    struct hyp h = hyp_of("alpha beta gamma", 0);
    push(a, &h, 0, 2000, &g);

    static struct agree_word many[AGREE_MAX_WORDS + 1];
    assert_int_equal(agree_push(a, many, AGREE_MAX_WORDS + 1, 0, 3000),
                     HARK_ETOOBIG);
    assert_int_equal(agree_push(a, NULL, 1, 0, 3000), HARK_EINVAL);
    assert_int_equal(agree_push(a, h.w, h.n, 2500, 2400), HARK_EINVAL);
    assert_int_equal(agree_push(a, h.w, h.n, 0, 1999), HARK_EINVAL);
    assert_int_equal(agree_push(a, h.w, h.n, -1, 3000), HARK_ERANGE);
    assert_int_equal(
        agree_push(a, h.w, h.n, 0, AGREE_MAX_TIME_MS + 1), HARK_ERANGE);
    struct hyp unterminated = h;
    memset(unterminated.w[1].text, 'x', AGREE_WORD_BYTES);
    assert_int_equal(agree_push(a, unterminated.w, unterminated.n, 0, 3000),
                     HARK_EINVAL);
    assert_int_equal(agree_push(NULL, h.w, h.n, 0, 3000), HARK_EINVAL);

    /* The first push is still the one the next is compared with. */
    push(a, &h, 0, 3000, &g);
    flush(a, &g);
    assert_string_equal(got_steps(&g), "alpha@1 beta@1 gamma@1");
    got_release(&g);
    agree_free(a);
}

static void push_with_segments_waiting_is_refused(void **state)
{
    (void)state;
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("Done. next", 0);
    assert_int_equal(agree_push(a, h.w, h.n, 0, 1000), 0);
    assert_int_equal(agree_push(a, h.w, h.n, 0, 1200), 0);
    assert_int_equal(agree_segments_ready(a), 1);
    assert_int_equal(agree_push(a, h.w, h.n, 0, 1400), HARK_EBUSY);
    assert_int_equal(agree_flush(a), HARK_EBUSY);
    struct got g = {.n = 0};
    drain(a, &g);
    assert_string_equal(got_text(&g), "Done.");
    assert_int_equal(agree_push(a, h.w, h.n, 0, 1400), 0);
    got_release(&g);
    agree_free(a);
}

static void word_text_is_truncated_at_a_utf8_boundary(void **state)
{
    (void)state;
    struct agree_word w;
    char long_text[200];
    /* "é" is two bytes: 63 bytes would split the 32nd one. */
    for (size_t i = 0; i < 100; i += 2) {
        long_text[i] = (char)0xC3;
        long_text[i + 1] = (char)0xA9;
    }
    long_text[100] = '\0';
    assert_int_equal(agree_word_set_text(&w, long_text), 62);
    assert_int_equal(strlen(w.text), 62);
    assert_int_equal(agree_word_set_text(&w, " hi"), 3);
    assert_string_equal(w.text, " hi");
}

/* ---- agreement ---------------------------------------------------------- */

static void identical_hypotheses_confirm_all_but_the_edge_word(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    /* "four" ends at 1950; the windows end at 2000 and 2200, so it is less
     * than pause_ms from the edge both times: only the first three confirm
     * at step 1, "four" waits for the flush (step 2). */
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("one two three four", 0);
    push(a, &h, 0, 2000, &g);
    assert_int_equal(g.n, 0);
    push(a, &h, 0, 2200, &g);
    flush(a, &g);
    assert_string_equal(got_steps(&g), "one@1 two@1 three@1 four@2");
    got_release(&g);
    agree_free(a);

    /* With silence after it (window end 3000 >= 1950 + 600) the last word
     * confirms too. */
    a = make(NULL);
    push(a, &h, 0, 2000, &g);
    push(a, &h, 0, 3000, &g);
    assert_string_equal(got_steps(&g), "one@1 two@1 three@1 four@1");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_PAUSE);
    got_release(&g);
    agree_free(a);
}

static void same_window_end_confirms_nothing(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("one two three four", 0);
    push(a, &h, 0, 3000, &g);
    push(a, &h, 0, 3000, &g);
    assert_int_equal(g.n, 0);
    push(a, &h, 0, 3100, &g);
    assert_string_equal(got_steps(&g), "one@2 two@2 three@2 four@2");
    got_release(&g);
    agree_free(a);
}

static void growing_hypotheses_confirm_only_the_stable_prefix(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h1 = hyp_of("a b", 0), h2 = hyp_of("a b c", 0),
               h3 = hyp_of("a b c d", 0);
    push(a, &h1, 0, 1000, &g);
    push(a, &h2, 0, 1500, &g);
    assert_string_equal(partial(a, NULL, NULL), "a b c");
    push(a, &h3, 0, 2000, &g);
    flush(a, &g);
    assert_string_equal(got_steps(&g), "a@1 b@1 c@2 d@3");
    got_release(&g);
    agree_free(a);
}

static void changed_word_breaks_agreement_at_that_word(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h1 = hyp_of("a b c d", 0), h2 = hyp_of("a b x d e", 0),
               h3 = hyp_of("a b x d e f", 0);
    push(a, &h1, 0, 2000, &g);
    push(a, &h2, 0, 2500, &g);
    push(a, &h3, 0, 3000, &g);
    flush(a, &g);
    assert_string_equal(got_steps(&g), "a@1 b@1 x@2 d@2 e@2 f@3");
    got_release(&g);
    agree_free(a);
}

static void case_and_punctuation_differences_agree_with_newer_text(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h1 = {.n = 0}, h2 = {.n = 0};
    const char *older[] = {" hello", " WORLD", " ärger", " Привет,", " ¿qué?",
                           " ŁÓDŹ", " 「東京」", " tail"};
    const char *newer[] = {" Hello,", " world", " Ärger", " привет", " Qué",
                           " łódź", " 東京", " tail"};
    for (int i = 0; i < 8; i++) {
        hyp_add(&h1, older[i], i * 500, i * 500 + 450);
        hyp_add(&h2, newer[i], i * 500, i * 500 + 450);
    }
    push(a, &h1, 0, 4000, &g);
    push(a, &h2, 0, 4100, &g);
    assert_int_equal(g.n, 0);
    flush(a, &g);
    assert_string_equal(got_text(&g),
                        "Hello, world Ärger привет Qué łódź 東京 tail");
    assert_string_equal(got_steps(&g),
                        "Hello,@1 world@1 Ärger@1 привет@1 Qué@1 łódź@1 "
                        "東京@1 tail@2");
    got_release(&g);
    agree_free(a);
}

static void first_and_confirm_steps_follow_each_word(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    /* "c" is seen at step 0 behind a word that keeps changing; it keeps its
     * first step through the disagreement because its key and time match. */
    struct hyp h0 = hyp_of("a z c", 0), h1 = hyp_of("a y c e", 0),
               h2 = hyp_of("a y c e f", 0);
    push(a, &h0, 0, 1500, &g);
    push(a, &h1, 0, 2000, &g);
    push(a, &h2, 0, 2500, &g);
    flush(a, &g);
    assert_string_equal(got_steps(&g), "a@1 y@2 c@2 e@2 f@3");
    assert_int_equal(g.n, 1);
    const struct agree_word *w = g.seg[0].words;
    uint32_t first[] = {0, 1, 0, 1, 2};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(w[i].first_step, first[i]);
    got_release(&g);
    agree_free(a);
}

/* ---- filtering ---------------------------------------------------------- */

static void words_repeated_at_the_window_head_are_dropped(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("The cat sat.", 0);
    push(a, &h, 0, 1600, &g);
    push(a, &h, 0, 2100, &g);
    assert_string_equal(got_text(&g), "The cat sat.");
    int64_t cut = agree_trim_point(a);
    assert_int_equal(cut, 1450);

    /* The engine cut the window at 1450; whisper hears the end of "sat."
     * again and squeezes the last two committed words into its first 80 ms,
     * where the time filter cannot tell them from new words. */
    struct hyp h2 = {.n = 0};
    hyp_add(&h2, " Cat", cut, cut + 40);
    hyp_add(&h2, " sat", cut + 40, cut + 80);
    hyp_add(&h2, " Then", 2200, 2500);
    hyp_add(&h2, " it", 2550, 2700);
    hyp_add(&h2, " ran.", 2750, 3000);
    push(a, &h2, cut, 3100, &g);
    push(a, &h2, cut, 3700, &g);
    assert_string_equal(got_text(&g), "The cat sat. | Then it ran.");
    got_release(&g);
    agree_free(a);

    /* The longest repeat wins: "no way no" comes back whole, not just its
     * last "no". */
    a = make(NULL);
    struct hyp h3 = hyp_of("no way no.", 0);
    push(a, &h3, 0, 1600, &g);
    push(a, &h3, 0, 2100, &g);
    assert_int_equal(agree_trim_point(a), 1450);
    struct hyp h4 = {.n = 0};
    hyp_add(&h4, " No", 1450, 1480);
    hyp_add(&h4, " way", 1480, 1510);
    hyp_add(&h4, " no", 1510, 1540);
    hyp_add(&h4, " really.", 1700, 2000);
    push(a, &h4, 1450, 2800, &g);
    push(a, &h4, 1450, 2900, &g);
    assert_string_equal(got_text(&g), "no way no. | really.");
    got_release(&g);
    agree_free(a);
}

static void a_word_repeated_after_a_pause_is_kept(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = {.n = 0};
    hyp_add(&h, " Yes.", 0, 400);
    hyp_add(&h, " Yes.", 1400, 1700);   /* 1 s after: said again */
    hyp_add(&h, " Yes", 2000, 2200);    /* 0.3 s after: taken as a repeat */
    hyp_add(&h, " sir.", 2300, 2500);
    for (size_t i = 1; i <= h.n; i++) {
        struct hyp part = h;
        part.n = i;
        push(a, &part, 0, h.w[i - 1].end_ms + 700, &g);
        push(a, &part, 0, h.w[i - 1].end_ms + 800, &g);
    }
    assert_string_equal(got_text(&g), "Yes. | Yes. | sir.");
    got_release(&g);
    agree_free(a);
}

static void redecoded_committed_words_are_dropped_by_time(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("a b c d", 0);
    push(a, &h, 0, 2000, &g);
    push(a, &h, 0, 2200, &g);   /* a b c confirmed, the segment stays open */
    assert_int_equal(g.n, 0);

    /* Same audio decoded again with timestamps moved by up to 150 ms, and
     * a short new word whose start jitters back 100 ms over the committed
     * end (1450): the committed words go, the new one stays. */
    struct hyp h2 = {.n = 0};
    hyp_add(&h2, " a", 100, 500);
    hyp_add(&h2, " b", 350, 1000);
    hyp_add(&h2, " c", 1150, 1600);
    hyp_add(&h2, " d", 1350, 1420);
    hyp_add(&h2, " e", 1500, 1900);
    push(a, &h2, 0, 2600, &g);
    push(a, &h2, 0, 3000, &g);
    flush(a, &g);
    assert_string_equal(got_text(&g), "a b c d e");
    got_release(&g);
    agree_free(a);
}

static void empty_hypotheses_are_harmless(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    int64_t s, e;
    assert_string_equal(partial(a, &s, &e), "");
    assert_int_equal(s, 0);
    assert_string_equal(agree_prompt(a), "");
    assert_int_equal(agree_push(a, NULL, 0, 0, 1000), 0);
    assert_int_equal(agree_push(a, NULL, 0, 500, 2000), 0);
    assert_string_equal(partial(a, &s, &e), "");
    assert_int_equal(s, 500);
    assert_int_equal(e, 500);

    /* An empty decode between two equal ones breaks the chain. */
    struct hyp h = hyp_of("x y", 2000);
    push(a, &h, 500, 3000, &g);
    assert_int_equal(agree_push(a, NULL, 0, 500, 3100), 0);
    push(a, &h, 500, 3200, &g);
    assert_int_equal(g.n, 0);

    /* Whitespace-only words are no words. */
    struct hyp blank = {.n = 0};
    hyp_add(&blank, " ", 2000, 2100);
    hyp_add(&blank, "", 2100, 2200);
    push(a, &blank, 500, 3300, &g);
    flush(a, &g);
    assert_int_equal(g.n, 0);
    flush(a, &g);
    assert_int_equal(g.n, 0);
    got_release(&g);
    agree_free(a);
}

/* ---- segmentation ------------------------------------------------------- */

static void sentence_end_emits_a_segment_and_commits_move_the_trim_point(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("Hello there. How are", 0);
    push(a, &h, 0, 2000, &g);
    assert_int_equal(agree_trim_point(a), 0);
    push(a, &h, 0, 2100, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.seg[0].text, "Hello there.");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_SENTENCE);
    assert_int_equal(g.seg[0].start_ms, 0);
    assert_int_equal(g.seg[0].end_ms, 950);
    assert_int_equal(g.seg[0].n_words, 2);
    /* "How" is committed too (not emitted yet): its audio is cut as well. */
    assert_int_equal(agree_trim_point(a), 1450);
    int64_t s, e;
    assert_string_equal(partial(a, &s, &e), "How are");
    assert_int_equal(s, 1000);
    assert_int_equal(e, 1950);
    got_release(&g);
    agree_free(a);
}

static void other_scripts_end_sentences_and_join_without_spaces(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = {.n = 0};
    const char *words[] = {"你好", "世界。", "元気", "ですか？", " Yes",
                           ",",    " he",   " said", " \"fine.\"", " More"};
    for (int i = 0; i < 10; i++)
        hyp_add(&h, words[i], i * 300, i * 300 + 250);
    push(a, &h, 0, 3000, &g);
    push(a, &h, 0, 3100, &g);
    assert_string_equal(got_text(&g),
                        "你好世界。 | 元気ですか？ | Yes, he said \"fine.\"");
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.seg[i].cut, AGREE_CUT_SENTENCE);
    got_release(&g);
    agree_free(a);
}

static void pause_between_words_splits_segments(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = {.n = 0};
    hyp_add(&h, " a", 0, 400);
    hyp_add(&h, " b", 500, 900);
    hyp_add(&h, " c", 1499, 1800);   /* 599 ms after b: no split */
    hyp_add(&h, " d", 2400, 2600);   /* 600 ms after c: split */
    hyp_add(&h, " e", 2700, 3000);
    push(a, &h, 0, 3100, &g);
    push(a, &h, 0, 3200, &g);
    assert_string_equal(got_text(&g), "a b c");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_PAUSE);
    assert_int_equal(agree_trim_point(a), 2600); /* d is committed */
    flush(a, &g);
    assert_string_equal(got_text(&g), "a b c | d e");
    assert_int_equal(g.seg[1].cut, AGREE_CUT_FLUSH);
    got_release(&g);
    agree_free(a);
}

static void silence_after_the_last_word_completes_its_segment(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("a b", 0);   /* b ends at 950 */
    push(a, &h, 0, 1000, &g);
    push(a, &h, 0, 1400, &g);           /* a confirmed */
    assert_int_equal(g.n, 0);
    push(a, &h, 0, 1549, &g);           /* b confirmed, 599 ms of silence */
    assert_int_equal(g.n, 0);
    push(a, &h, 0, 1550, &g);           /* 600 ms: the segment completes */
    assert_string_equal(got_text(&g), "a b");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_PAUSE);
    assert_int_equal(agree_trim_point(a), 950);
    got_release(&g);
    agree_free(a);
}

static void long_segments_split_by_duration_and_word_count(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = la2_config();
    c.max_segment_ms = 2000;
    struct agree *a = make(&c);
    struct hyp h = hyp_of("a b c d e f g h i j", 0);
    push(a, &h, 0, 5000, &g);
    push(a, &h, 0, 5100, &g);
    flush(a, &g);
    /* Words every 500 ms, 450 long: four words last 1950 ms, five 2450. */
    assert_string_equal(got_text(&g), "a b c d | e f g h | i j");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_LENGTH);
    for (size_t i = 0; i < g.n; i++)
        assert_true(g.seg[i].end_ms - g.seg[i].start_ms <= c.max_segment_ms);
    got_release(&g);
    agree_free(a);

    c = la2_config();
    c.max_words_per_segment = 3;
    a = make(&c);
    push(a, &h, 0, 5000, &g);
    push(a, &h, 0, 5100, &g);
    flush(a, &g);
    assert_string_equal(got_text(&g), "a b c | d e f | g h i | j");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_WORDS);
    assert_int_equal(g.seg[3].cut, AGREE_CUT_FLUSH);
    got_release(&g);
    agree_free(a);
}

static void segments_never_overlap_even_when_input_times_do(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = {.n = 0};
    hyp_add(&h, " one", 100, 700);
    hyp_add(&h, " two.", 300, 500);    /* starts inside "one" */
    hyp_add(&h, " three", 900, 800);   /* ends before it starts */
    hyp_add(&h, " four", 850, 1200);   /* starts before "three" */
    hyp_add(&h, " five", -50, 99999);  /* outside the window */
    hyp_add(&h, " Six.", 3100, 3100);  /* no time at all, at the edge */
    hyp_add(&h, " seven", 3100, 3100);
    push(a, &h, 0, 3000, &g);
    push(a, &h, 0, 3100, &g);
    flush(a, &g);
    assert_string_equal(got_text(&g),
                        "one two. | three four five Six. | seven");
    int64_t last_end = 0, last_start = -1;
    for (size_t i = 0; i < g.n; i++) {
        assert_true(g.seg[i].start_ms >= last_end);
        assert_true(g.seg[i].start_ms > last_start);
        last_start = g.seg[i].start_ms;
        assert_true(g.seg[i].end_ms >= g.seg[i].start_ms);
        for (size_t j = 0; j < g.seg[i].n_words; j++) {
            const struct agree_word *w = &g.seg[i].words[j];
            assert_true(w->start_ms >= last_end);
            assert_true(w->end_ms > w->start_ms);
            assert_true(w->end_ms <= 3103);
            last_end = w->end_ms;
        }
        assert_int_equal(g.seg[i].end_ms, last_end);
    }
    got_release(&g);
    agree_free(a);
}

static void words_older_than_the_commit_lag_are_confirmed_without_agreement(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = la2_config();
    c.commit_lag_ms = 1500;
    struct agree *a = make(&c);
    /* Each decode hears different words (a model that never repeats
     * itself): agreement alone would confirm nothing until the hard cap. */
    struct hyp h1 = hyp_of("a1 a2 a3", 0); /* ends 450 950 1450 */
    push(a, &h1, 0, 1900, &g);
    assert_int_equal(agree_partial_confirmed(a), 0);
    assert_int_equal(agree_trim_point(a), 0);
    struct hyp h2 = hyp_of("b1 b2 b3 b4 b5", 0);
    push(a, &h2, 0, 2500, &g);
    /* b1 (450) and b2 (950) ended 1500 ms or more before 2500. */
    assert_int_equal(agree_partial_confirmed(a), 2);
    assert_int_equal(agree_trim_point(a), 950);
    assert_string_equal(partial(a, NULL, NULL), "b1 b2 b3 b4 b5");
    assert_string_equal(agree_prompt(a), "b1 b2");
    /* The same window end again is no new evidence, lag or not. */
    struct hyp h3 = hyp_of("c3 c4", 1000);
    push(a, &h3, 950, 2500, &g);
    assert_int_equal(agree_partial_confirmed(a), 2);
    flush(a, &g);
    assert_string_equal(got_text(&g), "b1 b2 c3 c4");
    got_release(&g);
    agree_free(a);
}

static void agreement_still_confirms_before_the_commit_lag(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = agree_config_default();
    struct agree *a = make(&c);
    struct hyp h = hyp_of("x y z", 0); /* ends 450 950 1450 */
    push(a, &h, 0, 1600, &g);
    push(a, &h, 0, 1700, &g);
    /* x and y agree (z is at the window edge): confirmed 250 ms after y. */
    assert_int_equal(agree_partial_confirmed(a), 2);
    got_release(&g);
    agree_free(a);
}

static void open_segment_shows_committed_words_under_its_final_start(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct agree_segment open;
    assert_int_equal(agree_open_segment(a, &open), HARK_ENOENT);
    struct hyp h = hyp_of("one two three four", 0);
    push(a, &h, 0, 2000, &g);
    push(a, &h, 0, 2100, &g);
    assert_int_equal(agree_open_segment(a, &open), 0);
    assert_int_equal(open.cut, AGREE_CUT_OPEN);
    assert_string_equal(open.text, "one two three");
    assert_int_equal(open.n_words, 3);
    int64_t start = open.start_ms;
    agree_segment_release(&open);
    flush(a, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.seg[0].start_ms, start); /* the same id */
    assert_string_equal(g.seg[0].text, "one two three four");
    assert_int_equal(agree_open_segment(a, &open), HARK_ENOENT);
    got_release(&g);
    agree_free(a);
}

/* ---- hard cap, flush, prompt, partial ----------------------------------- */

static void long_window_without_agreement_is_force_committed(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = la2_config();
    c.max_window_ms = 5000;
    c.max_segment_ms = 4000;
    struct agree *a = make(&c);
    /* Every decode changes the first word, so nothing ever agrees. */
    for (int64_t we = 1000; we <= 5000; we += 1000) {
        char words[256];
        snprintf(words, sizeof words, "v%d w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11",
                 (int)we);
        struct hyp h = hyp_of(words, 0);
        h.n = (size_t)(we / 500);
        push(a, &h, 0, we, &g);
        assert_int_equal(g.n, 0);
    }
    struct hyp h = hyp_of("v6000 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11", 0);
    push(a, &h, 0, 6000, &g);
    /* All but the last two words (starting 5000 and 5500, within 2 s of the
     * end) are committed; the length rule still applies on the way. */
    assert_string_equal(got_text(&g),
                        "v6000 w1 w2 w3 w4 w5 w6 w7 | w8 w9");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_LENGTH);
    assert_int_equal(g.seg[1].cut, AGREE_CUT_FORCED);
    assert_int_equal(agree_trim_point(a), 4950);
    assert_string_equal(partial(a, NULL, NULL), "w10 w11");
    got_release(&g);
    agree_free(a);
}

static void long_window_without_words_is_trimmed(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = la2_config();
    c.max_window_ms = 5000;
    c.max_segment_ms = 4000;
    struct agree *a = make(&c);
    for (int64_t we = 1000; we <= 5000; we += 1000) {
        assert_int_equal(agree_push(a, NULL, 0, 0, we), 0);
        assert_int_equal(agree_trim_point(a), 0);
    }
    assert_int_equal(agree_push(a, NULL, 0, 0, 6000), 0);
    assert_int_equal(agree_trim_point(a), 4000);

    /* Only a recent word that keeps changing: held, and the silence before
     * it trimmed. */
    struct hyp h = {.n = 0};
    hyp_add(&h, " um", 9500, 9900);
    push(a, &h, 4000, 10000, &g);
    assert_int_equal(agree_trim_point(a), 8000);
    assert_int_equal(g.n, 0);
    assert_string_equal(partial(a, NULL, NULL), "um");
    got_release(&g);
    agree_free(a);
}

static void flush_emits_the_unconfirmed_tail(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("Stop. and then", 0);
    push(a, &h, 0, 1500, &g);
    assert_int_equal(g.n, 0);
    flush(a, &g);
    assert_string_equal(got_text(&g), "Stop. | and then");
    assert_int_equal(g.seg[0].cut, AGREE_CUT_SENTENCE);
    assert_int_equal(g.seg[1].cut, AGREE_CUT_FLUSH);
    assert_int_equal(agree_trim_point(a), 1450);
    assert_string_equal(partial(a, NULL, NULL), "");
    assert_string_equal(agree_prompt(a), "Stop. and then");

    /* The stream can go on after a flush (end of speech). */
    struct hyp h2 = hyp_of("again", 3000);
    push(a, &h2, 1450, 3500, &g);
    push(a, &h2, 1450, 4100, &g);
    assert_string_equal(got_text(&g), "Stop. | and then | again");
    got_release(&g);
    agree_free(a);
}

static void prompt_is_the_tail_of_committed_text(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree_config c = la2_config();
    c.prompt_bytes = 20;
    struct agree *a = make(&c);
    struct hyp h = hyp_of("One two three. Four five six seven. eight nine", 0);
    push(a, &h, 0, 4500, &g);
    assert_string_equal(agree_prompt(a), "");
    push(a, &h, 0, 4600, &g);
    assert_string_equal(got_text(&g),
                        "One two three. | Four five six seven.");
    /* 41 bytes committed ("eight" too: its audio left the window), 20
     * kept, cut where a word starts. */
    assert_string_equal(agree_prompt(a), "six seven. eight");
    assert_string_equal(partial(a, NULL, NULL), "eight nine");
    flush(a, &g);
    assert_string_equal(agree_prompt(a), "seven. eight nine");
    got_release(&g);
    agree_free(a);

    /* Text without spaces is cut at a character boundary. */
    c.prompt_bytes = 13;
    a = make(&c);
    struct hyp cjk = {.n = 0};
    hyp_add(&cjk, "東京都", 0, 400);
    hyp_add(&cjk, "大阪府", 500, 900);
    push(a, &cjk, 0, 1000, &g);
    flush(a, &g);
    assert_string_equal(agree_prompt(a), "都大阪府");
    got_release(&g);
    agree_free(a);

    c.prompt_bytes = 0;
    a = make(&c);
    push(a, &h, 0, 5000, &g);
    flush(a, &g);
    assert_string_equal(agree_prompt(a), "");
    got_release(&g);
    agree_free(a);
}

static void partial_appends_to_the_caller_buffer(void **state)
{
    (void)state;
    struct got g = {.n = 0};
    struct agree *a = make(NULL);
    struct hyp h = hyp_of("a b c", 0);
    push(a, &h, 0, 1500, &g);
    struct hbuf b;
    hbuf_init(&b, 8);
    assert_int_equal(hbuf_puts(&b, ">"), 0);
    int64_t s, e;
    assert_int_equal(agree_partial(a, &b, &s, &e), 0);
    assert_string_equal(b.data, ">a b c");
    assert_int_equal(s, 0);
    assert_int_equal(e, 1450);
    assert_int_equal(agree_partial_confirmed(a), 0);
    assert_int_equal(agree_partial(a, &b, &s, &e), HARK_ETOOBIG);
    assert_int_equal(agree_partial(a, NULL, &s, &e), HARK_EINVAL);

    /* After a second decode "a b" are confirmed, "c" is still the edge. */
    push(a, &h, 0, 1600, &g);
    hbuf_reset(&b);
    assert_int_equal(agree_partial(a, &b, &s, &e), 0);
    assert_string_equal(b.data, "a b c");
    assert_int_equal(agree_partial_confirmed(a), 2);
    assert_int_equal(g.n, 0);
    hbuf_release(&b);
    got_release(&g);
    agree_free(a);
}

/* ---- property: a simulated decoder over a random stream ----------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)rnd((uint32_t)(hi - lo + 1));
}

#define TRUTH_N 300

struct truth {
    char text[TRUTH_N][16];
    int64_t start[TRUTH_N], end[TRUTH_N];
};

/* Words from a 300-word vocabulary (none repeated within ten words), some
 * ending sentences, with short gaps and now and then a pause. */
static void make_truth(struct truth *t)
{
    int64_t now = rnd_range(0, 2000);
    int ids[TRUTH_N];
    for (int i = 0; i < TRUTH_N; i++) {
        bool fresh;
        do {
            ids[i] = (int)rnd(300);
            fresh = true;
            for (int j = i - 10; j < i; j++)
                if (j >= 0 && ids[j] == ids[i])
                    fresh = false;
        } while (!fresh);
        uint32_t r = rnd(100);
        now += r < 30 ? rnd_range(0, 100)
                      : r < 90 ? rnd_range(100, 300) : rnd_range(700, 1500);
        t->start[i] = now;
        now += rnd_range(150, 500);
        t->end[i] = now;
        snprintf(t->text[i], sizeof t->text[i], " w%03d%s", ids[i],
                 rnd(100) < 12 ? "." : "");
    }
}

/* What a decoder might return for [ws, we): the words it heard, timestamps
 * off by up to 40 ms, the last emitted words sometimes repeated at the head
 * (when no confirmed word follows them), and an unstable tail: the word cut by the window end guessed, the
 * last word before the edge misheard or missing, or a word hallucinated into
 * the final 100 ms. Noise texts are unique per step, so they never agree;
 * at most two trailing words are noisy, and all start within 1 s of we. */
static void simulate(const struct truth *t, int64_t ws, int64_t we,
                     bool open_empty, int step, bool clean,
                     struct agree_word *out, size_t *n_out)
{
    size_t n = 0;
    int first = -1, last = -1, cut = -1;
    for (int i = 0; i < TRUTH_N; i++) {
        if ((t->start[i] + t->end[i]) / 2 < ws)
            continue;
        if (t->end[i] <= we) {
            if (first < 0)
                first = i;
            last = i;
        } else if (t->start[i] < we && cut < 0) {
            cut = i;
        }
    }
    if (!clean && first > 0 && open_empty && rnd(100) < 30) {
        int head = 1 + (int)rnd(2);
        for (int i = first - head; i < first && ws - t->end[first - 1] <= 300;
             i++) {
            if (i < 0)
                continue;
            memset(&out[n], 0, sizeof out[n]);
            agree_word_set_text(&out[n], t->text[i]);
            out[n].start_ms = ws + 30 * (int64_t)n;
            out[n].end_ms = out[n].start_ms + 30;
            n++;
        }
    }
    for (int i = first; first >= 0 && i <= last; i++) {
        memset(&out[n], 0, sizeof out[n]);
        agree_word_set_text(&out[n], t->text[i]);
        out[n].start_ms = t->start[i] + (clean ? 0 : rnd_range(-40, 40));
        out[n].end_ms = t->end[i] + (clean ? 0 : rnd_range(-40, 40));
        n++;
    }
    if (clean) {
        *n_out = n;
        return;
    }
    bool edge = last >= 0 && we - t->end[last] <= 500 && n > 0;
    uint32_t r = rnd(100);
    if (edge && r < 30) {
        snprintf(out[n - 1].text, sizeof out[n - 1].text, " zzs%d", step);
    } else if (edge && r < 40) {
        n--;
    }
    if (cut >= 0 && rnd(100) < 50) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].text, sizeof out[n].text, " zzc%d", step);
        out[n].start_ms = t->start[cut];
        out[n].end_ms = we;
        n++;
    } else if (rnd(100) < 10) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].text, sizeof out[n].text, " zzh%d", step);
        out[n].start_ms = we - 100;
        out[n].end_ms = we;
        n++;
    }
    *n_out = n;
}

static void check_segment(const struct agree_config *c,
                          const struct agree_segment *s, int64_t *last_end)
{
    assert_true(s->n_words >= 1);
    assert_true(s->n_words <= c->max_words_per_segment);
    assert_true(s->start_ms >= *last_end);
    assert_true(s->end_ms > s->start_ms);
    if (s->n_words > 1)
        assert_true(s->end_ms - s->start_ms <= c->max_segment_ms);
    for (size_t j = 0; j < s->n_words; j++) {
        assert_true(s->words[j].start_ms >= *last_end);
        assert_true(s->words[j].end_ms > s->words[j].start_ms);
        assert_true(s->words[j].first_step <= s->words[j].confirm_step);
        *last_end = s->words[j].end_ms;
    }
    assert_int_equal(s->end_ms, *last_end);
}

static void run_random_stream(uint64_t seed, const struct agree_config *c)
{
    rng_state = seed;
    static struct truth t;
    make_truth(&t);
    struct agree *a = make(c);
    static struct agree_word hyp[AGREE_MAX_WORDS];
    size_t got_words = 0, n_segs = 0;
    int64_t last_end = 0, trim = 0, we = 0;
    int step = 0;
    bool open_empty = true;
    struct agree_segment s;
    for (bool last = false; !last; step++) {
        we += rnd_range(500, 1500);
        last = we > t.end[TRUTH_N - 1] + 2000;
        int64_t ws = agree_trim_point(a);
        size_t n;
        simulate(&t, ws, we, open_empty, step, last, hyp, &n);
        assert_true(n <= AGREE_MAX_WORDS);
        assert_int_equal(agree_push(a, hyp, n, ws, we), 0);
        for (int pass = 0; pass < (last ? 2 : 1); pass++) {
            if (pass == 1)
                assert_int_equal(agree_flush(a), 0);
            while (agree_segment_pop(a, &s) == 0) {
                check_segment(c, &s, &last_end);
                for (size_t j = 0; j < s.n_words; j++) {
                    if (got_words >= TRUTH_N ||
                        strcmp(s.words[j].text, t.text[got_words]) != 0)
                        fail_msg("seed %llu step %d: word %zu is '%s', "
                                 "want '%s'",
                                 (unsigned long long)seed, step, got_words,
                                 s.words[j].text,
                                 got_words < TRUTH_N ? t.text[got_words]
                                                     : "");
                    got_words++;
                }
                n_segs++;
                agree_segment_release(&s);
            }
        }
        assert_true(agree_trim_point(a) >= trim);
        trim = agree_trim_point(a);
        open_empty = agree_partial_confirmed(a) == 0;
        assert_true(we - trim <= c->max_window_ms);
    }
    if (got_words != TRUTH_N)
        fail_msg("seed %llu: %zu of %d words emitted",
                 (unsigned long long)seed, got_words, TRUTH_N);
    assert_true(n_segs > 10);
    agree_free(a);
}

static void random_streams_reassemble_the_spoken_words(void **state)
{
    (void)state;
    struct agree_config c = la2_config();
    for (uint64_t seed = 1; seed <= 40; seed++)
        run_random_stream(seed * 0x9E3779B97F4A7C15ull, &c);
}

static void random_streams_survive_a_tight_hard_cap(void **state)
{
    (void)state;
    struct agree_config c = la2_config();
    c.max_window_ms = 4000;
    c.max_segment_ms = 3000;
    c.max_words_per_segment = 7;
    for (uint64_t seed = 1; seed <= 40; seed++)
        run_random_stream(seed * 0xD1B54A32D192ED03ull, &c);
}

/* ---- allocation failures ------------------------------------------------ */

/* A fixed scenario; every call that fails with HARK_ENOMEM is retried with
 * injection off and must then behave as if it had never failed. Returns how
 * many calls failed. */
static long scenario(long fail_at, char *out, size_t size)
{
    long failures = 0;
    struct agree *a = NULL;
    struct agree_config c = la2_config();
    c.max_words_per_segment = 4;
    hark_mem_fail_after(fail_at);
    int rc = agree_new(&c, &a);
    if (rc) {
        assert_int_equal(rc, HARK_ENOMEM);
        assert_null(a);
        hark_mem_fail_after(-1);
        assert_int_equal(agree_new(&c, &a), 0);
        failures++;
    }
    const char *texts[] = {"We met. then we", "We met. then we talked a lot",
                           "We met. then we talked a lot about it and more",
                           "We met. then we talked a lot about it and so on"};
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i <= 4; i++) {
        struct hyp h = hyp_of(texts[i < 4 ? i : 3], 0);
        int64_t we = h.w[h.n - 1].end_ms + 100;
        rc = i < 4 ? agree_push(a, h.w, h.n, 0, we) : agree_flush(a);
        if (rc) {
            assert_int_equal(rc, HARK_ENOMEM);
            hark_mem_fail_after(-1);
            rc = i < 4 ? agree_push(a, h.w, h.n, 0, we) : agree_flush(a);
            assert_int_equal(rc, 0);
            failures++;
        }
        struct agree_segment s;
        while (agree_segments_ready(a)) {
            rc = agree_segment_pop(a, &s);
            if (rc) {
                assert_int_equal(rc, HARK_ENOMEM);
                hark_mem_fail_after(-1);
                failures++;
                continue;
            }
            o += (size_t)snprintf(out + o, size - o, "[%s]", s.text);
            agree_segment_release(&s);
        }
        struct hbuf b;
        hbuf_init(&b, 0);
        int64_t ps, pe;
        rc = agree_partial(a, &b, &ps, &pe);
        if (rc) {
            assert_int_equal(rc, HARK_ENOMEM);
            hark_mem_fail_after(-1);
            hbuf_reset(&b);
            assert_int_equal(agree_partial(a, &b, &ps, &pe), 0);
            failures++;
        }
        o += (size_t)snprintf(out + o, size - o, "(%s)%s",
                              b.data ? b.data : "", agree_prompt(a));
        hbuf_release(&b);
    }
    hark_mem_fail_after(-1);
    agree_free(a);
    return failures;
}

static void allocation_failures_fail_cleanly_and_can_be_retried(void **state)
{
    (void)state;
    char want[4096], have[4096];
    assert_int_equal(scenario(-1, want, sizeof want), 0);
    assert_non_null(strstr(want, "[We met.]"));
    long at = 0;
    for (; at < 1000; at++) {
        long failed = scenario(at, have, sizeof have);
        assert_string_equal(have, want);
        if (failed == 0)
            break;
    }
    assert_true(at > 5);
    assert_true(at < 1000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(default_config_is_accepted_and_bad_ones_are_refused),
    cmocka_unit_test(bad_pushes_are_refused_and_change_nothing),
    cmocka_unit_test(push_with_segments_waiting_is_refused),
    cmocka_unit_test(word_text_is_truncated_at_a_utf8_boundary),
    cmocka_unit_test(identical_hypotheses_confirm_all_but_the_edge_word),
    cmocka_unit_test(same_window_end_confirms_nothing),
    cmocka_unit_test(growing_hypotheses_confirm_only_the_stable_prefix),
    cmocka_unit_test(changed_word_breaks_agreement_at_that_word),
    cmocka_unit_test(case_and_punctuation_differences_agree_with_newer_text),
    cmocka_unit_test(first_and_confirm_steps_follow_each_word),
    cmocka_unit_test(words_repeated_at_the_window_head_are_dropped),
    cmocka_unit_test(a_word_repeated_after_a_pause_is_kept),
    cmocka_unit_test(redecoded_committed_words_are_dropped_by_time),
    cmocka_unit_test(empty_hypotheses_are_harmless),
    cmocka_unit_test(sentence_end_emits_a_segment_and_commits_move_the_trim_point),
    cmocka_unit_test(other_scripts_end_sentences_and_join_without_spaces),
    cmocka_unit_test(pause_between_words_splits_segments),
    cmocka_unit_test(silence_after_the_last_word_completes_its_segment),
    cmocka_unit_test(long_segments_split_by_duration_and_word_count),
    cmocka_unit_test(segments_never_overlap_even_when_input_times_do),
    cmocka_unit_test(long_window_without_agreement_is_force_committed),
    cmocka_unit_test(long_window_without_words_is_trimmed),
    cmocka_unit_test(flush_emits_the_unconfirmed_tail),
    cmocka_unit_test(prompt_is_the_tail_of_committed_text),
    cmocka_unit_test(words_older_than_the_commit_lag_are_confirmed_without_agreement),
    cmocka_unit_test(agreement_still_confirms_before_the_commit_lag),
    cmocka_unit_test(open_segment_shows_committed_words_under_its_final_start),
    cmocka_unit_test(partial_appends_to_the_caller_buffer),
    cmocka_unit_test(random_streams_reassemble_the_spoken_words),
    cmocka_unit_test(random_streams_survive_a_tight_hard_cap),
    cmocka_unit_test(allocation_failures_fail_cleanly_and_can_be_retried),
};
HARNESS_MAIN(tests)
