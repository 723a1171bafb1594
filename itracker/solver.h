/* Guidance: the swarm statistics table, the background optimizer thread
 * and the published solution.
 *
 * appTrackers post per-swarm, per-PID statistics; they replace the swarm's
 * previous report and wake the solver thread.  The thread re-solves on new
 * statistics and every resolve-interval seconds: it ranks swarms by demand,
 * optimizes the heaviest max-optimized-swarms of them with the fast solver
 * (prov_optimizer_solve, warm-started across solves) and publishes an
 * immutable snapshot by swapping one pointer.  Requests answer from the
 * latest snapshot; a request that brings a swarm the snapshot has never
 * seen waits for the next solve, at most first-solve-wait-ms. */
#ifndef ITRACKER_SOLVER_H
#define ITRACKER_SOLVER_H

#include "portal.h"

/* Counts above this per PID are refused as absurd (400). */
#define ITR_MAX_PEERS_PER_PID 10000000ull
/* Rates above this (kbit/s, 1 Tbit/s) are refused as absurd (400). */
#define ITR_MAX_RATE_KBPS     1e9

struct solver;

/* Start the solver thread for portal p (which must outlive it).
 * NULL with a reason in err. */
struct solver *solver_start(struct portal *p, int verbose, char *err, size_t errlen);
/* Swarms in the statistics table now (for /metrics). */
size_t solver_tracked_swarms(struct solver *s);
/* Stop the thread and free everything. */
void solver_stop(struct solver *s);

/* POST guidance: statistics in, weights for the posted swarms out.  A
 * swarm counts against the client that reported it last, at most
 * max-swarms-per-client each (429 above). */
void solver_post_stats(struct solver *s, const struct itr_client *who, const char *body, size_t len, struct itr_reply *r);
/* GET guidance: default weights and every optimized swarm's weights. */
void solver_guidance(struct solver *s, struct itr_reply *r);

/* The same two answers as messages, for the ALTO front end (alto.h):
 * *gen and *hour name the solve they come from.  The post counts against
 * who's quota as solver_post_stats does, and returns -1 with the refusal in
 * r (status and reason: 400, 429, 503). */
int solver_guidance_msg(struct solver *s, struct p4p_guidance_msg *g, uint64_t *gen, int *hour);
int solver_post_msg(struct solver *s, const struct itr_client *who, const struct p4p_stats_msg *m, struct p4p_guidance_msg *g, uint64_t *gen, int *hour,
                    size_t *optimized, struct itr_reply *r);
/* The statistics generation and hour of the published solve (update
 * streams poll it to notice a new one). */
uint64_t solver_published(struct solver *s, int *hour);

#endif
