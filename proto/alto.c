/* alto: RFC 7285 network maps, cost maps, the IRD, error resources and our
 * private guidance cost map, between jansson values and msg.h structs. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alto.h"
#include "alto_ctx.h"
#include "text.h" /* the address, prefix and info-hash text forms */
#include "xml.h"  /* P4P_XML_MAX_CELLS: the same cap as the XML parsers' */

/* ---- context ------------------------------------------------------------ */

static void clean_text(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = '?';
}

int proto_alto_ctx_fail(struct proto_alto_ctx *cx, const char *code, const char *field, const char *value, const char *path, const char *fmt, ...) {
  char    why[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  clean_text(why);
  if (cx->err && cx->errlen) {
    if (path && *path)
      snprintf(cx->err, cx->errlen, "%s: %s: %s", cx->source, path, why);
    else
      snprintf(cx->err, cx->errlen, "%s: %s", cx->source, why);
  }
  if (cx->fault) {
    cx->fault->code = code;
    snprintf(cx->fault->field, sizeof cx->fault->field, "%s", field ? field : "");
    snprintf(cx->fault->value, sizeof cx->fault->value, "%s", value ? value : "");
    clean_text(cx->fault->value);
  }
  return -1;
}

void proto_alto_ctx_show(const json_t *v, char *out, size_t outlen) {
  if (!outlen)
    return;
  out[0] = 0;
  if (json_is_string(v)) {
    snprintf(out, outlen, "%s", json_string_value(v));
  } else if (v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (s)
      snprintf(out, outlen, "%s", s);
    free(s);
  }
  clean_text(out);
}

/* ---- JSON text ---------------------------------------------------------- */

static int too_deep(const json_t *j, int depth) {
  if (depth > PROTO_ALTO_MAX_DEPTH)
    return 1;
  if (json_is_object(j)) {
    const char *k;
    json_t     *v;
    json_object_foreach((json_t *)j, k, v) if (too_deep(v, depth + 1)) return 1;
  } else if (json_is_array(j)) {
    size_t  i;
    json_t *v;
    json_array_foreach(j, i, v) if (too_deep(v, depth + 1)) return 1;
  }
  return 0;
}

json_t *proto_alto_load(const char *buf, size_t len, const char *source, struct proto_alto_fault *f, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {source, err, errlen, f};
  if (len > PROTO_ALTO_MAX_BYTES) {
    proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "document is %zu bytes, over the limit of %u bytes", len, PROTO_ALTO_MAX_BYTES);
    return NULL;
  }
  json_error_t je;
  json_t      *j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "not valid JSON: line %d column %d: %s", je.line, je.column, je.text);
    if (f && err && errlen) /* the body's syntax-error says where */
      snprintf(f->value, sizeof f->value, "line %d column %d", je.line, je.column);
    return NULL;
  }
  /* jansson itself stops at 2048 levels; no ALTO message needs more than a
   * handful, and our walkers recurse */
  if (too_deep(j, 1)) {
    json_decref(j);
    proto_alto_ctx_fail(&cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, NULL, "nested deeper than %d levels", PROTO_ALTO_MAX_DEPTH);
    return NULL;
  }
  return j;
}

char *proto_alto_dump(const json_t *j, size_t *len) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
  if (s && len)
    *len = strlen(s);
  return s;
}

json_t *proto_alto_number(double v) {
  if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
    return json_integer((json_int_t)v);
  return json_real(v); /* NULL for NaN and infinities */
}

/* ---- names and addresses ------------------------------------------------ */

int proto_alto_valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("-:@_.", s[i]))
      return 0;
  return 1;
}

static int is_v4(const uint8_t a[16]) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !memcmp(a, mapped, 12);
}

int proto_alto_endpoint_parse(const char *s, uint8_t addr[16]) {
  int v4 = !strncmp(s, "ipv4:", 5), v6 = !strncmp(s, "ipv6:", 5);
  if ((!v4 && !v6) || proto_addr_parse(s + 5, addr))
    return -1;
  return is_v4(addr) == v4 ? 0 : -1;
}

void proto_alto_endpoint_format(const uint8_t addr[16], char out[80]) {
  char a[P4P_ADDR_TEXT_MAX];
  proto_addr_format(addr, a);
  snprintf(out, 80, "%s:%s", is_v4(addr) ? "ipv4" : "ipv6", a);
}

