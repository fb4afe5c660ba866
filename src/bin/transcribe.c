/* hark transcribe — offline transcription of files, or the same files fed
 * through the live streaming path (--stream), with the engine `hark serve`
 * uses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bin.h"
#include "hark/asr.h"
#include "hark/asr_format.h"
#include "hark/audio.h"
#include "hark/config.h"
#include "hark/mem.h"

struct transcribe_args {
    const char *format;
    const char *language;
    int translate;
    int stream;
    int fast;
    int beam;
    int step_ms;
};

static int transcribe_usage(void)
{
    fprintf(stderr,
            "usage: hark transcribe FILE... [--model PATH] [--language xx|auto]\n"
            "                      [--task transcribe|translate] [--beam N]\n"
            "                      [--format json|text|srt|vtt|verbose_json]\n"
            "                      [--stream [--fast] [--step-ms N]]\n");
    return 2;
}

/* Splits argv into files and this command's own options; everything else
 * (--model, --asr-threads, ...) went to settings_load() already. */
static int parse_args(struct config *c, int argc, char **argv, int argi,
                      struct transcribe_args *a, const char **files, int *n_files)
{
    *n_files = 0;
    for (int i = argi; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        char *end;
        int cfg = settings_flag(c, argc, argv, &i);
        if (cfg < 0)
            return -cfg;
        if (cfg)
            continue;
        if (!strcmp(argv[i], "--stream"))
            a->stream = 1;
        else if (!strcmp(argv[i], "--fast"))
            a->fast = 1;
        else if (!strcmp(argv[i], "--format") && v && ++i)
            a->format = v;
        else if (!strcmp(argv[i], "--language") && v && ++i)
            a->language = v;
        else if (!strcmp(argv[i], "--task") && v && ++i) {
            if (strcmp(v, "transcribe") && strcmp(v, "translate"))
                return transcribe_usage();
            a->translate = !strcmp(v, "translate");
        } else if ((!strcmp(argv[i], "--beam") || !strcmp(argv[i], "--step-ms")) && v) {
            errno = 0;
            n = strtoll(v, &end, 10);
            if (errno || *end || n < 1 || n > 60000)
                return transcribe_usage();
            if (argv[i][2] == 'b')
                a->beam = (int)n;
            else
                a->step_ms = (int)n;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1])
            return transcribe_usage();
        else
            files[(*n_files)++] = argv[i];
    }
    return *n_files ? 0 : transcribe_usage();
}

static int open_engine(const struct config *c, struct asr_engine **e)
{
    struct asr_config ac;
    if (settings_asr(c, &ac))
        return 2;
    ac.decoders = 1;
    if (ac.kind == ASR_KIND_WHISPER && !ac.model_path) {
        fprintf(stderr, "hark transcribe: no model: pass --model PATH or set model / HARK_MODEL "
                        "(docs/models.md)\n");
        return 2;
    }
    int rc = asr_engine_new(&ac, e);
    if (rc) {
        fprintf(stderr, "hark transcribe: cannot start the engine: %s\n", hark_strerror(rc));
        return 1;
    }
    return 0;
}

static int offline(struct asr_engine *e, const struct transcribe_args *a, const float *pcm,
                   size_t n, struct hbuf *out)
{
    struct asr_options o = asr_options_default();
    o.language = a->language;
    o.translate = a->translate;
    o.beam_size = a->beam;
    struct asr_result r;
    int rc = asr_transcribe(e, pcm, n, &o, &r);
    if (rc)
        return rc;
    struct asr_format_opts fo = {.translate = a->translate, .words = 1, .segments = 1};
    rc = asr_format_parse(a->format, &fo.format);
    if (!rc)
        rc = asr_format_render(&r, &fo, out);
    asr_result_release(&r);
    return rc;
}

static int one_file(struct asr_engine *e, const struct config *c,
                    const struct transcribe_args *a, const char *path)
{
    (void)c;
    struct audio_config ac = audio_config_default();
    struct audio_error err;
    float *pcm = NULL;
    size_t n = 0;
    int rc = audio_decode_file(path, &ac, &pcm, &n, &err);
    if (rc) {
        fprintf(stderr, "hark transcribe: %s: %s\n", path, err.message);
        return 1;
    }
    struct hbuf out;
    hbuf_init(&out, 0);
    rc = a->stream ? transcribe_stream(e, c, a->language, a->translate, a->fast, a->step_ms,
                                       pcm, n, &out)
                   : offline(e, a, pcm, n, &out);
    if (!rc)
        fwrite(out.data, 1, out.len, stdout);
    else
        fprintf(stderr, "hark transcribe: %s: %s\n", path, hark_strerror(rc));
    hbuf_release(&out);
    hark_free(pcm);
    return rc ? 1 : 0;
}

int cmd_transcribe(int argc, char **argv)
{
    struct config *c;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &c);
    if (rc)
        return rc;
    struct transcribe_args a = {.format = "json", .beam = 1, .step_ms = 1000};
    const char **files = hark_calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    rc = files ? parse_args(c, argc, argv, argi, &a, files, &n_files) : 1;
    enum asr_format f;
    if (!rc && asr_format_parse(a.format, &f)) {
        fprintf(stderr, "hark transcribe: unknown --format '%s'\n", a.format);
        rc = 2;
    }
    struct asr_engine *e = NULL;
    if (!rc)
        rc = open_engine(c, &e);
    for (int i = 0; !rc && i < n_files; i++)
        rc = one_file(e, c, &a, files[i]);
    asr_engine_free(e);
    hark_free(files);
    config_free(c);
    return rc;
}
