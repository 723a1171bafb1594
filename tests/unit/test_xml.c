/* P4P XML v1 (p4p/xml.c): examples validate against docs/p4p-v1.xsd and
 * parse to the values written in them; every kind survives write -> parse;
 * malformed and hostile documents are refused with the element and line in
 * the error text; limits hold; parses in parallel threads keep their own
 * errors; nothing is printed to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "proto/file.h"
#include "proto/msg.h"
#include "proto/text.h"
#include "proto/xml.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static char *path_in(const char *rel) {
  const char *td = getenv("TEST_DATA");
  static char buf[4][1024];
  static int  k;
  char       *p = buf[k++ % 4];
  /* TEST_DATA is tests/data; docs/ and deploy/ are two levels up */
  snprintf(p, 1024, "%s/%s", td ? td : "tests/data", rel);
  return p;
}

static char *slurp(const char *rel, size_t *len) {
  char *buf = NULL, err[512];
  if (proto_read_file(path_in(rel), P4P_XML_MAX_BYTES, &buf, len, err, sizeof err) != 0)
    fail_msg("%s", err);
  return buf;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

#define assert_contains(hay, needle)                                                                                                                           \
  do {                                                                                                                                                         \
    if (!contains((hay), (needle)))                                                                                                                            \
      fail_msg("'%s' does not contain '%s'", (hay), (needle));                                                                                                 \
  } while (0)

/* XSD validation with libxml2's schema API (test only: loading a schema
 * reads files, which the run-time parser must never do). */
static xmlSchemaPtr schema;

static void collect_error(void *ctx, xmlErrorPtr e) {
  char *out = ctx;
  if (out[0] == '\0' && e && e->message)
    snprintf(out, 512, "line %d: %s", e->line, e->message);
}

static int xsd_valid(const char *buf, size_t len, char *why) {
  why[0] = '\0';
  if (!schema) {
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path_in("../../docs/p4p-v1.xsd"));
    assert_non_null(pc);
    xmlSchemaSetParserStructuredErrors(pc, collect_error, why);
    schema = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (!schema)
      fail_msg("schema does not load: %s", why);
  }
  xmlDocPtr doc = xmlReadMemory(buf, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) {
    snprintf(why, 512, "not well-formed");
    return 0;
  }
  xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidStructuredErrors(vc, collect_error, why);
  int r = xmlSchemaValidateDoc(vc, doc);
  xmlSchemaFreeValidCtxt(vc);
  xmlFreeDoc(doc);
  return r == 0;
}

static void assert_xsd_valid(const char *buf, size_t len, const char *what) {
  char why[512];
  if (!xsd_valid(buf, len, why))
    fail_msg("%s does not validate against docs/p4p-v1.xsd: %s", what, why);
}

static void set_prefix4(struct p4p_prefix *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d, unsigned len) {
  memset(p, 0, sizeof *p);
  p->addr[10] = p->addr[11] = 0xff;
  p->addr[12]               = a;
  p->addr[13]               = b;
  p->addr[14]               = c;
  p->addr[15]               = d;
  p->bits                   = (uint8_t)(96 + len);
}

static void hash_of(uint8_t h[20], uint8_t seed) {
  for (int i = 0; i < 20; i++)
    h[i] = (uint8_t)(seed + 17 * i);
}

/* ------------------------------------------------------------------ */
/* examples                                                            */

static const char *const doc_examples[] = {
    "pidmap.xml", "lookup-request.xml", "lookup.xml", "costs.xml", "stats.xml", "guidance.xml", "capability-request.xml", "capability.xml", "error.xml",
};

/* Every example in docs/examples validates against the XSD and is of the
 * kind its name says. */
static void test_examples_validate_against_xsd(void **state) {
  (void)state;
  static const enum proto_xml_kind kinds[] = {
      P4P_XML_PIDMAP,   P4P_XML_LOOKUP_REQUEST,     P4P_XML_LOOKUP,     P4P_XML_COSTS, P4P_XML_STATS,
      P4P_XML_GUIDANCE, P4P_XML_CAPABILITY_REQUEST, P4P_XML_CAPABILITY, P4P_XML_ERROR,
  };
  for (size_t i = 0; i < sizeof doc_examples / sizeof *doc_examples; i++) {
    char   rel[256];
    size_t len;
    snprintf(rel, sizeof rel, "../../docs/examples/%s", doc_examples[i]);
    char *buf = slurp(rel, &len);
    assert_xsd_valid(buf, len, rel);
    assert_int_equal(proto_xml_kind_of(buf, len), kinds[i]);
    free(buf);
  }
  const char *deploy[] = {"../../deploy/example/pidmap.xml", "../../deploy/example/guidance.xml"};
  for (size_t i = 0; i < 2; i++) {
    size_t len;
    char  *buf = slurp(deploy[i], &len);
    assert_xsd_valid(buf, len, deploy[i]);
    free(buf);
  }
}

static void test_example_pidmap_parses_to_its_values(void **state) {
  (void)state;
  size_t                len;
  char                 *buf = slurp("../../docs/examples/pidmap.xml", &len);
  struct p4p_pidmap_msg m;
  char                  err[512];
  assert_int_equal(proto_xml_parse_pidmap(buf, len, "pidmap.xml", &m, err, sizeof err), 0);
  assert_string_equal(m.version, "2026-11-25.1");
  assert_int_equal(m.npids, 4);
  assert_string_equal(m.pids[0].name, "0.i.example");
  assert_int_equal(m.pids[0].asid, 64512);
  assert_string_equal(m.pids[0].loc, "40.71,-74.01");
  assert_int_equal(m.pids[0].nprefixes, 2);
  /* 192.0.2.0/25 is stored IPv4-mapped: bits 96 + 25 = 121 */
  struct p4p_prefix want;
  set_prefix4(&want, 192, 0, 2, 0, 25);
  assert_memory_equal(m.pids[0].prefixes[0].addr, want.addr, 16);
  assert_int_equal(m.pids[0].prefixes[0].bits, 121);
  /* 2001:db8:1::/48 */
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
  assert_memory_equal(m.pids[0].prefixes[1].addr, v6, 16);
  assert_int_equal(m.pids[0].prefixes[1].bits, 48);
  /* the external PID has no loc, and 0.0.0.0/0 is ::ffff:0:0/96 */
  assert_string_equal(m.pids[3].loc, "");
  assert_int_equal(m.pids[3].prefixes[0].bits, 96);
  assert_int_equal(m.pids[3].prefixes[1].bits, 0);
  proto_pidmap_msg_free(&m);
  free(buf);
}

