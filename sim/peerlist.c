/* peerlist: upstream's vector and selection rules (ot_vector.c,
 * trackerlogic.c), transcribed for lists kept outside the tracker. */
#include <stdlib.h>
#include <string.h>

#include "peerlist.h"

#define MIN_MEMBERS 2 /* OT_VECTOR_MIN_MEMBERS */
#define GROW_RATIO  2 /* OT_VECTOR_GROW_RATIO */

/* OT_PEERLIST_HASBUCKETS: space 0 with a size means "array of buckets" */
static int has_buckets(const struct p4p_vector *peers) { return peers->size > peers->space; }

/* vector_hash_peer() */
static size_t hash_bucket(const uint8_t *peer, size_t compare_size, size_t nbuckets) {
  unsigned int hash = 5381;
  while (compare_size--)
    hash += (hash << 5) + *(peer++);
  return hash % nbuckets;
}

static struct p4p_vector *bucket_of(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size) {
  if (!has_buckets(peers))
    return peers;
  size_t b = layout->map ? p4p_peer_bucket(peers, layout, peer, compare_size) : hash_bucket(peer, compare_size, peers->size);
  return (struct p4p_vector *)peers->data + b;
}

/* First index whose record is >= peer (by compare bytes). */
static size_t lower_bound(const struct p4p_vector *v, const uint8_t *peer, size_t peer_size, int *found) {
  size_t lo = 0, hi = v->size, cs = P4P_PEER_COMPARE_SIZE(peer_size);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (memcmp((const uint8_t *)v->data + mid * peer_size, peer, cs) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < v->size && !memcmp((const uint8_t *)v->data + lo * peer_size, peer, cs);
  return lo;
}

int peerlist_put(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t peer_size) {
  struct p4p_vector *v = bucket_of(peers, layout, peer, P4P_PEER_COMPARE_SIZE(peer_size));
  int                found;
  size_t             at = lower_bound(v, peer, peer_size, &found);
  uint8_t           *base;
  if (found) {
    memcpy((uint8_t *)v->data + at * peer_size, peer, peer_size);
    return 0;
  }
  if (v->size == v->space) {
    size_t space = v->space ? GROW_RATIO * v->space : MIN_MEMBERS;
    void  *data  = realloc(v->data, space * peer_size);
    if (!data)
      return -1;
    v->data  = data;
    v->space = space;
  }
  base = v->data;
  memmove(base + (at + 1) * peer_size, base + at * peer_size, (v->size - at) * peer_size);
  memcpy(base + at * peer_size, peer, peer_size);
  v->size++;
  return 1;
}

int peerlist_remove(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t peer_size) {
  if (!peers->size)
    return 0;
  struct p4p_vector *v = bucket_of(peers, layout, peer, P4P_PEER_COMPARE_SIZE(peer_size));
  int                found;
  size_t             at   = lower_bound(v, peer, peer_size, &found);
  uint8_t           *base = v->data;
  if (!found)
    return 0;
  memmove(base + at * peer_size, base + (at + 1) * peer_size, (v->size - at - 1) * peer_size);
  v->size--;
  return 1;
}

/* qsort has no context argument; the simulator is single-threaded, but
 * keep the compare size per thread as the tracker's layout code does. */
static _Thread_local size_t tl_compare_size;
static int                  peer_cmp(const void *a, const void *b) { return memcmp(a, b, tl_compare_size); }

static void free_buckets(struct p4p_vector *b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    free(b[i].data);
  free(b);
}

/* vector_redistribute_buckets() */
static void redistribute(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size) {
  size_t             compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  size_t             nold         = 1, nnew;
  struct p4p_vector *old          = peers;

  /* Lists arranged by PID are kept in shape by the P4P module */
  if (p4p_peerlist_refresh(peers, layout, peer_count, peer_size, NULL))
    return;
  if (has_buckets(peers)) {
    nold = peers->size;
    old  = peers->data;
  }
  if (peer_count < 255)
    nnew = 1;
  else if (peer_count > 8192)
    nnew = 64;
  else if (peer_count >= 512 && peer_count < 4096)
    nnew = 16;
  else if (peer_count < 512 && nold <= 16)
    nnew = nold;
  else if (peer_count < 512)
    nnew = 1;
  else if (peer_count < 8192 && nold > 1)
    nnew = nold;
  else
    nnew = 16;
  if (nnew == nold)
    return;

  struct p4p_vector *fresh = calloc(nnew, sizeof *fresh);
  size_t             space = MIN_MEMBERS;
  if (!fresh)
    return;
  while (space < peer_count / nnew)
    space *= GROW_RATIO;
  for (size_t b = 0; b < nnew; ++b) {
    if (!(fresh[b].data = malloc(space * peer_size)))
      return free_buckets(fresh, nnew);
    fresh[b].space = space;
  }
  for (size_t b = 0; b < nold; ++b)
    for (size_t k = 0; k < old[b].size; ++k) {
      const uint8_t     *peer = (const uint8_t *)old[b].data + k * peer_size;
      struct p4p_vector *dest = fresh + (nnew > 1 ? hash_bucket(peer, compare_size, nnew) : 0);
      if (dest->size == dest->space) {
        void *data = realloc(dest->data, GROW_RATIO * dest->space * peer_size);
        if (!data)
          return free_buckets(fresh, nnew);
        dest->data = data;
        dest->space *= GROW_RATIO;
      }
      memcpy((uint8_t *)dest->data + dest->size++ * peer_size, peer, peer_size);
    }
  tl_compare_size = compare_size;
  for (size_t b = 0; b < nnew; ++b)
    qsort(fresh[b].data, fresh[b].size, peer_size, peer_cmp);

  if (has_buckets(peers))
    free_buckets(old, nold);
  else
    free(peers->data);
  if (nnew > 1) {
    peers->data  = fresh;
    peers->size  = nnew;
    peers->space = 0;
  } else {
    *peers = fresh[0];
    free(fresh);
  }
}

void peerlist_clean(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size) {
  if (peer_count > 512 || has_buckets(peers)) /* OT_PEER_BUCKET_MINCOUNT */
    redistribute(peers, layout, peer_count, peer_size);
}

/* The bucket array a list is walked through, in upstream's order. */
static const struct p4p_vector *buckets(const struct p4p_vector *peers, size_t *n) {
  *n = has_buckets(peers) ? peers->size : 1;
  return has_buckets(peers) ? peers->data : peers;
}

/* Seeders fill the answer from the back, leechers from the front. */
static void emit(const uint8_t *peer, size_t peer_size, char **front, char **back) {
  size_t cs = P4P_PEER_COMPARE_SIZE(peer_size);
  if (P4P_PEER_FLAGS(peer, peer_size) & P4P_PEER_FLAG_SEEDING) {
    *back -= cs;
    memcpy(*back, peer, cs);
  } else {
    memcpy(*front, peer, cs);
    *front += cs;
  }
}

size_t peerlist_all(const struct p4p_vector *peers, size_t peer_count, size_t peer_size, char *reply) {
  size_t                   n, result = P4P_PEER_COMPARE_SIZE(peer_size) * peer_count;
  const struct p4p_vector *b    = buckets(peers, &n);
  char                    *back = reply + result;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < b[i].size; ++k)
      emit((const uint8_t *)b[i].data + k * peer_size, peer_size, &reply, &back);
  return result;
}

