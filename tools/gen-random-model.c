/* gen-random-model.c — writes a whisper.cpp (ggml) model file whose weights
 * are seeded pseudo-random numbers, shaped so that decoding still emits
 * ordinary text tokens in timestamped segments that end with the audio. It
 * lets benchmarks run real compute and end-to-end tests run the whole
 * transcription path on machines that cannot download OpenAI's weights.
 * The words it produces are gibberish.
 *
 * Usage:
 *   gen-random-model --preset NAME --vocab-from PATH --seed N --ftype f16|f32 -o OUT
 *     NAME  tiny, tiny.en, base, base.en, small, small.en: OpenAI's
 *           hyper-parameters (same tensor shapes, so the same compute);
 *           test: a small model (128 wide, 2 encoder and 3 decoder layers)
 *           that decodes a short file in well under a second on two cores.
 *     PATH  a ggml whisper model whose header, mel filters and vocabulary are
 *           copied (whisper.cpp's for-tests-ggml-tiny.en.bin for the .en
 *           presets, for-tests-ggml-tiny.bin for the others; test follows
 *           the vocabulary it is given). Its tensors, if any, are ignored.
 *     N     seed, 0 .. 2^64-1. The same arguments always give the same bytes.
 *   OUT is written under a temporary name in the same directory and renamed
 *   into place, so a reader never sees a partial file.
 *   Exit status: 0 written; 1 the input could not be read or parsed, or the
 *   output could not be written (nothing is left behind); 2 bad usage.
 *   f32 files are what whisper.cpp's loader expects, but whisper.cpp 1.9.1
 *   cannot run them on the CPU: its conv1d always builds an f16 im2col,
 *   which asserts an f16 kernel (whisper.cpp issue #2557). Use f16.
 *
 * File format (whisper.cpp's whisper_model_load, little-endian): magic
 * "ggml", eleven int32 hyper-parameters, the mel filter bank, the
 * vocabulary, then tensors as {int32 n_dims, name length, type (0 f32,
 * 1 f16); int32 ne[n_dims]; name; data}, ne[0] varying fastest. Matrices,
 * convolution kernels and the token embedding are f16 with --ftype f16;
 * positional embeddings, biases and norms are always f32.
 *
 * How the weights are shaped (docs/models.md, "Random-weight models", tells
 * it at length). Most of both networks is random: random embeddings and
 * random heads that read the audio pick WHICH word comes next. A few
 * reserved dimensions, which the random layers neither read nor write,
 * decide WHEN a timestamp or the end comes:
 *  - encoder: a constant "ballast" pair keeps every norm's scale fixed; a
 *    position ramp; an activity channel from mel-bin differences (whisper
 *    pads audio with frames whose mel bins are all equal, so padding reads
 *    exactly 0), turned into a 0/1 audio flag by the first MLP.
 *  - decoder layer 0: a head finds <|startoftranscript|> (SOT), marking the
 *    tokens after it; layer 1: a head counts them (its weight on SOT is
 *    16/(16+n)), language and task tokens excluded, and the MLP turns the
 *    count into a piecewise-linear clock (0.3 s per token) whose readout
 *    lifts the timestamps on a plateau just behind it; layer 2: a
 *    cross-attention head finds the last frame flagged as audio and the
 *    MLP compares it with the clock: past the end, a timestamp is forced,
 *    and right after it the end of text.
 *  - the output: one constant dimension carries per-token class biases:
 *    word-like tokens (optional space, ASCII letters) are ordinary text,
 *    timestamps compete with them, other tokens are never chosen.
 * Every decoder residual dimension has a negated twin, so each layer
 * norm's mean is exactly zero; in layers 0 and 1 a large ballast makes the
 * norms nearly linear so counting is exact. Layer 1 then cuts the ballast
 * down to the random part's size, so the final norm scales all logits
 * nearly together: the text logits' spread stays put and the gaps the
 * control paths open are wide enough to survive what remains.
 *
 * Standalone: libc and libm only, so it allocates with malloc and free. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

#define GGML_MAGIC 0x67676d6cu
#define N_AUDIO_CTX 1500
#define N_TEXT_CTX 448
#define N_MELS 80
#define N_VOCAB_EN 51864      /* whisper.cpp: multilingual iff n_vocab >= 51865 */
#define N_VOCAB_MULTI 51865
#define SRC_TEXT_TOKENS 50256 /* the vocabulary must name at least these */

/* Limits on the source file, so a corrupt one cannot make us allocate
 * without bound. */
#define SRC_MAX_MEL 512
#define SRC_MAX_FFT 4096
#define SRC_MAX_VOCAB 200000
#define SRC_MAX_TOKEN_BYTES 1024

/* --- the clock ----------------------------------------------------------
 * Knot j sits KNOT_TOKENS*j generated tokens after SOT and stands for
 * timestamp TS_PER_KNOT*j (a timestamp step is 20 ms). The last knot is
 * past 30 s: there the end of text wins. */
#define KNOT_TOKENS 4
#define TS_PER_TOKEN 15
#define KNOTS 27
#define TS_PER_KNOT (KNOT_TOKENS * TS_PER_TOKEN)

/* Logical decoder dimensions; dimension i + d/2 is always the negation of
 * dimension i. L_RND.. are the random part. */
enum {
    L_BAL,      /* ballast from the positional embedding; layer 1 cuts it to
                   the random part's size */
    L_CLS,      /* constant set by layer 1: class biases and unit offsets */
    L_SOT,      /* 1 on <|startoftranscript|> */
    L_INIT,     /* 1 on language, task and no-timestamps tokens */
    L_AFT,      /* layer 0: the token comes after SOT; layer 1 removes it */
    L_CNT,      /* layer 1: CNT_AMP*16/(16+n), n tokens counted since SOT;
                   removed by layer 1's MLP */
    L_F0,       /* layer 1: this is the first step */
    L_TSM,      /* 1 on timestamp tokens: "the last token was one" */
    L_AEND,     /* layer 2: where the audio ends, as a fraction of 30 s */
    L_PAST,     /* layer 2: the clock is past the end of the audio */
    L_ENDTS,    /* layer 2: past the end, and the last token a timestamp */
    L_CLK,      /* KNOTS dims: the clock's piecewise-linear basis */
    L_RND = L_CLK + KNOTS
};

