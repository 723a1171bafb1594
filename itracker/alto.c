/* ALTO server: the IRD and the RFC 7285 resources over the provider's PID
 * map, routes and p-distances, plus P4P guidance as a priv: cost map.
 * Everything here is computed from read-only portal data or from the
 * solver's published snapshot; JSON goes through proto/alto.h. */
#include "alto.h"

#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "metrics.h"
#include "provider/pdistance.h"
#include "provider/pidrows.h"

/* Addresses outside every provider PID still need a PID: RFC 7285 11.2.2
 * requires a complete map.  '@' never appears in provider PID names (the
 * provider file refuses it), so this one cannot clash. */
#define OUTSIDE_PID "p4p@outside"
#define GUIDANCE_ID "p4p-guidance"

enum kind {
  K_IRD,
  K_NETMAP,
  K_NETMAP_FILTER,
  K_COSTMAP,
  K_COSTMAP_FILTER,
  K_PROP,
  K_ECS,
  K_GUIDANCE,
  K_GUIDANCE_POST,
  K_UPDATES,
  K_CONTROL,
};

/* cost types of the IRD's meta/cost-types */
enum ctype { CT_NUM_ROUTING, CT_ORD_ROUTING, CT_NUM_PDISTANCE, CT_NUM_GUIDANCE, CT_COUNT };
static const struct {
  const char                 *name;
  struct proto_alto_cost_type t;
  const char                 *description;
} cost_types[CT_COUNT] = {
    {"num-routing", {"routingcost", "numerical"}, "IGP route cost: sum of the links' IGP weights"},
    {"ord-routing", {"routingcost", "ordinal"}, "ranks of the IGP route costs, 1 = cheapest"},
    {"num-pdistance", {PROTO_ALTO_METRIC_PDISTANCE, "numerical"}, "P4P p-distance now: normalized price of the route, 0..100"},
    {"num-guidance", {PROTO_ALTO_METRIC_GUIDANCE, "numerical"}, "P4P peering weights: higher = preferred, rows are probabilities"},
};

struct resource {
  enum kind   kind;
  const char *id; /* NULL: the network map's configured id */
  const char *path;
  int         post;
  const char *media;
  const char *accepts;
  unsigned    iface; /* P4P_IF_* the client needs; 0 = any client */
  int         ctype; /* GET cost maps: their cost type; else -1 */
};

static const struct resource resources[] = {
    {K_NETMAP, NULL, "/alto/networkmap", 0, PROTO_ALTO_MT_NETWORKMAP, NULL, P4P_IF_INFO, -1},
    {K_NETMAP_FILTER, "filtered-network-map", "/alto/networkmap/filtered", 1, PROTO_ALTO_MT_NETWORKMAP, PROTO_ALTO_MT_NETWORKMAPFILTER, P4P_IF_INFO, -1},
    {K_COSTMAP, "numerical-routing-cost-map", "/alto/costmap/num/routingcost", 0, PROTO_ALTO_MT_COSTMAP, NULL, P4P_IF_POLICY, CT_NUM_ROUTING},
    {K_COSTMAP, "ordinal-routing-cost-map", "/alto/costmap/ord/routingcost", 0, PROTO_ALTO_MT_COSTMAP, NULL, P4P_IF_POLICY, CT_ORD_ROUTING},
    {K_COSTMAP, "p4p-pdistance-cost-map", "/alto/costmap/num/pdistance", 0, PROTO_ALTO_MT_COSTMAP, NULL, P4P_IF_POLICY, CT_NUM_PDISTANCE},
    {K_COSTMAP_FILTER, "filtered-cost-map", "/alto/costmap/filtered", 1, PROTO_ALTO_MT_COSTMAP, PROTO_ALTO_MT_COSTMAPFILTER, P4P_IF_POLICY, -1},
    {K_PROP, "endpoint-property", "/alto/endpointprop/lookup", 1, PROTO_ALTO_MT_ENDPOINTPROP, PROTO_ALTO_MT_ENDPOINTPROPPARAMS, P4P_IF_INFO, -1},
    {K_ECS, "endpoint-cost", "/alto/endpointcost/lookup", 1, PROTO_ALTO_MT_ENDPOINTCOST, PROTO_ALTO_MT_ENDPOINTCOSTPARAMS, P4P_IF_POLICY, -1},
    {K_GUIDANCE, GUIDANCE_ID, "/alto/guidance", 0, PROTO_ALTO_MT_COSTMAP, NULL, P4P_IF_GUIDANCE, CT_NUM_GUIDANCE},
    {K_GUIDANCE_POST, "p4p-guidance-stats", "/alto/guidance", 1, PROTO_ALTO_MT_COSTMAP, PROTO_ALTO_MT_COSTMAPFILTER, P4P_IF_GUIDANCE, -1},
    {K_UPDATES, "update-stream", "/alto/updates", 1, PROTO_ALTO_MT_EVENT_STREAM, PROTO_ALTO_MT_UPDATESTREAMPARAMS, 0, -1},
};
#define NRES           (sizeof resources / sizeof resources[0])
#define CONTROL_PREFIX "/alto/updates/streams/"

