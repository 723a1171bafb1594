/* check: opentracker-p4p --check -f conf.
 *
 * Upstream's main parses the config as usual (nothing binds: ot_try_bind
 * asks p4p_check_only()), drops privileges as it would, then calls
 * p4p_check_finish(), which validates what p4p_init() would load, as the
 * user that would load it, and exits.  Portals are not contacted: their
 * answers are checked when they arrive, on every fetch. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "guidance.h"
#include "loader.h"
#include "p4p.h"
#include "pidmap.h"
#include "state.h"

static int g_check, g_problems;

void p4p_check_begin(void) { g_check = 1; }
int  p4p_check_only(void) { return g_check; }

void p4p_check_problem(const char *file, int lineno, const char *what) {
  if (!g_check)
    return;
  if (lineno)
    fprintf(stderr, "%s:%d: %s\n", file, lineno, what);
  else
    fprintf(stderr, "%s: %s\n", file, what);
  ++g_problems;
}

int p4p_check_finish(void) {
  const struct p4p_config *cfg = p4p_config_get();
  char                     err[1024];
  struct p4p_state        *s = NULL;

  if (p4p_config_check(err, sizeof err) || p4p_config_check_files(err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    ++g_problems;
  } else if (!(s = p4p_loader_build(cfg, err, sizeof err))) {
    fprintf(stderr, "%s\n", err); /* the data file's own file:line */
    ++g_problems;
  }
  if (g_problems) {
    printf("configuration refused: %d problem%s\n", g_problems, g_problems == 1 ? "" : "s");
    p4p_state_free(s);
    return 1;
  }
  printf("configuration OK: p4p %s", cfg->enable ? "enabled" : "disabled (stock behaviour)");
  if (s->map)
    printf("; PID map %s: %zu PIDs, %zu ranges", cfg->pidmap_file, p4p_pidmap_npids(s->map), p4p_pidmap_nranges(s->map));
  if (cfg->guidance_file && s->guidance)
    printf("; guidance %s: %s default matrix, %zu swarm matrices", cfg->guidance_file, p4p_guidance_has_default(s->guidance) ? "a" : "no",
           p4p_guidance_nswarms(s->guidance));
  if (cfg->enable)
    for (size_t i = 0; i < cfg->nproviders; ++i) {
      char url[512];
      p4p_config_url_redacted(cfg->providers[i].url, url, sizeof url);
      printf("; provider %s at %s%s (not contacted)", cfg->providers[i].name, url, cfg->providers[i].legacy ? " legacy" : "");
    }
  printf("\n");
  p4p_state_free(s);
  return 0;
}
