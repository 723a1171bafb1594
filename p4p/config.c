/* config: p4p.* keys. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define DEFAULT_RANDOM_FRACTION 0.2

static struct p4p_config g_config = {.random_fraction = DEFAULT_RANDOM_FRACTION};

const struct p4p_config *config_get(void) { return &g_config; }

void config_reset(void) {
  free(g_config.pidmap_file);
  free(g_config.guidance_file);
  memset(&g_config, 0, sizeof g_config);
  g_config.random_fraction = DEFAULT_RANDOM_FRACTION;
}

static int parse_bool(const char *v, int *out) {
  static const char *yes[] = {"yes", "on", "true", "1"}, *no[] = {"no", "off", "false", "0"};
  for (size_t i = 0; i < 4; ++i) {
    if (!strcasecmp(v, yes[i]))
      return *out = 1, 0;
    if (!strcasecmp(v, no[i]))
      return *out = 0, 0;
  }
  return -1;
}

/* Relative paths are taken from the directory of the config file, which is
 * what an operator editing that file expects. */
static char *absolute_path(const char *value, const char *config_file) {
  char joined[PATH_MAX];
  if (value[0] == '/')
    snprintf(joined, sizeof joined, "%s", value);
  else {
    const char *slash = strrchr(config_file, '/');
    char        dir[PATH_MAX];
    if (slash)
      snprintf(dir, sizeof dir, "%.*s", (int)(slash - config_file), config_file);
    else
      snprintf(dir, sizeof dir, ".");
    if (snprintf(joined, sizeof joined, "%s/%s", dir, value) >= (int)sizeof joined)
      return NULL;
  }
  char *resolved = realpath(joined, NULL);
  return resolved ? resolved : strdup(joined);
}

int config_set(const char *line, const char *file, int lineno, char *err, size_t errlen) {
  char        key[64];
  const char *p = line;
  size_t      klen = 0;

  while (*p && !isspace((unsigned char)*p) && klen + 1 < sizeof key)
    key[klen++] = *p++;
  key[klen] = 0;
  while (isspace((unsigned char)*p))
    ++p;
  const char *value = p;
  size_t      vlen  = strlen(value);
  while (vlen && isspace((unsigned char)value[vlen - 1]))
    --vlen;
  char v[4096];
  if (vlen >= sizeof v) {
    snprintf(err, errlen, "%s:%d: value of %s is too long", file, lineno, key);
    return -1;
  }
  memcpy(v, value, vlen);
  v[vlen] = 0;
  if (!vlen) {
    snprintf(err, errlen, "%s:%d: %s needs a value", file, lineno, key);
    return -1;
  }

  if (!strcmp(key, "p4p.enable")) {
    if (parse_bool(v, &g_config.enable)) {
      snprintf(err, errlen, "%s:%d: p4p.enable takes yes or no, not '%s'", file, lineno, v);
      return -1;
    }
  } else if (!strcmp(key, "p4p.random_fraction")) {
    char  *end;
    double f;
    errno = 0;
    f     = strtod(v, &end);
    if (errno || *end || !isfinite(f) || f < 0 || f > 1) {
      snprintf(err, errlen, "%s:%d: p4p.random_fraction takes a number from 0 to 1, not '%s'", file, lineno, v);
      return -1;
    }
    g_config.random_fraction = f;
  } else if (!strcmp(key, "p4p.pidmap") || !strcmp(key, "p4p.guidance")) {
    int    is_map = !strcmp(key, "p4p.pidmap");
    char **slot   = is_map ? &g_config.pidmap_file : &g_config.guidance_file;
    char  *path   = absolute_path(v, file);
    if (!path) {
      snprintf(err, errlen, "%s:%d: path too long", file, lineno);
      return -1;
    }
    free(*slot);
    *slot = path;
    snprintf(is_map ? g_config.pidmap_where : g_config.guidance_where, sizeof g_config.pidmap_where, "%s:%d", file, lineno);
  } else {
    snprintf(err, errlen, "%s:%d: unknown key %s (known: p4p.enable, p4p.random_fraction, p4p.pidmap, p4p.guidance)", file, lineno, key);
    return -1;
  }
  return 0;
}

int config_check(char *err, size_t errlen) {
  if (g_config.enable && !g_config.pidmap_file) {
    snprintf(err, errlen, "p4p.enable is yes but no p4p.pidmap is given");
    return -1;
  }
  if (g_config.guidance_file && !g_config.pidmap_file) {
    snprintf(err, errlen, "%s: p4p.guidance needs a p4p.pidmap", g_config.guidance_where);
    return -1;
  }
  return 0;
}
