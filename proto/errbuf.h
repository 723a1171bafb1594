/* errbuf: the one way library code reports an error.
 *
 * Functions that can fail take (char *err, size_t errlen) and leave a
 * readable reason there for the caller to log, as curl's error buffer does;
 * library code never prints.  proto_fail() formats into the buffer (NULL or
 * zero-sized: nothing) and returns -1, so an error path is one line:
 *     return proto_fail(err, errlen, "link %zu: capacity %g", e, c); */
#ifndef PROTO_ERRBUF_H
#define PROTO_ERRBUF_H

#include <stddef.h>

int proto_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
