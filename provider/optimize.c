/* P4P bi-level optimization: what both solvers share (input checks,
 * supply/demand reduction, T_opt, results) and the weight rows.  The
 * fast solver is in opt_fast.c, the GLPK reference in lp_exact.c.
 * Problem statement: optimize.h; algorithm: docs/OPTIMIZER.md. */
#include "optimize.h"
#include "opt_common.h"
#include "transport.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Preparation shared by both solvers                                  */

static int check_swarm(const struct prov_topology *t, const struct prov_swarm_input *sw, int k, char *err, size_t errlen) {
  if (!sw->up_kbps || !sw->down_kbps)
    return proto_fail(err, errlen, "swarm %d: missing capacities", k);
  for (int i = 0; i < t->npops; i++) {
    double u = sw->up_kbps[i], d = sw->down_kbps[i];
    if (!isfinite(u) || !isfinite(d) || u < 0 || d < 0)
      return proto_fail(err, errlen,
                        "swarm %d, PoP %s: capacities must be "
                        "finite and >= 0",
                        k, t->pops[i].name);
    if (sw->peers && (!isfinite(sw->peers[i]) || sw->peers[i] < 0))
      return proto_fail(err, errlen,
                        "swarm %d, PoP %s: peer count must be "
                        "finite and >= 0",
                        k, t->pops[i].name);
  }
  return 0;
}

void prov_opt_prep_free(struct prov_opt_prep *p) {
  if (p->swarms)
    for (int k = 0; k < p->nswarms; k++) {
      free(p->swarms[k].sp);
      free(p->swarms[k].u);
    }
  free(p->swarms);
  free(p->usable);
  free(p->mult);
  memset(p, 0, sizeof *p);
}

int prov_opt_prepare(const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms, const struct prov_opt_params *params,
                     struct prov_opt_prep *p, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  if (!t->finished)
    return proto_fail(err, errlen, "topology is not finished");
  if (nswarms < 0 || (nswarms > 0 && !swarms))
    return proto_fail(err, errlen, "bad swarm list");
  int n      = t->npops;
  p->n       = n;
  p->nswarms = nswarms;
  p->usable  = calloc((size_t)n * n, 1);
  p->mult    = malloc((size_t)(t->nlinks ? t->nlinks : 1) * sizeof *p->mult);
  p->swarms  = calloc((size_t)(nswarms ? nswarms : 1), sizeof *p->swarms);
  if (!p->usable || !p->mult || !p->swarms) {
    prov_opt_prep_free(p);
    return proto_fail(err, errlen, "out of memory");
  }
  p->fair_plan  = params && params->fair_plan;
  p->fair_slack = params ? params->fair_slack : 0;
  if (p->fair_plan && (!isfinite(p->fair_slack) || p->fair_slack < 0)) {
    prov_opt_prep_free(p);
    return proto_fail(err, errlen, "fair_slack must be finite and >= 0");
  }
  for (int e = 0; e < t->nlinks; e++) {
    double m = params && params->link_mult ? params->link_mult[e] : 1.0;
    if (!isfinite(m) || m < 0) {
      prov_opt_prep_free(p);
      return proto_fail(err, errlen,
                        "link %d: multiplier must be finite "
                        "and >= 0",
                        e);
    }
    p->mult[e] = m;
  }
  /* a pair may carry swarm traffic when it has a route of links that can
   * carry traffic at all (c_e > 0) */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      const struct prov_route *r = prov_topology_route(t, i, j);
      if (i == j || !r)
        continue;
      const int *links = prov_route_links(t, r);
      int        ok    = 1;
      for (int h = 0; h < r->nlinks; h++)
        if (!(t->links[links[h]].capacity_kbps > 0))
          ok = 0;
      p->usable[(size_t)i * n + j] = (char)ok;
    }
  struct prov_transport_ws ws;
  prov_transport_ws_init(&ws);
  double *cost = NULL, *flow = NULL;
  size_t  cap = 0;
  for (int k = 0; k < nswarms; k++) {
    struct prov_opt_swarm *s = &p->swarms[k];
    if (check_swarm(t, &swarms[k], k, err, errlen) < 0)
      goto fail;
    s->sp = malloc(2 * (size_t)n * sizeof *s->sp);
    s->u  = malloc(2 * (size_t)n * sizeof *s->u);
    if (!s->sp || !s->u)
      goto oom;
    s->dp = s->sp + n;
    s->d  = s->u + n;
    for (int i = 0; i < n; i++) {
      double up = swarms[k].up_kbps[i], down = swarms[k].down_kbps[i];
      if (up > down) {
        s->sp[s->ns]  = i;
        s->u[s->ns++] = up - down;
      } else if (down > up) {
        s->dp[s->nd]  = i;
        s->d[s->nd++] = down - up;
      }
    }
    size_t pairs = (size_t)s->ns * s->nd;
    if (pairs > cap) {
      free(cost);
      free(flow);
      cost = malloc(pairs * sizeof *cost);
      flow = malloc(pairs * sizeof *flow);
      if (!cost || !flow)
        goto oom;
      cap = pairs;
    }
    int all_usable = 1;
    for (int a = 0; a < s->ns && all_usable; a++)
      for (int b = 0; b < s->nd; b++)
        if (!p->usable[(size_t)s->sp[a] * n + s->dp[b]]) {
          all_usable = 0;
          break;
        }
    /* Level 2.  With every pair usable this is min(sum u, sum d): no PoP
     * both supplies and demands (u_i > 0 forces d_i = 0), so supply and
     * demand PoPs are disjoint and every supply-demand pair is a
     * variable; sum t <= sum u and sum t <= sum d bound T from above,
     * and the greedy north-west-corner fill of the complete bipartite
     * table meets the smaller bound.  With unusable pairs it is the max
     * flow of the bipartite transportation network (computed with zero
     * costs).  Either way T_opt is over usable pairs only. */
    if (!s->ns || !s->nd) {
      s->t_opt = 0;
    } else if (all_usable) {
      double su = 0, sd = 0;
      for (int a = 0; a < s->ns; a++)
        su += s->u[a];
      for (int b = 0; b < s->nd; b++)
        sd += s->d[b];
      s->t_opt = fmin(su, sd);
    } else {
      prov_opt_pair_costs(p, s, NULL, cost);
      s->t_opt = prov_transport_solve(&ws, s->ns, s->nd, s->u, s->d, cost, flow);
      if (s->t_opt < 0)
        goto oom;
    }
  }
  free(cost);
  free(flow);
  prov_transport_ws_free(&ws);
  return 0;
