/* Simulator units: max-min rates on hand-worked networks, local rarest
 * first, the tit-for-tat unchoke choice, the gravity background, and whole
 * small runs (every leecher finishes, bytes add up, the same seed gives
 * the same numbers; the seed-found baseline, external peers, a stream, an
 * iTracker that goes down). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bt.h"
#include "maxmin.h"
#include "peerlist.h"
#include "provider/topology.h"
#include "sim.h"
#include "traffic.h"

#define EPS 1e-9

static void solve(size_t nres, const double *cap, size_t nflows, const uint32_t *off, const uint32_t *res, const double *fcap, double *rate) {
  struct maxmin_ws ws;
  char             err[128];
  maxmin_ws_init(&ws);
  assert_int_equal(maxmin_solve(&ws, nres, cap, nflows, off, res, fcap, rate, err, sizeof err), 0);
  maxmin_ws_free(&ws);
}

/*   f0 ── A(10) ── f1 ── B(6) ── f2
 * B's fair share 6/2 = 3 is below A's 10/2 = 5, so f1 = f2 = 3; A has
 * 10 - 3 = 7 left for f0 alone. */
static void test_maxmin_two_resources_bottleneck_first(void **state) {
  (void)state;
  double   cap[] = {10, 6}, rate[3];
  uint32_t off[] = {0, 1, 3, 4}, res[] = {0, 0, 1, 1};
  solve(2, cap, 3, off, res, NULL, rate);
  assert_float_equal(rate[0], 7, EPS);
  assert_float_equal(rate[1], 3, EPS);
  assert_float_equal(rate[2], 3, EPS);
}

/* Parking lot: three links of capacity 1 in a row, a long flow over all
 * three and one short flow per link: every link is shared by two flows,
 * so everybody gets 1/2 (not the long flow 1/4 as a per-hop split would). */
static void test_maxmin_parking_lot_is_fair(void **state) {
  (void)state;
  double   cap[] = {1, 1, 1}, rate[4];
  uint32_t off[] = {0, 3, 4, 5, 6}, res[] = {0, 1, 2, 0, 1, 2};
  solve(3, cap, 4, off, res, NULL, rate);
  for (int f = 0; f < 4; ++f)
    assert_float_equal(rate[f], 0.5, EPS);
}

/* One uplink of 10 shared by three connections, the first limited to 1
 * by its own TCP cap: the other two split the remaining 9. */
static void test_maxmin_flow_cap_frees_capacity(void **state) {
  (void)state;
  double   cap[] = {10}, fcap[] = {1, INFINITY, 20}, rate[3];
  uint32_t off[] = {0, 1, 2, 3}, res[] = {0, 0, 0};
  solve(1, cap, 3, off, res, fcap, rate);
  assert_float_equal(rate[0], 1, EPS);
  assert_float_equal(rate[1], 4.5, EPS);
  assert_float_equal(rate[2], 4.5, EPS);
}

/* A sender's uplink (128) and two receivers' downlinks (784 and 50):
 * the 50 downlink holds its flow to 50, the other gets 128 - 50 = 78. */
static void test_maxmin_access_links(void **state) {
  (void)state;
  double   cap[] = {128, 784, 50}, rate[2];
  uint32_t off[] = {0, 2, 4}, res[] = {0, 1, 0, 2};
  solve(3, cap, 2, off, res, NULL, rate);
  assert_float_equal(rate[0], 78, EPS);
  assert_float_equal(rate[1], 50, EPS);
}

static void test_maxmin_unconstrained_and_zero(void **state) {
  (void)state;
  double   cap[] = {0}, rate[2];
  uint32_t off[] = {0, 0, 1}, res[] = {0};
  solve(1, cap, 2, off, res, NULL, rate);
  assert_true(isinf(rate[0]));
  assert_float_equal(rate[1], 0, EPS);
}

/* Random networks (fixed seed): the answer is max-min fair iff it is
 * feasible and every flow has a bottleneck, a saturated resource on which
 * no flow gets more than it, or its own cap. */
