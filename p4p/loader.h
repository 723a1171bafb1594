/* loader: builds a snapshot from the P4P sources.
 *
 * A source is one provider's latest good data: the local files named in the
 * config (namespace "", PID names used as they are) and each configured
 * portal (namespace = the provider's name, PIDs become "<name>/<pid>").
 * Runs off the announce path (startup, the reload thread).
 *
 * Sources are isolated: one whose data does not resolve (guidance or costs
 * naming a PID its map lacks, a prefix twice, PIDs over the map's limit once
 * the sources before it are counted...) is left out of the snapshot, with
 * the reason in the snapshot's providers[i].refused, and the others' data
 * is used as if it had not been given.  Only a source marked `required`
 * (the local files: the tracker does not start, or a reload does not
 * happen, half-configured) fails the whole assembly, with err saying which
 * file, which line and why. */
#ifndef P4P_LOADER_H
#define P4P_LOADER_H

#include <stddef.h>

#include "proto/msg.h"

struct p4p_config;
struct p4p_state;
struct pidmap;

#define LOADER_MAX_FILE_BYTES (64u << 20)

struct loader_source {
  const char                      *ns;
  const struct p4p_pidmap_msg     *pidmap;     /* NULL: this source maps nobody */
  const struct p4p_guidance_msg   *guidance;   /* NULL: none */
  const struct p4p_costs_msg      *costs;      /* default weights when guidance has none */
  const struct p4p_capability_msg *capability; /* NULL: no provider servers */
  const char                      *pidmap_version;
  const char                      *guidance_version;
  int                              required; /* refused: no snapshot at all */
};

/* The local files' messages; free with p4p_loader_local_free. */
struct loader_local {
  struct p4p_pidmap_msg   pidmap;
  struct p4p_guidance_msg guidance;
  int                     has_pidmap, has_guidance;
};
int  p4p_loader_read_local(const struct p4p_config *cfg, struct loader_local *out, char *err, size_t errlen);
void p4p_loader_local_free(struct loader_local *l);

/* The snapshot for these sources: providers[i] is src[i] (with its
 * refusal, if any); no source with data that resolves gives an empty
 * snapshot (map NULL), which means stock behaviour.  When the sources give a
 * map equal to `previous` (the current snapshot's, may be NULL), the
 * snapshot shares it.  NULL (err set) when a required source is refused or
 * memory ran out. */
struct p4p_state *p4p_loader_assemble(const struct p4p_config *cfg, const struct loader_source *src, size_t n, struct pidmap *previous, char *err,
                                      size_t errlen);

/* Reads the local files and assembles them alone (no portals). */
struct p4p_state *p4p_loader_build(const struct p4p_config *cfg, char *err, size_t errlen);

#endif