static int valid_tag(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
      return 0;
  return 1;
}

int proto_alto_ctx_names(struct proto_alto_ctx *cx, const json_t *arr, const char *field, size_t max, struct proto_alto_names *out) {
  char shown[96];
  memset(out, 0, sizeof *out);
  if (!json_is_array(arr))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, field, NULL, field, "must be an array");
  size_t n = json_array_size(arr);
  if (n > max)
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, NULL, field, "%zu entries, at most %zu", n, max);
  if (n && !(out->v = calloc(n, sizeof *out->v)))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_SYNTAX, NULL, NULL, field, "out of memory");
  json_t *seen = json_object();
  size_t  i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) {
      /* 8.5.2: an element of the wrong type is an invalid value */
      proto_alto_ctx_show(v, shown, sizeof shown);
      json_decref(seen);
      proto_alto_names_free(out);
      return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, shown, field, "entry %zu is not a string", i);
    }
    const char *s = json_string_value(v);
    if (!proto_alto_valid_id(s)) {
      proto_alto_ctx_show(v, shown, sizeof shown);
      json_decref(seen);
      proto_alto_names_free(out);
      return proto_alto_ctx_fail(cx, PROTO_ALTO_E_SYNTAX, field, shown, field, "'%s' is not a valid name (1-64 of A-Z a-z 0-9 - : @ _ .)", shown);
    }
    if (!seen || json_object_get(seen, s))
      continue; /* entries appearing twice count once */
    json_object_set_new(seen, s, json_true());
    snprintf(out->v[out->n++], PROTO_ALTO_ID_MAX, "%s", s);
  }
  json_decref(seen);
  return 0;
}

void proto_alto_names_free(struct proto_alto_names *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* ---- errors ------------------------------------------------------------- */

json_t *proto_alto_error_json(const char *code, const char *field, const char *value, const char *syntax_error) {
  json_t *meta = json_object();
  json_object_set_new(meta, "code", json_string(code));
  if (field && *field)
    json_object_set_new(meta, "field", json_string(field));
  if (value && *value && field && *field) /* 8.5.2: value needs field */
    json_object_set_new(meta, "value", json_string(value));
  if (syntax_error && *syntax_error)
    json_object_set_new(meta, "syntax-error", json_string(syntax_error));
  return json_pack("{so}", "meta", meta);
}

int proto_alto_describe_error(const json_t *j, char *out, size_t outlen) {
  const json_t *meta = json_object_get(j, "meta");
  const char   *code = json_string_value(json_object_get(meta, "code"));
  if (!code)
    return -1;
  const char *field = json_string_value(json_object_get(meta, "field"));
  const char *value = json_string_value(json_object_get(meta, "value"));
  const char *syn   = json_string_value(json_object_get(meta, "syntax-error"));
  snprintf(out, outlen, "%.40s%s%.80s%s%.80s%s%.120s", code, field ? " field " : "", field ? field : "", value ? " value " : "", value ? value : "",
           syn ? ": " : "", syn ? syn : "");
  clean_text(out);
  return 0;
}

/* ---- vtags, cost types -------------------------------------------------- */

static json_t *vtag_json(const struct proto_alto_vtag *vt) { return json_pack("{ssss}", "resource-id", vt->rid, "tag", vt->tag); }

static int parse_vtag(struct proto_alto_ctx *cx, const json_t *v, const char *path, struct proto_alto_vtag *out) {
  const char *rid = json_string_value(json_object_get(v, "resource-id"));
  const char *tag = json_string_value(json_object_get(v, "tag"));
  if (!json_is_object(v))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, path, NULL, path, "a version tag is an object");
  if (!rid || !proto_alto_valid_id(rid))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, path, NULL, path, "resource-id missing or not a valid resource id");
  if (!tag || !valid_tag(tag))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, path, NULL, path, "tag missing or not 1-64 printable ASCII characters (10.3)");
  snprintf(out->rid, sizeof out->rid, "%s", rid);
  snprintf(out->tag, sizeof out->tag, "%s", tag);
  return 0;
}

static json_t *cost_type_json(const struct proto_alto_cost_type *ct) { return json_pack("{ssss}", "cost-mode", ct->mode, "cost-metric", ct->metric); }

static int valid_metric(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32 || !strcmp(s, "priv:"))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("-:_.", s[i]))
      return 0;
  return 1;
}

