/* Provider file parser (format: docs/ITRACKER.md, "Provider file").
 *
 * One statement per line: a keyword and its arguments separated by
 * blanks, '#' starts a comment.  Every error names source:line, and the
 * whole file is rejected: a half-read provider is never used. */
#include "provider.h"
#include "proto/file.h"
#include "proto/text.h"
#include "topology.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS      64
#define MAX_FILE_SIZE (16u << 20)

struct parse_ctx {
  const char         *source;
  unsigned            line;
  struct prov_config *p;
  char               *err;
  size_t              errlen;
};

static int fail(struct parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse_ctx *c, const char *fmt, ...) {
  char    msg[P4P_TEXT_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->err && c->errlen)
    snprintf(c->err, c->errlen, "%s:%u: %s", c->source, c->line, msg);
  return -1;
}

/* Grow *arr to hold n + 1 elements of size sz; the new one is zeroed. */
static void *append(void **arr, size_t *n, size_t sz) {
  char *a = realloc(*arr, (*n + 1) * sz);
  if (!a)
    return NULL;
  *arr = a;
  memset(a + *n * sz, 0, sz);
  return a + (*n)++ * sz;
}
#define APPEND(c, arr, n) append((void **)&(arr), &(n), sizeof *(arr))

static int copy_name(struct parse_ctx *c, char *dst, size_t dstlen, const char *s, const char *what) {
  size_t len = strlen(s);
  if (len == 0 || len >= dstlen)
    return fail(c, "%s '%.40s' must be 1..%zu bytes", what, s, dstlen - 1);
  for (const char *q = s; *q; q++)
    if (!isgraph((unsigned char)*q))
      return fail(c, "%s contains a non-printable byte", what);
  memcpy(dst, s, len + 1);
  return 0;
}

static int parse_double(struct parse_ctx *c, const char *s, const char *what, double min, double max, double *out) {
  char *end;
  errno    = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v))
    return fail(c, "%s: '%.40s' is not a number", what, s);
  if (v < min || v > max)
    return fail(c, "%s: %g is outside [%g, %g]", what, v, min, max);
  *out = v;
  return 0;
}

static int parse_uint(struct parse_ctx *c, const char *s, const char *what, unsigned long long min, unsigned long long max, unsigned long long *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)s[0]))
    return fail(c, "%s: '%.40s' is not a non-negative integer", what, s);
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return fail(c, "%s: '%.40s' is not a non-negative integer", what, s);
  if (v < min || v > max)
    return fail(c, "%s: %llu is outside [%llu, %llu]", what, v, min, max);
  *out = v;
  return 0;
}

static int prefix_contains(const struct p4p_prefix *pf, const uint8_t a[16]) {
  unsigned full = pf->bits / 8, rest = pf->bits % 8;
  if (memcmp(pf->addr, a, full))
    return 0;
  if (rest) {
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    if ((pf->addr[full] & mask) != (a[full] & mask))
      return 0;
  }
  return 1;
}

long prov_lookup(const struct prov_config *p, const uint8_t addr[16]) {
  long best      = -1;
  int  best_bits = -1;
  for (size_t i = 0; i < p->npids; i++)
    for (size_t k = 0; k < p->pids[i].nprefixes; k++) {
      const struct p4p_prefix *pf = &p->pids[i].prefixes[k];
      if (pf->bits > best_bits && prefix_contains(pf, addr)) {
        best      = (long)i;
        best_bits = pf->bits;
      }
    }
  return best;
}

long prov_pid_index(const struct prov_config *p, const char *name) {
  for (size_t i = 0; i < p->npids; i++)
    if (!strcmp(p->pids[i].name, name))
      return (long)i;
  return -1;
}

long prov_pop_index(const struct prov_config *p, const char *name) {
  for (size_t i = 0; i < p->npops; i++)
    if (!strcmp(p->pops[i].name, name))
      return (long)i;
  return -1;
}

static long link_index(const struct prov_config *p, size_t a, size_t b) {
  for (size_t l = 0; l < p->nlinks; l++)
    if ((p->links[l].a == a && p->links[l].b == b) || (p->links[l].a == b && p->links[l].b == a))
      return (long)l;
  return -1;
}

