/* Provider file parser: what a valid file means, and that every bad file is
 * refused with its file:line. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/text.h"
#include "provider/pdistance.h"
#include "provider/provider.h"
#include "provider/topology.h"

static const char small[] = "# a tiny provider\n"
                            "provider tiny\n"
                            "asid 64500\n"
                            "pop A loc 40.5,-74.25\n"
                            "pop B\n"
                            "pop C\n"
                            "link A B capacity 1000 weight 10 background 100\n"
                            "link B C capacity 2000 weight 5 price 7\n"
                            "pid p1 pop A prefix 10.0.0.0/8 prefix 2001:db8::/32\n"
                            "pid p2 pop A prefix 10.1.0.0/16\n"
                            "pid p3 pop C prefix 192.0.2.0/24\n"
                            "access-class slow down 1000 up 100 share 3\n"
                            "access-class fast down 5000 up 2000 share 1\n"
                            "server p3 cache 192.0.2.10 6881 capacity 50000\n"
                            "client app token 0123456789abcdef0123 allow info,guidance\n"
                            "avoid-link B A hours 22-4 factor 4\n"
                            "avoid-link A B hours 3-5 factor 2.5\n"
                            "max-optimized-swarms 7\n"
                            "listen ::1 8080\n";

static void parse_ok(const char *text, struct prov_config *p) {
  char err[256] = "";
  int  rc       = prov_parse(text, strlen(text), "t.conf", p, err, sizeof err);
  if (rc)
    fail_msg("unexpected error: %s", err);
}

static void expect_error(const char *text, const char *want) {
  struct prov_config p;
  char               err[256] = "";
  assert_int_equal(prov_parse(text, strlen(text), "bad.conf", &p, err, sizeof err), -1);
  if (!strstr(err, want))
    fail_msg("error '%s' does not contain '%s'", err, want);
  /* a refused file leaves nothing behind */
  assert_int_equal(p.npops, 0);
  assert_null(p.pids);
}

static void test_valid_file_is_read_completely(void **state) {
  (void)state;
  struct prov_config p;
  parse_ok(small, &p);
  assert_string_equal(p.name, "tiny");
  assert_int_equal(p.asid, 64500);
  assert_string_equal(p.version, "1"); /* default when not given */
  assert_int_equal(p.npops, 3);
  assert_string_equal(p.pops[0].loc, "40.5,-74.25");
  assert_true(p.pops[0].has_location);
  assert_false(p.pops[1].has_location);
  assert_int_equal(p.nlinks, 2);
  assert_int_equal(p.links[0].a, 0);
  assert_int_equal(p.links[0].b, 1);
  assert_int_equal(p.links[0].igp_weight, 10);
  assert_true(p.links[0].background_kbps == 100);
  assert_true(p.links[0].price == 10); /* price defaults to the IGP weight */
  assert_true(p.links[1].price == 7);
  assert_int_equal(p.npids, 3);
  assert_int_equal(p.pids[0].nprefixes, 2);
  assert_int_equal(p.pids[2].pop, 2);
  /* IPv4 prefixes are stored IPv4-mapped: 10.0.0.0/8 -> ::ffff:10.0.0.0/104 */
  assert_int_equal(p.pids[0].prefixes[0].bits, 104);
  assert_int_equal(p.pids[0].prefixes[0].addr[10], 0xff);
  assert_int_equal(p.pids[0].prefixes[0].addr[12], 10);
  assert_int_equal(p.pids[0].prefixes[1].bits, 32);
  assert_int_equal(p.nservers, 1);
  assert_int_equal(p.servers[0].port, 6881);
  assert_string_equal(p.servers[0].kind, "cache");
  assert_int_equal(p.nclients, 1);
  assert_int_equal(p.clients[0].interfaces, P4P_IF_INFO | P4P_IF_GUIDANCE);
  assert_int_equal(p.navoid, 2);
  assert_int_equal(p.avoid[0].link, 0); /* "B A" names link A-B */
  assert_int_equal(p.daemon.max_optimized_swarms, 7);
  assert_string_equal(p.daemon.listen_addr, "::1");
  assert_int_equal(p.daemon.port, 8080);
  assert_int_equal(p.daemon.resolve_interval_s, 30); /* default */
  prov_free(&p);
  prov_free(&p); /* freeing a zeroed struct is allowed */
}