static int parse_cost_type(struct proto_alto_ctx *cx, const json_t *v, const char *path, struct proto_alto_cost_type *out) {
  char field[96], shown[96];
  if (!json_is_object(v))
    return proto_alto_ctx_fail(cx, v ? PROTO_ALTO_E_INVALID_FIELD_TYPE : PROTO_ALTO_E_MISSING_FIELD, path, NULL, path,
                               v ? "a cost type is an object" : "missing");
  const json_t *mode = json_object_get(v, "cost-mode"), *metric = json_object_get(v, "cost-metric");
  /* 8.5.2 names subfields as "cost-type/cost-mode" (with the erratum to its
   * example, which printed the path the other way round) */
  snprintf(field, sizeof field, "%s/cost-mode", path);
  if (!mode)
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_MISSING_FIELD, field, NULL, field, "missing");
  if (!json_is_string(mode))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, field, NULL, field, "must be a string");
  if (strcmp(json_string_value(mode), "numerical") && strcmp(json_string_value(mode), "ordinal")) {
    proto_alto_ctx_show(mode, shown, sizeof shown);
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, shown, field, "'%s': numerical or ordinal", shown);
  }
  snprintf(field, sizeof field, "%s/cost-metric", path);
  if (!metric)
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_MISSING_FIELD, field, NULL, field, "missing");
  if (!json_is_string(metric))
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_TYPE, field, NULL, field, "must be a string");
  if (!valid_metric(json_string_value(metric))) {
    proto_alto_ctx_show(metric, shown, sizeof shown);
    return proto_alto_ctx_fail(cx, PROTO_ALTO_E_INVALID_FIELD_VALUE, field, shown, field, "'%s' is not a cost metric name (10.6)", shown);
  }
  snprintf(out->mode, sizeof out->mode, "%s", json_string_value(mode));
  snprintf(out->metric, sizeof out->metric, "%s", json_string_value(metric));
  return 0;
}

/* ---- network map -------------------------------------------------------- */

json_t *proto_alto_networkmap_json(const struct p4p_pidmap_msg *m, const struct proto_alto_vtag *vtag, const unsigned char *pick, unsigned families) {
  json_t *map = json_object();
  if (!map)
    return NULL;
  for (size_t i = 0; i < m->npids; i++) {
    if (pick && !pick[i])
      continue;
    const struct p4p_pid_entry *p     = &m->pids[i];
    json_t                     *group = json_object(), *v4 = json_array(), *v6 = json_array();
    for (size_t k = 0; k < p->nprefixes; k++) {
      char s[P4P_ADDR_TEXT_MAX];
      int  four = is_v4(p->prefixes[k].addr) && p->prefixes[k].bits >= 96;
      if (!(families & (four ? 1u : 2u)))
        continue;
      proto_prefix_format(&p->prefixes[k], s);
      json_array_append_new(four ? v4 : v6, json_string(s));
    }
    if (json_array_size(v4))
      json_object_set(group, "ipv4", v4);
    if (json_array_size(v6))
      json_object_set(group, "ipv6", v6);
    json_decref(v4);
    json_decref(v6);
    json_object_set_new(map, p->name, group);
  }
  return json_pack("{s{so}so}", "meta", "vtag", vtag_json(vtag), "network-map", map);
}

struct prefix_owner {
  struct p4p_prefix prefix;
  size_t            pid;
};

static int cmp_owner(const void *a, const void *b) {
  const struct prefix_owner *x = a, *y = b;
  if (x->prefix.bits != y->prefix.bits)
    return x->prefix.bits < y->prefix.bits ? -1 : 1;
  return memcmp(x->prefix.addr, y->prefix.addr, 16);
}

