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

#define DEFAULT_RANDOM_FRACTION  0.2
#define DEFAULT_INTRA_SHARE      0.9
#define DEFAULT_CAPABILITY_PEERS 2

static struct p4p_config g_config = {
    .random_fraction  = DEFAULT_RANDOM_FRACTION,
    .intra_share      = DEFAULT_INTRA_SHARE,
    .capability_peers = DEFAULT_CAPABILITY_PEERS,
    .report_interval  = 60,
};

const struct p4p_config *p4p_config_get(void) { return &g_config; }

void p4p_config_reset(void) {
  free(g_config.pidmap_file);
  free(g_config.guidance_file);
  memset(&g_config, 0, sizeof g_config);
  g_config.random_fraction  = DEFAULT_RANDOM_FRACTION;
  g_config.intra_share      = DEFAULT_INTRA_SHARE;
  g_config.capability_peers = DEFAULT_CAPABILITY_PEERS;
  g_config.report_interval  = 60;
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

static int parse_fraction(const char *v, double *out) {
  char *end;
  errno    = 0;
  double f = strtod(v, &end);
  if (errno || *end || !isfinite(f) || f < 0 || f > 1)
    return -1;
  *out = f;
  return 0;
}

static int parse_count(const char *v, unsigned long max, unsigned long *out) {
  char *end;
  if (!isdigit((unsigned char)*v))
    return -1;
  errno           = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (errno || *end || n > max)
    return -1;
  *out = n;
  return 0;
}

static struct p4p_provider_config *provider_named(const char *name, size_t len) {
  for (size_t i = 0; i < g_config.nproviders; ++i)
    if (strlen(g_config.providers[i].name) == len && !strncmp(g_config.providers[i].name, name, len))
      return &g_config.providers[i];
  return NULL;
}

/* p4p.provider NAME URL [legacy|alto] */
static int provider_line(const char *v, const char *file, int lineno, char *err, size_t errlen) {
  char name[64], url[600], flavour[16] = "";
  int  fields = sscanf(v, "%63s %599s %15s", name, url, flavour);
  if (fields < 2) {
    snprintf(err, errlen, "%s:%d: p4p.provider takes NAME URL [legacy|alto]", file, lineno);
    return -1;
  }
  if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(name) || strlen(name) >= 48) {
    snprintf(err, errlen, "%s:%d: provider name '%s': use letters, digits, '-' and '_' (at most 47)", file, lineno, name);
    return -1;
  }
  if (provider_named(name, strlen(name))) {
    snprintf(err, errlen, "%s:%d: provider '%s' is configured twice", file, lineno, name);
    return -1;
  }
  if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
    snprintf(err, errlen, "%s:%d: provider URL '%s' must start with http:// or https://", file, lineno, url);
    return -1;
  }
  if (strlen(url) >= 512) {
    snprintf(err, errlen, "%s:%d: provider URL is too long", file, lineno);
    return -1;
  }
  if (fields == 3 && strcmp(flavour, "legacy") && strcmp(flavour, "alto")) {
    snprintf(err, errlen, "%s:%d: unknown provider protocol '%s' (only 'legacy' or 'alto' may follow the URL)", file, lineno, flavour);
    return -1;
  }
  if (g_config.nproviders == CONFIG_MAX_PROVIDERS) {
    snprintf(err, errlen, "%s:%d: at most %d providers", file, lineno, CONFIG_MAX_PROVIDERS);
    return -1;
  }
  struct p4p_provider_config *p = &g_config.providers[g_config.nproviders++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  snprintf(p->url, sizeof p->url, "%s", url);
  p->legacy          = fields == 3 && !strcmp(flavour, "legacy");
  p->alto            = fields == 3 && !strcmp(flavour, "alto");
  p->interfaces      = p->legacy ? P4P_IF_INFO | P4P_IF_POLICY
                       : p->alto ? P4P_IF_INFO | P4P_IF_POLICY | P4P_IF_GUIDANCE
                                 : P4P_IF_INFO | P4P_IF_POLICY | P4P_IF_GUIDANCE | P4P_IF_CAPABILITY;
  p->refresh_s       = 300;
  p->max_staleness_s = 7200;
  p->timeout_ms      = 5000;
  p->max_body        = 16u << 20;
  p->report_swarms   = 100;
  return 0;
}

