/* Background fetcher of provider portals (portal_client.h).
 *
 * Threads: the caller's threads only take the lock to copy data out, read
 * status or leave stats; everything else (curl handles, schedules, ETags)
 * belongs to the fetch thread and is touched by it alone. */
#include "portal_client.h"
#include "proto/errbuf.h"

#include "curl_lazy.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alto_client.h"
#include "legacy_portal.h"
#include "log.h"
#include "proto/alto.h"
#include "proto/xml.h"

/* resource names, as in the v1 paths and in messages */
static const char *const if_name[P4P_IFACE_COUNT + 1] = {"pidmap", "costs", "guidance", "capability", "update stream"};
/* ALTO providers: the RFC 8895 update stream has a fetch slot of its own */
#define STREAM P4P_IFACE_COUNT
static const char *const v1_path[P4P_IFACE_COUNT]     = {"/p4p/v1/pidmap", "/p4p/v1/costs", "/p4p/v1/guidance", "/p4p/v1/capability"};
static const char *const legacy_path[P4P_IFACE_COUNT] = {"/pid/map", "/pdistance", NULL, NULL};

#define DEFAULT_REFRESH_S     300
#define DEFAULT_STALENESS_S   3600
#define DEFAULT_TIMEOUT_MS    10000
#define DEFAULT_MAX_BODY      ((size_t)P4P_XML_MAX_BYTES)
#define DEFAULT_BACKOFF_MAX_S 300
/* the loop wakes at least this often even with nothing due, so a lost
 * wakeup can never stall it for long */
#define MAX_POLL_MS           1000

struct provider;

/* One interface of one provider: its transfer in flight and schedule. */
struct fetch {
  struct provider   *prov;
  int                iface;
  int                enabled;
  CURL              *easy; /* non-NULL while a transfer is in flight */
  struct curl_slist *hdrs;
  char              *body;
  size_t             len, cap;
  int                over_cap;
  int                posted;        /* this transfer is a POST */
  long               max_age;       /* of the answer, -1 = none */
  char               etag_new[256]; /* ETag of the answer */
  char               version_new[P4P_NAME_MAX];
  char               ctype_new[96]; /* Content-Type of the answer */
  char               errbuf[CURL_ERROR_SIZE];
  int64_t            due_ms;                /* monotonic; next fetch */
  unsigned           fails;                 /* consecutive failures */
  char               etag[256];             /* ETag of the data held */
  char               version[P4P_NAME_MAX]; /* version header of the data held */
  uint64_t           hash;                  /* FNV-1a of the held data's body */
  int64_t            good_ms;               /* monotonic; 0 = no data held */
  struct portal_log  log;                   /* state changes, for log lines */
};

struct provider {
  struct p4p_provider_config src;
  struct fetch               f[P4P_IFACE_COUNT + 1]; /* + the ALTO update stream */
  struct p4p_alto_source    *alto;                   /* ALTO providers: resources from the IRD */
  struct portal_client      *owner;
  /* under portal_client.lock: */
  struct portal_data      data;
  struct portal_status    st;
  char                   *stats_doc; /* <stats> to POST, NULL = GET guidance */
  size_t                  stats_len;
  int                     kick;      /* stats arrived: fetch guidance now */
  struct portal_log_limit log_limit; /* fetch thread only */
};

