/* alto_client: ALTO resources chosen from an IRD and read into P4P
 * messages (alto_client.h). */
#include "alto_client.h"

#include "curl_lazy.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/alto.h"
#include "proto/errbuf.h"
#include "proto/iface.h"

struct chosen {
  char id[PROTO_ALTO_ID_MAX];
  char url[PROTO_ALTO_URI_MAX];
  int  same_origin;
};

struct p4p_alto_source {
  char                        ird_url[PROTO_ALTO_URI_MAX];
  int                         have_ird;
  struct chosen               map, costs, guidance, guidance_post;
  struct proto_alto_cost_type cost_type;
  /* the network map held: its vtag and PID names (sorted, for bsearch) */
  int                    have_map;
  struct proto_alto_vtag vtag;
  size_t                 npids;
  char (*pids)[P4P_NAME_MAX];
  int map_wanted;
  /* RFC 8895: the update stream carrying the network map and cost map */
  struct chosen                 stream;
  struct proto_alto_sse_reader *sse;
  json_t                       *held[2]; /* SUB_MAP, SUB_COSTS: what the stream gave */
  unsigned long                 events;  /* data events taken */
};

enum { SUB_MAP, SUB_COSTS };
static const char *const sub_name[2] = {"map", "costs"};

struct p4p_alto_source *p4p_alto_new(const char *ird_url) {
  struct p4p_alto_source *a = calloc(1, sizeof *a);
  if (a)
    snprintf(a->ird_url, sizeof a->ird_url, "%s", ird_url);
  return a;
}

void p4p_alto_free(struct p4p_alto_source *a) {
  if (!a)
    return;
  p4p_alto_stream_reset(a, 0);
  free(a->pids);
  free(a);
}

/* ---- the IRD -------------------------------------------------------------- */

/* ref resolved against the IRD's URL (RFC 3986 section 5, by libcurl);
 * http and https only.  *same: the same scheme, host and port. */
static int resolve(const char *base, const char *ref, char *out, size_t outlen, int *same) {
  CURLU *u = curl_url(), *b = curl_url();
  char  *s = NULL, *h1 = NULL, *h2 = NULL, *p1 = NULL, *p2 = NULL, *s1 = NULL, *s2 = NULL;
  int    rc = -1;
  if (u && b && !curl_url_set(u, CURLUPART_URL, base, 0) && !curl_url_set(u, CURLUPART_URL, ref, 0) && !curl_url_get(u, CURLUPART_URL, &s, 0) &&
      !curl_url_set(b, CURLUPART_URL, base, 0) && !curl_url_get(u, CURLUPART_SCHEME, &s1, 0) && !curl_url_get(b, CURLUPART_SCHEME, &s2, 0) &&
      !curl_url_get(u, CURLUPART_HOST, &h1, 0) && !curl_url_get(b, CURLUPART_HOST, &h2, 0) && !curl_url_get(u, CURLUPART_PORT, &p1, CURLU_DEFAULT_PORT) &&
      !curl_url_get(b, CURLUPART_PORT, &p2, CURLU_DEFAULT_PORT) && (!strcasecmp(s1, "http") || !strcasecmp(s1, "https")) && strlen(s) < outlen) {
    snprintf(out, outlen, "%s", s);
    *same = !strcasecmp(s1, s2) && !strcasecmp(h1, h2) && !strcmp(p1, p2);
    rc    = 0;
  }
  curl_free(s), curl_free(h1), curl_free(h2), curl_free(p1), curl_free(p2), curl_free(s1), curl_free(s2);
  curl_url_cleanup(u);
  curl_url_cleanup(b);
  return rc;
}

static int uses(const struct proto_alto_resource *r, const char *id) {
  for (size_t k = 0; k < r->nuses; k++)
    if (!strcmp(r->uses[k], id))
      return 1;
  return 0;
}

