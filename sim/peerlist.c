/* peerlist: sorted-vector insert/remove in PID-layout buckets. */
#include <stdlib.h>
#include <string.h>

#include "p4p/layout.h"
#include "peerlist.h"
#include "p4p/pidmap.h"

int peerlist_init(struct p4p_vector *peers, struct p4p_layout *layout, struct pidmap *map, unsigned per_group) {
  /* an empty list, laid out for map: one group until peers arrive */
  memset(peers, 0, sizeof *peers);
  memset(layout, 0, sizeof *layout);
  return p4p_layout_rebuild(peers, layout, map, per_group ? per_group : 1, P4P_PEER_SIZE4, NULL);
}

static struct p4p_vector *bucket_of(struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size) {
  return (struct p4p_vector *)peers->data + p4p_peer_bucket(peers, layout, peer, compare_size);
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

int peerlist_put(struct p4p_vector *peers, struct p4p_layout *layout, const uint8_t *peer, size_t peer_size) {
  if (p4p_layout_prepare(peers, layout, peer, peer_size)) /* a group for its PID, as the tracker's refresh gives */
    return -1;
  struct p4p_vector *v = bucket_of(peers, layout, peer, P4P_PEER_COMPARE_SIZE(peer_size));
  int                found;
  size_t             at = lower_bound(v, peer, peer_size, &found);
  uint8_t           *base;
  if (found) {
    memcpy((uint8_t *)v->data + at * peer_size, peer, peer_size);
    return 0;
  }
  if (v->size == v->space) {
    size_t space = v->space ? 2 * v->space : 2;
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
  struct p4p_vector *v = bucket_of(peers, layout, peer, P4P_PEER_COMPARE_SIZE(peer_size));
  int                found;
  size_t             at = lower_bound(v, peer, peer_size, &found);
  uint8_t           *base = v->data;
  if (!found)
    return 0;
  memmove(base + at * peer_size, base + (at + 1) * peer_size, (v->size - at - 1) * peer_size);
  v->size--;
  return 1;
}

void peerlist_free(struct p4p_vector *peers, struct p4p_layout *layout) {
  for (size_t b = 0; b < peers->size; ++b)
    free(((struct p4p_vector *)peers->data)[b].data);
  free(peers->data);
  memset(peers, 0, sizeof *peers);
  p4p_peerlist_release(layout);
}
