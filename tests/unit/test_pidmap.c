/* pidmap: longest-prefix match over IPv4 and IPv6. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/pidmap.h"

/* Parses "a.b.c.d" or an IPv6 text into the 16-byte form (IPv4-mapped). */
static void addr16(const char *text, uint8_t out[16]) {
  memset(out, 0, 16);
  if (strchr(text, ':')) {
    assert_int_equal(inet_pton(AF_INET6, text, out), 1);
  } else {
    out[10] = out[11] = 0xff;
    assert_int_equal(inet_pton(AF_INET, text, out + 12), 1);
  }
}

static void add(struct pidmap *map, const char *text, unsigned bits, uint16_t slot) {
  uint8_t a[16];
  addr16(text, a);
  assert_int_equal(p4p_pidmap_add_prefix(map, a, strchr(text, ':') ? bits : 96 + bits, slot), 0);
}

static uint16_t lookup(const struct pidmap *map, const char *text) {
  uint8_t a[16];
  addr16(text, a);
  return p4p_pidmap_lookup(map, a);
}

static struct pidmap *finished(struct pidmap *map) {
  char err[256];
  assert_int_equal(p4p_pidmap_finish(map, err, sizeof err), 0);
  return map;
}

static void test_ipv4_prefixes_and_gaps(void **state) {
  (void)state;
  struct pidmap *map = p4p_pidmap_new(2);
  add(map, "10.1.0.0", 16, 1);
  add(map, "192.168.4.0", 22, 2);
  finished(map);
  assert_int_equal(lookup(map, "10.1.0.0"), 1);
  assert_int_equal(lookup(map, "10.1.255.255"), 1);
  assert_int_equal(lookup(map, "10.2.0.0"), 0);     /* just past the /16 */
  assert_int_equal(lookup(map, "10.0.255.255"), 0); /* just before */
  assert_int_equal(lookup(map, "192.168.7.255"), 2);
  assert_int_equal(lookup(map, "192.168.8.0"), 0);
  assert_int_equal(lookup(map, "::1"), 0);
  p4p_pidmap_unref(map);
}

/* 10/8 -> 1, 10.1/16 -> 2, 10.1.2/24 -> 3, 10.1.2.3/32 -> 1 (host route back
 * to the outer PID): each address takes the longest prefix containing it. */
static void test_nested_prefixes_longest_wins(void **state) {
  (void)state;
  struct pidmap *map = p4p_pidmap_new(3);
  add(map, "10.1.2.3", 32, 1); /* given first on purpose: order must not matter */
  add(map, "10.1.0.0", 16, 2);
  add(map, "10.0.0.0", 8, 1);
  add(map, "10.1.2.0", 24, 3);
  finished(map);
  assert_int_equal(lookup(map, "10.0.0.1"), 1);
  assert_int_equal(lookup(map, "10.1.0.1"), 2);
  assert_int_equal(lookup(map, "10.1.2.2"), 3);
  assert_int_equal(lookup(map, "10.1.2.3"), 1);
  assert_int_equal(lookup(map, "10.1.2.4"), 3);
  assert_int_equal(lookup(map, "10.1.3.0"), 2);
  assert_int_equal(lookup(map, "10.2.0.0"), 1);
  assert_int_equal(lookup(map, "11.0.0.0"), 0);
  p4p_pidmap_unref(map);
}

/* The Yale portal's map overlaps internal 172.16/12 with external 10/8-style
 * catch-alls; a /0 under everything catches the rest of the space. */