/* keyword handlers: argv[0] is the keyword */

static long need_pop(struct parse_ctx *c, const char *name) {
  long i = prov_pop_index(c->p, name);
  if (i < 0)
    fail(c, "unknown PoP '%.40s' (declare it with 'pop' first)", name);
  return i;
}

static int kw_pop(struct parse_ctx *c, int argc, char **argv) {
  if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "loc")))
    return fail(c, "usage: pop NAME [loc LAT,LON]");
  if (prov_pop_index(c->p, argv[1]) >= 0)
    return fail(c, "PoP '%.40s' declared twice", argv[1]);
  struct prov_pop_config *pop = APPEND(c, c->p->pops, c->p->npops);
  if (!pop)
    return fail(c, "out of memory");
  if (copy_name(c, pop->name, sizeof pop->name, argv[1], "PoP name"))
    return -1;
  if (argc == 4) {
    double lat, lon;
    char   extra;
    if (sscanf(argv[3], "%lf,%lf%c", &lat, &lon, &extra) != 2 || !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
      return fail(c, "loc '%.40s' is not LAT,LON in degrees", argv[3]);
    if (copy_name(c, pop->loc, sizeof pop->loc, argv[3], "loc"))
      return -1;
    pop->has_location = 1;
    pop->lat          = lat;
    pop->lon          = lon;
  }
  return 0;
}

static int kw_link(struct parse_ctx *c, int argc, char **argv) {
  if (argc < 3 || argc % 2 == 0)
    return fail(c, "usage: link POP POP capacity KBPS weight W "
                   "[background KBPS] [price P]");
  long a = need_pop(c, argv[1]), b;
  if (a < 0 || (b = need_pop(c, argv[2])) < 0)
    return -1;
  if (a == b)
    return fail(c, "link from PoP '%.40s' to itself", argv[1]);
  if (link_index(c->p, (size_t)a, (size_t)b) >= 0)
    return fail(c, "link %s-%s declared twice", argv[1], argv[2]);
  struct prov_link_config L        = {.a = (size_t)a, .b = (size_t)b, .price = -1};
  int                     have_cap = 0, have_weight = 0;
  for (int i = 3; i < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    int         rc;
    if (!strcmp(k, "capacity")) {
      rc       = parse_double(c, v, "capacity", 1e-3, 1e12, &L.capacity_kbps);
      have_cap = 1;
    } else if (!strcmp(k, "weight")) {
      unsigned long long w;
      rc           = parse_uint(c, v, "weight", 1, 2147483647ull, &w);
      L.igp_weight = (uint32_t)w;
      have_weight  = 1;
    } else if (!strcmp(k, "background")) {
      rc = parse_double(c, v, "background", 0, 1e12, &L.background_kbps);
    } else if (!strcmp(k, "price")) {
      rc = parse_double(c, v, "price", 0, 1e9, &L.price);
    } else {
      return fail(c, "unknown link attribute '%.40s'", k);
    }
    if (rc)
      return -1;
  }
  if (!have_cap || !have_weight)
    return fail(c, "link needs both capacity and weight");
  if (L.price < 0)
    L.price = L.igp_weight;
  struct prov_link_config *l = APPEND(c, c->p->links, c->p->nlinks);
  if (!l)
    return fail(c, "out of memory");
  *l = L;
  return 0;
}

