/* heap: binary heaps for events and per-flow completions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

void evq_init(struct evq *q) { memset(q, 0, sizeof *q); }
void evq_free(struct evq *q) {
  free(q->v);
  memset(q, 0, sizeof *q);
}

static int ev_less(const struct sim_event *a, const struct sim_event *b) { return a->time < b->time || (a->time == b->time && a->seq < b->seq); }

int evq_push(struct evq *q, double time, int type, long arg) {
  if (q->n == q->cap) {
    size_t cap = q->cap ? 2 * q->cap : 256;
    void  *v   = realloc(q->v, cap * sizeof *q->v);
    if (!v)
      return -1;
    q->v   = v;
    q->cap = cap;
  }
  struct sim_event x = {time, q->next_seq++, type, arg};
  size_t           i = q->n++;
  while (i) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&x, &q->v[p]))
      break;
    q->v[i] = q->v[p];
    i       = p;
  }
  q->v[i] = x;
  return 0;
}

int evq_pop(struct evq *q, struct sim_event *ev) {
  if (!q->n)
    return 0;
  *ev                = q->v[0];
  struct sim_event x = q->v[--q->n];
  size_t           i = 0, n = q->n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && ev_less(&q->v[c + 1], &q->v[c]))
      ++c;
    if (!ev_less(&q->v[c], &x))
      break;
    q->v[i] = q->v[c];
    i       = c;
  }
  if (n)
    q->v[i] = x;
  return 1;
}

double evq_peek_time(const struct evq *q) { return q->n ? q->v[0].time : INFINITY; }

void idxheap_init(struct idxheap *h) { memset(h, 0, sizeof *h); }
void idxheap_free(struct idxheap *h) {
  free(h->heap);
  free(h->pos);
  free(h->key);
  memset(h, 0, sizeof *h);
}

/* ids with equal keys come out lowest id first: deterministic */
static int id_less(const struct idxheap *h, uint32_t a, uint32_t b) { return h->key[a] < h->key[b] || (h->key[a] == h->key[b] && a < b); }

static void place(struct idxheap *h, size_t i, uint32_t id) {
  h->heap[i] = id;
  h->pos[id] = (long)i;
}

static void sift_up(struct idxheap *h, size_t i) {
  uint32_t id = h->heap[i];
  while (i) {
    size_t p = (i - 1) / 2;
    if (!id_less(h, id, h->heap[p]))
      break;
    place(h, i, h->heap[p]);
    i = p;
  }
  place(h, i, id);
}

static void sift_down(struct idxheap *h, size_t i) {
  uint32_t id = h->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && id_less(h, h->heap[c + 1], h->heap[c]))
      ++c;
    if (!id_less(h, h->heap[c], id))
      break;
    place(h, i, h->heap[c]);
    i = c;
  }
  place(h, i, id);
}

int idxheap_set(struct idxheap *h, uint32_t id, double key) {
  if (id >= h->cap_ids) {
    size_t cap = h->cap_ids ? h->cap_ids : 256;
    while (cap <= id)
      cap *= 2;
    uint32_t *hp = realloc(h->heap, cap * sizeof *hp);
    if (!hp)
      return -1;
    h->heap   = hp;
    long *pos = realloc(h->pos, cap * sizeof *pos);
    if (!pos)
      return -1;
    h->pos    = pos;
    double *k = realloc(h->key, cap * sizeof *k);
    if (!k)
      return -1;
    h->key = k;
    for (size_t i = h->cap_ids; i < cap; ++i)
      h->pos[i] = -1;
    h->cap_ids = cap;
  }
  if (h->pos[id] < 0) {
    h->key[id]    = key;
    h->heap[h->n] = id;
    h->pos[id]    = (long)h->n++;
    sift_up(h, h->n - 1);
    return 0;
  }
  double old = h->key[id];
  h->key[id] = key;
  if (key < old)
    sift_up(h, (size_t)h->pos[id]);
  else
    sift_down(h, (size_t)h->pos[id]);
  return 0;
}

void idxheap_remove(struct idxheap *h, uint32_t id) {
  if (id >= h->cap_ids || h->pos[id] < 0)
    return;
  size_t i   = (size_t)h->pos[id];
  h->pos[id] = -1;
  if (i == --h->n)
    return;
  uint32_t moved = h->heap[h->n];
  place(h, i, moved);
  sift_up(h, i);
  sift_down(h, (size_t)h->pos[moved]);
}

long   idxheap_top(const struct idxheap *h) { return h->n ? (long)h->heap[0] : -1; }
double idxheap_top_key(const struct idxheap *h) { return h->n ? h->key[h->heap[0]] : INFINITY; }
