/* gen-random-model.c — writes a whisper.cpp (ggml) model file whose weights
 * are seeded pseudo-random numbers, shaped so that decoding still emits
 * ordinary text tokens in timestamped segments. It lets benchmarks run real
 * compute and end-to-end tests run the whole transcription path on machines
 * that cannot download OpenAI's weights. The words it produces are gibberish.
 *
 * Usage:
 *   gen-random-model --preset NAME --vocab-from PATH --seed N --ftype f16|f32 -o OUT
 *     NAME  tiny, tiny.en, base, base.en, small, small.en: OpenAI's
 *           hyper-parameters (same tensor shapes, so the same compute);
 *           test: a small model (128 wide, 2 encoder and 3 decoder layers)
 *           that decodes jfk.wav in well under a second on two cores.
 *     PATH  a ggml whisper model whose header, mel filters and vocabulary are
 *           copied (whisper.cpp's for-tests-ggml-tiny.en.bin for the .en
 *           presets, for-tests-ggml-tiny.bin for the others; test follows
 *           the vocabulary it is given). Its tensors, if any, are ignored.
 *     N     seed, 0 .. 2^64-1. The same arguments always give the same bytes.
 *   OUT is written under a temporary name in the same directory and renamed
 *   into place, so a reader never sees a partial file.
 *   Exit status: 0 written; 1 the input could not be read or parsed, or the
 *   output could not be written (nothing is left behind); 2 bad usage.
 *
 * File format (whisper.cpp's whisper_model_load, little-endian): magic
 * "ggml", eleven int32 hyper-parameters, the mel filter bank, the
 * vocabulary, then tensors as {int32 n_dims, name length, type (0 f32,
 * 1 f16); int32 ne[n_dims]; name; data}, ne[0] varying fastest. Matrices,
 * convolution kernels and the token embedding are f16 with --ftype f16;
 * positional embeddings, biases and norms are always f32.
 *
 * How the weights are shaped (docs/models.md, "Random-weight models", has
 * the full story): the encoder is a plain random transformer. The decoder's
 * residual stream is split into a random part (random embeddings, random
 * heads reading the audio) that picks WHICH word comes next, and a few
 * control dimensions, carried past the random layers untouched, that decide
 * WHEN a timestamp or the end of text comes: in the first two layers one
 * attention head marks the tokens after <|startoftranscript|>, a second
 * counts them (its weight on that token is 1/(n+1)), and an MLP turns the
 * count into a piecewise-linear "clock" read out against the timestamp
 * tokens' embeddings, so timestamps advance about 0.3 s per token whatever
 * prompt precedes the window. A constant dimension carries per-token class
 * biases: word-like tokens (optional space, ASCII letters) are ordinary
 * text, timestamps compete with them, other tokens are never chosen. Every
 * decoder residual dimension has a negated twin so each layer norm's mean
 * is exactly zero, and in the first two layers a large constant "ballast"
 * dimension keeps the norms' scale nearly constant, which makes them almost
 * linear and the counting exact; layer 1 then removes it, so the final norm
 * scales all logits together and only their direction decides.
 *
 * Standalone: libc and libm only, so it allocates with malloc and free. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

#define GGML_MAGIC 0x67676d6cu
#define N_AUDIO_CTX 1500
#define N_TEXT_CTX 448
#define N_MELS 80
#define N_VOCAB_EN 51864      /* whisper.cpp: multilingual iff n_vocab >= 51865 */
#define N_VOCAB_MULTI 51865
#define N_TIMESTAMPS 1501     /* <|0.00|> .. <|30.00|> */
#define SRC_TEXT_TOKENS 50256 /* the vocabulary must name at least these */

/* Limits on the source file, so a corrupt one cannot make us allocate
 * without bound. */
#define SRC_MAX_MEL 512
#define SRC_MAX_FFT 4096
#define SRC_MAX_VOCAB 200000
#define SRC_MAX_TOKEN_BYTES 1024

/* --- the clock --------------------------------------------------------
 * Generated tokens are counted from <|startoftranscript|>; knot j of the
 * clock sits KNOT_TOKENS*j tokens after the first generated one and stands
 * for timestamp KNOT_TOKENS*TS_PER_TOKEN*j (one timestamp step is 20 ms).
 * Knots past 30 s exist so the end of text wins once the clock is past the
 * window: the last knot is the end-of-text token's. */
#define KNOT_TOKENS 4
#define TS_PER_TOKEN 15
#define KNOTS 27
#define TS_PER_KNOT (KNOT_TOKENS * TS_PER_TOKEN)

/* Logical decoder dimensions; dimension i + d/2 is always the negation of
 * dimension i. L_RND.. are the random part. */
enum {
    L_BAL,      /* ballast: a large constant from the positional embedding,
                   removed by layer 1's MLP */
    L_CLS,      /* a constant set by layer 1's MLP: reads out class biases */
    L_SOT,      /* 1 on <|startoftranscript|>, 0 elsewhere */
    L_AFT,      /* written by layer 0: the token comes after SOT; removed by
                   layer 1's MLP */
    L_CNT,      /* written by layer 1: CNT_AMP/(n+1), n tokens since SOT */
    L_F0,       /* written by layer 1's MLP: this is the first step */
    L_CLK,      /* KNOTS dimensions: the clock's piecewise-linear basis */
    L_RND = L_CLK + KNOTS
};

/* Magnitudes of the control paths in the residual. They are small next to
 * the random part so the final norm's scale hardly depends on them; all
 * the arithmetic on them is relative, so f16 loses nothing by it. */
#define SOT_MARK 1.0
#define AFT_AMP 1.0
#define CNT_AMP 4.0           /* keeps layer 1's MLP slopes within f16 */
#define CLK_AMP 1.0
#define F0_AMP 1.0
#define CLS_AMP 1.0
#define SCORE_SOT 24.0        /* layer 0: SOT's attention score over others */
#define SCORE_PROMPT 16.0     /* layer 1: how far prompt tokens are pushed down */
#define UNIT_RISE 24.0        /* MLP pre-activation rise across one knot gap */
#define BIAS_RANGE 64.0       /* |class bias| stays below this */

