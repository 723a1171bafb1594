/* Provider configuration: one network provider's PoPs, links, PIDs,
 * access-link classes, servers, clients, policies and daemon settings,
 * read from the line-oriented file documented in docs/ITRACKER.md.
 *
 * The iTracker daemon and the simulator both read provider files through
 * this unit, so the two always agree on what a file means.  The parsed
 * struct is plain data; p4p_provider_topology() turns it into a routed
 * struct p4p_topology through the topology builder. */
#ifndef P4P_PROVIDER_H
#define P4P_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define P4P_TOKEN_MAX 128   /* bearer token bytes with NUL */
#define P4P_PATH_MAX  512

/* Interfaces a client may be allowed to use (bit mask). */
enum {
  P4P_IF_INFO       = 1u << 0, /* PID map, address lookup */
  P4P_IF_POLICY     = 1u << 1, /* p-distances, policies */
  P4P_IF_GUIDANCE   = 1u << 2, /* statistics in, weights out */
  P4P_IF_CAPABILITY = 1u << 3, /* servers, allocation */
  P4P_IF_ALL        = 0xfu
};

struct p4p_provider_pop {
  char name[P4P_NAME_MAX]; /* internal, never leaves the daemon */
  char loc[P4P_NAME_MAX];  /* "lat,lon" text, published as LOC */
  int    has_location;
  double lat, lon;         /* degrees, when has_location */
};

struct p4p_provider_link {
  size_t a, b;              /* PoP indexes; links are bidirectional */
  double capacity_kbps;     /* per direction */
  uint32_t igp_weight;      /* >= 1, drives shortest-path routing */
  double background_kbps;   /* b_e, per direction */
  double price;             /* cost contribution; defaults to igp_weight */
};

struct p4p_provider_pid {
  char               name[P4P_NAME_MAX]; /* opaque, published */
  size_t             pop;                /* PoP index */
  size_t             nprefixes;
  struct p4p_prefix *prefixes;
};

/* Subscriber access-link class: used where a client reports no rates. */
struct p4p_access_class {
  char   name[P4P_NAME_MAX];
  double down_kbps, up_kbps;
  double share; /* fraction of subscribers, classes are renormalized */
};

struct p4p_client {
  char     name[P4P_NAME_MAX];
  char     token[P4P_TOKEN_MAX];
  unsigned interfaces; /* P4P_IF_* mask */
};

/* Time-of-day link avoidance: during [from_hour, to_hour) (UTC, wrapping
 * past midnight when from > to) the link's price is multiplied by factor. */
struct p4p_avoid_policy {
  size_t link;
  int    from_hour, to_hour;
  double factor;
};

/* Settings only the daemon uses; the simulator ignores them. */
struct p4p_daemon_settings {
  char     listen_addr[P4P_NAME_MAX]; /* "127.0.0.1", "::1", "*" */
  uint16_t port;
  char     tls_cert[P4P_PATH_MAX];    /* both set: HTTPS */
  char     tls_key[P4P_PATH_MAX];
  size_t   max_optimized_swarms;      /* heaviest by demand get optimized */
  unsigned resolve_interval_s;        /* periodic re-solve */
  unsigned max_age_s;                 /* Cache-Control max-age */
  size_t   max_body_bytes;            /* larger request bodies: 413 */
  unsigned connection_timeout_s;      /* idle/slow clients are dropped */
  unsigned max_connections;
  size_t   max_tracked_swarms;        /* statistics table cap */
  unsigned swarm_expiry_s;            /* forget swarms not reported since */
  unsigned first_solve_wait_ms;       /* bound on waiting for a solve */
};

struct p4p_provider {
  char     name[P4P_NAME_MAX];
  uint32_t asid;
  char     version[P4P_NAME_MAX]; /* map version published with the data */

  size_t                    npops;
  struct p4p_provider_pop  *pops;
  size_t                    nlinks;
  struct p4p_provider_link *links;
  size_t                    npids;
  struct p4p_provider_pid  *pids;
  size_t                    nclasses;
  struct p4p_access_class  *classes;
  size_t                    nservers;
  struct p4p_server        *servers;
  size_t                    nclients;
  struct p4p_client        *clients;
  size_t                    navoid;
  struct p4p_avoid_policy  *avoid;

  struct p4p_daemon_settings daemon;
};

/* Parse a provider file.  On error returns -1 and leaves "file:line: reason"
 * in err; *out is then zeroed.  Free a parsed provider with
 * p4p_provider_free(), which also accepts a zeroed struct. */
int  p4p_provider_load(const char *path, struct p4p_provider *out,
                       char *err, size_t errlen);
/* The same from memory; source names the text in messages. */
int  p4p_provider_parse(const char *text, size_t len, const char *source,
                        struct p4p_provider *out, char *err, size_t errlen);
void p4p_provider_free(struct p4p_provider *p);

/* Index of the PID owning addr by longest-prefix match, or -1. */
long p4p_provider_lookup(const struct p4p_provider *p, const uint8_t addr[16]);
/* Index of the PID named name, or -1. */
long p4p_provider_pid_index(const struct p4p_provider *p, const char *name);
/* Index of the PoP named name, or -1. */
long p4p_provider_pop_index(const struct p4p_provider *p, const char *name);

/* Mean access-link rates over the classes, weighted by share (kbit/s).
 * Without classes the paper's evaluation mix is used. */
void p4p_provider_mean_access(const struct p4p_provider *p,
                              double *down_kbps, double *up_kbps);

/* Price multiplier of link l at UTC hour (0..23): product of the factors
 * of the avoidance policies active then, 1 when none. */
double p4p_provider_link_factor(const struct p4p_provider *p, size_t l,
                                int hour);

struct p4p_topology;

/* Build the routed topology: PoPs in file order, each config link l as the
 * duplex pair of topology links 2l (a->b) and 2l+1 (b->a), then finish.
 * t must be freshly initialized; on error it is freed.  0 or -1. */
int  p4p_provider_topology(const struct p4p_provider *p,
                           struct p4p_topology *t, char *err, size_t errlen);

/* Per topology link (2 * nlinks values): the avoidance multiplier at hour,
 * the m_e of optimize.h. */
void p4p_provider_link_mults(const struct p4p_provider *p, int hour,
                             double *mult);

/* PoP-to-PoP route cost at hour: the sum over the IGP route of
 * price_e * multiplier_e(hour); 0 on the diagonal, INFINITY when
 * unreachable.  out gets npops^2 values.  0 or -1. */
int  p4p_provider_pop_costs(const struct p4p_provider *p,
                            const struct p4p_topology *t, int hour,
                            double *out, char *err, size_t errlen);

/* Parse an interface list "info,policy,guidance,capability" or "all". */
int  p4p_provider_parse_interfaces(const char *s, unsigned *mask);

#endif
