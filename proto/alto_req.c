/* alto_req: the input parameters of ALTO's POST resources (RFC 7285
 * 11.3.1.3, 11.3.2.3, 11.4.1.3, 11.5.1.3; RFC 8895 6.3) and our guidance
 * statistics, each refusal with its 8.5.2 code, field and value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alto.h"
#include "alto_ctx.h"
#include "text.h" /* info-hash text */

#define REQUEST "request"

static int want_object(struct proto_alto_ctx *cx, const json_t *j) {
  if (!json_is_object(j))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "the parameters are a JSON object");
  return 0;
}

/* A required member: missing and wrong-type refusals named by field. */
static const json_t *member(struct proto_alto_ctx *cx, const json_t *obj, const char *key, const char *field, int type, int required, int *failed) {
  const json_t *v = json_object_get(obj, key);
  *failed         = 0;
  if (!v) {
    if (required)
      *failed = proto_alto_ctx_fail(cx, PROTO_ALTO_E_MISSING_FIELD, field, NULL, field, "missing");
    return NULL;
  }
  if ((int)json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v))) {
    *failed = proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, field, NULL, field, "wrong type");
    return NULL;
  }
  return v;
}

/* Typed endpoint addresses, deduplicated in order. */
static int endpoint_list(struct proto_alto_ctx *cx, const json_t *arr, const char *field, size_t *n, uint8_t (**out)[16]) {
  char shown[96];
  *n         = 0;
  *out       = NULL;
  size_t cnt = json_array_size(arr);
  if (cnt > PROTO_ALTO_MAX_ENDPOINTS)
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, NULL, field, "%zu endpoints, at most %d", cnt, PROTO_ALTO_MAX_ENDPOINTS);
  if (cnt && !(*out = calloc(cnt, sizeof **out)))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, field, "out of memory");
  json_t *seen = json_object();
  size_t  i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    uint8_t a[16];
    char    canon[80];
    if (!json_is_string(v) || proto_alto_endpoint_parse(json_string_value(v), a)) {
      proto_alto_ctx_show(v, shown, sizeof shown);
      json_decref(seen);
      free(*out);
      *out = NULL;
      return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, shown, field, "'%s' is not a typed endpoint address (ipv4:a.b.c.d or ipv6:x::y)",
                                 shown);
    }
    proto_alto_endpoint_format(a, canon);
    if (!seen || json_object_get(seen, canon))
      continue;
    json_object_set_new(seen, canon, json_true());
    memcpy((*out)[(*n)++], a, 16);
  }
  json_decref(seen);
  return 0;
}

int proto_alto_parse_netmap_filter(const json_t *j, struct proto_alto_netmap_filter *out, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {REQUEST, err, errlen, f};
  int                   bad;
  memset(out, 0, sizeof *out);
  out->families = 3;
  if (want_object(&cx, j))
    return -1;
  const json_t *pids = member(&cx, j, "pids", "pids", JSON_ARRAY, 1, &bad);
  if (bad || proto_alto_ctx_names(&cx, pids, "pids", PROTO_ALTO_MAX_PIDS, &out->pids))
    return -1;
  const json_t *types = member(&cx, j, "address-types", "address-types", JSON_ARRAY, 0, &bad);
  if (bad) {
    proto_alto_names_free(&out->pids);
    return -1;
  }
  size_t   i;
  json_t  *v;
  unsigned fam = 0;
  json_array_foreach(types, i, v) {
    if (!json_is_string(v)) {
      char shown[96];
      proto_alto_ctx_show(v, shown, sizeof shown);
      proto_alto_names_free(&out->pids);
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "address-types", shown, "address-types", "entry %zu is not a string", i);
    }
    /* 11.3.1.6: types we do not know count as absent */
    fam |= !strcmp(json_string_value(v), "ipv4") ? 1u : !strcmp(json_string_value(v), "ipv6") ? 2u : 0u;
  }
  if (fam)
    out->families = fam;
  return 0;
}

