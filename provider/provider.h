/* Provider configuration: one network provider's PoPs, links, PIDs,
 * access-link classes, servers, clients, policies and daemon settings,
 * read from the line-oriented file documented in docs/ITRACKER.md.
 *
 * The iTracker daemon and the simulator both read provider files through
 * this unit, so the two always agree on what a file means.  The parsed
 * struct is plain data; prov_build_topology() turns it into a routed
 * struct prov_topology through the topology builder. */
#ifndef PROV_PROVIDER_H
#define PROV_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/iface.h"
#include "proto/msg.h"

#define P4P_TOKEN_MAX 128 /* bearer token bytes with NUL */
#define P4P_PATH_MAX  512

struct prov_pop_config {
  char   name[P4P_NAME_MAX]; /* internal, never leaves the daemon */
  char   loc[P4P_NAME_MAX];  /* "lat,lon" text, published as LOC */
  int    has_location;
  double lat, lon; /* degrees, when has_location */
};

struct prov_link_config {
  size_t   a, b;            /* PoP indexes; links are bidirectional */
  double   capacity_kbps;   /* per direction */
  uint32_t igp_weight;      /* >= 1, drives shortest-path routing */
  double   background_kbps; /* b_e, per direction */
  double   price;           /* cost contribution; defaults to igp_weight */
};

struct prov_pid_config {
  char               name[P4P_NAME_MAX]; /* opaque, published */
  size_t             pop;                /* PoP index */
  size_t             nprefixes;
  struct p4p_prefix *prefixes;
};

/* Subscriber access-link class: used where a client reports no rates. */
struct prov_access_class {
  char   name[P4P_NAME_MAX];
  double down_kbps, up_kbps;
  double share; /* fraction of subscribers, classes are renormalized */
};

struct prov_client {
  char     name[P4P_NAME_MAX];
  char     token[P4P_TOKEN_MAX];
  unsigned interfaces; /* P4P_IF_* mask */
  int      metrics;    /* may read the daemon's /metrics ("allow ...,metrics") */
};

/* Time-of-day link avoidance: during [from_hour, to_hour) (UTC, wrapping
 * past midnight when from > to) the link's price is multiplied by factor. */
struct prov_avoid_policy {
  size_t link;
  int    from_hour, to_hour;
  double factor;
};

/* Settings only the daemon uses; the simulator ignores them. */
struct prov_daemon_settings {
  char     listen_addr[P4P_NAME_MAX]; /* "127.0.0.1", "::1", "*" */
  uint16_t port;
  char     tls_cert[P4P_PATH_MAX]; /* both set: HTTPS */
  char     tls_key[P4P_PATH_MAX];
  unsigned tls_line;             /* line of the tls statement, for messages */
  size_t   max_optimized_swarms; /* heaviest by demand get optimized */
  unsigned resolve_interval_s;   /* periodic re-solve */
  unsigned max_age_s;            /* Cache-Control max-age */
  size_t   max_body_bytes;       /* larger request bodies: 413 */
  unsigned connection_timeout_s; /* idle/slow clients are dropped */
  size_t   max_tracked_swarms;   /* statistics table cap */
  unsigned swarm_expiry_s;       /* forget swarms not reported since */
  unsigned first_solve_wait_ms;  /* bound on waiting for a solve */
  /* against hostile clients (docs/ITRACKER.md, "Hostile clients") */
  unsigned max_connections;        /* the guard evicts above this */
  unsigned max_connections_per_ip; /* refused above this */
  unsigned request_deadline_s;     /* headers + body within */
  unsigned response_deadline_s;    /* answer taken within */
  size_t   max_body_total;         /* request bodies buffered at once */
  size_t   max_swarms_per_client;  /* statistics table share */
  size_t   max_allocations;        /* (swarm, server) pairs in all */
  size_t   max_allocations_per_client;
  unsigned allocation_expiry_s;            /* forget pairs not asked for since */
  char     alto_network_map[P4P_NAME_MAX]; /* ALTO resource id of the PID map */
  unsigned alto_max_streams;               /* concurrent ALTO update streams, 0 = none */
};

struct prov_config {
  char     name[P4P_NAME_MAX];
  uint32_t asid;
  char     version[P4P_NAME_MAX]; /* map version published with the data */

  size_t                    npops;
  struct prov_pop_config   *pops;
  size_t                    nlinks;
  struct prov_link_config  *links;
  size_t                    npids;
  struct prov_pid_config   *pids;
  size_t                    nclasses;
  struct prov_access_class *classes;
  size_t                    nservers;
  struct p4p_server        *servers;
  size_t                    nclients;
  struct prov_client       *clients;
  size_t                    navoid;
  struct prov_avoid_policy *avoid;

  struct prov_daemon_settings daemon;
};

/* Parse a provider file.  On error returns -1 and leaves "file:line: reason"
 * in err; *out is then zeroed.  Free a parsed provider with
 * prov_free(), which also accepts a zeroed struct. */
int prov_load(const char *path, struct prov_config *out, char *err, size_t errlen);
/* The same from memory; source names the text in messages. */
int  prov_parse(const char *text, size_t len, const char *source, struct prov_config *out, char *err, size_t errlen);
void prov_free(struct prov_config *p);

/* Index of the PID owning addr by longest-prefix match, or -1. */
long prov_lookup(const struct prov_config *p, const uint8_t addr[16]);
/* Index of the PID named name, or -1. */
long prov_pid_index(const struct prov_config *p, const char *name);
/* Index of the PoP named name, or -1. */
long prov_pop_index(const struct prov_config *p, const char *name);

/* Mean access-link rates over the classes, weighted by share (kbit/s).
 * Without classes the paper's evaluation mix is used. */
void prov_mean_access(const struct prov_config *p, double *down_kbps, double *up_kbps);

/* Price multiplier of link l at UTC hour (0..23): product of the factors
 * of the avoidance policies active then, 1 when none. */
double prov_link_factor(const struct prov_config *p, size_t l, int hour);

struct prov_topology;

/* Build the routed topology: PoPs in file order, each config link l as the
 * duplex pair of topology links 2l (a->b) and 2l+1 (b->a), then finish.
 * t must be freshly initialized; on error it is freed.  0 or -1. */
int prov_build_topology(const struct prov_config *p, struct prov_topology *t, char *err, size_t errlen);

/* Per topology link (2 * nlinks values): the avoidance multiplier at hour,
 * the m_e of optimize.h. */
void prov_link_mults(const struct prov_config *p, int hour, double *mult);

/* PoP-to-PoP route cost at hour: the sum over the IGP route of
 * price_e * multiplier_e(hour); 0 on the diagonal, INFINITY when
 * unreachable.  out gets npops^2 values.  0 or -1. */
int prov_pop_costs(const struct prov_config *p, const struct prov_topology *t, int hour, double *out, char *err, size_t errlen);

#endif