struct portal_client {
  pthread_t       thread;
  pthread_mutex_t lock;
  CURLM          *multi;
  atomic_int      stopping;
  void (*on_update)(void *ctx);
  void            *ctx;
  size_t           n;
  struct provider *p;
  uint64_t         rng;            /* fetch thread only: backoff jitter */
  int              stream_changed; /* fetch thread only: a stream stored data */
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

/* xorshift64*, uniform in [0, 1) */
static double rand01(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

long p4p_portal_cache_max_age(const char *value) {
  long        age = -1;
  const char *p   = value;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    size_t n = strcspn(p, ",");
    if (n >= 8 && !strncasecmp(p, "max-age=", 8)) {
      const char *d = p + 8;
      if (*d == '"')
        d++;
      long v      = 0;
      int  digits = 0;
      while (*d >= '0' && *d <= '9') {
        if (v < 100000000)
          v = v * 10 + (*d - '0');
        d++;
        digits++;
      }
      if (digits)
        age = v;
    }
    p += n;
  }
  return age;
}

/* ---- deep copies --------------------------------------------------------- */

static int copy_matrix(struct p4p_matrix *dst, const struct p4p_matrix *src) {
  if (proto_matrix_alloc(dst, src->n) < 0)
    return -1;
  if (src->n) {
    memcpy(dst->pids, src->pids, src->n * sizeof *src->pids);
    memcpy(dst->v, src->v, src->n * src->n * sizeof *src->v);
  }
  return 0;
}

static int copy_pidmap(struct p4p_pidmap_msg *dst, const struct p4p_pidmap_msg *src) {
  memset(dst, 0, sizeof *dst);
  memcpy(dst->version, src->version, sizeof dst->version);
  if (!src->npids)
    return 0;
  dst->pids = calloc(src->npids, sizeof *dst->pids);
  if (!dst->pids)
    return -1;
  for (size_t i = 0; i < src->npids; i++) {
    const struct p4p_pid_entry *s = &src->pids[i];
    struct p4p_pid_entry       *d = &dst->pids[i];
    *d                            = *s;
    d->prefixes                   = NULL;
    d->nprefixes                  = 0;
    dst->npids                    = i + 1;
    if (s->nprefixes) {
      d->prefixes = malloc(s->nprefixes * sizeof *d->prefixes);
      if (!d->prefixes)
        goto fail;
      memcpy(d->prefixes, s->prefixes, s->nprefixes * sizeof *d->prefixes);
      d->nprefixes = s->nprefixes;
    }
  }
  return 0;
fail:
  proto_pidmap_msg_free(dst);
  return -1;
}

static int copy_costs(struct p4p_costs_msg *dst, const struct p4p_costs_msg *src) {
  memset(dst, 0, sizeof *dst);
  memcpy(dst->version, src->version, sizeof dst->version);
  return copy_matrix(&dst->costs, &src->costs);
}

static int copy_guidance(struct p4p_guidance_msg *dst, const struct p4p_guidance_msg *src) {
  memset(dst, 0, sizeof *dst);
  memcpy(dst->version, src->version, sizeof dst->version);
  dst->has_default = src->has_default;
  if (src->has_default && copy_matrix(&dst->default_weights, &src->default_weights) < 0)
    goto fail;
  if (src->nswarms) {
    dst->swarms = calloc(src->nswarms, sizeof *dst->swarms);
    if (!dst->swarms)
      goto fail;
    for (size_t i = 0; i < src->nswarms; i++) {
      memcpy(dst->swarms[i].info_hash, src->swarms[i].info_hash, P4P_HASH_SIZE);
      dst->nswarms = i + 1;
      if (copy_matrix(&dst->swarms[i].weights, &src->swarms[i].weights) < 0)
        goto fail;
    }
  }
  return 0;
fail:
  proto_guidance_msg_free(dst);
  return -1;
}

static int copy_capability(struct p4p_capability_msg *dst, const struct p4p_capability_msg *src) {
  memset(dst, 0, sizeof *dst);
  if (!src->nservers)
    return 0;
  dst->servers = malloc(src->nservers * sizeof *dst->servers);
  if (!dst->servers)
    return -1;
  memcpy(dst->servers, src->servers, src->nservers * sizeof *dst->servers);
  dst->nservers = src->nservers;
  return 0;
}

void p4p_portal_data_free(struct portal_data *d) {
  if (!d)
    return;
  proto_pidmap_msg_free(&d->pidmap);
  proto_costs_msg_free(&d->costs);
  proto_guidance_msg_free(&d->guidance);
  proto_capability_msg_free(&d->capability);
  memset(d, 0, sizeof *d);
}

/* ---- one parsed answer, whatever its kind ------------------------------ */

union parsed {
  struct p4p_pidmap_msg     pidmap;
  struct p4p_costs_msg      costs;
  struct p4p_guidance_msg   guidance;
  struct p4p_capability_msg capability;
};

static void parsed_free(int iface, union parsed *m) {
  switch (iface) {
  case P4P_IFACE_INFO:
    proto_pidmap_msg_free(&m->pidmap);
    break;
  case P4P_IFACE_POLICY:
    proto_costs_msg_free(&m->costs);
    break;
  case P4P_IFACE_GUIDANCE:
    proto_guidance_msg_free(&m->guidance);
    break;
  default:
    proto_capability_msg_free(&m->capability);
    break;
  }
}

static int parse_answer(const struct fetch *f, union parsed *m, char *err, size_t errlen) {
  const char *b = f->body ? f->body : "";
  size_t      n = f->len;
  memset(m, 0, sizeof *m);
  if (f->prov->alto) {
    char version[80]; /* the messages carry it already */
    return p4p_alto_parse(f->prov->alto, f->iface, f->ctype_new, b, n, m, version, sizeof version, err, errlen);
  }
  if (f->prov->src.legacy) {
    if (f->iface == P4P_IFACE_INFO)
      return p4p_legacy_parse_pidmap(b, n, "response", f->version_new, &m->pidmap, err, errlen);
    return p4p_legacy_parse_pdistance(b, n, "response", f->version_new, &m->costs, err, errlen);
  }
  /* One parse per answer (issue 15.1: kind_of first parsed it twice): an
   * <error> root fails the typed parse with its status and text in err. */
  switch (f->iface) {
  case P4P_IFACE_INFO:
    return proto_xml_parse_pidmap(b, n, "response", &m->pidmap, err, errlen);
  case P4P_IFACE_POLICY:
    return proto_xml_parse_costs(b, n, "response", &m->costs, err, errlen);
  case P4P_IFACE_GUIDANCE:
    return proto_xml_parse_guidance(b, n, "response", &m->guidance, err, errlen);
  default:
    return proto_xml_parse_capability(b, n, "response", &m->capability, err, errlen);
  }
}

/* The data slot of an interface (under the lock). */
static int *slot_has(struct portal_data *d, int iface, time_t **at) {
  switch (iface) {
  case P4P_IFACE_INFO:
    *at = &d->pidmap_at;
    return &d->has_pidmap;
  case P4P_IFACE_POLICY:
    *at = &d->costs_at;
    return &d->has_costs;
  case P4P_IFACE_GUIDANCE:
    *at = &d->guidance_at;
    return &d->has_guidance;
  default:
    *at = &d->capability_at;
    return &d->has_capability;
  }
}

static void slot_free(struct portal_data *d, int iface) {
  switch (iface) {
  case P4P_IFACE_INFO:
    proto_pidmap_msg_free(&d->pidmap);
    break;
  case P4P_IFACE_POLICY:
    proto_costs_msg_free(&d->costs);
    break;
  case P4P_IFACE_GUIDANCE:
    proto_guidance_msg_free(&d->guidance);
    break;
  default:
    proto_capability_msg_free(&d->capability);
    break;
  }
}

/* Moves m into the slot (the struct is shallow-moved: m is left zeroed). */
static void slot_store(struct portal_data *d, int iface, union parsed *m) {
  slot_free(d, iface);
  switch (iface) {
  case P4P_IFACE_INFO:
    d->pidmap = m->pidmap;
    break;
  case P4P_IFACE_POLICY:
    d->costs = m->costs;
    break;
  case P4P_IFACE_GUIDANCE:
    d->guidance = m->guidance;
    break;
  default:
    d->capability = m->capability;
    break;
  }
  memset(m, 0, sizeof *m);
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t stream_body(struct fetch *f, const char *ptr, size_t n);

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct fetch *f = ud;
  size_t        n = size * nmemb;
  if (f->iface == STREAM)
    return stream_body(f, ptr, n);
  if (n > f->prov->src.max_body - f->len) {
    f->over_cap = 1;
    return 0; /* aborts the transfer: nothing past the cap is kept */
  }
  if (f->len + n + 1 > f->cap) {
    size_t ncap = f->cap ? f->cap : 16384;
    while (ncap < f->len + n + 1)
      ncap *= 2;
    char *nb = realloc(f->body, ncap);
    if (!nb)
      return 0;
    f->body = nb;
    f->cap  = ncap;
  }
  memcpy(f->body + f->len, ptr, n);
  f->len += n;
  f->body[f->len] = '\0';
  return n;
}

/* Copies a header value (trimmed, printable ASCII only) into out. */
static void header_value(const char *v, size_t n, char *out, size_t outlen) {
  while (n && (*v == ' ' || *v == '\t'))
    v++, n--;
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < outlen; i++)
    if (v[i] >= 0x20 && v[i] < 0x7f)
      out[k++] = v[i];
  out[k] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct fetch *f = ud;
  size_t        n = size * nmemb;
  if (n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    /* a new response (after a 100 Continue): forget the previous one's */
    f->max_age     = -1;
    f->etag_new[0] = f->version_new[0] = f->ctype_new[0] = '\0';
    return n;
  }
  const char *colon = memchr(ptr, ':', n);
  if (!colon)
    return n;
  size_t      kn = (size_t)(colon - ptr);
  const char *v  = colon + 1;
  size_t      vn = n - kn - 1;
  char        tmp[256];
  if (kn == 13 && !strncasecmp(ptr, "Cache-Control", kn)) {
    header_value(v, vn, tmp, sizeof tmp);
    f->max_age = p4p_portal_cache_max_age(tmp);
  } else if (kn == 12 && !strncasecmp(ptr, "Content-Type", kn)) {
    header_value(v, vn, f->ctype_new, sizeof f->ctype_new);
  } else if (kn == 4 && !strncasecmp(ptr, "ETag", kn)) {
    header_value(v, vn, f->etag_new, sizeof f->etag_new);
  } else if ((kn == 13 && !strncasecmp(ptr, "X-P4P-Version", kn)) || (kn == 12 && !strncasecmp(ptr, "X-P4P-PIDMap", kn))) {
    header_value(v, vn, f->version_new, sizeof f->version_new);
  }
  return n;
}

