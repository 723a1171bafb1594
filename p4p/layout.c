/* layout: PID-grouped peer lists, and the storage hooks of p4p.h. */
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pidmap.h"
#include "state.h"

#define MIN_MEMBERS 2 /* upstream's OT_VECTOR_MIN_MEMBERS */
#define MAX_SLOTS   (PIDMAP_MAX_PIDS + 1)

/* Upstream splits a list at 512 peers into 16, then 64 hash buckets (up to
 * ~1,500 peers each); a PID group is already a split, so a group gets more
 * buckets only when it holds about as many peers as upstream's. */
#define SPLIT_4     1024 /* peers per group from which a group has 4 buckets */
#define SPLIT_16    8192 /* and 16 */

unsigned p4p_layout_per_group_for(size_t per_group_peers, unsigned current) {
  /* Shrink only when well below a threshold, so that a list near one does
   * not rebuild on every clean. */
  unsigned want = per_group_peers < SPLIT_4 ? 1 : per_group_peers < SPLIT_16 ? 4 : 16;
  if (want < current && p4p_layout_per_group_for(2 * per_group_peers, 0) >= current)
    return current;
  return want;
}

/* p4p_layout_per_group_for(n / groups, per_group) == per_group, without the
 * division: the announce path asks this every time. */
static int split_fits(size_t n, size_t groups, unsigned per_group) {
  switch (per_group) {
  case 1:
    return n < SPLIT_4 * groups;
  case 4:
    return n >= SPLIT_4 / 2 * groups && n < SPLIT_16 * groups;
  case 16:
    return n >= SPLIT_16 / 2 * groups;
  }
  return 0;
}

unsigned p4p_layout_sub_bucket(const uint8_t *peer, size_t compare_size, unsigned per_group) {
  if (per_group <= 1)
    return 0;
  unsigned hash = 5381; /* djb2, as upstream's vector_hash_peer */
  while (compare_size--)
    hash += (hash << 5) + *(peer++);
  return hash % per_group;
}

/* The group this thread found last: an announce asks for the requester's
 * group three times (room for it, its bucket, its selection).  Checked
 * against the table before use, so it can never be stale: slots are
 * distinct within a list. */
static _Thread_local size_t tl_group;

size_t p4p_layout_find_group(const uint16_t *slots, size_t groups, uint16_t slot) {
  if (tl_group < groups && slots[tl_group] == slot)
    return tl_group;
  /* the group of slot, if any: the last with slots[g] <= slot, found
   * without a branch per step (announces come from PIDs in no order) */
  const uint16_t *b = slots;
  size_t          n = groups;
  if (!n)
    return groups;
  while (n > 1) {
    size_t half = n / 2;
    b           = b[half] <= slot ? b + half : b;
    n -= half;
  }
  if (*b == slot)
    return tl_group = (size_t)(b - slots);
  return groups;
}

size_t p4p_layout_group_of(const struct p4p_vector *peers, const struct p4p_layout *layout, uint16_t slot) {
  return p4p_layout_find_group(p4p_layout_slots(peers), layout->groups, slot);
}

size_t p4p_peer_bucket(const struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size) {
  uint16_t slot = p4p_pidmap_lookup_peer(layout->map, peer, compare_size);
  size_t   g    = p4p_layout_group_of(peers, layout, slot);
  /* No group: the peer is not in the list (p4p_layout_prepare() runs before
   * every insert), and a search in any other group finds nothing. */
  if (g == layout->groups)
    g = 0;
  return g * layout->per_group + p4p_layout_sub_bucket(peer, compare_size, layout->per_group);
}

/* A block for `groups` groups: the buckets, zeroed, then the group table. */
static struct p4p_vector *new_block(size_t groups, size_t per_group) {
  return calloc(1, groups * per_group * sizeof(struct p4p_vector) + groups * sizeof(uint16_t));
}

static int group_is_empty(const struct p4p_vector *b, size_t per_group) {
  for (size_t k = 0; k < per_group; ++k)
    if (b[k].size)
      return 0;
  return 1;
}

/* qsort has no context argument, and lists rebuild concurrently in several
 * threads (announces, the cleaner): keep the compare size thread-local. */
static _Thread_local size_t tl_compare_size;
static int                  peer_cmp_tl(const void *a, const void *b) { return memcmp(a, b, tl_compare_size); }

