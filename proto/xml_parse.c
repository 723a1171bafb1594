/* The hardened libxml2 parse (see xml_internal.h).
 *
 * Portals may be hostile, so parsing is done in two layers: libxml2 builds a
 * tree under options that never load or substitute anything (no NOENT, no
 * DTDLOAD/DTDATTR, NONET, no XInclude) with a SAX hook that stops the parse
 * at a DOCTYPE before any internal subset is read; then xml_tree.c and
 * xml_build.c walk the tree strictly (unknown elements and attributes are
 * errors) and check semantics and counts while filling the struct.  The XSD
 * in docs/ states the same grammar for humans and other implementations;
 * the C code does not load it at run time (schema loading fetches files).
 *
 * This unit is the only one that talks to libxml2's parser: its error
 * handlers, its SAX hooks and its options. */
#include "xml.h"
#include "xml_internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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

static void init_once_fn(void) {
  xmlInitParser();
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* uselocale() is per thread, so switching it around a call is safe. */
locale_t proto_xml_c_locale_enter(void) {
  pthread_once(&init_once, init_once_fn);
  return c_locale ? uselocale(c_locale) : (locale_t)0;
}

void proto_xml_c_locale_leave(locale_t old) {
  if (old)
    uselocale(old);
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void vfail_line(struct xml_parse_ctx *p, long line, const char *fmt, va_list ap) {
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

int proto_xml_fail_line(struct xml_parse_ctx *p, long line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_line(p, line, fmt, ap);
  va_end(ap);
  return -1;
}

int proto_xml_fail_at(struct xml_parse_ctx *p, const xmlNode *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_line(p, n ? xmlGetLineNo(n) : 0, fmt, ap);
  va_end(ap);
  return -1;
}

/* libxml2 reports through here (set per parser context, so concurrent
 * parses never share it); nothing reaches stderr. */
static void on_xml_error(void *data, xmlErrorPtr e) {
  xmlParserCtxtPtr      ctxt = data;
  struct xml_parse_ctx *p    = ctxt ? ctxt->_private : NULL;
  if (!p || !e || e->level < XML_ERR_ERROR)
    return;
  char msg[P4P_TEXT_MAX];
  snprintf(msg, sizeof msg, "%s", e->message ? e->message : "error");
  size_t l = strlen(msg);
  while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
    msg[--l] = '\0';
  proto_xml_fail_line(p, e->line, "not well-formed XML: %s", msg);
}

/* For errors libxml2 raises outside the parser context (rare: memory). */
static void on_generic_error(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

static void on_structured_error(void *ctx, xmlErrorPtr e) {
  (void)ctx;
  (void)e;
}

/* A DOCTYPE is where entities (billion laughs, external SYSTEM files) and
 * external DTDs live; v1 has no use for one, so the parse stops here,
 * before the internal subset is even read. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id, const xmlChar *sys_id) {
  xmlParserCtxtPtr      ctxt = ctx;
  struct xml_parse_ctx *p    = ctxt->_private;
  (void)ext_id;
  proto_xml_fail_line(p, ctxt->input ? ctxt->input->line : 0,
                      "<!DOCTYPE %s%s%s%s> refused: P4P v1 documents must not carry "
                      "a DTD (no entities, no external DTD)",
                      name ? (const char *)name : "", sys_id ? " SYSTEM \"" : "", sys_id ? (const char *)sys_id : "", sys_id ? "\"" : "");
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

static int tag_attr_counts_ok(struct xml_parse_ctx *p, const char *buf, size_t len) {
  long        line = 1;
  size_t      i    = 0;
  const char *end  = buf + len;
  while (i < len) {
    char c = buf[i];
    if (c == '\n')
      line++;
    if (c != '<') {
      i++;
      continue;
    }
    const char *t     = buf + i;
    const char *close = NULL;
    size_t      skip  = 0;
    if ((size_t)(end - t) >= 4 && !memcmp(t, "<!--", 4)) {
      close = "-->";
      skip  = 4;
    } else if ((size_t)(end - t) >= 9 && !memcmp(t, "<![CDATA[", 9)) {
      close = "]]>";
      skip  = 9;
    } else if ((size_t)(end - t) >= 2 && t[1] == '?') {
      close = "?>";
      skip  = 2;
    } else if ((size_t)(end - t) >= 2 && t[1] == '!') {
      /* a DOCTYPE: refused by the SAX hook before anything after it */
      return 0;
    }
    if (close) {
      const char *e    = memmem(t + skip, (size_t)(end - t) - skip, close, strlen(close));
      size_t      stop = e ? (size_t)(e - buf) + strlen(close) : len;
      for (size_t k = i; k < stop; k++)
        line += buf[k] == '\n';
      i = stop;
      continue;
    }
    /* a start or end tag: count '=' outside quotes up to '>' */
    long tag_line = line;
    int  n        = 0;
    char quote    = 0;
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
          return proto_xml_fail_line(p, tag_line, "a tag has more than %d attributes", MAX_ATTRS_PER_TAG);
      } else if (c == '>') {
        i++;
        break;
      }
    }
  }
  return 0;
}

/* v1 documents are UTF-8 (docs/PROTOCOL.md).  libxml2 would otherwise
 * decode EBCDIC, UTF-16, UCS-4 or any iconv charset the document names, and
 * the attribute count above, which reads raw bytes for ASCII '<' and '=',
 * would see none of the tags (issue 15.1: 1 MiB of IBM037 with 149k
 * attributes in one tag, ~50 s of CPU).  So a document must look like
 * ASCII-compatible text and declare no encoding but UTF-8 (or its subset
 * US-ASCII), and the parse below forces UTF-8 and ignores the declaration:
 * the bytes counted are exactly the characters libxml2 parses. */