/* Logit shaping (logits, relative to a word-like token's class bias 0). */
#define TEXT_SPREAD 10.0      /* std of the random part of text logits */
#define TS_NOISE 0.6          /* timestamps' random part, relative */
#define TS_CLASS 17.0         /* timestamps' class bias, before the clock */
#define CLOCK_GAIN 40.0       /* added to timestamps on the clock's plateau */
#define PLATEAU_TS 90         /* plateau: this many steps up to the knot's */
#define SLOPE_TS 30           /* ... falling to nothing over this many more */
#define PLATEAU_TILT 0.1      /* the plateau's back is this much lower */
#define EOT_GAIN 80.0         /* added to the end of text past the last knot */
#define FIRST_GAIN 30.0       /* extra for every timestamp on the first step */
#define NEVER (-30.0)         /* tokens that must not be chosen */
#define EMB_STD 0.05          /* random part of token embeddings */
#define RND_VAR 1.5           /* expected variance of a random residual dim */
/* Control values a token embedding carries are kept this small, and
 * decoder.ln scaled up to match, so that the token being fed back in
 * barely moves the control dims the next step reads. */
#define READ_EPS (1.0 / 64)

struct preset {
    const char *name;
    int state, audio_head, audio_layer, text_head, text_layer;
    int english;              /* 1 .en, 0 multilingual, -1 as the vocabulary */
};

static const struct preset PRESETS[] = {
    {"tiny", 384, 6, 4, 6, 4, 0},     {"tiny.en", 384, 6, 4, 6, 4, 1},
    {"base", 512, 8, 6, 8, 6, 0},     {"base.en", 512, 8, 6, 8, 6, 1},
    {"small", 768, 12, 12, 12, 12, 0}, {"small.en", 768, 12, 12, 12, 12, 1},
    /* Three text layers, not two: whisper.cpp takes a 2-layer decoder for a
     * distilled model and turns timestamps off. */
    {"test", 128, 2, 2, 2, 3, -1},
};

struct args {
    const struct preset *preset;
    const char *vocab_path;
    const char *out_path;
    uint64_t seed;
    int f16;
};

/* The parts of the source model we keep: its filters and vocabulary as raw
 * bytes (copied verbatim) and where each token's text starts in them. */
struct src {
    int32_t n_vocab;          /* from its header */
    int32_t n_mels;
    unsigned char *blob;      /* filters + vocabulary, owned */
    size_t blob_len;
    int32_t n_tokens;         /* strings in the vocabulary */
    size_t *tok_off;          /* owned; offset of token i's bytes in blob */
    uint32_t *tok_len;        /* owned */
};

/* Everything the decoder weights are derived from. */
struct design {
    int d, h, n_head, hd, n_layer;
    int n_vocab, eot, sot, beg, n_langs;
    int n0;                   /* count n at the first generated token */
    int n_rnd;                /* random logical dims */
    double ballast;
    double s_nom;             /* the norms' scale in layers 0 and 1 */
    double s_fin;             /* ... after the ballast is gone */
    double g_text;
    /* MLP units of layer 1 turning the count into the clock: knot (as a
     * count n) and slope of each; the first KNOTS are the clock's, the rest
     * the first-step indicator's. */
    int n_units;
    double unit_knot[KNOTS + 4], unit_slope[KNOTS + 4];
    /* mlp.2 coefficients: residual amplitude per unit output, per control
     * output (the clock's KNOTS dims, then L_F0) */
    double coef[KNOTS + 1][KNOTS + 4];
    double bias[KNOTS + 1];
    const struct src *src;
    unsigned char *word;      /* owned; 1 if token i is word-like text */
};

struct out {
    FILE *f;
    const char *path;         /* for messages */
    uint64_t seed;
    int f16;
    int failed;
    int err;                  /* errno of the failed write, 0 if none */
};

/* --- pseudo-random numbers (splitmix64; integer and IEEE arithmetic only,
 * so every platform produces the same bytes) --------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15u;
    return mix64(*s);
}

/* Uniform in [-1, 1). */
static double rng_sym(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-52 - 1.0;
}

/* Mean 0, variance 1, bounded by 3: the sum of three uniforms. */
static double rng_normal(uint64_t *s)
{
    return rng_sym(s) + rng_sym(s) + rng_sym(s);
}

static uint64_t hash_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    return h;
}

/* A stream per (tensor, row), so each row can be regenerated on its own
 * (the twin rows of the decoder need that). */
static uint64_t row_rng(const struct out *o, const char *name, int64_t row)
{
    return mix64(o->seed ^ mix64(hash_name(name) + (uint64_t)row * 0x9e3779b97f4a7c15u));
}

/* --- output ------------------------------------------------------------ */

static void put_bytes(struct out *o, const void *p, size_t n)
{
    if (!o->failed && fwrite(p, 1, n, o->f) != n) {
        o->failed = 1;
        o->err = errno ? errno : EIO;
    }
}

static void put_u32(struct out *o, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put_bytes(o, b, sizeof b);
}

static void put_i32(struct out *o, int32_t v)
{
    put_u32(o, (uint32_t)v);
}

/* IEEE binary16 bits of f, rounded to nearest even. Callers keep |f| below
 * 65504 (checked in put_row). */
static uint16_t f16_bits(float f)
{
    uint32_t x, sign, rem, m, shift;
    memcpy(&x, &f, sizeof x);
    sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x < 0x33000000u) /* below half the smallest subnormal */
        return (uint16_t)sign;
    if (x < 0x38800000u) { /* subnormal: units of 2^-24 */
        shift = 126u - (x >> 23);
        m = (x & 0x7fffffu) | 0x800000u;
        rem = m & ((1u << shift) - 1u);
        m >>= shift;
        if (rem > (1u << (shift - 1u)) || (rem == (1u << (shift - 1u)) && (m & 1u)))
            m++;
        return (uint16_t)(sign | m);
    }
    m = (x >> 13) - (112u << 10);
    rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (m & 1u)))
        m++;
    return (uint16_t)(sign | m);
}

