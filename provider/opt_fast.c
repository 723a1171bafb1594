/* The fast P4P optimizer: Dantzig-Wolfe column generation over
 * per-swarm transportation plans, with congestion-aware columns and a
 * proven stopping gap (docs/OPTIMIZER.md). */
#include "opt_common.h"
#include "optimize.h"
#include "transport.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Master LP over convex combinations of whole per-swarm plans:
 *   min alpha  s.t.  sum_c lambda_c a_ec - alpha <= -m_e b_e / c_e  (links)
 *                    sum_{c of swarm k} lambda_c = 1               (swarms)
 * where a_ec = m_e load_e(plan c) / c_e.  Every plan moves exactly T_opt
 * and meets the supply/demand bounds, so every master solution does too.
 * Pricing: with link duals y_e (>= 0, sum <= 1) a pair costs the sum of
 * y_e m_e / c_e over its route, and each swarm's cheapest plan is a
 * transportation problem.  Weak duality gives the lower bound
 *   L(y) = sum_e y_e m_e b_e / c_e + sum_k min-cost_k(y)
 * so the solver stops with a proven gap. */

struct prov_optimizer {
  int     nlinks;
  double *price; /* y_e of the last solve, warm start */
};

struct prov_optimizer *prov_optimizer_new(void) {
  return calloc(1, sizeof(struct prov_optimizer));
}

void prov_optimizer_free(struct prov_optimizer *o) {
  if (!o)
    return;
  free(o->price);
  free(o);
}

/* generated plans, stored sparsely */
struct colpool {
  int     ncols, cap;
  int    *swarm; /* owner of column c */
  int    *age;   /* consecutive master solves it stayed nonbasic */
  size_t *off;   /* entries off[c] .. off[c+1]-1 */
  size_t  nent, cap_ent;
  int    *ei, *ej; /* PoP indices */
  double *ev;      /* kbit/s */
};

static void colpool_free(struct colpool *cp) {
  free(cp->swarm);
  free(cp->age);
  free(cp->off);
  free(cp->ei);
  free(cp->ej);
  free(cp->ev);
}

static int colpool_add(struct colpool *cp, int k, const struct prov_opt_swarm *s, const double *flow) {
  if (cp->ncols + 1 >= cp->cap) {
    int  cap = cp->cap ? 2 * cp->cap : 1024;
    int *sw  = realloc(cp->swarm, (size_t)cap * sizeof *sw);
    if (!sw)
      return -1;
    cp->swarm = sw;
    int *age  = realloc(cp->age, (size_t)cap * sizeof *age);
    if (!age)
      return -1;
    cp->age     = age;
    size_t *off = realloc(cp->off, (size_t)(cap + 1) * sizeof *off);
    if (!off)
      return -1;
    cp->off = off;
    cp->cap = cap;
    if (cp->ncols == 0)
      cp->off[0] = 0;
  }
  size_t need = cp->nent + (size_t)s->ns * s->nd;
  if (need > cp->cap_ent) {
    size_t cap = cp->cap_ent ? 2 * cp->cap_ent : 16384;
    while (cap < need)
      cap *= 2;
    int *ei = realloc(cp->ei, cap * sizeof *ei);
    if (!ei)
      return -1;
    cp->ei  = ei;
    int *ej = realloc(cp->ej, cap * sizeof *ej);
    if (!ej)
      return -1;
    cp->ej     = ej;
    double *ev = realloc(cp->ev, cap * sizeof *ev);
    if (!ev)
      return -1;
    cp->ev      = ev;
    cp->cap_ent = cap;
  }
  for (int a = 0; a < s->ns; a++)
    for (int b = 0; b < s->nd; b++) {
      double v = flow[(size_t)a * s->nd + b];
      if (v > 0) {
        cp->ei[cp->nent]   = s->sp[a];
        cp->ej[cp->nent]   = s->dp[b];
        cp->ev[cp->nent++] = v;
      }
    }
  cp->age[cp->ncols]     = 0;
  cp->swarm[cp->ncols++] = k;
  cp->off[cp->ncols]     = cp->nent;
  return 0;
}

