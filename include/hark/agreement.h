/* agreement.h — which words of a live transcript are final (LocalAgreement-2).
 *
 * A live stream keeps an audio window [window_start_ms, window_end_ms) in
 * absolute stream time. Every step the engine re-decodes the whole window and
 * pushes the result, a HYPOTHESIS: words with absolute start/end times. This
 * module decides what is confirmed, groups confirmed words into segments,
 * says where the engine may cut the window, and builds the next prompt. It
 * never sees audio and never calls whisper.cpp. The policy follows
 * whisper_streaming (Macháček et al., 2023):
 *
 * 1. Filtering a hypothesis. Words whose text is empty or only whitespace are
 *    ignored. Times are clamped into the window, each end to at least its
 *    start, each start to at least the previous word's start. Then a word is
 *    treated as a re-decode of audio already committed, and dropped, when it
 *    starts more than tolerance_ms before the end of the last committed word
 *    and ends no more than tolerance_ms after it. A word's timestamps move
 *    between decodes; the rule leans towards keeping, since a dropped word is
 *    lost for good while a repeated one is caught by the next rule: whisper
 *    often repeats the last committed words at the head of a cut window, so
 *    when the first remaining word starts within 1 s of the committed end,
 *    the longest run of 1..5 leading words equal (by key, see 2) to the last
 *    1..5 committed words is dropped. Limitation: a genuine immediate
 *    repetition ("no, no") that lands there is dropped too.
 *
 * 2. Agreement. Words compare by a key: case folded (ASCII, Latin-1, Latin
 *    Extended-A, Greek, Cyrillic), with whitespace and punctuation (ASCII,
 *    general, CJK and fullwidth) removed; a word that is only punctuation
 *    compares by its trimmed text. The confirmed words of a push are the
 *    longest common prefix of the previous hypothesis's unconfirmed tail and
 *    the filtered current one, carrying the CURRENT hypothesis's text and
 *    times (it heard more audio). Two exceptions:
 *    - the last word of the current hypothesis is confirmed only if it ends at
 *      least pause_ms before window_end_ms: a word at the window edge may be
 *      cut off, and whisper tends to end a window's final word with a full
 *      stop. So two identical hypotheses confirm every word but the last,
 *      and the last too when silence follows it;
 *    - nothing is confirmed when window_end_ms did not advance since the
 *      previous push: decoding the same audio again is not new evidence.
 *    Latency bound (commit_lag_ms, 0 = off): after the agreed prefix, the
 *    current hypothesis's words that end commit_lag_ms or more before
 *    window_end_ms are confirmed too, agreed or not. A model that never
 *    repeats itself (noise, an unknown language, random weights) would
 *    otherwise keep its words unconfirmed, and the window and the cost of
 *    every decode growing, until a pause or the hard cap; with the bound a
 *    word is final at most commit_lag_ms + one step after it was spoken.
 *    What the current hypothesis holds after the confirmed words becomes the
 *    unconfirmed tail compared against the next push.
 *
 * 3. Segments. Confirmed words join the OPEN segment. Committed times never
 *    go backwards: a word's start is raised to the end of the word committed
 *    before it and its end to at least 1 ms after its start, so emitted
 *    segments never overlap and their start times strictly increase (an id
 *    made of stream and start_ms is unique). The open segment completes (is
 *    emitted) when
 *    - a word ends a sentence: its text, ignoring trailing whitespace and
 *      closing quotes or brackets, ends in . ? ! … 。 ？ ！ ． ‼ ؟ । or similar
 *      (AGREE_CUT_SENTENCE; "Mr." ends one too — there is no tokenizer);
 *    - the next word starts pause_ms or more after its last word, or, with no
 *      such word yet, the window extends pause_ms or more past its last word
 *      and no word of the current hypothesis starts inside that gap
 *      (AGREE_CUT_PAUSE);
 *    - adding the next word would make it last longer than max_segment_ms
 *      (AGREE_CUT_LENGTH; a segment of two or more words never does);
 *    - it holds max_words_per_segment words (AGREE_CUT_WORDS).
 *    Committing a word moves the trim point to its end: the engine drops the
 *    window's audio before it, so a window holds only unconfirmed speech
 *    and every decode costs the least it can. Rule 1 catches the tail of a
 *    committed word heard again at the head of the cut window.
 *
 * 4. Hard cap. When, after a push, the window from the trim point to
 *    window_end_ms is longer than max_window_ms, the module commits without
 *    agreement: every unconfirmed word of the current hypothesis except its
 *    last ones — at most AGREE_FORCE_HOLD_WORDS, and only those that start
 *    within AGREE_FORCE_HOLD_MS of the window end — then emits the open
 *    segment (AGREE_CUT_FORCED). If the window is still too long (nothing to
 *    commit: silence, music, or only the held words), the trim point moves to
 *    window_end_ms - AGREE_FORCE_HOLD_MS; that audio holds no word anyone
 *    still needs. So the window never stays above max_window_ms after a push.
 *
 * 5. Flush (end of stream, or end of speech): every word still unconfirmed in
 *    the last hypothesis is committed and the open segment is emitted
 *    (AGREE_CUT_FLUSH). Pushing may continue afterwards.
 *
 * 6. Prompt: the last prompt_bytes bytes of the committed text (emitted or
 *    still in the open segment), cut at a word boundary: it is what the
 *    decoder needs to continue the sentence its window now starts in the
 *    middle of.
 *
 * Engine loop: agree_push(); agree_segment_pop() until it returns
 * HARK_ENOENT; agree_partial() for the live view; cut the window to
 * agree_trim_point(); decode the next step with agree_prompt().
 *
 * Memory is bounded: a hypothesis holds at most AGREE_MAX_WORDS words of at
 * most AGREE_WORD_BYTES - 1 bytes; the module keeps the previous hypothesis,
 * the open segment (max_words_per_segment words), the segments one push
 * emitted (at most max_words_per_segment + AGREE_MAX_WORDS words), the last 5
 * committed words and the prompt: about 230 KB in the worst case, a few KB
 * for ordinary speech. Arrays grow on demand. Every push, flush and pop
 * either succeeds or fails with nothing changed, so the same call may simply
 * be retried after HARK_ENOMEM.
 *
 * Thread safety: none inside; one struct agree per stream, used by one thread
 * at a time. No global state. */
