/* p4p-loadgen: load generator for BitTorrent trackers (BEP 15 UDP and HTTP),
 * after the aquatic load-test method: many swarms of fixed size, every peer
 * announcing from its own loopback address, requests skewed towards popular
 * swarms, one scrape per ~100 announces, a warm-up that fills the swarms and
 * then a timed closed-loop run.  Prints one JSON object on stdout. */
#include "lg_engine.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
  fputs("usage: p4p-loadgen [options]\n"
        "  --proto udp|http     request engine (udp)\n"
        "  --family 4|6         address family of the peers (4)\n"
        "  --target ADDR        tracker address (127.0.0.1 or ::1)\n"
        "  --port N             tracker port (6969)\n"
        "  --swarms N           number of swarms (1000)\n"
        "  --peers N            peers per swarm (300)\n"
        "  --seeders F          share of peers that seed (0.25)\n"
        "  --numwant N          peers asked for per announce (50)\n"
        "  --zipf S             request popularity of swarm rank k ~ 1/(k+1)^S (1.0)\n"
        "  --scrape-every N     one scrape per N announces, 0: none (100)\n"
        "  --window N           requests in flight (udp 128, http 32)\n"
        "  --warmup             first announce every peer once with event=started\n"
        "  --duration SEC       length of the timed run (0: none)\n"
        "  --timeout-ms N       a request unanswered this long is lost (1000)\n"
        "  --seed N             random seed of the request stream (1)\n"
        "  --label TEXT         copied into the JSON output\n"
        "  --watch-pid PID      report the CPU seconds this process (the tracker) used per phase\n"
        "  --connids FILE       UDP: save connection ids after the warm-up, or load them without one\n"
        "  --spin               wait for answers without sleeping (keeps the core on a busy machine)\n"
        "  --list-swarms N      print the info hashes of the N most popular swarms, hex, and exit\n"
        "IPv6 peers use fd00:1::/64: route it to lo first (ip -6 route add local fd00:1::/64 dev lo),\n"
        "best inside a network namespace.\n",
        out);
}

