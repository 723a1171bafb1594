/* guidance: weight matrices resolved to PID slots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guidance.h"
#include "pidmap.h"

struct swarm_matrix {
  uint8_t hash[P4P_HASH_SIZE];
  float  *w;
};

struct guidance {
  size_t               npids;
  float               *default_w; /* NULL: no default matrix */
  size_t               nswarms;
  struct swarm_matrix *swarms;    /* sorted by hash */
};

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, P4P_HASH_SIZE); }

static void hash_hex(const uint8_t *hash, char out[41]) {
  for (int i = 0; i < P4P_HASH_SIZE; ++i)
    sprintf(out + 2 * i, "%02x", hash[i]);
}

/* Copies a named matrix into P x P slot order and normalizes its rows. */
static float *resolve_matrix(const struct p4p_matrix *m, const struct pidmap *map, const char *what, char *err, size_t errlen) {
  size_t    P = pidmap_npids(map);
  float    *w = calloc(P ? P * P : 1, sizeof *w);
  uint16_t *slot;
  if (!w || !(slot = malloc((m->n ? m->n : 1) * sizeof *slot))) {
    free(w);
    snprintf(err, errlen, "%s: out of memory", what);
    return NULL;
  }
  for (size_t i = 0; i < m->n; ++i)
    if (!(slot[i] = pidmap_slot_by_name(map, m->pids[i]))) {
      snprintf(err, errlen, "%s: PID '%s' is not in the PID map", what, m->pids[i]);
      goto fail;
    }
  for (size_t i = 0; i < m->n; ++i)
    for (size_t j = 0; j < m->n; ++j) {
      double v = m->v[i * m->n + j];
      if (!isfinite(v) || v < 0) {
        snprintf(err, errlen, "%s: weight from '%s' to '%s' is %g; weights are finite and >= 0", what, m->pids[i], m->pids[j], v);
        goto fail;
      }
      w[(slot[i] - 1) * P + (slot[j] - 1)] += (float)v;
    }
  for (size_t r = 0; r < P; ++r) {
    double sum = 0;
    for (size_t c = 0; c < P; ++c)
      sum += w[r * P + c];
    if (sum > 0)
      for (size_t c = 0; c < P; ++c)
        w[r * P + c] = (float)(w[r * P + c] / sum);
  }
  free(slot);
  return w;
fail:
  free(slot);
  free(w);
  return NULL;
}

struct guidance *guidance_from_msg(const struct p4p_guidance_msg *msg, const struct pidmap *map, char *err, size_t errlen) {
  struct guidance *g = calloc(1, sizeof *g);
  char             what[96];
  if (!g || (msg->nswarms && !(g->swarms = calloc(msg->nswarms, sizeof *g->swarms)))) {
    free(g);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  g->npids = pidmap_npids(map);
  if (msg->has_default && !(g->default_w = resolve_matrix(&msg->default_weights, map, "default matrix", err, errlen)))
    goto fail;
  for (size_t k = 0; k < msg->nswarms; ++k) {
    char hex[41];
    hash_hex(msg->swarms[k].info_hash, hex);
    snprintf(what, sizeof what, "swarm %s", hex);
    memcpy(g->swarms[k].hash, msg->swarms[k].info_hash, P4P_HASH_SIZE);
    if (!(g->swarms[k].w = resolve_matrix(&msg->swarms[k].weights, map, what, err, errlen)))
      goto fail;
    g->nswarms++;
  }
  qsort(g->swarms, g->nswarms, sizeof *g->swarms, hash_cmp);
  for (size_t k = 1; k < g->nswarms; ++k)
    if (!memcmp(g->swarms[k].hash, g->swarms[k - 1].hash, P4P_HASH_SIZE)) {
      char hex[41];
      hash_hex(g->swarms[k].hash, hex);
      snprintf(err, errlen, "swarm %s has two matrices", hex);
      goto fail;
    }
  return g;
fail:
  guidance_free(g);
  return NULL;
}

void guidance_free(struct guidance *g) {
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

const float *guidance_row(const struct guidance *g, const uint8_t info_hash[20], uint16_t from, enum guidance_kind *kind) {
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

size_t guidance_npids(const struct guidance *g) { return g->npids; }
size_t guidance_nswarms(const struct guidance *g) { return g->nswarms; }
int    guidance_has_default(const struct guidance *g) { return g->default_w != NULL; }