int proto_alto_parse_networkmap(const json_t *j, const char *source, struct p4p_pidmap_msg *out, struct proto_alto_vtag *vtag, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {source, err, errlen, NULL};
  char                  path[200], shown[96];
  memset(out, 0, sizeof *out);
  memset(vtag, 0, sizeof *vtag);
  if (!json_is_object(j))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "a network map is a JSON object");
  if (parse_vtag(&cx, json_object_get(json_object_get(j, "meta"), "vtag"), "/meta/vtag", vtag))
    return -1;
  const json_t *map = json_object_get(j, "network-map");
  if (!json_is_object(map))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/network-map", "missing or not an object");
  size_t n = json_object_size(map);
  if (n > PROTO_ALTO_MAX_PIDS)
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/network-map", "%zu PIDs, at most %d", n, PROTO_ALTO_MAX_PIDS);
  snprintf(out->version, sizeof out->version, "%.63s", vtag->tag);
  if (n && !(out->pids = calloc(n, sizeof *out->pids)))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "out of memory");

  size_t               total = 0, nown = 0;
  struct prefix_owner *own = NULL;
  const char          *name;
  json_t              *group;
  json_object_foreach((json_t *)map, name, group) {
    snprintf(path, sizeof path, "/network-map/%.64s", name);
    if (!proto_alto_valid_id(name) || strlen(name) >= P4P_NAME_MAX) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "PID name: 1-%d of A-Z a-z 0-9 - : @ _ . (10.1; 63 is this implementation's limit)", P4P_NAME_MAX - 1);
      goto fail;
    }
    if (!json_is_object(group)) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "an endpoint address group is an object");
      goto fail;
    }
    struct p4p_pid_entry *p = &out->pids[out->npids++];
    snprintf(p->name, sizeof p->name, "%s", name);
    const char *type;
    json_t     *list;
    size_t      cnt = 0;
    json_object_foreach(group, type, list) {
      int four = !strcmp(type, "ipv4");
      if (!four && strcmp(type, "ipv6"))
        continue; /* 11.2.1.7: address types we do not know are ignored */
      if (!json_is_array(list)) {
        proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "%s: the prefixes are an array", type);
        goto fail;
      }
      cnt += json_array_size(list);
    }
    if (cnt > PROTO_ALTO_MAX_PREFIXES - total) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "more than %d prefixes in the map", PROTO_ALTO_MAX_PREFIXES);
      goto fail;
    }
    total += cnt;
    if (!cnt)
      continue; /* still a valid PID, holding no endpoints we know */
    struct prefix_owner *grown = realloc(own, total * sizeof *own);
    if (!(p->prefixes = calloc(cnt, sizeof *p->prefixes)) || !grown) {
      free(grown ? grown : own);
      own = NULL;
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "out of memory");
      goto fail;
    }
    own = grown;
    json_object_foreach(group, type, list) {
      int four = !strcmp(type, "ipv4");
      if (!four && strcmp(type, "ipv6"))
        continue;
      size_t  i;
      json_t *v;
      json_array_foreach(list, i, v) {
        struct p4p_prefix pf;
        const char       *s  = json_string_value(v);
        int               rc = s ? proto_prefix_parse(s, &pf) : -1;
        proto_alto_ctx_show(v, shown, sizeof shown);
        if (rc == -2) {
          proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "%s/%zu: prefix '%s' has host bits set", type, i, shown);
          goto fail;
        }
        if (rc || (is_v4(pf.addr) && pf.bits >= 96) != four) {
          proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "%s/%zu: '%s' is not an %s prefix", type, i, shown, type);
          goto fail;
        }
        p->prefixes[p->nprefixes++] = pf;
        own[nown++]                 = (struct prefix_owner){pf, out->npids - 1};
      }
    }
  }
  /* 11.2.2: no prefix may be in two PIDs (nor twice in one) */
  if (nown > 1)
    qsort(own, nown, sizeof *own, cmp_owner);
  for (size_t i = 1; i < nown; i++)
    if (!cmp_owner(&own[i - 1], &own[i])) {
      char s[P4P_ADDR_TEXT_MAX];
      proto_prefix_format(&own[i].prefix, s);
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/network-map", "prefix %s is in PID '%s' and in PID '%s' (11.2.2: PIDs must not overlap)", s,
                          out->pids[own[i - 1].pid].name, out->pids[own[i].pid].name);
      goto fail;
    }
  free(own);
  return 0;
fail:
  free(own);
  proto_pidmap_msg_free(out);
  memset(out, 0, sizeof *out);
  return -1;
}

/* ---- cost maps ---------------------------------------------------------- */

json_t *proto_alto_cost_rows(size_t nsrc, const char *const *src, size_t ndst, const char *const *dst, const double *v) {
  json_t *rows = json_object();
  for (size_t i = 0; rows && i < nsrc; i++) {
    json_t *row = json_object();
    for (size_t k = 0; row && k < ndst; k++)
      if (!isnan(v[i * ndst + k]))
        json_object_set_new(row, dst[k], proto_alto_number(v[i * ndst + k]));
    if (json_object_size(row))
      json_object_set(rows, src[i], row);
    json_decref(row);
  }
  return rows;
}

