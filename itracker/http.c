/* HTTP(S) front end: one thread per connection, so a request waiting for
 * a first solve never holds up others.  Against slow and greedy clients:
 * MHD drops connections idle for connection-timeout and refuses more than
 * max-connections-per-ip from one address; the connection guard
 * (conn_guard.h) enforces request-deadline and response-deadline and makes
 * room at max-connections; bodies are capped per request (max-body) and in
 * all (max-body-total). */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "alto.h"
#include "conn_guard.h"
#include "gen.h"
#include "metrics.h"
#include "proto/file.h"
#include "proto/xml.h"

#define API_PREFIX   "/p4p/v1/"
#define CONTENT_TYPE "application/p4p+xml"
#define METRICS_PATH "/metrics"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum { M_GET = 1, M_POST = 2 };

struct route {
  const char        *path;    /* after API_PREFIX */
  unsigned           methods; /* M_* */
  enum p4p_interface interface;
};

static const struct route routes[] = {
    {"pidmap", M_GET, P4P_IFACE_INFO},
    {"lookup", M_POST, P4P_IFACE_INFO},
    {"costs", M_GET, P4P_IFACE_POLICY},
    {"guidance", M_GET | M_POST, P4P_IFACE_GUIDANCE},
    {"capability", M_GET | M_POST, P4P_IFACE_CAPABILITY},
};

struct http_server {
  struct MHD_Daemon *d;
  pthread_mutex_t    gen_lock; /* guards gen: taking a reference vs a swap */
  struct itr_gen    *gen;      /* the configuration new requests get */
  struct conn_guard *guard;
  size_t             body_bytes; /* buffered by all requests (atomic) */
  int                tls;
  char              *cert, *key; /* PEM text, kept while the daemon runs */
};

/* per-request state, lives from the first callback to completion */
struct request {
  struct itr_gen      *g; /* the generation it answers from (a reference) */
  const struct route  *route;
  unsigned             method;
  struct itr_client    who; /* token, or address in open mode */
  char                *body;
  size_t               len, cap; /* cap bytes count in body_bytes */
  int                  too_big;  /* above max-body: 413 */
  int                  no_room;  /* max-body-total reached: 503 */
  struct alto_request *alto;     /* an ALTO request: alto.c answers it */
};

static struct guarded_conn *guarded(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

/* Free a request's body and give its bytes back to max-body-total. */
static void drop_body(struct http_server *h, struct request *rq) {
  if (rq->cap)
    __atomic_sub_fetch(&h->body_bytes, rq->cap, __ATOMIC_RELAXED);
  free(rq->body);
  rq->body = NULL;
  rq->len = rq->cap = 0;
}

/* A reference to the current generation, for one request. */
static struct itr_gen *current_gen(struct http_server *h) {
  pthread_mutex_lock(&h->gen_lock);
  struct itr_gen *g = h->gen;
  itr_gen_acquire(g);
  pthread_mutex_unlock(&h->gen_lock);
  return g;
}

/* route: the interface (or enum itr_metrics_route) the request counts under */
static enum MHD_Result send_reply(struct MHD_Connection *c, const struct http_server *h, const struct portal *p, struct itr_reply *r, int route) {
  struct MHD_Response *resp;
  if (r->status >= 400) {
    struct p4p_error_msg em = {.status = r->status};
    snprintf(em.text, sizeof em.text, "%s", r->err);
    size_t len;
    char  *doc = proto_xml_write_error(&em, &len);
    if (!doc) {
      /* the writer refuses text v1 cannot carry: say less, not nothing */
      snprintf(em.text, sizeof em.text, "request refused");
      doc = proto_xml_write_error(&em, &len);
    }
    resp = doc ? MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE) : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  } else {
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (r->status == 200 && r->etag[0] && inm && !strcmp(inm, r->etag)) {
      r->status = MHD_HTTP_NOT_MODIFIED;
      free(r->body);
      r->body = NULL;
      r->len  = 0;
    }
    resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : "", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp)
      r->body = NULL; /* MHD owns it now */
  }
  if (!resp)
    return MHD_NO;
  itr_metrics_note_response(route, r->status);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
  char cc[64];
  if (r->max_age >= 0 && r->status < 400)
    snprintf(cc, sizeof cc, "max-age=%d", r->max_age);
  else
    snprintf(cc, sizeof cc, "no-store");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
  if (r->etag[0] && r->status < 400)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
  MHD_add_response_header(resp, "X-P4P-Version", p->prov.version);
  if (r->xname[0])
    MHD_add_response_header(resp, r->xname, r->xvalue);
  if (r->status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->xvalue[0] ? r->xvalue : "Bearer realm=\"p4p\"");
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  /* from now on the client must take the answer within response-deadline */
  conn_guard_sending(h->guard, guarded(c));
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, const struct http_server *h, const struct portal *p, int status, const char *text, int route) {
  struct itr_reply r;
  memset(&r, 0, sizeof r);
  itr_reply_error(&r, status, "%s", text);
  return send_reply(c, h, p, &r, route);
}