static void test_maxmin_random_networks_have_bottlenecks(void **state) {
  (void)state;
  unsigned short rng[3] = {1, 2, 3};
  for (int trial = 0; trial < 200; ++trial) {
    size_t   nres = 1 + (size_t)nrand48(rng) % 8, nflows = 1 + (size_t)nrand48(rng) % 12;
    double   cap[8], fcap[12], rate[12], load[8] = {0};
    uint32_t off[13], res[12 * 8];
    off[0] = 0;
    for (size_t r = 0; r < nres; ++r)
      cap[r] = 1 + erand48(rng) * 99;
    for (size_t f = 0; f < nflows; ++f) {
      off[f + 1] = off[f];
      for (size_t r = 0; r < nres; ++r)
        if (nrand48(rng) % 3 == 0)
          res[off[f + 1]++] = (uint32_t)r;
      if (off[f + 1] == off[f])
        res[off[f + 1]++] = (uint32_t)(nrand48(rng) % nres);
      fcap[f] = nrand48(rng) % 4 == 0 ? 1 + erand48(rng) * 30 : INFINITY;
    }
    solve(nres, cap, nflows, off, res, fcap, rate);
    for (size_t f = 0; f < nflows; ++f)
      for (uint32_t k = off[f]; k < off[f + 1]; ++k)
        load[res[k]] += rate[f];
    for (size_t r = 0; r < nres; ++r)
      assert_true(load[r] <= cap[r] * (1 + 1e-9));
    for (size_t f = 0; f < nflows; ++f) {
      int bottleneck = rate[f] >= fcap[f] * (1 - 1e-9);
      for (uint32_t k = off[f]; k < off[f + 1] && !bottleneck; ++k) {
        size_t r = res[k];
        if (load[r] < cap[r] * (1 - 1e-9))
          continue;
        int biggest = 1;
        for (size_t g = 0; g < nflows; ++g)
          for (uint32_t j = off[g]; j < off[g + 1]; ++j)
            if (res[j] == r && rate[g] > rate[f] * (1 + 1e-9))
              biggest = 0;
        bottleneck = biggest;
      }
      assert_true(bottleneck);
    }
  }
}

/* sender has {1,2,3,5}, receiver has {1} and is fetching 3 elsewhere;
 * avail = 5 4 2 1 9 2: 3 is rarest but busy, so 2 and 5 (avail 2) tie.
 * Over 2000 picks each should come up ~1000 times: binomial sd =
 * sqrt(2000 / 4) = 22.4, the bound is 5 sd. */
static void test_rarest_first_skips_owned_and_busy_and_breaks_ties_evenly(void **state) {
  (void)state;
  uint64_t       sender = 0, recv = 0, busy = 0;
  uint16_t       avail[]  = {5, 4, 2, 1, 9, 2};
  unsigned short rng[3]   = {7, 7, 7};
  size_t         count[6] = {0};
  bt_set(&sender, 1), bt_set(&sender, 2), bt_set(&sender, 3), bt_set(&sender, 5);
  bt_set(&recv, 1);
  bt_set(&busy, 3);
  for (int i = 0; i < 2000; ++i) {
    long u = bt_pick_rarest(&sender, &recv, &busy, avail, 6, rng);
    assert_true(u >= 0 && u < 6);
    count[u]++;
  }
  assert_int_equal(count[1] + count[3] + count[0] + count[4], 0);
  assert_int_equal(count[2] + count[5], 2000);
  assert_true(count[2] > 1000 - 112 && count[2] < 1000 + 112);
  /* not busy any more: 3 (avail 1) is the unique rarest */
  assert_int_equal(bt_pick_rarest(&sender, &recv, NULL, avail, 6, rng), 3);
}

static void test_rarest_first_none_when_nothing_new(void **state) {
  (void)state;
  uint64_t       sender[2] = {0x5, 0x1}, recv[2] = {0x7, 0x1};
  uint16_t       avail[70] = {0};
  unsigned short rng[3]    = {1, 1, 1};
  assert_int_equal(bt_pick_rarest(sender, recv, NULL, avail, 70, rng), -1);
  assert_false(bt_interested(sender, recv, 70));
  /* unit 64 lives in the second word */
  recv[1] = 0;
  assert_true(bt_interested(sender, recv, 70));
  assert_int_equal(bt_pick_rarest(sender, recv, NULL, avail, 70, rng), 64);
}

