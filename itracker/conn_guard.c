/* Connection guard: request/response deadlines and eviction at the
 * connection limit (conn_guard.h).
 *
 * Invariant: a connection is in the list exactly while MHD owns its socket
 * (from accept to just before close), and every shutdown(2) happens under
 * the guard's lock, so the guard never touches a descriptor MHD closed and
 * the kernel may have handed out again. */
#include "conn_guard.h"
#include "deadline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum phase { RECEIVING, HANDLING, SENDING, STREAMING };

struct guarded_conn {
  int                     fd;
  struct sockaddr_storage peer; /* for the log */
  enum phase              phase;
  int64_t                 since_ms; /* monotonic: the current phase began */
  int                     doomed;   /* shut down, MHD has yet to notice */
  struct guarded_conn    *prev, *next;
};

struct conn_guard {
  struct conn_guard_limits lim;
  pthread_mutex_t          mu;   /* guards everything below */
  pthread_cond_t           wake; /* the reaper's tick, or stop */
  pthread_t                reaper;
  int                      stop;
  struct guarded_conn     *head, *tail; /* in accept order */
  size_t                   open, live;  /* live = open and not doomed */
  struct conn_guard_counts counts;
};

/* the reaper's period: deadlines hold to within this */
#define REAP_PERIOD_MS 250

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* caller holds g->mu */
static void doom(struct conn_guard *g, struct guarded_conn *c, const char *why) {
  if (c->doomed)
    return;
  c->doomed = 1;
  g->live--;
  /* wakes MHD's thread for this connection with EOF; it closes the socket
   * itself (and tells us first) */
  shutdown(c->fd, SHUT_RDWR);
  if (g->lim.verbose) {
    char                           addr[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_storage *a                      = &c->peer;
    if (a->ss_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, addr, sizeof addr);
    else if (a->ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, addr, sizeof addr);
    fprintf(stderr, "p4p-itracker: closed a connection from %s: %s\n", addr, why);
  }
}

static void *reaper_main(void *arg) {
  struct conn_guard       *g        = arg;
  int64_t                  req_ms   = (int64_t)g->lim.request_deadline_s * 1000;
  int64_t                  resp_ms  = (int64_t)g->lim.response_deadline_s * 1000;
  struct conn_guard_counts logged   = {0};
  int64_t                  last_log = now_ms();
  pthread_mutex_lock(&g->mu);
  while (!g->stop) {
    struct timespec until;
    itr_deadline_in_ms(&until, CLOCK_MONOTONIC, REAP_PERIOD_MS);
    while (!g->stop && pthread_cond_timedwait(&g->wake, &g->mu, &until) != ETIMEDOUT)
      ;
    int64_t now = now_ms();
    for (struct guarded_conn *c = g->head; c && !g->stop; c = c->next) {
      if (c->doomed)
        continue;
      if (c->phase == RECEIVING && now - c->since_ms > req_ms) {
        g->counts.overdue_requests++;
        doom(g, c, "request not received within request-deadline");
      } else if (c->phase == SENDING && now - c->since_ms > resp_ms) {
        g->counts.overdue_responses++;
        doom(g, c, "answer not taken within response-deadline");
      }
    }
    /* an attack shows in the log once a minute, not once per connection */
    const struct conn_guard_counts *k = &g->counts;
    if (now - last_log >= 60000 &&
        (k->overdue_requests != logged.overdue_requests || k->overdue_responses != logged.overdue_responses || k->evicted != logged.evicted)) {
      fprintf(stderr,
              "p4p-itracker: last minute: closed %llu connections "
              "past request-deadline, %llu past response-deadline, %llu "
              "at max-connections; %zu open\n",
              (unsigned long long)(k->overdue_requests - logged.overdue_requests), (unsigned long long)(k->overdue_responses - logged.overdue_responses),
              (unsigned long long)(k->evicted - logged.evicted), g->open);
      logged   = *k;
      last_log = now;
    }
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

struct conn_guard *conn_guard_start(const struct conn_guard_limits *lim, char *err, size_t errlen) {
  struct conn_guard *g = calloc(1, sizeof *g);
  if (!g) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  g->lim = *lim;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->wake, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&g->reaper, NULL, reaper_main, g)) {
    snprintf(err, errlen, "cannot start the connection reaper thread");
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->wake);
    free(g);
    return NULL;
  }
  return g;
}

void conn_guard_stop(struct conn_guard *g) {
  if (!g)
    return;
  pthread_mutex_lock(&g->mu);
  g->stop = 1;
  pthread_cond_broadcast(&g->wake);
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->reaper, NULL);
  /* MHD_stop_daemon closed every connection, each through
   * conn_guard_close: nothing is left to free */
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->wake);
  free(g);
}

struct guarded_conn *conn_guard_open(struct conn_guard *g, int fd, const struct sockaddr *peer, size_t peerlen) {
  struct guarded_conn *c = calloc(1, sizeof *c);
  pthread_mutex_lock(&g->mu);
  if (!c) {
    /* an unguarded connection could be held open forever: refuse it */
    shutdown(fd, SHUT_RDWR);
    pthread_mutex_unlock(&g->mu);
    return NULL;
  }
  c->fd = fd;
  if (peer && peerlen <= sizeof c->peer)
    memcpy(&c->peer, peer, peerlen);
  c->phase    = RECEIVING;
  c->since_ms = now_ms();
  c->prev     = g->tail;
  if (g->tail)
    g->tail->next = c;
  else
    g->head = c;
  g->tail = c;
  g->open++;
  g->live++;
  if (g->live > g->lim.max_connections) {
    /* the newcomer stays; the longest receiver (slow headers or body, or
     * an idle keep-alive) makes room for it */
    struct guarded_conn *victim = NULL;
    for (struct guarded_conn *o = g->head; o; o = o->next)
      if (o != c && !o->doomed && o->phase == RECEIVING && (!victim || o->since_ms < victim->since_ms))
        victim = o;
    g->counts.evicted++;
    doom(g, victim ? victim : c, victim ? "evicted: max-connections reached" : "refused: max-connections reached, none receiving");
  }
  pthread_mutex_unlock(&g->mu);
  return c;
}

void conn_guard_close(struct conn_guard *g, struct guarded_conn *c) {
  if (!c)
    return;
  pthread_mutex_lock(&g->mu);
  if (c->prev)
    c->prev->next = c->next;
  else
    g->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    g->tail = c->prev;
  g->open--;
  if (!c->doomed)
    g->live--;
  pthread_mutex_unlock(&g->mu);
  free(c);
}

static void set_phase(struct conn_guard *g, struct guarded_conn *c, enum phase ph) {
  if (!c)
    return;
  pthread_mutex_lock(&g->mu);
  c->phase    = ph;
  c->since_ms = now_ms();
  pthread_mutex_unlock(&g->mu);
}

void conn_guard_receiving(struct conn_guard *g, struct guarded_conn *c) { set_phase(g, c, RECEIVING); }

void conn_guard_handling(struct conn_guard *g, struct guarded_conn *c) { set_phase(g, c, HANDLING); }

void conn_guard_sending(struct conn_guard *g, struct guarded_conn *c) { set_phase(g, c, SENDING); }

void conn_guard_streaming(struct conn_guard *g, struct guarded_conn *c) { set_phase(g, c, STREAMING); }

void conn_guard_counts(struct conn_guard *g, struct conn_guard_counts *out) {
  pthread_mutex_lock(&g->mu);
  *out      = g->counts;
  out->open = g->open;
  pthread_mutex_unlock(&g->mu);
}
