/* loader: files -> snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "guidance.h"
#include "loader.h"
#include "pidmap.h"
#include "state.h"
#include "xml.h"

static struct pidmap *load_pidmap(const char *path, char *version, char *err, size_t errlen) {
  struct p4p_pidmap_msg msg = {0};
  struct pidmap        *map = NULL;
  char                 *buf;
  size_t                len;
  char                  why[512];

  if (p4p_xml_read_file(path, LOADER_MAX_FILE_BYTES, &buf, &len, err, errlen))
    return NULL;
  if (p4p_xml_parse_pidmap(buf, len, path, &msg, err, errlen) == 0) {
    if (!(map = pidmap_from_msg(&msg, why, sizeof why)))
      snprintf(err, errlen, "%s: %s", path, why);
    else
      snprintf(version, P4P_NAME_MAX, "%s", msg.version);
    p4p_pidmap_msg_free(&msg);
  }
  free(buf);
  return map;
}

static struct guidance *load_guidance(const char *path, const struct pidmap *map, char *version, char *err, size_t errlen) {
  struct p4p_guidance_msg msg = {0};
  struct guidance        *g   = NULL;
  char                   *buf;
  size_t                  len;
  char                    why[512];

  if (p4p_xml_read_file(path, LOADER_MAX_FILE_BYTES, &buf, &len, err, errlen))
    return NULL;
  if (p4p_xml_parse_guidance(buf, len, path, &msg, err, errlen) == 0) {
    if (!(g = guidance_from_msg(&msg, map, why, sizeof why)))
      snprintf(err, errlen, "%s: %s", path, why);
    else
      snprintf(version, P4P_NAME_MAX, "%s", msg.version);
    p4p_guidance_msg_free(&msg);
  }
  free(buf);
  return g;
}

struct p4p_state *loader_build(const struct p4p_config *cfg, char *err, size_t errlen) {
  struct p4p_state *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->random_fraction = cfg->random_fraction;
  if (!cfg->enable)
    return s; /* P4P off: an empty snapshot means stock behaviour */
  if (!(s->map = load_pidmap(cfg->pidmap_file, s->map_version, err, errlen)))
    goto fail;
  s->map_loaded = time(NULL);
  if (cfg->guidance_file) {
    if (!(s->guidance = load_guidance(cfg->guidance_file, s->map, s->guidance_version, err, errlen)))
      goto fail;
    s->guidance_loaded = time(NULL);
  }
  return s;
fail:
  state_free(s);
  return NULL;
}
