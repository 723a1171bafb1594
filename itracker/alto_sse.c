/* ALTO update streams (RFC 8895): a client POSTs the resources it wants
 * (substreams) and keeps the response open; we send each resource whole,
 * then a JSON merge patch (RFC 7396) whenever it changes: the p-distance
 * cost map at the turn of the policy hour, guidance after every solve.
 *
 * Each stream is a chunked response whose reader runs in the connection's
 * own thread (MHD thread-per-connection): it waits on the registry's
 * condition for a change, a control request or the keep-alive tick.  A
 * notifier thread watches the hour and the solver's published generation
 * and bumps the epoch.  Streams are capped (alto-max-streams), and every
 * resource is re-read with the stream's credential mask. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alto.h"
#include "deadline.h"
#include "http.h"
#include "metrics.h"

#define MAX_PENDING (32u << 20) /* a reader this far behind is dropped */

struct substream {
  char        id[PROTO_ALTO_ID_MAX];
  char        rid[PROTO_ALTO_ID_MAX];
  const char *media;
  int         incremental;
  json_t     *last; /* what the client holds; NULL: send it whole */
};

struct stream {
  struct alto_streams *st;
  char                 id[33]; /* 128 random bits: the control URI's secret */
  unsigned             mask;
  size_t               nsub;
  struct substream     sub[PROTO_ALTO_MAX_SUBSTREAMS];
  char                *out; /* bytes not yet handed to MHD */
  size_t               len, off;
  uint64_t             epoch; /* the registry epoch last sent */
  int                  closing;
  struct stream       *next;
};

struct alto_streams {
  struct alto_server *a;
  unsigned            max, n;
  pthread_mutex_t     lock;
  pthread_cond_t      cond;
  struct stream      *list;
  uint64_t            epoch;
  int                 stopping;
  pthread_t           notifier;
  int                 keepalive_ms;
};

/* Bumps the epoch when the hour turns or a new solve is published. */
static void *notifier(void *arg) {
  struct alto_streams *st = arg;
  int                  hour;
  pthread_mutex_lock(&st->lock);
  int      last_hour = -2;
  uint64_t last_gen  = UINT64_MAX;
  while (!st->stopping) {
    pthread_mutex_unlock(&st->lock);
    hour         = alto_policy_hour(st->a);
    uint64_t now = alto_published(st->a);
    pthread_mutex_lock(&st->lock);
    if ((hour != last_hour || now != last_gen) && last_hour != -2) {
      st->epoch++;
      pthread_cond_broadcast(&st->cond);
    }
    last_hour = hour;
    last_gen  = now;
    struct timespec until;
    itr_deadline_in_ms(&until, CLOCK_REALTIME, 250);
    pthread_cond_timedwait(&st->cond, &st->lock, &until);
  }
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

struct alto_streams *alto_streams_new(struct alto_server *a, unsigned max_streams) {
  struct alto_streams *st = calloc(1, sizeof *st);
  if (!st)
    return NULL;
  st->a            = a;
  st->max          = max_streams;
  st->keepalive_ms = alto_keepalive_ms(a);
  pthread_mutex_init(&st->lock, NULL);
  pthread_cond_init(&st->cond, NULL);
  if (pthread_create(&st->notifier, NULL, notifier, st)) {
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->lock);
    free(st);
    return NULL;
  }
  return st;
}

