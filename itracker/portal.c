/* Provider side of the iTracker: published documents and server allocation.
 * Only opaque PIDs, the ASID and LOC leave this file; PoP names, links and
 * capacities stay inside. */
#include "portal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/file.h"
#include "proto/xml.h"
#include "provider/pdistance.h"
#include "provider/pidrows.h"

void itr_reply_error(struct itr_reply *r, int status, const char *fmt, ...) {
  va_list ap;
  free(r->body);
  r->body    = NULL;
  r->len     = 0;
  r->status  = status;
  r->max_age = -1;
  r->etag[0] = 0;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
}

/* Hand a prebuilt document to a reply (copied: replies own their body). */
static void reply_doc(struct itr_reply *r, const char *doc, size_t len, const char *etag, int max_age) {
  r->body = malloc(len + 1);
  if (!r->body) {
    itr_reply_error(r, 503, "out of memory");
    return;
  }
  memcpy(r->body, doc, len + 1);
  r->len     = len;
  r->status  = 200;
  r->max_age = max_age;
  snprintf(r->etag, sizeof r->etag, "%s", etag);
}

int portal_hour(const struct portal *p) {
  if (p->fixed_hour >= 0 && p->hour_step_s > 0)
    return (int)((p->fixed_hour + (time(NULL) - p->started) / p->hour_step_s) % 24);
  if (p->fixed_hour >= 0)
    return p->fixed_hour;
  time_t    now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  return tm.tm_hour;
}

static int build_pidmap(struct portal *p, char *err, size_t errlen) {
  struct p4p_pidmap_msg m;
  if (prov_pidmap_msg(&p->prov, &m)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  p->pidmap_xml = proto_xml_write_pidmap(&m, &p->pidmap_len);
  proto_pidmap_msg_free(&m);
  if (!p->pidmap_xml) {
    snprintf(err, errlen, "cannot write the PID map as P4P XML");
    return -1;
  }
  return 0;
}

static int matrix_pid_names(const struct prov_config *pr, struct p4p_matrix *m) {
  if (proto_matrix_alloc(m, pr->npids))
    return -1;
  for (size_t i = 0; i < pr->npids; i++)
    snprintf(m->pids[i], sizeof m->pids[i], "%s", pr->pids[i].name);
  return 0;
}

/* Normalized costs (provider/pdistance.h): the costliest route off-peak
 * costs PROV_COST_SCALE, with a divisor that does not depend on the hour,
 * so an avoided link raises exactly the pairs routed over it. */
static int build_costs(struct portal *p, char *err, size_t errlen) {
  const struct prov_config *pr = &p->prov;
  size_t                    n  = pr->npops;
  if (prov_cost_norm(pr, &p->topo, &p->cost_norm, err, errlen))
    return -1;
  for (int h = 0; h < 24; h++) {
    p->pop_cost[h] = malloc((n * n + 1) * sizeof *p->pop_cost[h]);
    if (!p->pop_cost[h]) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (prov_norm_pop_costs(pr, &p->topo, h, p->cost_norm, p->pop_cost[h], err, errlen))
      return -1;

    struct p4p_costs_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.version, sizeof m.version, "%s", pr->version);
    if (matrix_pid_names(pr, &m.costs)) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    size_t np = pr->npids;
    for (size_t i = 0; i < np; i++)
      for (size_t j = 0; j < np; j++)
        m.costs.v[i * np + j] = p->pop_cost[h][pr->pids[i].pop * n + pr->pids[j].pop];
    p->costs_xml[h] = proto_xml_write_costs(&m, &p->costs_len[h]);
    proto_costs_msg_free(&m);
    if (!p->costs_xml[h]) {
      snprintf(err, errlen, "cannot write costs as P4P XML");
      return -1;
    }
  }
  return 0;
}

static int build_capability(struct portal *p, char *err, size_t errlen) {
  struct p4p_capability_msg m = {.nservers = p->prov.nservers, .servers = p->prov.servers};
  p->capability_xml           = proto_xml_write_capability(&m, &p->capability_len);
  if (!p->capability_xml) {
    snprintf(err, errlen, "cannot write the server list as P4P XML");
    return -1;
  }
  return 0;
}

int portal_init(struct portal *p, const char *config_path, int fixed_hour, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  p->fixed_hour = fixed_hour;
  pthread_mutex_init(&p->alloc_lock, NULL);
  prov_topology_init(&p->topo);
  if (prov_load(config_path, &p->prov, err, errlen))
    goto fail;
  char terr[P4P_TEXT_MAX];
  if (prov_build_topology(&p->prov, &p->topo, terr, sizeof terr)) {
    snprintf(err, errlen, "%s: topology: %s", config_path, terr);
    prov_topology_init(&p->topo); /* freed by the builder on error */
    goto fail;
  }
  prov_mean_access(&p->prov, &p->mean_down_kbps, &p->mean_up_kbps);
  p->server_swarms = calloc(p->prov.nservers + 1, sizeof *p->server_swarms);
  if (!p->server_swarms || quota_init(&p->alloc_quota, p->prov.nclients ? p->prov.nclients : 256)) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  if (build_pidmap(p, err, errlen) || build_costs(p, err, errlen) || build_capability(p, err, errlen))
    goto fail;
  return 0;
fail:
  portal_free(p);
  return -1;
}