json_t *proto_alto_costmap_json(const struct proto_alto_vtag *dep, const struct proto_alto_cost_type *ct, json_t *rows) {
  return json_pack("{s{s[o]so}so}", "meta", "dependent-vtags", vtag_json(dep), "cost-type", cost_type_json(ct), "cost-map", rows);
}

/* Gives name the next position in index unless it has one. */
static int add_name(struct proto_alto_ctx *cx, json_t *index, const char *name, size_t *n, const char *path) {
  if (json_object_get(index, name))
    return 0;
  if (!proto_alto_valid_id(name) || strlen(name) >= P4P_NAME_MAX)
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "'%.64s' is not a PID name of at most %d characters", name, P4P_NAME_MAX - 1);
  if (*n == PROTO_ALTO_MAX_MATRIX)
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "more than %d PIDs", PROTO_ALTO_MAX_MATRIX);
  if (json_object_set_new(index, name, json_integer((json_int_t)*n)))
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "out of memory");
  ++*n;
  return 0;
}

/* Cost map rows into a square matrix over every name they hold; absent
 * cells get `absent`.  ordinal: values must be whole. */
static int parse_rows(struct proto_alto_ctx *cx, const json_t *rows, const char *where, double absent, int ordinal, struct p4p_matrix *m) {
  char    path[300], shown[96];
  json_t *index = json_object(); /* name -> position, jansson's hash */
  if (!index)
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, where, "out of memory");
  if (!json_is_object(rows)) {
    json_decref(index);
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, where, "missing or not an object");
  }
  const char *src, *dst;
  json_t     *row, *v;
  size_t      n = 0;
  json_object_foreach((json_t *)rows, src, row) {
    snprintf(path, sizeof path, "%s/%.64s", where, src);
    if (!json_is_object(row)) {
      json_decref(index);
      return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "a row of costs is an object");
    }
    if (add_name(cx, index, src, &n, path)) {
      json_decref(index);
      return -1;
    }
    json_object_foreach(row, dst, v) if (add_name(cx, index, dst, &n, path)) {
      json_decref(index);
      return -1;
    }
  }
  if (proto_matrix_alloc(m, n)) {
    json_decref(index);
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, NULL, "out of memory");
  }
  const char *name;
  json_object_foreach(index, name, v) snprintf(m->pids[json_integer_value(v)], P4P_NAME_MAX, "%s", name);
  for (size_t k = 0; k < n * n; k++)
    m->v[k] = absent;
  json_object_foreach((json_t *)rows, src, row) {
    size_t i = (size_t)json_integer_value(json_object_get(index, src));
    json_object_foreach(row, dst, v) {
      size_t k = (size_t)json_integer_value(json_object_get(index, dst));
      snprintf(path, sizeof path, "%s/%.64s/%.64s", where, src, dst);
      if (!json_is_number(v)) {
        proto_alto_ctx_show(v, shown, sizeof shown);
        proto_matrix_free(m);
        json_decref(index);
        return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "%s is not a number (11.2.3.6)", shown);
      }
      double x = json_number_value(v);
      if (!isfinite(x) || x < 0 || (ordinal && x != floor(x))) {
        proto_matrix_free(m);
        json_decref(index);
        return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "%g: costs are finite and >= 0%s", x, ordinal ? ", ordinal ones whole" : "");
      }
      m->v[i * n + k] = x;
    }
  }
  json_decref(index);
  return 0;
}

static int parse_map_meta(struct proto_alto_ctx *cx, const json_t *j, struct proto_alto_cost_type *ct, struct proto_alto_vtag *dep) {
  const json_t *meta = json_object_get(j, "meta");
  if (!json_is_object(j))
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, NULL, "a cost map is a JSON object");
  if (!json_is_object(meta))
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, "/meta", "missing or not an object");
  const json_t *deps = json_object_get(meta, "dependent-vtags");
  if (!json_is_array(deps) || !json_array_size(deps))
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, "/meta/dependent-vtags", "missing or empty (11.2.3.6: the network map's version tag)");
  if (parse_vtag(cx, json_array_get(deps, 0), "/meta/dependent-vtags/0", dep))
    return -1;
  return parse_cost_type(cx, json_object_get(meta, "cost-type"), "/meta/cost-type", ct);
}

