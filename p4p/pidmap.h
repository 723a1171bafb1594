/* pidmap: address -> PID slot by longest-prefix match, IPv4 and IPv6.
 *
 * A map is built once (p4p_pidmap_new, p4p_pidmap_add_prefix, p4p_pidmap_finish) and is
 * immutable afterwards, so any number of threads may look up in it without
 * locks.  PIDs are numbered by slot 1..npids in the order they were given;
 * slot 0 means "in no PID".  Maps are reference counted: a snapshot and every
 * peer list laid out with the map hold one reference each. */
#ifndef P4P_PIDMAP_H
#define P4P_PIDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define PIDMAP_MAX_PIDS     1024
/* "<provider>/<pid>": a provider name (< 48 bytes) and a v1 PID name (< 64) */
#define PIDMAP_NAME_MAX     (2 * P4P_NAME_MAX)
#define PIDMAP_MAX_PREFIXES (1u << 20)

struct pidmap;

/* A map for npids PIDs, holding one reference.  NULL on allocation failure. */
struct pidmap *p4p_pidmap_new(size_t npids);
/* Names slot (1..npids) for reporting; -1 when the name does not fit
 * (never cut: two PIDs must not end up under one name). */
int p4p_pidmap_set_pid(struct pidmap *map, uint16_t slot, const char *name, uint32_t asid, const char *loc);
/* Slots of one provider are contiguous; provider ids count from 0 in the
 * order providers were added.  Default: every slot in provider 0. */
int p4p_pidmap_set_provider(struct pidmap *map, uint16_t slot, uint16_t provider);
/* addr is 16 bytes (IPv4 as ::ffff:a.b.c.d, bits 96..128).  Host bits are
 * ignored.  The same prefix twice within one provider is an error, reported
 * by p4p_pidmap_finish; across providers the earlier provider keeps it. */
int p4p_pidmap_add_prefix(struct pidmap *map, const uint8_t addr[16], unsigned bits, uint16_t slot);
/* Flattens the prefixes into disjoint ranges.  -1 with a reason in err. */
int p4p_pidmap_finish(struct pidmap *map, char *err, size_t errlen);

/* Adds a parsed PID-map message's PIDs at slots first_slot.., named
 * "<ns>/<name>" (plain name when ns is ""), all of one provider. */
int p4p_pidmap_add_msg(struct pidmap *map, const struct p4p_pidmap_msg *msg, uint16_t first_slot, const char *ns, uint16_t provider, char *err, size_t errlen);
/* Builds a finished map from one parsed PID-map message. */
struct pidmap *p4p_pidmap_from_msg(const struct p4p_pidmap_msg *msg, char *err, size_t errlen);

uint16_t p4p_pidmap_lookup(const struct pidmap *map, const uint8_t addr[16]);
/* The same for a peer record's address: compare_size 6 (IPv4) or 18 (IPv6). */
uint16_t p4p_pidmap_lookup_peer(const struct pidmap *map, const uint8_t *peer, size_t compare_size);

size_t   p4p_pidmap_npids(const struct pidmap *map);
uint16_t p4p_pidmap_provider_of(const struct pidmap *map, uint16_t slot);
/* First and last slot of a provider; 0 when it has none. */
int p4p_pidmap_provider_slots(const struct pidmap *map, uint16_t provider, uint16_t *first, uint16_t *last);
/* Prefixes dropped by p4p_pidmap_finish because an earlier provider had them. */
size_t      p4p_pidmap_shadowed(const struct pidmap *map);
size_t      p4p_pidmap_nranges(const struct pidmap *map);
const char *p4p_pidmap_pid_name(const struct pidmap *map, uint16_t slot);
/* Slot of a PID by name, 0 when unknown. */
uint16_t p4p_pidmap_slot_by_name(const struct pidmap *map, const char *name);

/* Range i (0 .. nranges-1) of the finished map: addresses start..end
 * (inclusive, 16 bytes each) are in PID slot *slot.  -1 past the end.
 * For the dump view, off the announce path. */
int p4p_pidmap_range(const struct pidmap *map, size_t i, uint8_t start[16], uint8_t end[16], uint16_t *slot);
/* ASID and LOC of a slot (0 and "" for slot 0 or out of range). */
uint32_t    p4p_pidmap_pid_asid(const struct pidmap *map, uint16_t slot);
const char *p4p_pidmap_pid_loc(const struct pidmap *map, uint16_t slot);

/* Same PIDs (names, ASIDs, providers) and the same ranges: a reload that
 * changed nothing keeps the old map, so no peer list is rebuilt. */
int p4p_pidmap_equal(const struct pidmap *a, const struct pidmap *b);

struct pidmap *p4p_pidmap_ref(struct pidmap *map);
void           p4p_pidmap_unref(struct pidmap *map);

#endif
