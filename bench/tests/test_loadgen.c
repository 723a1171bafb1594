/* Unit tests of the load generator's workload model and statistics: the
 * address plan the PID-map generator relies on, the popularity skew, and the
 * percentile arithmetic the report quotes. */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg_stats.h"
#include "lg_workload.h"

static struct lg_workload workload(int family, uint32_t swarms, uint32_t peers) {
  struct lg_workload w = {
      .family = family, .swarms = swarms, .peers_per_swarm = peers, .seeder_share = 0.25, .numwant = 50, .zipf_exponent = 1.0, .scrape_every = 100};
  char err[128];
  assert_int_equal(lg_workload_init(&w, err, sizeof err), 0);
  return w;
}

static const uint8_t *raw_addr(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr : ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Peer 37 is in region 37 % 16 = 5 and is the 37 / 16 = 2nd host of it, at
 * offset 2 + 256 = 258 = 0x102:  IPv4 127.(5 << 4).1.2 = 127.80.1.2 and
 * IPv6 fd00:1::5000:0:0:102. */
static void test_peer_address_follows_the_plan(void **state) {
  (void)state;
  struct lg_workload      w4 = workload(AF_INET, 10, 10), w6 = workload(AF_INET6, 10, 10);
  struct sockaddr_storage ss;
  char                    text[INET6_ADDRSTRLEN];
  lg_peer_addr(&w4, 37, &ss);
  inet_ntop(AF_INET, raw_addr(&ss), text, sizeof text);
  assert_string_equal(text, "127.80.1.2");
  lg_peer_addr(&w6, 37, &ss);
  inet_ntop(AF_INET6, raw_addr(&ss), text, sizeof text);
  assert_string_equal(text, "fd00:1::5000:0:0:102");
  lg_workload_free(&w4);
  lg_workload_free(&w6);
}

/* Every peer's address maps back to its own region (the PID the benchmark's
 * PID map gives it), no two peers share an address, and none is the
 * tracker's 127.0.0.1. */
static void test_every_peer_has_its_own_address_in_its_region(void **state) {
  (void)state;
  const uint64_t n = 300000;
  for (int f = 0; f < 2; f++) {
    struct lg_workload w    = workload(f ? AF_INET6 : AF_INET, 1000, 300);
    uint64_t          *keys = malloc(n * sizeof *keys);
    assert_non_null(keys);
    for (uint64_t p = 0; p < n; p++) {
      struct sockaddr_storage ss;
      lg_peer_addr(&w, p, &ss);
      const uint8_t *a = raw_addr(&ss);
      assert_int_equal(lg_raw_addr_region(a, f ? 16 : 4), (int)lg_peer_region(p));
      uint64_t key = 0;
      memcpy(&key, a + (f ? 8 : 0), f ? 8 : 4);
      keys[p] = key;
      if (!f)
        assert_false(a[0] == 127 && a[1] == 0 && a[2] == 0 && a[3] == 1);
    }
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (uint64_t p = 1; p < n; p++)
      assert_true(keys[p - 1] != keys[p]);
    free(keys);
    lg_workload_free(&w);
  }
}

static void test_foreign_addresses_have_no_region(void **state) {
  (void)state;
  uint8_t v4[4], v6[16];
  inet_pton(AF_INET, "10.0.0.1", v4);
  assert_int_equal(lg_raw_addr_region(v4, 4), -1);
  inet_pton(AF_INET6, "2001:db8::1", v6);
  assert_int_equal(lg_raw_addr_region(v6, 16), -1);
  inet_pton(AF_INET6, "fd00:2::1", v6); /* next /32 over: not ours */
  assert_int_equal(lg_raw_addr_region(v6, 16), -1);
}

/* Latencies 1..100 µs, one each: the q-quantile is the ceil(100 q)-th
 * smallest, so p50 = 50, p90 = 90, p99 = 99; the max is 100. */
static void test_percentiles_of_one_to_hundred(void **state) {
  (void)state;
  struct lg_stats s;
  assert_int_equal(lg_stats_init(&s), 0);
  for (uint64_t us = 100; us >= 1; us--)
    lg_stats_latency(&s, us * 1000 + 999); /* sub-µs parts are truncated */
  assert_int_equal(lg_stats_percentile(&s, 0.50), 50);
  assert_int_equal(lg_stats_percentile(&s, 0.90), 90);
  assert_int_equal(lg_stats_percentile(&s, 0.99), 99);
  assert_int_equal(lg_stats_percentile(&s, 1.0), 100);
  assert_int_equal(s.latency_max_us, 100);
  lg_stats_free(&s);
}

/* Zipf with s = 1 over 1000 swarms: P(rank k) = 1 / ((k+1) H), H = H_1000 =
 * 7.4855, so the head swarm gets 0.13359 of the requests and the second
 * 0.06680.  With n = 200000 draws the standard deviation of a share p is
 * sqrt(p (1-p) / n) <= 0.00077; allow 5 of them. */
static void test_popularity_has_a_zipf_head(void **state) {
  (void)state;
  struct lg_workload w   = workload(AF_INET, 1000, 300);
  struct lg_rng      rng = {42};
  const int          n   = 200000;
  int                c0 = 0, c1 = 0;
  double             H = 0;
  for (int k = 1; k <= 1000; k++)
    H += 1.0 / k;
  for (int i = 0; i < n; i++) {
    uint64_t peer  = lg_pick_peer(&w, &rng);
    uint32_t swarm = lg_peer_swarm(&w, peer);
    assert_true(swarm < 1000);
    c0 += swarm == 0;
    c1 += swarm == 1;
  }
  assert_true(fabs((double)c0 / n - 1.0 / H) < 5 * 0.00077);
  assert_true(fabs((double)c1 / n - 0.5 / H) < 5 * 0.00077);
  lg_workload_free(&w);
}

/* One swarm of 10 peers, 100000 picks: each peer expects 10000 with sd
 * sqrt(100000 * 0.1 * 0.9) = 95; allow 5 sd. */
static void test_peers_of_a_swarm_are_picked_uniformly(void **state) {
  (void)state;
  struct lg_workload w         = workload(AF_INET, 1, 10);
  struct lg_rng      rng       = {7};
  int                count[10] = {0};
  for (int i = 0; i < 100000; i++)
    count[lg_pick_peer(&w, &rng)]++;
  for (int p = 0; p < 10; p++)
    assert_true(abs(count[p] - 10000) < 5 * 95);
  lg_workload_free(&w);
}

/* Seeder share 0.25 over 100000 peers: sd sqrt(0.25 * 0.75 / 100000) =
 * 0.00137; allow 5 sd. */
static void test_seeder_share_is_kept(void **state) {
  (void)state;
  struct lg_workload w       = workload(AF_INET, 100, 1000);
  int                seeders = 0;
  for (uint64_t p = 0; p < 100000; p++)
    seeders += lg_peer_is_seeder(&w, p);
  assert_true(fabs(seeders / 100000.0 - 0.25) < 5 * 0.00137);
  lg_workload_free(&w);
}

/* A compact IPv4 list of three peers: 127.48.1.0 and 127.63.0.9 are in
 * region 3 (second octet 48..63), 10.1.2.3 is not ours at all. */
static void test_returned_peers_are_tallied_by_region(void **state) {
  (void)state;
  struct lg_stats s;
  uint8_t         list[18] = {127, 48, 1, 0, 0x1a, 0xe1, 127, 63, 0, 9, 0x1a, 0xe1, 10, 1, 2, 3, 0x1a, 0xe1};
  assert_int_equal(lg_stats_init(&s), 0);
  lg_stats_peers(&s, 3, list, sizeof list, 4);
  assert_int_equal(s.peers_returned, 3);
  assert_int_equal(s.peers_same_region, 2);
  assert_int_equal(s.peers_foreign, 1);
  lg_stats_free(&s);
}

static void test_swarm_hashes_are_distinct(void **state) {
  (void)state;
  uint8_t(*h)[20] = malloc(1000 * sizeof *h);
  assert_non_null(h);
  for (uint32_t s = 0; s < 1000; s++)
    lg_swarm_hash(s, h[s]);
  for (uint32_t a = 0; a < 1000; a++)
    for (uint32_t b = a + 1; b < 1000; b++)
      assert_memory_not_equal(h[a], h[b], 20);
  free(h);
}

static void test_workload_refuses_more_peers_than_addresses(void **state) {
  (void)state;
  struct lg_workload w = {.family = AF_INET, .swarms = 100000, .peers_per_swarm = 1000, .zipf_exponent = 1};
  char               err[128];
  assert_int_equal(lg_workload_init(&w, err, sizeof err), -1);
  assert_non_null(strstr(err, "addresses"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_peer_address_follows_the_plan),
      cmocka_unit_test(test_every_peer_has_its_own_address_in_its_region),
      cmocka_unit_test(test_foreign_addresses_have_no_region),
      cmocka_unit_test(test_percentiles_of_one_to_hundred),
      cmocka_unit_test(test_popularity_has_a_zipf_head),
      cmocka_unit_test(test_peers_of_a_swarm_are_picked_uniformly),
      cmocka_unit_test(test_seeder_share_is_kept),
      cmocka_unit_test(test_returned_peers_are_tallied_by_region),
      cmocka_unit_test(test_swarm_hashes_are_distinct),
      cmocka_unit_test(test_workload_refuses_more_peers_than_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