int p4p_layout_rebuild(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group, size_t peer_size, const uint8_t *incoming) {
  size_t             compare_size = P4P_PEER_COMPARE_SIZE(peer_size);
  int                old_buckets  = peers->size > peers->space;
  size_t             nold         = old_buckets ? peers->size : 1;
  struct p4p_vector *old          = old_buckets ? peers->data : peers;
  size_t             total = 0, groups = 1, nnew;
  struct p4p_vector *fresh = NULL;
  uint32_t          *dest  = NULL;
  uint16_t           group_of_slot[MAX_SLOTS];

  if (!map)
    per_group = 1;
  for (size_t b = 0; b < nold; ++b)
    total += old[b].size;
  if (total && !(dest = malloc(total * sizeof *dest)))
    return -1;

  /* First pass: each peer's PID slot; then which slots get a group. */
  if (map) {
    uint32_t count[MAX_SLOTS] = {0};
    size_t   i = 0, npids = p4p_pidmap_npids(map);
    for (size_t b = 0; b < nold; ++b)
      for (size_t k = 0; k < old[b].size; ++k, ++i) {
        dest[i] = p4p_pidmap_lookup_peer(map, (const uint8_t *)old[b].data + k * peer_size, compare_size);
        count[dest[i]]++;
      }
    if (incoming)
      count[p4p_pidmap_lookup_peer(map, incoming, compare_size)]++;
    groups = 0;
    for (size_t s = 0; s <= npids; ++s)
      if (count[s])
        group_of_slot[s] = (uint16_t)groups++;
    if (!groups) /* empty: one group, so that the list stays a bucket array */
      group_of_slot[0] = 0, count[0] = 1, groups = 1;
    if (!per_group)
      per_group = p4p_layout_per_group_for(total / groups, 0);
    if (!(fresh = new_block(groups, per_group)))
      goto fail;
    uint16_t *slots = (uint16_t *)(fresh + groups * per_group);
    for (size_t s = 0; s <= npids; ++s)
      if (count[s])
        slots[group_of_slot[s]] = (uint16_t)s;
    i = 0;
    for (size_t b = 0; b < nold; ++b)
      for (size_t k = 0; k < old[b].size; ++k, ++i) {
        const uint8_t *peer = (const uint8_t *)old[b].data + k * peer_size;
        dest[i]             = group_of_slot[dest[i]] * per_group + p4p_layout_sub_bucket(peer, compare_size, per_group);
        fresh[dest[i]].size++;
      }
  } else {
    if (!(fresh = calloc(1, sizeof *fresh)))
      goto fail;
    for (size_t i = 0; i < total; ++i)
      dest[i] = 0;
    fresh->size = total;
  }
  nnew = map ? groups * per_group : 1;
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
  size_t i = 0;
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
    for (size_t b = 0; b < (map ? groups * per_group : 1); ++b)
      free(fresh[b].data);
  free(fresh);
  free(dest);
  return -1;
}

int p4p_layout_prepare(struct p4p_vector *peers, struct p4p_layout *layout, const uint8_t *peer, size_t peer_size) {
  uint16_t slot = p4p_pidmap_lookup_peer(layout->map, peer, P4P_PEER_COMPARE_SIZE(peer_size));
  if (p4p_layout_group_of(peers, layout, slot) < layout->groups)
    return 0;

  /* A new group for slot; groups left empty by departures go. */
  const size_t             pg    = layout->per_group;
  const struct p4p_vector *old   = peers->data;
  const uint16_t          *slots = p4p_layout_slots(peers);
  size_t                   keep  = 0;
  for (size_t g = 0; g < layout->groups; ++g)
    keep += !group_is_empty(old + g * pg, pg);
  struct p4p_vector *fresh = new_block(keep + 1, pg);
  if (!fresh)
    return -1;
  uint16_t *fresh_slots = (uint16_t *)(fresh + (keep + 1) * pg);
  size_t    n           = 0;
  int       placed      = 0;
  for (size_t g = 0; g <= layout->groups; ++g) {
    if (!placed && (g == layout->groups || slots[g] > slot)) { /* the new one, in slot order */
      fresh_slots[n++] = slot;
      placed           = 1;
    }
    if (g == layout->groups)
      break;
    if (group_is_empty(old + g * pg, pg)) {
      for (size_t k = 0; k < pg; ++k)
        free(old[g * pg + k].data);
      continue;
    }
    memcpy(fresh + n * pg, old + g * pg, pg * sizeof *fresh);
    fresh_slots[n++] = slots[g];
  }
  free(peers->data);
  peers->data    = fresh;
  peers->size    = (keep + 1) * pg;
  layout->groups = (uint16_t)(keep + 1);
  return 0;
}

int p4p_peerlist_refresh(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size, const uint8_t *incoming) {
  const struct p4p_state *s    = p4p_state_current();
  struct pidmap          *want = s ? s->map : NULL;

  if (!want) {
    /* P4P switched off: hand the list back to upstream's rules. */
    if (layout->map)
      p4p_layout_rebuild(peers, layout, NULL, 0, peer_size, NULL);
    return layout->map != NULL;
  }
  /* Another map (the split follows from the groups found), another split,
   * or mostly empty groups: arrange anew. */
  if (layout->map != want || !split_fits(peer_count, layout->groups, layout->per_group) || layout->groups > 2 * peer_count + 4) {
    unsigned per_group = layout->map == want ? p4p_layout_per_group_for(peer_count / layout->groups, layout->per_group) : 0;
    if (p4p_layout_rebuild(peers, layout, want, per_group, peer_size, incoming) && incoming && layout->map)
      return p4p_layout_prepare(peers, layout, incoming, peer_size) ? -1 : 1; /* keep the old one, but room for the peer */
    return layout->map != NULL;
  }
  if (incoming && p4p_layout_prepare(peers, layout, incoming, peer_size))
    return -1;
  return 1;
}

void p4p_peerlist_release(struct p4p_layout *layout) {
  p4p_pidmap_unref(layout->map);
  layout->map = NULL;
}