/* Drops the master columns that stayed nonbasic for PRUNE_AGE solves in a
 * row, from GLPK and the pool alike (order kept, so pool column c stays
 * GLPK column c + 2).  Call it just before a solve: columns added since
 * the last one (index >= nsolved) are not judged.  Deleting nonbasic
 * columns keeps the basis valid.  Every simplex iteration prices all
 * columns, so this cut the time at 1000 swarms by ~30 %. */
#define PRUNE_AGE 2 /* 1 made rounds cycle (27 instead of 8) */

static int colpool_prune(struct colpool *cp, glp_prob *lp, int nsolved) {
  int *num = malloc(((size_t)cp->ncols + 1) * sizeof *num);
  if (!num)
    return -1;
  int    ndel = 0, w = 0;
  size_t went = 0;
  for (int c = 0; c < cp->ncols; c++) {
    if (c < nsolved) {
      if (glp_get_col_stat(lp, c + 2) == GLP_BS)
        cp->age[c] = 0;
      else
        cp->age[c]++;
    }
    if (cp->age[c] >= PRUNE_AGE) {
      num[++ndel] = c + 2;
      continue;
    }
    size_t from = cp->off[c], to = cp->off[c + 1];
    cp->swarm[w] = cp->swarm[c];
    cp->age[w]   = cp->age[c];
    cp->off[w]   = went;
    for (size_t q = from; q < to; q++, went++) {
      cp->ei[went] = cp->ei[q];
      cp->ej[went] = cp->ej[q];
      cp->ev[went] = cp->ev[q];
    }
    w++;
  }
  cp->ncols  = w;
  cp->off[w] = went;
  cp->nent   = went;
  if (ndel)
    glp_del_cols(lp, ndel, num);
  free(num);
  return ndel;
}

/* scratch for one solve */
struct dw {
  const struct prov_topology *t;
  const struct prov_opt_prep *p;
  glp_prob                   *lp;
  int                         nrows_link;
  int                        *link_row;    /* link -> master row, 0 = not in objective */
  int                        *row_link;    /* master row -> link */
  int                        *swarm_row;   /* swarm -> convexity row, 0 = inactive */
  double                     *y;           /* link duals being priced (utilization units) */
  double                     *pi;          /* per link price per kbit/s (y_e m_e / c_e) */
  double                     *tie;         /* per link tie-break price per kbit/s */
  double                     *rp;          /* route price, n x n */
  double                     *rtie;        /* route tie-break price, n x n */
  double                     *cost, *flow; /* transportation scratch, n x n */
  double                     *acc;         /* per link load of one column */
  int                        *ind;         /* GLPK column scratch (1-based) */
  double                     *val;
  struct prov_transport_ws    ws;
  struct colpool              cols;
};

static void route_prices(const struct dw *dw, const double *link_price, double *out) {
  const struct prov_topology *t = dw->t;
  int                         n = t->npops;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      size_t ij = (size_t)i * n + j;
      double c  = 0;
      if (dw->p->usable[ij]) {
        const struct prov_route *r     = &t->routes[ij];
        const int               *links = prov_route_links(t, r);
        for (int h = 0; h < r->nlinks; h++)
          c += link_price[links[h]];
      }
      out[ij] = c;
    }
}

/* Adds the plan in dw->flow for swarm k as a master column. */
static int add_column(struct dw *dw, int k) {
  const struct prov_topology  *t = dw->t;
  const struct prov_opt_swarm *s = &dw->p->swarms[k];
  if (colpool_add(&dw->cols, k, s, dw->flow) < 0)
    return -1;
  int c = dw->cols.ncols - 1;
  memset(dw->acc, 0, (size_t)t->nlinks * sizeof *dw->acc);
  for (size_t q = dw->cols.off[c]; q < dw->cols.off[c + 1]; q++) {
    const struct prov_route *r     = &t->routes[(size_t)dw->cols.ei[q] * t->npops + dw->cols.ej[q]];
    const int               *links = prov_route_links(t, r);
    for (int h = 0; h < r->nlinks; h++)
      dw->acc[links[h]] += dw->cols.ev[q];
  }
  int len = 0;
  for (int e = 0; e < t->nlinks; e++)
    if (dw->link_row[e] && dw->acc[e] > 0) {
      len++;
      dw->ind[len] = dw->link_row[e];
      dw->val[len] = dw->p->mult[e] * dw->acc[e] / t->links[e].capacity_kbps;
    }
  len++;
  dw->ind[len] = dw->swarm_row[k];
  dw->val[len] = 1.0;
  int j        = glp_add_cols(dw->lp, 1);
  glp_set_col_bnds(dw->lp, j, GLP_LO, 0.0, 0.0);
  glp_set_mat_col(dw->lp, j, len, dw->ind, dw->val);
  return 0;
}

