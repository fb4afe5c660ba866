#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hark/error.h"
#include "hark/mem.h"
#include "hark/multipart.h"

/* A string literal and its length, NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

/* A 52-byte 16 kHz mono WAV whose samples are 0, 0x0a0d, 0x2d2d, 0: its
 * data holds NULs and "\r\n--", the start of a delimiter. */
#define TINY_WAV                                                                \
    "RIFF,\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}" \
    "\x00\x00\x02\x00\x10\x00" "data\x08\x00\x00\x00\x00\x00\r\n--\x00\x00"

/* Byte for byte what curl 7.88 sent for
 *   curl -F file=@tiny.wav -F model=whisper-1 -F language=en
 *        -F 'prompt=hello "world"' -F temperature=0.2
 *        -F response_format=verbose_json
 *        -F 'timestamp_granularities[]=word'
 *        -F 'timestamp_granularities[]=segment'
 * with Content-Type: multipart/form-data; boundary=<CURL_B>. */
#define CURL_B "------------------------c71df80a1534fd90"
static const char curl_body[] =
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"tiny.wav\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    TINY_WAV "\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper-1\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"language\"\r\n"
    "\r\n"
    "en\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"prompt\"\r\n"
    "\r\n"
    "hello \"world\"\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"temperature\"\r\n"
    "\r\n"
    "0.2\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"response_format\"\r\n"
    "\r\n"
    "verbose_json\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
    "\r\n"
    "word\r\n"
    "--" CURL_B "\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
    "\r\n"
    "segment\r\n"
    "--" CURL_B "--\r\n";

/* Byte for byte what Python requests 2.34 sent for
 *   requests.post(url, files={"file": ("tiny.wav", f, "audio/wav")},
 *                 data={"model": "whisper-1",
 *                       "timestamp_granularities[]": ["word", "segment"]})
 * fields first, file last, a bare hex boundary. */
#define REQ_B "bf1b895fc971bc66dd3d0735629e1727"
static const char requests_body[] =
    "--" REQ_B "\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper-1\r\n"
    "--" REQ_B "\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
    "\r\n"
    "word\r\n"
    "--" REQ_B "\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
    "\r\n"
    "segment\r\n"
    "--" REQ_B "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"tiny.wav\"\r\n"
    "Content-Type: audio/wav\r\n"
    "\r\n"
    TINY_WAV "\r\n"
    "--" REQ_B "--\r\n";

/* Short bodies below use boundary "B" and these pieces. */
#define D "--B\r\n"
#define CD(name) "Content-Disposition: form-data; name=\"" name "\"\r\n"
#define END "\r\n--B--\r\n"

static char err[160];

static int parse(const char *body, size_t len, struct multipart *m)
{
    memset(err, 0, sizeof err);
    return multipart_parse(body, len, "B", m, err, sizeof err);
}

static void assert_part(const struct multipart_part *p, const char *name, const char *filename,
                        const char *ctype, const char *data, size_t len)
{
    assert_non_null(p);
    assert_string_equal(p->name, name);
    assert_string_equal(p->filename, filename);
    assert_string_equal(p->content_type, ctype);
    assert_int_equal(p->len, len);
    if (len)
        assert_memory_equal(p->data, data, len);
}

/* Asserts a parse error of the given code with a one-line reason. */
static void assert_refused(const char *body, size_t len, int code)
{
    struct multipart m;
    m.n = 7;
    int rc = parse(body, len, &m);
    if (rc != code)
        fail_msg("expected %s, got %s (%s) for body \"%.*s\"", hark_errname(code),
                 hark_errname(rc), err, (int)len, body);
    assert_int_equal(m.n, 0);
    assert_true(strlen(err) > 10);
    assert_null(strchr(err, '\n'));
}

