/* error.h — Hark's error codes.
 *
 * Functions that can fail return int: 0 on success or one negative HARK_E*
 * code below. The list is an X-macro so the enum, hark_strerror() and the
 * stable names used in logs never drift apart. Codes are part of the ABI of
 * every module: append new ones, never renumber. */
#ifndef HARK_ERROR_H
#define HARK_ERROR_H

#if defined(__GNUC__)
#define HARK_MUST_CHECK __attribute__((warn_unused_result))
#define HARK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HARK_MUST_CHECK
#define HARK_PRINTF(fmt, args)
#endif

#define HARK_ERRORS(X)                                              \
    X(HARK_OK,        0,   "ok",        "success")                  \
    X(HARK_ENOMEM,   -1,   "nomem",     "out of memory")            \
    X(HARK_EINVAL,   -2,   "inval",     "invalid argument")         \
    X(HARK_ENOENT,   -3,   "noent",     "not found")                \
    X(HARK_EEXIST,   -4,   "exist",     "already exists")           \
    X(HARK_EIO,      -5,   "io",        "input/output error")       \
    X(HARK_ERANGE,   -6,   "range",     "value out of range")       \
    X(HARK_ETOOBIG,  -7,   "toobig",    "too large")                \
    X(HARK_EPARSE,   -8,   "parse",     "malformed input")          \
    X(HARK_EAGAIN,   -9,   "again",     "try again")                \
    X(HARK_EBUSY,    -10,  "busy",      "resource busy")            \
    X(HARK_EPERM,    -11,  "perm",      "permission denied")        \
    X(HARK_ESTORE,   -12,  "store",     "store failure")            \
    X(HARK_ECLOSED,  -13,  "closed",    "connection closed")        \
    X(HARK_EPROTO,   -14,  "proto",     "protocol violation")       \
    X(HARK_ECONFIG,  -15,  "config",    "invalid configuration")    \
    X(HARK_ETIMEDOUT,-16,  "timedout",  "timed out")                \
    X(HARK_ECRYPTO,  -17,  "crypto",    "cryptography failure")

enum hark_error {
#define HARK_ERR_ENUM(name, value, tag, text) name = value,
    HARK_ERRORS(HARK_ERR_ENUM)
#undef HARK_ERR_ENUM
};

/* Human-readable text for a code; never NULL, static storage. Unknown codes
 * give "unknown error". */
const char *hark_strerror(int err);

/* Short stable tag for logs ("nomem", "parse", ...); static storage. */
const char *hark_errname(int err);

#endif
