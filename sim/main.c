/* p4psim: command-line front end of the simulator (sim.h).  Runs one
 * scenario and writes <out>.json (metrics), <out>.ct (sorted completion
 * times, s) and <out>.ts (time, max-link and watched-link utilization,
 * leechers left). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void usage(FILE *f) {
  fprintf(f, "usage: p4psim --provider FILE [options]\n"
             "  --mode native|p4p|localized   peer selection (default p4p)\n"
             "  --eps X            random fraction for p4p/localized (0.2)\n"
             "  --peers N          leechers per swarm (700)\n"
             "  --swarms K         swarms (2)\n"
             "  --file-mb X        file size, MiB (256)\n"
             "  --block-kb X       block size, KiB (256)\n"
             "  --unit-blocks N    blocks moved as one request (4)\n"
             "  --seed-kbps X      initial seed uplink (1000000)\n"
             "  --slot-kbps X      one more upload slot per X kbit/s of uplink; 0 = 4 slots for all (10000)\n"
             "  --stay S           leechers seed S seconds after finishing (0)\n"
             "  --background X     extra background traffic, fraction of capacity (0)\n"
             "  --gravity PEAK     gravity background, busiest link at PEAK (0 = provider's own)\n"
             "  --masses FILE      PoP masses for --gravity (\"POP MASS\" lines; default equal)\n"
             "  --announce-s S     re-announce interval of leechers and seeds (300)\n"
             "  --no-seed-announce seeds never announce (only leechers find them)\n"
             "  --seed-found       every leecher announce also reaches its swarm's first seed\n"
             "  --turnover F       drop this share of connections at each announce near the limit (0.04)\n"
             "  --local-start      P4P: localized rows until the first solve (default: the default matrix)\n"
             "  --itracker-down T  P4P: the iTracker stops answering at T s (never)\n"
             "  --max-staleness S  P4P: the tracker uses its last guidance S s more, then stock (7200)\n"
             "  --external F       share of leechers outside the provider (0)\n"
             "  --peering POP      where external peers enter (best connected PoP)\n"
             "  --access D/U       every leecher gets D kbit/s down, U up (provider's classes)\n"
             "  --stream-kbps R    live stream at R kbit/s instead of a file (0)\n"
             "  --stream-window S  streaming: fetch at most S s ahead (30)\n"
             "  --deadline S       streaming: a unit is on time within S s of its birth (30)\n"
             "  --max-time S       end of the run (14400)\n"
             "  --numwant N        peers asked for per announce (50)\n"
             "  --max-conns N      connections a leecher keeps at most (80)\n"
             "  --tcp-window-kb X  per-connection window; 0 = no TCP limit (64)\n"
             "  --access-rtt-ms X  last-mile RTT (20)\n"
             "  --optimize-s X     P4P re-solve period (30)\n"
             "  --watch A-B        link to report over time (ATLA-IPLS)\n"
             "  --seed N           random seed (1)\n"
             "  --recompute-delay S  flow-set changes within S are solved together (0.5)\n"
             "  --out PREFIX       output files: .json, .ct, .ts, .links (default: summary only)\n"
             "  --quiet            no progress on stderr\n");
}

struct progress_arg {
  const char *name;
};

static void progress(void *arg, double now, size_t done, size_t total) {
  const struct progress_arg *a = arg;
  fprintf(stderr, "\r  %-28s t=%6.0fs  done %zu/%zu   ", a->name, now, done, total);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x))
    return isnan(y) ? 0 : 1;
  if (isnan(y))
    return -1;
  return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double q) {
  if (!n)
    return NAN;
  double pos = q * (double)(n - 1);
  size_t i   = (size_t)pos;
  return i + 1 < n ? sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

static const char *mode_name(enum sim_mode m) { return m == SIM_NATIVE ? "native" : m == SIM_P4P ? "p4p" : "localized"; }

static void json_num(FILE *f, const char *key, double v, int last) {
  if (isfinite(v))
    fprintf(f, "  \"%s\": %.10g%s\n", key, v, last ? "" : ",");
  else
    fprintf(f, "  \"%s\": null%s\n", key, last ? "" : ",");
}

static int write_outputs(const char *prefix, const struct sim_config *c, const struct sim_result *r, double *sorted) {
  char path[1024];
  snprintf(path, sizeof path, "%s.ct", prefix);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  for (size_t k = 0; k < r->ncompleted; ++k)
    fprintf(f, "%.3f %.6f\n", sorted[k], (double)(k + 1) / (double)r->nleechers);
  fclose(f);
  snprintf(path, sizeof path, "%s.ts", prefix);
  if (!(f = fopen(path, "w")))
    return -1;
  fprintf(f, "# time_s max_link_util watched_link_util leechers_left first_seeds_connections\n");
  for (size_t k = 0; k < r->nsamples; ++k)
    fprintf(f, "%.1f %.6f %.6f %.0f %.0f\n", r->ts_time[k], r->ts_maxutil[k], r->ts_watch[k], r->ts_leechers[k], r->ts_seedconns[k]);
  fclose(f);
  snprintf(path, sizeof path, "%s.links", prefix);
  if (!(f = fopen(path, "w")))
    return -1;
  fprintf(f, "# utilization of every directed link (background included), 10-s averages\n# time_s");
  for (int e = 0; e < r->nlinks; ++e)
    fprintf(f, " %s", r->link_names[e]);
  fprintf(f, "\n");
  for (size_t k = 0; k < r->nsamples; ++k) {
    fprintf(f, "%.1f", r->ts_time[k]);
    for (int e = 0; e < r->nlinks; ++e)
      fprintf(f, " %.5f", r->ts_links[k * (size_t)r->nlinks + (size_t)e]);
    fprintf(f, "\n");
  }
  fclose(f);
  snprintf(path, sizeof path, "%s.json", prefix);
  if (!(f = fopen(path, "w")))
    return -1;
  size_t n    = r->ncompleted;
  double mean = 0;
  for (size_t k = 0; k < n; ++k)
    mean += sorted[k];
  mean           = n ? mean / (double)n : NAN;
  size_t busiest = 0;
  for (int e = 1; e < r->nlinks; ++e)
    if (r->link_bytes[e] > r->link_bytes[busiest])
      busiest = (size_t)e;
  double picks = (double)(r->select_same_pid + r->select_other_pid + r->select_random);
  fprintf(f, "{\n  \"mode\": \"%s\",\n  \"provider\": \"%s\",\n  \"busiest_link\": \"%s\",\n", mode_name(c->mode), c->provider_path,
          r->nlinks ? r->link_names[busiest] : "");
  json_num(f, "random_fraction", c->mode == SIM_NATIVE ? 1.0 : c->random_fraction, 0);
  json_num(f, "peers_per_swarm", (double)c->peers_per_swarm, 0);
  json_num(f, "swarms", c->nswarms, 0);
  json_num(f, "seed", (double)c->seed, 0);
  json_num(f, "leechers", (double)r->nleechers, 0);
  json_num(f, "completed", (double)r->ncompleted, 0);
  json_num(f, "completion_mean_s", mean, 0);
  json_num(f, "completion_p10_s", percentile(sorted, n, 0.10), 0);
  json_num(f, "completion_p50_s", percentile(sorted, n, 0.50), 0);
  json_num(f, "completion_p90_s", percentile(sorted, n, 0.90), 0);
  json_num(f, "completion_max_s", n ? sorted[n - 1] : NAN, 0);
  json_num(f, "end_time_s", r->end_time, 0);
  json_num(f, "peak_max_link_util", r->peak_maxutil, 0);
  json_num(f, "mean_max_link_util", r->mean_maxutil, 0);
  json_num(f, "peak_watch_util", r->watch_ab >= 0 ? r->peak_watch : NAN, 0);
  json_num(f, "mean_watch_util", r->watch_ab >= 0 ? r->mean_watch : NAN, 0);
  json_num(f, "total_bytes", r->bytes_total, 0);
  json_num(f, "backbone_bytes", r->bytes_backbone, 0);
  json_num(f, "byte_hops", r->byte_hops, 0);
  json_num(f, "busiest_link_bytes", r->nlinks ? r->link_bytes[busiest] : 0, 0);
  json_num(f, "intra_pid_share", r->bytes_total > 0 ? r->bytes_intra_pid / r->bytes_total : NAN, 0);
  json_num(f, "external_bytes", r->bytes_external, 0);
  json_num(f, "stream_on_time_share", r->stream_units_due > 0 ? r->stream_units_on_time / r->stream_units_due : NAN, 0);
  json_num(f, "stream_received_kbps_per_peer", c->stream_kbps > 0 && r->end_time > 0 ? r->stream_bytes * 8 / 1000 / r->end_time / (double)r->nleechers : NAN,
           0);
  json_num(f, "seed_found", c->seed_found, 0);
  json_num(f, "itracker_down_s", c->itracker_down_s, 0);
  json_num(f, "intra_pop_share", r->bytes_total > 0 ? r->bytes_intra_pop / r->bytes_total : NAN, 0);
  json_num(f, "seed_upload_share", r->bytes_total > 0 ? r->bytes_from_seeds / r->bytes_total : NAN, 0);
  json_num(f, "seed_peak_connections", (double)r->seed_peak_conns, 0);
  json_num(f, "hops_per_byte", r->bytes_total > 0 ? r->byte_hops / r->bytes_total : NAN, 0);
  json_num(f, "selected_same_pid_share", picks > 0 ? (double)r->select_same_pid / picks : NAN, 0);
  json_num(f, "selected_random_share", picks > 0 ? (double)r->select_random / picks : NAN, 0);
  double guided = (double)(r->select_same_pid + r->select_other_pid);
  json_num(f, "guided_same_pop_share", guided > 0 ? (double)r->select_same_pop / guided : NAN, 0);
  json_num(f, "optimizer_solves", (double)r->optimizer_solves, 0);
  json_num(f, "optimizer_last_mlu", r->last_opt_mlu, 0);
  json_num(f, "rate_solves", (double)r->rate_solves, 0);
  json_num(f, "unit_transfers", (double)r->unit_transfers, 0);
  json_num(f, "events", (double)r->events, 0);
  fprintf(f, "  \"link_bytes\": {");
  for (int e = 0; e < r->nlinks; ++e)
    fprintf(f, "%s\"%s\": %.0f", e ? ", " : "", r->link_names[e], r->link_bytes[e]);
  fprintf(f, "},\n  \"link_capacity_kbps\": {");
  for (int e = 0; e < r->nlinks; ++e)
    fprintf(f, "%s\"%s\": %.0f", e ? ", " : "", r->link_names[e], r->link_capacity[e]);
  fprintf(f, "},\n  \"link_background_kbps\": {");
  for (int e = 0; e < r->nlinks; ++e)
    fprintf(f, "%s\"%s\": %.0f", e ? ", " : "", r->link_names[e], r->link_background[e]);
  fprintf(f, "}\n}\n");
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  struct sim_config c;
  const char       *out   = NULL;
  int               quiet = 0;
  sim_config_defaults(&c);
  static const struct option opts[] = {{"provider", 1, 0, 'p'},
                                       {"mode", 1, 0, 'm'},
                                       {"eps", 1, 0, 'e'},
                                       {"peers", 1, 0, 'n'},
                                       {"swarms", 1, 0, 'k'},
                                       {"file-mb", 1, 0, 'F'},
                                       {"block-kb", 1, 0, 'B'},
                                       {"unit-blocks", 1, 0, 'U'},
                                       {"seed-kbps", 1, 0, 'S'},
                                       {"stay", 1, 0, 's'},
                                       {"background", 1, 0, 'b'},
                                       {"tcp-window-kb", 1, 0, 'w'},
                                       {"access-rtt-ms", 1, 0, 'r'},
                                       {"optimize-s", 1, 0, 'O'},
                                       {"watch", 1, 0, 'W'},
                                       {"seed", 1, 0, 'R'},
                                       {"recompute-delay", 1, 0, 'D'},
                                       {"slot-kbps", 1, 0, 'L'},
                                       {"out", 1, 0, 'o'},
                                       {"quiet", 0, 0, 'q'},
                                       {"help", 0, 0, 'h'},
                                       {"gravity", 1, 0, 'G'},
                                       {"masses", 1, 0, 'M'},
                                       {"announce-s", 1, 0, 'A'},
                                       {"no-seed-announce", 0, 0, 'N'},
                                       {"seed-found", 0, 0, 'f'},
                                       {"itracker-down", 1, 0, 'd'},
                                       {"max-staleness", 1, 0, 'z'},
                                       {"external", 1, 0, 'x'},
                                       {"peering", 1, 0, 'P'},
                                       {"access", 1, 0, 'a'},
                                       {"stream-kbps", 1, 0, 'V'},
                                       {"stream-window", 1, 0, 'Y'},
                                       {"deadline", 1, 0, 'y'},
                                       {"max-time", 1, 0, 'T'},
                                       {"turnover", 1, 0, 'u'},
                                       {"local-start", 0, 0, 'l'},
                                       {"numwant", 1, 0, 'W' + 256},
                                       {"max-conns", 1, 0, 'C'},
                                       {0, 0, 0, 0}};
  int                        o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'p':
      c.provider_path = optarg;
      break;
    case 'm':
      if (!strcmp(optarg, "native"))
        c.mode = SIM_NATIVE;
      else if (!strcmp(optarg, "p4p"))
        c.mode = SIM_P4P;
      else if (!strcmp(optarg, "localized"))
        c.mode = SIM_LOCALIZED;
      else {
        fprintf(stderr, "p4psim: unknown mode %s\n", optarg);
        return 2;
      }
      break;
    case 'e':
      c.random_fraction = atof(optarg);
      break;
    case 'n':
      c.peers_per_swarm = (size_t)atol(optarg);
      break;
    case 'k':
      c.nswarms = atoi(optarg);
      break;
    case 'F':
      c.file_mb = atof(optarg);
      break;
    case 'B':
      c.block_kb = atof(optarg);
      break;
    case 'U':
      c.blocks_per_unit = (unsigned)atoi(optarg);
      break;
    case 'S':
      c.seed_up_kbps = atof(optarg);
      break;
    case 's':
      c.seed_stay_s = atof(optarg);
      break;
    case 'b':
      c.background_frac = atof(optarg);
      break;
    case 'w':
      c.tcp_window_kb = atof(optarg);
      break;
    case 'r':
      c.access_rtt_ms = atof(optarg);
      break;
    case 'O':
      c.optimize_s = atof(optarg);
      break;
    case 'W':
      c.watch_link = optarg;
      break;
    case 'R':
      c.seed = strtoull(optarg, NULL, 10);
      break;
    case 'L':
      c.slot_kbps = atof(optarg);
      break;
    case 'D':
      c.recompute_delay_s = atof(optarg);
      break;
    case 'o':
      out = optarg;
      break;
    case 'G':
      c.gravity_peak = atof(optarg);
      break;
    case 'M':
      c.masses_path = optarg;
      break;
    case 'A':
      c.announce_s = atof(optarg);
      break;
    case 'N':
      c.seeds_announce = 0;
      break;
    case 'f':
      c.seed_found = 1;
      break;
    case 'd':
      c.itracker_down_s = atof(optarg);
      break;
    case 'z':
      c.max_staleness_s = atof(optarg);
      break;
    case 'x':
      c.external_frac = atof(optarg);
      break;
    case 'P':
      c.peering_pop = optarg;
      break;
    case 'a':
      if (sscanf(optarg, "%lf/%lf", &c.access_down_kbps, &c.access_up_kbps) != 2 || !(c.access_down_kbps > 0) || !(c.access_up_kbps > 0)) {
        fprintf(stderr, "p4psim: --access wants DOWN/UP in kbit/s\n");
        return 2;
      }
      break;
    case 'V':
      c.stream_kbps = atof(optarg);
      break;
    case 'Y':
      c.stream_window_s = atof(optarg);
      break;
    case 'y':
      c.stream_deadline_s = atof(optarg);
      break;
    case 'T':
      c.max_time_s = atof(optarg);
      break;
    case 'u':
      c.turnover_frac = atof(optarg);
      break;
    case 'l':
      c.p4p_local_start = 1;
      break;
    case 'W' + 256:
      c.numwant = (unsigned)atoi(optarg);
      break;
    case 'C':
      c.max_conns = (unsigned)atoi(optarg);
      break;
    case 'q':
      quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (!c.provider_path || c.blocks_per_unit < 1) {
    usage(stderr);
    return 2;
  }
  struct sim_result   r;
  char                err[512];
  struct progress_arg pa = {out ? out : mode_name(c.mode)};
  if (sim_run(&c, &r, quiet ? NULL : progress, &pa, err, sizeof err)) {
    fprintf(stderr, "p4psim: %s\n", err);
    return 1;
  }
  if (!quiet)
    fprintf(stderr, "\n");
  double *sorted = malloc((r.nleechers + 1) * sizeof *sorted);
  if (!sorted) {
    fprintf(stderr, "p4psim: out of memory\n");
    return 1;
  }
  memcpy(sorted, r.completion_s, r.nleechers * sizeof *sorted);
  qsort(sorted, r.nleechers, sizeof *sorted, cmp_double);
  double mean = 0;
  for (size_t k = 0; k < r.ncompleted; ++k)
    mean += sorted[k];
  mean = r.ncompleted ? mean / (double)r.ncompleted : NAN;
  printf("%s eps=%.2f peers=%zu: completed %zu/%zu, mean %.1f s, p90 %.1f s, peak max-link util %.4f, "
         "backbone %.1f GB, hops/byte %.3f, intra-PID %.1f%%, %zu rate solves, %zu events\n",
         mode_name(c.mode), c.mode == SIM_NATIVE ? 1.0 : c.random_fraction, c.peers_per_swarm, r.ncompleted, r.nleechers, mean,
         percentile(sorted, r.ncompleted, 0.9), r.peak_maxutil, r.bytes_backbone / 1e9, r.bytes_total > 0 ? r.byte_hops / r.bytes_total : 0,
         r.bytes_total > 0 ? 100 * r.bytes_intra_pid / r.bytes_total : 0, r.rate_solves, r.events);
  int rc = 0;
  if (out && write_outputs(out, &c, &r, sorted)) {
    fprintf(stderr, "p4psim: cannot write %s.*\n", out);
    rc = 1;
  }
  free(sorted);
  sim_result_free(&r);
  return rc;
}
