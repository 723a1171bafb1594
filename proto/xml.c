/* P4P XML v1: parse into msg.h structs and write them back (see xml.h and
 * docs/PROTOCOL.md).
 *
 * Portals may be hostile, so parsing is done in two layers: libxml2 builds a
 * tree under options that never load or substitute anything (no NOENT, no
 * DTDLOAD/DTDATTR, NONET, no XInclude) with a SAX hook that stops the parse
 * at a DOCTYPE before any internal subset is read; then hand-written code
 * walks the tree strictly (unknown elements and attributes are errors) and
 * checks semantics and counts while filling the struct.  The XSD in docs/
 * states the same grammar for humans and other implementations; the C code
 * does not load it at run time (schema loading fetches files). */
#include "xml.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* ------------------------------------------------------------------ */
/* one-time setup                                                      */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* written once under init_once, read-only afterwards */
static locale_t c_locale;

static void init_once_fn(void)
{
  xmlInitParser();
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Numbers on the wire use '.' whatever the program's locale is; uselocale()
 * is per thread, so switching it around a call is safe. */
static locale_t enter_c_locale(void)
{
  pthread_once(&init_once, init_once_fn);
  return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t old)
{
  if (old)
    uselocale(old);
}

/* ------------------------------------------------------------------ */
/* parse context and errors                                            */

struct pctx {
  const char *source;
  char       *err;
  size_t      errlen;
  int         failed;  /* first error wins: it is the precise one */
  size_t      cells;   /* matrix cells allocated by this message so far */
};

static void vfail_line(struct pctx *p, long line, const char *fmt, va_list ap)
{
  if (p->failed)
    return;
  p->failed = 1;
  if (!p->err || p->errlen == 0)
    return;
  int k;
  if (line > 0)
    k = snprintf(p->err, p->errlen, "%s:%ld: ", p->source, line);
  else
    k = snprintf(p->err, p->errlen, "%s: ", p->source);
  if (k >= 0 && (size_t)k < p->errlen)
    vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
  /* the reason quotes the document; keep a hostile one from forging log
   * lines */
  for (char *c = p->err; *c; c++)
    if ((unsigned char)*c < 0x20)
      *c = ' ';
}

static int fail_line(struct pctx *p, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_line(struct pctx *p, long line, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail_line(p, line, fmt, ap);
  va_end(ap);
  return -1;
}

static int fail(struct pctx *p, const xmlNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct pctx *p, const xmlNode *n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail_line(p, n ? xmlGetLineNo(n) : 0, fmt, ap);
  va_end(ap);
  return -1;
}

/* libxml2 reports through here (set per parser context, so concurrent
 * parses never share it); nothing reaches stderr. */
static void on_xml_error(void *data, xmlErrorPtr e)
{
  xmlParserCtxtPtr ctxt = data;
  struct pctx *p = ctxt ? ctxt->_private : NULL;
  if (!p || !e || e->level < XML_ERR_ERROR)
    return;
  char msg[P4P_TEXT_MAX];
  snprintf(msg, sizeof msg, "%s", e->message ? e->message : "error");
  size_t l = strlen(msg);
  while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
    msg[--l] = '\0';
  fail_line(p, e->line, "not well-formed XML: %s", msg);
}

/* For errors libxml2 raises outside the parser context (rare: memory). */
static void on_generic_error(void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

static void on_structured_error(void *ctx, xmlErrorPtr e)
{
  (void)ctx;
  (void)e;
}

/* A DOCTYPE is where entities (billion laughs, external SYSTEM files) and
 * external DTDs live; v1 has no use for one, so the parse stops here,
 * before the internal subset is even read. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                       const xmlChar *sys_id)
{
  xmlParserCtxtPtr ctxt = ctx;
  struct pctx *p = ctxt->_private;
  (void)ext_id;
  fail_line(p, ctxt->input ? ctxt->input->line : 0,
            "<!DOCTYPE %s%s%s%s> refused: P4P v1 documents must not carry "
            "a DTD (no entities, no external DTD)",
            name ? (const char *)name : "", sys_id ? " SYSTEM \"" : "",
            sys_id ? (const char *)sys_id : "", sys_id ? "\"" : "");
  xmlStopParser(ctxt);
}

/* libxml2 2.9 checks each attribute of a start tag against all earlier
 * ones, so one tag with a million attributes costs ~10^12 steps (measured:
 * 100k attributes take ~30 s).  No v1 element needs more than a handful, so
 * tags are counted before libxml2 sees them.  This is a lexer, not a
 * parser: it skips comments, CDATA and PIs, counts '=' outside quotes within
 * a tag, and may be wrong on input that is not well-formed, which libxml2
 * then refuses anyway. */
#define MAX_ATTRS_PER_TAG 32

static int tag_attr_counts_ok(struct pctx *p, const char *buf, size_t len)
{
  long line = 1;
  size_t i = 0;
  const char *end = buf + len;
  while (i < len) {
    char c = buf[i];
    if (c == '\n')
      line++;
    if (c != '<') {
      i++;
      continue;
    }
    const char *t = buf + i;
    const char *close = NULL;
    size_t skip = 0;
    if ((size_t)(end - t) >= 4 && !memcmp(t, "<!--", 4)) {
      close = "-->";
      skip = 4;
    } else if ((size_t)(end - t) >= 9 && !memcmp(t, "<![CDATA[", 9)) {
      close = "]]>";
      skip = 9;
    } else if ((size_t)(end - t) >= 2 && t[1] == '?') {
      close = "?>";
      skip = 2;
    } else if ((size_t)(end - t) >= 2 && t[1] == '!') {
      /* a DOCTYPE: refused by the SAX hook before anything after it */
      return 0;
    }
    if (close) {
      const char *e = memmem(t + skip, (size_t)(end - t) - skip, close,
                             strlen(close));
      size_t stop = e ? (size_t)(e - buf) + strlen(close) : len;
      for (size_t k = i; k < stop; k++)
        line += buf[k] == '\n';
      i = stop;
      continue;
    }
    /* a start or end tag: count '=' outside quotes up to '>' */
    long tag_line = line;
    int n = 0;
    char quote = 0;
    for (i++; i < len; i++) {
      c = buf[i];
      if (c == '\n')
        line++;
      if (quote) {
        if (c == quote)
          quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '=') {
        if (++n > MAX_ATTRS_PER_TAG)
          return fail_line(p, tag_line, "a tag has more than %d attributes",
                           MAX_ATTRS_PER_TAG);
      } else if (c == '>') {
        i++;
        break;
      }
    }
  }
  return 0;
}

/* Options: NONET, and nothing that loads or substitutes (NOENT, DTDLOAD,
 * DTDATTR, XINCLUDE are deliberately absent); no HUGE, so libxml2's own
 * depth and length limits stay on. */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES)

/* Parse buf into a tree with the hooks above; NULL (and p->failed) on error. */
static xmlDocPtr parse_tree(struct pctx *p, const char *buf, size_t len,
                            xmlParserCtxtPtr *ctxt_out)
{
  *ctxt_out = NULL;
  if (!buf) {
    fail_line(p, 0, "no document");
    return NULL;
  }
  if (len > P4P_XML_MAX_BYTES) {
    fail_line(p, 0, "document is %zu bytes, over the limit of %u bytes",
              len, (unsigned)P4P_XML_MAX_BYTES);
    return NULL;
  }
  if (len == 0) {
    fail_line(p, 0, "empty document");
    return NULL;
  }
  if (tag_attr_counts_ok(p, buf, len) < 0)
    return NULL;
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) {
    fail_line(p, 0, "out of memory");
    return NULL;
  }
  ctxt->_private = p;
  ctxt->sax->serror = on_xml_error;
  ctxt->sax->internalSubset = on_doctype;

  /* the generic handlers are per thread in libxml2; silence them for the
   * duration of this call only */
  xmlGenericErrorFunc old_gen = xmlGenericError;
  void *old_gen_ctx = xmlGenericErrorContext;
  xmlStructuredErrorFunc old_st = xmlStructuredError;
  void *old_st_ctx = xmlStructuredErrorContext;
  xmlSetGenericErrorFunc(NULL, on_generic_error);
  xmlSetStructuredErrorFunc(NULL, on_structured_error);

  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                                    PARSE_OPTIONS);

  xmlSetGenericErrorFunc(old_gen_ctx, old_gen);
  xmlSetStructuredErrorFunc(old_st_ctx, old_st);

  if (doc && (doc->intSubset || doc->extSubset))
    fail_line(p, 0, "DOCTYPE refused: P4P v1 documents must not carry a DTD");
  if (!doc && !p->failed)
    fail_line(p, 0, "not well-formed XML");
  if (p->failed) {
    if (doc)
      xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return NULL;
  }
  *ctxt_out = ctxt;
  return doc;
}