static void curl_form_with_every_endpoint_field_parses_byte_for_byte(void **state)
{
    (void)state;
    struct multipart m;
    char b[MULTIPART_BOUNDARY_MAX + 1];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=" CURL_B, b, sizeof b), 0);
    assert_string_equal(b, CURL_B);
    assert_int_equal(multipart_parse(LIT(curl_body), b, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 8);
    assert_part(&m.parts[0], "file", "tiny.wav", "application/octet-stream", LIT(TINY_WAV));
    assert_part(&m.parts[1], "model", "", "", LIT("whisper-1"));
    assert_part(&m.parts[2], "language", "", "", LIT("en"));
    assert_part(&m.parts[3], "prompt", "", "", LIT("hello \"world\""));
    assert_part(&m.parts[4], "temperature", "", "", LIT("0.2"));
    assert_part(&m.parts[5], "response_format", "", "", LIT("verbose_json"));
    assert_part(&m.parts[6], "timestamp_granularities[]", "", "", LIT("word"));
    assert_part(&m.parts[7], "timestamp_granularities[]", "", "", LIT("segment"));
    assert_ptr_equal(m.parts[0].data, curl_body + strlen("--" CURL_B "\r\n") +
                                          strlen(CD("file")) + strlen("; filename=\"tiny.wav\"") +
                                          strlen("Content-Type: application/octet-stream\r\n\r\n"));
}

static void requests_form_with_file_last_parses(void **state)
{
    (void)state;
    struct multipart m;
    char b[MULTIPART_BOUNDARY_MAX + 1];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=" REQ_B, b, sizeof b), 0);
    assert_int_equal(multipart_parse(LIT(requests_body), b, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 4);
    assert_part(&m.parts[0], "model", "", "", LIT("whisper-1"));
    assert_part(&m.parts[1], "timestamp_granularities[]", "", "", LIT("word"));
    assert_part(&m.parts[2], "timestamp_granularities[]", "", "", LIT("segment"));
    assert_part(&m.parts[3], "file", "tiny.wav", "audio/wav", LIT(TINY_WAV));
    assert_ptr_equal(multipart_get(&m, "file"), &m.parts[3]);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (set HARK_TEST_DATA)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *p = hark_malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The framing curl -F file=@jfk.wav -F model=whisper-1 put around the real
 * 352078-byte file (captured with --trace-ascii). */
static void jfk_wav_in_curl_framing_comes_back_byte_for_byte(void **state)
{
    (void)state;
    static const char head[] = "--" CURL_B "\r\n"
                               "Content-Disposition: form-data; name=\"file\"; "
                               "filename=\"jfk.wav\"\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n";
    static const char tail[] = "\r\n--" CURL_B "\r\n" CD("model") "\r\nwhisper-1\r\n"
                               "--" CURL_B "--\r\n";
    char path[512];
    const char *dir = getenv("HARK_TEST_DATA");
    snprintf(path, sizeof path, "%s/jfk.wav", dir ? dir : "/work/shared/data");
    size_t n;
    unsigned char *wav = slurp(path, &n);
    assert_non_null(memchr(wav, 0, n));
    size_t len = sizeof head - 1 + n + sizeof tail - 1;
    char *body = hark_malloc(len);
    assert_non_null(body);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1, wav, n);
    memcpy(body + sizeof head - 1 + n, tail, sizeof tail - 1);
    struct multipart m;
    assert_int_equal(multipart_parse(body, len, CURL_B, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 2);
    assert_part(&m.parts[0], "file", "jfk.wav", "application/octet-stream", (char *)wav, n);
    assert_part(&m.parts[1], "model", "", "", LIT("whisper-1"));
    hark_free(body);
    hark_free(wav);
}

static void empty_file_part_has_zero_length_data(void **state)
{
    (void)state;
    /* curl -F file=@empty.wav -F model=whisper-1 */
    static const char body[] =
        D "Content-Disposition: form-data; name=\"file\"; filename=\"empty.wav\"\r\n"
          "Content-Type: application/octet-stream\r\n"
          "\r\n"
          "\r\n" D CD("model") "\r\nwhisper-1" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 2);
    assert_part(&m.parts[0], "file", "empty.wav", "application/octet-stream", "", 0);
    assert_non_null(m.parts[0].data);
    assert_part(&m.parts[1], "model", "", "", LIT("whisper-1"));
}

static void preamble_and_epilogue_are_ignored(void **state)
{
    (void)state;
    static const char body[] = "This is a preamble.\r\n--B is not here\r\n--BB\r\n"
                               "\r\n" D CD("model") "\r\nwhisper-1" END
                               "epilogue\r\n--B\r\n" CD("late") "\r\nx" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 1);
    assert_part(&m.parts[0], "model", "", "", LIT("whisper-1"));
}

/* Near-delimiters: only CRLF "--B" followed by padding and CRLF, or by
 * "--", is a delimiter. Data may even start with "--B\r\n": the CRLF before
 * it ends the headers and is not part of a delimiter (RFC 2046 grammar). */
#define TRICKY_DATA                                                     \
    "--B\r\nx--B--\r\nB\r\n\r\n-B\r\n\r\n--BB\r\n\r\n--B-\r\n\r\n--Bx--\r\n"  \
    "\r\n--B \tz\r\n\n--B\r\n\r--B--\r\n\r\n-\r\n--\x00" "B\r\n\r\n--B\nx\r\n--B\rx\r\n"    \
    "--B -\r\n--B\t--\r\n\r\nx--B"

static void boundary_inside_data_without_crlf_dash_dash_does_not_split(void **state)
{
    (void)state;
    static const char body[] = D CD("file") "\r\n" TRICKY_DATA END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 1);
    assert_part(&m.parts[0], "file", "", "", LIT(TRICKY_DATA));
}

