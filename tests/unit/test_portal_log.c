/* log: portal fetches are logged once per state change, never once per
 * retry, and each provider's lines are rate-limited (PORTAL_LOG_BURST, then
 * one per PORTAL_LOG_REFILL_S seconds).  Lines go to a sink here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/log.h"

static char g_lines[64][1100];
static int  g_n, g_prio[64];

static void sink(int priority, const char *line) {
  if (g_n < 64) {
    g_prio[g_n] = priority;
    snprintf(g_lines[g_n++], sizeof g_lines[0], "%s", line);
  }
}

static int setup(void **state) {
  (void)state;
  g_n = 0;
  p4p_log_set_sink(sink);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  p4p_log_set_sink(NULL);
  return 0;
}

/* first data, then 20 failed retries, then success, then a drop: four lines */
static void test_a_failure_burst_is_one_line(void **state) {
  (void)state;
  struct portal_log       l  = {0};
  struct portal_log_limit rl = {0};
  p4p_portal_log_ok(&l, &rl, "abilene", "pidmap", "v1", 1000);
  p4p_portal_log_ok(&l, &rl, "abilene", "pidmap", "v1", 1300); /* still ok: nothing */
  for (int i = 0; i < 20; ++i)
    p4p_portal_log_failure(&l, &rl, "abilene", "pidmap", "HTTP 500", 30 + i, 1330 + i);
  p4p_portal_log_ok(&l, &rl, "abilene", "pidmap", "v2", 1400);
  assert_int_equal(g_n, 3);
  assert_string_equal(g_lines[0], "provider abilene: pidmap fetched (version v1)");
  assert_int_equal(g_prio[0], LOG_INFO);
  assert_string_equal(g_lines[1], "provider abilene: pidmap failing: HTTP 500; keeping its data fetched 30 s ago (retrying with backoff)");
  assert_int_equal(g_prio[1], LOG_WARNING);
  assert_string_equal(g_lines[2], "provider abilene: pidmap ok again after 20 failed fetches in 70 s");
  for (int i = 0; i < 5; ++i)
    p4p_portal_log_failure(&l, &rl, "abilene", "pidmap", "timeout", 60, 1500 + i);
  p4p_portal_log_dropped(&l, &rl, "abilene", "pidmap", 3600, 5000);
  p4p_portal_log_failure(&l, &rl, "abilene", "pidmap", "timeout", -1, 5001); /* still down after the drop: nothing */
  assert_int_equal(g_n, 5);
  assert_string_equal(g_lines[4],
                      "provider abilene: pidmap dropped: no good answer for 3600 s (max_staleness); its peers get stock selection until it answers");
  p4p_portal_log_ok(&l, &rl, "abilene", "pidmap", "v3", 6000);
  assert_string_equal(g_lines[5], "provider abilene: pidmap ok again after 6 failed fetches in 1000 s");
}

static void test_never_fetched_says_no_data(void **state) {
  (void)state;
  struct portal_log       l  = {0};
  struct portal_log_limit rl = {0};
  p4p_portal_log_failure(&l, &rl, "att", "costs", "Connection refused", -1, 10);
  assert_int_equal(g_n, 1);
  assert_string_equal(g_lines[0], "provider att: costs failing: Connection refused; no data yet, its peers get stock selection (retrying with backoff)");
}

/* A provider flapping ok/failing on every fetch: 10 lines at once, then one
 * a minute, and the next line says how many were held back. */
static void test_flapping_is_rate_limited(void **state) {
  (void)state;
  struct portal_log       l  = {0};
  struct portal_log_limit rl = {0};
  for (int i = 0; i < 50; ++i) { /* 100 state changes within 50 s */
    p4p_portal_log_failure(&l, &rl, "flap", "guidance", "HTTP 503", 1, 100 + i);
    p4p_portal_log_ok(&l, &rl, "flap", "guidance", "", 100 + i);
  }
  assert_int_equal(g_n, PORTAL_LOG_BURST);
  /* 60 s after the burst's last second, one token is back */
  p4p_portal_log_failure(&l, &rl, "flap", "guidance", "HTTP 503", 1, 149 + PORTAL_LOG_REFILL_S);
  assert_int_equal(g_n, PORTAL_LOG_BURST + 1);
  char want[200];
  snprintf(want, sizeof want, "(%d earlier lines of this provider suppressed)", 100 - PORTAL_LOG_BURST);
  assert_non_null(strstr(g_lines[PORTAL_LOG_BURST], want));
  /* another provider has its own budget */
  struct portal_log       l2  = {0};
  struct portal_log_limit rl2 = {0};
  p4p_portal_log_ok(&l2, &rl2, "calm", "pidmap", "", 150);
  assert_int_equal(g_n, PORTAL_LOG_BURST + 2);
}

/* A portal's reason with newlines stays on one line. */
static void test_reason_cannot_forge_lines(void **state) {
  (void)state;
  struct portal_log       l  = {0};
  struct portal_log_limit rl = {0};
  p4p_portal_log_failure(&l, &rl, "x", "pidmap", "HTTP 500: oops\np4p: provider x: pidmap ok again", -1, 1);
  assert_int_equal(g_n, 1);
  assert_null(strchr(g_lines[0], '\n'));
  assert_non_null(strstr(g_lines[0], "oops?p4p: provider"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_failure_burst_is_one_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_fetched_says_no_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flapping_is_rate_limited, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reason_cannot_forge_lines, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
