/* The P4P optimizer: T_opt, the MLU optimum, weight rows, degenerate
 * swarms; the fast solver against the exact GLPK LP.  Capacities and
 * rates are kbit/s; every hand-worked optimum is derived in the comment
 * above its test and checked on both solvers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/optimize.h"
#include "provider/topology.h"
#include "provider/transport.h"
#include "tests/oracle/lp_exact.h"

#define TOL 1e-6

static void add_pops(struct prov_topology *t, int n) {
  char err[128], name[16];
  prov_topology_init(t);
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "P%d", i);
    assert_int_equal(prov_topology_add_pop(t, name, 0, 0, 0, err, sizeof err), i);
  }
}

/* a -> b then b -> a; returns the index of a -> b */
static int duplex(struct prov_topology *t, int a, int b, double cap) {
  char                  err[128];
  struct prov_link_spec s = {.capacity_kbps = cap, .igp_weight = 1, .delay_ms = 1, .length_km = -1};
  int                   e = prov_topology_add_duplex(t, a, b, &s, err, sizeof err);
  assert_true(e >= 0);
  return e;
}

static void finish(struct prov_topology *t) {
  char err[128];
  assert_int_equal(prov_topology_finish(t, err, sizeof err), 0);
}

/* Every plan must: be >= 0 with zero diagonal; use only routed pairs;
 * meet the supply and demand bounds; move exactly T_opt (1e-9 relative);
 * and every weight row must be a probability row. */
static void assert_valid(const struct prov_topology *t, const struct prov_swarm_input *sw, int nswarms, const struct prov_opt_result *r) {
  int n = t->npops;
  assert_int_equal(r->nswarms, nswarms);
  for (int k = 0; k < nswarms; k++) {
    const double *tij = r->swarms[k].t, *w = r->swarms[k].w;
    double        total = 0, scale = 0;
    for (int i = 0; i < n; i++)
      scale += sw[k].up_kbps[i] + sw[k].down_kbps[i];
    for (int i = 0; i < n; i++) {
      double out = 0, in = 0, wsum = 0;
      for (int j = 0; j < n; j++) {
        double x = tij[i * n + j];
        assert_true(x >= 0);
        if (i == j || !prov_topology_route(t, i, j))
          assert_true(x == 0);
        out += x;
        in += tij[j * n + i];
        assert_true(w[i * n + j] >= 0);
        wsum += w[i * n + j];
      }
      double u = fmax(sw[k].up_kbps[i] - sw[k].down_kbps[i], 0);
      double d = fmax(sw[k].down_kbps[i] - sw[k].up_kbps[i], 0);
      assert_true(out <= u + 1e-9 * scale);
      assert_true(in <= d + 1e-9 * scale);
      assert_true(fabs(wsum - 1) < 1e-12);
      total += out;
    }
    assert_true(fabs(total - r->swarms[k].t_opt) <= 1e-9 * fmax(r->swarms[k].t_opt, 1e-300));
  }
  assert_true(r->lower_bound <= r->objective * (1 + 1e-9) + 1e-15);
}

/* Solves with both solvers (fast to a 1e-9 gap, so it must reach the
 * hand-worked optimum), checks validity, and returns both results. */
static void solve_both(const struct prov_topology *t, const struct prov_swarm_input *sw, int nswarms, const double *mult, struct prov_opt_result *fast,
                       struct prov_opt_result *exact) {
  char                   err[256] = "";
  struct prov_opt_params prm      = {.link_mult = mult, .rel_gap = 1e-9};
  struct prov_optimizer *o        = prov_optimizer_new();
  assert_non_null(o);
  int rc = prov_optimizer_solve(o, t, sw, nswarms, &prm, fast, err, sizeof err);
  if (rc)
    fail_msg("fast: %s", err);
  prov_optimizer_free(o);
  rc = lp_exact_optimize(t, sw, nswarms, &prm, exact, err, sizeof err);
  if (rc)
    fail_msg("exact: %s", err);
  assert_valid(t, sw, nswarms, fast);
  assert_valid(t, sw, nswarms, exact);
}

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) <= TOL * fmax(1, fabs((double)(b))))

/*
 * Line of three PoPs, every link 1000 each way:
 *
 *     A (u=600) --- B (d=300) --- C (d=400)
 *
 * T_opt = min(600, 700) = 600.  Everything A sends leaves over A->B, so
 * A->B carries 600 (util 0.6) whatever the split; B->C carries
 * t_AC = 600 - t_AB >= 300 (util <= 0.4).  MLU = 0.6.
 */
