/* proto/alto: the RFC 7285 example responses (tests/data/alto/, corrected
 * as its README says) parse into the values the RFC shows; encoders give
 * back what the RFC's examples hold; hostile and broken JSON is refused
 * with a reason that names the place.  Hand-checked answers throughout. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/alto.h"
#include "proto/file.h"
#include "proto/text.h"

static json_t *load_file(const char *name) {
  const char *dir = getenv("TEST_DATA");
  char        path[1024], err[300];
  char       *buf;
  size_t      n;
  snprintf(path, sizeof path, "%s/alto/%s", dir ? dir : "tests/data", name);
  assert_int_equal(proto_read_file(path, 1 << 20, &buf, &n, err, sizeof err), 0);
  json_t *j = proto_alto_load(buf, n, name, NULL, err, sizeof err);
  if (!j)
    fail_msg("%s", err);
  free(buf);
  return j;
}

static json_t *load_text(const char *text, char *err, size_t errlen) { return proto_alto_load(text, strlen(text), "response", NULL, err, errlen); }

static long find(const char (*names)[P4P_NAME_MAX], size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(names[i], name))
      return (long)i;
  return -1;
}

static const struct p4p_pid_entry *pid_named(const struct p4p_pidmap_msg *m, const char *name) {
  for (size_t i = 0; i < m->npids; i++)
    if (!strcmp(m->pids[i].name, name))
      return &m->pids[i];
  return NULL;
}

static void assert_prefixes(const struct p4p_pid_entry *p, const char *const *want, size_t n) {
  assert_non_null(p);
  assert_int_equal(p->nprefixes, n);
  for (size_t k = 0; k < n; k++) {
    char s[P4P_ADDR_TEXT_MAX];
    proto_prefix_format(&p->prefixes[k], s);
    assert_string_equal(s, want[k]);
  }
}

static double cost(const struct p4p_matrix *m, const char *from, const char *to) {
  long i = find((const char(*)[P4P_NAME_MAX])m->pids, m->n, from), j = find((const char(*)[P4P_NAME_MAX])m->pids, m->n, to);
  assert_true(i >= 0 && j >= 0);
  return m->v[i * m->n + j];
}

/* 9.2.3 and 9.2.4: both directories, every entry, cost type names resolved */
static void test_rfc_ird(void **state) {
  (void)state;
  char                  err[300];
  struct proto_alto_ird ird;
  json_t               *j = load_file("rfc7285-9.2.3-ird.json");
  assert_int_equal(proto_alto_parse_ird(j, "ird", &ird, err, sizeof err), 0);
  assert_string_equal(ird.default_network_map, "my-default-network-map");
  assert_int_equal(ird.n, 6);
  const struct proto_alto_resource *r = proto_alto_ird_find(&ird, "numerical-routing-cost-map");
  assert_non_null(r);
  assert_string_equal(r->uri, "http://alto.example.com/costmap/num/routingcost");
  assert_string_equal(r->media_type, PROTO_ALTO_MT_COSTMAP);
  assert_string_equal(r->accepts, "");
  assert_int_equal(r->ntypes, 1);
  assert_string_equal(r->types[0].metric, "routingcost");
  assert_string_equal(r->types[0].mode, "numerical");
  assert_int_equal(r->nuses, 1);
  assert_string_equal(r->uses[0], "my-default-network-map");
  r = proto_alto_ird_find(&ird, "endpoint-cost");
  assert_non_null(r);
  assert_int_equal(r->ntypes, 4);
  assert_true(r->cost_constraints);
  assert_string_equal(r->types[3].metric, "hopcount");
  assert_string_equal(r->types[3].mode, "ordinal");
  assert_string_equal(r->accepts, PROTO_ALTO_MT_ENDPOINTCOSTPARAMS);
  r = proto_alto_ird_find(&ird, "custom-maps-resources");
  assert_string_equal(r->media_type, PROTO_ALTO_MT_DIRECTORY);
  proto_alto_ird_free(&ird);
  json_decref(j);

  j = load_file("rfc7285-9.2.4-delegated-ird.json");
  assert_int_equal(proto_alto_parse_ird(j, "ird", &ird, err, sizeof err), 0);
  assert_string_equal(ird.default_network_map, "");
  assert_int_equal(ird.n, 4);
  r = proto_alto_ird_find(&ird, "filtered-cost-map");
  assert_string_equal(r->accepts, PROTO_ALTO_MT_COSTMAPFILTER);
  assert_int_equal(r->ntypes, 4);
  proto_alto_ird_free(&ird);
  json_decref(j);

  /* the RFC's own text had a trailing comma (the erratum we applied) */
  const char *raw = "{\"resources\": {\"a\": {\"uri\": \"/x\", \"media-type\": \"m\", \"capabilities\": {},}}}";
  assert_null(load_text(raw, err, sizeof err));
  assert_non_null(strstr(err, "response: not valid JSON: line 1"));
}

