/* Successive-shortest-path min-cost max-flow on a bipartite graph. */
#include "transport.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prov_transport_ws_init(struct prov_transport_ws *ws) { memset(ws, 0, sizeof *ws); }

void prov_transport_ws_free(struct prov_transport_ws *ws) {
  free(ws->buf);
  free(ws->ibuf);
  prov_transport_ws_init(ws);
}

static int ws_reserve(struct prov_transport_ws *ws, size_t nodes) {
  if (nodes <= ws->cap_nodes)
    return 0;
  double *b = realloc(ws->buf, 4 * nodes * sizeof *b);
  if (!b)
    return -1;
  ws->buf = b;
  int *ib = realloc(ws->ibuf, 2 * nodes * sizeof *ib);
  if (!ib)
    return -1;
  ws->ibuf      = ib;
  ws->cap_nodes = nodes;
  return 0;
}

/* One side has a single node: fill the other side's nodes cheapest
 * first (a fractional knapsack, for which greedy is optimal).  cost[q *
 * stride] is the pair cost of other-side node q; ties go to the lower
 * index. */
static double solve_single(struct prov_transport_ws *ws, int m, double amount, const double *cap, const double *cost, size_t stride, double *flow) {
  int *order = ws->ibuf;
  int  cnt   = 0;
  for (int q = 0; q < m; q++) {
    if (!(cost[(size_t)q * stride] < INFINITY) || !(cap[q] > 0))
      continue;
    /* insertion sort: m is tens at most */
    int at = cnt++;
    while (at > 0 && cost[(size_t)order[at - 1] * stride] > cost[(size_t)q * stride]) {
      order[at] = order[at - 1];
      at--;
    }
    order[at] = q;
  }
  double left = amount > 0 ? amount : 0, total = 0;
  for (int r = 0; r < cnt && left > 0; r++) {
    int    q                 = order[r];
    double x                 = fmin(left, cap[q]);
    flow[(size_t)q * stride] = x;
    left -= x;
    total += x;
  }
  return total;
}

double prov_transport_solve(struct prov_transport_ws *ws, int ns, int nd, const double *supply, const double *demand, const double *cost, double *flow) {
  int V = ns + nd + 2, S = ns + nd, T = ns + nd + 1;
  memset(flow, 0, (size_t)ns * (size_t)nd * sizeof *flow);
  if (ns == 0 || nd == 0)
    return 0;
  if (ws_reserve(ws, (size_t)V) < 0)
    return -1;
  if (ns == 1)
    return solve_single(ws, nd, supply[0], demand, cost, 1, flow);
  if (nd == 1)
    return solve_single(ws, ns, demand[0], supply, cost, 1, flow);
  /* node v: supply i = v < ns, demand j = v - ns, then S and T */
  double *resid = ws->buf; /* remaining supply / demand */
  double *pot   = ws->buf + V;
  double *dist  = ws->buf + 2 * V;
  int    *prev  = ws->ibuf;
  int    *done  = ws->ibuf + V;
  double  tot_s = 0, tot_d = 0;
  for (int i = 0; i < ns; i++) {
    resid[i] = supply[i] > 0 ? supply[i] : 0;
    tot_s += resid[i];
  }
  for (int j = 0; j < nd; j++) {
    resid[ns + j] = demand[j] > 0 ? demand[j] : 0;
    tot_d += resid[ns + j];
  }
  /* amounts below eps are rounding noise; zeroing them guarantees that
   * every augmentation retires at least one residual arc */
  double eps = 1e-13 * (tot_s > tot_d ? tot_s : tot_d);
  for (int v = 0; v < V; v++)
    pot[v] = 0; /* valid: all costs >= 0 */
  double total = 0;
  /* Each augmentation empties a residual arc, so in practice there are
   * about ns + nd of them; the cap only guards termination against
   * rounding in degenerate ties (the flow found so far stays feasible). */
  long cap     = 64L * (ns + nd) * (ns + nd) + 1000;
  for (long it = 0; it < cap; it++) {
    for (int v = 0; v < V; v++) {
      dist[v] = INFINITY;
      done[v] = 0;
      prev[v] = -1;
    }
    dist[S] = 0;
    for (;;) {
      int v = -1;
      for (int x = 0; x < V; x++)
        if (!done[x] && dist[x] < INFINITY && (v < 0 || dist[x] < dist[v]))
          v = x;
      if (v < 0)
        break;
      done[v] = 1;
      if (v == T)
        break; /* the rest is settled by the potential update below */
#define RELAX(to, c)                                                                                                                                           \
  do {                                                                                                                                                         \
    double rc_ = (c) + pot[v] - pot[to];                                                                                                                       \
    double nd_ = dist[v] + (rc_ > 0 ? rc_ : 0);                                                                                                                \
    if (!done[to] && nd_ < dist[to]) {                                                                                                                         \
      dist[to] = nd_;                                                                                                                                          \
      prev[to] = v;                                                                                                                                            \
    }                                                                                                                                                          \
  } while (0)
      if (v == S) {
        for (int i = 0; i < ns; i++)
          if (resid[i] > 0)
            RELAX(i, 0.0);
      } else if (v < ns) {
        for (int j = 0; j < nd; j++) {
          double c = cost[(size_t)v * nd + j];
          if (c < INFINITY)
            RELAX(ns + j, c);
        }
      } else if (v < S) {
        int j = v - ns;
        for (int i = 0; i < ns; i++)
          if (flow[(size_t)i * nd + j] > 0)
            RELAX(i, -cost[(size_t)i * nd + j]);
        if (resid[v] > 0)
          RELAX(T, 0.0);
      }
#undef RELAX
    }
    if (dist[T] == INFINITY)
      break;
    /* Nodes settled before T move by their distance, all others by
     * dist[T] (a lower bound on their distance): every residual arc keeps
     * a non-negative reduced cost and the path's arcs get zero. */
    for (int v = 0; v < V; v++)
      pot[v] += done[v] ? dist[v] : dist[T];
    /* bottleneck along T <- j <- i <- ... <- S */
    double b = resid[prev[T]];
    for (int v = prev[T]; prev[v] != S; v = prev[v]) {
      int u = prev[v];
      if (u >= ns) /* reverse arc demand u -> supply v: undo flow v -> u */
        b = fmin(b, flow[(size_t)v * nd + (u - ns)]);
    }
    int first = T;
    while (prev[first] != S)
      first = prev[first];
    b = fmin(b, resid[first]);
    for (int v = T; v != S; v = prev[v]) {
      int     u = prev[v];
      double *f = NULL;
      if (u < ns && v >= ns && v < S) {
        f = &flow[(size_t)u * nd + (v - ns)];
        *f += b;
      } else if (u >= ns && u < S && v < ns) {
        f = &flow[(size_t)v * nd + (u - ns)];
        *f -= b;
        if (*f < eps)
          *f = 0;
      } else if (u == S) {
        resid[v] -= b;
        if (resid[v] < eps)
          resid[v] = 0;
      } else if (v == T) {
        resid[u] -= b;
        if (resid[u] < eps)
          resid[u] = 0;
      }
    }
    total += b;
  }
  return total;
}
