/* What both request engines share: the clock and per-phase tracker CPU. */
#include "lg_engine.h"

#include <time.h>

uint64_t lg_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lg_phase_begin(const struct lg_run *r, struct lg_stats *st) {
  st->tracker_cpu_s = r->watch_pid ? lg_proc_cpu_seconds(r->watch_pid) : -1;
}

void lg_phase_end(const struct lg_run *r, struct lg_stats *st) {
  double end = r->watch_pid ? lg_proc_cpu_seconds(r->watch_pid) : -1;
  st->tracker_cpu_s = end >= 0 && st->tracker_cpu_s >= 0 ? end - st->tracker_cpu_s : -1;
}
