/* HTTP engine: every request on its own TCP connection from its peer's own
 * address, closed after the answer as BitTorrent clients do; a fixed number
 * of connections in flight, driven by epoll. */
#include "lg_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define RESP_MAX 8192

struct conn {
  int      fd; /* -1: free */
  int      scrape;
  uint64_t peer;
  uint64_t start_ns;
  size_t   have;
  char     buf[RESP_MAX];
};

struct http {
  const struct lg_run *r;
  int                  ep;
  struct conn         *conns;
  struct lg_rng        rng;
  int                  warmup;
  uint64_t             next_warm_peer;
  struct lg_stats     *st;
};

static size_t url_escape(char *out, const uint8_t *in, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    out[3 * i]     = '%';
    out[3 * i + 1] = hex[in[i] >> 4];
    out[3 * i + 2] = hex[in[i] & 15];
  }
  return 3 * n;
}

static size_t build_request(const struct http *h, const struct conn *c, char *req, size_t cap) {
  const struct lg_workload *w = h->r->w;
  uint8_t                   hash[20], id[20];
  char                      ehash[61], eid[61];
  lg_swarm_hash(lg_peer_swarm(w, c->peer), hash);
  ehash[url_escape(ehash, hash, 20)] = 0;
  if (c->scrape)
    return (size_t)snprintf(req, cap, "GET /scrape?info_hash=%s HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n", ehash);
  lg_peer_id(c->peer, id);
  eid[url_escape(eid, id, 20)] = 0;
  return (size_t)snprintf(req, cap,
                          "GET /announce?info_hash=%s&peer_id=%s&port=%u&uploaded=0&downloaded=0&left=%u"
                          "&numwant=%u&compact=1%s HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n",
                          ehash, eid, lg_peer_port(c->peer), lg_peer_is_seeder(w, c->peer) ? 0u : 1u << 20, w->numwant, h->warmup ? "&event=started" : "");
}

static void finish(struct conn *c) {
  close(c->fd); /* also removes it from the epoll set */
  c->fd = -1;
}

/* find "<len>:" after key in a bencoded body; returns the string start */
static const char *bstring(const char *body, size_t n, const char *key, size_t *len) {
  const char *p = memmem(body, n, key, strlen(key));
  if (!p)
    return NULL;
  p += strlen(key);
  char         *end;
  unsigned long l = strtoul(p, &end, 10);
  if (end == p || *end != ':' || end + 1 + l > body + n)
    return NULL;
  *len = l;
  return end + 1;
}

static void parse_answer(struct http *h, struct conn *c, uint64_t now) {
  struct lg_stats *st = h->st;
  const char      *hdr_end;
  if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) || memcmp(c->buf + 9, "200", 3) || !(hdr_end = memmem(c->buf, c->have, "\r\n\r\n", 4))) {
    st->errors++;
    return;
  }
  const char *body = hdr_end + 4;
  size_t      n    = (size_t)(c->buf + c->have - body);
  if (memmem(body, n, "failure reason", 14)) {
    st->errors++;
    return;
  }
  if (c->scrape) {
    if (!memmem(body, n, "5:files", 7)) {
      st->errors++;
      return;
    }
    st->scrapes++;
  } else {
    size_t      l4 = 0, l6 = 0;
    const char *p4 = bstring(body, n, "5:peers", &l4), *p6 = bstring(body, n, "6:peers6", &l6);
    if (!memmem(body, n, "8:interval", 10) || l4 % 6 || l6 % 18) {
      st->errors++;
      return;
    }
    st->announces++;
    unsigned region = lg_peer_region(c->peer);
    if (p4)
      lg_stats_peers(st, region, (const uint8_t *)p4, l4, 4);
    if (p6)
      lg_stats_peers(st, region, (const uint8_t *)p6, l6, 16);
  }
  if (!h->warmup)
    lg_stats_latency(st, now - c->start_ns);
}

