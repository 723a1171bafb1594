/* select: the P4P peer selection, on a list in PID layout.
 *
 * Semantics (docs/SELECTION.md): requester in PID i, amount N, n other
 * peers, N < n.  R = round(eps * N) peers are uniform over the whole swarm
 * (each peer as likely as any other);
 * the other N - R are spread over PIDs by row i of the guidance: water-filled
 * so that a PID with too few peers gives its share to the others by weight,
 * rounded to integers without bias, then uniform inside each PID.  Never the
 * requester, never a peer twice.  With several providers in the map, a
 * share (1 - intra_share) of the guided picks goes uniformly to peers outside
 * the requester's provider (other providers' PIDs and peers in no PID).
 * Slots the weighted PIDs cannot fill become random ones.
 *
 * Cost: O(groups * per_group + row + N) per call (no sorting, no redrawn
 * picks, one random number per pick and per group giving peers, one per
 * part's rounding); no allocation, no locks.  docs/SELECTION.md has the
 * laws and how they are kept. */
#ifndef P4P_SELECT_H
#define P4P_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "p4p.h"

#define SELECT_MAX_AMOUNT 512

/* One weight of a guidance row: to PID slot `slot` (1..PIDs). */
struct select_weight {
  uint16_t slot;
  float    w;
};

/* A guidance row, sparse: n weights > 0 in ascending slot order. */
struct select_row {
  size_t                      n;
  const struct select_weight *e;
};

/* What one selection returned, for /stats and for tests. */
struct select_tally {
  size_t same_pid;   /* guided picks in the requester's PID */
  size_t other_pid;  /* guided picks in other PIDs */
  size_t outside;    /* picks outside the requester's provider (intra_share) */
  size_t random;     /* uniform picks */
  size_t capability; /* provider servers put in the answer (by the caller) */
  /* every returned peer once more, by where it is: the requester's PID,
   * another PID of the requester's provider, or elsewhere (other providers'
   * PIDs, no PID); random picks counted where they landed */
  size_t in_pid, in_provider, elsewhere;
};

struct select_request {
  const struct p4p_vector *buckets;    /* groups * per_group sorted vectors */
  const uint16_t          *group_slot; /* PID slot of each group, ascending; 0 = no PID */
  size_t                   groups;
  size_t                   per_group; /* a power of two, at most 64 (layout.c gives 1, 4, 16) */
  size_t                   peer_size; /* compare bytes, then flag, then time */
  uint16_t                 self_slot; /* requester's PID slot, 1 .. PIDs */
  const uint8_t           *self_key;  /* requester's compare bytes; need not be in the list */
  const struct select_row *row;       /* the requester's row */
  double                   random_fraction;
  size_t                   amount;
  /* The requester's provider: its PID slots are first..last (0, 0: all of
   * them), and intra_share of the guided picks stay inside it. */
  uint16_t provider_first, provider_last;
  double   intra_share;
};

/* Writes req->amount peers (fewer only if the list has fewer others) as
 * upstream does: leechers from the front of reply, seeders from the back of
 * the amount * compare_size bytes.  Returns the bytes written; 0 when amount
 * exceeds SELECT_MAX_AMOUNT (the caller falls back to stock). */
size_t p4p_select_guided(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally);

/* The sparse form of a dense row (weights of slots 1..npids at dense[0..]),
 * written to out (room for npids), for callers that keep dense matrices. */
struct select_row p4p_select_row_from_dense(const float *dense, size_t npids, struct select_weight *out);

#endif