int proto_alto_parse_costmap(const json_t *j, const char *source, struct p4p_costs_msg *out, struct proto_alto_cost_type *ct, struct proto_alto_vtag *dep,
                             char *err, size_t errlen) {
  struct proto_alto_ctx cx = {source, err, errlen, NULL};
  memset(out, 0, sizeof *out);
  memset(ct, 0, sizeof *ct);
  if (parse_map_meta(&cx, j, ct, dep) || parse_rows(&cx, json_object_get(j, "cost-map"), "/cost-map", NAN, !strcmp(ct->mode, "ordinal"), &out->costs)) {
    memset(out, 0, sizeof *out);
    return -1;
  }
  snprintf(out->version, sizeof out->version, "%.63s", dep->tag);
  return 0;
}

/* ---- guidance ----------------------------------------------------------- */

/* A weight matrix as cost map rows, zero weights left out. */
static json_t *weight_rows(const struct p4p_matrix *m) {
  size_t       n     = m->n;
  const char **names = malloc((n ? n : 1) * sizeof *names);
  double      *v     = malloc((n ? n * n : 1) * sizeof *v);
  json_t      *rows  = NULL;
  if (names && v) {
    for (size_t i = 0; i < n; i++)
      names[i] = m->pids[i];
    for (size_t k = 0; k < n * n; k++)
      v[k] = m->v[k] > 0 ? m->v[k] : NAN;
    rows = proto_alto_cost_rows(n, names, n, names, v);
  }
  free(names);
  free(v);
  return rows;
}

json_t *proto_alto_guidance_json(const struct p4p_guidance_msg *g, const struct proto_alto_vtag *dep, const struct proto_alto_vtag *vtag) {
  static const struct proto_alto_cost_type ct     = {PROTO_ALTO_METRIC_GUIDANCE, "numerical"};
  json_t                                  *rows   = g->has_default ? weight_rows(&g->default_weights) : json_object();
  json_t                                  *swarms = json_object();
  json_t                                  *doc    = proto_alto_costmap_json(dep, &ct, rows);
  if (!doc || !swarms) {
    json_decref(doc);
    json_decref(swarms);
    return NULL;
  }
  if (vtag)
    json_object_set_new(json_object_get(doc, "meta"), "vtag", vtag_json(vtag));
  for (size_t k = 0; k < g->nswarms; k++) {
    char hex[2 * P4P_HASH_SIZE + 1];
    proto_hash_format_hex(g->swarms[k].info_hash, hex);
    json_t *r = weight_rows(&g->swarms[k].weights);
    if (!r) {
      json_decref(doc);
      json_decref(swarms);
      return NULL;
    }
    json_object_set_new(swarms, hex, r);
  }
  json_object_set_new(doc, PROTO_ALTO_FIELD_SWARMS, swarms);
  return doc;
}

int proto_alto_parse_guidance(const json_t *j, const char *source, struct p4p_guidance_msg *out, struct proto_alto_vtag *dep, char *err, size_t errlen) {
  struct proto_alto_ctx       cx = {source, err, errlen, NULL};
  struct proto_alto_cost_type ct;
  char                        path[120];
  memset(out, 0, sizeof *out);
  if (parse_map_meta(&cx, j, &ct, dep))
    return -1;
  if (strcmp(ct.metric, PROTO_ALTO_METRIC_GUIDANCE) || strcmp(ct.mode, "numerical"))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/meta/cost-type", "expected numerical %s, got %s %s", PROTO_ALTO_METRIC_GUIDANCE, ct.mode, ct.metric);
  snprintf(out->version, sizeof out->version, "%.63s", dep->tag);
  const json_t          *vt = json_object_get(json_object_get(j, "meta"), "vtag");
  struct proto_alto_vtag own;
  if (vt && parse_vtag(&cx, vt, "/meta/vtag", &own) == 0)
    snprintf(out->version, sizeof out->version, "%.63s", own.tag);
  else if (vt)
    return -1;
  size_t cells = 0;
  if (parse_rows(&cx, json_object_get(j, "cost-map"), "/cost-map", 0, 0, &out->default_weights))
    goto fail;
  out->has_default = out->default_weights.n > 0;
  cells += out->default_weights.n * out->default_weights.n;
  const json_t *sw = json_object_get(j, PROTO_ALTO_FIELD_SWARMS);
  if (sw && !json_is_object(sw)) {
    proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/" PROTO_ALTO_FIELD_SWARMS, "not an object");
    goto fail;
  }
  size_t ns = json_object_size(sw);
  if (ns > PROTO_ALTO_MAX_SWARMS) {
    proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/" PROTO_ALTO_FIELD_SWARMS, "%zu swarms, at most %d", ns, PROTO_ALTO_MAX_SWARMS);
    goto fail;
  }
  if (ns && !(out->swarms = calloc(ns, sizeof *out->swarms))) {
    proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "out of memory");
    goto fail;
  }
  const char *hex;
  json_t     *rows;
  json_object_foreach((json_t *)sw, hex, rows) {
    struct p4p_swarm_guidance *s = &out->swarms[out->nswarms];
    snprintf(path, sizeof path, "/%s/%.40s", PROTO_ALTO_FIELD_SWARMS, hex);
    if (strlen(hex) != 40 || proto_hash_parse_hex(hex, s->info_hash)) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "an info-hash is 40 hex digits");
      goto fail;
    }
    if (parse_rows(&cx, rows, path, 0, 0, &s->weights))
      goto fail;
    out->nswarms++;
    cells += s->weights.n * s->weights.n;
    if (cells > P4P_XML_MAX_CELLS) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "more than %u matrix cells in all", P4P_XML_MAX_CELLS);
      goto fail;
    }
  }
  return 0;
