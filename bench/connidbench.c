/* connidbench: the BEP 15 connection id check's cost per packet, stock
 * against the fork (patches/0006-udp-rotating-connection-ids.patch).
 *
 * Includes the tree's own ot_udp.c, so what is timed is its static id code
 * as compiled with the tracker's flags, and links the rest of the tree's
 * objects.  Built twice: against stock's tree, where a packet's check is
 * what handle_udp6() does (udp_make_connectionid() for this hour, and on a
 * mismatch again for the last hour), and against the fork's
 * (-DCONNIDBENCH_FORK), where it is udp_connid_valid().  Each case is a
 * noinline function, and one case can be run alone (arguments: checks,
 * v4|v6, valid|forged|expired), so that callgrind can count its
 * instructions per call too:
 *   valgrind --tool=callgrind build/p4p-connidbench 100000 v4 valid
 *   callgrind_annotate --inclusive=yes callgrind.out.* | grep case_check */
#include "ot_udp.c" /* first: it defines _GNU_SOURCE in the fork */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* What opentracker.c would define. */
time_t       g_now_seconds;
char        *g_redirecturl;
uint32_t     g_tracker_id;
volatile int g_opentracker_running = 1;
int          g_self_pipe[2];

#define NOINLINE __attribute__((noinline))

static void address(ot_ip6 ip, int v6, uint32_t i) {
  static const uint8_t v4[16]  = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0};
  static const uint8_t v6p[16] = {0xfd, 0, 0, 1};
  memcpy(ip, v6 ? v6p : v4, 16);
  ip[13] = (uint8_t)(i >> 16);
  ip[14] = (uint8_t)(i >> 8);
  ip[15] = (uint8_t)i;
}

#ifdef CONNIDBENCH_FORK
#define TREE "fork"
static NOINLINE void case_issue(uint32_t id[2], const ot_ip6 ip) { udp_connid_issue(id, ip); }
static NOINLINE int  case_check(const uint32_t id[2], const ot_ip6 ip) { return udp_connid_valid(id, ip); }
static void          expire(uint32_t id[2]) { id[0] = htonl(ntohl(id[0]) - UDP_CONNID_LIFETIME_DEFAULT - 1); }
#else
#define TREE "stock"
static NOINLINE void case_issue(uint32_t id[2], const ot_ip6 ip) { udp_make_connectionid(id, ip, 0); }
/* handle_udp6()'s check: this hour's id, then the last hour's */
static NOINLINE int case_check(const uint32_t id[2], const ot_ip6 ip) {
  uint32_t connid[2];
  udp_make_connectionid(connid, ip, 0);
  if (id[0] == connid[0] && id[1] == connid[1])
    return 1;
  udp_make_connectionid(connid, ip, 1);
  return id[0] == connid[0] && id[1] == connid[1];
}
static void expire(uint32_t id[2]) { (void)id; } /* upstream's ids never expire */
#endif

enum { VALID, FORGED, EXPIRED };

/* ns per check of n ids of kind from n addresses of the family */
static double time_check(int v6, int kind, uint32_t n, int *accepted) {
  struct timespec a, b;
  uint32_t        i, (*ids)[2] = malloc(n * sizeof *ids);
  ot_ip6          ip;
  int             ok = 0;

  for (i = 0; i < n; ++i) {
    address(ip, v6, i);
    case_issue(ids[i], ip);
    if (kind == FORGED)
      ids[i][1] ^= 1;
    if (kind == EXPIRED)
      expire(ids[i]);
  }
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (i = 0; i < n; ++i) {
    address(ip, v6, i);
    ok += case_check(ids[i], ip);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  free(ids);
  *accepted = ok;
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

static double time_issue(int v6, uint32_t n) {
  struct timespec a, b;
  uint32_t        i, id[2], sink = 0;
  ot_ip6          ip;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (i = 0; i < n; ++i) {
    address(ip, v6, i);
    case_issue(id, ip);
    sink ^= id[1];
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (sink == 0x12345678)
    puts("");
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  static const char *kinds[] = {"valid", "forged", "expired"};
  uint32_t           n       = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 2000000;
  const char        *family = argc > 2 ? argv[2] : NULL, *only = argc > 3 ? argv[3] : NULL;
  enum { ROUNDS = 5 };

  g_now_seconds = time(NULL);
  srandom(g_now_seconds);
  udp_init(-1, 0); /* keys, as the tracker sets them */

  printf("# %s, %u checks per round, median of %d rounds, ns per call\n", TREE, n, ROUNDS);
  for (int v6 = 0; v6 < 2; ++v6) {
    double t[ROUNDS];
    if (family && strcmp(family, v6 ? "v6" : "v4"))
      continue;
    for (int r = 0; r < ROUNDS; ++r)
      t[r] = time_issue(v6, n);
    qsort(t, ROUNDS, sizeof *t, by_value);
    printf("%s issue  %s %6.1f\n", TREE, v6 ? "v6" : "v4", t[ROUNDS / 2]);
    for (int kind = VALID; kind <= EXPIRED; ++kind) {
      int accepted = 0;
      if (only && strcmp(only, kinds[kind]))
        continue;
      for (int r = 0; r < ROUNDS; ++r)
        t[r] = time_check(v6, kind, n, &accepted);
      qsort(t, ROUNDS, sizeof *t, by_value);
      printf("%s check  %s %-10s %6.1f  (accepted %d of %u)\n", TREE, v6 ? "v6" : "v4", kinds[kind], t[ROUNDS / 2], accepted, n);
    }
  }
  return 0;
}
