/* select: P4P peer selection without scanning the swarm.
 *
 * Every peer of the list has a "global index": groups laid end to end, and
 * inside a group its buckets end to end, with the requester taken out.  A
 * selection is a set of distinct global indices, drawn in three steps:
 *
 *   guided   per PID j a count k_j (water-filling + systematic rounding),
 *            then k_j distinct indices inside j's range;
 *   outside  (several providers) uniform over the ranges outside the
 *            requester's provider;
 *   random   uniform over the whole list;
 *
 * each "distinct" by rejection against a small hash set of the indices
 * taken so far, which keeps every pick uniform over the peers not taken yet
 * (the conditional law of drawing without replacement).  Where a range is
 * too small for rejection to be cheap (a PID given more than half its
 * peers, a tiny swarm) the draw is exact instead: Floyd's sampler over a
 * bitmap.  Only the bucket sizes and the picked peers themselves are ever
 * touched; nothing is sorted. */
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "select.h"

#define MAX_GROUPS (PIDMAP_MAX_PIDS + 1)
/* Exact draws run on ranges of fewer than 2 * (picks + k) <= this many
 * indices; rejection everywhere else. */
#define EXACT_MAX  (2 * SELECT_MAX_AMOUNT)

/* drand48's generator (x = a x + c mod 2^48), the state upstream's
 * nrand48() keeps per thread, stepped inline: the 32 high bits per draw. */
struct rng {
  uint64_t x;
};

static inline struct rng rng_load(const unsigned short s[3]) { return (struct rng){(uint64_t)s[2] << 32 | (uint64_t)s[1] << 16 | s[0]}; }

static inline void rng_store(struct rng r, unsigned short s[3]) {
  s[0] = (unsigned short)r.x;
  s[1] = (unsigned short)(r.x >> 16);
  s[2] = (unsigned short)(r.x >> 32);
}

static inline uint32_t next32(struct rng *r) {
  r->x = (r->x * 0x5DEECE66DULL + 0xB) & 0xffffffffffffULL;
  return (uint32_t)(r->x >> 16);
}

/* Uniform in [0, n), n <= 2^32, by multiply-shift: no division, and a bias
 * below n / 2^32 (2e-5 for a 100k-peer swarm), as upstream's modulo has. */
static inline uint32_t below(struct rng *r, uint64_t n) { return (uint32_t)((next32(r) * n) >> 32); }

static inline double uniform01(struct rng *r) { return next32(r) / 4294967296.0; }

/* The global indices taken so far: open addressing at most half full,
 * keys stored + 1. */
struct taken {
  uint32_t slot[2 * SELECT_MAX_AMOUNT];
  uint32_t mask;
  unsigned shift;
};

static void taken_init(struct taken *t, size_t amount) {
  unsigned bits = amount > 32 ? 32 - (unsigned)__builtin_clz((unsigned)(2 * amount - 1)) : 6; /* 2^bits >= 2 * amount */
  t->mask  = (1u << bits) - 1;
  t->shift = 32 - bits;
  memset(t->slot, 0, (1u << bits) * sizeof t->slot[0]);
}

/* 1 if v was not taken (and is now), 0 if it was. */
static inline int take(struct taken *t, uint32_t v) {
  uint32_t key = v + 1, h = (key * 0x9E3779B1u) >> t->shift;
  for (;; h = (h + 1) & t->mask) {
    if (!t->slot[h]) {
      t->slot[h] = key;
      return 1;
    }
    if (t->slot[h] == key)
      return 0;
  }
}

static inline int was_taken(const struct taken *t, uint32_t v) {
  uint32_t key = v + 1, h = (key * 0x9E3779B1u) >> t->shift;
  for (;; h = (h + 1) & t->mask) {
    if (!t->slot[h])
      return 0;
    if (t->slot[h] == key)
      return 1;
  }
}

#define BIT_SET(bm, i) ((bm)[(i) >> 6] |= 1ull << ((i) & 63))
#define BIT_HAS(bm, i) ((bm)[(i) >> 6] >> ((i) & 63) & 1)