static const struct resource ird_resource     = {K_IRD, "directory", "/directory", 0, PROTO_ALTO_MT_DIRECTORY, NULL, 0, -1};
static const struct resource control_resource = {K_CONTROL, "stream-control", CONTROL_PREFIX, 1, "application/json", PROTO_ALTO_MT_UPDATESTREAMPARAMS, 0, -1};

struct alto_server {
  struct portal         *p;
  struct solver         *s;
  const char            *nm_id;
  struct p4p_pidmap_msg  map;   /* provider PIDs, then OUTSIDE_PID when needed */
  size_t                 nprov; /* provider PIDs: the first nprov of map */
  struct proto_alto_vtag nm_vtag;
  json_t                *netmap;
  double                *routing; /* PoP x PoP IGP route costs, NaN: unreachable */
  struct alto_streams   *streams;
};

struct alto_request {
  const struct resource *res;
  unsigned               mask; /* the client's interfaces */
  struct itr_client      who;  /* whose quotas its posts count against */
  char                   stream[PROTO_ALTO_ID_MAX];
};

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static const char *res_id(const struct alto_server *a, const struct resource *r) { return r->id ? r->id : a->nm_id; }

/* ---- replies ------------------------------------------------------------ */

static enum MHD_Result queue(struct MHD_Connection *c, int status, const char *type, char *body, size_t len, const char *etag, int max_age, const char *xname,
                             const char *xvalue) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : "", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  char cc[40];
  if (max_age >= 0 && status < 400)
    snprintf(cc, sizeof cc, "max-age=%d", max_age);
  else
    snprintf(cc, sizeof cc, "no-store");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
  if (etag && *etag)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
  if (xname)
    MHD_add_response_header(resp, xname, xvalue);
  itr_metrics_note_response(ITR_ROUTE_ALTO, status);
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result refuse_with(struct MHD_Connection *c, int status, const char *text, const char *xname, const char *xvalue) {
  size_t len  = strlen(text);
  char  *body = malloc(len + 2);
  if (body) {
    memcpy(body, text, len);
    memcpy(body + len, "\n", 2);
  }
  return queue(c, status, "text/plain; charset=utf-8", body, body ? len + 1 : 0, NULL, -1, xname, xvalue);
}

enum MHD_Result alto_refuse(struct MHD_Connection *c, int status, const char *text) { return refuse_with(c, status, text, NULL, NULL); }

enum MHD_Result alto_refuse_retry(struct MHD_Connection *c, int status, const char *text, unsigned retry_s) {
  char secs[16];
  snprintf(secs, sizeof secs, "%u", retry_s);
  return refuse_with(c, status, text, "Retry-After", secs);
}

static enum MHD_Result refuse_auth(struct MHD_Connection *c, int status, const char *why, int bad_token) {
  char text[200];
  snprintf(text, sizeof text, "%s", why);
  if (status != 401)
    return alto_refuse(c, status, text);
  return queue(c, status, "text/plain; charset=utf-8", strdup(text), strlen(text), NULL, -1, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
               bad_token ? "Bearer realm=\"p4p\", error=\"invalid_token\"" : "Bearer realm=\"p4p\"");
}

enum MHD_Result alto_send_fault(struct MHD_Connection *c, const struct proto_alto_fault *f, const char *text) {
  const char *code = f && f->code ? f->code : PROTO_ALTO_E_SYNTAX;
  json_t     *doc  = proto_alto_error_json(code, f ? f->field : NULL, f ? f->value : NULL, !strcmp(code, PROTO_ALTO_E_SYNTAX) ? text : NULL);
  /* the human-readable reason for every code, as a private meta field */
  if (doc && text && *text)
    json_object_set_new(json_object_get(doc, "meta"), "priv:p4p-reason", json_string(text));
  return alto_send_json(c, 400, PROTO_ALTO_MT_ERROR, doc, NULL, -1);
}

enum MHD_Result alto_send_json(struct MHD_Connection *c, int status, const char *media_type, json_t *doc, const char *etag, int max_age) {
  size_t len  = 0;
  char  *body = doc ? proto_alto_dump(doc, &len) : NULL;
  json_decref(doc);
  if (!body)
    return alto_refuse(c, 503, "out of memory");
  char tag[40] = "";
  if (!etag && status == 200) {
    snprintf(tag, sizeof tag, "\"%016llx\"", (unsigned long long)fnv1a(body, len));
    etag = tag;
  }
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
  if (status == 200 && etag && inm && !strcmp(inm, etag)) {
    free(body);
    return queue(c, MHD_HTTP_NOT_MODIFIED, media_type, NULL, 0, etag, max_age, NULL, NULL);
  }
  return queue(c, status, media_type, body, len, status == 200 ? etag : NULL, max_age, NULL, NULL);
}

/* ---- building -------------------------------------------------------- */

static int cover_family(const struct p4p_pidmap_msg *m, int v4) {
  for (size_t i = 0; i < m->npids; i++)
    for (size_t k = 0; k < m->pids[i].nprefixes; k++)
      if (m->pids[i].prefixes[k].bits == (v4 ? 96 : 0) && (v4 ? m->pids[i].prefixes[k].addr[10] == 0xff : 1))
        return 1;
  return 0;
}

