/* alto_sse: what RFC 8895 incremental updates need beyond RFC 7285: JSON
 * merge patches (RFC 7396) between two versions of a resource, and the
 * text/event-stream framing (HTML's server-sent events) both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alto.h"

/* ---- merge patch -------------------------------------------------------- */

json_t *proto_alto_merge_diff(const json_t *from, const json_t *to, int *equal) {
  *equal = 0;
  if (!json_is_object(from) || !json_is_object(to)) {
    if (json_equal((json_t *)from, (json_t *)to)) {
      *equal = 1;
      return NULL;
    }
    return json_deep_copy(to); /* a non-object patch replaces the whole */
  }
  json_t *patch = json_object();
  if (!patch)
    return NULL;
  const char *k;
  json_t     *v;
  json_object_foreach((json_t *)from, k, v) if (!json_object_get(to, k)) json_object_set_new(patch, k, json_null());
  json_object_foreach((json_t *)to, k, v) {
    const json_t *old = json_object_get(from, k);
    if (!old) {
      json_object_set_new(patch, k, json_deep_copy(v));
      continue;
    }
    int     same;
    json_t *d = proto_alto_merge_diff(old, v, &same);
    if (!same) {
      if (!d) {
        json_decref(patch);
        return NULL;
      }
      json_object_set_new(patch, k, d);
    }
  }
  if (!json_object_size(patch)) {
    json_decref(patch);
    *equal = 1;
    return NULL;
  }
  return patch;
}

json_t *proto_alto_merge_apply(const json_t *target, const json_t *patch) {
  if (!json_is_object(patch))
    return json_deep_copy(patch);
  json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
  if (!out)
    return NULL;
  const char *k;
  json_t     *v;
  json_object_foreach((json_t *)patch, k, v) {
    if (json_is_null(v)) {
      json_object_del(out, k);
      continue;
    }
    json_t *merged = proto_alto_merge_apply(json_object_get(out, k), v);
    if (!merged || json_object_set_new(out, k, merged)) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

/* ---- event-stream writer ------------------------------------------------ */

char *proto_alto_sse_event(const char *media_type, const char *substream, const char *data, size_t *len) {
  size_t dl = strlen(data), lines = 1;
  for (size_t i = 0; i < dl; i++)
    lines += data[i] == '\n';
  size_t cap = strlen(media_type) + (substream ? strlen(substream) : 0) + dl + 7 * lines + 16;
  char  *out = malloc(cap);
  if (!out)
    return NULL;
  size_t      n = (size_t)snprintf(out, cap, "event: %s%s%s\n", media_type, substream ? "," : "", substream ? substream : "");
  const char *p = data;
  for (;;) {
    const char *nl = memchr(p, '\n', dl - (size_t)(p - data));
    size_t      ll = nl ? (size_t)(nl - p) : dl - (size_t)(p - data);
    memcpy(out + n, "data: ", 6);
    memcpy(out + n + 6, p, ll);
    n += 6 + ll;
    out[n++] = '\n';
    if (!nl)
      break;
    p = nl + 1;
  }
  out[n++] = '\n';
  out[n]   = 0;
  if (len)
    *len = n;
  return out;
}

/* ---- event-stream reader ------------------------------------------------ */

struct proto_alto_sse_reader {
  size_t max;
  int (*on_event)(void *ctx, const char *event, const char *data, size_t len);
  void  *ctx;
  char  *line, *data; /* max + 1 bytes each */
  size_t nline, ndata;
  char   event[128];
  int    after_cr; /* the last byte was CR: a following LF ends nothing */
  int    failed;
};

struct proto_alto_sse_reader *proto_alto_sse_new(size_t max_event, int (*on_event)(void *, const char *, const char *, size_t), void *ctx) {
  struct proto_alto_sse_reader *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->max      = max_event;
  r->on_event = on_event;
  r->ctx      = ctx;
  r->line     = malloc(max_event + 1);
  r->data     = malloc(max_event + 1);
  if (!r->line || !r->data) {
    proto_alto_sse_free(r);
    return NULL;
  }
  return r;
}

void proto_alto_sse_set_ctx(struct proto_alto_sse_reader *r, void *ctx) { r->ctx = ctx; }

void proto_alto_sse_free(struct proto_alto_sse_reader *r) {
  if (!r)
    return;
  free(r->line);
  free(r->data);
  free(r);
}

/* One complete line (without its end): a field, a comment or the blank
 * line that dispatches the event. */
static int take_line(struct proto_alto_sse_reader *r, char *err, size_t errlen) {
  char  *l = r->line;
  size_t n = r->nline;
  r->nline = 0;
  if (n == 0) {
    if (r->ndata) {
      r->ndata--; /* the last line's '\n' */
      r->data[r->ndata] = 0;
      int rc            = r->on_event(r->ctx, r->event[0] ? r->event : "message", r->data, r->ndata);
      r->ndata          = 0;
      r->event[0]       = 0;
      if (rc) {
        snprintf(err, errlen, "event refused");
        return -1;
      }
    }
    r->event[0] = 0;
    return 0;
  }
  if (l[0] == ':')
    return 0; /* comment: keep-alive */
  l[n]         = 0;
  char  *colon = memchr(l, ':', n);
  size_t fl    = colon ? (size_t)(colon - l) : n;
  char  *value = colon ? colon + 1 : l + n;
  if (*value == ' ')
    value++;
  size_t vl = (size_t)(l + n - value);
  if (fl == 5 && !memcmp(l, "event", 5)) {
    snprintf(r->event, sizeof r->event, "%.*s", (int)vl, value);
  } else if (fl == 4 && !memcmp(l, "data", 4)) {
    if (r->ndata + vl + 1 > r->max) {
      snprintf(err, errlen, "event data longer than %zu bytes", r->max);
      return -1;
    }
    memcpy(r->data + r->ndata, value, vl);
    r->ndata += vl;
    r->data[r->ndata++] = '\n';
  } /* id, retry and unknown fields: nothing we use */
  return 0;
}

int proto_alto_sse_feed(struct proto_alto_sse_reader *r, const char *buf, size_t len, char *err, size_t errlen) {
  if (r->failed) {
    snprintf(err, errlen, "stream already failed");
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (c == '\n' && r->after_cr) {
      r->after_cr = 0;
      continue;
    }
    r->after_cr = c == '\r';
    if (c == '\r' || c == '\n') {
      if (take_line(r, err, errlen)) {
        r->failed = 1;
        return -1;
      }
      continue;
    }
    if (c == 0) {
      snprintf(err, errlen, "NUL byte in the event stream");
      r->failed = 1;
      return -1;
    }
    if (r->nline == r->max) {
      snprintf(err, errlen, "event stream line longer than %zu bytes", r->max);
      r->failed = 1;
      return -1;
    }
    r->line[r->nline++] = c;
  }
  return 0;
}