/* alto.c queues its own answers: from then on, as for ours, the client
 * must take them within response-deadline */
static enum MHD_Result after_alto(struct http_server *h, struct MHD_Connection *c, enum MHD_Result ret) {
  conn_guard_sending(h->guard, guarded(c));
  return ret;
}

/* Compare every byte of both fixed-size buffers whatever matches first,
 * so the time taken says nothing about how much of a token was right. */
static int token_equal(const char *given, size_t given_len, const char *known) {
  volatile unsigned char diff      = given_len >= P4P_TOKEN_MAX;
  size_t                 known_len = strnlen(known, P4P_TOKEN_MAX);
  diff |= (unsigned char)(given_len != known_len);
  for (size_t i = 0; i < P4P_TOKEN_MAX; i++) {
    unsigned char a = i < given_len ? (unsigned char)given[i] : 0;
    unsigned char b = i < known_len ? (unsigned char)known[i] : 0;
    diff |= a ^ b;
  }
  return diff == 0;
}

int http_authorize(struct MHD_Connection *c, const struct portal *p, unsigned need, const char **why, int *bad_token, unsigned *allowed,
                   struct itr_client *client) {
  const struct prov_config *pr = &p->prov;
  *allowed                     = P4P_IF_ALL;
  if (pr->nclients == 0) {
    /* no client lines: the provider chose open access; quotas go by
     * address */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    itr_client_address(client, ci ? ci->client_addr : NULL);
    return 0;
  }
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (!auth || strncasecmp(auth, "Bearer ", 7)) {
    *why = "missing bearer token";
    return 401;
  }
  const char *tok = auth + 7;
  while (*tok == ' ')
    tok++;
  size_t tlen = strlen(tok);
  long   who  = -1;
  for (size_t i = 0; i < pr->nclients; i++)
    if (token_equal(tok, tlen, pr->clients[i].token))
      who = (long)i; /* no early exit: same work for every token */
  if (who < 0) {
    *why       = "invalid bearer token";
    *bad_token = 1;
    return 401;
  }
  *allowed = pr->clients[who].interfaces;
  if (need == P4P_IF_BIT(ITR_ROUTE_METRICS) ? !pr->clients[who].metrics : (pr->clients[who].interfaces & need) != need) {
    *why = "this client may not use this interface";
    return 403;
  }
  itr_client_token(client, (size_t)who);
  return 0;
}

static int check_access(struct MHD_Connection *c, const struct portal *p, enum p4p_interface interface, const char **why, int *bad_token,
                        struct itr_client *client) {
  unsigned allowed;
  return http_authorize(c, p, P4P_IF_BIT(interface), why, bad_token, &allowed, client);
}

static int xml_content_type(const char *ct) {
  if (!ct)
    return 1; /* absent: assume the P4P type */
  size_t n = strcspn(ct, "; ");
  return (n == strlen(CONTENT_TYPE) && !strncasecmp(ct, CONTENT_TYPE, n)) || (n == 15 && !strncasecmp(ct, "application/xml", n)) ||
         (n == 8 && !strncasecmp(ct, "text/xml", n));
}

/* GET /metrics: for clients allowed "metrics" (anyone when the file has no
 * client lines), since the MLU says how loaded the network is. */
static enum MHD_Result serve_metrics(struct MHD_Connection *c, struct http_server *h, const struct itr_gen *g, unsigned m) {
  const char       *why       = NULL;
  int               bad_token = 0;
  struct itr_client who; /* metrics count against no quota */
  int               st = check_access(c, &g->p, (enum p4p_interface)ITR_ROUTE_METRICS, &why, &bad_token, &who);
  if (st) {
    struct itr_reply r;
    memset(&r, 0, sizeof r);
    itr_reply_error(&r, st, "%s (metrics)",
                    st == 403 ? "this client may not "
                                "read metrics (allow metrics)"
                              : why);
    if (bad_token)
      snprintf(r.xvalue, sizeof r.xvalue, "Bearer realm=\"p4p\", error=\"invalid_token\"");
    return send_reply(c, h, &g->p, &r, ITR_ROUTE_METRICS);
  }
  if (m != M_GET) {
    struct itr_reply r;
    memset(&r, 0, sizeof r);
    itr_reply_error(&r, 405, "metrics are read with GET");
    snprintf(r.xname, sizeof r.xname, "Allow");
    snprintf(r.xvalue, sizeof r.xvalue, "GET, HEAD");
    return send_reply(c, h, &g->p, &r, ITR_ROUTE_METRICS);
  }
  size_t len;
  char  *text = itr_metrics_render(&g->p, solver_tracked_swarms(g->s), &len);
  if (!text)
    return send_error(c, h, &g->p, 503, "out of memory", ITR_ROUTE_METRICS);
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  itr_metrics_note_response(ITR_ROUTE_METRICS, 200);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_TYPE);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* First callback of a request: everything that can be refused before the
 * body is read is refused here, so a refused upload is never buffered. */
