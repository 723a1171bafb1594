/* HTTP(S) front end of the iTracker on libmicrohttpd: routing under
 * /p4p/v1/, bearer-token access control per interface, body caps, and the
 * translation of struct itr_reply into responses. */
#ifndef ITRACKER_HTTP_H
#define ITRACKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "portal.h"
#include "solver.h"

struct http_server;

struct itr_gen;

/* Listen on addr ("127.0.0.1", "::1", "*" = every address, dual stack)
 * and port (0 = any free port), answering from generation g (gen.h, started).
 * HTTPS when the provider file names a certificate and key.  NULL with a
 * reason in err. */
struct http_server *http_start(struct itr_gen *g, const char *addr, uint16_t port, int verbose, char *err, size_t errlen);
/* Requests that start from now on answer from g; returns the generation
 * they got before, which requests already under way keep using (free it
 * once itr_gen_idle).  The listening socket and the connection guard stay. */
struct itr_gen *http_swap(struct http_server *h, struct itr_gen *g);
/* Sockets the daemon may hold at once (max-connections and a margin):
 * RLIMIT_NOFILE must allow these and the daemon's own files. */
unsigned http_max_sockets(const struct portal *p);
/* The port actually bound. */
uint16_t http_port(const struct http_server *h);
int      http_is_tls(const struct http_server *h);
/* Ends the current generation's update streams and stops listening; the
 * generations are the caller's to free. */
void http_stop(struct http_server *h);

struct MHD_Connection;
/* Access control, shared with the ALTO front end: 0 when the request's
 * bearer token may use every interface of need (a P4P_IF_* mask; 0 = any
 * valid token), else the HTTP status (401, 403) with *why, *bad_token as
 * for the P4P paths.  *allowed gets the client's interface mask, and on 0
 * *who the client its quotas count against (quota.h: the token, or the
 * address in open mode). */
int http_authorize(struct MHD_Connection *c, const struct portal *p, unsigned need, const char **why, int *bad_token, unsigned *allowed,
                   struct itr_client *who);

#endif