/* ---- the fetch thread ----------------------------------------------------- */

static int backoff_step_s(const struct provider *p, unsigned fails) {
  if (!fails)
    return 0;
  long step = fails > 20 ? (1L << 20) : 1L << (fails - 1);
  return step > p->src.backoff_max_s ? p->src.backoff_max_s : (int)step;
}

/* Releases the transfer's curl objects and buffers (fetch thread). */
static void fetch_release(struct portal_client *c, struct fetch *f) {
  if (f->easy) {
    curl_multi_remove_handle(c->multi, f->easy);
    curl_easy_cleanup(f->easy);
    f->easy = NULL;
  }
  curl_slist_free_all(f->hdrs);
  f->hdrs = NULL;
  free(f->body);
  f->body = NULL;
  f->len = f->cap = 0;
}

int64_t p4p_portal_backoff_delay_ms(unsigned fails, int cap_s, double u) {
  if (!fails)
    return 0;
  int64_t step = fails > 31 ? INT64_C(1) << 30 : INT64_C(1) << (fails - 1);
  if (step > cap_s)
    step = cap_s;
  return (int64_t)((double)step * 1000.0 * (0.5 + u));
}

static void record_failure(struct portal_client *c, struct fetch *f, const char *text) {
  struct provider *p = f->prov;
  f->fails++;
  f->due_ms = mono_ms() + p4p_portal_backoff_delay_ms(f->fails, p->src.backoff_max_s, rand01(&c->rng));
  p4p_portal_log_failure(&f->log, &p->log_limit, p->src.name, if_name[f->iface], text, f->good_ms ? (long)((mono_ms() - f->good_ms) / 1000) : -1, time(NULL));
  pthread_mutex_lock(&c->lock);
  p->st.fetches++;
  p->st.failures++;
  p->st.last_error_at = time(NULL);
  snprintf(p->st.last_error, sizeof p->st.last_error, "%s: %s", if_name[f->iface], text);
  int worst = 0;
  for (int i = 0; i < P4P_IFACE_COUNT; i++) {
    int s = backoff_step_s(p, p->f[i].fails);
    worst = s > worst ? s : worst;
  }
  p->st.backoff_s = worst;
  pthread_mutex_unlock(&c->lock);
}

/* curl_slist_append returns NULL on failure and keeps the old list: keep
 * it too (so it is freed) and remember the failure. */
static void add_header(struct curl_slist **h, int *failed, const char *line) {
  struct curl_slist *n = curl_slist_append(*h, line);
  if (n)
    *h = n;
  else
    *failed = 1;
}

