/* state: publish, read, retire. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "guidance.h"
#include "pidmap.h"
#include "pidstats.h"
#include "state.h"

static _Atomic(struct p4p_state *) g_current;
/* Publishers and the collector serialize on this; readers never take it. */
static pthread_mutex_t   g_retire_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p4p_state *g_retired;
static uint64_t          g_next_gen = 1;

void p4p_state_free(struct p4p_state *s) {
  if (!s)
    return;
  p4p_guidance_free(s->guidance);
  p4p_pidmap_unref(s->map);
  p4p_pidstats_unref(s->pidstats);
  for (size_t i = 0; i < s->nproviders; ++i)
    free(s->providers[i].servers);
  free(s->providers);
  free(s);
}

void p4p_state_publish(struct p4p_state *s) {
  pthread_mutex_lock(&g_retire_lock);
  s->gen                = g_next_gen++;
  struct p4p_state *old = atomic_exchange_explicit(&g_current, s, memory_order_acq_rel);
  if (old) {
    old->retired_at   = time(NULL);
    old->retired_next = g_retired;
    g_retired         = old;
  }
  pthread_mutex_unlock(&g_retire_lock);
}

const struct p4p_state *p4p_state_current(void) { return atomic_load_explicit(&g_current, memory_order_acquire); }

void p4p_state_collect(time_t now, int grace_seconds) {
  pthread_mutex_lock(&g_retire_lock);
  struct p4p_state **link = &g_retired;
  while (*link) {
    struct p4p_state *s = *link;
    if (grace_seconds < 0 || now - s->retired_at >= grace_seconds) {
      *link = s->retired_next;
      p4p_state_free(s);
    } else
      link = &s->retired_next;
  }
  pthread_mutex_unlock(&g_retire_lock);
}

size_t p4p_state_retired(void) {
  size_t n = 0;
  pthread_mutex_lock(&g_retire_lock);
  for (const struct p4p_state *s = g_retired; s; s = s->retired_next)
    ++n;
  pthread_mutex_unlock(&g_retire_lock);
  return n;
}

void p4p_state_shutdown(void) {
  p4p_state_collect(0, -1);
  pthread_mutex_lock(&g_retire_lock);
  struct p4p_state *s = atomic_exchange_explicit(&g_current, NULL, memory_order_acq_rel);
  pthread_mutex_unlock(&g_retire_lock);
  p4p_state_free(s);
}
