#include "hark/agreement.h"

#include <stdbool.h>
#include <string.h>

#include "hark/mem.h"

/* Words compared for the n-gram overlap of step 1, and how close to the
 * committed end the hypothesis must start for it to apply. */
#define OVERLAP_MAX_WORDS 5
#define OVERLAP_NEAR_MS 1000
#define MAX_CONFIG_MS 3600000

/* Not a code point: marks a byte that is not valid UTF-8, kept as it is. */
#define BAD_CP 0xFFFFFFFFu

/* A word of a hypothesis with its comparison key (never longer than text). */
struct hword {
    struct agree_word w;
    char key[AGREE_WORD_BYTES];
};

struct seg_rec {
    size_t n_words;
    enum agree_cut cut;
};

struct agree {
    struct agree_config cfg;

    /* Unconfirmed tail of the previous hypothesis, and scratch for the
     * current one; swapped at the end of a push. */
    struct hword *prev, *cur;
    size_t prev_n, prev_cap, cur_cap;

    struct agree_word *open;       /* cap: cfg.max_words_per_segment */
    size_t open_n;

    /* Emitted, not yet popped: segs[segs_head..segs_n) whose words are
     * done[done_head..done_n). Empty at the start of every push. */
    struct agree_word *done;
    size_t done_n, done_head, done_cap;
    struct seg_rec *segs;
    size_t segs_n, segs_head, segs_cap;

    /* Keys of the last committed words, oldest first. */
    char hist[OVERLAP_MAX_WORDS][AGREE_WORD_BYTES];
    size_t hist_n;

    bool committed_any;
    int64_t committed_end_ms;      /* end of the last committed word */
    bool pushed_any;
    int64_t last_window_end_ms;
    int64_t trim_ms;
    uint32_t step;                 /* index of the current push or flush */

    char *prompt;                  /* prompt_bytes + one word + NUL */
    size_t prompt_len;
    uint32_t prompt_last_cp;
};

/* ---- UTF-8 and character classes ---------------------------------------- */

