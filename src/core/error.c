#include "hark/error.h"

const char *hark_strerror(int err)
{
    switch (err) {
#define HARK_ERR_TEXT(name, value, tag, text) case value: return text;
    HARK_ERRORS(HARK_ERR_TEXT)
#undef HARK_ERR_TEXT
    default: return "unknown error";
    }
}

const char *hark_errname(int err)
{
    switch (err) {
#define HARK_ERR_TAG(name, value, tag, text) case value: return tag;
    HARK_ERRORS(HARK_ERR_TAG)
#undef HARK_ERR_TAG
    default: return "unknown";
    }
}
