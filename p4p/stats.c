/* stats: counters and their rendering. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "guidance.h"
#include "pidmap.h"
#include "select.h"
#include "state.h"
#include "stats.h"

/* The announce path's counters, one block per announcing thread (written
 * by that thread only: a plain load and store, no locked add, which costs
 * ~20 cycles each and an announce bumps a dozen) and summed when read.
 * Threads beyond CELLS share the last block with locked adds. */
enum {
  C_ANNOUNCE_PID,
  C_ANNOUNCE_NOPID,
  C_SEL_GUIDED,
  C_SEL_DEFAULT,
  C_SEL_STOCK,
  C_SAME,
  C_OTHER,
  C_OUTSIDE,
  C_RANDOM,
  C_CAPABILITY,
  C_IN_PID,
  C_IN_PROVIDER,
  C_ELSEWHERE,
  NCOUNTERS
};
#define CELLS 64
struct cell {
  _Alignas(64) atomic_ulong v[NCOUNTERS];
};
static struct cell                g_cells[CELLS + 1];
static atomic_uint                g_ncells;
static _Thread_local struct cell *tl_cell;
static _Thread_local int          tl_shared; /* this thread writes the shared block */

static atomic_ulong g_reload_ok, g_reload_failed;
/* the last reload error, written by the reload thread only */
static pthread_mutex_t g_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char            g_last_error[512];
static time_t          g_last_error_at;

#define BUMP(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define READ(counter)    atomic_load_explicit(&(counter), memory_order_relaxed)

static struct cell *my_cell(void) {
  if (!tl_cell) {
    unsigned i = atomic_fetch_add_explicit(&g_ncells, 1, memory_order_relaxed);
    tl_shared  = i >= CELLS;
    tl_cell    = &g_cells[tl_shared ? CELLS : i];
  }
  return tl_cell;
}

static inline void add(struct cell *c, int k, unsigned long n) {
  if (tl_shared)
    BUMP(c->v[k], n);
  else /* the only writer: readers see the old or the new value, never a torn one */
    atomic_store_explicit(&c->v[k], READ(c->v[k]) + n, memory_order_relaxed);
}

static unsigned long sum(int k) {
  unsigned long n = 0;
  for (size_t i = 0; i <= CELLS; ++i)
    n += READ(g_cells[i].v[k]);
  return n;
}