/* Decodes the code point at s (n > 0 bytes available). A byte that does not
 * start a valid, complete, shortest-form sequence decodes alone as BAD_CP. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v;
    *cp = BAD_CP;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07u;
    } else {
        return 1;
    }
    if (len > n)
        return 1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 1;
    *cp = v;
    return len;
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The code point that ends s[0..n) (n > 0), and where it starts. */
static uint32_t utf8_prev(const char *s, size_t n, size_t *start)
{
    size_t i = n - 1;
    while (i > 0 && n - i < 4 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    uint32_t cp;
    if (utf8_next((const unsigned char *)s + i, n - i, &cp) != n - i) {
        i = n - 1;
        cp = BAD_CP;
    }
    *start = i;
    return cp;
}

static bool in(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

static bool is_ascii_space(uint32_t c)
{
    return c == ' ' || in(c, '\t', '\r');
}

/* Upper to lower case where it is a fixed offset or parity within one
 * block, all within two-byte UTF-8 so a key never outgrows its text. */
static uint32_t fold_case(uint32_t c)
{
    if (in(c, 'A', 'Z') || (in(c, 0xC0, 0xDE) && c != 0xD7) ||
        (in(c, 0x391, 0x3A9) && c != 0x3A2) || in(c, 0x410, 0x42F))
        return c + 0x20;
    if (in(c, 0x400, 0x40F))
        return c + 0x50;
    if (c == 0x178)
        return 0xFF;
    if (in(c, 0x100, 0x12F) || in(c, 0x132, 0x137) || in(c, 0x14A, 0x177))
        return c | 1u;
    if ((in(c, 0x139, 0x148) || in(c, 0x179, 0x17E)) && (c & 1u))
        return c + 1;
    return c;
}

/* Whitespace, controls and punctuation: ignored when comparing words. */
static bool is_ignorable(uint32_t c)
{
    if (c < 0x80)
        return c <= 0x2F || in(c, 0x3A, 0x40) || in(c, 0x5B, 0x60) ||
               c >= 0x7B;
    return in(c, 0x80, 0xA1) || c == 0xA7 || c == 0xAB || c == 0xB6 ||
           c == 0xB7 || c == 0xBB || c == 0xBF || in(c, 0x55A, 0x55F) ||
           c == 0x589 || c == 0x60C || c == 0x61B || c == 0x61F ||
           in(c, 0x66A, 0x66D) || c == 0x6D4 || c == 0x964 || c == 0x965 ||
           c == 0x104A || c == 0x104B || in(c, 0x1360, 0x1368) ||
           in(c, 0x2000, 0x206F) || in(c, 0x3000, 0x3004) ||
           in(c, 0x3008, 0x3020) || c == 0x3030 || c == 0x303D ||
           c == 0x30FB || in(c, 0xFE10, 0xFE1F) || in(c, 0xFE30, 0xFE6F) ||
           c == 0xFEFF || in(c, 0xFF01, 0xFF0F) || in(c, 0xFF1A, 0xFF20) ||
           in(c, 0xFF3B, 0xFF40) || in(c, 0xFF5B, 0xFF65);
}

static bool is_closer(uint32_t c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' ||
           c == 0xBB || c == 0x2019 || c == 0x201D || c == 0x203A ||
           c == 0x3009 || c == 0x300B || c == 0x300D || c == 0x300F ||
           c == 0x3011 || c == 0x3015 || c == 0x3017 || c == 0x3019 ||
           c == 0x301B || c == 0xFF09 || c == 0xFF3D || c == 0xFF5D ||
           c == 0xFF63;
}

static bool is_terminal(uint32_t c)
{
    return c == '.' || c == '?' || c == '!' || c == 0x61F || c == 0x6D4 ||
           c == 0x964 || c == 0x965 || c == 0x104B || c == 0x1362 ||
           c == 0x2026 || c == 0x203C || in(c, 0x2047, 0x2049) ||
           c == 0x3002 || c == 0xFF01 || c == 0xFF0E || c == 0xFF1F ||
           c == 0xFF61;
}

/* Scripts written without spaces between words. Hangul is not one. */
static bool is_unspaced_script(uint32_t c)
{
    return in(c, 0xE00, 0xEFF) || in(c, 0x1000, 0x109F) ||
           in(c, 0x1780, 0x17FF) || in(c, 0x2E80, 0x2FDF) ||
           in(c, 0x3000, 0x312F) || in(c, 0x31F0, 0x31FF) ||
           in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) ||
           in(c, 0xF900, 0xFAFF) || in(c, 0xFF00, 0xFFEF) ||
           in(c, 0x20000, 0x3FFFF);
}

/* Punctuation written against the word before it. */
static bool attaches_left(uint32_t c)
{
    return c == ',' || c == '.' || c == '!' || c == '?' || c == ';' ||
           c == ':' || c == ')' || c == ']' || c == '}' || c == '%' ||
           c == 0xBB || c == 0x2019 || c == 0x201D || c == 0x2026;
}

/* ---- words -------------------------------------------------------------- */

size_t agree_word_set_text(struct agree_word *w, const char *text)
{
    size_t n = strnlen(text, AGREE_WORD_BYTES);
    if (n == AGREE_WORD_BYTES) {
        n = AGREE_WORD_BYTES - 1;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(w->text, text, n);
    w->text[n] = '\0';
    return n;
}

/* Fills key; returns false when the text is empty or only whitespace. */
static bool word_key(const char *text, char *key)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        if (cp == BAD_CP)
            key[o++] = (char)s[i];
        else if (!is_ignorable(cp))
            o += utf8_put(fold_case(cp), key + o);
        i += len;
    }
    if (o == 0) {
        size_t b = 0;
        while (b < n && is_ascii_space(s[b]))
            b++;
        while (n > b && is_ascii_space(s[n - 1]))
            n--;
        o = n - b;
        memcpy(key, text + b, o);
    }
    key[o] = '\0';
    return o > 0;
}