static int parse_target(const char *s, int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family         = AF_INET;
    sin->sin_port           = htons(port);
    *len                    = sizeof(*sin);
    return inet_pton(AF_INET, s, &sin->sin_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family         = AF_INET6;
  sin6->sin6_port           = htons(port);
  *len                      = sizeof(*sin6);
  return inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static void print_phase(const char *name, const struct lg_stats *s, int present) {
  printf(",\"%s\":", name);
  if (present)
    lg_stats_json(stdout, s);
  else
    fputs("null", stdout);
}

int main(int argc, char **argv) {
  struct lg_workload w = {
      .family = AF_INET, .swarms = 1000, .peers_per_swarm = 300, .seeder_share = 0.25, .numwant = 50, .zipf_exponent = 1.0, .scrape_every = 100};
  struct lg_run r     = {.w = &w, .timeout_ms = 1000, .seed = 1};
  const char   *proto = "udp", *target = NULL, *label = "";
  unsigned long port = 6969, list_swarms = 0;
  enum {
    O_PROTO = 256,
    O_FAMILY,
    O_TARGET,
    O_PORT,
    O_SWARMS,
    O_PEERS,
    O_SEEDERS,
    O_NUMWANT,
    O_ZIPF,
    O_SCRAPE,
    O_WINDOW,
    O_WARMUP,
    O_DURATION,
    O_TIMEOUT,
    O_SEED,
    O_LABEL,
    O_LIST,
    O_WATCH,
    O_CONNIDS,
    O_SPIN,
    O_HELP
  };
  static const struct option opts[] = {{"proto", 1, 0, O_PROTO},       {"family", 1, 0, O_FAMILY},
                                       {"target", 1, 0, O_TARGET},     {"port", 1, 0, O_PORT},
                                       {"swarms", 1, 0, O_SWARMS},     {"peers", 1, 0, O_PEERS},
                                       {"seeders", 1, 0, O_SEEDERS},   {"numwant", 1, 0, O_NUMWANT},
                                       {"zipf", 1, 0, O_ZIPF},         {"scrape-every", 1, 0, O_SCRAPE},
                                       {"window", 1, 0, O_WINDOW},     {"warmup", 0, 0, O_WARMUP},
                                       {"duration", 1, 0, O_DURATION}, {"timeout-ms", 1, 0, O_TIMEOUT},
                                       {"seed", 1, 0, O_SEED},         {"label", 1, 0, O_LABEL},
                                       {"list-swarms", 1, 0, O_LIST},  {"help", 0, 0, O_HELP},
                                       {"watch-pid", 1, 0, O_WATCH},   {"connids", 1, 0, O_CONNIDS},
                                       {"spin", 0, 0, O_SPIN},         {0, 0, 0, 0}};
  int                        o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case O_PROTO:
      proto = optarg;
      break;
    case O_FAMILY:
      w.family = atoi(optarg) == 6 ? AF_INET6 : atoi(optarg) == 4 ? AF_INET : -1;
      break;
    case O_TARGET:
      target = optarg;
      break;
    case O_PORT:
      port = strtoul(optarg, NULL, 10);
      break;
    case O_SWARMS:
      w.swarms = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_PEERS:
      w.peers_per_swarm = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_SEEDERS:
      w.seeder_share = atof(optarg);
      break;
    case O_NUMWANT:
      w.numwant = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_ZIPF:
      w.zipf_exponent = atof(optarg);
      break;
    case O_SCRAPE:
      w.scrape_every = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_WINDOW:
      r.window = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_WARMUP:
      r.warmup = 1;
      break;
    case O_DURATION:
      r.duration = atof(optarg);
      break;
    case O_TIMEOUT:
      r.timeout_ms = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case O_SEED:
      r.seed = strtoull(optarg, NULL, 10);
      break;
    case O_LABEL:
      label = optarg;
      break;
    case O_LIST:
      list_swarms = strtoul(optarg, NULL, 10);
      break;
    case O_WATCH:
      r.watch_pid = atoi(optarg);
      break;
    case O_CONNIDS:
      r.connid_file = optarg;
      break;
    case O_SPIN:
      r.spin = 1;
      break;
    case O_HELP:
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  int is_udp = !strcmp(proto, "udp");
  if ((!is_udp && strcmp(proto, "http")) || port == 0 || port > 65535 || optind != argc) {
    usage(stderr);
    return 2;
  }
  if (list_swarms) {
    for (uint32_t s = 0; s < list_swarms && s < w.swarms; s++) {
      uint8_t h[20];
      lg_swarm_hash(s, h);
      for (int i = 0; i < 20; i++)
        printf("%02x", h[i]);
      putchar('\n');
    }
    return 0;
  }

  char err[256];
  if (lg_workload_init(&w, err, sizeof(err))) {
    fprintf(stderr, "p4p-loadgen: %s\n", err);
    return 2;
  }
  if (!target)
    target = w.family == AF_INET ? "127.0.0.1" : "::1";
  if (parse_target(target, w.family, (uint16_t)port, &r.target, &r.target_len)) {
    fprintf(stderr, "p4p-loadgen: %s is not an IPv%d address\n", target, w.family == AF_INET ? 4 : 6);
    return 2;
  }
  if (!r.window)
    r.window = is_udp ? 128 : 32;

  struct lg_stats warm, timed;
  if (lg_stats_init(&warm) || lg_stats_init(&timed)) {
    fprintf(stderr, "p4p-loadgen: out of memory\n");
    return 1;
  }
  int rc = is_udp ? lg_udp_run(&r, &warm, &timed, err, sizeof(err)) : lg_http_run(&r, &warm, &timed, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "p4p-loadgen: %s\n", err);
    lg_stats_free(&warm);
    lg_stats_free(&timed);
    lg_workload_free(&w);
    return 1;
  }
  printf("{\"label\":\"%s\",\"proto\":\"%s\",\"family\":%d,\"swarms\":%u,\"peers_per_swarm\":%u,"
         "\"peers\":%llu,\"seeder_share\":%.3f,\"numwant\":%u,\"zipf\":%.3f,\"scrape_every\":%u,\"window\":%u",
         label, proto, w.family == AF_INET ? 4 : 6, w.swarms, w.peers_per_swarm, (unsigned long long)lg_peer_count(&w), w.seeder_share, w.numwant,
         w.zipf_exponent, w.scrape_every, r.window);
  print_phase("warmup", &warm, r.warmup);
  print_phase("timed", &timed, r.duration > 0);
  puts("}");
  lg_stats_free(&warm);
  lg_stats_free(&timed);
  lg_workload_free(&w);
  return 0;
}
