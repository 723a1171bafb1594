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

static size_t uniform_below(size_t n, unsigned short rand48[3]) {
  /* nrand48 gives 31 bits; two draws cover any realistic swarm without bias
   * worth measuring (n / 2^62). */
  uint64_t r = ((uint64_t)nrand48(rand48) << 31) | (uint64_t)nrand48(rand48);
  return (size_t)(r % n);
}

static int contains(const size_t *set, size_t n, size_t v) {
  for (size_t i = 0; i < n; ++i)
    if (set[i] == v)
      return 1;
  return 0;
}

/* Floyd's algorithm: k distinct values uniform over [0, n) into out[0..k). */
static void sample_distinct(size_t n, size_t k, size_t *out, unsigned short rand48[3]) {
  size_t got = 0;
  for (size_t t = n - k; t < n; ++t) {
    size_t r   = uniform_below(t + 1, rand48);
    size_t v   = contains(out, got, r) ? t : r;
    out[got++] = v;
  }
}

static void sort_sizes(size_t *v, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    size_t x = v[i], j = i;
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
  double   ratio[MAX_GROUPS], quota[MAX_GROUPS];
  double   left = (double)want, wleft = 0;
  size_t   capacity = 0, i;

  for (i = 0; i < nactive; ++i) {
    uint16_t j   = active_in[i];
    active[i]    = j;
    ratio[j]     = (double)count[j] / row[j - 1];
    wleft       += row[j - 1];
    capacity    += count[j];
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

  size_t target = want < capacity ? want : capacity, total = 0;
  double u = erand48(rand48), cum = 0;
  for (i = 0; i < nactive; ++i) {
    uint16_t j    = active[i];
    double   from = floor(cum + u);
    cum          += quota[j];
    double   n    = floor(cum + u) - from;
    k[j]          = n < 0 ? 0 : (size_t)n > count[j] ? count[j] : (size_t)n;
    total        += k[j];
  }
  /* Floating-point sums may miss the exact total by one; mend it. */
  for (i = 0; total < target && i < nactive; ++i)
    while (total < target && k[active[i]] < count[active[i]])
      ++k[active[i]], ++total;
  for (i = 0; total > target && i < nactive; ++i)
    while (total > target && k[active[i]])
      --k[active[i]], --total;
  return total;
}

/* Locates a global index: group by binary search over group starts, bucket
 * by walking the group's buckets, skipping the requester's own slot. */
static const uint8_t *peer_at(const struct select_request *req, const size_t *start, size_t self_group, size_t self_index,
                              size_t global) {
  size_t lo = 0, hi = req->groups;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (start[mid] <= global)
      lo = mid;
    else
      hi = mid;
  }
  size_t index = global - start[lo];
  if (lo == self_group && index >= self_index)
    ++index;
  const struct p4p_vector *b = req->buckets + lo * req->per_group;
  while (index >= b->size)
    index -= (b++)->size;
  return (const uint8_t *)b->data + index * req->peer_size;
}

size_t select_peers(const struct select_request *req, unsigned short rand48[3], char *reply, struct select_tally *tally) {
  size_t compare_size = req->peer_size - 2;
  size_t count[MAX_GROUPS], start[MAX_GROUPS + 1], k[MAX_GROUPS];
  uint16_t active[MAX_GROUPS];
  size_t picks[SELECT_MAX_AMOUNT], taken[SELECT_MAX_AMOUNT];
  size_t self_group = req->groups, self_index = 0, n = 0, nactive = 0, npicks = 0;

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
    size_t                   sub = layout_sub_bucket(req->self_key, compare_size, (unsigned)req->per_group);
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

  /* Guided part. */
  for (size_t j = 1; j < req->groups; ++j)
    if (req->row[j - 1] > 0 && count[j])
      active[nactive++] = (uint16_t)j;
  size_t guided = allocate(active, nactive, req->row, count, amount - random, k, rand48);
  random        = amount - guided;
  for (size_t a = 0; a < nactive; ++a) {
    size_t j = active[a];
    if (!k[j])
      continue;
    sample_distinct(count[j], k[j], picks + npicks, rand48);
    for (size_t p = 0; p < k[j]; ++p)
      picks[npicks + p] += start[j];
    npicks += k[j];
    if (j == req->self_slot)
      tally->same_pid += k[j];
    else
      tally->other_pid += k[j];
  }

  /* Random part: uniform over the peers not taken yet.  Draw in the index
   * space with the taken ones removed, then step over them. */
  memcpy(taken, picks, npicks * sizeof *taken);
  sort_sizes(taken, npicks);
  sample_distinct(n - npicks, random, picks + npicks, rand48);
  for (size_t p = npicks; p < npicks + random; ++p)
    for (size_t t = 0; t < guided && taken[t] <= picks[p]; ++t)
      ++picks[p];
  npicks        += random;
  tally->random  = random;

  /* Copy out as upstream does: seeders fill from the back. */
  char *front = reply, *back = reply + npicks * compare_size;
  for (size_t p = 0; p < npicks; ++p) {
    const uint8_t *peer = peer_at(req, start, self_group, self_index, picks[p]);
    if (peer[req->peer_size - 2] & 0x80) { /* PEER_FLAG_SEEDING */
      back -= compare_size;
      memcpy(back, peer, compare_size);
    } else {
      memcpy(front, peer, compare_size);
      front += compare_size;
    }
  }
  return npicks * compare_size;
}