/* scores 5 1 9 3 7, 3 slots: the three best senders are 2 (9), 4 (7), 0 (5). */
static void test_unchoke_picks_best_reciprocators(void **state) {
  (void)state;
  double         score[] = {5, 1, 9, 3, 7};
  size_t         out[5];
  unsigned short rng[3] = {3, 1, 4};
  assert_int_equal(bt_choose_unchokes(score, 5, 3, rng, out), 3);
  assert_int_equal(out[0], 2);
  assert_int_equal(out[1], 4);
  assert_int_equal(out[2], 0);
  /* more slots than candidates: everybody */
  assert_int_equal(bt_choose_unchokes(score, 2, 4, rng, out), 2);
}

/* Four equal scores and two slots: each candidate is unchoked with
 * probability 1/2; 4000 rounds, sd = sqrt(4000 / 4) = 31.6, bound 5 sd. */
static void test_unchoke_ties_are_uniform(void **state) {
  (void)state;
  double         score[] = {1, 1, 1, 1};
  size_t         out[4], count[4] = {0};
  unsigned short rng[3] = {9, 9, 9};
  for (int i = 0; i < 4000; ++i) {
    assert_int_equal(bt_choose_unchokes(score, 4, 2, rng, out), 2);
    assert_int_not_equal(out[0], out[1]);
    count[out[0]]++, count[out[1]]++;
  }
  for (int k = 0; k < 4; ++k)
    assert_true(count[k] > 2000 - 158 && count[k] < 2000 + 158);
}

/* A three-PoP line A - B - C, one PID per PoP. */
static const char line_provider[] = "provider line\nasid 64500\n"
                                    "pop A loc 40,-100\npop B loc 40,-90\npop C loc 40,-80\n"
                                    "link A B capacity 10000000 weight 10\nlink B C capacity 10000000 weight 10\n"
                                    "pid a pop A prefix 10.1.0.0/16\npid b pop B prefix 10.2.0.0/16\npid c pop C prefix 10.3.0.0/16\n";