static void test_ird_refusals(void **state) {
  (void)state;
  char                  err[300];
  struct proto_alto_ird ird;
  json_t *j = load_text("{\"meta\": {\"cost-types\": {}}, \"resources\": {\"cm\": {\"uri\": \"/c\", \"media-type\": \"application/alto-costmap+json\","
                        " \"capabilities\": {\"cost-type-names\": [\"nope\"]}}}}",
                        err, sizeof err);
  assert_int_equal(proto_alto_parse_ird(j, "ird", &ird, err, sizeof err), -1);
  assert_string_equal(err, "ird: /resources/cm/capabilities/cost-type-names: names cost type 'nope', which meta/cost-types does not define");
  json_decref(j);
  j = load_text("{\"resources\": {\"a b\": {\"uri\": \"/c\", \"media-type\": \"x\"}}}", err, sizeof err);
  assert_int_equal(proto_alto_parse_ird(j, "ird", &ird, err, sizeof err), -1);
  assert_string_equal(err, "ird: /resources/a b: not a valid resource id (10.2)");
  json_decref(j);
  j = load_text("{\"resources\": {\"a\": {\"media-type\": \"x\"}}}", err, sizeof err);
  assert_int_equal(proto_alto_parse_ird(j, "ird", &ird, err, sizeof err), -1);
  assert_string_equal(err, "ird: /resources/a/uri: missing");
  json_decref(j);
}

/* 11.2.1.7 */
static void test_rfc_networkmap(void **state) {
  (void)state;
  char                   err[300];
  struct p4p_pidmap_msg  m;
  struct proto_alto_vtag vt;
  json_t                *j = load_file("rfc7285-11.2.1.7-networkmap.json");
  assert_int_equal(proto_alto_parse_networkmap(j, "nm", &m, &vt, err, sizeof err), 0);
  assert_string_equal(vt.rid, "my-default-network-map");
  assert_string_equal(vt.tag, "da65eca2eb7a10ce8b059740b0b2e3f8eb1d4785");
  assert_int_equal(m.npids, 3);
  assert_prefixes(pid_named(&m, "PID1"), (const char *[]){"192.0.2.0/24", "198.51.100.0/25"}, 2);
  assert_prefixes(pid_named(&m, "PID2"), (const char *[]){"198.51.100.128/25"}, 1);
  assert_prefixes(pid_named(&m, "PID3"), (const char *[]){"0.0.0.0/0", "::/0"}, 2);

  /* and back: the encoder writes the same JSON value */
  json_t *again = proto_alto_networkmap_json(&m, &vt, NULL, 3);
  assert_true(json_equal(again, j));
  json_decref(again);
  /* filtered to PID1 and PID2 it is the (corrected) 11.3.1.7 answer, tags
   * aside: 11.3.1.6 keeps the full map's vtag */
  json_t *want = load_file("rfc7285-11.3.1.7-response.json");
  json_object_set_new(json_object_get(json_object_get(want, "meta"), "vtag"), "tag", json_string(vt.tag));
  again = proto_alto_networkmap_json(&m, &vt, (const unsigned char[]){1, 1, 0}, 3);
  assert_true(json_equal(again, want));
  json_decref(again);
  json_decref(want);
  /* ipv6 only: PID3's ::/0 and two PIDs with no endpoints */
  again = proto_alto_networkmap_json(&m, &vt, NULL, 2);
  assert_int_equal(json_object_size(json_object_get(json_object_get(again, "network-map"), "PID1")), 0);
  assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(again, "network-map"), "PID3"), "ipv6"), 0)), "::/0");
  json_decref(again);
  proto_pidmap_msg_free(&m);
  json_decref(j);
}

