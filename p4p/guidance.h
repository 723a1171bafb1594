/* guidance: inter-PID peering weights, resolved to the slots of one PID map.
 *
 * A default matrix (for every swarm) and per-swarm matrices keyed by
 * info_hash.  Rows are stored normalized (each sums to 1) as floats, P x P
 * for a map of P PIDs; a row of zeros means "no guidance from this PID".
 * Immutable once built; read without locks. */
#ifndef P4P_GUIDANCE_H
#define P4P_GUIDANCE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct pidmap;
struct guidance;

enum guidance_kind { GUIDANCE_NONE = 0, GUIDANCE_DEFAULT, GUIDANCE_SWARM };

/* Resolves the message's PID names against map; an unknown PID, a negative
 * or non-finite weight, or a swarm given twice is an error. */
struct guidance *guidance_from_msg(const struct p4p_guidance_msg *msg, const struct pidmap *map, char *err, size_t errlen);
void             guidance_free(struct guidance *g);

/* Row of PID slot `from` (1..P) for the swarm: its own matrix if it has one,
 * else the default.  Entry j-1 is the weight of slot j.  NULL when neither
 * gives this PID a row; *kind says which matrix answered. */
const float     *guidance_row(const struct guidance *g, const uint8_t info_hash[20], uint16_t from, enum guidance_kind *kind);

size_t           guidance_npids(const struct guidance *g);
size_t           guidance_nswarms(const struct guidance *g);
int              guidance_has_default(const struct guidance *g);

#endif
