/* select: the P4P peer selection, checked statistically.
 *
 * Swarms are built in the tracker's own representation (PID layout, 8-byte
 * IPv4 peer records) with PID j owning 10.j.0.0/16, so a returned peer's PID
 * is the second byte of its address.  Every test uses a fixed seed; the
 * tolerances are derived from the distribution (5 standard deviations, or a
 * chi-square quantile far in the tail), so a failure means a real bias. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/layout.h"
#include "p4p/pidmap.h"
#include "p4p/select.h"
#include "peerlist.h"
#include "pid_list.h"

#define PEER_SIZE    8
#define COMPARE_SIZE 6
#define MAX_PIDS     8

struct swarm {
  struct pidmap       *map;
  struct p4p_vector    peers;
  struct p4p_layout    layout;
  size_t               npids;
  struct select_weight weights[MAX_PIDS]; /* the sparse form of the last row asked for */
  struct select_row    row;
};

static void peer_record(uint8_t out[PEER_SIZE], unsigned pid, unsigned i, int seeder) {
  out[0] = 10;
  out[1] = (uint8_t)pid;
  out[2] = (uint8_t)(i >> 8);
  out[3] = (uint8_t)i;
  out[4] = 0x1a; /* port 6881 */
  out[5] = 0xe1;
  out[6] = seeder ? 0x80 : 0;
  out[7] = 0;
}

/* counts[j] peers in PID j (1..npids), counts[0] peers in no PID (11.x). */
static void swarm_build(struct swarm *s, size_t npids, const unsigned *counts, unsigned per_group) {
  char err[128];
  s->map   = p4p_pidmap_new(npids);
  s->npids = npids;
  for (unsigned j = 1; j <= npids; ++j) {
    uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (uint8_t)j, 0, 0};
    assert_int_equal(p4p_pidmap_add_prefix(s->map, a, 96 + 16, (uint16_t)j), 0);
  }
  assert_int_equal(p4p_pidmap_finish(s->map, err, sizeof err), 0);
  assert_int_equal(pid_list_init(&s->peers, &s->layout, s->map, per_group, PEER_SIZE), 0);
  for (unsigned j = 0; j <= npids; ++j)
    for (unsigned i = 0; i < counts[j]; ++i) {
      uint8_t rec[PEER_SIZE];
      peer_record(rec, j, i, 0);
      if (j == 0)
        rec[0] = 11;
      assert_int_equal(pid_list_put(&s->peers, &s->layout, rec, PEER_SIZE), 1);
    }
}

static void swarm_free(struct swarm *s) {
  peerlist_free(&s->peers, &s->layout);
  p4p_pidmap_unref(s->map);
}

/* A request with a row given densely (weights of slots 1..npids). */
static struct select_request request(struct swarm *s, uint16_t self_slot, const uint8_t *self_key, const float *row, double eps, size_t amount) {
  s->row                  = p4p_select_row_from_dense(row, s->npids, s->weights);
  struct select_request r = {
      .buckets         = s->peers.data,
      .group_slot      = p4p_layout_slots(&s->peers),
      .groups          = s->layout.groups,
      .per_group       = s->layout.per_group,
      .peer_size       = PEER_SIZE,
      .self_slot       = self_slot,
      .self_key        = self_key,
      .row             = &s->row,
      .random_fraction = eps,
      .amount          = amount,
  };
  return r;
}

static unsigned pid_of(const uint8_t *compact) { return compact[0] == 10 ? compact[1] : 0; }

static void assert_distinct(const char *reply, size_t n) {
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a + 1; b < n; ++b)
      assert_memory_not_equal(reply + a * COMPARE_SIZE, reply + b * COMPARE_SIZE, COMPARE_SIZE);
}

/* With eps = 0 every pick is guided.  Row of PID 1 = (.5, .25, .15, .10),
 * N = 47: quotas 23.5, 11.75, 7.05, 4.7.  Each draw must give floor or ceil
 * of each quota (unbiased rounding) and over T draws the share of PID j must
 * be w_j within 5 sigma of a binomial(T*N, w_j) (systematic rounding has a
 * smaller variance than that, so the bound is conservative). */
