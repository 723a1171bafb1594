/* layout: PID-grouped peer lists, and the storage hooks of p4p.h. */
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "state.h"

/* Upstream keeps peers records as compare bytes (address, port), flag, time. */
#define MIN_MEMBERS                  2 /* upstream's OT_VECTOR_MIN_MEMBERS */

unsigned p4p_layout_per_group_for(size_t n, unsigned current) {
  /* Upstream splits at 512 peers into 16 or 64 hash buckets; a PID group is
   * already a split, so fewer buckets per group do.  Shrink only when the
   * list has fallen well below a threshold, so a list near one does not
   * rebuild on every clean. */
  unsigned want = n < 2048 ? 1 : n < 32768 ? 4 : 16;
  if (want < current && p4p_layout_per_group_for(2 * n, 0) >= current)
    return current;
  return want;
}

unsigned p4p_layout_sub_bucket(const uint8_t *peer, size_t compare_size, unsigned per_group) {
  if (per_group <= 1)
    return 0;
  unsigned hash = 5381; /* djb2, as upstream's vector_hash_peer */
  while (compare_size--)
    hash += (hash << 5) + *(peer++);
  return hash % per_group;
}

size_t p4p_peer_bucket(const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size) {
  uint16_t slot = p4p_pidmap_lookup_peer(layout->map, peer, compare_size);
  return (size_t)slot * layout->per_group + p4p_layout_sub_bucket(peer, compare_size, layout->per_group);
}

/* qsort has no context argument, and lists rebuild concurrently in several
 * threads (announces, the cleaner): keep the compare size thread-local. */
static _Thread_local size_t tl_compare_size;
static int                  peer_cmp_tl(const void *a, const void *b) { return memcmp(a, b, tl_compare_size); }

int p4p_layout_rebuild(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group, size_t peer_size) {
  size_t             compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  int                old_buckets  = peers->size > peers->space;
  size_t             nold         = old_buckets ? peers->size : 1;
  struct p4p_vector *old          = old_buckets ? peers->data : peers;
  size_t             total = 0, groups = map ? p4p_pidmap_npids(map) + 1 : 1;
  size_t             nnew = map ? groups * per_group : 1;
  struct p4p_vector *fresh;
  uint32_t          *dest = NULL;

  for (size_t b = 0; b < nold; ++b)
    total += old[b].size;

  if (!(fresh = calloc(nnew, sizeof *fresh)) || (total && !(dest = malloc(total * sizeof *dest))))
    goto fail;

  /* First pass: where each peer goes, and how many go to each bucket. */
  size_t i = 0;
  for (size_t b = 0; b < nold; ++b)
    for (size_t k = 0; k < old[b].size; ++k, ++i) {
      const uint8_t *peer = (const uint8_t *)old[b].data + k * peer_size;
      struct p4p_layout tmp = {map, (uint16_t)groups, (uint16_t)per_group};
      dest[i]               = map ? (uint32_t)p4p_peer_bucket(&tmp, peer, compare_size) : 0;
      fresh[dest[i]].size++;
    }
  for (size_t b = 0; b < nnew; ++b) {
    /* Power-of-two room, as upstream's redistribution gives: an exact fit
     * would be outgrown (reallocated, the old block left behind) by the
     * very next insert. */
    size_t space = MIN_MEMBERS;
    while (space < fresh[b].size)
      space *= 2;
    if (!map || fresh[b].size) {
      if (!(fresh[b].data = malloc(space * peer_size)))
        goto fail;
      fresh[b].space = space;
    }
    fresh[b].size = 0;
  }
  /* Second pass: copy, then sort each bucket for upstream's binary search. */
  i = 0;
  for (size_t b = 0; b < nold; ++b)
    for (size_t k = 0; k < old[b].size; ++k, ++i) {
      struct p4p_vector *v = &fresh[dest[i]];
      memcpy((uint8_t *)v->data + v->size++ * peer_size, (const uint8_t *)old[b].data + k * peer_size, peer_size);
    }
  tl_compare_size = compare_size;
  for (size_t b = 0; b < nnew; ++b)
    if (fresh[b].size > 1)
      qsort(fresh[b].data, fresh[b].size, peer_size, peer_cmp_tl);
  free(dest);

  /* Commit: free the old arrangement, install the new one. */
  for (size_t b = 0; b < (old_buckets ? nold : 0); ++b)
    free(old[b].data);
  free(old_buckets ? (void *)old : peers->data);
  if (map) {
    peers->data  = fresh;
    peers->size  = nnew;
    peers->space = 0; /* upstream's marker for "array of buckets" */
  } else {
    *peers = fresh[0];
    free(fresh);
  }
  p4p_pidmap_ref(map);
  p4p_pidmap_unref(layout->map);
  layout->map       = map;
  layout->groups    = (uint16_t)(map ? groups : 0);
  layout->per_group = (uint16_t)(map ? per_group : 0);
  return 0;

fail:
  if (fresh)
    for (size_t b = 0; b < nnew; ++b)
      free(fresh[b].data);
  free(fresh);
  free(dest);
  return -1;
}

int p4p_peerlist_refresh(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size) {
  const struct p4p_state *s    = p4p_state_current();
  struct pidmap          *want = s ? s->map : NULL;

  if (!want) {
    /* P4P switched off: hand the list back to upstream's rules. */
    if (layout->map)
      p4p_layout_rebuild(peers, layout, NULL, 0, peer_size);
    return layout->map != NULL;
  }
  unsigned per_group = p4p_layout_per_group_for(peer_count, layout->map == want ? layout->per_group : 0);
  if (layout->map != want || layout->per_group != per_group)
    p4p_layout_rebuild(peers, layout, want, per_group, peer_size);
  return layout->map != NULL;
}

void p4p_peerlist_release(struct p4p_layout *layout) {
  p4p_pidmap_unref(layout->map);
  layout->map = NULL;
}