/* The provider's PIDs, plus a PID for what no prefix covers: 0.0.0.0/0
 * and ::/0, unless the provider's own map already has them. */
static int build_map(struct alto_server *a, char *err, size_t errlen) {
  if (prov_pidmap_msg(&a->p->prov, &a->map))
    return snprintf(err, errlen, "out of memory"), -1;
  a->nprov  = a->map.npids;
  int need4 = !cover_family(&a->map, 1), need6 = !cover_family(&a->map, 0);
  if (need4 || need6) {
    struct p4p_pid_entry *grown = realloc(a->map.pids, (a->map.npids + 1) * sizeof *grown);
    if (!grown)
      return snprintf(err, errlen, "out of memory"), -1;
    a->map.pids              = grown;
    struct p4p_pid_entry *op = &a->map.pids[a->map.npids++];
    memset(op, 0, sizeof *op);
    snprintf(op->name, sizeof op->name, OUTSIDE_PID);
    op->asid     = a->p->prov.asid;
    op->prefixes = calloc(2, sizeof *op->prefixes);
    if (!op->prefixes)
      return snprintf(err, errlen, "out of memory"), -1;
    if (need4) {
      op->prefixes[op->nprefixes].addr[10] = op->prefixes[op->nprefixes].addr[11] = 0xff;
      op->prefixes[op->nprefixes++].bits                                          = 96;
    }
    if (need6)
      op->prefixes[op->nprefixes++].bits = 0;
  }
  /* the tag is a hash of the map's data, so it changes whenever the map
   * does (6.3) and never otherwise */
  snprintf(a->nm_vtag.rid, sizeof a->nm_vtag.rid, "%s", a->nm_id);
  snprintf(a->nm_vtag.tag, sizeof a->nm_vtag.tag, "x");
  json_t *doc  = proto_alto_networkmap_json(&a->map, &a->nm_vtag, NULL, 3);
  size_t  len  = 0;
  char   *text = doc ? proto_alto_dump(json_object_get(doc, "network-map"), &len) : NULL;
  json_decref(doc);
  if (!text)
    return snprintf(err, errlen, "cannot encode the network map"), -1;
  snprintf(a->nm_vtag.tag, sizeof a->nm_vtag.tag, "%016llx", (unsigned long long)fnv1a(text, len));
  free(text);
  if (!(a->netmap = proto_alto_networkmap_json(&a->map, &a->nm_vtag, NULL, 3)))
    return snprintf(err, errlen, "cannot encode the network map"), -1;
  return 0;
}

static int build_routing(struct alto_server *a, char *err, size_t errlen) {
  size_t n = a->p->prov.npops;
  if (!(a->routing = malloc((n * n + 1) * sizeof *a->routing)))
    return snprintf(err, errlen, "out of memory"), -1;
  if (prov_topology_route_costs(&a->p->topo, NULL, a->routing, err, errlen))
    return -1;
  for (size_t k = 0; k < n * n; k++)
    if (!isfinite(a->routing[k]))
      a->routing[k] = NAN;
  return 0;
}

struct alto_server *alto_start(struct portal *p, struct solver *s, char *err, size_t errlen) {
  struct alto_server *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  a->p     = p;
  a->s     = s;
  a->nm_id = p->prov.daemon.alto_network_map;
  if (build_map(a, err, errlen) || build_routing(a, err, errlen)) {
    alto_stop(a);
    return NULL;
  }
  if (p->prov.daemon.alto_max_streams && !(a->streams = alto_streams_new(a, p->prov.daemon.alto_max_streams))) {
    snprintf(err, errlen, "cannot start the ALTO update streams");
    alto_stop(a);
    return NULL;
  }
  return a;
}

void alto_quiesce(struct alto_server *a) {
  if (a && a->streams)
    alto_streams_quiesce(a->streams);
}

void alto_stop(struct alto_server *a) {
  if (!a)
    return;
  alto_streams_free(a->streams);
  proto_pidmap_msg_free(&a->map);
  json_decref(a->netmap);
  free(a->routing);
  free(a);
}

/* ---- costs -------------------------------------------------------------- */

/* Cost of PID i to PID j (map indexes) in a metric at an hour; NaN when
 * undefined (the outside PID, unreachable PoPs). */