/* What every transfer to a portal shares, then into the multi handle (a
 * failure is recorded on f).  h holds the request's own headers; the token
 * (when with_token) and "Expect:" (no 100-continue round trip) join them
 * here.  A fetch is bounded: timeout_ms for the whole of it, so a hanging
 * or trickling portal is cut there, and max_body for its body.  The update
 * stream is not: it lives as long as the server keeps it, and only a
 * server silent for three timeouts (at least 15 s; no event, no
 * keep-alive) is taken as gone. */
static void launch(struct portal_client *c, struct fetch *f, const char *url, struct curl_slist *h, int hfail, int with_token) {
  struct provider *p = f->prov;
  CURL            *e = f->easy;
  char             line[400];
  if (p->src.token[0] && with_token) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", p->src.token);
    add_header(&h, &hfail, line);
  }
  add_header(&h, &hfail, "Expect:");
  f->hdrs      = h;
  long timeout = p->src.timeout_ms;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, f);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  if (f->iface == STREAM) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, timeout / 1000 * 3 > 15 ? timeout / 1000 * 3 : 15L);
  } else {
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    /* the speed floor (1 byte/s over the same span) is only a second guard;
     * a shorter span would cut a portal that legitimately thinks before
     * answering (the iTracker may solve for ~2 s first) */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (timeout + 999) / 1000);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->src.max_body);
  }
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "opentracker-p4p portal client");
  if (p->src.ca_file[0])
    curl_easy_setopt(e, CURLOPT_CAINFO, p->src.ca_file);
  if (hfail || curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    curl_slist_free_all(f->hdrs);
    f->hdrs = NULL;
    curl_easy_cleanup(e);
    f->easy = NULL;
    record_failure(c, f, "cannot start a transfer (out of memory)");
  }
}

static void start_stream(struct portal_client *c, struct fetch *f);

static void start_fetch(struct portal_client *c, struct fetch *f) {
  struct provider *p = f->prov;
  if (f->iface == STREAM) {
    start_stream(c, f);
    return;
  }
  const char *path = p->src.legacy ? legacy_path[f->iface] : v1_path[f->iface];
  char        url[640], line[400];
  int         post = 0, with_token = 1;
  const char *accept    = p->src.legacy ? "Accept: text/plain" : "Accept: application/p4p+xml";
  const char *post_type = "application/p4p+xml";

  f->len                = 0;
  f->over_cap           = 0;
  f->posted             = 0;
  f->max_age            = -1;
  f->etag_new[0] = f->version_new[0] = f->errbuf[0] = f->ctype_new[0] = '\0';
  snprintf(url, sizeof url, "%s%s", p->src.url, path);
  if (p->alto) {
    char        alto_accept[200];
    const char *mt, *pt;
    pthread_mutex_lock(&c->lock);
    int want_post = f->iface == P4P_IFACE_GUIDANCE && p->stats_doc;
    pthread_mutex_unlock(&c->lock);
    int rc = p4p_alto_target(p->alto, f->iface, want_post, url, sizeof url, &mt, &pt, &with_token);
    if (rc) {
      /* not offered: look again at the refresh period; not yet: soon */
      f->due_ms = mono_ms() + (rc == 1 ? (int64_t)p->src.refresh_s * 1000 : 200);
      return;
    }
    snprintf(alto_accept, sizeof alto_accept, "Accept: %s", mt);
    snprintf(line, sizeof line, "%s", alto_accept);
    accept    = line;
    post_type = pt;
  }
  f->easy = curl_easy_init();
  if (!f->easy) {
    record_failure(c, f, "cannot create a transfer (out of memory)");
    return;
  }
  CURL              *e     = f->easy;
  struct curl_slist *h     = NULL;
  int                hfail = 0;
  add_header(&h, &hfail, accept);
  if (f->iface == P4P_IFACE_GUIDANCE && !p->src.legacy) {
    pthread_mutex_lock(&c->lock);
    if (p->stats_doc && post_type) {
      /* COPYPOSTFIELDS: the stats may be replaced while this is in flight */
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->stats_len);
      curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, p->stats_doc);
      post = 1;
    }
    pthread_mutex_unlock(&c->lock);
    if (post) {
      snprintf(line, sizeof line, "Content-Type: %s", post_type);
      add_header(&h, &hfail, line);
    }
    f->posted = post;
  }
  if (!post && f->etag[0] && f->good_ms) {
    snprintf(line, sizeof line, "If-None-Match: %s", f->etag);
    add_header(&h, &hfail, line);
  }
  launch(c, f, url, h, hfail, with_token);
}

static const char *status_hint(long code) {
  switch (code) {
  case 401:
    return " (credentials refused)";
  case 403:
    return " (interface not allowed for this credential)";
  case 404:
    return " (no such interface)";
  case 413:
    return " (request too large)";
  case 429:
    return " (over this client's quota at the iTracker)";
  case 503:
    return " (iTracker busy)";
  default:
    if (code >= 300 && code < 400)
      return " (redirects are not followed)";
    return "";
  }
}

/* A finished transfer: stores good data or records the failure.  Returns 1
 * when the provider's good data changed. */
static int finish_stream(struct portal_client *c, struct fetch *f, CURLcode res);

