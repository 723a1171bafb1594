/* Strict walking of a parsed v1 tree (see xml_internal.h): v1 is closed,
 * so anything the schema does not define (a foreign element, an unknown or
 * namespaced attribute, stray text) is an error here, never ignored; and
 * every attribute value is checked in its v1 form (text.h) as it is read. */
#include "text.h"
#include "xml.h"
#include "xml_internal.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

int proto_xml_in_ns(const xmlNode *n) { return n->ns && n->ns->href && strcmp((const char *)n->ns->href, P4P_XML_NS) == 0; }

int proto_xml_is_el(const xmlNode *n, const char *name) { return n->type == XML_ELEMENT_NODE && strcmp(EL_NAME(n), name) == 0; }

/* XML's white space */
static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_blank(const xmlChar *s) {
  for (; s && *s; s++)
    if (!is_space(*s))
      return 0;
  return 1;
}

static int in_list(const char *const *list, const char *s) {
  for (; list && *list; list++)
    if (strcmp(*list, s) == 0)
      return 1;
  return 0;
}

int proto_xml_check_children(struct xml_parse_ctx *p, const xmlNode *el, const char *const *allowed, const char *count_name, size_t *count) {
  size_t k = 0;
  for (const xmlNode *c = el->children; c; c = c->next) {
    switch (c->type) {
    case XML_ELEMENT_NODE:
      if (!proto_xml_in_ns(c))
        return proto_xml_fail_at(p, c,
                                 "<%s%s%s> inside <%s>: element not in namespace %s "
                                 "(v1 allows no foreign elements; XInclude is not "
                                 "processed)",
                                 c->ns && c->ns->prefix ? (const char *)c->ns->prefix : "", c->ns && c->ns->prefix ? ":" : "", EL_NAME(c), EL_NAME(el),
                                 P4P_XML_NS);
      if (!in_list(allowed, EL_NAME(c)))
        return proto_xml_fail_at(p, c, "unexpected element <%s> inside <%s>", EL_NAME(c), EL_NAME(el));
      if (count_name && strcmp(EL_NAME(c), count_name) == 0)
        k++;
      break;
    case XML_TEXT_NODE:
      if (!is_blank(c->content))
        return proto_xml_fail_at(p, c, "unexpected text inside <%s>", EL_NAME(el));
      break;
    case XML_COMMENT_NODE:
    case XML_PI_NODE:
      break;
    default:
      return proto_xml_fail_at(p, c, "unexpected content inside <%s>", EL_NAME(el));
    }
  }
  if (count)
    *count = k;
  return 0;
}

int proto_xml_check_attrs(struct xml_parse_ctx *p, const xmlNode *el, const char *const *allowed) {
  for (const xmlAttr *a = el->properties; a; a = a->next) {
    if (a->ns)
      return proto_xml_fail_at(p, el,
                               "<%s>: attribute '%s:%s' not allowed (v1 has no "
                               "namespaced attributes)",
                               EL_NAME(el), a->ns->prefix ? (const char *)a->ns->prefix : "", (const char *)a->name);
    if (!in_list(allowed, (const char *)a->name))
      return proto_xml_fail_at(p, el, "<%s>: unknown attribute '%s'", EL_NAME(el), (const char *)a->name);
  }
  return 0;
}

int proto_xml_get_attr(struct xml_parse_ctx *p, const xmlNode *el, const char *name, char *buf, size_t size, int required) {
  xmlChar *v = xmlGetNoNsProp(el, (const xmlChar *)name);
  if (!v) {
    if (required)
      return proto_xml_fail_at(p, el, "<%s>: missing attribute '%s'", EL_NAME(el), name);
    buf[0] = '\0';
    return 0;
  }
  size_t l = strlen((const char *)v);
  if (l >= size) {
    xmlFree(v);
    return proto_xml_fail_at(p, el, "<%s %s=...>: value is %zu bytes, at most %zu allowed", EL_NAME(el), name, l, size - 1);
  }
  memcpy(buf, v, l + 1);
  xmlFree(v);
  return 1;
}

