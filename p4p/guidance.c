/* guidance: weight matrices resolved to PID slots. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guidance.h"
#include "pidmap.h"
#include "proto/text.h"

struct swarm_matrix {
  uint8_t hash[P4P_HASH_SIZE];
  float  *w;
};

struct guidance {
  const struct pidmap *map;       /* for names while building */
  size_t               npids;
  float               *default_w; /* NULL: no default matrix */
  size_t               nswarms, cap;
  struct swarm_matrix *swarms;    /* sorted by hash once finished */
};

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, P4P_HASH_SIZE); }

static uint16_t slot_of(const struct pidmap *map, const char *ns, const char *name) {
  char full[2 * P4P_NAME_MAX];
  if (!*ns)
    return p4p_pidmap_slot_by_name(map, name);
  snprintf(full, sizeof full, "%s/%s", ns, name);
  return p4p_pidmap_slot_by_name(map, full);
}

/* Adds a named matrix into w (P x P, slot order).  Rows are normalized by
 * p4p_guidance_finish, once every provider has added its block. */
static int add_matrix(float *w, size_t P, const struct p4p_matrix *m, const struct pidmap *map, const char *ns, const char *what, char *err,
                      size_t errlen) {
  uint16_t *slot = malloc((m->n ? m->n : 1) * sizeof *slot);
  if (!slot) {
    snprintf(err, errlen, "%s: out of memory", what);
    return -1;
  }
  for (size_t i = 0; i < m->n; ++i)
    if (!(slot[i] = slot_of(map, ns, m->pids[i]))) {
      snprintf(err, errlen, "%s: PID '%s' is not in the PID map", what, m->pids[i]);
      free(slot);
      return -1;
    }
  for (size_t i = 0; i < m->n; ++i)
    for (size_t j = 0; j < m->n; ++j) {
      double v = m->v[i * m->n + j];
      /* rows are kept as floats: a weight beyond FLT_MAX would become inf
       * there and silently void its row (inf / inf) */
      if (!isfinite(v) || v < 0 || v > FLT_MAX) {
        snprintf(err, errlen, "%s: weight from '%s' to '%s' is %g; weights are finite, >= 0 and at most %g", what, m->pids[i], m->pids[j], v,
                 (double)FLT_MAX);
        free(slot);
        return -1;
      }
      w[(slot[i] - 1) * P + (slot[j] - 1)] += (float)v;
    }
  free(slot);
  return 0;
}

static float *new_matrix(size_t P) { return calloc(P ? P * P : 1, sizeof(float)); }

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
  struct swarm_matrix *m = &g->swarms[g->nswarms];
  memcpy(m->hash, hash, P4P_HASH_SIZE);
  if (!(m->w = new_matrix(g->npids)))
    return NULL;
  g->nswarms++;
  return m;
}

int p4p_guidance_add(struct guidance *g, const struct p4p_guidance_msg *msg, const char *ns, char *err, size_t errlen) {
  char what[128];
  if (msg->has_default) {
    if (!g->default_w && !(g->default_w = new_matrix(g->npids))) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (add_matrix(g->default_w, g->npids, &msg->default_weights, g->map, ns, "default matrix", err, errlen))
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
    if (add_matrix(m->w, g->npids, &msg->swarms[k].weights, g->map, ns, what, err, errlen))
      return -1;
  }
  return 0;
}

int p4p_guidance_add_costs(struct guidance *g, const struct p4p_costs_msg *costs, const char *ns, char *err, size_t errlen) {
  const struct p4p_matrix *c = &costs->costs;
  struct p4p_matrix        w = {0};
  double                   sum = 0;
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
      double v                = c->v[i * c->n + j];
      /* v1: 0 is zero cost (PROTOCOL.md), e.g. two PIDs of one PoP; a
       * legacy portal's "0 = undefined" was made the costliest (100) by
       * its parser already */
      int    undefined        = !isfinite(v) || v < 0;
      w.v[i * c->n + j]       = undefined ? 0 : exp(-v / t);
    }
  }
  struct p4p_guidance_msg msg = {.has_default = 1, .default_weights = w};
  rc                          = p4p_guidance_add(g, &msg, ns, err, errlen);
  proto_matrix_free(&w);
  return rc;
}

static void normalize(float *w, size_t P) {
  for (size_t r = 0; r < P; ++r) {
    double sum = 0;
    for (size_t c = 0; c < P; ++c)
      sum += w[r * P + c];
    if (sum > 0)
      for (size_t c = 0; c < P; ++c)
        w[r * P + c] = (float)(w[r * P + c] / sum);
  }
}

void p4p_guidance_finish(struct guidance *g) {
  if (g->default_w)
    normalize(g->default_w, g->npids);
  for (size_t k = 0; k < g->nswarms; ++k)
    normalize(g->swarms[k].w, g->npids);
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
    free(g->swarms[k].w);
  free(g->swarms);
  free(g->default_w);
  free(g);
}

static const float *nonzero_row(const float *w, size_t P, uint16_t from) {
  const float *row = w + (size_t)(from - 1) * P;
  for (size_t j = 0; j < P; ++j)
    if (row[j] > 0)
      return row;
  return NULL;
}

const float *p4p_guidance_row(const struct guidance *g, const uint8_t info_hash[20], uint16_t from, enum guidance_kind *kind) {
  const float *row = NULL;
  *kind            = GUIDANCE_NONE;
  if (!g || from == 0 || from > g->npids)
    return NULL;
  if (g->nswarms) {
    const struct swarm_matrix *m = bsearch(info_hash, g->swarms, g->nswarms, sizeof *g->swarms, hash_cmp);
    if (m && (row = nonzero_row(m->w, g->npids, from))) {
      *kind = GUIDANCE_SWARM;
      return row;
    }
  }
  if (g->default_w && (row = nonzero_row(g->default_w, g->npids, from)))
    *kind = GUIDANCE_DEFAULT;
  return row;
}

size_t p4p_guidance_nswarms(const struct guidance *g) { return g->nswarms; }
int    p4p_guidance_has_default(const struct guidance *g) { return g->default_w != NULL; }

const uint8_t *p4p_guidance_swarm_hash(const struct guidance *g, size_t k) { return g && k < g->nswarms ? g->swarms[k].hash : NULL; }

const float *p4p_guidance_default_row(const struct guidance *g, uint16_t from) {
  if (!g || !g->default_w || from == 0 || from > g->npids)
    return NULL;
  return nonzero_row(g->default_w, g->npids, from);
}