void p4p_stats_clean_text(const char *in, char *out, size_t outlen) {
  size_t n = 0;
  if (!outlen)
    return;
  for (; in && *in && n + 1 < outlen; ++in)
    out[n++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
  out[n] = 0;
}

void p4p_stats_note_announce(int has_pid) { add(my_cell(), has_pid ? C_ANNOUNCE_PID : C_ANNOUNCE_NOPID, 1); }

void p4p_stats_note_selection(enum stats_selection kind, const struct select_tally *tally) {
  struct cell *c = my_cell();
  add(c, C_SEL_GUIDED + (int)kind, 1);
  if (tally) {
    add(c, C_SAME, tally->same_pid);
    add(c, C_OTHER, tally->other_pid);
    add(c, C_RANDOM, tally->random);
    add(c, C_OUTSIDE, tally->outside);
    add(c, C_CAPABILITY, tally->capability);
    add(c, C_IN_PID, tally->in_pid);
    add(c, C_IN_PROVIDER, tally->in_provider);
    add(c, C_ELSEWHERE, tally->elsewhere);
  }
}

void p4p_stats_note_reload(int ok, const char *error) {
  BUMP(*(ok ? &g_reload_ok : &g_reload_failed), 1);
  if (!ok) {
    pthread_mutex_lock(&g_error_lock);
    p4p_stats_clean_text(error, g_last_error, sizeof g_last_error);
    g_last_error_at = time(NULL);
    pthread_mutex_unlock(&g_error_lock);
  }
}

void p4p_stats_read(struct p4p_stats_counters *out) {
  out->announce_pid   = sum(C_ANNOUNCE_PID);
  out->announce_nopid = sum(C_ANNOUNCE_NOPID);
  for (int i = 0; i < 3; ++i)
    out->selections[i] = sum(C_SEL_GUIDED + i);
  out->peers_same        = sum(C_SAME);
  out->peers_other       = sum(C_OTHER);
  out->peers_outside     = sum(C_OUTSIDE);
  out->peers_random      = sum(C_RANDOM);
  out->peers_capability  = sum(C_CAPABILITY);
  out->peers_in_pid      = sum(C_IN_PID);
  out->peers_in_provider = sum(C_IN_PROVIDER);
  out->peers_elsewhere   = sum(C_ELSEWHERE);
  out->reload_ok         = READ(g_reload_ok);
  out->reload_failed     = READ(g_reload_failed);
  pthread_mutex_lock(&g_error_lock);
  snprintf(out->last_error, sizeof out->last_error, "%s", g_last_error);
  out->last_error_at = g_last_error_at;
  pthread_mutex_unlock(&g_error_lock);
}

void p4p_stats_reset(void) {
  for (size_t i = 0; i <= CELLS; ++i)
    for (int k = 0; k < NCOUNTERS; ++k)
      atomic_store(&g_cells[i].v[k], 0);
  atomic_store(&g_reload_ok, 0);
  atomic_store(&g_reload_failed, 0);
  pthread_mutex_lock(&g_error_lock);
  g_last_error[0] = 0;
  g_last_error_at = 0;
  pthread_mutex_unlock(&g_error_lock);
}

static long age(time_t then, time_t now) { return then ? (long)(now - then) : -1; }

size_t p4p_stats_write(const struct p4p_state *s, char *reply, size_t cap) {
  time_t                    now = time(NULL);
  struct p4p_stats_counters c;
  int                       n;

  p4p_stats_read(&c);
  n = snprintf(reply, cap,
               "p4p enabled: %s\n"
               "p4p data loaded: %s\n"
               "announces with pid: %lu\n"
               "announces without pid: %lu\n"
               "selections guided: %lu\n"
               "selections default: %lu\n"
               "selections stock: %lu\n"
               "peers same pid: %lu\n"
               "peers other pid: %lu\n"
               "peers random: %lu\n"
               "peers outside provider: %lu\n"
               "peers provider servers: %lu\n"
               "peers located in requester pid: %lu\n"
               "peers located in requester provider: %lu\n"
               "peers located elsewhere: %lu\n"
               "random fraction: %.3f\n"
               "pidmap version: %s\n"
               "pidmap pids: %zu\n"
               "pidmap ranges: %zu\n"
               "pidmap prefixes shadowed by an earlier source: %zu\n"
               "pidmap age seconds: %ld\n"
               "guidance version: %s\n"
               "guidance default matrix: %s\n"
               "guidance swarms: %zu\n"
               "guidance age seconds: %ld\n"
               "snapshot generation: %lu\n"
               "reloads ok: %lu\n"
               "reloads failed: %lu\n"
               "last reload error: %s\n"
               "last reload error age seconds: %ld\n",
               s && s->enabled ? "yes" : "no", s && s->map ? "yes" : "no", c.announce_pid, c.announce_nopid, c.selections[STATS_SEL_GUIDED],
               c.selections[STATS_SEL_DEFAULT], c.selections[STATS_SEL_STOCK], c.peers_same, c.peers_other, c.peers_random, c.peers_outside, c.peers_capability,
               c.peers_in_pid, c.peers_in_provider, c.peers_elsewhere, s ? s->random_fraction : 0.0, s && s->map && s->map_version[0] ? s->map_version : "-",
               s && s->map ? p4p_pidmap_npids(s->map) : 0, s && s->map ? p4p_pidmap_nranges(s->map) : 0, s && s->map ? p4p_pidmap_shadowed(s->map) : 0,
               s && s->map ? age(s->map_loaded, now) : -1, s && s->guidance && s->guidance_version[0] ? s->guidance_version : "-",
               s && s->guidance && p4p_guidance_has_default(s->guidance) ? "yes" : "no", s && s->guidance ? p4p_guidance_nswarms(s->guidance) : 0,
               s && s->guidance && s->guidance_loaded ? age(s->guidance_loaded, now) : -1, s ? (unsigned long)s->gen : 0UL, c.reload_ok, c.reload_failed,
               c.last_error[0] ? c.last_error : "-", age(c.last_error_at, now));
  if (n < 0)
    return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}
