/* pidrows: provider PIDs out of PoPs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pidrows.h"
#include "provider.h"

int prov_pidmap_msg(const struct prov_config *pr, struct p4p_pidmap_msg *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s", pr->version);
  if (pr->npids && !(out->pids = calloc(pr->npids, sizeof *out->pids)))
    return -1;
  out->npids = pr->npids;
  for (size_t i = 0; i < pr->npids; i++) {
    const struct prov_pid_config *pid = &pr->pids[i];
    struct p4p_pid_entry         *e   = &out->pids[i];
    snprintf(e->name, sizeof e->name, "%s", pid->name);
    e->asid = pr->asid;
    snprintf(e->loc, sizeof e->loc, "%s", pr->pops[pid->pop].loc);
    if (pid->nprefixes && !(e->prefixes = malloc(pid->nprefixes * sizeof *e->prefixes))) {
      proto_pidmap_msg_free(out);
      return -1;
    }
    memcpy(e->prefixes, pid->prefixes, pid->nprefixes * sizeof *e->prefixes);
    e->nprefixes = pid->nprefixes;
  }
  return 0;
}

void prov_pids_per_pop(const struct prov_config *pr, size_t *pop_npids) {
  memset(pop_npids, 0, pr->npops * sizeof *pop_npids);
  for (size_t q = 0; q < pr->npids; q++)
    pop_npids[pr->pids[q].pop]++;
}

void prov_expand_pop_rows(const struct prov_config *pr, const double *pop_w, const double *pid_peers, double *pid_w) {
  size_t np = pr->npops, n = pr->npids;
  double pop_peers[np ? np : 1];
  size_t pop_npids[np ? np : 1];

  memset(pop_peers, 0, sizeof pop_peers);
  prov_pids_per_pop(pr, pop_npids);
  if (pid_peers)
    for (size_t q = 0; q < n; q++)
      pop_peers[pr->pids[q].pop] += pid_peers[q];
  for (size_t q = 0; q < n; q++) {
    size_t Q     = pr->pids[q].pop;
    double share = pop_peers[Q] > 0 ? pid_peers[q] / pop_peers[Q] : 1.0 / (double)pop_npids[Q];
    for (size_t i = 0; i < n; i++)
      pid_w[i * n + q] = pop_w[pr->pids[i].pop * np + Q] * share;
  }
}
