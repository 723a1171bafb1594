/* What both request engines share: the clock and per-phase tracker CPU. */
#include "lg_engine.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lg_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double own_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lg_phase_begin(const struct lg_run *r, struct lg_stats *st) {
  st->tracker_cpu_s = r->watch_pid ? lg_proc_cpu_seconds(r->watch_pid) : -1;
  st->own_cpu_s     = own_cpu_seconds();
}

void lg_phase_end(const struct lg_run *r, struct lg_stats *st) {
  double end        = r->watch_pid ? lg_proc_cpu_seconds(r->watch_pid) : -1;
  st->tracker_cpu_s = end >= 0 && st->tracker_cpu_s >= 0 ? end - st->tracker_cpu_s : -1;
  st->own_cpu_s     = own_cpu_seconds() - st->own_cpu_s;
}

int lg_tracker_gone(const struct lg_run *r) {
  if (!r->watch_pid)
    return 0;
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", r->watch_pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n]  = 0;
  char *p = strrchr(buf, ')'); /* the state follows the command name */
  return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}