static void test_selection_follows_guidance_weights(void **state) {
  (void)state;
  const unsigned counts[] = {0, 1000, 1000, 1000, 1000};
  const float    row[]    = {0.5f, 0.25f, 0.15f, 0.10f};
  struct swarm   s;
  unsigned short seed[3] = {7, 8, 9};
  const size_t   N = 47, T = 2000;
  double         total[5] = {0};
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 4, counts, 1);
  struct select_request req = request(&s, 1, NULL, row, 0.0, N);
  for (size_t t = 0; t < T; ++t) {
    struct select_tally tally;
    unsigned            k[5] = {0};
    assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), N * COMPARE_SIZE);
    assert_int_equal(tally.random, 0);
    for (size_t p = 0; p < N; ++p)
      k[pid_of((uint8_t *)reply + p * COMPARE_SIZE)]++;
    for (unsigned j = 1; j <= 4; ++j) {
      double q = N * row[j - 1];
      assert_true(k[j] >= floor(q - 1e-6) && k[j] <= ceil(q + 1e-6));
      total[j] += k[j];
    }
    assert_int_equal(k[0], 0);
    assert_distinct(reply, N);
  }
  for (unsigned j = 1; j <= 4; ++j) {
    double w = row[j - 1], mean = T * N * w, sigma = sqrt(T * N * w * (1 - w));
    assert_true(fabs(total[j] - mean) <= 5 * sigma);
  }
  swarm_free(&s);
}

/* round(eps * N) random picks exactly, the rest guided: N = 50 with
 * eps = 0.2 gives 10; eps = 0.25 gives round(12.5) = 13 (halves round up);
 * eps = 1 gives 50 random and no guided. */
static void test_selection_respects_random_fraction_exactly(void **state) {
  (void)state;
  const unsigned counts[] = {100, 300, 300, 300};
  const float    row[]    = {0.8f, 0.1f, 0.1f};
  const double   eps[]    = {0.2, 0.25, 1.0, 0.0};
  const size_t   want[]   = {10, 13, 50, 0};
  struct swarm   s;
  unsigned short seed[3] = {1, 2, 3};
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 3, counts, 4);
  for (size_t e = 0; e < 4; ++e) {
    struct select_request req = request(&s, 1, NULL, row, eps[e], 50);
    for (int t = 0; t < 200; ++t) {
      struct select_tally tally;
      assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), 50 * COMPARE_SIZE);
      assert_int_equal(tally.random, want[e]);
      assert_int_equal(tally.same_pid + tally.other_pid, 50 - want[e]);
      assert_distinct(reply, 50);
    }
  }
  swarm_free(&s);
}

/* The requester is in the list: it is never returned, even when the answer
 * must contain every other peer (n - 1 = N). */
static void test_selection_never_returns_the_requester(void **state) {
  (void)state;
  const unsigned counts[] = {5, 20, 16, 10}; /* 51 peers */
  const float    row[]    = {0.6f, 0.3f, 0.1f};
  struct swarm   s;
  unsigned short seed[3] = {4, 5, 6};
  uint8_t        self[PEER_SIZE];
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 3, counts, 1);
  peer_record(self, 1, 7, 0); /* 10.1.0.7, in the list */
  for (size_t amount = 10; amount <= 50; amount += 20)
    for (int t = 0; t < 300; ++t) {
      struct select_tally   tally;
      struct select_request req = request(&s, 1, self, row, 0.2, amount);
      assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), amount * COMPARE_SIZE);
      for (size_t p = 0; p < amount; ++p)
        assert_memory_not_equal(reply + p * COMPARE_SIZE, self, COMPARE_SIZE);
      assert_distinct(reply, amount);
    }
  swarm_free(&s);
}

/* A PID with too few peers gives its share to the others by weight:
 * row (.5, .5, 0) with PID 2 holding 3 peers, N = 40, eps = 0: PID 2 gives
 * all 3, PID 1 takes the other 37.  A row whose PIDs cannot fill the answer
 * at all (only PID 3, 5 peers) leaves the rest to uniform picks. */
