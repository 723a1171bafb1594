/* layout: peer lists arranged by PID, with groups only for the PIDs present.
 *
 * Maps here give PID j the addresses 10.0.0.0 + (j - 1) * 2^14 (/18), so a peer's
 * PID is known by construction; peers in no PID live in 11.x.  Memory is
 * checked as what the layout allocates (bucket vectors, groups), never as
 * a timing or an RSS figure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/layout.h"
#include "p4p/pidmap.h"
#include "p4p/state.h"
#include "peerlist.h"
#include "pid_list.h"

#define PEER_SIZE    P4P_PEER_SIZE4
#define COMPARE_SIZE P4P_PEER_COMPARE_SIZE4

/* PID j (1..npids, at most 1024) = 10.0.0.0 + (j - 1) << 14, /18. */
static struct pidmap *map_of(size_t npids) {
  char           err[128];
  struct pidmap *map = p4p_pidmap_new(npids);
  assert_non_null(map);
  for (uint32_t j = 1; j <= npids; ++j) {
    uint32_t a     = 10u << 24 | (j - 1) << 14;
    uint8_t  b[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), 0};
    assert_int_equal(p4p_pidmap_add_prefix(map, b, 96 + 18, (uint16_t)j), 0);
  }
  assert_int_equal(p4p_pidmap_finish(map, err, sizeof err), 0);
  return map;
}

/* Host i of PID j (j = 0: no PID). */
static void peer_of(uint8_t rec[PEER_SIZE], uint32_t j, uint32_t i) {
  uint32_t a = j ? (10u << 24 | (j - 1) << 14 | (i & 0x3fff)) : (11u << 24 | i);
  rec[0] = (uint8_t)(a >> 24), rec[1] = (uint8_t)(a >> 16), rec[2] = (uint8_t)(a >> 8), rec[3] = (uint8_t)a;
  rec[4] = 0x1a, rec[5] = 0xe1, rec[6] = 0, rec[7] = 0;
}

static size_t peers_in(const struct p4p_vector *peers) {
  size_t n = 0;
  for (size_t b = 0; b < peers->size; ++b)
    n += ((const struct p4p_vector *)peers->data)[b].size;
  return n;
}

/* A snapshot with this map, as the reload thread would publish it. */
static void publish(struct pidmap *map) {
  struct p4p_state *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->map = p4p_pidmap_ref(map);
  p4p_state_publish(s);
}

static void test_split_per_group_size(void **state) {
  (void)state;
  assert_int_equal(p4p_layout_per_group_for(0, 0), 1);
  assert_int_equal(p4p_layout_per_group_for(1023, 0), 1);
  assert_int_equal(p4p_layout_per_group_for(1024, 0), 4);
  assert_int_equal(p4p_layout_per_group_for(8191, 0), 4);
  assert_int_equal(p4p_layout_per_group_for(8192, 0), 16);
  /* hysteresis: a split stays until the groups hold half its threshold */
  assert_int_equal(p4p_layout_per_group_for(600, 4), 4);
  assert_int_equal(p4p_layout_per_group_for(511, 4), 1);
  assert_int_equal(p4p_layout_per_group_for(5000, 16), 16);
  assert_int_equal(p4p_layout_per_group_for(4095, 16), 4);
}

/* Groups appear for the PIDs of the peers put in, in slot order, whatever
 * the size of the map: 1024 PIDs, peers of PIDs 5, 700, 5, none, 3 give
 * the groups {0, 3, 5, 700}, one bucket each. */
static void test_groups_only_for_pids_present(void **state) {
  (void)state;
  struct pidmap    *map = map_of(1024);
  struct p4p_vector peers;
  struct p4p_layout layout;
  uint8_t           rec[PEER_SIZE];
  const uint32_t    pids[] = {5, 700, 5, 0, 3};

  assert_int_equal(pid_list_init(&peers, &layout, map, 1, PEER_SIZE), 0);
  assert_int_equal(layout.groups, 1); /* empty: one group, still a bucket array */
  assert_int_equal(peers.size, 1);
  for (size_t k = 0; k < 5; ++k) {
    peer_of(rec, pids[k], (uint32_t)k);
    assert_int_equal(pid_list_put(&peers, &layout, rec, PEER_SIZE), 1);
  }
  assert_int_equal(layout.groups, 4);
  assert_int_equal(peers.size, 4);
  const uint16_t *slots = p4p_layout_slots(&peers);
  assert_int_equal(slots[0], 0);
  assert_int_equal(slots[1], 3);
  assert_int_equal(slots[2], 5);
  assert_int_equal(slots[3], 700);
  assert_int_equal(((struct p4p_vector *)peers.data)[2].size, 2); /* both peers of PID 5 */
  assert_int_equal(p4p_layout_group_of(&peers, &layout, 700), 3);
  assert_int_equal(p4p_layout_group_of(&peers, &layout, 6), layout.groups); /* no group */

  /* The bucket of a peer of PID 700 is group 3's; a peer of a PID without
   * a group is looked for where it cannot be, and found nowhere. */
  peer_of(rec, 700, 1);
  assert_int_equal(p4p_peer_bucket(&peers, &layout, rec, COMPARE_SIZE), 3);
  peer_of(rec, 9, 1);
  assert_int_equal(peerlist_remove(&peers, &layout, rec, PEER_SIZE), 0);
  assert_int_equal(peers_in(&peers), 5);
  peerlist_free(&peers, &layout);
  p4p_pidmap_unref(map);
}

