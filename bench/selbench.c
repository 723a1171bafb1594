/* selbench: the announce logic's cost per call, stock against the fork.
 *
 * Links upstream's own tracker objects (everything but opentracker.c's
 * main), so what is timed is exactly add_peer_to_torrent_and_return_peers():
 * find the swarm, renew the peer, select numwant peers, write the reply.
 * Built twice from this file: against stock objects, and against the
 * patched objects plus libp4p (-DSELBENCH_P4P), where it runs with P4P off,
 * and on with a default matrix.  Swarm sizes 300, 10k and 100k IPv4 peers,
 * 16 PIDs, numwant 50; requesters are re-announcing members. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h" /* libowfat: ot_mutex.h needs int64 */
#include "ot_mutex.h"
#include "trackerlogic.h"

#ifdef SELBENCH_P4P
#include "p4p/p4p.h"
#include "proto/msg.h"
#endif

/* What opentracker.c would define. */
time_t       g_now_seconds;
char        *g_redirecturl;
uint32_t     g_tracker_id;
volatile int g_opentracker_running = 1;
int          g_self_pipe[2];

#define NPIDS 16

static void peer_address(struct ot_workstruct *ws, uint32_t i) {
  uint8_t *p = ws->peer;
  memset(p, 0, sizeof ws->peer);
  p[10] = p[11] = 0xff;
  /* 10.<pid*16 + ...>: PID = top 4 bits of the second byte */
  p[12] = 10;
  p[13] = (uint8_t)((i % NPIDS) << 4 | ((i / NPIDS) >> 16 & 0x0f));
  p[14] = (uint8_t)(i / NPIDS >> 8);
  p[15] = (uint8_t)(i / NPIDS);
  p[16] = 0x1a;
  p[17] = 0xe1;
}

#ifdef SELBENCH_P4P
/* P4P off (an empty snapshot), or 16 PIDs (10.<16j>/12) with a default
 * matrix keeping 0.7 of each row local, through the module's own loader. */
static void publish(int with_map) {
  struct p4p_pidmap_msg   map  = {.version = "selbench"};
  struct p4p_guidance_msg g    = {.version = "selbench", .has_default = 1};
  struct p4p_prefix       pfx[NPIDS];
  struct p4p_pid_entry    pids[NPIDS];
  char                    err[256];

  map.npids = with_map ? NPIDS : 0;
  map.pids  = pids;
  proto_matrix_alloc(&g.default_weights, NPIDS);
  for (unsigned j = 0; j < NPIDS; ++j) {
    pfx[j]  = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (uint8_t)(j << 4), 0, 0}, .bits = 96 + 12};
    pids[j] = (struct p4p_pid_entry){.asid = 64512, .nprefixes = 1, .prefixes = &pfx[j]};
    snprintf(pids[j].name, sizeof pids[j].name, "pid%u", j);
    snprintf(g.default_weights.pids[j], P4P_NAME_MAX, "pid%u", j);
    for (unsigned k = 0; k < NPIDS; ++k)
      g.default_weights.v[j * NPIDS + k] = j == k ? 0.7 : 0.3 / (NPIDS - 1);
  }
  if (p4p_embed_publish(with_map ? &map : NULL, with_map ? &g : NULL, 0.2, err, sizeof err)) {
    fprintf(stderr, "selbench: %s\n", err);
    exit(1);
  }
  proto_matrix_free(&g.default_weights);
}
#endif

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

/* ns per announce into a swarm of n peers, numwant 50. */
static double measure(const char *hash_seed, uint32_t n, struct ot_workstruct *ws) {
  ot_hash hash;
  memset(hash, 0, sizeof hash);
  snprintf((char *)hash, sizeof hash, "%s-%u", hash_seed, n);
  ws->hash = &hash;
  for (uint32_t i = 0; i < n; ++i) {
    peer_address(ws, i);
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 0);
  }
  /* Let the cleaner logic arrange big lists (it runs on announce once a
   * minute has passed since the list's base). */
  g_now_seconds += 61;
  peer_address(ws, 0);
  add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 0);

  unsigned       calls = n < 20000 ? 200000 : 100000;
  unsigned short rs[3] = {1, 2, 3};
  double         t0    = now_ns();
  for (unsigned c = 0; c < calls; ++c) {
    peer_address(ws, (uint32_t)(nrand48(rs) % n));
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 50);
  }
  return (now_ns() - t0) / calls;
}

int main(int argc, char **argv) {
  uint32_t sizes[] = {300, 10000, 100000};
  struct ot_workstruct  ws;
  const char           *label = argc > 1 ? argv[1] : "run";
  size_t                nsizes = 3;

  /* selbench LABEL [SIZE...]: swarm sizes to measure (default 300 10k 100k) */
  if (argc > 2) {
    nsizes = 0;
    for (int a = 2; a < argc && nsizes < 3; ++a)
      sizes[nsizes++] = (uint32_t)strtoul(argv[a], NULL, 10);
  }

  memset(&ws, 0, sizeof ws);
  ws.reply = ws.outbuf = malloc(G_OUTBUF_SIZE);
  ws.rand48_state[0]   = 42;
  g_now_seconds        = time(NULL);
  mutex_init();
#ifdef SELBENCH_P4P
  static const char *modes[] = {"fork-p4p-off", "fork-p4p-default"};
  for (int m = 0; m < 2; ++m) {
    publish(m);
    for (size_t s = 0; s < nsizes; ++s)
      printf("%s %s %u %.0f\n", label, modes[m], sizes[s], measure(modes[m], sizes[s], &ws));
  }
  p4p_embed_reset();
#else
  for (size_t s = 0; s < nsizes; ++s)
    printf("%s stock %u %.0f\n", label, sizes[s], measure("stock", sizes[s], &ws));
#endif
  return 0;
}
