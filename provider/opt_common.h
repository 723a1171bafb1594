/* Internals shared by the two optimizer solvers (optimize.c, lp_exact.c);
 * not part of the public API. */
#ifndef PROV_OPT_COMMON_H
#define PROV_OPT_COMMON_H

#include <stddef.h>

#include "proto/errbuf.h"

#include "optimize.h"

/* One swarm reduced to its residual supply and demand PoPs. */
struct prov_opt_swarm {
  int     ns, nd;
  int    *sp, *dp; /* PoP index of supply a / demand b */
  double *u, *d;   /* residual supply u[a], demand d[b], kbit/s */
  double  t_opt;   /* level-2 optimum */
};

struct prov_opt_prep {
  int                    n, nswarms;
  struct prov_opt_swarm *swarms;
  char                  *usable;    /* n x n: pair may carry swarm traffic */
  double                *mult;      /* m_e per link */
  int                    fair_plan; /* params->fair_plan */
  double                 fair_slack;
};

/* Validates the input and computes supply/demand lists and T_opt. */
int  prov_opt_prepare(const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms, const struct prov_opt_params *params,
                      struct prov_opt_prep *p, char *err, size_t errlen);
void prov_opt_prep_free(struct prov_opt_prep *p);

/* cost[a * nd + b] = route_price[sp[a] * n + dp[b]] (0 when route_price is
 * NULL), INFINITY for unusable pairs. */
void prov_opt_pair_costs(const struct prov_opt_prep *p, const struct prov_opt_swarm *s, const double *route_price, double *cost);

int prov_opt_result_alloc(const struct prov_topology *t, int nswarms, struct prov_opt_result *r, char *err, size_t errlen);

/* Given the t matrices in r, fills T_opt, link loads, MLU, objective and
 * the weight rows; with params->fair_plan it first replaces the plans by
 * the fair plan.  Returns the objective of the solver's own plans (the
 * optimum, up to the solver's gap), which the fair plan may exceed by at
 * most fair_slack. */
double prov_opt_result_finish(const struct prov_topology *t, const struct prov_swarm_input *swarms, const struct prov_opt_prep *p, struct prov_opt_result *r);

#endif