fail:
  proto_guidance_msg_free(out);
  memset(out, 0, sizeof *out);
  return -1;
}

json_t *proto_alto_stats_json(const struct p4p_stats_msg *m) {
  json_t *list = json_array();
  for (size_t k = 0; list && k < m->nswarms; k++) {
    const struct p4p_swarm_stats *s = &m->swarms[k];
    char                          hex[2 * P4P_HASH_SIZE + 1];
    json_t                       *pids = json_object();
    proto_hash_format_hex(s->info_hash, hex);
    for (size_t i = 0; pids && i < s->npids; i++) {
      const struct p4p_pid_stats *p = &s->pids[i];
      json_t                     *o = json_pack("{sIsI}", "seeders", (json_int_t)(p->seeders > INT64_MAX ? INT64_MAX : p->seeders), "leechers",
                                                (json_int_t)(p->leechers > INT64_MAX ? INT64_MAX : p->leechers));
      if (o && p->up_kbps >= 0)
        json_object_set_new(o, "up-kbps", proto_alto_number(p->up_kbps));
      if (o && p->down_kbps >= 0)
        json_object_set_new(o, "down-kbps", proto_alto_number(p->down_kbps));
      json_object_set_new(pids, p->pid, o);
    }
    json_array_append_new(list, json_pack("{ssso}", "info-hash", hex, "pids", pids));
  }
  return json_pack("{s{ssss}so}", "cost-type", "cost-mode", "numerical", "cost-metric", PROTO_ALTO_METRIC_GUIDANCE, PROTO_ALTO_FIELD_STATS, list);
}

/* ---- IRD ---------------------------------------------------------------- */

static int copy_string(struct proto_alto_ctx *cx, const json_t *v, const char *path, int required, char *out, size_t outlen) {
  out[0] = 0;
  if (!v && !required)
    return 0;
  if (!json_is_string(v))
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, v ? "must be a string" : "missing");
  if (strlen(json_string_value(v)) >= outlen)
    return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "longer than %zu characters", outlen - 1);
  snprintf(out, outlen, "%s", json_string_value(v));
  for (char *s = out; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return proto_alto_ctx_fail(cx, NULL, NULL, NULL, path, "control character");
  return 0;
}

