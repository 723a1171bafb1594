/* ALTO (RFC 7285) messages in JSON, for the iTracker's ALTO server and the
 * tracker's ALTO client (docs/ALTO.md).  All JSON goes through jansson:
 * this unit only maps jansson values to and from the structs of msg.h.
 *
 * Parsers treat their input as hostile: a byte cap before parsing, no
 * duplicate keys, no NUL in strings, a nesting cap (jansson stops at 2048
 * levels; we refuse more than PROTO_ALTO_MAX_DEPTH), count caps, and the
 * RFC's rules on names, prefixes and values.  They return 0, or -1 with
 * err = "<source>: <where>: <reason>" (where = a JSON path such as
 * /network-map/PID1/ipv4/0, or "line L column C" for syntax errors) and
 * *out zeroed.  Request parsers also fill a struct proto_alto_fault with
 * the RFC 7285 section 8.5.2 error code, field and value the server sends
 * back.  Encoders return a new jansson reference (NULL: out of memory or a
 * value JSON cannot carry).  Everything is safe from several threads. */
#ifndef PROTO_ALTO_H
#define PROTO_ALTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* media types, RFC 7285 section 14.1, RFC 8895 section 10 */
#define PROTO_ALTO_MT_DIRECTORY           "application/alto-directory+json"
#define PROTO_ALTO_MT_NETWORKMAP          "application/alto-networkmap+json"
#define PROTO_ALTO_MT_COSTMAP             "application/alto-costmap+json"
#define PROTO_ALTO_MT_ENDPOINTPROP        "application/alto-endpointprop+json"
#define PROTO_ALTO_MT_ENDPOINTCOST        "application/alto-endpointcost+json"
#define PROTO_ALTO_MT_ERROR               "application/alto-error+json"
#define PROTO_ALTO_MT_NETWORKMAPFILTER    "application/alto-networkmapfilter+json"
#define PROTO_ALTO_MT_COSTMAPFILTER       "application/alto-costmapfilter+json"
#define PROTO_ALTO_MT_ENDPOINTPROPPARAMS  "application/alto-endpointpropparams+json"
#define PROTO_ALTO_MT_ENDPOINTCOSTPARAMS  "application/alto-endpointcostparams+json"
#define PROTO_ALTO_MT_UPDATESTREAMPARAMS  "application/alto-updatestreamparams+json"
#define PROTO_ALTO_MT_UPDATESTREAMCONTROL "application/alto-updatestreamcontrol+json"
#define PROTO_ALTO_MT_MERGE_PATCH         "application/merge-patch+json"
#define PROTO_ALTO_MT_EVENT_STREAM        "text/event-stream"

/* error codes, RFC 7285 table 1 */
#define PROTO_ALTO_E_SYNTAX               "E_SYNTAX"
#define PROTO_ALTO_E_MISSING_FIELD        "E_MISSING_FIELD"
#define PROTO_ALTO_E_INVALID_FIELD_TYPE   "E_INVALID_FIELD_TYPE"
#define PROTO_ALTO_E_INVALID_FIELD_VALUE  "E_INVALID_FIELD_VALUE"

/* Our private names (RFC 7285 sections 10.6 and 8.3.7: "priv:" metrics,
 * unknown fields ignored by other clients). */
#define PROTO_ALTO_METRIC_ROUTINGCOST     "routingcost"
#define PROTO_ALTO_METRIC_PDISTANCE       "priv:p4p-pdistance"
#define PROTO_ALTO_METRIC_GUIDANCE        "priv:p4p-guidance"
#define PROTO_ALTO_FIELD_SWARMS           "priv:p4p-swarms"
#define PROTO_ALTO_FIELD_STATS            "priv:p4p-stats"

