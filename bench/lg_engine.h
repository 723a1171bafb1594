/* The two request engines of the load generator: BEP 15 UDP and HTTP/1.1
 * with one connection per request.  Both keep a fixed number of requests in
 * flight (a closed loop), so the tracker, not the generator, sets the pace as
 * long as the window keeps it busy. */
#ifndef LG_ENGINE_H
#define LG_ENGINE_H

#include "lg_stats.h"
#include "lg_workload.h"

struct lg_run {
  const struct lg_workload *w;
  struct sockaddr_storage   target;
  socklen_t                 target_len;
  uint32_t                  window;     /* requests in flight */
  double                    duration;   /* seconds of the timed phase; 0: none */
  int                       warmup;     /* announce every peer once (event=started) first */
  uint32_t                  timeout_ms; /* an unanswered request counts as lost after this */
  uint64_t                  seed;
  int                       watch_pid;   /* tracker whose CPU time each phase reports; 0: none */
  int                       spin;        /* wait for answers by polling without sleeping */
  const char               *connid_file; /* UDP: connection ids saved after a warm-up, loaded
                                            otherwise, so a later timed run needs no connects */
};

/* phase bookkeeping shared by the engines: CPU of the watched tracker */
void lg_phase_begin(const struct lg_run *r, struct lg_stats *st);
void lg_phase_end(const struct lg_run *r, struct lg_stats *st);

/* warm (may be NULL without warmup) and timed receive the phase counters */
int lg_udp_run(const struct lg_run *r, struct lg_stats *warm, struct lg_stats *timed, char *err, size_t errlen);
int lg_http_run(const struct lg_run *r, struct lg_stats *warm, struct lg_stats *timed, char *err, size_t errlen);

uint64_t lg_now_ns(void);

/* 1 when the watched tracker has exited (or is a zombie): a run against a
 * dead tracker stops with an error instead of timing out request by request */
int lg_tracker_gone(const struct lg_run *r);

/* a phase gives up when nothing at all was answered for this long */
#define LG_SILENCE_NS (5ull * 1000000000ull)

#endif