static void test_example_matrices_parse_to_their_values(void **state) {
  (void)state;
  size_t               len;
  char                 err[512];
  char                *buf = slurp("../../docs/examples/costs.xml", &len);
  struct p4p_costs_msg c;
  assert_int_equal(proto_xml_parse_costs(buf, len, "costs.xml", &c, err, sizeof err), 0);
  free(buf);
  assert_int_equal(c.costs.n, 3);
  assert_string_equal(c.costs.pids[2], "2.i.example");
  /* row-major: v[i*3+j]; 0->2 is 12.5, 2->1 is 14, diagonal absent = 0 */
  assert_true(c.costs.v[0 * 3 + 2] == 12.5);
  assert_true(c.costs.v[2 * 3 + 1] == 14);
  for (int i = 0; i < 3; i++)
    assert_true(c.costs.v[i * 3 + i] == 0);
  proto_costs_msg_free(&c);

  buf = slurp("../../docs/examples/guidance.xml", &len);
  struct p4p_guidance_msg g;
  assert_int_equal(proto_xml_parse_guidance(buf, len, "guidance.xml", &g, err, sizeof err), 0);
  free(buf);
  assert_true(g.has_default);
  assert_int_equal(g.nswarms, 1);
  /* default row of 2.i.example: 0.2 0.2 0.6 */
  assert_true(g.default_weights.v[6] == 0.2 && g.default_weights.v[8] == 0.6);
  /* the swarm leaves 1.i.example without guidance: row 1 all zero */
  for (int j = 0; j < 3; j++)
    assert_true(g.swarms[0].weights.v[3 + j] == 0);
  assert_true(g.swarms[0].weights.v[0] == 20000);
  assert_int_equal(g.swarms[0].info_hash[0], 0x01);
  assert_int_equal(g.swarms[0].info_hash[19], 0x67);
  proto_guidance_msg_free(&g);

  /* deploy example: 0.7 own PID, 0.1 each other; swarm 0.9 own */
  buf = slurp("../../deploy/example/guidance.xml", &len);
  assert_int_equal(proto_xml_parse_guidance(buf, len, "guidance.xml", &g, err, sizeof err), 0);
  free(buf);
  assert_int_equal(g.default_weights.n, 4);
  for (int i = 0; i < 4; i++) {
    double sum = 0;
    for (int j = 0; j < 4; j++)
      sum += g.default_weights.v[i * 4 + j];
    assert_true(g.default_weights.v[i * 4 + i] == 0.7);
    assert_true(fabs(sum - 1.0) < 1e-12);
    assert_true(g.swarms[0].weights.v[i * 4 + i] == 0.9);
  }
  proto_guidance_msg_free(&g);
}

static void test_example_deploy_pidmap_covers_loopback(void **state) {
  (void)state;
  size_t                len;
  char                  err[512];
  char                 *buf = slurp("../../deploy/example/pidmap.xml", &len);
  struct p4p_pidmap_msg m;
  assert_int_equal(proto_xml_parse_pidmap(buf, len, "pidmap.xml", &m, err, sizeof err), 0);
  free(buf);
  assert_int_equal(m.npids, 4);
  static const char *names[] = {"pid-a", "pid-b", "pid-c", "pid-d"};
  for (int i = 0; i < 4; i++) {
    struct p4p_prefix want;
    set_prefix4(&want, 127, 0, (uint8_t)(i + 1), 0, 24);
    assert_string_equal(m.pids[i].name, names[i]);
    assert_int_equal(m.pids[i].asid, 64512);
    assert_memory_equal(&m.pids[i].prefixes[0], &want, sizeof want);
  }
  /* pid-a also holds ::1/128 */
  static const uint8_t one[16] = {[15] = 1};
  assert_int_equal(m.pids[0].nprefixes, 2);
  assert_memory_equal(m.pids[0].prefixes[1].addr, one, 16);
  assert_int_equal(m.pids[0].prefixes[1].bits, 128);
  proto_pidmap_msg_free(&m);
}

static void test_example_other_kinds_parse_to_their_values(void **state) {
  (void)state;
  size_t len;
  char   err[512];
  char  *buf;

  buf = slurp("../../docs/examples/lookup-request.xml", &len);
  struct p4p_lookup_request q;
  assert_int_equal(proto_xml_parse_lookup_request(buf, len, "x", &q, err, sizeof err), 0);
  free(buf);
  assert_int_equal(q.n, 3);
  assert_true(q.has_info_hash);
  uint8_t a[16];
  assert_int_equal(proto_addr_parse("2001:db8:2::17", a), 0);
  assert_memory_equal(q.addrs[1], a, 16);
  proto_lookup_request_free(&q);

  buf = slurp("../../docs/examples/lookup.xml", &len);
  struct p4p_lookup_msg l;
  assert_int_equal(proto_xml_parse_lookup(buf, len, "x", &l, err, sizeof err), 0);
  free(buf);
  assert_int_equal(l.n, 3);
  assert_true(l.entries[0].found);
  assert_string_equal(l.entries[0].pid, "1.i.example");
  assert_false(l.entries[2].found);
  proto_lookup_msg_free(&l);

  buf = slurp("../../docs/examples/stats.xml", &len);
  struct p4p_stats_msg s;
  assert_int_equal(proto_xml_parse_stats(buf, len, "x", &s, err, sizeof err), 0);
  free(buf);
  assert_int_equal(s.nswarms, 2);
  assert_int_equal(s.swarms[0].npids, 3);
  assert_int_equal(s.swarms[0].pids[0].leechers, 40);
  assert_true(s.swarms[0].pids[1].up_kbps == 4608);
  /* rates left out read as unknown (negative) */
  assert_true(s.swarms[0].pids[2].up_kbps < 0);
  assert_true(s.swarms[0].pids[2].down_kbps < 0);
  proto_stats_msg_free(&s);

  buf = slurp("../../docs/examples/capability.xml", &len);
  struct p4p_capability_msg c;
  assert_int_equal(proto_xml_parse_capability(buf, len, "x", &c, err, sizeof err), 0);
  free(buf);
  assert_int_equal(c.nservers, 2);
  assert_string_equal(c.servers[1].kind, "seed");
  assert_int_equal(c.servers[1].port, 51413);
  assert_int_equal(c.servers[0].capacity_kbps, 1000000);
  proto_capability_msg_free(&c);

  buf = slurp("../../docs/examples/capability-request.xml", &len);
  struct p4p_capability_request r;
  assert_int_equal(proto_xml_parse_capability_request(buf, len, "x", &r, err, sizeof err), 0);
  free(buf);
  assert_int_equal(r.count, 2);
  assert_string_equal(r.pid, "2.i.example");

  buf = slurp("../../docs/examples/error.xml", &len);
  struct p4p_error_msg e;
  assert_int_equal(proto_xml_parse_error(buf, len, "x", &e, err, sizeof err), 0);
  assert_int_equal(e.status, 400);
  /* &lt; &gt; come back as the characters */
  assert_string_equal(e.text, "line 3: <addr> '192.0.2.300': not an IPv4 "
                              "or IPv6 address");
  /* a client expecting a PID map is told what the portal said */
  struct p4p_pidmap_msg m;
  assert_int_equal(proto_xml_parse_pidmap(buf, len, "response", &m, err, sizeof err), -1);
  assert_contains(err, "response:2: expected <pidmap>, got <error "
                       "status=\"400\">: line 3: <addr>");
  free(buf);
}

/* ------------------------------------------------------------------ */
/* round trips                                                         */

/* Writes m, checks the result against the XSD, and checks that writing
 * what was parsed gives the same bytes (so the parse lost nothing). */