static void test_default_route_and_ipv6(void **state) {
  (void)state;
  struct pidmap *map = p4p_pidmap_new(4);
  add(map, "::", 0, 4);      /* everything, both families */
  add(map, "0.0.0.0", 0, 3); /* all of IPv4 (::ffff:0:0/96) */
  add(map, "2001:db8::", 32, 1);
  add(map, "2001:db8:1::", 48, 2);
  add(map, "2001:db8:1::1", 128, 1);
  finished(map);
  assert_int_equal(lookup(map, "8.8.8.8"), 3);
  assert_int_equal(lookup(map, "255.255.255.255"), 3);
  assert_int_equal(lookup(map, "2001:db8::5"), 1);
  assert_int_equal(lookup(map, "2001:db8:1::2"), 2);
  assert_int_equal(lookup(map, "2001:db8:1::1"), 1);
  assert_int_equal(lookup(map, "2001:db9::"), 4);
  assert_int_equal(lookup(map, "::"), 4);
  assert_int_equal(lookup(map, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 4);
  p4p_pidmap_unref(map);
}

static void test_host_bits_are_ignored_and_peer_lookup(void **state) {
  (void)state;
  struct pidmap *map = p4p_pidmap_new(1);
  add(map, "127.0.2.77", 24, 1); /* host bits set: treated as 127.0.2.0/24 */
  finished(map);
  uint8_t peer4[6] = {127, 0, 2, 200, 0x1a, 0xe1}; /* address, port */
  assert_int_equal(p4p_pidmap_lookup_peer(map, peer4, 6), 1);
  peer4[2] = 3;
  assert_int_equal(p4p_pidmap_lookup_peer(map, peer4, 6), 0);
  p4p_pidmap_unref(map);
}

static void test_same_prefix_twice_is_an_error(void **state) {
  (void)state;
  char           err[256];
  struct pidmap *map = p4p_pidmap_new(2);
  p4p_pidmap_set_pid(map, 1, "east", 1, "");
  p4p_pidmap_set_pid(map, 2, "west", 1, "");
  add(map, "10.0.0.0", 8, 1);
  add(map, "10.0.0.0", 8, 2);
  assert_int_equal(p4p_pidmap_finish(map, err, sizeof err), -1);
  assert_non_null(strstr(err, "east"));
  assert_non_null(strstr(err, "west"));
  p4p_pidmap_unref(map);
}

static void test_adjacent_ranges_of_one_pid_merge(void **state) {
  (void)state;
  struct pidmap *map = p4p_pidmap_new(1);
  add(map, "10.0.0.0", 24, 1);
  add(map, "10.0.1.0", 24, 1);
  finished(map);
  assert_int_equal(p4p_pidmap_nranges(map), 1);
  assert_int_equal(lookup(map, "10.0.1.255"), 1);
  p4p_pidmap_unref(map);
}

/* A reload that changes nothing must be recognised, or every peer list is
 * rebuilt for nothing; any change to a prefix or a name must not be. */
static void test_equal_maps_are_recognised(void **state) {
  (void)state;
  struct pidmap *m[4];
  for (int i = 0; i < 4; ++i) {
    m[i] = p4p_pidmap_new(2);
    p4p_pidmap_set_pid(m[i], 1, i == 3 ? "renamed" : "a", 1, "");
    p4p_pidmap_set_pid(m[i], 2, "b", 1, "");
    add(m[i], "10.0.0.0", 8, 1);
    add(m[i], i == 2 ? "10.2.0.0" : "10.1.0.0", 16, 2);
    finished(m[i]);
  }
  assert_true(p4p_pidmap_equal(m[0], m[1]));
  assert_false(p4p_pidmap_equal(m[0], m[2])); /* a prefix moved */
  assert_false(p4p_pidmap_equal(m[0], m[3])); /* a PID renamed */
  assert_false(p4p_pidmap_equal(m[0], NULL));
  for (int i = 0; i < 4; ++i)
    p4p_pidmap_unref(m[i]);
}

/* Lookups remember the last answer of the thread; alternating maps, and a
 * map built where a freed one lived, must still get their own answers. */
static void test_lookup_cache_never_mixes_maps(void **state) {
  (void)state;
  struct pidmap *a = p4p_pidmap_new(2), *b = p4p_pidmap_new(2);
  add(a, "10.0.0.0", 8, 1);
  add(b, "10.0.0.0", 8, 2);
  finished(a);
  finished(b);
  for (int i = 0; i < 3; ++i) {
    assert_int_equal(lookup(a, "10.1.2.3"), 1);
    assert_int_equal(lookup(b, "10.1.2.3"), 2);
  }
  assert_int_equal(lookup(a, "10.1.2.3"), 1);
  p4p_pidmap_unref(a); /* its memory may well hold the next map */
  struct pidmap *c = p4p_pidmap_new(2);
  add(c, "10.0.0.0", 8, 2);
  finished(c);
  assert_int_equal(lookup(c, "10.1.2.3"), 2);
  assert_int_equal(lookup(c, "11.1.2.3"), 0);
  p4p_pidmap_unref(b);
  p4p_pidmap_unref(c);
}

/* A brute-force check: random nested prefixes, every lookup compared with a
 * linear longest-prefix scan. */
static void test_matches_linear_scan_on_random_maps(void **state) {
  (void)state;
  unsigned short rs[3] = {1, 2, 3};
  for (int round = 0; round < 20; ++round) {
    struct pidmap *map = p4p_pidmap_new(8);
    uint8_t        pa[64][16];
    unsigned       pb[64];
    uint16_t       ps[64];
    int            n = 0;
    for (int i = 0; i < 64; ++i) {
      uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
      a[13]         = (uint8_t)(nrand48(rs) % 4);
      a[14]         = (uint8_t)(nrand48(rs) % 4);
      unsigned bits = 96 + 8 + (unsigned)(nrand48(rs) % 17); /* /8 .. /24 */
      int      dup  = 0;
      /* mask like the map does, and skip exact duplicates */
      for (unsigned b = bits; b < 128; ++b)
        a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
      for (int j = 0; j < n; ++j)
        dup |= pb[j] == bits && !memcmp(pa[j], a, 16);
      if (dup)
        continue;
      memcpy(pa[n], a, 16);
      pb[n] = bits;
      ps[n] = (uint16_t)(1 + nrand48(rs) % 8);
      assert_int_equal(p4p_pidmap_add_prefix(map, a, bits, ps[n]), 0);
      ++n;
    }
    finished(map);
    for (int probe = 0; probe < 2000; ++probe) {
      uint8_t q[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
      q[13]         = (uint8_t)(nrand48(rs) % 5);
      q[14]         = (uint8_t)(nrand48(rs) % 5);
      q[15]         = (uint8_t)nrand48(rs);
      unsigned best = 0;
      uint16_t want = 0;
      for (int j = 0; j < n; ++j) {
        int in = 1;
        for (unsigned b = 0; b < pb[j] && in; ++b)
          in = ((q[b / 8] ^ pa[j][b / 8]) & (0x80 >> (b % 8))) == 0;
        if (in && pb[j] >= best)
          best = pb[j], want = ps[j];
      }
      assert_int_equal(p4p_pidmap_lookup(map, q), want);
    }
    p4p_pidmap_unref(map);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv4_prefixes_and_gaps),
      cmocka_unit_test(test_nested_prefixes_longest_wins),
      cmocka_unit_test(test_default_route_and_ipv6),
      cmocka_unit_test(test_host_bits_are_ignored_and_peer_lookup),
      cmocka_unit_test(test_same_prefix_twice_is_an_error),
      cmocka_unit_test(test_adjacent_ranges_of_one_pid_merge),
      cmocka_unit_test(test_equal_maps_are_recognised),
      cmocka_unit_test(test_lookup_cache_never_mixes_maps),
      cmocka_unit_test(test_matches_linear_scan_on_random_maps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
