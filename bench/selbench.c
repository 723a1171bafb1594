/* selbench: the announce logic's cost per call, stock against the fork.
 *
 * Links upstream's own tracker objects (everything but opentracker.c's
 * main), so what is timed is exactly add_peer_to_torrent_and_return_peers():
 * find the swarm, renew the peer, select numwant peers, write the reply.
 * Built twice from this file: against stock objects, and against the
 * patched objects plus libp4p (-DSELBENCH_P4P), where it runs with P4P off,
 * and on with a default matrix.  Swarm sizes 300, 10k and 100k IPv4 peers,
 * 16 PIDs, numwant 50; requesters are re-announcing members. */
#include <malloc.h>
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
  p[12]         = 10;
  p[13]         = (uint8_t)((i % NPIDS) << 4 | ((i / NPIDS) >> 16 & 0x0f));
  p[14]         = (uint8_t)(i / NPIDS >> 8);
  p[15]         = (uint8_t)(i / NPIDS);
  p[16]         = 0x1a;
  p[17]         = 0xe1;
}

#ifdef SELBENCH_P4P
/* P4P off (an empty snapshot, with_map 0), or 16 PIDs (10.<16j>/12) with
 * a default matrix keeping 0.7 of each row local, through the module's own
 * loader.  with_map 2: another map, the first /24 of each PID's /12 given to
 * the next PID (a reload that changes the map: every list is arranged anew
 * on its next announce). */
static void publish(int with_map) {
  struct p4p_pidmap_msg   map = {0};
  struct p4p_guidance_msg g   = {.has_default = 1};
  struct p4p_prefix       pfx[NPIDS][2];
  struct p4p_pid_entry    pids[NPIDS];
  char                    err[256];

  snprintf(map.version, sizeof map.version, "%s", with_map == 2 ? "selbench-2" : "selbench");
  snprintf(g.version, sizeof g.version, "%s", map.version);

  map.npids = with_map ? NPIDS : 0;
  map.pids  = pids;
  proto_matrix_alloc(&g.default_weights, NPIDS);
  for (unsigned j = 0; j < NPIDS; ++j) {
    unsigned from = (j + NPIDS - 1) % NPIDS; /* the PID whose first /24 this one gets */
    pfx[j][0]     = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (uint8_t)(j << 4), 0, 0}, .bits = 96 + 12};
    pfx[j][1]     = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (uint8_t)(from << 4), 0, 0}, .bits = 96 + 24};
    pids[j]       = (struct p4p_pid_entry){.asid = 64512, .nprefixes = with_map == 2 ? 2 : 1, .prefixes = pfx[j]};
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

/* The thread's own CPU time: on a shared machine, time spent descheduled
 * is not the announce's. */
static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

/* The timed announces, a function of their own so that callgrind can count
 * exactly them (valgrind --tool=callgrind --toggle-collect=timed_calls). */
static __attribute__((noinline)) void timed_calls(struct ot_workstruct *ws, uint32_t n, unsigned calls) {
  unsigned short rs[3] = {1, 2, 3};
  for (unsigned c = 0; c < calls; ++c) {
    peer_address(ws, (uint32_t)(nrand48(rs) % n));
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 50);
  }
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

  /* SELBENCH_CALLS: fewer calls, for runs under callgrind */
  const char *env   = getenv("SELBENCH_CALLS");
  unsigned    calls = env ? (unsigned)strtoul(env, NULL, 10) : n < 20000 ? 200000 : 100000;
  double      t0    = now_ns();
  timed_calls(ws, n, calls ? calls : 1);
  return (now_ns() - t0) / (calls ? calls : 1);
}

/* Heap in use (every arena, mmapped chunks included), and a line of
 * /proc/self/status in kB. */
static double heap_bytes(void) {
  struct mallinfo2 m = mallinfo2();
  return (double)m.uordblks + (double)m.hblkhd;
}

static long status_kb(const char *key) {
  char   line[256];
  long   kb = -1;
  FILE  *f  = fopen("/proc/self/status", "r");
  size_t n  = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':')
      kb = strtol(line + n + 1, NULL, 10);
  if (f)
    fclose(f);
  return kb;
}

#ifdef SELBENCH_P4P
/* A map of 1024 PIDs: PID j is 10.0.0.0/8's j-th /18; and, if nswarms,
 * per-swarm guidance for swarms "mem-<k>" with a 1x1 matrix each (issue 15.4). */