#define ROUND_TRIP(kind, type, m, back)                                                                                                                        \
  do {                                                                                                                                                         \
    size_t len1, len2;                                                                                                                                         \
    char   err[512];                                                                                                                                           \
    char  *x1 = proto_xml_write_##kind(&(m), &len1);                                                                                                           \
    assert_non_null(x1);                                                                                                                                       \
    assert_int_equal(strlen(x1), len1);                                                                                                                        \
    assert_xsd_valid(x1, len1, #kind " written");                                                                                                              \
    if (proto_xml_parse_##kind(x1, len1, #kind, &(back), err, sizeof err))                                                                                     \
      fail_msg("%s\n%s", err, x1);                                                                                                                             \
    char *x2 = proto_xml_write_##kind(&(back), &len2);                                                                                                         \
    assert_non_null(x2);                                                                                                                                       \
    assert_string_equal(x1, x2);                                                                                                                               \
    free(x1);                                                                                                                                                  \
    free(x2);                                                                                                                                                  \
  } while (0)

static void test_roundtrip_pidmap(void **state) {
  (void)state;
  struct p4p_prefix pa[3], pb[1];
  set_prefix4(&pa[0], 10, 0, 0, 0, 8);
  set_prefix4(&pa[1], 0, 0, 0, 0, 0); /* 0.0.0.0/0 */
  memset(&pa[2], 0, sizeof pa[2]);    /* 2001:db8::/32 */
  pa[2].addr[0] = 0x20, pa[2].addr[1] = 0x01, pa[2].addr[2] = 0x0d, pa[2].addr[3] = 0xb8, pa[2].bits = 32;
  memset(&pb[0], 0, sizeof pb[0]); /* ::/0 */
  struct p4p_pid_entry pids[2] = {
      {.name = "0.i.isp", .asid = 4294967295u, .loc = "a b&<\"'>", .nprefixes = 3, .prefixes = pa},
      {.name = "1.e.isp", .asid = 0, .loc = "", .nprefixes = 1, .prefixes = pb},
  };
  struct p4p_pidmap_msg m = {.version = "v<&>1", .npids = 2, .pids = pids};
  struct p4p_pidmap_msg back;
  ROUND_TRIP(pidmap, struct p4p_pidmap_msg, m, back);
  assert_string_equal(back.version, m.version);
  assert_int_equal(back.npids, 2);
  for (size_t i = 0; i < 2; i++) {
    assert_string_equal(back.pids[i].name, pids[i].name);
    assert_int_equal(back.pids[i].asid, pids[i].asid);
    assert_string_equal(back.pids[i].loc, pids[i].loc);
    assert_int_equal(back.pids[i].nprefixes, pids[i].nprefixes);
    assert_memory_equal(back.pids[i].prefixes, pids[i].prefixes, pids[i].nprefixes * sizeof(struct p4p_prefix));
  }
  proto_pidmap_msg_free(&back);
  proto_pidmap_msg_free(&back); /* second free of a zeroed struct is harmless */
}

static void test_roundtrip_lookup_and_request(void **state) {
  (void)state;
  uint8_t addrs[3][16];
  assert_int_equal(proto_addr_parse("127.0.1.5", addrs[0]), 0);
  assert_int_equal(proto_addr_parse("::1", addrs[1]), 0);
  assert_int_equal(proto_addr_parse("fe80::1:2", addrs[2]), 0);
  struct p4p_lookup_request q = {.has_info_hash = 1, .n = 3, .addrs = addrs};
  hash_of(q.info_hash, 3);
  struct p4p_lookup_request qb;
  ROUND_TRIP(lookup_request, struct p4p_lookup_request, q, qb);
  assert_int_equal(qb.n, 3);
  assert_true(qb.has_info_hash);
  assert_memory_equal(qb.info_hash, q.info_hash, 20);
  assert_memory_equal(qb.addrs, addrs, sizeof addrs);
  proto_lookup_request_free(&qb);

  struct p4p_lookup_entry e[2] = {
      {.found = 1, .pid = "pid-a", .asid = 64512, .loc = "x"},
      {.found = 0},
  };
  memcpy(e[0].addr, addrs[0], 16);
  memcpy(e[1].addr, addrs[2], 16);
  struct p4p_lookup_msg l = {.n = 2, .entries = e};
  struct p4p_lookup_msg lb;
  ROUND_TRIP(lookup, struct p4p_lookup_msg, l, lb);
  assert_int_equal(lb.n, 2);
  assert_memory_equal(lb.entries, e, sizeof e);
  proto_lookup_msg_free(&lb);
}

static void fill_matrix(struct p4p_matrix *m, size_t n, unsigned seed) {
  assert_int_equal(proto_matrix_alloc(m, n), 0);
  srand(seed);
  for (size_t i = 0; i < n; i++)
    snprintf(m->pids[i], P4P_NAME_MAX, "%zu.i.net", i);
  for (size_t i = 0; i < n * n; i++) {
    /* about a third zeros (not written), and values that need 17 digits */
    int r   = rand() % 3;
    m->v[i] = r == 0 ? 0 : r == 1 ? (double)rand() / RAND_MAX : (double)(rand() % 1000) / 10;
  }
}

static void assert_matrix_equal(const struct p4p_matrix *a, const struct p4p_matrix *b) {
  assert_int_equal(a->n, b->n);
  assert_memory_equal(a->pids, b->pids, a->n * P4P_NAME_MAX);
  for (size_t i = 0; i < a->n * a->n; i++)
    if (a->v[i] != b->v[i])
      fail_msg("cell %zu: %.17g != %.17g", i, a->v[i], b->v[i]);
}

static void test_roundtrip_costs_and_guidance_exact_values(void **state) {
  (void)state;
  struct p4p_costs_msg c = {.version = "7"};
  fill_matrix(&c.costs, 9, 1);
  c.costs.v[1] = 1e-300; /* tiny and huge values keep every bit */
  c.costs.v[2] = 1.7976931348623157e308;
  c.costs.v[3] = 0.1 + 0.2;
  struct p4p_costs_msg cb;
  ROUND_TRIP(costs, struct p4p_costs_msg, c, cb);
  assert_string_equal(cb.version, "7");
  assert_matrix_equal(&c.costs, &cb.costs);
  proto_costs_msg_free(&cb);
  proto_costs_msg_free(&c);

  struct p4p_guidance_msg g = {.version = "g1", .has_default = 1};
  fill_matrix(&g.default_weights, 5, 2);
  g.nswarms = 3;
  g.swarms  = calloc(3, sizeof *g.swarms);
  for (size_t k = 0; k < 3; k++) {
    hash_of(g.swarms[k].info_hash, (uint8_t)k);
    fill_matrix(&g.swarms[k].weights, 2 + k, 3 + (unsigned)k);
  }
  struct p4p_guidance_msg gb;
  ROUND_TRIP(guidance, struct p4p_guidance_msg, g, gb);
  assert_true(gb.has_default);
  assert_matrix_equal(&g.default_weights, &gb.default_weights);
  assert_int_equal(gb.nswarms, 3);
  for (size_t k = 0; k < 3; k++) {
    assert_memory_equal(gb.swarms[k].info_hash, g.swarms[k].info_hash, 20);
    assert_matrix_equal(&g.swarms[k].weights, &gb.swarms[k].weights);
  }
  proto_guidance_msg_free(&gb);

  /* no default matrix: has_default stays 0 */
  g.has_default = 0;
  ROUND_TRIP(guidance, struct p4p_guidance_msg, g, gb);
  assert_false(gb.has_default);
  assert_int_equal(gb.default_weights.n, 0);
  proto_guidance_msg_free(&gb);
  proto_guidance_msg_free(&g);
}

static void test_roundtrip_stats(void **state) {
  (void)state;
  struct p4p_pid_stats p0[2] = {
      {.pid = "pid-a", .seeders = 1, .leechers = UINT64_MAX, .up_kbps = 384, .down_kbps = 1536.25},
      {.pid = "pid-b", .seeders = 0, .leechers = 7, .up_kbps = -1, .down_kbps = 0},
  };
  struct p4p_swarm_stats sw[2] = {{.npids = 2, .pids = p0}, {.npids = 0}};
  hash_of(sw[0].info_hash, 9);
  hash_of(sw[1].info_hash, 10);
  struct p4p_stats_msg s = {.nswarms = 2, .swarms = sw};
  struct p4p_stats_msg sb;
  ROUND_TRIP(stats, struct p4p_stats_msg, s, sb);
  assert_int_equal(sb.nswarms, 2);
  assert_int_equal(sb.swarms[1].npids, 0);
  assert_memory_equal(sb.swarms[1].info_hash, sw[1].info_hash, 20);
  assert_memory_equal(sb.swarms[0].pids, p0, sizeof p0);
  proto_stats_msg_free(&sb);
}

static void test_roundtrip_capability_request_error(void **state) {
  (void)state;
  struct p4p_server sv[2] = {
      {.pid = "pid-a", .kind = "cache", .port = 1, .capacity_kbps = 0},
      {.pid = "pid-b", .kind = "seed", .port = 65535, .capacity_kbps = UINT64_MAX},
  };
  assert_int_equal(proto_addr_parse("127.0.1.10", sv[0].addr), 0);
  assert_int_equal(proto_addr_parse("2001:db8::a", sv[1].addr), 0);
  struct p4p_capability_msg c = {.nservers = 2, .servers = sv};
  struct p4p_capability_msg cb;
  ROUND_TRIP(capability, struct p4p_capability_msg, c, cb);
  assert_int_equal(cb.nservers, 2);
  assert_memory_equal(cb.servers, sv, sizeof sv);
  proto_capability_msg_free(&cb);

  struct p4p_capability_request r = {.pid = "", .count = 4096};
  hash_of(r.info_hash, 0xfe);
  struct p4p_capability_request rb;
  ROUND_TRIP(capability_request, struct p4p_capability_request, r, rb);
  assert_memory_equal(&rb, &r, sizeof r);

  /* markup characters and UTF-8 in the text survive */
  struct p4p_error_msg e = {.status = 503, .text = "overloaded <try> & \"later\" \xc3\xa9"};
  struct p4p_error_msg eb;
  ROUND_TRIP(error, struct p4p_error_msg, e, eb);
  assert_int_equal(eb.status, 503);
  assert_string_equal(eb.text, e.text);
}

/* An error text cut inside a UTF-8 character, or holding control bytes,
 * is still written as a valid document: cut before the broken character,
 * controls as '?'. */
static void test_error_writer_makes_any_text_carriable(void **state) {
  (void)state;
  /* "caf\xc3" is "café" cut after the first byte of the e-acute */
  struct p4p_error_msg e = {.status = 500,
                            .text   = "a\x01"
                                      "b\tcaf\xc3"};
  size_t               len;
  char                 err[512];
  char                *x = proto_xml_write_error(&e, &len);
  assert_non_null(x);
  assert_xsd_valid(x, len, "error with bad text");
  struct p4p_error_msg back;
  assert_int_equal(proto_xml_parse_error(x, len, "e", &back, err, sizeof err), 0);
  assert_string_equal(back.text, "a?b\tcaf");
  free(x);
}

/* Writers refuse what v1 cannot say instead of emitting a document their
 * own parser would reject. */
static void test_writers_refuse_invalid_structs(void **state) {
  (void)state;
  size_t               len;
  struct p4p_costs_msg c = {.version = "1"};
  fill_matrix(&c.costs, 2, 5);
  c.costs.v[1] = NAN;
  assert_null(proto_xml_write_costs(&c, &len));
  c.costs.v[1] = -1;
  assert_null(proto_xml_write_costs(&c, &len));
  c.costs.v[1] = 1;
  strcpy(c.costs.pids[0], "has space");
  assert_null(proto_xml_write_costs(&c, &len));
  strcpy(c.costs.pids[0], "ok");
  char *x = proto_xml_write_costs(&c, &len);
  assert_non_null(x);
  free(x);
  proto_costs_msg_free(&c);

  struct p4p_capability_request r = {.count = 0};
  assert_null(proto_xml_write_capability_request(&r, &len));
  struct p4p_error_msg e = {.status = 200, .text = "ok"};
  assert_null(proto_xml_write_error(&e, &len));
  struct p4p_prefix bad;
  set_prefix4(&bad, 10, 1, 0, 0, 8); /* host bits set */
  struct p4p_pid_entry  pe = {.name = "p", .nprefixes = 1, .prefixes = &bad};
  struct p4p_pidmap_msg m  = {.npids = 1, .pids = &pe};
  assert_null(proto_xml_write_pidmap(&m, &len));
}

/* ------------------------------------------------------------------ */
/* malformed and hostile input                                         */

enum parser { PIDMAP, COSTS, GUIDANCE };

static int parse_with(enum parser which, const char *buf, size_t len, const char *source, char *err, size_t errlen) {
  int rc;
  if (which == PIDMAP) {
    struct p4p_pidmap_msg m;
    rc = proto_xml_parse_pidmap(buf, len, source, &m, err, errlen);
    static const struct p4p_pidmap_msg zero;
    /* on error nothing is left to free */
    if (rc)
      assert_memory_equal(&m, &zero, sizeof m);
    proto_pidmap_msg_free(&m);
  } else if (which == COSTS) {
    struct p4p_costs_msg m;
    rc = proto_xml_parse_costs(buf, len, source, &m, err, errlen);
    static const struct p4p_costs_msg zero;
    if (rc)
      assert_memory_equal(&m, &zero, sizeof m);
    proto_costs_msg_free(&m);
  } else {
    struct p4p_guidance_msg m;
    rc = proto_xml_parse_guidance(buf, len, source, &m, err, errlen);
    static const struct p4p_guidance_msg zero;
    if (rc)
      assert_memory_equal(&m, &zero, sizeof m);
    proto_guidance_msg_free(&m);
  }
  return rc;
}

struct bad_case {
  const char *file;
  enum parser parser;
  const char *prefix;      /* "<source>:<line>: " */
  const char *reason;      /* must appear in the error */
  int         xsd_rejects; /* 1 if the schema alone catches it too */
};

static const struct bad_case bad_cases[] = {
    {"truncated.xml", PIDMAP, "truncated.xml:7: ", "Premature end of data", 1},
    {"wrong-ns.xml", PIDMAP, "wrong-ns.xml:2: ",
     "namespace 'urn:opentracker-p4p:p4p:2', expected "
     "'urn:opentracker-p4p:p4p:1'",
     1},
    {"no-ns.xml", PIDMAP, "no-ns.xml:2: ", "<pidmap> has no namespace", 1},
    {"wrong-root.xml", PIDMAP, "wrong-root.xml:3: ", "root element is <costs>, expected <pidmap>", 0},
    {"bad-prefix-hostbits.xml", PIDMAP, "bad-prefix-hostbits.xml:4: ", "<prefix> '10.1.2.3/8': host bits set (did you mean 10.0.0.0/8?)", 0},
    {"bad-prefix-syntax.xml", PIDMAP, "bad-prefix-syntax.xml:6: ", "<prefix> '10.0.0.0/33': not an IPv4 or IPv6 prefix", 0},
    {"dup-pid.xml", PIDMAP, "dup-pid.xml:9: ", "duplicate PID name 'pid-a' (first at line 3)", 1},
    {"dup-prefix.xml", PIDMAP, "dup-prefix.xml:8: ", "prefix 127.0.1.0/24 of PID 'pid-b' is already in PID 'pid-a' (line 4)", 0},
    {"unknown-attr.xml", PIDMAP, "unknown-attr.xml:3: ", "<pid>: unknown attribute 'color'", 1},
    {"unknown-pid.xml", COSTS, "unknown-pid.xml:5: ", "unknown PID 'pid-x'", 0},
    {"dup-entry.xml", COSTS, "dup-entry.xml:6: ", "duplicate <entry from=\"pid-a\" to=\"pid-b\">", 0},
    {"nan.xml", COSTS, "nan.xml:4: ", "value=\"NaN\">: value is not finite", 1},
    {"negative-weight.xml", GUIDANCE, "negative-weight.xml:6: ", "value=\"-0.5\">: negative value", 1},
    {"bad-hash.xml", GUIDANCE, "bad-hash.xml:3: ", "an info_hash is exactly 40 hex digits", 1},
    {"undefined-entity.xml", PIDMAP, "undefined-entity.xml:3: ", "Entity 'xxe' not defined", 1},
    /* hostile: refused at the DOCTYPE, before any entity is declared */
    {"xxe.xml", PIDMAP, "xxe.xml:2: ", "<!DOCTYPE pidmap> refused", -1},
    {"billion-laughs.xml", PIDMAP, "billion-laughs.xml:2: ", "<!DOCTYPE lolz> refused", -1},
    {"external-dtd.xml", PIDMAP, "external-dtd.xml:3: ", "<!DOCTYPE pidmap SYSTEM \"http://127.0.0.1:9/p4p.dtd\"> refused", -1},
    {"xinclude.xml", PIDMAP, "xinclude.xml:5: ", "<xi:include> inside <pid>: element not in namespace", 1},
    /* issue 15.1: the attribute cap reads ASCII bytes, so only UTF-8 */
    {"ebcdic-attrs.xml", PIDMAP, "ebcdic-attrs.xml: ", "EBCDIC document: P4P v1 documents are UTF-8", -1},
    {"utf16-attrs.xml", PIDMAP, "utf16-attrs.xml: ", "UTF-16/UTF-32 byte order mark: P4P v1 documents are UTF-8", -1},
    {"latin1-decl.xml", PIDMAP, "latin1-decl.xml:2: ", "encoding \"ISO-8859-1\" refused: P4P v1 documents are UTF-8", -1},
};

static void test_malformed_and_hostile_refused_with_line(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    const struct bad_case *bc = &bad_cases[i];
    char                   rel[256], err[512];
    size_t                 len;
    snprintf(rel, sizeof rel, "xml/%s", bc->file);
    char *buf = slurp(rel, &len);
    assert_int_equal(parse_with(bc->parser, buf, len, bc->file, err, sizeof err), -1);
    if (strncmp(err, bc->prefix, strlen(bc->prefix)) != 0)
      fail_msg("%s: error '%s' does not start with '%s'", bc->file, err, bc->prefix);
    assert_contains(err, bc->reason);
    /* nothing of /etc/passwd ever shows up */
    assert_false(contains(err, "root:"));
    /* the schema and the parser agree where the schema can say it */
    if (bc->xsd_rejects >= 0) {
      char why[512];
      int  ok = xsd_valid(buf, len, why);
      if (bc->xsd_rejects && ok)
        fail_msg("%s: the XSD accepts what the parser refuses", bc->file);
      if (!bc->xsd_rejects && bc->parser != PIDMAP && !ok && strcmp(bc->file, "wrong-root.xml") != 0)
        fail_msg("%s: the XSD refuses a case meant to be semantic: %s", bc->file, why);
    }
    free(buf);
  }
}

/* PID names, versions and LOCs each say their own rule when refused */
static void test_text_form_attributes_say_their_rule(void **state) {
  (void)state;
  static const struct {
    const char *doc, *error;
  } cases[] = {
      {"<pid name=\"a b\"><prefix>10.0.0.0/8</prefix></pid>", "t.xml:3: <pid name=\"a b\">: PID names are 1-63 characters of A-Z a-z 0-9 . _ : -"},
      {"<pid name=\"a\" asid=\"64512\" loc=\"caf\xc3\xa9\"><prefix>10.0.0.0/8</prefix></pid>",
       "t.xml:3: <pid loc=\"caf\xc3\xa9\">: LOC is at most 63 printable ASCII characters"},
  };
  char err[512], doc[512];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(doc, sizeof doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pidmap xmlns=\"%s\">\n%s\n</pidmap>\n", P4P_XML_NS, cases[i].doc);
    assert_int_equal(parse_with(PIDMAP, doc, strlen(doc), "t.xml", err, sizeof err), -1);
    assert_string_equal(err, cases[i].error);
  }
  snprintf(doc, sizeof doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pidmap xmlns=\"%s\" version=\"v 1\">\n</pidmap>\n", P4P_XML_NS);
  assert_int_equal(parse_with(PIDMAP, doc, strlen(doc), "t.xml", err, sizeof err), -1);
  assert_string_equal(err, "t.xml:2: <pidmap version=\"v 1\">: versions are 1-63 printable ASCII characters without spaces");
}

