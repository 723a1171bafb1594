/* guidance: sparse weight matrices resolved to PID slots. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guidance.h"
#include "pidmap.h"
#include "proto/text.h"

/* One row: the weights from PID slot `from`, ascending by slot, all > 0. */
struct matrix_row {
  uint16_t              from;
  struct select_row     row;
  struct select_weight *own; /* row.e, writable while building */
};

/* Rows sorted by `from` once finished. */
struct matrix {
  size_t             nrows, cap;
  struct matrix_row *rows;
};

struct swarm_matrix {
  uint8_t       hash[P4P_HASH_SIZE];
  struct matrix m;
};

struct guidance {
  const struct pidmap *map; /* for names while building */
  size_t               npids;
  int                  has_default;
  struct matrix        default_m;
  /* default_m's row of each slot (npids + 1 entries, NULL: none): every
   * announce in a swarm without its own matrix asks for one, so O(1) */
  const struct select_row **default_of;
  size_t                    nswarms, cap;
  struct swarm_matrix      *swarms; /* sorted by hash once finished */
  size_t                    cells;  /* weights stored, all matrices */
};

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, P4P_HASH_SIZE); }
static int row_cmp(const void *a, const void *b) { return (int)((const struct matrix_row *)a)->from - (int)((const struct matrix_row *)b)->from; }
static int weight_cmp(const void *a, const void *b) { return (int)((const struct select_weight *)a)->slot - (int)((const struct select_weight *)b)->slot; }

static uint16_t slot_of(const struct pidmap *map, const char *ns, const char *name) {
  char full[2 * P4P_NAME_MAX];
  if (!*ns)
    return p4p_pidmap_slot_by_name(map, name);
  snprintf(full, sizeof full, "%s/%s", ns, name);
  return p4p_pidmap_slot_by_name(map, full);
}

static void matrix_free(struct matrix *mx) {
  for (size_t r = 0; r < mx->nrows; ++r)
    free(mx->rows[r].own);
  free(mx->rows);
  memset(mx, 0, sizeof *mx);
}

/* Sorted weights e[0..n) with equal slots summed; returns the new n. */
static size_t sort_and_merge(struct select_weight *e, size_t n) {
  size_t out = 0;
  if (n > 1)
    qsort(e, n, sizeof *e, weight_cmp);
  for (size_t i = 0; i < n; ++i) {
    if (out && e[out - 1].slot == e[i].slot)
      e[out - 1].w += e[i].w;
    else
      e[out++] = e[i];
  }
  return out;
}

/* Adds weights e[0..n) (sorted, distinct slots) to the row from `from`:
 * a new row, or merged into the one already there (another provider's
 * block of the same matrix, or a PID named twice). */
static int add_row(struct guidance *g, struct matrix *mx, long *row_at, uint16_t from, const struct select_weight *e, size_t n) {
  if (row_at[from] >= 0) {
    struct matrix_row    *r   = &mx->rows[row_at[from]];
    struct select_weight *sum = malloc((r->row.n + n) * sizeof *sum);
    if (!sum)
      return -1;
    memcpy(sum, r->own, r->row.n * sizeof *sum);
    memcpy(sum + r->row.n, e, n * sizeof *sum);
    size_t total = sort_and_merge(sum, r->row.n + n);
    g->cells += total - r->row.n;
    free(r->own);
    r->own = sum;
    r->row = (struct select_row){total, sum};
    return 0;
  }
  if (mx->nrows == mx->cap) {
    size_t             cap  = mx->cap ? 2 * mx->cap : 1;
    struct matrix_row *rows = realloc(mx->rows, cap * sizeof *rows);
    if (!rows)
      return -1;
    mx->rows = rows;
    mx->cap  = cap;
  }
  struct select_weight *own = malloc(n * sizeof *own);
  if (!own)
    return -1;
  memcpy(own, e, n * sizeof *own);
  row_at[from]          = (long)mx->nrows;
  mx->rows[mx->nrows++] = (struct matrix_row){from, {n, own}, own};
  g->cells += n;
  return 0;
}

/* Adds a named matrix into mx, its weights > 0 only.  Rows are normalized
 * by p4p_guidance_finish, once every provider has added its block. */
