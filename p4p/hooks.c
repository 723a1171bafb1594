/* hooks: the p4p.h entry points, wiring config, loader, state, layout,
 * selection and stats together. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dump.h"
#include "guidance.h"
#include "layout.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "p4p.h"
#include "pidmap.h"
#include "pidstats.h"
#include "portal_client.h"
#include "proto/text.h"
#include "provider_view.h"
#include "select.h"
#include "state.h"
#include "stats.h"
#include "swarmstats.h"

/* Retired snapshots live this long; an announce holds one for microseconds. */
#define GRACE_SECONDS   60
#define HOUSEKEEP_EVERY 10

static pthread_t       g_reloader, g_sighup_waiter;
static int             g_started, g_own_sighup;
static pthread_mutex_t g_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_wake      = PTHREAD_COND_INITIALIZER;
static int             g_reload_pending, g_stopping, g_update_pending;

/* Owned by the reload thread once started: the last good local files, and
 * the portals.  Snapshot sources are [local files, if any] + providers. */
static struct loader_local   g_local;
static struct portal_client *g_portals;
static p4p_swarm_walker      g_walker;

int p4p_config_line(const char *line, const char *file, int lineno) {
  char err[600];
  if (p4p_config_set(line, file, lineno, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

/* A provider left out of the snapshot is logged when its reason is new. */
static void note_refusals(const struct p4p_state *old, const struct p4p_state *s) {
  for (size_t i = 0; i < s->nproviders; ++i) {
    const char *was = old && i < old->nproviders && old->local_sources == s->local_sources ? old->providers[i].refused : "";
    if (s->providers[i].refused[0] && strcmp(was, s->providers[i].refused))
      p4p_log(LOG_WARNING, "provider %s refused, its data left out (the others' is used): %s", s->providers[i].name, s->providers[i].refused);
  }
}

/* Builds and publishes a snapshot from the local files and the portals'
 * latest good data.  reread: read the local files again (startup, SIGHUP);
 * a portal update reuses the last good ones.  A failure keeps the old
 * snapshot (and the old files). */
static int rebuild(int reread) {
  const struct p4p_config *cfg = p4p_config_get();
  char                     err[1024];
  struct loader_local      fresh;
  struct loader_source     src[1 + CONFIG_MAX_PROVIDERS];
  struct portal_data       data[CONFIG_MAX_PROVIDERS];
  size_t                   n = 0;
  struct p4p_state        *s;

  /* before the first snapshot there is no previous data to keep */
  const char *failed = !p4p_state_current() ? "cannot start"
                       : reread             ? "reload failed, keeping the previous data"
                                            : "new portal data refused, keeping the previous data";
  if (reread) {
    if (cfg->enable && p4p_loader_read_local(cfg, &fresh, err, sizeof err)) {
      p4p_log(LOG_ERR, "%s: %s", failed, err);
      p4p_stats_note_reload(0, err);
      if (g_started && g_portals)
        rebuild(0); /* as below: the portals' data still goes in */
      return -1;
    }
    if (!cfg->enable)
      memset(&fresh, 0, sizeof fresh);
  }
  struct loader_local *local = reread ? &fresh : &g_local;
  if (local->has_pidmap)
    src[n++] = (struct loader_source){
        .ns               = "",
        .pidmap           = &local->pidmap,
        .guidance         = local->has_guidance ? &local->guidance : NULL,
        .pidmap_version   = local->pidmap.version,
        .guidance_version = local->has_guidance ? local->guidance.version : NULL,
        .required         = 1, /* bad local files: no start, or no reload */
    };
  memset(data, 0, sizeof data);
  for (size_t i = 0; g_portals && i < cfg->nproviders; ++i) {
    p4p_portal_data(g_portals, i, &data[i]);
    src[n++] = (struct loader_source){
        .ns               = cfg->providers[i].name,
        .pidmap           = data[i].has_pidmap ? &data[i].pidmap : NULL,
        .guidance         = data[i].has_guidance ? &data[i].guidance : NULL,
        .costs            = data[i].has_costs ? &data[i].costs : NULL,
        .capability       = data[i].has_capability ? &data[i].capability : NULL,
        .pidmap_version   = data[i].has_pidmap ? data[i].pidmap.version : NULL,
        .guidance_version = data[i].has_guidance ? data[i].guidance.version : NULL,
    };
  }
  const struct p4p_state *current = p4p_state_current();
  s                               = p4p_loader_assemble(cfg, src, n, current ? current->map : NULL, err, sizeof err);
  for (size_t i = 0; i < cfg->nproviders; ++i)
    p4p_portal_data_free(&data[i]);
  if (!s) {
    /* a portal's refused data comes back at every update: say it once */
    static char said[sizeof err];
    if (reread || strcmp(said, err))
      p4p_log(LOG_ERR, "%s: %s", failed, err);
    snprintf(said, sizeof said, "%s", reread ? "" : err);
    p4p_stats_note_reload(0, err);
    if (reread)
      p4p_loader_local_free(&fresh);
    /* the reread local files are refused; the portals' data (which may be
     * what woke us too) still goes in, with the previous local files */
    if (reread && g_started && g_portals)
      rebuild(0);
    return -1;
  }
  s->local_sources = local->has_pidmap ? 1 : 0;
  /* per-PID counters go on while the map stays the same */
  if (s->map)
    s->pidstats = current && current->map == s->map && current->pidstats ? p4p_pidstats_ref(current->pidstats) : p4p_pidstats_new(p4p_pidmap_npids(s->map));
  note_refusals(current, s);
  if (reread) {
    p4p_loader_local_free(&g_local);
    g_local = fresh;
  }
  p4p_state_publish(s);
  p4p_stats_note_reload(1, NULL);
  return 0;
}

/* Statistics of the heaviest swarms to every provider with a guidance
 * interface, so its next guidance round optimizes them. */
static void report_swarms(void) {
  const struct p4p_config *cfg = p4p_config_get();
  const struct p4p_state  *s   = p4p_state_current();
  struct p4p_stats_msg     msg[1 + CONFIG_MAX_PROVIDERS];
  size_t                   top = 0;

  if (!g_portals || !s || !s->map || !g_walker)
    return;
  for (size_t i = 0; i < cfg->nproviders; ++i)
    if ((cfg->providers[i].interfaces & P4P_IF_GUIDANCE) && !cfg->providers[i].legacy && cfg->providers[i].report_swarms > top)
      top = cfg->providers[i].report_swarms;
  if (!top || p4p_swarmstats_collect(g_walker, s, top, msg))
    return;
  for (size_t i = 0; i < cfg->nproviders; ++i) {
    size_t                sp = s->local_sources + i; /* the provider's index in the snapshot */
    struct p4p_stats_msg *m  = &msg[sp];
    if (sp >= s->nproviders || !(cfg->providers[i].interfaces & P4P_IF_GUIDANCE) || cfg->providers[i].legacy || !m->nswarms)
      continue;
    struct p4p_stats_msg view = *m; /* the heaviest first: send this provider's cap of them */
    if (view.nswarms > cfg->providers[i].report_swarms)
      view.nswarms = cfg->providers[i].report_swarms;
    p4p_portal_post_stats(g_portals, i, &view);
  }
  for (size_t i = 0; i < s->nproviders; ++i)
    proto_stats_msg_free(&msg[i]);
}

static void *reloader(void *arg) {
  time_t next_report = time(NULL) + p4p_config_get()->report_interval;
  (void)arg;
  pthread_mutex_lock(&g_wake_lock);
  while (!g_stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += p4p_config_get()->report_interval < HOUSEKEEP_EVERY ? p4p_config_get()->report_interval : HOUSEKEEP_EVERY;
    if (!g_reload_pending && !g_update_pending)
      pthread_cond_timedwait(&g_wake, &g_wake_lock, &until);
    int reread = g_reload_pending, update = g_update_pending;
    g_reload_pending = g_update_pending = 0;
    pthread_mutex_unlock(&g_wake_lock);
    if (reread || update) {
      rebuild(reread);
      /* Parsing left freed pages in this thread's malloc arena; hand them
       * back rather than let every reload grow the tracker's footprint. */
      malloc_trim(0);
    }
    if (time(NULL) >= next_report) {
      report_swarms();
      next_report = time(NULL) + p4p_config_get()->report_interval;
    }
    p4p_state_collect(time(NULL), GRACE_SECONDS);
    pthread_mutex_lock(&g_wake_lock);
  }
  pthread_mutex_unlock(&g_wake_lock);
  return NULL;
}

/* Called by the portal client's thread when a provider's data changed. */
static void portal_updated(void *ctx) {
  (void)ctx;
  pthread_mutex_lock(&g_wake_lock);
  g_update_pending = 1;
  pthread_cond_signal(&g_wake);
  pthread_mutex_unlock(&g_wake_lock);
}

static int stopping(void) {
  pthread_mutex_lock(&g_wake_lock);
  int stop = g_stopping;
  pthread_mutex_unlock(&g_wake_lock);
  return stop;
}

/* SIGHUP is blocked in every tracker thread; this one takes it synchronously.
 * p4p_deinit ends it with a SIGHUP of its own once g_stopping is set (not
 * pthread_cancel: a thread cancelled inside sigwait unwinds past ASan's
 * bookkeeping, which then fails when the thread exits). */
static void *sighup_waiter(void *arg) {
  sigset_t set;
  int      sig;
  (void)arg;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  for (;;)
    if (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
      if (stopping())
        break;
      p4p_reload_request();
    }
  return NULL;
}

int p4p_init(p4p_swarm_walker walk, int own_sighup) {
  char err[1024];

  g_walker = walk;

  /* files are read from now on as the user the tracker dropped to */
  if (p4p_config_check(err, sizeof err) || p4p_config_check_files(err, sizeof err)) {
    p4p_log(LOG_ERR, "cannot start: %s", err);
    return -1;
  }
  /* The local files must be good to start; portals are fetched in the
   * background and join the snapshot when they answer. */
  if (rebuild(1))
    return -1;
  const struct p4p_state *s = p4p_state_current();
  if (s->map)
    p4p_log(LOG_INFO, "PID map %s: %zu PIDs, %zu address ranges; guidance: %s", p4p_config_get()->pidmap_file, p4p_pidmap_npids(s->map),
            p4p_pidmap_nranges(s->map), s->guidance && p4p_config_get()->guidance_file ? p4p_config_get()->guidance_file : "none");
  if (p4p_config_get()->enable && p4p_config_get()->nproviders) {
    if (!(g_portals = p4p_portal_start(p4p_config_get()->providers, p4p_config_get()->nproviders, portal_updated, NULL, err, sizeof err))) {
      p4p_log(LOG_ERR, "cannot start: %s", err);
      return -1;
    }
    for (size_t i = 0; i < p4p_config_get()->nproviders; ++i) {
      char url[512];
      p4p_config_url_redacted(p4p_config_get()->providers[i].url, url, sizeof url);
      p4p_log(LOG_INFO, "provider %s at %s%s", p4p_config_get()->providers[i].name, url,
              p4p_config_get()->providers[i].legacy ? " (legacy protocol)"
              : p4p_config_get()->providers[i].alto ? " (ALTO)"
                                                    : "");
    }
  }
  if (pthread_create(&g_reloader, NULL, reloader, NULL)) {
    p4p_log(LOG_ERR, "cannot start the reload thread");
    return -1;
  }
  g_own_sighup = own_sighup;
  if (own_sighup && pthread_create(&g_sighup_waiter, NULL, sighup_waiter, NULL)) {
    p4p_log(LOG_ERR, "cannot start the SIGHUP thread");
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

void p4p_deinit(void) {
  if (g_started) {
    pthread_mutex_lock(&g_wake_lock);
    g_stopping = 1;
    pthread_cond_signal(&g_wake);
    pthread_mutex_unlock(&g_wake_lock);
    pthread_join(g_reloader, NULL);
    if (g_own_sighup) {
      pthread_kill(g_sighup_waiter, SIGHUP);
      pthread_join(g_sighup_waiter, NULL);
    }
    pthread_mutex_lock(&g_wake_lock);
    g_stopping = 0; /* both threads are gone: a later p4p_init starts afresh */
    pthread_mutex_unlock(&g_wake_lock);
    g_started = 0;
  }
  p4p_portal_stop(g_portals);
  g_portals = NULL;
  p4p_loader_local_free(&g_local);
  p4p_state_shutdown();
  p4p_config_reset();
}

void p4p_note_announce(const uint8_t *requester6) {
  const struct p4p_state *s = p4p_state_current();
  if (!s || !s->map) {
    if (s && s->enabled) /* configured, but no source has data now */
      p4p_stats_note_announce(0);
    return;
  }
  /* pidmap remembers this lookup for the bucket choice and the selection */
  uint16_t slot = p4p_pidmap_lookup(s->map, requester6);
  p4p_stats_note_announce(slot != 0);
  p4p_pidstats_note_announce(s->pidstats, slot);
}

/* Up to `want` servers of the requester's provider, of the list's address
 * family, its own PID's first, starting at a random one so that load
 * spreads; written as seeders at reply.  Returns how many. */
static size_t offer_servers(const struct p4p_provider_info *prov, uint16_t slot, size_t compare_size, size_t want, unsigned short rand48[3], char *reply,
                            size_t *in_pid) {
  size_t got = 0;
  *in_pid    = 0;
  if (!prov->nservers || !want)
    return 0;
  size_t first = (size_t)nrand48(rand48) % prov->nservers;
  for (int pass = 0; pass < 2 && got < want; ++pass)
    for (size_t i = 0; i < prov->nservers && got < want; ++i) {
      const struct p4p_cap_server *sv = &prov->servers[(first + i) % prov->nservers];
      if ((sv->slot == slot) != (pass == 0) || proto_addr_is_v4_mapped(sv->addr) != (compare_size == P4P_PEER_COMPARE_SIZE4))
        continue;
      char *to = reply + got++ * compare_size;
      *in_pid += pass == 0;
      if (compare_size == P4P_PEER_COMPARE_SIZE4)
        memcpy(to, sv->addr + 12, 4);
      else
        memcpy(to, sv->addr, 16);
      to[compare_size - 2] = (char)(sv->port >> 8);
      to[compare_size - 1] = (char)sv->port;
    }
  return got;
}

size_t p4p_select_peers(const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t peer_size, const uint8_t *requester6,
                        const uint8_t *info_hash, size_t amount, unsigned short rand48[3], char *reply) {
  const struct p4p_state  *s = p4p_state_current();
  enum guidance_kind       kind;
  struct select_tally      tally;
  const struct select_row *row;
  uint16_t                 slot;
  size_t                   compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  (void)peer_count;

  if (!s || !s->map)
    return 0; /* P4P off: stock, and not worth counting */
  /* A list still laid out with an older map is rebuilt on its next
   * announce; until then its groups do not match this snapshot's slots. */
  if (layout->map != s->map || !(slot = p4p_pidmap_lookup(s->map, requester6)) || !(row = p4p_guidance_row(s->guidance, info_hash, slot, &kind))) {
    p4p_stats_note_selection(STATS_SEL_STOCK, NULL);
    return 0;
  }

  static const struct p4p_provider_info none;
  uint16_t                              pi   = p4p_pidmap_provider_of(s->map, slot);
  const struct p4p_provider_info       *prov = pi < s->nproviders ? &s->providers[pi] : &none;
  /* Provider servers take the last slots of the answer, as seeders; at
   * least one slot is always left to the swarm. */
  size_t cap_want                            = amount > 1 ? amount - 1 : 0;
  if (cap_want > s->capability_peers)
    cap_want = s->capability_peers;
  size_t servers_in_pid;
  size_t servers = offer_servers(prov, slot, compare_size, cap_want, rand48, reply + (amount - cap_want) * compare_size, &servers_in_pid);
  /* Fewer servers than slots: close the gap so the answer stays contiguous. */
  if (servers < cap_want)
    memmove(reply + (amount - servers) * compare_size, reply + (amount - cap_want) * compare_size, servers * compare_size);

  struct select_request req = {
      .buckets         = peers->data,
      .group_slot      = p4p_layout_slots(peers),
      .groups          = layout->groups,
      .per_group       = layout->per_group,
      .peer_size       = peer_size,
      .self_slot       = slot,
      .self_key        = compare_size == P4P_PEER_COMPARE_SIZE6 ? requester6
                         : proto_addr_is_v4_mapped(requester6)  ? requester6 + 12
                                                                : NULL,
      .row             = row,
      .random_fraction = s->random_fraction,
      .amount          = amount - servers,
      .provider_first  = s->nproviders > 1 ? prov->first : 0,
      .provider_last   = s->nproviders > 1 ? prov->last : 0,
      .intra_share     = s->intra_share,
  };
  size_t written = p4p_select_guided(&req, rand48, reply, &tally);
  if (!written && amount > servers) {
    p4p_stats_note_selection(STATS_SEL_STOCK, NULL);
    return 0;
  }
  tally.capability = servers;
  tally.in_pid += servers_in_pid; /* a provider's servers are in its PIDs */
  tally.in_provider += servers - servers_in_pid;
  p4p_stats_note_selection(kind == GUIDANCE_SWARM ? STATS_SEL_GUIDED : STATS_SEL_DEFAULT, &tally);
  p4p_pidstats_note_answer(s->pidstats, slot, written / compare_size + servers, tally.in_pid);
  return written + servers * compare_size;
}

/* Every provider as the renderers show it: status, redacted URL, cleaned
 * error text, whether the snapshot uses it.  Returns how many. */
static size_t gather_views(const struct p4p_state *s, struct p4p_provider_view *v) {
  const struct p4p_config *cfg = p4p_config_get();
  size_t                   n   = 0;
  for (size_t i = 0; g_portals && i < cfg->nproviders; ++i) {
    struct p4p_provider_view *pv = &v[n];
    memset(pv, 0, sizeof *pv);
    if (p4p_portal_status(g_portals, i, &pv->st)) /* status, not the data: no deep copy per /stats */
      continue;
    char raw[sizeof pv->st.last_error];
    memcpy(raw, pv->st.last_error, sizeof raw);
    p4p_stats_clean_text(raw, pv->st.last_error, sizeof pv->st.last_error);
    pv->cfg = &cfg->providers[i];
    p4p_config_url_redacted(pv->cfg->url, pv->url, sizeof pv->url);
    size_t sp   = s ? s->local_sources + i : 0;
    pv->in_use  = s && sp < s->nproviders && s->providers[sp].first;
    pv->servers = pv->in_use ? s->providers[sp].nservers : 0;
    pv->refused = s && sp < s->nproviders && s->providers[sp].refused[0] ? s->providers[sp].refused : NULL;
    ++n;
  }
  return n;
}

/* Per provider: where its data stands, for operators. */
static size_t render_providers(const struct p4p_state *s, char *out, size_t cap) {
  struct p4p_provider_view v[CONFIG_MAX_PROVIDERS];
  size_t                   nv = gather_views(s, v), n = 0;
  time_t                   now          = time(NULL);
  static const char *const state_text[] = {"in use", "waiting for the next snapshot", "no data (stock selection for its peers)", "refused: "};
  for (size_t i = 0; i < nv && n < cap; ++i) {
    const char                 *name = v[i].cfg->name;
    const struct portal_status *st   = &v[i].st;
    int                         w    = snprintf(out + n, cap - n,
                                                "provider %s url: %s%s\n"
                                                                           "provider %s state: %s%s\n"
                                                                           "provider %s last success age seconds: %ld\n"
                                                                           "provider %s last error: %s\n"
                                                                           "provider %s last error age seconds: %ld\n"
                                                                           "provider %s fetches: %lu\n"
                                                                           "provider %s failures: %lu\n"
                                                                           "provider %s not modified: %lu\n"
                                                                           "provider %s backoff seconds: %d\n"
                                                                           "provider %s pidmap age seconds: %ld\n"
                                                                           "provider %s costs age seconds: %ld\n"
                                                                           "provider %s guidance age seconds: %ld\n"
                                                                           "provider %s capability age seconds: %ld\n"
                                                                           "provider %s swarms under per-swarm guidance: %zu\n"
                                                                           "provider %s servers: %zu\n"
                                                                           "provider %s update stream: %s (%lu events)\n",
                                                name, v[i].url,
                     v[i].cfg->legacy ? " (legacy)"
                                                : v[i].cfg->alto ? " (alto)"
                                                                 : "",
                                                name, state_text[p4p_provider_state_of(&v[i])], v[i].refused ? v[i].refused : "", name,
                     st->last_success ? (long)(now - st->last_success) : -1L, name, st->last_error[0] ? st->last_error : "-", name,
                     st->last_error_at ? (long)(now - st->last_error_at) : -1L, name, st->fetches, name, st->failures, name, st->not_modified, name,
                                                st->backoff_s, name, st->pidmap_at ? (long)(now - st->pidmap_at) : -1L, name, st->costs_at ? (long)(now - st->costs_at) : -1L, name,
                     st->guidance_at ? (long)(now - st->guidance_at) : -1L, name, st->capability_at ? (long)(now - st->capability_at) : -1L, name,
                                                st->guidance_swarms, name, v[i].servers, name, st->stream_live ? "live" : "off", st->stream_events);
    if (w < 0)
      break;
    n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
  }
  return n;
}

size_t p4p_stats_render(char *reply, size_t cap) {
  const struct p4p_state *s = p4p_state_current();
  size_t                  n = p4p_stats_write(s, reply, cap);
  return n + render_providers(s, reply + n, cap - n);
}

size_t p4p_stats_render_large(int mode, char *reply, size_t cap) {
  const struct p4p_state  *s = p4p_state_current();
  struct p4p_provider_view v[CONFIG_MAX_PROVIDERS];
  size_t                   nv = gather_views(s, v);
  if (mode == P4P_STATS_PROMETHEUS)
    return p4p_metrics_write(s, v, nv, reply, cap);
  if (mode == P4P_STATS_DUMP)
    return p4p_dump_write(s, v, nv, reply, cap);
  return 0;
}
