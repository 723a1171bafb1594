/* sim: the event loop, peers, connections, flows and the tracker side.
 *
 * Invariants:
 *  - a connection direction (sender -> receiver) carries at most one flow;
 *    it exists only while the sender unchokes the receiver and the receiver
 *    has a unit to request from it;
 *  - a receiver fetches a unit from one sender at a time (its busy set);
 *  - a flow's rate is constant between two rate solves; a unit finishing
 *    on a flow whose receiver asks for the next unit keeps the flow (and
 *    its rate), so only real flow-set changes trigger a solve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "heap.h"
#include "maxmin.h"
#include "sim.h"
#include "traffic.h"

#include "peerlist.h" /* p4p/p4p.h: the tracker module, through its public header only */
#include "proto/msg.h"
#include "proto/text.h"
#include "provider/optimize.h"
#include "provider/pdistance.h"
#include "provider/pidrows.h"
#include "provider/provider.h"
#include "provider/topology.h"

#define PEER_SIZE    P4P_PEER_SIZE4 /* upstream's IPv4 record */
#define COMPARE_SIZE P4P_PEER_COMPARE_SIZE4

/* The iTracker's default matrix is the one for the UTC hour it serves;
 * the shipped files avoid no link at noon. */
#define DEFAULT_HOUR 12

enum { EV_JOIN = 1, EV_ANNOUNCE, EV_RECHOKE, EV_RECOMPUTE, EV_OPTIMIZE, EV_SAMPLE, EV_LEAVE, EV_PRODUCE };

struct peer {
  int       swarm, pop;
  uint16_t  pid; /* the provider PID it was placed in, + 1; 0 = none */
  uint32_t  ip;
  double    up_kbps, down_kbps;
  unsigned  slots;    /* regular unchokes */
  int       origin;   /* the swarm's initial seed */
  int       external; /* outside the provider: no PID, enters at the peering PoP */
  int       joined, left, done, listed;
  double    join_time, done_time;
  uint64_t *have, *busy, *part; /* part: units partly received */
  double   *got;                /* per unit: kbit already received of it */
  uint16_t *avail;              /* per unit: neighbours that have it */
  size_t    nhave;
  int      *conns;
  size_t    nconns, maxconns;
  long      optimistic; /* conn id of the optimistic unchoke, -1 */
  double    last_announce;
  double    next_announce; /* the one pending announce that counts */
};

struct conn_dir {
  int    unchoked;
  long   flow;         /* -1: none */
  double bytes_period; /* sent this rechoke period */
};

struct conn {
  int             a, b; /* d[0]: a -> b, d[1]: b -> a */
  int             alive;
  struct conn_dir d[2];
};

struct flow {
  long   conn;
  int    dir, from, to;
  long   unit;
  double remaining, rate, t_last, cap;
  int    active;
};

/* One torrent as the tracker keeps it (upstream's ot_peerlist: the peers
 * and their layout, the count) plus what the appTracker reports of it. */
struct swarm {
  struct p4p_vector list;
  struct p4p_layout layout;
  size_t            npeers;       /* upstream's peer_count */
  long              clean_minute; /* upstream's base: its clean runs once a minute */
  double           *pid_count;    /* registered peers per provider PID */
  double           *pid_w;        /* P x P: the optimizer's rows as PID rows */
  int               guided;       /* a solve has seen this swarm's leechers */
  int               origin;       /* peer id of the swarm's first seed */
  uint8_t           info_hash[P4P_HASH_SIZE];
};

struct sim {
  const struct sim_config *cfg;
  struct prov_config       prov;
  struct prov_topology     topo;
  size_t                   npids;
  struct p4p_pidmap_msg    pidmap_msg; /* what the iTracker publishes as its PID map */
  int                      npops, nlinks;
  double                  *pop_delay_ms;     /* npops^2 one-way propagation */
  double                  *link_cap;         /* capacity left after background, kbit/s */
  double                  *default_w;        /* P x P: the iTracker's default matrix */
  double                  *pop_identity;     /* npops^2: the localized policy as PoP rows */
  double                  *scratch_w;        /* P x P */
  int                      provider_dropped; /* past max staleness: the tracker has no P4P data */
  unsigned long            publications;
  int                      peering_pop; /* where external peers enter */
  double                   unit_s;      /* streaming: seconds of stream per unit */
  size_t                   produced;    /* streaming: units the source has made */
  struct swarm            *swarms;
  struct peer             *peers;
  size_t                   npeers, nunits, words;
  double                   unit_kbit;
  struct conn             *conns;
  size_t                   nconns, cap_conns;
  struct flow             *flows;
  size_t                   nflows, cap_flows;
  long                    *free_flows;
  size_t                   nfree_flows;
  struct evq               q;
  struct idxheap           done_heap;
  struct maxmin_ws         ws;
  uint32_t                *mm_off, *mm_res;
  double                  *mm_cap, *mm_fcap, *mm_rate;
  long                    *mm_flow;
  size_t                   cap_mm_flows, cap_mm_inc;
  double                  *link_load, *link_area;
  double                   last_area_t, last_sample_t;
  int                      recompute_queued;
  size_t                   leechers_done, nleechers;
  unsigned short           rng_run[3], rng_sel[3];
  unsigned                 rechoke_tick;
  struct prov_optimizer   *opt;
  uint32_t                *ip_keys; /* open addressing ip -> peer */
  long                    *ip_vals;
  size_t                   ip_cap;
  struct sim_result       *res;
  double                   now; /* time of the event being run */
  size_t                   cap_samples;
  char                    *err;
  size_t                   errlen;
  int                      failed;
};

/* --- small helpers ------------------------------------------------------ */

static void fail(struct sim *s, const char *what) {
  if (!s->failed)
    snprintf(s->err, s->errlen, "%s", what);
  s->failed = 1;
}

static double haversine_km(double lat1, double lon1, double lat2, double lon2) {
  const double r = 6371.0, d2r = M_PI / 180.0;
  double       dlat = (lat2 - lat1) * d2r, dlon = (lon2 - lon1) * d2r;
  double       a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * d2r) * cos(lat2 * d2r) * sin(dlon / 2) * sin(dlon / 2);
  return 2 * r * asin(sqrt(a < 1 ? a : 1));
}

static void ip_put(struct sim *s, uint32_t ip, long peer) {
  size_t h = (ip * 2654435761u) & (s->ip_cap - 1);
  while (s->ip_vals[h] >= 0)
    h = (h + 1) & (s->ip_cap - 1);
  s->ip_keys[h] = ip;
  s->ip_vals[h] = peer;
}

static long ip_get(const struct sim *s, uint32_t ip) {
  size_t h = (ip * 2654435761u) & (s->ip_cap - 1);
  while (s->ip_vals[h] >= 0) {
    if (s->ip_keys[h] == ip)
      return s->ip_vals[h];
    h = (h + 1) & (s->ip_cap - 1);
  }
  return -1;
}

static void record_of(const struct sim *s, const struct peer *p, uint8_t rec[PEER_SIZE]) {
  rec[0] = (uint8_t)(p->ip >> 24);
  rec[1] = (uint8_t)(p->ip >> 16);
  rec[2] = (uint8_t)(p->ip >> 8);
  rec[3] = (uint8_t)p->ip;
  rec[4] = 0x1a; /* port 6881 */
  rec[5] = 0xe1;
  rec[6] = p->done || p->origin ? P4P_PEER_FLAG_SEEDING : 0;
  rec[7] = 0;
  (void)s;
}

/* The announcing peer as upstream's ot_peer6: its IPv4 address mapped
 * into IPv6, then the port. */
static void requester_of(const uint8_t rec[PEER_SIZE], uint8_t req6[P4P_PEER_COMPARE_SIZE6]) {
  memset(req6, 0, 10);
  req6[10] = req6[11] = 0xff;
  memcpy(req6 + 12, rec, COMPARE_SIZE);
}

static int is_seed(const struct peer *p) { return p->origin || p->done; }

static void schedule(struct sim *s, double t, int type, long arg) {
  if (evq_push(&s->q, t, type, arg))
    fail(s, "out of memory (events)");
}

/* --- setup --------------------------------------------------------------- */

/* Replaces the provider's background by the gravity model's (traffic.h). */
static int gravity_background(struct sim *s) {
  const struct sim_config *c    = s->cfg;
  double                  *mass = malloc(((size_t)s->npops + 1) * sizeof *mass);
  double                  *bg   = malloc(((size_t)s->nlinks + 1) * sizeof *bg);
  int                      rc   = -1;
  if (!mass || !bg) {
    snprintf(s->err, s->errlen, "out of memory");
    goto out;
  }
  for (int i = 0; i < s->npops; ++i)
    mass[i] = 1;
  if (c->masses_path && traffic_read_masses(c->masses_path, &s->topo, mass, s->err, s->errlen))
    goto out;
  if (traffic_gravity(&s->topo, mass, c->gravity_peak, bg, s->err, s->errlen))
    goto out;
  rc = 0;
  for (int e = 0; e < s->nlinks && !rc; ++e)
    rc = prov_topology_set_background(&s->topo, e, bg[e], s->err, s->errlen);
out:
  free(mass);
  free(bg);
  return rc;
}

/* The iTracker's <default> matrix (provider/pdistance.h): the same
 * normalized p-distances and rows it publishes at DEFAULT_HOUR. */