static void test_small_pid_gives_its_share_to_the_others(void **state) {
  (void)state;
  const unsigned counts[] = {50, 200, 3, 5};
  const float    half[]   = {0.5f, 0.5f, 0.0f};
  const float    only3[]  = {0.0f, 0.0f, 1.0f};
  struct swarm   s;
  unsigned short seed[3] = {9, 9, 9};
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 3, counts, 1);
  for (int t = 0; t < 100; ++t) {
    struct select_tally   tally;
    unsigned              k[4] = {0};
    struct select_request req  = request(&s, 1, NULL, half, 0.0, 40);
    p4p_select_guided(&req, seed, reply, &tally);
    for (size_t p = 0; p < 40; ++p)
      k[pid_of((uint8_t *)reply + p * COMPARE_SIZE)]++;
    assert_int_equal(k[2], 3);
    assert_int_equal(k[1], 37);

    req = request(&s, 1, NULL, only3, 0.0, 20);
    p4p_select_guided(&req, seed, reply, &tally);
    memset(k, 0, sizeof k);
    for (size_t p = 0; p < 20; ++p)
      k[pid_of((uint8_t *)reply + p * COMPARE_SIZE)]++;
    assert_true(k[3] == 5);
    assert_int_equal(tally.other_pid, 5);
    assert_int_equal(tally.random, 15);
    assert_distinct(reply, 20);
  }
  swarm_free(&s);
}

/* Chi-square of per-peer pick counts against uniform.  For d degrees of
 * freedom the statistic has mean d and variance 2d; d + 6 sqrt(2d) is far in
 * the tail (p < 1e-6) for the d used here. */
static void assert_uniform(const unsigned *hits, size_t n, double expected) {
  double chi2 = 0;
  for (size_t i = 0; i < n; ++i)
    chi2 += (hits[i] - expected) * (hits[i] - expected) / expected;
  double d = (double)(n - 1);
  assert_true(chi2 <= d + 6 * sqrt(2 * d));
}

/* Inside a PID the picks are uniform: PID 2 has 30 peers spread over 4
 * buckets, row sends 10 of N = 20 there each time (eps = 0), so each of its
 * peers is expected 10/30 of the draws. */
static void test_picks_are_uniform_inside_a_pid(void **state) {
  (void)state;
  const unsigned counts[] = {0, 100, 30};
  const float    row[]    = {0.5f, 0.5f};
  struct swarm   s;
  unsigned short seed[3]  = {3, 1, 4};
  unsigned       hits[30] = {0};
  const int      T        = 6000;
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 2, counts, 4);
  struct select_request req = request(&s, 1, NULL, row, 0.0, 20);
  for (int t = 0; t < T; ++t) {
    struct select_tally tally;
    p4p_select_guided(&req, seed, reply, &tally);
    for (size_t p = 0; p < 20; ++p) {
      const uint8_t *c = (uint8_t *)reply + p * COMPARE_SIZE;
      if (pid_of(c) == 2)
        hits[c[2] * 256 + c[3]]++;
    }
  }
  assert_uniform(hits, 30, T * 10.0 / 30);
  swarm_free(&s);
}

/* With eps = 1 the answer is uniform over the whole swarm (every PID and the
 * peers with no PID), the requester excluded: 61 others, N = 10. */
static void test_random_part_is_uniform_over_the_whole_swarm(void **state) {
  (void)state;
  const unsigned counts[] = {11, 30, 20, 1};
  const float    row[]    = {1.0f, 0.0f, 0.0f};
  struct swarm   s;
  unsigned short seed[3]     = {2, 7, 1};
  unsigned       hits[4][32] = {{0}};
  uint8_t        self[PEER_SIZE];
  const int      T = 12200;
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 3, counts, 1);
  peer_record(self, 1, 29, 0);
  struct select_request req = request(&s, 1, self, row, 1.0, 10);
  for (int t = 0; t < T; ++t) {
    struct select_tally tally;
    unsigned            k[4] = {0};
    p4p_select_guided(&req, seed, reply, &tally);
    for (size_t p = 0; p < 10; ++p) {
      const uint8_t *c = (uint8_t *)reply + p * COMPARE_SIZE;
      hits[pid_of(c)][c[3]]++;
      k[pid_of(c)]++;
    }
    /* locality, counted where each pick landed: one provider, so PIDs 2
     * and 3 are "in the provider" and peers in no PID "elsewhere" */
    assert_int_equal(tally.in_pid, k[1]);
    assert_int_equal(tally.in_provider, k[2] + k[3]);
    assert_int_equal(tally.elsewhere, k[0]);
  }
  unsigned flat[61];
  size_t   n = 0;
  for (unsigned j = 0; j < 4; ++j)
    for (unsigned i = 0; i < counts[j]; ++i)
      if (!(j == 1 && i == 29))
        flat[n++] = hits[j][i];
  assert_int_equal(hits[1][29], 0);
  assert_int_equal(n, 61);
  assert_uniform(flat, n, T * 10.0 / 61);
  swarm_free(&s);
}

