/* The P4P bi-level optimization (paper section 3.1) and peering weights.
 *
 * Per swarm k and PoP i the caller gives the aggregate upload and download
 * capacity of the swarm's peers there, ũ_i and d̃_i (kbit/s).  Residual
 * supply u_i = max(ũ_i - d̃_i, 0) and demand d_i = max(d̃_i - ũ_i, 0).
 *
 *   Level 2, per swarm:  T_opt = max sum_{i!=j} t_ij
 *                        s.t. sum_j t_ij <= u_i, sum_j t_ji <= d_i, t >= 0,
 *                        t_ij = 0 when j is unreachable from i or the route
 *                        i->j crosses a zero-capacity link.
 *   Level 1, all swarms: minimize max_e m_e (b_e + sum_k sum_ij t^k_ij
 *                        I_e(i,j)) / c_e  s.t. every swarm moves T_opt and
 *                        the level-2 constraints.
 *
 * m_e are optional per-link multipliers (default 1): m_e > 1 makes link e
 * look fuller than it is, so the optimum moves traffic off it (time-of-day
 * link avoidance); m_e = 0 takes the link out of the objective.  Links with
 * c_e = 0 are never in the objective and carry no swarm traffic.
 *
 * prov_optimizer_solve() solves it by decomposing it per swarm (column generation with
 * small transportation subproblems) and stops at a proven relative gap.
 * See docs/OPTIMIZER.md. */
#ifndef PROV_OPTIMIZE_H
#define PROV_OPTIMIZE_H

#include <stddef.h>

#include "topology.h"

/* One swarm's input: arrays of npops values, kbit/s, >= 0. */
struct prov_swarm_input {
  const double *up_kbps;   /* ũ_i */
  const double *down_kbps; /* d̃_i */
  const double *peers;     /* n_i, the swarm's peers at PoP i (only the
                              weight rows use it); NULL = 1 per PoP */
};

struct prov_opt_params {
  const double *link_mult; /* m_e per link, >= 0; NULL = all 1 */
  double        rel_gap;   /* fast solver: stop when (obj - bound) <=
                              rel_gap * obj; 0 = default 1e-3 */
  int max_rounds;          /* fast solver: pricing rounds; 0 = default 200 */
  /* Fair plan (docs/OPTIMIZER.md, "Which optimum"): 1 = replace the
   * solver's plan by the proportional plan t_ij = T_opt (u_i / sum u)
   * (d_j / sum d), blended back towards the solver's plan only as far as
   * needed to keep the objective within fair_slack (utilization, absolute)
   * of the solver's.  The rows then do not depend on which of several
   * equal optima the LP returned.  0 = the solver's plan as found. */
  int    fair_plan;
  double fair_slack;
};

/* The fair_slack the iTracker and the simulator use: two points of
 * utilization are not worth a plan that depends on LP tie-breaking. */
#define P4P_FAIR_SLACK 0.02

/* Per-swarm answer.  Matrices are npops x npops, row-major [i * npops + j]. */
struct prov_swarm_plan {
  double  t_opt; /* level-2 optimum, kbit/s */
  double *t;     /* t_ij, kbit/s, zero diagonal */
  double *w;     /* weight rows (prov_weights_from_plan) */
};

struct prov_opt_result {
  int                     npops, nlinks, nswarms;
  struct prov_swarm_plan *swarms;
  double                 *link_load_kbps; /* b_e + all swarms' traffic on e */
  double                  mlu;            /* max over links with c_e > 0 of load / c_e */
  double                  objective;      /* max over links of m_e * load / c_e */
  double                  lower_bound;    /* proven lower bound on the optimal objective
                                             (equal to objective for the exact solver) */
  double *link_price;                     /* dual price of each link's capacity row,
                                             per unit of utilization; >= 0 */
  int rounds;                             /* pricing rounds (fast) or 1 (exact) */
};

void prov_opt_result_free(struct prov_opt_result *r);

/* T_opt of one swarm over topology t (which must be finished): the
 * maximum transportation flow from supply to demand PoPs over usable
 * pairs.  Returns -1 on bad input with a reason in err. */
double prov_swarm_t_opt(const struct prov_topology *t, const struct prov_swarm_input *sw, char *err, size_t errlen);

/* Fast solver.  A prov_optimizer keeps the link prices of its last solve to
 * warm-start the next one on the same topology (swarms may change freely).
 * One optimizer must not be used by two threads at once. */
struct prov_optimizer;

struct prov_optimizer *prov_optimizer_new(void);
void                   prov_optimizer_free(struct prov_optimizer *o);

int prov_optimizer_solve(struct prov_optimizer *o, const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms,
                         const struct prov_opt_params *params, struct prov_opt_result *res, char *err, size_t errlen);

/* Weight rows from a plan (docs/OPTIMIZER.md, "Weights"): a PoP-i peer
 * picks a PoP-j peer in proportion to the share of that peer's capacity
 * the plan devotes to PoP i, in either direction:
 *   w_ij ∝ n_j (t_ji / ũ_j + t_ij / d̃_j)        (j != i)
 *   w_ii ∝ n_i (L_i / ũ_i + L_i / d̃_i),  L_i = min(ũ_i, d̃_i)
 * (a term with a zero capacity is 0; n_j = sw->peers[j], or 1 when
 * peers is NULL).  A PoP whose capacity the plan sends mostly to i gets
 * i's picks, but only in proportion to its peers, so one PoP with a big
 * seed does not become every row's hub.  A row with nothing planned
 * falls back to n_j over the PoPs j reachable from i whose peers have
 * some capacity (ũ_j + d̃_j > 0), i included; if there is none,
 * w_ii = 1.  Every row is a probability row.  w gets npops^2 values. */
void prov_weights_from_plan(const struct prov_topology *t, const struct prov_swarm_input *sw, const double *tij, double *w);

/* Default weights for a swarm that is not optimized, from inter-PID costs:
 *   w_ij ∝ presence_j * exp(-cost_ij / temperature)
 * cost NULL = IGP route cost; presence NULL = 1 for every PoP; an infinite
 * cost (unreachable) gives 0.  A row whose terms are all 0 gets w_ii = 1.
 * temperature > 0 sets how sharply cheap PIDs are preferred (a cost of
 * `temperature` more means e^-1 the weight).  Returns 0 or -1. */
int prov_default_weights(const struct prov_topology *t, const double *cost, double temperature, const double *presence, double *w, char *err, size_t errlen);

#endif