/* 11.2.2: the complete, non-overlapping map and the changed one */
static void test_rfc_lpm(void **state) {
  (void)state;
  char                   err[300];
  struct p4p_pidmap_msg  m;
  struct proto_alto_vtag vt;
  json_t                *j = load_file("rfc7285-11.2.2-complete.json");
  assert_int_equal(proto_alto_parse_networkmap(j, "nm", &m, &vt, err, sizeof err), 0);
  /* longest prefix over every PID's prefixes: 192.0.2.1 is in PID3 */
  uint8_t a[16];
  assert_int_equal(proto_addr_parse("192.0.2.1", a), 0);
  const char *best      = NULL;
  int         best_bits = -1;
  for (size_t i = 0; i < m.npids; i++)
    for (size_t k = 0; k < m.pids[i].nprefixes; k++) {
      const struct p4p_prefix *p  = &m.pids[i].prefixes[k];
      int                      in = 1;
      for (int b = 0; b < p->bits && in; b++)
        in = ((a[b / 8] ^ p->addr[b / 8]) & (0x80 >> (b % 8))) == 0;
      if (in && p->bits > best_bits) {
        best_bits = p->bits;
        best      = m.pids[i].name;
      }
    }
  assert_string_equal(best, "PID3");
  assert_int_equal(best_bits, 96 + 25);
  proto_pidmap_msg_free(&m);
  json_decref(j);
  j = load_file("rfc7285-11.2.2-overlapping.json");
  assert_int_equal(proto_alto_parse_networkmap(j, "nm", &m, &vt, err, sizeof err), -1);
  assert_string_equal(err, "nm: /network-map: prefix 192.0.2.0/24 is in PID 'PID2' and in PID 'PID3' (11.2.2: PIDs must not overlap)");
  assert_int_equal(m.npids, 0);
  json_decref(j);
}

/* 11.2.3.7 and 11.3.2.7 */
static void test_rfc_costmaps(void **state) {
  (void)state;
  char                        err[300];
  struct p4p_costs_msg        c;
  struct proto_alto_cost_type ct;
  struct proto_alto_vtag      dep;
  json_t                     *j = load_file("rfc7285-11.2.3.7-costmap.json");
  assert_int_equal(proto_alto_parse_costmap(j, "cm", &c, &ct, &dep, err, sizeof err), 0);
  assert_string_equal(ct.mode, "numerical");
  assert_string_equal(ct.metric, "routingcost");
  assert_string_equal(dep.rid, "my-default-network-map");
  assert_string_equal(dep.tag, "3ee2cb7e8d63d9fab71b9b34cbf764436315542e");
  assert_int_equal(c.costs.n, 3);
  assert_true(cost(&c.costs, "PID1", "PID1") == 1);
  assert_true(cost(&c.costs, "PID1", "PID3") == 10);
  assert_true(cost(&c.costs, "PID2", "PID3") == 15);
  assert_true(cost(&c.costs, "PID3", "PID1") == 20);
  assert_true(isnan(cost(&c.costs, "PID3", "PID3"))); /* not defined: omitted */
  /* back to JSON: the same value */
  const char *names[3] = {c.costs.pids[0], c.costs.pids[1], c.costs.pids[2]};
  json_t     *again    = proto_alto_costmap_json(&dep, &ct, proto_alto_cost_rows(3, names, 3, names, c.costs.v));
  assert_true(json_equal(again, j));
  json_decref(again);
  proto_costs_msg_free(&c);
  json_decref(j);

  j = load_file("rfc7285-11.3.2.7-response.json");
  assert_int_equal(proto_alto_parse_costmap(j, "cm", &c, &ct, &dep, err, sizeof err), 0);
  assert_int_equal(c.costs.n, 3);
  assert_true(cost(&c.costs, "PID1", "PID1") == 0);
  assert_true(cost(&c.costs, "PID1", "PID2") == 1);
  assert_true(cost(&c.costs, "PID1", "PID3") == 2);
  assert_true(isnan(cost(&c.costs, "PID2", "PID1")));
  proto_costs_msg_free(&c);
  json_decref(j);
}

