/* state: snapshots are published with one pointer swap and freed only after
 * their grace period, so a reader that loaded one just before a swap keeps
 * reading valid memory.  Under the sanitizer build (make SAN=1 test) a
 * snapshot freed too early is a use-after-free report, not a silent pass. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/state.h"

static struct p4p_state *snapshot(double eps) {
  struct p4p_state *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->random_fraction = eps;
  return s;
}

static void test_publish_makes_the_snapshot_current_with_a_new_generation(void **state) {
  (void)state;
  assert_null(p4p_state_current());
  struct p4p_state *a = snapshot(0.1), *b = snapshot(0.2);
  p4p_state_publish(a);
  assert_ptr_equal(p4p_state_current(), a);
  p4p_state_publish(b);
  assert_ptr_equal(p4p_state_current(), b);
  assert_true(b->gen > a->gen);
  p4p_state_shutdown();
  assert_null(p4p_state_current());
}

/* A retired snapshot lives exactly `grace` seconds after its retirement:
 * collect before that keeps it (readable), collect at it frees it. */
static void test_retired_snapshot_survives_its_grace_period(void **state) {
  (void)state;
  struct p4p_state *a = snapshot(0.3);
  p4p_state_publish(a);
  p4p_state_publish(snapshot(0.4));
  time_t retired = a->retired_at;
  assert_true(retired > 0);
  assert_int_equal(p4p_state_retired(), 1);
  p4p_state_collect(retired + 59, 60);
  assert_int_equal(p4p_state_retired(), 1);
  assert_true(a->random_fraction == 0.3); /* still valid memory */
  p4p_state_collect(retired + 60, 60);
  assert_int_equal(p4p_state_retired(), 0);
  p4p_state_shutdown();
}

struct reader {
  _Atomic int stop;
  long        reads;
  double      sum;
};

static void *read_loop(void *arg) {
  struct reader *r = arg;
  while (!r->stop) {
    const struct p4p_state *s = p4p_state_current();
    if (s)
      r->sum += s->random_fraction; /* a freed snapshot here is a SAN report */
    r->reads++;
  }
  return NULL;
}

/* A reader loops on the current snapshot while a writer publishes 2000
 * snapshots and collects with a grace far longer than any read. */
static void test_readers_never_see_a_freed_snapshot(void **state) {
  (void)state;
  struct reader r = {0};
  pthread_t     t;
  assert_int_equal(pthread_create(&t, NULL, read_loop, &r), 0);
  time_t now = time(NULL);
  for (int i = 0; i < 2000; ++i) {
    p4p_state_publish(snapshot(i % 2 ? 0.5 : 0.25));
    p4p_state_collect(now, 1); /* retired at `now` or later: all kept */
  }
  r.stop = 1;
  pthread_join(t, NULL);
  assert_true(r.reads > 0);
  assert_int_equal(p4p_state_retired(), 1999);
  p4p_state_collect(now + 60, 1); /* the loop took well under a minute */
  assert_int_equal(p4p_state_retired(), 0);
  p4p_state_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_publish_makes_the_snapshot_current_with_a_new_generation),
      cmocka_unit_test(test_retired_snapshot_survives_its_grace_period),
      cmocka_unit_test(test_readers_never_see_a_freed_snapshot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
