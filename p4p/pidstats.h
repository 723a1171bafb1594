/* pidstats: per-PID counters for /stats?mode=p4p_dump.
 *
 * One fixed array per PID map, sized when the snapshot is built (slot 0 =
 * requesters in no PID) and shared by every snapshot with that map, so a
 * guidance update keeps the counts and a new map starts them afresh (its
 * slots mean other PIDs).  The announce path only does relaxed atomic adds
 * into its own slot's cache line: no lock, no allocation, no lookup. */
#ifndef P4P_PIDSTATS_H
#define P4P_PIDSTATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One slot's counters, one cache line, so that two PIDs' announces on two
 * threads never share a line. */
struct p4p_pid_counter {
  _Alignas(64) atomic_ulong announces; /* announces from this PID */
  atomic_ulong answers;                /* of them answered by P4P selection */
  atomic_ulong peers;                  /* peers those answers returned */
  atomic_ulong peers_in_pid;           /* of them in the requester's own PID */
};

struct p4p_pidstats {
  atomic_int             refs;
  size_t                 npids;
  time_t                 since;  /* when the map's counting began */
  struct p4p_pid_counter slot[]; /* npids + 1 */
};

/* Counters for a map of npids PIDs, one reference.  NULL when out of memory
 * (the snapshot then counts nothing per PID). */
struct p4p_pidstats *p4p_pidstats_new(size_t npids);
struct p4p_pidstats *p4p_pidstats_ref(struct p4p_pidstats *ps);
void                 p4p_pidstats_unref(struct p4p_pidstats *ps);

#define P4P_PIDSTATS_ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

static inline void p4p_pidstats_note_announce(struct p4p_pidstats *ps, uint16_t slot) {
  if (ps && slot <= ps->npids)
    P4P_PIDSTATS_ADD(ps->slot[slot].announces, 1);
}

static inline void p4p_pidstats_note_answer(struct p4p_pidstats *ps, uint16_t slot, size_t peers, size_t in_pid) {
  if (ps && slot <= ps->npids) {
    P4P_PIDSTATS_ADD(ps->slot[slot].answers, 1);
    P4P_PIDSTATS_ADD(ps->slot[slot].peers, peers);
    P4P_PIDSTATS_ADD(ps->slot[slot].peers_in_pid, in_pid);
  }
}

#endif