static void delimiters_may_carry_transport_padding(void **state)
{
    (void)state;
    static const char body[] = "--B \t\r\n" CD("a") "\r\n1\r\n--B  \r\n" CD("b") "\r\n2"
                               "\r\n--B--  \t\r\n";
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 2);
    assert_part(&m.parts[0], "a", "", "", LIT("1"));
    assert_part(&m.parts[1], "b", "", "", LIT("2"));
}

static void nul_bytes_in_data_are_kept(void **state)
{
    (void)state;
    static const char body[] = D CD("file") "\r\n\x00\x00\r\n--\x00--B\x00\r\n\x00" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 1);
    assert_part(&m.parts[0], "file", "", "", LIT("\x00\x00\r\n--\x00--B\x00\r\n\x00"));
}

static void repeated_names_keep_body_order_and_get_returns_the_first(void **state)
{
    (void)state;
    static const char body[] = D CD("t") "\r\nword\r\n" D CD("x") "\r\n\r\n" D CD("t")
                               "\r\nsegment" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 3);
    assert_ptr_equal(multipart_get(&m, "t"), &m.parts[0]);
    assert_part(&m.parts[2], "t", "", "", LIT("segment"));
    assert_part(multipart_get(&m, "x"), "x", "", "", "", 0);
    assert_null(multipart_get(&m, "T"));
    assert_null(multipart_get(&m, "missing"));
    assert_null(multipart_get(NULL, "t"));
}

static void body_that_is_only_the_close_delimiter_has_no_parts(void **state)
{
    (void)state;
    struct multipart m;
    assert_int_equal(parse(LIT("--B--\r\n"), &m), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(parse(LIT("preamble\r\n--B--"), &m), 0);
    assert_int_equal(m.n, 0);
}

static void missing_closing_delimiter_is_a_parse_error(void **state)
{
    (void)state;
    assert_refused(LIT(D CD("file") "\r\nRIFF"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\r\n"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\r\n--B"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\r\n--B-"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\r\n--B\r\n"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\r\n--B\r\n" CD("x") "\r\n"), HARK_EPARSE);
    assert_refused(LIT(D CD("file")), HARK_EPARSE);
    assert_refused(LIT(D), HARK_EPARSE);
    assert_true(strstr(err, "part 1") != NULL);
}

/* Decided: the CRLF before the close is required (see multipart.h); every
 * client we know sends it, and without it "--B--" in data would end it. */
static void close_delimiter_without_its_crlf_is_refused(void **state)
{
    (void)state;
    assert_refused(LIT(D CD("file") "\r\nRIFF--B--\r\n"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\nRIFF\n--B--\r\n"), HARK_EPARSE);
    assert_refused(LIT(D CD("file") "\r\n--B--\r\n"), HARK_EPARSE);
}

static void lf_only_line_endings_are_refused(void **state)
{
    (void)state;
    assert_refused(LIT("--B\nContent-Disposition: form-data; name=\"a\"\n\nx\n--B--\n"),
                   HARK_EPARSE);
    assert_non_null(strstr(err, "CRLF"));
    assert_refused(LIT("--B\r\nContent-Disposition: form-data; name=\"a\"\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT("--B\r\nContent-Disposition: form-data; name=\"a\"\r\r\nx" END),
                   HARK_EPARSE);
}

static void garbage_and_empty_bodies_are_parse_errors(void **state)
{
    (void)state;
    struct multipart m;
    assert_refused(LIT(""), HARK_EPARSE);
    assert_refused(LIT("garbage"), HARK_EPARSE);
    assert_refused(LIT("{\"model\": \"whisper-1\"}"), HARK_EPARSE);
    assert_refused(LIT("--A\r\n" CD("a") "\r\nx\r\n--A--\r\n"), HARK_EPARSE);
    assert_refused(LIT("--BB\r\n" CD("a") "\r\nx\r\n--BB--\r\n"), HARK_EPARSE);
    assert_refused(LIT("\x00\x01\x02\xff\r\n--"), HARK_EPARSE);
    assert_int_equal(multipart_parse(NULL, 0, "B", &m, err, sizeof err), HARK_EPARSE);
}

static void invalid_arguments_are_einval(void **state)
{
    (void)state;
    struct multipart m;
    static const char body[] = D CD("a") "\r\nx" END;
    assert_int_equal(multipart_parse(LIT(body), "", &m, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body), "B ", &m, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body), "B\r\n", &m, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body),
                                     "12345678901234567890123456789012345678901234567890"
                                     "123456789012345678901",
                                     &m, err, sizeof err),
                     HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body), NULL, &m, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body), "B", NULL, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(NULL, 5, "B", &m, err, sizeof err), HARK_EINVAL);
    assert_int_equal(multipart_parse(LIT(body), "B", &m, NULL, 0), 0);
}