/* ------------------------------------------------------------------ */
/* strict tree walking                                                 */

#define NAME(n) ((const char *)(n)->name)

static int in_p4p_ns(const xmlNode *n)
{
  return n->ns && n->ns->href && strcmp((const char *)n->ns->href,
                                        P4P_XML_NS) == 0;
}

static int is_el(const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp(NAME(n), name) == 0;
}

/* XML's white space */
static int is_space(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_blank(const xmlChar *s)
{
  for (; s && *s; s++)
    if (!is_space(*s))
      return 0;
  return 1;
}

static int in_list(const char *const *list, const char *s)
{
  for (; list && *list; list++)
    if (strcmp(*list, s) == 0)
      return 1;
  return 0;
}

/* Element-only content: every child is an allowed v1 element, a comment, a
 * PI or blank text.  Counts the children named `count_name` into *count. */
static int check_children(struct pctx *p, const xmlNode *el,
                          const char *const *allowed, const char *count_name,
                          size_t *count)
{
  size_t k = 0;
  for (const xmlNode *c = el->children; c; c = c->next) {
    switch (c->type) {
    case XML_ELEMENT_NODE:
      if (!in_p4p_ns(c))
        return fail(p, c, "<%s%s%s> inside <%s>: element not in namespace %s "
                    "(v1 allows no foreign elements; XInclude is not "
                    "processed)",
                    c->ns && c->ns->prefix ? (const char *)c->ns->prefix : "",
                    c->ns && c->ns->prefix ? ":" : "", NAME(c), NAME(el),
                    P4P_XML_NS);
      if (!in_list(allowed, NAME(c)))
        return fail(p, c, "unexpected element <%s> inside <%s>", NAME(c),
                    NAME(el));
      if (count_name && strcmp(NAME(c), count_name) == 0)
        k++;
      break;
    case XML_TEXT_NODE:
      if (!is_blank(c->content))
        return fail(p, c, "unexpected text inside <%s>", NAME(el));
      break;
    case XML_COMMENT_NODE:
    case XML_PI_NODE:
      break;
    default:
      return fail(p, c, "unexpected content inside <%s>", NAME(el));
    }
  }
  if (count)
    *count = k;
  return 0;
}

static int check_attrs(struct pctx *p, const xmlNode *el,
                       const char *const *allowed)
{
  for (const xmlAttr *a = el->properties; a; a = a->next) {
    if (a->ns)
      return fail(p, el, "<%s>: attribute '%s:%s' not allowed (v1 has no "
                  "namespaced attributes)", NAME(el),
                  a->ns->prefix ? (const char *)a->ns->prefix : "",
                  (const char *)a->name);
    if (!in_list(allowed, (const char *)a->name))
      return fail(p, el, "<%s>: unknown attribute '%s'", NAME(el),
                  (const char *)a->name);
  }
  return 0;
}

/* Copy attribute `name` into buf.  1: present, 0: absent and optional,
 * -1: error (missing but required, or too long). */
static int get_attr(struct pctx *p, const xmlNode *el, const char *name,
                    char *buf, size_t size, int required)
{
  xmlChar *v = xmlGetNoNsProp(el, (const xmlChar *)name);
  if (!v) {
    if (required)
      return fail(p, el, "<%s>: missing attribute '%s'", NAME(el), name);
    buf[0] = '\0';
    return 0;
  }
  size_t l = strlen((const char *)v);
  if (l >= size) {
    xmlFree(v);
    return fail(p, el, "<%s %s=...>: value is %zu bytes, at most %zu allowed",
                NAME(el), name, l, size - 1);
  }
  memcpy(buf, v, l + 1);
  xmlFree(v);
  return 1;
}

/* Text content of a leaf element (no child elements), into a malloc'd
 * string with surrounding blanks removed. */
static char *leaf_text(struct pctx *p, const xmlNode *el)
{
  for (const xmlNode *c = el->children; c; c = c->next)
    if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE &&
        c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
      fail(p, c, "<%s> holds text only, found %s%s%s", NAME(el),
           c->type == XML_ELEMENT_NODE ? "element <" : "other content",
           c->type == XML_ELEMENT_NODE ? NAME(c) : "",
           c->type == XML_ELEMENT_NODE ? ">" : "");
      return NULL;
    }
  xmlChar *t = xmlNodeGetContent(el);
  if (!t) {
    fail(p, el, "out of memory");
    return NULL;
  }
  const char *s = (const char *)t;
  size_t l = strlen(s);
  while (l > 0 && is_space(s[l - 1]))
    l--;
  size_t b = 0;
  while (b < l && is_space(s[b]))
    b++;
  char *out = strndup(s + b, l - b);
  xmlFree(t);
  if (!out)
    fail(p, el, "out of memory");
  return out;
}