static int has_type(const struct proto_alto_resource *r, const char *metric, const char *mode) {
  for (size_t k = 0; k < r->ntypes; k++)
    if (!strcmp(r->types[k].metric, metric) && !strcmp(r->types[k].mode, mode))
      return 1;
  return 0;
}

static int choose(struct p4p_alto_source *a, const struct proto_alto_resource *r, struct chosen *c) {
  if (resolve(a->ird_url, r->uri, c->url, sizeof c->url, &c->same_origin))
    return -1;
  snprintf(c->id, sizeof c->id, "%s", r->id);
  return 0;
}

/* The choice rules of alto_client.h. */
static int pick(struct p4p_alto_source *a, const struct proto_alto_ird *ird, char *err, size_t errlen) {
  const struct proto_alto_resource *map = NULL;
  memset(&a->map, 0, sizeof a->map);
  memset(&a->costs, 0, sizeof a->costs);
  memset(&a->guidance, 0, sizeof a->guidance);
  memset(&a->guidance_post, 0, sizeof a->guidance_post);
  for (size_t i = 0; i < ird->n && !map; i++)
    if (!strcmp(ird->res[i].id, ird->default_network_map) && !strcmp(ird->res[i].media_type, PROTO_ALTO_MT_NETWORKMAP) && !ird->res[i].accepts[0])
      map = &ird->res[i];
  for (size_t i = 0; i < ird->n && !map; i++)
    if (!strcmp(ird->res[i].media_type, PROTO_ALTO_MT_NETWORKMAP) && !ird->res[i].accepts[0])
      map = &ird->res[i];
  if (!map)
    return proto_fail(err, errlen, "the IRD offers no network map (GET %s)", PROTO_ALTO_MT_NETWORKMAP);
  if (choose(a, map, &a->map))
    return proto_fail(err, errlen, "network map '%s': URI '%.200s' is not an http(s) URL", map->id, map->uri);
  static const struct proto_alto_cost_type order[] = {
      {PROTO_ALTO_METRIC_PDISTANCE, "numerical"}, {PROTO_ALTO_METRIC_ROUTINGCOST, "numerical"}, {PROTO_ALTO_METRIC_ROUTINGCOST, "ordinal"}};
  for (size_t t = 0; t < sizeof order / sizeof order[0] && !a->costs.id[0]; t++)
    for (size_t i = 0; i < ird->n && !a->costs.id[0]; i++) {
      const struct proto_alto_resource *r = &ird->res[i];
      if (!strcmp(r->media_type, PROTO_ALTO_MT_COSTMAP) && !r->accepts[0] && uses(r, map->id) && has_type(r, order[t].metric, order[t].mode) &&
          !choose(a, r, &a->costs))
        a->cost_type = order[t];
    }
  for (size_t i = 0; i < ird->n; i++) {
    const struct proto_alto_resource *r = &ird->res[i];
    if (strcmp(r->media_type, PROTO_ALTO_MT_COSTMAP) || !uses(r, map->id) || !has_type(r, PROTO_ALTO_METRIC_GUIDANCE, "numerical"))
      continue;
    if (!r->accepts[0] && !a->guidance.id[0])
      choose(a, r, &a->guidance);
    if (!strcmp(r->accepts, PROTO_ALTO_MT_COSTMAPFILTER) && !a->guidance_post.id[0])
      choose(a, r, &a->guidance_post);
  }
  /* an update stream that carries the network map and the cost map chosen,
   * both as merge patches */
  memset(&a->stream, 0, sizeof a->stream);
  for (size_t i = 0; i < ird->n && !a->stream.id[0] && a->costs.id[0]; i++) {
    const struct proto_alto_resource *r    = &ird->res[i];
    unsigned                          need = 0;
    for (size_t k = 0; k < r->nuses; k++)
      if (!strcmp(r->uses[k], a->map.id) || !strcmp(r->uses[k], a->costs.id))
        need |= (r->merge_patch_uses >> k & 1u) << (strcmp(r->uses[k], a->map.id) ? 1 : 0);
    if (!strcmp(r->media_type, PROTO_ALTO_MT_EVENT_STREAM) && !strcmp(r->accepts, PROTO_ALTO_MT_UPDATESTREAMPARAMS) && need == 3)
      choose(a, r, &a->stream);
  }
  return 0;
}