static int add_matrix(struct guidance *g, struct matrix *mx, const struct p4p_matrix *m, const char *ns, const char *what, char *err, size_t errlen) {
  uint16_t             *slot   = malloc((m->n ? m->n : 1) * sizeof *slot);
  struct select_weight *e      = malloc((m->n ? m->n : 1) * sizeof *e);
  long                 *row_at = malloc((g->npids + 1) * sizeof *row_at);
  int                   rc     = -1;

  if (!slot || !e || !row_at) {
    snprintf(err, errlen, "%s: out of memory", what);
    goto done;
  }
  for (size_t i = 0; i < m->n; ++i)
    if (!(slot[i] = slot_of(g->map, ns, m->pids[i]))) {
      snprintf(err, errlen, "%s: PID '%s' is not in the PID map", what, m->pids[i]);
      goto done;
    }
  for (size_t i = 0; i < m->n; ++i)
    for (size_t j = 0; j < m->n; ++j) {
      double v = m->v[i * m->n + j];
      /* rows are kept as floats: a weight beyond FLT_MAX would become inf
       * there and silently void its row (inf / inf) */
      if (!isfinite(v) || v < 0 || v > FLT_MAX) {
        snprintf(err, errlen, "%s: weight from '%s' to '%s' is %g; weights are finite, >= 0 and at most %g", what, m->pids[i], m->pids[j], v, (double)FLT_MAX);
        goto done;
      }
    }
  for (size_t s = 0; s <= g->npids; ++s)
    row_at[s] = -1;
  for (size_t r = 0; r < mx->nrows; ++r)
    row_at[mx->rows[r].from] = (long)r;
  for (size_t i = 0; i < m->n; ++i) {
    size_t n = 0;
    for (size_t j = 0; j < m->n; ++j) {
      float w = (float)m->v[i * m->n + j]; /* below a float's least (1.4e-45): zero */
      if (w > 0)
        e[n++] = (struct select_weight){slot[j], w};
    }
    if (!(n = sort_and_merge(e, n)))
      continue; /* a row of zeros: no guidance from this PID */
    if (add_row(g, mx, row_at, slot[i], e, n)) {
      snprintf(err, errlen, "%s: out of memory", what);
      goto done;
    }
  }
  rc = 0;
done:
  free(slot);
  free(e);
  free(row_at);
  return rc;
}

struct guidance *p4p_guidance_new(const struct pidmap *map) {
  struct guidance *g = calloc(1, sizeof *g);
  if (g) {
    g->npids = p4p_pidmap_npids(map);
    g->map   = map;
  }
  return g;
}

static struct swarm_matrix *swarm_slot(struct guidance *g, const uint8_t *hash) {
  for (size_t k = 0; k < g->nswarms; ++k) /* building only: linear is fine */
    if (!memcmp(g->swarms[k].hash, hash, P4P_HASH_SIZE))
      return &g->swarms[k];
  if (g->nswarms == g->cap) {
    size_t               cap = g->cap ? 2 * g->cap : 16;
    struct swarm_matrix *sw  = realloc(g->swarms, cap * sizeof *sw);
    if (!sw)
      return NULL;
    g->swarms = sw;
    g->cap    = cap;
  }
  struct swarm_matrix *m = &g->swarms[g->nswarms++];
  memset(m, 0, sizeof *m);
  memcpy(m->hash, hash, P4P_HASH_SIZE);
  return m;
}

int p4p_guidance_add(struct guidance *g, const struct p4p_guidance_msg *msg, const char *ns, char *err, size_t errlen) {
  char what[128];
  if (msg->has_default) {
    g->has_default = 1;
    if (add_matrix(g, &g->default_m, &msg->default_weights, ns, "default matrix", err, errlen))
      return -1;
  }
  for (size_t k = 0; k < msg->nswarms; ++k) {
    char hex[2 * P4P_HASH_SIZE + 1];
    proto_hash_format_hex(msg->swarms[k].info_hash, hex);
    snprintf(what, sizeof what, "swarm %s", hex);
    for (size_t e = 0; e < k; ++e)
      if (!memcmp(msg->swarms[e].info_hash, msg->swarms[k].info_hash, P4P_HASH_SIZE)) {
        snprintf(err, errlen, "swarm %s has two matrices", hex);
        return -1;
      }
    struct swarm_matrix *m = swarm_slot(g, msg->swarms[k].info_hash);
    if (!m) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (add_matrix(g, &m->m, &msg->swarms[k].weights, ns, what, err, errlen))
      return -1;
  }
  return 0;
}

