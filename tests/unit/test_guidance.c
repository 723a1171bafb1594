/* guidance: sparse weight matrices resolved to PID slots, hand-checked.
 *
 * Memory is checked as the number of weights stored
 * (p4p_guidance_cells()), which is what grows with the data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/guidance.h"
#include "p4p/pidmap.h"

/* A map of named PIDs (no prefixes: guidance needs only the names). */
static struct pidmap *map_named(size_t n, const char *const *names) {
  char           err[128];
  struct pidmap *map = p4p_pidmap_new(n);
  assert_non_null(map);
  for (size_t i = 0; i < n; ++i)
    assert_int_equal(p4p_pidmap_set_pid(map, (uint16_t)(i + 1), names[i], 0, ""), 0);
  assert_int_equal(p4p_pidmap_finish(map, err, sizeof err), 0);
  return map;
}

/* A matrix over the given PID names, row-major values. */
static void matrix(struct p4p_matrix *m, size_t n, const char *const *names, const double *v) {
  assert_int_equal(proto_matrix_alloc(m, n), 0);
  for (size_t i = 0; i < n; ++i)
    snprintf(m->pids[i], P4P_NAME_MAX, "%s", names[i]);
  memcpy(m->v, v, n * n * sizeof *v);
}

static void hash_of(uint8_t h[P4P_HASH_SIZE], unsigned k) {
  memset(h, 0, P4P_HASH_SIZE);
  snprintf((char *)h, P4P_HASH_SIZE, "swarm-%u", k);
}

/* Rows keep only their weights > 0, ascending by slot, normalized: row A
 * (2, 0, 6) is {A: 0.25, C: 0.75}; a row of zeros (B) is no guidance. */
static void test_rows_are_sparse_and_normalized(void **state) {
  (void)state;
  const char *const       names[] = {"A", "B", "C"};
  const double            v[]     = {2, 0, 6, 0, 0, 0, 1, 1, 0};
  struct pidmap          *map     = map_named(3, names);
  struct p4p_guidance_msg msg     = {.has_default = 1};
  enum guidance_kind      kind;
  char                    err[256];
  uint8_t                 h[P4P_HASH_SIZE];

  matrix(&msg.default_weights, 3, names, v);
  struct guidance *g = p4p_guidance_from_msg(&msg, map, err, sizeof err);
  assert_non_null(g);
  hash_of(h, 1);
  const struct select_row *a = p4p_guidance_row(g, h, 1, &kind);
  assert_non_null(a);
  assert_int_equal(kind, GUIDANCE_DEFAULT);
  assert_int_equal(a->n, 2);
  assert_int_equal(a->e[0].slot, 1);
  assert_int_equal(a->e[1].slot, 3);
  assert_true(fabs(a->e[0].w - 0.25) < 1e-6 && fabs(a->e[1].w - 0.75) < 1e-6);
  assert_null(p4p_guidance_row(g, h, 2, &kind));
  assert_int_equal(kind, GUIDANCE_NONE);
  const struct select_row *c = p4p_guidance_row(g, h, 3, &kind);
  assert_int_equal(c->n, 2);
  assert_true(fabs(c->e[0].w - 0.5) < 1e-6 && c->e[1].slot == 2);
  assert_null(p4p_guidance_row(g, h, 4, &kind)); /* not a slot of the map */
  assert_int_equal(p4p_guidance_cells(g), 4);
  assert_true(p4p_guidance_has_default(g));
  p4p_guidance_free(g);
  proto_matrix_free(&msg.default_weights);
  p4p_pidmap_unref(map);
}

/* Issue 15.4: a 1024-PID map and 1000 per-swarm 1x1 matrices (swarm k
 * guided inside PID k mod 1024) store 1000 weights, not 1000 x 1024^2;
 * each swarm's row is its PID alone with weight 1, and the other PIDs of a
 * swarm fall back to the default matrix (none here). */
