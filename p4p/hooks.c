/* hooks: the p4p.h entry points, wiring config, loader, state, layout,
 * selection and stats together. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "guidance.h"
#include "loader.h"
#include "p4p.h"
#include "pidmap.h"
#include "select.h"
#include "state.h"
#include "stats.h"

/* Retired snapshots live this long; an announce holds one for microseconds. */
#define GRACE_SECONDS   60
#define HOUSEKEEP_EVERY 10

static pthread_t       g_reloader, g_sighup_waiter;
static int             g_started, g_own_sighup;
static pthread_mutex_t g_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_wake      = PTHREAD_COND_INITIALIZER;
static int             g_reload_pending, g_stopping;

/* The requester's PID, looked up once per announce (p4p_note_announce) and
 * reused by selection in the same thread. */
static _Thread_local const struct pidmap *tl_map;
static _Thread_local uint8_t              tl_addr[16];
static _Thread_local uint16_t             tl_slot;

int p4p_config_line(const char *line, const char *file, int lineno) {
  char err[600];
  if (config_set(line, file, lineno, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int reload(void) {
  char              err[1024];
  struct p4p_state *s = loader_build(config_get(), err, sizeof err);
  if (!s) {
    fprintf(stderr, "p4p: reload failed, keeping the previous data: %s\n", err);
    stats_note_reload(0, err);
    return -1;
  }
  state_publish(s);
  stats_note_reload(1, NULL);
  return 0;
}

static void *reloader(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_wake_lock);
  while (!g_stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HOUSEKEEP_EVERY;
    if (!g_reload_pending)
      pthread_cond_timedwait(&g_wake, &g_wake_lock, &until);
    int pending      = g_reload_pending;
    g_reload_pending = 0;
    pthread_mutex_unlock(&g_wake_lock);
    if (pending)
      reload();
    state_collect(time(NULL), GRACE_SECONDS);
    pthread_mutex_lock(&g_wake_lock);
  }
  pthread_mutex_unlock(&g_wake_lock);
  return NULL;
}

/* SIGHUP is blocked in every tracker thread; this one takes it synchronously. */
static void *sighup_waiter(void *arg) {
  sigset_t set;
  int      sig;
  (void)arg;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  for (;;)
    if (sigwait(&set, &sig) == 0 && sig == SIGHUP)
      p4p_reload_request();
  return NULL;
}

int p4p_start(int own_sighup) {
  char              err[1024];
  struct p4p_state *s;

  if (config_check(err, sizeof err)) {
    fprintf(stderr, "p4p: %s\n", err);
    return -1;
  }
  if (!(s = loader_build(config_get(), err, sizeof err))) {
    fprintf(stderr, "p4p: %s\n", err);
    return -1;
  }
  state_publish(s);
  if (s->map)
    fprintf(stderr, "p4p: PID map %s: %zu PIDs, %zu address ranges; guidance: %s\n", config_get()->pidmap_file, pidmap_npids(s->map),
            pidmap_nranges(s->map), s->guidance ? config_get()->guidance_file : "none");
  if (pthread_create(&g_reloader, NULL, reloader, NULL)) {
    fprintf(stderr, "p4p: cannot start the reload thread\n");
    return -1;
  }
  g_own_sighup = own_sighup;
  if (own_sighup && pthread_create(&g_sighup_waiter, NULL, sighup_waiter, NULL)) {
    fprintf(stderr, "p4p: cannot start the SIGHUP thread\n");
    return -1;
  }
  g_started = 1;
  return 0;
}

void p4p_reload_request(void) {
  pthread_mutex_lock(&g_wake_lock);
  g_reload_pending = 1;
  pthread_cond_signal(&g_wake);
  pthread_mutex_unlock(&g_wake_lock);
}

void p4p_stop(void) {
  if (g_started) {
    pthread_mutex_lock(&g_wake_lock);
    g_stopping = 1;
    pthread_cond_signal(&g_wake);
    pthread_mutex_unlock(&g_wake_lock);
    pthread_join(g_reloader, NULL);
    if (g_own_sighup) {
      pthread_cancel(g_sighup_waiter);
      pthread_join(g_sighup_waiter, NULL);
    }
    g_started = 0;
  }
  state_shutdown();
  config_reset();
}

void p4p_note_announce(const uint8_t *requester6) {
  const struct p4p_state *s = state_current();
  if (!s || !s->map)
    return;
  tl_map = s->map;
  memcpy(tl_addr, requester6, 16);
  tl_slot = pidmap_lookup(s->map, requester6);
  stats_note_announce(tl_slot != 0);
}

static uint16_t requester_slot(const struct pidmap *map, const uint8_t *requester6) {
  if (tl_map == map && !memcmp(tl_addr, requester6, 16))
    return tl_slot;
  return pidmap_lookup(map, requester6);
}

static int is_v4_mapped(const uint8_t *a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !memcmp(a, prefix, sizeof prefix);
}

/* Up to `want` servers of the requester's provider, of the list's address
 * family, its own PID's first, starting at a random one so that load
 * spreads; written as seeders at reply.  Returns how many. */
static size_t offer_servers(const struct p4p_provider_info *prov, uint16_t slot, size_t compare_size, size_t want, unsigned short rand48[3],
                            char *reply) {
  size_t got = 0;
  if (!prov->nservers || !want)
    return 0;
  size_t first = (size_t)nrand48(rand48) % prov->nservers;
  for (int pass = 0; pass < 2 && got < want; ++pass)
    for (size_t i = 0; i < prov->nservers && got < want; ++i) {
      const struct p4p_cap_server *sv = &prov->servers[(first + i) % prov->nservers];
      if ((sv->slot == slot) != (pass == 0) || is_v4_mapped(sv->addr) != (compare_size == 6))
        continue;
      char *to = reply + got++ * compare_size;
      if (compare_size == 6)
        memcpy(to, sv->addr + 12, 4);
      else
        memcpy(to, sv->addr, 16);
      to[compare_size - 2] = (char)(sv->port >> 8);
      to[compare_size - 1] = (char)sv->port;
    }
  return got;
}

size_t p4p_select_peers(const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t peer_size,
                        const uint8_t *requester6, const uint8_t *info_hash, size_t amount, unsigned short rand48[3], char *reply) {
  const struct p4p_state *s = state_current();
  enum guidance_kind      kind;
  struct select_tally     tally;
  const float            *row;
  uint16_t                slot;
  size_t                  compare_size = peer_size - 2;
  (void)peer_count;

  if (!s || !s->map)
    return 0; /* P4P off: stock, and not worth counting */
  /* A list still laid out with an older map is rebuilt on its next
   * announce; until then its groups do not match this snapshot's slots. */
  if (layout->map != s->map || !(slot = requester_slot(s->map, requester6)) ||
      !(row = guidance_row(s->guidance, info_hash, slot, &kind))) {
    stats_note_selection(STATS_SEL_STOCK, NULL);
    return 0;
  }

  const struct p4p_provider_info *prov = &s->providers[pidmap_provider_of(s->map, slot)];
  /* Provider servers take the last slots of the answer, as seeders; at
   * least one slot is always left to the swarm. */
  size_t cap_want = amount > 1 ? amount - 1 : 0;
  if (cap_want > s->capability_peers)
    cap_want = s->capability_peers;
  size_t servers = offer_servers(prov, slot, compare_size, cap_want, rand48, reply + (amount - cap_want) * compare_size);
  /* Fewer servers than slots: close the gap so the answer stays contiguous. */
  if (servers < cap_want)
    memmove(reply + (amount - servers) * compare_size, reply + (amount - cap_want) * compare_size, servers * compare_size);

  struct select_request req = {
      .buckets         = peers->data,
      .groups          = layout->groups,
      .per_group       = layout->per_group,
      .peer_size       = peer_size,
      .self_slot       = slot,
      .self_key        = compare_size == 18 ? requester6 : is_v4_mapped(requester6) ? requester6 + 12 : NULL,
      .row             = row,
      .random_fraction = s->random_fraction,
      .amount          = amount - servers,
      .provider_first  = s->nproviders > 1 ? prov->first : 0,
      .provider_last   = s->nproviders > 1 ? prov->last : 0,
      .intra_share     = s->intra_share,
  };
  size_t written = select_peers(&req, rand48, reply, &tally);
  if (!written && amount > servers) {
    stats_note_selection(STATS_SEL_STOCK, NULL);
    return 0;
  }
  tally.capability = servers;
  stats_note_selection(kind == GUIDANCE_SWARM ? STATS_SEL_GUIDED : STATS_SEL_DEFAULT, &tally);
  return written + servers * compare_size;
}

size_t p4p_stats_render(char *reply, size_t cap) { return stats_render(state_current(), reply, cap); }

static p4p_swarm_walker g_walker;
void                    p4p_set_swarm_walker(p4p_swarm_walker walk) { g_walker = walk; }
