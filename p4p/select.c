/* select: P4P peer selection without scanning the swarm.
 *
 * A selection is decided as counts first: how many peers each group (a PID
 * of the list, or the peers in no PID) gives, part by part,
 *
 *   guided   per PID j a count k_j by the row (water-filling + systematic
 *            rounding);
 *   outside  (several providers) spread over the groups outside the
 *            requester's provider in proportion to what they have left;
 *   random   spread over every group in proportion to what it has left;
 *
 * each part's counts rounded by systematic sampling, so that their
 * expectation is what drawing that part uniformly among the peers not
 * taken yet would give, and their sums are exact.  Then each group gives
 * its count of distinct peers at once, stratified (pick_group): each of its
 * peers is in the answer with the same probability, and no peer twice.
 * Only the bucket sizes and the picked peers themselves are ever touched;
 * nothing is sorted, nothing is rejected and drawn again. */
#include <stdatomic.h>
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "select.h"

#define MAX_GROUPS    (PIDMAP_MAX_PIDS + 1)
#define MAX_PER_GROUP 64 /* buckets per group the selection takes (a power of two) */

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

/* n draws of the same generator at once, in four interleaved streams (x_{i+4}
 * = a^4 x_i + c (a^3 + a^2 + a + 1) mod 2^48), so that the draws do not wait
 * on each other's multiply; out must have room for n rounded up to 4.  The
 * state ends where a whole number of rounds of four leaves it. */
static void rng_fill(struct rng *r, uint32_t *out, size_t n) {
  const uint64_t mask = 0xffffffffffffULL, a4 = 0x32eb772c5f11ULL, c4 = 0x2d3873c4cd04ULL;
  uint64_t       x0 = (r->x * 0x5DEECE66DULL + 0xB) & mask, x1 = (x0 * 0x5DEECE66DULL + 0xB) & mask;
  uint64_t       x2 = (x1 * 0x5DEECE66DULL + 0xB) & mask, x3 = (x2 * 0x5DEECE66DULL + 0xB) & mask;
  for (size_t i = 0; i < n; i += 4) {
    out[i]     = (uint32_t)(x0 >> 16);
    out[i + 1] = (uint32_t)(x1 >> 16);
    out[i + 2] = (uint32_t)(x2 >> 16);
    out[i + 3] = (uint32_t)(x3 >> 16);
    r->x       = x3;
    x0 = (x0 * a4 + c4) & mask, x1 = (x1 * a4 + c4) & mask, x2 = (x2 * a4 + c4) & mask, x3 = (x3 * a4 + c4) & mask;
  }
}

/* Uniform in [0, n), n <= 2^32, from a drawn 32-bit number by
 * multiply-shift: no division, and a bias below n / 2^32 (2e-5 for a
 * 100k-peer swarm), as upstream's modulo has. */
static inline uint32_t scaled(uint32_t draw, uint64_t n) { return (uint32_t)((draw * n) >> 32); }

/* Everything one selection works on. */
struct pass {
  const struct select_request *req;
  size_t                       groups, self_group, self_index;
  uint32_t                     count[MAX_GROUPS]; /* peers per group, the requester left out */
  uint32_t                     take[MAX_GROUPS];  /* picks per group, all parts */
  size_t                       npicks;
  struct rng                   rng;
};

/* The functions below take the peer record's size as an argument and are
 * inlined into two copies of the selection, one per record size (IPv4,
 * IPv6), so that it is a constant everywhere: a shift or a lea per pick,
 * not a multiply and a reload. */
#define SIZED static inline __attribute__((always_inline))

/* n / k for k <= SELECT_MAX_AMOUNT by a multiply: the high 64 bits of
 * n * (floor(2^64 / k) + 1) are floor(n / k) for every n < 2^32 (the
 * error n * (1 - frac) / 2^64 stays below 1/k).  The reciprocals are made
 * on first use; a race writes the same value twice. */
static _Atomic uint64_t g_recip[SELECT_MAX_AMOUNT + 1];

static inline uint32_t div_small(uint32_t n, uint32_t k) {
  if (k == 1)
    return n;
  uint64_t m = atomic_load_explicit(&g_recip[k], memory_order_relaxed);
  if (!m)
    atomic_store_explicit(&g_recip[k], m = UINT64_MAX / k + 1, memory_order_relaxed);
  return (uint32_t)(((unsigned __int128)n * m) >> 64);
}

/* The reply's free space [front, back) while picks are written. */
struct cursor {
  char *front, *back;
};