static int parse_constraint(struct proto_alto_ctx *cx, const json_t *v, struct proto_alto_constraint *c) {
  char        shown[96], op[8] = "";
  const char *s = json_string_value(v);
  double      x;
  int         used = 0;
  proto_alto_ctx_show(v, shown, sizeof shown);
  if (!s || sscanf(s, " %7s %lf %n", op, &x, &used) != 2 || s[used] || !isfinite(x) ||
      (strcmp(op, "gt") && strcmp(op, "lt") && strcmp(op, "ge") && strcmp(op, "le") && strcmp(op, "eq")))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "constraints", shown, "constraints",
                               "'%s': a constraint is an operator (gt lt ge le eq) and a number", shown);
  snprintf(c->op, sizeof c->op, "%s", op);
  c->value = x;
  return 0;
}

int proto_alto_parse_cost_filter(const json_t *j, int endpoints, struct proto_alto_cost_filter *out, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {REQUEST, err, errlen, f};
  int                   bad;
  char                  shown[96];
  memset(out, 0, sizeof *out);
  if (want_object(&cx, j))
    return -1;
  const json_t *ct = member(&cx, j, "cost-type", "cost-type", JSON_OBJECT, 1, &bad);
  if (bad)
    return -1;
  const json_t *mode = member(&cx, ct, "cost-mode", "cost-type/cost-mode", JSON_STRING, 1, &bad);
  if (bad)
    return -1;
  const json_t *metric = member(&cx, ct, "cost-metric", "cost-type/cost-metric", JSON_STRING, 1, &bad);
  if (bad)
    return -1;
  if (strcmp(json_string_value(mode), "numerical") && strcmp(json_string_value(mode), "ordinal")) {
    proto_alto_ctx_show(mode, shown, sizeof shown);
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "cost-type/cost-mode", shown, "cost-type/cost-mode", "'%s': numerical or ordinal", shown);
  }
  if (strlen(json_string_value(metric)) >= sizeof out->type.metric) {
    proto_alto_ctx_show(metric, shown, sizeof shown);
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "cost-type/cost-metric", shown, "cost-type/cost-metric", "longer than 32 characters");
  }
  snprintf(out->type.mode, sizeof out->type.mode, "%s", json_string_value(mode));
  snprintf(out->type.metric, sizeof out->type.metric, "%s", json_string_value(metric));
  const json_t *cons = member(&cx, j, "constraints", "constraints", JSON_ARRAY, 0, &bad);
  if (bad)
    return -1;
  if (json_array_size(cons) > PROTO_ALTO_MAX_CONSTRAINTS)
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "constraints", NULL, "constraints", "at most %d constraints", PROTO_ALTO_MAX_CONSTRAINTS);
  size_t  i;
  json_t *v;
  json_array_foreach(cons, i, v) if (parse_constraint(&cx, v, &out->constraints[out->nconstraints++])) return -1;

  if (!endpoints) {
    const json_t *pids = member(&cx, j, "pids", "pids", JSON_OBJECT, 0, &bad);
    if (bad)
      return -1;
    if (!pids)
      return 0; /* both lists: every PID */
    const json_t *srcs = member(&cx, pids, "srcs", "pids/srcs", JSON_ARRAY, 1, &bad);
    if (bad || proto_alto_ctx_names(&cx, srcs, "pids/srcs", PROTO_ALTO_MAX_MATRIX, &out->srcs))
      return -1;
    const json_t *dsts = member(&cx, pids, "dsts", "pids/dsts", JSON_ARRAY, 1, &bad);
    if (bad || proto_alto_ctx_names(&cx, dsts, "pids/dsts", PROTO_ALTO_MAX_MATRIX, &out->dsts)) {
      proto_alto_cost_filter_free(out);
      return -1;
    }
    return 0;
  }
  const json_t *eps = member(&cx, j, "endpoints", "endpoints", JSON_OBJECT, 1, &bad);
  if (bad)
    return -1;
  const json_t *srcs = member(&cx, eps, "srcs", "endpoints/srcs", JSON_ARRAY, 0, &bad);
  if (bad || endpoint_list(&cx, srcs, "endpoints/srcs", &out->nsrc_addrs, &out->src_addrs))
    return -1;
  const json_t *dsts = member(&cx, eps, "dsts", "endpoints/dsts", JSON_ARRAY, 0, &bad);
  if (bad || endpoint_list(&cx, dsts, "endpoints/dsts", &out->ndst_addrs, &out->dst_addrs)) {
    proto_alto_cost_filter_free(out);
    return -1;
  }
  if (!out->nsrc_addrs && !out->ndst_addrs) {
    proto_alto_cost_filter_free(out);
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "endpoints", NULL, "endpoints", "srcs and dsts must not be both empty (11.5.1.3)");
  }
  return 0;
}