static int finish_fetch(struct portal_client *c, struct fetch *f, CURLcode res) {
  struct provider *p = f->prov;
  if (f->iface == STREAM)
    return finish_stream(c, f, res);
  char text[300];
  long code    = 0;
  int  changed = 0;

  if (res != CURLE_OK) {
    if (f->over_cap || res == CURLE_FILESIZE_EXCEEDED)
      snprintf(text, sizeof text, "response larger than max_body (%zu bytes)", p->src.max_body);
    else
      snprintf(text, sizeof text, "%s", f->errbuf[0] ? f->errbuf : curl_easy_strerror(res));
    record_failure(c, f, text);
    return 0;
  }
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
  int64_t      now     = mono_ms();
  int          renewed = 0;
  union parsed m;
  memset(&m, 0, sizeof m);
  if (code == 304) {
    if (!f->good_ms) {
      record_failure(c, f, "HTTP 304 but no data held");
      return 0;
    }
    renewed = 1;
  } else if (code == 200) {
    uint64_t h = fnv1a(f->body ? f->body : "", f->len);
    if (f->good_ms && h == f->hash) {
      renewed = 1; /* the same bytes again: only the age changes */
    } else {
      char err[256];
      int  pr = parse_answer(f, &m, err, sizeof err);
      if (pr < 0) {
        record_failure(c, f, err);
        if (p->alto && p4p_alto_map_wanted(p->alto) && !p->f[P4P_IFACE_INFO].easy)
          p->f[P4P_IFACE_INFO].due_ms = mono_ms(); /* a vtag did not match */
        return 0;
      }
      if (pr == 1) { /* ALTO's IRD: now the resource it names */
        f->due_ms = mono_ms();
        return 0;
      }
      f->hash = h;
    }
  } else {
    /* say what the portal's own <error> says, when it sent one */
    char                 why[200] = "";
    struct p4p_error_msg em;
    char                 perr[64];
    if (p->alto) {
      p4p_alto_http_failed(p->alto, code);
      char reason[180];
      p4p_alto_error_reason(f->body, f->len, reason, sizeof reason);
      if (reason[0])
        snprintf(why, sizeof why, ": %.180s", reason);
    } else if (!p->src.legacy && f->body && proto_xml_parse_error(f->body, f->len, "response", &em, perr, sizeof perr) == 0)
      snprintf(why, sizeof why, ": %.180s", em.text);
    snprintf(text, sizeof text, "HTTP %ld%s%s", code, status_hint(code), why);
    record_failure(c, f, text);
    return 0;
  }

  f->fails   = 0;
  f->good_ms = now;
  p4p_portal_log_ok(&f->log, &p->log_limit, p->src.name, if_name[f->iface], f->version_new, time(NULL));
  if (f->version_new[0])
    snprintf(f->version, sizeof f->version, "%s", f->version_new);
  /* Versions: an answer made from newer data than the PID map we hold
   * (another version header) means PIDs may have changed: ask for the map
   * now instead of at its max-age. */
  struct fetch *map = &p->f[P4P_IFACE_INFO];
  if (f != map && f->version_new[0] && map->enabled && map->good_ms && map->version[0] && strcmp(map->version, f->version_new) && !map->easy && !map->fails)
    map->due_ms = now;
  if (f->etag_new[0] && code == 200)
    snprintf(f->etag, sizeof f->etag, "%s", f->etag_new);
  /* max-age within [1 s, refresh_s]; a POST's answer (no-store) is
   * re-asked every refresh_s, or sooner when new stats arrive */
  long next = p->src.refresh_s;
  if (!f->posted && f->max_age >= 0)
    next = f->max_age < 1 ? 1 : f->max_age < next ? f->max_age : next;
  f->due_ms   = now + next * 1000;

  time_t wall = time(NULL);
  pthread_mutex_lock(&c->lock);
  time_t *at;
  int    *has = slot_has(&p->data, f->iface, &at);
  if (!renewed) {
    slot_store(&p->data, f->iface, &m);
    *has    = 1;
    changed = 1;
  }
  *at = wall;
  p->st.fetches++;
  if (code == 304)
    p->st.not_modified++;
  p->st.last_success = wall;
  if (f->version_new[0])
    snprintf(p->st.version, sizeof p->st.version, "%s", f->version_new);
  int worst = 0;
  for (int i = 0; i < P4P_IFACE_COUNT; i++) {
    int s = backoff_step_s(p, p->f[i].fails);
    worst = s > worst ? s : worst;
  }
  p->st.backoff_s = worst;
  pthread_mutex_unlock(&c->lock);
  parsed_free(f->iface, &m); /* nothing left when stored */
  return changed;
}

/* ---- ALTO update streams (RFC 8895) ---------------------------------------
 * One long POST per ALTO provider whose IRD offers a stream of its network
 * map and cost map.  While it is live, its events replace those two
 * interfaces' polls: each one is stored like a fetched answer, and every
 * byte (keep-alives included) renews their age and pushes their next poll
 * a refresh period away.  When it ends the polls resume at once and the
 * stream is tried again after the usual backoff. */

static void stream_status(struct provider *p, int live) {
  pthread_mutex_lock(&p->owner->lock);
  p->st.stream_live   = live;
  p->st.stream_events = p4p_alto_stream_events(p->alto);
  pthread_mutex_unlock(&p->owner->lock);
}