/* Writes one picked record to the reply as upstream does, leechers from
 * the front and seeders from the back, without a branch (a seeder is a
 * coin flip the predictor cannot learn): the record goes to both ends of
 * the free space and only one end moves, so the other copy lands where a
 * later record goes or, with one slot left, both are that slot.  (The
 * cursor is the caller's local: stores into the reply may alias anything
 * in memory, a register may not.) */
SIZED void put(struct cursor *c, const uint8_t *peer, size_t peer_size) {
  const size_t compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  size_t       seed         = (P4P_PEER_FLAGS(peer, peer_size) & P4P_PEER_FLAG_SEEDING) != 0;
  size_t       step         = -seed & compare_size;
  memcpy(c->front, peer, compare_size);
  memcpy(c->back - compare_size, peer, compare_size);
  c->back -= step;
  c->front += compare_size - step;
}

/* k distinct peers of group g (k <= count[g]), each peer of the group in
 * the pick with probability k / count[g] exactly: stratified, as upstream
 * picks from a whole list.  The group's index range [0, n), turned by a
 * random offset, is cut into k consecutive strata (n mod k of n / k + 1
 * peers, then the others of n / k, so they tile the range exactly), and
 * one peer is drawn uniformly in each.  An index lies in stratum j for a
 * share d_j / n of the offsets and is then drawn with probability 1 / d_j:
 * k / n in all, whatever the strata's sizes; picks in different strata are
 * distinct by construction.  One random number per pick plus one per
 * group, no rejection, no set of taken indices.  `flat`: one bucket per
 * group (a constant at each call, so that the usual case has no bucket
 * search at all). */
SIZED void pick_group(const struct pass *p, size_t g, uint32_t k, size_t peer_size, int flat, const uint32_t **draw, struct cursor *c) {
  const struct select_request *req   = p->req;
  const size_t                 pg    = flat ? 1 : req->per_group;
  const uint32_t               n     = p->count[g];
  const uint32_t               self  = g == p->self_group ? (uint32_t)p->self_index : UINT32_MAX;
  const struct p4p_vector     *first = req->buckets + g * pg;
  const uint8_t               *data  = (const uint8_t *)first->data;
  const uint32_t              *d     = *draw;

  if (k == 1 && flat) { /* one pick: uniform, no strata (the common case) */
    uint32_t at = scaled(*d, n);
    at += at >= self;
    put(c, data + (size_t)at * peer_size, peer_size);
    *draw = d + 1;
    return;
  }
  /* Several buckets: where each begins in the group's index range, for a
   * branch-free search per pick (a pick's bucket is a coin flip for the
   * predictor); per_group is a power of two up to MAX_PER_GROUP. */
  uint32_t begin[MAX_PER_GROUP];
  if (!flat)
    for (size_t i = 0, at = 0; i < pg; at += first[i++].size)
      begin[i] = (uint32_t)at;
  const uint32_t q = div_small(n, k), big = n - q * k;
  uint32_t       pos = scaled(*d++, n);
  for (uint32_t j = 0; j < k; ++j) {
    uint32_t size = q + (j < big);
    uint32_t at   = pos + scaled(d[j], size);
    pos += size;
    at -= n & -(uint32_t)(at >= n);
    at += at >= self; /* the requester is not in the range */
    if (!flat) {
      size_t i = 0; /* the last bucket beginning at or before at: it holds at */
      for (size_t step = pg / 2; step; step /= 2)
        i += begin[i + step] <= at ? step : 0;
      data = (const uint8_t *)first[i].data;
      at -= begin[i];
    }
    put(c, data + (size_t)at * peer_size, peer_size);
  }
  *draw = d + k;
}

/* Rounds the quotas want * left[g] / total, for g in the ranges [r[0],
 * r[1]) and [r[2], r[3]) and left[g] what group g has not given yet, to
 * integers added to take[g], by systematic sampling: one uniform offset;
 * each ⌊quota⌋ or ⌈quota⌉ (so no group is asked for more than it has), its
 * expectation the quota exactly, their sum want exactly (at most what the
 * groups have left).  Returns the sum. */
