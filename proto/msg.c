/* Allocation and release of the message structs in msg.h.
 *
 * Every free function accepts a zeroed or partially filled struct (the XML
 * parser fills arrays in place and frees on the first error), and leaves the
 * struct zeroed so a second free is harmless. */
#include "msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void proto_pidmap_msg_free(struct p4p_pidmap_msg *m) {
  if (!m)
    return;
  for (size_t i = 0; m->pids && i < m->npids; i++)
    free(m->pids[i].prefixes);
  free(m->pids);
  memset(m, 0, sizeof *m);
}

void proto_lookup_msg_free(struct p4p_lookup_msg *m) {
  if (!m)
    return;
  free(m->entries);
  memset(m, 0, sizeof *m);
}

void proto_lookup_request_free(struct p4p_lookup_request *m) {
  if (!m)
    return;
  free(m->addrs);
  memset(m, 0, sizeof *m);
}

void proto_matrix_free(struct p4p_matrix *m) {
  if (!m)
    return;
  free(m->pids);
  free(m->v);
  memset(m, 0, sizeof *m);
}

int proto_matrix_alloc(struct p4p_matrix *m, size_t n) {
  memset(m, 0, sizeof *m);
  if (n == 0)
    return 0;
  /* n * n * sizeof(double) must not wrap */
  if (n > SIZE_MAX / n || n * n > SIZE_MAX / sizeof(double))
    return -1;
  m->pids = calloc(n, sizeof *m->pids);
  m->v    = calloc(n * n, sizeof *m->v);
  if (!m->pids || !m->v) {
    proto_matrix_free(m);
    return -1;
  }
  m->n = n;
  return 0;
}

void proto_costs_msg_free(struct p4p_costs_msg *m) {
  if (!m)
    return;
  proto_matrix_free(&m->costs);
  memset(m, 0, sizeof *m);
}

void proto_guidance_msg_free(struct p4p_guidance_msg *m) {
  if (!m)
    return;
  proto_matrix_free(&m->default_weights);
  for (size_t i = 0; m->swarms && i < m->nswarms; i++)
    proto_matrix_free(&m->swarms[i].weights);
  free(m->swarms);
  memset(m, 0, sizeof *m);
}

void proto_stats_msg_free(struct p4p_stats_msg *m) {
  if (!m)
    return;
  for (size_t i = 0; m->swarms && i < m->nswarms; i++)
    free(m->swarms[i].pids);
  free(m->swarms);
  memset(m, 0, sizeof *m);
}

void proto_capability_msg_free(struct p4p_capability_msg *m) {
  if (!m)
    return;
  free(m->servers);
  memset(m, 0, sizeof *m);
}