static char *write_provider(char path[32]) {
  strcpy(path, "/tmp/test_sim_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, line_provider, sizeof line_provider - 1), (ssize_t)(sizeof line_provider - 1));
  close(fd);
  return path;
}

static void small_config(struct sim_config *c, const char *path, enum sim_mode mode) {
  sim_config_defaults(c);
  c->provider_path   = path;
  c->mode            = mode;
  c->peers_per_swarm = 30;
  c->file_mb         = 8;
  c->watch_link      = "A-B";
}

static void test_small_run_finishes_and_is_deterministic(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r1, r2;
  char              err[256];
  small_config(&c, path, SIM_P4P);
  assert_int_equal(sim_run(&c, &r1, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(sim_run(&c, &r2, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r1.ncompleted, 60);
  /* 60 leechers x 8 MiB must have crossed the access links at least once */
  assert_true(r1.bytes_total >= 60.0 * 8 * 1024 * 1024 * (1 - 1e-9));
  assert_true(r1.optimizer_solves >= 1);
  assert_int_equal(r1.events, r2.events);
  for (size_t k = 0; k < r1.nleechers; ++k)
    assert_true(r1.completion_s[k] == r2.completion_s[k]);
  assert_true(r1.bytes_backbone == r2.bytes_backbone);
  /* the watched link exists in both directions */
  assert_true(r1.watch_ab >= 0 && r1.watch_ba >= 0);
  sim_result_free(&r1);
  sim_result_free(&r2);
  c.seed = 2;
  assert_int_equal(sim_run(&c, &r2, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r2.ncompleted, 60);
  sim_result_free(&r2);
  unlink(path);
}

/* Who answers the announces.  Native: the tracker has no P4P data, every
 * answer is upstream's stock selection.  Localized with random fraction 0
 * and lists of 5 from 31-peer swarms over three PIDs: the P4P module
 * answers, and puts every pick in the requester's PID while that PID holds
 * 5 others (all but the first joiners and the last leavers), where stock
 * selection would put about a third.  numwant must be below the swarm
 * size, or upstream returns the whole swarm without asking the module. */
static void test_who_answers_announces(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r;
  char              err[256];
  small_config(&c, path, SIM_NATIVE);
  c.numwant = 5;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_true(r.select_random > 0);
  assert_int_equal(r.select_same_pid + r.select_other_pid + r.select_same_pop, 0);
  sim_result_free(&r);
  c.mode            = SIM_LOCALIZED;
  c.random_fraction = 0;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_true(r.select_same_pid > 0.8 * (double)(r.select_same_pid + r.select_other_pid));
  assert_true(r.select_same_pop >= r.select_same_pid);   /* one PID per PoP */
  assert_true(r.select_random < r.select_same_pid / 10); /* whole-swarm answers, while swarms are small */
  sim_result_free(&r);
  /* numwant above the swarm: upstream answers with every peer, always */
  c.numwant = 50;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r.select_same_pid + r.select_other_pid, 0);
  sim_result_free(&r);
  unlink(path);
}

/*
 * Gravity on the line A - B - C, masses (1, 2, 3), A - B 1000 and B - C
 * 2000 kbit/s each way.  Demand i -> j = m_i m_j: AB 2, AC 3, BC 6 and
 * the reverse.  A->B carries AB + AC = 5 (util 5/1000 = 0.005), B->C
 * carries AC + BC = 9 (9/2000 = 0.0045); C->B 9, B->A 5 likewise.  The
 * busiest link is A->B (and B->A), so with peak 0.5 the scale is
 * 0.5 / 0.005 = 100: A->B = B->A = 500, B->C = C->B = 900 (util 0.45).
 */
static void test_gravity_background_by_hand(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[128];
  prov_topology_init(&t);
  for (int i = 0; i < 3; ++i)
    assert_int_equal(prov_topology_add_pop(&t, i == 0 ? "A" : i == 1 ? "B" : "C", 0, 0, 0, err, sizeof err), i);
  struct prov_link_spec ab   = {.capacity_kbps = 1000, .igp_weight = 1, .length_km = -1};
  struct prov_link_spec bc   = {.capacity_kbps = 2000, .igp_weight = 1, .length_km = -1};
  int                   e_ab = prov_topology_add_duplex(&t, 0, 1, &ab, err, sizeof err);
  int                   e_bc = prov_topology_add_duplex(&t, 1, 2, &bc, err, sizeof err);
  assert_int_equal(prov_topology_finish(&t, err, sizeof err), 0);
  double mass[3] = {1, 2, 3}, bg[4];
  assert_int_equal(traffic_gravity(&t, mass, 0.5, bg, err, sizeof err), 0);
  assert_true(fabs(bg[e_ab] - 500) < 1e-9 && fabs(bg[e_ab + 1] - 500) < 1e-9);
  assert_true(fabs(bg[e_bc] - 900) < 1e-9 && fabs(bg[e_bc + 1] - 900) < 1e-9);
  assert_int_equal(traffic_gravity(&t, mass, 0, bg, err, sizeof err), -1);
  double none[3] = {1, 0, 0}; /* one PoP with mass: no traffic at all */
  assert_int_equal(traffic_gravity(&t, none, 0.5, bg, err, sizeof err), -1);

  /* the masses file: every PoP once, names checked, reasons with the line */
  char path[] = "/tmp/test_masses_XXXXXX";
  int  fd     = mkstemp(path);
  assert_true(fd >= 0);
  const char good[] = "# comment\nA 1\nB 2 # two\nC 3\n";
  assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
  close(fd);
  double m[3] = {0};
  assert_int_equal(traffic_read_masses(path, &t, m, err, sizeof err), 0);
  assert_true(m[0] == 1 && m[1] == 2 && m[2] == 3);
  const char *bad[]  = {"A 1\nB 2\n", "A 1\nB 2\nC 3\nA 4\n", "A 1\nB 2\nD 3\n", "A 1\nB -2\nC 3\n", "A 1 2\n"};
  const char *want[] = {"no mass for PoP C", ":4: PoP A given twice", ":3: unknown PoP D", ":2: mass must be", ":1: expected"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; ++k) {
    FILE *f = fopen(path, "w");
    fputs(bad[k], f);
    fclose(f);
    assert_int_equal(traffic_read_masses(path, &t, m, err, sizeof err), -1);
    if (!strstr(err, want[k]))
      fail_msg("%s: got '%s', want '%s'", bad[k], err, want[k]);
  }
  unlink(path);
  prov_topology_free(&t);
}

/* The seed-found baseline: with seeds that never announce and lists of 5,
 * a leecher reaches the seed only if the tracker happens to name it (about
 * 5 in 30 per announce); with seed_found every one of the 30 leechers of a
 * swarm connects to it (the seed takes up to 200). */
static void test_seed_found_reaches_every_announcer(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r;
  char              err[256];
  small_config(&c, path, SIM_NATIVE);
  c.numwant        = 5;
  c.seeds_announce = 0;
  c.join_window_s  = 0.5; /* everyone has joined before anyone can finish */
  c.nswarms        = 1;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  size_t without = r.seed_peak_conns;
  sim_result_free(&r);
  c.seed_found = 1;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r.seed_peak_conns, 30);
  assert_true(without < 20);
  assert_int_equal(r.ncompleted, 30);
  sim_result_free(&r);
  unlink(path);
}

/* Leechers outside the provider: in no PID, entering at the peering PoP;
 * every byte between them and the provider's peers is inter-domain, and
 * none is when every peer is inside. */
static void test_external_peers_make_inter_domain_traffic(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r;
  char              err[256];
  small_config(&c, path, SIM_P4P);
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_true(r.bytes_external == 0);
  sim_result_free(&r);
  c.external_frac = 0.5;
  c.peering_pop   = "C";
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r.ncompleted, 60);
  assert_true(r.bytes_external > 0 && r.bytes_external < r.bytes_total);
  sim_result_free(&r);
  c.peering_pop = "Z";
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "peering PoP Z"));
  unlink(path);
}

