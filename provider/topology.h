/* A provider's PoP-level network: PoPs, directed links, IGP routing.
 *
 * Built incrementally (the provider config parser and the benchmarks call
 * the builder), then frozen by prov_topology_finish(), which computes
 * all-pairs shortest-path routes by IGP weight.  After finish the topology
 * is read-only except for link background traffic, which does not affect
 * routing.  The optimizer (optimize.h) and the simulator both read routes
 * from here, so every user sees the same paths.
 *
 * Units (used by the optimizer too):
 *   capacity, background traffic, swarm rates   kbit/s (double)
 *   IGP weight                                  positive integer (OSPF-style)
 *   propagation delay                           milliseconds
 *   length                                      km
 *
 * Tie rule for equal-cost paths (deterministic, documented in
 * docs/OPTIMIZER.md): routing is destination-based like real IGP
 * forwarding.  For destination j, every PoP v forwards over the link
 * e = (v, w) that lies on a minimum-IGP-cost path to j and, among those,
 * on one with the fewest hops; remaining ties go to the lowest next-hop
 * PoP index w, then the lowest link index e (parallel links).  Hence the
 * route i->j continues along the route v->j from every PoP v it visits. */
#ifndef PROV_TOPOLOGY_H
#define PROV_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#define P4P_POP_NAME_MAX    64

/* light in fibre covers ~200 km per millisecond; used when a link gives
 * its length but no delay */
#define P4P_FIBRE_KM_PER_MS 200.0

struct prov_pop {
  char   name[P4P_POP_NAME_MAX];
  int    has_location; /* lat/lon are meaningful */
  double lat, lon;     /* degrees */
};

struct prov_link {
  int      from, to;        /* PoP indices */
  double   capacity_kbps;   /* 0: the link can carry no P2P traffic */
  uint32_t igp_weight;      /* >= 1 */
  double   background_kbps; /* b_e, traffic the optimizer cannot move */
  double   delay_ms;        /* one-way propagation delay */
  double   length_km;       /* < 0: unknown */
};

/* What prov_topology_add_link() needs to know about a link.  delay_ms < 0
 * means "derive from length_km" (or 0 when neither is known). */
struct prov_link_spec {
  double   capacity_kbps;
  uint32_t igp_weight;
  double   background_kbps;
  double   delay_ms;
  double   length_km;
};

/* Route from PoP i to PoP j.  nlinks < 0: j is unreachable from i. */
struct prov_route {
  int      nlinks; /* hops; 0 for i == j */
  size_t   first;  /* offset of the link list in route_links */
  uint64_t igp_cost;
  double   delay_ms;  /* sum of link delays */
  double   length_km; /* sum of known link lengths */
};

struct prov_topology {
  int               npops, nlinks;
  struct prov_pop  *pops;
  struct prov_link *links;
  int               finished;
  /* filled by finish: routes[i * npops + j], link indices in path order */
  struct prov_route *routes;
  int               *route_links;
  size_t             nroute_links;
  int                cap_pops, cap_links; /* allocation sizes */
};

void prov_topology_init(struct prov_topology *t);
void prov_topology_free(struct prov_topology *t);

/* Adds a PoP and returns its index (0, 1, ...), or -1 with a reason in err
 * (duplicate or empty name, topology already finished).  has_location = 0
 * leaves lat/lon unknown. */
int prov_topology_add_pop(struct prov_topology *t, const char *name, int has_location, double lat, double lon, char *err, size_t errlen);

/* Index of the PoP called name, or -1. */
int prov_topology_find_pop(const struct prov_topology *t, const char *name);

/* Adds the directed link from -> to and returns its index, or -1 with a
 * reason in err (bad PoP index, self loop, zero IGP weight, negative or
 * non-finite capacity, background or length). */
int prov_topology_add_link(struct prov_topology *t, int from, int to, const struct prov_link_spec *spec, char *err, size_t errlen);

/* An undirected link: adds a -> b and then b -> a with the same spec.
 * Returns the index of a -> b (b -> a is that index + 1), or -1. */
int prov_topology_add_duplex(struct prov_topology *t, int a, int b, const struct prov_link_spec *spec, char *err, size_t errlen);

/* Freezes the topology and computes all routes.  Returns 0, or -1 with a
 * reason (no PoPs, out of memory, already finished). */
int prov_topology_finish(struct prov_topology *t, char *err, size_t errlen);

/* Changes b_e of link e after finish (routes stay).  Returns 0 or -1. */
int prov_topology_set_background(struct prov_topology *t, int e, double kbps, char *err, size_t errlen);

/* Route i -> j, or NULL when j is unreachable from i (or bad indices, or
 * not finished).  The route i -> i exists and has no links. */
const struct prov_route *prov_topology_route(const struct prov_topology *t, int i, int j);

/* The link indices of a route returned by prov_topology_route(). */
static inline const int *prov_route_links(const struct prov_topology *t, const struct prov_route *r) { return t->route_links + r->first; }

/* I_e(i, j): 1 when link e is on the route i -> j, else 0. */
int prov_topology_link_on_route(const struct prov_topology *t, int e, int i, int j);

/* Writes out[i * npops + j] = sum over the route i -> j of link_cost[e]
 * (INFINITY when unreachable; 0 on the diagonal).  link_cost NULL means
 * each link costs its IGP weight.  Returns 0, or -1 when not finished. */
int prov_topology_route_costs(const struct prov_topology *t, const double *link_cost, double *out, char *err, size_t errlen);

#endif