/* ---- requests ------------------------------------------------------------- */

int p4p_alto_target(struct p4p_alto_source *a, int iface, int post, char *url, size_t urllen, const char **accept, const char **post_type, int *with_token) {
  const struct chosen *c = NULL;
  *post_type             = NULL;
  if (iface == P4P_IFACE_INFO && !a->have_ird) {
    snprintf(url, urllen, "%s", a->ird_url);
    *accept     = PROTO_ALTO_MT_DIRECTORY "," PROTO_ALTO_MT_ERROR;
    *with_token = 1;
    return 0;
  }
  if (!a->have_ird || (iface != P4P_IFACE_INFO && !a->have_map))
    return 2;
  switch (iface) {
  case P4P_IFACE_INFO:
    c       = &a->map;
    *accept = PROTO_ALTO_MT_NETWORKMAP "," PROTO_ALTO_MT_ERROR;
    break;
  case P4P_IFACE_POLICY:
    c       = a->costs.id[0] ? &a->costs : NULL;
    *accept = PROTO_ALTO_MT_COSTMAP "," PROTO_ALTO_MT_ERROR;
    break;
  case P4P_IFACE_GUIDANCE:
    c = post && a->guidance_post.id[0] ? &a->guidance_post : a->guidance.id[0] ? &a->guidance : a->guidance_post.id[0] ? &a->guidance_post : NULL;
    if (c == &a->guidance_post)
      *post_type = PROTO_ALTO_MT_COSTMAPFILTER;
    *accept = PROTO_ALTO_MT_COSTMAP "," PROTO_ALTO_MT_ERROR;
    break;
  default:
    return 1; /* ALTO has no capability interface */
  }
  if (!c)
    return 1;
  snprintf(url, urllen, "%s", c->url);
  *with_token = c->same_origin;
  return 0;
}

char *p4p_alto_stats_body(const struct p4p_stats_msg *stats, size_t *len) {
  json_t *j = proto_alto_stats_json(stats);
  char   *s = j ? proto_alto_dump(j, len) : NULL;
  json_decref(j);
  return s;
}

/* ---- answers -------------------------------------------------------------- */

static int same_type(const char *ct, const char *mt) {
  size_t n = ct ? strcspn(ct, "; \t") : 0;
  return ct && n == strlen(mt) && !strncasecmp(ct, mt, n);
}

static int cmp_name(const void *x, const void *y) { return strcmp(x, y); }

static int known_pid(const struct p4p_alto_source *a, const char *name) {
  return a->npids && bsearch(name, a->pids, a->npids, sizeof *a->pids, cmp_name) != NULL;
}

/* RFC 7285 11.2.2 makes every map claim the whole address space; a
 * tracker with several providers must know the addresses a provider
 * really has, so /0 prefixes (the completing default) are dropped.  A PID
 * left without prefixes stays: cost maps may name it. */
static void drop_default_prefixes(struct p4p_pidmap_msg *m) {
  for (size_t i = 0; i < m->npids; i++) {
    struct p4p_pid_entry *p = &m->pids[i];
    size_t                k = 0;
    for (size_t j = 0; j < p->nprefixes; j++) {
      const struct p4p_prefix *x  = &p->prefixes[j];
      int                      v4 = x->bits == 96 && x->addr[10] == 0xff && x->addr[11] == 0xff && !x->addr[0];
      if (!(x->bits == 0 || v4))
        p->prefixes[k++] = *x;
    }
    p->nprefixes = k;
  }
}

