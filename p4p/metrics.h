/* metrics: /stats?mode=prometheus, the Prometheus text exposition format
 * 0.0.4 (docs/TRACKER.md lists every metric).  The same counters and
 * snapshot as /stats?mode=p4p, as typed metrics: counters end in _total,
 * ages are gauges that are absent while there is nothing to age. */
#ifndef P4P_METRICS_H
#define P4P_METRICS_H

#include <stddef.h>

struct p4p_state;
struct p4p_provider_view;

/* Writes the exposition into out (at most cap bytes, whole lines only);
 * returns the bytes written. */
size_t p4p_metrics_write(const struct p4p_state *s, const struct p4p_provider_view *pv, size_t npv, char *out, size_t cap);

/* Writes a label value with \, " and newlines escaped as the format wants. */
void p4p_metrics_label_value(const char *in, char *out, size_t outlen);

#endif
