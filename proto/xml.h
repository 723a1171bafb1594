/* P4P XML message format v1 (docs/PROTOCOL.md, schema docs/p4p-v1.xsd):
 * parse documents into the structs of msg.h and write them back.
 *
 * Parsers treat their input as hostile: no network, no DTD (a DOCTYPE is
 * refused), no entity substitution, no XInclude, a byte cap and count caps,
 * and semantic checks (unique names, valid prefixes, matrix entries naming
 * declared PIDs, finite non-negative values).  They return 0, or -1 with
 * err = "<source>:<line>: <reason>" ("<source>: <reason>" when the problem
 * is the input as a whole) and *out zeroed.  Safe to call from several
 * threads at once.
 *
 * Writers return a malloc'd NUL-terminated document (*len = its length
 * without the NUL) or NULL if the struct holds something v1 cannot say
 * (bad name, NaN, negative value...) or memory ran out.
 *
 * The textual forms of addresses, hashes and values are in text.h, file
 * reading in file.h. */
#ifndef PROTO_XML_H
#define PROTO_XML_H

#include <stddef.h>

#include "msg.h"

#define P4P_XML_NS "urn:opentracker-p4p:p4p:1"

/* Limits a parser enforces (documented in docs/PROTOCOL.md, "Limits"). */
#ifndef P4P_XML_MAX_BYTES
#define P4P_XML_MAX_BYTES (16u << 20) /* whole document */
#endif
#define P4P_XML_MAX_PIDS        65536      /* PIDs in a PID map */
#define P4P_XML_MAX_PREFIXES    1048576    /* prefixes in a PID map, all PIDs */
#define P4P_XML_MAX_MATRIX_PIDS 2048       /* PIDs of one matrix */
#define P4P_XML_MAX_CELLS       (1u << 23) /* n*n summed over a message's matrices */
#define P4P_XML_MAX_SWARMS      65536      /* swarms in guidance or stats */
#define P4P_XML_MAX_ADDRS       65536      /* addresses in a lookup (request) */
#define P4P_XML_MAX_SERVERS     4096       /* servers in capability; request count */

int proto_xml_parse_pidmap(const char *buf, size_t len, const char *source, struct p4p_pidmap_msg *out, char *err, size_t errlen);
int proto_xml_parse_lookup_request(const char *buf, size_t len, const char *source, struct p4p_lookup_request *out, char *err, size_t errlen);
int proto_xml_parse_lookup(const char *buf, size_t len, const char *source, struct p4p_lookup_msg *out, char *err, size_t errlen);
int proto_xml_parse_costs(const char *buf, size_t len, const char *source, struct p4p_costs_msg *out, char *err, size_t errlen);
int proto_xml_parse_guidance(const char *buf, size_t len, const char *source, struct p4p_guidance_msg *out, char *err, size_t errlen);
int proto_xml_parse_stats(const char *buf, size_t len, const char *source, struct p4p_stats_msg *out, char *err, size_t errlen);
int proto_xml_parse_capability(const char *buf, size_t len, const char *source, struct p4p_capability_msg *out, char *err, size_t errlen);
int proto_xml_parse_capability_request(const char *buf, size_t len, const char *source, struct p4p_capability_request *out, char *err, size_t errlen);
int proto_xml_parse_error(const char *buf, size_t len, const char *source, struct p4p_error_msg *out, char *err, size_t errlen);

char *proto_xml_write_pidmap(const struct p4p_pidmap_msg *m, size_t *len);
char *proto_xml_write_lookup_request(const struct p4p_lookup_request *m, size_t *len);
char *proto_xml_write_lookup(const struct p4p_lookup_msg *m, size_t *len);
char *proto_xml_write_costs(const struct p4p_costs_msg *m, size_t *len);
char *proto_xml_write_guidance(const struct p4p_guidance_msg *m, size_t *len);
char *proto_xml_write_stats(const struct p4p_stats_msg *m, size_t *len);
char *proto_xml_write_capability(const struct p4p_capability_msg *m, size_t *len);
char *proto_xml_write_capability_request(const struct p4p_capability_request *m, size_t *len);
char *proto_xml_write_error(const struct p4p_error_msg *m, size_t *len);

/* Which message a document holds, from its root element (namespace
 * checked).  Lets a client tell an <error> answer from the one it wanted. */
enum proto_xml_kind {
  P4P_XML_UNKNOWN = 0,
  P4P_XML_PIDMAP,
  P4P_XML_LOOKUP_REQUEST,
  P4P_XML_LOOKUP,
  P4P_XML_COSTS,
  P4P_XML_GUIDANCE,
  P4P_XML_STATS,
  P4P_XML_CAPABILITY,
  P4P_XML_CAPABILITY_REQUEST,
  P4P_XML_ERROR,
};
enum proto_xml_kind proto_xml_kind_of(const char *buf, size_t len);

#endif