static int kw_pid(struct parse_ctx *c, int argc, char **argv) {
  if (argc < 6 || strcmp(argv[2], "pop") || argc % 2)
    return fail(c, "usage: pid NAME pop POP prefix P [prefix P ...]");
  if (prov_pid_index(c->p, argv[1]) >= 0)
    return fail(c, "PID '%.40s' declared twice", argv[1]);
  long pop = need_pop(c, argv[3]);
  if (pop < 0)
    return -1;
  struct prov_pid_config *pid = APPEND(c, c->p->pids, c->p->npids);
  if (!pid)
    return fail(c, "out of memory");
  pid->pop = (size_t)pop;
  if (copy_name(c, pid->name, sizeof pid->name, argv[1], "PID name"))
    return -1;
  for (int i = 4; i < argc; i += 2) {
    if (strcmp(argv[i], "prefix"))
      return fail(c, "unknown pid attribute '%.40s'", argv[i]);
    struct p4p_prefix pf;
    int               rc = proto_prefix_parse(argv[i + 1], &pf);
    if (rc == -2)
      return fail(c, "prefix '%.60s' has host bits set", argv[i + 1]);
    if (rc)
      return fail(c, "'%.60s' is not a prefix ADDR/BITS", argv[i + 1]);
    /* the same prefix in two PIDs would make lookups ambiguous */
    for (size_t j = 0; j < c->p->npids; j++)
      for (size_t k = 0; k < c->p->pids[j].nprefixes; k++)
        if (c->p->pids[j].prefixes[k].bits == pf.bits && !memcmp(c->p->pids[j].prefixes[k].addr, pf.addr, 16))
          return fail(c, "prefix %.60s already belongs to PID %s", argv[i + 1], c->p->pids[j].name);
    struct p4p_prefix *slot = APPEND(c, pid->prefixes, pid->nprefixes);
    if (!slot)
      return fail(c, "out of memory");
    *slot = pf;
  }
  return 0;
}

static int kw_access_class(struct parse_ctx *c, int argc, char **argv) {
  if (argc != 8 || strcmp(argv[2], "down") || strcmp(argv[4], "up") || strcmp(argv[6], "share"))
    return fail(c, "usage: access-class NAME down KBPS up KBPS share F");
  for (size_t i = 0; i < c->p->nclasses; i++)
    if (!strcmp(c->p->classes[i].name, argv[1]))
      return fail(c, "access class '%.40s' declared twice", argv[1]);
  struct prov_access_class a;
  memset(&a, 0, sizeof a);
  if (copy_name(c, a.name, sizeof a.name, argv[1], "class name") || parse_double(c, argv[3], "down", 0, 1e9, &a.down_kbps) ||
      parse_double(c, argv[5], "up", 0, 1e9, &a.up_kbps) || parse_double(c, argv[7], "share", 1e-9, 1e9, &a.share))
    return -1;
  struct prov_access_class *slot = APPEND(c, c->p->classes, c->p->nclasses);
  if (!slot)
    return fail(c, "out of memory");
  *slot = a;
  return 0;
}

static int kw_server(struct parse_ctx *c, int argc, char **argv) {
  if (argc != 7 || strcmp(argv[5], "capacity"))
    return fail(c, "usage: server PID cache|seed ADDR PORT capacity KBPS");
  if (prov_pid_index(c->p, argv[1]) < 0)
    return fail(c, "server in unknown PID '%.40s'", argv[1]);
  if (strcmp(argv[2], "cache") && strcmp(argv[2], "seed"))
    return fail(c, "server kind '%.40s' is neither cache nor seed", argv[2]);
  struct p4p_server s;
  memset(&s, 0, sizeof s);
  unsigned long long port, cap;
  snprintf(s.pid, sizeof s.pid, "%s", argv[1]);
  snprintf(s.kind, sizeof s.kind, "%s", argv[2]);
  if (proto_addr_parse(argv[3], s.addr))
    return fail(c, "server address '%.60s' is not IPv4 or IPv6", argv[3]);
  if (parse_uint(c, argv[4], "port", 1, 65535, &port) || parse_uint(c, argv[6], "capacity", 1, 1000000000000ull, &cap))
    return -1;
  s.port                  = (uint16_t)port;
  s.capacity_kbps         = cap;
  struct p4p_server *slot = APPEND(c, c->p->servers, c->p->nservers);
  if (!slot)
    return fail(c, "out of memory");
  *slot = s;
  return 0;
}