static void more_than_32_parts_is_too_big(void **state)
{
    (void)state;
    char body[4096];
    size_t len = 0;
    struct multipart m;
    for (int i = 0; i < MULTIPART_MAX_PARTS; i++)
        len += (size_t)snprintf(body + len, sizeof body - len, D CD("p%d") "\r\n%d\r\n", i, i);
    size_t len32 = len;
    len += (size_t)snprintf(body + len, sizeof body - len, "--B--\r\n");
    assert_int_equal(parse(body, len, &m), 0);
    assert_int_equal(m.n, MULTIPART_MAX_PARTS);
    assert_part(&m.parts[31], "p31", "", "", LIT("31"));

    len = len32 + (size_t)snprintf(body + len32, sizeof body - len32, D CD("p32") "\r\nx" END);
    assert_refused(body, len, HARK_ETOOBIG);
    assert_true(strstr(err, "32") != NULL);
}

/* Builds a part whose header block (from after the delimiter line through
 * the blank line) is exactly `size` bytes, padded with an X-Pad header. */
static size_t body_with_header_block(char *body, size_t cap, size_t size)
{
    static const char cd[] = CD("a");
    static const char pad_name[] = "X-Pad: ";
    size_t fixed = sizeof cd - 1 + sizeof pad_name - 1 + 2 + 2;
    assert_true(size > fixed && cap > size + 64);
    size_t len = (size_t)snprintf(body, cap, "%s%s%s", D, cd, pad_name);
    memset(body + len, 'p', size - fixed);
    len += size - fixed;
    len += (size_t)snprintf(body + len, cap - len, "\r\n\r\nx" END);
    return len;
}

static void part_headers_over_8_KiB_are_refused(void **state)
{
    (void)state;
    static char body[MULTIPART_HEADERS_MAX + 256];
    struct multipart m;
    size_t len = body_with_header_block(body, sizeof body, MULTIPART_HEADERS_MAX);
    assert_int_equal(parse(body, len, &m), 0);
    assert_part(&m.parts[0], "a", "", "", LIT("x"));

    len = body_with_header_block(body, sizeof body, MULTIPART_HEADERS_MAX + 1);
    assert_refused(body, len, HARK_EPARSE);
    assert_true(strstr(err, "8192") != NULL);
}