static int encoding_ok(struct xml_parse_ctx *p, const char *buf, size_t len) {
  const unsigned char *b = (const unsigned char *)buf;
  size_t               i = 0;
  if (len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
    i = 3; /* UTF-8 byte order mark */
  if (len - i >= 2 && ((b[i] == 0xFE && b[i + 1] == 0xFF) || (b[i] == 0xFF && b[i + 1] == 0xFE)))
    return proto_xml_fail_line(p, 0,
                               "UTF-16/UTF-32 byte order mark: P4P v1 "
                               "documents are UTF-8");
  if (len - i >= 2 && (b[i] == 0 || b[i + 1] == 0))
    return proto_xml_fail_line(p, 0,
                               "NUL byte at the start (UTF-16 or "
                               "UCS-4?): P4P v1 documents are UTF-8");
  if (len - i >= 4 && !memcmp(b + i, "\x4C\x6F\xA7\x94", 4))
    return proto_xml_fail_line(p, 0,
                               "EBCDIC document: P4P v1 documents are "
                               "UTF-8");
  if (len - i < 6 || memcmp(b + i, "<?xml", 5) || !strchr(" \t\r\n", b[i + 5]))
    return 0; /* no declaration: UTF-8 by default */
  /* the declaration ends at the first "?>"; look for encoding="..." in it */
  const char *decl = buf + i, *end = buf + len;
  const char *close = memmem(decl, (size_t)(end - decl), "?>", 2);
  if (!close)
    return 0; /* libxml2 refuses it */
  const char *e = memmem(decl, (size_t)(close - decl), "encoding", 8);
  if (!e)
    return 0;
  e += 8;
  while (e < close && strchr(" \t\r\n", *e))
    e++;
  if (e < close && *e == '=')
    e++;
  while (e < close && strchr(" \t\r\n", *e))
    e++;
  if (e >= close || (*e != '"' && *e != '\''))
    return 0; /* malformed: libxml2 refuses it */
  char        q    = *e++;
  const char *name = e;
  while (e < close && *e != q)
    e++;
  size_t                   n         = (size_t)(e - name);
  static const char *const allowed[] = {"UTF-8", "UTF8", "US-ASCII", "ASCII"};
  for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
    if (n == strlen(allowed[k]) && !strncasecmp(name, allowed[k], n))
      return 0;
  long line = 1;
  for (const char *c = buf; c < name; c++)
    line += *c == '\n';
  return proto_xml_fail_line(p, line,
                             "encoding \"%.*s\" refused: P4P v1 documents "
                             "are UTF-8",
                             n > 40 ? 40 : (int)n, name);
}

/* Options: NONET, and nothing that loads or substitutes (NOENT, DTDLOAD,
 * DTDATTR, XINCLUDE are deliberately absent); no HUGE, so libxml2's own
 * depth and length limits stay on. */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_IGNORE_ENC)

/* Parse buf into a tree with the hooks above; NULL (and p->failed) on error. */
xmlDocPtr proto_xml_parse_tree(struct xml_parse_ctx *p, const char *buf, size_t len, xmlParserCtxtPtr *ctxt_out) {
  *ctxt_out = NULL;
  if (!buf) {
    proto_xml_fail_line(p, 0, "no document");
    return NULL;
  }
  if (len > P4P_XML_MAX_BYTES) {
    proto_xml_fail_line(p, 0, "document is %zu bytes, over the limit of %u bytes", len, (unsigned)P4P_XML_MAX_BYTES);
    return NULL;
  }
  if (len == 0) {
    proto_xml_fail_line(p, 0, "empty document");
    return NULL;
  }
  if (encoding_ok(p, buf, len) < 0 || tag_attr_counts_ok(p, buf, len) < 0)
    return NULL;
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) {
    proto_xml_fail_line(p, 0, "out of memory");
    return NULL;
  }
  ctxt->_private                     = p;
  ctxt->sax->serror                  = on_xml_error;
  ctxt->sax->internalSubset          = on_doctype;

  /* the generic handlers are per thread in libxml2; silence them for the
   * duration of this call only */
  xmlGenericErrorFunc    old_gen     = xmlGenericError;
  void                  *old_gen_ctx = xmlGenericErrorContext;
  xmlStructuredErrorFunc old_st      = xmlStructuredError;
  void                  *old_st_ctx  = xmlStructuredErrorContext;
  xmlSetGenericErrorFunc(NULL, on_generic_error);
  xmlSetStructuredErrorFunc(NULL, on_structured_error);

  /* UTF-8 whatever the document says (see encoding_ok) */
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, "UTF-8", PARSE_OPTIONS);

  xmlSetGenericErrorFunc(old_gen_ctx, old_gen);
  xmlSetStructuredErrorFunc(old_st_ctx, old_st);

  if (doc && (doc->intSubset || doc->extSubset))
    proto_xml_fail_line(p, 0, "DOCTYPE refused: P4P v1 documents must not carry a DTD");
  if (!doc && !p->failed)
    proto_xml_fail_line(p, 0, "not well-formed XML");
  if (p->failed) {
    if (doc)
      xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return NULL;
  }
  *ctxt_out = ctxt;
  return doc;
}