/* Predefined entities, character references and CDATA are plain XML and
 * read as text (undefined entities are refused: undefined-entity.xml). */
static void test_char_refs_and_cdata_read_as_text(void **state) {
  (void)state;
  const char           ok[] = "<error xmlns='urn:opentracker-p4p:p4p:1' status='500'>a&#x41;&amp;"
                              "<![CDATA[<b>]]></error>";
  struct p4p_error_msg e;
  char                 err[512];
  assert_int_equal(proto_xml_parse_error(ok, sizeof ok - 1, "m", &e, err, sizeof err), 0);
  assert_string_equal(e.text, "aA&<b>");
}

static void test_size_and_count_caps(void **state) {
  (void)state;
  char                 err[512];
  struct p4p_error_msg e;
  /* one byte over the cap is refused before parsing */
  size_t big = (size_t)P4P_XML_MAX_BYTES + 1;
  char  *buf = malloc(big);
  assert_non_null(buf);
  memset(buf, ' ', big);
  assert_int_equal(proto_xml_parse_error(buf, big, "huge.xml", &e, err, sizeof err), -1);
  assert_contains(err, "huge.xml: document is 16777217 bytes, over the limit "
                       "of 16777216 bytes");
  free(buf);
  assert_int_equal(proto_xml_parse_error("", 0, "empty", &e, err, sizeof err), -1);
  assert_string_equal(err, "empty: empty document");

  /* 2049 PIDs in one matrix: one over P4P_XML_MAX_MATRIX_PIDS */
  size_t cap = 64 + 2049 * 12;
  buf        = malloc(cap);
  size_t n   = (size_t)snprintf(buf, cap, "<costs xmlns='%s'>\n<pids>", P4P_XML_NS);
  for (int i = 0; i < 2049; i++)
    n += (size_t)snprintf(buf + n, cap - n, " p%d", i);
  n += (size_t)snprintf(buf + n, cap - n, "</pids></costs>");
  struct p4p_costs_msg c;
  assert_int_equal(proto_xml_parse_costs(buf, n, "many.xml", &c, err, sizeof err), -1);
  assert_string_equal(err, "many.xml:2: <pids> lists 2049 PIDs, at most 2048 "
                           "allowed");
  free(buf);

  /* 2 swarms of 2048 PIDs fill the 2^23-cell budget exactly; a third
   * swarm's matrix is refused */
  cap = 256 + 3 * (2048 * 7 + 128);
  buf = malloc(cap);
  n   = (size_t)snprintf(buf, cap, "<guidance xmlns='%s'>", P4P_XML_NS);
  for (int s = 0; s < 3; s++) {
    n += (size_t)snprintf(buf + n, cap - n, "\n<swarm info-hash='%040d'><pids>", s);
    for (int i = 0; i < 2048; i++)
      n += (size_t)snprintf(buf + n, cap - n, " p%d", i);
    n += (size_t)snprintf(buf + n, cap - n, "</pids></swarm>");
  }
  n += (size_t)snprintf(buf + n, cap - n, "</guidance>");
  struct p4p_guidance_msg g;
  assert_int_equal(proto_xml_parse_guidance(buf, n, "cells.xml", &g, err, sizeof err), -1);
  assert_string_equal(err, "cells.xml:4: matrices of this message exceed "
                           "8388608 cells in all");
  /* the same with two swarms is accepted */
  char *third = strstr(buf, "\n<swarm info-hash='0000000000000000000000000000"
                            "000000000002'>");
  assert_non_null(third);
  strcpy(third, "</guidance>");
  assert_int_equal(proto_xml_parse_guidance(buf, strlen(buf), "cells.xml", &g, err, sizeof err), 0);
  assert_int_equal(g.nswarms, 2);
  proto_guidance_msg_free(&g);
  free(buf);
}

