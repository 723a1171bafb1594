/* alto_client: what the portal client needs to read a provider through
 * ALTO (RFC 7285) instead of our P4P XML (docs/ALTO.md, "The tracker as
 * an ALTO client").  The portal client keeps its transfers, schedule,
 * caps, backoff and staleness; this unit only says which URL each of its
 * interfaces fetches and turns the answers into the same messages the
 * loader takes (struct p4p_pidmap_msg, p4p_costs_msg, p4p_guidance_msg).
 *
 *   info      the IRD first (the configured URL), then the network map it
 *             names (default-alto-network-map, else the first listed);
 *   policy    one GET cost map using that network map, the first listed of
 *             numerical priv:p4p-pdistance, else numerical routingcost,
 *             else ordinal routingcost;
 *   guidance  our priv:p4p-guidance cost map when the IRD offers it: GET,
 *             or POST with the swarms' statistics.
 *
 * Version tags: a cost map or guidance whose dependent vtag is not the
 * network map held is refused and the network map is fetched again.  Owned
 * by the portal client's fetch thread; no locking. */
#ifndef P4P_ALTO_CLIENT_H
#define P4P_ALTO_CLIENT_H

#include <stddef.h>

#include "proto/msg.h"

struct p4p_alto_source;

struct p4p_alto_source *p4p_alto_new(const char *ird_url);
void                    p4p_alto_free(struct p4p_alto_source *a);

/* What interface iface fetches next.  0: url, accept and (for a POST)
 * post_type are set; *with_token says whether the bearer token may go
 * there (only to the IRD's own scheme, host and port).  1: the provider
 * offers nothing for this interface.  2: not yet (the IRD or the network
 * map it depends on is not held): ask again shortly.  post: the caller has
 * statistics to post (guidance only). */
int p4p_alto_target(struct p4p_alto_source *a, int iface, int post, char *url, size_t urllen, const char **accept, const char **post_type, int *with_token);

/* One answer of interface iface.  0: *out (the message for iface: a
 * struct p4p_pidmap_msg, p4p_costs_msg or p4p_guidance_msg) is filled;
 * version gets the data's version tag.  1: the IRD was read; fetch the
 * interface again now.  -1: refused, reason in err. */
int p4p_alto_parse(struct p4p_alto_source *a, int iface, const char *content_type, const char *body, size_t len, void *out, char *version, size_t versionlen,
                   char *err, size_t errlen);

/* After a failure: 1 when the network map must be fetched again now (a
 * vtag did not match); clears the flag. */
int p4p_alto_map_wanted(struct p4p_alto_source *a);
/* An answer failed with this HTTP status: 404 forgets the IRD, so the next
 * info fetch discovers the resources again. */
void p4p_alto_http_failed(struct p4p_alto_source *a, long status);

/* RFC 8895: the update stream to open when the IRD offers one carrying the
 * network map and the cost map (substreams "map" and "costs", merge
 * patches).  Returns as p4p_alto_target; *body is the malloc'd request. */
int p4p_alto_stream_target(struct p4p_alto_source *a, char *url, size_t urllen, char **body, size_t *len, int *with_token);
/* Bytes of the stream as they arrive: each data event (whole or patch)
 * becomes a message handed to store(ctx, iface, msg), which takes it over
 * (returns 0, or nonzero to stop).  Events over max_event bytes, unknown
 * events, bad JSON or a vtag mismatch: -1 with err set. */
int p4p_alto_stream_feed(struct p4p_alto_source *a, const char *buf, size_t len, size_t max_event, int (*store)(void *ctx, int iface, void *msg), void *ctx,
                         char *err, size_t errlen);
/* A stream starts or ends: forget its reader and documents.  Returns the
 * data events taken since the last reset (kept when keep_count). */
unsigned long p4p_alto_stream_reset(struct p4p_alto_source *a, int keep_count);
unsigned long p4p_alto_stream_events(const struct p4p_alto_source *a);

/* The reason inside an ALTO error resource, for messages; "" when the
 * body is not one. */
void p4p_alto_error_reason(const char *body, size_t len, char *out, size_t outlen);

/* The guidance POST body for these statistics (malloc'd JSON text), or
 * NULL when out of memory. */
char *p4p_alto_stats_body(const struct p4p_stats_msg *stats, size_t *len);

#endif
