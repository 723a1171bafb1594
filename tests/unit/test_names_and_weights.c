/* Edge values a portal may send (issue 15.7): PID names at their longest,
 * weights beyond what a float row holds, and costs of 0. */
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
#include "proto/msg.h"

static struct p4p_pid_entry pid(const char *name, uint8_t net) {
  struct p4p_pid_entry e = {.asid = 1, .nprefixes = 1};
  snprintf(e.name, sizeof e.name, "%s", name);
  e.prefixes    = calloc(1, sizeof *e.prefixes);
  uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, net, 0, 0};
  memcpy(e.prefixes[0].addr, a, 16);
  e.prefixes[0].bits = 96 + 16;
  return e;
}

/* Two 63-byte PID names differing in their last byte, under a 47-byte
 * provider name: 111-byte full names, both kept whole and distinct. */
static void test_longest_pid_names_stay_distinct(void **state) {
  (void)state;
  char a[64], b[64], ns[48], full[200];
  memset(a, 'p', 63), a[63]   = 0;
  memcpy(b, a, 64), b[62]     = 'q';
  memset(ns, 'n', 47), ns[47] = 0;
  struct p4p_pid_entry  e[2] = {pid(a, 1), pid(b, 2)};
  struct p4p_pidmap_msg msg  = {.npids = 2, .pids = e};
  struct pidmap        *map  = p4p_pidmap_new(2);
  char                  err[300];
  assert_int_equal(p4p_pidmap_add_msg(map, &msg, 1, ns, 0, err, sizeof err), 0);
  assert_int_equal(p4p_pidmap_finish(map, err, sizeof err), 0);
  snprintf(full, sizeof full, "%s/%s", ns, a);
  assert_int_equal(strlen(full), 111);
  assert_string_equal(p4p_pidmap_pid_name(map, 1), full);
  assert_int_equal(p4p_pidmap_slot_by_name(map, full), 1);
  snprintf(full, sizeof full, "%s/%s", ns, b);
  assert_string_equal(p4p_pidmap_pid_name(map, 2), full);
  assert_int_equal(p4p_pidmap_slot_by_name(map, full), 2);
  /* a name that cannot fit is refused, not cut */
  char long_name[PIDMAP_NAME_MAX + 8];
  memset(long_name, 'x', sizeof long_name - 1), long_name[sizeof long_name - 1] = 0;
  assert_int_equal(p4p_pidmap_set_pid(map, 1, long_name, 1, ""), -1);
  p4p_pidmap_unref(map);
  free(e[0].prefixes);
  free(e[1].prefixes);
}

static struct pidmap *two_pids(void) {
  struct p4p_pid_entry  e[2] = {pid("a", 1), pid("b", 2)};
  struct p4p_pidmap_msg msg  = {.npids = 2, .pids = e};
  char                  err[300];
  struct pidmap        *map = p4p_pidmap_from_msg(&msg, err, sizeof err);
  assert_non_null(map);
  free(e[0].prefixes);
  free(e[1].prefixes);
  return map;
}

static void matrix(struct p4p_matrix *m, const double v[4]) {
  assert_int_equal(proto_matrix_alloc(m, 2), 0);
  snprintf(m->pids[0], P4P_NAME_MAX, "a");
  snprintf(m->pids[1], P4P_NAME_MAX, "b");
  memcpy(m->v, v, 4 * sizeof *v);
}

/* The weight of slot in a sparse row, 0 when the row has none. */
static float weight_of(const struct select_row *row, uint16_t slot) {
  for (size_t i = 0; i < row->n; ++i)
    if (row->e[i].slot == slot)
      return row->e[i].w;
  return 0;
}

/* 1e39 does not fit a float (FLT_MAX is 3.4e38): refused by name. */
static void test_weight_beyond_float_is_refused(void **state) {
  (void)state;
  struct pidmap          *map = two_pids();
  struct p4p_guidance_msg g   = {.has_default = 1};
  char                    err[300];
  matrix(&g.default_weights, (double[]){1e39, 1, 0, 1});
  assert_null(p4p_guidance_from_msg(&g, map, err, sizeof err));
  assert_non_null(strstr(err, "weight from 'a' to 'a' is 1e+39"));
  assert_non_null(strstr(err, "at most"));
  /* 3e38 fits: row a is then (3e38, 1) / (3e38 + 1) = (1, ~3.3e-39) */
  g.default_weights.v[0] = 3e38;
  struct guidance *ok    = p4p_guidance_from_msg(&g, map, err, sizeof err);
  assert_non_null(ok);
  enum guidance_kind       kind;
  const struct select_row *row = p4p_guidance_row(ok, (const uint8_t *)"01234567890123456789", 1, &kind);
  assert_non_null(row);
  assert_true(weight_of(row, 1) == 1.0f);
  p4p_guidance_free(ok);
  proto_matrix_free(&g.default_weights);
  p4p_pidmap_unref(map);
}

/* Costs (v1: 0 is zero cost) -> w = exp(-c / t), t = mean off-diagonal
 * cost.  a-b costs 0 both ways: t = 1 (all zero), every weight exp(0) = 1,
 * so row a = (0.5, 0.5).  Before, a cost of 0 between two PIDs of one PoP
 * gave weight 0: such a PID was never guided to its PoP neighbour. */
static void test_zero_cost_is_the_cheapest_not_undefined(void **state) {
  (void)state;
  struct pidmap       *map = two_pids();
  struct p4p_costs_msg c   = {0};
  char                 err[300];
  matrix(&c.costs, (double[]){0, 0, 0, 0});
  struct guidance *g = p4p_guidance_new(map);
  assert_int_equal(p4p_guidance_add_costs(g, &c, "", err, sizeof err), 0);
  p4p_guidance_finish(g);
  enum guidance_kind       kind;
  const struct select_row *row = p4p_guidance_row(g, (const uint8_t *)"01234567890123456789", 1, &kind);
  assert_non_null(row);
  assert_true(weight_of(row, 1) == 0.5f && weight_of(row, 2) == 0.5f);
  p4p_guidance_free(g);
  /* a-b 100, b-a 0: t = 50; row a = (1, e^-2) / (1 + e^-2), row b = (0.5, 0.5) */
  c.costs.v[1] = 100;
  g            = p4p_guidance_new(map);
  assert_int_equal(p4p_guidance_add_costs(g, &c, "", err, sizeof err), 0);
  p4p_guidance_finish(g);
  row = p4p_guidance_row(g, (const uint8_t *)"01234567890123456789", 1, &kind);
  assert_float_equal(weight_of(row, 1), 1 / (1 + 0.1353352832), 1e-6);
  row = p4p_guidance_row(g, (const uint8_t *)"01234567890123456789", 2, &kind);
  assert_float_equal(weight_of(row, 1), 0.5, 1e-6);
  p4p_guidance_free(g);
  proto_matrix_free(&c.costs);
  p4p_pidmap_unref(map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_longest_pid_names_stay_distinct),
      cmocka_unit_test(test_weight_beyond_float_is_refused),
      cmocka_unit_test(test_zero_cost_is_the_cheapest_not_undefined),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
