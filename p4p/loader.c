/* loader: sources -> snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "guidance.h"
#include "loader.h"
#include "pidmap.h"
#include "proto/file.h"
#include "proto/xml.h"
#include "state.h"

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

/* How one attempt at a snapshot ended: built, or a source (culprit) whose
 * data does not resolve, or something no source is to blame for (memory). */
enum attempt { ATTEMPT_OK, ATTEMPT_SOURCE, ATTEMPT_FATAL };

/* The source whose map alone does not finish (a prefix twice in one
 * provider), found by building each used map by itself: only after the
 * combined map failed, so the common path builds each map once. */
static enum attempt finish_culprit(const struct loader_source *src, size_t n, const unsigned char *use, size_t *culprit, char *why, size_t whylen) {
  for (size_t i = 0; i < n; ++i) {
    if (!use[i])
      continue;
    struct pidmap *alone = p4p_pidmap_from_msg(src[i].pidmap, why, whylen);
    if (!alone) {
      *culprit = i;
      return ATTEMPT_SOURCE;
    }
    p4p_pidmap_unref(alone);
  }
  return ATTEMPT_FATAL; /* why: the combined map's own reason */
}

/* One map over the used sources' PIDs, each source's slots contiguous.
 * Provider ids stay the sources' indexes, used or not. */
static enum attempt combined_map(const struct loader_source *src, size_t n, const unsigned char *use, struct pidmap **out, size_t *culprit, char *why,
                                 size_t whylen) {
  size_t         total = 0;
  uint16_t       slot  = 0;
  struct pidmap *map;

  for (size_t i = 0; i < n; ++i)
    if (use[i])
      total += src[i].pidmap->npids;
  if (!(map = p4p_pidmap_new(total))) {
    snprintf(why, whylen, "out of memory building the PID map");
    return ATTEMPT_FATAL;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!use[i])
      continue;
    if (p4p_pidmap_add_msg(map, src[i].pidmap, (uint16_t)(slot + 1), src[i].ns, (uint16_t)i, why, whylen)) {
      p4p_pidmap_unref(map);
      *culprit = i;
      return ATTEMPT_SOURCE;
    }
    slot = (uint16_t)(slot + src[i].pidmap->npids);
  }
  if (p4p_pidmap_finish(map, why, whylen)) {
    p4p_pidmap_unref(map);
    return finish_culprit(src, n, use, culprit, why, whylen);
  }
  *out = map;
  return ATTEMPT_OK;
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

/* Map, guidance and servers of the used sources into s (which holds the
 * providers array already); on ATTEMPT_SOURCE *culprit names the source
 * that does not resolve and why says why.  s is left for the caller to
 * clear. */
static enum attempt attempt(const struct p4p_config *cfg, const struct loader_source *src, size_t n, const unsigned char *use, struct p4p_state *s,
                            size_t *culprit, char *why, size_t whylen) {
  char         reason[400];
  enum attempt r = combined_map(src, n, use, &s->map, culprit, why, whylen);
  if (r != ATTEMPT_OK)
    return r;
  if (!(s->guidance = p4p_guidance_new(s->map))) {
    snprintf(why, whylen, "out of memory");
    return ATTEMPT_FATAL;
  }
  for (size_t i = 0; i < n; ++i) {
    struct p4p_provider_info *p = &s->providers[i];
    p4p_pidmap_provider_slots(s->map, (uint16_t)i, &p->first, &p->last);
    if (!use[i])
      continue;
    *culprit = i;
    if (src[i].guidance && p4p_guidance_add(s->guidance, src[i].guidance, src[i].ns, reason, sizeof reason)) {
      snprintf(why, whylen, "%.150s: %.400s", *src[i].ns ? "guidance" : cfg->guidance_file ? cfg->guidance_file : "guidance", reason);
      return ATTEMPT_SOURCE;
    }
    if (src[i].costs && !(src[i].guidance && src[i].guidance->has_default) &&
        p4p_guidance_add_costs(s->guidance, src[i].costs, src[i].ns, reason, sizeof reason)) {
      snprintf(why, whylen, "costs: %.400s", reason);
      return ATTEMPT_SOURCE;
    }
    if (add_servers(p, src[i].capability, s->map, src[i].ns)) {
      snprintf(why, whylen, "out of memory");
      return ATTEMPT_FATAL;
    }
  }
  p4p_guidance_finish(s->guidance);
  return ATTEMPT_OK;
}

/* What an attempt left in s, so that the next starts from the providers'
 * names alone. */
