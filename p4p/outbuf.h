/* outbuf: appending text to a caller's fixed buffer.  Writes stop at the
 * cap (the text stays NUL-terminated and `full` says it was cut), so a
 * renderer never allocates and never overruns. */
#ifndef P4P_OUTBUF_H
#define P4P_OUTBUF_H

#include <stddef.h>

struct p4p_outbuf {
  char  *p;
  size_t n, cap; /* bytes written, buffer size (the NUL included) */
  int    full;   /* some text did not fit */
};

void p4p_out_init(struct p4p_outbuf *o, char *buf, size_t cap);
/* Appends; on overflow keeps only whole lines (cuts back to the last '\n'). */
void p4p_out_printf(struct p4p_outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
