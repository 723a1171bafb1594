/* legacy_portal: the Yale P4P portal's text answers, checked on byte-exact
 * captures of the real server (tests/data/yale-portal/) and on broken
 * variants of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/legacy_portal.h"
#include "p4p/pidmap.h"
#include "proto/file.h"
#include "proto/text.h"
#include "proto/xml.h"

/* |got - want| <= tol, with both numbers in the failure message */
#define assert_near(got, want, tol) assert_near_at((got), (want), (tol), __FILE__, __LINE__)
static void assert_near_at(double got, double want, double tol, const char *file, int line) {
  if (!(got >= want - tol && got <= want + tol))
    fail_msg("%s:%d: got %.17g, want %.17g (tolerance %g)", file, line, got, want, tol);
}

/* The body of a *.curl.txt capture: everything after the blank line that
 * ends the headers (the captures keep CRLF). */
static char *capture_body(const char *name, size_t *len) {
  const char *dir = getenv("TEST_DATA");
  char        path[1024], err[256];
  char       *buf;
  size_t      n;
  snprintf(path, sizeof path, "%s/yale-portal/%s", dir ? dir : "tests/data", name);
  assert_int_equal(proto_read_file(path, 1 << 20, &buf, &n, err, sizeof err), 0);
  char *sep = strstr(buf, "\r\n\r\n");
  assert_non_null(sep);
  sep += 4;
  *len       = n - (size_t)(sep - buf);
  char *body = malloc(*len + 1);
  memcpy(body, sep, *len + 1);
  free(buf);
  return body;
}

static const struct p4p_pid_entry *find_pid(const struct p4p_pidmap_msg *m, const char *name) {
  for (size_t i = 0; i < m->npids; i++)
    if (!strcmp(m->pids[i].name, name))
      return &m->pids[i];
  return NULL;
}

static void assert_prefix(const struct p4p_prefix *p, const char *text) {
  char t[P4P_ADDR_TEXT_MAX];
  proto_prefix_format(p, t);
  assert_string_equal(t, text);
}

static size_t pid_index(const struct p4p_matrix *m, const char *name) {
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->pids[i], name))
      return i;
  fail_msg("PID %s not in matrix", name);
  return 0;
}

static double cost(const struct p4p_costs_msg *c, const char *from, const char *to) {
  return c->costs.v[pid_index(&c->costs, from) * c->costs.n + pid_index(&c->costs, to)];
}

static void test_pid_map_capture_parses_every_pid_and_prefix(void **state) {
  (void)state;
  size_t                len;
  char                 *body = capture_body("01-get-pid-map.curl.txt", &len);
  struct p4p_pidmap_msg m;
  char                  err[256] = "";
  assert_int_equal(p4p_legacy_parse_pidmap(body, len, "pid/map", "1", &m, err, sizeof err), 0);
  /* 9 internal (0..8.i) + 4 external (100, 105, 120, 200.e), in order */
  assert_int_equal(m.npids, 13);
  assert_string_equal(m.version, "1"); /* X-P4P-PIDMap: 1 */
  assert_string_equal(m.pids[0].name, "0.i.internet2");
  assert_string_equal(m.pids[9].name, "100.e.internet2");
  assert_string_equal(m.pids[12].name, "200.e.internet2");
  const struct p4p_pid_entry *e = find_pid(&m, "1.i.internet2");
  assert_non_null(e);
  assert_int_equal(e->nprefixes, 3);
  assert_prefix(&e->prefixes[0], "12.108.127.0/24");
  assert_prefix(&e->prefixes[1], "172.16.0.0/12");
  assert_prefix(&e->prefixes[2], "192.16.104.0/23");
  assert_int_equal(e->asid, 0); /* the text format has no ASID */
  assert_string_equal(e->loc, "");
  e = find_pid(&m, "8.i.internet2");
  assert_int_equal(e->nprefixes, 3);
  assert_prefix(&e->prefixes[2], "169.232.0.0/16");
  size_t total = 0;
  for (size_t i = 0; i < m.npids; i++)
    total += m.pids[i].nprefixes;
  assert_int_equal(total, 2 + 3 + 1 + 1 + 2 + 1 + 2 + 1 + 3 + 1 + 1 + 1 + 1);
  proto_pidmap_msg_free(&m);
  free(body);
}