static void clear_attempt(struct p4p_state *s) {
  p4p_guidance_free(s->guidance);
  p4p_pidmap_unref(s->map);
  s->guidance = NULL;
  s->map      = NULL;
  for (size_t i = 0; i < s->nproviders; ++i) {
    free(s->providers[i].servers);
    s->providers[i].servers  = NULL;
    s->providers[i].nservers = 0;
    s->providers[i].first = s->providers[i].last = 0;
  }
}

/* A reason fit for one /stats line. */
static void set_refused(struct p4p_provider_info *p, const char *why) {
  size_t l = strnlen(why, sizeof p->refused - 1); /* cut: it is one line of /stats */
  memcpy(p->refused, why, l);
  p->refused[l] = '\0';
  for (char *c = p->refused; *c; ++c)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
}

struct p4p_state *p4p_loader_assemble(const struct p4p_config *cfg, const struct loader_source *src, size_t n, struct pidmap *previous, char *err,
                                      size_t errlen) {
  struct p4p_state *s   = calloc(1, sizeof *s);
  unsigned char    *use = calloc(n ? n : 1, 1);
  char              why[600];
  size_t            total = 0, used = 0;

  if (!s || !use || (n && !(s->providers = calloc(n, sizeof *s->providers)))) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  s->enabled          = cfg->enable;
  s->random_fraction  = cfg->random_fraction;
  s->intra_share      = cfg->intra_share;
  s->capability_peers = cfg->capability_peers;
  s->nproviders       = n;
  for (size_t i = 0; i < n; ++i)
    snprintf(s->providers[i].name, sizeof s->providers[i].name, "%s", *src[i].ns ? src[i].ns : "local");
  if (!cfg->enable) {
    s->nproviders = 0; /* P4P off: stock, and nothing to report */
    free(use);
    return s;
  }

  /* The map's PID limit holds for all sources together: in order (the
   * local files first), a source that would overflow it is left out and
   * the later ones still get their chance. */
  for (size_t i = 0; i < n; ++i) {
    if (!src[i].pidmap)
      continue;
    if (src[i].pidmap->npids > PIDMAP_MAX_PIDS - total) {
      snprintf(why, sizeof why, "its %zu PIDs and the %zu of the sources before it are over the limit of %d PIDs in all", src[i].pidmap->npids, total,
               PIDMAP_MAX_PIDS);
      goto refuse_i;
    }
    total += src[i].pidmap->npids;
    use[i] = 1;
    used++;
    continue;
  refuse_i:
    if (src[i].required) {
      snprintf(err, errlen, "%s: %s", label(&src[i]), why);
      goto fail;
    }
    set_refused(&s->providers[i], why);
  }

  /* Build with every source that is left; a source whose data does not
   * resolve (guidance naming an unknown PID, a prefix twice...) is dropped
   * and the snapshot built again without it, so one provider's bad data
   * never holds back the others' (at most one attempt per source). */
  while (used) {
    size_t       culprit = 0;
    enum attempt r       = attempt(cfg, src, n, use, s, &culprit, why, sizeof why);
    if (r == ATTEMPT_OK)
      break;
    clear_attempt(s);
    if (r == ATTEMPT_FATAL || src[culprit].required) {
      snprintf(err, errlen, "%s: %s", r == ATTEMPT_FATAL ? "snapshot" : label(&src[culprit]), why);
      goto fail;
    }
    set_refused(&s->providers[culprit], why);
    use[culprit] = 0;
    used--;
  }
  free(use);
  use = NULL;
  if (!s->map)
    return s; /* no source has data that resolves: stock behaviour */

  if (p4p_pidmap_equal(s->map, previous)) {
    p4p_pidmap_unref(s->map);
    s->map = p4p_pidmap_ref(previous);
  }
  s->map_loaded = time(NULL);
  /* Versions shown in /stats: the first source's in use, which is the
   * local files when there are any. */
  for (size_t i = 0; i < n; ++i) {
    if (s->providers[i].refused[0] || !src[i].pidmap)
      continue;
    if (src[i].guidance)
      s->guidance_loaded = time(NULL);
    if (src[i].pidmap_version && !s->map_version[0])
      snprintf(s->map_version, sizeof s->map_version, "%s", src[i].pidmap_version);
    if (src[i].guidance_version && !s->guidance_version[0])
      snprintf(s->guidance_version, sizeof s->guidance_version, "%s", src[i].guidance_version);
  }
  return s;
fail:
  free(use);
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
      .required         = 1,
      .pidmap           = local.has_pidmap ? &local.pidmap : NULL,
      .guidance         = local.has_guidance ? &local.guidance : NULL,
      .pidmap_version   = local.has_pidmap ? local.pidmap.version : NULL,
      .guidance_version = local.has_guidance ? local.guidance.version : NULL,
  };
  s = p4p_loader_assemble(cfg, &src, 1, NULL, err, errlen);
  p4p_loader_local_free(&local);
  return s;
}