/* A writer never emits a document over the read cap: it drops the
 * indentation when that is enough, else it fails.  Prefixes
 * 100.ABC.DEF.GHI/32 are 18 characters: 35 bytes each compact
 * ("<prefix>" + 18 + "</prefix>"), 40 indented (newline + 4 spaces). */
static void fill_big_pidmap(struct p4p_pid_entry *pe, size_t n) {
  memset(pe, 0, sizeof *pe);
  strcpy(pe->name, "big");
  pe->prefixes = calloc(n, sizeof *pe->prefixes);
  assert_non_null(pe->prefixes);
  pe->nprefixes = n;
  for (size_t i = 0; i < n; i++)
    set_prefix4(&pe->prefixes[i], 100, (uint8_t)(100 + i / (156 * 156)), (uint8_t)(100 + i / 156 % 156), (uint8_t)(100 + i % 156), 32);
}

static void test_writer_stays_under_the_read_cap(void **state) {
  (void)state;
  /* 450000 prefixes: 18.0 MB indented > 16 MiB > 15.75 MB compact */
  struct p4p_pid_entry pe;
  fill_big_pidmap(&pe, 450000);
  struct p4p_pidmap_msg m = {.npids = 1, .pids = &pe};
  size_t                len;
  char                 *x = proto_xml_write_pidmap(&m, &len);
  assert_non_null(x);
  assert_true(len <= P4P_XML_MAX_BYTES);
  assert_null(strstr(x, "\n    <prefix>"));
  struct p4p_pidmap_msg back;
  char                  err[512];
  assert_int_equal(proto_xml_parse_pidmap(x, len, "big", &back, err, sizeof err), 0);
  assert_int_equal(back.pids[0].nprefixes, 450000);
  assert_memory_equal(back.pids[0].prefixes, pe.prefixes, 450000 * sizeof *pe.prefixes);
  proto_pidmap_msg_free(&back);
  free(x);
  free(pe.prefixes);

  /* 500000 prefixes: 17.5 MB even compact: refused */
  fill_big_pidmap(&pe, 500000);
  assert_null(proto_xml_write_pidmap(&m, &len));
  free(pe.prefixes);
}