int proto_alto_parse_ird(const json_t *j, const char *source, struct proto_alto_ird *out, char *err, size_t errlen) {
  struct proto_alto_ctx cx = {source, err, errlen, NULL};
  char                  path[200];
  memset(out, 0, sizeof *out);
  if (!json_is_object(j))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "an information resource directory is a JSON object");
  const json_t *meta = json_object_get(j, "meta"), *types = json_object_get(meta, "cost-types");
  const json_t *res = json_object_get(j, "resources");
  if (meta && !json_is_object(meta))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/meta", "not an object");
  if (types && !json_is_object(types))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/meta/cost-types", "not an object");
  if (copy_string(&cx, json_object_get(meta, "default-alto-network-map"), "/meta/default-alto-network-map", 0, out->default_network_map,
                  sizeof out->default_network_map))
    return -1;
  if (!json_is_object(res))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/resources", "missing or not an object");
  size_t n = json_object_size(res);
  if (n > PROTO_ALTO_MAX_RESOURCES)
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, "/resources", "%zu resources, at most %d", n, PROTO_ALTO_MAX_RESOURCES);
  if (n && !(out->res = calloc(n, sizeof *out->res)))
    return proto_alto_ctx_fail(&cx, NULL, NULL, NULL, NULL, "out of memory");
  const char *id;
  json_t     *e;
  json_object_foreach((json_t *)res, id, e) {
    struct proto_alto_resource *r = &out->res[out->n];
    snprintf(path, sizeof path, "/resources/%.64s", id);
    if (!proto_alto_valid_id(id)) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "not a valid resource id (10.2)");
      goto fail;
    }
    if (!json_is_object(e)) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "an entry is an object");
      goto fail;
    }
    snprintf(r->id, sizeof r->id, "%s", id);
    char sub[260];
    snprintf(sub, sizeof sub, "%s/uri", path);
    if (copy_string(&cx, json_object_get(e, "uri"), sub, 1, r->uri, sizeof r->uri))
      goto fail;
    snprintf(sub, sizeof sub, "%s/media-type", path);
    if (copy_string(&cx, json_object_get(e, "media-type"), sub, 1, r->media_type, sizeof r->media_type))
      goto fail;
    snprintf(sub, sizeof sub, "%s/accepts", path);
    if (copy_string(&cx, json_object_get(e, "accepts"), sub, 0, r->accepts, sizeof r->accepts))
      goto fail;
    const json_t *uses = json_object_get(e, "uses"), *caps = json_object_get(e, "capabilities");
    if (uses) {
      struct proto_alto_names names;
      snprintf(sub, sizeof sub, "%s/uses", path);
      if (proto_alto_ctx_names(&cx, uses, sub, PROTO_ALTO_MAX_USES, &names))
        goto fail;
      for (size_t k = 0; k < names.n; k++)
        snprintf(r->uses[k], PROTO_ALTO_ID_MAX, "%s", names.v[k]);
      r->nuses = names.n;
      proto_alto_names_free(&names);
    }
    if (caps && !json_is_object(caps)) {
      proto_alto_ctx_fail(&cx, NULL, NULL, NULL, path, "capabilities: not an object");
      goto fail;
    }
    const json_t *ctn = json_object_get(caps, "cost-type-names");
    if (ctn) {
      struct proto_alto_names names;
      snprintf(sub, sizeof sub, "%s/capabilities/cost-type-names", path);
      if (proto_alto_ctx_names(&cx, ctn, sub, PROTO_ALTO_MAX_TYPES, &names))
        goto fail;
      for (size_t k = 0; k < names.n; k++) {
        const json_t *def = json_object_get(types, names.v[k]);
        char          tpath[300];
        snprintf(tpath, sizeof tpath, "/meta/cost-types/%s", names.v[k]);
        if (!def) {
          proto_alto_ctx_fail(&cx, NULL, NULL, NULL, sub, "names cost type '%s', which meta/cost-types does not define", names.v[k]);
          proto_alto_names_free(&names);
          goto fail;
        }
        if (parse_cost_type(&cx, def, tpath, &r->types[r->ntypes])) {
          proto_alto_names_free(&names);
          goto fail;
        }
        r->ntypes++;
      }
      proto_alto_names_free(&names);
    }
    r->cost_constraints = json_is_true(json_object_get(caps, "cost-constraints"));
    const json_t *icm   = json_object_get(caps, "incremental-change-media-types");
    for (size_t k = 0; json_is_object(icm) && k < r->nuses; k++) {
      const char *mt = json_string_value(json_object_get(icm, r->uses[k]));
      if (mt && strstr(mt, PROTO_ALTO_MT_MERGE_PATCH))
        r->merge_patch_uses |= 1u << k;
    }
    out->n++;
  }
  return 0;
fail:
  proto_alto_ird_free(out);
  return -1;
}

void proto_alto_ird_free(struct proto_alto_ird *ird) {
  free(ird->res);
  memset(ird, 0, sizeof *ird);
}

const struct proto_alto_resource *proto_alto_ird_find(const struct proto_alto_ird *ird, const char *id) {
  for (size_t i = 0; i < ird->n; i++)
    if (!strcmp(ird->res[i].id, id))
      return &ird->res[i];
  return NULL;
}
