/* The exact reference for the P4P optimization: the whole level-1 LP in
 * GLPK, superlinear in the number of swarms.  A test oracle: the unit tests
 * and the optimizer benchmark check the fast solver (provider/optimize.h)
 * against it; no daemon links it. */
#ifndef ORACLE_LP_EXACT_H
#define ORACLE_LP_EXACT_H

#include "provider/optimize.h"

/* Exact reference: the whole LP in GLPK.  Fills *res (free it with
 * prov_opt_result_free).  Returns 0, or -1 with a reason in err. */
int lp_exact_optimize(const struct prov_topology *t, const struct prov_swarm_input *swarms, int nswarms, const struct prov_opt_params *params,
                      struct prov_opt_result *res, char *err, size_t errlen);

#endif
