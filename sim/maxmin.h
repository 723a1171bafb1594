/* maxmin: max-min fair rates by progressive filling.
 *
 * Resources have capacities; each flow crosses a set of resources and may
 * have a cap of its own (the per-connection TCP limit).  Every flow gets the
 * largest rate such that no resource is over capacity and no flow could get
 * more without taking from a flow that has at most as much (max-min
 * fairness).  Progressive filling: repeatedly take the resource (or flow
 * cap) with the smallest fair share remaining/unfixed-flows, fix its
 * unfixed flows at that share, charge them to their other resources.
 * O((incidences + resources) log) per solve with a lazy heap. */
#ifndef SIM_MAXMIN_H
#define SIM_MAXMIN_H

#include <stddef.h>
#include <stdint.h>

/* Reusable workspace: grows as needed, so repeated solves do not allocate. */
struct maxmin_ws {
  size_t    cap_res, cap_flows, cap_inc, cap_heap;
  double   *rem;   /* per resource: capacity not yet given out */
  uint32_t *nfree; /* per resource: flows on it not yet fixed */
  uint32_t *ver;   /* per item (resources, then flow caps): heap version */
  uint32_t *roff;  /* CSR: flows of resource r at rflows[roff[r]..roff[r+1]) */
  uint32_t *rflows;
  uint8_t  *fixed; /* per flow */
  struct maxmin_item {
    double   key;
    uint32_t item, ver;
  } * heap;
  size_t nheap;
};

void maxmin_ws_init(struct maxmin_ws *ws);
void maxmin_ws_free(struct maxmin_ws *ws);

/* nres resources with capacity cap[r] >= 0 (same unit as the rates);
 * flow f uses resources res[off[f] .. off[f+1]) (no resource twice) and is
 * limited to fcap[f] (INFINITY: no limit; fcap NULL: none has a limit).
 * Writes rate[f].  A flow that crosses no resource and has no cap gets
 * INFINITY.  0, or -1 with a reason in err (bad index, out of memory). */
int maxmin_solve(struct maxmin_ws *ws, size_t nres, const double *cap, size_t nflows, const uint32_t *off, const uint32_t *res, const double *fcap,
                 double *rate, char *err, size_t errlen);

#endif