static void test_costmap_refusals(void **state) {
  (void)state;
  static const struct {
    const char *doc, *why;
  } bad[] = {
      {"{\"meta\": {\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}}, \"cost-map\": {}}",
       "cm: /meta/dependent-vtags: missing or empty (11.2.3.6: the network map's version tag)"},
      {"{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"n\", \"tag\": \"t\"}], \"cost-type\": {\"cost-mode\": \"fancy\", \"cost-metric\": \"routingcost\"}}, "
       "\"cost-map\": {}}",
       "cm: /meta/cost-type/cost-mode: 'fancy': numerical or ordinal"},
      {"{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"n\", \"tag\": \"t\"}], \"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": "
       "\"routingcost\"}}, \"cost-map\": {\"A\": {\"B\": \"7\"}}}",
       "cm: /cost-map/A/B: 7 is not a number (11.2.3.6)"},
      {"{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"n\", \"tag\": \"t\"}], \"cost-type\": {\"cost-mode\": \"ordinal\", \"cost-metric\": "
       "\"routingcost\"}}, \"cost-map\": {\"A\": {\"B\": 1.5}}}",
       "cm: /cost-map/A/B: 1.5: costs are finite and >= 0, ordinal ones whole"},
      {"{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"n\", \"tag\": \"t\"}], \"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": "
       "\"routingcost\"}}, \"cost-map\": {\"A\": {\"B\": -1}}}",
       "cm: /cost-map/A/B: -1: costs are finite and >= 0"},
      {"{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"n\", \"tag\": \"t t\"}], \"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": "
       "\"routingcost\"}}, \"cost-map\": {}}",
       "cm: /meta/dependent-vtags/0: tag missing or not 1-64 printable ASCII characters (10.3)"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char                        err[300];
    struct p4p_costs_msg        c;
    struct proto_alto_cost_type ct;
    struct proto_alto_vtag      dep;
    json_t                     *j = load_text(bad[k].doc, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(proto_alto_parse_costmap(j, "cm", &c, &ct, &dep, err, sizeof err), -1);
    assert_string_equal(err, bad[k].why);
    assert_int_equal(c.costs.n, 0);
    json_decref(j);
  }
}

/* 11.4.1.7 and 11.5.1.7: the responses are JSON we read, the requests
 * parameters we parse */
static void test_rfc_endpoint_services(void **state) {
  (void)state;
  char                           err[300];
  struct proto_alto_fault        f;
  struct proto_alto_prop_request pr;
  json_t                        *j = load_file("rfc7285-11.4.1.7-request.json");
  assert_int_equal(proto_alto_parse_prop_request(j, &pr, &f, err, sizeof err), 0);
  assert_int_equal(pr.properties.n, 2);
  assert_string_equal(pr.properties.v[0], "my-default-network-map.pid");
  assert_string_equal(pr.properties.v[1], "priv:ietf-example-prop");
  assert_int_equal(pr.naddrs, 2);
  char s[80];
  proto_alto_endpoint_format(pr.addrs[1], s);
  assert_string_equal(s, "ipv4:203.0.113.129");
  proto_alto_prop_request_free(&pr);
  json_decref(j);
  j = load_file("rfc7285-11.4.1.7-response.json");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(json_object_get(j, "endpoint-properties"), "ipv4:203.0.113.129"), "my-default-network-map.pid")),
      "PID3");
  json_decref(j);

  struct proto_alto_cost_filter cf;
  j = load_file("rfc7285-11.5.1.7-request.json");
  assert_int_equal(proto_alto_parse_cost_filter(j, 1, &cf, &f, err, sizeof err), 0);
  assert_string_equal(cf.type.mode, "ordinal");
  assert_int_equal(cf.nsrc_addrs, 1);
  assert_int_equal(cf.ndst_addrs, 3);
  proto_alto_endpoint_format(cf.dst_addrs[1], s);
  assert_string_equal(s, "ipv4:198.51.100.34");
  proto_alto_cost_filter_free(&cf);
  json_decref(j);

  j = load_file("rfc7285-11.3.2.7-request.json");
  assert_int_equal(proto_alto_parse_cost_filter(j, 0, &cf, &f, err, sizeof err), 0);
  assert_int_equal(cf.srcs.n, 1);
  assert_int_equal(cf.dsts.n, 3);
  assert_string_equal(cf.dsts.v[2], "PID3");
  proto_alto_cost_filter_free(&cf);
  json_decref(j);

  struct proto_alto_netmap_filter nf;
  j = load_file("rfc7285-11.3.1.7-request.json");
  assert_int_equal(proto_alto_parse_netmap_filter(j, &nf, &f, err, sizeof err), 0);
  assert_int_equal(nf.pids.n, 2);
  assert_int_equal(nf.families, 3);
  proto_alto_names_free(&nf.pids);
  json_decref(j);
}

