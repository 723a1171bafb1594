/* PoP-level topology and IGP routing (see topology.h for units and the
 * equal-cost tie rule). */
#include "topology.h"
#include "proto/errbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prov_topology_init(struct prov_topology *t) { memset(t, 0, sizeof *t); }

void prov_topology_free(struct prov_topology *t) {
  free(t->pops);
  free(t->links);
  free(t->routes);
  free(t->route_links);
  prov_topology_init(t);
}

int prov_topology_find_pop(const struct prov_topology *t, const char *name) {
  for (int i = 0; i < t->npops; i++)
    if (strcmp(t->pops[i].name, name) == 0)
      return i;
  return -1;
}

int prov_topology_add_pop(struct prov_topology *t, const char *name, int has_location, double lat, double lon, char *err, size_t errlen) {
  if (t->finished)
    return proto_fail(err, errlen, "topology is finished; cannot add PoP %s", name);
  if (!name || !*name)
    return proto_fail(err, errlen, "PoP name is empty");
  if (strlen(name) >= P4P_POP_NAME_MAX)
    return proto_fail(err, errlen, "PoP name %.20s... longer than %d bytes", name, P4P_POP_NAME_MAX - 1);
  if (prov_topology_find_pop(t, name) >= 0)
    return proto_fail(err, errlen, "duplicate PoP %s", name);
  if (has_location && (!isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 || fabs(lon) > 180))
    return proto_fail(err, errlen, "PoP %s: bad location %g,%g", name, lat, lon);
  if (t->npops == t->cap_pops) {
    int              cap = t->cap_pops ? 2 * t->cap_pops : 16;
    struct prov_pop *p   = realloc(t->pops, (size_t)cap * sizeof *p);
    if (!p)
      return proto_fail(err, errlen, "out of memory");
    t->pops     = p;
    t->cap_pops = cap;
  }
  struct prov_pop *p = &t->pops[t->npops];
  memset(p, 0, sizeof *p);
  strcpy(p->name, name);
  p->has_location = has_location != 0;
  p->lat          = has_location ? lat : 0;
  p->lon          = has_location ? lon : 0;
  return t->npops++;
}

int prov_topology_add_link(struct prov_topology *t, int from, int to, const struct prov_link_spec *spec, char *err, size_t errlen) {
  if (t->finished)
    return proto_fail(err, errlen, "topology is finished; cannot add a link");
  if (from < 0 || from >= t->npops || to < 0 || to >= t->npops)
    return proto_fail(err, errlen, "link %d->%d: no such PoP", from, to);
  if (from == to)
    return proto_fail(err, errlen, "link %s->%s is a self loop", t->pops[from].name, t->pops[to].name);
  if (spec->igp_weight == 0)
    return proto_fail(err, errlen, "link %s->%s: IGP weight must be >= 1", t->pops[from].name, t->pops[to].name);
  if (!isfinite(spec->capacity_kbps) || spec->capacity_kbps < 0 || !isfinite(spec->background_kbps) || spec->background_kbps < 0)
    return proto_fail(err, errlen,
                      "link %s->%s: capacity and background must be "
                      "finite and >= 0",
                      t->pops[from].name, t->pops[to].name);
  if (!isfinite(spec->delay_ms) || !isfinite(spec->length_km))
    return proto_fail(err, errlen, "link %s->%s: delay and length must be finite", t->pops[from].name, t->pops[to].name);
  if (t->nlinks == t->cap_links) {
    int               cap = t->cap_links ? 2 * t->cap_links : 32;
    struct prov_link *l   = realloc(t->links, (size_t)cap * sizeof *l);
    if (!l)
      return proto_fail(err, errlen, "out of memory");
    t->links     = l;
    t->cap_links = cap;
  }
  struct prov_link *l = &t->links[t->nlinks];
  l->from             = from;
  l->to               = to;
  l->capacity_kbps    = spec->capacity_kbps;
  l->igp_weight       = spec->igp_weight;
  l->background_kbps  = spec->background_kbps;
  l->length_km        = spec->length_km >= 0 ? spec->length_km : -1;
  if (spec->delay_ms >= 0)
    l->delay_ms = spec->delay_ms;
  else
    l->delay_ms = l->length_km >= 0 ? l->length_km / P4P_FIBRE_KM_PER_MS : 0;
  return t->nlinks++;
}

int prov_topology_add_duplex(struct prov_topology *t, int a, int b, const struct prov_link_spec *spec, char *err, size_t errlen) {
  int e = prov_topology_add_link(t, a, b, spec, err, errlen);
  if (e < 0)
    return -1;
  if (prov_topology_add_link(t, b, a, spec, err, errlen) < 0) {
    t->nlinks--; /* keep the pair atomic */
    return -1;
  }
  return e;
}

/* Distance label toward one destination: IGP cost first, then hops. */
struct label {
  uint64_t cost;
  int      hops;
};

static int label_less(struct label a, struct label b) { return a.cost < b.cost || (a.cost == b.cost && a.hops < b.hops); }

/* Labels of every PoP toward destination dst, by Dijkstra on the reversed
 * links (O(n^2): PoP-level graphs have tens of nodes).  Unreachable PoPs
 * keep hops = -1. */
