/* pid_list: peer lists in PID layout built by unit tests without a
 * snapshot, as patch 0001's storage hook arranges them in the tracker:
 * the list is laid out for a map, and every peer's PID gets its group
 * before the peer goes in (p4p_layout_prepare(), which the hook's
 * p4p_peerlist_refresh() calls with the incoming peer).  The inserting
 * itself is upstream's, transcribed in sim/peerlist.c. */
#ifndef TESTS_PID_LIST_H
#define TESTS_PID_LIST_H

#include <string.h>

#include "p4p/layout.h"
#include "peerlist.h"

/* An empty list laid out for map: one group until peers arrive. */
static inline int pid_list_init(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group, size_t peer_size) {
  memset(peers, 0, sizeof *peers);
  memset(layout, 0, sizeof *layout);
  return p4p_layout_rebuild(peers, layout, map, per_group ? per_group : 1, peer_size, NULL);
}

/* peerlist_put() after making room for the peer's PID group. */
static inline int pid_list_put(struct p4p_vector *peers, struct p4p_layout *layout, const uint8_t *peer, size_t peer_size) {
  if (layout->map && p4p_layout_prepare(peers, layout, peer, peer_size))
    return -1;
  return peerlist_put(peers, layout, peer, peer_size);
}

#endif
