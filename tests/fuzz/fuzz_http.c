/* libFuzzer harness: the patched tracker's HTTP request handling,
 * http_handle_request() of upstream's ot_http.c with the P4P patches:
 * the path and query decoding (scan_urlencoded_query), announce and scrape
 * parameters, /stats (mode=p4p included), and the announce path down into
 * p4p_select_peers with a two-PID snapshot.
 *
 * Linked with the fuzz build's objects of the patched tree (everything but
 * opentracker.c, whose main and globals are replaced here), as
 * bench/selbench.mk does.  No worker thread runs: a request that hands work
 * to one (full scrape, some /stats modes) has its task cancelled after the
 * call, as a connection closing early would.
 *
 * Input: 4 bytes choosing the client's address, then the request as read
 * from the socket (the harness passes it on only when upstream's
 * header_complete would, i.e. it holds an empty line). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "io.h" /* libowfat: ot_mutex.h needs int64 */
#include "iob.h"

/* upstream's headers are not self-contained: trackerlogic.h first */
#include "trackerlogic.h"

#include "ot_http.h"
#include "ot_mutex.h"

#include "p4p.h"
#include "proto/msg.h"

/* What opentracker.c would define. */
time_t       g_now_seconds;
char        *g_redirecturl;
uint32_t     g_tracker_id;
volatile int g_opentracker_running = 1;
int          g_self_pipe[2];

extern char   *g_stats_path;
extern ssize_t g_stats_path_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two PIDs, 10.0.0.0/9 + 2001:db8::/33 and 10.128.0.0/9, with a default
 * matrix: the announce path runs P4P's selection, not stock's. */
static void publish_snapshot(void) {
  struct p4p_prefix       pfx[3];
  struct p4p_pid_entry    pids[2];
  struct p4p_pidmap_msg   map = {.version = "fuzz", .npids = 2, .pids = pids};
  struct p4p_guidance_msg g   = {.version = "fuzz", .has_default = 1};
  char                    err[256];

  memset(pfx, 0, sizeof pfx);
  pfx[0].addr[10] = pfx[0].addr[11] = 0xff;
  pfx[0].addr[12]                   = 10;
  pfx[0].bits                       = 96 + 9;
  pfx[1]                            = pfx[0];
  pfx[1].addr[13]                   = 0x80;
  pfx[2].addr[0]                    = 0x20;
  pfx[2].addr[1]                    = 0x01;
  pfx[2].addr[2]                    = 0x0d;
  pfx[2].addr[3]                    = 0xb8;
  pfx[2].bits                       = 33;
  static struct p4p_prefix a[2];
  a[0]    = pfx[0];
  a[1]    = pfx[2];
  pids[0] = (struct p4p_pid_entry){.name = "near", .asid = 64512, .nprefixes = 2, .prefixes = a};
  pids[1] = (struct p4p_pid_entry){.name = "far", .asid = 64512, .nprefixes = 1, .prefixes = &pfx[1]};
  proto_matrix_alloc(&g.default_weights, 2);
  snprintf(g.default_weights.pids[0], P4P_NAME_MAX, "near");
  snprintf(g.default_weights.pids[1], P4P_NAME_MAX, "far");
  g.default_weights.v[0] = 0.8;
  g.default_weights.v[1] = 0.2;
  g.default_weights.v[2] = 0.3;
  g.default_weights.v[3] = 0.7;
  if (p4p_embed_publish(&map, &g, 0.1, err, sizeof err)) {
    fprintf(stderr, "fuzz_http: %s\n", err);
    abort();
  }
  proto_matrix_free(&g.default_weights);
}

/* Every torrent goes, so that state does not build up over millions of
 * inputs (as trackerlogic_deinit frees them). */
static void forget_torrents(void) {
  for (int bucket = 0; bucket < OT_BUCKET_COUNT; ++bucket) {
    ot_vector *torrents = mutex_bucket_lock(bucket);
    int        delta    = 0;
    for (size_t j = 0; j < torrents->size; ++j) {
      ot_torrent *t = ((ot_torrent *)torrents->data) + j;
      free_peerlist(t->peer_list6);
      free_peerlist(t->peer_list4);
      --delta;
    }
    free(torrents->data);
    torrents->data = NULL;
    torrents->size = torrents->space = 0;
    mutex_bucket_unlock(bucket, delta);
  }
}

static struct ot_workstruct ws;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  g_now_seconds    = time(NULL);
  g_stats_path     = "stats";
  g_stats_path_len = 5;
  mutex_init();
  publish_snapshot();
  ws.inbuf  = malloc(G_INBUF_SIZE);
  ws.outbuf = malloc(G_OUTBUF_SIZE);
#ifdef _DEBUG_HTTPERROR
  ws.debugbuf = malloc(G_DEBUGBUF_SIZE);
#endif
  ws.rand48_state[0] = 1;
  return 0;
}

/* upstream's header_complete (opentracker.c, static there) */
static ssize_t header_complete(const char *request, ssize_t byte_count) {
  ssize_t i = 0, state = 0;
  for (i = 1; i < byte_count; i += 2)
    if (request[i] <= 13) {
      i--;
      for (state = 0; i < byte_count; ++i) {
        char c = request[i];
        if (c == '\r' || c == '\n')
          state = (state >> 2) | ((c << 6) & 0xc0);
        else
          break;
        if (state >= 0xa0 || state == 0x99)
          return i + 1;
      }
    }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned long runs;
  if (size < 4 || size - 4 > G_INBUF_SIZE)
    return 0; /* upstream reads at most G_INBUF_SIZE bytes at once */
  if (++runs % 16384 == 0)
    forget_torrents();

  struct http_data *cookie = calloc(1, sizeof *cookie);
  int               sv[2];
  if (!cookie || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
    free(cookie);
    return 0;
  }
  /* the client: ::ffff:10.b1.b2.b3, or 2001:db8:b1b2::b3 when b0 >= 128 */
  if (data[0] < 128) {
    cookie->ip[10] = cookie->ip[11] = 0xff;
    cookie->ip[12]                  = 10;
    memcpy(cookie->ip + 13, data + 1, 3);
  } else {
    memcpy(cookie->ip, "\x20\x01\x0d\xb8", 4);
    cookie->ip[4]  = data[1];
    cookie->ip[5]  = data[2];
    cookie->ip[15] = data[3];
  }
  io_fd(sv[0]);
  io_setcookie(sv[0], cookie);
  fcntl(sv[1], F_SETFL, O_NONBLOCK);

  /* as handle_read does: the request in the input buffer, handled only once
   * its header is complete */
  ws.request      = ws.inbuf;
  ws.request_size = (ssize_t)(size - 4);
  memcpy(ws.inbuf, data + 4, size - 4);
  if ((ws.header_size = header_complete(ws.inbuf, ws.request_size))) {
    g_now_seconds = time(NULL);
    http_handle_request(sv[0], &ws);
  }

  /* http_senddata frees the cookie and closes the socket once it has
   * answered; a request handed to a worker (or not handled) left both */
  if (fcntl(sv[0], F_GETFD) != -1) {
    mutex_workqueue_canceltask(sv[0]);
    struct http_data *c = io_getcookie(sv[0]);
    if (c) {
      array_reset(&c->request);
      if (c->batch) {
        for (size_t i = 0; i < c->batches; ++i)
          iob_reset(c->batch + i);
        free(c->batch);
      }
      free(c);
    }
    io_close(sv[0]);
  }
  char sink[4096];
  while (read(sv[1], sink, sizeof sink) > 0)
    ;
  close(sv[1]);
  return 0;
}