static void part_without_form_data_name_is_refused(void **state)
{
    (void)state;
    assert_refused(LIT(D "\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D "Content-Type: text/plain\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data; filename=\"a.wav\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: attachment; name=\"a\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-datax; name=\"a\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: ; name=\"a\"\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("ok") "\r\n1\r\n" D "\r\nx" END), HARK_EPARSE);
    assert_true(strstr(err, "part 2") != NULL);
}

static void bad_quoting_and_parameter_syntax_are_refused(void **state)
{
    (void)state;
    static const char *const dispositions[] = {
        "form-data; name=\"a",           /* unterminated */
        "form-data; name=\"a\\\"",       /* the last quote is escaped */
        "form-data; name=\"a\"b",        /* junk after the quotes */
        "form-data; name=\"a\" \"b\"",
        "form-data; name=",              /* no value */
        "form-data; name= ; filename=\"x\"",
        "form-data; name",               /* no '=' */
        "form-data; =\"a\"",             /* no parameter name */
        "form-data name=\"a\"",          /* no ';' */
        "form-data; na me=\"a\"",
    };
    for (size_t i = 0; i < sizeof dispositions / sizeof *dispositions; i++) {
        char body[256];
        int len = snprintf(body, sizeof body, D "Content-Disposition: %s\r\n\r\nx" END,
                           dispositions[i]);
        assert_refused(body, (size_t)len, HARK_EPARSE);
    }
}

static void quoted_strings_undo_only_quote_and_backslash_escapes(void **state)
{
    (void)state;
    /* Go's and old curl's \" escapes; curl >= 7.81's and requests' %22 and
     * raw backslashes, which stay as they are. */
    static const char body[] =
        D "Content-Disposition: form-data; name=\"a\\\"b\"; filename=\"C:\\dir\\x.wav\"\r\n"
          "\r\n1\r\n"
        D "Content-Disposition: form-data; name=\"we%22ird\"; filename=\"x\\\\y;z=\\\".wav\"\r\n"
          "\r\n2\r\n"
        D "Content-Disposition: form-data; name=\"\"; filename=\"\"\r\n"
          "\r\n3" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 3);
    assert_part(&m.parts[0], "a\"b", "C:\\dir\\x.wav", "", LIT("1"));
    assert_part(&m.parts[1], "we%22ird", "x\\y;z=\".wav", "", LIT("2"));
    assert_part(&m.parts[2], "", "", "", LIT("3"));
}

static void header_and_parameter_names_are_case_insensitive_and_values_may_be_bare(
    void **state)
{
    (void)state;
    static const char body[] =
        D "content-disposition:Form-Data;NAME=timestamp_granularities[] ;  FileName = a.wav ;\r\n"
          "CONTENT-TYPE:   audio/wav; rate=16000 \t\r\n"
          "X-Other: ignored\r\n"
          "Content-Transfer-Encoding: BINARY\r\n"
          "\r\nw" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 1);
    assert_part(&m.parts[0], "timestamp_granularities[]", "a.wav", "audio/wav; rate=16000",
                LIT("w"));
}

static void filename_star_is_ignored(void **state)
{
    (void)state;
    static const char body[] =
        D "Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%e2%82%ac.wav\r\n\r\n1\r\n"
        D "Content-Disposition: form-data; name=\"g\"; filename*=UTF-8''x.wav; "
          "filename=\"x.wav\"\r\n\r\n2" END;
    struct multipart m;
    assert_int_equal(parse(LIT(body), &m), 0);
    assert_int_equal(m.n, 2);
    assert_part(&m.parts[0], "f", "", "", LIT("1"));
    assert_part(&m.parts[1], "g", "x.wav", "", LIT("2"));
}

static void fields_that_do_not_fit_are_refused_not_truncated(void **state)
{
    (void)state;
    char name[80], filename[300], ctype[200], body[1024];
    struct multipart m;
    for (int over = 0; over <= 1; over++) {
        memset(name, 'n', sizeof name);
        name[63 + over] = '\0';
        int len = snprintf(body, sizeof body, D CD("%s") "\r\nx" END, name);
        if (over) {
            assert_refused(body, (size_t)len, HARK_EPARSE);
        } else {
            assert_int_equal(parse(body, (size_t)len, &m), 0);
            assert_string_equal(m.parts[0].name, name);
        }

        memset(filename, 'f', sizeof filename);
        filename[255 + over] = '\0';
        len = snprintf(body, sizeof body,
                       D "Content-Disposition: form-data; name=f; filename=\"%s\"\r\n\r\nx" END,
                       filename);
        if (over) {
            assert_refused(body, (size_t)len, HARK_EPARSE);
        } else {
            assert_int_equal(parse(body, (size_t)len, &m), 0);
            assert_string_equal(m.parts[0].filename, filename);
        }

        memset(ctype, 'c', sizeof ctype);
        ctype[127 + over] = '\0';
        len = snprintf(body, sizeof body, D CD("f") "Content-Type: %s\r\n\r\nx" END, ctype);
        if (over) {
            assert_refused(body, (size_t)len, HARK_EPARSE);
        } else {
            assert_int_equal(parse(body, (size_t)len, &m), 0);
            assert_string_equal(m.parts[0].content_type, ctype);
        }
    }
}