/* A live stream: units are born every unit_s at the source; viewers with
 * 5 Mb/s access links get a 500 kbit/s stream on time (the tally can never
 * exceed what was due) and receive about the stream rate. */
static void test_stream_is_delivered_on_time(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r;
  char              err[256];
  small_config(&c, path, SIM_LOCALIZED);
  c.nswarms          = 1;
  c.peers_per_swarm  = 10;
  c.stream_kbps      = 500;
  c.access_down_kbps = c.access_up_kbps = 5000;
  c.seed_up_kbps                        = 5000;
  c.block_kb                            = 64;
  c.blocks_per_unit                     = 1;
  c.max_time_s                          = 120;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_true(r.stream_units_due > 0);
  assert_true(r.stream_units_on_time <= r.stream_units_due);
  assert_true(r.stream_units_on_time >= 0.9 * r.stream_units_due);
  double kbps = r.stream_bytes * 8 / 1000 / r.end_time / 10;
  assert_true(kbps > 0.8 * 500 && kbps <= 500 * 1.01);
  sim_result_free(&r);
  unlink(path);
}

/* The iTracker goes down: no solve from then on; once the tracker drops
 * the provider's data (max staleness) every answer is stock selection.
 * Lists of 10 from 31-peer swarms, so the module is asked. */
static void test_itracker_down_falls_back_to_stock(void **state) {
  (void)state;
  char              buf[32], *path = write_provider(buf);
  struct sim_config c;
  struct sim_result r;
  char              err[256];
  small_config(&c, path, SIM_P4P);
  c.numwant         = 10;
  c.itracker_down_s = 45; /* solves at 0 and 30 only */
  c.max_staleness_s = 1e9;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r.optimizer_solves, 2);
  assert_true(r.select_same_pid + r.select_other_pid > 0);
  sim_result_free(&r);
  c.itracker_down_s = 0;
  c.max_staleness_s = 0;
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(r.optimizer_solves, 0);
  assert_int_equal(r.select_same_pid + r.select_other_pid, 0);
  assert_true(r.select_random > 0);
  assert_int_equal(r.ncompleted, 60);
  sim_result_free(&r);
  unlink(path);
}

/* --- peerlist: upstream's vectors and stock selection ------------------ */

static void peer_rec(uint8_t rec[P4P_PEER_SIZE4], unsigned i, int seeder) {
  const uint8_t r[P4P_PEER_SIZE4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i, 0x1a, 0xe1, (uint8_t)(seeder ? P4P_PEER_FLAG_SEEDING : 0), 0};
  memcpy(rec, r, sizeof r);
}