static void test_per_swarm_matrices_cost_what_they_hold(void **state) {
  (void)state;
  enum { PIDS = 1024, SWARMS = 1000 };
  static char               names_buf[PIDS][16];
  const char               *names[PIDS];
  struct p4p_guidance_msg   msg = {.nswarms = SWARMS};
  struct p4p_swarm_guidance sw[SWARMS];
  enum guidance_kind        kind;
  char                      err[256];

  for (size_t i = 0; i < PIDS; ++i)
    snprintf(names_buf[i], sizeof names_buf[i], "pid%zu", i), names[i] = names_buf[i];
  struct pidmap *map = map_named(PIDS, names);
  msg.swarms         = sw;
  for (unsigned k = 0; k < SWARMS; ++k) {
    const double one = 1;
    hash_of(sw[k].info_hash, k);
    matrix(&sw[k].weights, 1, &names[k % PIDS], &one);
  }
  struct guidance *g = p4p_guidance_from_msg(&msg, map, err, sizeof err);
  assert_non_null(g);
  assert_int_equal(p4p_guidance_nswarms(g), SWARMS);
  assert_int_equal(p4p_guidance_cells(g), SWARMS);
  for (unsigned k = 0; k < SWARMS; ++k) {
    uint8_t  h[P4P_HASH_SIZE];
    uint16_t slot = (uint16_t)(k % PIDS + 1);
    hash_of(h, k);
    const struct select_row *row = p4p_guidance_row(g, h, slot, &kind);
    assert_non_null(row);
    assert_int_equal(kind, GUIDANCE_SWARM);
    assert_int_equal(row->n, 1);
    assert_int_equal(row->e[0].slot, slot);
    assert_true(row->e[0].w == 1.0f);
    assert_null(p4p_guidance_row(g, h, slot % PIDS + 1, &kind));
    proto_matrix_free(&sw[k].weights);
  }
  p4p_guidance_free(g);
  p4p_pidmap_unref(map);
}

/* Two providers fill different blocks of one swarm's matrix; a PID the
 * swarm's matrix has no row for takes the default's row. */
static void test_providers_fill_blocks_and_swarms_fall_back(void **state) {
  (void)state;
  const char *const         full[] = {"a/x", "a/y", "b/z"};
  const char *const         an[] = {"x", "y"}, *bn[] = {"z"};
  const double              av[] = {1, 3, 0, 0}, bv[] = {5}, dv[] = {1};
  struct pidmap            *map = map_named(3, full);
  struct guidance          *g   = p4p_guidance_new(map);
  struct p4p_guidance_msg   ma = {.nswarms = 1}, mb = {.nswarms = 1, .has_default = 1};
  struct p4p_swarm_guidance sa, sb;
  enum guidance_kind        kind;
  char                      err[256];

  hash_of(sa.info_hash, 7);
  hash_of(sb.info_hash, 7);
  matrix(&sa.weights, 2, an, av);
  matrix(&sb.weights, 1, bn, bv);
  matrix(&mb.default_weights, 1, bn, dv);
  ma.swarms = &sa, mb.swarms = &sb;
  assert_int_equal(p4p_guidance_add(g, &ma, "a", err, sizeof err), 0);
  assert_int_equal(p4p_guidance_add(g, &mb, "b", err, sizeof err), 0);
  p4p_guidance_finish(g);
  assert_int_equal(p4p_guidance_nswarms(g), 1);
  const struct select_row *x = p4p_guidance_row(g, sa.info_hash, 1, &kind); /* a/x: 1/4 to itself, 3/4 to a/y */
  assert_int_equal(kind, GUIDANCE_SWARM);
  assert_int_equal(x->n, 2);
  assert_true(x->e[0].slot == 1 && fabs(x->e[0].w - 0.25) < 1e-6 && x->e[1].slot == 2 && fabs(x->e[1].w - 0.75) < 1e-6);
  assert_null(p4p_guidance_row(g, sa.info_hash, 2, &kind)); /* a/y: zeros, and no default row */
  const struct select_row *z = p4p_guidance_row(g, sa.info_hash, 3, &kind);
  assert_int_equal(kind, GUIDANCE_SWARM);
  assert_true(z->n == 1 && z->e[0].slot == 3 && z->e[0].w == 1.0f);
  uint8_t other[P4P_HASH_SIZE];
  hash_of(other, 8);
  z = p4p_guidance_row(g, other, 3, &kind); /* another swarm: b's default */
  assert_int_equal(kind, GUIDANCE_DEFAULT);
  assert_true(z->n == 1 && z->e[0].slot == 3);
  assert_int_equal(p4p_guidance_cells(g), 4);
  p4p_guidance_free(g);
  proto_matrix_free(&sa.weights);
  proto_matrix_free(&sb.weights);
  proto_matrix_free(&mb.default_weights);
  p4p_pidmap_unref(map);
}

/* A PID named twice in one matrix adds up: over {x, x}, row x gets
 * 1 + 2 + 3 + 4 = 10 towards x, normalized to 1, one weight stored. */