void proto_alto_cost_filter_free(struct proto_alto_cost_filter *cf) {
  proto_alto_names_free(&cf->srcs);
  proto_alto_names_free(&cf->dsts);
  free(cf->src_addrs);
  free(cf->dst_addrs);
  cf->src_addrs = cf->dst_addrs = NULL;
  cf->nsrc_addrs = cf->ndst_addrs = 0;
}

int proto_alto_constraints_hold(const struct proto_alto_cost_filter *cf, double v) {
  for (size_t i = 0; i < cf->nconstraints; i++) {
    const struct proto_alto_constraint *c  = &cf->constraints[i];
    int                                 ok = !strcmp(c->op, "gt")   ? v > c->value
                                             : !strcmp(c->op, "lt") ? v < c->value
                                             : !strcmp(c->op, "ge") ? v >= c->value
                                             : !strcmp(c->op, "le") ? v <= c->value
                                                                    : v == c->value;
    if (!ok)
      return 0;
  }
  return 1;
}

int proto_alto_parse_prop_request(const json_t *j, struct proto_alto_prop_request *out, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {REQUEST, err, errlen, f};
  int                   bad;
  memset(out, 0, sizeof *out);
  if (want_object(&cx, j))
    return -1;
  const json_t *props = member(&cx, j, "properties", "properties", JSON_ARRAY, 1, &bad);
  if (bad || proto_alto_ctx_names(&cx, props, "properties", 64, &out->properties))
    return -1;
  const json_t *eps = member(&cx, j, "endpoints", "endpoints", JSON_ARRAY, 1, &bad);
  if (bad || endpoint_list(&cx, eps, "endpoints", &out->naddrs, &out->addrs)) {
    proto_alto_prop_request_free(out);
    return -1;
  }
  if (!out->properties.n || !out->naddrs) { /* <1..*> both */
    const char *field = out->properties.n ? "endpoints" : "properties";
    proto_alto_prop_request_free(out);
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, NULL, NULL, "properties and endpoints need at least one entry each (11.4.1.3)");
  }
  return 0;
}

void proto_alto_prop_request_free(struct proto_alto_prop_request *r) {
  proto_alto_names_free(&r->properties);
  free(r->addrs);
  r->addrs  = NULL;
  r->naddrs = 0;
}

