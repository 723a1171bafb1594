/* Counters and latency histogram of one load-generator phase. */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 1 µs buckets up to 100 ms, then one overflow bucket: exact enough for
 * loopback percentiles and small enough to keep per phase */
#define LG_HIST_BUCKETS 100000

struct lg_stats {
  double    seconds;           /* length of the measured interval */
  uint64_t  connects;          /* UDP connect answers */
  uint64_t  announces;         /* announce answers that parsed */
  uint64_t  scrapes;           /* scrape answers that parsed */
  uint64_t  errors;            /* error answers, malformed answers, refused connections */
  uint64_t  lost;              /* requests with no answer before the timeout */
  uint64_t  peers_returned;    /* peers in all announce answers */
  uint64_t  peers_same_region; /* ... of which in the requester's own region */
  uint64_t  peers_foreign;     /* ... of which not generator addresses (must stay 0) */
  double    tracker_cpu_s;     /* CPU seconds the watched tracker used in the phase, <0: unknown */
  double    own_cpu_s;         /* CPU seconds this generator used in the phase (its load) */
  uint64_t  latency_count;
  uint64_t  latency_max_us;
  uint32_t *hist; /* LG_HIST_BUCKETS + 1 counts */
};

int  lg_stats_init(struct lg_stats *s);
void lg_stats_free(struct lg_stats *s);
void lg_stats_latency(struct lg_stats *s, uint64_t ns);
/* count the peers of a compact list (addrlen 4 or 16, each followed by a
 * 2-byte port) and how many share the requester's region */
void lg_stats_peers(struct lg_stats *s, unsigned requester_region, const uint8_t *list, size_t bytes, size_t addrlen);
/* latency in µs below which a fraction q of the answers fell */
uint64_t lg_stats_percentile(const struct lg_stats *s, double q);
/* user+system CPU seconds used so far by process pid, <0 when unreadable */
double lg_proc_cpu_seconds(int pid);
/* {"seconds":..,...} */
void lg_stats_json(FILE *out, const struct lg_stats *s);

#endif