/* Limits a parser enforces (docs/ALTO.md, "Limits"). */
#define PROTO_ALTO_MAX_BYTES              (16u << 20) /* one message */
#define PROTO_ALTO_MAX_DEPTH              32          /* nesting of arrays/objects */
#define PROTO_ALTO_MAX_PIDS               65536       /* PIDs in a network map */
#define PROTO_ALTO_MAX_PREFIXES           1048576     /* prefixes, all PIDs */
#define PROTO_ALTO_MAX_MATRIX             2048        /* PIDs one cost map names */
#define PROTO_ALTO_MAX_SWARMS             65536       /* swarms in guidance or stats */
#define PROTO_ALTO_MAX_ENDPOINTS          65536       /* endpoints in one request */
#define PROTO_ALTO_MAX_RESOURCES          256         /* IRD entries */
#define PROTO_ALTO_MAX_USES               16          /* per IRD entry */
#define PROTO_ALTO_MAX_TYPES              16          /* cost types per IRD entry */

#define PROTO_ALTO_ID_MAX                 65 /* resource ids, tags: 64 + NUL (10.2, 10.3) */
#define PROTO_ALTO_URI_MAX                512

struct proto_alto_vtag {
  char rid[PROTO_ALTO_ID_MAX];
  char tag[PROTO_ALTO_ID_MAX];
};

struct proto_alto_cost_type {
  char metric[33]; /* 10.6: at most 32 characters */
  char mode[16];   /* "numerical" or "ordinal" */
};

/* What a request parser found wrong, for the 8.5.2 error body. */
struct proto_alto_fault {
  const char *code;      /* PROTO_ALTO_E_* */
  char        field[96]; /* "" = none */
  char        value[96]; /* "" = none */
};

/* ---- JSON text ---------------------------------------------------------- */

/* Parse one JSON document (any top-level value) with the caps above.
 * NULL with err set (and f->code = E_SYNTAX when f is given). */
json_t *proto_alto_load(const char *buf, size_t len, const char *source, struct proto_alto_fault *f, char *err, size_t errlen);
/* Compact text, malloc'd and NUL-terminated; NULL when out of memory.
 * Reals keep 15 significant digits; integral values are JSON integers. */
char *proto_alto_dump(const json_t *j, size_t *len);
/* A number as JSON: an integer when integral and exact, else a real. */
json_t *proto_alto_number(double v);

/* ---- names ------------------------------------------------------------- */

/* PID names and resource ids (10.1, 10.2): 1-64 of A-Z a-z 0-9 - : @ _ and
 * '.' (reserved by the RFC; we accept it because P4P PID names use it). */
int proto_alto_valid_id(const char *s);
/* Typed endpoint address "ipv4:a.b.c.d" / "ipv6:x::y" (10.4.1) to 16
 * bytes as in msg.h; 0 or -1.  _format writes the canonical form. */
int  proto_alto_endpoint_parse(const char *s, uint8_t addr[16]);
void proto_alto_endpoint_format(const uint8_t addr[16], char out[80]);

/* ---- errors (8.5) ------------------------------------------------------- */

/* {"meta": {"code": code, "field": .., "value": .., "syntax-error": ..}};
 * NULL or "" members are left out. */
json_t *proto_alto_error_json(const char *code, const char *field, const char *value, const char *syntax_error);
/* When j is an ALTO error resource, a one-line description of it
 * ("E_INVALID_FIELD_VALUE field cost-type/cost-mode value foo"); 0, or -1
 * when j is not one. */
int proto_alto_describe_error(const json_t *j, char *out, size_t outlen);

/* ---- network map (11.2.1) ---------------------------------------------- */

/* The PIDs of m (pick: NULL = all, else pick[i] says whether PID i goes in)
 * with prefixes of the families asked (bit 0 ipv4, bit 1 ipv6). */
json_t *proto_alto_networkmap_json(const struct p4p_pidmap_msg *m, const struct proto_alto_vtag *vtag, const unsigned char *pick, unsigned families);
/* Unknown address types are ignored (11.2.1.7); a PID left without
 * prefixes is kept.  ASIDs are 0, LOC "", version = the vtag's tag. */
int proto_alto_parse_networkmap(const json_t *j, const char *source, struct p4p_pidmap_msg *out, struct proto_alto_vtag *vtag, char *err, size_t errlen);

/* ---- cost map (11.2.3) ------------------------------------------------- */

/* "cost-map" data: rows of src[i] over dst[j], v[i * ndst + j]; NaN cells
 * (undefined costs) are left out, and so are rows left empty. */
