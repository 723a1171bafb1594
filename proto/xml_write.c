/* Writers: the structs of msg.h into v1 documents (see xml.h).
 *
 * A writer refuses (returns NULL) a struct that holds what v1 cannot say,
 * checking the same forms (text.h) and caps (xml.h) its reader enforces,
 * so that whatever we write, we and every other v1 reader accept. */
#include "text.h"
#include "xml.h"
#include "xml_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>

/* Writers build a tree and let libxml2 serialize it, so escaping is never
 * hand-written.  Any libxml2 allocation failure makes the node NULL; the
 * `ok` flag collects that. */
struct wctx {
  xmlDocPtr  doc;
  xmlNodePtr root;
  xmlNsPtr   ns;
  int        ok;
};

static int w_begin(struct wctx *w, const char *root) {
  w->ok   = 1;
  w->doc  = xmlNewDoc((const xmlChar *)"1.0");
  w->root = w->doc ? xmlNewDocNode(w->doc, NULL, (const xmlChar *)root, NULL) : NULL;
  if (!w->root) {
    xmlFreeDoc(w->doc);
    return -1;
  }
  xmlDocSetRootElement(w->doc, w->root);
  w->ns = xmlNewNs(w->root, (const xmlChar *)P4P_XML_NS, NULL);
  if (!w->ns) {
    xmlFreeDoc(w->doc);
    return -1;
  }
  xmlSetNs(w->root, w->ns);
  return 0;
}

static xmlNodePtr w_child(struct wctx *w, xmlNodePtr parent, const char *name, const char *text) {
  if (!parent) {
    w->ok = 0;
    return NULL;
  }
  xmlNodePtr n = xmlNewTextChild(parent, w->ns, (const xmlChar *)name, (const xmlChar *)text);
  if (!n)
    w->ok = 0;
  return n;
}

static void w_attr(struct wctx *w, xmlNodePtr n, const char *name, const char *value) {
  if (!n || !xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value))
    w->ok = 0;
}

static void w_attr_u(struct wctx *w, xmlNodePtr n, const char *name, uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "%llu", (unsigned long long)v);
  w_attr(w, n, name, b);
}

static void w_attr_v(struct wctx *w, xmlNodePtr n, const char *name, double v) {
  char b[P4P_VALUE_TEXT_MAX];
  proto_value_format(v, b);
  w_attr(w, n, name, b);
}

static void w_attr_hash(struct wctx *w, xmlNodePtr n, const uint8_t h[20]) {
  char b[2 * P4P_HASH_SIZE + 1];
  proto_hash_format_hex(h, b);
  w_attr(w, n, "info-hash", b);
}

static void w_attr_addr(struct wctx *w, xmlNodePtr n, const char *name, const uint8_t a[16]) {
  char b[P4P_ADDR_TEXT_MAX];
  proto_addr_format(a, b);
  w_attr(w, n, name, b);
}

static char *w_end(struct wctx *w, size_t *len) {
  char *out = NULL;
  if (w->ok) {
    xmlChar *mem  = NULL;
    int      size = 0;
    xmlDocDumpFormatMemoryEnc(w->doc, &mem, &size, "UTF-8", 1);
    /* never write what a reader must refuse: drop the indentation when it
     * alone pushes the document over the cap */
    if (mem && (size_t)size > P4P_XML_MAX_BYTES) {
      xmlFree(mem);
      mem = NULL;
      xmlDocDumpFormatMemoryEnc(w->doc, &mem, &size, "UTF-8", 0);
      if (mem && (size_t)size > P4P_XML_MAX_BYTES) {
        xmlFree(mem);
        mem = NULL;
      }
    }
    /* hand back plain malloc'd memory: callers free() it */
    if (mem && size >= 0 && (out = malloc((size_t)size + 1))) {
      memcpy(out, mem, (size_t)size);
      out[size] = '\0';
      if (len)
        *len = (size_t)size;
    }
    xmlFree(mem);
  }
  xmlFreeDoc(w->doc);
  return out;
}

static void w_fail(struct wctx *w) { w->ok = 0; }

static int matrix_writable(const struct p4p_matrix *m) {
  if (m->n == 0 || m->n > P4P_XML_MAX_MATRIX_PIDS || !m->pids || !m->v)
    return 0;
  for (size_t i = 0; i < m->n; i++)
    if (!proto_name_valid(m->pids[i]))
      return 0;
  for (size_t i = 0; i < m->n * m->n; i++)
    if (!proto_value_valid(m->v[i]))
      return 0;
  return 1;
}

