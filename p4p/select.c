/* select: P4P peer selection without scanning the swarm.
 *
 * Every peer of the list has a "global index": groups laid end to end, and
 * inside a group its buckets end to end, with the requester taken out.  A
 * selection is a set of distinct global indices, drawn in two steps:
 *
 *   guided   per PID j a count k_j (water-filling + systematic rounding),
 *            then k_j distinct indices inside j's range (Floyd's sampler);
 *   random   R distinct indices among the n - sum(k_j) not yet taken.
 *
 * Only the group sizes (a sum over per_group buckets each) and the picked
 * peers themselves are ever touched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "select.h"

#define MAX_GROUPS (PIDMAP_MAX_PIDS + 1)

/* The drand48 generator (x = a x + c mod 2^48, 31 high bits out), inlined:
 * the same sequence nrand48() gives upstream's selection from the same
 * per-thread state, at a fraction of the cost of the libc call. */
static inline uint32_t next31(unsigned short s[3]) {
  uint64_t x = (uint64_t)s[2] << 32 | (uint64_t)s[1] << 16 | s[0];
  x          = (x * 0x5DEECE66DULL + 0xB) & 0xffffffffffffULL;
  s[0]       = (unsigned short)x;
  s[1]       = (unsigned short)(x >> 16);
  s[2]       = (unsigned short)(x >> 32);
  return (uint32_t)(x >> 17);
}

static inline size_t uniform_below(size_t n, unsigned short rand48[3]) {
  /* The modulo bias is below n / 2^31 (5e-5 for a 100k-peer swarm), as in
   * upstream's selection.  Larger n take two draws. */
  if (n <= (1u << 31))
    return next31(rand48) % n;
  uint64_t r = (uint64_t)next31(rand48) << 31 | next31(rand48);
  return (size_t)(r % n);
}

static inline double uniform01(unsigned short rand48[3]) { return next31(rand48) / 2147483648.0; }

static int contains(const uint32_t *set, size_t n, uint32_t v) {
  for (size_t i = 0; i < n; ++i)
    if (set[i] == v)
      return 1;
  return 0;
}

/* Floyd's algorithm: k distinct values uniform over [0, n) into out[0..k). */
static void sample_distinct(size_t n, size_t k, uint32_t *out, unsigned short rand48[3]) {
  size_t got = 0;
  if (k == n) { /* all of them, as a saturated PID gives */
    for (; got < n; ++got)
      out[got] = (uint32_t)got;
    return;
  }
  for (size_t t = n - k; t < n; ++t) {
    uint32_t r = (uint32_t)uniform_below(t + 1, rand48);
    uint32_t v = contains(out, got, r) ? (uint32_t)t : r;
    out[got++] = v;
  }
}

static void sort_u32(uint32_t *v, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    uint32_t x = v[i];
    size_t   j = i;
    for (; j && v[j - 1] > x; --j)
      v[j] = v[j - 1];
    v[j] = x;
  }
}

/* Heap sort of PID slots by key, ascending: no allocation, O(P log P). */
static void sift_down(uint16_t *idx, const double *key, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n)
      return;
    if (child + 1 < n && key[idx[child + 1]] > key[idx[child]])
      ++child;
    if (key[idx[root]] >= key[idx[child]])
      return;
    uint16_t t = idx[root];
    idx[root]  = idx[child];
    idx[child] = t;
    root       = child;
  }
}
static void sort_by_key(uint16_t *idx, const double *key, size_t n) {
  if (n <= 32) { /* a typical row: insertion sort is cheaper */
    for (size_t i = 1; i < n; ++i) {
      uint16_t x = idx[i];
      size_t   j = i;
      for (; j && key[idx[j - 1]] > key[x]; --j)
        idx[j] = idx[j - 1];
      idx[j] = x;
    }
    return;
  }
  for (size_t i = n / 2; i-- > 0;)
    sift_down(idx, key, i, n);
  for (size_t end = n; end-- > 1;) {
    uint16_t t = idx[0];
    idx[0]     = idx[end];
    idx[end]   = t;
    sift_down(idx, key, 0, end);
  }
}

/* Splits `want` picks over the active PIDs: quota_j proportional to w_j,
 * except that a PID holding fewer peers than its share gives all it has and
 * its surplus goes to the others by weight (water-filling, visiting PIDs in
 * the order they saturate).  Then rounds to integers with one uniform offset
 * (systematic sampling): E[k_j] = quota_j exactly and sum k_j is exact.
 * Returns sum k_j (less than want only when the active PIDs run out). */