static void put_header(struct out *o, const char *name, int n_dims,
                       const int32_t *ne, int f16)
{
    size_t len = strlen(name);
    put_i32(o, n_dims);
    put_i32(o, (int32_t)len);
    put_i32(o, f16 ? 1 : 0);
    for (int i = 0; i < n_dims; i++)
        put_i32(o, ne[i]);
    put_bytes(o, name, len);
}

static void put_row(struct out *o, const float *row, size_t n, int f16)
{
    unsigned char buf[4096];
    size_t used = 0, each = f16 ? 2 : 4;
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        if (!(fabsf(row[i]) < 65504.0f)) {
            /* A design bug, not an input problem: say so and fail. */
            fprintf(stderr, "gen-random-model: internal error: weight %g out of range\n",
                    (double)row[i]);
            o->failed = 1;
            o->err = ERANGE;
            return;
        }
        if (f16)
            v = f16_bits(row[i]);
        else
            memcpy(&v, &row[i], sizeof v);
        for (size_t k = 0; k < each; k++)
            buf[used++] = (unsigned char)(v >> (8 * k));
        if (used == sizeof buf) {
            put_bytes(o, buf, used);
            used = 0;
        }
    }
    put_bytes(o, buf, used);
}

/* A tensor filled by gaussian(0, std) rows, or by a constant when std is 0. */
static void put_plain(struct out *o, const char *name, int n_dims,
                      const int32_t *ne, int f16, double std, float fill,
                      float *row)
{
    int64_t rows = 1;
    for (int i = 1; i < n_dims; i++)
        rows *= ne[i];
    put_header(o, name, n_dims, ne, f16);
    for (int64_t r = 0; r < rows; r++) {
        uint64_t s = row_rng(o, name, r);
        for (int32_t c = 0; c < ne[0]; c++)
            row[c] = std > 0 ? (float)(std * rng_normal(&s)) : fill;
        put_row(o, row, (size_t)ne[0], f16);
    }
}

static void put_vec(struct out *o, const char *name, int32_t n, float fill, float *row)
{
    const int32_t ne[1] = {n};
    put_plain(o, name, 1, ne, 0, 0, fill, row);
}

static void put_mat(struct out *o, const char *name, int32_t in, int32_t outs,
                    double std, float *row)
{
    const int32_t ne[2] = {in, outs};
    put_plain(o, name, 2, ne, o->f16, std, 0, row);
}