static bool ends_sentence(const char *text)
{
    size_t n = strlen(text);
    while (n > 0) {
        size_t start;
        uint32_t cp = utf8_prev(text, n, &start);
        if (!is_ascii_space(cp) && !is_closer(cp))
            return is_terminal(cp);
        n = start;
    }
    return false;
}

static uint32_t last_cp(const char *text)
{
    size_t n = strlen(text), start;
    return n ? utf8_prev(text, n, &start) : 0;
}

/* text, with a space in front when it follows a word ending in prev_cp
 * (0: nothing before) and carries none of its own. Returns the length. */
static size_t word_piece(uint32_t prev_cp, const char *text,
                         char out[AGREE_WORD_BYTES + 1])
{
    size_t n = strlen(text), o = 0;
    uint32_t first = BAD_CP;
    if (n)
        utf8_next((const unsigned char *)text, n, &first);
    if (prev_cp != 0 && !is_ascii_space(prev_cp) && n &&
        !is_ascii_space(first) && !attaches_left(first) &&
        !is_unspaced_script(first) && !is_unspaced_script(prev_cp))
        out[o++] = ' ';
    memcpy(out + o, text, n);
    o += n;
    out[o] = '\0';
    return o;
}

/* Appends a word to b, dropping leading whitespace while nothing past base
 * has been written. */
static int text_add(struct hbuf *b, size_t base, uint32_t *prev_cp,
                    const char *text)
{
    char piece[AGREE_WORD_BYTES + 1];
    size_t n = word_piece(*prev_cp, text, piece), skip = 0;
    if (b->len == base)
        while (skip < n && is_ascii_space((unsigned char)piece[skip]))
            skip++;
    int rc = hbuf_append(b, piece + skip, n - skip);
    if (rc == 0 && n)
        *prev_cp = last_cp(text);
    return rc;
}

static void text_trim_end(struct hbuf *b, size_t base)
{
    while (b->len > base && is_ascii_space((unsigned char)b->data[b->len - 1]))
        b->len--;
    if (b->data)
        b->data[b->len] = '\0';
}

/* ---- storage ------------------------------------------------------------ */

/* Makes *p hold at least need elements; leaves it untouched on failure. */
static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = hark_realloc(*p, c * elem);
    if (!q)
        return HARK_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Room to emit `words` more words, each possibly closing a segment. */
static int reserve_emit(struct agree *a, size_t words)
{
    int rc = reserve((void **)&a->done, &a->done_cap, a->done_n + words,
                     sizeof *a->done);
    if (rc == 0)
        rc = reserve((void **)&a->segs, &a->segs_cap, a->segs_n + words,
                     sizeof *a->segs);
    return rc;
}

/* ---- prompt ------------------------------------------------------------- */

static void prompt_add(struct agree *a, const char *text)
{
    size_t max = a->cfg.prompt_bytes;
    if (max == 0)
        return;
    char piece[AGREE_WORD_BYTES + 1];
    size_t n = word_piece(a->prompt_len ? a->prompt_last_cp : 0, text, piece);
    memcpy(a->prompt + a->prompt_len, piece, n);
    a->prompt_len += n;
    a->prompt_last_cp = last_cp(text);
    size_t cut = a->prompt_len > max ? a->prompt_len - max : 0;
    if (cut && a->prompt[cut - 1] != ' ') {
        const char *sp = memchr(a->prompt + cut, ' ', a->prompt_len - cut);
        if (sp)
            cut = (size_t)(sp - a->prompt);
        else
            while (cut < a->prompt_len &&
                   ((unsigned char)a->prompt[cut] & 0xC0) == 0x80)
                cut++;
    }
    while (cut < a->prompt_len &&
           is_ascii_space((unsigned char)a->prompt[cut]))
        cut++;
    memmove(a->prompt, a->prompt + cut, a->prompt_len - cut);
    a->prompt_len -= cut;
    a->prompt[a->prompt_len] = '\0';
}

/* ---- committing --------------------------------------------------------- */