static int attr_name(struct pctx *p, const xmlNode *el, const char *attr,
                     char out[P4P_NAME_MAX], int required)
{
  char buf[256];
  int r = get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (!proto_name_valid(buf))
    return fail(p, el, "<%s %s=\"%s\">: PID names are 1-%d characters of "
                "A-Z a-z 0-9 . _ : -", NAME(el), attr, buf, P4P_NAME_MAX - 1);
  memcpy(out, buf, strlen(buf) + 1);
  return 1;
}

static int attr_version(struct pctx *p, const xmlNode *el,
                        char out[P4P_NAME_MAX])
{
  char buf[256];
  int r = get_attr(p, el, "version", buf, sizeof buf, 0);
  if (r <= 0)
    return r;
  if (!proto_version_valid(buf))
    return fail(p, el, "<%s version=\"%s\">: versions are 1-%d printable "
                "ASCII characters without spaces", NAME(el), buf,
                P4P_NAME_MAX - 1);
  memcpy(out, buf, strlen(buf) + 1);
  return 1;
}

static int attr_loc(struct pctx *p, const xmlNode *el, char out[P4P_NAME_MAX])
{
  char buf[256];
  int r = get_attr(p, el, "loc", buf, sizeof buf, 0);
  if (r <= 0)
    return r;
  if (!proto_loc_valid(buf))
    return fail(p, el, "<%s loc=\"%s\">: LOC is at most %d printable ASCII "
                "characters", NAME(el), buf, P4P_NAME_MAX - 1);
  memcpy(out, buf, strlen(buf) + 1);
  return 1;
}

static int attr_hash(struct pctx *p, const xmlNode *el, uint8_t out[20],
                     int required)
{
  char buf[256];
  int r = get_attr(p, el, "info-hash", buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_hash_parse_hex(buf, out) < 0)
    return fail(p, el, "<%s info-hash=\"%s\">: an info_hash is exactly 40 "
                "hex digits", NAME(el), buf);
  return 1;
}

static int attr_uint(struct pctx *p, const xmlNode *el, const char *attr,
                     uint64_t min, uint64_t max, uint64_t *out, int required)
{
  char buf[64];
  int r = get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_uint_parse(buf, max, out) < 0 || *out < min)
    return fail(p, el, "<%s %s=\"%s\">: not an integer in %llu..%llu",
                NAME(el), attr, buf, (unsigned long long)min,
                (unsigned long long)max);
  return 1;
}

static int attr_value(struct pctx *p, const xmlNode *el, const char *attr,
                      double *out, int required)
{
  char buf[64];
  int r = get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  switch (proto_value_parse(buf, out)) {
  case 0:
    return 1;
  case -2:
    return fail(p, el, "<%s %s=\"%s\">: negative value (must be >= 0)",
                NAME(el), attr, buf);
  case -3:
    return fail(p, el, "<%s %s=\"%s\">: value is not finite", NAME(el), attr,
                buf);
  default:
    return fail(p, el, "<%s %s=\"%s\">: not a decimal number", NAME(el), attr,
                buf);
  }
}

static int attr_addr(struct pctx *p, const xmlNode *el, const char *attr,
                     uint8_t out[16], int required)
{
  char buf[P4P_ADDR_TEXT_MAX];
  int r = get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_addr_parse(buf, out) < 0)
    return fail(p, el, "<%s %s=\"%s\">: not an IPv4 or IPv6 address",
                NAME(el), attr, buf);
  return 1;
}

/* ------------------------------------------------------------------ */
/* duplicate detection: sort pointers, compare neighbours                */

struct named {
  const char    *name;
  const xmlNode *node;
  size_t         index;
};

static int cmp_named(const void *a, const void *b)
{
  const struct named *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c)
    return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts v (n items) by name and fails on the first duplicate, naming the
 * later occurrence's line and the earlier one's. */
static int check_unique(struct pctx *p, struct named *v, size_t n,
                        const char *what)
{
  if (n < 2)
    return 0; /* also: qsort must not see a NULL array */
  qsort(v, n, sizeof *v, cmp_named);
  for (size_t i = 1; i < n; i++)
    if (strcmp(v[i - 1].name, v[i].name) == 0)
      return fail(p, v[i].node, "duplicate %s '%s' (first at line %ld)", what,
                  v[i].name, xmlGetLineNo(v[i - 1].node));
  return 0;
}