static void start_stream(struct portal_client *c, struct fetch *f) {
  struct provider *p = f->prov;
  char             url[640], *body;
  size_t           len;
  int              with_token = 1;
  int              rc         = p4p_alto_stream_target(p->alto, url, sizeof url, &body, &len, &with_token);
  if (rc) {
    f->due_ms = mono_ms() + (rc == 1 ? (int64_t)p->src.refresh_s * 1000 : 200);
    return;
  }
  f->len       = 0;
  f->over_cap  = 0;
  f->errbuf[0] = f->ctype_new[0] = '\0';
  p4p_alto_stream_reset(p->alto, 0);
  if (!(f->easy = curl_easy_init())) {
    free(body);
    record_failure(c, f, "cannot create a transfer (out of memory)");
    return;
  }
  CURL              *e     = f->easy;
  struct curl_slist *h     = NULL;
  int                hfail = 0;
  add_header(&h, &hfail, "Accept: " PROTO_ALTO_MT_EVENT_STREAM "," PROTO_ALTO_MT_ERROR);
  add_header(&h, &hfail, "Content-Type: " PROTO_ALTO_MT_UPDATESTREAMPARAMS);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
  free(body);
  launch(c, f, url, h, hfail, with_token);
}

/* An event's message, stored as a fetch of its interface would store it. */
static int stream_store(void *ctx, int iface, void *msg) {
  struct fetch    *sf = ctx;
  struct provider *p  = sf->prov;
  struct fetch    *f  = &p->f[iface];
  union parsed     u; /* the event's message is the interface's struct only */
  memset(&u, 0, sizeof u);
  if (iface == P4P_IFACE_INFO)
    u.pidmap = *(struct p4p_pidmap_msg *)msg;
  else
    u.costs = *(struct p4p_costs_msg *)msg;
  union parsed *m    = &u;
  int64_t       now  = mono_ms();
  time_t        wall = time(NULL);
  pthread_mutex_lock(&p->owner->lock);
  time_t *at;
  int    *has = slot_has(&p->data, iface, &at);
  slot_store(&p->data, iface, m);
  *has                = 1;
  *at                 = wall;
  p->st.last_success  = wall;
  p->st.stream_live   = 1;
  p->st.stream_events = p4p_alto_stream_events(p->alto);
  pthread_mutex_unlock(&p->owner->lock);
  f->good_ms               = now;
  f->fails                 = 0;
  f->etag[0]               = '\0'; /* the data held is the stream's now */
  f->hash                  = 0;
  p->owner->stream_changed = 1;
  return 0;
}

static size_t stream_body(struct fetch *f, const char *ptr, size_t n) {
  struct provider *p    = f->prov;
  long             code = 0;
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200 || strncasecmp(f->ctype_new, PROTO_ALTO_MT_EVENT_STREAM, strlen(PROTO_ALTO_MT_EVENT_STREAM))) {
    snprintf(f->errbuf, sizeof f->errbuf, "HTTP %ld %.80s, expected 200 %s", code, f->ctype_new, PROTO_ALTO_MT_EVENT_STREAM);
    return 0;
  }
  char err[256];
  if (p4p_alto_stream_feed(p->alto, ptr, n, p->src.max_body, stream_store, f, err, sizeof err)) {
    snprintf(f->errbuf, sizeof f->errbuf, "%s", err);
    if (p4p_alto_map_wanted(p->alto))
      p->f[P4P_IFACE_INFO].due_ms = mono_ms();
    return 0;
  }
  if (p4p_alto_stream_events(p->alto)) {
    /* live: the streamed data is current; the polls wait */
    int64_t now  = mono_ms();
    time_t  wall = time(NULL);
    pthread_mutex_lock(&p->owner->lock);
    for (int k = P4P_IFACE_INFO; k <= P4P_IFACE_POLICY; k++) {
      struct fetch *pf = &p->f[k];
      time_t       *at;
      if (!pf->good_ms || !*slot_has(&p->data, k, &at))
        continue;
      pf->good_ms = now;
      *at         = wall;
      if (!pf->easy)
        pf->due_ms = now + (int64_t)p->src.refresh_s * 1000;
    }
    pthread_mutex_unlock(&p->owner->lock);
  }
  return n;
}

static int finish_stream(struct portal_client *c, struct fetch *f, CURLcode res) {
  struct provider *p = f->prov;
  char             text[300];
  unsigned long    events = p4p_alto_stream_reset(p->alto, 1);
  snprintf(text, sizeof text, "ended: %s", f->errbuf[0] ? f->errbuf : res == CURLE_OK ? "closed by the server" : curl_easy_strerror(res));
  if (events)
    f->fails = 0; /* it worked: try again soon */
  record_failure(c, f, text);
  stream_status(p, 0);
  /* back to polling, now */
  int64_t now = mono_ms();
  for (int k = P4P_IFACE_INFO; k <= P4P_IFACE_POLICY; k++)
    if (!p->f[k].easy && !p->f[k].fails)
      p->f[k].due_ms = now;
  return 0;
}

/* Drops data past max_staleness_s and takes stats kicks.  Returns 1 when
 * data was dropped.  *next_ms gets the earliest staleness deadline. */
static int expire_and_kick(struct portal_client *c, int64_t now, int64_t *next_ms) {
  int changed = 0;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->n; i++) {
    struct provider *p = &c->p[i];
    struct fetch    *g = &p->f[P4P_IFACE_GUIDANCE];
    if (p->kick) {
      if (!g->easy && !g->fails)
        g->due_ms = now;
      p->kick = 0;
    }
    for (int k = 0; k < P4P_IFACE_COUNT; k++) {
      struct fetch *f = &p->f[k];
      if (!f->good_ms)
        continue;
      int64_t deadline = f->good_ms + (int64_t)p->src.max_staleness_s * 1000;
      if (now >= deadline) {
        time_t *at;
        int    *has = slot_has(&p->data, k, &at);
        slot_free(&p->data, k);
        *has       = 0;
        *at        = 0;
        f->good_ms = 0;
        p4p_portal_log_dropped(&f->log, &p->log_limit, p->src.name, if_name[k], p->src.max_staleness_s, time(NULL));
        f->etag[0]    = '\0'; /* nothing held: the next answer must be whole */
        f->version[0] = '\0';
        f->hash       = 0;
        changed       = 1;
      } else if (deadline < *next_ms) {
        *next_ms = deadline;
      }
    }
  }
  pthread_mutex_unlock(&c->lock);
  return changed;
}

