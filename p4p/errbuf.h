/* errbuf: the one way library code reports an error.
 *
 * Functions that can fail take (char *err, size_t errlen) and leave a
 * readable reason there for the caller to log, as curl's error buffer does;
 * library code never prints.  p4p_fail() formats into the buffer (NULL or
 * zero-sized: nothing) and returns -1, so an error path is one line:
 *     return p4p_fail(err, errlen, "link %zu: capacity %g", e, c); */
#ifndef P4P_ERRBUF_H
#define P4P_ERRBUF_H

#include <stddef.h>

int p4p_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
