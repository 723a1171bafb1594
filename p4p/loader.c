/* loader: sources -> snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "guidance.h"
#include "loader.h"
#include "pidmap.h"
#include "state.h"
#include "proto/file.h"
#include "proto/xml.h"

int p4p_loader_read_local(const struct p4p_config *cfg, struct loader_local *out, char *err, size_t errlen) {
  char  *buf;
  size_t len;
  int    rc;

  memset(out, 0, sizeof *out);
  if (!cfg->pidmap_file)
    return 0;
  if (proto_read_file(cfg->pidmap_file, LOADER_MAX_FILE_BYTES, &buf, &len, err, errlen))
    return -1;
  rc = proto_xml_parse_pidmap(buf, len, cfg->pidmap_file, &out->pidmap, err, errlen);
  free(buf);
  if (rc)
    return -1;
  out->has_pidmap = 1;
  if (!cfg->guidance_file)
    return 0;
  if (proto_read_file(cfg->guidance_file, LOADER_MAX_FILE_BYTES, &buf, &len, err, errlen))
    goto fail;
  rc = proto_xml_parse_guidance(buf, len, cfg->guidance_file, &out->guidance, err, errlen);
  free(buf);
  if (rc)
    goto fail;
  out->has_guidance = 1;
  return 0;
fail:
  p4p_loader_local_free(out);
  return -1;
}

void p4p_loader_local_free(struct loader_local *l) {
  if (l->has_pidmap)
    proto_pidmap_msg_free(&l->pidmap);
  if (l->has_guidance)
    proto_guidance_msg_free(&l->guidance);
  memset(l, 0, sizeof *l);
}

static const char *label(const struct loader_source *s) { return *s->ns ? s->ns : "local files"; }

/* One map over every source's PIDs, each source's slots contiguous. */
static struct pidmap *combined_map(const struct loader_source *src, size_t n, char *err, size_t errlen) {
  size_t         total = 0;
  uint16_t       slot  = 0;
  struct pidmap *map;
  char           why[300];

  for (size_t i = 0; i < n; ++i)
    if (src[i].pidmap)
      total += src[i].pidmap->npids;
  if (total > PIDMAP_MAX_PIDS || !(map = p4p_pidmap_new(total))) {
    snprintf(err, errlen, "%zu PIDs in all, at most %d supported", total, PIDMAP_MAX_PIDS);
    return NULL;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!src[i].pidmap)
      continue;
    if (p4p_pidmap_add_msg(map, src[i].pidmap, (uint16_t)(slot + 1), src[i].ns, (uint16_t)i, why, sizeof why)) {
      snprintf(err, errlen, "%s: %s", label(&src[i]), why);
      p4p_pidmap_unref(map);
      return NULL;
    }
    slot = (uint16_t)(slot + src[i].pidmap->npids);
  }
  if (p4p_pidmap_finish(map, err, errlen)) {
    p4p_pidmap_unref(map);
    return NULL;
  }
  return map;
}

static int add_servers(struct p4p_provider_info *p, const struct p4p_capability_msg *cap, const struct pidmap *map, const char *ns) {
  if (!cap || !cap->nservers)
    return 0;
  if (!(p->servers = calloc(cap->nservers, sizeof *p->servers)))
    return -1;
  for (size_t i = 0; i < cap->nservers; ++i) {
    char     name[2 * P4P_NAME_MAX];
    uint16_t slot;
    if (*ns)
      snprintf(name, sizeof name, "%s/%s", ns, cap->servers[i].pid);
    else
      snprintf(name, sizeof name, "%s", cap->servers[i].pid);
    /* A server must sit in one of its provider's PIDs to be offered. */
    if (!(slot = p4p_pidmap_slot_by_name(map, name)) || slot < p->first || slot > p->last)
      continue;
    struct p4p_cap_server *s = &p->servers[p->nservers++];
    memcpy(s->addr, cap->servers[i].addr, 16);
    s->port = cap->servers[i].port;
    s->slot = slot;
  }
  return 0;
}

