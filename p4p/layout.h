/* layout: arranging a swarm's peers by PID.
 *
 * A list in PID layout is an array of groups * per_group sorted vectors (the
 * shape of upstream's hash buckets, so every upstream loop over buckets keeps
 * working).  Group g holds the peers whose address the list's map puts in
 * PID slot g; inside a group, peers spread over per_group buckets by address
 * hash so that inserting into a big PID moves little memory.  The peers of
 * one PID are then reachable in O(per_group) without looking at any other
 * peer, which is what lets selection cost O(numwant + PIDs) at any swarm
 * size. */
#ifndef P4P_LAYOUT_H
#define P4P_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "p4p.h"

struct pidmap;

/* Buckets per PID group for a list of n peers. */
unsigned p4p_layout_per_group_for(size_t n, unsigned current);

/* Bucket (0 .. per_group-1) of a peer inside its group. */
unsigned p4p_layout_sub_bucket(const uint8_t *peer, size_t compare_size, unsigned per_group);

/* Re-arranges the list for `map` (NULL: one flat sorted vector, upstream's
 * small-list form).  Takes a reference on map, drops the old one.  0, or -1
 * on allocation failure with the list untouched. */
int      p4p_layout_rebuild(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group, size_t peer_size);

#endif
