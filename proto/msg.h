/* In-memory forms of the P4P XML v1 messages (docs/PROTOCOL.md).
 *
 * Every message exchanged by the appTracker, the iTracker and the tools has
 * one struct here.  xml.h parses XML into these and writes them back;
 * nothing else in the project touches XML.  Each struct owns its arrays:
 * free it with the matching p4p_*_msg_free(), which accepts a zeroed struct. */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#define P4P_NAME_MAX  64  /* PID names, versions, LOC, kinds: bytes with NUL */
#define P4P_TEXT_MAX  256 /* error texts, URLs */
#define P4P_HASH_SIZE 20  /* BitTorrent info_hash */

/* Addresses are kept as 16 bytes; IPv4 is IPv4-mapped (::ffff:a.b.c.d) and
 * an IPv4 /n prefix is stored with bits = 96 + n.  This is also how
 * opentracker stores peers, so lookups need no conversion. */
struct p4p_prefix {
  uint8_t addr[16];
  uint8_t bits;
};

struct p4p_pid_entry {
  char               name[P4P_NAME_MAX]; /* opaque PID */
  uint32_t           asid;
  char               loc[P4P_NAME_MAX]; /* coordinate text, may be "" */
  size_t             nprefixes;
  struct p4p_prefix *prefixes;
};

/* info interface: the whole PID map */
struct p4p_pidmap_msg {
  char                  version[P4P_NAME_MAX];
  size_t                npids;
  struct p4p_pid_entry *pids;
};

/* info interface: lookup request, the addresses to map.  The asker may say
 * which swarm it asks for (the paper lets a query carry the swarm id). */
struct p4p_lookup_request {
  int     has_info_hash;
  uint8_t info_hash[P4P_HASH_SIZE];
  size_t  n;
  uint8_t (*addrs)[16];
};

/* info interface: lookup answer, one entry per queried address */
struct p4p_lookup_entry {
  uint8_t  addr[16];
  int      found; /* 0: address is in no PID of this provider */
  char     pid[P4P_NAME_MAX];
  uint32_t asid;
  char     loc[P4P_NAME_MAX];
};
struct p4p_lookup_msg {
  size_t                   n;
  struct p4p_lookup_entry *entries;
};

/* Square matrix over named PIDs, dense row-major: v[i * n + j] is the value
 * from pids[i] to pids[j].  Used for costs and for weights. */
struct p4p_matrix {
  size_t n;
  char (*pids)[P4P_NAME_MAX];
  double *v;
};

/* policy interface: normalized inter-PID costs (p-distances) */
struct p4p_costs_msg {
  char              version[P4P_NAME_MAX];
  struct p4p_matrix costs;
};

/* guidance: a default weight matrix (optional) plus per-swarm matrices.
 * Rows are peering probabilities; a row need not be normalized on the wire,
 * readers normalize it.  A row of all zeros means "no guidance for PID i". */
struct p4p_swarm_guidance {
  uint8_t           info_hash[P4P_HASH_SIZE];
  struct p4p_matrix weights;
};
struct p4p_guidance_msg {
  char                       version[P4P_NAME_MAX];
  int                        has_default;
  struct p4p_matrix          default_weights;
  size_t                     nswarms;
  struct p4p_swarm_guidance *swarms;
};

/* guidance request: per-swarm, per-PID statistics posted by the appTracker.
 * Rates are kbit/s; a negative rate means "unknown". */
struct p4p_pid_stats {
  char     pid[P4P_NAME_MAX];
  uint64_t seeders;
  uint64_t leechers;
  double   up_kbps;
  double   down_kbps;
};
struct p4p_swarm_stats {
  uint8_t               info_hash[P4P_HASH_SIZE];
  size_t                npids;
  struct p4p_pid_stats *pids;
};
struct p4p_stats_msg {
  size_t                  nswarms;
  struct p4p_swarm_stats *swarms;
};

/* capability interface: provider servers (caches, seeds) */
struct p4p_server {
  char     pid[P4P_NAME_MAX];
  char     kind[P4P_NAME_MAX]; /* "cache" or "seed" */
  uint8_t  addr[16];
  uint16_t port;
  uint64_t capacity_kbps;
};
struct p4p_capability_msg {
  size_t             nservers;
  struct p4p_server *servers;
};
/* capability request: allocate servers to a swarm */
struct p4p_capability_request {
  uint8_t info_hash[P4P_HASH_SIZE];
  char    pid[P4P_NAME_MAX]; /* "" = any PID */
  size_t  count;
};

/* error answer of any interface */
struct p4p_error_msg {
  int  status; /* HTTP status it travels with */
  char text[P4P_TEXT_MAX];
};

void proto_pidmap_msg_free(struct p4p_pidmap_msg *m);
void proto_lookup_msg_free(struct p4p_lookup_msg *m);
void proto_lookup_request_free(struct p4p_lookup_request *m);
void proto_matrix_free(struct p4p_matrix *m);
int  proto_matrix_alloc(struct p4p_matrix *m, size_t n); /* zeroed; 0 or -1 */
void proto_costs_msg_free(struct p4p_costs_msg *m);
void proto_guidance_msg_free(struct p4p_guidance_msg *m);
void proto_stats_msg_free(struct p4p_stats_msg *m);
void proto_capability_msg_free(struct p4p_capability_msg *m);

#endif
