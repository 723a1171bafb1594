/* The iTracker's ALTO server (RFC 7285, docs/ALTO.md): the information
 * resource directory at /directory and every resource under /alto/, over
 * the same provider data, access control and body caps as /p4p/v1/.
 *
 * http.c hands every request for a path alto_owns() to alto_begin() (all
 * that can be refused before the body is), buffers the body as for its own
 * paths (max-body, max-body-total), then calls alto_answer(); it also
 * reports each answer's phase to the connection guard, as for its own.
 * Update streams (RFC 8895, alto_sse.c) are long responses fed by a thread
 * of their own, exempt from response-deadline. */
#ifndef ITRACKER_ALTO_H
#define ITRACKER_ALTO_H

#include <microhttpd.h>
#include <stddef.h>

#include "portal.h"
#include "proto/alto.h"
#include "solver.h"

struct alto_server;
struct alto_request;

/* Builds the static resources (network map, cost matrices) and starts the
 * update streams' notifier.  NULL with a reason in err. */
struct alto_server *alto_start(struct portal *p, struct solver *s, char *err, size_t errlen);
/* Ends every update stream now (before MHD joins connection threads). */
void alto_quiesce(struct alto_server *a);
void alto_stop(struct alto_server *a);

int alto_owns(const char *url);
/* *out = the request to answer after its body, or NULL when a refusal
 * was queued (the result is then MHD's). */
enum MHD_Result alto_begin(struct alto_server *a, struct MHD_Connection *c, const char *url, const char *method, struct alto_request **out);
/* *streaming = 1 when the answer queued is an update stream (a response
 * that lasts until the stream ends). */
enum MHD_Result alto_answer(struct alto_server *a, struct MHD_Connection *c, struct alto_request *rq, const char *body, size_t len, int *streaming);
/* An HTTP-level refusal (no ALTO error resource: 8.5 lets a server omit
 * it when it has no ALTO-level information): text/plain reason. */
enum MHD_Result alto_refuse(struct MHD_Connection *c, int status, const char *text);
/* The same with Retry-After: retry_s (a refusal for load, not for the
 * request). */
enum MHD_Result alto_refuse_retry(struct MHD_Connection *c, int status, const char *text, unsigned retry_s);
void            alto_request_free(struct alto_request *rq);

/* ---- between alto.c and alto_sse.c ------------------------------------- */

/* The current JSON of a GET resource by id (a new reference), or NULL when
 * there is none or the client's mask does not reach it. */
json_t *alto_resource_json(struct alto_server *a, const char *id, unsigned mask);
/* The media type of a GET resource that update streams may carry, or NULL. */
const char *alto_stream_media_type(const struct alto_server *a, const char *id);

/* What the streams watch: the policy hour, the published solve, and how
 * often an idle stream sends a keep-alive comment (below the daemon's
 * connection-timeout). */
int      alto_policy_hour(const struct alto_server *a);
uint64_t alto_published(struct alto_server *a);
int      alto_keepalive_ms(const struct alto_server *a);

struct alto_streams;
struct alto_streams *alto_streams_new(struct alto_server *a, unsigned max_streams);
void                 alto_streams_quiesce(struct alto_streams *st);
void                 alto_streams_free(struct alto_streams *st);
/* POST /alto/updates: a new stream for this client (mask), answered here;
 * *opened = 1 when the stream's response was queued. */
enum MHD_Result alto_streams_open(struct alto_streams *st, struct MHD_Connection *c, unsigned mask, const json_t *req, int *opened);
/* POST /alto/updates/streams/ID: the stream control service. */
enum MHD_Result alto_streams_control(struct alto_streams *st, struct MHD_Connection *c, const char *id, unsigned mask, const json_t *req);
/* Reply helpers alto_sse.c shares. */
enum MHD_Result alto_send_json(struct MHD_Connection *c, int status, const char *media_type, json_t *doc, const char *etag, int max_age);
enum MHD_Result alto_send_fault(struct MHD_Connection *c, const struct proto_alto_fault *f, const char *text);

#endif
