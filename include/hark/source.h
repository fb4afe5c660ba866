/* source.h — where a `hark bot` gets its meeting audio.
 *
 * A source hands out AUDIO_RATE Hz mono float32 samples in [-1, 1], chunk by
 * chunk, from one of:
 *   file:///abs/path            a local audio file (anything audio.h decodes)
 *   http://… or https://…       a file downloaded with libcurl (at most 5
 *                               redirects, http or https only; whether plain
 *                               http or a given host is acceptable is the
 *                               API's decision, not this module's)
 *   rtmp://IP:PORT/live/KEY     Hark LISTENS on IP:PORT and decodes what a
 *                               publisher (Zoom, Teams, OBS, ffmpeg) pushes to
 *                               app "live", stream KEY, through an ffmpeg
 *                               child process
 * File and http sources are decoded whole in source_open() (bounded by
 * max_download_bytes and max_samples) and then read out, optionally paced to
 * the wall clock. docs/sources.md describes every limit and message.
 *
 * RTMP and the stream key. ffmpeg's RTMP server accepts any publisher and
 * only logs a wrong application or stream name, so this module reads
 * ffmpeg's log and refuses a publisher whose app is not "live" or whose
 * stream name is not KEY: that ffmpeg is killed before a single sample of
 * its audio is handed out, and a fresh one listens again (200 ms later,
 * started by the next source_read(): keep calling it while waiting), so
 * a wrong or probing client neither ends the meeting nor gets heard. The
 * same happens to any publisher that fails before its audio starts (a port
 * scanner, a stream without audio). Only when connect_timeout_ms passes
 * without an accepted publisher does source_read() give up (HARK_ETIMEDOUT,
 * the message counts the refused ones). KEY is a secret: it never appears
 * in a log line or in source_error(); ffmpeg's lines are kept with KEY
 * replaced by "***".
 *
 * ffmpeg runs as `FFMPEG -nostdin -hide_banner -nostats -loglevel info
 * -listen 1 -timeout S -i rtmp://IP:PORT/live/KEY -vn -ac 1 -ar 16000
 * -f f32le pipe:1` with an empty environment, stdin on /dev/null, stdout
 * and stderr on non-blocking pipes, no other file descriptor, every signal
 * at its default action and unblocked, in the bot's own process group (so
 * the bot driver's group kill reaches it) and with PR_SET_PDEATHSIG(SIGKILL)
 * so it never outlives the bot. It is started with vfork()+execve() the way
 * src/bot/process.c starts bots (see bot.h for why not posix_spawn), which
 * is safe in a multi-threaded process.
 *
 * Thread safety: a source is used by one thread at a time, and that thread
 * must outlive it: PDEATHSIG fires when the *thread* that started ffmpeg
 * ends, and source_read() may restart ffmpeg. The bot's main thread is the
 * natural owner. Nothing here touches SIGCHLD or calls waitpid(-1, …). */
#ifndef HARK_SOURCE_H
#define HARK_SOURCE_H
#include <stddef.h>
#include "hark/error.h"

#define SOURCE_KEY_MAX 127  /* bytes of an RTMP stream key (ffmpeg's limit) */

struct source_config {
    const char *url;           /* borrowed for source_open() only; see above */
    int realtime;              /* file/http: hand out samples no faster than
                                  the wall clock (1 s of audio per second,
                                  counted from the first source_read()); 0 =
                                  as fast as read. rtmp is live by nature. */
    size_t max_download_bytes; /* http(s) body cap; default 512 MiB; a larger
                                  body is HARK_ETOOBIG */
    int connect_timeout_ms;    /* http: TCP/TLS connect; rtmp: how long to wait
                                  for an accepted publisher; default 60000 */
    const char *ffmpeg;        /* copied; the program's absolute path (no PATH
                                  search); default
                                  "/usr/bin/ffmpeg" */
    size_t max_samples;        /* longest file/http audio accepted (longer is
                                  HARK_ETOOBIG); default 4 h at 16 kHz */
};
struct source_config source_config_default(void);

struct source;                 /* opaque */

/* Opens the source. file/http: download and decode happen here, bounded by
 * the limits above (an http transfer that moves less than 1 KiB/s for 30 s
 * is also ended). rtmp: IP must be a literal IPv4 or [IPv6] address and KEY
 * 1..SOURCE_KEY_MAX bytes of [A-Za-z0-9._~-]; ffmpeg is started listening and
 * this returns at once: the publisher may connect later.
 * On success *out is freed by the caller with source_free(). On failure *out
 * is NULL and `why` (why_size bytes, may be NULL/0) holds a one-line human
 * message. Errors: HARK_EINVAL bad URL, scheme or config; HARK_ENOENT missing
 * file, HTTP 404, no ffmpeg program; HARK_EPERM ffmpeg not executable or
 * file not readable; HARK_EPARSE undecodable or empty audio; HARK_ETOOBIG
 * body or audio over its limit; HARK_ETIMEDOUT http connect timeout;
 * HARK_EIO anything else (other HTTP status >= 400, network errors);
 * HARK_ENOMEM. */
HARK_MUST_CHECK int source_open(const struct source_config *c, struct source **out,
                                char *why, size_t why_size);

/* Copies up to max (> 0) samples into buf and sets *n_out. Waits at most
 * timeout_ms (>= 0; plus a few ms) and returns:
 *   0              *n_out > 0 samples
 *   HARK_EAGAIN    nothing within timeout_ms (realtime pacing; rtmp publisher
 *                  not connected yet or slow): check for a stop request and
 *                  call again
 *   HARK_ECLOSED   the end: file/http all samples given; rtmp the publisher
 *                  disconnected and ffmpeg ended cleanly
 *   HARK_ETIMEDOUT rtmp: no publisher accepted within connect_timeout_ms
 *   HARK_EPERM     rtmp: the accepted publisher later named a wrong key/app
 *   HARK_EIO, HARK_ENOENT: source_error() says why (ffmpeg failed, or could
 *                  not be restarted after a refused publisher)
 *   HARK_EINVAL    bad arguments
 * A realtime file/http read waits until 100 ms of audio are due (or
 * timeout_ms passed) and hands out what is due by then. Every code but 0, HARK_EAGAIN
 * and HARK_EINVAL is final: later calls return it again. */
HARK_MUST_CHECK int source_read(struct source *s, float *buf, size_t max, size_t *n_out,
                                int timeout_ms);

/* The last error's one-line message, "" if none; owned by s, valid until
 * the next call on s. */
const char *source_error(const struct source *s);

/* The pid of the running ffmpeg (rtmp), or -1; for tests and logs. */
int source_child_pid(const struct source *s);

/* Ends ffmpeg if one runs (closes its pipes, SIGTERM, SIGKILL after 1 s),
 * reaps it and frees s. NULL is fine. */
void source_free(struct source *s);

#endif