static double pid_cost(const struct alto_server *a, int ctype, int hour, size_t i, size_t j) {
  if (i >= a->nprov || j >= a->nprov)
    return NAN;
  const struct prov_config *pr = &a->p->prov;
  size_t                    P = pr->pids[i].pop, Q = pr->pids[j].pop, n = pr->npops;
  if (ctype == CT_NUM_PDISTANCE) {
    double v = a->p->pop_cost[hour][P * n + Q];
    return v >= PROV_COST_UNREACHABLE ? NAN : v;
  }
  return a->routing[P * n + Q];
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Ordinal mode: each defined value becomes its dense rank among them, 1 for
 * the cheapest (6.1.2.2: ranks relative to the entries returned). */
static int rank_values(double *v, size_t n) {
  double *sorted = malloc((n + 1) * sizeof *sorted);
  size_t  m      = 0;
  if (!sorted)
    return -1;
  for (size_t k = 0; k < n; k++)
    if (!isnan(v[k]))
      sorted[m++] = v[k];
  qsort(sorted, m, sizeof *sorted, cmp_double);
  size_t u = 0;
  for (size_t k = 0; k < m; k++)
    if (!u || sorted[k] != sorted[u - 1])
      sorted[u++] = sorted[k];
  for (size_t k = 0; k < n; k++)
    if (!isnan(v[k])) {
      double *at = bsearch(&v[k], sorted, u, sizeof *sorted, cmp_double);
      v[k]       = (double)(at - sorted) + 1;
    }
  free(sorted);
  return 0;
}

static int find_ctype(const struct proto_alto_cost_type *t, int allow_guidance) {
  for (int k = 0; k < CT_COUNT; k++)
    if ((k != CT_NUM_GUIDANCE || allow_guidance) && !strcmp(cost_types[k].t.metric, t->metric) && !strcmp(cost_types[k].t.mode, t->mode))
      return k;
  return -1;
}

/* The values of a cost request: PIDs src x dst (map indexes), ranked when
 * ordinal, cells failing a constraint dropped (NaN). */
static double *cost_values(const struct alto_server *a, int ctype, size_t ns, const size_t *src, size_t nd, const size_t *dst,
                           const struct proto_alto_cost_filter *cf) {
  double *v    = malloc((ns * nd + 1) * sizeof *v);
  int     hour = portal_hour(a->p);
  if (!v)
    return NULL;
  for (size_t i = 0; i < ns; i++)
    for (size_t j = 0; j < nd; j++)
      v[i * nd + j] = pid_cost(a, ctype, hour, src[i], dst[j]);
  if (!strcmp(cost_types[ctype].t.mode, "ordinal") && rank_values(v, ns * nd)) {
    free(v);
    return NULL;
  }
  for (size_t k = 0; cf && k < ns * nd; k++)
    if (!isnan(v[k]) && !proto_alto_constraints_hold(cf, v[k]))
      v[k] = NAN;
  return v;
}

static json_t *cost_map_doc(const struct alto_server *a, int ctype, size_t ns, const size_t *src, size_t nd, const size_t *dst,
                            const struct proto_alto_cost_filter *cf) {
  double      *v  = cost_values(a, ctype, ns, src, nd, dst, cf);
  const char **sn = malloc((ns + 1) * sizeof *sn), **dn = malloc((nd + 1) * sizeof *dn);
  json_t      *doc = NULL;
  if (v && sn && dn) {
    for (size_t i = 0; i < ns; i++)
      sn[i] = a->map.pids[src[i]].name;
    for (size_t j = 0; j < nd; j++)
      dn[j] = a->map.pids[dst[j]].name;
    doc = proto_alto_costmap_json(&a->nm_vtag, &cost_types[ctype].t, proto_alto_cost_rows(ns, sn, nd, dn, v));
  }
  free(v);
  free(sn);
  free(dn);
  return doc;
}

static long pid_index(const struct alto_server *a, const char *name) {
  for (size_t i = 0; i < a->map.npids; i++)
    if (!strcmp(a->map.pids[i].name, name))
      return (long)i;
  return -1;
}

/* Map indexes of named PIDs (unknown names dropped: 11.3.1.6); all when
 * the list is empty.  *n = how many. */
static size_t *pick_pids(const struct alto_server *a, const struct proto_alto_names *names, size_t *n) {
  size_t *out = malloc((a->map.npids + 1) * sizeof *out);
  *n          = 0;
  if (!out)
    return NULL;
  if (!names || !names->n) {
    for (size_t i = 0; i < a->map.npids; i++)
      out[(*n)++] = i;
    return out;
  }
  for (size_t k = 0; k < names->n; k++) {
    long i = pid_index(a, names->v[k]);
    if (i >= 0)
      out[(*n)++] = (size_t)i;
  }
  return out;
}

/* The PID of an address by longest prefix (11.2.2), the outside PID when
 * no provider prefix holds it. */
static size_t addr_pid(const struct alto_server *a, const uint8_t addr[16]) {
  long pid = prov_lookup(&a->p->prov, addr);
  return pid >= 0 ? (size_t)pid : a->nprov; /* nprov: the outside PID, if any */
}

static int max_age_costs(const struct alto_server *a, int ctype) {
  int max_age = (int)a->p->prov.daemon.max_age_s;
  if (ctype == CT_NUM_PDISTANCE && a->p->fixed_hour < 0) {
    int left = 3600 - (int)(time(NULL) % 3600); /* p-distances follow the hour */
    if (left < max_age)
      max_age = left;
  }
  return max_age;
}

/* ---- the IRD ------------------------------------------------------------ */

static json_t *ird_doc(const struct alto_server *a, unsigned mask) {
  json_t *types = json_object(), *res = json_object();
  for (int k = 0; k < CT_COUNT; k++)
    json_object_set_new(
        types, cost_types[k].name,
        json_pack("{ssssss}", "cost-mode", cost_types[k].t.mode, "cost-metric", cost_types[k].t.metric, "description", cost_types[k].description));
  json_t *meta = json_pack("{so}", "cost-types", types);
  if (mask & P4P_IF_INFO)
    json_object_set_new(meta, "default-alto-network-map", json_string(a->nm_id));
  json_t *streamed = json_array(), *icm = json_object();
  for (size_t k = 0; k < NRES; k++) {
    const struct resource *r = &resources[k];
    if ((r->iface & mask) != r->iface || (r->kind == K_UPDATES && !a->streams))
      continue;
    json_t *e = json_pack("{ssss}", "uri", r->path, "media-type", r->media);
    if (r->accepts)
      json_object_set_new(e, "accepts", json_string(r->accepts));
    json_t *caps = NULL;
    if (r->ctype >= 0)
      caps = json_pack("{s[s]}", "cost-type-names", cost_types[r->ctype].name);
    if (r->kind == K_COSTMAP_FILTER || r->kind == K_ECS)
      caps = json_pack("{sbs[sss]}", "cost-constraints", 1, "cost-type-names", cost_types[CT_NUM_ROUTING].name, cost_types[CT_ORD_ROUTING].name,
                       cost_types[CT_NUM_PDISTANCE].name);
    if (r->kind == K_GUIDANCE_POST)
      caps = json_pack("{s[s]}", "cost-type-names", cost_types[CT_NUM_GUIDANCE].name);
    if (r->kind == K_PROP) {
      char prop[PROTO_ALTO_ID_MAX + 8];
      snprintf(prop, sizeof prop, "%s.pid", a->nm_id);
      caps = json_pack("{s[s]}", "prop-types", prop);
    }
    if (caps)
      json_object_set_new(e, "capabilities", caps);
    /* 11.4.1.5 and 11.5.1.5: the endpoint services use nothing */
    if (r->kind != K_NETMAP && r->kind != K_PROP && r->kind != K_ECS && r->kind != K_UPDATES)
      json_object_set_new(e, "uses", json_pack("[s]", a->nm_id));
    if (!r->post && r->kind != K_UPDATES) {
      json_array_append_new(streamed, json_string(res_id(a, r)));
      json_object_set_new(icm, res_id(a, r), json_string(PROTO_ALTO_MT_MERGE_PATCH));
    }
    json_object_set_new(res, res_id(a, r), e);
  }
  json_t *up = json_object_get(res, "update-stream");
  if (up) {
    json_object_set(up, "uses", streamed);
    json_object_set_new(up, "capabilities", json_pack("{sOsb}", "incremental-change-media-types", icm, "support-stream-control", 1));
  }
  json_decref(streamed);
  json_decref(icm);
  return json_pack("{soso}", "meta", meta, "resources", res);
}

/* ---- GET resources, also what update streams send ----------------------- */

static json_t *guidance_doc(struct alto_server *a) {
  struct p4p_guidance_msg g;
  uint64_t                gen;
  int                     hour;
  if (solver_guidance_msg(a->s, &g, &gen, &hour))
    return NULL;
  struct proto_alto_vtag vt;
  snprintf(vt.rid, sizeof vt.rid, GUIDANCE_ID);
  snprintf(vt.tag, sizeof vt.tag, "solve-%llu-h%d", (unsigned long long)gen, hour);
  json_t *doc = proto_alto_guidance_json(&g, &a->nm_vtag, &vt);
  proto_guidance_msg_free(&g);
  return doc;
}

static json_t *get_doc(struct alto_server *a, const struct resource *r) {
  if (r->kind == K_NETMAP)
    return json_incref(a->netmap);
  if (r->kind == K_GUIDANCE)
    return guidance_doc(a);
  size_t  n;
  size_t *all = pick_pids(a, NULL, &n);
  json_t *doc = all ? cost_map_doc(a, r->ctype, n, all, n, all, NULL) : NULL;
  free(all);
  return doc;
}

json_t *alto_resource_json(struct alto_server *a, const char *id, unsigned mask) {
  for (size_t k = 0; k < NRES; k++)
    if (!resources[k].post && resources[k].kind != K_UPDATES && !strcmp(res_id(a, &resources[k]), id))
      return (resources[k].iface & mask) == resources[k].iface ? get_doc(a, &resources[k]) : NULL;
  return NULL;
}

const char *alto_stream_media_type(const struct alto_server *a, const char *id) {
  for (size_t k = 0; k < NRES; k++)
    if (!resources[k].post && resources[k].kind != K_UPDATES && !strcmp(res_id(a, &resources[k]), id))
      return resources[k].media;
  return NULL;
}

/* ---- POST resources ----------------------------------------------------- */

static enum MHD_Result post_netmap_filter(struct alto_server *a, struct MHD_Connection *c, const json_t *req) {
  struct proto_alto_netmap_filter nf;
  struct proto_alto_fault         f = {0};
  char                            err[300];
  if (proto_alto_parse_netmap_filter(req, &nf, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  unsigned char *pick = calloc(a->map.npids + 1, 1);
  size_t         n;
  size_t        *idx = pick ? pick_pids(a, &nf.pids, &n) : NULL;
  json_t        *doc = NULL;
  if (idx) {
    for (size_t k = 0; k < n; k++)
      pick[idx[k]] = 1;
    /* 11.3.1.6: the vtag of the full map, whatever the filter */
    doc = proto_alto_networkmap_json(&a->map, &a->nm_vtag, pick, nf.families);
  }
  free(idx);
  free(pick);
  proto_alto_names_free(&nf.pids);
  return doc ? alto_send_json(c, 200, PROTO_ALTO_MT_NETWORKMAP, doc, NULL, (int)a->p->prov.daemon.max_age_s) : alto_refuse(c, 503, "out of memory");
}

static enum MHD_Result bad_cost_type(struct MHD_Connection *c, const struct proto_alto_cost_type *t) {
  struct proto_alto_fault f = {PROTO_ALTO_E_INVALID_FIELD_VALUE, "cost-type/cost-metric", ""};
  char                    text[200];
  snprintf(f.value, sizeof f.value, "%s", t->metric);
  snprintf(text, sizeof text, "cost type %s %s is not offered here (see the capabilities in the IRD)", t->mode, t->metric);
  return alto_send_fault(c, &f, text);
}

static enum MHD_Result post_cost_filter(struct alto_server *a, struct MHD_Connection *c, const json_t *req) {
  struct proto_alto_cost_filter cf;
  struct proto_alto_fault       f = {0};
  char                          err[300];
  if (proto_alto_parse_cost_filter(req, 0, &cf, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  int ctype = find_ctype(&cf.type, 0);
  if (ctype < 0) {
    proto_alto_cost_filter_free(&cf);
    return bad_cost_type(c, &cf.type);
  }
  size_t  ns, nd;
  size_t *src = pick_pids(a, &cf.srcs, &ns), *dst = pick_pids(a, &cf.dsts, &nd);
  json_t *doc = src && dst ? cost_map_doc(a, ctype, ns, src, nd, dst, &cf) : NULL;
  free(src);
  free(dst);
  proto_alto_cost_filter_free(&cf);
  return doc ? alto_send_json(c, 200, PROTO_ALTO_MT_COSTMAP, doc, NULL, max_age_costs(a, ctype)) : alto_refuse(c, 503, "out of memory");
}

/* The address the request came from, for an endpoint list left empty
 * (11.5.1.3). */
static int client_addr(struct MHD_Connection *c, uint8_t out[16]) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr          *sa = ci ? ci->client_addr : NULL;
  memset(out, 0, 16);
  if (sa && sa->sa_family == AF_INET) {
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    return 0;
  }
  if (sa && sa->sa_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return 0;
  }
  return -1;
}

static enum MHD_Result post_ecs(struct alto_server *a, struct MHD_Connection *c, const json_t *req) {
  struct proto_alto_cost_filter cf;
  struct proto_alto_fault       f = {0};
  char                          err[300];
  uint8_t                       self[16];
  if (proto_alto_parse_cost_filter(req, 1, &cf, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  int ctype = find_ctype(&cf.type, 0);
  if (ctype < 0) {
    proto_alto_cost_filter_free(&cf);
    return bad_cost_type(c, &cf.type);
  }
  int    have_self = client_addr(c, self) == 0;
  size_t ns = cf.nsrc_addrs ? cf.nsrc_addrs : 1, nd = cf.ndst_addrs ? cf.ndst_addrs : 1;
  uint8_t(*sa)[16] = cf.nsrc_addrs ? cf.src_addrs : &self, (*da)[16] = cf.ndst_addrs ? cf.dst_addrs : &self;
  size_t *sp = malloc(ns * sizeof *sp), *dp = malloc(nd * sizeof *dp);
  char(*sn)[80] = malloc(ns * sizeof *sn), (*dn)[80] = malloc(nd * sizeof *dn);
  const char **sname = malloc(ns * sizeof *sname), **dname = malloc(nd * sizeof *dname);
  json_t      *doc = NULL;
  if ((!cf.nsrc_addrs || !cf.ndst_addrs) && !have_self) {
    proto_alto_cost_filter_free(&cf);
    free(sp), free(dp), free(sn), free(dn), free(sname), free(dname);
    return alto_refuse(c, 400, "no source address to stand for the empty endpoint list");
  }
  if (sp && dp && sn && dn && sname && dname) {
    for (size_t i = 0; i < ns; i++) {
      sp[i] = addr_pid(a, sa[i]);
      proto_alto_endpoint_format(sa[i], sn[i]);
      sname[i] = sn[i];
    }
    for (size_t j = 0; j < nd; j++) {
      dp[j] = addr_pid(a, da[j]);
      proto_alto_endpoint_format(da[j], dn[j]);
      dname[j] = dn[j];
    }
    /* 11.5.1.5: costs between endpoints are the costs between their PIDs */
    double *v = cost_values(a, ctype, ns, sp, nd, dp, &cf);
    if (v) {
      json_t *rows = proto_alto_cost_rows(ns, sname, nd, dname, v);
      doc          = json_pack("{s{s{ssss}}so}", "meta", "cost-type", "cost-mode", cost_types[ctype].t.mode, "cost-metric", cost_types[ctype].t.metric,
                               "endpoint-cost-map", rows);
    }
    free(v);
  }
  free(sp), free(dp), free(sn), free(dn), free(sname), free(dname);
  proto_alto_cost_filter_free(&cf);
  return doc ? alto_send_json(c, 200, PROTO_ALTO_MT_ENDPOINTCOST, doc, NULL, max_age_costs(a, ctype)) : alto_refuse(c, 503, "out of memory");
}

static enum MHD_Result post_prop(struct alto_server *a, struct MHD_Connection *c, const json_t *req) {
  struct proto_alto_prop_request pr;
  struct proto_alto_fault        f = {0};
  char                           err[300], prop[PROTO_ALTO_ID_MAX + 8];
  if (proto_alto_parse_prop_request(req, &pr, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  snprintf(prop, sizeof prop, "%s.pid", a->nm_id);
  for (size_t k = 0; k < pr.properties.n; k++)
    if (strcmp(pr.properties.v[k], prop)) {
      /* 11.4.1.3: each property must be one the capabilities list */
      struct proto_alto_fault bad = {PROTO_ALTO_E_INVALID_FIELD_VALUE, "properties", ""};
      snprintf(bad.value, sizeof bad.value, "%s", pr.properties.v[k]);
      snprintf(err, sizeof err, "property '%s' is not offered here (only %s)", pr.properties.v[k], prop);
      proto_alto_prop_request_free(&pr);
      return alto_send_fault(c, &bad, err);
    }
  json_t *props = json_object();
  for (size_t i = 0; props && i < pr.naddrs; i++) {
    char   key[80];
    size_t pid = addr_pid(a, pr.addrs[i]);
    proto_alto_endpoint_format(pr.addrs[i], key);
    json_t *e = json_object();
    if (pid < a->map.npids) /* undefined: the property is left out (11.4.1.6) */
      json_object_set_new(e, prop, json_string(a->map.pids[pid].name));
    json_object_set_new(props, key, e);
  }
  proto_alto_prop_request_free(&pr);
  json_t *doc = props ? json_pack("{s{s[o]}so}", "meta", "dependent-vtags", json_pack("{ssss}", "resource-id", a->nm_vtag.rid, "tag", a->nm_vtag.tag),
                                  "endpoint-properties", props)
                      : NULL;
  return doc ? alto_send_json(c, 200, PROTO_ALTO_MT_ENDPOINTPROP, doc, NULL, (int)a->p->prov.daemon.max_age_s) : alto_refuse(c, 503, "out of memory");
}

static enum MHD_Result post_guidance(struct alto_server *a, struct MHD_Connection *c, const struct itr_client *who, const json_t *req) {
  struct p4p_stats_msg    m;
  struct proto_alto_fault f = {0};
  char                    err[300];
  if (proto_alto_parse_stats(req, "request", &m, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  struct p4p_guidance_msg g;
  struct itr_reply        r;
  uint64_t                gen;
  int                     hour;
  size_t                  optimized;
  memset(&r, 0, sizeof r);
  /* the same table and per-client quota as a P4P guidance post */
  int rc = solver_post_msg(a->s, who, &m, &g, &gen, &hour, &optimized, &r);
  proto_stats_msg_free(&m);
  if (rc) {
    if (r.status != 400)
      return alto_refuse(c, r.status, r.err);
    struct proto_alto_fault bad = {PROTO_ALTO_E_INVALID_FIELD_VALUE, PROTO_ALTO_FIELD_STATS, ""};
    return alto_send_fault(c, &bad, r.err);
  }
  struct proto_alto_vtag vt;
  snprintf(vt.rid, sizeof vt.rid, GUIDANCE_ID);
  snprintf(vt.tag, sizeof vt.tag, "solve-%llu-h%d", (unsigned long long)gen, hour);
  json_t *doc = proto_alto_guidance_json(&g, &a->nm_vtag, &vt);
  proto_guidance_msg_free(&g);
  if (!doc)
    return alto_refuse(c, 503, "out of memory");
  size_t len;
  char  *body = proto_alto_dump(doc, &len);
  json_decref(doc);
  char count[24];
  snprintf(count, sizeof count, "%zu", optimized);
  return body ? queue(c, 200, PROTO_ALTO_MT_COSTMAP, body, len, NULL, -1, "X-P4P-Optimized-Swarms", count) : alto_refuse(c, 503, "out of memory");
}

/* ---- routing ------------------------------------------------------------ */

int alto_owns(const char *url) { return !strcmp(url, "/directory") || !strncmp(url, "/alto/", 6); }

/* Whether an Accept header admits media type mt ("" or absent: yes). */
static int accepts(const char *accept, const char *mt) {
  if (!accept || !*accept)
    return 1;
  const char *slash = strchr(mt, '/');
  for (const char *p = accept; *p;) {
    p += strspn(p, " \t,");
    size_t n = strcspn(p, ",;");
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    if ((n == strlen(mt) && !strncasecmp(p, mt, n)) || (n == 3 && !strncmp(p, "*/*", 3)) ||
        (slash && n == (size_t)(slash - mt) + 2 && !strncasecmp(p, mt, (size_t)(slash - mt) + 1) && p[n - 1] == '*'))
      return 1;
    p += strcspn(p, ",");
  }
  return 0;
}

static int same_type(const char *ct, const char *mt) {
  if (!ct)
    return 0;
  size_t n = strcspn(ct, "; \t");
  return n == strlen(mt) && !strncasecmp(ct, mt, n);
}

enum MHD_Result alto_begin(struct alto_server *a, struct MHD_Connection *c, const char *url, const char *method, struct alto_request **out) {
  int                    get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
  const struct resource *r          = NULL;
  int                    path_known = 0, path_get = 0, path_post = 0;
  *out = NULL;
  if (!strcmp(url, "/directory")) {
    path_known = path_get = 1;
    r                     = get ? &ird_resource : NULL;
  } else if (!strncmp(url, CONTROL_PREFIX, strlen(CONTROL_PREFIX)) && a->streams) {
    path_known = path_post = 1;
    r                      = post ? &control_resource : NULL;
  } else {
    for (size_t k = 0; k < NRES; k++) {
      if (strcmp(resources[k].path, url) || (resources[k].kind == K_UPDATES && !a->streams))
        continue;
      path_known = 1;
      path_get |= !resources[k].post;
      path_post |= resources[k].post;
      if ((resources[k].post && post) || (!resources[k].post && get))
        r = &resources[k];
    }
  }
  if (!path_known)
    return alto_refuse(c, 404, "no such ALTO resource; GET /directory lists them");
  if (!r) {
    char text[120];
    snprintf(text, sizeof text, "method %.16s not allowed here", method);
    return queue(c, 405, "text/plain; charset=utf-8", strdup(text), strlen(text), NULL, -1, "Allow",
                 path_get && path_post ? "GET, HEAD, POST"
                 : path_get            ? "GET, HEAD"
                                       : "POST");
  }
  const char       *why       = NULL;
  int               bad_token = 0;
  unsigned          mask;
  struct itr_client who;
  int               st = http_authorize(c, a->p, r->iface, &why, &bad_token, &mask, &who);
  if (st)
    return refuse_auth(c, st, why, bad_token);
  const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
  if (!accepts(accept, r->media) && !accepts(accept, PROTO_ALTO_MT_ERROR)) {
    char text[160];
    snprintf(text, sizeof text, "this resource answers %s; the Accept header excludes it", r->media);
    return alto_refuse(c, 406, text);
  }
  if (r->post) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > a->p->prov.daemon.max_body_bytes)
      return alto_refuse(c, 413, "request body larger than max-body");
    if (!same_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), r->accepts)) {
      char text[160];
      snprintf(text, sizeof text, "post %s here", r->accepts);
      return alto_refuse(c, 415, text);
    }
  }
  struct alto_request *rq = calloc(1, sizeof *rq);
  if (!rq)
    return MHD_NO;
  rq->res  = r;
  rq->mask = mask;
  rq->who  = who;
  if (r->kind == K_CONTROL)
    snprintf(rq->stream, sizeof rq->stream, "%.64s", url + strlen(CONTROL_PREFIX));
  *out = rq;
  return MHD_YES;
}

enum MHD_Result alto_answer(struct alto_server *a, struct MHD_Connection *c, struct alto_request *rq, const char *body, size_t len, int *streaming) {
  const struct resource *r = rq->res;
  *streaming               = 0;
  if (r->kind == K_IRD)
    return alto_send_json(c, 200, PROTO_ALTO_MT_DIRECTORY, ird_doc(a, rq->mask), NULL, (int)a->p->prov.daemon.max_age_s);
  if (!r->post) {
    json_t *doc     = get_doc(a, r);
    int     max_age = r->kind == K_GUIDANCE  ? (int)a->p->prov.daemon.resolve_interval_s
                      : r->kind == K_COSTMAP ? max_age_costs(a, r->ctype)
                                             : (int)a->p->prov.daemon.max_age_s;
    return doc ? alto_send_json(c, 200, r->media, doc, NULL, max_age) : alto_refuse(c, 503, "out of memory");
  }
  struct proto_alto_fault f = {0};
  char                    err[300];
  json_t                 *req = proto_alto_load(body, len, "request", &f, err, sizeof err);
  if (!req)
    return alto_send_fault(c, &f, err);
  enum MHD_Result ret;
  switch (r->kind) {
  case K_NETMAP_FILTER:
    ret = post_netmap_filter(a, c, req);
    break;
  case K_COSTMAP_FILTER:
    ret = post_cost_filter(a, c, req);
    break;
  case K_PROP:
    ret = post_prop(a, c, req);
    break;
  case K_ECS:
    ret = post_ecs(a, c, req);
    break;
  case K_GUIDANCE_POST:
    ret = post_guidance(a, c, &rq->who, req);
    break;
  case K_UPDATES:
    ret = alto_streams_open(a->streams, c, rq->mask, req, streaming);
    break;
  default:
    ret = alto_streams_control(a->streams, c, rq->stream, rq->mask, req);
    break;
  }
  json_decref(req);
  return ret;
}

void alto_request_free(struct alto_request *rq) { free(rq); }

int alto_policy_hour(const struct alto_server *a) { return portal_hour(a->p); }

uint64_t alto_published(struct alto_server *a) {
  int hour;
  return solver_published(a->s, &hour);
}

int alto_keepalive_ms(const struct alto_server *a) {
  int ms = (int)a->p->prov.daemon.connection_timeout_s * 1000 / 2;
  return ms > 5000 ? 5000 : ms < 200 ? 200 : ms;
}