/* The parsed map answers as the real portal's POST /pid did
 * (02-post-pid.curl.txt): 10.1.2.3 is in 10.1/16 (100.e) and in 10/8
 * (200.e), the longer prefix wins; 10.200.0.1 only in 10/8.  8.8.8.8 got
 * Yale's catch-all "0.i.pid.p4p": in our map it is in no PID (slot 0). */
static void test_pid_map_capture_longest_prefix_matches_post_pid(void **state) {
  (void)state;
  size_t                len;
  char                 *body = capture_body("01-get-pid-map.curl.txt", &len);
  struct p4p_pidmap_msg m;
  char                  err[256] = "";
  assert_int_equal(p4p_legacy_parse_pidmap(body, len, "pid/map", "1", &m, err, sizeof err), 0);
  struct pidmap *map = p4p_pidmap_from_msg(&m, err, sizeof err);
  assert_non_null(map);
  static const struct {
    const char *addr, *pid;
  } want[] = {
      {"128.36.1.1", "0.i.internet2"},   {"12.108.127.5", "1.i.internet2"}, {"10.1.2.3", "100.e.internet2"},
      {"10.200.0.1", "200.e.internet2"}, {"172.16.9.9", "1.i.internet2"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    uint8_t a[16];
    assert_int_equal(proto_addr_parse(want[i].addr, a), 0);
    uint16_t slot = p4p_pidmap_lookup(map, a);
    assert_true(slot > 0);
    assert_string_equal(p4p_pidmap_pid_name(map, slot), want[i].pid);
  }
  uint8_t a[16];
  assert_int_equal(proto_addr_parse("8.8.8.8", a), 0);
  assert_int_equal(p4p_pidmap_lookup(map, a), 0);
  p4p_pidmap_unref(map);
  proto_pidmap_msg_free(&m);
  free(body);
}

/* 06-get-pdistance.curl.txt.  The largest cost is 97 (every internal PID to
 * 200.e), so a defined cost c becomes 100 c / 97:
 *   0.i -> 1.i   9 -> 900/97  = 9.278...
 *   0.i -> 0.i   1 -> 100/97  (Yale charges 1 inside a PID)
 *   100.e -> 0.i 65 -> 6500/97 = 67.01...
 *   0.i -> 200.e 97 -> 100
 * Zeros off the diagonal are undefined -> 100: 0.i <-> 2.i both ways, and
 * every external -> external pair; 100.e -> 100.e (diagonal 0) stays 0. */
static void test_pdistance_capture_scales_and_fills_undefined(void **state) {
  (void)state;
  size_t               len;
  char                *body = capture_body("06-get-pdistance.curl.txt", &len);
  struct p4p_costs_msg c;
  char                 err[256] = "";
  assert_int_equal(p4p_legacy_parse_pdistance(body, len, "pdistance", "1", &c, err, sizeof err), 0);
  assert_int_equal(c.costs.n, 13);
  assert_string_equal(c.version, "1");
  assert_string_equal(c.costs.pids[0], "0.i.internet2");
  assert_string_equal(c.costs.pids[12], "200.e.internet2");
  assert_near(cost(&c, "0.i.internet2", "1.i.internet2"), 900.0 / 97, 1e-12);
  assert_near(cost(&c, "0.i.internet2", "0.i.internet2"), 100.0 / 97, 1e-12);
  assert_near(cost(&c, "100.e.internet2", "0.i.internet2"), 6500.0 / 97, 1e-12);
  assert_near(cost(&c, "0.i.internet2", "200.e.internet2"), 100, 0);
  assert_near(cost(&c, "1.i.internet2", "0.i.internet2"), 800.0 / 97, 1e-12); /* asymmetric: 8 back, 9 forth */
  assert_near(cost(&c, "0.i.internet2", "2.i.internet2"), 100, 0);
  assert_near(cost(&c, "2.i.internet2", "0.i.internet2"), 100, 0);
  assert_near(cost(&c, "100.e.internet2", "105.e.internet2"), 100, 0);
  assert_near(cost(&c, "100.e.internet2", "100.e.internet2"), 0, 0);
  /* every value is a valid v1 cost: the XML writer accepts the message */
  size_t xlen;
  char  *xml = proto_xml_write_costs(&c, &xlen);
  assert_non_null(xml);
  free(xml);
  proto_costs_msg_free(&c);
  free(body);
}

/* 07-post-pdistance-spec-example.curl.txt: one inc-reverse line from 0.i.
 * Forward costs fill row 0.i, reverse costs fill column 0.i; other pairs
 * are unknown.  Largest defined: 97 (0.i -> 200.e).
 *   1.i -> 0.i reverse 8 -> 800/97;  100.e -> 0.i reverse 65 -> 6500/97;
 *   1.i -> 2.i not listed -> 100;    1.i -> 1.i not listed -> 0. */
static void test_pdistance_inc_reverse_fills_reverse_column(void **state) {
  (void)state;
  size_t               len;
  char                *body = capture_body("07-post-pdistance-spec-example.curl.txt", &len);
  struct p4p_costs_msg c;
  char                 err[256] = "";
  assert_int_equal(p4p_legacy_parse_pdistance(body, len, NULL, NULL, &c, err, sizeof err), 0);
  assert_int_equal(c.costs.n, 13);
  assert_string_equal(c.version, "");
  assert_near(cost(&c, "0.i.internet2", "1.i.internet2"), 900.0 / 97, 1e-12);
  assert_near(cost(&c, "1.i.internet2", "0.i.internet2"), 800.0 / 97, 1e-12);
  assert_near(cost(&c, "100.e.internet2", "0.i.internet2"), 6500.0 / 97, 1e-12);
  assert_near(cost(&c, "1.i.internet2", "2.i.internet2"), 100, 0);
  assert_near(cost(&c, "1.i.internet2", "1.i.internet2"), 0, 0);
  proto_costs_msg_free(&c);
  free(body);
}

/* A direct cost wins over the reverse column of another line, whatever the
 * order: a -> b is 4 from a's line, b's inc-reverse line says 6 for it. */
static void test_pdistance_direct_cost_beats_reverse_column(void **state) {
  (void)state;
  const char          *text = "b\tinc-reverse\t1\ta\t2\t6\n"
                              "a\tno-reverse\t1\tb\t4\n";
  struct p4p_costs_msg c;
  char                 err[256] = "";
  assert_int_equal(p4p_legacy_parse_pdistance(text, strlen(text), "t", "v7", &c, err, sizeof err), 0);
  /* max defined = 4: a->b 4 -> 100, b->a 2 -> 50 */
  assert_string_equal(c.costs.pids[0], "b");
  assert_near(cost(&c, "a", "b"), 100, 0);
  assert_near(cost(&c, "b", "a"), 50, 0);
  assert_string_equal(c.version, "v7");
  proto_costs_msg_free(&c);
}

static void test_lf_only_and_blank_separated_lines_are_read(void **state) {
  (void)state;
  const char           *text = "x.i.isp 1  10.0.0.0/8\n\n y.i.isp\t0\n";
  struct p4p_pidmap_msg m;
  char                  err[256] = "";
  assert_int_equal(p4p_legacy_parse_pidmap(text, strlen(text), "t", "bad ver", &m, err, sizeof err), 0);
  assert_int_equal(m.npids, 2);
  assert_int_equal(m.pids[1].nprefixes, 0);
  assert_string_equal(m.version, ""); /* a version with a space is dropped */
  proto_pidmap_msg_free(&m);
}

/* issue 15.2: the 5-byte answer "0<TAB>0<CRLF>" (one PID, no prefixes)
 * once handed qsort a NULL array, which UBSan aborts on (build/san); it is
 * a valid map of one empty PID. */
static void test_only_pids_without_prefixes_parse(void **state) {
  (void)state;
  const char            text[] = "0\t0\r\n";
  struct p4p_pidmap_msg m;
  char                  err[256] = "";
  assert_int_equal(p4p_legacy_parse_pidmap(text, sizeof text - 1, "t", NULL, &m, err, sizeof err), 0);
  assert_int_equal(m.npids, 1);
  assert_string_equal(m.pids[0].name, "0");
  assert_int_equal(m.pids[0].nprefixes, 0);
  assert_null(m.pids[0].prefixes);
  proto_pidmap_msg_free(&m);
  const char two[] = "a\t0\r\nb\t0\r\n";
  assert_int_equal(p4p_legacy_parse_pidmap(two, sizeof two - 1, "t", NULL, &m, err, sizeof err), 0);
  assert_int_equal(m.npids, 2);
  proto_pidmap_msg_free(&m);
}

static void expect_pidmap_error(const char *text, size_t len, const char *want) {
  struct p4p_pidmap_msg m;
  char                  err[256] = "";
  memset(&m, 0x5a, sizeof m);
  assert_int_equal(p4p_legacy_parse_pidmap(text, len, "pid/map", "1", &m, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(m.npids, 0);
  assert_null(m.pids);
}

static void test_broken_pid_maps_are_refused_with_line(void **state) {
  (void)state;
  expect_pidmap_error("a.i\t2\t10.0.0.0/8\r\n", 18, "pid/map:1: PID a.i: count says 2 prefixes, line has 1");
  const char dup[] = "a.i\t1\t10.0.0.0/8\r\nb.i\t0\r\na.i\t0\r\n";
  expect_pidmap_error(dup, sizeof dup - 1, "pid/map:3: PID a.i listed twice");
  const char dpfx[] = "a.i\t1\t10.0.0.0/8\r\nb.i\t1\t10.0.0.0/8\r\n";
  expect_pidmap_error(dpfx, sizeof dpfx - 1, "pid/map:2: prefix 10.0.0.0/8 listed twice");
  const char host[] = "a.i\t1\t10.0.0.1/8\r\n";
  expect_pidmap_error(host, sizeof host - 1, "pid/map:1: PID a.i: host bits set in prefix \"10.0.0.1/8\"");
  const char name[] = "ok.i\t0\r\nb<i\t0\r\n";
  expect_pidmap_error(name, sizeof name - 1, "pid/map:2: bad PID name");
  const char ctl[] = "a.i\t1\t10.0.0.0/8\x01\r\n";
  expect_pidmap_error(ctl, sizeof ctl - 1, "pid/map:1: control character 0x01");
  expect_pidmap_error("\r\n\r\n", 4, "pid/map: no PIDs");
  expect_pidmap_error("a.i\t0\0\r\n", 7, "pid/map: NUL byte in answer");
  expect_pidmap_error("<html>oops</html>\r\n", 19, "pid/map:1: bad PID name");
}

static void expect_pdistance_error(const char *text, const char *want) {
  struct p4p_costs_msg c;
  char                 err[256] = "";
  assert_int_equal(p4p_legacy_parse_pdistance(text, strlen(text), "pdistance", "1", &c, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(c.costs.n, 0);
}

static void test_broken_pdistances_are_refused_with_line(void **state) {
  (void)state;
  expect_pdistance_error("a\tno-reverse\t1\tb\t1\r\na\tsideways\t0\r\n", "pdistance:2: unknown mode \"sideways\"");
  expect_pdistance_error("a\tno-reverse\t2\tb\t1\r\n", "pdistance:1: count says 2 destinations, line has 2 "
                                                       "fields after it (want 4)");
  expect_pdistance_error("a\tno-reverse\t1\tb\t-1\r\n", "pdistance:1: bad cost \"-1\" for a -> b");
  expect_pdistance_error("a\tno-reverse\t1\tb\tnan\r\n", "pdistance:1: bad cost \"nan\" for a -> b");
  expect_pdistance_error("a\tno-reverse\t1\tb\t1\r\na\tno-reverse\t1\tb\t2\r\n", "pdistance:2: cost a -> b given twice");
  expect_pdistance_error("a\tno-reverse\r\n", "pdistance:1: expected <src> no-reverse|inc-reverse <n>");
  expect_pdistance_error("", "pdistance: no PIDs");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pid_map_capture_parses_every_pid_and_prefix),
      cmocka_unit_test(test_pid_map_capture_longest_prefix_matches_post_pid),
      cmocka_unit_test(test_pdistance_capture_scales_and_fills_undefined),
      cmocka_unit_test(test_pdistance_inc_reverse_fills_reverse_column),
      cmocka_unit_test(test_pdistance_direct_cost_beats_reverse_column),
      cmocka_unit_test(test_lf_only_and_blank_separated_lines_are_read),
      cmocka_unit_test(test_only_pids_without_prefixes_parse),
      cmocka_unit_test(test_broken_pid_maps_are_refused_with_line),
      cmocka_unit_test(test_broken_pdistances_are_refused_with_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
