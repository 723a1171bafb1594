/* embed: the module driven by a program instead of a config file and
 * portals (the simulator, benchmarks).  The data takes the loader's path,
 * so an embedder's snapshots are built and checked as the tracker's are. */
#include <string.h>
#include <time.h>

#include "config.h"
#include "loader.h"
#include "p4p.h"
#include "state.h"

int p4p_embed_publish(const struct p4p_pidmap_msg *pidmap, const struct p4p_guidance_msg *guidance, double random_fraction, char *err, size_t errlen) {
  struct p4p_config       cfg = *p4p_config_get();
  const struct p4p_state *cur = p4p_state_current();
  struct loader_source    src = {
         .ns               = "",
         .pidmap           = pidmap,
         .guidance         = guidance,
         .pidmap_version   = pidmap ? pidmap->version : NULL,
         .guidance_version = guidance ? guidance->version : NULL,
  };
  struct p4p_state *s;

  cfg.enable          = 1;
  cfg.random_fraction = random_fraction;
  if (!(s = p4p_loader_assemble(&cfg, &src, 1, cur ? cur->map : NULL, err, errlen)))
    return -1;
  s->local_sources = 1;
  p4p_state_publish(s);
  p4p_state_collect(time(NULL), -1); /* no reader can hold the old one */
  return 0;
}

void p4p_embed_reset(void) { p4p_state_shutdown(); }