void alto_streams_quiesce(struct alto_streams *st) {
  pthread_mutex_lock(&st->lock);
  st->stopping = 1;
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

void alto_streams_free(struct alto_streams *st) {
  if (!st)
    return;
  alto_streams_quiesce(st);
  pthread_join(st->notifier, NULL);
  /* MHD has ended every response by now: their free callbacks ran */
  pthread_cond_destroy(&st->cond);
  pthread_mutex_destroy(&st->lock);
  free(st);
}

/* ---- queueing (under the lock) ------------------------------------------ */

static int append(struct stream *s, const char *text, size_t len) {
  if (s->len - s->off + len > MAX_PENDING)
    return -1;
  if (s->off) {
    memmove(s->out, s->out + s->off, s->len - s->off);
    s->len -= s->off;
    s->off = 0;
  }
  char *grown = realloc(s->out, s->len + len + 1);
  if (!grown)
    return -1;
  s->out = grown;
  memcpy(s->out + s->len, text, len);
  s->len += len;
  return 0;
}

static int send_event(struct stream *s, const char *media, const char *sub, json_t *doc) {
  size_t dl;
  char  *data = doc ? proto_alto_dump(doc, &dl) : NULL;
  json_decref(doc);
  if (!data)
    return -1;
  size_t len;
  char  *ev = proto_alto_sse_event(media, sub, data, &len);
  free(data);
  int rc = ev ? append(s, ev, len) : -1;
  free(ev);
  return rc;
}

static int send_control(struct stream *s, const char *key, json_t *value) {
  return send_event(s, PROTO_ALTO_MT_UPDATESTREAMCONTROL, NULL, json_pack("{so}", key, value));
}

/* The substream's resource now, whole or as a merge patch against what the
 * client holds; nothing when it did not change. */
static int refresh(struct stream *s, struct substream *ss) {
  json_t *now = alto_resource_json(s->st->a, ss->rid, s->mask);
  if (!now)
    return -1;
  if (ss->last) {
    int     same;
    json_t *patch = proto_alto_merge_diff(ss->last, now, &same);
    if (same) {
      json_decref(now);
      return 0;
    }
    if (!patch) {
      json_decref(now);
      return -1;
    }
    int rc =
        ss->incremental ? send_event(s, PROTO_ALTO_MT_MERGE_PATCH, ss->id, patch) : (json_decref(patch), send_event(s, ss->media, ss->id, json_incref(now)));
    json_decref(ss->last);
    ss->last = now;
    return rc;
  }
  ss->last = now;
  return send_event(s, ss->media, ss->id, json_incref(now));
}

static void drop_sub(struct substream *ss) {
  json_decref(ss->last);
  ss->last = NULL;
}

/* ---- the response ------------------------------------------------------- */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  struct stream       *s  = cls;
  struct alto_streams *st = s->st;
  (void)pos;
  pthread_mutex_lock(&st->lock);
  while (s->len == s->off) {
    if (st->stopping || s->closing) {
      pthread_mutex_unlock(&st->lock);
      return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (s->epoch != st->epoch) {
      s->epoch = st->epoch;
      for (size_t k = 0; k < s->nsub; k++)
        if (refresh(s, &s->sub[k])) {
          s->closing = 1; /* out of memory or the client fell behind */
          break;
        }
      continue;
    }
    struct timespec until;
    itr_deadline_in_ms(&until, CLOCK_REALTIME, (unsigned)st->keepalive_ms);
    if (pthread_cond_timedwait(&st->cond, &st->lock, &until) == ETIMEDOUT && s->len == s->off && s->epoch == st->epoch)
      append(s, ": keep-alive\n\n", 14); /* keeps the idle timeout away */
  }
  size_t n = s->len - s->off < max ? s->len - s->off : max;
  memcpy(buf, s->out + s->off, n);
  s->off += n;
  pthread_mutex_unlock(&st->lock);
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  struct stream       *s  = cls;
  struct alto_streams *st = s->st;
  pthread_mutex_lock(&st->lock);
  for (struct stream **p = &st->list; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  st->n--;
  pthread_mutex_unlock(&st->lock);
  for (size_t k = 0; k < s->nsub; k++)
    drop_sub(&s->sub[k]);
  free(s->out);
  free(s);
}

/* Checks the substreams a request adds (resource known and streamable,
 * reachable with this mask, ids unused); 0 or a queued refusal. */
static int check_adds(struct alto_streams *st, struct MHD_Connection *c, const struct stream *s, unsigned mask, const struct proto_alto_stream_request *rq,
                      enum MHD_Result *ret) {
  for (size_t i = 0; i < rq->nadd; i++) {
    const struct proto_alto_substream *a = &rq->add[i];
    struct proto_alto_fault            f = {PROTO_ALTO_E_INVALID_FIELD_VALUE, "", ""};
    char                               text[200];
    snprintf(f.field, sizeof f.field, "add/%.64s/resource-id", a->id);
    snprintf(f.value, sizeof f.value, "%s", a->resource);
    if (!alto_stream_media_type(st->a, a->resource)) {
      snprintf(text, sizeof text, "resource '%s' is not one this update stream carries (see its uses)", a->resource);
      *ret = alto_send_fault(c, &f, text);
      return -1;
    }
    json_t *probe = alto_resource_json(st->a, a->resource, mask);
    if (!probe) {
      *ret = alto_refuse(c, 403, "this client may not use a resource it asked for");
      return -1;
    }
    json_decref(probe);
    for (size_t k = 0; s && k < s->nsub; k++)
      if (!strcmp(s->sub[k].id, a->id)) {
        snprintf(f.field, sizeof f.field, "add");
        snprintf(f.value, sizeof f.value, "%s", a->id);
        *ret = alto_send_fault(c, &f, "substream id already in use");
        return -1;
      }
  }
  return 0;
}

static void add_subs(struct stream *s, const struct proto_alto_stream_request *rq, json_t *started) {
  for (size_t i = 0; i < rq->nadd && s->nsub < PROTO_ALTO_MAX_SUBSTREAMS; i++) {
    struct substream *ss = &s->sub[s->nsub++];
    memset(ss, 0, sizeof *ss);
    snprintf(ss->id, sizeof ss->id, "%s", rq->add[i].id);
    snprintf(ss->rid, sizeof ss->rid, "%s", rq->add[i].resource);
    ss->media       = alto_stream_media_type(s->st->a, ss->rid);
    ss->incremental = rq->add[i].incremental;
    if (started)
      json_array_append_new(started, json_string(ss->id));
  }
}

enum MHD_Result alto_streams_open(struct alto_streams *st, struct MHD_Connection *c, unsigned mask, const json_t *req, int *opened) {
  struct proto_alto_stream_request rq;
  struct proto_alto_fault          f = {0};
  char                             err[300];
  enum MHD_Result                  ret;
  if (proto_alto_parse_stream_request(req, &rq, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  if (!rq.nadd || rq.nremove) {
    struct proto_alto_fault bad = {PROTO_ALTO_E_INVALID_FIELD_VALUE, "remove", ""};
    return alto_send_fault(c, &bad, "a new stream takes add only; remove goes to its control URI");
  }
  if (check_adds(st, c, NULL, mask, &rq, &ret))
    return ret;
  struct stream *s = calloc(1, sizeof *s);
  uint8_t        rnd[16];
  if (!s || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    free(s);
    return alto_refuse(c, 503, "cannot start a stream");
  }
  for (int i = 0; i < 16; i++)
    snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
  s->st   = st;
  s->mask = mask;
  add_subs(s, &rq, NULL);

  /* the control URI, absolute when the request named its host */
  char        uri[400];
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
  int         tls  = MHD_get_connection_info(c, MHD_CONNECTION_INFO_PROTOCOL) != NULL;
  if (host && strlen(host) < 200 && !strpbrk(host, " /\\\"<>\r\n"))
    snprintf(uri, sizeof uri, "%s://%s/alto/updates/streams/%s", tls ? "https" : "http", host, s->id);
  else
    snprintf(uri, sizeof uri, "/alto/updates/streams/%s", s->id);

  pthread_mutex_lock(&st->lock);
  if (st->stopping || st->n >= st->max) {
    pthread_mutex_unlock(&st->lock);
    for (size_t k = 0; k < s->nsub; k++)
      drop_sub(&s->sub[k]);
    free(s);
    return alto_refuse(c, 503, "too many update streams (alto-max-streams)");
  }
  int bad = send_control(s, "control-uri", json_string(uri));
  for (size_t k = 0; !bad && k < s->nsub; k++)
    bad = refresh(s, &s->sub[k]);
  if (bad) {
    pthread_mutex_unlock(&st->lock);
    for (size_t k = 0; k < s->nsub; k++)
      drop_sub(&s->sub[k]);
    free(s->out);
    free(s);
    return alto_refuse(c, 503, "out of memory");
  }
  s->epoch = st->epoch;
  s->next  = st->list;
  st->list = s;
  st->n++;
  pthread_mutex_unlock(&st->lock);

  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, stream_free);
  if (!resp) {
    stream_free(s);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, PROTO_ALTO_MT_EVENT_STREAM);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  itr_metrics_note_response(ITR_ROUTE_ALTO, MHD_HTTP_OK);
  ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  *opened = ret == MHD_YES;
  return ret;
}

enum MHD_Result alto_streams_control(struct alto_streams *st, struct MHD_Connection *c, const char *id, unsigned mask, const json_t *req) {
  struct proto_alto_stream_request rq;
  struct proto_alto_fault          f = {0};
  char                             err[300];
  enum MHD_Result                  ret;
  if (proto_alto_parse_stream_request(req, &rq, &f, err, sizeof err))
    return alto_send_fault(c, &f, err);
  pthread_mutex_lock(&st->lock);
  struct stream *s = st->list;
  while (s && (strcmp(s->id, id) || s->closing))
    s = s->next;
  if (!s || s->mask != mask) {
    pthread_mutex_unlock(&st->lock);
    return alto_refuse(c, 404, "no such update stream");
  }
  if (check_adds(st, c, s, mask, &rq, &ret)) {
    pthread_mutex_unlock(&st->lock);
    return ret;
  }
  json_t *stopped = json_array(), *started = json_array();
  for (size_t i = 0; i < rq.nremove; i++)
    for (size_t k = 0; k < s->nsub; k++)
      if (!strcmp(s->sub[k].id, rq.remove[i])) {
        drop_sub(&s->sub[k]);
        s->sub[k] = s->sub[--s->nsub];
        json_array_append_new(stopped, json_string(rq.remove[i]));
        break;
      }
  if (rq.nadd + s->nsub > PROTO_ALTO_MAX_SUBSTREAMS) {
    pthread_mutex_unlock(&st->lock);
    json_decref(stopped);
    json_decref(started);
    struct proto_alto_fault bad = {PROTO_ALTO_E_INVALID_FIELD_VALUE, "add", ""};
    return alto_send_fault(c, &bad, "too many substreams in one stream");
  }
  size_t first = s->nsub;
  add_subs(s, &rq, started);
  int bad = json_array_size(stopped) ? send_control(s, "stopped", json_incref(stopped)) : 0;
  for (size_t k = first; !bad && k < s->nsub; k++)
    bad = refresh(s, &s->sub[k]);
  if (!bad && json_array_size(started))
    bad = send_control(s, "started", json_incref(started));
  if (bad || !s->nsub)
    s->closing = 1; /* RFC 8895 6.7: a stream without substreams ends */
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
  json_decref(stopped);
  json_decref(started);
  struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  itr_metrics_note_response(ITR_ROUTE_ALTO, MHD_HTTP_NO_CONTENT);
  ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, resp);
  MHD_destroy_response(resp);
  return ret;
}