static void fill(struct p4p_vector *v, struct p4p_layout *l, unsigned n) {
  for (unsigned i = 1; i <= n; ++i) {
    uint8_t rec[P4P_PEER_SIZE4];
    peer_rec(rec, i, i % 7 == 0);
    assert_int_equal(peerlist_put(v, l, rec, P4P_PEER_SIZE4), 1);
  }
}

static const struct p4p_vector *bucket_list(const struct p4p_vector *v, size_t *n) {
  *n = v->size > v->space ? v->size : 1;
  return v->size > v->space ? v->data : v;
}

/* Upstream's clean re-buckets a list above 512 peers into 16 vectors by
 * djb2 of the compare bytes: 10.0.0.1:6881 hashes to 523412363, bucket
 * 11 (10.0.0.2 -> 12, 10.0.0.3 -> 13); each bucket stays sorted.  Below
 * 255 peers the list goes back to one vector; between, it keeps its form.
 * Without a P4P snapshot the module leaves the list alone. */
static void test_peerlist_buckets_as_upstream(void **state) {
  (void)state;
  struct p4p_vector v = {0};
  struct p4p_layout l = {0};
  uint8_t           rec[P4P_PEER_SIZE4];
  size_t            n;
  p4p_embed_reset();
  fill(&v, &l, 600);
  assert_int_equal(v.size, 600); /* one sorted vector until the clean */
  peerlist_clean(&v, &l, 600, P4P_PEER_SIZE4);
  const struct p4p_vector *b = bucket_list(&v, &n);
  assert_int_equal(n, 16);
  assert_int_equal(v.space, 0);
  size_t total = 0;
  for (size_t k = 0; k < n; ++k) {
    total += b[k].size;
    for (size_t j = 1; j < b[k].size; ++j)
      assert_true(memcmp((uint8_t *)b[k].data + (j - 1) * 8, (uint8_t *)b[k].data + j * 8, 6) < 0);
  }
  assert_int_equal(total, 600);
  for (unsigned i = 1; i <= 3; ++i) {
    peer_rec(rec, i, 0);
    const struct p4p_vector *home = &b[10 + i];
    int                      in   = 0;
    for (size_t j = 0; j < home->size; ++j)
      in |= !memcmp((uint8_t *)home->data + j * 8, rec, 6);
    assert_true(in);
  }
  /* updates and removals find peers in their buckets */
  peer_rec(rec, 42, 1);
  assert_int_equal(peerlist_put(&v, &l, rec, P4P_PEER_SIZE4), 0);
  for (unsigned i = 1; i <= 346; ++i) {
    peer_rec(rec, i, 0);
    assert_int_equal(peerlist_remove(&v, &l, rec, P4P_PEER_SIZE4), 1);
  }
  assert_int_equal(peerlist_remove(&v, &l, rec, P4P_PEER_SIZE4), 0);
  peerlist_clean(&v, &l, 254, P4P_PEER_SIZE4);
  assert_int_equal(v.size, 254);
  assert_true(v.space >= v.size);
  peer_rec(rec, 347, 0);
  assert_memory_equal(v.data, rec, 6); /* sorted: the lowest address first */
  peerlist_free(&v, &l);
}

/* Upstream's stride walk: a random start, then strides of 1 + rand %
 * (about N / amount) through the buckets in order.  Every peer is in an
 * answer with probability amount / N; no answer names a peer twice;
 * seeders come last.  T answers: each peer's count is binomial(T, p), 5 sd
 * bounds it.  Flat (N 100, amount 10) and in 16 buckets (N 600, amount 50).
 * Not a uniform sample: flat, 100 / 10 is exact, so each of the 9 strides
 * after the first pick is 1 + U, U uniform on 0..9, and an answer spans
 * 9 x 5.5 = 49.5 positions on average (sd sqrt(9 x 99 / 12) = 8.6, so
 * the mean of T = 20000 is within 5 x 0.061 of it), where 10 uniform
 * picks of 100 would span about 70. */