static int64_t max64(int64_t x, int64_t y) { return x > y ? x : y; }
static int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

/* Moves the open segment to the ready queue (room reserved by the caller). */
static void close_open(struct agree *a, enum agree_cut cut)
{
    if (a->open_n == 0)
        return;
    memcpy(a->done + a->done_n, a->open, a->open_n * sizeof *a->open);
    a->done_n += a->open_n;
    a->segs[a->segs_n++] = (struct seg_rec){a->open_n, cut};
    a->open_n = 0;
}

static void history_add(struct agree *a, const char *key)
{
    if (a->hist_n == OVERLAP_MAX_WORDS) {
        memmove(a->hist[0], a->hist[1],
                (OVERLAP_MAX_WORDS - 1) * sizeof a->hist[0]);
        a->hist_n--;
    }
    memcpy(a->hist[a->hist_n++], key, strlen(key) + 1);
}

static void commit_word(struct agree *a, const struct hword *h)
{
    const struct agree_config *c = &a->cfg;
    struct agree_word w = h->w;
    if (a->committed_any)
        w.start_ms = max64(w.start_ms, a->committed_end_ms);
    w.end_ms = max64(w.end_ms, w.start_ms + 1);
    w.confirm_step = a->step;
    if (a->open_n) {
        if (w.start_ms - a->open[a->open_n - 1].end_ms >= c->pause_ms)
            close_open(a, AGREE_CUT_PAUSE);
        else if (w.end_ms - a->open[0].start_ms > c->max_segment_ms)
            close_open(a, AGREE_CUT_LENGTH);
    }
    a->open[a->open_n++] = w;
    prompt_add(a, w.text);
    a->trim_ms = max64(a->trim_ms, w.end_ms);
    history_add(a, h->key);
    a->committed_any = true;
    a->committed_end_ms = w.end_ms;
    if (ends_sentence(w.text))
        close_open(a, AGREE_CUT_SENTENCE);
    else if (a->open_n == c->max_words_per_segment)
        close_open(a, AGREE_CUT_WORDS);
}

/* ---- one push ----------------------------------------------------------- */

/* Step 1 for one input word: clamps its times into the window and after the
 * word kept before it, and says whether it is worth keeping. */
static bool take_word(const struct agree *a, const struct agree_word *in,
                      int64_t ws, int64_t we, int64_t floor_ms,
                      struct hword *out)
{
    out->w = *in;
    if (!word_key(out->w.text, out->key))
        return false;
    struct agree_word *w = &out->w;
    w->start_ms = min64(max64(w->start_ms, max64(ws, floor_ms)), we);
    w->end_ms = min64(max64(w->end_ms, w->start_ms), we);
    w->first_step = w->confirm_step = a->step;
    if (!a->committed_any)
        return true;
    int64_t ce = a->committed_end_ms, tol = a->cfg.tolerance_ms;
    return !(w->start_ms < ce - tol && w->end_ms <= ce + tol);
}

static bool keys_equal(const char *x, const char *y) { return strcmp(x, y) == 0; }

/* Step 1's n-gram overlap: drops the longest head of cur[0..m) that repeats
 * the tail of what was committed. Returns the new length. */
static size_t drop_overlap(const struct agree *a, struct hword *cur, size_t m)
{
    if (!a->committed_any || m == 0 || a->hist_n == 0)
        return m;
    int64_t d = cur[0].w.start_ms - a->committed_end_ms;
    if (d >= OVERLAP_NEAR_MS || d <= -OVERLAP_NEAR_MS)
        return m;
    size_t top = a->hist_n < m ? a->hist_n : m;
    for (size_t i = top; i > 0; i--) {
        size_t j = 0;
        while (j < i && keys_equal(a->hist[a->hist_n - i + j], cur[j].key))
            j++;
        if (j == i) {
            memmove(cur, cur + i, (m - i) * sizeof *cur);
            return m - i;
        }
    }
    return m;
}

/* first_step of cur[j] for j >= k: the step a previous-tail word with the
 * same key and overlapping time was first seen at. */