static size_t allocate(const uint16_t *active_in, size_t nactive, const float *row, const size_t *count, size_t want, size_t *k,
                       unsigned short rand48[3]) {
  uint16_t active[MAX_GROUPS];
  double   quota[MAX_GROUPS];
  double   left = (double)want, wleft = 0;
  size_t   capacity = 0, i;
  int      saturates = 0;

  for (i = 0; i < nactive; ++i) {
    wleft    += row[active_in[i] - 1];
    capacity += count[active_in[i]];
  }
  /* Usually every PID has more peers than its share: no sorting needed. */
  for (i = 0; i < nactive; ++i) {
    uint16_t j = active_in[i];
    quota[j]   = left * row[j - 1] / wleft;
    saturates |= (double)count[j] < quota[j];
  }
  if (saturates) {
    double ratio[MAX_GROUPS];
    for (i = 0; i < nactive; ++i) {
      active[i]           = active_in[i];
      ratio[active_in[i]] = (double)count[active_in[i]] / row[active_in[i] - 1];
    }
    sort_by_key(active, ratio, nactive);
    for (i = 0; i < nactive; ++i) {
      uint16_t j     = active[i];
      double   share = left * row[j - 1] / wleft;
      if ((double)count[j] > share)
        break;
      quota[j]  = (double)count[j];
      left     -= (double)count[j];
      wleft    -= row[j - 1];
    }
    for (size_t r = i; r < nactive; ++r)
      quota[active[r]] = left * row[active[r] - 1] / wleft;
    active_in = active;
  }

  size_t target = want < capacity ? want : capacity, total = 0;
  double u = uniform01(rand48), cum = 0;
  for (i = 0; i < nactive; ++i) {
    uint16_t j    = active_in[i];
    double   from = floor(cum + u);
    cum          += quota[j];
    double   n    = floor(cum + u) - from;
    k[j]          = n < 0 ? 0 : (size_t)n > count[j] ? count[j] : (size_t)n;
    total        += k[j];
  }
  /* Floating-point sums may miss the exact total by one; mend it. */
  for (i = 0; total < target && i < nactive; ++i)
    while (total < target && k[active_in[i]] < count[active_in[i]])
      ++k[active_in[i]], ++total;
  for (i = 0; total > target && i < nactive; ++i)
    while (total > target && k[active_in[i]])
      --k[active_in[i]], --total;
  return total;
}