static void test_line_of_three(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  int ab = duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {600, 0, 0}, down[3] = {0, 300, 400};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int s = 0; s < 2; s++) {
    struct prov_opt_result *r = rs[s];
    NEAR(r->swarms[0].t_opt, 600);
    NEAR(r->mlu, 0.6);
    NEAR(r->link_load_kbps[ab], 600);
    NEAR(r->swarms[0].t[0 * 3 + 1] + r->swarms[0].t[0 * 3 + 2], 600);
    assert_true(r->swarms[0].t[0 * 3 + 2] >= 300 - TOL);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * The throughput level binds: the same line, but B->C has capacity 500
 * and 300 of background.  ũ = (600, 100, 0), d̃ = (0, 400, 400), so
 * u_A = 600, d_B = 300, d_C = 400 and T_opt = 600.
 *   t_AB <= d_B = 300  =>  t_AC >= 300  =>  B->C util >= (300+300)/500 = 1.2
 * and t_AB = t_AC = 300 reaches it (A->B at 0.6).  Without the level-2
 * constraint sending nothing to C would give 0.6: T_opt forces the
 * congested link.  MLU = 1.2 and the plan is unique.
 *
 * Weights (one peer per PoP, peers NULL): w_ij ∝ t_ji/ũ_j + t_ij/d̃_j,
 * w_ii ∝ L_i/ũ_i + L_i/d̃_i with L_i = min(ũ_i, d̃_i).
 *   row A: (0, t_AB/d̃_B, t_AC/d̃_C) = (0, .75, .75) -> (0, .5, .5)
 *   row B: (t_AB/ũ_A, 100/100 + 100/400, 0) = (.5, 1.25, 0) -> (2/7, 5/7, 0)
 *   row C: (t_AC/ũ_A, 0, 0) -> (1, 0, 0)   (C has no upload: L_C = 0)
 * B and C supply nothing, so the paper's row t_Bj / sum_j t_Bj is empty.
 */
static void test_max_throughput_level_binds(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[64];
  add_pops(&t, 3);
  duplex(&t, 0, 1, 1000);
  struct prov_link_spec s  = {.capacity_kbps = 500, .igp_weight = 1, .background_kbps = 300, .length_km = -1};
  int                   bc = prov_topology_add_link(&t, 1, 2, &s, err, sizeof err);
  s.background_kbps        = 0;
  prov_topology_add_link(&t, 2, 1, &s, err, sizeof err);
  finish(&t);
  double                  up[3] = {600, 100, 0}, down[3] = {0, 400, 400};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    struct prov_opt_result *r   = rs[k];
    const double           *tij = r->swarms[0].t, *w = r->swarms[0].w;
    NEAR(r->swarms[0].t_opt, 600);
    NEAR(r->mlu, 1.2);
    NEAR(r->link_load_kbps[bc], 600);
    NEAR(tij[0 * 3 + 1], 300);
    NEAR(tij[0 * 3 + 2], 300);
    /* the literal paper row of B is empty */
    assert_true(tij[1 * 3 + 0] + tij[1 * 3 + 2] == 0);
    NEAR(w[0], 0);
    NEAR(w[1], 0.5);
    NEAR(w[2], 0.5);
    NEAR(w[3], 2.0 / 7);
    NEAR(w[4], 5.0 / 7);
    NEAR(w[5], 0);
    NEAR(w[6], 1);
    NEAR(w[7], 0);
    NEAR(w[8], 0);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * A triangle with one tight link:
 *
 *            A (u=400)
 *     100  /   \  1000
 *         B --- C        B, C demand 400 each; B-C 1000
 *
 * T_opt = 400, split t_AB + t_AC = 400 over the direct links A->B (100)
 * and A->C (1000).  The max of t_AB/100 and (400 - t_AB)/1000 is least
 * where they meet: 10 t_AB = 400 - t_AB, t_AB = 400/11, t_AC = 4000/11,
 * MLU = 4/11 = 0.3636...  Most traffic goes to the PoP whose route
 * avoids the tight link.
 */
static void test_triangle_optimum_avoids_tight_link(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 100);
  duplex(&t, 0, 2, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {400, 0, 0}, down[3] = {0, 400, 400};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->mlu, 4.0 / 11);
    NEAR(rs[k]->swarms[0].t[1], 400.0 / 11);
    NEAR(rs[k]->swarms[0].t[2], 4000.0 / 11);
    /* the tight link's capacity row is the binding one: positive price */
    assert_true(rs[k]->link_price[0] > 0);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * Swarms are coupled through the links.  Triangle, all links 1000.
 * Swarm 1: A (u=400) -> B only (d_B = 400): forced, A->B carries 400.
 * Swarm 2: A (u=400) -> B or C (400 each).  A->B = 400 + x, A->C = 400 - x
 * with x = swarm 2's t_AB: the max is least at x = 0, MLU = 0.4.
 * (Optimizing swarm 2 alone would split 200/200 and give 0.6.)
 */
static void test_swarms_share_links(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 0, 2, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up1[3] = {400, 0, 0}, down1[3] = {0, 400, 0};
  double                  up2[3] = {400, 0, 0}, down2[3] = {0, 400, 400};
  struct prov_swarm_input sw[2] = {{up1, down1, NULL}, {up2, down2, NULL}};
  struct prov_opt_result  f, x;
  solve_both(&t, sw, 2, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->mlu, 0.4);
    NEAR(rs[k]->swarms[1].t[1], 0);
    NEAR(rs[k]->swarms[1].t[2], 400);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * Link multipliers (time-of-day avoidance).  Triangle, all 1000; A
 * supplies 400, B and C demand 400.  Plain: split 200/200, MLU 0.2.
 * With m = 3 on A->B the objective is max(3 t_AB, t_AC) / 1000:
 * 3 t_AB = 400 - t_AB gives t_AB = 100, t_AC = 300, objective 0.3, and
 * the true MLU is 0.3 too (A->C).
 */
static void test_link_multiplier_moves_traffic_off_a_link(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  int ab = duplex(&t, 0, 1, 1000);
  duplex(&t, 0, 2, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {400, 0, 0}, down[3] = {0, 400, 400};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  NEAR(f.mlu, 0.2);
  NEAR(x.mlu, 0.2);
  NEAR(f.swarms[0].t[1], 200);
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  double mult[6] = {1, 1, 1, 1, 1, 1};
  mult[ab]       = 3;
  solve_both(&t, &sw, 1, mult, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->objective, 0.3);
    NEAR(rs[k]->mlu, 0.3);
    NEAR(rs[k]->swarms[0].t[1], 100);
    NEAR(rs[k]->swarms[0].t[2], 300);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * Every multiplier 0: no link is in the objective (objective 0), nothing
 * couples the swarms, and the fast solver returns the maximum plan of
 * least total utilization: on the triangle with A->B at 100 and A->C at
 * 1000, A's 400 all go to C.  The true MLU is still reported: 0.4.
 */
static void test_all_links_free_takes_least_utilization_plan(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 100);
  duplex(&t, 0, 2, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {400, 0, 0}, down[3] = {0, 400, 400};
  struct prov_swarm_input sw      = {up, down, NULL};
  double                  mult[6] = {0};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, mult, &f, &x);
  assert_true(f.objective == 0);
  assert_true(x.objective == 0);
  NEAR(f.swarms[0].t[2], 400);
  NEAR(f.mlu, 0.4);
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * No demand: ũ = (500, 500, 0), d̃ = 0 on the line, 100 of background
 * on A->B (capacity 1000).  T_opt = 0, no traffic, MLU = 100/1000 = 0.1.
 * Every row is traffic-free and falls back to uniform over the PoPs
 * with peers (A and B), which all PoPs reach: (.5, .5, 0).
 */
static void test_no_demand(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[64];
  add_pops(&t, 3);
  int ab = duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  assert_int_equal(prov_topology_set_background(&t, ab, 100, err, sizeof err), 0);
  double                  up[3] = {500, 500, 0}, down[3] = {0, 0, 0};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    assert_true(rs[k]->swarms[0].t_opt == 0);
    NEAR(rs[k]->mlu, 0.1);
    for (int i = 0; i < 3; i++) {
      NEAR(rs[k]->swarms[0].w[i * 3 + 0], 0.5);
      NEAR(rs[k]->swarms[0].w[i * 3 + 1], 0.5);
      NEAR(rs[k]->swarms[0].w[i * 3 + 2], 0);
    }
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * No supply: ũ = 0, d̃ = (100, 0, 200).  T_opt = 0, MLU = 0; rows fall
 * back to uniform over A and C: (.5, 0, .5).
 */
static void test_no_supply(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {0, 0, 0}, down[3] = {100, 0, 200};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    assert_true(rs[k]->swarms[0].t_opt == 0);
    assert_true(rs[k]->mlu == 0);
    for (int i = 0; i < 3; i++) {
      NEAR(rs[k]->swarms[0].w[i * 3 + 0], 0.5);
      NEAR(rs[k]->swarms[0].w[i * 3 + 2], 0.5);
    }
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * A disconnected PoP: A - B - C and an isolated D.  A supplies 500, B
 * demands 200, D demands 600.  min(sum u, sum d) = 500 is unreachable:
 * D can receive nothing, so T_opt is the max flow over routed pairs,
 * 200 = t_AB.  D's row has no traffic and D reaches only itself:
 * w_DD = 1.
 */
static void test_disconnected_pop(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[64];
  add_pops(&t, 4);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[4] = {500, 0, 0, 0}, down[4] = {0, 200, 0, 600};
  struct prov_swarm_input sw = {up, down, NULL};
  NEAR(prov_swarm_t_opt(&t, &sw, err, sizeof err), 200);
  struct prov_opt_result f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->swarms[0].t_opt, 200);
    NEAR(rs[k]->swarms[0].t[0 * 4 + 1], 200);
    assert_true(rs[k]->swarms[0].t[0 * 4 + 3] == 0);
    NEAR(rs[k]->mlu, 0.2);
    NEAR(rs[k]->swarms[0].w[3 * 4 + 3], 1);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * A zero-capacity link carries nothing: on the line with B->C at 0,
 * A (u=500) can reach B (d=100) but not C (d=400): T_opt = 100, and the
 * zero-capacity link is left out of the MLU (0.1 on A->B).
 */
static void test_zero_capacity_link_carries_no_swarm_traffic(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[64];
  add_pops(&t, 3);
  duplex(&t, 0, 1, 1000);
  struct prov_link_spec s = {.capacity_kbps = 0, .igp_weight = 1, .background_kbps = 50, .length_km = -1};
  prov_topology_add_link(&t, 1, 2, &s, err, sizeof err);
  s.capacity_kbps   = 1000;
  s.background_kbps = 0;
  prov_topology_add_link(&t, 2, 1, &s, err, sizeof err);
  finish(&t);
  double                  up[3] = {500, 0, 0}, down[3] = {0, 100, 400};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  f, x;
  solve_both(&t, &sw, 1, NULL, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->swarms[0].t_opt, 100);
    assert_true(rs[k]->swarms[0].t[2] == 0);
    NEAR(rs[k]->mlu, 0.1);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/* ---- random instances (fixed seed) ---- */

static uint64_t rng_state;

static double unit(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static int below(int n) { return (int)(unit() * n); }

/* n PoPs on a ring plus random chords, random capacities, weights and
 * background; with isolate set, PoP n-1 gets no links. */
static void random_topology(struct prov_topology *t, int n, int isolate) {
  char err[128];
  add_pops(t, n);
  int m = isolate ? n - 1 : n;
  for (int i = 0; i < m; i++) {
    int j = (i + 1) % m;
    if (m == 2 && i == 1)
      break;
    for (int dir = 0; dir < 2; dir++) {
      double                cap = 200 + 1800 * unit();
      struct prov_link_spec s   = {.capacity_kbps = cap, .igp_weight = 1 + (uint32_t)below(5), .background_kbps = 0.5 * cap * unit(), .length_km = -1};
      assert_true(prov_topology_add_link(t, dir ? j : i, dir ? i : j, &s, err, sizeof err) >= 0);
    }
  }
  int chords = below(n);
  for (int c = 0; c < chords; c++) {
    int a = below(m), b = below(m);
    if (a == b)
      continue;
    double                cap = 200 + 1800 * unit();
    struct prov_link_spec s   = {.capacity_kbps = cap, .igp_weight = 1 + (uint32_t)below(5), .background_kbps = 0.5 * cap * unit(), .length_km = -1};
    assert_true(prov_topology_add_duplex(t, a, b, &s, err, sizeof err) >= 0);
  }
  finish(t);
}

static void random_swarm(int n, double *up, double *down) {
  for (int i = 0; i < n; i++) {
    double x = unit();
    up[i]    = x < 0.2 ? 0 : 500 * unit();
    down[i]  = x > 0.8 ? 0 : 500 * unit();
  }
}

/* On a connected topology every supply-demand pair is usable, so level 2
 * is min(sum u, sum d) (proof at prov_opt_prepare, which uses the formula
 * then).  Checked against an independent maximum flow: the transportation
 * solver over the complete supply x demand table. */
static void test_t_opt_is_min_of_supply_and_demand_when_connected(void **s) {
  (void)s;
  rng_state = 12345;
  for (int rep = 0; rep < 50; rep++) {
    struct prov_topology t;
    int                  n = 2 + below(8);
    random_topology(&t, n, 0);
    double up[10], down[10], su = 0, sd = 0;
    double sup[10], dem[10], cost[100], flow[100];
    int    ns = 0, nd = 0;
    random_swarm(n, up, down);
    for (int i = 0; i < n; i++) {
      su += fmax(up[i] - down[i], 0);
      sd += fmax(down[i] - up[i], 0);
      if (up[i] > down[i])
        sup[ns++] = up[i] - down[i];
      else if (down[i] > up[i])
        dem[nd++] = down[i] - up[i];
    }
    for (int q = 0; q < ns * nd; q++)
      cost[q] = unit(); /* any costs: the flow value is the maximum */
    struct prov_transport_ws ws;
    prov_transport_ws_init(&ws);
    double mf = prov_transport_solve(&ws, ns, nd, sup, dem, cost, flow);
    prov_transport_ws_free(&ws);
    assert_true(fabs(mf - fmin(su, sd)) <= 1e-12 * fmax(su, 1));
    struct prov_swarm_input sw = {up, down, NULL};
    char                    err[64];
    double                  v = prov_swarm_t_opt(&t, &sw, err, sizeof err);
    assert_true(fabs(v - fmin(su, sd)) <= 1e-12 * fmax(su, 1));
    prov_topology_free(&t);
  }
}

/*
 * The fast solver against the exact LP on 60 random instances (3-9 PoPs,
 * 1-8 swarms, some with an isolated PoP, some with random link
 * multipliers).  With the default stopping gap g = 1e-3 the fast
 * objective F and the exact optimum X must satisfy
 *   X (1 - 1e-7) <= F <= X (1 + g) + 1e-12
 * (no feasible plan beats the optimum; the fast solver stops only with a
 * proven gap below g; 1e-7 covers GLPK's tolerances), and its bound
 * must not exceed X.  Plans are checked for validity by assert_valid.
 */
static void test_fast_solver_matches_exact_on_random_instances(void **s) {
  (void)s;
  rng_state    = 2008;
  double worst = 0;
  for (int rep = 0; rep < 60; rep++) {
    struct prov_topology t;
    int                  n = 3 + below(7);
    random_topology(&t, n, rep % 5 == 4);
    int                     K = 1 + below(8);
    double                  up[8][9], down[8][9];
    struct prov_swarm_input sw[8];
    for (int k = 0; k < K; k++) {
      random_swarm(n, up[k], down[k]);
      sw[k].up_kbps   = up[k];
      sw[k].down_kbps = down[k];
      sw[k].peers     = NULL;
    }
    double *mult = NULL;
    if (rep % 3 == 2) {
      mult = malloc((size_t)t.nlinks * sizeof *mult);
      for (int e = 0; e < t.nlinks; e++)
        mult[e] = unit() < 0.2 ? 0 : 0.5 + 2 * unit();
    }
    struct prov_opt_params prm = {.link_mult = mult};
    struct prov_opt_result f, x;
    char                   err[256];
    struct prov_optimizer *o = prov_optimizer_new();
    if (prov_optimizer_solve(o, &t, sw, K, &prm, &f, err, sizeof err))
      fail_msg("fast: %s", err);
    if (lp_exact_optimize(&t, sw, K, &prm, &x, err, sizeof err))
      fail_msg("exact: %s", err);
    assert_valid(&t, sw, K, &f);
    assert_valid(&t, sw, K, &x);
    for (int k = 0; k < K; k++)
      assert_true(fabs(f.swarms[k].t_opt - x.swarms[k].t_opt) <= 1e-12 * fmax(x.swarms[k].t_opt, 1));
    assert_true(f.objective >= x.objective * (1 - 1e-7) - 1e-12);
    assert_true(f.objective <= x.objective * (1 + 1e-3) + 1e-12);
    assert_true(f.lower_bound <= x.objective * (1 + 1e-7) + 1e-12);
    if (x.objective > 0)
      worst = fmax(worst, f.objective / x.objective - 1);
    /* a warm re-solve of the same instance reaches the same optimum */
    struct prov_opt_result w;
    if (prov_optimizer_solve(o, &t, sw, K, &prm, &w, err, sizeof err))
      fail_msg("warm: %s", err);
    assert_true(w.objective >= x.objective * (1 - 1e-7) - 1e-12);
    assert_true(w.objective <= x.objective * (1 + 1e-3) + 1e-12);
    prov_opt_result_free(&w);
    prov_optimizer_free(o);
    prov_opt_result_free(&f);
    prov_opt_result_free(&x);
    free(mult);
    prov_topology_free(&t);
  }
  print_message("worst relative gap fast vs exact: %.3g\n", worst);
}

/*
 * The same line with peer counts n = (1, 4, 2): each term is multiplied
 * by the peers of the PoP it picks from.
 *   row A ∝ (0, 4 * .75, 2 * .75) = (0, 3, 1.5)  -> (0, 2/3, 1/3)
 *   row B ∝ (1 * .5, 4 * 1.25, 0) = (.5, 5, 0)  -> (1/11, 10/11, 0)
 *   row C ∝ (1 * .5, 0, 0)                      -> (1, 0, 0)
 * The old rule (w ∝ t_ij + t_ji) gave B (.75, .25, 0): three quarters of
 * B's picks on the one peer-poor PoP with the supply.
 */
static void test_weights_count_the_peers_they_pick_from(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {600, 100, 0}, down[3] = {0, 400, 400}, n[3] = {1, 4, 2};
  double                  tij[9] = {0, 300, 300, 0, 0, 0, 0, 0, 0}, w[9];
  struct prov_swarm_input sw     = {up, down, n};
  prov_weights_from_plan(&t, &sw, tij, w);
  NEAR(w[0], 0);
  NEAR(w[1], 2.0 / 3);
  NEAR(w[2], 1.0 / 3);
  NEAR(w[3], 1.0 / 11);
  NEAR(w[4], 10.0 / 11);
  NEAR(w[5], 0);
  NEAR(w[6], 1);
  NEAR(w[7], 0);
  NEAR(w[8], 0);
  /* nothing planned and no capacity at B: fallback ∝ peers over the PoPs
   * with capacity, A (1 peer) and C (2 peers), from every row */
  double up2[3] = {100, 0, 0}, down2[3] = {0, 0, 0}, up3[3] = {0, 0, 50};
  double zero[9] = {0};
  for (int i = 0; i < 3; i++)
    up2[i] += up3[i];
  struct prov_swarm_input sw2 = {up2, down2, n};
  prov_weights_from_plan(&t, &sw2, zero, w);
  for (int i = 0; i < 3; i++) {
    NEAR(w[i * 3 + 0], 1.0 / 3);
    NEAR(w[i * 3 + 1], 0);
    NEAR(w[i * 3 + 2], 2.0 / 3);
  }
  prov_topology_free(&t);
}

static void solve_both_prm(const struct prov_topology *t, const struct prov_swarm_input *sw, int nswarms, const struct prov_opt_params *prm,
                           struct prov_opt_result *fast, struct prov_opt_result *exact) {
  char                   err[256] = "";
  struct prov_optimizer *o        = prov_optimizer_new();
  assert_non_null(o);
  if (prov_optimizer_solve(o, t, sw, nswarms, prm, fast, err, sizeof err))
    fail_msg("fast: %s", err);
  prov_optimizer_free(o);
  if (lp_exact_optimize(t, sw, nswarms, prm, exact, err, sizeof err))
    fail_msg("exact: %s", err);
  assert_valid(t, sw, nswarms, fast);
  assert_valid(t, sw, nswarms, exact);
}

/*
 * Equal optima: A (u = 600) reaches B and C (demand 400 each) only over
 * A - X (capacity 1000), then over cold X - B and X - C (10000 each).
 * A -> X carries all 600 whatever the split, so every split with
 * t_AB, t_AC <= 400 is optimal (MLU 0.6) and the LP returns one of them.
 * The fair plan is unique: t_AB = t_AC = 600 * 400/800 = 300, within the
 * optimum (slack 0 suffices), and both solvers must give it and the same
 * rows:  A (0, 0, .5, .5)  [t_AB/d̃_B = .75 each]
 *        B (1, 0, 0, 0)    [t_AB/ũ_A; B has no upload]
 *        X: nothing planned, no capacity: fallback over A, B, C = 1/3 each.
 */
static void test_fair_plan_does_not_depend_on_the_solver(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 4);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 10000);
  duplex(&t, 1, 3, 10000);
  finish(&t);
  double                  up[4] = {600, 0, 0, 0}, down[4] = {0, 0, 400, 400};
  struct prov_swarm_input sw  = {up, down, NULL};
  struct prov_opt_params  prm = {.rel_gap = 1e-9, .fair_plan = 1, .fair_slack = 0};
  struct prov_opt_result  f, x;
  solve_both_prm(&t, &sw, 1, &prm, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    const double *tij = rs[k]->swarms[0].t, *w = rs[k]->swarms[0].w;
    NEAR(rs[k]->mlu, 0.6);
    NEAR(tij[0 * 4 + 2], 300);
    NEAR(tij[0 * 4 + 3], 300);
    NEAR(w[0], 0);
    NEAR(w[1], 0);
    NEAR(w[2], 0.5);
    NEAR(w[3], 0.5);
    NEAR(w[4], 1.0 / 3);
    NEAR(w[5], 0);
    NEAR(w[6], 1.0 / 3);
    NEAR(w[7], 1.0 / 3);
    NEAR(w[8], 1);
    NEAR(w[9], 0);
    NEAR(w[10], 0);
    NEAR(w[11], 0);
  }
  for (int q = 0; q < 16; q++)
    NEAR(f.swarms[0].w[q], x.swarms[0].w[q]);
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * When the proportional plan would load a tight link, it is blended back.
 * Triangle of test_triangle_optimum_avoids_tight_link: LP optimum
 * t_AB = 400/11 (A -> B, capacity 100, at 4/11), proportional plan
 * (200, 200) puts A -> B at 2.0.  Allowed: 4/11 + 0.02, i.e. A -> B may
 * carry 100 (4/11 + 0.02) = 38.3636.  theta = (38.3636 - 36.3636) /
 * (200 - 36.3636) = 0.012222; t_AB = 38.3636, t_AC = 361.6364, MLU
 * 0.383636.  A -> C only gets lighter with theta, so it does not bound it.
 */
static void test_fair_plan_backs_off_a_tight_link(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 3);
  duplex(&t, 0, 1, 100);
  duplex(&t, 0, 2, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double                  up[3] = {400, 0, 0}, down[3] = {0, 400, 400};
  struct prov_swarm_input sw  = {up, down, NULL};
  struct prov_opt_params  prm = {.rel_gap = 1e-9, .fair_plan = 1, .fair_slack = 0.02};
  struct prov_opt_result  f, x;
  solve_both_prm(&t, &sw, 1, &prm, &f, &x);
  struct prov_opt_result *rs[2] = {&f, &x};
  for (int k = 0; k < 2; k++) {
    NEAR(rs[k]->swarms[0].t[1], 100 * (4.0 / 11 + 0.02));
    NEAR(rs[k]->swarms[0].t[2], 400 - 100 * (4.0 / 11 + 0.02));
    NEAR(rs[k]->mlu, 4.0 / 11 + 0.02);
    assert_true(rs[k]->lower_bound <= 4.0 / 11 + 1e-9);
  }
  prov_opt_result_free(&f);
  prov_opt_result_free(&x);
  prov_topology_free(&t);
}

/*
 * Default weights on the line A - B - C (IGP weight 1 per link) plus an
 * isolated D.  IGP costs from A: (0, 1, 2, inf).  temperature 1:
 *   w_A ∝ (1, e^-1, e^-2, 0) -> divide by 1 + e^-1 + e^-2 = 1.5032:
 *   (0.66524, 0.24473, 0.09003, 0).
 * With presence (1, 0, 2, 1): w_A ∝ (1, 0, 2 e^-2, 0) = (1, 0, 0.27067, 0)
 *   -> (0.78699, 0, 0.21301, 0).   D reaches nothing else: w_DD = 1.
 */
static void test_default_weights_prefer_cheap_pids(void **state) {
  (void)state;
  struct prov_topology t;
  char                 err[64];
  add_pops(&t, 4);
  duplex(&t, 0, 1, 1000);
  duplex(&t, 1, 2, 1000);
  finish(&t);
  double w[16];
  assert_int_equal(prov_default_weights(&t, NULL, 1.0, NULL, w, err, sizeof err), 0);
  double z = 1 + exp(-1) + exp(-2);
  NEAR(w[0], 1 / z);
  NEAR(w[1], exp(-1) / z);
  NEAR(w[2], exp(-2) / z);
  assert_true(w[3] == 0);
  NEAR(w[15], 1);
  double pres[4] = {1, 0, 2, 1};
  assert_int_equal(prov_default_weights(&t, NULL, 1.0, pres, w, err, sizeof err), 0);
  z = 1 + 2 * exp(-2);
  NEAR(w[0], 1 / z);
  assert_true(w[1] == 0);
  NEAR(w[2], 2 * exp(-2) / z);
  for (int i = 0; i < 4; i++) {
    double sum = 0;
    for (int j = 0; j < 4; j++)
      sum += w[i * 4 + j];
    NEAR(sum, 1);
  }
  assert_int_equal(prov_default_weights(&t, NULL, 0, NULL, w, err, sizeof err), -1);
  prov_topology_free(&t);
}

static void test_bad_input_is_rejected_with_a_reason(void **state) {
  (void)state;
  struct prov_topology t;
  add_pops(&t, 2);
  duplex(&t, 0, 1, 1000);
  double                  up[2] = {100, -1}, down[2] = {0, 50};
  struct prov_swarm_input sw = {up, down, NULL};
  struct prov_opt_result  r;
  char                    err[128] = "";
  /* not finished */
  assert_int_equal(lp_exact_optimize(&t, &sw, 1, NULL, &r, err, sizeof err), -1);
  assert_true(err[0] != 0);
  finish(&t);
  err[0] = 0;
  assert_int_equal(prov_optimizer_solve(NULL, &t, &sw, 1, NULL, &r, err, sizeof err), -1);
  assert_true(strstr(err, "swarm 0") != NULL);
  up[1]                          = 0;
  double                 mult[2] = {1, -2};
  struct prov_opt_params prm     = {.link_mult = mult};
  assert_int_equal(prov_optimizer_solve(NULL, &t, &sw, 1, &prm, &r, err, sizeof err), -1);
  /* a NULL optimizer (no warm start) is fine */
  assert_int_equal(prov_optimizer_solve(NULL, &t, &sw, 1, NULL, &r, err, sizeof err), 0);
  NEAR(r.swarms[0].t_opt, 50);
  prov_opt_result_free(&r);
  prov_topology_free(&t);
}

/*
 * The transportation subproblem by hand.  Supply (10, 5), demand (8, 7),
 * costs [[1, 3], [2, 1]].  Max flow 15.  Source 2 should serve its cheap
 * sink 1 (5 at cost 1), source 1 fills sink 0 (8 at 1) and the remaining
 * 2 of sink 1 (at 3): cost 8 + 6 + 5 = 19; the only other vertex of the
 * table (x = [[3, 7], [5, 0]]) costs 3 + 21 + 10 = 34.
 * Forbidding pair (0, 1): source 1 reaches only sink 0, so the maximum
 * is 8 + 5 = 13 with x = [[8, -], [0, 5]].
 * Then the single-source and single-sink shortcuts.
 */
static void test_transport_min_cost_max_flow_by_hand(void **state) {
  (void)state;
  struct prov_transport_ws ws;
  prov_transport_ws_init(&ws);
  double sup[2] = {10, 5}, dem[2] = {8, 7}, flow[4];
  double cost[4] = {1, 3, 2, 1};
  NEAR(prov_transport_solve(&ws, 2, 2, sup, dem, cost, flow), 15);
  NEAR(flow[0], 8);
  NEAR(flow[1], 2);
  NEAR(flow[2], 0);
  NEAR(flow[3], 5);
  cost[1] = INFINITY;
  NEAR(prov_transport_solve(&ws, 2, 2, sup, dem, cost, flow), 13);
  NEAR(flow[0], 8);
  NEAR(flow[1], 0);
  NEAR(flow[2], 0);
  NEAR(flow[3], 5);
  /* one source of 10, sinks (4, 3, 5) at costs (2, 1, 2): the cheap sink
   * takes 3, then the tie at cost 2 goes to the lower index, 4, and the
   * last sink gets the remaining 3 */
  double one[1] = {10}, sinks[3] = {4, 3, 5}, c3[3] = {2, 1, 2}, f3[3];
  NEAR(prov_transport_solve(&ws, 1, 3, one, sinks, c3, f3), 10);
  NEAR(f3[0], 4);
  NEAR(f3[1], 3);
  NEAR(f3[2], 3);
  /* one sink of 6, sources (2, 5, 1) at costs (3, forbidden, 1): 1 from
   * the cheap source, 2 from source 0, nothing from source 1: total 3 */
  double srcs[3] = {2, 5, 1}, sink[1] = {6}, c31[3] = {3, INFINITY, 1};
  NEAR(prov_transport_solve(&ws, 3, 1, srcs, sink, c31, f3), 3);
  NEAR(f3[0], 2);
  NEAR(f3[1], 0);
  NEAR(f3[2], 1);
  prov_transport_ws_free(&ws);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transport_min_cost_max_flow_by_hand),
      cmocka_unit_test(test_line_of_three),
      cmocka_unit_test(test_max_throughput_level_binds),
      cmocka_unit_test(test_triangle_optimum_avoids_tight_link),
      cmocka_unit_test(test_swarms_share_links),
      cmocka_unit_test(test_link_multiplier_moves_traffic_off_a_link),
      cmocka_unit_test(test_all_links_free_takes_least_utilization_plan),
      cmocka_unit_test(test_no_demand),
      cmocka_unit_test(test_no_supply),
      cmocka_unit_test(test_disconnected_pop),
      cmocka_unit_test(test_zero_capacity_link_carries_no_swarm_traffic),
      cmocka_unit_test(test_t_opt_is_min_of_supply_and_demand_when_connected),
      cmocka_unit_test(test_fast_solver_matches_exact_on_random_instances),
      cmocka_unit_test(test_weights_count_the_peers_they_pick_from),
      cmocka_unit_test(test_fair_plan_does_not_depend_on_the_solver),
      cmocka_unit_test(test_fair_plan_backs_off_a_tight_link),
      cmocka_unit_test(test_default_weights_prefer_cheap_pids),
      cmocka_unit_test(test_bad_input_is_rejected_with_a_reason),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