static void test_stock_selection_includes_every_peer_equally(void **state) {
  (void)state;
  const unsigned sizes[2] = {100, 600}, amounts[2] = {10, 50}, rounds[2] = {20000, 6000};
  unsigned short rng[3] = {7, 7, 7};
  p4p_embed_reset();
  for (int c = 0; c < 2; ++c) {
    struct p4p_vector v = {0};
    struct p4p_layout l = {0};
    unsigned          N = sizes[c], A = amounts[c], T = rounds[c];
    unsigned         *count = calloc(N + 1, sizeof *count);
    char              reply[50 * 6];
    fill(&v, &l, N);
    peerlist_clean(&v, &l, N, P4P_PEER_SIZE4);
    assert_true(c ? v.space == 0 : v.space >= v.size);
    double span_sum = 0;
    for (unsigned t = 0; t < T; ++t) {
      assert_int_equal(peerlist_select_stock(&v, N, P4P_PEER_SIZE4, A, rng, reply), A * 6);
      unsigned char seen[601] = {0};
      int           seeders   = 0;
      for (unsigned k = 0; k < A; ++k) {
        unsigned i = (unsigned)(uint8_t)reply[k * 6 + 2] << 8 | (uint8_t)reply[k * 6 + 3];
        assert_true(i >= 1 && i <= N && !seen[i]);
        seen[i] = 1;
        count[i]++;
        if (i % 7 == 0)
          seeders = 1;
        else
          assert_false(seeders); /* a leecher after a seeder */
      }
      /* flat: peer i sits at position i - 1; the span is N minus the
       * largest gap between picks around the circle */
      unsigned last = 0, first = 0, gap = 0;
      for (unsigned i = 1; c == 0 && i <= N; ++i)
        if (seen[i]) {
          if (last && i - last > gap)
            gap = i - last;
          if (!first)
            first = i;
          last = i;
        }
      if (c == 0) {
        if (first + N - last > gap)
          gap = first + N - last;
        span_sum += N - gap;
      }
    }
    if (c == 0 && fabs(span_sum / T - 49.5) > 5 * 0.061)
      fail_msg("mean span %.3f, want 49.5 +- 0.30", span_sum / T);
    double p = (double)A / N, mean = T * p, sd = sqrt(T * p * (1 - p));
    for (unsigned i = 1; i <= N; ++i)
      if (fabs(count[i] - mean) > 5 * sd)
        fail_msg("peer %u of %u: %u answers, want %.0f +- %.0f", i, N, count[i], mean, 5 * sd);
    /* the whole list, as upstream returns it when numwant covers it */
    char all[600 * 6];
    assert_int_equal(peerlist_all(&v, N, P4P_PEER_SIZE4, all), N * 6);
    free(count);
    peerlist_free(&v, &l);
  }
}

static void test_bad_provider_is_an_error(void **state) {
  (void)state;
  struct sim_config c;
  struct sim_result r;
  char              err[256] = "";
  small_config(&c, "/nonexistent/provider.conf", SIM_P4P);
  assert_int_equal(sim_run(&c, &r, NULL, NULL, err, sizeof err), -1);
  assert_true(strlen(err) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxmin_two_resources_bottleneck_first),
      cmocka_unit_test(test_maxmin_parking_lot_is_fair),
      cmocka_unit_test(test_maxmin_flow_cap_frees_capacity),
      cmocka_unit_test(test_maxmin_access_links),
      cmocka_unit_test(test_maxmin_unconstrained_and_zero),
      cmocka_unit_test(test_maxmin_random_networks_have_bottlenecks),
      cmocka_unit_test(test_rarest_first_skips_owned_and_busy_and_breaks_ties_evenly),
      cmocka_unit_test(test_rarest_first_none_when_nothing_new),
      cmocka_unit_test(test_unchoke_picks_best_reciprocators),
      cmocka_unit_test(test_unchoke_ties_are_uniform),
      cmocka_unit_test(test_small_run_finishes_and_is_deterministic),
      cmocka_unit_test(test_who_answers_announces),
      cmocka_unit_test(test_bad_provider_is_an_error),
      cmocka_unit_test(test_gravity_background_by_hand),
      cmocka_unit_test(test_seed_found_reaches_every_announcer),
      cmocka_unit_test(test_external_peers_make_inter_domain_traffic),
      cmocka_unit_test(test_stream_is_delivered_on_time),
      cmocka_unit_test(test_itracker_down_falls_back_to_stock),
      cmocka_unit_test(test_peerlist_buckets_as_upstream),
      cmocka_unit_test(test_stock_selection_includes_every_peer_equally),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