static const struct named *find_named(const struct named *v, size_t n,
                                      const char *name)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(name, v[mid].name);
    if (c == 0)
      return &v[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* message bodies                                                      */

static int build_matrix(struct pctx *p, const xmlNode *el,
                        struct p4p_matrix *m)
{
  static const char *const kids[] = {"pids", "entry", NULL};
  if (check_children(p, el, kids, "pids", NULL) < 0)
    return -1;
  const xmlNode *pids_el = NULL;
  for (const xmlNode *c = el->children; c; c = c->next) {
    if (is_el(c, "pids")) {
      if (pids_el)
        return fail(p, c, "<%s> has a second <pids>", NAME(el));
      pids_el = c;
    } else if (is_el(c, "entry") && !pids_el) {
      return fail(p, c, "<entry> before <pids> in <%s>", NAME(el));
    }
  }
  if (!pids_el)
    return fail(p, el, "<%s> has no <pids> list", NAME(el));
  if (check_attrs(p, pids_el, NULL) < 0)
    return -1;

  char *list = leaf_text(p, pids_el);
  if (!list)
    return -1;
  size_t n = 0;
  for (char *tok = list; *tok;) {
    tok += strspn(tok, " \t\r\n");
    size_t l = strcspn(tok, " \t\r\n");
    if (l) n++;
    tok += l;
  }
  int rc = -1;
  struct named *idx = NULL;
  uint8_t *seen = NULL;
  if (n == 0) {
    fail(p, pids_el, "<pids> is empty: a matrix needs at least one PID");
    goto out;
  }
  if (n > P4P_XML_MAX_MATRIX_PIDS) {
    fail(p, pids_el, "<pids> lists %zu PIDs, at most %d allowed", n,
         P4P_XML_MAX_MATRIX_PIDS);
    goto out;
  }
  if (n * n > P4P_XML_MAX_CELLS - p->cells) {
    fail(p, pids_el, "matrices of this message exceed %u cells in all",
         (unsigned)P4P_XML_MAX_CELLS);
    goto out;
  }
  if (proto_matrix_alloc(m, n) < 0) {
    fail(p, pids_el, "out of memory");
    goto out;
  }
  p->cells += n * n;
  idx = calloc(n, sizeof *idx);
  seen = calloc((n * n + 7) / 8, 1);
  if (!idx || !seen) {
    fail(p, pids_el, "out of memory");
    goto out;
  }
  size_t i = 0;
  for (char *tok = list; *tok;) {
    tok += strspn(tok, " \t\r\n");
    size_t l = strcspn(tok, " \t\r\n");
    if (!l)
      break;
    char save = tok[l];
    tok[l] = '\0';
    if (!proto_name_valid(tok)) {
      fail(p, pids_el, "<pids>: '%s' is not a PID name (1-%d characters of "
           "A-Z a-z 0-9 . _ : -)", tok, P4P_NAME_MAX - 1);
      goto out;
    }
    memcpy(m->pids[i], tok, l + 1);
    idx[i] = (struct named){m->pids[i], pids_el, i};
    i++;
    tok[l] = save;
    tok += l;
  }
  if (check_unique(p, idx, n, "PID in <pids>") < 0)
    goto out;

  static const char *const eattrs[] = {"from", "to", "value", NULL};
  for (const xmlNode *c = el->children; c; c = c->next) {
    if (!is_el(c, "entry"))
      continue;
    char from[P4P_NAME_MAX], to[P4P_NAME_MAX];
    double v;
    if (check_children(p, c, NULL, NULL, NULL) < 0 ||
        check_attrs(p, c, eattrs) < 0 ||
        attr_name(p, c, "from", from, 1) < 0 ||
        attr_name(p, c, "to", to, 1) < 0 ||
        attr_value(p, c, "value", &v, 1) < 0)
      goto out;
    const struct named *f = find_named(idx, n, from);
    const struct named *t = find_named(idx, n, to);
    if (!f || !t) {
      fail(p, c, "<entry from=\"%s\" to=\"%s\">: unknown PID '%s' (not in "
           "<pids> of line %ld)", from, to, f ? to : from,
           xmlGetLineNo(pids_el));
      goto out;
    }
    size_t cell = f->index * n + t->index;
    if (seen[cell / 8] & (1u << (cell % 8))) {
      fail(p, c, "duplicate <entry from=\"%s\" to=\"%s\">", from, to);
      goto out;
    }
    seen[cell / 8] |= (uint8_t)(1u << (cell % 8));
    m->v[cell] = v;
  }
  rc = 0;
out:
  free(list);
  free(idx);
  free(seen);
  return rc;
}

/* a prefix with where it was declared, for the duplicate check */
struct pfx_at {
  struct p4p_prefix pf;
  const char       *pid;
  const xmlNode    *node;
};

static int cmp_pfx_at(const void *a, const void *b)
{
  const struct pfx_at *x = a, *y = b;
  int r = memcmp(x->pf.addr, y->pf.addr, 16);
  if (r)
    return r;
  if (x->pf.bits != y->pf.bits)
    return x->pf.bits < y->pf.bits ? -1 : 1;
  long lx = xmlGetLineNo(x->node), ly = xmlGetLineNo(y->node);
  return lx < ly ? -1 : lx > ly;
}

static int build_pidmap(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_pidmap_msg *out = outp;
  static const char *const rattrs[] = {"version", NULL};
  static const char *const kids[] = {"pid", NULL};
  size_t n;
  if (check_attrs(p, root, rattrs) < 0 ||
      attr_version(p, root, out->version) < 0 ||
      check_children(p, root, kids, "pid", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_PIDS)
    return fail(p, root, "<pidmap> has %zu PIDs, at most %d allowed", n,
                P4P_XML_MAX_PIDS);
  if (n == 0)
    return 0;
  out->pids = calloc(n, sizeof *out->pids);
  struct named *names = calloc(n, sizeof *names);
  if (!out->pids || !names) {
    free(names);
    return fail(p, root, "out of memory");
  }
  out->npids = n;

  /* first pass: PIDs and their prefixes */
  static const char *const pattrs[] = {"name", "asid", "loc", NULL};
  static const char *const pkids[] = {"prefix", NULL};
  size_t i = 0, total = 0;
  int rc = -1;
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, "pid"))
      continue;
    struct p4p_pid_entry *e = &out->pids[i];
    uint64_t asid;
    size_t np;
    if (check_attrs(p, c, pattrs) < 0 ||
        attr_name(p, c, "name", e->name, 1) < 0 ||
        attr_uint(p, c, "asid", 0, UINT32_MAX, &asid, 1) < 0 ||
        attr_loc(p, c, e->loc) < 0 ||
        check_children(p, c, pkids, "prefix", &np) < 0)
      goto out;
    e->asid = (uint32_t)asid;
    names[i] = (struct named){e->name, c, i};
    total += np;
    if (total > P4P_XML_MAX_PREFIXES) {
      fail(p, c, "PID map has more than %d prefixes", P4P_XML_MAX_PREFIXES);
      goto out;
    }
    if (np) {
      e->prefixes = calloc(np, sizeof *e->prefixes);
      if (!e->prefixes) {
        fail(p, c, "out of memory");
        goto out;
      }
    }
    size_t k = 0;
    for (const xmlNode *q = c->children; q; q = q->next) {
      if (!is_el(q, "prefix"))
        continue;
      if (check_attrs(p, q, NULL) < 0)
        goto out;
      char *t = leaf_text(p, q);
      if (!t)
        goto out;
      int r = proto_prefix_parse(t, &e->prefixes[k]);
      if (r == -2) {
        struct p4p_prefix z;
        char net[P4P_ADDR_TEXT_MAX] = "";
        /* show the network the operator probably meant */
        const char *sl = strrchr(t, '/');
        unsigned len = (unsigned)atoi(sl + 1);
        uint8_t a[16];
        char ab[P4P_ADDR_TEXT_MAX];
        snprintf(ab, sizeof ab, "%.*s", (int)(sl - t), t);
        if (proto_addr_parse(ab, a) == 0) {
          unsigned bits = strchr(ab, ':') ? len : 96 + len;
          for (unsigned b = bits; b < 128; b++)
            a[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
          memcpy(z.addr, a, 16);
          z.bits = (uint8_t)bits;
          proto_prefix_format(&z, net);
        }
        fail(p, q, "<prefix> '%s': host bits set (did you mean %s?)", t, net);
        free(t);
        goto out;
      }
      if (r < 0) {
        fail(p, q, "<prefix> '%s': not an IPv4 or IPv6 prefix "
             "(address/length, e.g. 192.0.2.0/24 or 2001:db8::/32)", t);
        free(t);
        goto out;
      }
      free(t);
      k++;
      e->nprefixes = k;
    }
    i++;
  }
  if (check_unique(p, names, n, "PID name") < 0)
    goto out;

  /* second pass: a prefix in two PIDs makes lookups ambiguous */
  if (total > 1) {
    struct pfx_at *all = calloc(total, sizeof *all);
    if (!all) {
      fail(p, root, "out of memory");
      goto out;
    }
    size_t k = 0;
    i = 0;
    for (const xmlNode *c = root->children; c; c = c->next) {
      if (!is_el(c, "pid"))
        continue;
      size_t j = 0;
      for (const xmlNode *q = c->children; q; q = q->next)
        if (is_el(q, "prefix"))
          all[k++] = (struct pfx_at){out->pids[i].prefixes[j++],
                                     out->pids[i].name, q};
      i++;
    }
    qsort(all, total, sizeof *all, cmp_pfx_at);
    for (k = 1; k < total; k++) {
      if (memcmp(&all[k - 1].pf, &all[k].pf, sizeof all[k].pf) == 0) {
        char t[P4P_ADDR_TEXT_MAX];
        proto_prefix_format(&all[k].pf, t);
        fail(p, all[k].node, "prefix %s of PID '%s' is already in PID '%s' "
             "(line %ld)", t, all[k].pid, all[k - 1].pid,
             xmlGetLineNo(all[k - 1].node));
        free(all);
        goto out;
      }
    }
    free(all);
  }
  rc = 0;
out:
  free(names);
  return rc;
}

