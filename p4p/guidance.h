/* guidance: inter-PID peering weights, resolved to the slots of one PID map.
 *
 * A default matrix (for every swarm) and per-swarm matrices keyed by
 * info_hash.  Matrices are sparse: only rows with a weight > 0 exist, and a
 * row holds only its weights > 0 (struct select_row, ascending slots),
 * normalized to sum 1.  So a swarm's matrix over 1 PID costs one row of one
 * weight whatever the size of the map (tests/unit/test_guidance.c checks
 * the count); a missing row means "no guidance from this PID".  Immutable
 * once finished; read without locks. */
#ifndef P4P_GUIDANCE_H
#define P4P_GUIDANCE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "select.h"

struct pidmap;
struct guidance;

enum guidance_kind { GUIDANCE_NONE = 0, GUIDANCE_DEFAULT, GUIDANCE_SWARM };

/* Guidance for map is built from several providers' messages: each names
 * its own PIDs, found in the map as "<ns>/<name>" (plain "<name>" when ns is
 * empty).  An unknown PID, a negative or non-finite weight, or a swarm given
 * twice in one message is an error; matrices of different providers for one
 * swarm fill different blocks of it (weights given twice add up). */
struct guidance *p4p_guidance_new(const struct pidmap *map);
int              p4p_guidance_add(struct guidance *g, const struct p4p_guidance_msg *msg, const char *ns, char *err, size_t errlen);
/* A default matrix from inter-PID costs (p-distances), for a provider that
 * sends costs but no default weights: w_ij = exp(-c_ij / t), t = the mean
 * off-diagonal cost (so a PID at average distance weighs 1/e of one at
 * distance 0; t = 1 when every cost is 0).  A cost of 0 is zero cost
 * (PROTOCOL.md), weight 1; legacy portals' "0 = undefined" reaches here as
 * the costliest value, 100 (legacy_portal.h). */
int p4p_guidance_add_costs(struct guidance *g, const struct p4p_costs_msg *costs, const char *ns, char *err, size_t errlen);
/* Normalizes rows and indexes swarms and the default rows; the guidance
 * is read-only after.  Cannot fail (without memory for the default rows'
 * index they are found by binary search). */
void p4p_guidance_finish(struct guidance *g);
/* new + add(msg, "") + finish. */
struct guidance *p4p_guidance_from_msg(const struct p4p_guidance_msg *msg, const struct pidmap *map, char *err, size_t errlen);
void             p4p_guidance_free(struct guidance *g);

/* Row of PID slot `from` (1..P) for the swarm: its own matrix's if that has
 * one, else the default's.  NULL when neither has a row for this PID; *kind
 * says which matrix answered. */
const struct select_row *p4p_guidance_row(const struct guidance *g, const uint8_t info_hash[20], uint16_t from, enum guidance_kind *kind);

size_t p4p_guidance_nswarms(const struct guidance *g);
/* For the dump view: the info_hash of swarm k (0 .. nswarms-1, in hash
 * order), and the default matrix's row of `from` (NULL when none or all
 * zero). */
const uint8_t           *p4p_guidance_swarm_hash(const struct guidance *g, size_t k);
const struct select_row *p4p_guidance_default_row(const struct guidance *g, uint16_t from);
int                      p4p_guidance_has_default(const struct guidance *g);
/* Weights stored over all matrices (the memory that grows with the data). */
size_t p4p_guidance_cells(const struct guidance *g);

#endif
