/* peerlist: insert and remove peers in a list in PID layout, outside the
 * tracker.
 *
 * Inside opentracker, upstream's own vector code does this (patch 0001 makes
 * it choose buckets through the layout).  The simulator and the tests keep
 * their swarms in the very same representation so that they exercise the
 * tracker's selection code on identical data; this unit is their stand-in
 * for upstream's vector_find_or_insert_peer / vector_remove_peer. */
#ifndef P4P_PEERLIST_H
#define P4P_PEERLIST_H

#include <stddef.h>
#include <stdint.h>

#include "p4p/p4p.h"

struct pidmap;

/* An empty list laid out for map, per_group buckets per group; groups are
 * added as peers of new PIDs arrive (p4p/layout.h). */
int  peerlist_init(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group);
/* Inserts or updates a peer record (compare bytes, flag, time).  1 inserted,
 * 0 updated, -1 out of memory. */
int  peerlist_put(struct p4p_vector *peers, struct p4p_layout *layout, const uint8_t *peer, size_t peer_size);
/* 1 removed, 0 not there. */
int  peerlist_remove(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t peer_size);
void peerlist_free(struct p4p_vector *peers, struct p4p_layout *layout);

#endif