static void test_lookup_is_longest_prefix_match(void **state) {
  (void)state;
  struct prov_config p;
  parse_ok(small, &p);
  uint8_t a[16];
  /* 10.1.2.3 is in 10.0.0.0/8 (p1) and 10.1.0.0/16 (p2): /16 wins */
  assert_int_equal(proto_addr_parse("10.1.2.3", a), 0);
  assert_int_equal(prov_lookup(&p, a), 1);
  assert_int_equal(proto_addr_parse("10.2.0.1", a), 0);
  assert_int_equal(prov_lookup(&p, a), 0);
  assert_int_equal(proto_addr_parse("2001:db8:5::1", a), 0);
  assert_int_equal(prov_lookup(&p, a), 0);
  /* the /32 boundary: 2001:db9:: is outside 2001:db8::/32 */
  assert_int_equal(proto_addr_parse("2001:db9::1", a), 0);
  assert_int_equal(prov_lookup(&p, a), -1);
  assert_int_equal(proto_addr_parse("198.51.100.1", a), 0);
  assert_int_equal(prov_lookup(&p, a), -1);
  assert_int_equal(prov_pid_index(&p, "p3"), 2);
  assert_int_equal(prov_pid_index(&p, "nope"), -1);
  prov_free(&p);
}

static void test_avoidance_factor_follows_the_clock(void **state) {
  (void)state;
  struct prov_config p;
  parse_ok(small, &p);
  /* link 0 has 22-4 (x4, wraps midnight) and 3-5 (x2.5):
   * 23h: 4; 3h: both, 4 * 2.5 = 10; 4h: only 3-5, 2.5; 12h: 1 */
  assert_true(prov_link_factor(&p, 0, 23) == 4);
  assert_true(prov_link_factor(&p, 0, 0) == 4);
  assert_true(prov_link_factor(&p, 0, 3) == 10);
  assert_true(prov_link_factor(&p, 0, 4) == 2.5);
  assert_true(prov_link_factor(&p, 0, 12) == 1);
  assert_true(prov_link_factor(&p, 0, 22) == 4);
  assert_true(prov_link_factor(&p, 0, 21) == 1);
  assert_true(prov_link_factor(&p, 1, 23) == 1); /* other link */
  prov_free(&p);
}

static void test_mean_access_weights_classes_by_share(void **state) {
  (void)state;
  struct prov_config p;
  parse_ok(small, &p);
  double down, up;
  /* shares 3:1 -> down (3*1000 + 5000)/4 = 2000, up (300 + 2000)/4 = 575 */
  prov_mean_access(&p, &down, &up);
  assert_float_equal(down, 2000, 1e-9);
  assert_float_equal(up, 575, 1e-9);
  prov_free(&p);
  /* no classes: the paper's mix, down .2*784+.4*1500+.25*3000+.15*10000
   * = 3006.8, up .2*128+.4*384+.25*1000+.15*5000 = 1179.2 */
  struct prov_config none;
  memset(&none, 0, sizeof none);
  prov_mean_access(&none, &down, &up);
  assert_float_equal(down, 3006.8, 1e-9);
  assert_float_equal(up, 1179.2, 1e-9);
}

static void test_bad_files_name_file_and_line(void **state) {
  (void)state;
  expect_error("asid 1\nbogus 3\n", "bad.conf:2: unknown keyword 'bogus'");
  expect_error("asid 1\npop A\npid x pop B prefix 10.0.0.0/8\n", "bad.conf:3: unknown PoP 'B'");
  expect_error("asid 1\npop A\npop A\n", "bad.conf:3: PoP 'A' declared twice");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.1/8\n", "bad.conf:3: prefix '10.0.0.1/8' has host bits set");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.0/33\n", "bad.conf:3: '10.0.0.0/33' is not a prefix");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.0/8\n"
               "pid y pop A prefix 10.0.0.0/8\n",
               "bad.conf:4: prefix 10.0.0.0/8 already belongs to PID x");
  expect_error("asid 1\npop A\npop B\nlink A B capacity 10 weight 0\n", "bad.conf:4: weight");
  expect_error("asid 1\npop A\npop B\nlink A B capacity -5 weight 1\n", "bad.conf:4: capacity");
  expect_error("asid 1\npop A\npop B\nlink A B weight 1\n", "bad.conf:4: link needs both");
  expect_error("asid 1\npop A\npop B\nlink A B capacity nan weight 1\n", "bad.conf:4: capacity");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.0/8\n"
               "client c token short allow all\n",
               "bad.conf:4: token of client 'c' is shorter");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.0/8\n"
               "client c token 0123456789abcdef allow info,admin\n",
               "bad.conf:4: allow list");
  expect_error("asid 1\npop A\npop B\nlink A B capacity 1 weight 1\n"
               "avoid-link A B hours 5-5 factor 2\n",
               "bad.conf:5: hours");
  expect_error("asid 1\npop A\npop B\navoid-link A B hours 1-5 factor 2\n", "bad.conf:4: no link A-B");
  expect_error("asid 1\npop A\npid x pop A prefix 10.0.0.0/8\n"
               "server y cache 10.0.0.1 1 capacity 1\n",
               "bad.conf:4: server in unknown PID 'y'");
  expect_error("asid 1\nmax-body 12\n", "bad.conf:2: max-body");
  /* whole-file checks report the last line */
  expect_error("pop A\npid x pop A prefix 10.0.0.0/8\n", "bad.conf:2: no 'asid'");
  /* a PID that names its PoP would leak topology */
  expect_error("asid 1\npop NYC\npid NYC-1 pop NYC prefix 10.0.0.0/8\n", "PIDs must be opaque");
}