/* Encoder channels. A ballast pair 10^4 times larger than everything else
 * fixes every norm's scale; the position and the audio flag have negated
 * twins so they leave the norms' means alone; the activity cannot have one
 * (it comes out of a GELU), so it is kept small, read against a channel
 * that is always 0 (norm(h) there is minus the mean), and removed again by
 * the MLP that reads it. Channels from E_RND are random; conv1's first
 * 2*N_DET channels are the activity detectors. */
enum { E_BAL, E_BAL2, E_ZERO, E_POS, E_POS2, E_FLAG, E_FLAG2, E_ACT, E_RND };
#define N_DET 16              /* mel bin pairs compared: DET_GAP apart, */
#define DET_GAP 2             /* the first at bin 0, then every DET_STEP */
#define DET_STEP 5
#define ENC_BALLAST 1.0e5
#define DET_GAIN 100.0        /* conv1 weight on a mel difference */
/* Activity is about 0.6 times the sum of the compared differences (0.025
 * is 1 dB): small, because until layer 0 removes it it shifts the norms'
 * mean, and bounded (a difference is at most about 2.5), so the flag's
 * pre-activation stays within f16 in the next matmul. */
#define ACT_WEIGHT 0.002      /* conv2 weight per detector and tap */
#define ACT_LOW 0.05          /* activity where the flag starts to rise */
#define ACT_RISE 0.05         /* ... and how much more makes it 1 */
#define ACT_FIRST 1.0         /* frame 0 always counts as audio */
#define POS_AMP 1000.0        /* the position ramp at frame 1500 */
#define FLAG_AMP 1000.0

/* Decoder control magnitudes in the residual. Small next to the random
 * part, so the final norm's scale hardly depends on them; all arithmetic
 * on them is relative, so f16 loses nothing by it. */
#define SOT_MARK 1.0
#define INIT_MARK 1.0
#define TSM_MARK 1.0
#define AFT_AMP 1.0
#define CNT_AMP 4.0           /* keeps layer 1's MLP slopes within f16 */
#define CLK_AMP 1.0
#define F0_AMP 1.0
#define CLS_AMP 1.0
#define AEND_AMP 1.0
#define PAST_AMP 1.0
#define ENDTS_AMP 1.0
#define SCORE_SOT 24.0        /* layer 0: SOT's attention score over others */
#define SCORE_PROMPT 16.0     /* layer 1: how far uncounted tokens sink */
/* Layer 1 scores SOT ln(COUNT_BETA) above the counted tokens, so its weight
 * is COUNT_BETA/(COUNT_BETA+n): nearly linear over the first tokens, where
 * 1/(1+n) would bend the clock, and still fine-grained at n = 100. */
#define COUNT_BETA 16.0
#define COUNT_LN_BETA 2.772588722239781
#define UNIT_RISE 24.0        /* layer 1 MLP: pre-activation across a knot */
#define RAMP 20.0             /* pre-activation across a 0..1 ramp (GELU is
                                 exact beyond +-10) */
/* Layer 2's head scores frame j as AEND_SLOPE*j, plus AEND_AUDIO if it is
 * audio, so it settles on the last audio frame, AEND_LAG frames early on
 * average (1/(e^0.25 - 1)). */
#define AEND_SLOPE 0.25
#define AEND_AUDIO (AEND_SLOPE * N_AUDIO_CTX + 30.0)
#define AEND_LAG 3.52
#define PAST_AHEAD 10.0       /* timestamp steps past the end: "past" */
#define PAST_RISE 15.0

/* Logit shaping, in logits; a word-like token's class bias is 0. The final
 * norm scales everything but the text logits' spread by a factor that
 * varies from token to token (0.7 .. 1.3 in the test preset), so each
 * choice below holds with margin over that range. */
#define TEXT_SPREAD 10.0      /* std of the random part of text logits */
#define TS_NOISE 0.6          /* timestamps' random part, relative */
#define TS_CLASS (-19.0)      /* timestamps' class bias, before the clock */
#define CLOCK_GAIN 40.0       /* added to timestamps on the clock's plateau */
#define PLATEAU_TS 90         /* plateau: this many steps up to the knot's */
#define SLOPE_TS 30           /* ... falling to nothing over this many more */
#define PLATEAU_TILT 0.1      /* the plateau's back is this much lower */
/* Every BEAT_KNOTS-th knot lifts timestamps BEAT_GAIN more, so whatever
 * the seed a segment closes at least every BEAT_KNOTS*KNOT_TOKENS tokens
 * (3.6 s); between beats, segments end at random. */
#define BEAT_KNOTS 3
#define BEAT_GAIN 20.0
#define NEVER (-60.0)         /* tokens that must not be chosen */
#define EOT_GAIN 200.0        /* end of text, past the last knot */
#define FIRST_GAIN 120.0      /* <|0.00|>, on the first step */
/* Past the end of the audio a timestamp beats words and the end of text,
 * so the segment closes. Right after a timestamp, timestamps sink and the
 * end of text sits between them and the words: it ends the text after a
 * closing timestamp (where whisper allows no word) but not after an
 * opening one (where it allows no timestamp), so the text always ends
 * "word <|t|> <|endoftext|>". Without timestamps the end of text beats
 * words. */
#define PAST_TS 120.0         /* every timestamp, past the end */
#define PAST_EOT 180.0        /* end of text, past the end */
#define ENDTS_TS (-240.0)     /* every timestamp, past the end after one */
#define ENDTS_EOT (-140.0)    /* end of text, past the end after a timestamp */
#define BIAS_RANGE 64.0       /* |class bias| stays below this */
#define EMB_STD 0.05          /* random part of token embeddings */
/* What is said steers which words come: the random cross-attention heads
 * look at few frames (queries CROSS_SHARP times the usual scale) and add
 * CROSS_GAIN times the others' share to the random dims. */
#define CROSS_SHARP 3.0
#define CROSS_GAIN 4.0
#define RND_VAR 3.0           /* expected variance of a random residual dim */
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

