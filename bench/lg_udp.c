/* BEP 15 UDP engine: one socket, every datagram sent from its peer's own
 * address (IP_PKTINFO / IPV6_PKTINFO), batched with sendmmsg/recvmmsg so that
 * the generator spends far less per request than the tracker does. */
#include "lg_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define BATCH    64
#define MAX_REQ  100 /* an announce is 98 bytes */
#define MAX_RESP 4096

enum { K_CONNECT, K_ANNOUNCE, K_SCRAPE };
enum { EV_NONE = 0, EV_STARTED = 2 };

struct slot {
  uint64_t peer;
  uint64_t sent_ns;
  uint16_t gen;  /* bumped on every reuse: a late answer to a lost request is ignored */
  uint8_t  kind; /* request on the wire */
  uint8_t  then; /* after a connect: the request the connect was for */
  uint8_t  busy;
};

struct udp {
  const struct lg_run *r;
  int                  fd;
  struct slot         *slots;
  uint32_t            *free_slots;
  uint32_t             nfree;
  uint64_t            *connid; /* per peer, 0: none yet */
  struct lg_rng        rng;
  int                  warmup;
  uint64_t             next_warm_peer;
  struct lg_stats     *st;
  /* send batch */
  struct mmsghdr          smsg[BATCH];
  struct iovec            siov[BATCH];
  uint8_t                 sbuf[BATCH][MAX_REQ];
  struct sockaddr_storage saddr[BATCH];
  union {
    char           buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
  } scmsg[BATCH];
  unsigned nsend;
  /* receive batch */
  struct mmsghdr rmsg[BATCH];
  struct iovec   riov[BATCH];
  uint8_t        rbuf[BATCH][MAX_RESP];
};

static void put32(uint8_t *p, uint32_t v) {
  v = htonl(v);
  memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return ntohl(v);
}

static int flush_sends(struct udp *u, char *err, size_t errlen) {
  unsigned done = 0;
  while (done < u->nsend) {
    int n = sendmmsg(u->fd, u->smsg + done, u->nsend - done, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) {
        struct pollfd p = {.fd = u->fd, .events = POLLOUT};
        poll(&p, 1, 10);
        continue;
      }
      snprintf(err, errlen, "sendmmsg: %s", strerror(errno));
      return -1;
    }
    done += (unsigned)n;
  }
  u->nsend = 0;
  return 0;
}

/* queue the request of slot i; its source address is the peer's own */
static int queue_request(struct udp *u, uint32_t i, char *err, size_t errlen) {
  struct slot              *s = &u->slots[i];
  const struct lg_workload *w = u->r->w;
  if (u->nsend == BATCH && flush_sends(u, err, errlen))
    return -1;
  unsigned k   = u->nsend++;
  uint8_t *p   = u->sbuf[k];
  uint32_t txn = i | (uint32_t)s->gen << 16;
  size_t   len;

  switch (s->kind) {
  case K_CONNECT:
    put64(p, 0x41727101980ull); /* BEP 15 protocol id */
    put32(p + 8, 0);
    put32(p + 12, txn);
    len = 16;
    break;
  case K_ANNOUNCE:
    memcpy(p, &u->connid[s->peer], 8);
    put32(p + 8, 1);
    put32(p + 12, txn);
    lg_swarm_hash(lg_peer_swarm(w, s->peer), p + 16);
    lg_peer_id(s->peer, p + 36);
    put64(p + 56, 0);                                            /* downloaded */
    put64(p + 64, lg_peer_is_seeder(w, s->peer) ? 0 : 1u << 20); /* left */
    put64(p + 72, 0);                                            /* uploaded */
    put32(p + 80, u->warmup ? EV_STARTED : EV_NONE);
    put32(p + 84, 0); /* ip: take the source address */
    put32(p + 88, (uint32_t)s->peer);
    put32(p + 92, w->numwant);
    uint16_t port = htons(lg_peer_port(s->peer));
    memcpy(p + 96, &port, 2);
    len = 98;
    break;
  default: /* K_SCRAPE, one info hash as most clients send */
    memcpy(p, &u->connid[s->peer], 8);
    put32(p + 8, 2);
    put32(p + 12, txn);
    lg_swarm_hash(lg_peer_swarm(w, s->peer), p + 16);
    len = 36;
    break;
  }

  struct sockaddr_storage src;
  lg_peer_addr(w, s->peer, &src);
  struct msghdr *m = &u->smsg[k].msg_hdr;
  memset(m, 0, sizeof(*m));
  u->siov[k].iov_base = p;
  u->siov[k].iov_len  = len;
  m->msg_iov          = &u->siov[k];
  m->msg_iovlen       = 1;
  memcpy(&u->saddr[k], &u->r->target, u->r->target_len);
  m->msg_name       = &u->saddr[k];
  m->msg_namelen    = u->r->target_len;
  m->msg_control    = u->scmsg[k].buf;
  struct cmsghdr *c = (struct cmsghdr *)u->scmsg[k].buf;
  if (w->family == AF_INET) {
    struct in_pktinfo pi = {.ipi_spec_dst = ((struct sockaddr_in *)&src)->sin_addr};
    m->msg_controllen    = CMSG_SPACE(sizeof(pi));
    c->cmsg_level        = IPPROTO_IP;
    c->cmsg_type         = IP_PKTINFO;
    c->cmsg_len          = CMSG_LEN(sizeof(pi));
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
  } else {
    struct in6_pktinfo pi = {.ipi6_addr = ((struct sockaddr_in6 *)&src)->sin6_addr};
    m->msg_controllen     = CMSG_SPACE(sizeof(pi));
    c->cmsg_level         = IPPROTO_IPV6;
    c->cmsg_type          = IPV6_PKTINFO;
    c->cmsg_len           = CMSG_LEN(sizeof(pi));
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
  }
  s->sent_ns = lg_now_ns();
  return 0;
}