static void test_missing_file_is_an_error(void **state) {
  (void)state;
  struct prov_config p;
  char               err[256];
  assert_int_equal(prov_load("/nonexistent/x.conf", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/x.conf"));
}

static void load_deploy(const char *name, struct prov_config *p) {
  char        path[1024], err[256];
  const char *data = getenv("TEST_DATA");
  snprintf(path, sizeof path, "%s/../../deploy/providers/%s", data ? data : "tests/data", name);
  if (prov_load(path, p, err, sizeof err))
    fail_msg("%s", err);
}

static void test_shipped_providers_match_the_data_sets(void **state) {
  (void)state;
  struct prov_config p;
  load_deploy("abilene.conf", &p);
  assert_int_equal(p.npops, 11);
  assert_int_equal(p.nlinks, 14);
  assert_int_equal(p.asid, 11537);
  /* every server's address lies in its own PID */
  for (size_t i = 0; i < p.nservers; i++)
    assert_int_equal(prov_lookup(&p, p.servers[i].addr), prov_pid_index(&p, p.servers[i].pid));
  prov_free(&p);
  load_deploy("attmpls.conf", &p);
  assert_int_equal(p.npops, 25);
  assert_int_equal(p.nlinks, 56);
  for (size_t i = 0; i < p.nservers; i++)
    assert_int_equal(prov_lookup(&p, p.servers[i].addr), prov_pid_index(&p, p.servers[i].pid));
  prov_free(&p);
}

static void test_costs_follow_routes_and_the_clock(void **state) {
  (void)state;
  struct prov_config   p;
  struct prov_topology t;
  char                 err[256];
  parse_ok(small, &p);
  prov_topology_init(&t);
  if (prov_build_topology(&p, &t, err, sizeof err))
    fail_msg("%s", err);
  assert_int_equal(t.npops, 3);
  assert_int_equal(t.nlinks, 4); /* two duplex links */
  /* A -B- C: price(A-B) = 10 (its weight), price(B-C) = 7.
   * 12h: A->C = 10 + 7 = 17;  23h: A-B x4 -> 40 + 7 = 47;
   * 3h: A-B x4 x2.5 -> 100 + 7 = 107;  B->C never changes. */
  double c[9];
  assert_int_equal(prov_pop_costs(&p, &t, 12, c, err, sizeof err), 0);
  assert_float_equal(c[0 * 3 + 2], 17, 1e-9);
  assert_float_equal(c[2 * 3 + 0], 17, 1e-9);
  assert_float_equal(c[0 * 3 + 0], 0, 1e-9);
  assert_int_equal(prov_pop_costs(&p, &t, 23, c, err, sizeof err), 0);
  assert_float_equal(c[0 * 3 + 2], 47, 1e-9);
  assert_float_equal(c[1 * 3 + 2], 7, 1e-9);
  assert_int_equal(prov_pop_costs(&p, &t, 3, c, err, sizeof err), 0);
  assert_float_equal(c[2 * 3 + 0], 107, 1e-9);
  double m[4];
  prov_link_mults(&p, 3, m);
  assert_float_equal(m[0], 10, 1e-9);
  assert_float_equal(m[1], 10, 1e-9);
  assert_float_equal(m[2], 1, 1e-9);
  prov_topology_free(&t);
  prov_free(&p);
}

/* p-distances and the default matrix on the small file.  Off-peak the
 * costliest route is A->C, 10 + 7 = 17: the divisor.  At 12h A->B costs
 * 100 x 10 / 17, A->C 100; at 23h A-B is avoided (x4): A->C 100 x 47 / 17,
 * above the scale.  Default PoP rows at 12h: w_Aj ∝ exp(-c_Aj / 25), so
 * from A: A 1, B e^-(1000/17/25), C e^-4, over their sum; PoP A has two
 * PIDs (p1, p2), which share its weight; B has none, so its share goes
 * to no PID (the row is normalized by the tracker). */
static void test_normalized_costs_and_default_pid_rows(void **state) {
  (void)state;
  struct prov_config   p;
  struct prov_topology t;
  char                 err[256];
  parse_ok(small, &p);
  prov_topology_init(&t);
  if (prov_build_topology(&p, &t, err, sizeof err))
    fail_msg("%s", err);
  double norm, c[9], w[9];
  assert_int_equal(prov_cost_norm(&p, &t, &norm, err, sizeof err), 0);
  assert_float_equal(norm, 17, 1e-9);
  assert_int_equal(prov_norm_pop_costs(&p, &t, 23, norm, c, err, sizeof err), 0);
  assert_float_equal(c[0 * 3 + 2], 100.0 * 47 / 17, 1e-9);
  assert_int_equal(prov_norm_pop_costs(&p, &t, 12, norm, c, err, sizeof err), 0);
  assert_float_equal(c[0 * 3 + 1], 100.0 * 10 / 17, 1e-9);
  assert_float_equal(c[0 * 3 + 2], 100, 1e-9);
  assert_float_equal(c[1 * 3 + 2], 100.0 * 7 / 17, 1e-9);
  assert_float_equal(c[1 * 3 + 1], 0, 1e-9);
  assert_int_equal(prov_default_pid_rows(&p, &t, c, w, err, sizeof err), 0);
  double a = 1, b = exp(-100.0 * 10 / 17 / 25), cc = exp(-4.0), sum = a + b + cc;
  assert_float_equal(w[0 * 3 + 0], a / sum / 2, 1e-9); /* p1 -> p1 */
  assert_float_equal(w[0 * 3 + 1], a / sum / 2, 1e-9); /* p1 -> p2 */
  assert_float_equal(w[1 * 3 + 2], cc / sum, 1e-9);    /* p2 -> p3 */
  /* from C: A at 100, B at 700/17, C at 0 */
  double ca = exp(-4.0), cb = exp(-100.0 * 7 / 17 / 25), sc = ca + cb + 1;
  assert_float_equal(w[2 * 3 + 0], ca / sc / 2, 1e-9);
  assert_float_equal(w[2 * 3 + 2], 1 / sc, 1e-9);
  prov_topology_free(&t);
  prov_free(&p);
}

static void test_abilene_routes_follow_ospf_weights(void **state) {
  (void)state;
  struct prov_config   p;
  struct prov_topology t;
  char                 err[256];
  load_deploy("abilene.conf", &p);
  prov_topology_init(&t);
  if (prov_build_topology(&p, &t, err, sizeof err))
    fail_msg("%s", err);
  /* from the Abilene OSPF path table: ATLA-IPLS-CHIN, 587 + 260 = 847;
   * ATLA-IPLS-KSCY-DNVR, 587 + 548 + 639 = 1774 */
  int                      atla = prov_topology_find_pop(&t, "ATLA");
  int                      chin = prov_topology_find_pop(&t, "CHIN");
  int                      dnvr = prov_topology_find_pop(&t, "DNVR");
  const struct prov_route *r    = prov_topology_route(&t, atla, chin);
  assert_non_null(r);
  assert_int_equal(r->nlinks, 2);
  assert_int_equal(r->igp_cost, 847);
  r = prov_topology_route(&t, atla, dnvr);
  assert_non_null(r);
  assert_int_equal(r->nlinks, 3);
  assert_int_equal(r->igp_cost, 1774);
  prov_topology_free(&t);
  prov_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_file_is_read_completely),         cmocka_unit_test(test_lookup_is_longest_prefix_match),
      cmocka_unit_test(test_avoidance_factor_follows_the_clock),    cmocka_unit_test(test_mean_access_weights_classes_by_share),
      cmocka_unit_test(test_bad_files_name_file_and_line),          cmocka_unit_test(test_missing_file_is_an_error),
      cmocka_unit_test(test_shipped_providers_match_the_data_sets), cmocka_unit_test(test_costs_follow_routes_and_the_clock),
      cmocka_unit_test(test_normalized_costs_and_default_pid_rows), cmocka_unit_test(test_abilene_routes_follow_ospf_weights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
