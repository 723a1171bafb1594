/* pdistance: the p-distances a provider publishes, and the default matrix
 * it derives from them.
 *
 * Route costs (price x time-of-day factor summed over the IGP route) are
 * normalized so that the costliest route off-peak costs PROV_COST_SCALE;
 * the divisor does not depend on the hour, so an avoided link raises
 * exactly the pairs routed over it.  The default matrix (guidance for a
 * swarm nobody optimized) is exp(-cost / PROV_DEFAULT_TEMPERATURE) over
 * those costs, each PoP's weight split equally over its PIDs.  Written
 * once for the iTracker, which publishes them, and the simulator, which
 * hands the tracker the same matrix. */
#ifndef PROV_PDISTANCE_H
#define PROV_PDISTANCE_H

#include <stddef.h>

struct prov_config;
struct prov_topology;

/* The costliest route off-peak costs this. */
#define PROV_COST_SCALE          100.0
/* Normalized cost of an unreachable pair: v1 costs are finite. */
#define PROV_COST_UNREACHABLE    1e6
/* Default weights: w_ij ∝ exp(-cost_ij / T) over normalized costs. */
#define PROV_DEFAULT_TEMPERATURE 25.0

/* The divisor: the costliest finite route with every link at its plain
 * price (no time-of-day factor); 1 when that is 0 (one PoP, zero prices).
 * 0 or -1 with the reason in err. */
int prov_cost_norm(const struct prov_config *pr, const struct prov_topology *t, double *norm, char *err, size_t errlen);

/* Normalized PoP-to-PoP costs at hour (0..23): PROV_COST_SCALE x route
 * cost / norm, PROV_COST_UNREACHABLE when unreachable; npops^2 values.
 * 0 or -1 with the reason in err. */
int prov_norm_pop_costs(const struct prov_config *pr, const struct prov_topology *t, int hour, double norm, double *cost, char *err, size_t errlen);

/* The default matrix as PID rows (npids^2, row-major) from normalized PoP
 * costs: prov_default_weights() over every PoP, then prov_expand_pop_rows()
 * with equal PID shares.  0 or -1 with the reason in err. */
int prov_default_pid_rows(const struct prov_config *pr, const struct prov_topology *t, const double *norm_cost, double *pid_w, char *err, size_t errlen);

#endif