/* Only non-zero cells are written: an absent entry reads back as 0. */
static void w_matrix(struct wctx *w, xmlNodePtr parent, const struct p4p_matrix *m) {
  if (!matrix_writable(m)) {
    w_fail(w);
    return;
  }
  size_t cap = m->n * P4P_NAME_MAX, used = 0;
  char  *list = malloc(cap);
  if (!list) {
    w_fail(w);
    return;
  }
  for (size_t i = 0; i < m->n; i++)
    used += (size_t)snprintf(list + used, cap - used, "%s%s", i ? " " : "", m->pids[i]);
  w_child(w, parent, "pids", list);
  free(list);
  for (size_t i = 0; i < m->n && w->ok; i++)
    for (size_t j = 0; j < m->n && w->ok; j++) {
      double v = m->v[i * m->n + j];
      if (v == 0)
        continue;
      xmlNodePtr e = w_child(w, parent, "entry", NULL);
      w_attr(w, e, "from", m->pids[i]);
      w_attr(w, e, "to", m->pids[j]);
      w_attr_v(w, e, "value", v);
    }
}

static void w_version(struct wctx *w, const char *version) {
  if (version[0] == '\0')
    return;
  if (!proto_version_valid(version))
    w_fail(w);
  else
    w_attr(w, w->root, "version", version);
}

#define WRITE_BEGIN(rootname)                                                                                                                                  \
  struct wctx w;                                                                                                                                               \
  if (!m || w_begin(&w, rootname) < 0)                                                                                                                         \
    return NULL;                                                                                                                                               \
  locale_t old = proto_xml_c_locale_enter()

#define WRITE_END()                                                                                                                                            \
  char *doc = w_end(&w, len);                                                                                                                                  \
  proto_xml_c_locale_leave(old);                                                                                                                               \
  return doc

char *proto_xml_write_pidmap(const struct p4p_pidmap_msg *m, size_t *len) {
  WRITE_BEGIN("pidmap");
  w_version(&w, m->version);
  if (m->npids > P4P_XML_MAX_PIDS)
    w_fail(&w);
  for (size_t i = 0; i < m->npids && w.ok; i++) {
    const struct p4p_pid_entry *e = &m->pids[i];
    if (!proto_name_valid(e->name) || !proto_loc_valid(e->loc)) {
      w_fail(&w);
      break;
    }
    xmlNodePtr n = w_child(&w, w.root, "pid", NULL);
    w_attr(&w, n, "name", e->name);
    w_attr_u(&w, n, "asid", e->asid);
    if (e->loc[0])
      w_attr(&w, n, "loc", e->loc);
    for (size_t k = 0; k < e->nprefixes && w.ok; k++) {
      char t[P4P_ADDR_TEXT_MAX];
      if (e->prefixes[k].bits > 128 || !proto_prefix_host_bits_zero(e->prefixes[k].addr, e->prefixes[k].bits)) {
        w_fail(&w);
        break;
      }
      proto_prefix_format(&e->prefixes[k], t);
      w_child(&w, n, "prefix", t);
    }
  }
  WRITE_END();
}

char *proto_xml_write_lookup_request(const struct p4p_lookup_request *m, size_t *len) {
  WRITE_BEGIN("lookup-request");
  if (m->has_info_hash)
    w_attr_hash(&w, w.root, m->info_hash);
  if (m->n > P4P_XML_MAX_ADDRS)
    w_fail(&w);
  for (size_t i = 0; i < m->n && w.ok; i++) {
    char t[P4P_ADDR_TEXT_MAX];
    proto_addr_format(m->addrs[i], t);
    w_child(&w, w.root, "addr", t);
  }
  WRITE_END();
}

char *proto_xml_write_lookup(const struct p4p_lookup_msg *m, size_t *len) {
  WRITE_BEGIN("lookup");
  if (m->n > P4P_XML_MAX_ADDRS)
    w_fail(&w);
  for (size_t i = 0; i < m->n && w.ok; i++) {
    const struct p4p_lookup_entry *e = &m->entries[i];
    xmlNodePtr                     n = w_child(&w, w.root, "result", NULL);
    w_attr_addr(&w, n, "addr", e->addr);
    if (!e->found)
      continue;
    if (!proto_name_valid(e->pid) || !proto_loc_valid(e->loc)) {
      w_fail(&w);
      break;
    }
    w_attr(&w, n, "pid", e->pid);
    w_attr_u(&w, n, "asid", e->asid);
    if (e->loc[0])
      w_attr(&w, n, "loc", e->loc);
  }
  WRITE_END();
}

char *proto_xml_write_costs(const struct p4p_costs_msg *m, size_t *len) {
  WRITE_BEGIN("costs");
  w_version(&w, m->version);
  w_matrix(&w, w.root, &m->costs);
  WRITE_END();
}

char *proto_xml_write_guidance(const struct p4p_guidance_msg *m, size_t *len) {
  WRITE_BEGIN("guidance");
  w_version(&w, m->version);
  if (m->nswarms > P4P_XML_MAX_SWARMS)
    w_fail(&w);
  if (m->has_default && w.ok)
    w_matrix(&w, w_child(&w, w.root, "default", NULL), &m->default_weights);
  for (size_t i = 0; i < m->nswarms && w.ok; i++) {
    xmlNodePtr s = w_child(&w, w.root, "swarm", NULL);
    w_attr_hash(&w, s, m->swarms[i].info_hash);
    w_matrix(&w, s, &m->swarms[i].weights);
  }
  WRITE_END();
}