/* Seeders are written from the back, leechers from the front, as upstream
 * does, so clients see the same layout. */
static void test_seeders_fill_from_the_back(void **state) {
  (void)state;
  const unsigned counts[] = {0, 6, 0};
  const float    row[]    = {1.0f, 0.0f};
  struct swarm   s;
  unsigned short seed[3] = {5, 5, 5};
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];
  uint8_t        rec[PEER_SIZE];

  swarm_build(&s, 2, counts, 1);
  for (unsigned i = 0; i < 3; ++i) { /* peers 0..2 become seeders */
    peer_record(rec, 1, i, 1);
    assert_int_equal(pid_list_put(&s.peers, &s.layout, rec, PEER_SIZE), 0);
  }
  struct select_request req = request(&s, 2, NULL, row, 0.0, 5);
  for (int t = 0; t < 50; ++t) {
    struct select_tally tally;
    p4p_select_guided(&req, seed, reply, &tally);
    int seen_seeder = 0;
    for (size_t p = 0; p < 5; ++p) {
      int is_seeder = ((uint8_t *)reply)[p * COMPARE_SIZE + 3] < 3;
      assert_false(seen_seeder && !is_seeder);
      seen_seeder |= is_seeder;
    }
  }
  swarm_free(&s);
}

/* Two providers: slots 1-2 are provider 0, 3-4 provider 1, 11.x in none.
 * Requester in slot 1, intra_share 0.75, eps 0, N = 40: round(0.25 * 40) =
 * 10 picks go outside provider 0, uniformly over its 200 outside peers
 * (50 + 50 in provider 1, 100 in no PID), the other 30 follow the row.
 * Outside shares are checked within 5 binomial sigmas (the draw is without
 * replacement, whose variance is smaller). */
static void test_intra_provider_share_sends_the_rest_outside(void **state) {
  (void)state;
  const unsigned counts[] = {100, 100, 100, 50, 50};
  const float    row[]    = {0.5f, 0.5f, 0.0f, 0.0f};
  struct swarm   s;
  unsigned short seed[3] = {6, 6, 6};
  double         out[5]  = {0};
  const int      T       = 1000;
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 4, counts, 1);
  p4p_pidmap_set_provider(s.map, 3, 1);
  p4p_pidmap_set_provider(s.map, 4, 1);
  struct select_request req = request(&s, 1, NULL, row, 0.0, 40);
  req.provider_first        = 1;
  req.provider_last         = 2;
  req.intra_share           = 0.75;
  for (int t = 0; t < T; ++t) {
    struct select_tally tally;
    unsigned            k[5] = {0};
    assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), 40 * COMPARE_SIZE);
    assert_int_equal(tally.outside, 10);
    assert_int_equal(tally.same_pid + tally.other_pid, 30);
    for (size_t p = 0; p < 40; ++p)
      k[pid_of((uint8_t *)reply + p * COMPARE_SIZE)]++;
    assert_int_equal(k[1] + k[2], 30);
    assert_int_equal(k[0] + k[3] + k[4], 10);
    /* locality: the requester's PID, the rest of provider 0, elsewhere */
    assert_int_equal(tally.in_pid, k[1]);
    assert_int_equal(tally.in_provider, k[2]);
    assert_int_equal(tally.elsewhere, k[0] + k[3] + k[4]);
    out[0] += k[0], out[3] += k[3], out[4] += k[4];
    assert_distinct(reply, 40);
  }
  const double share[5] = {0.5, 0, 0, 0.25, 0.25};
  for (unsigned j = 0; j < 5; ++j)
    if (share[j] > 0)
      assert_true(fabs(out[j] - T * 10 * share[j]) <= 5 * sqrt(T * 10 * share[j] * (1 - share[j])));
  swarm_free(&s);
}

