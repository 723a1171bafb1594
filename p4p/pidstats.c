/* pidstats: the per-PID counter arrays. */
#include <stdlib.h>

#include "pidstats.h"

struct p4p_pidstats *p4p_pidstats_new(size_t npids) {
  struct p4p_pidstats *ps = aligned_alloc(64, (sizeof *ps + (npids + 1) * sizeof ps->slot[0] + 63) / 64 * 64);
  if (!ps)
    return NULL;
  atomic_init(&ps->refs, 1);
  ps->npids = npids;
  ps->since = time(NULL);
  for (size_t i = 0; i <= npids; ++i) {
    atomic_init(&ps->slot[i].announces, 0);
    atomic_init(&ps->slot[i].answers, 0);
    atomic_init(&ps->slot[i].peers, 0);
    atomic_init(&ps->slot[i].peers_in_pid, 0);
  }
  return ps;
}

struct p4p_pidstats *p4p_pidstats_ref(struct p4p_pidstats *ps) {
  if (ps)
    atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
  return ps;
}

void p4p_pidstats_unref(struct p4p_pidstats *ps) {
  if (ps && atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) == 1)
    free(ps);
}
