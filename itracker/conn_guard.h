/* Connection guard: what libmicrohttpd's idle timeout cannot do against
 * slow clients.  MHD counts any byte as progress, so a client sending one
 * byte a second holds its connection (and its thread) forever.  The guard
 * knows every open connection, which phase its current request is in and
 * since when, and closes (shutdown(2) on its socket; MHD then sees EOF and
 * cleans up as usual):
 *   - a connection still receiving its request (headers and body) after
 *     request_deadline_s, or still sending its answer after
 *     response_deadline_s (a reader draining one byte a second);
 *   - when more than max_connections are open, the connection that has
 *     been receiving the longest, so a newcomer gets a slot instead of
 *     waiting for deadlines.  Requests being handled or answered are never
 *     chosen.
 * It knows nothing of HTTP: the front end reports phases. */
#ifndef ITRACKER_CONN_GUARD_H
#define ITRACKER_CONN_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn_guard;
struct guarded_conn;

struct conn_guard_limits {
  unsigned max_connections;     /* above this, the longest receiver goes */
  unsigned request_deadline_s;  /* headers + body within this */
  unsigned response_deadline_s; /* answer taken within this */
  int      verbose;             /* log every closed connection */
};

/* Counters since start, for logs and tests. */
struct conn_guard_counts {
  size_t   open;
  uint64_t overdue_requests, overdue_responses, evicted;
};

/* Start the guard and its reaper thread.  NULL with a reason in err. */
struct conn_guard *conn_guard_start(const struct conn_guard_limits *lim, char *err, size_t errlen);
/* Stop the thread; every connection must have been closed (MHD stopped). */
void conn_guard_stop(struct conn_guard *g);

/* A connection on socket fd from peer (for the log; may be NULL) was
 * accepted: it starts receiving its first request now.  May close older connections (eviction).  NULL when out of
 * memory: the connection is then closed right away, unguarded ones are
 * never kept. */
struct guarded_conn *conn_guard_open(struct conn_guard *g, int fd, const struct sockaddr *peer, size_t peerlen);
/* MHD is about to close the socket: forget it (before close(2), so the
 * guard never shuts down a reused descriptor). */
void conn_guard_close(struct conn_guard *g, struct guarded_conn *c);

/* Phases of the current request, reported by the front end. */
void conn_guard_receiving(struct conn_guard *g, struct guarded_conn *c);
void conn_guard_handling(struct conn_guard *g, struct guarded_conn *c);
void conn_guard_sending(struct conn_guard *g, struct guarded_conn *c);
/* A response that lasts as long as the client wants it (an ALTO update
 * stream): no deadline and never evicted; the front end caps how many
 * there are, and MHD's idle timeout still ends one nobody reads. */
void conn_guard_streaming(struct conn_guard *g, struct guarded_conn *c);

void conn_guard_counts(struct conn_guard *g, struct conn_guard_counts *out);

#endif