/* Group of a global index: binary search over the group starts. */
static size_t group_of(const size_t *start, size_t groups, size_t global) {
  size_t lo = 0, hi = groups;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (start[mid] <= global)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* The record of the index-th peer of group g (requester skipped). */
static const uint8_t *peer_at(const struct select_request *req, size_t g, size_t index, size_t self_group, size_t self_index) {
  if (g == self_group && index >= self_index)
    ++index;
  const struct p4p_vector *b = req->buckets + g * req->per_group;
  while (index >= b->size)
    index -= (b++)->size;
  return (const uint8_t *)b->data + index * req->peer_size;
}

/* Locality of a pick from group g (a PID slot), for the tally: two
 * compares, nothing looked up. */
static inline void tally_where(struct select_tally *tally, size_t g, size_t self, size_t first, size_t last, size_t n) {
  if (g == self)
    tally->in_pid += n;
  else if (g >= first && g <= last)
    tally->in_provider += n;
  else
    tally->elsewhere += n;
}

size_t p4p_select_guided(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally) {
  size_t         compare_size = P4P_PEER_COMPARE_SIZE(req->peer_size);
  size_t         count[MAX_GROUPS], start[MAX_GROUPS + 1], k[MAX_GROUPS];
  uint16_t       active[MAX_GROUPS];
  uint32_t       taken[SELECT_MAX_AMOUNT], drawn[SELECT_MAX_AMOUNT];
  const uint8_t *at[SELECT_MAX_AMOUNT];
  size_t         self_group = req->groups, self_index = 0, n = 0, nactive = 0, npicks = 0;

  memset(tally, 0, sizeof *tally);
  if (req->amount > SELECT_MAX_AMOUNT || req->groups > MAX_GROUPS || req->groups < 2)
    return 0;

  for (size_t g = 0; g < req->groups; ++g) {
    count[g] = 0;
    for (size_t b = 0; b < req->per_group; ++b)
      count[g] += req->buckets[g * req->per_group + b].size;
  }

  /* Take the requester out of its group's index range. */
  if (req->self_key && req->self_slot && req->self_slot < req->groups) {
    size_t                   g   = req->self_slot;
    size_t                   sub = p4p_layout_sub_bucket(req->self_key, compare_size, (unsigned)req->per_group);
    const struct p4p_vector *b   = req->buckets + g * req->per_group + sub;
    size_t                   lo = 0, hi = b->size;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      int    c   = memcmp((const uint8_t *)b->data + mid * req->peer_size, req->self_key, compare_size);
      if (c == 0) {
        self_group = g;
        self_index = mid;
        for (size_t s = 0; s < sub; ++s)
          self_index += req->buckets[g * req->per_group + s].size;
        --count[g];
        break;
      }
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  }
  for (size_t g = 0; g < req->groups; ++g) {
    start[g]  = n;
    n        += count[g];
  }
  start[req->groups] = n;

  size_t amount = req->amount < n ? req->amount : n;
  size_t random = (size_t)floor(req->random_fraction * (double)amount + 0.5);
  if (random > amount)
    random = amount;

  /* Guided part: k_j distinct peers of each PID j. */
  for (size_t j = 1; j < req->groups; ++j)
    if (req->row[j - 1] > 0 && count[j])
      active[nactive++] = (uint16_t)j;
  /* Outside the requester's provider: its slots are one contiguous run of
   * groups, so "outside" is two index ranges around it. */
  size_t first = req->provider_first ? req->provider_first : 1;
  size_t last  = req->provider_first ? req->provider_last : req->groups - 1;
  size_t n_in  = start[last + 1] - start[first], n_out = n - n_in;
  size_t outside = req->provider_first ? (size_t)floor((1 - req->intra_share) * (double)(amount - random) + 0.5) : 0;
  if (outside > n_out)
    outside = n_out;
  size_t guided = allocate(active, nactive, req->row, count, amount - random - outside, k, rand48);
  random        = amount - guided - outside;
  for (size_t a = 0; a < nactive; ++a) {
    size_t j = active[a];
    if (!k[j])
      continue;
    sample_distinct(count[j], k[j], drawn, rand48);
    for (size_t p = 0; p < k[j]; ++p) {
      at[npicks]      = peer_at(req, j, drawn[p], self_group, self_index);
      taken[npicks++] = (uint32_t)(start[j] + drawn[p]);
      __builtin_prefetch(at[npicks - 1]);
    }
    if (j == req->self_slot)
      tally->same_pid += k[j];
    else
      tally->other_pid += k[j];
    tally_where(tally, j, req->self_slot, first, last, k[j]);
  }

  /* Outside part: uniform over the peers outside the provider. */
  sample_distinct(n_out, outside, drawn, rand48);
  for (size_t p = 0; p < outside; ++p) {
    size_t global   = drawn[p] < start[first] ? drawn[p] : drawn[p] + n_in;
    size_t g        = group_of(start, req->groups, global);
    at[npicks]      = peer_at(req, g, global - start[g], self_group, self_index);
    taken[npicks++] = (uint32_t)global;
    __builtin_prefetch(at[npicks - 1]);
    tally_where(tally, g, req->self_slot, first, last, 1);
  }
  tally->outside = outside;
  guided        += outside;

  /* Random part: uniform over the peers not taken yet.  Draw in the index
   * space with the taken ones removed, then step over them; both sorted, so
   * one merge pass does it. */
  sort_u32(taken, guided);
  sample_distinct(n - guided, random, drawn, rand48);
  sort_u32(drawn, random);
  for (size_t r = 0, t = 0; r < random; ++r) {
    size_t global = drawn[r];
    while (t < guided && taken[t] <= global + t)
      ++t;
    global += t;
    size_t g       = group_of(start, req->groups, global);
    at[npicks]     = peer_at(req, g, global - start[g], self_group, self_index);
    __builtin_prefetch(at[npicks++]);
    tally_where(tally, g, req->self_slot, first, last, 1);
  }
  tally->random = random;

  /* Copy out as upstream does: seeders fill from the back. */
  char *front = reply, *back = reply + npicks * compare_size;
  for (size_t p = 0; p < npicks; ++p) {
    const uint8_t *peer = at[p];
    char          *to   = front;
    if (P4P_PEER_FLAGS(peer, req->peer_size) & P4P_PEER_FLAG_SEEDING)
      to = back -= compare_size;
    else
      front += compare_size;
    if (compare_size == P4P_PEER_COMPARE_SIZE4) /* constant sizes let the compiler inline the copy */
      memcpy(to, peer, 6);
    else
      memcpy(to, peer, 18);
  }
  return npicks * compare_size;
}
