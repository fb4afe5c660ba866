/* multipart.h — multipart/form-data bodies (RFC 7578 over RFC 2046), as
 * sent to POST /v1/audio/transcriptions by curl -F, Python requests, httpx
 * (the OpenAI SDK) and browsers.
 *
 * A pure function over a complete body the HTTP layer has already bounded:
 * no allocation, no I/O. Part data points into the body; names, file names
 * and content types are copied into fixed fields, so a parsed form costs
 * exactly sizeof(struct multipart) and nothing can leak.
 *
 * What is accepted, and where it is stricter or looser than the RFCs:
 *  - Lines end in CRLF, nowhere bare CR or LF. A delimiter is recognised
 *    only as CRLF "--" boundary at the start of a line (or "--" boundary at
 *    the very start of the body), followed by optional spaces/tabs and CRLF,
 *    or by "--" for the close. The CRLF before the closing delimiter is NOT
 *    optional: curl, requests, httpx and browsers always send it, and
 *    tolerating its absence would make "--boundary--" inside file data end
 *    the body. A boundary string followed by anything else is file data.
 *  - Preamble (before the first delimiter) and epilogue (after the close)
 *    are ignored, whatever they hold. A body that is only the close
 *    delimiter is a valid form with no parts.
 *  - Part headers: names case-insensitive, at most MULTIPART_HEADERS_MAX
 *    bytes per part including the blank line, no control characters but
 *    HTAB, no obsolete line folding. Content-Disposition is required, must
 *    be form-data and have a name parameter; it and Content-Type may not
 *    repeat. Content-Transfer-Encoding (RFC 7578 4.7: senders do not send
 *    it) is refused unless it is 7bit, 8bit or binary, since we do not
 *    decode. Other headers are ignored.
 *  - Parameter names are case-insensitive; values are a token or a quoted
 *    string. In a quoted string only \" and \\ are escapes; any other
 *    backslash is literal, because HTML5-style clients (curl >= 7.81,
 *    requests, browsers) percent-encode '"' as %22 and send backslashes
 *    as they are ("C:\dir\a.wav"). %XX sequences are NOT decoded: they are
 *    what the client sent. filename* (RFC 5987; RFC 7578 4.2 says senders
 *    must not use it) is ignored, as is any unknown parameter.
 *  - name, filename and content_type must fit their fields (no silent
 *    truncation) and be valid UTF-8; otherwise the body is refused.
 *  - Nested multipart/mixed (RFC 2388's way of sending several files) is
 *    not unpacked: such a part is returned as data with its content type.
 *
 * Cost: linear in the body. The delimiter search only examines positions
 * holding CR and a boundary has no CR in it, so a comparison never runs past
 * the next candidate: a body made only of near-delimiters is still one pass. */
#ifndef HARK_MULTIPART_H
#define HARK_MULTIPART_H
#include <stddef.h>
#include "hark/error.h"

#define MULTIPART_MAX_PARTS 32      /* the endpoint has 7 fields; room for repeats */
#define MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 5.1.1 */
#define MULTIPART_HEADERS_MAX 8192  /* per part; real ones are under 200 bytes */

struct multipart_part {
    char name[64];            /* Content-Disposition: form-data; name="..." */
    char filename[256];       /* "" when none */
    char content_type[128];   /* whole header value, trimmed; "" when none */
    const char *data;         /* points into the body (borrowed); may hold NULs */
    size_t len;
};

struct multipart {
    struct multipart_part parts[MULTIPART_MAX_PARTS]; /* in body order */
    size_t n;
};

/* Copies the boundary parameter of a Content-Type header value (borrowed,
 * e.g. "multipart/form-data; boundary=----x" or boundary="a b") into out
 * (size bytes, NUL-terminated). Type, subtype and parameter names are
 * case-insensitive. HARK_EINVAL when the value is NULL, not
 * multipart/form-data, malformed, or has no boundary, a repeated one, or one
 * that is not 1..70 RFC 2046 bchars not ending in a space; HARK_ERANGE when
 * size is too small (MULTIPART_BOUNDARY_MAX + 1 always suffices). */
HARK_MUST_CHECK int multipart_boundary(const char *content_type, char *out, size_t size);

/* Parses body (len bytes, borrowed; must outlive *m, which points into it)
 * delimited by boundary (as multipart_boundary() gives it) into *m.
 * HARK_EPARSE for a malformed body — no first delimiter, no closing
 * delimiter, a part without a form-data name, headers over
 * MULTIPART_HEADERS_MAX, bad quoting, a field over its size — and
 * HARK_ETOOBIG for more than MULTIPART_MAX_PARTS parts; either way err
 * (errlen bytes, may be NULL; 160 is plenty) gets one sentence, naming the
 * part (1-based) where there is one and quoting nothing from the body, fit
 * to send back to the client, and m->n is 0. On success err is "".
 * HARK_EINVAL for an invalid boundary or NULL arguments (body may be NULL
 * when len is 0). */
HARK_MUST_CHECK int multipart_parse(const char *body, size_t len, const char *boundary,
                                    struct multipart *m, char *err, size_t errlen);

/* First part named `name` (exact, case-sensitive, as HTML forms are), or
 * NULL. The result points into *m. */
const struct multipart_part *multipart_get(const struct multipart *m, const char *name);

#endif
