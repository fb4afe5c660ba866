/* http_private.h — shared between the files of src/http/, not public. */
#ifndef HARK_HTTP_PRIVATE_H
#define HARK_HTTP_PRIVATE_H
#include <sys/socket.h>

/* Parses "host:port" / "[v6]:port" (numeric hosts, or "localhost") into ss.
 * HARK_EINVAL when malformed. */
int http_parse_listen(const char *listen, struct sockaddr_storage *ss);

#endif