static int default_matrix(struct sim *s) {
  size_t  np = (size_t)s->npops, P = s->npids;
  double *cost = malloc((np * np + 1) * sizeof *cost), norm;
  int     rc   = -1;
  s->default_w = malloc((P * P + 1) * sizeof *s->default_w);
  if (!cost || !s->default_w)
    snprintf(s->err, s->errlen, "out of memory");
  else if (!prov_cost_norm(&s->prov, &s->topo, &norm, s->err, s->errlen) &&
           !prov_norm_pop_costs(&s->prov, &s->topo, DEFAULT_HOUR, norm, cost, s->err, s->errlen) &&
           !prov_default_pid_rows(&s->prov, &s->topo, cost, s->default_w, s->err, s->errlen))
    rc = 0;
  free(cost);
  return rc;
}

static int setup_network(struct sim *s) {
  const struct sim_config *c = s->cfg;
  if (prov_load(c->provider_path, &s->prov, s->err, s->errlen))
    return -1;
  prov_topology_init(&s->topo);
  if (prov_build_topology(&s->prov, &s->topo, s->err, s->errlen))
    return -1;
  s->npops  = s->topo.npops;
  s->nlinks = s->topo.nlinks;
  s->npids  = s->prov.npids;
  if (!s->npids) {
    snprintf(s->err, s->errlen, "%s: the provider file has no PIDs", c->provider_path);
    return -1;
  }
  /* Provider files give PoP locations, not link lengths: a link's delay is
   * its great-circle length at the speed of light in fibre. */
  if (c->gravity_peak > 0 && gravity_background(s))
    return -1;
  double *ldelay  = calloc((size_t)s->nlinks + 1, sizeof *ldelay);
  s->pop_delay_ms = calloc((size_t)s->npops * s->npops, sizeof *s->pop_delay_ms);
  s->link_cap     = calloc((size_t)s->nlinks + 1, sizeof *s->link_cap);
  if (!ldelay || !s->pop_delay_ms || !s->link_cap) {
    free(ldelay);
    snprintf(s->err, s->errlen, "out of memory");
    return -1;
  }
  for (int e = 0; e < s->nlinks; ++e) {
    struct prov_link      *l = &s->topo.links[e];
    const struct prov_pop *a = &s->topo.pops[l->from], *b = &s->topo.pops[l->to];
    ldelay[e] = l->delay_ms > 0 ? l->delay_ms : a->has_location && b->has_location ? haversine_km(a->lat, a->lon, b->lat, b->lon) / P4P_FIBRE_KM_PER_MS : 0;
    if (c->background_frac > 0 && prov_topology_set_background(&s->topo, e, l->background_kbps + c->background_frac * l->capacity_kbps, s->err, s->errlen)) {
      free(ldelay);
      return -1;
    }
    s->link_cap[e] = l->capacity_kbps - l->background_kbps;
    if (s->link_cap[e] < 0)
      s->link_cap[e] = 0;
  }
  for (int i = 0; i < s->npops; ++i)
    for (int j = 0; j < s->npops; ++j) {
      const struct prov_route *r = prov_topology_route(&s->topo, i, j);
      double                   d = 0;
      if (r)
        for (int k = 0; k < r->nlinks; ++k)
          d += ldelay[prov_route_links(&s->topo, r)[k]];
      s->pop_delay_ms[i * s->npops + j] = d;
    }
  free(ldelay);

  /* The PID map the iTracker would publish: the tracker builds its own
   * from this message, through the loader */
  if (prov_pidmap_msg(&s->prov, &s->pidmap_msg)) {
    snprintf(s->err, s->errlen, "out of memory");
    return -1;
  }
  /* external peers enter at the named PoP, else at the best connected one
   * (most links, lowest index) */
  s->peering_pop = -1;
  if (c->peering_pop && (s->peering_pop = prov_topology_find_pop(&s->topo, c->peering_pop)) < 0) {
    snprintf(s->err, s->errlen, "peering PoP %s is not in the provider file", c->peering_pop);
    return -1;
  }
  if (s->peering_pop < 0) {
    int best = -1;
    for (int i = 0; i < s->npops; ++i) {
      int deg = 0;
      for (int e = 0; e < s->nlinks; ++e)
        deg += s->topo.links[e].from == i;
      if (deg > best) {
        best           = deg;
        s->peering_pop = i;
      }
    }
  }
  s->pop_identity = calloc((size_t)s->npops * s->npops, sizeof *s->pop_identity);
  s->scratch_w    = malloc((s->npids * s->npids + 1) * sizeof *s->scratch_w);
  if (!s->pop_identity || !s->scratch_w) {
    snprintf(s->err, s->errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < s->npops; ++i)
    s->pop_identity[i * s->npops + i] = 1;
  return default_matrix(s);
}

/* The first IPv4 prefix of a PID: base address and number of host
 * addresses, or 0 when it has none. */
static uint32_t pid_v4_block(const struct prov_pid_config *pid, uint32_t *base) {
  for (size_t k = 0; k < pid->nprefixes; ++k) {
    const struct p4p_prefix *pf = &pid->prefixes[k];
    if (pf->bits >= 96 && proto_addr_is_v4_mapped(pf->addr)) {
      unsigned bits = pf->bits - 96;
      uint32_t a    = (uint32_t)pf->addr[12] << 24 | (uint32_t)pf->addr[13] << 16 | (uint32_t)pf->addr[14] << 8 | pf->addr[15];
      uint32_t mask = bits ? ~0u << (32 - bits) : 0;
      *base         = a & mask;
      return bits >= 31 ? 0 : (uint32_t)((1ull << (32 - bits)) - 2);
    }
  }
  return 0;
}

static const struct prov_access_class paper_mix[] = {
    {"dsl-low", 784, 128, 0.20}, {"dsl", 1500, 384, 0.40}, {"cable", 3000, 1000, 0.25}, {"fiber", 10000, 5000, 0.15}};

static int setup_peers(struct sim *s) {
  const struct sim_config *c      = s->cfg;
  unsigned short           rng[3] = {(unsigned short)(c->seed ^ 0x5eed), (unsigned short)(c->seed >> 16), (unsigned short)(c->seed >> 32)};
  size_t                   per    = c->peers_per_swarm + 1;
  s->npeers                       = per * (size_t)c->nswarms;
  s->nleechers                    = c->peers_per_swarm * (size_t)c->nswarms;
  s->unit_kbit                    = c->block_kb * c->blocks_per_unit * 8.0 * 1024 / 1000;
  s->nunits                       = (size_t)ceil(c->file_mb * 1024 / (c->block_kb * c->blocks_per_unit));
  if (c->stream_kbps > 0) { /* a live stream as long as the run */
    s->unit_s = s->unit_kbit / c->stream_kbps;
    s->nunits = (size_t)ceil(c->max_time_s / s->unit_s);
  }
  if (s->nunits < 1 || s->nunits > 65535 || per > 65535) {
    snprintf(s->err, s->errlen, "unsupported file or swarm size (%zu units)", s->nunits);
    return -1;
  }
  s->words  = BT_WORDS(s->nunits);
  s->peers  = calloc(s->npeers, sizeof *s->peers);
  s->swarms = calloc((size_t)c->nswarms, sizeof *s->swarms);
  for (s->ip_cap = 64; s->ip_cap < 4 * s->npeers; s->ip_cap *= 2)
    ;
  s->ip_keys = calloc(s->ip_cap, sizeof *s->ip_keys);
  s->ip_vals = malloc(s->ip_cap * sizeof *s->ip_vals);
  if (!s->peers || !s->swarms || !s->ip_keys || !s->ip_vals)
    goto oom;
  for (size_t h = 0; h < s->ip_cap; ++h)
    s->ip_vals[h] = -1;

  /* PIDs of each PoP that can hold IPv4 peers, and a counter per PID */
  size_t   *pop_npids = calloc((size_t)s->npops, sizeof *pop_npids);
  size_t   *pop_pids  = calloc((size_t)s->npops * s->npids, sizeof *pop_pids);
  uint32_t *next_host = calloc(s->npids, sizeof *next_host);
  if (!pop_npids || !pop_pids || !next_host) {
    free(pop_npids);
    free(pop_pids);
    free(next_host);
    goto oom;
  }
  int  npopulated = 0;
  int *populated  = calloc((size_t)s->npops, sizeof *populated);
  for (size_t i = 0; populated && i < s->npids; ++i) {
    uint32_t base;
    size_t   pop = s->prov.pids[i].pop;
    if (pid_v4_block(&s->prov.pids[i], &base))
      pop_pids[pop * s->npids + pop_npids[pop]++] = i;
  }
  for (int p = 0; populated && p < s->npops; ++p)
    if (pop_npids[p])
      populated[npopulated++] = p;
  if (!populated || !npopulated) {
    free(pop_npids);
    free(pop_pids);
    free(next_host);
    free(populated);
    snprintf(s->err, s->errlen, populated ? "no PID has an IPv4 prefix to number peers in" : "out of memory");
    return -1;
  }

  const struct prov_access_class *classes   = s->prov.nclasses ? s->prov.classes : paper_mix;
  size_t                          nclasses  = s->prov.nclasses ? s->prov.nclasses : sizeof paper_mix / sizeof *paper_mix;
  double                          share_sum = 0;
  for (size_t k = 0; k < nclasses; ++k)
    share_sum += classes[k].share;

  int      rc            = 0;
  uint32_t next_external = (198u << 24) | (18u << 16) | 1; /* 198.18.0.0/15: in no PID */
  for (size_t id = 0; id < s->npeers && !rc; ++id) {
    struct peer *p = &s->peers[id];
    p->swarm       = (int)(id / per);
    p->origin      = id % per == 0;
    /* peers at a uniformly random PoP (the paper's setup), then a random
     * PID of that PoP; external leechers enter at the peering PoP */
    p->pop         = populated[nrand48(rng) % npopulated];
    size_t pid     = pop_pids[(size_t)p->pop * s->npids + (size_t)nrand48(rng) % pop_npids[p->pop]];
    if (c->external_frac > 0 && !p->origin && erand48(rng) < c->external_frac) {
      p->external = 1;
      p->pop      = s->peering_pop;
      p->ip       = next_external++;
    } else {
      uint32_t base, hosts = pid_v4_block(&s->prov.pids[pid], &base);
      if (next_host[pid] >= hosts) {
        snprintf(s->err, s->errlen, "PID %s: its IPv4 prefix is too small for the peers", s->prov.pids[pid].name);
        rc = -1;
        break;
      }
      p->ip = base + 1 + next_host[pid]++;
    }
    p->pid = p->external ? 0 : (uint16_t)(pid + 1);
    ip_put(s, p->ip, (long)id);
    double x = erand48(rng) * share_sum;
    size_t k = 0;
    while (k + 1 < nclasses && x >= classes[k].share)
      x -= classes[k++].share;
    p->up_kbps     = p->origin ? c->seed_up_kbps : c->access_up_kbps > 0 ? c->access_up_kbps : classes[k].up_kbps;
    p->down_kbps   = p->origin ? 0 : c->access_down_kbps > 0 ? c->access_down_kbps : classes[k].down_kbps;
    unsigned extra = c->slot_kbps > 0 ? (unsigned)(p->up_kbps / c->slot_kbps) : 0;
    p->slots       = c->regular_slots > extra ? c->regular_slots : extra;
    p->maxconns    = c->max_conns > 2 * p->slots ? c->max_conns : 2 * p->slots;
    p->join_time   = p->origin ? 0 : erand48(rng) * c->join_window_s;
    p->optimistic  = -1;
    p->have        = calloc(s->words, sizeof *p->have);
    p->busy        = calloc(s->words, sizeof *p->busy);
    p->part        = calloc(s->words, sizeof *p->part);
    p->got         = calloc(s->nunits, sizeof *p->got);
    p->avail       = calloc(s->nunits, sizeof *p->avail);
    p->conns       = malloc(p->maxconns * sizeof *p->conns);
    if (!p->have || !p->busy || !p->part || !p->got || !p->avail || !p->conns) {
      snprintf(s->err, s->errlen, "out of memory");
      rc = -1;
      break;
    }
    if (p->origin && !(c->stream_kbps > 0)) { /* a live source makes its units as it goes */
      for (size_t u = 0; u < s->nunits; ++u)
        bt_set(p->have, u);
      p->nhave = s->nunits;
    }
  }
  free(pop_npids);
  free(pop_pids);
  free(next_host);
  free(populated);
  if (rc)
    return -1;

  for (int k = 0; k < c->nswarms; ++k) {
    struct swarm *w = &s->swarms[k];
    memset(w->info_hash, 0, sizeof w->info_hash);
    w->info_hash[0] = (uint8_t)(k + 1);
    w->origin       = (int)((size_t)k * per);
    w->clean_minute = -1;
    w->pid_w        = calloc(s->npids * s->npids, sizeof *w->pid_w);
    w->pid_count    = calloc(s->npids, sizeof *w->pid_count);
    if (!w->pid_w || !w->pid_count)
      goto oom; /* the list itself starts empty, as upstream's does */
  }
  return 0;
oom:
  snprintf(s->err, s->errlen, "out of memory");
  return -1;
}

/* --- flows and rates ------------------------------------------------------ */

static void request_recompute(struct sim *s, double now) {
  if (s->recompute_queued)
    return;
  s->recompute_queued = 1;
  schedule(s, now + s->cfg->recompute_delay_s, EV_RECOMPUTE, 0);
}

/* Moves a flow's bookkeeping to `now`: bytes sent since the last sync are
 * credited to the connection (for tit-for-tat) and to the traffic totals. */
static void account(struct sim *s, struct flow *f, double kbit) {
  if (kbit <= 0)
    return;
  struct sim_result       *r = s->res;
  const struct peer       *a = &s->peers[f->from], *b = &s->peers[f->to];
  const struct prov_route *rt    = prov_topology_route(&s->topo, a->pop, b->pop);
  double                   bytes = kbit * 1000 / 8;
  s->conns[f->conn].d[f->dir].bytes_period += bytes;
  r->bytes_total += bytes;
  if (a->origin)
    r->bytes_from_seeds += bytes;
  if (a->pid && a->pid == b->pid)
    r->bytes_intra_pid += bytes;
  if (a->external != b->external)
    r->bytes_external += bytes;
  if (s->cfg->stream_kbps > 0)
    r->stream_bytes += bytes;
  if (a->pop == b->pop)
    r->bytes_intra_pop += bytes;
  if (rt && rt->nlinks > 0) {
    r->bytes_backbone += bytes;
    r->byte_hops += bytes * rt->nlinks;
    for (int k = 0; k < rt->nlinks; ++k)
      r->link_bytes[prov_route_links(&s->topo, rt)[k]] += bytes;
  }
}

static void sync_flow(struct sim *s, struct flow *f, double now) {
  double kbit = f->rate * (now - f->t_last);
  if (kbit > f->remaining)
    kbit = f->remaining;
  f->remaining -= kbit;
  f->t_last = now;
  account(s, f, kbit);
}

static double tcp_cap_kbps(const struct sim *s, int from, int to) {
  const struct peer *a = &s->peers[from], *b = &s->peers[to];
  double             rtt_ms = s->cfg->access_rtt_ms + 2 * s->pop_delay_ms[a->pop * s->npops + b->pop];
  if (s->cfg->tcp_window_kb <= 0 || rtt_ms <= 0)
    return INFINITY;
  return s->cfg->tcp_window_kb * 8.0 * 1024 / rtt_ms; /* kbit per ms = Mbit/s; x1000/1000 */
}

static long alloc_flow(struct sim *s) {
  if (s->nfree_flows)
    return s->free_flows[--s->nfree_flows];
  if (s->nflows == s->cap_flows) {
    size_t cap = s->cap_flows ? 2 * s->cap_flows : 1024;
    void  *f   = realloc(s->flows, cap * sizeof *s->flows);
    void  *l   = realloc(s->free_flows, cap * sizeof *s->free_flows);
    if (f)
      s->flows = f;
    if (l)
      s->free_flows = l;
    if (!f || !l) {
      fail(s, "out of memory (flows)");
      return -1;
    }
    s->cap_flows = cap;
  }
  return (long)s->nflows++;
}

/* Streaming: the units a receiver still wants, [lo, hi): born (the source
 * makes unit u at (u + 1) unit_s) no longer than the deadline ago, and
 * within the window after the oldest of them.  A file: all units. */
static void wanted_units(const struct sim *s, size_t *lo, size_t *hi) {
  const struct sim_config *c = s->cfg;
  *lo                        = 0;
  *hi                        = s->nunits;
  if (!(c->stream_kbps > 0))
    return;
  double first = (s->now - c->stream_deadline_s) / s->unit_s - 1;
  *lo          = first > 0 ? (size_t)ceil(first) : 0;
  *hi          = *lo + (size_t)ceil(c->stream_window_s / s->unit_s);
  if (*hi > s->produced)
    *hi = s->produced;
  if (*lo > *hi)
    *lo = *hi;
}

/* sender's units restricted to what the receiver still wants */
static const uint64_t *offer(const struct sim *s, const struct peer *pf, uint64_t *buf) {
  size_t lo, hi;
  wanted_units(s, &lo, &hi);
  if (lo == 0 && hi == s->nunits)
    return pf->have;
  memset(buf, 0, s->words * sizeof *buf);
  for (size_t u = lo; u < hi; ++u)
    if (bt_has(pf->have, u))
      bt_set(buf, u);
  return buf;
}

static int interested(const struct sim *s, const struct peer *pf, const struct peer *pt) {
  uint64_t buf[s->words];
  return bt_interested(offer(s, pf, buf), pt->have, s->nunits);
}

/* The unit `to` requests from `from`: a partly received one first (as
 * clients finish started pieces first), else local rarest first. */
static long pick_unit(struct sim *s, const struct peer *pf, const struct peer *pt) {
  uint64_t        partial[s->words], buf[s->words];
  const uint64_t *have = offer(s, pf, buf);
  int             any  = 0;
  for (size_t w = 0; w < s->words; ++w)
    any |= (partial[w] = have[w] & pt->part[w]) != 0;
  long u = any ? bt_pick_rarest(partial, pt->have, pt->busy, pt->avail, s->nunits, s->rng_run) : -1;
  return u >= 0 ? u : bt_pick_rarest(have, pt->have, pt->busy, pt->avail, s->nunits, s->rng_run);
}

/* Receiver asks the sender for a unit; starts the flow if there is one. */
static void try_start(struct sim *s, long cid, int dir, double now) {
  struct conn     *c    = &s->conns[cid];
  struct conn_dir *d    = &c->d[dir];
  int              from = dir ? c->b : c->a, to = dir ? c->a : c->b;
  struct peer     *pf = &s->peers[from], *pt = &s->peers[to];
  if (!c->alive || !d->unchoked || d->flow >= 0 || is_seed(pt))
    return;
  long unit = pick_unit(s, pf, pt);
  if (unit < 0)
    return;
  long id = alloc_flow(s);
  if (id < 0)
    return;
  struct flow *f = &s->flows[id];
  *f             = (struct flow){.conn      = cid,
                                 .dir       = dir,
                                 .from      = from,
                                 .to        = to,
                                 .unit      = unit,
                                 .remaining = s->unit_kbit - pt->got[unit],
                                 .rate      = 0,
                                 .t_last    = now,
                                 .cap       = tcp_cap_kbps(s, from, to),
                                 .active    = 1};
  bt_set(pt->busy, (size_t)unit);
  d->flow = id;
  request_recompute(s, now);
}

static void retry_incoming(struct sim *s, int to, double now);

static void stop_flow(struct sim *s, long id, double now, int retry) {
  struct flow *f = &s->flows[id];
  sync_flow(s, f, now);
  /* the receiver keeps what it got and resumes it from any sender */
  struct peer *pt = &s->peers[f->to];
  bt_clear(pt->busy, (size_t)f->unit);
  if (!bt_has(pt->have, (size_t)f->unit) && f->remaining > 0) {
    pt->got[f->unit] = s->unit_kbit - f->remaining;
    bt_set(pt->part, (size_t)f->unit);
  }
  s->conns[f->conn].d[f->dir].flow = -1;
  f->active                        = 0;
  idxheap_remove(&s->done_heap, (uint32_t)id);
  s->free_flows[s->nfree_flows++] = id;
  request_recompute(s, now);
  if (retry)
    retry_incoming(s, f->to, now);
}

/* The receiver's unchoked but idle connections may now have something to
 * fetch (a unit stopped being busy). */
static void retry_incoming(struct sim *s, int to, double now) {
  struct peer *p = &s->peers[to];
  for (size_t k = 0; k < p->nconns; ++k) {
    long         cid = p->conns[k];
    struct conn *c   = &s->conns[cid];
    int          dir = c->a == to ? 1 : 0; /* direction towards `to` */
    if (c->d[dir].unchoked && c->d[dir].flow < 0)
      try_start(s, cid, dir, now);
  }
}

static int grow_mm(struct sim *s, size_t nflows, size_t ninc) {
  if (nflows > s->cap_mm_flows) {
    size_t n = nflows * 2;
    void  *a = realloc(s->mm_off, (n + 1) * sizeof *s->mm_off), *b = NULL, *c = NULL, *d = NULL;
    if (a)
      s->mm_off = a;
    if (a && (b = realloc(s->mm_fcap, n * sizeof *s->mm_fcap)))
      s->mm_fcap = b;
    if (b && (c = realloc(s->mm_rate, n * sizeof *s->mm_rate)))
      s->mm_rate = c;
    if (c && (d = realloc(s->mm_flow, n * sizeof *s->mm_flow)))
      s->mm_flow = d;
    if (!d)
      return -1;
    s->cap_mm_flows = n;
  }
  if (ninc > s->cap_mm_inc) {
    size_t n = ninc * 2;
    void  *a = realloc(s->mm_res, n * sizeof *s->mm_res);
    if (!a)
      return -1;
    s->mm_res     = a;
    s->cap_mm_inc = n;
  }
  return 0;
}

/* Integrates link loads up to now (for the sampled utilization). */
static void integrate_links(struct sim *s, double now) {
  double dt = now - s->last_area_t;
  if (dt > 0)
    for (int e = 0; e < s->nlinks; ++e)
      s->link_area[e] += s->link_load[e] * dt;
  s->last_area_t = now;
}

/* Max-min over: uplinks (0..n-1), downlinks (n..2n-1), backbone links. */
static void recompute_rates(struct sim *s, double now) {
  size_t n = s->npeers, nres = 2 * n + (size_t)s->nlinks, nf = 0, ninc = 0;
  s->recompute_queued = 0;
  integrate_links(s, now);
  for (size_t id = 0; id < s->nflows; ++id)
    if (s->flows[id].active) {
      const struct peer       *a = &s->peers[s->flows[id].from], *b = &s->peers[s->flows[id].to];
      const struct prov_route *rt = prov_topology_route(&s->topo, a->pop, b->pop);
      nf++;
      ninc += 2 + (size_t)(rt && rt->nlinks > 0 ? rt->nlinks : 0);
    }
  if (grow_mm(s, nf, ninc)) {
    fail(s, "out of memory (rates)");
    return;
  }
  if (!s->mm_cap) {
    s->mm_cap = malloc(nres * sizeof *s->mm_cap);
    if (!s->mm_cap) {
      fail(s, "out of memory (rates)");
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      s->mm_cap[i]     = s->peers[i].up_kbps;
      s->mm_cap[n + i] = s->peers[i].down_kbps;
    }
    for (int e = 0; e < s->nlinks; ++e)
      s->mm_cap[2 * n + (size_t)e] = s->link_cap[e];
  }
  nf = ninc = 0;
  for (size_t id = 0; id < s->nflows; ++id) {
    struct flow *f = &s->flows[id];
    if (!f->active)
      continue;
    const struct prov_route *rt = prov_topology_route(&s->topo, s->peers[f->from].pop, s->peers[f->to].pop);
    s->mm_off[nf]               = (uint32_t)ninc;
    s->mm_res[ninc++]           = (uint32_t)f->from;
    s->mm_res[ninc++]           = (uint32_t)(n + (size_t)f->to);
    for (int k = 0; rt && k < rt->nlinks; ++k)
      s->mm_res[ninc++] = (uint32_t)(2 * n + (size_t)prov_route_links(&s->topo, rt)[k]);
    s->mm_fcap[nf]   = f->cap;
    s->mm_flow[nf++] = (long)id;
  }
  s->mm_off[nf] = (uint32_t)ninc;
  char err[256];
  if (maxmin_solve(&s->ws, nres, s->mm_cap, nf, s->mm_off, s->mm_res, s->mm_fcap, s->mm_rate, err, sizeof err)) {
    fail(s, err);
    return;
  }
  s->res->rate_solves++;
  for (int e = 0; e < s->nlinks; ++e)
    s->link_load[e] = 0;
  for (size_t i = 0; i < nf; ++i) {
    struct flow *f = &s->flows[s->mm_flow[i]];
    for (uint32_t k = s->mm_off[i] + 2; k < s->mm_off[i + 1]; ++k)
      s->link_load[s->mm_res[k] - 2 * n] += s->mm_rate[i];
    if (f->rate == s->mm_rate[i] && f->rate > 0)
      continue;           /* same rate: its bookkeeping and completion time stand */
    sync_flow(s, f, now); /* bytes so far at the old rate */
    f->rate  = s->mm_rate[i];
    double t = f->rate > 0 ? now + f->remaining / f->rate : INFINITY;
    if (idxheap_set(&s->done_heap, (uint32_t)s->mm_flow[i], t))
      fail(s, "out of memory (heap)");
  }
}

/* --- connections ---------------------------------------------------------- */

static int connected(const struct sim *s, int a, int b) {
  const struct peer *p = &s->peers[a];
  for (size_t k = 0; k < p->nconns; ++k) {
    const struct conn *c = &s->conns[p->conns[k]];
    if (c->a == b || c->b == b)
      return 1;
  }
  return 0;
}

static void connect_peers(struct sim *s, int a, int b) {
  struct peer *pa = &s->peers[a], *pb = &s->peers[b];
  if (a == b || pb->left || !pb->joined || pa->nconns >= pa->maxconns || pb->nconns >= pb->maxconns || connected(s, a, b))
    return;
  if (s->nconns == s->cap_conns) {
    size_t cap = s->cap_conns ? 2 * s->cap_conns : 4096;
    void  *v   = realloc(s->conns, cap * sizeof *s->conns);
    if (!v) {
      fail(s, "out of memory (connections)");
      return;
    }
    s->conns     = v;
    s->cap_conns = cap;
  }
  long cid                = (long)s->nconns++;
  s->conns[cid]           = (struct conn){.a = a, .b = b, .alive = 1, .d = {{0, -1, 0}, {0, -1, 0}}};
  pa->conns[pa->nconns++] = (int)cid;
  pb->conns[pb->nconns++] = (int)cid;
  if (pb->origin && pb->nconns > s->res->seed_peak_conns)
    s->res->seed_peak_conns = pb->nconns;
  if (pa->origin && pa->nconns > s->res->seed_peak_conns)
    s->res->seed_peak_conns = pa->nconns;
  /* bitfield exchange */
  for (size_t u = 0; u < s->nunits; ++u) {
    pa->avail[u] += (uint16_t)bt_has(pb->have, u);
    pb->avail[u] += (uint16_t)bt_has(pa->have, u);
  }
}

static void maybe_announce_soon(struct sim *s, int id, double now) {
  struct peer *p = &s->peers[id];
  if (p->left || !p->joined || is_seed(p) || p->nconns >= s->cfg->low_watermark)
    return;
  double t = p->last_announce + s->cfg->min_announce_s;
  if (t < now)
    t = now;
  if (t < p->next_announce) {
    p->next_announce = t;
    schedule(s, t, EV_ANNOUNCE, id);
  }
}

static void drop_conn(struct sim *s, long cid, double now) {
  struct conn *c = &s->conns[cid];
  c->alive       = 0;
  for (int dir = 0; dir < 2; ++dir)
    if (c->d[dir].flow >= 0)
      stop_flow(s, c->d[dir].flow, now, 1);
  int ends[2] = {c->a, c->b};
  for (int e = 0; e < 2; ++e) {
    struct peer *p = &s->peers[ends[e]], *o = &s->peers[ends[1 - e]];
    for (size_t k = 0; k < p->nconns; ++k)
      if (p->conns[k] == cid) {
        p->conns[k] = p->conns[--p->nconns];
        break;
      }
    for (size_t u = 0; u < s->nunits; ++u)
      p->avail[u] -= (uint16_t)bt_has(o->have, u);
    if (p->optimistic == cid)
      p->optimistic = -1;
  }
}

/* --- tracker ------------------------------------------------------------- */

/* The simulator runs the tracker's own module: the PID map and guidance go
 * in as messages through p4p_embed_publish() (the loader's path, as a
 * portal's data does), swarms are kept as upstream keeps them
 * (peerlist.h), and every answer is what upstream's patched
 * return_peers_for_torrent() gives: all peers when the swarm is no bigger
 * than numwant, else p4p_select_peers() (request assembly, provider
 * servers, intra-provider share, guided selection), else upstream's stock
 * stride walk.  Which guidance the tracker holds:
 *  - native: none at all (no P4P data: stock opentracker);
 *  - localized: per swarm, rows that put every guided pick in the
 *    requester's own PoP, its PIDs by their registered peers (the identity
 *    PoP matrix expanded as the iTracker expands rows), refreshed with
 *    every re-solve period;
 *  - P4P: the iTracker's default matrix, plus each swarm's optimized rows
 *    once a solve has seen its leechers (with p4p_local_start, the
 *    localized rows for a swarm until then); when the iTracker is down no
 *    new guidance comes, and max_staleness after that the provider's data
 *    is dropped: a snapshot without it, stock selection. */

/* Upstream's clean pass on the announce path: once a minute per swarm it
 * may re-bucket the list (vector_redistribute_buckets). */
static void tracker_clean(struct swarm *w, double now) {
  long minute = (long)floor(now / 60);
  if (minute == w->clean_minute)
    return;
  w->clean_minute = minute;
  peerlist_clean(&w->list, &w->layout, w->npeers, PEER_SIZE);
}

/* Upstream's insert and remove, after the P4P module has arranged the list
 * (the storage hook of patch 0001). */
static int tracker_put(struct swarm *w, const uint8_t *rec) {
  if (p4p_peerlist_refresh(&w->list, &w->layout, w->npeers, PEER_SIZE, rec) < 0)
    return -1; /* no room for its PID's group: the tracker drops the announce */
  int rc = peerlist_put(&w->list, &w->layout, rec, PEER_SIZE);
  if (rc == 1)
    w->npeers++;
  return rc;
}

static void tracker_remove(struct swarm *w, const uint8_t *rec) {
  p4p_peerlist_refresh(&w->list, &w->layout, w->npeers, PEER_SIZE, NULL);
  if (peerlist_remove(&w->list, &w->layout, rec, PEER_SIZE) == 1)
    w->npeers--;
}

/* Past max staleness the portal client drops the provider's data: the
 * next snapshot has none of it.  Checked whenever the tracker is used. */
static void tracker_clock(struct sim *s, double now) {
  const struct sim_config *c = s->cfg;
  char                     err[512];
  if (s->provider_dropped || c->mode != SIM_P4P || c->itracker_down_s < 0 || now < c->itracker_down_s + c->max_staleness_s)
    return;
  s->provider_dropped = 1;
  if (p4p_embed_publish(NULL, NULL, c->random_fraction, err, sizeof err))
    fail(s, err);
}

/* The peers for an announce of record rec into reply, as upstream's
 * return_peers_for_torrent() picks them; *guided: the module answered. */
static size_t tracker_answer(struct sim *s, struct swarm *w, const uint8_t *rec, char *reply, int *guided) {
  uint8_t req6[P4P_PEER_COMPARE_SIZE6];
  size_t  amount = s->cfg->numwant < w->npeers ? s->cfg->numwant : w->npeers, got;
  requester_of(rec, req6);
  *guided = 0;
  if (amount == w->npeers)
    return peerlist_all(&w->list, w->npeers, PEER_SIZE, reply);
  if ((got = p4p_select_peers(&w->list, &w->layout, w->npeers, PEER_SIZE, req6, w->info_hash, amount, s->rng_sel, reply))) {
    *guided = 1;
    return got;
  }
  return peerlist_select_stock(&w->list, w->npeers, PEER_SIZE, amount, s->rng_sel, reply);
}

/* libtorrent's peer turnover (settings peer_turnover 4 %, cutoff 90 %,
 * every 300 s): a downloading peer near its connection limit drops the
 * connections that gave it least in the last rechoke period, so that new
 * peers, and the guidance they come with, can get in. */
static void turnover(struct sim *s, int id, double now) {
  struct peer *p = &s->peers[id];
  if (!(s->cfg->turnover_frac > 0) || (double)p->nconns < 0.9 * (double)p->maxconns)
    return;
  size_t n = (size_t)ceil(s->cfg->turnover_frac * (double)p->nconns);
  while (n--) {
    long   worst = -1;
    double least = INFINITY;
    for (size_t k = 0; k < p->nconns; ++k) {
      const struct conn *c  = &s->conns[p->conns[k]];
      double             in = c->d[c->a == id ? 1 : 0].bytes_period;
      if (in < least) {
        least = in;
        worst = p->conns[k];
      }
    }
    if (worst < 0)
      return;
    struct conn *c     = &s->conns[worst];
    int          other = c->a == id ? c->b : c->a;
    drop_conn(s, worst, now);
    maybe_announce_soon(s, other, now);
  }
}

static void announce(struct sim *s, int id, double now) {
  const struct sim_config *c = s->cfg;
  struct peer             *p = &s->peers[id];
  struct swarm            *w = &s->swarms[p->swarm];
  uint8_t                  rec[PEER_SIZE], req6[P4P_PEER_COMPARE_SIZE6];
  char                     reply[SIM_MAX_NUMWANT * COMPARE_SIZE];
  int                      guided;
  if (p->left)
    return;
  tracker_clock(s, now);
  p->last_announce = now;
  record_of(s, p, rec);
  /* add_peer_to_torrent_and_return_peers(), as patched */
  requester_of(rec, req6);
  p4p_note_announce(req6);
  tracker_clean(w, now);
  if (tracker_put(w, rec) < 0) {
    fail(s, "out of memory (tracker)");
    return;
  }
  if (!p->listed) {
    p->listed = 1;
    if (p->pid)
      w->pid_count[p->pid - 1] += 1;
  }
  int seed = is_seed(p);
  if (seed && !c->seeds_announce)
    return;
  size_t got = tracker_answer(s, w, rec, reply, &guided);
  if (!seed)
    turnover(s, id, now);
  for (size_t k = 0; k + COMPARE_SIZE <= got; k += COMPARE_SIZE) {
    const uint8_t *r  = (const uint8_t *)reply + k;
    uint32_t       ip = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    long           o  = ip_get(s, ip);
    if (o < 0 || o == id) /* stock answers may name the requester */
      continue;
    const struct peer *q = &s->peers[o];
    /* where the answer's peers are (the tracker's own tally is not
     * returned): by PID for the module's answers, stock ones as random */
    if (!guided)
      s->res->select_random++;
    else {
      s->res->select_same_pid += q->pid == p->pid;
      s->res->select_other_pid += q->pid != p->pid;
      s->res->select_same_pop += q->pop == p->pop && !q->external;
    }
    /* a seed keeps only the leechers: seed-to-seed connections carry nothing */
    if (!(seed && is_seed(q)))
      connect_peers(s, id, (int)o);
  }
  /* the baseline in which every announcer finds the first seed (PEX, or a
   * seed accepting whoever the tracker told about it) */
  if (!seed && c->seed_found)
    connect_peers(s, id, w->origin);
  p->next_announce = now + c->announce_s;
  schedule(s, p->next_announce, EV_ANNOUNCE, id);
  if (!seed)
    maybe_announce_soon(s, id, now); /* too few peers yet: ask again soon */
}

static void leave(struct sim *s, int id, double now) {
  struct peer  *p = &s->peers[id];
  struct swarm *w = &s->swarms[p->swarm];
  uint8_t       rec[PEER_SIZE];
  if (p->left)
    return;
  p->left = 1;
  record_of(s, p, rec);
  if (p->listed) {
    tracker_clock(s, now);
    tracker_remove(w, rec);
    if (p->pid)
      w->pid_count[p->pid - 1] -= 1;
  }
  while (p->nconns) {
    struct conn *c     = &s->conns[p->conns[0]];
    int          other = c->a == id ? c->b : c->a;
    drop_conn(s, p->conns[0], now);
    maybe_announce_soon(s, other, now);
  }
}

/* --- guidance ------------------------------------------------------------ */

/* A matrix over the provider's PIDs, by name, as guidance carries it. */
static int put_matrix(const struct sim *s, struct p4p_matrix *m, const double *v) {
  if (proto_matrix_alloc(m, s->npids))
    return -1;
  for (size_t i = 0; i < s->npids; ++i)
    snprintf(m->pids[i], sizeof m->pids[i], "%s", s->prov.pids[i].name);
  memcpy(m->v, v, s->npids * s->npids * sizeof *v);
  return 0;
}

/* Hands the tracker the PID map and the guidance the mode calls for (the
 * tracker comment above), as the loader takes a portal's data. */
static void publish(struct sim *s) {
  const struct sim_config *c = s->cfg;
  struct p4p_guidance_msg  g;
  char                     err[512];
  int                      bad = 0;
  memset(&g, 0, sizeof g);
  snprintf(g.version, sizeof g.version, "%.40s-%lu", s->prov.version, ++s->publications);
  if (!(g.swarms = calloc((size_t)c->nswarms, sizeof *g.swarms)))
    bad = 1;
  if (!bad && c->mode == SIM_P4P) {
    bad           = put_matrix(s, &g.default_weights, s->default_w);
    g.has_default = 1;
  }
  for (int k = 0; k < c->nswarms && !bad; ++k) {
    struct swarm *w    = &s->swarms[k];
    const double *rows = NULL;
    if (c->mode == SIM_P4P && w->guided)
      rows = w->pid_w;
    else if (c->mode == SIM_LOCALIZED || (c->mode == SIM_P4P && c->p4p_local_start)) {
      prov_expand_pop_rows(&s->prov, s->pop_identity, w->pid_count, s->scratch_w);
      rows = s->scratch_w;
    }
    if (!rows)
      continue;
    memcpy(g.swarms[g.nswarms].info_hash, w->info_hash, P4P_HASH_SIZE);
    bad = put_matrix(s, &g.swarms[g.nswarms++].weights, rows);
  }
  if (bad)
    fail(s, "out of memory (guidance)");
  else if (p4p_embed_publish(&s->pidmap_msg, &g, c->random_fraction, err, sizeof err))
    fail(s, err);
  proto_guidance_msg_free(&g);
}

/* Every peer must sit in the tracker's PID group for the PID the
 * simulator placed it in (one group per PID, the no-PID group for external
 * peers): else a provider file's overlapping prefixes would make the
 * tracker and the metrics disagree.  Asked through the storage hook: every
 * peer goes into one probe list as the tracker stores it; its groups are
 * then those of the PIDs present, in slot order, so the no-PID group (slot
 * 0) is group 0 whenever external peers exist (a PoP block that no prefix
 * covers at all is caught only then: it shares their group). */
static int check_placement(struct sim *s) {
  struct p4p_vector probe  = {0};
  struct p4p_layout layout = {0};
  size_t           *group  = calloc(s->npids + 1, sizeof *group); /* sim PID (0: external) -> tracker group + 1 */
  size_t           *owner  = NULL;                                /* tracker group -> sim PID + 1 */
  size_t            n      = 0;
  int               rc     = -1;
  if (!group)
    goto oom;
  for (size_t id = 0; id < s->npeers; ++id) {
    uint8_t rec[PEER_SIZE];
    record_of(s, &s->peers[id], rec);
    int in = p4p_peerlist_refresh(&probe, &layout, n, PEER_SIZE, rec);
    if (in == 0) {
      snprintf(s->err, s->errlen, "the tracker did not take the provider's PID map");
      goto out;
    }
    int put = in < 0 ? -1 : peerlist_put(&probe, &layout, rec, PEER_SIZE);
    if (put < 0)
      goto oom;
    n += (size_t)put;
  }
  if (!(owner = calloc(layout.groups ? layout.groups : 1, sizeof *owner)))
    goto oom;
  for (size_t id = 0; id < s->npeers; ++id) {
    const struct peer *p = &s->peers[id];
    uint8_t            rec[PEER_SIZE];
    record_of(s, p, rec);
    size_t key = p->external ? 0 : p->pid;
    size_t g   = p4p_peer_bucket(&probe, &layout, rec, COMPARE_SIZE) / layout.per_group;
    int    ok  = group[key] ? group[key] == g + 1 : !owner[g];
    if (!ok || (p->external && g != 0)) {
      snprintf(s->err, s->errlen,
               p->external ? "a PID covers 198.18.0.0/15, where external peers live"
                           : "PID %s: a more specific prefix of another PID covers its first IPv4 block",
               p->external ? "" : s->prov.pids[p->pid - 1].name);
      goto out;
    }
    group[key] = g + 1;
    owner[g]   = key + 1;
  }
  rc = 0;
  goto out;
oom:
  snprintf(s->err, s->errlen, "out of memory");
out:
  peerlist_free(&probe, &layout);
  free(group);
  free(owner);
  return rc;
}

/* The tracker's data at t = 0: the PID map checked against the placement,
 * then what the mode starts with (native: nothing). */
static int setup_tracker(struct sim *s) {
  char err[512];
  p4p_embed_reset(); /* nothing left from an earlier run in this process */
  if (p4p_embed_publish(&s->pidmap_msg, NULL, s->cfg->random_fraction, err, sizeof err)) {
    snprintf(s->err, s->errlen, "PID map: %s", err);
    return -1;
  }
  if (check_placement(s))
    return -1;
  if (s->cfg->mode == SIM_NATIVE)
    p4p_embed_reset();
  else
    publish(s);
  return s->failed ? -1 : 0;
}

/* What the iTracker is told per swarm and PoP (docs/SIMULATOR.md, "What
 * the optimizer is fed"), from the peers' state now, over the peers that
 * joined and are inside the provider:
 *   ũ: uplinks of the peers that have something to give (seeds, finished
 *      peers that stay, leechers with at least one unit), each capped at
 *      what its unchoke slots can deliver, (slots + 1) x the swarm's mean
 *      leecher downlink: a 1 Gb/s seed with 101 slots feeding ~3 Mb/s
 *      leechers delivers ~0.3 Gb/s, not 1 Gb/s;
 *   d̃: downlinks of the leechers (capped at the stream rate when
 *      streaming: a viewer wants no more than that);
 *   n: the peers.
 * The optimizer applies the paper's residual u = max(ũ - d̃, 0), d =
 * max(d̃ - ũ, 0) per PoP, asked for the fair plan.  PoP rows become PID
 * rows as the iTracker expands them (prov_expand_pop_rows: PID q of PoP Q
 * gets w[P][Q] x q's share of the swarm's registered peers in Q), and the
 * tracker gets them as guidance.  Localized mode only refreshes its rows
 * here. */
static void optimize(struct sim *s, double now) {
  const struct sim_config *c  = s->cfg;
  size_t                   np = (size_t)s->npops, K = (size_t)c->nswarms;
  if (c->mode == SIM_LOCALIZED) {
    publish(s); /* the localized rows follow the registered peers */
    return;
  }
  if (c->itracker_down_s >= 0 && now >= c->itracker_down_s)
    return; /* the iTracker is down: the tracker keeps what it has */
  double                  *up = calloc(np * K, sizeof *up), *down = calloc(np * K, sizeof *down);
  double                  *peers = calloc(np * K, sizeof *peers), *dsum = calloc(K, sizeof *dsum);
  double                  *nleech = calloc(K, sizeof *nleech);
  struct prov_swarm_input *in     = calloc(K, sizeof *in);
  struct prov_opt_result   r;
  char                     err[256];
  if (!up || !down || !peers || !dsum || !nleech || !in) {
    fail(s, "out of memory (optimizer input)");
    goto out;
  }
  for (size_t id = 0; id < s->npeers; ++id) {
    const struct peer *p = &s->peers[id];
    if (p->joined && !p->left && !p->external && !is_seed(p)) {
      dsum[p->swarm] += p->down_kbps;
      nleech[p->swarm] += 1;
    }
  }
  for (size_t id = 0; id < s->npeers; ++id) {
    const struct peer *p = &s->peers[id];
    size_t             k = (size_t)p->swarm, i = k * np + (size_t)p->pop;
    if (!p->joined || p->left || p->external)
      continue;
    peers[i] += 1;
    if (is_seed(p) || p->nhave > 0) {
      double dbar = nleech[k] > 0 ? dsum[k] / nleech[k] : 0;
      up[i] += fmin(p->up_kbps, (p->slots + 1) * dbar);
    }
    if (!is_seed(p))
      down[i] += c->stream_kbps > 0 ? fmin(p->down_kbps, c->stream_kbps) : p->down_kbps;
  }
  for (size_t k = 0; k < K; ++k)
    in[k] = (struct prov_swarm_input){up + k * np, down + k * np, peers + k * np};
  struct prov_opt_params prm = {.fair_plan = 1, .fair_slack = P4P_FAIR_SLACK};
  memset(&r, 0, sizeof r);
  if (prov_optimizer_solve(s->opt, &s->topo, in, (int)K, &prm, &r, err, sizeof err)) {
    fail(s, err);
    goto out;
  }
  s->res->optimizer_solves++;
  s->res->last_opt_mlu = r.mlu;
  for (size_t k = 0; k < K; ++k) {
    struct swarm *w = &s->swarms[k];
    if (nleech[k] > 0)
      w->guided = 1;
    if (w->guided)
      prov_expand_pop_rows(&s->prov, r.swarms[k].w, w->pid_count, w->pid_w);
  }
  prov_opt_result_free(&r);
  publish(s);
out:
  free(up);
  free(down);
  free(peers);
  free(dsum);
  free(nleech);
  free(in);
}

/* Streaming: every swarm's source makes unit u now and tells its
 * neighbours; the ones it unchokes may start on it at once. */
static void produce(struct sim *s, size_t u, double now) {
  s->produced = u + 1;
  for (int k = 0; k < s->cfg->nswarms; ++k) {
    int          o = s->swarms[k].origin;
    struct peer *p = &s->peers[o];
    bt_set(p->have, u);
    p->nhave++;
    for (size_t j = 0; j < p->nconns; ++j) {
      long         cid = p->conns[j];
      struct conn *c   = &s->conns[cid];
      int          dir = c->a == o ? 0 : 1;
      s->peers[c->a == o ? c->b : c->a].avail[u]++;
      if (c->d[dir].unchoked && c->d[dir].flow < 0)
        try_start(s, cid, dir, now);
    }
  }
  if (u + 1 < s->nunits)
    schedule(s, (double)(u + 2) * s->unit_s, EV_PRODUCE, (long)(u + 1));
}

/* --- BitTorrent ------------------------------------------------------------ */

static void unit_done(struct sim *s, long fid, double now) {
  struct flow *f    = &s->flows[fid];
  double       kbit = f->remaining;
  f->remaining      = 0;
  f->t_last         = now;
  account(s, f, kbit);
  s->res->unit_transfers++;
  int          to = f->to;
  struct peer *p  = &s->peers[to];
  size_t       u  = (size_t)f->unit;
  bt_clear(p->busy, u);
  bt_clear(p->part, u);
  p->got[u] = 0;
  bt_set(p->have, u);
  p->nhave++;
  /* on time: within the deadline of its birth, counted for the units that
   * were due before the end of the run (stream_units_due) */
  if (s->cfg->stream_kbps > 0 && now - (double)(u + 1) * s->unit_s <= s->cfg->stream_deadline_s &&
      (double)(u + 1) * s->unit_s + s->cfg->stream_deadline_s <= s->cfg->max_time_s)
    s->res->stream_units_on_time += 1;
  for (size_t k = 0; k < p->nconns; ++k) { /* HAVE to every neighbour */
    struct conn *c = &s->conns[p->conns[k]];
    s->peers[c->a == to ? c->b : c->a].avail[u]++;
  }
  /* the same sender, next unit */
  long next = p->nhave < s->nunits ? pick_unit(s, &s->peers[f->from], p) : -1;
  if (next >= 0) {
    f->unit      = next;
    f->remaining = s->unit_kbit - p->got[next];
    bt_set(p->busy, (size_t)next);
    if (idxheap_set(&s->done_heap, (uint32_t)fid, f->rate > 0 ? now + f->remaining / f->rate : INFINITY))
      fail(s, "out of memory (heap)");
  } else {
    stop_flow(s, fid, now, 0);
  }
  /* neighbours we unchoke may want the new unit */
  for (size_t k = 0; k < p->nconns; ++k) {
    long         cid = p->conns[k];
    struct conn *c   = &s->conns[cid];
    int          dir = c->a == to ? 0 : 1; /* direction away from `to` */
    if (c->d[dir].unchoked && c->d[dir].flow < 0)
      try_start(s, cid, dir, now);
  }
  if (p->nhave == s->nunits) {
    p->done                                                                                                                  = 1;
    p->done_time                                                                                                             = now;
    s->res->completion_s[(size_t)p->swarm * s->cfg->peers_per_swarm + (size_t)(to % (int)(s->cfg->peers_per_swarm + 1)) - 1] = now - p->join_time;
    s->leechers_done++;
    /* stop downloading: close every flow towards us */
    for (size_t k = 0; k < p->nconns; ++k) {
      struct conn *c   = &s->conns[p->conns[k]];
      int          dir = c->a == to ? 1 : 0;
      if (c->d[dir].flow >= 0)
        stop_flow(s, c->d[dir].flow, now, 0);
    }
    if (s->cfg->seed_stay_s > 0) {
      uint8_t rec[PEER_SIZE];
      record_of(s, p, rec);
      tracker_put(&s->swarms[p->swarm], rec); /* now flagged as a seeder */
      schedule(s, now + s->cfg->seed_stay_s, EV_LEAVE, to);
    } else {
      leave(s, to, now);
    }
  }
}

static void rechoke_peer(struct sim *s, int id, int rotate, double now) {
  struct peer *p = &s->peers[id];
  size_t       n = p->nconns, nc = 0;
  if (!n)
    return;
  long   cand[n];
  double score[n];
  size_t chosen[n];
  char   want[n];
  for (size_t k = 0; k < n; ++k) {
    long         cid   = p->conns[k];
    struct conn *c     = &s->conns[cid];
    int          other = c->a == id ? c->b : c->a;
    int          out   = c->a == id ? 0 : 1; /* direction from us */
    want[k]            = 0;
    if (is_seed(&s->peers[other]) || !interested(s, p, &s->peers[other]))
      continue;
    cand[nc]    = (long)k;
    /* leechers reciprocate; seeds favour whom they upload to fastest */
    score[nc++] = is_seed(p) ? c->d[out].bytes_period : c->d[1 - out].bytes_period;
  }
  size_t nreg = bt_choose_unchokes(score, nc, p->slots, s->rng_run, chosen);
  for (size_t i = 0; i < nreg; ++i)
    want[cand[chosen[i]]] = 1;
  /* optimistic unchoke: kept for optimistic_s unless it became regular or
   * stopped being interested */
  long opt_k = -1;
  for (size_t k = 0; k < n; ++k)
    if (p->conns[k] == p->optimistic)
      opt_k = (long)k;
  int opt_ok = 0;
  for (size_t i = 0; opt_k >= 0 && i < nc; ++i)
    if (cand[i] == opt_k && !want[opt_k])
      opt_ok = 1;
  if (rotate || !opt_ok) {
    size_t left = 0;
    for (size_t i = 0; i < nc; ++i)
      if (!want[cand[i]])
        left++;
    opt_k         = -1;
    p->optimistic = -1;
    if (left) {
      size_t pick = (size_t)nrand48(s->rng_run) % left;
      for (size_t i = 0; i < nc; ++i)
        if (!want[cand[i]] && pick-- == 0) {
          opt_k         = cand[i];
          p->optimistic = p->conns[opt_k];
          break;
        }
    }
  }
  if (opt_k >= 0)
    want[opt_k] = 1;
  for (size_t k = 0; k < n; ++k) {
    long             cid = p->conns[k];
    struct conn     *c   = &s->conns[cid];
    int              out = c->a == id ? 0 : 1;
    struct conn_dir *d   = &c->d[out];
    if (d->unchoked && !want[k]) {
      d->unchoked = 0;
      if (d->flow >= 0)
        stop_flow(s, d->flow, now, 1);
    } else if (want[k]) {
      d->unchoked = 1;
      if (d->flow < 0)
        try_start(s, cid, out, now);
    }
  }
}

static void rechoke_all(struct sim *s, double now) {
  int rotate = s->cfg->optimistic_s <= s->cfg->rechoke_s || s->rechoke_tick % (unsigned)lround(s->cfg->optimistic_s / s->cfg->rechoke_s) == 0;
  for (size_t id = 0; id < s->nflows; ++id)
    if (s->flows[id].active)
      sync_flow(s, &s->flows[id], now);
  for (size_t id = 0; id < s->npeers; ++id)
    if (s->peers[id].joined && !s->peers[id].left)
      rechoke_peer(s, (int)id, rotate, now);
  for (size_t cid = 0; cid < s->nconns; ++cid)
    s->conns[cid].d[0].bytes_period = s->conns[cid].d[1].bytes_period = 0;
  s->rechoke_tick++;
}

/* --- sampling ------------------------------------------------------------- */

static void sample(struct sim *s, double now) {
  struct sim_result *r  = s->res;
  double             dt = now - s->last_sample_t;
  integrate_links(s, now);
  if (dt <= 0)
    return;
  if (r->nsamples == s->cap_samples) {
    size_t  cap = s->cap_samples ? 2 * s->cap_samples : 256;
    double *a   = realloc(r->ts_time, cap * sizeof *a);
    if (a)
      r->ts_time = a;
    double *b = a ? realloc(r->ts_maxutil, cap * sizeof *b) : NULL;
    if (b)
      r->ts_maxutil = b;
    double *c = b ? realloc(r->ts_watch, cap * sizeof *c) : NULL;
    if (c)
      r->ts_watch = c;
    double *d = c ? realloc(r->ts_leechers, cap * sizeof *d) : NULL;
    if (d)
      r->ts_leechers = d;
    double *e = d ? realloc(r->ts_seedconns, cap * sizeof *e) : NULL;
    if (e)
      r->ts_seedconns = e;
    double *l = e ? realloc(r->ts_links, cap * (size_t)(s->nlinks ? s->nlinks : 1) * sizeof *l) : NULL;
    if (l)
      r->ts_links = l;
    if (!l) {
      fail(s, "out of memory (samples)");
      return;
    }
    s->cap_samples = cap;
  }
  double maxu = 0, watch = 0;
  for (int e = 0; e < s->nlinks; ++e) {
    double c                                                 = s->topo.links[e].capacity_kbps;
    double u                                                 = c > 0 ? (s->link_area[e] / dt + s->topo.links[e].background_kbps) / c : 0;
    r->ts_links[r->nsamples * (size_t)s->nlinks + (size_t)e] = u;
    if (u > maxu)
      maxu = u;
    if ((e == r->watch_ab || e == r->watch_ba) && u > watch)
      watch = u;
    s->link_area[e] = 0;
  }
  size_t k           = r->nsamples++;
  r->ts_time[k]      = now;
  r->ts_maxutil[k]   = maxu;
  r->ts_watch[k]     = watch;
  r->ts_leechers[k]  = (double)(s->nleechers - s->leechers_done);
  r->ts_seedconns[k] = 0;
  for (int w = 0; w < s->cfg->nswarms; ++w)
    r->ts_seedconns[k] += (double)s->peers[s->swarms[w].origin].nconns;
  s->last_sample_t = now;
}

/* --- main loop ------------------------------------------------------------ */

void sim_config_defaults(struct sim_config *c) {
  memset(c, 0, sizeof *c);
  c->mode              = SIM_P4P;
  c->random_fraction   = 0.2;
  c->nswarms           = 2;
  c->peers_per_swarm   = 700;
  c->file_mb           = 256;
  c->block_kb          = 256;
  c->blocks_per_unit   = 4;
  c->seed_up_kbps      = 1e6;
  c->numwant           = 50;
  c->max_conns         = 80;
  c->regular_slots     = 4;
  c->slot_kbps         = 10000;
  c->rechoke_s         = 10;
  c->optimistic_s      = 30;
  c->announce_s        = 300;
  c->seeds_announce    = 1;
  c->turnover_frac     = 0.04;
  c->itracker_down_s   = -1;
  c->max_staleness_s   = 7200;
  c->stream_window_s   = 30;
  c->stream_deadline_s = 30;
  c->min_announce_s    = 60;
  c->low_watermark     = 20;
  c->optimize_s        = 30;
  c->seed_stay_s       = 0;
  c->join_window_s     = 10;
  c->tcp_window_kb     = 64;
  c->access_rtt_ms     = 20;
  c->background_frac   = 0;
  c->recompute_delay_s = 0.5;
  c->sample_s          = 10;
  c->max_time_s        = 4 * 3600;
  c->watch_link        = "ATLA-IPLS";
  c->seed              = 1;
}

static void find_watch(struct sim *s) {
  s->res->watch_ab = s->res->watch_ba = -1;
  if (!s->cfg->watch_link)
    return;
  char        a[P4P_POP_NAME_MAX], b[P4P_POP_NAME_MAX];
  const char *dash = strchr(s->cfg->watch_link, '-');
  if (!dash || (size_t)(dash - s->cfg->watch_link) >= sizeof a)
    return;
  snprintf(a, sizeof a, "%.*s", (int)(dash - s->cfg->watch_link), s->cfg->watch_link);
  snprintf(b, sizeof b, "%s", dash + 1);
  int ia = prov_topology_find_pop(&s->topo, a), ib = prov_topology_find_pop(&s->topo, b);
  for (int e = 0; e < s->nlinks; ++e) {
    if (s->topo.links[e].from == ia && s->topo.links[e].to == ib)
      s->res->watch_ab = e;
    if (s->topo.links[e].from == ib && s->topo.links[e].to == ia)
      s->res->watch_ba = e;
  }
}

static void free_sim(struct sim *s) {
  for (size_t id = 0; s->peers && id < s->npeers; ++id) {
    free(s->peers[id].have);
    free(s->peers[id].busy);
    free(s->peers[id].part);
    free(s->peers[id].got);
    free(s->peers[id].avail);
    free(s->peers[id].conns);
  }
  free(s->peers);
  for (int k = 0; s->swarms && k < s->cfg->nswarms; ++k) {
    peerlist_free(&s->swarms[k].list, &s->swarms[k].layout);
    free(s->swarms[k].pid_w);
    free(s->swarms[k].pid_count);
  }
  free(s->swarms);
  free(s->conns);
  free(s->flows);
  free(s->free_flows);
  evq_free(&s->q);
  idxheap_free(&s->done_heap);
  maxmin_ws_free(&s->ws);
  free(s->mm_off);
  free(s->mm_res);
  free(s->mm_cap);
  free(s->mm_fcap);
  free(s->mm_rate);
  free(s->mm_flow);
  free(s->link_load);
  free(s->link_area);
  free(s->pop_delay_ms);
  free(s->link_cap);
  free(s->default_w);
  free(s->pop_identity);
  free(s->scratch_w);
  free(s->ip_keys);
  free(s->ip_vals);
  if (s->opt)
    prov_optimizer_free(s->opt);
  proto_pidmap_msg_free(&s->pidmap_msg);
  p4p_embed_reset(); /* the tracker's snapshots; no list holds a map now */
  if (s->topo.finished || s->topo.pops)
    prov_topology_free(&s->topo);
  prov_free(&s->prov);
}

void sim_result_free(struct sim_result *r) {
  free(r->completion_s);
  free(r->ts_time);
  free(r->ts_maxutil);
  free(r->ts_watch);
  free(r->ts_leechers);
  free(r->ts_links);
  free(r->ts_seedconns);
  free(r->link_capacity);
  free(r->link_background);
  for (int e = 0; r->link_names && e < r->nlinks; ++e)
    free(r->link_names[e]);
  free(r->link_names);
  free(r->link_bytes);
  memset(r, 0, sizeof *r);
}

static void summarize(struct sim *s) {
  struct sim_result *r = s->res;
  double             n = 0;
  for (size_t k = 0; k < r->nsamples; ++k) {
    if (r->ts_maxutil[k] > r->peak_maxutil)
      r->peak_maxutil = r->ts_maxutil[k];
    if (r->ts_watch[k] > r->peak_watch)
      r->peak_watch = r->ts_watch[k];
    /* a sample covers the interval before it: count it while leechers
     * were still downloading at its start */
    if (k == 0 || r->ts_leechers[k - 1] > 0) {
      r->mean_maxutil += r->ts_maxutil[k];
      r->mean_watch += r->ts_watch[k];
      n++;
    }
  }
  if (n > 0) {
    r->mean_maxutil /= n;
    r->mean_watch /= n;
  }
  if (s->cfg->stream_kbps > 0) { /* units every viewer should have had by the end */
    double due          = fmin((double)s->nunits, fmax(0, floor((s->cfg->max_time_s - s->cfg->stream_deadline_s) / s->unit_s)));
    r->stream_units_due = due * (double)s->nleechers;
  }
}

int sim_run(const struct sim_config *cfg, struct sim_result *res, sim_progress_fn progress, void *parg, char *err, size_t errlen) {
  struct sim s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cfg    = cfg;
  s.res    = res;
  s.err    = err;
  s.errlen = errlen;
  evq_init(&s.q);
  idxheap_init(&s.done_heap);
  maxmin_ws_init(&s.ws);
  if (cfg->nswarms < 1 || cfg->peers_per_swarm < 1 || cfg->rechoke_s <= 0 || cfg->sample_s <= 0 || cfg->numwant > SIM_MAX_NUMWANT) {
    snprintf(err, errlen, "bad configuration (swarms, peers, periods or numwant)");
    return -1;
  }
  if (setup_network(&s) || setup_peers(&s) || setup_tracker(&s)) {
    free_sim(&s);
    return -1;
  }
  res->nleechers       = s.nleechers;
  res->completion_s    = malloc(s.nleechers * sizeof *res->completion_s);
  res->nlinks          = s.nlinks;
  res->link_bytes      = calloc((size_t)s.nlinks + 1, sizeof *res->link_bytes);
  res->link_names      = calloc((size_t)s.nlinks + 1, sizeof *res->link_names);
  res->link_capacity   = calloc((size_t)s.nlinks + 1, sizeof *res->link_capacity);
  res->link_background = calloc((size_t)s.nlinks + 1, sizeof *res->link_background);
  s.link_load          = calloc((size_t)s.nlinks + 1, sizeof *s.link_load);
  s.link_area          = calloc((size_t)s.nlinks + 1, sizeof *s.link_area);
  s.opt                = prov_optimizer_new();
  if (!res->completion_s || !res->link_bytes || !res->link_names || !s.link_load || !s.link_area || !s.opt || !res->link_capacity || !res->link_background) {
    snprintf(err, errlen, "out of memory");
    free_sim(&s);
    sim_result_free(res);
    return -1;
  }
  for (size_t k = 0; k < s.nleechers; ++k)
    res->completion_s[k] = NAN;
  for (int e = 0; e < s.nlinks; ++e) {
    char name[2 * P4P_POP_NAME_MAX + 4];
    snprintf(name, sizeof name, "%s->%s", s.topo.pops[s.topo.links[e].from].name, s.topo.pops[s.topo.links[e].to].name);
    res->link_names[e]      = strdup(name);
    res->link_capacity[e]   = s.topo.links[e].capacity_kbps;
    res->link_background[e] = s.topo.links[e].background_kbps;
  }
  find_watch(&s);
  s.rng_run[0] = (unsigned short)(cfg->seed * 3 + 11);
  s.rng_run[1] = (unsigned short)(cfg->seed >> 16);
  s.rng_run[2] = 0x1234;
  s.rng_sel[0] = (unsigned short)(cfg->seed * 7 + 5);
  s.rng_sel[1] = (unsigned short)(cfg->seed >> 16);
  s.rng_sel[2] = 0x4321;

  for (size_t id = 0; id < s.npeers; ++id)
    schedule(&s, s.peers[id].join_time, EV_JOIN, (long)id);
  if (cfg->mode != SIM_NATIVE) /* P4P: solves; localized: row refreshes */
    schedule(&s, 0, EV_OPTIMIZE, 0);
  if (cfg->stream_kbps > 0 && s.nunits)
    schedule(&s, s.unit_s, EV_PRODUCE, 0);
  schedule(&s, cfg->rechoke_s, EV_RECHOKE, 0);
  schedule(&s, cfg->sample_s, EV_SAMPLE, 0);

  double now = 0, next_progress = 0;
  while (!s.failed) {
    double te = evq_peek_time(&s.q), tf = idxheap_top_key(&s.done_heap);
    if (!isfinite(te) && !isfinite(tf))
      break;
    now = te <= tf ? te : tf;
    if (now > cfg->max_time_s)
      break;
    s.now = now;
    res->events++;
    if (tf < te) {
      unit_done(&s, idxheap_top(&s.done_heap), now);
    } else {
      struct sim_event ev;
      evq_pop(&s.q, &ev);
      switch (ev.type) {
      case EV_JOIN:
        s.peers[ev.arg].joined = 1;
        announce(&s, (int)ev.arg, now);
        break;
      case EV_ANNOUNCE:
        if (ev.time == s.peers[ev.arg].next_announce) /* else superseded */
          announce(&s, (int)ev.arg, now);
        break;
      case EV_RECHOKE:
        rechoke_all(&s, now);
        schedule(&s, now + cfg->rechoke_s, EV_RECHOKE, 0);
        break;
      case EV_RECOMPUTE:
        recompute_rates(&s, now);
        break;
      case EV_OPTIMIZE:
        optimize(&s, now);
        schedule(&s, now + cfg->optimize_s, EV_OPTIMIZE, 0);
        break;
      case EV_SAMPLE:
        sample(&s, now);
        if (s.leechers_done < s.nleechers)
          schedule(&s, now + cfg->sample_s, EV_SAMPLE, 0);
        break;
      case EV_LEAVE:
        leave(&s, (int)ev.arg, now);
        break;
      case EV_PRODUCE:
        produce(&s, (size_t)ev.arg, now);
        break;
      }
    }
    if (progress && now >= next_progress) {
      progress(parg, now, s.leechers_done, s.nleechers);
      next_progress = now + 60;
    }
    if (s.leechers_done == s.nleechers) {
      sample(&s, now);
      break;
    }
  }
  res->end_time   = now < cfg->max_time_s ? now : cfg->max_time_s;
  res->ncompleted = s.leechers_done;
  if (!s.failed)
    summarize(&s);
  int failed = s.failed;
  free_sim(&s);
  if (failed)
    sim_result_free(res);
  return failed ? -1 : 0;
}