static void carry_first_steps(const struct agree *a, struct hword *cur,
                              size_t m, size_t k)
{
    int64_t tol = a->cfg.tolerance_ms;
    for (size_t j = 0; j < k; j++)
        cur[j].w.first_step = a->prev[j].w.first_step;
    for (size_t j = k; j < m; j++) {
        const struct agree_word *w = &cur[j].w;
        for (size_t i = 0; i < a->prev_n; i++) {
            const struct hword *p = &a->prev[i];
            if (p->w.start_ms > w->end_ms + tol)
                break;
            if (p->w.end_ms + tol >= w->start_ms &&
                keys_equal(p->key, cur[j].key)) {
                cur[j].w.first_step = p->w.first_step;
                break;
            }
        }
    }
}

/* Step 2: how many leading words of cur[0..m) are confirmed. */
static size_t agreed_prefix(const struct agree *a, const struct hword *cur,
                            size_t m, int64_t we)
{
    size_t k = 0;
    if (a->pushed_any && we <= a->last_window_end_ms)
        return 0;
    while (k < m && k < a->prev_n && keys_equal(cur[k].key, a->prev[k].key))
        k++;
    if (k > 0 && k == m && cur[m - 1].w.end_ms > we - a->cfg.pause_ms)
        k--;
    return k;
}

/* Step 2's latency bound: words that ended commit_lag_ms or more before the
 * window end are confirmed from the current hypothesis even without
 * agreement. A model that never repeats itself (noise, a language it does
 * not know) would otherwise grow the window, and the cost of every decode,
 * until a pause or the hard cap. */
static size_t lagging_prefix(const struct agree *a, const struct hword *cur,
                             size_t k, size_t m, int64_t we)
{
    if (a->cfg.commit_lag_ms == 0 || (a->pushed_any && we <= a->last_window_end_ms))
        return k;
    while (k < m && cur[k].w.end_ms <= we - a->cfg.commit_lag_ms)
        k++;
    return k;
}

/* Makes cur[k..m) the unconfirmed tail the next push is compared with; the
 * old tail's storage becomes the next scratch. */
static void keep_tail(struct agree *a, size_t k, size_t m)
{
    struct hword *cur = a->cur;
    if (k && m > k)
        memmove(cur, cur + k, (m - k) * sizeof *cur);
    a->cur = a->prev;
    a->prev = cur;
    size_t cap = a->cur_cap;
    a->cur_cap = a->prev_cap;
    a->prev_cap = cap;
    a->prev_n = m - k;
}

/* Step 4. Returns how many words of cur[k..m) it committed. */
static size_t force_commit(struct agree *a, const struct hword *cur, size_t k,
                           size_t m, int64_t we)
{
    size_t hold = 0;
    while (hold < AGREE_FORCE_HOLD_WORDS && hold < m - k &&
           cur[m - 1 - hold].w.start_ms >= we - AGREE_FORCE_HOLD_MS)
        hold++;
    size_t end = m - hold;
    for (size_t j = k; j < end; j++)
        commit_word(a, &cur[j]);
    close_open(a, AGREE_CUT_FORCED);
    if (we - a->trim_ms > a->cfg.max_window_ms)
        a->trim_ms = we - AGREE_FORCE_HOLD_MS;
    return end - k;
}

static int check_push(const struct agree *a, const struct agree_word *words,
                      size_t n, int64_t ws, int64_t we)
{
    if (agree_segments_ready(a))
        return HARK_EBUSY;
    if (n > AGREE_MAX_WORDS)
        return HARK_ETOOBIG;
    if (n && !words)
        return HARK_EINVAL;
    if (ws < 0 || we < 0 || ws > AGREE_MAX_TIME_MS || we > AGREE_MAX_TIME_MS)
        return HARK_ERANGE;
    if (ws > we || (a->pushed_any && we < a->last_window_end_ms))
        return HARK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!memchr(words[i].text, '\0', AGREE_WORD_BYTES))
            return HARK_EINVAL;
    return 0;
}