static enum MHD_Result start_request(struct MHD_Connection *c, struct http_server *h, struct itr_gen *g, const char *url, const char *method, void **con_cls) {
  const struct portal *p = &g->p;
  unsigned             m = !strcmp(method, "GET") || !strcmp(method, "HEAD") ? M_GET : !strcmp(method, "POST") ? M_POST : 0;
  if (!strcmp(url, METRICS_PATH))
    return serve_metrics(c, h, g, m);
  const struct route *rt = NULL;
  if (!strncmp(url, API_PREFIX, strlen(API_PREFIX)))
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
      if (!strcmp(url + strlen(API_PREFIX), routes[i].path))
        rt = &routes[i];
  if (!rt && alto_owns(url)) {
    struct alto_request *ar  = NULL;
    enum MHD_Result      ret = alto_begin(g->alto, c, url, method, &ar);
    if (!ar)
      return after_alto(h, c, ret); /* refused before the body */
    struct request *rq = calloc(1, sizeof *rq);
    if (!rq) {
      alto_request_free(ar);
      return MHD_NO;
    }
    rq->alto = ar;
    rq->g    = g;
    *con_cls = rq;
    return MHD_YES;
  }
  if (!rt)
    return send_error(c, h, p, 404,
                      "no such resource; the interfaces are "
                      "under " API_PREFIX " and ALTO's at "
                      "/directory",
                      ITR_ROUTE_NONE);
  const char       *why       = NULL;
  int               bad_token = 0;
  struct itr_client who;
  int               st = check_access(c, p, rt->interface, &why, &bad_token, &who);
  if (st) {
    char msg[P4P_TEXT_MAX];
    snprintf(msg, sizeof msg, "%s (interface %s)", why, proto_interface_name(rt->interface));
    struct itr_reply r;
    memset(&r, 0, sizeof r);
    itr_reply_error(&r, st, "%s", msg);
    if (bad_token)
      snprintf(r.xvalue, sizeof r.xvalue, "Bearer realm=\"p4p\", error=\"invalid_token\"");
    return send_reply(c, h, p, &r, rt->interface);
  }
  if (!(rt->methods & m)) {
    struct itr_reply r;
    memset(&r, 0, sizeof r);
    itr_reply_error(&r, 405, "method %.16s not allowed on %s", method, url);
    snprintf(r.xname, sizeof r.xname, "Allow");
    snprintf(r.xvalue, sizeof r.xvalue, "%s", rt->methods == M_GET ? "GET, HEAD" : rt->methods == M_POST ? "POST" : "GET, HEAD, POST");
    return send_reply(c, h, p, &r, rt->interface);
  }
  if (m == M_POST) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > p->prov.daemon.max_body_bytes)
      return send_error(c, h, p, 413, "request body larger than max-body", rt->interface);
    if (!xml_content_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
      return send_error(c, h, p, 415, "post " CONTENT_TYPE " documents", rt->interface);
  }
  struct request *rq = calloc(1, sizeof *rq);
  if (!rq)
    return MHD_NO;
  rq->g      = g;
  rq->route  = rt;
  rq->method = m;
  rq->who    = who;
  *con_cls   = rq;
  return MHD_YES;
}

