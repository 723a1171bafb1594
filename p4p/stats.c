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

static atomic_ulong g_announce_pid, g_announce_nopid;
static atomic_ulong g_sel[3];
static atomic_ulong g_peers_same, g_peers_other, g_peers_outside, g_peers_random, g_peers_capability;
static atomic_ulong g_reload_ok, g_reload_failed;
/* the last reload error, written by the reload thread only */
static pthread_mutex_t g_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char            g_last_error[512];
static time_t          g_last_error_at;

#define BUMP(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define READ(counter)    atomic_load_explicit(&(counter), memory_order_relaxed)

void p4p_stats_note_announce(int has_pid) { BUMP(*(has_pid ? &g_announce_pid : &g_announce_nopid), 1); }

void p4p_stats_note_selection(enum stats_selection kind, const struct select_tally *tally) {
  BUMP(g_sel[kind], 1);
  if (tally) {
    BUMP(g_peers_same, tally->same_pid);
    BUMP(g_peers_other, tally->other_pid);
    BUMP(g_peers_random, tally->random);
    BUMP(g_peers_outside, tally->outside);
    BUMP(g_peers_capability, tally->capability);
  }
}

void p4p_stats_note_reload(int ok, const char *error) {
  BUMP(*(ok ? &g_reload_ok : &g_reload_failed), 1);
  if (!ok) {
    pthread_mutex_lock(&g_error_lock);
    snprintf(g_last_error, sizeof g_last_error, "%s", error);
    g_last_error_at = time(NULL);
    pthread_mutex_unlock(&g_error_lock);
  }
}

static long age(time_t then, time_t now) { return then ? (long)(now - then) : -1; }

size_t p4p_stats_write(const struct p4p_state *s, char *reply, size_t cap) {
  time_t now = time(NULL);
  char   error[512];
  long   error_age;
  int    n;

  pthread_mutex_lock(&g_error_lock);
  snprintf(error, sizeof error, "%s", g_last_error);
  error_age = age(g_last_error_at, now);
  pthread_mutex_unlock(&g_error_lock);

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
               s && s->enabled ? "yes" : "no", s && s->map ? "yes" : "no", READ(g_announce_pid), READ(g_announce_nopid), READ(g_sel[STATS_SEL_GUIDED]),
               READ(g_sel[STATS_SEL_DEFAULT]), READ(g_sel[STATS_SEL_STOCK]), READ(g_peers_same), READ(g_peers_other), READ(g_peers_random),
               READ(g_peers_outside), READ(g_peers_capability),
               s ? s->random_fraction : 0.0, s && s->map ? s->map_version : "-", s && s->map ? p4p_pidmap_npids(s->map) : 0,
               s && s->map ? p4p_pidmap_nranges(s->map) : 0, s && s->map ? p4p_pidmap_shadowed(s->map) : 0, s && s->map ? age(s->map_loaded, now) : -1,
               s && s->guidance ? s->guidance_version : "-", s && s->guidance && p4p_guidance_has_default(s->guidance) ? "yes" : "no",
               s && s->guidance ? p4p_guidance_nswarms(s->guidance) : 0, s && s->guidance ? age(s->guidance_loaded, now) : -1,
               s ? (unsigned long)s->gen : 0UL, READ(g_reload_ok), READ(g_reload_failed), error[0] ? error : "-", error_age);
  if (n < 0)
    return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}