/* 8.5.2: each refusal carries its code, field and value */
static void test_request_faults(void **state) {
  (void)state;
  static const struct {
    int         kind; /* 0 cost filter, 1 ECS, 2 netmap filter, 3 props, 4 stream */
    const char *doc, *code, *field, *value;
  } cases[] = {
      {0, "{\"pids\": {}}", PROTO_ALTO_E_MISSING_FIELD, "cost-type", ""},
      {0, "{\"cost-type\": {\"cost-metric\": \"routingcost\"}}", PROTO_ALTO_E_MISSING_FIELD, "cost-type/cost-mode", ""},
      {0, "{\"cost-type\": {\"cost-mode\": \"foo\", \"cost-metric\": \"routingcost\"}}", PROTO_ALTO_E_INVALID_FIELD_VALUE, "cost-type/cost-mode", "foo"},
      {0, "{\"cost-type\": {\"cost-mode\": 1, \"cost-metric\": \"routingcost\"}}", PROTO_ALTO_E_INVALID_FIELD_TYPE, "cost-type/cost-mode", ""},
      {0, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"constraints\": [\"ne 5\"]}", PROTO_ALTO_E_INVALID_FIELD_VALUE,
       "constraints", "ne 5"},
      {0, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"pids\": {\"srcs\": [\"PID1\", 7], \"dsts\": []}}",
       PROTO_ALTO_E_INVALID_FIELD_VALUE, "pids/srcs", "7"},
      {0, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"pids\": {\"dsts\": []}}", PROTO_ALTO_E_MISSING_FIELD,
       "pids/srcs", ""},
      {1, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"endpoints\": {\"srcs\": [\"ipv4:300.1.1.1\"]}}",
       PROTO_ALTO_E_INVALID_FIELD_VALUE, "endpoints/srcs", "ipv4:300.1.1.1"},
      {1, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"endpoints\": {\"srcs\": [\"ipv6:192.0.2.1\"]}}",
       PROTO_ALTO_E_INVALID_FIELD_VALUE, "endpoints/srcs", "ipv6:192.0.2.1"},
      {1, "{\"cost-type\": {\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}, \"endpoints\": {}}", PROTO_ALTO_E_INVALID_FIELD_VALUE, "endpoints",
       ""},
      {2, "{\"address-types\": [\"ipv4\"]}", PROTO_ALTO_E_MISSING_FIELD, "pids", ""},
      {2, "{\"pids\": \"PID1\"}", PROTO_ALTO_E_INVALID_FIELD_TYPE, "pids", ""},
      {2, "[]", PROTO_ALTO_E_SYNTAX, "", ""},
      {3, "{\"properties\": [], \"endpoints\": [\"ipv4:192.0.2.1\"]}", PROTO_ALTO_E_INVALID_FIELD_VALUE, "properties", ""},
      {4, "{\"add\": {\"s1\": {\"tag\": \"x\"}}}", PROTO_ALTO_E_MISSING_FIELD, "add/s1/resource-id", ""},
      {4, "{}", PROTO_ALTO_E_MISSING_FIELD, "add", ""},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char                    err[300];
    struct proto_alto_fault f = {0};
    json_t                 *j = load_text(cases[k].doc, err, sizeof err);
    assert_non_null(j);
    int rc;
    if (cases[k].kind <= 1) {
      struct proto_alto_cost_filter cf;
      rc = proto_alto_parse_cost_filter(j, cases[k].kind, &cf, &f, err, sizeof err);
    } else if (cases[k].kind == 2) {
      struct proto_alto_netmap_filter nf;
      rc = proto_alto_parse_netmap_filter(j, &nf, &f, err, sizeof err);
    } else if (cases[k].kind == 3) {
      struct proto_alto_prop_request pr;
      rc = proto_alto_parse_prop_request(j, &pr, &f, err, sizeof err);
    } else {
      struct proto_alto_stream_request sr;
      rc = proto_alto_parse_stream_request(j, &sr, &f, err, sizeof err);
    }
    if (rc != -1 || !f.code || strcmp(f.code, cases[k].code) || strcmp(f.field, cases[k].field) || strcmp(f.value, cases[k].value))
      fail_msg("case %zu (%s): rc %d code %s field '%s' value '%s' (%s)", k, cases[k].doc, rc, f.code ? f.code : "-", f.field, f.value, err);
    json_decref(j);
  }
}