/* Floyd's algorithm: k distinct values uniform over [0, n), n <= EXACT_MAX,
 * as bits of out. */
static void floyd(size_t n, size_t k, uint64_t out[EXACT_MAX / 64], struct rng *r) {
  memset(out, 0, (n + 63) / 64 * sizeof *out);
  for (size_t t = n - k; t < n; ++t) {
    size_t v = below(r, t + 1);
    if (BIT_HAS(out, v))
      v = t;
    BIT_SET(out, v);
  }
}

/* Everything one selection works on. */
struct pass {
  const struct select_request *req;
  size_t                       groups, self_group, self_index;
  uint32_t                     count[MAX_GROUPS], start[MAX_GROUPS + 1];
  struct taken                 taken;
  const uint8_t               *at[SELECT_MAX_AMOUNT];
  size_t                       npicks;
  struct rng                   rng;
  /* locality of the picks, for the tally: the requester's group, the run
   * of its provider's groups [prov_g, prov_g + prov_n), counts of picks in
   * the one, the rest of the other, and elsewhere */
  size_t                       own_g, prov_g, prov_n;
  size_t                       where[3];
};

/* Group of a global index: binary search over the group starts. */
static inline size_t group_of(const struct pass *p, uint32_t global) {
  size_t lo = 0, hi = p->groups;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (p->start[mid] <= global)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* The functions below take the peer record's size as an argument and are
 * inlined into two copies of the selection, one per record size (IPv4,
 * IPv6), so that it is a constant everywhere: a shift or a lea per pick,
 * not a multiply and a reload. */
#define SIZED static inline __attribute__((always_inline))

/* Records the index-th peer of group g (requester skipped) as a pick. */
SIZED void emit(struct pass *p, size_t g, size_t index, size_t peer_size) {
  const struct select_request *req = p->req;
  if (g == p->self_group && index >= p->self_index)
    ++index;
  const struct p4p_vector *b;
  if (req->per_group == 1) /* the usual case: one bucket per group */
    b = req->buckets + g;
  else
    for (b = req->buckets + g * req->per_group; index >= b->size;)
      index -= (b++)->size;
  const uint8_t *peer = (const uint8_t *)b->data + index * peer_size;
  __builtin_prefetch(peer); /* the copy-out comes later: let the misses overlap */
  p->at[p->npicks++] = peer;
  p->where[g == p->own_g ? 0 : g - p->prov_g < p->prov_n ? 1 : 2]++; /* two compares, nothing looked up */
}

SIZED void emit_global(struct pass *p, uint32_t global, size_t peer_size) {
  size_t g = group_of(p, global);
  emit(p, g, global - p->start[g], peer_size);
}

/* k distinct peers of group g, none taken before. */
SIZED void pick_in_group(struct pass *p, size_t g, size_t k, size_t peer_size) {
  uint32_t n = p->count[g], base = p->start[g];
  if (k == n) { /* all of them, as a saturated PID gives */
    for (uint32_t i = 0; i < n; ++i)
      if (take(&p->taken, base + i))
        emit(p, g, i, peer_size);
    return;
  }
  if (2 * k <= n) { /* at least half stay free: under 2 draws per pick */
    for (size_t got = 0; got < k;) {
      uint32_t i = below(&p->rng, n);
      if (take(&p->taken, base + i))
        emit(p, g, i, peer_size), ++got;
    }
    return;
  }
  uint64_t bits[EXACT_MAX / 64]; /* n < 2k <= 2 * SELECT_MAX_AMOUNT */
  floyd(n, k, bits, &p->rng);
  for (uint32_t i = 0; i < n; ++i)
    if (BIT_HAS(bits, i) && take(&p->taken, base + i))
      emit(p, g, i, peer_size);
}

/* k distinct peers uniform over the peers not taken yet of a virtual range
 * [0, nv), which is global [0, cut) followed by [cut + gap, ...): the whole
 * list (gap 0), or the list outside the requester's provider. */
SIZED void pick_in_range(struct pass *p, uint32_t nv, uint32_t cut, uint32_t gap, size_t k, size_t peer_size) {
  if (!k || !nv)
    return;
  if (2 * (p->npicks + k) <= nv) { /* rejection: under 2 draws per pick */
    for (size_t got = 0; got < k;) {
      uint32_t v = below(&p->rng, nv), global = v < cut ? v : v + gap;
      if (take(&p->taken, global))
        emit_global(p, global, peer_size), ++got;
    }
    return;
  }
  /* Small range (nv < 2 * (picks + k) <= EXACT_MAX): exact.  Draw k ranks
   * among the free indices, then walk the range once. */
  uint64_t drawn[EXACT_MAX / 64];
  uint32_t free = 0;
  for (uint32_t v = 0; v < nv; ++v)
    free += !was_taken(&p->taken, v < cut ? v : v + gap);
  if (k > free)
    k = free;
  floyd(free, k, drawn, &p->rng);
  for (uint32_t v = 0, rank = 0; v < nv; ++v) {
    uint32_t global = v < cut ? v : v + gap;
    if (was_taken(&p->taken, global))
      continue;
    if (BIT_HAS(drawn, rank))
      take(&p->taken, global), emit_global(p, global, peer_size);
    ++rank;
  }
}

/* Splits `want` picks over the active groups: quota_a proportional to w_a,
 * except that a PID holding fewer peers than its share gives all it has and
 * its surplus goes to the others by weight (water-filling: saturate every
 * PID whose count is below its share, recompute the shares of the rest,
 * until none saturates; the shares only grow, so this ends at the same
 * fixed point as visiting PIDs in the order they saturate).  Then rounds to
 * integers with one uniform offset (systematic sampling): E[k_a] = quota_a
 * exactly and sum k_a is exact.  Returns sum k_a (less than want only when
 * the active PIDs run out). */
static size_t allocate(size_t nactive, const float *w, const uint32_t *cnt, size_t want, uint32_t *k, struct rng *r) {
  unsigned char sat[MAX_GROUPS];
  double        left = (double)want, wleft = 0;
  size_t        capacity = 0, a;

  for (a = 0; a < nactive; ++a) {
    wleft    += w[a];
    capacity += cnt[a];
    sat[a]    = 0;
  }
  double share = wleft > 0 ? left / wleft : 0; /* picks per unit of weight */
  for (int changed = 1; changed && wleft > 0;) {
    changed = 0;
    for (a = 0; a < nactive; ++a)
      if (!sat[a] && (double)cnt[a] <= share * w[a]) {
        sat[a]   = 1;
        left    -= cnt[a];
        wleft   -= w[a];
        changed  = 1;
      }
    share = wleft > 0 ? left / wleft : 0;
  }

  size_t target = want < capacity ? want : capacity, total = 0;
  double cum   = uniform01(r); /* u + the quotas so far */
  size_t floor0 = 0;           /* floor(u) */
  for (a = 0; a < nactive; ++a) {
    cum         += sat[a] ? (double)cnt[a] : share * w[a];
    size_t upto  = (size_t)cum; /* floor: cum >= 0 */
    size_t n     = upto - floor0;
    floor0       = upto;
    k[a]           = (uint32_t)(n > cnt[a] ? cnt[a] : n);
    total         += k[a];
  }
  /* Floating-point sums may miss the exact total by one; mend it. */
  for (a = 0; total < target && a < nactive; ++a)
    while (total < target && k[a] < cnt[a])
      ++k[a], ++total;
  for (a = 0; total > target && a < nactive; ++a)
    while (total > target && k[a])
      --k[a], --total;
  return total;
}

/* Weight of a slot in a row: binary search. */
static float row_weight(const struct select_row *row, uint16_t slot) {
  size_t lo = 0, hi = row->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (row->e[mid].slot < slot)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < row->n && row->e[lo].slot == slot ? row->e[lo].w : 0;
}

/* First group whose slot is >= slot. */
static size_t first_group_from(const uint16_t *slots, size_t groups, uint16_t slot) {
  size_t lo = 0, hi = groups;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (slots[mid] < slot)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Compare bytes (address, port; network order) as memcmp() orders them,
 * without the call: big-endian loads. */
static inline uint64_t be64_at(const uint8_t *a) {
  uint64_t v;
  memcpy(&v, a, 8);
  return __builtin_bswap64(v);
}
static inline uint64_t be48_at(const uint8_t *a) { /* 4 address bytes + 2 port bytes */
  uint32_t hi;
  uint16_t lo;
  memcpy(&hi, a, 4), memcpy(&lo, a + 4, 2);
  return (uint64_t)__builtin_bswap32(hi) << 16 | __builtin_bswap16(lo);
}
static inline int peer_cmp(const uint8_t *a, const uint8_t *b, size_t compare_size) {
  if (compare_size == P4P_PEER_COMPARE_SIZE4) {
    uint64_t x = be48_at(a), y = be48_at(b);
    return (x > y) - (x < y);
  }
  for (size_t i = 0; i < 16; i += 8) {
    uint64_t x = be64_at(a + i), y = be64_at(b + i);
    if (x != y)
      return x < y ? -1 : 1;
  }
  return memcmp(a + 16, b + 16, 2);
}

/* Takes the requester out of its group's index range, if it is there. */
SIZED void find_self(struct pass *p, size_t peer_size) {
  size_t compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  const struct select_request *req = p->req;
  p->self_group                    = p->groups;
  if (!req->self_key || !req->self_slot)
    return;
  size_t g = p4p_layout_find_group(req->group_slot, p->groups, req->self_slot);
  if (g == p->groups)
    return;
  size_t                   sub = p4p_layout_sub_bucket(req->self_key, compare_size, (unsigned)req->per_group);
  const struct p4p_vector *b   = req->buckets + g * req->per_group + sub;
  size_t                   lo = 0, hi = b->size;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int    c   = peer_cmp((const uint8_t *)b->data + mid * peer_size, req->self_key, compare_size);
    if (c == 0) {
      p->self_group = g;
      p->self_index = mid;
      for (size_t s = 0; s < sub; ++s)
        p->self_index += req->buckets[g * req->per_group + s].size;
      --p->count[g];
      return;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
}

SIZED size_t select_sized(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally, size_t peer_size) {
  size_t      compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  struct pass p;
  uint16_t    active[MAX_GROUPS];
  float       weight[MAX_GROUPS];
  uint32_t    cnt[MAX_GROUPS], k[MAX_GROUPS];
  size_t      nactive = 0, n = 0;

  memset(tally, 0, sizeof *tally);
  if (req->amount > SELECT_MAX_AMOUNT || req->groups > MAX_GROUPS || !req->groups)
    return 0;
  p.req    = req;
  p.groups = req->groups;
  p.npicks = 0;
  memset(p.where, 0, sizeof p.where);
  for (size_t g = 0; g < p.groups; ++g) {
    size_t c = req->buckets[g * req->per_group].size;
    for (size_t b = 1; b < req->per_group; ++b)
      c += req->buckets[g * req->per_group + b].size;
    if (c > UINT32_MAX / 2)
      return 0; /* global indices are 32 bits */
    p.count[g] = (uint32_t)c;
  }
  find_self(&p, peer_size);
  for (size_t g = 0; g < p.groups; ++g) {
    p.start[g]  = (uint32_t)n;
    n          += p.count[g];
  }
  if (n > UINT32_MAX / 2)
    return 0;
  p.start[p.groups] = (uint32_t)n;

  size_t amount = req->amount < n ? req->amount : n;
  size_t random = (size_t)(req->random_fraction * (double)amount + 0.5);
  if (random > amount)
    random = amount;

  /* The row's weights of the groups present, in group order: merge the two
   * ascending slot lists, or look each group up in a long row. */
  const struct select_row *row = req->row;
  if (row->n > 8 * p.groups) {
    for (size_t g = 0; g < p.groups; ++g) {
      float w = req->group_slot[g] ? row_weight(row, req->group_slot[g]) : 0;
      if (w > 0 && p.count[g])
        active[nactive] = (uint16_t)g, weight[nactive] = w, cnt[nactive++] = p.count[g];
    }
  } else
    for (size_t g = 0, e = 0; g < p.groups && e < row->n;) {
      uint16_t s = req->group_slot[g];
      if (s < row->e[e].slot)
        ++g;
      else if (s > row->e[e].slot)
        ++e;
      else {
        if (row->e[e].w > 0 && p.count[g])
          active[nactive] = (uint16_t)g, weight[nactive] = row->e[e].w, cnt[nactive++] = p.count[g];
        ++g, ++e;
      }
    }

  /* Outside the requester's provider: its slots are one contiguous run, so
   * its groups are one run [gin, gout) too, and "outside" is the two index
   * ranges around it. */
  size_t gin = 0, gout = p.groups, outside = 0;
  if (req->provider_first) {
    gin  = first_group_from(req->group_slot, p.groups, req->provider_first);
    gout = first_group_from(req->group_slot, p.groups, (uint16_t)(req->provider_last + 1));
    if (req->provider_last == UINT16_MAX)
      gout = p.groups;
  }
  uint32_t n_in = p.start[gout] - p.start[gin], n_out = (uint32_t)n - n_in;
  if (req->provider_first)
    outside = (size_t)((1 - req->intra_share) * (double)(amount - random) + 0.5);
  if (outside > n_out)
    outside = n_out;
  /* For the tally, the provider's run without a group of no PID (slot 0,
   * first when there is one): with one provider that is every PID. */
  p.own_g  = req->self_slot ? p4p_layout_find_group(req->group_slot, p.groups, req->self_slot) : p.groups;
  p.prov_g = req->provider_first ? gin : p.groups && req->group_slot[0] == 0;
  p.prov_n = gout - p.prov_g;

  p.rng = rng_load(rand48);
  taken_init(&p.taken, amount);
  allocate(nactive, weight, cnt, amount - random - outside, k, &p.rng);
  for (size_t a = 0; a < nactive; ++a) {
    size_t g = active[a], before = p.npicks;
    if (!k[a])
      continue;
    pick_in_group(&p, g, k[a], peer_size);
    if (req->group_slot[g] == req->self_slot)
      tally->same_pid += p.npicks - before;
    else
      tally->other_pid += p.npicks - before;
  }
  size_t guided = p.npicks;
  pick_in_range(&p, n_out, p.start[gin], n_in, outside, peer_size);
  tally->outside = p.npicks - guided;
  /* Random part, and whatever the guided part could not fill. */
  pick_in_range(&p, (uint32_t)n, (uint32_t)n, 0, amount - p.npicks, peer_size);
  tally->random = p.npicks - guided - tally->outside;
  rng_store(p.rng, rand48);
  tally->in_pid      = p.where[0];
  tally->in_provider = p.where[1];
  tally->elsewhere   = p.where[2];

  /* Copy out as upstream does: seeders fill from the back. */
  char *front = reply, *back = reply + p.npicks * compare_size;
  for (size_t i = 0; i < p.npicks; ++i) {
    const uint8_t *peer = p.at[i];
    char          *to   = front;
    if (P4P_PEER_FLAGS(peer, peer_size) & P4P_PEER_FLAG_SEEDING)
      to = back -= compare_size;
    else
      front += compare_size;
    memcpy(to, peer, compare_size);
  }
  return p.npicks * compare_size;
}

size_t p4p_select_guided(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally) {
  if (req->peer_size == P4P_PEER_SIZE4)
    return select_sized(req, rand48, reply, tally, P4P_PEER_SIZE4);
  if (req->peer_size == P4P_PEER_SIZE6)
    return select_sized(req, rand48, reply, tally, P4P_PEER_SIZE6);
  memset(tally, 0, sizeof *tally);
  return 0;
}

struct select_row p4p_select_row_from_dense(const float *dense, size_t npids, struct select_weight *out) {
  struct select_row row = {0, out};
  for (size_t j = 0; j < npids; ++j)
    if (dense[j] > 0)
      out[row.n++] = (struct select_weight){(uint16_t)(j + 1), dense[j]};
  return row;
}