#ifndef HARK_AGREEMENT_H
#define HARK_AGREEMENT_H
#include <stddef.h>
#include <stdint.h>
#include "hark/buf.h"
#include "hark/error.h"

#define AGREE_WORD_BYTES 64          /* text capacity, NUL included */
#define AGREE_MAX_WORDS 512          /* per hypothesis; a 30 s window has ~100 */
#define AGREE_MAX_PROMPT_BYTES 1024  /* whisper reads at most 224 prompt tokens */
#define AGREE_FORCE_HOLD_WORDS 2
#define AGREE_FORCE_HOLD_MS 2000
#define AGREE_MAX_TIME_MS (INT64_C(1) << 52)  /* ~142,000 years; no overflow */

/* One word. text is NUL-terminated UTF-8, usually with whisper's leading
 * space (" hello"); words without one are joined with a space except around
 * scripts written without spaces (CJK, Thai, ...) and before punctuation that
 * attaches to the left (", . ! ? ; : ) ]"). Times are absolute stream time.
 * first_step and confirm_step are set by this module on output (ignored on
 * input): the 0-based index of the agree_push()/agree_flush() call, counted
 * together, at which the word was first seen (in an unbroken chain of pushes
 * that kept it, matched by key and overlapping time) and at which it was
 * confirmed. With the caller's window_end_ms per step they give latency. */
struct agree_word {
    char text[AGREE_WORD_BYTES];
    int64_t start_ms, end_ms;
    float p;                   /* decoder probability, carried through */
    uint32_t first_step, confirm_step;
};

/* Copies text (borrowed) into w->text, truncating at a UTF-8 boundary if it
 * does not fit. Returns the bytes stored. */
size_t agree_word_set_text(struct agree_word *w, const char *text);

/* Why a segment was emitted. */
enum agree_cut {
    AGREE_CUT_SENTENCE,
    AGREE_CUT_PAUSE,
    AGREE_CUT_LENGTH,
    AGREE_CUT_WORDS,
    AGREE_CUT_FORCED,
    AGREE_CUT_FLUSH,
    AGREE_CUT_OPEN,            /* not emitted: agree_open_segment() */
};

/* A completed segment; filled by agree_segment_pop(), released with
 * agree_segment_release(). */
struct agree_segment {
    int64_t start_ms, end_ms;  /* first word's start, last word's end */
    char *text;                /* owned; words joined, outer whitespace trimmed */
    struct agree_word *words;  /* owned; n_words >= 1 entries */
    size_t n_words;
    enum agree_cut cut;
};

