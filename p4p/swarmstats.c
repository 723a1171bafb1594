/* swarmstats: heaviest swarms, counted per PID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "state.h"
#include "swarmstats.h"

struct heavy {
  uint8_t   hash[P4P_HASH_SIZE];
  size_t    peers;
  uint64_t *seeders;  /* [groups] */
  uint64_t *leechers; /* [groups] */
};

struct walk_state {
  const struct p4p_state *s;
  size_t                  groups;
  struct heavy           *top; /* min-heap by peers while walking */
  size_t                  ntop, cap;
  uint8_t                 last[P4P_HASH_SIZE];
  size_t                  last_peers;
  int                     have_last;
};

static void heap_down(struct heavy *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && h[l].peers < h[m].peers)
      m = l;
    if (l + 1 < n && h[l + 1].peers < h[m].peers)
      m = l + 1;
    if (m == i)
      return;
    struct heavy t = h[i];
    h[i]           = h[m];
    h[m]           = t;
    i              = m;
  }
}

static void heap_up(struct heavy *h, size_t i) {
  while (i && h[(i - 1) / 2].peers > h[i].peers) {
    struct heavy t = h[i];
    h[i]           = h[(i - 1) / 2];
    h[(i - 1) / 2] = t;
    i              = (i - 1) / 2;
  }
}

static void offer(struct walk_state *w, const uint8_t *hash, size_t peers) {
  if (!peers || !w->cap)
    return;
  if (w->ntop < w->cap) {
    memcpy(w->top[w->ntop].hash, hash, P4P_HASH_SIZE);
    w->top[w->ntop].peers = peers;
    heap_up(w->top, w->ntop++);
  } else if (peers > w->top[0].peers) {
    memcpy(w->top[0].hash, hash, P4P_HASH_SIZE);
    w->top[0].peers = peers;
    heap_down(w->top, w->ntop, 0);
  }
}

/* The walker visits a swarm's IPv4 list, then its IPv6 list: add them up. */
static void rank_visit(void *ctx, const uint8_t *hash, const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t seed_count,
                       size_t peer_size) {
  struct walk_state *w = ctx;
  (void)peers, (void)layout, (void)seed_count, (void)peer_size;
  if (w->have_last && !memcmp(w->last, hash, P4P_HASH_SIZE)) {
    w->last_peers += peer_count;
    return;
  }
  if (w->have_last)
    offer(w, w->last, w->last_peers);
  memcpy(w->last, hash, P4P_HASH_SIZE);
  w->last_peers = peer_count;
  w->have_last  = 1;
}

static int by_peers_desc(const void *a, const void *b) {
  size_t x = ((const struct heavy *)a)->peers, y = ((const struct heavy *)b)->peers;
  return x < y ? 1 : x > y ? -1 : 0;
}

static int by_hash(const void *a, const void *b) { return memcmp(((const struct heavy *)a)->hash, ((const struct heavy *)b)->hash, P4P_HASH_SIZE); }

static void count_visit(void *ctx, const uint8_t *hash, const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t seed_count,
                        size_t peer_size) {
  struct walk_state *w = ctx;
  struct heavy       key;
  (void)peer_count, (void)seed_count;
  if (layout->map != w->s->map || !peers->data) /* not (yet) laid out by PID */
    return;
  memcpy(key.hash, hash, P4P_HASH_SIZE);
  struct heavy *h = bsearch(&key, w->top, w->ntop, sizeof key, by_hash);
  if (!h)
    return;
  const struct p4p_vector *b     = peers->data;
  const uint16_t          *slots = p4p_layout_slots(peers); /* groups only for PIDs present */
  for (size_t g = 0; g < layout->groups; ++g) {
    uint16_t slot = slots[g];
    if (!slot)
      continue; /* peers in no PID */
    for (size_t k = 0; k < layout->per_group; ++k) {
      const struct p4p_vector *v = &b[g * layout->per_group + k];
      for (size_t i = 0; i < v->size; ++i) {
        const uint8_t *peer = (const uint8_t *)v->data + i * peer_size;
        if (P4P_PEER_FLAGS(peer, peer_size) & P4P_PEER_FLAG_SEEDING)
          h->seeders[slot]++;
        else
          h->leechers[slot]++;
      }
    }
  }
}

static const char *own_name(const char *full, const char *provider_ns) {
  size_t n = strlen(provider_ns);
  return n && !strncmp(full, provider_ns, n) && full[n] == '/' ? full + n + 1 : full;
}

int p4p_swarmstats_collect(p4p_swarm_walker walk, const struct p4p_state *s, size_t top_k, struct p4p_stats_msg *out) {
  struct walk_state w  = {.s = s, .cap = top_k};
  int               rc = -1;

  for (size_t i = 0; i < s->nproviders; ++i)
    memset(&out[i], 0, sizeof out[i]);
  if (!walk || !s->map || !top_k)
    return 0;
  w.groups = p4p_pidmap_npids(s->map) + 1;
  if (!(w.top = calloc(top_k, sizeof *w.top)))
    return -1;
  walk(rank_visit, &w);
  if (w.have_last)
    offer(&w, w.last, w.last_peers);
  for (size_t i = 0; i < w.ntop; ++i)
    if (!(w.top[i].seeders = calloc(w.groups, sizeof(uint64_t))) || !(w.top[i].leechers = calloc(w.groups, sizeof(uint64_t))))
      goto done;
  qsort(w.top, w.ntop, sizeof *w.top, by_hash);
  walk(count_visit, &w);
  qsort(w.top, w.ntop, sizeof *w.top, by_peers_desc); /* messages list the heaviest first */

  for (size_t p = 0; p < s->nproviders; ++p) {
    const struct p4p_provider_info *prov = &s->providers[p];
    const char                     *ns   = prov->name;
    if (!prov->first)
      continue;
    if (!(out[p].swarms = calloc(w.ntop ? w.ntop : 1, sizeof *out[p].swarms)))
      goto done;
    for (size_t k = 0; k < w.ntop; ++k) {
      struct p4p_swarm_stats *sw = &out[p].swarms[out[p].nswarms];
      size_t                  n  = 0;
      for (size_t g = prov->first; g <= prov->last; ++g)
        n += w.top[k].seeders[g] || w.top[k].leechers[g];
      if (!n)
        continue;
      if (!(sw->pids = calloc(n, sizeof *sw->pids)))
        goto done;
      memcpy(sw->info_hash, w.top[k].hash, P4P_HASH_SIZE);
      for (size_t g = prov->first; g <= prov->last; ++g) {
        if (!w.top[k].seeders[g] && !w.top[k].leechers[g])
          continue;
        struct p4p_pid_stats *ps = &sw->pids[sw->npids++];
        snprintf(ps->pid, sizeof ps->pid, "%s", own_name(p4p_pidmap_pid_name(s->map, (uint16_t)g), strcmp(ns, "local") ? ns : ""));
        ps->seeders   = w.top[k].seeders[g];
        ps->leechers  = w.top[k].leechers[g];
        ps->up_kbps   = -1; /* the tracker does not know access rates */
        ps->down_kbps = -1;
      }
      out[p].nswarms++;
    }
  }
  rc = 0;
done:
  for (size_t i = 0; i < w.ntop; ++i) {
    free(w.top[i].seeders);
    free(w.top[i].leechers);
  }
  free(w.top);
  if (rc)
    for (size_t i = 0; i < s->nproviders; ++i)
      proto_stats_msg_free(&out[i]);
  return rc;
}
