/* peerlist: upstream's peer vectors and stock selection, outside the
 * tracker.
 *
 * Inside opentracker, upstream's ot_vector.c keeps a swarm's peers and
 * trackerlogic.c picks the answer.  The simulator and the tests keep their
 * swarms in the very same representation and call the P4P module the way
 * the patched upstream code does; this unit is their stand-in for the
 * upstream half.  A list is a struct p4p_vector with its struct p4p_layout,
 * both zeroed when empty (upstream's ot_peerlist), in one of three forms:
 *   - one sorted vector (upstream, small lists);
 *   - upstream's hash buckets: space 0, size = bucket count, a peer in
 *     bucket djb2(compare bytes) % count;
 *   - the P4P module's PID layout (layout->map set): the bucket comes from
 *     p4p_peer_bucket(), as patch 0001 makes upstream's vector code do.
 * As in upstream's patched trackerlogic, the caller runs
 * p4p_peerlist_refresh() before every insert or removal.  Nothing here
 * knows PIDs: only p4p/p4p.h is used. */
#ifndef SIM_PEERLIST_H
#define SIM_PEERLIST_H

#include <stddef.h>
#include <stdint.h>

#include "p4p/p4p.h"

/* Inserts or updates a peer record (compare bytes, flag, time), as
 * vector_find_or_insert_peer() and the copy after it.  1 inserted, 0
 * updated, -1 out of memory. */
int peerlist_put(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t peer_size);
/* As vector_remove_peer(): 1 removed, 0 not there. */
int peerlist_remove(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t peer_size);

/* The bucket step of upstream's clean pass (clean_single_peer_list(),
 * which runs at most once a minute per swarm, on its first announce of
 * the minute): vector_redistribute_buckets() as patched, for a list above
 * 512 peers or already in buckets.  A list the module keeps in PID layout
 * is left to it; otherwise one vector below 255 peers, 16 hash buckets
 * from 512 to 4095, 64 above 8192, the current form in between.  On
 * allocation failure the list stays as it was. */
void peerlist_clean(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size);

/* Upstream's return_peers_all(): every peer of the list, the requester
 * included, leechers from the front of reply, seeders from the back.
 * Returns the bytes written (peer_count x compare size). */
size_t peerlist_all(const struct p4p_vector *peers, size_t peer_count, size_t peer_size, char *reply);

/* Upstream's return_peers_selection(), the stock answer when
 * p4p_select_peers() declines: a random start, then `amount` strides of
 * 1 + rand % (about peer_count / amount) through the buckets in order.
 * Not a uniform sample of subsets: every peer has probability amount /
 * peer_count (the start is uniform and the walk wraps), but a stride
 * averages half of peer_count / amount, so one answer is a dense sample
 * of a window of about half the list, in the list's order (addresses,
 * hash buckets, or PID groups).  It may return the requester.  Requires
 * 0 < amount < peer_count. */
size_t peerlist_select_stock(const struct p4p_vector *peers, size_t peer_count, size_t peer_size, size_t amount, unsigned short rand48[3], char *reply);

/* Frees the buckets and drops the layout's map reference. */
void peerlist_free(struct p4p_vector *peers, struct p4p_layout *layout);

#endif