static void test_weights_given_twice_add_up(void **state) {
  (void)state;
  const char *const       names[] = {"x", "x"};
  const double            v[]     = {1, 2, 3, 4};
  struct pidmap          *map     = map_named(1, names);
  struct p4p_guidance_msg msg     = {.has_default = 1};
  enum guidance_kind      kind;
  char                    err[256];
  uint8_t                 h[P4P_HASH_SIZE] = {0};

  matrix(&msg.default_weights, 2, names, v);
  struct guidance *g = p4p_guidance_from_msg(&msg, map, err, sizeof err);
  assert_non_null(g);
  const struct select_row *row = p4p_guidance_row(g, h, 1, &kind);
  assert_true(row->n == 1 && row->e[0].slot == 1 && row->e[0].w == 1.0f);
  assert_int_equal(p4p_guidance_cells(g), 1);
  p4p_guidance_free(g);
  proto_matrix_free(&msg.default_weights);
  p4p_pidmap_unref(map);
}

/* Costs (0, 1; 1, 0): t = the mean off-diagonal cost = 1, weights 1 and
 * e^-1, so PID 1's row is (1, e^-1) / (1 + e^-1) = (0.7311, 0.2689). */
static void test_costs_give_a_default_matrix(void **state) {
  (void)state;
  const char *const    names[] = {"p", "q"};
  const double         c[]     = {0, 1, 1, 0};
  struct pidmap       *map     = map_named(2, names);
  struct guidance     *g       = p4p_guidance_new(map);
  struct p4p_costs_msg costs;
  enum guidance_kind   kind;
  char                 err[256];
  uint8_t              h[P4P_HASH_SIZE] = {0};

  memset(&costs, 0, sizeof costs);
  matrix(&costs.costs, 2, names, c);
  assert_int_equal(p4p_guidance_add_costs(g, &costs, "", err, sizeof err), 0);
  p4p_guidance_finish(g);
  const struct select_row *row = p4p_guidance_row(g, h, 1, &kind);
  assert_int_equal(kind, GUIDANCE_DEFAULT);
  assert_int_equal(row->n, 2);
  assert_true(fabs(row->e[0].w - 1 / (1 + exp(-1))) < 1e-6);
  assert_true(fabs(row->e[1].w - exp(-1) / (1 + exp(-1))) < 1e-6);
  p4p_guidance_free(g);
  proto_matrix_free(&costs.costs);
  p4p_pidmap_unref(map);
}

/* Refused, with the reason: an unknown PID, a negative or non-finite
 * weight, one swarm twice in one message. */
static void test_bad_guidance_is_refused_with_a_reason(void **state) {
  (void)state;
  const char *const       names[] = {"x", "y"}, *unknown[] = {"x", "w"};
  const double            neg[] = {1, -1, 0, 1}, nan_v[] = {1, NAN, 0, 1}, ok[] = {1, 0, 0, 1};
  struct pidmap          *map = map_named(2, names);
  struct p4p_guidance_msg msg = {.has_default = 1};
  char                    err[256];

  matrix(&msg.default_weights, 2, unknown, ok);
  assert_null(p4p_guidance_from_msg(&msg, map, err, sizeof err));
  assert_non_null(strstr(err, "PID 'w' is not in the PID map"));
  proto_matrix_free(&msg.default_weights);

  matrix(&msg.default_weights, 2, names, neg);
  assert_null(p4p_guidance_from_msg(&msg, map, err, sizeof err));
  assert_non_null(strstr(err, "weight from 'x' to 'y' is -1"));
  proto_matrix_free(&msg.default_weights);

  matrix(&msg.default_weights, 2, names, nan_v);
  assert_null(p4p_guidance_from_msg(&msg, map, err, sizeof err));
  assert_non_null(strstr(err, "finite"));
  proto_matrix_free(&msg.default_weights);

  struct p4p_swarm_guidance two[2];
  struct p4p_guidance_msg   swarms = {.nswarms = 2, .swarms = two};
  hash_of(two[0].info_hash, 1);
  hash_of(two[1].info_hash, 1);
  matrix(&two[0].weights, 2, names, ok);
  matrix(&two[1].weights, 2, names, ok);
  assert_null(p4p_guidance_from_msg(&swarms, map, err, sizeof err));
  assert_non_null(strstr(err, "has two matrices"));
  proto_matrix_free(&two[0].weights);
  proto_matrix_free(&two[1].weights);
  p4p_pidmap_unref(map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_are_sparse_and_normalized),
      cmocka_unit_test(test_per_swarm_matrices_cost_what_they_hold),
      cmocka_unit_test(test_providers_fill_blocks_and_swarms_fall_back),
      cmocka_unit_test(test_weights_given_twice_add_up),
      cmocka_unit_test(test_costs_give_a_default_matrix),
      cmocka_unit_test(test_bad_guidance_is_refused_with_a_reason),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