/* Forgets popped segments so the ready arrays are reused from the start. */
static void reset_ready(struct agree *a)
{
    a->done_n = a->done_head = 0;
    a->segs_n = a->segs_head = 0;
}

int agree_push(struct agree *a, const struct agree_word *words, size_t n,
               int64_t window_start_ms, int64_t window_end_ms)
{
    if (!a)
        return HARK_EINVAL;
    int64_t ws = window_start_ms, we = window_end_ms;
    int rc = check_push(a, words, n, ws, we);
    if (rc)
        return rc;
    reset_ready(a);
    rc = reserve((void **)&a->cur, &a->cur_cap, n, sizeof *a->cur);
    if (rc == 0)
        rc = reserve_emit(a, a->open_n + n);
    if (rc)
        return rc;

    struct hword *cur = a->cur;
    size_t m = 0;
    int64_t floor_ms = ws;
    for (size_t i = 0; i < n; i++)
        if (take_word(a, &words[i], ws, we, floor_ms, &cur[m]))
            floor_ms = cur[m++].w.start_ms;
    m = drop_overlap(a, cur, m);

    size_t k = agreed_prefix(a, cur, m, we);
    carry_first_steps(a, cur, m, k);
    k = lagging_prefix(a, cur, k, m, we);

    a->trim_ms = max64(a->trim_ms, ws);
    for (size_t j = 0; j < k; j++)
        commit_word(a, &cur[j]);
    if (a->open_n) {
        int64_t next = k < m ? cur[k].w.start_ms : we;
        if (next - a->open[a->open_n - 1].end_ms >= a->cfg.pause_ms)
            close_open(a, AGREE_CUT_PAUSE);
    }
    if (we - a->trim_ms > a->cfg.max_window_ms)
        k += force_commit(a, cur, k, m, we);

    keep_tail(a, k, m);
    a->pushed_any = true;
    a->last_window_end_ms = we;
    a->step++;
    return 0;
}

int agree_flush(struct agree *a)
{
    if (!a)
        return HARK_EINVAL;
    if (agree_segments_ready(a))
        return HARK_EBUSY;
    reset_ready(a);
    int rc = reserve_emit(a, a->open_n + a->prev_n);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->prev_n; i++)
        commit_word(a, &a->prev[i]);
    close_open(a, AGREE_CUT_FLUSH);
    a->prev_n = 0;
    a->step++;
    return 0;
}

/* ---- output ------------------------------------------------------------- */

size_t agree_segments_ready(const struct agree *a)
{
    return a ? a->segs_n - a->segs_head : 0;
}

/* Copies n >= 1 words and their joined text into *out. */
static int segment_copy(const struct agree_word *w, size_t n, enum agree_cut cut,
                        struct agree_segment *out)
{
    struct agree_word *copy = hark_malloc(n * sizeof *copy);
    if (!copy)
        return HARK_ENOMEM;
    struct hbuf b;
    hbuf_init(&b, 0);
    uint32_t prev_cp = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = text_add(&b, 0, &prev_cp, w[i].text);
    text_trim_end(&b, 0);
    char *text = rc ? NULL : hbuf_take(&b);
    if (!text) {
        hbuf_release(&b);
        hark_free(copy);
        return rc ? rc : HARK_ENOMEM;
    }
    memcpy(copy, w, n * sizeof *copy);
    *out = (struct agree_segment){
        .start_ms = w[0].start_ms,
        .end_ms = w[n - 1].end_ms,
        .text = text,
        .words = copy,
        .n_words = n,
        .cut = cut,
    };
    return 0;
}

int agree_segment_pop(struct agree *a, struct agree_segment *out)
{
    if (!a || !out)
        return HARK_EINVAL;
    if (a->segs_head == a->segs_n)
        return HARK_ENOENT;
    const struct seg_rec *r = &a->segs[a->segs_head];
    int rc = segment_copy(a->done + a->done_head, r->n_words, r->cut, out);
    if (rc)
        return rc;
    a->done_head += r->n_words;
    a->segs_head++;
    return 0;
}