static void *fetch_thread(void *arg) {
  struct portal_client *c = arg;
  while (!atomic_load(&c->stopping)) {
    int64_t now     = mono_ms();
    int64_t next    = now + MAX_POLL_MS;
    int     changed = expire_and_kick(c, now, &next);

    for (size_t i = 0; i < c->n; i++)
      for (int k = 0; k <= STREAM; k++) {
        struct fetch *f = &c->p[i].f[k];
        if (!f->enabled || f->easy)
          continue;
        if (f->due_ms <= now)
          start_fetch(c, f);
        if (!f->easy && f->due_ms < next)
          next = f->due_ms;
      }

    int running = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *msg;
    int      left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      struct fetch *f = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
      CURLcode res = msg->data.result;
      changed |= finish_fetch(c, f, res);
      fetch_release(c, f);
      if (f->due_ms < next)
        next = f->due_ms;
    }
    changed |= c->stream_changed;
    c->stream_changed = 0;
    if (changed && c->on_update)
      c->on_update(c->ctx);

    int64_t wait = next - mono_ms();
    if (wait < 0)
      wait = 0;
    if (wait > MAX_POLL_MS)
      wait = MAX_POLL_MS;
    curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
  }
  for (size_t i = 0; i < c->n; i++)
    for (int k = 0; k <= STREAM; k++)
      fetch_release(c, &c->p[i].f[k]);
  return NULL;
}

/* ---- API ----------------------------------------------------------------- */

static int valid_source(const struct p4p_provider_config *s, char *err, size_t errlen) {
  size_t nl = strnlen(s->name, sizeof s->name);
  if (nl == 0 || nl == sizeof s->name) {
    proto_fail(err, errlen, "provider name missing or too long");
    return -1;
  }
  for (size_t i = 0; i < nl; i++) {
    char ch = s->name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.')) {
      proto_fail(err, errlen, "provider %s: name may hold only A-Z a-z 0-9 . _ -", s->name);
      return -1;
    }
  }
  size_t ul = strnlen(s->url, sizeof s->url);
  if (ul == sizeof s->url || (strncmp(s->url, "http://", 7) && strncmp(s->url, "https://", 8))) {
    proto_fail(err, errlen,
               "provider %s: base URL must start with http:// or "
               "https://",
               s->name);
    return -1;
  }
  for (size_t i = 0; i < ul; i++)
    if ((unsigned char)s->url[i] <= 0x20 || s->url[i] == 0x7f) {
      proto_fail(err, errlen, "provider %s: blank or control character in base URL", s->name);
      return -1;
    }
  size_t tl = strnlen(s->token, sizeof s->token);
  if (tl == sizeof s->token) {
    proto_fail(err, errlen, "provider %s: token too long", s->name);
    return -1;
  }
  for (size_t i = 0; i < tl; i++)
    if (s->token[i] <= 0x20 || s->token[i] >= 0x7f) {
      /* it goes into a header line: no blanks, controls or CR LF */
      proto_fail(err, errlen,
                 "provider %s: token must be printable ASCII "
                 "without blanks",
                 s->name);
      return -1;
    }
  if (strnlen(s->ca_file, sizeof s->ca_file) == sizeof s->ca_file) {
    proto_fail(err, errlen, "provider %s: CA file name too long", s->name);
    return -1;
  }
  if (s->interfaces & ~P4P_IF_ALL) {
    proto_fail(err, errlen, "provider %s: unknown interface bits 0x%x", s->name, s->interfaces);
    return -1;
  }
  if (s->refresh_s < 0 || s->max_staleness_s < 0 || s->timeout_ms < 0 || s->backoff_max_s < 0) {
    proto_fail(err, errlen, "provider %s: negative period", s->name);
    return -1;
  }
  return 0;
}