oom:
  proto_fail(err, errlen, "out of memory");
fail:
  free(cost);
  free(flow);
  prov_transport_ws_free(&ws);
  prov_opt_prep_free(p);
  return -1;
}

void prov_opt_pair_costs(const struct prov_opt_prep *p, const struct prov_opt_swarm *s, const double *route_price, double *cost) {
  for (int a = 0; a < s->ns; a++)
    for (int b = 0; b < s->nd; b++) {
      size_t ij                   = (size_t)s->sp[a] * p->n + s->dp[b];
      cost[(size_t)a * s->nd + b] = !p->usable[ij] ? INFINITY : route_price ? route_price[ij] : 0.0;
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

void prov_opt_result_free(struct prov_opt_result *r) {
  if (r->swarms)
    for (int k = 0; k < r->nswarms; k++) {
      free(r->swarms[k].t);
      free(r->swarms[k].w);
    }
  free(r->swarms);
  free(r->link_load_kbps);
  free(r->link_price);
  memset(r, 0, sizeof *r);
}

int prov_opt_result_alloc(const struct prov_topology *t, int nswarms, struct prov_opt_result *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  size_t nn         = (size_t)t->npops * t->npops;
  size_t nl         = (size_t)(t->nlinks ? t->nlinks : 1);
  r->npops          = t->npops;
  r->nlinks         = t->nlinks;
  r->nswarms        = nswarms;
  r->swarms         = calloc((size_t)(nswarms ? nswarms : 1), sizeof *r->swarms);
  r->link_load_kbps = calloc(nl, sizeof *r->link_load_kbps);
  r->link_price     = calloc(nl, sizeof *r->link_price);
  if (!r->swarms || !r->link_load_kbps || !r->link_price)
    goto oom;
  for (int k = 0; k < nswarms; k++) {
    r->swarms[k].t = calloc(nn, sizeof(double));
    r->swarms[k].w = calloc(nn, sizeof(double));
    if (!r->swarms[k].t || !r->swarms[k].w)
      goto oom;
  }
  return 0;
oom:
  prov_opt_result_free(r);
  return proto_fail(err, errlen, "out of memory");
}

/* link loads of the plans in r (background included) into load */
static void plan_loads(const struct prov_topology *t, const struct prov_opt_result *r, double *const *plans, double *load) {
  int n = t->npops;
  for (int e = 0; e < t->nlinks; e++)
    load[e] = t->links[e].background_kbps;
  for (int k = 0; k < r->nswarms; k++) {
    const double *tij = plans ? plans[k] : r->swarms[k].t;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double x = tij[(size_t)i * n + j];
        if (x <= 0)
          continue;
        const struct prov_route *rt    = prov_topology_route(t, i, j);
        const int               *links = prov_route_links(t, rt);
        for (int h = 0; h < rt->nlinks; h++)
          load[links[h]] += x;
      }
  }
}

/* The fair plan (optimize.h): proportional plans P, blended with the
 * solver's plans S as t = theta P + (1 - theta) S with the largest theta
 * in [0, 1] that keeps every link of the objective at or below the
 * solver's objective + fair_slack.  Loads are linear in theta, so theta
 * is a minimum over links.  A swarm with an unusable supply-demand pair
 * keeps its solver plan (P = S).  Returns 0, -1 when out of memory (the
 * solver's plans then stand). */
static int fair_blend(const struct prov_topology *t, const struct prov_opt_prep *p, struct prov_opt_result *r) {
  int      n = t->npops, K = r->nswarms, L = t->nlinks;
  size_t   nn   = (size_t)n * n;
  double **prop = calloc((size_t)(K ? K : 1), sizeof *prop);
  double  *lp   = malloc((size_t)(L ? L : 1) * sizeof *lp);
  double  *ls   = malloc((size_t)(L ? L : 1) * sizeof *ls);
  int      rc   = -1;
  if (!prop || !lp || !ls)
    goto out;
  for (int k = 0; k < K; k++) {
    const struct prov_opt_swarm *s = &p->swarms[k];
    if (!(prop[k] = calloc(nn, sizeof **prop)))
      goto out;
    int usable = s->t_opt > 0;
    for (int a = 0; a < s->ns && usable; a++)
      for (int b = 0; b < s->nd; b++)
        usable = usable && p->usable[(size_t)s->sp[a] * n + s->dp[b]];
    if (!usable) {
      memcpy(prop[k], r->swarms[k].t, nn * sizeof **prop);
      continue;
    }
    double su = 0, sd = 0;
    for (int a = 0; a < s->ns; a++)
      su += s->u[a];
    for (int b = 0; b < s->nd; b++)
      sd += s->d[b];
    for (int a = 0; a < s->ns; a++)
      for (int b = 0; b < s->nd; b++)
        prop[k][(size_t)s->sp[a] * n + s->dp[b]] = s->t_opt * (s->u[a] / su) * (s->d[b] / sd);
  }
  plan_loads(t, r, prop, lp);
  plan_loads(t, r, NULL, ls);
  double allowed = 0;
  for (int e = 0; e < L; e++) {
    double c = t->links[e].capacity_kbps;
    if (c > 0 && p->mult[e] > 0)
      allowed = fmax(allowed, p->mult[e] * ls[e] / c);
  }
  allowed += p->fair_slack;
  double theta = 1;
  for (int e = 0; e < L; e++) {
    double c = t->links[e].capacity_kbps;
    if (!(c > 0) || !(p->mult[e] > 0) || lp[e] <= ls[e])
      continue;
    double cap = allowed * c / p->mult[e]; /* load the link may carry */
    if (lp[e] > cap)
      theta = fmin(theta, fmax(0, (cap - ls[e]) / (lp[e] - ls[e])));
  }
  for (int k = 0; k < K; k++)
    for (size_t q = 0; q < nn; q++)
      r->swarms[k].t[q] = theta * prop[k][q] + (1 - theta) * r->swarms[k].t[q];
  rc = 0;
out:
  for (int k = 0; prop && k < K; k++)
    free(prop[k]);
  free(prop);
  free(lp);
  free(ls);
  return rc;
}

/* max over links of m_e * load_e / c_e */
static double objective_of(const struct prov_topology *t, const struct prov_opt_prep *p, const double *load) {
  double obj = 0;
  for (int e = 0; e < t->nlinks; e++)
    if (t->links[e].capacity_kbps > 0)
      obj = fmax(obj, p->mult[e] * load[e] / t->links[e].capacity_kbps);
  return obj;
}

double prov_opt_result_finish(const struct prov_topology *t, const struct prov_swarm_input *swarms, const struct prov_opt_prep *p, struct prov_opt_result *r) {
  plan_loads(t, r, NULL, r->link_load_kbps);
  double solver_objective = objective_of(t, p, r->link_load_kbps);
  /* out of memory in fair_blend: the solver's plan stands */
  if (p->fair_plan && fair_blend(t, p, r) == 0)
    plan_loads(t, r, NULL, r->link_load_kbps);
  for (int k = 0; k < r->nswarms; k++) {
    r->swarms[k].t_opt = p->swarms[k].t_opt;
    prov_weights_from_plan(t, &swarms[k], r->swarms[k].t, r->swarms[k].w);
  }
  r->mlu       = 0;
  r->objective = 0;
  for (int e = 0; e < t->nlinks; e++) {
    double c = t->links[e].capacity_kbps;
    if (!(c > 0))
      continue;
    double util  = r->link_load_kbps[e] / c;
    r->mlu       = fmax(r->mlu, util);
    r->objective = fmax(r->objective, p->mult[e] * util);
  }
  return solver_objective;
}

/* ------------------------------------------------------------------ */
/* Weights                                                             */

/* share of x in capacity c, 0 when there is no capacity */
static double share_of(double x, double c) { return c > 0 && x > 0 ? x / c : 0; }

void prov_weights_from_plan(const struct prov_topology *t, const struct prov_swarm_input *sw, const double *tij, double *w) {
  int           n  = t->npops;
  const double *up = sw->up_kbps, *down = sw->down_kbps;
  for (int i = 0; i < n; i++) {
    double *row = w + (size_t)i * n, sum = 0;
    for (int j = 0; j < n; j++) {
      double peers = sw->peers ? sw->peers[j] : 1.0, s;
      if (j == i) {
        double local = fmin(up[i], down[i]);
        s            = share_of(local, up[i]) + share_of(local, down[i]);
      } else {
        /* j's upload planned for i, and j's download planned from i */
        s = share_of(tij[(size_t)j * n + i], up[j]) + share_of(tij[(size_t)i * n + j], down[j]);
      }
      row[j] = peers * s;
      sum += row[j];
    }
    if (sum > 0) {
      for (int j = 0; j < n; j++)
        row[j] /= sum;
      continue;
    }
    /* nothing planned: any peer of the swarm this PoP can reach is as
     * good as another */
    for (int j = 0; j < n; j++) {
      int ok = up[j] + down[j] > 0 && prov_topology_route(t, i, j) != NULL;
      row[j] = ok ? (sw->peers ? sw->peers[j] : 1.0) : 0;
      sum += row[j];
    }
    if (!(sum > 0)) {
      memset(row, 0, (size_t)n * sizeof *row);
      row[i] = 1;
    } else {
      for (int j = 0; j < n; j++)
        row[j] /= sum;
    }
  }
}

int prov_default_weights(const struct prov_topology *t, const double *cost, double temperature, const double *presence, double *w, char *err, size_t errlen) {
  if (!t->finished)
    return proto_fail(err, errlen, "topology is not finished");
  if (!(temperature > 0) || !isfinite(temperature))
    return proto_fail(err, errlen, "temperature must be > 0");
  int     n   = t->npops;
  double *igp = NULL;
  if (!cost) {
    igp = malloc((size_t)n * n * sizeof *igp);
    if (!igp)
      return proto_fail(err, errlen, "out of memory");
    prov_topology_route_costs(t, NULL, igp, NULL, 0);
    cost = igp;
  }
  for (int i = 0; i < n; i++) {
    double       *row = w + (size_t)i * n, sum = 0;
    const double *c = cost + (size_t)i * n;
    /* subtract the row's cheapest finite cost so exp() cannot underflow
     * every term to 0; it cancels in the normalization */
    double cmin     = INFINITY;
    for (int j = 0; j < n; j++)
      if ((!presence || presence[j] > 0) && c[j] < cmin)
        cmin = c[j];
    for (int j = 0; j < n; j++) {
      double pres = presence ? presence[j] : 1.0;
      double x    = 0;
      if (pres > 0 && isfinite(c[j]))
        x = pres * exp(-(c[j] - cmin) / temperature);
      row[j] = x;
      sum += x;
    }
    if (sum > 0) {
      for (int j = 0; j < n; j++)
        row[j] /= sum;
    } else {
      memset(row, 0, (size_t)n * sizeof *row);
      row[i] = 1;
    }
  }
  free(igp);
  return 0;
}

double prov_swarm_t_opt(const struct prov_topology *t, const struct prov_swarm_input *sw, char *err, size_t errlen) {
  struct prov_opt_prep p;
  if (prov_opt_prepare(t, sw, 1, NULL, &p, err, errlen) < 0)
    return -1;
  double v = p.swarms[0].t_opt;
  prov_opt_prep_free(&p);
  return v;
}