static int kw_client(struct parse_ctx *c, int argc, char **argv) {
  if (argc != 6 || strcmp(argv[2], "token") || strcmp(argv[4], "allow"))
    return fail(c, "usage: client NAME token TOKEN allow LIST");
  struct prov_client cl;
  memset(&cl, 0, sizeof cl);
  if (copy_name(c, cl.name, sizeof cl.name, argv[1], "client name") || copy_name(c, cl.token, sizeof cl.token, argv[3], "token"))
    return -1;
  if (strlen(cl.token) < 16)
    return fail(c, "token of client '%s' is shorter than 16 bytes", cl.name);
  /* "metrics" is the daemon's own page, not a P4P interface ("all" does
   * not include it): take it out of the list before the interfaces */
  char   list[256];
  size_t n = 0;
  if (strlen(argv[5]) >= sizeof list)
    return fail(c, "allow list too long");
  for (const char *w = argv[5]; *w;) {
    size_t len = strcspn(w, ",");
    if (len == 7 && !strncmp(w, "metrics", 7))
      cl.metrics = 1;
    else if (len) {
      memcpy(list + n, w, len);
      n += len;
      list[n++] = ',';
    }
    w += len;
    w += *w == ',';
  }
  list[n ? n - 1 : 0] = 0;
  if (n && proto_parse_interfaces(list, &cl.interfaces))
    return fail(c,
                "allow list '%.60s': use info,policy,guidance,capability "
                "or all, and metrics",
                argv[5]);
  if (!n && !cl.metrics)
    return fail(c, "allow list of client '%s' is empty", cl.name);
  for (size_t i = 0; i < c->p->nclients; i++) {
    if (!strcmp(c->p->clients[i].name, cl.name))
      return fail(c, "client '%s' declared twice", cl.name);
    if (!strcmp(c->p->clients[i].token, cl.token))
      return fail(c, "client '%s' reuses the token of '%s'", cl.name, c->p->clients[i].name);
  }
  struct prov_client *slot = APPEND(c, c->p->clients, c->p->nclients);
  if (!slot)
    return fail(c, "out of memory");
  *slot = cl;
  return 0;
}

static int kw_avoid_link(struct parse_ctx *c, int argc, char **argv) {
  if (argc != 7 || strcmp(argv[3], "hours") || strcmp(argv[5], "factor"))
    return fail(c, "usage: avoid-link POP POP hours FROM-TO factor F");
  long a = need_pop(c, argv[1]), b;
  if (a < 0 || (b = need_pop(c, argv[2])) < 0)
    return -1;
  long l = link_index(c->p, (size_t)a, (size_t)b);
  if (l < 0)
    return fail(c, "no link %s-%s to avoid", argv[1], argv[2]);
  struct prov_avoid_policy av = {.link = (size_t)l};
  char                     extra;
  if (sscanf(argv[4], "%d-%d%c", &av.from_hour, &av.to_hour, &extra) != 2 || av.from_hour < 0 || av.from_hour > 23 || av.to_hour < 1 || av.to_hour > 24 ||
      av.from_hour == av.to_hour)
    return fail(c,
                "hours '%.40s' must be FROM-TO with 0<=FROM<=23, "
                "1<=TO<=24, FROM!=TO",
                argv[4]);
  if (parse_double(c, argv[6], "factor", 1, 1e6, &av.factor))
    return -1;
  struct prov_avoid_policy *slot = APPEND(c, c->p->avoid, c->p->navoid);
  if (!slot)
    return fail(c, "out of memory");
  *slot = av;
  return 0;
}