/* the JSON text itself: syntax, size, depth, duplicates, NUL */
static void test_hostile_json(void **state) {
  (void)state;
  char                    err[300];
  struct proto_alto_fault f = {0};
  assert_null(proto_alto_load("{\"a\": 1, \"a\": 2}", 16, "request", &f, err, sizeof err));
  assert_string_equal(f.code, PROTO_ALTO_E_SYNTAX);
  assert_non_null(strstr(err, "duplicate object key"));
  assert_null(load_text("{\"a\": \"x\\u0000y\"}", err, sizeof err));
  assert_non_null(strstr(err, "\\u0000 is not allowed"));
  assert_null(load_text("{\"a\": 1e999}", err, sizeof err));
  assert_non_null(strstr(err, "real number overflow"));
  /* 33 levels: refused by our cap; 100000 levels: by jansson's own */
  char deep[200000];
  memset(deep, '[', 33);
  memset(deep + 33, ']', 33);
  deep[66] = 0;
  assert_null(load_text(deep, err, sizeof err));
  assert_string_equal(err, "response: nested deeper than 32 levels");
  memset(deep, '[', 32);
  memset(deep + 32, ']', 32);
  deep[64]   = 0;
  json_t *ok = load_text(deep, err, sizeof err);
  assert_non_null(ok);
  json_decref(ok);
  memset(deep, '[', 100000);
  deep[100000] = 0;
  assert_null(load_text(deep, err, sizeof err));
  assert_non_null(strstr(err, "maximum parsing depth reached"));
  /* over the byte cap: refused before parsing */
  assert_null(proto_alto_load(deep, PROTO_ALTO_MAX_BYTES + 1, "response", NULL, err, sizeof err));
  assert_string_equal(err, "response: document is 16777217 bytes, over the limit of 16777216 bytes");
  /* control characters in the input never reach the message */
  assert_null(load_text("{\"a\": \x01}", err, sizeof err));
  for (const char *p = err; *p; p++)
    assert_true((unsigned char)*p >= 0x20);
}

