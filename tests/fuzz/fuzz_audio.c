/* fuzz_audio — the audio decoders on arbitrary bytes.
 *
 * Byte 0 picks the path. Even: the rest is a file for audio_decode_memory()
 * (libsndfile's parsers, then mixing and resampling). Odd: raw PCM for
 * audio_decode_raw(), bit 1 choosing f32le over s16le, bytes 1-3 the rate
 * (24-bit little-endian, so absurd rates are reachable), byte 4 the channel
 * count, the rest the samples.
 *
 * Beyond "no crash, no leak" it checks the module's promises: success means
 * at least one sample, every sample finite and in [-1, 1], no more than the
 * limit allows; failure means a documented code, a message and no output;
 * 16 kHz mono s16 raw input comes out exactly as x / 32768. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/audio.h"
#include "hark/mem.h"

#define MAX_SECONDS 30.0

static void check(int rc, float *x, size_t n, const struct audio_error *err)
{
    if (rc != 0) {
        if (rc != HARK_EPARSE && rc != HARK_EINVAL && rc != HARK_ETOOBIG)
            abort();
        if (x || n || !err->message[0] || !memchr(err->message, '\0', sizeof err->message))
            abort();
        return;
    }
    if (!x || n == 0 || (double)n > MAX_SECONDS * AUDIO_RATE + 16)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= -1.0f && x[i] <= 1.0f))
            abort();
}

/* libsndfile 1.2.0 leaks libvorbis' codec setup (about 6 KB) when an Ogg
 * Vorbis header packet is malformed: it calls vorbis_info_init() and returns
 * the error without vorbis_info_clear(). Not ours to fix; reported so it does
 * not hide leaks that are. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:vorbis_info_init\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct audio_config c = audio_config_default();
    c.max_seconds = MAX_SECONDS;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    err.message[0] = '\0';
    if (!(data[0] & 1)) {
        int rc = audio_decode_memory(data + 1, size - 1, &c, &x, &n, &err);
        check(rc, x, n, &err);
        hark_free(x);
        return 0;
    }
    if (size < 5)
        return 0;
    enum audio_pcm fmt = data[0] & 2 ? AUDIO_PCM_F32LE : AUDIO_PCM_S16LE;
    int rate = data[1] | data[2] << 8 | data[3] << 16;
    int channels = data[4];
    const uint8_t *pcm = data + 5;
    size_t len = size - 5;
    int rc = audio_decode_raw(pcm, len, fmt, rate, channels, &c, &x, &n, &err);
    check(rc, x, n, &err);
    if (rc == 0 && fmt == AUDIO_PCM_S16LE && rate == AUDIO_RATE && channels == 1) {
        if (n != len / 2)
            abort();
        for (size_t i = 0; i < n; i++)
            if (x[i] != (float)(int16_t)(pcm[2 * i] | pcm[2 * i + 1] << 8) / 32768.0f)
                abort();
    }
    hark_free(x);
    return 0;
}