/* Cheapest plan of swarm k under route prices rp (+ tie-break rtie) into
 * dw->flow; returns its cost under rp alone and, in *tie_slack, how much
 * the tie-break can have raised it above the true minimum. */
static double price_swarm(struct dw *dw, int k, double *tie_slack) {
  const struct prov_opt_swarm *s    = &dw->p->swarms[k];
  int                          n    = dw->p->n;
  double                       tmax = 0;
  for (int a = 0; a < s->ns; a++)
    for (int b = 0; b < s->nd; b++) {
      size_t ij = (size_t)s->sp[a] * n + s->dp[b];
      double c  = INFINITY;
      if (dw->p->usable[ij]) {
        c    = dw->rp[ij] + dw->rtie[ij];
        tmax = fmax(tmax, dw->rtie[ij]);
      }
      dw->cost[(size_t)a * s->nd + b] = c;
    }
  double f = prov_transport_solve(&dw->ws, s->ns, s->nd, s->u, s->d, dw->cost, dw->flow);
  if (f < 0)
    return NAN;
  /* the plan moves T_opt up to rounding; make it exact */
  if (f > 0 && f != s->t_opt) {
    double scale = s->t_opt / f;
    for (size_t q = 0; q < (size_t)s->ns * s->nd; q++)
      dw->flow[q] *= scale;
  }
  double v = 0;
  for (int a = 0; a < s->ns; a++)
    for (int b = 0; b < s->nd; b++) {
      double x = dw->flow[(size_t)a * s->nd + b];
      if (x > 0)
        v += x * dw->rp[(size_t)s->sp[a] * n + s->dp[b]];
    }
  *tie_slack = s->t_opt * tmax;
  return v;
}

/* One pricing pass at link duals y (>= 0, sum <= 1): every active
 * swarm's cheapest plan.  With the master's swarm duals given (sigma
 * non-NULL) a plan enters only if its reduced cost is negative; without,
 * every plan enters.  Returns the Lagrangian bound L(y), or NAN when out
 * of memory; *added counts new columns. */
static double price_round(struct dw *dw, const double *y, int with_sigma, double ub, int *added) {
  const struct prov_topology *t     = dw->t;
  const struct prov_opt_prep *p     = dw->p;
  int                         n     = p->n;
  double                      bound = 0;
  for (int e = 0; e < t->nlinks; e++) {
    dw->pi[e] = 0;
    if (!dw->link_row[e])
      continue;
    double per = p->mult[e] / t->links[e].capacity_kbps;
    dw->pi[e]  = y[e] * per;
    bound += y[e] * per * t->links[e].background_kbps;
  }
  route_prices(dw, dw->pi, dw->rp);
  for (int k = 0; k < p->nswarms; k++) {
    if (!dw->swarm_row[k])
      continue;
    double slack, v = price_swarm(dw, k, &slack);
    if (isnan(v))
      return NAN;
    double                       tie_cost = 0;
    const struct prov_opt_swarm *s        = &p->swarms[k];
    for (int a = 0; a < s->ns; a++)
      for (int b = 0; b < s->nd; b++)
        tie_cost += dw->flow[(size_t)a * s->nd + b] * dw->rtie[(size_t)s->sp[a] * n + s->dp[b]];
    /* the tie-broken plan is optimal for prices rp + rtie, so the true
     * minimum under rp is at least its cost there minus the slack */
    bound += fmax(0, v + tie_cost - slack);
    if (with_sigma && v >= glp_get_row_dual(dw->lp, dw->swarm_row[k]) - 1e-12 * fmax(ub, 1e-12))
      continue;
    if (add_column(dw, k) < 0)
      return NAN;
    (*added)++;
  }
  return bound;
}