/* libxml2 2.9 checks attribute duplicates pairwise (100k attributes on one
 * tag took ~30 s), so tags with more than 32 attributes are refused before
 * libxml2 parses them; the limit counts only real attributes. */
static void test_tag_with_too_many_attributes_refused_early(void **state) {
  (void)state;
  size_t nattr = 100000, cap = 128 + nattr * 16;
  char  *buf = malloc(cap);
  assert_non_null(buf);
  size_t n = (size_t)snprintf(buf, cap,
                              "<!-- a=1 b=2 -->\n<![CDATA[x=y]]>"
                              "<pidmap xmlns='%s'\n>\n<pid",
                              P4P_XML_NS);
  for (size_t i = 0; i < nattr; i++)
    n += (size_t)snprintf(buf + n, cap - n, " a%zu='='", i);
  n += (size_t)snprintf(buf + n, cap - n, "/></pidmap>");
  struct p4p_pidmap_msg m;
  char                  err[512];
  assert_int_equal(proto_xml_parse_pidmap(buf, n, "attrs.xml", &m, err, sizeof err), -1);
  assert_string_equal(err, "attrs.xml:4: a tag has more than 32 attributes");
  free(buf);

  /* quoted '=' and '>' and those in comments do not count */
  const char           ok[] = "<!-- = = = = = = = = = = = = = = = = = = = = = = = = = = = "
                              "= = = = = = = = = -->"
                              "<error xmlns='urn:opentracker-p4p:p4p:1' status='500'>"
                              "a=b=c=d=e=f=g=h=i=j=k=l=m=n=o=p=q=r=s=t=u=v=w=x=y=z=0=1="
                              "2=3=4=5=6=7</error>";
  struct p4p_error_msg e;
  assert_int_equal(proto_xml_parse_error(ok, sizeof ok - 1, "ok", &e, err, sizeof err), 0);
}

/* Issue 15.1: what libxml2 parses is exactly the bytes the attribute cap
 * counted, i.e. UTF-8 whatever a document declares; UTF-8's own spellings
 * (and US-ASCII, a subset) and a UTF-8 byte order mark are accepted. */