struct p4p_state *p4p_loader_assemble(const struct p4p_config *cfg, const struct loader_source *src, size_t n, struct pidmap *previous,
                                  char *err, size_t errlen) {
  struct p4p_state *s = calloc(1, sizeof *s);
  char              why[600];
  int               any = 0;

  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->enabled          = cfg->enable;
  s->random_fraction  = cfg->random_fraction;
  s->intra_share      = cfg->intra_share;
  s->capability_peers = cfg->capability_peers;
  for (size_t i = 0; i < n; ++i)
    any |= src[i].pidmap != NULL;
  if (!cfg->enable || !any)
    return s; /* an empty snapshot means stock behaviour */

  if (!(s->map = combined_map(src, n, err, errlen)))
    goto fail;
  if (p4p_pidmap_equal(s->map, previous)) {
    p4p_pidmap_unref(s->map);
    s->map = p4p_pidmap_ref(previous);
  }
  s->map_loaded = time(NULL);
  if (!(s->providers = calloc(n, sizeof *s->providers)) || !(s->guidance = p4p_guidance_new(s->map))) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  s->nproviders = n;
  for (size_t i = 0; i < n; ++i) {
    struct p4p_provider_info *p = &s->providers[i];
    snprintf(p->name, sizeof p->name, "%s", *src[i].ns ? src[i].ns : "local");
    p4p_pidmap_provider_slots(s->map, (uint16_t)i, &p->first, &p->last);
    if (!src[i].pidmap)
      continue;
    if (src[i].guidance && p4p_guidance_add(s->guidance, src[i].guidance, src[i].ns, why, sizeof why)) {
      snprintf(err, errlen, "%s: %s", *src[i].ns ? src[i].ns : cfg->guidance_file, why);
      goto fail;
    }
    if (src[i].costs && !(src[i].guidance && src[i].guidance->has_default) &&
        p4p_guidance_add_costs(s->guidance, src[i].costs, src[i].ns, why, sizeof why)) {
      snprintf(err, errlen, "%s: costs: %s", label(&src[i]), why);
      goto fail;
    }
    if (add_servers(p, src[i].capability, s->map, src[i].ns)) {
      snprintf(err, errlen, "out of memory");
      goto fail;
    }
    if (src[i].guidance)
      s->guidance_loaded = time(NULL);
  }
  p4p_guidance_finish(s->guidance);
  /* Versions shown in /stats: the first source's, which is the local files
   * when there are any. */
  for (size_t i = 0; i < n; ++i) {
    if (src[i].pidmap_version && !s->map_version[0])
      snprintf(s->map_version, sizeof s->map_version, "%s", src[i].pidmap_version);
    if (src[i].guidance_version && !s->guidance_version[0])
      snprintf(s->guidance_version, sizeof s->guidance_version, "%s", src[i].guidance_version);
  }
  return s;
fail:
  p4p_state_free(s);
  return NULL;
}

struct p4p_state *p4p_loader_build(const struct p4p_config *cfg, char *err, size_t errlen) {
  struct loader_local local;
  struct p4p_state   *s;
  if (cfg->enable && p4p_loader_read_local(cfg, &local, err, errlen))
    return NULL;
  if (!cfg->enable)
    memset(&local, 0, sizeof local);
  struct loader_source src = {
      .ns               = "",
      .pidmap           = local.has_pidmap ? &local.pidmap : NULL,
      .guidance         = local.has_guidance ? &local.guidance : NULL,
      .pidmap_version   = local.has_pidmap ? local.pidmap.version : NULL,
      .guidance_version = local.has_guidance ? local.guidance.version : NULL,
  };
  s = p4p_loader_assemble(cfg, &src, 1, NULL, err, errlen);
  p4p_loader_local_free(&local);
  return s;
}
