/* Topology builder and IGP routing: shortest paths, the equal-cost tie
 * rule, unreachable PoPs, I_e(i,j), per-route delay and hops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "provider/topology.h"

/*
 * The hand-drawn graph (IGP weights on the links):
 *
 *        F ---1--- B ---1--- D
 *         \        |       / ||
 *          10      1      2  ||  two parallel C-D links, weight 1 each
 *            \     |     /   ||
 *             `--- A ---'    ||        E: no links at all
 *                  |         ||
 *                  1         ||        G: A->G weight 1, G->A weight 5
 *                  |         ||           (two directed links)
 *                  C ========'
 *
 * PoP indices A0 B1 C2 D3 E4 F5 G6.  Links are added as duplex pairs
 * x-y [i/j] with i = x->y, j = y->x:  A-C [0/1], A-B [2/3], B-D [4/5],
 * C-D [6/7], A-D [8/9], A-F [10/11], F-B [12/13], C-D [14/15]; then
 * A->G [16], G->A [17].
 */
enum { A, B, C, D, E, F, G };

static struct prov_topology topo;

static void add(int a, int b, uint32_t w, double delay_ms, double km) {
  char                  err[128];
  struct prov_link_spec s = {.capacity_kbps = 1000, .igp_weight = w, .delay_ms = delay_ms, .length_km = km};
  assert_true(prov_topology_add_duplex(&topo, a, b, &s, err, sizeof err) >= 0);
}