int proto_alto_parse_stats(const json_t *j, const char *source, struct p4p_stats_msg *out, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {source, err, errlen, f};
  int                   bad;
  char                  field[160];
  memset(out, 0, sizeof *out);
  if (want_object(&cx, j))
    return -1;
  const json_t *ct = member(&cx, j, "cost-type", "cost-type", JSON_OBJECT, 1, &bad);
  if (bad)
    return -1;
  const char *metric = json_string_value(json_object_get(ct, "cost-metric"));
  if (!metric || strcmp(metric, PROTO_ALTO_METRIC_GUIDANCE))
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "cost-type/cost-metric", metric, "cost-type/cost-metric", "this resource serves %s only",
                               PROTO_ALTO_METRIC_GUIDANCE);
  const json_t *list = member(&cx, j, PROTO_ALTO_FIELD_STATS, PROTO_ALTO_FIELD_STATS, JSON_ARRAY, 0, &bad);
  if (bad)
    return -1;
  size_t n = json_array_size(list);
  if (n > PROTO_ALTO_MAX_SWARMS)
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, PROTO_ALTO_FIELD_STATS, NULL, PROTO_ALTO_FIELD_STATS, "%zu swarms, at most %d", n,
                               PROTO_ALTO_MAX_SWARMS);
  if (n && !(out->swarms = calloc(n, sizeof *out->swarms)))
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "out of memory");
  size_t  k;
  json_t *sw;
  json_array_foreach(list, k, sw) {
    struct p4p_swarm_stats *s = &out->swarms[out->nswarms];
    snprintf(field, sizeof field, "%s/%zu", PROTO_ALTO_FIELD_STATS, k);
    if (!json_is_object(sw)) {
      proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, PROTO_ALTO_FIELD_STATS, NULL, field, "a swarm is an object");
      goto fail;
    }
    const char *hex = json_string_value(json_object_get(sw, "info-hash"));
    if (!hex || strlen(hex) != 40 || proto_hash_parse_hex(hex, s->info_hash)) {
      proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "info-hash", hex, field, "info-hash: 40 hex digits");
      goto fail;
    }
    const json_t *pids = json_object_get(sw, "pids");
    if (!json_is_object(pids) || json_object_size(pids) > PROTO_ALTO_MAX_PIDS) {
      proto_alto_ctx_fail(&cx, pids ? PROTO_ALTO_E_INVALID_FIELD_TYPE : PROTO_ALTO_E_MISSING_FIELD, "pids", NULL, field, "pids: an object of at most %d PIDs",
                          PROTO_ALTO_MAX_PIDS);
      goto fail;
    }
    if (json_object_size(pids) && !(s->pids = calloc(json_object_size(pids), sizeof *s->pids))) {
      proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "out of memory");
      goto fail;
    }
    out->nswarms++;
    const char *name;
    json_t     *st;
    json_object_foreach((json_t *)pids, name, st) {
      struct p4p_pid_stats *p = &s->pids[s->npids];
      snprintf(field, sizeof field, "%s/%zu/pids/%.64s", PROTO_ALTO_FIELD_STATS, k, name);
      if (!proto_alto_valid_id(name) || strlen(name) >= P4P_NAME_MAX || !json_is_object(st)) {
        proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "pids", name, field, "a PID name and an object of counts");
        goto fail;
      }
      snprintf(p->pid, sizeof p->pid, "%s", name);
      const json_t *se = json_object_get(st, "seeders"), *le = json_object_get(st, "leechers");
      if (!json_is_integer(se) || !json_is_integer(le) || json_integer_value(se) < 0 || json_integer_value(le) < 0) {
        proto_alto_ctx_fail(&cx, se && le ? PROTO_ALTO_E_INVALID_FIELD_TYPE : PROTO_ALTO_E_MISSING_FIELD, "seeders", NULL, field,
                            "seeders and leechers: whole numbers >= 0");
        goto fail;
      }
      p->seeders  = (uint64_t)json_integer_value(se);
      p->leechers = (uint64_t)json_integer_value(le);
      p->up_kbps = p->down_kbps = -1;
      const json_t *up = json_object_get(st, "up-kbps"), *down = json_object_get(st, "down-kbps");
      if ((up && (!json_is_number(up) || json_number_value(up) < 0)) || (down && (!json_is_number(down) || json_number_value(down) < 0))) {
        proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "up-kbps", NULL, field, "rates: numbers >= 0");
        goto fail;
      }
      if (up)
        p->up_kbps = json_number_value(up);
      if (down)
        p->down_kbps = json_number_value(down);
      s->npids++;
    }
  }
  return 0;
fail:
  proto_stats_msg_free(out);
  memset(out, 0, sizeof *out);
  return -1;
}