void portal_free(struct portal *p) {
  prov_free(&p->prov);
  prov_topology_free(&p->topo);
  free(p->pidmap_xml);
  for (int h = 0; h < 24; h++) {
    free(p->pop_cost[h]);
    free(p->costs_xml[h]);
  }
  free(p->capability_xml);
  free(p->alloc);
  free(p->server_swarms);
  quota_free(&p->alloc_quota);
  pthread_mutex_destroy(&p->alloc_lock);
  memset(p, 0, sizeof *p);
  p->fixed_hour = -1;
}

void portal_pidmap(const struct portal *p, struct itr_reply *r) {
  char etag[96];
  snprintf(etag, sizeof etag, "\"map-%s\"", p->prov.version);
  reply_doc(r, p->pidmap_xml, p->pidmap_len, etag, (int)p->prov.daemon.max_age_s);
}

void portal_lookup(const struct portal *p, const char *body, size_t len, struct itr_reply *r) {
  struct p4p_lookup_request q;
  char                      perr[P4P_TEXT_MAX];
  if (proto_xml_parse_lookup_request(body, len, "request", &q, perr, sizeof perr)) {
    itr_reply_error(r, 400, "%s", perr);
    return;
  }
  struct p4p_lookup_msg m = {.n = q.n};
  m.entries               = calloc(q.n ? q.n : 1, sizeof *m.entries);
  if (!m.entries) {
    proto_lookup_request_free(&q);
    itr_reply_error(r, 503, "out of memory");
    return;
  }
  for (size_t i = 0; i < q.n; i++) {
    struct p4p_lookup_entry *e = &m.entries[i];
    memcpy(e->addr, q.addrs[i], 16);
    long pid = prov_lookup(&p->prov, q.addrs[i]);
    if (pid < 0)
      continue;
    const struct prov_pid_config *P = &p->prov.pids[pid];
    e->found                        = 1;
    snprintf(e->pid, sizeof e->pid, "%s", P->name);
    e->asid = p->prov.asid;
    snprintf(e->loc, sizeof e->loc, "%s", p->prov.pops[P->pop].loc);
  }
  proto_lookup_request_free(&q);
  r->body = proto_xml_write_lookup(&m, &r->len);
  proto_lookup_msg_free(&m);
  if (!r->body) {
    itr_reply_error(r, 503, "cannot write the lookup answer");
    return;
  }
  r->status  = 200;
  r->max_age = (int)p->prov.daemon.max_age_s;
}

void portal_costs(const struct portal *p, int hour, struct itr_reply *r) {
  if (hour < 0)
    hour = portal_hour(p);
  char etag[96];
  snprintf(etag, sizeof etag, "\"costs-%s-h%d\"", p->prov.version, hour);
  /* a cached copy must not outlive the hour its policies apply to */
  int max_age = (int)p->prov.daemon.max_age_s;
  if (p->fixed_hour < 0) {
    int left = 3600 - (int)(time(NULL) % 3600);
    if (left < max_age)
      max_age = left;
  }
  reply_doc(r, p->costs_xml[hour], p->costs_len[hour], etag, max_age);
}

void portal_capability(const struct portal *p, struct itr_reply *r) {
  char etag[96];
  snprintf(etag, sizeof etag, "\"servers-%s\"", p->prov.version);
  reply_doc(r, p->capability_xml, p->capability_len, etag, (int)p->prov.daemon.max_age_s);
}

/* caller holds alloc_lock: forget pairs nobody asked for since
 * allocation-expiry, giving their servers' load and their owners' quota
 * back.  One pass, order kept. */
static void expire_allocations(struct portal *p, time_t now) {
  time_t ttl  = (time_t)p->prov.daemon.allocation_expiry_s;
  size_t kept = 0;
  for (size_t i = 0; i < p->nalloc; i++) {
    struct itr_allocation *a = &p->alloc[i];
    if (now - a->last_asked > ttl) {
      p->server_swarms[a->server]--;
      quota_sub(&p->alloc_quota, &a->owner, 1);
    } else {
      p->alloc[kept++] = *a;
    }
  }
  p->nalloc = kept;
}

/* caller holds alloc_lock: 0, or -1 when the table cannot grow */
static int add_allocation(struct portal *p, const uint8_t *hash, size_t server, const struct itr_client *who, time_t now) {
  if (p->nalloc == p->cap_alloc) {
    size_t                 nc = p->cap_alloc ? 2 * p->cap_alloc : 64;
    struct itr_allocation *na = realloc(p->alloc, nc * sizeof *na);
    if (!na)
      return -1;
    p->alloc     = na;
    p->cap_alloc = nc;
  }
  if (quota_add(&p->alloc_quota, who, 1))
    return -1;
  struct itr_allocation *a = &p->alloc[p->nalloc++];
  memcpy(a->info_hash, hash, P4P_HASH_SIZE);
  a->server     = server;
  a->owner      = *who;
  a->last_asked = now;
  p->server_swarms[server]++;
  return 0;
}