char *proto_xml_leaf_text(struct xml_parse_ctx *p, const xmlNode *el) {
  for (const xmlNode *c = el->children; c; c = c->next)
    if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE && c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
      proto_xml_fail_at(p, c, "<%s> holds text only, found %s%s%s", EL_NAME(el), c->type == XML_ELEMENT_NODE ? "element <" : "other content",
                        c->type == XML_ELEMENT_NODE ? EL_NAME(c) : "", c->type == XML_ELEMENT_NODE ? ">" : "");
      return NULL;
    }
  xmlChar *t = xmlNodeGetContent(el);
  if (!t) {
    proto_xml_fail_at(p, el, "out of memory");
    return NULL;
  }
  const char *s = (const char *)t;
  size_t      l = strlen(s);
  while (l > 0 && is_space(s[l - 1]))
    l--;
  size_t b = 0;
  while (b < l && is_space(s[b]))
    b++;
  char *out = strndup(s + b, l - b);
  xmlFree(t);
  if (!out)
    proto_xml_fail_at(p, el, "out of memory");
  return out;
}

/* An attribute in one of the text forms of proto/text.h, copied to out.
   The rule is said as before, limit, after: the limit is P4P_NAME_MAX - 1. */
struct text_form {
  int (*valid)(const char *);
  const char *before, *after;
};

static const struct text_form form_name    = {proto_name_valid, "PID names are 1-", " characters of A-Z a-z 0-9 . _ : -"};
static const struct text_form form_version = {proto_version_valid, "versions are 1-", " printable ASCII characters without spaces"};
static const struct text_form form_loc     = {proto_loc_valid, "LOC is at most ", " printable ASCII characters"};

static int attr_in_form(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, int required, const struct text_form *form, char out[P4P_NAME_MAX]) {
  char buf[256];
  int  r = proto_xml_get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (!form->valid(buf))
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: %s%d%s", EL_NAME(el), attr, buf, form->before, P4P_NAME_MAX - 1, form->after);
  memcpy(out, buf, strlen(buf) + 1);
  return 1;
}

int proto_xml_attr_name(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, char out[P4P_NAME_MAX], int required) {
  return attr_in_form(p, el, attr, required, &form_name, out);
}

int proto_xml_attr_version(struct xml_parse_ctx *p, const xmlNode *el, char out[P4P_NAME_MAX]) { return attr_in_form(p, el, "version", 0, &form_version, out); }

int proto_xml_attr_loc(struct xml_parse_ctx *p, const xmlNode *el, char out[P4P_NAME_MAX]) { return attr_in_form(p, el, "loc", 0, &form_loc, out); }

int proto_xml_attr_hash(struct xml_parse_ctx *p, const xmlNode *el, uint8_t out[20], int required) {
  char buf[256];
  int  r = proto_xml_get_attr(p, el, "info-hash", buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_hash_parse_hex(buf, out) < 0)
    return proto_xml_fail_at(p, el,
                             "<%s info-hash=\"%s\">: an info_hash is exactly 40 "
                             "hex digits",
                             EL_NAME(el), buf);
  return 1;
}

int proto_xml_attr_uint(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, uint64_t min, uint64_t max, uint64_t *out, int required) {
  char buf[64];
  int  r = proto_xml_get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_uint_parse(buf, max, out) < 0 || *out < min)
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: not an integer in %llu..%llu", EL_NAME(el), attr, buf, (unsigned long long)min, (unsigned long long)max);
  return 1;
}

int proto_xml_attr_value(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, double *out, int required) {
  char buf[64];
  int  r = proto_xml_get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  switch (proto_value_parse(buf, out)) {
  case 0:
    return 1;
  case -2:
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: negative value (must be >= 0)", EL_NAME(el), attr, buf);
  case -3:
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: value is not finite", EL_NAME(el), attr, buf);
  default:
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: not a decimal number", EL_NAME(el), attr, buf);
  }
}

int proto_xml_attr_addr(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, uint8_t out[16], int required) {
  char buf[P4P_ADDR_TEXT_MAX];
  int  r = proto_xml_get_attr(p, el, attr, buf, sizeof buf, required);
  if (r <= 0)
    return r;
  if (proto_addr_parse(buf, out) < 0)
    return proto_xml_fail_at(p, el, "<%s %s=\"%s\">: not an IPv4 or IPv6 address", EL_NAME(el), attr, buf);
  return 1;
}