/* single-value daemon settings */
static int kw_setting(struct parse_ctx *c, int argc, char **argv) {
  static const struct {
    const char        *key;
    size_t             off, size;
    unsigned long long min, max;
  } keys[] = {
#define S(k, f, lo, hi) {k, offsetof(struct prov_daemon_settings, f), sizeof(((struct prov_daemon_settings *)0)->f), lo, hi}
      S("max-optimized-swarms", max_optimized_swarms, 0, 100000),
      S("resolve-interval", resolve_interval_s, 1, 86400),
      S("max-age", max_age_s, 0, 604800),
      S("max-body", max_body_bytes, 1024, 64u << 20),
      S("connection-timeout", connection_timeout_s, 1, 3600),
      S("max-tracked-swarms", max_tracked_swarms, 1, 10000000),
      S("swarm-expiry", swarm_expiry_s, 1, 7 * 86400),
      S("first-solve-wait-ms", first_solve_wait_ms, 0, 60000),
      /* one thread and descriptor per connection: bounded well below the
       * kernel's limits */
      S("max-connections", max_connections, 1, 20000),
      S("max-connections-per-ip", max_connections_per_ip, 1, 20000),
      S("request-deadline", request_deadline_s, 1, 3600),
      S("response-deadline", response_deadline_s, 1, 86400),
      S("max-body-total", max_body_total, 1024, 16ull << 30),
      S("max-swarms-per-client", max_swarms_per_client, 1, 10000000),
      S("max-allocations", max_allocations, 1, 10000000),
      S("max-allocations-per-client", max_allocations_per_client, 1, 10000000),
      S("allocation-expiry", allocation_expiry_s, 1, 7 * 86400),
      S("alto-max-streams", alto_max_streams, 0, 1000),
#undef S
  };
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    if (strcmp(argv[0], keys[k].key))
      continue;
    if (argc != 2)
      return fail(c, "usage: %s N", keys[k].key);
    unsigned long long v;
    if (parse_uint(c, argv[1], keys[k].key, keys[k].min, keys[k].max, &v))
      return -1;
    char *field = (char *)&c->p->daemon + keys[k].off;
    if (keys[k].size == sizeof(size_t)) {
      size_t s = (size_t)v;
      memcpy(field, &s, sizeof s);
    } else {
      unsigned u = (unsigned)v;
      memcpy(field, &u, sizeof u);
    }
    return 0;
  }
  return 1; /* not a setting */
}