static void dispatch(struct request *rq, struct MHD_Connection *c, struct itr_reply *r) {
  struct portal *p    = &rq->g->p;
  struct solver *s    = rq->g->s;
  const char    *path = rq->route->path;
  const char    *body = rq->body ? rq->body : "";
  if (!strcmp(path, "pidmap")) {
    portal_pidmap(p, r);
  } else if (!strcmp(path, "lookup")) {
    portal_lookup(p, body, rq->len, r);
  } else if (!strcmp(path, "costs")) {
    const char *hs   = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hour");
    int         hour = -1;
    if (hs) {
      char *end;
      long  v = strtol(hs, &end, 10);
      if (!*hs || *end || v < 0 || v > 23) {
        itr_reply_error(r, 400, "hour must be 0..23");
        return;
      }
      hour = (int)v;
    }
    portal_costs(p, hour, r);
  } else if (!strcmp(path, "guidance")) {
    if (rq->method == M_POST)
      solver_post_stats(s, &rq->who, body, rq->len, r);
    else
      solver_guidance(s, r);
  } else if (rq->method == M_POST) {
    portal_allocate(p, &rq->who, body, rq->len, r);
  } else {
    portal_capability(p, r);
  }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  struct http_server *h = cls;
  (void)version;
  struct request *rq = *con_cls;
  if (!rq) {
    struct itr_gen *g   = current_gen(h);
    enum MHD_Result ret = start_request(c, h, g, url, method, con_cls);
    if (!*con_cls)
      itr_gen_release(g); /* answered (or refused) at once */
    return ret;
  }
  const struct portal *p = &rq->g->p;
  if (*upload_size) {
    /* bodies without Content-Length (chunked) are capped here: the excess
     * is dropped unread into memory and the request answered 413 */
    size_t max = p->prov.daemon.max_body_bytes;
    if (!rq->too_big && rq->len + *upload_size > max) {
      rq->too_big = 1;
      drop_body(h, rq);
    }
    if (!rq->too_big && !rq->no_room && rq->len + *upload_size + 1 > rq->cap) {
      size_t nc = rq->cap ? rq->cap : 4096;
      while (nc < rq->len + *upload_size + 1)
        nc *= 2;
      /* reserve before allocating: many bodies at once must not add up
       * past max-body-total */
      size_t more = nc - rq->cap;
      if (__atomic_add_fetch(&h->body_bytes, more, __ATOMIC_RELAXED) > p->prov.daemon.max_body_total) {
        __atomic_sub_fetch(&h->body_bytes, more, __ATOMIC_RELAXED);
        rq->no_room = 1;
        drop_body(h, rq);
      } else {
        char *nb = realloc(rq->body, nc);
        if (!nb) {
          __atomic_sub_fetch(&h->body_bytes, more, __ATOMIC_RELAXED);
          return MHD_NO;
        }
        rq->body = nb;
        rq->cap  = nc;
      }
    }
    if (!rq->too_big && !rq->no_room) {
      memcpy(rq->body + rq->len, upload, *upload_size);
      rq->len += *upload_size;
      rq->body[rq->len] = 0;
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (rq->too_big)
    return rq->alto ? after_alto(h, c,
                                 alto_refuse(c, 413,
                                             "request body larger "
                                             "than max-body"))
                    : send_error(c, h, p, 413, "request body larger than max-body", rq->route->interface);
  if (rq->no_room) {
    const char *busy = "too many request bodies at once (max-body-total); "
                       "retry";
    if (rq->alto)
      return after_alto(h, c, alto_refuse_retry(c, 503, busy, 1));
    struct itr_reply r;
    memset(&r, 0, sizeof r);
    itr_reply_error(&r, 503, "%s", busy);
    snprintf(r.xname, sizeof r.xname, "Retry-After");
    snprintf(r.xvalue, sizeof r.xvalue, "1");
    return send_reply(c, h, p, &r, rq->route->interface);
  }
  if (rq->alto) {
    /* the whole request is in: no deadline while alto.c works on it */
    conn_guard_handling(h->guard, guarded(c));
    int             streaming = 0;
    enum MHD_Result ret       = alto_answer(rq->g->alto, c, rq->alto, rq->body ? rq->body : "", rq->len, &streaming);
    if (streaming) {
      conn_guard_streaming(h->guard, guarded(c));
      return ret;
    }
    return after_alto(h, c, ret);
  }
  struct itr_reply r;
  memset(&r, 0, sizeof r);
  r.max_age = -1;
  /* the whole request is in: no deadline while we work on it */
  conn_guard_handling(h->guard, guarded(c));
  dispatch(rq, c, &r);
  enum MHD_Result ret = send_reply(c, h, p, &r, rq->route->interface);
  free(r.body);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  struct http_server *h = cls;
  (void)toe;
  struct request *rq = *con_cls;
  if (rq) {
    alto_request_free(rq->alto);
    drop_body(h, rq);
    itr_gen_release(rq->g);
    free(rq);
  }
  *con_cls = NULL;
  /* keep-alive: the next request's deadline starts now */
  conn_guard_receiving(h->guard, guarded(c));
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code) {
  struct http_server *h = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *i    = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *a    = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr          *peer = a ? a->client_addr : NULL;
    size_t                          plen = !peer ? 0 : peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    *socket_context                      = i ? conn_guard_open(h->guard, i->connect_fd, peer, plen) : NULL;
  } else {
    /* MHD closes the socket after this returns */
    conn_guard_close(h->guard, *socket_context);
    *socket_context = NULL;
  }
}

static char *read_pem(const char *path, char *err, size_t errlen) {
  char  *buf;
  size_t len;
  if (proto_read_file(path, 1u << 20, &buf, &len, err, errlen))
    return NULL;
  return buf;
}

struct http_server *http_start(struct itr_gen *g, const char *addr, uint16_t port, int verbose, char *err, size_t errlen) {
  struct http_server *h = calloc(1, sizeof *h);
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  h->gen = g;
  pthread_mutex_init(&h->gen_lock, NULL);
  const struct portal               *p   = &g->p;
  const struct prov_daemon_settings *d   = &p->prov.daemon;
  const struct prov_daemon_settings *lim = &p->prov.daemon;
  /* poll(), not select(): descriptors above FD_SETSIZE are normal here */
  if (MHD_is_feature_supported(MHD_FEATURE_POLL) != MHD_YES) {
    snprintf(err, errlen, "this libmicrohttpd has no poll() support");
    goto fail;
  }
  unsigned                flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  int any = !strcmp(addr, "*");
  if (any) {
    flags |= MHD_USE_DUAL_STACK;
  } else {
    struct addrinfo  hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    if (getaddrinfo(addr, NULL, &hints, &ai)) {
      snprintf(err, errlen, "listen address '%s' is not a numeric address", addr);
      goto fail;
    }
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (ss.ss_family == AF_INET6) {
      flags |= MHD_USE_IPv6;
      ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    } else {
      ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    }
  }
  if (d->tls_cert[0]) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, errlen, "this libmicrohttpd has no TLS support");
      goto fail;
    }
    if (!(h->cert = read_pem(d->tls_cert, err, errlen)) || !(h->key = read_pem(d->tls_key, err, errlen)))
      goto fail;
    flags |= MHD_USE_TLS;
    h->tls = 1;
  }
  struct conn_guard_limits gl = {
      .max_connections     = lim->max_connections,
      .request_deadline_s  = lim->request_deadline_s,
      .response_deadline_s = lim->response_deadline_s,
      .verbose             = verbose,
  };
  if (!(h->guard = conn_guard_start(&gl, err, errlen)))
    goto fail;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)d->connection_timeout_s, NULL},
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)http_max_sockets(p), NULL},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)lim->max_connections_per_ip, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h},
      {any ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, 0, (void *)&ss},
      {h->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->cert},
      {h->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->key},
      {MHD_OPTION_END, 0, NULL},
  };
  /* MHD stops at the first END: move the real options to the front */
  struct MHD_OptionItem packed[sizeof opts / sizeof opts[0]];
  size_t                n = 0;
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (opts[i].option != MHD_OPTION_END)
      packed[n++] = opts[i];
  packed[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  h->d      = MHD_start_daemon(flags, port, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, packed, MHD_OPTION_END);
  if (!h->d) {
    snprintf(err, errlen,
             "cannot listen on %s port %u (in use, or bad "
             "TLS certificate/key?)",
             addr, (unsigned)port);
    goto fail;
  }
  return h;
fail:
  conn_guard_stop(h->guard);
  pthread_mutex_destroy(&h->gen_lock);
  free(h->cert);
  free(h->key);
  free(h);
  return NULL;
}

unsigned http_max_sockets(const struct portal *p) {
  /* the guard keeps max-connections live and closes the rest; the margin
   * holds connections it has shut down that MHD has yet to reap */
  unsigned n = p->prov.daemon.max_connections;
  return n + 16 + n / 16;
}

uint16_t http_port(const struct http_server *h) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

int http_is_tls(const struct http_server *h) { return h->tls; }

struct itr_gen *http_swap(struct http_server *h, struct itr_gen *g) {
  pthread_mutex_lock(&h->gen_lock);
  struct itr_gen *old = h->gen;
  h->gen              = g;
  pthread_mutex_unlock(&h->gen_lock);
  return old;
}

void http_stop(struct http_server *h) {
  if (!h)
    return;
  itr_gen_quiesce(h->gen); /* update streams return, so MHD can join them */
  MHD_stop_daemon(h->d);
  conn_guard_stop(h->guard); /* after MHD: every connection is closed */
  pthread_mutex_destroy(&h->gen_lock);
  free(h->cert);
  free(h->key);
  free(h);
}
