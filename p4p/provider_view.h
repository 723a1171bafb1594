/* provider_view: one provider as the stats, metrics and dump renderers
 * show it: its configuration, its fetch status, and whether the current
 * snapshot uses its data.  Gathered by hooks.c (which owns the portal
 * client) so that the renderers need no access to it. */
#ifndef P4P_PROVIDER_VIEW_H
#define P4P_PROVIDER_VIEW_H

#include <stddef.h>

#include "config.h"
#include "portal_client.h"

struct p4p_provider_view {
  const struct p4p_provider_config *cfg;
  struct portal_status              st;       /* last_error already cleaned */
  char                              url[512]; /* without userinfo */
  int                               in_use;   /* its PIDs are in the current snapshot */
  size_t                            servers;  /* its servers in the current snapshot */
  const char                       *refused;  /* why the snapshot left its data out, or NULL
                                               * (points into the snapshot the caller holds) */
};

enum p4p_provider_state { P4P_PROVIDER_IN_USE, P4P_PROVIDER_WAITING, P4P_PROVIDER_NO_DATA, P4P_PROVIDER_REFUSED };

static inline enum p4p_provider_state p4p_provider_state_of(const struct p4p_provider_view *v) {
  return v->refused ? P4P_PROVIDER_REFUSED : v->in_use ? P4P_PROVIDER_IN_USE : v->st.pidmap_at ? P4P_PROVIDER_WAITING : P4P_PROVIDER_NO_DATA;
}

#endif