static int build_lookup_request(struct pctx *p, const xmlNode *root,
                                void *outp)
{
  struct p4p_lookup_request *out = outp;
  static const char *const rattrs[] = {"info-hash", NULL};
  static const char *const kids[] = {"addr", NULL};
  size_t n;
  int r;
  if (check_attrs(p, root, rattrs) < 0 ||
      (r = attr_hash(p, root, out->info_hash, 0)) < 0 ||
      check_children(p, root, kids, "addr", &n) < 0)
    return -1;
  out->has_info_hash = r;
  if (n > P4P_XML_MAX_ADDRS)
    return fail(p, root, "<lookup-request> has %zu addresses, at most %d "
                "allowed", n, P4P_XML_MAX_ADDRS);
  if (n == 0)
    return 0;
  out->addrs = calloc(n, sizeof *out->addrs);
  if (!out->addrs)
    return fail(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, "addr"))
      continue;
    if (check_attrs(p, c, NULL) < 0)
      return -1;
    char *t = leaf_text(p, c);
    if (!t)
      return -1;
    if (proto_addr_parse(t, out->addrs[out->n]) < 0) {
      fail(p, c, "<addr> '%s': not an IPv4 or IPv6 address", t);
      free(t);
      return -1;
    }
    free(t);
    out->n++;
  }
  return 0;
}

static int build_lookup(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_lookup_msg *out = outp;
  static const char *const kids[] = {"result", NULL};
  static const char *const eattrs[] = {"addr", "pid", "asid", "loc", NULL};
  size_t n;
  if (check_attrs(p, root, NULL) < 0 ||
      check_children(p, root, kids, "result", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_ADDRS)
    return fail(p, root, "<lookup> has %zu results, at most %d allowed", n,
                P4P_XML_MAX_ADDRS);
  if (n == 0)
    return 0;
  out->entries = calloc(n, sizeof *out->entries);
  if (!out->entries)
    return fail(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, "result"))
      continue;
    struct p4p_lookup_entry *e = &out->entries[out->n];
    int has_pid;
    if (check_children(p, c, NULL, NULL, NULL) < 0 ||
        check_attrs(p, c, eattrs) < 0 ||
        attr_addr(p, c, "addr", e->addr, 1) < 0 ||
        (has_pid = attr_name(p, c, "pid", e->pid, 0)) < 0)
      return -1;
    if (has_pid) {
      uint64_t asid;
      if (attr_uint(p, c, "asid", 0, UINT32_MAX, &asid, 1) < 0 ||
          attr_loc(p, c, e->loc) < 0)
        return -1;
      e->asid = (uint32_t)asid;
      e->found = 1;
    } else if (xmlHasProp(c, (const xmlChar *)"asid") ||
               xmlHasProp(c, (const xmlChar *)"loc")) {
      return fail(p, c, "<result>: 'asid' and 'loc' need a 'pid' (an "
                  "address in no PID has neither)");
    }
    out->n++;
  }
  return 0;
}

static int build_costs(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_costs_msg *out = outp;
  static const char *const rattrs[] = {"version", NULL};
  if (check_attrs(p, root, rattrs) < 0 ||
      attr_version(p, root, out->version) < 0)
    return -1;
  return build_matrix(p, root, &out->costs);
}

static int build_guidance(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_guidance_msg *out = outp;
  static const char *const rattrs[] = {"version", NULL};
  static const char *const kids[] = {"default", "swarm", NULL};
  static const char *const sattrs[] = {"info-hash", NULL};
  size_t n;
  if (check_attrs(p, root, rattrs) < 0 ||
      attr_version(p, root, out->version) < 0 ||
      check_children(p, root, kids, "swarm", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SWARMS)
    return fail(p, root, "<guidance> has %zu swarms, at most %d allowed", n,
                P4P_XML_MAX_SWARMS);
  if (n) {
    out->swarms = calloc(n, sizeof *out->swarms);
    if (!out->swarms)
      return fail(p, root, "out of memory");
  }
  struct named *hashes = n ? calloc(n, sizeof *hashes) : NULL;
  char(*hex)[2 * P4P_HASH_SIZE + 1] = n ? calloc(n, sizeof *hex) : NULL;
  int rc = -1;
  if (n && (!hashes || !hex)) {
    fail(p, root, "out of memory");
    goto out;
  }
  const xmlNode *dflt = NULL;
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (is_el(c, "default")) {
      if (out->nswarms) {
        fail(p, c, "<default> must come before the first <swarm>");
        goto out;
      }
      if (dflt) {
        fail(p, c, "second <default> (first at line %ld)",
             xmlGetLineNo(dflt));
        goto out;
      }
      dflt = c;
      if (check_attrs(p, c, NULL) < 0 ||
          build_matrix(p, c, &out->default_weights) < 0)
        goto out;
      out->has_default = 1;
    } else if (is_el(c, "swarm")) {
      struct p4p_swarm_guidance *s = &out->swarms[out->nswarms];
      if (check_attrs(p, c, sattrs) < 0 ||
          attr_hash(p, c, s->info_hash, 1) < 0)
        goto out;
      /* count the swarm before its matrix so a failure frees it */
      size_t k = out->nswarms++;
      if (build_matrix(p, c, &s->weights) < 0)
        goto out;
      proto_hash_format_hex(s->info_hash, hex[k]);
      hashes[k] = (struct named){hex[k], c, k};
    }
  }
  if (check_unique(p, hashes, out->nswarms, "swarm info-hash") < 0)
    goto out;
  rc = 0;
out:
  free(hashes);
  free(hex);
  return rc;
}