int p4p_guidance_add_costs(struct guidance *g, const struct p4p_costs_msg *costs, const char *ns, char *err, size_t errlen) {
  const struct p4p_matrix *c      = &costs->costs;
  struct p4p_matrix        w      = {0};
  double                   sum    = 0;
  size_t                   finite = 0;
  int                      rc;

  for (size_t i = 0; i < c->n; ++i)
    for (size_t j = 0; j < c->n; ++j)
      if (i != j && isfinite(c->v[i * c->n + j]) && c->v[i * c->n + j] >= 0)
        sum += c->v[i * c->n + j], ++finite;
  double t = finite && sum > 0 ? sum / finite : 1;
  if (proto_matrix_alloc(&w, c->n)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < c->n; ++i) {
    memcpy(w.pids[i], c->pids[i], P4P_NAME_MAX);
    for (size_t j = 0; j < c->n; ++j) {
      double v          = c->v[i * c->n + j];
      /* v1: 0 is zero cost (PROTOCOL.md), e.g. two PIDs of one PoP; a
       * legacy portal's "0 = undefined" was made the costliest (100) by
       * its parser already */
      int undefined     = !isfinite(v) || v < 0;
      w.v[i * c->n + j] = undefined ? 0 : exp(-v / t);
    }
  }
  struct p4p_guidance_msg msg = {.has_default = 1, .default_weights = w};
  rc                          = p4p_guidance_add(g, &msg, ns, err, errlen);
  proto_matrix_free(&w);
  return rc;
}

static void matrix_finish(struct matrix *mx) {
  if (mx->nrows > 1)
    qsort(mx->rows, mx->nrows, sizeof *mx->rows, row_cmp);
  for (size_t r = 0; r < mx->nrows; ++r) {
    struct matrix_row *row = &mx->rows[r];
    double             sum = 0;
    for (size_t j = 0; j < row->row.n; ++j)
      sum += row->own[j].w;
    for (size_t j = 0; j < row->row.n; ++j)
      row->own[j].w = (float)(row->own[j].w / sum);
  }
}

void p4p_guidance_finish(struct guidance *g) {
  matrix_finish(&g->default_m);
  /* without memory for the index, rows are found by binary search */
  if (g->default_m.nrows && (g->default_of = calloc(g->npids + 1, sizeof *g->default_of)))
    for (size_t r = 0; r < g->default_m.nrows; ++r)
      g->default_of[g->default_m.rows[r].from] = &g->default_m.rows[r].row;
  for (size_t k = 0; k < g->nswarms; ++k)
    matrix_finish(&g->swarms[k].m);
  if (g->nswarms > 1)
    qsort(g->swarms, g->nswarms, sizeof *g->swarms, hash_cmp);
}

struct guidance *p4p_guidance_from_msg(const struct p4p_guidance_msg *msg, const struct pidmap *map, char *err, size_t errlen) {
  struct guidance *g = p4p_guidance_new(map);
  if (!g) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (p4p_guidance_add(g, msg, "", err, errlen)) {
    p4p_guidance_free(g);
    return NULL;
  }
  p4p_guidance_finish(g);
  return g;
}

void p4p_guidance_free(struct guidance *g) {
  if (!g)
    return;
  for (size_t k = 0; k < g->nswarms; ++k)
    matrix_free(&g->swarms[k].m);
  free(g->swarms);
  matrix_free(&g->default_m);
  free(g->default_of);
  free(g);
}

static const struct select_row *row_from(const struct matrix *mx, uint16_t from) {
  size_t lo = 0, hi = mx->nrows;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (mx->rows[mid].from < from)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < mx->nrows && mx->rows[lo].from == from ? &mx->rows[lo].row : NULL;
}

static const struct swarm_matrix *swarm_of(const struct guidance *g, const uint8_t *hash) {
  size_t lo = 0, hi = g->nswarms;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int    c   = memcmp(g->swarms[mid].hash, hash, P4P_HASH_SIZE);
    if (c == 0)
      return &g->swarms[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const struct select_row *p4p_guidance_row(const struct guidance *g, const uint8_t info_hash[20], uint16_t from, enum guidance_kind *kind) {
  const struct select_row *row = NULL;
  *kind                        = GUIDANCE_NONE;
  if (!g || from == 0 || from > g->npids)
    return NULL;
  const struct swarm_matrix *m = g->nswarms ? swarm_of(g, info_hash) : NULL;
  if (m && (row = row_from(&m->m, from))) {
    *kind = GUIDANCE_SWARM;
    return row;
  }
  if ((row = g->default_of ? g->default_of[from] : row_from(&g->default_m, from)))
    *kind = GUIDANCE_DEFAULT;
  return row;
}

size_t p4p_guidance_nswarms(const struct guidance *g) { return g->nswarms; }
int    p4p_guidance_has_default(const struct guidance *g) { return g->has_default; }
size_t p4p_guidance_cells(const struct guidance *g) { return g->cells; }

const uint8_t *p4p_guidance_swarm_hash(const struct guidance *g, size_t k) { return g && k < g->nswarms ? g->swarms[k].hash : NULL; }

const struct select_row *p4p_guidance_default_row(const struct guidance *g, uint16_t from) {
  if (!g || from == 0 || from > g->npids)
    return NULL;
  return row_from(&g->default_m, from);
}