static void publish_big_map(size_t nswarms) {
  enum { BIG = 1024 };
  static struct p4p_prefix    pfx[BIG];
  static struct p4p_pid_entry pids[BIG];
  struct p4p_pidmap_msg       map = {.version = "selbench-1024", .npids = BIG, .pids = pids};
  struct p4p_guidance_msg     g   = {.version = "selbench-swarms", .nswarms = nswarms};
  char                        err[256];

  for (unsigned j = 0; j < BIG; ++j) {
    uint32_t a = 10u << 24 | j << 14;
    pfx[j]     = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, 0}, .bits = 96 + 18};
    pids[j]    = (struct p4p_pid_entry){.asid = 64512, .nprefixes = 1, .prefixes = &pfx[j]};
    snprintf(pids[j].name, sizeof pids[j].name, "pid%u", j);
  }
  if (nswarms && !(g.swarms = calloc(nswarms, sizeof *g.swarms)))
    exit(1);
  for (size_t k = 0; k < nswarms; ++k) {
    snprintf((char *)g.swarms[k].info_hash, P4P_HASH_SIZE, "mem-%zu", k);
    proto_matrix_alloc(&g.swarms[k].weights, 1);
    snprintf(g.swarms[k].weights.pids[0], P4P_NAME_MAX, "pid%zu", k % BIG);
    g.swarms[k].weights.v[0] = 1;
  }
  if (p4p_embed_publish(&map, nswarms ? &g : NULL, 0.2, err, sizeof err)) {
    fprintf(stderr, "selbench: %s\n", err);
    exit(1);
  }
  for (size_t k = 0; k < nswarms; ++k)
    proto_matrix_free(&g.swarms[k].weights);
  free(g.swarms);
}
#endif

/* Issue 15.4: 20,000 torrents of one peer each, the peer of torrent t in
 * PID t mod 1024 (fork: with the 1024-PID map loaded).  Heap per torrent. */
static void mem_pidmap(struct ot_workstruct *ws, const char *mode) {
  enum { TORRENTS = 20000 };
  ot_hash hash;
  double  h0 = heap_bytes();
  long    r0 = status_kb("RssAnon");
  for (uint32_t t = 0; t < TORRENTS; ++t) {
    uint32_t a = 10u << 24 | (t % 1024) << 14 | t / 1024;
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "one-%u", t);
    ws->hash = &hash;
    memset(ws->peer, 0, sizeof ws->peer);
    ws->peer[10] = ws->peer[11] = 0xff;
    ws->peer[12] = (uint8_t)(a >> 24), ws->peer[13] = (uint8_t)(a >> 16), ws->peer[14] = (uint8_t)(a >> 8), ws->peer[15] = (uint8_t)a;
    ws->peer[16] = 0x1a, ws->peer[17] = 0xe1;
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 50);
  }
  printf("mem-pidmap %s torrents %d heap_bytes_per_torrent %.0f heap_mb %.1f rssanon_mb %.1f\n", mode, TORRENTS, (heap_bytes() - h0) / TORRENTS,
         (heap_bytes() - h0) / 1048576, (status_kb("RssAnon") - r0) / 1024.0);
}

/* One announce of member 0 of every scale swarm (numwant 50): each list is
 * touched, so the fork arranges it for the current map. */
static void touch_all(struct ot_workstruct *ws, uint32_t swarms) {
  ot_hash hash;
  for (uint32_t s = 0; s < swarms; ++s) {
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "scale-%u", s);
    ws->hash = &hash;
    peer_address(ws, 0);
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 50);
  }
}

/* Heap per peer with swarms x peers IPv4 peers, and again after `reloads`
 * reloads that each change the map (the fork: every list arranged anew on
 * its next announce, the old snapshots freed): what stays behind. */
static void reload(struct ot_workstruct *ws, const char *mode, uint32_t swarms, uint32_t peers, unsigned reloads) {
  ot_hash hash;
  double  h0 = heap_bytes(), n = (double)swarms * peers;
  for (uint32_t s = 0; s < swarms; ++s) {
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "scale-%u", s);
    ws->hash = &hash;
    for (uint32_t i = 0; i < peers; ++i) {
      peer_address(ws, i);
      add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 0);
    }
  }
  g_now_seconds += 61;
  touch_all(ws, swarms);
  double full = heap_bytes() - h0;
  for (unsigned r = 0; r < reloads; ++r) {
#ifdef SELBENCH_P4P
    publish(r % 2 ? 1 : 2);
#endif
    touch_all(ws, swarms);
  }
  double after = heap_bytes() - h0;
  printf("reload %s %ux%u peers %.0f reloads %u heap_bytes_per_peer_full %.2f heap_bytes_per_peer_after %.2f heap_mb_after %.1f\n", mode, swarms, peers, n,
         reloads, full / n, after / n, after / 1048576);
}