/* p4p.provider.NAME.KEY value */
static int provider_option(const char *key, const char *v, const char *file, int lineno, char *err, size_t errlen) {
  const char                 *name = key + strlen("p4p.provider.");
  const char                 *dot  = strrchr(name, '.');
  struct p4p_provider_config *p    = dot ? provider_named(name, (size_t)(dot - name)) : NULL;
  unsigned long               n;
  if (!p) {
    snprintf(err, errlen, "%s:%d: %s: no provider of that name above (declare it with p4p.provider NAME URL first)", file, lineno, key);
    return -1;
  }
  const char *opt = dot + 1;
  if (!strcmp(opt, "token")) {
    if (strlen(v) >= sizeof p->token || strpbrk(v, " \t\r\n")) {
      snprintf(err, errlen, "%s:%d: %s: a token is one word of at most %zu characters", file, lineno, key, sizeof p->token - 1);
      return -1;
    }
    snprintf(p->token, sizeof p->token, "%s", v);
  } else if (!strcmp(opt, "interfaces")) {
    if (proto_parse_interfaces(v, &p->interfaces)) {
      snprintf(err, errlen, "%s:%d: %s takes a list of pidmap (or info), costs (or policy), guidance, capability", file, lineno, key);
      return -1;
    }
  } else if (!strcmp(opt, "refresh") || !strcmp(opt, "max_staleness") || !strcmp(opt, "timeout_ms") || !strcmp(opt, "backoff_max")) {
    if (parse_count(v, 86400 * 30, &n) || n == 0) {
      snprintf(err, errlen, "%s:%d: %s takes a positive whole number", file, lineno, key);
      return -1;
    }
    int *field = !strcmp(opt, "refresh")         ? &p->refresh_s
                 : !strcmp(opt, "max_staleness") ? &p->max_staleness_s
                 : !strcmp(opt, "timeout_ms")    ? &p->timeout_ms
                                                 : &p->backoff_max_s;
    *field = (int)n;
  } else if (!strcmp(opt, "ca_file")) {
    char *path = absolute_path(v, file);
    if (!path || strlen(path) >= sizeof p->ca_file) {
      free(path);
      snprintf(err, errlen, "%s:%d: %s: path too long", file, lineno, key);
      return -1;
    }
    snprintf(p->ca_file, sizeof p->ca_file, "%s", path);
    free(path);
  } else if (!strcmp(opt, "max_body")) {
    if (parse_count(v, 1ul << 30, &n) || n < 1024) {
      snprintf(err, errlen, "%s:%d: %s takes a byte count from 1024 to 2^30", file, lineno, key);
      return -1;
    }
    p->max_body = n;
  } else if (!strcmp(opt, "report_swarms")) {
    if (parse_count(v, 100000, &n)) {
      snprintf(err, errlen, "%s:%d: %s takes a whole number up to 100000", file, lineno, key);
      return -1;
    }
    p->report_swarms = (unsigned)n;
  } else {
    snprintf(err, errlen, "%s:%d: unknown provider option %s (known: token, interfaces, refresh, max_staleness, timeout_ms, max_body, report_swarms, backoff_max, ca_file)", file,
             lineno, key);
    return -1;
  }
  return 0;
}

int p4p_config_set(const char *line, const char *file, int lineno, char *err, size_t errlen) {
  char        key[128];
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
  } else if (!strcmp(key, "p4p.random_fraction") || !strcmp(key, "p4p.intra_provider_share")) {
    if (parse_fraction(v, !strcmp(key, "p4p.random_fraction") ? &g_config.random_fraction : &g_config.intra_share)) {
      snprintf(err, errlen, "%s:%d: %s takes a number from 0 to 1, not '%s'", file, lineno, key, v);
      return -1;
    }
  } else if (!strcmp(key, "p4p.capability_peers")) {
    unsigned long n;
    if (parse_count(v, 50, &n)) {
      snprintf(err, errlen, "%s:%d: p4p.capability_peers takes a whole number from 0 to 50, not '%s'", file, lineno, v);
      return -1;
    }
    g_config.capability_peers = (unsigned)n;
  } else if (!strcmp(key, "p4p.report_interval")) {
    unsigned long n;
    if (parse_count(v, 86400, &n) || n == 0) {
      snprintf(err, errlen, "%s:%d: p4p.report_interval takes seconds from 1 to 86400, not '%s'", file, lineno, v);
      return -1;
    }
    g_config.report_interval = (unsigned)n;
  } else if (!strcmp(key, "p4p.provider")) {
    return provider_line(v, file, lineno, err, errlen);
  } else if (!strncmp(key, "p4p.provider.", 13)) {
    return provider_option(key, v, file, lineno, err, errlen);
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
    if (!is_map)
      snprintf(g_config.guidance_where, sizeof g_config.guidance_where, "%s:%d", file, lineno);
  } else {
    snprintf(err, errlen,
             "%s:%d: unknown key %s (known: p4p.enable, p4p.random_fraction, p4p.intra_provider_share, p4p.capability_peers, p4p.report_interval, "
             "p4p.pidmap, p4p.guidance, p4p.provider, p4p.provider.NAME.*)",
             file, lineno, key);
    return -1;
  }
  return 0;
}

int p4p_config_check(char *err, size_t errlen) {
  if (g_config.enable && !g_config.pidmap_file && !g_config.nproviders) {
    snprintf(err, errlen, "p4p.enable is yes but neither p4p.pidmap nor a p4p.provider is given");
    return -1;
  }
  if (g_config.guidance_file && !g_config.pidmap_file) {
    snprintf(err, errlen, "%s: p4p.guidance needs a p4p.pidmap", g_config.guidance_where);
    return -1;
  }
  return 0;
}