static int setup(void **state) {
  (void)state;
  char        err[128];
  const char *names[] = {"A", "B", "C", "D", "E", "F", "G"};
  prov_topology_init(&topo);
  for (int i = 0; i < 7; i++)
    assert_int_equal(prov_topology_add_pop(&topo, names[i], 0, 0, 0, err, sizeof err), i);
  add(A, C, 1, 1.0, -1);  /* 0/1 */
  add(A, B, 1, 1.0, -1);  /* 2/3 */
  add(B, D, 1, 1.0, -1);  /* 4/5 */
  add(C, D, 1, 1.0, -1);  /* 6/7 */
  add(A, D, 2, -1, 400);  /* 8/9: delay from length, 400 km / 200 = 2 ms */
  add(A, F, 10, 5.0, -1); /* 10/11 */
  add(F, B, 1, 0.5, -1);  /* 12/13 */
  add(C, D, 1, 1.0, -1);  /* 14/15 parallel to 6/7 */
  struct prov_link_spec s = {.capacity_kbps = 1000, .igp_weight = 1, .delay_ms = 1, .length_km = -1};
  assert_int_equal(prov_topology_add_link(&topo, A, G, &s, err, sizeof err), 16);
  s.igp_weight = 5;
  assert_int_equal(prov_topology_add_link(&topo, G, A, &s, err, sizeof err), 17);
  assert_int_equal(prov_topology_finish(&topo, err, sizeof err), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  prov_topology_free(&topo);
  return 0;
}

static void assert_route(int i, int j, int n, const int *want) {
  const struct prov_route *r = prov_topology_route(&topo, i, j);
  assert_non_null(r);
  assert_int_equal(r->nlinks, n);
  const int *links = prov_route_links(&topo, r);
  for (int h = 0; h < n; h++)
    assert_int_equal(links[h], want[h]);
}

/* A->D: direct w2 (1 hop) ties with A-B-D and A-C-D (w2, 2 hops): the
 * fewest-hops rule picks the direct link. */
static void test_equal_cost_prefers_fewest_hops(void **state) {
  (void)state;
  assert_route(A, D, 1, (int[]){8});
  assert_int_equal(prov_topology_route(&topo, A, D)->igp_cost, 2);
}

/* B->C: B-A-C and B-D-C both cost 2 in 2 hops; the next hop with the
 * lower PoP index wins: A (0) over D (3), so links 3 (B->A), 0 (A->C). */
static void test_equal_cost_equal_hops_prefers_lowest_next_hop(void **state) {
  (void)state;
  assert_route(B, C, 2, (int[]){3, 0});
}

/* A->F: the direct link costs 10, A-B-F costs 2 (F-B was added as
 * F->B = 12, B->F = 13). */
static void test_cheaper_multi_hop_path_beats_expensive_direct_link(void **s) {
  (void)s;
  assert_route(A, F, 2, (int[]){2, 13}); /* A->B, B->F */
  const struct prov_route *r = prov_topology_route(&topo, A, F);
  assert_int_equal(r->igp_cost, 2);
  /* delay 1.0 (A->B) + 0.5 (B->F) */
  assert_true(fabs(r->delay_ms - 1.5) < 1e-12);
}

/* C->D over two parallel equal links: the lower link index. */
static void test_parallel_links_use_lowest_link_index(void **state) {
  (void)state;
  assert_route(C, D, 1, (int[]){6});
  assert_route(D, C, 1, (int[]){7});
}

/* Routing is destination based: F->C continues as B->C does from B,
 * F-B-A-C (links 12, 3, 0), although F-B-D-C costs the same 3. */
static void test_routes_are_destination_based(void **state) {
  (void)state;
  assert_route(F, C, 3, (int[]){12, 3, 0});
}

static void test_isolated_pop_has_no_routes_but_reaches_itself(void **s) {
  (void)s;
  assert_null(prov_topology_route(&topo, A, E));
  assert_null(prov_topology_route(&topo, E, A));
  const struct prov_route *r = prov_topology_route(&topo, E, E);
  assert_non_null(r);
  assert_int_equal(r->nlinks, 0);
  assert_int_equal(prov_topology_link_on_route(&topo, 0, A, E), 0);
}

/* A->G costs 1 but G->A costs 5 over the direct link (the detour
 * G-A is the only way out of G). */
static void test_directed_links_are_asymmetric(void **state) {
  (void)state;
  assert_int_equal(prov_topology_route(&topo, A, G)->igp_cost, 1);
  assert_int_equal(prov_topology_route(&topo, G, A)->igp_cost, 5);
  /* G->D: G->A (5) then A->D (2) */
  assert_route(G, D, 2, (int[]){17, 8});
  assert_int_equal(prov_topology_route(&topo, G, D)->igp_cost, 7);
}

static void test_delay_derived_from_length_in_fibre(void **state) {
  (void)state;
  const struct prov_route *r = prov_topology_route(&topo, A, D);
  assert_true(fabs(r->delay_ms - 2.0) < 1e-12);
  assert_true(fabs(r->length_km - 400.0) < 1e-12);
}

static void test_link_on_route_indicator(void **state) {
  (void)state;
  /* B->C is 3 then 0 */
  assert_int_equal(prov_topology_link_on_route(&topo, 3, B, C), 1);
  assert_int_equal(prov_topology_link_on_route(&topo, 0, B, C), 1);
  assert_int_equal(prov_topology_link_on_route(&topo, 4, B, C), 0);
  assert_int_equal(prov_topology_link_on_route(&topo, 6, B, C), 0);
}

static void test_route_costs_matrix(void **state) {
  (void)state;
  double c[49];
  char   err[64];
  assert_int_equal(prov_topology_route_costs(&topo, NULL, c, err, sizeof err), 0);
  assert_true(c[A * 7 + F] == 2);
  assert_true(c[F * 7 + C] == 3);
  assert_true(c[A * 7 + A] == 0);
  assert_true(isinf(c[A * 7 + E]));
  /* per-link prices: cost 0.5 on link 3 (B->A) only; B->C uses it */
  double price[18] = {0};
  price[3]         = 0.5;
  assert_int_equal(prov_topology_route_costs(&topo, price, c, err, sizeof err), 0);
  assert_true(c[B * 7 + C] == 0.5);
  assert_true(c[C * 7 + B] == 0.0);
}

static void test_builder_rejects_bad_input(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[128] = "";
  prov_topology_init(&t);
  assert_int_equal(prov_topology_add_pop(&t, "X", 0, 0, 0, err, sizeof err), 0);
  assert_int_equal(prov_topology_add_pop(&t, "X", 0, 0, 0, err, sizeof err), -1);
  assert_true(strstr(err, "duplicate") != NULL);
  assert_int_equal(prov_topology_add_pop(&t, "Y", 1, 95, 0, err, sizeof err), -1);
  assert_int_equal(prov_topology_add_pop(&t, "Y", 1, 41.8, -87.6, err, sizeof err), 1);
  struct prov_link_spec s = {.capacity_kbps = 10, .igp_weight = 0};
  err[0]                  = 0;
  assert_int_equal(prov_topology_add_link(&t, 0, 1, &s, err, sizeof err), -1);
  assert_true(err[0] != 0);
  s.igp_weight = 1;
  assert_int_equal(prov_topology_add_link(&t, 0, 0, &s, err, sizeof err), -1);
  assert_int_equal(prov_topology_add_link(&t, 0, 2, &s, err, sizeof err), -1);
  s.capacity_kbps = -1;
  assert_int_equal(prov_topology_add_link(&t, 0, 1, &s, err, sizeof err), -1);
  s.capacity_kbps = 10;
  assert_int_equal(prov_topology_add_duplex(&t, 0, 1, &s, err, sizeof err), 0);
  assert_int_equal(t.nlinks, 2);
  assert_int_equal(prov_topology_find_pop(&t, "Y"), 1);
  assert_int_equal(prov_topology_find_pop(&t, "Z"), -1);
  assert_null(prov_topology_route(&t, 0, 1)); /* not finished yet */
  assert_int_equal(prov_topology_finish(&t, err, sizeof err), 0);
  assert_non_null(prov_topology_route(&t, 0, 1));
  assert_int_equal(prov_topology_add_pop(&t, "Z", 0, 0, 0, err, sizeof err), -1);
  assert_int_equal(prov_topology_finish(&t, err, sizeof err), -1);
  assert_int_equal(prov_topology_set_background(&t, 1, 5, err, sizeof err), 0);
  assert_true(t.links[1].background_kbps == 5);
  assert_int_equal(prov_topology_set_background(&t, 2, 5, err, sizeof err), -1);
  prov_topology_free(&t);
}

/* Every route is a shortest path: a route's IGP cost never exceeds the
 * cost of going one link and then following the neighbour's route
 * (Bellman's equation), and a route's links chain from i to j. */
static void test_routes_satisfy_bellman_equation(void **state) {
  (void)state;
  int n = topo.npops;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      const struct prov_route *r = prov_topology_route(&topo, i, j);
      if (!r)
        continue;
      const int *links = prov_route_links(&topo, r);
      int        v     = i;
      uint64_t   c     = 0;
      for (int h = 0; h < r->nlinks; h++) {
        assert_int_equal(topo.links[links[h]].from, v);
        c += topo.links[links[h]].igp_weight;
        v = topo.links[links[h]].to;
      }
      assert_int_equal(v, j);
      assert_int_equal(c, r->igp_cost);
      for (int e = 0; e < topo.nlinks; e++) {
        if (topo.links[e].from != i)
          continue;
        const struct prov_route *rn = prov_topology_route(&topo, topo.links[e].to, j);
        if (rn)
          assert_true(r->igp_cost <= topo.links[e].igp_weight + rn->igp_cost);
      }
    }
}

