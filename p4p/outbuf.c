/* outbuf: bounded appends. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "outbuf.h"

void p4p_out_init(struct p4p_outbuf *o, char *buf, size_t cap) {
  o->p    = buf;
  o->n    = 0;
  o->cap  = cap;
  o->full = cap == 0;
  if (cap)
    buf[0] = 0;
}

void p4p_out_printf(struct p4p_outbuf *o, const char *fmt, ...) {
  if (o->full)
    return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
  va_end(ap);
  if (w >= 0 && (size_t)w < o->cap - o->n) {
    o->n += (size_t)w;
    return;
  }
  /* cut back to the last whole line: a reader never sees half a sample */
  o->full = 1;
  while (o->n && o->p[o->n - 1] != '\n')
    --o->n;
  o->p[o->n] = 0;
}
