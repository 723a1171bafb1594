/* swarmstats: the heaviest swarms, counted per PID, one message per
 * provider naming only that provider's PIDs by its own names.
 *
 * Two providers: "a" with PIDs x = 10.1/16, y = 10.2/16, "b" with z =
 * 10.3/16; 11.x is in no PID.  Swarms (IPv4 list; the IPv6 lists are
 * empty):
 *   H1: x 2 leechers + 1 seeder, z 2 leechers        -> 5 peers
 *   H2: y 1 seeder + 1 leecher, 1 peer in no PID      -> 3 peers
 *   H3: x 1 leecher                                   -> 1 peer
 * top_k = 2 keeps H1 and H2, heaviest first.  So:
 *   a: H1 {x: 1 seeder, 2 leechers}, H2 {y: 1, 1}
 *   b: H1 {z: 0, 2}                  (H2 has no peer of b: left out) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/config.h"
#include "p4p/loader.h"
#include "p4p/state.h"
#include "p4p/swarmstats.h"
#include "peerlist.h"

#define NSWARMS 3

struct swarm {
  uint8_t           hash[P4P_HASH_SIZE];
  struct p4p_vector v4, v6;
  struct p4p_layout l4, l6;
  size_t            count, seeds;
};
static struct swarm g_swarms[NSWARMS];

static void walk(p4p_swarm_visitor visit, void *ctx) {
  for (size_t i = 0; i < NSWARMS; ++i) {
    struct swarm *w = &g_swarms[i];
    visit(ctx, w->hash, &w->v4, &w->l4, w->count, w->seeds, P4P_PEER_SIZE4);
    visit(ctx, w->hash, &w->v6, &w->l6, 0, 0, P4P_PEER_SIZE6);
  }
}

static void add(struct swarm *w, uint8_t net, uint8_t pid_byte, uint8_t host, int seeder) {
  uint8_t rec[P4P_PEER_SIZE4] = {net, pid_byte, 0, host, 0x1a, 0xe1, (uint8_t)(seeder ? P4P_PEER_FLAG_SEEDING : 0), 0};
  assert_true(p4p_peerlist_refresh(&w->v4, &w->l4, w->count, P4P_PEER_SIZE4, rec) >= 0);
  assert_int_equal(peerlist_put(&w->v4, &w->l4, rec, P4P_PEER_SIZE4), 1);
  w->count++;
  w->seeds += seeder != 0;
}

static void pid(struct p4p_pid_entry *e, struct p4p_prefix *pf, const char *name, uint8_t second) {
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  *pf          = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, second, 0, 0}, .bits = 96 + 16};
  e->nprefixes = 1;
  e->prefixes  = pf;
}

static const struct p4p_pid_stats *find(const struct p4p_swarm_stats *sw, const char *name) {
  for (size_t i = 0; i < sw->npids; ++i)
    if (!strcmp(sw->pids[i].pid, name))
      return &sw->pids[i];
  return NULL;
}

static void test_each_provider_gets_its_pids_of_the_heaviest_swarms(void **state) {
  (void)state;
  struct p4p_pid_entry  pa[2], pb[1];
  struct p4p_prefix     fa[2], fb[1];
  struct p4p_pidmap_msg ma = {.npids = 2, .pids = pa}, mb = {.npids = 1, .pids = pb};
  pid(&pa[0], &fa[0], "x", 1);
  pid(&pa[1], &fa[1], "y", 2);
  pid(&pb[0], &fb[0], "z", 3);
  struct loader_source src[2] = {{.ns = "a", .pidmap = &ma}, {.ns = "b", .pidmap = &mb}};
  struct p4p_config    cfg    = {.enable = 1, .random_fraction = 0.2, .intra_share = 0.9};
  char                 err[256];
  struct p4p_state    *s = p4p_loader_assemble(&cfg, src, 2, NULL, err, sizeof err);
  assert_non_null(s);
  p4p_state_publish(s);

  for (size_t i = 0; i < NSWARMS; ++i)
    memset(g_swarms[i].hash, 0x11 * (int)(i + 1), P4P_HASH_SIZE);
  add(&g_swarms[0], 10, 1, 1, 0), add(&g_swarms[0], 10, 1, 2, 0), add(&g_swarms[0], 10, 1, 3, 1);
  add(&g_swarms[0], 10, 3, 1, 0), add(&g_swarms[0], 10, 3, 2, 0);
  add(&g_swarms[1], 10, 2, 1, 1), add(&g_swarms[1], 10, 2, 2, 0), add(&g_swarms[1], 11, 0, 1, 0);
  add(&g_swarms[2], 10, 1, 9, 0);

  struct p4p_stats_msg out[2];
  assert_int_equal(p4p_swarmstats_collect(walk, s, 2, out), 0);

  assert_int_equal(out[0].nswarms, 2);
  assert_memory_equal(out[0].swarms[0].info_hash, g_swarms[0].hash, P4P_HASH_SIZE);
  assert_int_equal(out[0].swarms[0].npids, 1);
  const struct p4p_pid_stats *x = find(&out[0].swarms[0], "x");
  assert_non_null(x);
  assert_int_equal(x->seeders, 1);
  assert_int_equal(x->leechers, 2);
  assert_true(x->up_kbps < 0 && x->down_kbps < 0); /* the tracker does not know rates */
  assert_memory_equal(out[0].swarms[1].info_hash, g_swarms[1].hash, P4P_HASH_SIZE);
  const struct p4p_pid_stats *y = find(&out[0].swarms[1], "y");
  assert_non_null(y);
  assert_int_equal(y->seeders, 1);
  assert_int_equal(y->leechers, 1);
  assert_int_equal(out[0].swarms[1].npids, 1);

  assert_int_equal(out[1].nswarms, 1);
  assert_memory_equal(out[1].swarms[0].info_hash, g_swarms[0].hash, P4P_HASH_SIZE);
  const struct p4p_pid_stats *z = find(&out[1].swarms[0], "z");
  assert_non_null(z);
  assert_int_equal(z->seeders, 0);
  assert_int_equal(z->leechers, 2);
  assert_null(find(&out[1].swarms[0], "b/z")); /* its own names, not ours */

  for (size_t i = 0; i < 2; ++i)
    proto_stats_msg_free(&out[i]);

  /* a cap of 0 reports nothing (and does not walk) */
  assert_int_equal(p4p_swarmstats_collect(walk, s, 0, out), 0);
  assert_int_equal(out[0].nswarms + out[1].nswarms, 0);
  for (size_t i = 0; i < NSWARMS; ++i)
    peerlist_free(&g_swarms[i].v4, &g_swarms[i].l4);
  p4p_state_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_provider_gets_its_pids_of_the_heaviest_swarms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