struct agree_config {
    int64_t pause_ms;              /* default 600; 1 .. max_window_ms - 1 */
    int64_t max_segment_ms;        /* default 10000; below max_window_ms */
    int64_t max_window_ms;         /* default 15000; above AGREE_FORCE_HOLD_MS,
                                      at most 3600000 */
    size_t max_words_per_segment;  /* default 64; 1 .. AGREE_MAX_WORDS */
    size_t prompt_bytes;           /* default 200; 0 disables the prompt */
    int64_t tolerance_ms;          /* default 200; 0 .. 10000 */
    int64_t commit_lag_ms;         /* default 1500; 0 (off) .. max_window_ms - 1 */
};
/* Defaults: max_segment_ms is below max_window_ms because a window holds the
 * open segment plus an unconfirmed tail; were they equal, the hard cap would
 * fire in ordinary run-on speech before the length rule could. */
struct agree_config agree_config_default(void);

struct agree;                      /* opaque; one per stream */

/* Creates the state for one stream; c is copied. HARK_ECONFIG when a field is
 * out of the ranges above. On success *out is owned by the caller and freed
 * with agree_free(). */
HARK_MUST_CHECK int agree_new(const struct agree_config *c, struct agree **out);
void agree_free(struct agree *a);  /* NULL is fine */

/* Feeds the hypothesis decoded from the window [window_start_ms,
 * window_end_ms); words (n of them, borrowed, copied in, in time order) carry
 * absolute times. Runs steps 1-4 above. Errors, all leaving the state
 * unchanged:
 *   HARK_EBUSY   segments from the previous call are still waiting to be
 *                popped (pop them all first; this keeps memory bounded);
 *   HARK_ETOOBIG n > AGREE_MAX_WORDS;
 *   HARK_EINVAL  NULL words with n > 0, a text without a NUL within
 *                AGREE_WORD_BYTES, window_start_ms > window_end_ms, or
 *                window_end_ms earlier than the previous push's;
 *   HARK_ERANGE  a window time outside [0, AGREE_MAX_TIME_MS];
 *   HARK_ENOMEM. */
HARK_MUST_CHECK int agree_push(struct agree *a, const struct agree_word *words,
                               size_t n, int64_t window_start_ms,
                               int64_t window_end_ms);

/* Step 5 above. HARK_EBUSY (segments waiting) or HARK_ENOMEM, state
 * unchanged. */
HARK_MUST_CHECK int agree_flush(struct agree *a);

/* Segments emitted by the last push or flush and not yet popped. */
size_t agree_segments_ready(const struct agree *a);

/* Moves the oldest ready segment into *out, which the caller releases with
 * agree_segment_release(). HARK_ENOENT when none is ready, HARK_ENOMEM (the
 * segment stays queued). */
HARK_MUST_CHECK int agree_segment_pop(struct agree *a,
                                      struct agree_segment *out);
void agree_segment_release(struct agree_segment *s);  /* zeroes *s */

/* A copy of the open segment: its committed words, final but not complete
 * (more may join it). Its start never changes, so a caller may show it
 * early under the id the completed segment will have. Filled like
 * agree_segment_pop() (cut AGREE_CUT_OPEN); HARK_ENOENT when it holds no
 * word, HARK_ENOMEM. */
HARK_MUST_CHECK int agree_open_segment(const struct agree *a,
                                       struct agree_segment *out);

/* The live view of everything not yet emitted: the open segment's confirmed
 * words followed by the unconfirmed tail of the last hypothesis. Appends its
 * text (outer whitespace trimmed, possibly empty) to out and stores its time
 * span; with no words both times are the trim point. HARK_ENOMEM or
 * HARK_ETOOBIG from out, which may then hold part of the text. */
HARK_MUST_CHECK int agree_partial(const struct agree *a, struct hbuf *out,
                                  int64_t *start_ms, int64_t *end_ms);

/* How many leading words of the partial are confirmed: the next emitted
 * segment begins with them, unchanged, so a UI may show them as stable. */
size_t agree_partial_confirmed(const struct agree *a);

/* Where the engine may cut the window's start: the end of the last emitted
 * segment, or later after step 4, never before the latest window_start_ms.
 * Never decreases; 0 before the first push. */
int64_t agree_trim_point(const struct agree *a);

/* The prompt for the next decode (step 6); "" when there is none. Borrowed:
 * valid until the next push, flush or agree_free(). */
const char *agree_prompt(const struct agree *a);

#endif