static int build_stats(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_stats_msg *out = outp;
  static const char *const kids[] = {"swarm", NULL};
  static const char *const skids[] = {"pid", NULL};
  static const char *const sattrs[] = {"info-hash", NULL};
  static const char *const pattrs[] = {"name", "seeders", "leechers",
                                       "up-kbps", "down-kbps", NULL};
  size_t n;
  if (check_attrs(p, root, NULL) < 0 ||
      check_children(p, root, kids, "swarm", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SWARMS)
    return fail(p, root, "<stats> has %zu swarms, at most %d allowed", n,
                P4P_XML_MAX_SWARMS);
  if (n == 0)
    return 0;
  out->swarms = calloc(n, sizeof *out->swarms);
  struct named *hashes = calloc(n, sizeof *hashes);
  char(*hex)[2 * P4P_HASH_SIZE + 1] = calloc(n, sizeof *hex);
  struct named *names = NULL;
  int rc = -1;
  if (!out->swarms || !hashes || !hex) {
    fail(p, root, "out of memory");
    goto out;
  }
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, "swarm"))
      continue;
    size_t k = out->nswarms;
    struct p4p_swarm_stats *s = &out->swarms[k];
    size_t np;
    if (check_attrs(p, c, sattrs) < 0 ||
        attr_hash(p, c, s->info_hash, 1) < 0 ||
        check_children(p, c, skids, "pid", &np) < 0)
      goto out;
    out->nswarms++;
    proto_hash_format_hex(s->info_hash, hex[k]);
    hashes[k] = (struct named){hex[k], c, k};
    if (np > P4P_XML_MAX_PIDS) {
      fail(p, c, "<swarm> has %zu PIDs, at most %d allowed", np,
           P4P_XML_MAX_PIDS);
      goto out;
    }
    if (np == 0)
      continue;
    s->pids = calloc(np, sizeof *s->pids);
    free(names);
    names = calloc(np, sizeof *names);
    if (!s->pids || !names) {
      fail(p, c, "out of memory");
      goto out;
    }
    for (const xmlNode *q = c->children; q; q = q->next) {
      if (!is_el(q, "pid"))
        continue;
      struct p4p_pid_stats *ps = &s->pids[s->npids];
      uint64_t seeders, leechers;
      int r;
      if (check_children(p, q, NULL, NULL, NULL) < 0 ||
          check_attrs(p, q, pattrs) < 0 ||
          attr_name(p, q, "name", ps->pid, 1) < 0 ||
          attr_uint(p, q, "seeders", 0, UINT64_MAX, &seeders, 1) < 0 ||
          attr_uint(p, q, "leechers", 0, UINT64_MAX, &leechers, 1) < 0)
        goto out;
      ps->seeders = seeders;
      ps->leechers = leechers;
      /* an absent rate is "unknown", which msg.h spells as negative */
      if ((r = attr_value(p, q, "up-kbps", &ps->up_kbps, 0)) < 0)
        goto out;
      if (r == 0)
        ps->up_kbps = -1;
      if ((r = attr_value(p, q, "down-kbps", &ps->down_kbps, 0)) < 0)
        goto out;
      if (r == 0)
        ps->down_kbps = -1;
      names[s->npids] = (struct named){ps->pid, q, s->npids};
      s->npids++;
    }
    if (check_unique(p, names, s->npids, "PID in <swarm>") < 0)
      goto out;
  }
  if (check_unique(p, hashes, out->nswarms, "swarm info-hash") < 0)
    goto out;
  rc = 0;
out:
  free(names);
  free(hashes);
  free(hex);
  return rc;
}

static int build_capability(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_capability_msg *out = outp;
  static const char *const kids[] = {"server", NULL};
  static const char *const attrs[] = {"pid", "kind", "addr", "port",
                                      "capacity-kbps", NULL};
  size_t n;
  if (check_attrs(p, root, NULL) < 0 ||
      check_children(p, root, kids, "server", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SERVERS)
    return fail(p, root, "<capability> has %zu servers, at most %d allowed",
                n, P4P_XML_MAX_SERVERS);
  if (n == 0)
    return 0;
  out->servers = calloc(n, sizeof *out->servers);
  if (!out->servers)
    return fail(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, "server"))
      continue;
    struct p4p_server *s = &out->servers[out->nservers];
    uint64_t port, cap;
    if (check_children(p, c, NULL, NULL, NULL) < 0 ||
        check_attrs(p, c, attrs) < 0 ||
        attr_name(p, c, "pid", s->pid, 1) < 0 ||
        get_attr(p, c, "kind", s->kind, sizeof s->kind, 1) < 0)
      return -1;
    if (!proto_kind_valid(s->kind))
      return fail(p, c, "<server kind=\"%s\">: kind is \"cache\" or \"seed\"",
                  s->kind);
    if (attr_addr(p, c, "addr", s->addr, 1) < 0 ||
        attr_uint(p, c, "port", 1, 65535, &port, 1) < 0 ||
        attr_uint(p, c, "capacity-kbps", 0, UINT64_MAX, &cap, 1) < 0)
      return -1;
    s->port = (uint16_t)port;
    s->capacity_kbps = cap;
    out->nservers++;
  }
  return 0;
}

static int build_capability_request(struct pctx *p, const xmlNode *root,
                                    void *outp)
{
  struct p4p_capability_request *out = outp;
  static const char *const attrs[] = {"info-hash", "pid", "count", NULL};
  uint64_t count;
  if (check_children(p, root, NULL, NULL, NULL) < 0 ||
      check_attrs(p, root, attrs) < 0 ||
      attr_hash(p, root, out->info_hash, 1) < 0 ||
      attr_name(p, root, "pid", out->pid, 0) < 0 ||
      attr_uint(p, root, "count", 1, P4P_XML_MAX_SERVERS, &count, 1) < 0)
    return -1;
  out->count = (size_t)count;
  return 0;
}

