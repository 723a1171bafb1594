/* pidrows: a provider's PIDs as the outside world sees them.
 *
 * The optimizer works on PoPs; everything that leaves the iTracker names
 * opaque PIDs (a PoP may have several).  These are the two conversions,
 * written once for the iTracker and the simulator: the PID map message the
 * provider publishes, and PoP weight rows expanded to PID rows. */
#ifndef PROV_PIDROWS_H
#define PROV_PIDROWS_H

#include <stddef.h>

#include "proto/msg.h"

struct prov_config;

/* The provider's PID map as a message (PIDs in file order, the PoP's LOC,
 * the provider's ASID), a deep copy: free it with proto_pidmap_msg_free.
 * 0, or -1 when memory ran out (*out is then zeroed). */
int prov_pidmap_msg(const struct prov_config *pr, struct p4p_pidmap_msg *out);

/* pop_npids[P] = the number of PIDs of PoP P (npops values). */
void prov_pids_per_pop(const struct prov_config *pr, size_t *pop_npids);

/* PID rows from PoP rows: PID p of PoP P gives PID q of PoP Q the weight
 * pop_w[P][Q] x (q's share of Q's peers in the swarm), an equal share of
 * Q's PIDs when Q has no peers or pid_peers is NULL.  So rows that sum to
 * 1 over PoPs still sum to 1 over PIDs, and a PoP's weight goes where the
 * swarm's peers are.  pop_w: npops x npops; pid_peers: npids values or
 * NULL; pid_w: npids x npids, row-major, written whole. */
void prov_expand_pop_rows(const struct prov_config *pr, const double *pop_w, const double *pid_peers, double *pid_w);

#endif
