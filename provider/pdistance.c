/* pdistance: normalized route costs and the default matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimize.h"
#include "pdistance.h"
#include "pidrows.h"
#include "provider.h"
#include "topology.h"

int prov_cost_norm(const struct prov_config *pr, const struct prov_topology *t, double *norm, char *err, size_t errlen) {
  size_t  n     = pr->npops;
  double *price = calloc(2 * pr->nlinks + 1, sizeof *price);
  double *ref   = malloc((n * n + 1) * sizeof *ref);
  int     rc    = -1;

  *norm         = 0;
  if (!price || !ref) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  for (size_t l = 0; l < pr->nlinks; l++)
    price[2 * l] = price[2 * l + 1] = pr->links[l].price;
  if (prov_topology_route_costs(t, price, ref, err, errlen))
    goto out;
  for (size_t k = 0; k < n * n; k++)
    if (isfinite(ref[k]))
      *norm = fmax(*norm, ref[k]);
  if (*norm <= 0)
    *norm = 1; /* one PoP or zero prices: all costs 0 */
  rc = 0;
out:
  free(price);
  free(ref);
  return rc;
}

int prov_norm_pop_costs(const struct prov_config *pr, const struct prov_topology *t, int hour, double norm, double *cost, char *err, size_t errlen) {
  size_t n = pr->npops;
  if (prov_pop_costs(pr, t, hour, cost, err, errlen))
    return -1;
  for (size_t k = 0; k < n * n; k++)
    cost[k] = isfinite(cost[k]) ? PROV_COST_SCALE * cost[k] / norm : PROV_COST_UNREACHABLE;
  return 0;
}

int prov_default_pid_rows(const struct prov_config *pr, const struct prov_topology *t, const double *norm_cost, double *pid_w, char *err, size_t errlen) {
  size_t  np = pr->npops;
  double *w  = malloc((np * np + 1) * sizeof *w);
  if (!w) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = prov_default_weights(t, norm_cost, PROV_DEFAULT_TEMPERATURE, NULL, w, err, errlen);
  if (!rc)
    prov_expand_pop_rows(pr, w, NULL, pid_w);
  free(w);
  return rc;
}