static void test_only_utf8_is_parsed(void **state) {
  (void)state;
  static const char *const ok[] = {
      "<?xml version='1.0' encoding='utf-8'?><error xmlns='" P4P_XML_NS "' status='500'>caf\xc3\xa9</error>",
      "\xef\xbb\xbf<?xml version=\"1.0\" encoding = \"UTF-8\" ?>\n<error "
      "xmlns='" P4P_XML_NS "' status='500'>caf\xc3\xa9</error>",
      /* declared US-ASCII: still read as UTF-8 (libxml2 is told to) */
      "<?xml version='1.0' encoding='US-ASCII'?><error xmlns='" P4P_XML_NS "' status='500'>caf\xc3\xa9</error>",
      "<error xmlns='" P4P_XML_NS "' status='500'>caf\xc3\xa9</error>",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    struct p4p_error_msg e;
    char                 err[256] = "";
    if (proto_xml_parse_error(ok[i], strlen(ok[i]), "ok", &e, err, sizeof err))
      fail_msg("case %zu refused: %s", i, err);
    assert_string_equal(e.text, "caf\xc3\xa9");
  }
  struct bad {
    const char *doc;
    size_t      len;
    const char *want;
  } bad[] = {
      /* no declaration, Latin-1 bytes: not UTF-8, so not well-formed */
      {"<error xmlns='" P4P_XML_NS "' status='500'>caf\xe9</error>", 0, "bad:1: not well-formed XML: "},
      {"<?xml version='1.0' encoding='EBCDIC-US'?><error/>", 0, "bad:1: encoding \"EBCDIC-US\" refused: P4P v1 documents are UTF-8"},
      {"\0<\0?\0x\0m\0l", 10,
       "bad: NUL byte at the start (UTF-16 or UCS-4?): P4P v1 documents are "
       "UTF-8"},
      {"<\0?\0x\0m\0l\0", 10,
       "bad: NUL byte at the start (UTF-16 or UCS-4?): P4P v1 documents are "
       "UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct p4p_error_msg e;
    char                 err[256] = "";
    size_t               len      = bad[i].len ? bad[i].len : strlen(bad[i].doc);
    assert_int_equal(proto_xml_parse_error(bad[i].doc, len, "bad", &e, err, sizeof err), -1);
    if (strncmp(err, bad[i].want, strlen(bad[i].want)))
      fail_msg("case %zu: '%s', want '%s'", i, err, bad[i].want);
  }
}

static void test_read_file_cap(void **state) {
  (void)state;
  char path[] = "/tmp/test_xml_XXXXXX";
  int  fd     = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "0123456789", 10), 10);
  close(fd);
  char  *buf, err[512];
  size_t len;
  assert_int_equal(proto_read_file(path, 10, &buf, &len, err, sizeof err), 0);
  assert_int_equal(len, 10);
  assert_string_equal(buf, "0123456789");
  free(buf);
  assert_int_equal(proto_read_file(path, 9, &buf, &len, err, sizeof err), -1);
  assert_null(buf);
  assert_contains(err, "larger than the limit of 9 bytes");
  unlink(path);
  assert_int_equal(proto_read_file(path, 9, &buf, &len, err, sizeof err), -1);
  assert_contains(err, "cannot open");
}

/* libxml2 must not print: run malformed parses with stderr redirected to a
 * file and check the file stays empty. */
static void test_errors_never_reach_stderr(void **state) {
  (void)state;
  char path[] = "/tmp/test_xml_err_XXXXXX";
  int  fd     = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  char err[512];
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    char   rel[256];
    size_t len;
    snprintf(rel, sizeof rel, "xml/%s", bad_cases[i].file);
    char *buf = slurp(rel, &len);
    parse_with(bad_cases[i].parser, buf, len, "x", err, sizeof err);
    free(buf);
  }
  const char junk[] = "<a><b></a>&bogus;<<<";
  parse_with(PIDMAP, junk, sizeof junk - 1, "x", err, sizeof err);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  close(fd);
  unlink(path);
  assert_int_equal(size, 0);
}

/* Two threads parse at once, one valid documents and one malformed ones;
 * each sees only its own results. */
struct worker {
  int    good;
  char  *buf;
  size_t len;
  int    failures;
};

static void *work(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < 300; i++) {
    char                  err[512];
    struct p4p_pidmap_msg m;
    int                   rc = proto_xml_parse_pidmap(w->buf, w->len, w->good ? "good" : "bad", &m, err, sizeof err);
    if (w->good && (rc != 0 || m.npids != 4))
      w->failures++;
    if (!w->good && (rc != -1 || strncmp(err, "bad:9: duplicate", 16) != 0))
      w->failures++;
    proto_pidmap_msg_free(&m);
  }
  return NULL;
}

static void test_parallel_parses_keep_their_own_errors(void **state) {
  (void)state;
  struct worker w[4];
  pthread_t     t[4];
  for (int i = 0; i < 4; i++) {
    w[i].good     = i % 2 == 0;
    w[i].buf      = slurp(w[i].good ? "../../deploy/example/pidmap.xml" : "xml/dup-pid.xml", &w[i].len);
    w[i].failures = 0;
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].failures, 0);
    free(w[i].buf);
  }
}

/* ------------------------------------------------------------------ */
/* textual forms                                                       */

static void test_prefix_and_address_forms(void **state) {
  (void)state;
  struct p4p_prefix p;
  char              t[P4P_ADDR_TEXT_MAX];
  assert_int_equal(proto_prefix_parse("10.0.0.0/8", &p), 0);
  assert_int_equal(p.bits, 104);
  proto_prefix_format(&p, t);
  assert_string_equal(t, "10.0.0.0/8");
  assert_int_equal(proto_prefix_parse("10.0.0.1/8", &p), -2);
  assert_int_equal(proto_prefix_parse("10.0.0.0/33", &p), -1);
  assert_int_equal(proto_prefix_parse("10.0.0.0", &p), -1); /* length needed */
  assert_int_equal(proto_prefix_parse("10.0.0.0/08", &p), -1);
  assert_int_equal(proto_prefix_parse("010.0.0.0/8", &p), -1);
  assert_int_equal(proto_prefix_parse("10.0.0.0/8 ", &p), -1);
  assert_int_equal(proto_prefix_parse("::1/129", &p), -1);
  assert_int_equal(proto_prefix_parse("fe80::%eth0/64", &p), -1);
  assert_int_equal(proto_prefix_parse("2001:DB8::/32", &p), 0);
  proto_prefix_format(&p, t);
  assert_string_equal(t, "2001:db8::/32");
  /* an IPv4-mapped IPv6 prefix is the IPv4 prefix */
  assert_int_equal(proto_prefix_parse("::ffff:192.0.2.0/120", &p), 0);
  proto_prefix_format(&p, t);
  assert_string_equal(t, "192.0.2.0/24");

  uint8_t a[16];
  assert_int_equal(proto_addr_parse("1.2.3.256", a), -1);
  assert_int_equal(proto_addr_parse("", a), -1);
  assert_int_equal(proto_addr_parse("::ffff:1.2.3.4", a), 0);
  proto_addr_format(a, t);
  assert_string_equal(t, "1.2.3.4");

  uint8_t h[20];
  char    hx[41];
  assert_int_equal(proto_hash_parse_hex("0123456789ABCDEF0123456789abcdef01234567", h), 0);
  proto_hash_format_hex(h, hx);
  assert_string_equal(hx, "0123456789abcdef0123456789abcdef01234567");
  assert_int_equal(proto_hash_parse_hex("0123456789abcdef0123456789abcdef0123456", h), -1);
  assert_int_equal(proto_hash_parse_hex("0123456789abcdef0123456789abcdef012345678", h), -1);
  assert_int_equal(proto_hash_parse_hex("g123456789abcdef0123456789abcdef01234567", h), -1);
}