static int hold_map(struct p4p_alto_source *a, const struct p4p_pidmap_msg *m, const struct proto_alto_vtag *vt) {
  char(*names)[P4P_NAME_MAX] = malloc((m->npids + 1) * sizeof *names);
  if (!names)
    return -1;
  for (size_t i = 0; i < m->npids; i++)
    memcpy(names[i], m->pids[i].name, P4P_NAME_MAX);
  qsort(names, m->npids, sizeof *names, cmp_name);
  free(a->pids);
  a->pids     = names;
  a->npids    = m->npids;
  a->vtag     = *vt;
  a->have_map = 1;
  return 0;
}

/* A cost map or guidance made for the network map held? */
static int check_dependency(struct p4p_alto_source *a, const struct proto_alto_vtag *dep, const char *what, char *err, size_t errlen) {
  if (strcmp(dep->rid, a->vtag.rid) || strcmp(dep->tag, a->vtag.tag)) {
    a->map_wanted = 1;
    return proto_fail(err, errlen, "%s is for network map %s version %s, we hold version %s: fetching the network map again", what, dep->rid, dep->tag,
                      a->vtag.tag);
  }
  return 0;
}

static int check_pids(const struct p4p_alto_source *a, const struct p4p_matrix *m, const char *what, char *err, size_t errlen) {
  for (size_t i = 0; i < m->n; i++)
    if (!known_pid(a, m->pids[i]))
      return proto_fail(err, errlen, "%s names PID '%s', which the network map does not define", what, m->pids[i]);
  return 0;
}

/* One network map, cost map or guidance document into its message. */
static int parse_doc(struct p4p_alto_source *a, int iface, const json_t *j, void *out, char *version, size_t versionlen, char *err, size_t errlen) {
  int rc = -1;
  if (iface == P4P_IFACE_INFO) {
    struct p4p_pidmap_msg *m = out;
    struct proto_alto_vtag vt;
    if (proto_alto_parse_networkmap(j, "network map", m, &vt, err, errlen) == 0) {
      if (strcmp(vt.rid, a->map.id)) {
        proto_fail(err, errlen, "network map: vtag names resource '%s', the IRD's is '%s'", vt.rid, a->map.id);
        proto_pidmap_msg_free(m);
      } else if (hold_map(a, m, &vt)) {
        proto_fail(err, errlen, "out of memory");
        proto_pidmap_msg_free(m);
      } else {
        drop_default_prefixes(m);
        snprintf(version, versionlen, "%s", vt.tag);
        rc = 0;
      }
    }
  } else if (iface == P4P_IFACE_POLICY) {
    struct p4p_costs_msg       *c = out;
    struct proto_alto_cost_type ct;
    struct proto_alto_vtag      dep;
    if (proto_alto_parse_costmap(j, "cost map", c, &ct, &dep, err, errlen) == 0) {
      if (strcmp(ct.metric, a->cost_type.metric) || strcmp(ct.mode, a->cost_type.mode))
        proto_fail(err, errlen, "cost map is %s %s, the IRD promised %s %s", ct.mode, ct.metric, a->cost_type.mode, a->cost_type.metric);
      else if (!check_dependency(a, &dep, "cost map", err, errlen) && !check_pids(a, &c->costs, "cost map", err, errlen))
        rc = 0;
      if (rc == 0) {
        /* P4P costs read 0 between two PIDs as "undefined" (Yale's
         * legacy); in ALTO a cost left out is undefined (NaN here) and 0
         * is a cost: keep it as the smallest positive one, weight 1 */
        size_t n = c->costs.n;
        for (size_t i = 0; i < n; i++)
          for (size_t k = 0; k < n; k++)
            if (i != k && c->costs.v[i * n + k] == 0)
              c->costs.v[i * n + k] = DBL_TRUE_MIN;
        snprintf(version, versionlen, "%s", dep.tag);
      } else {
        proto_costs_msg_free(c);
      }
    }
  } else {
    struct p4p_guidance_msg *g = out;
    struct proto_alto_vtag   dep;
    if (proto_alto_parse_guidance(j, "guidance", g, &dep, err, errlen) == 0) {
      rc = check_dependency(a, &dep, "guidance", err, errlen);
      if (!rc && g->has_default)
        rc = check_pids(a, &g->default_weights, "guidance", err, errlen);
      for (size_t k = 0; !rc && k < g->nswarms; k++)
        rc = check_pids(a, &g->swarms[k].weights, "guidance", err, errlen);
      if (rc)
        proto_guidance_msg_free(g);
      else
        snprintf(version, versionlen, "%s", g->version);
    }
  }
  if (rc < 0)
    memset(out, 0,
           iface == P4P_IFACE_INFO     ? sizeof(struct p4p_pidmap_msg)
           : iface == P4P_IFACE_POLICY ? sizeof(struct p4p_costs_msg)
                                       : sizeof(struct p4p_guidance_msg));
  return rc;
}

