/* What the XML units share and nobody else sees: the parse context and its
 * errors, the hardened parse, the strict tree walk and the locale switch.
 *
 *   xml_parse.c  libxml2 under hostile input: setup, DOCTYPE refusal, caps,
 *                error context, the C locale
 *   xml_tree.c   strict walking of the tree: allowed children/attributes,
 *                typed attribute values in v1's forms (text.h)
 *   xml_build.c  tree -> msg.h structs, one builder per kind; the public
 *                proto_xml_parse_* and proto_xml_kind_of
 *   xml_write.c  msg.h structs -> XML, the public proto_xml_write_*
 *
 * Not installed, not included outside proto/: it pulls in libxml2's
 * headers, which the rest of the tree never needs. */
#ifndef PROTO_XML_INTERNAL_H
#define PROTO_XML_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "msg.h"

/* One parse: where the document came from and where its error goes. */
struct xml_parse_ctx {
  const char *source;
  char       *err;
  size_t      errlen;
  int         failed; /* first error wins: it is the precise one */
  size_t      cells;  /* matrix cells allocated by this message so far */
};

/* Record "<source>:<line>: <reason>" ("<source>: <reason>" for line <= 0)
 * unless an error is already recorded; always -1.  _at takes the line of
 * node n (none when n is NULL). */
int proto_xml_fail_line(struct xml_parse_ctx *p, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int proto_xml_fail_at(struct xml_parse_ctx *p, const xmlNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Numbers on the wire use '.' whatever the program's locale is: switch the
 * calling thread to the C locale and back.  enter also runs libxml2's
 * one-time setup, so every entry point calls it first. */
locale_t proto_xml_c_locale_enter(void);
void     proto_xml_c_locale_leave(locale_t old);

/* Parse buf into a tree under the caps and refusals of docs/PROTOCOL.md;
 * NULL (and p->failed) on error.  Free with xmlFreeDoc(doc) and
 * xmlFreeParserCtxt(*ctxt_out). */
xmlDocPtr proto_xml_parse_tree(struct xml_parse_ctx *p, const char *buf, size_t len, xmlParserCtxtPtr *ctxt_out);

/* --- strict tree walking (xml_tree.c) ------------------------------------ */

#define EL_NAME(n) ((const char *)(n)->name)

int proto_xml_in_ns(const xmlNode *n);                   /* in P4P_XML_NS */
int proto_xml_is_el(const xmlNode *n, const char *name); /* element `name` */

/* Element-only content: every child is an allowed v1 element, a comment, a
 * PI or blank text.  Counts the children named `count_name` into *count. */
int proto_xml_check_children(struct xml_parse_ctx *p, const xmlNode *el, const char *const *allowed, const char *count_name, size_t *count);
/* Every attribute is unqualified and in `allowed` (NULL: none allowed). */
int proto_xml_check_attrs(struct xml_parse_ctx *p, const xmlNode *el, const char *const *allowed);

/* Copy attribute `name` into buf.  1: present, 0: absent and optional,
 * -1: error (missing but required, or too long).  The typed forms below
 * return the same and check the value's v1 form. */
int proto_xml_get_attr(struct xml_parse_ctx *p, const xmlNode *el, const char *name, char *buf, size_t size, int required);
int proto_xml_attr_name(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, char out[P4P_NAME_MAX], int required);
int proto_xml_attr_version(struct xml_parse_ctx *p, const xmlNode *el, char out[P4P_NAME_MAX]);
int proto_xml_attr_loc(struct xml_parse_ctx *p, const xmlNode *el, char out[P4P_NAME_MAX]);
int proto_xml_attr_hash(struct xml_parse_ctx *p, const xmlNode *el, uint8_t out[P4P_HASH_SIZE], int required);
int proto_xml_attr_uint(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, uint64_t min, uint64_t max, uint64_t *out, int required);
int proto_xml_attr_value(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, double *out, int required);
int proto_xml_attr_addr(struct xml_parse_ctx *p, const xmlNode *el, const char *attr, uint8_t out[16], int required);

/* Text content of a leaf element (no child elements), malloc'd, with
 * surrounding blanks removed; NULL on error. */
char *proto_xml_leaf_text(struct xml_parse_ctx *p, const xmlNode *el);

#endif