static void labels_to(const struct prov_topology *t, int dst, struct label *lab, char *done) {
  int n = t->npops;
  for (int v = 0; v < n; v++) {
    lab[v].cost = UINT64_MAX;
    lab[v].hops = -1;
    done[v]     = 0;
  }
  lab[dst].cost = 0;
  lab[dst].hops = 0;
  for (;;) {
    int best = -1;
    for (int v = 0; v < n; v++)
      if (!done[v] && lab[v].hops >= 0 && (best < 0 || label_less(lab[v], lab[best])))
        best = v;
    if (best < 0)
      break;
    done[best] = 1;
    for (int e = 0; e < t->nlinks; e++) {
      const struct prov_link *l = &t->links[e];
      if (l->to != best || done[l->from])
        continue;
      struct label c = {lab[best].cost + l->igp_weight, lab[best].hops + 1};
      if (lab[l->from].hops < 0 || label_less(c, lab[l->from]))
        lab[l->from] = c;
    }
  }
}

/* The next-hop link of v toward the destination whose labels are lab,
 * following the tie rule in topology.h; -1 if v is the destination or
 * cannot reach it. */
static int next_hop(const struct prov_topology *t, const struct label *lab, int v) {
  if (lab[v].hops <= 0)
    return -1;
  int best = -1;
  for (int e = 0; e < t->nlinks; e++) {
    const struct prov_link *l = &t->links[e];
    if (l->from != v || lab[l->to].hops < 0)
      continue;
    if (lab[l->to].cost + l->igp_weight != lab[v].cost || lab[l->to].hops + 1 != lab[v].hops)
      continue;
    /* links are scanned in index order, so the first of equal next hops
     * is the lowest link index */
    if (best < 0 || l->to < t->links[best].to)
      best = e;
  }
  return best;
}

int prov_topology_finish(struct prov_topology *t, char *err, size_t errlen) {
  if (t->finished)
    return proto_fail(err, errlen, "topology is already finished");
  if (t->npops == 0)
    return proto_fail(err, errlen, "topology has no PoPs");
  int           n      = t->npops;
  size_t        npairs = (size_t)n * (size_t)n;
  struct label *lab    = malloc((size_t)n * sizeof *lab);
  char         *done   = malloc((size_t)n);
  int          *nh     = malloc(npairs * sizeof *nh); /* nh[v * n + dst] */
  struct label *all    = malloc(npairs * sizeof *all);
  t->routes            = calloc(npairs, sizeof *t->routes);
  if (!lab || !done || !nh || !all || !t->routes) {
    free(lab);
    free(done);
    free(nh);
    free(all);
    free(t->routes);
    t->routes = NULL;
    return proto_fail(err, errlen, "out of memory");
  }
  size_t total = 0;
  for (int dst = 0; dst < n; dst++) {
    labels_to(t, dst, lab, done);
    for (int v = 0; v < n; v++) {
      nh[(size_t)v * n + dst]  = next_hop(t, lab, v);
      all[(size_t)v * n + dst] = lab[v];
      if (lab[v].hops > 0)
        total += (size_t)lab[v].hops;
    }
  }
  t->route_links = malloc((total ? total : 1) * sizeof *t->route_links);
  if (!t->route_links) {
    free(lab);
    free(done);
    free(nh);
    free(all);
    free(t->routes);
    t->routes = NULL;
    return proto_fail(err, errlen, "out of memory");
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      struct prov_route *r  = &t->routes[(size_t)i * n + j];
      struct label       li = all[(size_t)i * n + j];
      r->first              = off;
      r->nlinks             = li.hops;
      r->igp_cost           = li.hops >= 0 ? li.cost : UINT64_MAX;
      if (li.hops < 0)
        continue;
      /* walk next hops; each step lowers the (cost, hops) label, so the
       * walk ends at j after exactly li.hops links */
      for (int v = i; v != j;) {
        int                     e = nh[(size_t)v * n + j];
        const struct prov_link *l = &t->links[e];
        t->route_links[off++]     = e;
        r->delay_ms += l->delay_ms;
        if (l->length_km > 0)
          r->length_km += l->length_km;
        v = l->to;
      }
    }
  }
  t->nroute_links = off;
  t->finished     = 1;
  free(lab);
  free(done);
  free(nh);
  free(all);
  return 0;
}

int prov_topology_set_background(struct prov_topology *t, int e, double kbps, char *err, size_t errlen) {
  if (e < 0 || e >= t->nlinks)
    return proto_fail(err, errlen, "no link %d", e);
  if (!isfinite(kbps) || kbps < 0)
    return proto_fail(err, errlen, "background traffic must be finite and >= 0");
  t->links[e].background_kbps = kbps;
  return 0;
}

const struct prov_route *prov_topology_route(const struct prov_topology *t, int i, int j) {
  if (!t->finished || i < 0 || j < 0 || i >= t->npops || j >= t->npops)
    return NULL;
  const struct prov_route *r = &t->routes[(size_t)i * t->npops + j];
  return r->nlinks >= 0 ? r : NULL;
}

int prov_topology_link_on_route(const struct prov_topology *t, int e, int i, int j) {
  const struct prov_route *r = prov_topology_route(t, i, j);
  if (!r)
    return 0;
  const int *links = prov_route_links(t, r);
  for (int h = 0; h < r->nlinks; h++)
    if (links[h] == e)
      return 1;
  return 0;
}

int prov_topology_route_costs(const struct prov_topology *t, const double *link_cost, double *out, char *err, size_t errlen) {
  if (!t->finished)
    return proto_fail(err, errlen, "topology is not finished");
  int n = t->npops;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      const struct prov_route *r = prov_topology_route(t, i, j);
      double                   c = 0;
      if (!r) {
        c = INFINITY;
      } else {
        const int *links = prov_route_links(t, r);
        for (int h = 0; h < r->nlinks; h++)
          c += link_cost ? link_cost[links[h]] : (double)t->links[links[h]].igp_weight;
      }
      out[(size_t)i * n + j] = c;
    }
  return 0;
}