/* Issue 15.4: 20,000 swarms of one peer each, the peer of swarm t in PID
 * t mod 1024, laid out by the tracker's own hook.  Each list holds one
 * group of one bucket: 20,000 buckets in all, where one per PID and list
 * would be 20,000 x 1025 = 20,500,000 (24 bytes each: 492 MB). */
static void test_one_peer_swarms_cost_one_bucket_each(void **state) {
  (void)state;
  enum { SWARMS = 20000 };
  struct pidmap     *map     = map_of(1024);
  struct p4p_vector *peers   = calloc(SWARMS, sizeof *peers);
  struct p4p_layout *layout  = calloc(SWARMS, sizeof *layout);
  size_t             buckets = 0, groups = 0;
  uint8_t            rec[PEER_SIZE];

  publish(map);
  for (uint32_t t = 0; t < SWARMS; ++t) {
    peer_of(rec, t % 1024 + 1, t / 1024);
    assert_int_equal(p4p_peerlist_refresh(&peers[t], &layout[t], 0, PEER_SIZE, rec), 1);
    assert_int_equal(pid_list_put(&peers[t], &layout[t], rec, PEER_SIZE), 1);
  }
  for (uint32_t t = 0; t < SWARMS; ++t) {
    buckets += peers[t].size;
    groups += layout[t].groups;
    assert_int_equal(p4p_layout_slots(&peers[t])[0], t % 1024 + 1);
  }
  assert_int_equal(buckets, SWARMS);
  assert_int_equal(groups, SWARMS);
  for (uint32_t t = 0; t < SWARMS; ++t)
    peerlist_free(&peers[t], &layout[t]);
  free(peers);
  free(layout);
  p4p_state_shutdown();
  p4p_pidmap_unref(map);
}

/* A group is added only for a PID without one, and groups left empty go
 * then: peers of PIDs 1 and 2, PID 1's leaves, a peer of PID 3 arrives:
 * groups {2, 3}. */
static void test_empty_groups_go_when_a_group_is_added(void **state) {
  (void)state;
  struct pidmap    *map = map_of(8);
  struct p4p_vector peers;
  struct p4p_layout layout;
  uint8_t           a[PEER_SIZE], b[PEER_SIZE], c[PEER_SIZE];

  peer_of(a, 1, 1), peer_of(b, 2, 1), peer_of(c, 3, 1);
  assert_int_equal(pid_list_init(&peers, &layout, map, 1, PEER_SIZE), 0);
  assert_int_equal(pid_list_put(&peers, &layout, a, PEER_SIZE), 1);
  assert_int_equal(pid_list_put(&peers, &layout, b, PEER_SIZE), 1);
  assert_int_equal(layout.groups, 2); /* 1, 2: the empty start group went with the first */
  assert_int_equal(peerlist_remove(&peers, &layout, a, PEER_SIZE), 1);
  assert_int_equal(p4p_layout_prepare(&peers, &layout, b, PEER_SIZE), 0); /* has a group: nothing changes */
  assert_int_equal(layout.groups, 2);
  assert_int_equal(pid_list_put(&peers, &layout, c, PEER_SIZE), 1);
  assert_int_equal(layout.groups, 2);
  assert_int_equal(p4p_layout_slots(&peers)[0], 2);
  assert_int_equal(p4p_layout_slots(&peers)[1], 3);
  assert_int_equal(peers_in(&peers), 2);
  peerlist_free(&peers, &layout);
  p4p_pidmap_unref(map);
}