/* Heap per peer and ns per announce at scale: swarms x peers IPv4 peers
 * (16 PIDs in the fork), then re-announces of random members. */
static void scale(struct ot_workstruct *ws, const char *mode, uint32_t swarms, uint32_t peers) {
  ot_hash hash;
  double  h0 = heap_bytes(), t0 = now_ns();
  for (uint32_t s = 0; s < swarms; ++s) {
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "scale-%u", s);
    ws->hash = &hash;
    for (uint32_t i = 0; i < peers; ++i) {
      peer_address(ws, i);
      add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 0);
    }
  }
  double t_insert = now_ns() - t0, heap = heap_bytes() - h0;
  g_now_seconds += 61; /* let the cleaner arrange big lists: one untimed announce per swarm */
  for (uint32_t s = 0; s < swarms; ++s) {
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "scale-%u", s);
    ws->hash = &hash;
    peer_address(ws, 0);
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 0);
  }
  unsigned short rs[3] = {4, 5, 6};
  unsigned       calls = 200000;
  t0                   = now_ns();
  for (unsigned c = 0; c < calls; ++c) {
    memset(hash, 0, sizeof hash);
    snprintf((char *)hash, sizeof hash, "scale-%u", (unsigned)(nrand48(rs) % swarms));
    ws->hash = &hash;
    peer_address(ws, (uint32_t)(nrand48(rs) % peers));
    add_peer_to_torrent_and_return_peers(FLAG_UDP, ws, 50);
  }
  double ns = (now_ns() - t0) / calls;
  printf("scale %s %ux%u peers %.0f heap_mb %.1f heap_bytes_per_peer %.1f insert_ns_per_peer %.0f ns_per_announce %.0f rss_mb %.1f\n", mode, swarms, peers,
         (double)swarms * peers, heap / 1048576, heap / ((double)swarms * peers), t_insert / ((double)swarms * peers), ns, status_kb("VmRSS") / 1024.0);
}

int main(int argc, char **argv) {
  uint32_t             sizes[] = {300, 10000, 100000};
  struct ot_workstruct ws;
  const char          *label  = argc > 1 ? argv[1] : "run";
  size_t               nsizes = 3;

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
  /* selbench mem-pidmap | mem-guidance | scale SWARMS PEERS [off] | reload SWARMS PEERS RELOADS */
  if (argc > 1 && !strcmp(argv[1], "mem-pidmap")) {
#ifdef SELBENCH_P4P
    publish_big_map(0);
    mem_pidmap(&ws, "fork-p4p-1024-pids");
    p4p_embed_reset();
#else
    mem_pidmap(&ws, "stock");
#endif
    return 0;
  }
#ifdef SELBENCH_P4P
  if (argc > 1 && !strcmp(argv[1], "mem-guidance")) {
    double h0 = heap_bytes();
    long   v0 = status_kb("VmSize");
    publish_big_map(1000);
    printf("mem-guidance fork 1024-pids 1000-swarms-1x1 heap_mb %.1f vmsize_mb %.1f\n", (heap_bytes() - h0) / 1048576, (status_kb("VmSize") - v0) / 1024.0);
    p4p_embed_reset();
    return 0;
  }
#endif
  /* selbench reload SWARMS PEERS RELOADS */
  if (argc > 4 && !strcmp(argv[1], "reload")) {
    const char *mode = "stock";
#ifdef SELBENCH_P4P
    publish(1);
    mode = "fork-p4p-default";
#endif
    reload(&ws, mode, (uint32_t)strtoul(argv[2], NULL, 10), (uint32_t)strtoul(argv[3], NULL, 10), (unsigned)strtoul(argv[4], NULL, 10));
#ifdef SELBENCH_P4P
    p4p_embed_reset();
#endif
    return 0;
  }
  if (argc > 3 && !strcmp(argv[1], "scale")) {
    const char *mode = "stock";
#ifdef SELBENCH_P4P
    int off = argc > 4 && !strcmp(argv[4], "off");
    publish(!off);
    mode = off ? "fork-p4p-off" : "fork-p4p-default";
#endif
    scale(&ws, mode, (uint32_t)strtoul(argv[2], NULL, 10), (uint32_t)strtoul(argv[3], NULL, 10));
    return 0;
  }
#ifdef SELBENCH_P4P
  /* SELBENCH_MODE=off or default: that mode only (callgrind counts one) */
  static const char *modes[] = {"fork-p4p-off", "fork-p4p-default"};
  const char        *only    = getenv("SELBENCH_MODE");
  for (int m = 0; m < 2; ++m) {
    if (only && strcmp(only, m ? "default" : "off"))
      continue;
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