/* open a connection for the next request in free conn c; 0: nothing left */
static int start_conn(struct http *h, struct conn *c, char *err, size_t errlen) {
  const struct lg_workload *w = h->r->w;
  if (h->warmup) {
    if (h->next_warm_peer >= lg_peer_count(w))
      return 0;
    c->peer   = h->next_warm_peer++;
    c->scrape = 0;
  } else {
    c->peer        = lg_pick_peer(w, &h->rng);
    uint32_t every = w->scrape_every;
    c->scrape      = every && lg_rng_next(&h->rng) % (every + 1) == every;
  }
  c->have     = 0;
  c->start_ns = lg_now_ns();
  int fd      = socket(w->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  /* let connect() pick the port per 4-tuple: each peer address has its own
   * port space, so a short run never runs out of ephemeral ports */
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  if (w->family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
  struct sockaddr_storage src;
  socklen_t               sl = lg_peer_addr(w, c->peer, &src);
  if (bind(fd, (struct sockaddr *)&src, sl)) {
    snprintf(err, errlen, "bind to the peer address: %s", strerror(errno));
    close(fd);
    return -1;
  }
  c->fd = fd;
  if (connect(fd, (const struct sockaddr *)&h->r->target, h->r->target_len) && errno != EINPROGRESS) {
    h->st->errors++;
    finish(c);
    return 1; /* the slot is free again; the caller loops */
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev)) {
    snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
    return -1;
  }
  return 1;
}

static void on_event(struct http *h, struct conn *c, uint32_t events, uint64_t now) {
  if (events & EPOLLOUT) {
    int       soerr = 0;
    socklen_t sl    = sizeof(soerr);
    char      req[512];
    size_t    n = build_request(h, c, req, sizeof(req));
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr || write(c->fd, req, n) != (ssize_t)n) {
      h->st->errors++;
      finish(c);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(h->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return;
  }
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->have, RESP_MAX - c->have);
    if (n > 0) {
      c->have += (size_t)n;
      if (c->have < RESP_MAX)
        continue;
    }
    if (n < 0 && errno == EAGAIN)
      return; /* more to come */
    if (n < 0)
      h->st->errors++;
    else
      parse_answer(h, c, now); /* EOF (or a full buffer): the tracker is done */
    finish(c);
    return;
  }
}

static int run_phase(struct http *h, int warmup, struct lg_stats *st, char *err, size_t errlen) {
  h->warmup         = warmup;
  h->st             = st;
  h->next_warm_peer = 0;
  lg_phase_begin(h->r, st);
  uint64_t           start = lg_now_ns(), deadline = start + (uint64_t)(h->r->duration * 1e9), last_scan = start;
  uint64_t           last_answer = start, answered = 0;
  uint64_t           limit     = (uint64_t)h->r->timeout_ms * 1000000ull;
  int                exhausted = 0;
  struct epoll_event evs[64];

  for (;;) {
    uint32_t busy = 0;
    for (uint32_t i = 0; i < h->r->window; i++) {
      struct conn *c = &h->conns[i];
      while (c->fd < 0 && !exhausted) {
        int rc = start_conn(h, c, err, errlen);
        if (rc < 0)
          return -1;
        if (rc == 0)
          exhausted = 1;
      }
      busy += c->fd >= 0;
    }
    if (exhausted && !busy)
      break;
    int      n   = epoll_wait(h->ep, evs, 64, h->r->spin ? 0 : 1);
    uint64_t now = lg_now_ns();
    if (!warmup && now >= deadline)
      break;
    for (int k = 0; k < n; k++) {
      struct conn *c = evs[k].data.ptr;
      if (c->fd >= 0)
        on_event(h, c, evs[k].events, now);
    }
    if (st->announces + st->scrapes + st->errors != answered) { /* connects alone do not count */
      answered    = st->announces + st->scrapes + st->errors;
      last_answer = now;
    }
    if (now - last_scan > 5000000ull && (now - last_answer > LG_SILENCE_NS || lg_tracker_gone(h->r))) {
      snprintf(err, errlen, "the tracker %s", lg_tracker_gone(h->r) ? "has exited" : "answered nothing for 5 s");
      return -1;
    }
    if (now - last_scan > 5000000ull) {
      for (uint32_t i = 0; i < h->r->window; i++)
        if (h->conns[i].fd >= 0 && now - h->conns[i].start_ns > limit) {
          st->lost++;
          finish(&h->conns[i]);
        }
      last_scan = now;
    }
  }
  st->seconds = (double)(lg_now_ns() - start) / 1e9;
  lg_phase_end(h->r, st);
  for (uint32_t i = 0; i < h->r->window; i++)
    if (h->conns[i].fd >= 0)
      finish(&h->conns[i]);
  return 0;
}

int lg_http_run(const struct lg_run *r, struct lg_stats *warm, struct lg_stats *timed, char *err, size_t errlen) {
  struct http h  = {.r = r, .rng = {r->seed ^ 0x4854545055ull}};
  int         rc = -1;
  h.conns        = calloc(r->window, sizeof(*h.conns));
  h.ep           = epoll_create1(0);
  if (!h.conns || h.ep < 0) {
    snprintf(err, errlen, "out of memory or epoll: %s", strerror(errno));
    goto out;
  }
  for (uint32_t i = 0; i < r->window; i++)
    h.conns[i].fd = -1;
  if (r->warmup && run_phase(&h, 1, warm, err, errlen))
    goto out;
  if (r->duration > 0 && run_phase(&h, 0, timed, err, errlen))
    goto out;
  rc = 0;
out:
  if (h.ep >= 0)
    close(h.ep);
  free(h.conns);
  return rc;
}