/* The same for k distinct picks of n per draw (without replacement): a
 * peer's count is binomial(T, p = k/n), so the statistic divided by 1 - p is
 * again chi-square with n - 1 degrees of freedom (approximately). */
static void assert_uniform_wor(const unsigned *hits, size_t n, double expected, double p) {
  double chi2 = 0;
  for (size_t i = 0; i < n; ++i)
    chi2 += (hits[i] - expected) * (hits[i] - expected) / expected;
  chi2 /= 1 - p;
  double d = (double)(n - 1);
  assert_true(chi2 <= d + 6 * sqrt(2 * d));
}

/* Where most of a range is picked, the draw is exact (Floyd's sampler over
 * a bitmap) instead of by rejection; it must be just as uniform.  Random
 * part: 30 others, N = 20, eps = 1 (2 * 20 > 30: the exact path), each peer
 * expected 20/30 of the draws.  Guided part: PID 1 of 10 peers gets 8 of
 * N = 8 (eps 0; more than half: the exact path), each expected 8/10. */
static void test_exact_draws_are_uniform(void **state) {
  (void)state;
  const unsigned counts[]   = {0, 10, 20};
  const float    rand_row[] = {1.0f, 0.0f}, only1[] = {1.0f, 0.0f};
  struct swarm   s;
  unsigned short seed[3]     = {8, 6, 7};
  unsigned       hits[3][32] = {{0}}, in1[10] = {0};
  const int      T = 6000;
  char           reply[SELECT_MAX_AMOUNT * COMPARE_SIZE];

  swarm_build(&s, 2, counts, 1);
  for (int t = 0; t < T; ++t) {
    struct select_tally   tally;
    struct select_request req = request(&s, 1, NULL, rand_row, 1.0, 20);
    assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), 20 * COMPARE_SIZE);
    assert_distinct(reply, 20);
    for (size_t p = 0; p < 20; ++p) {
      const uint8_t *c = (uint8_t *)reply + p * COMPARE_SIZE;
      hits[pid_of(c)][c[3]]++;
    }
    req = request(&s, 1, NULL, only1, 0.0, 8);
    assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), 8 * COMPARE_SIZE);
    assert_int_equal(tally.same_pid, 8);
    assert_distinct(reply, 8);
    for (size_t p = 0; p < 8; ++p)
      in1[((uint8_t *)reply)[p * COMPARE_SIZE + 3]]++;
  }
  unsigned flat[30];
  for (unsigned i = 0; i < 10; ++i)
    flat[i] = hits[1][i];
  for (unsigned i = 0; i < 20; ++i)
    flat[10 + i] = hits[2][i];
  assert_uniform_wor(flat, 30, T * 20.0 / 30, 20.0 / 30);
  assert_uniform_wor(in1, 10, T * 8.0 / 10, 0.8);
  swarm_free(&s);
}

static void test_oversized_amount_is_declined(void **state) {
  (void)state;
  const unsigned      counts[] = {0, 600};
  const float         row[]    = {1.0f};
  struct swarm        s;
  unsigned short      seed[3] = {1, 1, 1};
  static char         reply[600 * COMPARE_SIZE];
  struct select_tally tally;

  swarm_build(&s, 1, counts, 1);
  struct select_request req = request(&s, 1, NULL, row, 0.2, SELECT_MAX_AMOUNT + 1);
  assert_int_equal(p4p_select_guided(&req, seed, reply, &tally), 0);
  swarm_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_selection_follows_guidance_weights),
      cmocka_unit_test(test_selection_respects_random_fraction_exactly),
      cmocka_unit_test(test_selection_never_returns_the_requester),
      cmocka_unit_test(test_small_pid_gives_its_share_to_the_others),
      cmocka_unit_test(test_picks_are_uniform_inside_a_pid),
      cmocka_unit_test(test_random_part_is_uniform_over_the_whole_swarm),
      cmocka_unit_test(test_seeders_fill_from_the_back),
      cmocka_unit_test(test_intra_provider_share_sends_the_rest_outside),
      cmocka_unit_test(test_exact_draws_are_uniform),
      cmocka_unit_test(test_oversized_amount_is_declined),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
