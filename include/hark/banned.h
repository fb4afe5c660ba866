/* banned.h — functions Hark's code may not call, forced into every one of
 * our translation units with -include. Each is unbounded or silently
 * truncating: use snprintf, memcpy with an explicit length, hbuf_* or
 * strtol-based parsing instead. The system headers that declare them are
 * included first so their declarations are not themselves poisoned. */
#ifndef HARK_BANNED_H
#define HARK_BANNED_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#pragma GCC poison strcpy strcat sprintf vsprintf gets atoi atol atoll strtok
#endif