int p4p_alto_parse(struct p4p_alto_source *a, int iface, const char *content_type, const char *body, size_t len, void *out, char *version, size_t versionlen,
                   char *err, size_t errlen) {
  const char *want = iface == P4P_IFACE_INFO ? (a->have_ird ? PROTO_ALTO_MT_NETWORKMAP : PROTO_ALTO_MT_DIRECTORY) : PROTO_ALTO_MT_COSTMAP;
  /* 8.3.4.2: the client must check the media type it got */
  if (!same_type(content_type, want))
    return proto_fail(err, errlen, "answer is %.80s, expected %s", content_type && *content_type ? content_type : "without a Content-Type", want);
  json_t *j = proto_alto_load(body, len, "response", NULL, err, errlen);
  if (!j)
    return -1;
  int rc = -1;
  if (iface == P4P_IFACE_INFO && !a->have_ird) {
    struct proto_alto_ird ird;
    if (proto_alto_parse_ird(j, "IRD", &ird, err, errlen) == 0) {
      rc          = pick(a, &ird, err, errlen) ? -1 : 1;
      a->have_ird = rc == 1;
      proto_alto_ird_free(&ird);
    }
  } else {
    rc = parse_doc(a, iface, j, out, version, versionlen, err, errlen);
  }
  json_decref(j);
  return rc;
}

/* ---- the update stream ------------------------------------------------------ */

int p4p_alto_stream_target(struct p4p_alto_source *a, char *url, size_t urllen, char **body, size_t *len, int *with_token) {
  *body = NULL;
  if (!a->have_ird || !a->have_map)
    return 2;
  if (!a->stream.id[0])
    return 1;
  struct proto_alto_stream_request rq = {.nadd = 2};
  snprintf(rq.add[0].id, sizeof rq.add[0].id, "%s", sub_name[SUB_MAP]);
  snprintf(rq.add[0].resource, sizeof rq.add[0].resource, "%s", a->map.id);
  snprintf(rq.add[1].id, sizeof rq.add[1].id, "%s", sub_name[SUB_COSTS]);
  snprintf(rq.add[1].resource, sizeof rq.add[1].resource, "%s", a->costs.id);
  rq.add[0].incremental = rq.add[1].incremental = 1;
  json_t *j                                     = proto_alto_stream_request_json(&rq);
  *body                                         = j ? proto_alto_dump(j, len) : NULL;
  json_decref(j);
  if (!*body)
    return 1;
  snprintf(url, urllen, "%s", a->stream.url);
  *with_token = a->stream.same_origin;
  return 0;
}

struct feed_ctx {
  struct p4p_alto_source *a;
  int (*store)(void *ctx, int iface, void *msg);
  void  *ctx;
  char  *err;
  size_t errlen;
};

/* One event of the stream: control events are noted, data events (whole or
 * merge patch) update the substream's document and give its message. */
