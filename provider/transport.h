/* Small transportation problems: ship as much as possible from ns sources
 * to nd sinks, and among the maximum shipments the cheapest.  This is the
 * per-swarm subproblem of the optimizer (sources = supply PoPs, sinks =
 * demand PoPs), solved exactly by successive shortest paths with Dijkstra
 * on reduced costs; graphs have tens of nodes, so O(V^2) Dijkstra per
 * augmentation. */
#ifndef PROV_TRANSPORT_H
#define PROV_TRANSPORT_H

#include <stddef.h>

/* Scratch space for prov_transport_solve(); reuse it across calls. */
struct prov_transport_ws {
  size_t  cap_nodes, cap_pairs;
  double *buf;
  int    *ibuf;
};

void prov_transport_ws_init(struct prov_transport_ws *ws);
void prov_transport_ws_free(struct prov_transport_ws *ws);

/* supply[ns], demand[nd] >= 0; cost[i * nd + j] >= 0, or INFINITY for a
 * pair that may carry nothing.  Writes flow[i * nd + j] and returns the
 * total flow (the maximum possible), or -1 when out of memory.  Among
 * maximum flows the result has minimum cost.  Deterministic. */
double prov_transport_solve(struct prov_transport_ws *ws, int ns, int nd, const double *supply, const double *demand, const double *cost, double *flow);

#endif