/* Departures leave groups behind until the list is touched: 10 peers in 10
 * PIDs, 9 leave; with 1 peer left, 10 groups > 2 * 1 + 4, so the next
 * refresh arranges the list anew with the one group it needs. */
static void test_refresh_compacts_a_list_that_emptied(void **state) {
  (void)state;
  struct pidmap    *map = map_of(16);
  struct p4p_vector peers;
  struct p4p_layout layout;
  uint8_t           rec[PEER_SIZE];

  publish(map);
  assert_int_equal(pid_list_init(&peers, &layout, map, 1, PEER_SIZE), 0);
  for (uint32_t j = 1; j <= 10; ++j) {
    peer_of(rec, j, 0);
    assert_int_equal(pid_list_put(&peers, &layout, rec, PEER_SIZE), 1);
  }
  assert_int_equal(layout.groups, 10);
  for (uint32_t j = 1; j <= 9; ++j) {
    peer_of(rec, j, 0);
    assert_int_equal(peerlist_remove(&peers, &layout, rec, PEER_SIZE), 1);
  }
  assert_int_equal(layout.groups, 10);
  assert_int_equal(p4p_peerlist_refresh(&peers, &layout, 1, PEER_SIZE, NULL), 1);
  assert_int_equal(layout.groups, 1);
  assert_int_equal(p4p_layout_slots(&peers)[0], 10);
  assert_int_equal(peers_in(&peers), 1);
  peerlist_free(&peers, &layout);
  p4p_state_shutdown();
  p4p_pidmap_unref(map);
}

/* Rebuilding a flat list of 5000 peers of one PID (plus 3 in none): two
 * groups; 4 buckets each, since 5003 / 2 peers per group is past the first
 * split; every peer in the bucket p4p_peer_bucket() names, each bucket
 * sorted for upstream's binary search.  Switching P4P off gives back one
 * flat sorted vector with all of them. */
static void test_rebuild_keeps_every_peer_where_lookups_find_it(void **state) {
  (void)state;
  struct pidmap    *map    = map_of(4);
  struct p4p_vector peers  = {0};
  struct p4p_layout layout = {0};
  uint8_t           rec[PEER_SIZE];

  peers.data  = malloc(5003 * PEER_SIZE);
  peers.space = 5003;
  for (uint32_t i = 0; i < 5003; ++i) { /* upstream's flat vector (order does not matter here) */
    peer_of(rec, i < 3 ? 0 : 2, i);
    memcpy((uint8_t *)peers.data + peers.size++ * PEER_SIZE, rec, PEER_SIZE);
  }
  assert_int_equal(p4p_layout_rebuild(&peers, &layout, map, 0, PEER_SIZE, NULL), 0);
  assert_int_equal(layout.groups, 2);
  assert_int_equal(layout.per_group, 4);
  assert_int_equal(peers.size, 8);
  assert_int_equal(peers.space, 0);
  assert_int_equal(peers_in(&peers), 5003);
  for (size_t b = 0; b < peers.size; ++b) {
    const struct p4p_vector *v = &((const struct p4p_vector *)peers.data)[b];
    for (size_t i = 0; i + 1 < v->size; ++i)
      assert_true(memcmp((const uint8_t *)v->data + i * PEER_SIZE, (const uint8_t *)v->data + (i + 1) * PEER_SIZE, COMPARE_SIZE) < 0);
    for (size_t i = 0; i < v->size; ++i)
      assert_int_equal(p4p_peer_bucket(&peers, &layout, (const uint8_t *)v->data + i * PEER_SIZE, COMPARE_SIZE), b);
  }
  assert_int_equal(p4p_layout_rebuild(&peers, &layout, NULL, 0, PEER_SIZE, NULL), 0);
  assert_null(layout.map);
  assert_true(peers.size <= peers.space); /* flat again */
  assert_int_equal(peers.size, 5003);
  for (size_t i = 0; i + 1 < peers.size; ++i)
    assert_true(memcmp((const uint8_t *)peers.data + i * PEER_SIZE, (const uint8_t *)peers.data + (i + 1) * PEER_SIZE, COMPARE_SIZE) < 0);
  free(peers.data);
  p4p_pidmap_unref(map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_per_group_size),
      cmocka_unit_test(test_groups_only_for_pids_present),
      cmocka_unit_test(test_one_peer_swarms_cost_one_bucket_each),
      cmocka_unit_test(test_empty_groups_go_when_a_group_is_added),
      cmocka_unit_test(test_refresh_compacts_a_list_that_emptied),
      cmocka_unit_test(test_rebuild_keeps_every_peer_where_lookups_find_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