static size_t spread(struct pass *p, size_t want, const size_t r[4], struct rng *rng) {
  uint32_t left[MAX_GROUPS]; /* what each group has not given yet */
  uint64_t total = 0;
  for (int part = 0; part < 4; part += 2)
    for (size_t g = r[part]; g < r[part + 1]; ++g)
      total += left[g] = p->count[g] - p->take[g];
  if (want > total)
    want = (size_t)total;
  if (!want)
    return 0;
  /* In 32.32 fixed point, so that the running sum is an integer add; the
   * scale (from a double division: an integer one of 64 bits is slow) is
   * rounded down, so the sum never passes want. */
  const uint64_t scale = (uint64_t)((double)want / (double)total * 4294967296.0) - 1;
  uint64_t       cum = next32(rng), floor0 = 0; /* u + the quotas so far; floor(u) = 0 */
  size_t         sum = 0;
  for (int part = 0; part < 4; part += 2)
    for (size_t g = r[part]; g < r[part + 1]; ++g) {
      cum += left[g] * scale;
      uint32_t k = (uint32_t)((cum >> 32) - floor0);
      floor0     = cum >> 32;
      p->take[g] += k;
      sum += k;
    }
  /* The quotas' rounding may leave the sum one short; mend it. */
  for (int part = 0; part < 4 && sum < want; part += 2)
    for (size_t g = r[part]; g < r[part + 1] && sum < want; ++g)
      if (p->take[g] < p->count[g])
        ++p->take[g], ++sum;
  return sum;
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
static size_t allocate(size_t nactive, const uint16_t *group, const float *w, const uint32_t *cnt, double wsum, size_t capacity, size_t want, uint32_t *take,
                       struct rng *r) {
  uint16_t open[MAX_GROUPS]; /* the PIDs not saturated yet */
  uint8_t  sat[MAX_GROUPS];
  uint32_t k[MAX_GROUPS];
  size_t   nopen = 0, a;

  if (want >= capacity) { /* every PID gives all it has */
    for (a = 0; a < nactive; ++a)
      take[group[a]] = cnt[a];
    return capacity;
  }
  /* Saturation is the exception (a PID smaller than its share): the
   * branches below are predictable, and nothing but a saturation changes
   * the running sums. */
  double left = (double)want, wleft = wsum, share = left / wleft; /* picks per unit of weight */
  for (a = 0; a < nactive; ++a) {
    sat[a] = (double)cnt[a] <= share * w[a];
    if (sat[a])
      left -= cnt[a], wleft -= w[a];
    else
      open[nopen++] = (uint16_t)a;
  }
  while (nopen < nactive && nopen) { /* some saturated: the others' shares grew */
    share    = left / wleft;
    size_t m = 0;
    for (size_t i = 0; i < nopen; ++i) {
      a = open[i];
      if ((double)cnt[a] <= share * w[a])
        sat[a] = 1, left -= cnt[a], wleft -= w[a];
      else
        open[m++] = (uint16_t)a;
    }
    if (m == nopen)
      break;
    nopen = m;
  }

  /* Systematic rounding in 32.32 fixed point (an integer running sum). */
  const double fx  = share * 4294967296.0;
  uint64_t     cum = next32(r), floor0 = 0; /* u + the quotas so far; floor(u) = 0 */
  size_t       total = 0;
  for (a = 0; a < nactive; ++a) {
    cum += sat[a] ? (uint64_t)cnt[a] << 32 : (uint64_t)(int64_t)(fx * w[a]);
    uint32_t n = (uint32_t)((cum >> 32) - floor0);
    floor0     = cum >> 32;
    k[a]       = n > cnt[a] ? cnt[a] : n;
    total += k[a];
  }
  /* Rounding the quotas may miss the exact total by one; mend it. */
  for (a = 0; total < want && a < nactive; ++a)
    while (total < want && k[a] < cnt[a])
      ++k[a], ++total;
  for (a = 0; total > want && a < nactive; ++a)
    while (total > want && k[a])
      --k[a], --total;
  for (a = 0; a < nactive; ++a)
    take[group[a]] = k[a];
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
  size_t                       compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  const struct select_request *req          = p->req;
  p->self_group                             = p->groups;
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
  uint32_t    cnt[MAX_GROUPS];
  size_t      nactive = 0, n = 0, capacity = 0;
  double      wsum = 0;

  memset(tally, 0, sizeof *tally);
  if (req->amount > SELECT_MAX_AMOUNT || req->groups > MAX_GROUPS || !req->groups || req->per_group > MAX_PER_GROUP || !req->per_group ||
      (req->per_group & (req->per_group - 1)))
    return 0;
  p.req    = req;
  p.groups = req->groups;
  p.npicks = 0;
  for (size_t g = 0; g < p.groups; ++g) {
    size_t c = req->buckets[g * req->per_group].size;
    for (size_t b = 1; b < req->per_group; ++b)
      c += req->buckets[g * req->per_group + b].size;
    if (c > UINT32_MAX / 2)
      return 0; /* counts are 32 bits */
    p.count[g] = (uint32_t)c;
    p.take[g]  = 0;
    n += c;
  }
  find_self(&p, peer_size);
  n -= p.self_group < p.groups;
  if (n > UINT32_MAX / 2)
    return 0;

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
        active[nactive] = (uint16_t)g, weight[nactive] = w, cnt[nactive++] = p.count[g], wsum += w, capacity += p.count[g];
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
          active[nactive] = (uint16_t)g, weight[nactive] = row->e[e].w, cnt[nactive++] = p.count[g], wsum += row->e[e].w, capacity += p.count[g];
        ++g, ++e;
      }
    }

  /* Outside the requester's provider: its slots are one contiguous run, so
   * its groups are one run [gin, gout) too, and "outside" is the groups
   * around it. */
  size_t gin = 0, gout = p.groups, outside = 0, n_in = 0;
  if (req->provider_first) {
    gin  = first_group_from(req->group_slot, p.groups, req->provider_first);
    gout = first_group_from(req->group_slot, p.groups, (uint16_t)(req->provider_last + 1));
    if (req->provider_last == UINT16_MAX)
      gout = p.groups;
    for (size_t g = gin; g < gout; ++g)
      n_in += p.count[g];
    outside = (size_t)((1 - req->intra_share) * (double)(amount - random) + 0.5);
  }
  if (outside > n - n_in)
    outside = n - n_in;
  /* For the tally, the provider's run without a group of no PID (slot 0,
   * first when there is one): with one provider that is every PID. */
  size_t own_g     = req->self_slot ? p4p_layout_find_group(req->group_slot, p.groups, req->self_slot) : p.groups;
  size_t prov_g    = req->provider_first ? gin : p.groups && req->group_slot[0] == 0;

  /* How many picks each group gives, part by part: the guided part by the
   * row (water-filling, rounded), the outside part and then the random
   * part in proportion to what each group has left.  Each part's count per
   * group has the expectation of drawing that part uniformly among the
   * peers not taken yet, and the parts' sums are exact. */
  p.rng            = rng_load(rand48);
  size_t guided    = allocate(nactive, active, weight, cnt, wsum, capacity, amount - random - outside, p.take, &p.rng);
  tally->same_pid  = own_g < p.groups ? p.take[own_g] : 0;
  tally->other_pid = guided - tally->same_pid;
  if (outside) {
    const size_t around[4] = {0, gin, gout, p.groups};
    outside                = spread(&p, outside, around, &p.rng);
  }
  tally->outside      = outside;
  /* random, and whatever the guided part could not fill */
  const size_t all[4] = {0, p.groups, 0, 0};
  tally->random       = spread(&p, amount - guided - outside, all, &p.rng);

  /* The picks' random numbers, drawn at once: one per pick and at most one
   * per group giving peers (its turn), so at most twice the picks. */
  uint32_t     draws[2 * SELECT_MAX_AMOUNT + 4];
  const size_t picks = guided + outside + tally->random;
  rng_fill(&p.rng, draws, 2 * picks);
  rng_store(p.rng, rand48);
  const uint32_t *draw = draws;
  struct cursor   c    = {reply, reply + picks * compare_size};
  if (req->per_group == 1) {
    for (size_t g = 0; g < p.groups; ++g)
      if (p.take[g])
        pick_group(&p, g, p.take[g], peer_size, 1, &draw, &c);
  } else
    for (size_t g = 0; g < p.groups; ++g)
      if (p.take[g])
        pick_group(&p, g, p.take[g], peer_size, 0, &draw, &c);
  p.npicks      = picks;
  /* Locality, from the counts: the requester's group, the rest of its
   * provider's run, and everything else. */
  tally->in_pid = own_g < p.groups ? p.take[own_g] : 0;
  if (req->provider_first)
    for (size_t g = prov_g; g < gout; ++g)
      tally->in_provider += g == own_g ? 0 : p.take[g];
  else /* one provider: everything but the peers in no PID */
    tally->in_provider = p.npicks - tally->in_pid - (prov_g ? p.take[0] : 0);
  tally->elsewhere = p.npicks - tally->in_pid - tally->in_provider;

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