/* One MLP unit that computes a control value: pre-activation
 * sum(w[i] * norm(h)[i]) + bias over the control dims (decoder) or
 * channels (encoder). */
#define MAX_UNITS (KNOTS + 4)
_Static_assert((int)E_RND <= (int)L_RND, "encoder control channels must fit a unit");
struct unit {
    double w[L_RND];
    double bias;
};

/* The control part of one MLP: its units (the first rows of mlp.0) and
 * how their outputs add to the control dims (mlp.2), plus mlp.2's bias. */
struct mlp_ctl {
    int n;
    struct unit u[MAX_UNITS];
    double out[L_RND][MAX_UNITS];
    double out_bias[L_RND];
};

/* Everything the weights are derived from. */
struct design {
    const struct preset *p;
    int d, h, n_head, hd;
    int n_vocab, eot, sot, beg, n_langs, translate, transcribe, no_ts;
    int n_rnd;                /* random logical dims of the decoder */
    int n_rnd_enc;            /* random channels of the encoder */
    double ballast;
    double ballast_fin;       /* what layer 1 leaves of it */
    double s_nom;             /* the norms' scale in decoder layers 0 and 1 */
    double s_fin;             /* ... after layer 1 */
    double s_enc;             /* ... in the encoder */
    double g_text;
    struct mlp_ctl clock;     /* decoder layer 1 */
    struct mlp_ctl past;      /* decoder layer 2 */
    struct mlp_ctl flag;      /* encoder layer 0 */
    unsigned char *word;      /* owned; 1 if token i is word-like text */
};