size_t peerlist_select_stock(const struct p4p_vector *peers, size_t peer_count, size_t peer_size, size_t amount, unsigned short rand48[3], char *reply) {
  size_t                   nbuckets, bucket_index = 0;
  const struct p4p_vector *bucket_list = buckets(peers, &nbuckets);
  unsigned int             shifted_pc = (unsigned int)peer_count, shifted_step, shift = 0, bucket_offset;
  size_t                   result = P4P_PEER_COMPARE_SIZE(peer_size) * amount;
  char                    *back   = reply + result;

  /* Make fixpoint arithmetic as exact as possible */
  while (!(shifted_pc & (1u << (8 * sizeof(int) - 3)))) {
    shifted_pc <<= 1;
    shift++;
  }
  shifted_step  = shifted_pc / (unsigned int)amount;

  /* Initialize somewhere in the middle of peers so that fixpoint's
   * aliasing doesn't always miss the same peers */
  bucket_offset = (unsigned int)(nrand48(rand48) % (long)peer_count);
  while (amount--) {
    /* the aliased, non shifted range the next value may fall into */
    unsigned int diff = (((unsigned int)(amount + 1) * shifted_step) >> shift) - (((unsigned int)amount * shifted_step) >> shift);
    bucket_offset += 1 + (unsigned int)(nrand48(rand48) % diff);
    while (bucket_offset >= bucket_list[bucket_index].size) {
      bucket_offset -= (unsigned int)bucket_list[bucket_index].size;
      bucket_index = (bucket_index + 1) % nbuckets;
    }
    emit((const uint8_t *)bucket_list[bucket_index].data + peer_size * bucket_offset, peer_size, &reply, &back);
  }
  return result;
}

void peerlist_free(struct p4p_vector *peers, struct p4p_layout *layout) {
  if (has_buckets(peers))
    free_buckets(peers->data, peers->size);
  else
    free(peers->data);
  memset(peers, 0, sizeof *peers);
  p4p_peerlist_release(layout);
}