/* --- arguments --------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: gen-random-model --preset tiny|tiny.en|base|base.en|small|small.en|test\n"
               "                        --vocab-from PATH --seed N --ftype f16|f32 -o OUT\n");
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Returns 0, or EXIT_USAGE after printing why. */
static int parse_args(int argc, char **argv, struct args *a)
{
    int have_seed = 0, have_ftype = 0;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "gen-random-model: %s needs a value\n", k);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(k, "--preset")) {
            a->preset = NULL;
            for (size_t p = 0; p < sizeof PRESETS / sizeof PRESETS[0]; p++)
                if (!strcmp(v, PRESETS[p].name))
                    a->preset = &PRESETS[p];
            if (!a->preset) {
                fprintf(stderr, "gen-random-model: unknown preset '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(k, "--vocab-from")) {
            a->vocab_path = v;
        } else if (!strcmp(k, "--seed")) {
            if (parse_seed(v, &a->seed)) {
                fprintf(stderr, "gen-random-model: --seed wants 0 .. 2^64-1, got '%s'\n", v);
                return EXIT_USAGE;
            }
            have_seed = 1;
        } else if (!strcmp(k, "--ftype")) {
            if (strcmp(v, "f16") && strcmp(v, "f32")) {
                fprintf(stderr, "gen-random-model: --ftype wants f16 or f32, got '%s'\n", v);
                return EXIT_USAGE;
            }
            a->f16 = !strcmp(v, "f16");
            have_ftype = 1;
        } else if (!strcmp(k, "-o")) {
            a->out_path = v;
        } else {
            fprintf(stderr, "gen-random-model: unknown option '%s'\n", k);
            return EXIT_USAGE;
        }
    }
    if (!a->preset || !a->vocab_path || !have_seed || !have_ftype || !a->out_path) {
        fprintf(stderr, "gen-random-model: --preset, --vocab-from, --seed, --ftype and -o are all required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!*a->out_path) {
        fprintf(stderr, "gen-random-model: -o wants a file name\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* --- the source vocabulary --------------------------------------------- */

static void src_release(struct src *s)
{
    free(s->blob);
    free(s->tok_off);
    free(s->tok_len);
    memset(s, 0, sizeof *s);
}

/* Appends n bytes read from f to the blob (capacity grows as needed). */
static int blob_read(FILE *f, struct src *s, size_t *cap, size_t n)
{
    if (s->blob_len + n > *cap) {
        size_t want = *cap ? *cap : 1u << 16;
        unsigned char *p;
        while (want < s->blob_len + n)
            want *= 2;
        p = realloc(s->blob, want);
        if (!p)
            return -1;
        s->blob = p;
        *cap = want;
    }
    if (fread(s->blob + s->blob_len, 1, n, f) != n)
        return -1;
    s->blob_len += n;
    return 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the header, mel filters and vocabulary of a ggml whisper model.
 * Returns 0, or 1 after printing why. */
static int src_read(const char *path, struct src *s)
{
    unsigned char head[48];
    size_t cap = 0;
    int32_t n_mel, n_fft;
    const char *why = "truncated";
    FILE *f = fopen(path, "rb");
    memset(s, 0, sizeof *s);
    if (!f) {
        fprintf(stderr, "gen-random-model: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fread(head, 1, sizeof head, f) != sizeof head)
        goto bad;
    if (le32(head) != GGML_MAGIC) {
        why = "not a ggml model (bad magic)";
        goto bad;
    }
    s->n_vocab = (int32_t)le32(head + 4);
    s->n_mels = (int32_t)le32(head + 40);
    if (blob_read(f, s, &cap, 8))
        goto bad;
    n_mel = (int32_t)le32(s->blob);
    n_fft = (int32_t)le32(s->blob + 4);
    if (n_mel <= 0 || n_mel > SRC_MAX_MEL || n_fft <= 0 || n_fft > SRC_MAX_FFT) {
        why = "implausible mel filter bank size";
        goto bad;
    }
    if (blob_read(f, s, &cap, (size_t)n_mel * (size_t)n_fft * 4 + 4))
        goto bad;
    s->n_tokens = (int32_t)le32(s->blob + s->blob_len - 4);
    if (s->n_tokens <= 0 || s->n_tokens > SRC_MAX_VOCAB) {
        why = "implausible vocabulary size";
        goto bad;
    }
    s->tok_off = malloc((size_t)s->n_tokens * sizeof *s->tok_off);
    s->tok_len = malloc((size_t)s->n_tokens * sizeof *s->tok_len);
    if (!s->tok_off || !s->tok_len) {
        why = "out of memory";
        goto bad;
    }
    for (int32_t i = 0; i < s->n_tokens; i++) {
        uint32_t len;
        if (blob_read(f, s, &cap, 4))
            goto bad;
        len = le32(s->blob + s->blob_len - 4);
        if (len > SRC_MAX_TOKEN_BYTES) {
            why = "implausible token length";
            goto bad;
        }
        s->tok_off[i] = s->blob_len;
        s->tok_len[i] = len;
        if (len && blob_read(f, s, &cap, len))
            goto bad;
    }
    if (ferror(f)) {
        why = strerror(errno);
        goto bad;
    }
    fclose(f);
    return 0;
bad:
    fprintf(stderr, "gen-random-model: %s: %s\n", path, why);
    fclose(f);
    src_release(s);
    return 1;
}

/* Checks the source fits the preset. Returns 0 or EXIT_USAGE. */
static int src_check(const struct src *s, const struct args *a)
{
    const char *path = a->vocab_path;
    if (s->n_vocab != N_VOCAB_EN && s->n_vocab != N_VOCAB_MULTI) {
        fprintf(stderr, "gen-random-model: %s: n_vocab %d is neither an English-only (%d) nor a multilingual (%d) whisper vocabulary\n",
                path, s->n_vocab, N_VOCAB_EN, N_VOCAB_MULTI);
        return EXIT_USAGE;
    }
    if (a->preset->english >= 0 && a->preset->english != (s->n_vocab == N_VOCAB_EN)) {
        fprintf(stderr, "gen-random-model: %s holds a%s vocabulary but preset %s needs a%s one (for-tests-ggml-tiny%s.bin)\n",
                path, s->n_vocab == N_VOCAB_EN ? "n English-only" : " multilingual",
                a->preset->name, a->preset->english ? "n English-only" : " multilingual",
                a->preset->english ? ".en" : "");
        return EXIT_USAGE;
    }
    if (s->n_mels != N_MELS || (int32_t)le32(s->blob) != N_MELS) {
        fprintf(stderr, "gen-random-model: %s: %d mel bands; the presets need %d\n",
                path, s->n_mels, N_MELS);
        return EXIT_USAGE;
    }
    if (s->n_tokens < SRC_TEXT_TOKENS) {
        fprintf(stderr, "gen-random-model: %s: only %d vocabulary entries, want at least %d\n",
                path, s->n_tokens, SRC_TEXT_TOKENS);
        return EXIT_USAGE;
    }
    return 0;
}

/* --- the decoder design ------------------------------------------------ */

/* Word-like: an optional leading space, then ASCII letters only. Printing
 * such tokens can never split a UTF-8 sequence or emit control bytes. */
static int is_word(const struct src *s, int id)
{
    const unsigned char *p;
    uint32_t n, i = 0;
    if (id >= s->n_tokens)
        return 0;
    p = s->blob + s->tok_off[id];
    n = s->tok_len[id];
    if (n && p[0] == ' ')
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')))
            return 0;
    return 1;
}

/* The count signal at n tokens since SOT, as layer 1 writes it. */
static double cnt_at(double n)
{
    return CNT_AMP / (n + 1.0);
}

/* Adds unit u (a ReLU of the count crossing knot n, rising UNIT_RISE over
 * the gap to next_n). */
static void design_unit(struct design *g, int u, double n, double next_n)
{
    g->unit_knot[u] = n;
    g->unit_slope[u] = UNIT_RISE / (cnt_at(n) - cnt_at(next_n));
}

/* relu(z - tau_u) = unit output / slope, z = -cnt: the coefficient on
 * unit u's output for a term beta * relu(z - tau_u). */
static void design_term(struct design *g, int row, int u, double beta, double amp)
{
    g->coef[row][u] += amp * beta / g->unit_slope[u];
}

static int design_init(struct design *g, const struct args *a, const struct src *s)
{
    const struct preset *p = a->preset;
    double sum_sq, gap[KNOTS];
    memset(g, 0, sizeof *g);
    g->src = s;
    g->d = p->state;
    g->h = p->state / 2;
    g->n_head = p->text_head;
    g->hd = p->state / p->text_head;
    g->n_layer = p->text_layer;
    g->n_vocab = s->n_vocab;
    if (s->n_vocab == N_VOCAB_MULTI) {
        g->eot = 50257;
        g->sot = 50258;
        g->beg = 50364;
        g->n0 = 2; /* SOT, language, task: two tokens follow SOT */
    } else {
        g->eot = 50256;
        g->sot = 50257;
        g->beg = 50363;
        g->n0 = 0;
    }
    g->n_langs = g->n_vocab - 51765 - (s->n_vocab == N_VOCAB_MULTI);
    g->n_rnd = g->h - L_RND;

    /* Ballast: 100 times the expected energy of everything else, so the
     * norms' scale in layers 0 and 1 moves by well under 1% from token to
     * token. Afterwards the scale is the random part's. */
    sum_sq = g->n_rnd * RND_VAR + AFT_AMP * AFT_AMP + CNT_AMP * CNT_AMP +
             CLK_AMP * CLK_AMP + F0_AMP * F0_AMP + CLS_AMP * CLS_AMP;
    g->ballast = 10.0 * sqrt(sum_sq);
    g->s_nom = sqrt(2.0 * (g->ballast * g->ballast + sum_sq) / g->d);
    g->s_fin = sqrt(2.0 * sum_sq / g->d);
    /* decoder.ln's weight on the random dims: text logits then spread with
     * std TEXT_SPREAD (the factor 2 is the twin's share). */
    g->g_text = g->s_fin * TEXT_SPREAD /
                (2.0 * EMB_STD * sqrt(RND_VAR) * sqrt((double)g->n_rnd));

    /* Clock units and their basis: phi_j is 1 at knot j and falls linearly
     * (in z = -cnt) to 0 at its neighbours; phi_0 is 1 before the first
     * knot and phi_last 1 after the last. */
    for (int j = 0; j < KNOTS; j++) {
        double n = g->n0 + KNOT_TOKENS * j;
        design_unit(g, j, n, n + KNOT_TOKENS);
        gap[j] = cnt_at(n) - cnt_at(n + KNOT_TOKENS);
    }
    g->bias[0] = CLK_AMP;
    design_term(g, 0, 0, -1.0 / gap[0], CLK_AMP);
    design_term(g, 0, 1, 1.0 / gap[0], CLK_AMP);
    for (int j = 1; j < KNOTS - 1; j++) {
        design_term(g, j, j - 1, 1.0 / gap[j - 1], CLK_AMP);
        design_term(g, j, j, -1.0 / gap[j - 1] - 1.0 / gap[j], CLK_AMP);
        design_term(g, j, j + 1, 1.0 / gap[j], CLK_AMP);
    }
    design_term(g, KNOTS - 1, KNOTS - 2, 1.0 / gap[KNOTS - 2], CLK_AMP);
    design_term(g, KNOTS - 1, KNOTS - 1, -1.0 / gap[KNOTS - 2], CLK_AMP);

    /* First-step indicator: 1 at n = n0, 0 a token either side. */
    {
        int u = KNOTS, f0 = KNOTS;
        double n0 = g->n0, ab, bc;
        bc = cnt_at(n0) - cnt_at(n0 + 1);
        if (g->n0 > 0) {
            ab = cnt_at(n0 - 1) - cnt_at(n0);
            design_unit(g, u, n0 - 1, n0);
            design_term(g, f0, u++, 1.0 / ab, F0_AMP);
            design_unit(g, u, n0, n0 + 1);
            design_term(g, f0, u++, -1.0 / ab - 1.0 / bc, F0_AMP);
        } else {
            g->bias[f0] = F0_AMP;
            design_unit(g, u, n0, n0 + 1);
            design_term(g, f0, u++, -1.0 / bc, F0_AMP);
        }
        design_unit(g, u, n0 + 1, n0 + 2);
        design_term(g, f0, u++, 1.0 / bc, F0_AMP);
        g->n_units = u;
    }

    g->word = malloc((size_t)g->n_vocab);
    if (!g->word) {
        fprintf(stderr, "gen-random-model: out of memory\n");
        return 1;
    }
    for (int i = 0; i < g->n_vocab; i++)
        g->word[i] = (unsigned char)(i < g->eot && is_word(s, i));
    return 0;
}

/* How much knot j's clock value lifts timestamp k: about 1 on a plateau
 * from PLATEAU_TS steps before the knot's own timestamp up to it (tilted by
 * PLATEAU_TILT so later ones are preferred, which keeps segments from
 * ending where they started), falling linearly to 0 over SLOPE_TS steps
 * either side. Because neighbouring knots' plateaus overlap by more than
 * a knot's width, the best lift is nearly 1 at every count, not only at
 * knots, and noise picks the timestamp within the plateau, not on a grid. */
static double lift(int j, int k)
{
    double delta = (double)(k - j * TS_PER_KNOT);
    if (delta > 0)
        return delta < SLOPE_TS ? 1 - delta / SLOPE_TS : 0;
    if (delta >= -PLATEAU_TS)
        return 1 + PLATEAU_TILT * delta / PLATEAU_TS;
    delta = (-PLATEAU_TS - delta) / SLOPE_TS;
    return delta < 1 ? (1 - PLATEAU_TILT) * (1 - delta) : 0;
}

/* The class bias of token t, in logits. */
static double class_bias(const struct design *g, int t)
{
    if (t >= g->beg)
        return TS_CLASS;
    if (t < g->eot)
        return g->word[t] ? 0.0 : NEVER;
    if (t == g->sot + 1 && g->n_vocab == N_VOCAB_MULTI)
        return 0.0; /* <|en|> wins language detection */
    return NEVER;
}

/* Physical row o of a residual-writing tensor: the logical row with the
 * twin's sign. */
static int logical(const struct design *g, int o, double *sign)
{
    *sign = o < g->h ? 1.0 : -1.0;
    return o < g->h ? o : o - g->h;
}

static void row_embedding(const struct design *g, struct out *o, int t, float *row)
{
    uint64_t s = row_rng(o, "decoder.token_embedding.weight", t);
    double std = EMB_STD;
    memset(row, 0, (size_t)g->h * sizeof *row);
    if (t >= g->beg) {
        for (int j = 0; j < KNOTS; j++)
            row[L_CLK + j] = (float)(READ_EPS * lift(j, t - g->beg));
        row[L_F0] = (float)READ_EPS;
        std *= TS_NOISE;
    } else if (t == g->eot) {
        row[L_CLK + KNOTS - 1] = (float)(READ_EPS * EOT_GAIN / CLOCK_GAIN);
    } else if (t == g->sot) {
        row[L_SOT] = (float)SOT_MARK;
        std = 0; /* so SOT's own norm does not depend on the seed */
    }
    row[L_CLS] = (float)(READ_EPS * class_bias(g, t) / BIAS_RANGE);
    for (int i = L_RND; i < g->h; i++)
        row[i] = (float)(std * rng_normal(&s));
    for (int i = 0; i < g->h; i++)
        row[i + g->h] = -row[i];
}

static void put_embedding(struct out *o, const struct design *g, float *row)
{
    const int32_t ne[2] = {g->d, g->n_vocab};
    put_header(o, "decoder.token_embedding.weight", 2, ne, o->f16);
    for (int t = 0; t < g->n_vocab; t++) {
        row_embedding(g, o, t, row);
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

static void put_dec_position(struct out *o, const struct design *g, float *row)
{
    const char *name = "decoder.positional_embedding";
    const int32_t ne[2] = {g->d, N_TEXT_CTX};
    put_header(o, name, 2, ne, 0);
    for (int p = 0; p < N_TEXT_CTX; p++) {
        uint64_t s = row_rng(o, name, p);
        for (int i = 0; i < g->h; i++) {
            double v = i == L_BAL ? g->ballast : i >= L_RND ? rng_normal(&s) : 0;
            row[i] = (float)v;
            row[i + g->h] = (float)-v;
        }
        put_row(o, row, (size_t)g->d, 0);
    }
}

static void put_dec_final_norm(struct out *o, const struct design *g, float *row)
{
    const int32_t ne[1] = {g->d};
    put_header(o, "decoder.ln.weight", 1, ne, 0);
    for (int i = 0; i < g->h; i++) {
        double w = 0;
        if (i >= L_RND)
            w = g->g_text;
        else if (i >= L_CLK)
            w = g->s_fin / CLK_AMP * (CLOCK_GAIN / 2) / READ_EPS;
        else if (i == L_F0)
            w = g->s_fin / F0_AMP * (FIRST_GAIN / 2) / READ_EPS;
        else if (i == L_CLS)
            w = g->s_fin / CLS_AMP * (BIAS_RANGE / 2) / READ_EPS;
        row[i] = row[i + g->h] = (float)w;
    }
    put_row(o, row, (size_t)g->d, 0);
    for (int i = 0; i < g->d; i++)
        row[i] = 0;
    put_header(o, "decoder.ln.bias", 1, ne, 0);
    put_row(o, row, (size_t)g->d, 0);
}

/* Which control head (the last) a layer has; -1 if all heads are random. */
static int control_head(const struct design *g, int layer)
{
    return layer < 2 ? g->n_head - 1 : -1;
}

/* A projection that reads the residual (q, k, v, mlp.0): rows random over
 * the random logical dims, except rows `ctl_from`.. which the caller fills. */
static void row_read_random(const struct design *g, uint64_t *s, double gain, float *row)
{
    double std = gain / sqrt((double)g->n_rnd);
    for (int c = 0; c < g->d; c++)
        row[c] = c >= L_RND && c < g->h ? (float)(std * rng_normal(s)) : 0.0f;
}

enum proj { PROJ_Q, PROJ_K, PROJ_V };

/* Self-attention q/k/v of decoder layer l. The control head uses slot 0:
 * layer 0 lets every token after SOT find SOT (score SCORE_SOT) and copies
 * its mark; layer 1 gives tokens after SOT score 0 and tokens before it
 * -SCORE_PROMPT, and copies SOT's mark again, so its output on SOT's dim is
 * SOT_MARK/(n+1). */
static void put_self_proj(struct out *o, const struct design *g, int l, enum proj which,
                          const char *name, float *row)
{
    const int32_t ne[2] = {g->d, g->d};
    int hc = control_head(g, l), base = hc * g->hd;
    double rs = sqrt((double)g->hd);
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < g->d; r++) {
        uint64_t s = row_rng(o, name, r);
        if (hc < 0 || r < base) {
            row_read_random(g, &s, 1.0, row);
        } else {
            memset(row, 0, (size_t)g->d * sizeof *row);
            if (r == base && which == PROJ_K && l == 0) {
                row[L_SOT] = (float)(SCORE_SOT * rs / SOT_MARK);
            } else if (r == base && which == PROJ_K) {
                double cb = SCORE_PROMPT * rs / g->ballast;
                row[L_AFT] = (float)(cb * g->ballast / AFT_AMP);
                row[L_BAL] = (float)-cb;
            } else if (r == base && which == PROJ_V) {
                row[L_SOT] = 1.0f;
            }
        }
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

static void put_self_query_bias(struct out *o, const struct design *g, int l,
                                const char *name, float *row)
{
    const int32_t ne[1] = {g->d};
    int hc = control_head(g, l);
    memset(row, 0, (size_t)g->d * sizeof *row);
    if (hc >= 0)
        row[hc * g->hd] = 1.0f;
    put_header(o, name, 1, ne, 0);
    put_row(o, row, (size_t)g->d, 0);
}

/* An output projection (attn.out, cross_attn.out): random logical rows
 * read the random heads' slots; layer 0's control slot writes L_AFT and
 * layer 1's writes L_CNT. Twin rows are negated. */
static void put_out_proj(struct out *o, const struct design *g, int l, int cross,
                         const char *name, double gain, float *row)
{
    const int32_t ne[2] = {g->d, g->d};
    int hc = cross ? -1 : control_head(g, l);
    int n_in = hc < 0 ? g->d : hc * g->hd;
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < g->d; r++) {
        double sign;
        int i = logical(g, r, &sign);
        uint64_t s = row_rng(o, name, i);
        memset(row, 0, (size_t)g->d * sizeof *row);
        if (i >= L_RND) {
            double std = gain / sqrt((double)n_in);
            for (int c = 0; c < n_in; c++)
                row[c] = (float)(sign * std * rng_normal(&s));
        } else if (hc >= 0 && i == (l == 0 ? L_AFT : L_CNT)) {
            row[hc * g->hd] = (float)(sign * (l == 0 ? AFT_AMP : CNT_AMP) / SOT_MARK);
        }
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

/* mlp.0 of a decoder layer: in layer 1 the first n_units rows are the
 * clock's ReLUs, unit u = slope * (cnt_at(knot) - cnt) read as a ratio to
 * the ballast, so the knots do not move with the norm's scale. */
static void put_dec_mlp0(struct out *o, const struct design *g, int l, const char *name,
                         float *row)
{
    const int32_t ne[2] = {g->d, 4 * g->d};
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < 4 * g->d; r++) {
        uint64_t s = row_rng(o, name, r);
        if (l == 1 && r < g->n_units) {
            memset(row, 0, (size_t)g->d * sizeof *row);
            row[L_CNT] = (float)-g->unit_slope[r];
            row[L_BAL] = (float)(g->unit_slope[r] * cnt_at(g->unit_knot[r]) / g->ballast);
        } else {
            row_read_random(g, &s, 1.0, row);
        }
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

static void put_dec_mlp2(struct out *o, const struct design *g, int l, const char *name,
                         double gain, float *row)
{
    const int32_t ne[2] = {4 * g->d, g->d};
    int first = l == 1 ? g->n_units : 0;
    double std = gain / sqrt((double)(4 * g->d - first));
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < g->d; r++) {
        double sign;
        int i = logical(g, r, &sign);
        uint64_t s = row_rng(o, name, i);
        memset(row, 0, (size_t)(4 * g->d) * sizeof *row);
        if (i >= L_RND) {
            for (int c = first; c < 4 * g->d; c++)
                row[c] = (float)(sign * std * rng_normal(&s));
        } else if (l == 1 && (i == L_F0 || (i >= L_CLK && i < L_CLK + KNOTS))) {
            int k = i == L_F0 ? KNOTS : i - L_CLK;
            for (int u = 0; u < g->n_units; u++)
                row[u] = (float)(sign * g->coef[k][u]);
        }
        put_row(o, row, (size_t)(4 * g->d), o->f16);
    }
}

static void put_dec_mlp2_bias(struct out *o, const struct design *g, int l,
                              const char *name, float *row)
{
    const int32_t ne[1] = {g->d};
    memset(row, 0, (size_t)g->d * sizeof *row);
    if (l == 1) {
        /* The ballast and the after-SOT flag have done their work. */
        row[L_BAL] = (float)-g->ballast;
        row[L_AFT] = (float)-AFT_AMP;
        row[L_CLS] = (float)CLS_AMP;
        for (int k = 0; k < KNOTS + 1; k++)
            row[k == KNOTS ? L_F0 : L_CLK + k] = (float)g->bias[k];
        for (int i = 0; i < g->h; i++)
            row[i + g->h] = -row[i];
    }
    put_header(o, name, 1, ne, 0);
    put_row(o, row, (size_t)g->d, 0);
}

/* --- whole model ------------------------------------------------------- */

static void put_encoder(struct out *o, const struct preset *p, float *row)
{
    char name[96];
    int32_t d = p->state;
    double gain = 1.0 / sqrt(2.0 * p->audio_layer);
    {
        const int32_t ne[2] = {d, N_AUDIO_CTX};
        put_plain(o, "encoder.positional_embedding", 2, ne, 0, 1.0, 0, row);
    }
    {
        const int32_t ne[3] = {3, N_MELS, d}, nb[2] = {1, d};
        put_plain(o, "encoder.conv1.weight", 3, ne, o->f16, 1.0 / sqrt(3.0 * N_MELS), 0, row);
        put_plain(o, "encoder.conv1.bias", 2, nb, 0, 0, 0, row);
    }
    {
        const int32_t ne[3] = {3, d, d}, nb[2] = {1, d};
        put_plain(o, "encoder.conv2.weight", 3, ne, o->f16, 1.0 / sqrt(3.0 * d), 0, row);
        put_plain(o, "encoder.conv2.bias", 2, nb, 0, 0, 0, row);
    }
    put_vec(o, "encoder.ln_post.weight", d, 1.0f, row);
    put_vec(o, "encoder.ln_post.bias", d, 0.0f, row);
    for (int l = 0; l < p->audio_layer; l++) {
#define EN(what) (snprintf(name, sizeof name, "encoder.blocks.%d." what, l), name)
        put_vec(o, EN("mlp_ln.weight"), d, 1.0f, row);
        put_vec(o, EN("mlp_ln.bias"), d, 0.0f, row);
        put_mat(o, EN("mlp.0.weight"), d, 4 * d, 1.0 / sqrt((double)d), row);
        put_vec(o, EN("mlp.0.bias"), 4 * d, 0.0f, row);
        put_mat(o, EN("mlp.2.weight"), 4 * d, d, gain / sqrt(4.0 * d), row);
        put_vec(o, EN("mlp.2.bias"), d, 0.0f, row);
        put_vec(o, EN("attn_ln.weight"), d, 1.0f, row);
        put_vec(o, EN("attn_ln.bias"), d, 0.0f, row);
        put_mat(o, EN("attn.query.weight"), d, d, 1.0 / sqrt((double)d), row);
        put_vec(o, EN("attn.query.bias"), d, 0.0f, row);
        put_mat(o, EN("attn.key.weight"), d, d, 1.0 / sqrt((double)d), row);
        put_mat(o, EN("attn.value.weight"), d, d, 1.0 / sqrt((double)d), row);
        put_vec(o, EN("attn.value.bias"), d, 0.0f, row);
        put_mat(o, EN("attn.out.weight"), d, d, gain / sqrt((double)d), row);
        put_vec(o, EN("attn.out.bias"), d, 0.0f, row);
#undef EN
    }
}

static void put_decoder(struct out *o, const struct design *g, float *row)
{
    char name[96];
    int32_t d = g->d;
    /* Each sublayer adds about 1/(3 layers) of variance to the random dims,
     * so they stay near RND_VAR whatever the depth. */
    double gain = 1.0 / sqrt(3.0 * g->n_layer);
    put_dec_position(o, g, row);
    put_embedding(o, g, row);
    put_dec_final_norm(o, g, row);
    for (int l = 0; l < g->n_layer; l++) {
#define DN(what) (snprintf(name, sizeof name, "decoder.blocks.%d." what, l), name)
        /* Every norm inside the decoder is the identity up to its (nearly
         * constant) scale, bias 0. */
        float s = (float)(l < 2 ? g->s_nom : g->s_fin);
        put_vec(o, DN("mlp_ln.weight"), d, s, row);
        put_vec(o, DN("mlp_ln.bias"), d, 0.0f, row);
        put_dec_mlp0(o, g, l, DN("mlp.0.weight"), row);
        put_vec(o, DN("mlp.0.bias"), 4 * d, 0.0f, row);
        put_dec_mlp2(o, g, l, DN("mlp.2.weight"), gain, row);
        put_dec_mlp2_bias(o, g, l, DN("mlp.2.bias"), row);
        put_vec(o, DN("attn_ln.weight"), d, s, row);
        put_vec(o, DN("attn_ln.bias"), d, 0.0f, row);
        put_self_proj(o, g, l, PROJ_Q, DN("attn.query.weight"), row);
        put_self_query_bias(o, g, l, DN("attn.query.bias"), row);
        put_self_proj(o, g, l, PROJ_K, DN("attn.key.weight"), row);
        put_self_proj(o, g, l, PROJ_V, DN("attn.value.weight"), row);
        put_vec(o, DN("attn.value.bias"), d, 0.0f, row);
        put_out_proj(o, g, l, 0, DN("attn.out.weight"), gain, row);
        put_vec(o, DN("attn.out.bias"), d, 0.0f, row);
        put_vec(o, DN("cross_attn_ln.weight"), d, s, row);
        put_vec(o, DN("cross_attn_ln.bias"), d, 0.0f, row);
        {
            /* Queries read the random dims; keys and values read the whole
             * encoder output, so what is said steers which words come. */
            const int32_t ne[2] = {d, d};
            const char *qn = DN("cross_attn.query.weight");
            put_header(o, qn, 2, ne, o->f16);
            for (int r = 0; r < d; r++) {
                uint64_t rs = row_rng(o, qn, r);
                row_read_random(g, &rs, 1.0, row);
                put_row(o, row, (size_t)d, o->f16);
            }
        }
        put_vec(o, DN("cross_attn.query.bias"), d, 0.0f, row);
        put_mat(o, DN("cross_attn.key.weight"), d, d, 1.0 / sqrt((double)d), row);
        put_mat(o, DN("cross_attn.value.weight"), d, d, 1.0 / sqrt((double)d), row);
        put_vec(o, DN("cross_attn.value.bias"), d, 0.0f, row);
        put_out_proj(o, g, l, 1, DN("cross_attn.out.weight"), gain * 2.0, row);
        put_vec(o, DN("cross_attn.out.bias"), d, 0.0f, row);
#undef DN
    }
}

static void put_model(struct out *o, const struct args *a, const struct src *s,
                      const struct design *g, float *row)
{
    const struct preset *p = a->preset;
    const int32_t hp[11] = {s->n_vocab, N_AUDIO_CTX, p->state, p->audio_head,
                            p->audio_layer, N_TEXT_CTX, p->state, p->text_head,
                            p->text_layer, N_MELS, a->f16 ? 1 : 0};
    put_u32(o, GGML_MAGIC);
    for (int i = 0; i < 11; i++)
        put_i32(o, hp[i]);
    put_bytes(o, s->blob, s->blob_len);
    put_encoder(o, p, row);
    put_decoder(o, g, row);
}

/* Writes the model to a temporary file next to path and renames it into
 * place. Returns 0 or 1 after printing why. */
static int write_model(const struct args *a, const struct src *s, const struct design *g)
{
    size_t plen = strlen(a->out_path);
    char *tmp = malloc(plen + 16);
    float *row = malloc((size_t)(4 * a->preset->state) * sizeof *row);
    struct out o = {0};
    int fd = -1, rc = 1;
    if (!tmp || !row) {
        fprintf(stderr, "gen-random-model: out of memory\n");
        goto done;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", a->out_path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "gen-random-model: cannot create %s: %s\n", tmp, strerror(errno));
        goto done;
    }
    o.f = fdopen(fd, "wb");
    if (!o.f) {
        fprintf(stderr, "gen-random-model: %s: %s\n", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    o.path = a->out_path;
    o.seed = a->seed;
    o.f16 = a->f16;
    put_model(&o, a, s, g, row);
    if (!o.failed && (fflush(o.f) || fsync(fileno(o.f)))) {
        o.failed = 1;
        o.err = errno;
    }
    if (o.failed) {
        fprintf(stderr, "gen-random-model: writing %s failed: %s\n", tmp, strerror(o.err));
        fclose(o.f);
        unlink(tmp);
        goto done;
    }
    if (fclose(o.f)) {
        fprintf(stderr, "gen-random-model: closing %s: %s\n", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, a->out_path)) {
        fprintf(stderr, "gen-random-model: cannot rename %s to %s: %s\n", tmp,
                a->out_path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    free(row);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    struct src s;
    struct design g;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (src_read(a.vocab_path, &s))
        return 1;
    rc = src_check(&s, &a);
    if (!rc)
        rc = design_init(&g, &a, &s);
    if (!rc) {
        rc = write_model(&a, &s, &g);
        free(g.word);
    }
    src_release(&s);
    return rc;
}
