/* portal_client: fetches P4P data from provider portals in the background.
 *
 * One thread drives every configured provider through one libcurl multi
 * handle, so transfers never block each other and never touch the
 * announce path: the tracker reads the latest good data with
 * p4p_portal_data() (a deep copy taken under a short lock) when
 * on_update tells it something changed.
 *
 * Per provider and interface:
 *   - our portal (docs/ITRACKER.md): GET /p4p/v1/pidmap, /costs,
 *     /capability; guidance is POST /p4p/v1/guidance with the last <stats>
 *     given to p4p_portal_post_stats(), GET when none was given;
 *   - a legacy Yale portal (legacy = 1): GET /pid/map and /pdistance
 *     (legacy_portal.h); it has no guidance or capability interface.
 *
 * Freshness: the next fetch of an interface is due after the answer's
 * Cache-Control max-age (at least 1 s, at most refresh_s), or refresh_s
 * without one (no-store, no-cache: the portal gives no lifetime).  A
 * guidance POST is repeated every refresh_s, and at once when new stats
 * arrive.  GETs carry If-None-Match with the last
 * ETag: 304 keeps the data and renews its age.  An answer whose body is
 * byte-identical to the data held renews its age without an update.
 * Versions (X-P4P-Version, legacy X-P4P-PIDMap): an answer of another
 * interface carrying a version other than the held PID map's fetches the
 * PID map at once, so PIDs in guidance or costs do not outrun the map.
 *
 * Failure: any failure (connection, timeout, HTTP status other than 200 or
 * 304, a body over max_body, a document that does not parse, an <error>
 * document) keeps the last good data and retries after a backoff of
 * 1 s doubling per consecutive failure up to backoff_max_s, each delay
 * multiplied by a random factor in [0.5, 1.5); success resets it.  Data
 * whose last good fetch is older than max_staleness_s is dropped (has_* =
 * 0, on_update called) so the tracker falls back to stock selection.
 *
 * Safety: http and https only, no redirects, no signals, a Bearer token
 * when configured, CURLOPT_TIMEOUT_MS per transfer, bodies refused while
 * receiving once over max_body, documents parsed by the hostile-input XML
 * parser (xml.h). */
#ifndef P4P_PORTAL_CLIENT_H
#define P4P_PORTAL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "proto/msg.h"

#define PORTAL_MAX_SOURCES 64

/* The latest GOOD data of one provider (deep copies; *_at = wall clock of
 * the last fetch that delivered or confirmed it). */
struct portal_data {
  struct p4p_pidmap_msg     pidmap;
  int                       has_pidmap;
  time_t                    pidmap_at;
  struct p4p_costs_msg      costs;
  int                       has_costs;
  time_t                    costs_at;
  struct p4p_guidance_msg   guidance;
  int                       has_guidance;
  time_t                    guidance_at;
  struct p4p_capability_msg capability;
  int                       has_capability;
  time_t                    capability_at;
};

struct portal_status {
  time_t        last_success;    /* 0 = never */
  time_t        last_error_at;   /* 0 = never */
  char          last_error[256]; /* e.g. "pidmap: HTTP 401 (credentials refused)" */
  unsigned long fetches;         /* transfers finished, good or bad */
  unsigned long failures;
  unsigned long not_modified; /* 304 answers among the fetches */
  int           backoff_s;    /* largest current backoff step, 0 = healthy */
  char          version[64];  /* last X-P4P-Version / X-P4P-PIDMap seen */
  /* what p4p_portal_data would return, without copying it (for /stats):
   * *_at = 0 when that data is not held */
  time_t        pidmap_at, costs_at, guidance_at, capability_at;
  size_t        guidance_swarms; /* swarms with a matrix in the guidance */
  size_t        servers;         /* servers in the capability data */
  int           stream_live;     /* ALTO: an update stream feeds the data */
  unsigned long stream_events;   /* ALTO: data events of the current stream */
};

struct portal_client;

/* Validates the sources (name, http(s) URL, interfaces), copies them and
 * starts the thread; every interface is fetched at once.  on_update (may be
 * NULL) is called from that thread, without locks held, whenever some
 * provider's good data changed or expired.  NULL with a reason in err. */
struct portal_client *p4p_portal_start(const struct p4p_provider_config *src, size_t n, void (*on_update)(void *ctx), void *ctx, char *err, size_t errlen);

/* Stops the thread and frees everything; prompt even while transfers hang
 * (they are aborted).  NULL is ignored. */
void p4p_portal_stop(struct portal_client *c);

/* Deep copy of provider i's good data into *out (free with
 * p4p_portal_data_free).  0, or -1 when i is out of range or memory ran out
 * (*out is then zeroed). */
int  p4p_portal_data(struct portal_client *c, size_t i, struct portal_data *out);
void p4p_portal_data_free(struct portal_data *d);

/* Provider i's fetch status.  0, or -1 when i is out of range. */
int p4p_portal_status(struct portal_client *c, size_t i, struct portal_status *out);

/* Copies stats; provider i's guidance rounds POST it from now on (replacing
 * what was posted before) and the next round starts now unless the
 * interface is backing off.  0, or -1 (bad i, no guidance interface,
 * stats not writable as v1, out of memory). */
int p4p_portal_post_stats(struct portal_client *c, size_t i, const struct p4p_stats_msg *stats);

/* The wait before the next attempt after `fails` consecutive failures:
 * min(2^(fails-1), cap_s) seconds times (0.5 + u), u uniform in [0, 1)
 * (the jitter keeps providers and trackers from retrying in lockstep).
 * 0 when fails is 0.  Exposed for the tests. */
int64_t p4p_portal_backoff_delay_ms(unsigned fails, int cap_s, double u);

/* Seconds of a Cache-Control header value's max-age, -1 when it has none
 * (as with no-store or no-cache).  Exposed for the tests. */
long p4p_portal_cache_max_age(const char *value);

#endif
