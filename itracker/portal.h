/* The provider's read-mostly side of the iTracker: configuration, routed
 * topology, PID map, p-distances per hour, provider servers and their
 * allocation to swarms.  Everything here is built once at startup and then
 * only read, except the server allocation table, which has its own lock.
 *
 * Each interface function answers a struct itr_reply that the HTTP layer
 * turns into a response; on a 4xx/5xx, reply->err names the problem and
 * the HTTP layer sends it as a P4P <error> document. */
#ifndef ITRACKER_PORTAL_H
#define ITRACKER_PORTAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/msg.h"
#include "provider/provider.h"
#include "provider/topology.h"
#include "quota.h"

struct itr_reply {
  int    status; /* HTTP status */
  char  *body;   /* malloc'd document, NULL on errors */
  size_t len;
  char   etag[96];  /* "" = none */
  int    max_age;   /* seconds; < 0 = Cache-Control: no-store */
  char   xname[48]; /* one extra header, "" = none */
  char   xvalue[96];
  char   err[P4P_TEXT_MAX];
};

struct itr_allocation {
  uint8_t           info_hash[P4P_HASH_SIZE];
  size_t            server;
  struct itr_client owner;      /* who made it: counts against its quota */
  time_t            last_asked; /* expires allocation-expiry after this */
};

struct portal {
  struct prov_config   prov;
  struct prov_topology topo;
  int                  fixed_hour;  /* -1: follow the UTC clock */
  int                  hour_step_s; /* tests: from fixed_hour, +1 hour every this */
  time_t               started;
  double               mean_down_kbps, mean_up_kbps;
  double               cost_norm; /* divides raw route costs */

  char   *pidmap_xml;
  size_t  pidmap_len;
  double *pop_cost[24]; /* normalized (provider/pdistance.h), npops^2, per UTC hour */
  char   *costs_xml[24];
  size_t  costs_len[24];
  char   *capability_xml;
  size_t  capability_len;

  pthread_mutex_t        alloc_lock; /* guards the allocation table */
  size_t                 nalloc, cap_alloc;
  struct itr_allocation *alloc;
  size_t                *server_swarms; /* swarms allocated per server */
  struct quota_table     alloc_quota;   /* allocations per client */
};

/* Load the provider file (prov_load) and precompute every published
 * document.
 * fixed_hour in 0..23 pins the policy clock (tests), -1 follows UTC.
 * 0, or -1 with err naming the file and line. */
int  portal_init(struct portal *p, const char *config_path, int fixed_hour, char *err, size_t errlen);
void portal_free(struct portal *p);

/* The UTC hour policies apply now. */
int portal_hour(const struct portal *p);

/* info: the whole PID map; the lookup of posted addresses */
void portal_pidmap(const struct portal *p, struct itr_reply *r);
void portal_lookup(const struct portal *p, const char *body, size_t len, struct itr_reply *r);
/* policy: normalized PID-to-PID costs at hour (< 0: now) */
void portal_costs(const struct portal *p, int hour, struct itr_reply *r);
/* capability: the server list; allocating servers to a swarm on behalf
 * of client who (its quota: max-allocations-per-client) */
void portal_capability(const struct portal *p, struct itr_reply *r);
void portal_allocate(struct portal *p, const struct itr_client *who, const char *body, size_t len, struct itr_reply *r);

/* Set r to an error with a printf-style reason. */
void itr_reply_error(struct itr_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