/* start the next request in free slot i; 0 when there is nothing to start */
static int start_slot(struct udp *u, uint32_t i, char *err, size_t errlen) {
  struct slot *s = &u->slots[i];
  uint8_t      kind;
  if (u->warmup) {
    if (u->next_warm_peer >= lg_peer_count(u->r->w))
      return 0;
    s->peer = u->next_warm_peer++;
    kind    = K_ANNOUNCE;
  } else {
    s->peer        = lg_pick_peer(u->r->w, &u->rng);
    uint32_t every = u->r->w->scrape_every;
    kind           = every && lg_rng_next(&u->rng) % (every + 1) == every ? K_SCRAPE : K_ANNOUNCE;
  }
  s->gen++;
  s->busy = 1;
  s->then = kind;
  s->kind = u->connid[s->peer] ? kind : K_CONNECT;
  return queue_request(u, i, err, errlen) ? -1 : 1;
}

static void release_slot(struct udp *u, uint32_t i) {
  u->slots[i].busy          = 0;
  u->free_slots[u->nfree++] = i;
}

static int handle_answer(struct udp *u, const uint8_t *p, size_t len, uint64_t now, char *err, size_t errlen) {
  if (len < 8) {
    u->st->errors++;
    return 0;
  }
  uint32_t txn = get32(p + 4), i = txn & 0xffff;
  if (i >= u->r->window || !u->slots[i].busy || u->slots[i].gen != (uint16_t)(txn >> 16))
    return 0; /* late answer to a request already counted as lost */
  struct slot *s      = &u->slots[i];
  uint32_t     action = get32(p);

  if (action == 3) {
    u->st->errors++;
    u->connid[s->peer] = 0; /* most likely a stale connection id: reconnect next time */
    release_slot(u, i);
    return 0;
  }
  if (action != s->kind) {
    u->st->errors++;
    release_slot(u, i);
    return 0;
  }
  switch (action) {
  case K_CONNECT:
    if (len < 16) {
      u->st->errors++;
      break;
    }
    u->st->connects++;
    memcpy(&u->connid[s->peer], p + 8, 8);
    s->kind = s->then;
    return queue_request(u, i, err, errlen);
  case K_ANNOUNCE: {
    size_t addrlen = u->r->w->family == AF_INET ? 4 : 16;
    if (len < 20 || (len - 20) % (addrlen + 2)) {
      u->st->errors++;
      break;
    }
    u->st->announces++;
    lg_stats_peers(u->st, lg_peer_region(s->peer), p + 20, len - 20, addrlen);
    if (!u->warmup)
      lg_stats_latency(u->st, now - s->sent_ns);
    break;
  }
  default:
    if (len < 20) {
      u->st->errors++;
      break;
    }
    u->st->scrapes++;
    lg_stats_latency(u->st, now - s->sent_ns);
    break;
  }
  release_slot(u, i);
  return 0;
}

static void expire_lost(struct udp *u, uint64_t now) {
  uint64_t limit = (uint64_t)u->r->timeout_ms * 1000000ull;
  for (uint32_t i = 0; i < u->r->window; i++)
    if (u->slots[i].busy && now > u->slots[i].sent_ns && now - u->slots[i].sent_ns > limit) {
      u->st->lost++;
      release_slot(u, i);
    }
}

/* run one phase: the warm-up until every peer announced, or a timed phase
 * until its deadline; answers still in flight at the deadline are dropped
 * from the count, not called lost */