static void test_kind_of(void **state) {
  (void)state;
  const char a[] = "<stats xmlns='urn:opentracker-p4p:p4p:1'/>";
  const char b[] = "<stats xmlns='urn:other'/>";
  const char c[] = "<stats xmlns='urn:opentracker-p4p:p4p:1'>";
  assert_int_equal(proto_xml_kind_of(a, sizeof a - 1), P4P_XML_STATS);
  assert_int_equal(proto_xml_kind_of(b, sizeof b - 1), P4P_XML_UNKNOWN);
  assert_int_equal(proto_xml_kind_of(c, sizeof c - 1), P4P_XML_UNKNOWN);
}

/* Field-level checks the fixtures do not cover. */
static void test_semantic_checks_on_other_kinds(void **state) {
  (void)state;
  char                  err[512];
  struct p4p_lookup_msg l;
  const char            l1[] = "<lookup xmlns='urn:opentracker-p4p:p4p:1'>\n"
                               "<result addr='10.0.0.1' asid='5'/></lookup>";
  assert_int_equal(proto_xml_parse_lookup(l1, sizeof l1 - 1, "r", &l, err, sizeof err), -1);
  assert_contains(err, "r:2: <result>: 'asid' and 'loc' need a 'pid'");

  struct p4p_capability_msg c;
  const char                c1[] = "<capability xmlns='urn:opentracker-p4p:p4p:1'>\n\n"
                                   "<server pid='a' kind='cache' addr='10.0.0.1' port='0' "
                                   "capacity-kbps='1'/></capability>";
  assert_int_equal(proto_xml_parse_capability(c1, sizeof c1 - 1, "r", &c, err, sizeof err), -1);
  assert_contains(err, "r:3: <server port=\"0\">: not an integer in 1..65535");
  const char c2[] = "<capability xmlns='urn:opentracker-p4p:p4p:1'>"
                    "<server pid='a' kind='router' addr='10.0.0.1' port='1' "
                    "capacity-kbps='1'/></capability>";
  assert_int_equal(proto_xml_parse_capability(c2, sizeof c2 - 1, "r", &c, err, sizeof err), -1);
  assert_contains(err, "r:1: <server kind=\"router\">: kind is");

  struct p4p_capability_request r;
  const char                    r1[] = "<capability-request xmlns='urn:opentracker-p4p:p4p:1' "
                                       "info-hash='0123456789abcdef0123456789abcdef01234567' "
                                       "count='4097'/>";
  assert_int_equal(proto_xml_parse_capability_request(r1, sizeof r1 - 1, "r", &r, err, sizeof err), -1);
  assert_contains(err, "count=\"4097\">: not an integer in 1..4096");

  struct p4p_stats_msg s;
  const char           s1[] = "<stats xmlns='urn:opentracker-p4p:p4p:1'>\n"
                              "<swarm info-hash='0123456789abcdef0123456789abcdef01234567'>"
                              "<pid name='a' seeders='1' leechers='-1'/></swarm></stats>";
  assert_int_equal(proto_xml_parse_stats(s1, sizeof s1 - 1, "r", &s, err, sizeof err), -1);
  assert_contains(err, "r:2: <pid leechers=\"-1\">");
  const char s2[] = "<stats xmlns='urn:opentracker-p4p:p4p:1'>\n"
                    "<swarm info-hash='0123456789abcdef0123456789abcdef01234567'/>\n"
                    "<swarm info-hash='0123456789ABCDEF0123456789abcdef01234567'/>"
                    "</stats>";
  assert_int_equal(proto_xml_parse_stats(s2, sizeof s2 - 1, "r", &s, err, sizeof err), -1);
  assert_contains(err, "r:3: duplicate swarm info-hash "
                       "'0123456789abcdef0123456789abcdef01234567' (first at "
                       "line 2)");

  struct p4p_error_msg e;
  const char           e1[] = "<error xmlns='urn:opentracker-p4p:p4p:1' status='200'/>";
  assert_int_equal(proto_xml_parse_error(e1, sizeof e1 - 1, "r", &e, err, sizeof err), -1);
  assert_contains(err, "not an integer in 400..599");

  struct p4p_guidance_msg g;
  const char              g1[] = "<guidance xmlns='urn:opentracker-p4p:p4p:1'>"
                                 "<swarm info-hash='0123456789abcdef0123456789abcdef01234567'>"
                                 "<pids>a</pids></swarm>\n<default><pids>a</pids></default>"
                                 "</guidance>";
  assert_int_equal(proto_xml_parse_guidance(g1, sizeof g1 - 1, "r", &g, err, sizeof err), -1);
  assert_contains(err, "r:2: <default> must come before the first <swarm>");
}

static int teardown_schema(void **state) {
  (void)state;
  if (schema)
    xmlSchemaFree(schema);
  schema = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_examples_validate_against_xsd),
      cmocka_unit_test(test_example_pidmap_parses_to_its_values),
      cmocka_unit_test(test_example_matrices_parse_to_their_values),
      cmocka_unit_test(test_example_deploy_pidmap_covers_loopback),
      cmocka_unit_test(test_example_other_kinds_parse_to_their_values),
      cmocka_unit_test(test_roundtrip_pidmap),
      cmocka_unit_test(test_roundtrip_lookup_and_request),
      cmocka_unit_test(test_roundtrip_costs_and_guidance_exact_values),
      cmocka_unit_test(test_roundtrip_stats),
      cmocka_unit_test(test_roundtrip_capability_request_error),
      cmocka_unit_test(test_error_writer_makes_any_text_carriable),
      cmocka_unit_test(test_writers_refuse_invalid_structs),
      cmocka_unit_test(test_malformed_and_hostile_refused_with_line),
      cmocka_unit_test(test_text_form_attributes_say_their_rule),
      cmocka_unit_test(test_char_refs_and_cdata_read_as_text),
      cmocka_unit_test(test_size_and_count_caps),
      cmocka_unit_test(test_writer_stays_under_the_read_cap),
      cmocka_unit_test(test_tag_with_too_many_attributes_refused_early),
      cmocka_unit_test(test_only_utf8_is_parsed),
      cmocka_unit_test(test_read_file_cap),
      cmocka_unit_test(test_errors_never_reach_stderr),
      cmocka_unit_test(test_parallel_parses_keep_their_own_errors),
      cmocka_unit_test(test_prefix_and_address_forms),
      cmocka_unit_test(test_kind_of),
      cmocka_unit_test(test_semantic_checks_on_other_kinds),
  };
  return cmocka_run_group_tests(tests, NULL, teardown_schema);
}