json_t *proto_alto_cost_rows(size_t nsrc, const char *const *src, size_t ndst, const char *const *dst, const double *v);
/* {"meta": {"dependent-vtags": [dep], "cost-type": ct}, "cost-map": rows}
 * (takes the reference to rows). */
json_t *proto_alto_costmap_json(const struct proto_alto_vtag *dep, const struct proto_alto_cost_type *ct, json_t *rows);
/* Into a square matrix over every PID named (sources in order, then new
 * destinations); undefined costs are NaN.  Values must be finite and >= 0;
 * ordinal ones whole numbers. */
int proto_alto_parse_costmap(const json_t *j, const char *source, struct p4p_costs_msg *out, struct proto_alto_cost_type *ct, struct proto_alto_vtag *dep,
                             char *err, size_t errlen);

/* ---- P4P guidance as a private ALTO cost map (docs/ALTO.md) ------------ */

/* A cost map of metric priv:p4p-guidance: "cost-map" holds the default
 * matrix, "priv:p4p-swarms" one such map per info-hash (hex).  Zero
 * weights are left out. */
json_t *proto_alto_guidance_json(const struct p4p_guidance_msg *g, const struct proto_alto_vtag *dep, const struct proto_alto_vtag *vtag);
/* Absent weights are 0; a map without "cost-map" rows has no default. */
int proto_alto_parse_guidance(const json_t *j, const char *source, struct p4p_guidance_msg *out, struct proto_alto_vtag *dep, char *err, size_t errlen);
/* The POST body asking for guidance: a costmapfilter of that metric plus
 * "priv:p4p-stats": [{"info-hash", "pids": {PID: {"seeders", "leechers",
 * ["up-kbps"], ["down-kbps"]}}}]. */
json_t *proto_alto_stats_json(const struct p4p_stats_msg *m);
int     proto_alto_parse_stats(const json_t *j, const char *source, struct p4p_stats_msg *out, struct proto_alto_fault *f, char *err, size_t errlen);

/* ---- information resource directory (9) -------------------------------- */

struct proto_alto_resource {
  char                        id[PROTO_ALTO_ID_MAX];
  char                        uri[PROTO_ALTO_URI_MAX]; /* as given: may be relative to the IRD's */
  char                        media_type[64];
  char                        accepts[64]; /* "" = GET */
  size_t                      ntypes;      /* cost types resolved from cost-type-names */
  struct proto_alto_cost_type types[PROTO_ALTO_MAX_TYPES];
  int                         cost_constraints;
  size_t                      nuses;
  char                        uses[PROTO_ALTO_MAX_USES][PROTO_ALTO_ID_MAX];
  /* update stream services (RFC 8895 6.5): which uses offer merge patches */
  unsigned merge_patch_uses; /* bit k: uses[k] */
};

struct proto_alto_ird {
  char                        default_network_map[PROTO_ALTO_ID_MAX];
  size_t                      n;
  struct proto_alto_resource *res;
};

/* Entries whose cost-type-names name no type of "meta" are refused;
 * unknown fields and capabilities are ignored. */
int                               proto_alto_parse_ird(const json_t *j, const char *source, struct proto_alto_ird *out, char *err, size_t errlen);
void                              proto_alto_ird_free(struct proto_alto_ird *ird);
const struct proto_alto_resource *proto_alto_ird_find(const struct proto_alto_ird *ird, const char *id);

/* ---- requests (11.3, 11.4, 11.5, RFC 8895 6.3) ------------------------- */

/* Lists of names or addresses, deduplicated; n = 0 means "all" where the
 * RFC says an empty list does. */
struct proto_alto_names {
  size_t n;
  char (*v)[PROTO_ALTO_ID_MAX];
};
void proto_alto_names_free(struct proto_alto_names *l);

struct proto_alto_netmap_filter {
  struct proto_alto_names pids;
  unsigned                families; /* bit 0 ipv4, bit 1 ipv6; 3 = all */
};
int proto_alto_parse_netmap_filter(const json_t *j, struct proto_alto_netmap_filter *out, struct proto_alto_fault *f, char *err, size_t errlen);