/* Congestion-aware duals from the master's current primal: weight each
 * link by exp(kappa (util_e - alpha) / alpha), normalized to sum 1, so
 * the links at or near the current maximum dominate.  Pricing there
 * yields plans that move traffic off every nearly-full link at once,
 * which plain LP duals (zero on all links but the binding ones) do not;
 * it cut the rounds on AttMpls with 500 swarms from 12 to 3. */
#define CONGESTION_KAPPA 30.0

static void congestion_duals(const struct dw *dw, double *y) {
  const struct prov_topology *t     = dw->t;
  double                      alpha = glp_get_col_prim(dw->lp, 1), sum = 0;
  for (int e = 0; e < t->nlinks; e++) {
    y[e] = 0;
    if (!dw->link_row[e])
      continue;
    /* row activity is sum_c a_ec lambda_c - alpha */
    double util = glp_get_row_prim(dw->lp, dw->link_row[e]) + alpha + dw->p->mult[e] * t->links[e].background_kbps / t->links[e].capacity_kbps;
    y[e]        = exp(CONGESTION_KAPPA * (util - alpha) / fmax(alpha, 1e-300));
    sum += y[e];
  }
  for (int e = 0; e < t->nlinks && sum > 0; e++)
    y[e] /= sum;
}

static void dw_free(struct dw *dw) {
  if (dw->lp)
    glp_delete_prob(dw->lp);
  free(dw->link_row);
  free(dw->row_link);
  free(dw->swarm_row);
  free(dw->y);
  free(dw->pi);
  free(dw->tie);
  free(dw->rp);
  free(dw->rtie);
  free(dw->cost);
  free(dw->flow);
  free(dw->acc);
  free(dw->ind);
  free(dw->val);
  prov_transport_ws_free(&dw->ws);
  colpool_free(&dw->cols);
}

/* relative size of the tie-break prices: small enough that the bound
 * they cost is negligible, large enough to order equal-price routes */
#define TIE_REL 1e-9