static void test_networkmap_refusals(void **state) {
  (void)state;
  static const struct {
    const char *doc, *why;
  } bad[] = {
      {"{\"network-map\": {}}", "nm: /meta/vtag: a version tag is an object"},
      {"{\"meta\": {\"vtag\": {\"resource-id\": \"n\", \"tag\": \"t\"}}, \"network-map\": {\"P\": {\"ipv4\": [\"10.1.2.3/8\"]}}}",
       "nm: /network-map/P: ipv4/0: prefix '10.1.2.3/8' has host bits set"},
      {"{\"meta\": {\"vtag\": {\"resource-id\": \"n\", \"tag\": \"t\"}}, \"network-map\": {\"P\": {\"ipv4\": [\"2001:db8::/32\"]}}}",
       "nm: /network-map/P: ipv4/0: '2001:db8::/32' is not an ipv4 prefix"},
      {"{\"meta\": {\"vtag\": {\"resource-id\": \"n\", \"tag\": \"t\"}}, \"network-map\": {\"P Q\": {}}}",
       "nm: /network-map/P Q: PID name: 1-63 of A-Z a-z 0-9 - : @ _ . (10.1; 63 is this implementation's limit)"},
      {"{\"meta\": {\"vtag\": {\"resource-id\": \"n\", \"tag\": \"t\"}}, \"network-map\": {\"P\": {\"ipv4\": \"10.0.0.0/8\"}}}",
       "nm: /network-map/P: ipv4: the prefixes are an array"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char                   err[300];
    struct p4p_pidmap_msg  m;
    struct proto_alto_vtag vt;
    json_t                *j = load_text(bad[k].doc, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(proto_alto_parse_networkmap(j, "nm", &m, &vt, err, sizeof err), -1);
    assert_string_equal(err, bad[k].why);
    json_decref(j);
  }
  /* unknown address types are ignored; the PID stays, with no endpoints */
  char                   err[300];
  struct p4p_pidmap_msg  m;
  struct proto_alto_vtag vt;
  json_t *j = load_text("{\"meta\": {\"vtag\": {\"resource-id\": \"n\", \"tag\": \"t\"}}, \"network-map\": {\"P\": {\"mac\": [\"x\"]}}}", err, sizeof err);
  assert_int_equal(proto_alto_parse_networkmap(j, "nm", &m, &vt, err, sizeof err), 0);
  assert_int_equal(m.npids, 1);
  assert_int_equal(m.pids[0].nprefixes, 0);
  proto_pidmap_msg_free(&m);
  json_decref(j);
}

/* guidance and statistics: a round trip, zeros left out, hand-checked */
static void test_guidance_roundtrip(void **state) {
  (void)state;
  struct p4p_guidance_msg g = {.has_default = 1, .nswarms = 1};
  assert_int_equal(proto_matrix_alloc(&g.default_weights, 2), 0);
  snprintf(g.default_weights.pids[0], P4P_NAME_MAX, "a");
  snprintf(g.default_weights.pids[1], P4P_NAME_MAX, "b");
  g.default_weights.v[0] = 0.75;
  g.default_weights.v[1] = 0.25;
  g.default_weights.v[3] = 1;
  g.swarms               = calloc(1, sizeof *g.swarms);
  memset(g.swarms[0].info_hash, 0xab, P4P_HASH_SIZE);
  assert_int_equal(proto_matrix_alloc(&g.swarms[0].weights, 1), 0);
  snprintf(g.swarms[0].weights.pids[0], P4P_NAME_MAX, "b");
  g.swarms[0].weights.v[0]   = 3;
  struct proto_alto_vtag dep = {"nm", "t1"}, vt = {"p4p-guidance", "solve-3-h4"};
  json_t                *j    = proto_alto_guidance_json(&g, &dep, &vt);
  char                  *text = proto_alto_dump(j, NULL);
  assert_string_equal(text, "{\"meta\":{\"dependent-vtags\":[{\"resource-id\":\"nm\",\"tag\":\"t1\"}],\"cost-type\":{\"cost-mode\":\"numerical\","
                            "\"cost-metric\":\"priv:p4p-guidance\"},\"vtag\":{\"resource-id\":\"p4p-guidance\",\"tag\":\"solve-3-h4\"}},"
                            "\"cost-map\":{\"a\":{\"a\":0.75,\"b\":0.25},\"b\":{\"b\":1}},"
                            "\"priv:p4p-swarms\":{\"abababababababababababababababababababab\":{\"b\":{\"b\":3}}}}");
  free(text);
  struct p4p_guidance_msg back;
  struct proto_alto_vtag  d2;
  char                    err[300];
  assert_int_equal(proto_alto_parse_guidance(j, "g", &back, &d2, err, sizeof err), 0);
  assert_string_equal(back.version, "solve-3-h4");
  assert_true(back.has_default);
  assert_true(cost(&back.default_weights, "b", "a") == 0); /* absent: 0 */
  assert_true(cost(&back.default_weights, "a", "b") == 0.25);
  assert_int_equal(back.nswarms, 1);
  assert_memory_equal(back.swarms[0].info_hash, g.swarms[0].info_hash, P4P_HASH_SIZE);
  proto_guidance_msg_free(&back);
  proto_guidance_msg_free(&g);
  json_decref(j);

  struct p4p_pid_stats   ps[2] = {{"a", 5, 0, 1000, -1}, {"b", 0, 10, -1, -1}};
  struct p4p_swarm_stats sw    = {.npids = 2, .pids = ps};
  memset(sw.info_hash, 0x01, P4P_HASH_SIZE);
  struct p4p_stats_msg sm = {.nswarms = 1, .swarms = &sw};
  j                       = proto_alto_stats_json(&sm);
  struct p4p_stats_msg    got;
  struct proto_alto_fault f;
  assert_int_equal(proto_alto_parse_stats(j, "request", &got, &f, err, sizeof err), 0);
  assert_int_equal(got.nswarms, 1);
  assert_int_equal(got.swarms[0].npids, 2);
  assert_int_equal(got.swarms[0].pids[0].seeders, 5);
  assert_true(got.swarms[0].pids[0].up_kbps == 1000);
  assert_true(got.swarms[0].pids[1].up_kbps < 0); /* unknown stays unknown */
  assert_int_equal(got.swarms[0].pids[1].leechers, 10);
  proto_stats_msg_free(&got);
  json_decref(j);
}

/* RFC 7396's own examples (appendix A), and diff then apply = identity */
static void test_merge_patch(void **state) {
  (void)state;
  static const char *cases[][3] = {
      {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
      {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
      {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
      {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
      {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
      {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
      {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
      {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
      {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
      {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
  };
  char err[300];
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    json_t *t = load_text(cases[k][0], err, sizeof err), *p = load_text(cases[k][1], err, sizeof err);
    json_t *want = load_text(cases[k][2], err, sizeof err), *got = proto_alto_merge_apply(t, p);
    if (!json_equal(got, want))
      fail_msg("case %zu: got %s", k, json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY));
    json_decref(t), json_decref(p), json_decref(want), json_decref(got);
  }
  json_t *from = load_file("rfc7285-11.2.3.7-costmap.json");
  json_t *to   = load_text("{\"meta\": {\"dependent-vtags\": [{\"resource-id\": \"my-default-network-map\", \"tag\": \"new\"}], \"cost-type\": "
                             "{\"cost-mode\": \"numerical\", \"cost-metric\": \"routingcost\"}}, \"cost-map\": {\"PID1\": {\"PID1\": 1, \"PID2\": 6, "
                             "\"PID3\": 10}, \"PID2\": {\"PID1\": 5, \"PID2\": 1, \"PID3\": 15}}}",
                           err, sizeof err);
  int     same;
  json_t *patch = proto_alto_merge_diff(from, to, &same);
  assert_false(same);
  char *text = proto_alto_dump(patch, NULL);
  assert_string_equal(text, "{\"meta\":{\"dependent-vtags\":[{\"resource-id\":\"my-default-network-map\",\"tag\":\"new\"}]},\"cost-map\":{\"PID3\":null,"
                            "\"PID1\":{\"PID2\":6}}}");
  free(text);
  json_t *applied = proto_alto_merge_apply(from, patch);
  assert_true(json_equal(applied, to));
  assert_null(proto_alto_merge_diff(to, applied, &same));
  assert_true(same);
  json_decref(applied), json_decref(patch), json_decref(from), json_decref(to);
}

struct events {
  int  n;
  char ev[4][64], data[4][128];
};
static int on_event(void *ctx, const char *event, const char *data, size_t len) {
  struct events *e = ctx;
  (void)len;
  if (e->n == 4)
    return -1;
  snprintf(e->ev[e->n], 64, "%s", event);
  snprintf(e->data[e->n], 128, "%s", data);
  e->n++;
  return 0;
}

/* event-stream framing: written events read back, split at every byte;
 * CR, LF and CRLF line ends; comments; the size cap */
static void test_sse_framing(void **state) {
  (void)state;
  size_t len;
  char  *ev = proto_alto_sse_event(PROTO_ALTO_MT_MERGE_PATCH, "my-costs", "{\"a\":1}", &len);
  assert_string_equal(ev, "event: application/merge-patch+json,my-costs\ndata: {\"a\":1}\n\n");
  char   stream[400];
  size_t n = (size_t)snprintf(stream, sizeof stream, ": keep-alive\r\n\r\n%sevent: x\rdata: one\rdata:two\r\rdata: lone\r\n\r\n", ev);
  free(ev);
  for (size_t step = 1; step <= n; step += step < 3 ? 1 : 7) {
    struct events                 e = {0};
    char                          err[200];
    struct proto_alto_sse_reader *r = proto_alto_sse_new(64, on_event, &e);
    for (size_t off = 0; off < n; off += step)
      assert_int_equal(proto_alto_sse_feed(r, stream + off, off + step > n ? n - off : step, err, sizeof err), 0);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.ev[0], "application/merge-patch+json,my-costs");
    assert_string_equal(e.data[0], "{\"a\":1}");
    assert_string_equal(e.ev[1], "x");
    assert_string_equal(e.data[1], "one\ntwo");
    assert_string_equal(e.ev[2], "message");
    assert_string_equal(e.data[2], "lone");
    proto_alto_sse_free(r);
  }
  struct events                 e = {0};
  char                          err[200], big[200];
  struct proto_alto_sse_reader *r = proto_alto_sse_new(64, on_event, &e);
  memset(big, 'x', sizeof big);
  assert_int_equal(proto_alto_sse_feed(r, big, sizeof big, err, sizeof err), -1);
  assert_string_equal(err, "event stream line longer than 64 bytes");
  proto_alto_sse_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc_ird),
      cmocka_unit_test(test_ird_refusals),
      cmocka_unit_test(test_rfc_networkmap),
      cmocka_unit_test(test_rfc_lpm),
      cmocka_unit_test(test_rfc_costmaps),
      cmocka_unit_test(test_costmap_refusals),
      cmocka_unit_test(test_rfc_endpoint_services),
      cmocka_unit_test(test_request_faults),
      cmocka_unit_test(test_hostile_json),
      cmocka_unit_test(test_networkmap_refusals),
      cmocka_unit_test(test_guidance_roundtrip),
      cmocka_unit_test(test_merge_patch),
      cmocka_unit_test(test_sse_framing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