/* One "constraints" entry (11.3.2.3): op is "gt" "lt" "ge" "le" "eq". */
struct proto_alto_constraint {
  char   op[3];
  double value;
};
#define PROTO_ALTO_MAX_CONSTRAINTS 16

struct proto_alto_cost_filter {
  struct proto_alto_cost_type  type;
  size_t                       nconstraints;
  struct proto_alto_constraint constraints[PROTO_ALTO_MAX_CONSTRAINTS];
  struct proto_alto_names      srcs, dsts;             /* PID names (cost map) */
  size_t                       nsrc_addrs, ndst_addrs; /* endpoint cost */
  uint8_t (*src_addrs)[16], (*dst_addrs)[16];
};
/* endpoints = 0: a filtered cost map request; 1: an endpoint cost request
 * (its "endpoints" with typed addresses, at least one list non-empty). */
int  proto_alto_parse_cost_filter(const json_t *j, int endpoints, struct proto_alto_cost_filter *out, struct proto_alto_fault *f, char *err, size_t errlen);
void proto_alto_cost_filter_free(struct proto_alto_cost_filter *cf);
/* Whether v meets every constraint (AND). */
int proto_alto_constraints_hold(const struct proto_alto_cost_filter *cf, double v);

struct proto_alto_prop_request {
  struct proto_alto_names properties;
  size_t                  naddrs;
  uint8_t (*addrs)[16];
};
int  proto_alto_parse_prop_request(const json_t *j, struct proto_alto_prop_request *out, struct proto_alto_fault *f, char *err, size_t errlen);
void proto_alto_prop_request_free(struct proto_alto_prop_request *r);

#define PROTO_ALTO_MAX_SUBSTREAMS 16
struct proto_alto_substream {
  char id[PROTO_ALTO_ID_MAX]; /* the client's substream id */
  char resource[PROTO_ALTO_ID_MAX];
  char tag[PROTO_ALTO_ID_MAX]; /* "" = none */
  int  incremental;            /* incremental-changes, default 1 */
};
struct proto_alto_stream_request {
  size_t                      nadd;
  struct proto_alto_substream add[PROTO_ALTO_MAX_SUBSTREAMS];
  size_t                      nremove;
  char                        remove[PROTO_ALTO_MAX_SUBSTREAMS][PROTO_ALTO_ID_MAX];
};
int     proto_alto_parse_stream_request(const json_t *j, struct proto_alto_stream_request *out, struct proto_alto_fault *f, char *err, size_t errlen);
json_t *proto_alto_stream_request_json(const struct proto_alto_stream_request *r);

/* ---- JSON merge patch (RFC 7396), for RFC 8895 incremental updates ----- */

/* The patch turning from into to (NULL when they are equal or memory ran
 * out: *equal tells which). */
json_t *proto_alto_merge_diff(const json_t *from, const json_t *to, int *equal);
/* target with patch applied, as a new value (target is not changed). */
json_t *proto_alto_merge_apply(const json_t *target, const json_t *patch);

/* ---- server-sent events (RFC 8895 section 5, HTML SSE framing) --------- */

/* One event as the stream writes it: "event: TYPE[,ID]\n" then the data's
 * lines each as "data: ...\n", then a blank line.  malloc'd. */
char *proto_alto_sse_event(const char *media_type, const char *substream, const char *data, size_t *len);

/* Incremental reader of a text/event-stream: feed bytes as they come;
 * each complete event calls on_event(ctx, event field, data) with the data
 * lines joined by '\n'.  Comments (":" lines, keep-alives) are skipped.
 * An event or a line longer than max_event bytes is an error (-1 from
 * feed, err set); so is a callback returning nonzero. */
struct proto_alto_sse_reader;
struct proto_alto_sse_reader *proto_alto_sse_new(size_t max_event, int (*on_event)(void *ctx, const char *event, const char *data, size_t len), void *ctx);
int                           proto_alto_sse_feed(struct proto_alto_sse_reader *r, const char *buf, size_t len, char *err, size_t errlen);
void                          proto_alto_sse_free(struct proto_alto_sse_reader *r);
/* The ctx later events are given (a caller whose context is per feed). */
void proto_alto_sse_set_ctx(struct proto_alto_sse_reader *r, void *ctx);

#endif