static void utf8_names_pass_and_invalid_utf8_is_refused(void **state)
{
    (void)state;
    static const char ok[] =
        D "Content-Disposition: form-data; name=\"file\"; filename=\"r\xc3\xa9union \xe2\x82\xac.wav\"\r\n"
          "\r\nx" END;
    struct multipart m;
    assert_int_equal(parse(LIT(ok), &m), 0);
    assert_string_equal(m.parts[0].filename, "r\xc3\xa9union \xe2\x82\xac.wav");
    assert_refused(LIT(D "Content-Disposition: form-data; name=\"file\"; filename=\"\xe9.wav\"\r\n"
                         "\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data; name=\"\xc0\xae\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D CD("f") "Content-Type: audio/\xff\r\n\r\nx" END), HARK_EPARSE);
}

static void control_characters_and_malformed_header_lines_are_refused(void **state)
{
    (void)state;
    assert_refused(LIT(D "Content-Disposition: form-data; name=\"a\x00z\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data; name=\"a\x7fz\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D CD("a") "X-Bad: a\rb\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("a") "no colon here\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("a") "Bad Name: x\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("a") "Content-Type : x\r\n\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("a") ": x\r\n\r\nx" END), HARK_EPARSE);
    /* obsolete line folding */
    assert_refused(LIT(D CD("a") "X-Long: a,\r\n b\r\n\r\nx" END), HARK_EPARSE);
    assert_non_null(strstr(err, "folded"));
}

static void repeated_headers_and_parameters_are_refused(void **state)
{
    (void)state;
    assert_refused(LIT(D CD("a") CD("b") "\r\nx" END), HARK_EPARSE);
    assert_refused(LIT(D CD("a") "Content-Type: a/b\r\ncontent-type: c/d\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data; name=\"a\"; NAME=\"b\"\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_refused(LIT(D "Content-Disposition: form-data; name=a; filename=x; filename=y\r\n"
                         "\r\nx" END),
                   HARK_EPARSE);
}

static void encoded_transfer_encodings_are_refused(void **state)
{
    (void)state;
    struct multipart m;
    assert_refused(LIT(D CD("a") "Content-Transfer-Encoding: base64\r\n\r\neA==" END),
                   HARK_EPARSE);
    assert_refused(LIT(D CD("a") "Content-Transfer-Encoding: quoted-printable\r\n\r\nx" END),
                   HARK_EPARSE);
    assert_int_equal(parse(LIT(D CD("a") "Content-Transfer-Encoding: 8bit\r\n\r\nx" END), &m), 0);
    assert_int_equal(parse(LIT(D CD("a") "Content-Transfer-Encoding: 7bit\r\n\r\nx" END), &m), 0);
}

static void error_reason_is_bounded_by_errlen(void **state)
{
    (void)state;
    struct multipart m;
    char small[8];
    memset(small, 'z', sizeof small);
    assert_int_equal(multipart_parse(LIT("garbage"), "B", &m, small, sizeof small), HARK_EPARSE);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(multipart_parse(LIT("garbage"), "B", &m, NULL, 0), HARK_EPARSE);
    assert_int_equal(multipart_parse(LIT("garbage"), "B", &m, small, 0), HARK_EPARSE);
    /* success clears a previous reason */
    assert_int_equal(multipart_parse(LIT(D CD("a") "\r\nx" END), "B", &m, small, sizeof small),
                     0);
    assert_string_equal(small, "");
}

static double seconds_to_parse(const char *body, size_t len, const char *boundary, int want)
{
    struct multipart m;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = multipart_parse(body, len, boundary, &m, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (rc != want)
        fail_msg("rc %s (%s)", hark_errname(rc), err);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Fills body[off, off + n) with copies of frag. */
static void fill(char *body, size_t off, size_t n, const char *frag)
{
    size_t f = strlen(frag);
    for (size_t i = 0; i < n; i++)
        body[off + i] = frag[i % f];
}

/* 10 MB of near-delimiters in the data, against curl's boundary (26 dashes
 * of prefix, so "\r\n--" keeps almost matching) and a short one; a
 * quadratic search would take minutes, the linear one milliseconds. The
 * bound holds under ASan and on a loaded machine. */
static void ten_megabytes_of_near_delimiters_parse_in_linear_time(void **state)
{
    (void)state;
    static const char *const frags[] = {
        "\r\n--",
        "\r\n--" CURL_B "-",                          /* all but the ending */
        "\r\n--" CURL_B " \t x",                      /* padding, then not CRLF */
        "\r\n--------------------------c71df80a1534fd9", /* one byte short */
        "\r\n--\r\n-\r\n\r\r\n\n",
    };
    const size_t n = 10u << 20;
    static const char head[] = "--" CURL_B "\r\n" CD("file") "\r\n";
    static const char tail[] = "\r\n--" CURL_B "--\r\n";
    char *body = hark_malloc(sizeof head + n + sizeof tail);
    assert_non_null(body);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1 + n, tail, sizeof tail - 1);
    size_t len = sizeof head - 1 + n + sizeof tail - 1;
    for (size_t i = 0; i < sizeof frags / sizeof *frags; i++) {
        fill(body, sizeof head - 1, n, frags[i]);
        double s = seconds_to_parse(body, len, CURL_B, 0);
        print_message("near-delimiters frag=%zu seconds=%.3f\n", i, s);
        assert_true(s < 1.0);
        /* the same without the close: the search runs to the end and fails */
        s = seconds_to_parse(body, len - (sizeof tail - 1), CURL_B, HARK_EPARSE);
        assert_true(s < 1.0);
    }
    /* a one-byte boundary, where every CRLF "--" matches all but the ending */
    memcpy(body, D CD("f") "\r\n", sizeof(D CD("f") "\r\n") - 1);
    fill(body, sizeof(D CD("f") "\r\n") - 1, n, "\r\n--B-");
    assert_true(seconds_to_parse(body, n, "B", HARK_EPARSE) < 1.0);
    hark_free(body);
}

/* ---- multipart_boundary ---------------------------------------------------- */

static void boundary_is_taken_from_curl_requests_and_quoted_headers(void **state)
{
    (void)state;
    static const struct {
        const char *header, *boundary;
    } cases[] = {
        {"multipart/form-data; boundary=------------------------c71df80a1534fd90",
         "------------------------c71df80a1534fd90"},
        {"multipart/form-data; boundary=bf1b895fc971bc66dd3d0735629e1727",
         "bf1b895fc971bc66dd3d0735629e1727"},
        {"multipart/form-data; boundary=\"simple boundary\"", "simple boundary"},
        {"Multipart/Form-Data;BOUNDARY=\"x\"", "x"},
        {"  multipart/form-data ;  charset=utf-8 ; boundary = abc ; x=\"y;z\"", "abc"},
        {"multipart/form-data; boundary=----=_Part_0_1.2", "----=_Part_0_1.2"},
        {"multipart/form-data; boundary=\"'()+_,-./:=?\"", "'()+_,-./:=?"},
        {"multipart/form-data; boundary=\"a\\\"\"", NULL},     /* '"' is no bchar */
        {"multipart/form-data; boundary=1234567890123456789012345678901234567890"
         "123456789012345678901234567890",
         "1234567890123456789012345678901234567890123456789012345678901234567890"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char b[MULTIPART_BOUNDARY_MAX + 1];
        int rc = multipart_boundary(cases[i].header, b, sizeof b);
        if (!cases[i].boundary) {
            assert_int_equal(rc, HARK_EINVAL);
            continue;
        }
        if (rc)
            fail_msg("%s: %s", cases[i].header, hark_errname(rc));
        assert_string_equal(b, cases[i].boundary);
    }
}

static void boundary_refuses_other_types_and_invalid_boundaries(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "text/plain; boundary=abc",
        "multipart/mixed; boundary=abc",
        "multipart/form-data",
        "multipart/form-data;",
        "multipart/form-dataX; boundary=abc",
        "multipart/form-data/x; boundary=abc",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"abc \"",          /* ends in a space */
        "multipart/form-data; boundary=\"abc",             /* unterminated */
        "multipart/form-data; boundary=abc def",
        "multipart/form-data; boundary=a[b]",
        "multipart/form-data; boundary=\"a\tb\"",
        "multipart/form-data; boundary=\"a\x01" "b\"",
        "multipart/form-data; boundary=a; boundary=a",
        "multipart/form-data; boundary=1234567890123456789012345678901234567890"
        "1234567890123456789012345678901",                 /* 71 */
        "multipart/form-data; charset",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[MULTIPART_BOUNDARY_MAX + 1] = "untouched";
        int rc = multipart_boundary(bad[i], b, sizeof b);
        if (rc != HARK_EINVAL)
            fail_msg("accepted \"%s\" (%s)", bad[i], hark_errname(rc));
    }
    char b[8];
    assert_int_equal(multipart_boundary(NULL, b, sizeof b), HARK_EINVAL);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=x", NULL, 8), HARK_EINVAL);
}

static void boundary_that_does_not_fit_out_is_erange(void **state)
{
    (void)state;
    char b[4];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abcd", b, sizeof b),
                     HARK_ERANGE);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc", b, 0), HARK_ERANGE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(curl_form_with_every_endpoint_field_parses_byte_for_byte),
    cmocka_unit_test(requests_form_with_file_last_parses),
    cmocka_unit_test(jfk_wav_in_curl_framing_comes_back_byte_for_byte),
    cmocka_unit_test(empty_file_part_has_zero_length_data),
    cmocka_unit_test(preamble_and_epilogue_are_ignored),
    cmocka_unit_test(boundary_inside_data_without_crlf_dash_dash_does_not_split),
    cmocka_unit_test(delimiters_may_carry_transport_padding),
    cmocka_unit_test(nul_bytes_in_data_are_kept),
    cmocka_unit_test(repeated_names_keep_body_order_and_get_returns_the_first),
    cmocka_unit_test(body_that_is_only_the_close_delimiter_has_no_parts),
    cmocka_unit_test(missing_closing_delimiter_is_a_parse_error),
    cmocka_unit_test(close_delimiter_without_its_crlf_is_refused),
    cmocka_unit_test(lf_only_line_endings_are_refused),
    cmocka_unit_test(garbage_and_empty_bodies_are_parse_errors),
    cmocka_unit_test(invalid_arguments_are_einval),
    cmocka_unit_test(more_than_32_parts_is_too_big),
    cmocka_unit_test(part_headers_over_8_KiB_are_refused),
    cmocka_unit_test(part_without_form_data_name_is_refused),
    cmocka_unit_test(bad_quoting_and_parameter_syntax_are_refused),
    cmocka_unit_test(quoted_strings_undo_only_quote_and_backslash_escapes),
    cmocka_unit_test(header_and_parameter_names_are_case_insensitive_and_values_may_be_bare),
    cmocka_unit_test(filename_star_is_ignored),
    cmocka_unit_test(fields_that_do_not_fit_are_refused_not_truncated),
    cmocka_unit_test(utf8_names_pass_and_invalid_utf8_is_refused),
    cmocka_unit_test(control_characters_and_malformed_header_lines_are_refused),
    cmocka_unit_test(repeated_headers_and_parameters_are_refused),
    cmocka_unit_test(encoded_transfer_encodings_are_refused),
    cmocka_unit_test(error_reason_is_bounded_by_errlen),
    cmocka_unit_test(ten_megabytes_of_near_delimiters_parse_in_linear_time),
    cmocka_unit_test(boundary_is_taken_from_curl_requests_and_quoted_headers),
    cmocka_unit_test(boundary_refuses_other_types_and_invalid_boundaries),
    cmocka_unit_test(boundary_that_does_not_fit_out_is_erange),
};

HARNESS_MAIN(tests)
