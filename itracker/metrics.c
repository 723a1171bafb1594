/* metrics: counters and their exposition. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portal.h"

#define NS         "p4p_itracker_"
#define STATUS_MIN 100
#define STATUS_MAX 599

static const char *const route_name[ITR_ROUTE_COUNT] = {"info", "policy", "guidance", "capability", "metrics", "none", "alto"};
/* solve durations, seconds: the upper bounds of the histogram's buckets */
static const double solve_bucket[]                   = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
#define NBUCKETS (sizeof solve_bucket / sizeof solve_bucket[0])

static atomic_ulong g_requests[ITR_ROUTE_COUNT][STATUS_MAX - STATUS_MIN + 1];
static atomic_ulong g_solves_ok, g_solves_failed;
static atomic_ulong g_reloads_ok, g_reloads_failed;
static atomic_ulong g_solve_bucket[NBUCKETS]; /* not cumulative here */
static atomic_ulong g_solve_us_sum;           /* microseconds */
/* the last good solve, written by the solver thread only */
static atomic_ulong   g_last_swarms;
static _Atomic double g_last_mlu, g_last_ms;

#define BUMP(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define READ(c)    atomic_load_explicit(&(c), memory_order_relaxed)

void itr_metrics_note_response(int route, int status) {
  if (route < 0 || route >= ITR_ROUTE_COUNT)
    route = ITR_ROUTE_NONE;
  if (status < STATUS_MIN || status > STATUS_MAX)
    status = 500;
  BUMP(g_requests[route][status - STATUS_MIN], 1);
}

void itr_metrics_note_solve(double ms, int ok, size_t swarms, double mlu) {
  BUMP(*(ok ? &g_solves_ok : &g_solves_failed), 1);
  size_t b = 0;
  while (b < NBUCKETS && ms / 1000.0 > solve_bucket[b])
    ++b;
  if (b < NBUCKETS)
    BUMP(g_solve_bucket[b], 1);
  BUMP(g_solve_us_sum, (unsigned long)(ms * 1000.0 + 0.5));
  atomic_store_explicit(&g_last_ms, ms, memory_order_relaxed);
  if (ok) {
    atomic_store_explicit(&g_last_swarms, swarms, memory_order_relaxed);
    atomic_store_explicit(&g_last_mlu, mlu, memory_order_relaxed);
  }
}

void itr_metrics_note_reload(int ok) { BUMP(*(ok ? &g_reloads_ok : &g_reloads_failed), 1); }

void itr_metrics_reset(void) {
  for (int r = 0; r < ITR_ROUTE_COUNT; ++r)
    for (int s = 0; s <= STATUS_MAX - STATUS_MIN; ++s)
      atomic_store(&g_requests[r][s], 0);
  for (size_t b = 0; b < NBUCKETS; ++b)
    atomic_store(&g_solve_bucket[b], 0);
  atomic_store(&g_solves_ok, 0);
  atomic_store(&g_solves_failed, 0);
  atomic_store(&g_reloads_ok, 0);
  atomic_store(&g_reloads_failed, 0);
  atomic_store(&g_solve_us_sum, 0);
  atomic_store(&g_last_swarms, 0);
  atomic_store(&g_last_mlu, 0);
  atomic_store(&g_last_ms, 0);
}

struct text {
  char  *p;
  size_t n, cap;
  int    oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...) {
  for (;;) {
    if (t->oom)
      return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if (w < 0) {
      t->oom = 1;
      return;
    }
    if ((size_t)w < t->cap - t->n) {
      t->n += (size_t)w;
      return;
    }
    char *np = realloc(t->p, t->cap * 2 + (size_t)w);
    if (!np) {
      t->oom = 1;
      return;
    }
    t->p   = np;
    t->cap = t->cap * 2 + (size_t)w;
  }
}

static void family(struct text *t, const char *name, const char *type, const char *help) {
  put(t, "# HELP " NS "%s %s\n# TYPE " NS "%s %s\n", name, help, name, type);
}

char *itr_metrics_render(const struct portal *p, size_t tracked, size_t *len) {
  struct text t = {.p = malloc(16384), .cap = 16384};
  if (!t.p)
    return NULL;
  t.p[0] = 0;
  family(&t, "info", "gauge", "The provider this portal serves");
  /* provider names and versions are tokens (provider.c), no quoting needed */
  put(&t, NS "info{provider=\"%s\",version=\"%s\"} 1\n", p->prov.name, p->prov.version);
  family(&t, "requests_total", "counter", "Requests answered, by interface (metrics; alto: the ALTO resources; none: other paths) and HTTP status");
  for (int r = 0; r < ITR_ROUTE_COUNT; ++r)
    for (int s = 0; s <= STATUS_MAX - STATUS_MIN; ++s) {
      unsigned long n = READ(g_requests[r][s]);
      if (n)
        put(&t, NS "requests_total{interface=\"%s\",status=\"%d\"} %lu\n", route_name[r], s + STATUS_MIN, n);
    }
  family(&t, "solves_total", "counter", "Guidance solves, by result");
  put(&t, NS "solves_total{result=\"ok\"} %lu\n" NS "solves_total{result=\"failed\"} %lu\n", READ(g_solves_ok), READ(g_solves_failed));
  family(&t, "solve_duration_seconds", "histogram", "Wall time of guidance solves");
  unsigned long cum = 0;
  for (size_t b = 0; b < NBUCKETS; ++b) {
    cum += READ(g_solve_bucket[b]);
    put(&t, NS "solve_duration_seconds_bucket{le=\"%g\"} %lu\n", solve_bucket[b], cum);
  }
  unsigned long count = READ(g_solves_ok) + READ(g_solves_failed);
  put(&t, NS "solve_duration_seconds_bucket{le=\"+Inf\"} %lu\n", count);
  put(&t, NS "solve_duration_seconds_sum %.6f\n" NS "solve_duration_seconds_count %lu\n", (double)READ(g_solve_us_sum) / 1e6, count);
  family(&t, "last_solve_duration_seconds", "gauge", "Wall time of the last solve");
  put(&t, NS "last_solve_duration_seconds %.6f\n", atomic_load_explicit(&g_last_ms, memory_order_relaxed) / 1000.0);
  family(&t, "mlu", "gauge", "Maximum link utilization of the last good solve (background traffic and optimized swarms)");
  put(&t, NS "mlu %.6g\n", atomic_load_explicit(&g_last_mlu, memory_order_relaxed));
  family(&t, "swarms_optimized", "gauge", "Swarms the last good solve optimized");
  put(&t, NS "swarms_optimized %lu\n", READ(g_last_swarms));
  family(&t, "swarms_tracked", "gauge", "Swarms in the statistics table");
  put(&t, NS "swarms_tracked %zu\n", tracked);
  family(&t, "swarms_tracked_max", "gauge", "Size of the statistics table (max-tracked-swarms)");
  put(&t, NS "swarms_tracked_max %zu\n", p->prov.daemon.max_tracked_swarms);
  family(&t, "reloads_total", "counter", "Provider file reloads (SIGHUP), by result (failed: the old configuration kept)");
  put(&t, NS "reloads_total{result=\"ok\"} %lu\n" NS "reloads_total{result=\"failed\"} %lu\n", READ(g_reloads_ok), READ(g_reloads_failed));
  family(&t, "pids", "gauge", "PIDs the provider publishes");
  put(&t, NS "pids %zu\n", p->prov.npids);
  if (t.oom) {
    free(t.p);
    return NULL;
  }
  *len = t.n;
  return t.p;
}