static int on_event(void *arg, const char *event, const char *data, size_t len) {
  struct feed_ctx        *fc = arg;
  struct p4p_alto_source *a  = fc->a;
  if (!strcmp(event, PROTO_ALTO_MT_UPDATESTREAMCONTROL))
    return 0; /* control-uri, started, stopped: nothing we act on */
  const char *comma = strchr(event, ',');
  int         k     = comma && !strcmp(comma + 1, sub_name[SUB_MAP]) ? SUB_MAP : comma && !strcmp(comma + 1, sub_name[SUB_COSTS]) ? SUB_COSTS : -1;
  if (k < 0)
    return proto_fail(fc->err, fc->errlen, "update stream: unexpected event '%.80s'", event);
  size_t      mtl   = (size_t)(comma - event);
  const char *whole = k == SUB_MAP ? PROTO_ALTO_MT_NETWORKMAP : PROTO_ALTO_MT_COSTMAP;
  int         patch = mtl == strlen(PROTO_ALTO_MT_MERGE_PATCH) && !strncmp(event, PROTO_ALTO_MT_MERGE_PATCH, mtl);
  if (!patch && !(mtl == strlen(whole) && !strncmp(event, whole, mtl)))
    return proto_fail(fc->err, fc->errlen, "update stream: %s sent as %.*s", sub_name[k], (int)mtl, event);
  json_t *j = proto_alto_load(data, len, "update stream", NULL, fc->err, fc->errlen);
  if (!j)
    return -1;
  if (patch) {
    if (!a->held[k]) {
      json_decref(j);
      return proto_fail(fc->err, fc->errlen, "update stream: a patch of %s before the whole", sub_name[k]);
    }
    json_t *merged = proto_alto_merge_apply(a->held[k], j);
    json_decref(j);
    if (!merged)
      return proto_fail(fc->err, fc->errlen, "out of memory");
    j = merged;
  }
  union {
    struct p4p_pidmap_msg map;
    struct p4p_costs_msg  costs;
  } m;
  char version[PROTO_ALTO_ID_MAX];
  int  iface = k == SUB_MAP ? P4P_IFACE_INFO : P4P_IFACE_POLICY;
  if (parse_doc(a, iface, j, &m, version, sizeof version, fc->err, fc->errlen)) {
    json_decref(j);
    return -1;
  }
  json_decref(a->held[k]);
  a->held[k] = j;
  a->events++;
  return fc->store(fc->ctx, iface, &m);
}

int p4p_alto_stream_feed(struct p4p_alto_source *a, const char *buf, size_t len, size_t max_event, int (*store)(void *ctx, int iface, void *msg), void *ctx,
                         char *err, size_t errlen) {
  struct feed_ctx fc = {a, store, ctx, err, errlen};
  if (!a->sse && !(a->sse = proto_alto_sse_new(max_event, on_event, &fc)))
    return proto_fail(err, errlen, "out of memory");
  proto_alto_sse_set_ctx(a->sse, &fc);
  char why[256] = "";
  if (proto_alto_sse_feed(a->sse, buf, len, why, sizeof why)) {
    if (strcmp(why, "event refused"))
      proto_fail(err, errlen, "update stream: %s", why);
    return -1;
  }
  return 0;
}

unsigned long p4p_alto_stream_reset(struct p4p_alto_source *a, int keep_count) {
  proto_alto_sse_free(a->sse);
  a->sse = NULL;
  for (int k = 0; k < 2; k++) {
    json_decref(a->held[k]);
    a->held[k] = NULL;
  }
  unsigned long n = a->events;
  if (!keep_count)
    a->events = 0;
  return n;
}

unsigned long p4p_alto_stream_events(const struct p4p_alto_source *a) { return a->events; }

int p4p_alto_map_wanted(struct p4p_alto_source *a) {
  int w         = a->map_wanted;
  a->map_wanted = 0;
  return w;
}

void p4p_alto_http_failed(struct p4p_alto_source *a, long status) {
  if (status == 404)
    a->have_ird = 0;
}

void p4p_alto_error_reason(const char *body, size_t len, char *out, size_t outlen) {
  out[0]    = 0;
  json_t *j = body && len ? proto_alto_load(body, len, "response", NULL, NULL, 0) : NULL;
  if (j && proto_alto_describe_error(j, out, outlen))
    out[0] = 0;
  json_decref(j);
}
