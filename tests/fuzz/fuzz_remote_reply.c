/* The remote engine's reply parser: what an OpenAI-compatible server sends
 * back (verbose_json) is bytes from a peer. Checks the result's invariants:
 * times inside the audio, words inside the result, NUL-terminated text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/asr/asr_private.h"
#include "hark/buf.h"
#include "hark/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        log_fd_set(-1); /* parse errors are logged; the fuzzer needs no output */
    struct hbuf body;
    hbuf_init(&body, 1 << 20);
    if (hbuf_append(&body, data, size)) {
        hbuf_release(&body);
        return 0;
    }
    struct asr_options o = asr_options_default();
    struct asr_result r;
    memset(&r, 0, sizeof r);
    size_t n_samples = 16000 * 11;
    if (asr_remote_parse_reply(&body, &o, n_samples, &r) == 0) {
        for (size_t i = 0; i < r.n_segs; i++) {
            if (!r.segs[i].text || strlen(r.segs[i].text) > size + 1)
                abort();
            for (size_t k = 0; k < r.segs[i].n_words; k++)
                if (!memchr(r.segs[i].words[k].text, '\0', sizeof r.segs[i].words[k].text))
                    abort();
        }
        if (!memchr(r.language, '\0', sizeof r.language))
            abort();
    }
    asr_result_release(&r);
    hbuf_release(&body);
    return 0;
}
