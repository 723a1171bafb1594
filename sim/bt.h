/* bt: the BitTorrent decisions of one peer, as pure functions.
 *
 * Pieces are "units" (a block group, see docs/SIMULATOR.md) kept in bit
 * sets of 64-bit words.  Local rarest first: among the units the sender has
 * and the receiver neither has nor is fetching from someone else, take one
 * whose count among the receiver's neighbours is smallest, ties uniformly
 * at random.  Choking: the `slots` interested neighbours with the highest
 * score (bytes they sent us last period, or for a seed, bytes we sent
 * them), ties uniformly at random; plus one optimistic unchoke among the
 * interested ones left over. */
#ifndef SIM_BT_H
#define SIM_BT_H

#include <stddef.h>
#include <stdint.h>

#define BT_WORDS(nunits) (((nunits) + 63) / 64)

static inline int  bt_has(const uint64_t *set, size_t u) { return (int)((set[u / 64] >> (u % 64)) & 1u); }
static inline void bt_set(uint64_t *set, size_t u) { set[u / 64] |= (uint64_t)1 << (u % 64); }
static inline void bt_clear(uint64_t *set, size_t u) { set[u / 64] &= ~((uint64_t)1 << (u % 64)); }

/* 1 when sender has a unit the receiver lacks (BitTorrent "interested"). */
int bt_interested(const uint64_t *sender_has, const uint64_t *recv_has, size_t nunits);

/* The unit the receiver requests from the sender: in sender_has, not in
 * recv_has, not in recv_busy (NULL: none busy), with the least avail[u];
 * ties uniform (reservoir sampling with rand48).  -1 when there is none. */
long bt_pick_rarest(const uint64_t *sender_has, const uint64_t *recv_has, const uint64_t *recv_busy, const uint16_t *avail, size_t nunits,
                    unsigned short rand48[3]);

/* Regular unchokes: indexes (into score[0..n)) of the min(slots, n)
 * candidates with the largest scores, ties uniform, written to out.
 * Returns how many. */
size_t bt_choose_unchokes(const double *score, size_t n, size_t slots, unsigned short rand48[3], size_t *out);

#endif
