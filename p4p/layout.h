/* layout: arranging a swarm's peers by PID.
 *
 * A list in PID layout is one block: an array of groups * per_group sorted
 * vectors (the shape of upstream's hash buckets, so every upstream loop
 * over buckets keeps working), followed by the group table, the PID slot of
 * each group in ascending order.  A list has groups only for the PIDs of
 * its own peers (slot 0: peers in no PID), never one per PID of the map, so
 * its cost follows the PIDs present in the swarm, not the size of the map.
 * Inside a group, peers spread over per_group buckets by address hash so
 * that inserting into a big PID moves little memory.  The peers of one PID
 * are then reachable in O(per_group) without looking at any other peer,
 * which is what lets selection cost O(numwant + groups) at any swarm size.
 *
 * Bound (checked by tests/unit/test_layout.c): a list holds per_group
 * buckets per group, and groups only for PIDs that had peers in it when its
 * groups last changed, plus the incoming peer's: a group is added only for
 * an incoming peer whose PID has none, and empty groups are dropped then.
 * Peers leaving do not shrink the table at once; p4p_peerlist_refresh()
 * compacts a list of n peers holding more than 2n + 4 groups, so after it
 * a list never has more than min(PIDs + 1, 2n + 4) groups. */
#ifndef P4P_LAYOUT_H
#define P4P_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "p4p.h"

struct pidmap;

/* Buckets per PID group when a list's groups hold `per_group_peers` peers on
 * average; `current` (0: none) gives hysteresis against flapping. */
unsigned p4p_layout_per_group_for(size_t per_group_peers, unsigned current);

/* Bucket (0 .. per_group-1) of a peer inside its group. */
unsigned p4p_layout_sub_bucket(const uint8_t *peer, size_t compare_size, unsigned per_group);

/* The group table of a list in PID layout: layout->groups slots, ascending. */
static inline const uint16_t *p4p_layout_slots(const struct p4p_vector *peers) {
  return (const uint16_t *)((const struct p4p_vector *)peers->data + peers->size);
}

/* Index of the group holding PID slot `slot`, or layout->groups if the list
 * has no group for it; the same on a bare group table. */
size_t p4p_layout_group_of(const struct p4p_vector *peers, const struct p4p_layout *layout, uint16_t slot);
size_t p4p_layout_find_group(const uint16_t *slots, size_t groups, uint16_t slot);

/* Re-arranges the list for `map` (NULL: one flat sorted vector, upstream's
 * small-list form), with groups for the PIDs of its peers and, if incoming
 * is not NULL, for that peer's PID; per_group buckets each (0: chosen from
 * the peers per group).  Takes a reference on map, drops the old one.  0,
 * or -1 on allocation failure with the list untouched. */
int p4p_layout_rebuild(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group, size_t peer_size, const uint8_t *incoming);

/* Makes sure a list in PID layout has a group for peer's PID (adding an
 * empty one, and dropping groups that have become empty, if not), so that
 * the peer can be inserted into p4p_peer_bucket()'s bucket.  0, or -1 on
 * allocation failure with the list untouched. */
int p4p_layout_prepare(struct p4p_vector *peers, struct p4p_layout *layout, const uint8_t *peer, size_t peer_size);

#endif