/* Cut s to fit in size bytes without splitting a UTF-8 sequence. */
static void copy_utf8_truncated(char *dst, size_t size, const char *s)
{
  size_t l = strlen(s);
  if (l >= size) {
    l = size - 1;
    while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80)
      l--;
  }
  memcpy(dst, s, l);
  dst[l] = '\0';
}

static int build_error(struct pctx *p, const xmlNode *root, void *outp)
{
  struct p4p_error_msg *out = outp;
  static const char *const attrs[] = {"status", NULL};
  uint64_t status;
  if (check_attrs(p, root, attrs) < 0 ||
      attr_uint(p, root, "status", 400, 599, &status, 1) < 0)
    return -1;
  out->status = (int)status;
  char *t = leaf_text(p, root);
  if (!t)
    return -1;
  copy_utf8_truncated(out->text, sizeof out->text, t);
  free(t);
  return 0;
}

/* ------------------------------------------------------------------ */
/* the generic parse                                                   */

typedef int (*build_fn)(struct pctx *, const xmlNode *, void *);
typedef void (*free_fn)(void *);

static const struct kind_info {
  const char *root;
  enum proto_xml_kind kind;
} kinds[] = {
    {"pidmap", P4P_XML_PIDMAP},
    {"lookup-request", P4P_XML_LOOKUP_REQUEST},
    {"lookup", P4P_XML_LOOKUP},
    {"costs", P4P_XML_COSTS},
    {"guidance", P4P_XML_GUIDANCE},
    {"stats", P4P_XML_STATS},
    {"capability", P4P_XML_CAPABILITY},
    {"capability-request", P4P_XML_CAPABILITY_REQUEST},
    {"error", P4P_XML_ERROR},
};

static int parse_doc(const char *buf, size_t len, const char *source,
                     const char *want, build_fn build, free_fn release,
                     void *out, size_t outsize, char *err, size_t errlen)
{
  memset(out, 0, outsize);
  if (err && errlen)
    err[0] = '\0';
  locale_t old = enter_c_locale();
  struct pctx p = {source ? source : "input", err, errlen, 0, 0};
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc = parse_tree(&p, buf, len, &ctxt);
  int rc = -1;
  if (!doc)
    goto done;
  const xmlNode *root = xmlDocGetRootElement(doc);
  if (!root) {
    fail_line(&p, 0, "document has no root element");
  } else if (!in_p4p_ns(root)) {
    if (root->ns && root->ns->href)
      fail(&p, root, "root element <%s> is in namespace '%s', expected '%s'",
           NAME(root), (const char *)root->ns->href, P4P_XML_NS);
    else
      fail(&p, root, "root element <%s> has no namespace, expected "
           "xmlns=\"%s\"", NAME(root), P4P_XML_NS);
  } else if (strcmp(NAME(root), want) != 0) {
    if (strcmp(NAME(root), "error") == 0) {
      /* the other side answered with an error: say what it said */
      struct p4p_error_msg e;
      struct pctx q = {p.source, NULL, 0, 0, 0};
      memset(&e, 0, sizeof e);
      if (build_error(&q, root, &e) == 0)
        fail(&p, root, "expected <%s>, got <error status=\"%d\">: %s", want,
             e.status, e.text);
      else
        fail(&p, root, "expected <%s>, got a malformed <error>", want);
    } else {
      fail(&p, root, "root element is <%s>, expected <%s>", NAME(root), want);
    }
  } else if (build(&p, root, out) == 0 && !p.failed) {
    rc = 0;
  }
  if (rc < 0) {
    release(out);
    memset(out, 0, outsize);
  }
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
done:
  leave_c_locale(old);
  return rc;
}

/* messages without arrays own nothing */
static void proto_capability_request_free(struct p4p_capability_request *m)
{
  (void)m;
}

static void proto_error_msg_free(struct p4p_error_msg *m)
{
  (void)m;
}

#define DEFINE_PARSE(kind, type, root, freefn)                                 \
  static void release_##kind(void *m)                                          \
  {                                                                            \
    freefn((type *)m);                                                         \
  }                                                                            \
  int proto_xml_parse_##kind(const char *buf, size_t len, const char *source,    \
                           type *out, char *err, size_t errlen)                \
  {                                                                            \
    return parse_doc(buf, len, source, root, build_##kind, release_##kind,     \
                     out, sizeof *out, err, errlen);                           \
  }

DEFINE_PARSE(pidmap, struct p4p_pidmap_msg, "pidmap", proto_pidmap_msg_free)
DEFINE_PARSE(lookup_request, struct p4p_lookup_request, "lookup-request",
             proto_lookup_request_free)
DEFINE_PARSE(lookup, struct p4p_lookup_msg, "lookup", proto_lookup_msg_free)
DEFINE_PARSE(costs, struct p4p_costs_msg, "costs", proto_costs_msg_free)
DEFINE_PARSE(guidance, struct p4p_guidance_msg, "guidance",
             proto_guidance_msg_free)
DEFINE_PARSE(stats, struct p4p_stats_msg, "stats", proto_stats_msg_free)
DEFINE_PARSE(capability, struct p4p_capability_msg, "capability",
             proto_capability_msg_free)
DEFINE_PARSE(capability_request, struct p4p_capability_request,
             "capability-request", proto_capability_request_free)
DEFINE_PARSE(error, struct p4p_error_msg, "error", proto_error_msg_free)

enum proto_xml_kind proto_xml_kind_of(const char *buf, size_t len)
{
  locale_t old = enter_c_locale();
  struct pctx p = {"input", NULL, 0, 0, 0};
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc = parse_tree(&p, buf, len, &ctxt);
  enum proto_xml_kind k = P4P_XML_UNKNOWN;
  if (doc) {
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root && in_p4p_ns(root))
      for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(NAME(root), kinds[i].root) == 0)
          k = kinds[i].kind;
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
  }
  leave_c_locale(old);
  return k;
}

/* ------------------------------------------------------------------ */
/* writers                                                             */

/* Writers build a tree and let libxml2 serialize it, so escaping is never
 * hand-written.  Any libxml2 allocation failure makes the node NULL; the
 * `ok` flag collects that. */
struct wctx {
  xmlDocPtr  doc;
  xmlNodePtr root;
  xmlNsPtr   ns;
  int        ok;
};

