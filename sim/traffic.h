/* traffic: background traffic for the simulator's links.
 *
 * Gravity model (docs/SIMULATOR.md, "Background traffic"): PoP i sends PoP
 * j (i != j) traffic proportional to mass_i * mass_j, routed on the IGP
 * routes; the whole matrix is scaled so that the busiest link (largest
 * load / capacity over links with capacity) runs at `peak`.  A provider
 * would measure b_e; this is how the simulator makes it up. */
#ifndef SIM_TRAFFIC_H
#define SIM_TRAFFIC_H

#include <stddef.h>

#include "provider/topology.h"

/* bg[e] = background of directed link e, kbit/s, for a finished topology.
 * mass[i] >= 0 per PoP.  0, or -1 with a reason (bad peak, no traffic). */
int traffic_gravity(const struct prov_topology *t, const double *mass, double peak, double *bg, char *err, size_t errlen);

/* Reads "POP MASS" lines ('#' comments) into mass[npops], every PoP of t
 * exactly once.  0, or -1 with "FILE:LINE: reason" in err. */
int traffic_read_masses(const char *path, const struct prov_topology *t, double *mass, char *err, size_t errlen);

#endif
