/* Internals shared by the two optimizer solvers (optimize.c, lp_exact.c);
 * not part of the public API. */
#ifndef P4P_OPT_COMMON_H
#define P4P_OPT_COMMON_H

#include <stddef.h>

#include "errbuf.h"

#include "optimize.h"

/* One swarm reduced to its residual supply and demand PoPs. */
struct p4p_opt_swarm {
  int     ns, nd;
  int    *sp, *dp;   /* PoP index of supply a / demand b */
  double *u, *d;     /* residual supply u[a], demand d[b], kbit/s */
  double  t_opt;     /* level-2 optimum */
};

struct p4p_opt_prep {
  int     n, nswarms;
  struct p4p_opt_swarm *swarms;
  char   *usable;    /* n x n: pair may carry swarm traffic */
  double *mult;      /* m_e per link */
  int     fair_plan; /* params->fair_plan */
  double  fair_slack;
};


/* Validates the input and computes supply/demand lists and T_opt. */
int p4p_opt_prepare(const struct p4p_topology *t,
                    const struct p4p_swarm_input *swarms, int nswarms,
                    const struct p4p_opt_params *params,
                    struct p4p_opt_prep *p, char *err, size_t errlen);
void p4p_opt_prep_free(struct p4p_opt_prep *p);

/* cost[a * nd + b] = route_price[sp[a] * n + dp[b]] (0 when route_price is
 * NULL), INFINITY for unusable pairs. */
void p4p_opt_pair_costs(const struct p4p_opt_prep *p,
                        const struct p4p_opt_swarm *s,
                        const double *route_price, double *cost);

int p4p_opt_result_alloc(const struct p4p_topology *t, int nswarms,
                         struct p4p_opt_result *r, char *err, size_t errlen);

/* Given the t matrices in r, fills T_opt, link loads, MLU, objective and
 * the weight rows; with params->fair_plan it first replaces the plans by
 * the fair plan.  Returns the objective of the solver's own plans (the
 * optimum, up to the solver's gap), which the fair plan may exceed by at
 * most fair_slack. */
double p4p_opt_result_finish(const struct p4p_topology *t,
                           const struct p4p_swarm_input *swarms,
                           const struct p4p_opt_prep *p,
                           struct p4p_opt_result *r);

#endif
