/* recording.h — a meeting's audio as an Ogg/Opus file.
 *
 * A recording takes AUDIO_RATE (16 kHz) mono float32 samples, in chunks of
 * any size, and writes one Ogg/Opus stream (RFC 7845) that any Opus player,
 * ffmpeg or libsndfile plays back with the exact length that went in: the
 * OpusHead carries the encoder's pre-skip and the last page's granule
 * position trims the zero padding of the last frame. The encoder is tuned
 * for speech (OPUS_APPLICATION_VOIP) and, fed 16 kHz, codes the full
 * 8 kHz bandwidth the transcription engine heard.
 *
 * Crash safety: samples go to `<path>.tmp`; recording_close() fsyncs it and
 * renames it to `path`, so `path` either does not exist or holds a complete
 * file. A crash may leave a `.tmp` behind; the next recording_open() of the
 * same path truncates it. Pages are written once per second of audio, so a
 * player can seek to the second.
 *
 * Output is reproducible: the same samples and config give the same bytes
 * whatever the chunk sizes (the Ogg serial number is a constant; a file
 * holds one logical stream).
 *
 * Cost: at the defaults, about 30 s of one core per hour of audio (some
 * 120 times real time; complexity 5 halves it) and 11 MB per hour of audio.
 * Memory: about 52 KB (mostly the libopus encoder) plus at most a second of
 * encoded audio.
 *
 * Thread safety: one recording is used by one thread at a time. */
#ifndef HARK_RECORDING_H
#define HARK_RECORDING_H
#include <stddef.h>
#include "hark/error.h"

struct recording;  /* opaque */

struct recording_config {
    /* Target bit rate (VBR), 6000..510000 bit/s; default 24000, where
     * wideband speech stays clear enough to re-check a transcript. */
    int bitrate_bps;
    /* libopus complexity 0..10; default 10, libopus's own default. CPU
     * grows with it; the size hardly changes at a fixed bit rate. */
    int complexity;
    /* Opus frame length: 10, 20, 40 or 60 ms; default 20. Longer frames
     * save a little overhead at low bit rates; shorter ones gain nothing
     * for a file. */
    int frame_ms;
};
struct recording_config recording_config_default(void);

/* Starts a recording that will end up at `path` (borrowed; copied). `c` is
 * borrowed and may be NULL for recording_config_default(). Writes the Ogg
 * headers to `<path>.tmp` (mode 0600, truncated if it exists). On success
 * *out is owned by the caller and ended by recording_close() or
 * recording_abort(); on error *out is NULL and no file is left behind.
 * Errors: HARK_EINVAL NULL arguments; HARK_ECONFIG a config value out of
 * range; HARK_EIO the temp file cannot be created or written (errno is
 * logged); HARK_ENOMEM. */
HARK_MUST_CHECK int recording_open(const char *path, const struct recording_config *c,
                                   struct recording **out);

/* Appends n samples (borrowed) at AUDIO_RATE; n may be 0 and any chunk size
 * works. Samples beyond [-1, 1] are kept (decoders clip them); NaN and
 * infinities become silence. Errors: HARK_EINVAL pcm NULL with n > 0;
 * HARK_EIO the file cannot be written; HARK_ENOMEM. Errors are sticky:
 * every later write and recording_close() return the same code. */
HARK_MUST_CHECK int recording_write(struct recording *r, const float *pcm, size_t n);

/* Encodes the buffered tail, writes the last page (end of stream), fsyncs
 * and renames `<path>.tmp` to `path` (replacing it), then fsyncs the
 * directory. Always frees r. On error the temp file is removed and `path`
 * is left as it was. Errors: a sticky error from recording_write();
 * HARK_EIO; HARK_ENOMEM. */
HARK_MUST_CHECK int recording_close(struct recording *r);

/* Frees r and removes its temp file; `path` is left as it was. NULL is
 * fine. */
void recording_abort(struct recording *r);

/* open + one write + close: writes n samples (borrowed) to `path`. Errors
 * as for those three; on error no file is created or changed. */
HARK_MUST_CHECK int recording_encode_file(const float *pcm, size_t n, const char *path,
                                          const struct recording_config *c);

#endif