static int run_phase(struct udp *u, int warmup, struct lg_stats *st, char *err, size_t errlen) {
  u->warmup         = warmup;
  u->st             = st;
  u->next_warm_peer = 0;
  lg_phase_begin(u->r, st);
  uint64_t start = lg_now_ns(), deadline = start + (uint64_t)(u->r->duration * 1e9), last_scan = start;
  uint64_t last_answer = start;
  int      exhausted   = 0;

  for (;;) {
    while (u->nfree && !exhausted) {
      uint32_t i  = u->free_slots[--u->nfree];
      int      rc = start_slot(u, i, err, errlen);
      if (rc < 0)
        return -1;
      if (rc == 0) {
        u->free_slots[u->nfree++] = i;
        exhausted                 = 1;
      }
    }
    if (u->nsend && flush_sends(u, err, errlen))
      return -1;
    if (exhausted && u->nfree == u->r->window)
      break; /* warm-up: every peer answered or was lost */

    int n = recvmmsg(u->fd, u->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        snprintf(err, errlen, "recvmmsg: %s", strerror(errno));
        return -1;
      }
      /* Spinning keeps the generator on its core: a woken task may wait
       * a scheduler tick (10 ms at HZ=100) behind a competing process. */
      if (!u->r->spin) {
        struct pollfd pf = {.fd = u->fd, .events = POLLIN};
        poll(&pf, 1, 1);
      }
    }
    uint64_t now = lg_now_ns();
    if (!warmup && now >= deadline)
      break;
    for (int k = 0; k < n; k++)
      if (handle_answer(u, u->rbuf[k], u->rmsg[k].msg_len, now, err, errlen))
        return -1;
    if (n > 0)
      last_answer = now;
    if (now - last_scan > 5000000ull) {
      expire_lost(u, now);
      last_scan = now;
      if (now - last_answer > LG_SILENCE_NS || lg_tracker_gone(u->r)) {
        snprintf(err, errlen, "the tracker %s", lg_tracker_gone(u->r) ? "has exited" : "answered nothing for 5 s");
        return -1;
      }
    }
  }
  st->seconds = (double)(lg_now_ns() - start) / 1e9;
  lg_phase_end(u->r, st);
  /* forget what is still in flight so the next phase starts clean */
  for (uint32_t i = 0; i < u->r->window; i++)
    if (u->slots[i].busy)
      release_slot(u, i);
  return 0;
}

/* The tracker derives a peer's connection id from its address and a key it
 * keeps for its lifetime, so ids from one generator process stay valid for
 * the next one against the same tracker.  A stale id only costs a reconnect. */
static int save_connids(const struct udp *u, char *err, size_t errlen) {
  FILE  *f = fopen(u->r->connid_file, "wb");
  size_t n = lg_peer_count(u->r->w);
  if (!f || fwrite(u->connid, sizeof(*u->connid), n, f) != n || fclose(f)) {
    snprintf(err, errlen, "%s: %s", u->r->connid_file, strerror(errno));
    return -1;
  }
  return 0;
}

static void load_connids(struct udp *u) {
  FILE  *f = fopen(u->r->connid_file, "rb");
  size_t n = lg_peer_count(u->r->w);
  if (!f)
    return;
  if (fread(u->connid, sizeof(*u->connid), n, f) != n)
    memset(u->connid, 0, n * sizeof(*u->connid)); /* other workload: start over */
  fclose(f);
}

static int open_socket(int family, char *err, size_t errlen) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  int big = 8 << 20, one = 1;
  /* FORCE needs CAP_NET_ADMIN; without it the plain call still helps */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  /* IPv6 sources come from a local route (AnyIP), not assigned addresses */
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one))) {
    snprintf(err, errlen, "IPV6_FREEBIND: %s", strerror(errno));
    close(fd);
    return -1;
  }
  struct sockaddr_storage any = {.ss_family = (sa_family_t)family};
  if (bind(fd, (struct sockaddr *)&any, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6))) {
    snprintf(err, errlen, "bind: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int lg_udp_run(const struct lg_run *r, struct lg_stats *warm, struct lg_stats *timed, char *err, size_t errlen) {
  if (!r->window || r->window > 0xffff) {
    snprintf(err, errlen, "UDP window must be 1..65535");
    return -1;
  }
  int         rc = -1;
  struct udp *u  = calloc(1, sizeof(*u));
  if (!u) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  u->r          = r;
  u->rng.state  = r->seed;
  u->slots      = calloc(r->window, sizeof(*u->slots));
  u->free_slots = calloc(r->window, sizeof(*u->free_slots));
  u->connid     = calloc(lg_peer_count(r->w), sizeof(*u->connid));
  if (!u->slots || !u->free_slots || !u->connid) {
    snprintf(err, errlen, "out of memory for %llu peers", (unsigned long long)lg_peer_count(r->w));
    goto out;
  }
  for (uint32_t i = 0; i < r->window; i++)
    u->free_slots[u->nfree++] = r->window - 1 - i;
  for (unsigned k = 0; k < BATCH; k++) {
    u->riov[k].iov_base           = u->rbuf[k];
    u->riov[k].iov_len            = MAX_RESP;
    u->rmsg[k].msg_hdr.msg_iov    = &u->riov[k];
    u->rmsg[k].msg_hdr.msg_iovlen = 1;
  }
  if ((u->fd = open_socket(r->w->family, err, errlen)) < 0)
    goto out;
  if (r->connid_file && !r->warmup)
    load_connids(u);
  if (r->warmup && run_phase(u, 1, warm, err, errlen))
    goto out_fd;
  if (r->warmup && r->connid_file && save_connids(u, err, errlen))
    goto out_fd;
  if (r->duration > 0 && run_phase(u, 0, timed, err, errlen))
    goto out_fd;
  rc = 0;
out_fd:
  close(u->fd);
out:
  free(u->slots);
  free(u->free_slots);
  free(u->connid);
  free(u);
  return rc;
}
