/* asr_format.h — transcription results in OpenAI's response formats.
 *
 * The batch endpoint (/v1/audio/transcriptions) and `hark transcribe` print
 * the same bytes for the same result: json {"text"}, text, srt, vtt, and
 * verbose_json (task, language, duration, text, segments[], words[] when
 * asked for). Times in verbose_json are seconds as numbers. */
#ifndef HARK_ASR_FORMAT_H
#define HARK_ASR_FORMAT_H
#include "hark/asr.h"
#include "hark/buf.h"
#include "hark/error.h"

enum asr_format { ASR_FORMAT_JSON, ASR_FORMAT_TEXT, ASR_FORMAT_SRT, ASR_FORMAT_VTT,
                  ASR_FORMAT_VERBOSE_JSON };

/* "json" → ASR_FORMAT_JSON, ...; HARK_EINVAL for anything else. */
HARK_MUST_CHECK int asr_format_parse(const char *name, enum asr_format *out);
/* The format's name as asr_format_parse() reads it (static string). */
const char *asr_format_name(enum asr_format f);
/* The MIME type the format is served as (static string). */
const char *asr_format_mime(enum asr_format f);

struct asr_format_opts {
    enum asr_format format;
    int translate;        /* verbose_json "task" */
    int words;            /* verbose_json: include words[] */
    int segments;         /* verbose_json: include segments[] (default 1) */
};

/* Appends r rendered as o->format to out. HARK_ENOMEM / HARK_ETOOBIG. */
HARK_MUST_CHECK int asr_format_render(const struct asr_result *r, const struct asr_format_opts *o,
                                      struct hbuf *out);

#endif