static int kw_statement(struct parse_ctx *c, int argc, char **argv) {
  struct prov_config *p = c->p;
  const char         *k = argv[0];
  unsigned long long  v;
  if (!strcmp(k, "provider")) {
    if (argc != 2)
      return fail(c, "usage: provider NAME");
    return copy_name(c, p->name, sizeof p->name, argv[1], "provider name");
  }
  if (!strcmp(k, "asid")) {
    if (argc != 2 || parse_uint(c, argv[1], "asid", 1, 4294967295ull, &v))
      return argc != 2 ? fail(c, "usage: asid N") : -1;
    p->asid = (uint32_t)v;
    return 0;
  }
  if (!strcmp(k, "version")) {
    if (argc != 2)
      return fail(c, "usage: version TOKEN");
    return copy_name(c, p->version, sizeof p->version, argv[1], "version");
  }
  if (!strcmp(k, "alto-network-map")) {
    /* RFC 7285 10.2: resource ids are A-Z a-z 0-9 - : @ _ . */
    if (argc != 2 || strspn(argv[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:@_.") != strlen(argv[1]))
      return fail(c, "usage: alto-network-map ID (letters, digits, - : @ _ .)");
    return copy_name(c, p->daemon.alto_network_map, sizeof p->daemon.alto_network_map, argv[1], "ALTO network map id");
  }
  if (!strcmp(k, "pop"))
    return kw_pop(c, argc, argv);
  if (!strcmp(k, "link"))
    return kw_link(c, argc, argv);
  if (!strcmp(k, "pid"))
    return kw_pid(c, argc, argv);
  if (!strcmp(k, "access-class"))
    return kw_access_class(c, argc, argv);
  if (!strcmp(k, "server"))
    return kw_server(c, argc, argv);
  if (!strcmp(k, "client"))
    return kw_client(c, argc, argv);
  if (!strcmp(k, "avoid-link"))
    return kw_avoid_link(c, argc, argv);
  if (!strcmp(k, "listen")) {
    if (argc != 3)
      return fail(c, "usage: listen ADDR PORT");
    if (copy_name(c, p->daemon.listen_addr, sizeof p->daemon.listen_addr, argv[1], "listen address") || parse_uint(c, argv[2], "port", 0, 65535, &v))
      return -1;
    p->daemon.port = (uint16_t)v;
    return 0;
  }
  if (!strcmp(k, "tls")) {
    if (argc != 3)
      return fail(c, "usage: tls CERT.pem KEY.pem");
    if (strlen(argv[1]) >= P4P_PATH_MAX || strlen(argv[2]) >= P4P_PATH_MAX)
      return fail(c, "tls path too long");
    strcpy(p->daemon.tls_cert, argv[1]);
    strcpy(p->daemon.tls_key, argv[2]);
    p->daemon.tls_line = c->line;
    return 0;
  }
  int rc = kw_setting(c, argc, argv);
  if (rc <= 0)
    return rc;
  return fail(c, "unknown keyword '%.40s'", k);
}

/* whole-file checks that no single line can make */
static int check_complete(struct parse_ctx *c) {
  struct prov_config *p = c->p;
  if (p->daemon.max_body_total < p->daemon.max_body_bytes)
    return fail(c, "max-body-total (%zu) must be at least max-body (%zu), or no full-size request could be read", p->daemon.max_body_total,
                p->daemon.max_body_bytes);
  if (!p->npops)
    return fail(c, "no 'pop' declared");
  if (!p->npids)
    return fail(c, "no 'pid' declared");
  if (!p->asid)
    return fail(c, "no 'asid' declared");
  for (size_t i = 0; i < p->npids; i++)
    if (!strncmp(p->pids[i].name, p->pops[p->pids[i].pop].name, strlen(p->pops[p->pids[i].pop].name)))
      /* PIDs are published; a PoP name inside one would leak topology */
      return fail(c,
                  "PID '%s' starts with its PoP's name; PIDs must be "
                  "opaque",
                  p->pids[i].name);
  if (!p->version[0])
    snprintf(p->version, sizeof p->version, "1");
  if (!p->name[0])
    snprintf(p->name, sizeof p->name, "provider");
  return 0;
}

static void set_defaults(struct prov_config *p) {
  struct prov_daemon_settings *d = &p->daemon;
  snprintf(d->listen_addr, sizeof d->listen_addr, "127.0.0.1");
  d->port                 = 6671;
  d->max_optimized_swarms = 500;
  d->resolve_interval_s   = 30;
  d->max_age_s            = 300;
  d->max_body_bytes       = 1u << 20;
  d->connection_timeout_s = 10;
  snprintf(d->alto_network_map, sizeof d->alto_network_map, "default-network-map");
  d->alto_max_streams           = 16;
  d->max_tracked_swarms         = 100000;
  d->swarm_expiry_s             = 3600;
  d->first_solve_wait_ms        = 2000;
  /* the reasons are in docs/ITRACKER.md, "Hostile clients" */
  d->max_connections            = 1024;
  d->max_connections_per_ip     = 16;
  d->request_deadline_s         = 10;
  d->response_deadline_s        = 60;
  d->max_body_total             = 64u << 20;
  d->max_swarms_per_client      = 10000;
  d->max_allocations            = 65536;
  d->max_allocations_per_client = 4096;
  d->allocation_expiry_s        = 3600;
}

int prov_parse(const char *text, size_t len, const char *source, struct prov_config *out, char *err, size_t errlen) {
  struct parse_ctx c = {.source = source ? source : "<provider>", .p = out, .err = err, .errlen = errlen};
  memset(out, 0, sizeof *out);
  set_defaults(out);
  size_t pos = 0;
  int    rc  = 0;
  while (pos < len && rc == 0) {
    c.line++;
    size_t eol = pos;
    while (eol < len && text[eol] != '\n')
      eol++;
    size_t linelen = eol - pos;
    if (linelen > 8192) {
      rc = fail(&c, "line longer than 8192 bytes");
      break;
    }
    char line[8193];
    memcpy(line, text + pos, linelen);
    line[linelen] = 0;
    pos           = eol + 1;
    if (memchr(line, 0, linelen)) {
      rc = fail(&c, "NUL byte in line");
      break;
    }
    char *hash = strchr(line, '#');
    if (hash)
      *hash = 0;
    char *argv[MAX_ARGS];
    int   argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
      if (argc == MAX_ARGS) {
        rc = fail(&c, "more than %d words on one line", MAX_ARGS);
        break;
      }
      argv[argc++] = tok;
    }
    if (rc == 0 && argc > 0)
      rc = kw_statement(&c, argc, argv);
  }
  if (rc == 0)
    rc = check_complete(&c);
  if (rc) {
    prov_free(out);
    return -1;
  }
  return 0;
}

int prov_load(const char *path, struct prov_config *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char  *buf;
  size_t len;
  if (proto_read_file(path, MAX_FILE_SIZE, &buf, &len, err, errlen))
    return -1;
  int rc = prov_parse(buf, len, path, out, err, errlen);
  free(buf);
  return rc;
}

void prov_free(struct prov_config *p) {
  for (size_t i = 0; i < p->npids; i++)
    free(p->pids[i].prefixes);
  free(p->pops);
  free(p->links);
  free(p->pids);
  free(p->classes);
  free(p->servers);
  /* tokens are secrets: do not leave them in freed heap */
  if (p->clients)
    explicit_bzero(p->clients, p->nclients * sizeof *p->clients);
  free(p->clients);
  free(p->avoid);
  memset(p, 0, sizeof *p);
}

void prov_mean_access(const struct prov_config *p, double *down_kbps, double *up_kbps) {
  /* Bharambe et al. 2006 mix used by the paper's evaluation */
  static const struct prov_access_class paper[] = {
      {"", 784, 128, 0.20},
      {"", 1500, 384, 0.40},
      {"", 3000, 1000, 0.25},
      {"", 10000, 5000, 0.15},
  };
  const struct prov_access_class *cls = p->nclasses ? p->classes : paper;
  size_t                          n   = p->nclasses ? p->nclasses : sizeof paper / sizeof paper[0];
  double                          d = 0, u = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    d += cls[i].share * cls[i].down_kbps;
    u += cls[i].share * cls[i].up_kbps;
    s += cls[i].share;
  }
  *down_kbps = d / s;
  *up_kbps   = u / s;
}

double prov_link_factor(const struct prov_config *p, size_t l, int hour) {
  double f = 1;
  for (size_t i = 0; i < p->navoid; i++) {
    const struct prov_avoid_policy *a = &p->avoid[i];
    if (a->link != l)
      continue;
    int active = a->from_hour < a->to_hour ? (hour >= a->from_hour && hour < a->to_hour) : (hour >= a->from_hour || hour < a->to_hour);
    if (active)
      f *= a->factor;
  }
  return f;
}

int prov_build_topology(const struct prov_config *p, struct prov_topology *t, char *err, size_t errlen) {
  for (size_t i = 0; i < p->npops; i++) {
    const struct prov_pop_config *pop = &p->pops[i];
    if (prov_topology_add_pop(t, pop->name, pop->has_location, pop->lat, pop->lon, err, errlen) != (int)i)
      goto fail;
  }
  for (size_t l = 0; l < p->nlinks; l++) {
    const struct prov_link_config *L    = &p->links[l];
    struct prov_link_spec          spec = {
                 .capacity_kbps = L->capacity_kbps, .igp_weight = L->igp_weight, .background_kbps = L->background_kbps, .delay_ms = -1, .length_km = -1};
    if (prov_topology_add_duplex(t, (int)L->a, (int)L->b, &spec, err, errlen) != (int)(2 * l))
      goto fail;
  }
  if (prov_topology_finish(t, err, errlen))
    goto fail;
  return 0;
fail:
  prov_topology_free(t);
  return -1;
}

void prov_link_mults(const struct prov_config *p, int hour, double *mult) {
  for (size_t l = 0; l < p->nlinks; l++)
    mult[2 * l] = mult[2 * l + 1] = prov_link_factor(p, l, hour);
}

int prov_pop_costs(const struct prov_config *p, const struct prov_topology *t, int hour, double *out, char *err, size_t errlen) {
  double *price = malloc((2 * p->nlinks + 1) * sizeof *price);
  if (!price) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t l = 0; l < p->nlinks; l++)
    price[2 * l] = price[2 * l + 1] = p->links[l].price * prov_link_factor(p, l, hour);
  int rc = prov_topology_route_costs(t, price, out, err, errlen);
  free(price);
  return rc;
}