static int w_begin(struct wctx *w, const char *root)
{
  w->ok = 1;
  w->doc = xmlNewDoc((const xmlChar *)"1.0");
  w->root = w->doc ? xmlNewDocNode(w->doc, NULL, (const xmlChar *)root, NULL)
                   : NULL;
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

static xmlNodePtr w_child(struct wctx *w, xmlNodePtr parent, const char *name,
                          const char *text)
{
  if (!parent) {
    w->ok = 0;
    return NULL;
  }
  xmlNodePtr n = xmlNewTextChild(parent, w->ns, (const xmlChar *)name,
                                 (const xmlChar *)text);
  if (!n)
    w->ok = 0;
  return n;
}

static void w_attr(struct wctx *w, xmlNodePtr n, const char *name,
                   const char *value)
{
  if (!n || !xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value))
    w->ok = 0;
}

static void w_attr_u(struct wctx *w, xmlNodePtr n, const char *name,
                     uint64_t v)
{
  char b[24];
  snprintf(b, sizeof b, "%llu", (unsigned long long)v);
  w_attr(w, n, name, b);
}

static void w_attr_v(struct wctx *w, xmlNodePtr n, const char *name, double v)
{
  char b[32];
  proto_value_format(v, b);
  w_attr(w, n, name, b);
}

static void w_attr_hash(struct wctx *w, xmlNodePtr n, const uint8_t h[20])
{
  char b[2 * P4P_HASH_SIZE + 1];
  proto_hash_format_hex(h, b);
  w_attr(w, n, "info-hash", b);
}

static void w_attr_addr(struct wctx *w, xmlNodePtr n, const char *name,
                        const uint8_t a[16])
{
  char b[P4P_ADDR_TEXT_MAX];
  proto_addr_format(a, b);
  w_attr(w, n, name, b);
}

static char *w_end(struct wctx *w, size_t *len)
{
  char *out = NULL;
  if (w->ok) {
    xmlChar *mem = NULL;
    int size = 0;
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

static void w_fail(struct wctx *w)
{
  w->ok = 0;
}

static int matrix_writable(const struct p4p_matrix *m)
{
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
static void w_matrix(struct wctx *w, xmlNodePtr parent,
                     const struct p4p_matrix *m)
{
  if (!matrix_writable(m)) {
    w_fail(w);
    return;
  }
  size_t cap = m->n * P4P_NAME_MAX, used = 0;
  char *list = malloc(cap);
  if (!list) {
    w_fail(w);
    return;
  }
  for (size_t i = 0; i < m->n; i++)
    used += (size_t)snprintf(list + used, cap - used, "%s%s", i ? " " : "",
                             m->pids[i]);
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

static void w_version(struct wctx *w, const char *version)
{
  if (version[0] == '\0')
    return;
  if (!proto_version_valid(version))
    w_fail(w);
  else
    w_attr(w, w->root, "version", version);
}

#define WRITE_BEGIN(rootname)                                                  \
  struct wctx w;                                                               \
  if (!m || w_begin(&w, rootname) < 0)                                         \
    return NULL;                                                               \
  locale_t old = enter_c_locale()

#define WRITE_END()                                                            \
  char *doc = w_end(&w, len);                                                  \
  leave_c_locale(old);                                                         \
  return doc

char *proto_xml_write_pidmap(const struct p4p_pidmap_msg *m, size_t *len)
{
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
      if (e->prefixes[k].bits > 128 ||
          !proto_prefix_host_bits_zero(e->prefixes[k].addr, e->prefixes[k].bits)) {
        w_fail(&w);
        break;
      }
      proto_prefix_format(&e->prefixes[k], t);
      w_child(&w, n, "prefix", t);
    }
  }
  WRITE_END();
}

char *proto_xml_write_lookup_request(const struct p4p_lookup_request *m,
                                   size_t *len)
{
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

char *proto_xml_write_lookup(const struct p4p_lookup_msg *m, size_t *len)
{
  WRITE_BEGIN("lookup");
  if (m->n > P4P_XML_MAX_ADDRS)
    w_fail(&w);
  for (size_t i = 0; i < m->n && w.ok; i++) {
    const struct p4p_lookup_entry *e = &m->entries[i];
    xmlNodePtr n = w_child(&w, w.root, "result", NULL);
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

char *proto_xml_write_costs(const struct p4p_costs_msg *m, size_t *len)
{
  WRITE_BEGIN("costs");
  w_version(&w, m->version);
  w_matrix(&w, w.root, &m->costs);
  WRITE_END();
}

char *proto_xml_write_guidance(const struct p4p_guidance_msg *m, size_t *len)
{
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

char *proto_xml_write_stats(const struct p4p_stats_msg *m, size_t *len)
{
  WRITE_BEGIN("stats");
  if (m->nswarms > P4P_XML_MAX_SWARMS)
    w_fail(&w);
  for (size_t i = 0; i < m->nswarms && w.ok; i++) {
    const struct p4p_swarm_stats *s = &m->swarms[i];
    xmlNodePtr sn = w_child(&w, w.root, "swarm", NULL);
    w_attr_hash(&w, sn, s->info_hash);
    for (size_t k = 0; k < s->npids && w.ok; k++) {
      const struct p4p_pid_stats *ps = &s->pids[k];
      /* negative means unknown and is written as an absent attribute */
      if (!proto_name_valid(ps->pid) || isnan(ps->up_kbps) ||
          isnan(ps->down_kbps) || isinf(ps->up_kbps) ||
          isinf(ps->down_kbps)) {
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

char *proto_xml_write_capability(const struct p4p_capability_msg *m,
                               size_t *len)
{
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

char *proto_xml_write_capability_request(const struct p4p_capability_request *m,
                                       size_t *len)
{
  WRITE_BEGIN("capability-request");
  if ((m->pid[0] && !proto_name_valid(m->pid)) || m->count < 1 ||
      m->count > P4P_XML_MAX_SERVERS)
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
static void sanitize_text(char *dst, const char *src, size_t size)
{
  size_t n = 0;
  const unsigned char *s = (const unsigned char *)src;
  while (*s && n + 1 < size) {
    int clen = 4;
    int c = xmlGetUTF8Char(s, &clen);
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

char *proto_xml_write_error(const struct p4p_error_msg *m, size_t *len)
{
  WRITE_BEGIN("error");
  if (m->status < 400 || m->status > 599)
    w_fail(&w);
  w_attr_u(&w, w.root, "status", (uint64_t)m->status);
  char text[P4P_TEXT_MAX];
  char src[P4P_TEXT_MAX];
  memcpy(src, m->text, sizeof src);
  src[sizeof src - 1] = '\0'; /* a full buffer without NUL is cut, not read past */
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
