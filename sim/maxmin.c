/* maxmin: progressive filling with a lazy binary heap. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxmin.h"

void maxmin_ws_init(struct maxmin_ws *ws) { memset(ws, 0, sizeof *ws); }

void maxmin_ws_free(struct maxmin_ws *ws) {
  free(ws->rem);
  free(ws->nfree);
  free(ws->ver);
  free(ws->roff);
  free(ws->rflows);
  free(ws->fixed);
  free(ws->heap);
  memset(ws, 0, sizeof *ws);
}

static int grow(void **p, size_t *cap, size_t want, size_t elem) {
  if (want <= *cap)
    return 0;
  size_t n = *cap ? *cap : 64;
  while (n < want)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q)
    return -1;
  *p   = q;
  *cap = n;
  return 0;
}

/* Items are ordered by key, then by index, so equal shares are taken in a
 * fixed order and a solve is deterministic. */
static int item_less(const struct maxmin_item *a, const struct maxmin_item *b) { return a->key < b->key || (a->key == b->key && a->item < b->item); }

static void heap_push(struct maxmin_ws *ws, double key, uint32_t item) {
  size_t             i = ws->nheap++;
  struct maxmin_item x = {key, item, ++ws->ver[item]};
  while (i) {
    size_t p = (i - 1) / 2;
    if (!item_less(&x, &ws->heap[p]))
      break;
    ws->heap[i] = ws->heap[p];
    i           = p;
  }
  ws->heap[i] = x;
}

static struct maxmin_item heap_pop(struct maxmin_ws *ws) {
  struct maxmin_item top = ws->heap[0], x = ws->heap[--ws->nheap];
  size_t             i = 0, n = ws->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && item_less(&ws->heap[c + 1], &ws->heap[c]))
      ++c;
    if (!item_less(&ws->heap[c], &x))
      break;
    ws->heap[i] = ws->heap[c];
    i           = c;
  }
  if (n)
    ws->heap[i] = x;
  return top;
}

static double share_of(const struct maxmin_ws *ws, size_t r) {
  double s = ws->rem[r] / ws->nfree[r];
  return s > 0 ? s : 0;
}

static void fix_flow(struct maxmin_ws *ws, uint32_t f, double level, const uint32_t *off, const uint32_t *res, double *rate) {
  ws->fixed[f] = 1;
  rate[f]      = level;
  for (uint32_t k = off[f]; k < off[f + 1]; ++k) {
    uint32_t r = res[k];
    ws->rem[r] -= level;
    --ws->nfree[r]; /* its share can only grow: re-keyed lazily when popped */
  }
}

int maxmin_solve(struct maxmin_ws *ws, size_t nres, const double *cap, size_t nflows, const uint32_t *off, const uint32_t *res, const double *fcap,
                 double *rate, char *err, size_t errlen) {
  size_t ninc = off[nflows], nitems = nres + nflows;
  size_t cr = ws->cap_res, cr2 = ws->cap_res, cf = ws->cap_flows, cf2 = ws->cap_flows;
  /* every incidence can push once, plus one initial entry per item */
  if (grow((void **)&ws->rem, &cr, nres + 2, sizeof *ws->rem) || grow((void **)&ws->nfree, &cr2, nres + 2, sizeof *ws->nfree) ||
      grow((void **)&ws->roff, &ws->cap_res, nres + 2, sizeof *ws->roff) || grow((void **)&ws->ver, &cf, nitems + 1, sizeof *ws->ver) ||
      grow((void **)&ws->fixed, &cf2, nitems + 1, 1) || grow((void **)&ws->rflows, &ws->cap_inc, ninc + 1, sizeof *ws->rflows) ||
      grow((void **)&ws->heap, &ws->cap_heap, nitems + ninc + 1, sizeof *ws->heap)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  ws->cap_flows = cf;
  for (size_t k = 0; k < ninc; ++k)
    if (res[k] >= nres) {
      snprintf(err, errlen, "flow uses resource %u of %zu", res[k], nres);
      return -1;
    }
  memset(ws->nfree, 0, nres * sizeof *ws->nfree);
  memset(ws->ver, 0, nitems * sizeof *ws->ver);
  memset(ws->fixed, 0, nflows);
  for (size_t k = 0; k < ninc; ++k)
    ws->nfree[res[k]]++;
  ws->roff[0] = 0;
  for (size_t r = 0; r < nres; ++r)
    ws->roff[r + 1] = ws->roff[r] + ws->nfree[r];
  {
    /* fill the CSR with a moving cursor per resource (roff shifted by one) */
    for (size_t r = nres; r > 0; --r)
      ws->roff[r] = ws->roff[r - 1];
    for (size_t f = 0; f < nflows; ++f)
      for (uint32_t k = off[f]; k < off[f + 1]; ++k)
        ws->rflows[ws->roff[res[k] + 1]++] = (uint32_t)f;
    ws->roff[0] = 0;
  }
  ws->nheap = 0;
  for (size_t r = 0; r < nres; ++r) {
    ws->rem[r] = cap[r] > 0 ? cap[r] : 0;
    if (ws->nfree[r])
      heap_push(ws, share_of(ws, r), (uint32_t)r);
  }
  for (size_t f = 0; f < nflows; ++f) {
    rate[f]      = INFINITY;
    /* a cap at or above the flow's smallest resource capacity can never
     * bind; leaving it out keeps the heap small */
    double least = INFINITY;
    for (uint32_t k = off[f]; k < off[f + 1]; ++k)
      if (cap[res[k]] < least)
        least = cap[res[k]];
    if (fcap && isfinite(fcap[f]) && fcap[f] < least)
      heap_push(ws, fcap[f] > 0 ? fcap[f] : 0, (uint32_t)(nres + f));
  }
  while (ws->nheap) {
    struct maxmin_item it = heap_pop(ws);
    if (it.ver != ws->ver[it.item])
      continue; /* superseded by a later push */
    if (it.item >= nres) {
      uint32_t f = it.item - (uint32_t)nres;
      if (!ws->fixed[f])
        fix_flow(ws, f, it.key, off, res, rate);
      continue;
    }
    if (!ws->nfree[it.item])
      continue;
    /* Fixing flows at the current level never lowers another resource's
     * share (rem - L >= (n - 1) L when rem / n >= L), so a heap key is a
     * lower bound: re-insert if the share grew since it was pushed. */
    double level = share_of(ws, it.item);
    if (level > it.key) {
      heap_push(ws, level, it.item);
      continue;
    }
    for (uint32_t k = ws->roff[it.item]; k < ws->roff[it.item + 1]; ++k) {
      uint32_t f = ws->rflows[k];
      if (!ws->fixed[f])
        fix_flow(ws, f, level, off, res, rate);
    }
  }
  return 0;
}