int agree_open_segment(const struct agree *a, struct agree_segment *out)
{
    if (!a || !out)
        return HARK_EINVAL;
    if (a->open_n == 0)
        return HARK_ENOENT;
    return segment_copy(a->open, a->open_n, AGREE_CUT_OPEN, out);
}

void agree_segment_release(struct agree_segment *s)
{
    if (!s)
        return;
    hark_free(s->text);
    hark_free(s->words);
    memset(s, 0, sizeof *s);
}

int agree_partial(const struct agree *a, struct hbuf *out, int64_t *start_ms,
                  int64_t *end_ms)
{
    if (!a || !out || !start_ms || !end_ms)
        return HARK_EINVAL;
    size_t base = out->len;
    uint32_t prev_cp = 0;
    int64_t start = a->trim_ms, end = start;
    size_t total = a->open_n + a->prev_n;
    for (size_t i = 0; i < total; i++) {
        const struct agree_word *w =
            i < a->open_n ? &a->open[i] : &a->prev[i - a->open_n].w;
        int rc = text_add(out, base, &prev_cp, w->text);
        if (rc)
            return rc;
        if (i == 0) /* committed words may lie before the trim point */
            start = i < a->open_n ? w->start_ms : max64(w->start_ms, a->trim_ms);
        end = max64(end, w->end_ms);
    }
    text_trim_end(out, base);
    *start_ms = start;
    *end_ms = max64(end, start);
    return 0;
}

size_t agree_partial_confirmed(const struct agree *a)
{
    return a ? a->open_n : 0;
}

int64_t agree_trim_point(const struct agree *a) { return a ? a->trim_ms : 0; }

const char *agree_prompt(const struct agree *a)
{
    return a && a->prompt ? a->prompt : "";
}

/* ---- lifetime ----------------------------------------------------------- */

struct agree_config agree_config_default(void)
{
    return (struct agree_config){
        .pause_ms = 600,
        .max_segment_ms = 10000,
        .max_window_ms = 15000,
        .max_words_per_segment = 64,
        .prompt_bytes = 200,
        .tolerance_ms = 200,
        .commit_lag_ms = 1500,
    };
}

static bool config_ok(const struct agree_config *c)
{
    return c->max_window_ms > AGREE_FORCE_HOLD_MS &&
           c->max_window_ms <= MAX_CONFIG_MS && c->pause_ms >= 1 &&
           c->pause_ms < c->max_window_ms && c->max_segment_ms >= 1 &&
           c->max_segment_ms < c->max_window_ms &&
           c->max_words_per_segment >= 1 &&
           c->max_words_per_segment <= AGREE_MAX_WORDS &&
           c->prompt_bytes <= AGREE_MAX_PROMPT_BYTES && c->tolerance_ms >= 0 &&
           c->tolerance_ms <= 10000 && c->commit_lag_ms >= 0 &&
           c->commit_lag_ms < c->max_window_ms;
}

int agree_new(const struct agree_config *c, struct agree **out)
{
    if (!c || !out)
        return HARK_EINVAL;
    if (!config_ok(c))
        return HARK_ECONFIG;
    struct agree *a = hark_calloc(1, sizeof *a);
    if (!a)
        return HARK_ENOMEM;
    a->cfg = *c;
    a->open = hark_malloc(c->max_words_per_segment * sizeof *a->open);
    if (c->prompt_bytes)
        a->prompt = hark_malloc(c->prompt_bytes + AGREE_WORD_BYTES + 1);
    if (!a->open || (c->prompt_bytes && !a->prompt)) {
        agree_free(a);
        return HARK_ENOMEM;
    }
    if (a->prompt)
        a->prompt[0] = '\0';
    *out = a;
    return 0;
}

void agree_free(struct agree *a)
{
    if (!a)
        return;
    hark_free(a->prev);
    hark_free(a->cur);
    hark_free(a->open);
    hark_free(a->done);
    hark_free(a->segs);
    hark_free(a->prompt);
    hark_free(a);
}
