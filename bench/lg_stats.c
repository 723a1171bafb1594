/* Counters and latency histogram of one load-generator phase. */
#include "lg_stats.h"
#include "lg_workload.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lg_stats_init(struct lg_stats *s) {
  memset(s, 0, sizeof(*s));
  s->hist          = calloc(LG_HIST_BUCKETS + 1, sizeof(uint32_t));
  s->tracker_cpu_s = -1;
  return s->hist ? 0 : -1;
}

void lg_stats_free(struct lg_stats *s) {
  free(s->hist);
  s->hist = NULL;
}

void lg_stats_latency(struct lg_stats *s, uint64_t ns) {
  uint64_t us = ns / 1000;
  s->hist[us < LG_HIST_BUCKETS ? us : LG_HIST_BUCKETS]++;
  s->latency_count++;
  if (us > s->latency_max_us)
    s->latency_max_us = us;
}

uint64_t lg_stats_percentile(const struct lg_stats *s, double q) {
  if (!s->latency_count)
    return 0;
  /* rank of the answer at quantile q, 1-based, rounded up */
  uint64_t rank = (uint64_t)(q * (double)s->latency_count);
  if ((double)rank < q * (double)s->latency_count || rank == 0)
    rank++;
  uint64_t seen = 0;
  for (uint64_t us = 0; us <= LG_HIST_BUCKETS; us++) {
    seen += s->hist[us];
    if (seen >= rank)
      return us < LG_HIST_BUCKETS ? us : s->latency_max_us;
  }
  return s->latency_max_us;
}

void lg_stats_json(FILE *out, const struct lg_stats *s) {
  double secs = s->seconds > 0 ? s->seconds : 1;
  fprintf(out,
          "{\"seconds\":%.3f,\"connects\":%llu,\"announces\":%llu,\"scrapes\":%llu,"
          "\"errors\":%llu,\"lost\":%llu,\"announces_per_s\":%.1f,\"requests_per_s\":%.1f,"
          "\"tracker_cpu_s\":%.3f,\"generator_cpu_s\":%.3f,\"peers_per_answer\":%.2f,\"same_region_share\":%.4f,\"foreign_peers\":%llu,"
          "\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}}",
          s->seconds, (unsigned long long)s->connects, (unsigned long long)s->announces, (unsigned long long)s->scrapes, (unsigned long long)s->errors,
          (unsigned long long)s->lost, (double)s->announces / secs, (double)(s->announces + s->scrapes + s->connects) / secs, s->tracker_cpu_s, s->own_cpu_s,
          s->announces ? (double)s->peers_returned / (double)s->announces : 0.0,
          s->peers_returned ? (double)s->peers_same_region / (double)s->peers_returned : 0.0, (unsigned long long)s->peers_foreign,
          (unsigned long long)lg_stats_percentile(s, 0.50), (unsigned long long)lg_stats_percentile(s, 0.90), (unsigned long long)lg_stats_percentile(s, 0.99),
          (unsigned long long)lg_stats_percentile(s, 0.999), (unsigned long long)s->latency_max_us);
}

void lg_stats_peers(struct lg_stats *s, unsigned requester_region, const uint8_t *list, size_t bytes, size_t addrlen) {
  for (size_t off = 0; off + addrlen + 2 <= bytes; off += addrlen + 2) {
    int region = lg_raw_addr_region(list + off, addrlen);
    s->peers_returned++;
    if (region < 0)
      s->peers_foreign++;
    else if ((unsigned)region == requester_region)
      s->peers_same_region++;
  }
}

double lg_proc_cpu_seconds(int pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char   buf[1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n]               = 0;
  /* fields after the parenthesised command name, which may hold spaces */
  char              *p = strrchr(buf, ')');
  unsigned long long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
