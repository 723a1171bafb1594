/* select: the P4P peer selection, on a list in PID layout.
 *
 * Semantics (docs/SELECTION.md): requester in PID i, amount N, n other
 * peers, N < n.  R = round(eps * N) peers are uniform over the whole swarm;
 * the other N - R are spread over PIDs by row i of the guidance: water-filled
 * so that a PID with too few peers gives its share to the others by weight,
 * rounded to integers without bias, then uniform inside each PID.  Never the
 * requester, never a peer twice.  With several providers in the map, a
 * share (1 - intra_share) of the guided picks goes uniformly to peers outside
 * the requester's provider (other providers' PIDs and peers in no PID).
 * Slots the weighted PIDs cannot fill become random ones.  Cost: O(N^2 + PIDs log PIDs + per_group * N + log n) in the
 * worst case, with N <= SELECT_MAX_AMOUNT; no allocation, no locks. */
#ifndef P4P_SELECT_H
#define P4P_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "p4p.h"

#define SELECT_MAX_AMOUNT 512

/* What one selection returned, for /stats and for tests. */
struct select_tally {
  size_t same_pid;  /* guided picks in the requester's PID */
  size_t other_pid; /* guided picks in other PIDs */
  size_t outside;   /* picks outside the requester's provider (intra_share) */
  size_t random;    /* uniform picks */
  size_t capability;/* provider servers put in the answer (by the caller) */
  /* every returned peer once more, by where it is: the requester's PID,
   * another PID of the requester's provider, or elsewhere (other providers'
   * PIDs, no PID); random picks counted where they landed */
  size_t in_pid, in_provider, elsewhere;
};

struct select_request {
  const struct p4p_vector *buckets;   /* groups * per_group sorted vectors */
  size_t                   groups;    /* PIDs + 1; group 0 = peers with no PID */
  size_t                   per_group;
  size_t                   peer_size; /* compare bytes, then flag, then time */
  uint16_t                 self_slot; /* requester's PID slot, 1 .. groups-1 */
  const uint8_t           *self_key;  /* requester's compare bytes; need not be in the list */
  const float             *row;       /* weights of slots 1 .. groups-1 */
  double                   random_fraction;
  size_t                   amount;
  /* The requester's provider: its PID slots are first..last (0, 0: all of
   * them), and intra_share of the guided picks stay inside it. */
  uint16_t                 provider_first, provider_last;
  double                   intra_share;
};

/* Writes req->amount peers (fewer only if the list has fewer others) as
 * upstream does: leechers from the front of reply, seeders from the back of
 * the amount * compare_size bytes.  Returns the bytes written; 0 when amount
 * exceeds SELECT_MAX_AMOUNT (the caller falls back to stock). */
size_t p4p_select_guided(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally);

#endif
