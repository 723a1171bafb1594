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
static atomic_ulong g_in_pid, g_in_provider, g_elsewhere;
static atomic_ulong g_reload_ok, g_reload_failed;
/* the last reload error, written by the reload thread only */
static pthread_mutex_t g_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char            g_last_error[512];
static time_t          g_last_error_at;

#define BUMP(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define READ(counter)    atomic_load_explicit(&(counter), memory_order_relaxed)

void p4p_stats_clean_text(const char *in, char *out, size_t outlen) {
  size_t n = 0;
  if (!outlen)
    return;
  for (; in && *in && n + 1 < outlen; ++in)
    out[n++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
  out[n] = 0;
}

void p4p_stats_note_announce(int has_pid) { BUMP(*(has_pid ? &g_announce_pid : &g_announce_nopid), 1); }

void p4p_stats_note_selection(enum stats_selection kind, const struct select_tally *tally) {
  BUMP(g_sel[kind], 1);
  if (tally) {
    BUMP(g_peers_same, tally->same_pid);
    BUMP(g_peers_other, tally->other_pid);
    BUMP(g_peers_random, tally->random);
    BUMP(g_peers_outside, tally->outside);
    BUMP(g_peers_capability, tally->capability);
    BUMP(g_in_pid, tally->in_pid);
    BUMP(g_in_provider, tally->in_provider);
    BUMP(g_elsewhere, tally->elsewhere);
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
  out->announce_pid      = READ(g_announce_pid);
  out->announce_nopid    = READ(g_announce_nopid);
  for (int i = 0; i < 3; ++i)
    out->selections[i] = READ(g_sel[i]);
  out->peers_same        = READ(g_peers_same);
  out->peers_other       = READ(g_peers_other);
  out->peers_outside     = READ(g_peers_outside);
  out->peers_random      = READ(g_peers_random);
  out->peers_capability  = READ(g_peers_capability);
  out->peers_in_pid      = READ(g_in_pid);
  out->peers_in_provider = READ(g_in_provider);
  out->peers_elsewhere   = READ(g_elsewhere);
  out->reload_ok         = READ(g_reload_ok);
  out->reload_failed     = READ(g_reload_failed);
  pthread_mutex_lock(&g_error_lock);
  snprintf(out->last_error, sizeof out->last_error, "%s", g_last_error);
  out->last_error_at = g_last_error_at;
  pthread_mutex_unlock(&g_error_lock);
}

void p4p_stats_reset(void) {
  atomic_ulong *all[] = {&g_announce_pid, &g_announce_nopid, &g_sel[0],       &g_sel[1],     &g_sel[2],        &g_peers_same,
                         &g_peers_other,  &g_peers_outside,  &g_peers_random, &g_peers_capability, &g_in_pid, &g_in_provider,
                         &g_elsewhere,    &g_reload_ok,      &g_reload_failed};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    atomic_store(all[i], 0);
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
               c.selections[STATS_SEL_DEFAULT], c.selections[STATS_SEL_STOCK], c.peers_same, c.peers_other, c.peers_random, c.peers_outside,
               c.peers_capability, c.peers_in_pid, c.peers_in_provider, c.peers_elsewhere, s ? s->random_fraction : 0.0,
               s && s->map && s->map_version[0] ? s->map_version : "-", s && s->map ? p4p_pidmap_npids(s->map) : 0,
               s && s->map ? p4p_pidmap_nranges(s->map) : 0, s && s->map ? p4p_pidmap_shadowed(s->map) : 0, s && s->map ? age(s->map_loaded, now) : -1,
               s && s->guidance && s->guidance_version[0] ? s->guidance_version : "-",
               s && s->guidance && p4p_guidance_has_default(s->guidance) ? "yes" : "no", s && s->guidance ? p4p_guidance_nswarms(s->guidance) : 0,
               s && s->guidance && s->guidance_loaded ? age(s->guidance_loaded, now) : -1, s ? (unsigned long)s->gen : 0UL, c.reload_ok,
               c.reload_failed, c.last_error[0] ? c.last_error : "-", age(c.last_error_at, now));
  if (n < 0)
    return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}