int prov_optimizer_solve(struct prov_optimizer *o, const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms,
                         const struct prov_opt_params *params, struct prov_opt_result *res, char *err, size_t errlen) {
  struct prov_opt_prep p;
  struct dw            dw;
  int                  term = -1; /* GLPK terminal setting to restore, -1 = untouched */
  memset(&dw, 0, sizeof dw);
  memset(res, 0, sizeof *res);
  if (prov_opt_prepare(t, swarms, nswarms, params, &p, err, errlen) < 0)
    return -1;
  if (prov_opt_result_alloc(t, nswarms, res, err, errlen) < 0) {
    prov_opt_prep_free(&p);
    return -1;
  }
  double rel_gap    = params && params->rel_gap > 0 ? params->rel_gap : 1e-3;
  int    max_rounds = params && params->max_rounds > 0 ? params->max_rounds : 200;
  int    n = t->npops, L = t->nlinks;
  size_t nn = (size_t)n * n, nl = (size_t)(L ? L : 1);
  dw.t = t;
  dw.p = &p;
  prov_transport_ws_init(&dw.ws);
  dw.link_row  = calloc(nl, sizeof *dw.link_row);
  dw.row_link  = calloc(nl + 1, sizeof *dw.row_link);
  dw.swarm_row = calloc((size_t)(nswarms ? nswarms : 1), sizeof *dw.swarm_row);
  dw.pi        = calloc(nl, sizeof *dw.pi);
  dw.y         = calloc(nl, sizeof *dw.y);
  dw.tie       = calloc(nl, sizeof *dw.tie);
  dw.rp        = calloc(nn, sizeof *dw.rp);
  dw.rtie      = calloc(nn, sizeof *dw.rtie);
  dw.cost      = malloc(nn * sizeof *dw.cost);
  dw.flow      = malloc(nn * sizeof *dw.flow);
  dw.acc       = malloc(nl * sizeof *dw.acc);
  dw.ind       = malloc((nl + 2) * sizeof *dw.ind);
  dw.val       = malloc((nl + 2) * sizeof *dw.val);
  if (!dw.link_row || !dw.row_link || !dw.swarm_row || !dw.pi || !dw.tie || !dw.y || !dw.rp || !dw.rtie || !dw.cost || !dw.flow || !dw.acc || !dw.ind ||
      !dw.val)
    goto oom;

  /* master rows */
  double base = 0; /* objective from background alone: a lower bound */
  for (int e = 0; e < L; e++) {
    double c = t->links[e].capacity_kbps;
    if (c > 0 && p.mult[e] > 0) {
      dw.link_row[e]             = ++dw.nrows_link;
      dw.row_link[dw.nrows_link] = e;
      base                       = fmax(base, p.mult[e] * t->links[e].background_kbps / c);
    }
    /* links outside the objective (m_e = 0) still break ties, as if
     * m_e = 1, so free links are not loaded for nothing */
    if (c > 0)
      dw.tie[e] = TIE_REL * (p.mult[e] > 0 ? p.mult[e] : 1.0) / c;
  }
  int nrows = dw.nrows_link, nactive = 0;
  for (int k = 0; k < nswarms; k++)
    if (p.swarms[k].t_opt > 0) {
      dw.swarm_row[k] = ++nrows;
      nactive++;
    }
  route_prices(&dw, dw.tie, dw.rtie);

  if (nactive == 0 || dw.nrows_link == 0) {
    /* nothing couples the swarms: any maximum plan is optimal; take the
     * one with the cheapest routes (tie-break prices) */
    memset(dw.rp, 0, nn * sizeof *dw.rp);
    for (int k = 0; k < nswarms; k++) {
      const struct prov_opt_swarm *s = &p.swarms[k];
      double                       slack;
      if (s->t_opt <= 0)
        continue;
      if (isnan(price_swarm(&dw, k, &slack)))
        goto oom;
      for (int a = 0; a < s->ns; a++)
        for (int b = 0; b < s->nd; b++)
          res->swarms[k].t[(size_t)s->sp[a] * n + s->dp[b]] = dw.flow[(size_t)a * s->nd + b];
    }
    res->lower_bound = prov_opt_result_finish(t, swarms, &p, res);
    res->rounds      = 0;
    dw_free(&dw);
    prov_opt_prep_free(&p);
    return 0;
  }

  dw.lp = glp_create_prob();
  glp_set_obj_dir(dw.lp, GLP_MIN);
  glp_add_rows(dw.lp, nrows);
  for (int r = 1; r <= dw.nrows_link; r++) {
    int e = dw.row_link[r];
    glp_set_row_bnds(dw.lp, r, GLP_UP, 0.0, -p.mult[e] * t->links[e].background_kbps / t->links[e].capacity_kbps);
  }
  for (int r = dw.nrows_link + 1; r <= nrows; r++)
    glp_set_row_bnds(dw.lp, r, GLP_FX, 1.0, 1.0);
  glp_add_cols(dw.lp, 1); /* alpha */
  glp_set_col_bnds(dw.lp, 1, GLP_LO, 0.0, 0.0);
  glp_set_obj_coef(dw.lp, 1, 1.0);
  for (int r = 1; r <= dw.nrows_link; r++) {
    dw.ind[r] = r;
    dw.val[r] = -1.0;
  }
  glp_set_mat_col(dw.lp, 1, dw.nrows_link, dw.ind, dw.val);

  /* initial columns: uniform duals (each plan minimizes its sum of link
   * utilizations), and the previous solve's duals when there are any;
   * both are valid points for the Lagrangian bound too */
  double lb = base;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !(o && o->price && o->nlinks == L))
      break;
    for (int e = 0; e < L; e++)
      dw.y[e] = !dw.link_row[e] ? 0 : pass == 0 ? 1.0 / dw.nrows_link : o->price[e];
    int    added = 0;
    double bound = price_round(&dw, dw.y, 0, 0, &added);
    if (isnan(bound))
      goto oom;
    lb = fmax(lb, bound);
  }

  glp_smcp smcp;
  glp_init_smcp(&smcp);
  smcp.msg_lev  = GLP_MSG_OFF;
  smcp.presolve = GLP_OFF;
  /* GLPK's basis and scaling routines print unless terminal output is
   * off; library code must not print */
  term          = glp_term_out(GLP_OFF);
  glp_adv_basis(dw.lp, 0);
  double ub    = INFINITY;
  int    round = 0, nsolved = 0;
  for (; round < max_rounds; round++) {
    if (round > 0 && colpool_prune(&dw.cols, dw.lp, nsolved) < 0)
      goto oom;
    int rc = glp_simplex(dw.lp, &smcp);
    if (rc != 0 || glp_get_status(dw.lp) != GLP_OPT) {
      /* a warm basis can go singular; retry from scratch once */
      glp_adv_basis(dw.lp, 0);
      rc = glp_simplex(dw.lp, &smcp);
      if (rc != 0 || glp_get_status(dw.lp) != GLP_OPT) {
        proto_fail(err, errlen, "GLPK master LP failed (code %d)", rc);
        goto fail;
      }
    }
    ub      = glp_get_obj_val(dw.lp);
    nsolved = dw.cols.ncols;
    /* duals of "<=" rows in a minimization are <= 0 */
    for (int e = 0; e < L; e++)
      dw.y[e] = res->link_price[e] = dw.link_row[e] ? fmax(0, -glp_get_row_dual(dw.lp, dw.link_row[e])) : 0;
    int    added = 0;
    double bound = price_round(&dw, dw.y, 1, ub, &added);
    if (isnan(bound))
      goto oom;
    lb = fmax(lb, bound);
    if (!added || ub - lb <= rel_gap * ub)
      break; /* no improving plan: the master is optimal */
    congestion_duals(&dw, dw.y);
    bound = price_round(&dw, dw.y, 0, ub, &added);
    if (isnan(bound))
      goto oom;
    lb = fmax(lb, bound);
    if (ub - lb <= rel_gap * ub)
      break;
  }
  glp_term_out(term);
  term = -1;
  if (round == max_rounds)
    round--; /* count rounds actually solved */

  /* primal: each swarm's plan is its convex combination of columns;
   * renormalize the lambdas so the plan moves exactly T_opt */
  double *lsum = calloc((size_t)(nswarms ? nswarms : 1), sizeof *lsum);
  if (!lsum)
    goto oom;
  int     ncols = dw.cols.ncols;
  double *lam   = malloc((size_t)(ncols ? ncols : 1) * sizeof *lam);
  if (!lam) {
    free(lsum);
    goto oom;
  }
  for (int c = 0; c < ncols; c++) {
    lam[c] = fmax(0, glp_get_col_prim(dw.lp, c + 2));
    lsum[dw.cols.swarm[c]] += lam[c];
  }
  for (int c = 0; c < ncols; c++) {
    int k = dw.cols.swarm[c];
    if (lam[c] <= 0 || lsum[k] <= 0)
      continue;
    double  f   = lam[c] / lsum[k];
    double *tij = res->swarms[k].t;
    for (size_t q = dw.cols.off[c]; q < dw.cols.off[c + 1]; q++)
      tij[(size_t)dw.cols.ei[q] * n + dw.cols.ej[q]] += f * dw.cols.ev[q];
  }
  free(lam);
  free(lsum);
  res->lower_bound = fmin(lb, prov_opt_result_finish(t, swarms, &p, res));
  res->rounds      = round + 1;
  if (o) {
    double *pr = realloc(o->price, nl * sizeof *pr);
    if (pr) {
      memcpy(pr, res->link_price, nl * sizeof *pr);
      o->price  = pr;
      o->nlinks = L;
    }
  }
  dw_free(&dw);
  prov_opt_prep_free(&p);
  return 0;
oom:
  proto_fail(err, errlen, "out of memory");
fail:
  if (term >= 0)
    glp_term_out(term);
  dw_free(&dw);
  prov_opt_prep_free(&p);
  prov_opt_result_free(res);
  return -1;
}