/* Servers of the asked PID (any PID when ""), the swarm's earlier ones
 * first so repeated requests are stable, then the least loaded: fewest
 * swarms per kbit/s of capacity, ties to the lower index.  New pairs count
 * against who's max-allocations-per-client and the table's
 * max-allocations; asking for a swarm again keeps its pairs alive. */
void portal_allocate(struct portal *p, const struct itr_client *who, const char *body, size_t len, struct itr_reply *r) {
  struct p4p_capability_request q;
  char                          perr[P4P_TEXT_MAX];
  if (proto_xml_parse_capability_request(body, len, "request", &q, perr, sizeof perr)) {
    itr_reply_error(r, 400, "%s", perr);
    return;
  }
  const struct prov_config *pr = &p->prov;
  if (q.pid[0] && prov_pid_index(pr, q.pid) < 0) {
    itr_reply_error(r, 400, "unknown PID '%s'", q.pid);
    return;
  }
  if (q.count == 0) {
    itr_reply_error(r, 400, "count must be at least 1");
    return;
  }
  size_t ncand = 0;
  for (size_t s = 0; s < pr->nservers; s++)
    if (!q.pid[0] || !strcmp(pr->servers[s].pid, q.pid))
      ncand++;
  if (!ncand) {
    itr_reply_error(r, 404, "no provider server in %s%s", q.pid[0] ? "PID " : "any PID", q.pid);
    return;
  }
  size_t                    want = q.count < ncand ? q.count : ncand;
  struct p4p_capability_msg m    = {.nservers = 0};
  m.servers                      = calloc(want, sizeof *m.servers);
  char *chosen                   = calloc(pr->nservers + 1, 1);
  char *had                      = calloc(pr->nservers + 1, 1);
  if (!m.servers || !chosen || !had) {
    free(m.servers);
    free(chosen);
    free(had);
    itr_reply_error(r, 503, "out of memory");
    return;
  }
  pthread_mutex_lock(&p->alloc_lock);
  time_t now = time(NULL);
  expire_allocations(p, now);
  for (size_t i = 0; i < p->nalloc; i++)
    if (!memcmp(p->alloc[i].info_hash, q.info_hash, P4P_HASH_SIZE)) {
      had[p->alloc[i].server] = 1;
      p->alloc[i].last_asked  = now;
    }
  for (size_t s = 0; s < pr->nservers && m.nservers < want; s++)
    if ((!q.pid[0] || !strcmp(pr->servers[s].pid, q.pid)) && had[s]) {
      chosen[s]               = 1;
      m.servers[m.nservers++] = pr->servers[s];
    }
  size_t held                               = quota_count(&p->alloc_quota, who);
  size_t room                               = held < p->prov.daemon.max_allocations_per_client ? p->prov.daemon.max_allocations_per_client - held : 0;
  enum { ROOM, OVER_QUOTA, TABLE_FULL } why = ROOM;
  while (m.nservers < want) {
    size_t best      = pr->nservers;
    double best_load = INFINITY;
    for (size_t s = 0; s < pr->nservers; s++) {
      if (chosen[s] || (q.pid[0] && strcmp(pr->servers[s].pid, q.pid)))
        continue;
      double load = (double)p->server_swarms[s] / (double)pr->servers[s].capacity_kbps;
      if (load < best_load) {
        best_load = load;
        best      = s;
      }
    }
    if (best == pr->nservers)
      break;
    if (room == 0) {
      why = OVER_QUOTA;
      break;
    }
    if (p->nalloc >= p->prov.daemon.max_allocations || add_allocation(p, q.info_hash, best, who, now)) {
      why = TABLE_FULL;
      break;
    }
    room--;
    chosen[best]            = 1;
    m.servers[m.nservers++] = pr->servers[best];
  }
  pthread_mutex_unlock(&p->alloc_lock);
  free(chosen);
  free(had);
  if (why != ROOM && m.nservers == 0) {
    free(m.servers);
    if (why == OVER_QUOTA) {
      char name[96];
      itr_client_describe(who, pr, name, sizeof name);
      itr_reply_error(r, 429,
                      "%s holds %zu server allocations, its quota "
                      "(max-allocations-per-client); unused ones expire "
                      "after %u s",
                      name, held, p->prov.daemon.allocation_expiry_s);
    } else {
      itr_reply_error(r, 503,
                      "server allocation table is full (%zu "
                      "allocations)",
                      p->prov.daemon.max_allocations);
    }
    return;
  }
  r->body = proto_xml_write_capability(&m, &r->len);
  free(m.servers);
  if (!r->body) {
    itr_reply_error(r, 503, "cannot write the allocation answer");
    return;
  }
  r->status  = 200;
  r->max_age = -1;
}
