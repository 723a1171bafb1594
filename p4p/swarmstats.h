/* swarmstats: per-PID statistics of the heaviest swarms, for providers.
 *
 * Two walks over the tracker's swarms (p4p_init()): the first
 * keeps the top_k swarms by peers, the second counts seeders and leechers
 * per PID in just those.  Each provider gets its own message naming only
 * its own PIDs (by the names it gave them), so no provider learns another's
 * PIDs.  Runs on the module's thread; the walker holds one bucket mutex at a
 * time. */
#ifndef P4P_SWARMSTATS_H
#define P4P_SWARMSTATS_H

#include <stddef.h>

#include "p4p.h"
#include "proto/msg.h"

struct p4p_state;

/* out[i] for provider i of the snapshot (s->nproviders messages); free each
 * with proto_stats_msg_free.  0, or -1 on allocation failure. */
int p4p_swarmstats_collect(p4p_swarm_walker walk, const struct p4p_state *s, size_t top_k, struct p4p_stats_msg *out);

#endif