struct out {
    FILE *f;
    uint64_t seed;
    int f16;
    int failed;
    int err;                  /* errno of the failure */
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

/* A stream per (tensor, row), so any row can be regenerated on its own
 * (the decoder's twin rows need that). */
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

/* IEEE binary16 bits of f, rounded to nearest even; |f| < 65504. */
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
        if (!(fabsf(row[i]) < (f16 ? 65504.0f : 1e30f))) {
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

static void put_vec(struct out *o, const char *name, int32_t n, const float *v)
{
    const int32_t ne[1] = {n};
    put_header(o, name, 1, ne, 0);
    put_row(o, v, (size_t)n, 0);
}

static void put_const(struct out *o, const char *name, int32_t n, float fill, float *row)
{
    for (int32_t i = 0; i < n; i++)
        row[i] = fill;
    put_vec(o, name, n, row);
}

/* Row r of a projection reading channels [from, to) of its input at random
 * with standard deviation std; the rest 0. */
static void row_random(const struct out *o, const char *name, int64_t r, int n,
                       int from, int to, double std, float *row)
{
    uint64_t s = row_rng(o, name, r);
    for (int c = 0; c < n; c++)
        row[c] = c >= from && c < to ? (float)(std * rng_normal(&s)) : 0.0f;
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

/* Appends n bytes read from f to the blob. */
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
    fclose(f);
    return 0;
bad:
    if (ferror(f))
        why = strerror(errno);
    fprintf(stderr, "gen-random-model: %s: %s\n", path, why);
    fclose(f);
    src_release(s);
    return 1;
}

/* Checks the source fits the preset. Returns 0 or EXIT_USAGE. */
static int src_check(const struct src *s, const struct args *a)
{
    const char *path = a->vocab_path;
    int en = s->n_vocab == N_VOCAB_EN;
    if (s->n_vocab != N_VOCAB_EN && s->n_vocab != N_VOCAB_MULTI) {
        fprintf(stderr, "gen-random-model: %s: n_vocab %d is neither an English-only (%d) nor a multilingual (%d) whisper vocabulary\n",
                path, s->n_vocab, N_VOCAB_EN, N_VOCAB_MULTI);
        return EXIT_USAGE;
    }
    if (a->preset->english >= 0 && a->preset->english != en) {
        fprintf(stderr, "gen-random-model: %s holds %s vocabulary but preset %s needs %s one (for-tests-ggml-tiny%s.bin)\n",
                path, en ? "an English-only" : "a multilingual", a->preset->name,
                en ? "a multilingual" : "an English-only", en ? "" : ".en");
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

/* --- the design -------------------------------------------------------- */

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

/* The count signal after n counted tokens, as layer 1 writes it. */
static double cnt_at(double n)
{
    return CNT_AMP * COUNT_BETA / (COUNT_BETA + n);
}

/* Adds a ReLU-like unit (GELU is exact beyond +-10) that is 0 until the
 * count reaches knot n and rises UNIT_RISE by next_n. It reads the count
 * against the ballast, so the knot does not move with the norm's scale.
 * Returns its index. */
static int clock_unit(struct mlp_ctl *m, const struct design *g, double n, double next_n)
{
    struct unit *u = &m->u[m->n];
    double slope = UNIT_RISE / (cnt_at(n) - cnt_at(next_n));
    u->w[L_CNT] = -slope;
    u->w[L_BAL] = slope * cnt_at(n) / g->ballast;
    return m->n++;
}

/* Adds beta * relu(cnt_at(knot) - cnt) to control dim `dim` (amplitude
 * amp), in terms of unit k's output. */
static void clock_term(struct mlp_ctl *m, int dim, int k, double beta, double amp)
{
    m->out[dim][k] += amp * beta / -m->u[k].w[L_CNT];
}

/* Layer 1's MLP (KNOTS + 4 units): the clock's basis phi_j (1 at knot j,
 * falling linearly in the count signal to 0 at its neighbours; phi_0 is 1
 * before the first knot and the last one 1 after the last) and the
 * first-step indicator. It also removes what has done its work: the
 * after-SOT flag, most of the ballast and the count (at up to CNT_AMP it
 * would weigh on the final norm; x = GELU(x) - GELU(-x) takes it out),
 * and sets the constant L_CLS. */
static void design_clock(struct design *g)
{
    struct mlp_ctl *m = &g->clock;
    double gap[KNOTS];
    int f;
    for (int j = 0; j < KNOTS; j++) {
        double n = KNOT_TOKENS * j;
        clock_unit(m, g, n, n + KNOT_TOKENS);
        gap[j] = cnt_at(n) - cnt_at(n + KNOT_TOKENS);
    }
    m->out_bias[L_CLK] = CLK_AMP;
    clock_term(m, L_CLK, 0, -1.0 / gap[0], CLK_AMP);
    clock_term(m, L_CLK, 1, 1.0 / gap[0], CLK_AMP);
    for (int j = 1; j < KNOTS - 1; j++) {
        clock_term(m, L_CLK + j, j - 1, 1.0 / gap[j - 1], CLK_AMP);
        clock_term(m, L_CLK + j, j, -1.0 / gap[j - 1] - 1.0 / gap[j], CLK_AMP);
        clock_term(m, L_CLK + j, j + 1, 1.0 / gap[j], CLK_AMP);
    }
    clock_term(m, L_CLK + KNOTS - 1, KNOTS - 2, 1.0 / gap[KNOTS - 2], CLK_AMP);
    clock_term(m, L_CLK + KNOTS - 1, KNOTS - 1, -1.0 / gap[KNOTS - 2], CLK_AMP);

    /* First step: 1 at n = 0, 0 from n = 1 on. */
    m->out_bias[L_F0] = F0_AMP;
    f = clock_unit(m, g, 0, 1);
    clock_term(m, L_F0, f, -1.0 / (cnt_at(0) - cnt_at(1)), F0_AMP);
    f = clock_unit(m, g, 1, 2);
    clock_term(m, L_F0, f, 1.0 / (cnt_at(0) - cnt_at(1)), F0_AMP);

    for (int k = 0; k < 2; k++) {
        f = m->n++;
        m->u[f].w[L_CNT] = k ? -1 : 1;
        m->out[L_CNT][f] = k ? 1 : -1;
    }
    m->out_bias[L_BAL] = g->ballast_fin - g->ballast;
    m->out_bias[L_AFT] = -AFT_AMP;
    m->out_bias[L_CLS] = CLS_AMP;
}

/* Layer 2's MLP. With x the clock in timestamp steps (read off its basis)
 * and e where the audio ends, PAST rises from 0 to 1 as x - e goes through
 * PAST_AHEAD - PAST_RISE .. PAST_AHEAD, and ENDTS does the same when the
 * last token was a timestamp. Each is relu(p) - relu(p - RAMP) over RAMP;
 * constants come from L_CLS so they scale with the norm like the rest. */
static void design_past(struct design *g)
{
    struct mlp_ctl *m = &g->past;
    double c = RAMP / PAST_RISE;
    double off = AEND_LAG + PAST_AHEAD - PAST_RISE;
    double gate = c * (KNOTS * TS_PER_KNOT + N_AUDIO_CTX) + 2 * RAMP;
    for (int k = 0; k < 4; k++) {
        struct unit *u = &m->u[k];
        for (int j = 0; j < KNOTS; j++)
            u->w[L_CLK + j] = c * TS_PER_KNOT * j / CLK_AMP;
        u->w[L_AEND] = -c * N_AUDIO_CTX / AEND_AMP;
        u->w[L_CLS] = (-c * off - (k & 1 ? RAMP : 0)) / CLS_AMP;
        if (k >= 2) {
            u->w[L_TSM] = gate / TSM_MARK;
            u->w[L_CLS] -= gate / CLS_AMP;
        }
        m->out[k < 2 ? L_PAST : L_ENDTS][k] = (k & 1 ? -1 : 1) *
            (k < 2 ? PAST_AMP : ENDTS_AMP) / RAMP;
    }
    m->n = 4;
}

/* Encoder layer 0's MLP: the audio flag, 0 for activity below ACT_LOW and
 * FLAG_AMP above ACT_LOW + ACT_RISE; and the activity removed, as
 * x = GELU(x) - GELU(-x). */
static void design_flag(struct design *g)
{
    struct mlp_ctl *m = &g->flag;
    double c = RAMP / ACT_RISE;
    for (int k = 0; k < 2; k++) {
        m->u[k].w[E_ACT] = c;
        m->u[k].w[E_ZERO] = -c;
        m->u[k].bias = -c * ACT_LOW - (k ? RAMP : 0);
        m->out[E_FLAG][k] = (k ? -1 : 1) * FLAG_AMP / RAMP;
        m->out[E_FLAG2][k] = -m->out[E_FLAG][k];
        m->u[2 + k].w[E_ACT] = k ? -1 : 1;
        m->u[2 + k].w[E_ZERO] = -m->u[2 + k].w[E_ACT];
        m->out[E_ACT][2 + k] = k ? 1 : -1;
    }
    m->n = 4;
}

static int design_init(struct design *g, const struct preset *p, const struct src *s)
{
    double sum_sq;
    memset(g, 0, sizeof *g);
    g->p = p;
    g->d = p->state;
    g->h = p->state / 2;
    g->n_head = p->text_head;
    g->hd = p->state / p->text_head;
    g->n_vocab = s->n_vocab;
    if (s->n_vocab == N_VOCAB_MULTI) {
        g->eot = 50257;
        g->sot = 50258;
        g->translate = 50358;
        g->transcribe = 50359;
        g->no_ts = 50363;
        g->beg = 50364;
    } else {
        g->eot = 50256;
        g->sot = 50257;
        g->translate = 50357;
        g->transcribe = 50358;
        g->no_ts = 50362;
        g->beg = 50363;
    }
    g->n_langs = g->n_vocab - 51765 - (s->n_vocab == N_VOCAB_MULTI);
    g->n_rnd = g->h - L_RND;
    g->n_rnd_enc = g->d - E_RND;

    /* Ballast: 100 times the expected energy of everything else, so the
     * norms' scale in layers 0 and 1 moves by well under 1% from token to
     * token. Layer 1 leaves as much as the random part's expected energy:
     * the random part's norm varies (by ~20% in the test preset), and this
     * halves what that does to the final norm's scale. */
    sum_sq = g->n_rnd * RND_VAR + AFT_AMP * AFT_AMP + CNT_AMP * CNT_AMP +
             CLK_AMP * CLK_AMP + F0_AMP * F0_AMP + CLS_AMP * CLS_AMP;
    g->ballast = 10.0 * sqrt(sum_sq);
    g->ballast_fin = sqrt(g->n_rnd * RND_VAR);
    g->s_nom = sqrt(2.0 * (g->ballast * g->ballast + sum_sq) / g->d);
    g->s_fin = sqrt(2.0 * (g->ballast_fin * g->ballast_fin + sum_sq) / g->d);
    g->s_enc = sqrt(2.0 / g->d) * ENC_BALLAST;
    /* decoder.ln's weight on the random dims: text logits then spread with
     * std TEXT_SPREAD (the factor 2 is the twin's share). */
    g->g_text = g->s_fin * TEXT_SPREAD /
                (2.0 * EMB_STD * sqrt(RND_VAR) * sqrt((double)g->n_rnd));
    design_clock(g);
    design_past(g);
    design_flag(g);

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

/* Language, task and no-timestamps tokens: not counted by the clock. */
static int is_init(const struct design *g, int t)
{
    return (t > g->sot && t <= g->sot + g->n_langs) || t == g->translate ||
           t == g->transcribe || t == g->no_ts;
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

/* Physical row o of a residual-writing tensor: its logical row and sign. */
static int logical(const struct design *g, int o, double *sign)
{
    *sign = o < g->h ? 1.0 : -1.0;
    return o < g->h ? o : o - g->h;
}

/* --- encoder ----------------------------------------------------------- */

static void put_enc_position(struct out *o, const struct design *g, float *row)
{
    const char *name = "encoder.positional_embedding";
    const int32_t ne[2] = {g->d, N_AUDIO_CTX};
    put_header(o, name, 2, ne, 0);
    for (int j = 0; j < N_AUDIO_CTX; j++) {
        row_random(o, name, j, g->d, E_RND, g->d, 1.0, row);
        row[E_BAL] = (float)ENC_BALLAST;
        row[E_BAL2] = (float)-ENC_BALLAST;
        row[E_POS] = (float)(POS_AMP * j / N_AUDIO_CTX);
        row[E_POS2] = -row[E_POS];
        row[E_ACT] = j == 0 ? (float)ACT_FIRST : 0.0f;
        put_row(o, row, (size_t)g->d, 0);
    }
}

/* conv1: 2*N_DET detectors, each +-DET_GAIN times the difference of two
 * mel bins at the centre tap (they read exactly 0 on the flat frames
 * whisper pads with, and on none of a real recording's: its quietest bins
 * sit at whisper's floor 80 dB under the loudest, but not all of them);
 * the other channels random. */
static void put_conv1(struct out *o, const struct design *g, float *row)
{
    const char *name = "encoder.conv1.weight";
    const int32_t ne[3] = {3, N_MELS, g->d};
    double std = 1.0 / sqrt(3.0 * N_MELS);
    put_header(o, name, 3, ne, o->f16);
    for (int c = 0; c < g->d; c++) {
        for (int b = 0; b < N_MELS; b++) {
            if (c < 2 * N_DET) {
                int bin = DET_STEP * (c / 2);
                double sign = c % 2 ? -1.0 : 1.0;
                row[0] = row[2] = 0;
                row[1] = b == bin ? (float)(sign * DET_GAIN)
                       : b == bin + DET_GAP ? (float)(-sign * DET_GAIN) : 0.0f;
            } else {
                row_random(o, name, (int64_t)c * N_MELS + b, 3, 0, 3, std, row);
            }
            put_row(o, row, 3, o->f16);
        }
    }
}

/* conv2: the activity channel sums the detectors over all taps; random
 * channels read the random conv1 channels; the other control channels
 * stay 0 (GELU(0) = 0). */
static void put_conv2(struct out *o, const struct design *g, float *row)
{
    const char *name = "encoder.conv2.weight";
    const int32_t ne[3] = {3, g->d, g->d};
    double std = 1.0 / sqrt(3.0 * (g->d - 2 * N_DET));
    put_header(o, name, 3, ne, o->f16);
    for (int c = 0; c < g->d; c++) {
        for (int i = 0; i < g->d; i++) {
            if (c >= E_RND && i >= 2 * N_DET)
                row_random(o, name, (int64_t)c * g->d + i, 3, 0, 3, std, row);
            else
                row[0] = row[1] = row[2] = c == E_ACT && i < 2 * N_DET ? (float)ACT_WEIGHT : 0.0f;
            put_row(o, row, 3, o->f16);
        }
    }
}

/* A norm that is the identity up to its scale on every channel but the
 * ballast. */
static void put_enc_norm(struct out *o, const struct design *g, const char *wname,
                         const char *bname, float *row)
{
    for (int c = 0; c < g->d; c++)
        row[c] = c == E_BAL || c == E_BAL2 ? 0.0f : (float)g->s_enc;
    put_vec(o, wname, g->d, row);
    put_const(o, bname, g->d, 0.0f, row);
}

/* A residual-reading projection of the encoder: random over the random
 * channels. */
static void put_enc_read(struct out *o, const struct design *g, const char *name,
                         int32_t outs, float *row)
{
    const int32_t ne[2] = {g->d, outs};
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < outs; r++) {
        row_random(o, name, r, g->d, E_RND, g->d, 1.0 / sqrt((double)g->n_rnd_enc), row);
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

/* A residual-writing projection of the encoder: random rows for the random
 * channels over inputs [first, n_in); control rows 0, except those ctl
 * (if given) writes. */
static void put_enc_write(struct out *o, const struct design *g, const char *name,
                          int32_t n_in, int first, const struct mlp_ctl *ctl,
                          double gain, float *row)
{
    const int32_t ne[2] = {n_in, g->d};
    put_header(o, name, 2, ne, o->f16);
    for (int c = 0; c < g->d; c++) {
        if (c >= E_RND) {
            row_random(o, name, c, n_in, first, n_in, gain / sqrt((double)(n_in - first)), row);
        } else {
            memset(row, 0, (size_t)n_in * sizeof *row);
            for (int k = 0; ctl && k < ctl->n; k++)
                row[k] = (float)ctl->out[c][k];
        }
        put_row(o, row, (size_t)n_in, o->f16);
    }
}

static void put_encoder(struct out *o, const struct design *g, float *row)
{
    char name[96], bname[96];
    int32_t d = g->d;
    double gain = 1.0 / sqrt(2.0 * g->p->audio_layer);
    put_enc_position(o, g, row);
    put_conv1(o, g, row);
    {
        const int32_t nb[2] = {1, d};
        put_header(o, "encoder.conv1.bias", 2, nb, 0);
        memset(row, 0, (size_t)d * sizeof *row);
        put_row(o, row, (size_t)d, 0);
    }
    put_conv2(o, g, row);
    {
        const int32_t nb[2] = {1, d};
        put_header(o, "encoder.conv2.bias", 2, nb, 0);
        put_row(o, row, (size_t)d, 0);
    }
    put_enc_norm(o, g, "encoder.ln_post.weight", "encoder.ln_post.bias", row);
    for (int l = 0; l < g->p->audio_layer; l++) {
        const struct mlp_ctl *ctl = l == 0 ? &g->flag : NULL;
        int first = ctl ? ctl->n : 0;
#define EN(buf, what) (snprintf(buf, sizeof buf, "encoder.blocks.%d." what, l), buf)
        put_enc_norm(o, g, EN(name, "mlp_ln.weight"), EN(bname, "mlp_ln.bias"), row);
        {
            const int32_t ne[2] = {d, 4 * d};
            const char *n0 = EN(name, "mlp.0.weight");
            put_header(o, n0, 2, ne, o->f16);
            for (int r = 0; r < 4 * d; r++) {
                if (r < first) {
                    memset(row, 0, (size_t)d * sizeof *row);
                    for (int c = 0; c < E_RND; c++)
                        row[c] = (float)ctl->u[r].w[c];
                } else {
                    row_random(o, n0, r, d, E_RND, d, 1.0 / sqrt((double)g->n_rnd_enc), row);
                }
                put_row(o, row, (size_t)d, o->f16);
            }
            for (int r = 0; r < 4 * d; r++)
                row[r] = r < first ? (float)ctl->u[r].bias : 0.0f;
            put_vec(o, EN(name, "mlp.0.bias"), 4 * d, row);
        }
        put_enc_write(o, g, EN(name, "mlp.2.weight"), 4 * d, first, ctl, gain, row);
        put_const(o, EN(name, "mlp.2.bias"), d, 0.0f, row);
        put_enc_norm(o, g, EN(name, "attn_ln.weight"), EN(bname, "attn_ln.bias"), row);
        put_enc_read(o, g, EN(name, "attn.query.weight"), d, row);
        put_const(o, EN(name, "attn.query.bias"), d, 0.0f, row);
        put_enc_read(o, g, EN(name, "attn.key.weight"), d, row);
        put_enc_read(o, g, EN(name, "attn.value.weight"), d, row);
        put_const(o, EN(name, "attn.value.bias"), d, 0.0f, row);
        put_enc_write(o, g, EN(name, "attn.out.weight"), d, 0, NULL, gain, row);
        put_const(o, EN(name, "attn.out.bias"), d, 0.0f, row);
#undef EN
    }
}

/* --- decoder ----------------------------------------------------------- */

static void row_embedding(const struct design *g, struct out *o, int t, float *row)
{
    uint64_t s = row_rng(o, "decoder.token_embedding.weight", t);
    double std = EMB_STD;
    memset(row, 0, (size_t)g->h * sizeof *row);
    if (t >= g->beg) {
        for (int j = 0; j < KNOTS; j++) {
            double beat = j > 0 && j % BEAT_KNOTS == 0 ? BEAT_GAIN / CLOCK_GAIN : 0;
            row[L_CLK + j] = (float)(READ_EPS * (1 + beat) * lift(j, t - g->beg));
        }
        row[L_F0] = t == g->beg ? (float)READ_EPS : 0.0f;
        row[L_PAST] = (float)READ_EPS;
        row[L_ENDTS] = (float)(READ_EPS * ENDTS_TS / -ENDTS_TS);
        row[L_TSM] = (float)TSM_MARK;
        std *= TS_NOISE;
    } else if (t == g->eot) {
        row[L_CLK + KNOTS - 1] = (float)(READ_EPS * EOT_GAIN / CLOCK_GAIN);
        row[L_PAST] = (float)(READ_EPS * PAST_EOT / PAST_TS);
        row[L_ENDTS] = (float)(READ_EPS * ENDTS_EOT / -ENDTS_TS);
        std = 0;
    } else if (t >= g->eot) {
        /* Special tokens: no random part, so their class biases alone decide
         * (<|en|> wins language detection by exactly NEVER), and SOT's own
         * norm does not depend on the seed. */
        std = 0;
        if (t == g->sot)
            row[L_SOT] = (float)SOT_MARK;
        if (is_init(g, t))
            row[L_INIT] = (float)INIT_MARK;
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
        row_random(o, name, p, g->h, L_RND, g->h, 1.0, row);
        row[L_BAL] = (float)g->ballast;
        for (int i = 0; i < g->h; i++)
            row[i + g->h] = -row[i];
        put_row(o, row, (size_t)g->d, 0);
    }
}

/* decoder.ln: the random dims give the text logits their spread; each
 * control dim a token's embedding reads is scaled so that READ_EPS in the
 * embedding is worth the gain named in its comment. */
static void put_dec_final_norm(struct out *o, const struct design *g, float *row)
{
    for (int i = 0; i < g->h; i++) {
        double w = 0;
        if (i >= L_RND)
            w = g->g_text;
        else if (i >= L_CLK)
            w = g->s_fin / CLK_AMP * (CLOCK_GAIN / 2) / READ_EPS;
        else if (i == L_F0)
            w = g->s_fin / F0_AMP * (FIRST_GAIN / 2) / READ_EPS;
        else if (i == L_PAST)
            w = g->s_fin / PAST_AMP * (PAST_TS / 2) / READ_EPS;
        else if (i == L_ENDTS)
            w = g->s_fin / ENDTS_AMP * (-ENDTS_TS / 2) / READ_EPS;
        else if (i == L_CLS)
            w = g->s_fin / CLS_AMP * (BIAS_RANGE / 2) / READ_EPS;
        row[i] = row[i + g->h] = (float)w;
    }
    put_vec(o, "decoder.ln.weight", g->d, row);
    put_const(o, "decoder.ln.bias", g->d, 0.0f, row);
}

/* Which head is the control head of a layer's self-attention (layers 0,
 * 1) or cross-attention (layer 2); -1 if all its heads are random. */
static int control_head(const struct design *g, int layer, int cross)
{
    return (cross ? layer == 2 : layer < 2) ? g->n_head - 1 : -1;
}

enum proj { PROJ_Q, PROJ_K, PROJ_V };

/* The control slot (the control head's first) of a q/k/v row:
 *  layer 0 self: every token after SOT finds SOT (score SCORE_SOT) and
 *    copies its mark;
 *  layer 1 self: tokens after SOT score 0, SOT itself ln(COUNT_BETA),
 *    those before it or marked INIT -SCORE_PROMPT; the value is SOT's
 *    mark again, so the output is SOT_MARK*COUNT_BETA/(COUNT_BETA+n);
 *  layer 2 cross: frame j scores AEND_SLOPE*j + AEND_AUDIO*flag; the value
 *    is the frame's position as a fraction of 30 s. */
static void control_slot(const struct design *g, int l, int cross, enum proj which, float *row)
{
    double rs = sqrt((double)g->hd);
    if (cross && which == PROJ_K) {
        row[E_POS] = (float)(AEND_SLOPE * N_AUDIO_CTX / POS_AMP * rs);
        row[E_FLAG] = (float)(AEND_AUDIO / FLAG_AMP * rs);
    } else if (cross && which == PROJ_V) {
        row[E_POS] = (float)(1.0 / POS_AMP);
    } else if (which == PROJ_K && l == 0) {
        row[L_SOT] = (float)(SCORE_SOT * rs / SOT_MARK);
    } else if (which == PROJ_K) {
        double cb = SCORE_PROMPT * rs / g->ballast;
        row[L_AFT] = (float)(cb * g->ballast / AFT_AMP);
        row[L_BAL] = (float)-cb;
        row[L_INIT] = (float)(-SCORE_PROMPT * rs / INIT_MARK);
        row[L_SOT] = (float)(COUNT_LN_BETA * rs / SOT_MARK);
    } else if (which == PROJ_V) {
        row[L_SOT] = 1.0f;
    }
}

/* Attention q/k/v of decoder layer l. Self-attention and cross queries
 * read the decoder's random dims; cross keys and values the encoder's
 * random channels; the control head only its control slot. */
static void put_attn_proj(struct out *o, const struct design *g, int l, int cross,
                          enum proj which, const char *name, float *row)
{
    const int32_t ne[2] = {g->d, g->d};
    int hc = control_head(g, l, cross), base = hc * g->hd;
    int enc = cross && which != PROJ_Q;
    int from = enc ? E_RND : L_RND, to = enc ? g->d : g->h;
    double std = (cross && which == PROJ_Q ? CROSS_SHARP : 1.0) / sqrt((double)(to - from));
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < g->d; r++) {
        if (hc < 0 || r < base) {
            row_random(o, name, r, g->d, from, to, std, row);
        } else {
            memset(row, 0, (size_t)g->d * sizeof *row);
            if (r == base)
                control_slot(g, l, cross, which, row);
        }
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

static void put_query_bias(struct out *o, const struct design *g, int l, int cross,
                           const char *name, float *row)
{
    int hc = control_head(g, l, cross);
    memset(row, 0, (size_t)g->d * sizeof *row);
    if (hc >= 0)
        row[hc * g->hd] = 1.0f;
    put_vec(o, name, g->d, row);
}

/* An attention output projection: random logical rows read the random
 * heads' slots; the control slot writes L_AFT (layer 0), L_CNT (layer 1)
 * or L_AEND (layer 2, cross). Twin rows are negated. */
static void put_out_proj(struct out *o, const struct design *g, int l, int cross,
                         const char *name, double gain, float *row)
{
    const int32_t ne[2] = {g->d, g->d};
    int hc = control_head(g, l, cross);
    int n_in = hc < 0 ? g->d : hc * g->hd;
    int target = cross ? L_AEND : l == 0 ? L_AFT : L_CNT;
    double amp = cross ? AEND_AMP : l == 0 ? AFT_AMP / SOT_MARK : CNT_AMP / SOT_MARK;
    put_header(o, name, 2, ne, o->f16);
    for (int r = 0; r < g->d; r++) {
        double sign;
        int i = logical(g, r, &sign);
        uint64_t s = row_rng(o, name, i);
        double std = gain / sqrt((double)n_in);
        memset(row, 0, (size_t)g->d * sizeof *row);
        if (i >= L_RND) {
            for (int c = 0; c < n_in; c++)
                row[c] = (float)(sign * std * rng_normal(&s));
        } else if (hc >= 0 && i == target) {
            row[hc * g->hd] = (float)(sign * amp);
        }
        put_row(o, row, (size_t)g->d, o->f16);
    }
}

static const struct mlp_ctl *dec_mlp_ctl(const struct design *g, int l)
{
    return l == 1 ? &g->clock : l == 2 ? &g->past : NULL;
}

static void put_dec_mlp(struct out *o, const struct design *g, int l, char *name,
                        size_t cap, double gain, float *row)
{
    const struct mlp_ctl *ctl = dec_mlp_ctl(g, l);
    int d = g->d, first = ctl ? ctl->n : 0;
    {
        const int32_t ne[2] = {d, 4 * d};
        snprintf(name, cap, "decoder.blocks.%d.mlp.0.weight", l);
        put_header(o, name, 2, ne, o->f16);
        for (int r = 0; r < 4 * d; r++) {
            if (r < first) {
                memset(row, 0, (size_t)d * sizeof *row);
                for (int c = 0; c < L_RND; c++)
                    row[c] = (float)ctl->u[r].w[c];
            } else {
                row_random(o, name, r, d, L_RND, g->h, 1.0 / sqrt((double)g->n_rnd), row);
            }
            put_row(o, row, (size_t)d, o->f16);
        }
        for (int r = 0; r < 4 * d; r++)
            row[r] = r < first ? (float)ctl->u[r].bias : 0.0f;
        snprintf(name, cap, "decoder.blocks.%d.mlp.0.bias", l);
        put_vec(o, name, 4 * d, row);
    }
    {
        const int32_t ne[2] = {4 * d, d};
        double std = gain / sqrt((double)(4 * d - first));
        snprintf(name, cap, "decoder.blocks.%d.mlp.2.weight", l);
        put_header(o, name, 2, ne, o->f16);
        for (int r = 0; r < d; r++) {
            double sign;
            int i = logical(g, r, &sign);
            uint64_t s = row_rng(o, name, i);
            memset(row, 0, (size_t)(4 * d) * sizeof *row);
            if (i >= L_RND) {
                for (int c = first; c < 4 * d; c++)
                    row[c] = (float)(sign * std * rng_normal(&s));
            } else {
                for (int k = 0; k < first; k++)
                    row[k] = (float)(sign * ctl->out[i][k]);
            }
            put_row(o, row, (size_t)(4 * d), o->f16);
        }
        for (int i = 0; i < g->h; i++) {
            row[i] = ctl && i < L_RND ? (float)ctl->out_bias[i] : 0.0f;
            row[i + g->h] = -row[i];
        }
        snprintf(name, cap, "decoder.blocks.%d.mlp.2.bias", l);
        put_vec(o, name, d, row);
    }
}

static void put_decoder(struct out *o, const struct design *g, float *row)
{
    char name[96];
    int32_t d = g->d;
    /* Each sublayer adds about 1/(3 layers) of variance to the random dims,
     * so they stay near RND_VAR whatever the depth. */
    double gain = 1.0 / sqrt(3.0 * g->p->text_layer);
    put_dec_position(o, g, row);
    put_embedding(o, g, row);
    put_dec_final_norm(o, g, row);
    for (int l = 0; l < g->p->text_layer; l++) {
#define DN(what) (snprintf(name, sizeof name, "decoder.blocks.%d." what, l), name)
        /* Every norm inside the decoder is the identity up to its (nearly
         * constant) scale. */
        float s = (float)(l < 2 ? g->s_nom : g->s_fin);
        put_const(o, DN("mlp_ln.weight"), d, s, row);
        put_const(o, DN("mlp_ln.bias"), d, 0.0f, row);
        put_dec_mlp(o, g, l, name, sizeof name, gain, row);
        put_const(o, DN("attn_ln.weight"), d, s, row);
        put_const(o, DN("attn_ln.bias"), d, 0.0f, row);
        put_attn_proj(o, g, l, 0, PROJ_Q, DN("attn.query.weight"), row);
        put_query_bias(o, g, l, 0, DN("attn.query.bias"), row);
        put_attn_proj(o, g, l, 0, PROJ_K, DN("attn.key.weight"), row);
        put_attn_proj(o, g, l, 0, PROJ_V, DN("attn.value.weight"), row);
        put_const(o, DN("attn.value.bias"), d, 0.0f, row);
        put_out_proj(o, g, l, 0, DN("attn.out.weight"), gain, row);
        put_const(o, DN("attn.out.bias"), d, 0.0f, row);
        put_const(o, DN("cross_attn_ln.weight"), d, s, row);
        put_const(o, DN("cross_attn_ln.bias"), d, 0.0f, row);
        put_attn_proj(o, g, l, 1, PROJ_Q, DN("cross_attn.query.weight"), row);
        put_query_bias(o, g, l, 1, DN("cross_attn.query.bias"), row);
        put_attn_proj(o, g, l, 1, PROJ_K, DN("cross_attn.key.weight"), row);
        put_attn_proj(o, g, l, 1, PROJ_V, DN("cross_attn.value.weight"), row);
        put_const(o, DN("cross_attn.value.bias"), d, 0.0f, row);
        put_out_proj(o, g, l, 1, DN("cross_attn.out.weight"), gain * CROSS_GAIN, row);
        put_const(o, DN("cross_attn.out.bias"), d, 0.0f, row);
#undef DN
    }
}

/* --- the file ---------------------------------------------------------- */

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
    put_encoder(o, g, row);
    put_decoder(o, g, row);
}

/* Writes the model to a temporary file next to the output and renames it
 * into place. Returns 0 or 1 after printing why. */
static int write_model(const struct args *a, const struct src *s, const struct design *g)
{
    size_t plen = strlen(a->out_path);
    char *tmp = malloc(plen + 16);
    float *row = malloc((size_t)(4 * a->preset->state) * sizeof *row);
    struct out o = {0};
    int fd, rc = 1;
    if (!tmp || !row) {
        fprintf(stderr, "gen-random-model: out of memory\n");
        goto done;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", a->out_path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "gen-random-model: cannot write %s: %s\n", a->out_path, strerror(errno));
        goto done;
    }
    {
        /* mkstemp made it 0600; a model is as readable as any new file. */
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(fd, 0666 & ~mask)) {
            fprintf(stderr, "gen-random-model: cannot write %s: %s\n", a->out_path, strerror(errno));
            close(fd);
            unlink(tmp);
            goto done;
        }
    }
    o.f = fdopen(fd, "wb");
    if (!o.f) {
        fprintf(stderr, "gen-random-model: cannot write %s: %s\n", a->out_path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    o.seed = a->seed;
    o.f16 = a->f16;
    put_model(&o, a, s, g, row);
    if (!o.failed && (fflush(o.f) || fsync(fileno(o.f)))) {
        o.failed = 1;
        o.err = errno;
    }
    if (fclose(o.f) && !o.failed) {
        o.failed = 1;
        o.err = errno;
    }
    if (o.failed) {
        fprintf(stderr, "gen-random-model: writing %s failed: %s\n", a->out_path, strerror(o.err));
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
    struct design g = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (src_read(a.vocab_path, &s))
        return 1;
    rc = src_check(&s, &a);
    if (!rc)
        rc = design_init(&g, a.preset, &s);
    if (!rc)
        rc = write_model(&a, &s, &g);
    free(g.word);
    if (!rc && !a.f16)
        fprintf(stderr, "gen-random-model: note: whisper.cpp 1.9.1 cannot run f32 models on the CPU (whisper.cpp issue #2557)\n");
    src_release(&s);
    return rc;
}