struct portal_client *p4p_portal_start(const struct p4p_provider_config *src, size_t n, void (*on_update)(void *ctx), void *ctx, char *err, size_t errlen) {
  if (!src || n == 0 || n > PORTAL_MAX_SOURCES) {
    proto_fail(err, errlen, "need 1 to %d portal sources, got %zu", PORTAL_MAX_SOURCES, n);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (valid_source(&src[i], err, errlen) < 0)
      return NULL;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(src[i].name, src[j].name)) {
        proto_fail(err, errlen, "provider %s named twice", src[i].name);
        return NULL;
      }
  }
  /* loaded already by the config's provider lines, as a rule */
  if (p4p_curl_load(err, errlen))
    return NULL;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    proto_fail(err, errlen, "libcurl initialisation failed");
    return NULL;
  }
  struct portal_client *c = calloc(1, sizeof *c);
  if (!c)
    goto oom;
  c->p = calloc(n, sizeof *c->p);
  if (!c->p)
    goto oom;
  c->n         = n;
  c->on_update = on_update;
  c->ctx       = ctx;
  c->rng       = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
  if (!c->rng)
    c->rng = 1;
  atomic_init(&c->stopping, 0);
  int64_t now = mono_ms();
  for (size_t i = 0; i < n; i++) {
    struct provider *p            = &c->p[i];
    p->src                        = src[i];
    struct p4p_provider_config *s = &p->src;
    /* base + "/p4p/v1/..." must not get "//" (Yale's portal answers 406) */
    size_t ul                     = strlen(s->url);
    while (ul > 8 && s->url[ul - 1] == '/')
      s->url[--ul] = '\0';
    if (!s->interfaces)
      s->interfaces = P4P_IF_ALL;
    if (!s->refresh_s)
      s->refresh_s = DEFAULT_REFRESH_S;
    if (!s->max_staleness_s)
      s->max_staleness_s = DEFAULT_STALENESS_S;
    if (!s->timeout_ms)
      s->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!s->max_body)
      s->max_body = DEFAULT_MAX_BODY;
    if (!s->backoff_max_s)
      s->backoff_max_s = DEFAULT_BACKOFF_MAX_S;
    if (s->alto && !(p->alto = p4p_alto_new(s->url)))
      goto oom;
    p->owner     = c;
    p->f[STREAM] = (struct fetch){.prov = p, .iface = STREAM, .enabled = s->alto, .due_ms = now};
    for (int k = 0; k < P4P_IFACE_COUNT; k++) {
      struct fetch *f = &p->f[k];
      f->prov         = p;
      f->iface        = k;
      f->enabled      = (s->interfaces >> k) & 1u;
      if ((s->legacy && !legacy_path[k]) || (s->alto && k == P4P_IFACE_CAPABILITY))
        f->enabled = 0; /* Yale's portal has no such interface, nor ALTO */
      f->due_ms = now;
    }
  }
  c->multi = curl_multi_init();
  if (!c->multi)
    goto oom;
  if (pthread_mutex_init(&c->lock, NULL)) {
    curl_multi_cleanup(c->multi);
    goto oom;
  }
  if (pthread_create(&c->thread, NULL, fetch_thread, c)) {
    proto_fail(err, errlen, "cannot start the portal thread: %s", strerror(errno));
    pthread_mutex_destroy(&c->lock);
    curl_multi_cleanup(c->multi);
    free(c->p);
    free(c);
    curl_global_cleanup();
    return NULL;
  }
  return c;
oom:
  proto_fail(err, errlen, "out of memory");
  for (size_t i = 0; c && c->p && i < n; i++)
    p4p_alto_free(c->p[i].alto);
  if (c)
    free(c->p);
  free(c);
  curl_global_cleanup();
  return NULL;
}

void p4p_portal_stop(struct portal_client *c) {
  if (!c)
    return;
  atomic_store(&c->stopping, 1);
  curl_multi_wakeup(c->multi);
  pthread_join(c->thread, NULL);
  curl_multi_cleanup(c->multi);
  for (size_t i = 0; i < c->n; i++) {
    p4p_portal_data_free(&c->p[i].data);
    free(c->p[i].stats_doc);
    p4p_alto_free(c->p[i].alto);
  }
  pthread_mutex_destroy(&c->lock);
  free(c->p);
  free(c);
  curl_global_cleanup();
}

int p4p_portal_data(struct portal_client *c, size_t i, struct portal_data *out) {
  memset(out, 0, sizeof *out);
  if (!c || i >= c->n)
    return -1;
  int rc = 0;
  pthread_mutex_lock(&c->lock);
  const struct portal_data *d = &c->p[i].data;
  if (d->has_pidmap) {
    rc |= copy_pidmap(&out->pidmap, &d->pidmap);
    out->has_pidmap = 1;
    out->pidmap_at  = d->pidmap_at;
  }
  if (d->has_costs) {
    rc |= copy_costs(&out->costs, &d->costs);
    out->has_costs = 1;
    out->costs_at  = d->costs_at;
  }
  if (d->has_guidance) {
    rc |= copy_guidance(&out->guidance, &d->guidance);
    out->has_guidance = 1;
    out->guidance_at  = d->guidance_at;
  }
  if (d->has_capability) {
    rc |= copy_capability(&out->capability, &d->capability);
    out->has_capability = 1;
    out->capability_at  = d->capability_at;
  }
  pthread_mutex_unlock(&c->lock);
  if (rc) {
    p4p_portal_data_free(out);
    return -1;
  }
  return 0;
}

int p4p_portal_status(struct portal_client *c, size_t i, struct portal_status *out) {
  memset(out, 0, sizeof *out);
  if (!c || i >= c->n)
    return -1;
  pthread_mutex_lock(&c->lock);
  const struct portal_data *d = &c->p[i].data;
  *out                        = c->p[i].st;
  out->pidmap_at              = d->has_pidmap ? d->pidmap_at : 0;
  out->costs_at               = d->has_costs ? d->costs_at : 0;
  out->guidance_at            = d->has_guidance ? d->guidance_at : 0;
  out->capability_at          = d->has_capability ? d->capability_at : 0;
  out->guidance_swarms        = d->has_guidance ? d->guidance.nswarms : 0;
  out->servers                = d->has_capability ? d->capability.nservers : 0;
  pthread_mutex_unlock(&c->lock);
  return 0;
}

int p4p_portal_post_stats(struct portal_client *c, size_t i, const struct p4p_stats_msg *stats) {
  if (!c || i >= c->n || !stats || !c->p[i].f[P4P_IFACE_GUIDANCE].enabled)
    return -1;
  size_t len;
  char  *doc = c->p[i].alto ? p4p_alto_stats_body(stats, &len) : proto_xml_write_stats(stats, &len);
  if (!doc)
    return -1;
  pthread_mutex_lock(&c->lock);
  free(c->p[i].stats_doc);
  c->p[i].stats_doc = doc;
  c->p[i].stats_len = len;
  c->p[i].kick      = 1;
  pthread_mutex_unlock(&c->lock);
  curl_multi_wakeup(c->multi);
  return 0;
}
