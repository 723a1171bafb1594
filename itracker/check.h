/* check: p4p-itracker --check -f provider.conf.  portal_init() has parsed
 * the file and built every published document; this checks what only
 * starting the daemon would: the listen address and the TLS certificate
 * and key (read, and loaded by libmicrohttpd's TLS library as a pair),
 * without binding anything. */
#ifndef ITRACKER_CHECK_H
#define ITRACKER_CHECK_H

#include <stddef.h>

struct portal;

/* 0, or -1 with "file:line: reason" in err. */
int itr_check(const struct portal *p, const char *config, const char *addr, char *err, size_t errlen);

#endif