char *proto_xml_write_stats(const struct p4p_stats_msg *m, size_t *len) {
  WRITE_BEGIN("stats");
  if (m->nswarms > P4P_XML_MAX_SWARMS)
    w_fail(&w);
  for (size_t i = 0; i < m->nswarms && w.ok; i++) {
    const struct p4p_swarm_stats *s  = &m->swarms[i];
    xmlNodePtr                    sn = w_child(&w, w.root, "swarm", NULL);
    w_attr_hash(&w, sn, s->info_hash);
    for (size_t k = 0; k < s->npids && w.ok; k++) {
      const struct p4p_pid_stats *ps = &s->pids[k];
      /* negative means unknown and is written as an absent attribute */
      if (!proto_name_valid(ps->pid) || isnan(ps->up_kbps) || isnan(ps->down_kbps) || isinf(ps->up_kbps) || isinf(ps->down_kbps)) {
        w_fail(&w);
        break;
      }
      xmlNodePtr n = w_child(&w, sn, "pid", NULL);
      w_attr(&w, n, "name", ps->pid);
      w_attr_u(&w, n, "seeders", ps->seeders);
      w_attr_u(&w, n, "leechers", ps->leechers);
      if (ps->up_kbps >= 0)
        w_attr_v(&w, n, "up-kbps", ps->up_kbps);
      if (ps->down_kbps >= 0)
        w_attr_v(&w, n, "down-kbps", ps->down_kbps);
    }
  }
  WRITE_END();
}

char *proto_xml_write_capability(const struct p4p_capability_msg *m, size_t *len) {
  WRITE_BEGIN("capability");
  if (m->nservers > P4P_XML_MAX_SERVERS)
    w_fail(&w);
  for (size_t i = 0; i < m->nservers && w.ok; i++) {
    const struct p4p_server *s = &m->servers[i];
    if (!proto_name_valid(s->pid) || !proto_kind_valid(s->kind) || s->port == 0) {
      w_fail(&w);
      break;
    }
    xmlNodePtr n = w_child(&w, w.root, "server", NULL);
    w_attr(&w, n, "pid", s->pid);
    w_attr(&w, n, "kind", s->kind);
    w_attr_addr(&w, n, "addr", s->addr);
    w_attr_u(&w, n, "port", s->port);
    w_attr_u(&w, n, "capacity-kbps", s->capacity_kbps);
  }
  WRITE_END();
}

char *proto_xml_write_capability_request(const struct p4p_capability_request *m, size_t *len) {
  WRITE_BEGIN("capability-request");
  if ((m->pid[0] && !proto_name_valid(m->pid)) || m->count < 1 || m->count > P4P_XML_MAX_SERVERS)
    w_fail(&w);
  w_attr_hash(&w, w.root, m->info_hash);
  if (m->pid[0])
    w_attr(&w, w.root, "pid", m->pid);
  w_attr_u(&w, w.root, "count", m->count);
  WRITE_END();
}

/* Error texts are free text from anywhere (strerror, a peer's input), so
 * the writer makes them carriable instead of refusing them: it stops at the
 * first invalid UTF-8 sequence (e.g. a multi-byte character cut by an
 * earlier snprintf) and turns control characters XML 1.0 cannot hold into
 * '?'. */
static void sanitize_text(char *dst, const char *src, size_t size) {
  size_t               n = 0;
  const unsigned char *s = (const unsigned char *)src;
  while (*s && n + 1 < size) {
    int clen = 4;
    int c    = xmlGetUTF8Char(s, &clen);
    if (c < 0 || n + (size_t)clen >= size)
      break;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      dst[n++] = '?';
    } else {
      memcpy(dst + n, s, (size_t)clen);
      n += (size_t)clen;
    }
    s += clen;
  }
  dst[n] = '\0';
}

char *proto_xml_write_error(const struct p4p_error_msg *m, size_t *len) {
  WRITE_BEGIN("error");
  if (m->status < 400 || m->status > 599)
    w_fail(&w);
  w_attr_u(&w, w.root, "status", (uint64_t)m->status);
  char text[P4P_TEXT_MAX];
  char src[P4P_TEXT_MAX];
  memcpy(src, m->text, sizeof src);
  /* a full buffer without NUL is cut, not read past */
  src[sizeof src - 1] = '\0';
  sanitize_text(text, src, sizeof text);
  if (w.ok && text[0]) {
    /* the text is the root's own content; libxml2 escapes it on output */
    xmlNodePtr t = xmlNewText((const xmlChar *)text);
    if (!t || !xmlAddChild(w.root, t)) {
      xmlFreeNode(t);
      w_fail(&w);
    }
  }
  WRITE_END();
}