int proto_alto_parse_stream_request(const json_t *j, struct proto_alto_stream_request *out, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {REQUEST, err, errlen, f};
  int                   bad;
  char                  field[160];
  memset(out, 0, sizeof *out);
  if (want_object(&cx, j))
    return -1;
  const json_t *add = member(&cx, j, "add", "add", JSON_OBJECT, 0, &bad);
  if (bad)
    return -1;
  if (json_object_size(add) > PROTO_ALTO_MAX_SUBSTREAMS)
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, "add", NULL, "add", "at most %d substreams", PROTO_ALTO_MAX_SUBSTREAMS);
  const char *id;
  json_t     *e;
  json_object_foreach((json_t *)add, id, e) {
    struct proto_alto_substream *s = &out->add[out->nadd];
    snprintf(field, sizeof field, "add/%.64s", id);
    if (!proto_alto_valid_id(id))
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, "add", id, field, "not a valid substream id");
    if (!json_is_object(e))
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, field, NULL, field, "must be an object");
    snprintf(field, sizeof field, "add/%.64s/resource-id", id);
    const json_t *rid = member(&cx, e, "resource-id", field, JSON_STRING, 1, &bad);
    if (bad)
      return -1;
    if (!proto_alto_valid_id(json_string_value(rid)))
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, json_string_value(rid), field, "not a valid resource id");
    snprintf(field, sizeof field, "add/%.64s/tag", id);
    const json_t *tag = member(&cx, e, "tag", field, JSON_STRING, 0, &bad);
    if (bad)
      return -1;
    if (tag && strlen(json_string_value(tag)) >= sizeof s->tag)
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, NULL, field, "longer than 64 characters");
    snprintf(field, sizeof field, "add/%.64s/incremental-changes", id);
    const json_t *inc = member(&cx, e, "incremental-changes", field, JSON_TRUE, 0, &bad);
    if (bad)
      return -1;
    if (json_object_get(e, "input")) {
      snprintf(field, sizeof field, "add/%.64s/input", id);
      return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, NULL, field, "this server streams GET resources only (no input)");
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->resource, sizeof s->resource, "%s", json_string_value(rid));
    snprintf(s->tag, sizeof s->tag, "%s", tag ? json_string_value(tag) : "");
    s->incremental = inc ? json_is_true(inc) : 1;
    out->nadd++;
  }
  const json_t *rm = member(&cx, j, "remove", "remove", JSON_ARRAY, 0, &bad);
  if (bad)
    return -1;
  if (rm) {
    struct proto_alto_names names;
    if (proto_alto_ctx_names(&cx, rm, "remove", PROTO_ALTO_MAX_SUBSTREAMS, &names))
      return -1;
    for (size_t i = 0; i < names.n; i++)
      snprintf(out->remove[i], PROTO_ALTO_ID_MAX, "%s", names.v[i]);
    out->nremove = names.n;
    proto_alto_names_free(&names);
  }
  if (!out->nadd && !out->nremove)
    return proto_alto_ctx_fail(&cx, PROTO_ALTO_E_MISSING_FIELD, "add", NULL, NULL, "nothing to add or remove");
  return 0;
}

json_t *proto_alto_stream_request_json(const struct proto_alto_stream_request *r) {
  json_t *doc = json_object(), *add = json_object(), *rm = json_array();
  for (size_t i = 0; add && i < r->nadd; i++) {
    const struct proto_alto_substream *s = &r->add[i];
    json_t                            *e = json_pack("{sssb}", "resource-id", s->resource, "incremental-changes", s->incremental);
    if (e && s->tag[0])
      json_object_set_new(e, "tag", json_string(s->tag));
    json_object_set_new(add, s->id, e);
  }
  for (size_t i = 0; rm && i < r->nremove; i++)
    json_array_append_new(rm, json_string(r->remove[i]));
  if (r->nadd)
    json_object_set(doc, "add", add);
  if (r->nremove)
    json_object_set(doc, "remove", rm);
  json_decref(add);
  json_decref(rm);
  return doc;
}