/* Abilene (11 PoPs, 14 links, the standard OSPF weights) transcribed
 * from the shared data; the expected paths are rows of its published
 * all-pairs OSPF path table (all 110 agree; these are the long ones). */
static void test_abilene_routes_match_published_ospf_paths(void **state) {
  (void)state;
  static const struct {
    const char *a, *b;
    uint32_t    w;
  } links[] = {
      {"ATLA", "HSTN", 1176}, {"ATLA", "IPLS", 587},  {"ATLA", "WASH", 846},  {"CHIN", "IPLS", 260}, {"CHIN", "NYCM", 700},
      {"DNVR", "KSCY", 639},  {"DNVR", "SNVA", 1295}, {"DNVR", "STTL", 2095}, {"HSTN", "KSCY", 902}, {"HSTN", "LOSA", 1893},
      {"IPLS", "KSCY", 548},  {"LOSA", "SNVA", 366},  {"NYCM", "WASH", 233},  {"SNVA", "STTL", 861},
  };
  static const struct {
    const char *path;
    uint64_t    cost;
  } want[] = {
      {"ATLA-IPLS-KSCY-DNVR", 1774},      {"CHIN-IPLS-KSCY-DNVR-SNVA", 2742},      {"DNVR-KSCY-IPLS-CHIN", 1447},
      {"HSTN-KSCY-IPLS-CHIN", 1710},      {"IPLS-KSCY-DNVR-SNVA-LOSA", 2848},      {"IPLS-CHIN-NYCM-WASH", 1193},
      {"KSCY-IPLS-CHIN-NYCM-WASH", 1741}, {"LOSA-SNVA-DNVR-KSCY", 2300},           {"NYCM-CHIN-IPLS-KSCY-DNVR-SNVA-LOSA", 3808},
      {"SNVA-DNVR-KSCY-IPLS-ATLA", 3069}, {"SNVA-DNVR-KSCY-IPLS-CHIN-NYCM", 3442}, {"STTL-DNVR-KSCY-IPLS-CHIN", 3542},
  };
  static const char   *pops[] = {"ATLA", "CHIN", "DNVR", "HSTN", "IPLS", "KSCY", "LOSA", "NYCM", "SNVA", "STTL", "WASH"};
  struct prov_topology t;
  char                 err[128];
  prov_topology_init(&t);
  for (int i = 0; i < 11; i++)
    assert_int_equal(prov_topology_add_pop(&t, pops[i], 0, 0, 0, err, sizeof err), i);
  for (size_t l = 0; l < sizeof links / sizeof *links; l++) {
    struct prov_link_spec s = {.capacity_kbps = 10e6, .igp_weight = links[l].w, .delay_ms = -1, .length_km = -1};
    assert_true(prov_topology_add_duplex(&t, prov_topology_find_pop(&t, links[l].a), prov_topology_find_pop(&t, links[l].b), &s, err, sizeof err) >= 0);
  }
  assert_int_equal(prov_topology_finish(&t, err, sizeof err), 0);
  for (size_t q = 0; q < sizeof want / sizeof *want; q++) {
    char buf[128];
    strcpy(buf, want[q].path);
    int src = prov_topology_find_pop(&t, strtok(buf, "-")), dst = src;
    for (char *tok; (tok = strtok(NULL, "-"));)
      dst = prov_topology_find_pop(&t, tok);
    const struct prov_route *r = prov_topology_route(&t, src, dst);
    assert_non_null(r);
    char got[128];
    strcpy(got, t.pops[src].name);
    const int *l = prov_route_links(&t, r);
    for (int h = 0; h < r->nlinks; h++) {
      strcat(got, "-");
      strcat(got, t.pops[t.links[l[h]].to].name);
    }
    assert_string_equal(got, want[q].path);
    assert_int_equal(r->igp_cost, want[q].cost);
  }
  prov_topology_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_equal_cost_prefers_fewest_hops),
      cmocka_unit_test(test_equal_cost_equal_hops_prefers_lowest_next_hop),
      cmocka_unit_test(test_cheaper_multi_hop_path_beats_expensive_direct_link),
      cmocka_unit_test(test_parallel_links_use_lowest_link_index),
      cmocka_unit_test(test_routes_are_destination_based),
      cmocka_unit_test(test_isolated_pop_has_no_routes_but_reaches_itself),
      cmocka_unit_test(test_directed_links_are_asymmetric),
      cmocka_unit_test(test_delay_derived_from_length_in_fibre),
      cmocka_unit_test(test_link_on_route_indicator),
      cmocka_unit_test(test_route_costs_matrix),
      cmocka_unit_test(test_routes_satisfy_bellman_equation),
      cmocka_unit_test(test_builder_rejects_bad_input),
      cmocka_unit_test(test_abilene_routes_match_published_ospf_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
