/* metrics: the iTracker's GET /metrics, Prometheus text exposition format
 * 0.0.4 (docs/ITRACKER.md lists every metric): requests by interface and
 * status, solves (count, duration histogram, the last one's MLU and
 * swarms), the statistics table.
 *
 * Counters are relaxed atomics in this unit, bumped from the connection
 * threads and the solver thread; rendering reads them without a lock. */
#ifndef ITRACKER_METRICS_H
#define ITRACKER_METRICS_H

#include <stddef.h>

#include "proto/iface.h"

/* request labels: the four P4P interfaces, then these (alto: every answer
 * under /directory and /alto/, whatever resource) */
enum itr_metrics_route { ITR_ROUTE_METRICS = P4P_IFACE_COUNT, ITR_ROUTE_NONE, ITR_ROUTE_ALTO, ITR_ROUTE_COUNT };

struct portal;

void itr_metrics_note_response(int route, int status);
/* one finished solve: its wall time, whether it succeeded, and (when it
 * did) the swarms it optimized and its maximum link utilization */
void itr_metrics_note_solve(double ms, int ok, size_t swarms, double mlu);
/* one SIGHUP reload: whether the new configuration took effect */
void itr_metrics_note_reload(int ok);
/* The exposition, malloc'd (*len bytes); NULL when out of memory.
 * tracked: swarms in the statistics table now. */
char *itr_metrics_render(const struct portal *p, size_t tracked, size_t *len);
/* Zeroes every counter (tests). */
void itr_metrics_reset(void);

#endif
