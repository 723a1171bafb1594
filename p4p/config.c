/* config: p4p.* keys. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "curl_lazy.h"
#include "proto/file.h"

/* a CA file bigger than this is not a CA file */
#define CA_FILE_MAX_BYTES        (4u << 20)

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

/* Plain decimal only ("0.2", "1", ".5", "2e-1"): strtod alone would also
 * take hex floats ("0x1p-1"), "inf" and "nan", which no operator means. */
static int is_decimal(const char *v) {
  const char *p      = v;
  int         digits = 0;
  while (isdigit((unsigned char)*p))
    ++p, ++digits;
  if (*p == '.')
    for (++p; isdigit((unsigned char)*p); ++p)
      ++digits;
  if (!digits)
    return 0;
  if (*p == 'e' || *p == 'E') {
    ++p;
    if (*p == '+' || *p == '-')
      ++p;
    if (!isdigit((unsigned char)*p))
      return 0;
    while (isdigit((unsigned char)*p))
      ++p;
  }
  return *p == 0;
}

static int parse_fraction(const char *v, double *out) {
  char *end;
  if (!is_decimal(v))
    return -1;
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

/* Splits v into at most max blank-separated words (in place); returns the
 * count, max + 1 when there are more. */
static size_t split_words(char *v, char **word, size_t max) {
  size_t n = 0;
  for (char *p = v; *p;) {
    while (*p == ' ' || *p == '\t')
      *p++ = 0;
    if (!*p)
      break;
    if (n == max)
      return max + 1;
    word[n++] = p;
    while (*p && *p != ' ' && *p != '\t')
      ++p;
  }
  return n;
}

/* http(s)://[userinfo@]host[:port][/path]: a host is required, a port is
 * 1..65535, and there is no query, fragment, blank or control character
 * (paths are appended to it).  0, or -1 with why. */
static int check_url(const char *url, char *why, size_t whylen) {
  const char *p = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "https://", 8) ? url + 8 : NULL;
  if (!p)
    return snprintf(why, whylen, "must start with http:// or https://"), -1;
  for (const char *c = url; *c; ++c)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
      return snprintf(why, whylen, "has a %s; give the portal's base URL only",
                      *c == '?'   ? "query"
                      : *c == '#' ? "fragment"
                                  : "blank or control character"),
             -1;
  size_t      alen = strcspn(p, "/");
  const char *at   = memrchr(p, '@', alen);
  const char *host = at ? at + 1 : p, *end = p + alen;
  const char *port = NULL;
  if (host < end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (!close || close == host + 1)
      return snprintf(why, whylen, "has a bad [IPv6] host"), -1;
    if (close + 1 < end) {
      if (close[1] != ':')
        return snprintf(why, whylen, "has junk after the [IPv6] host"), -1;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(host, ':', (size_t)(end - host));
    if ((colon ? colon : end) == host)
      return snprintf(why, whylen, "has no host"), -1;
    for (const char *c = host; c < (colon ? colon : end); ++c)
      if (!isalnum((unsigned char)*c) && !strchr(".-_~%", *c))
        return snprintf(why, whylen, "has a bad character '%c' in its host", *c), -1;
    if (colon)
      port = colon + 1;
  }
  if (port) {
    unsigned long n = 0;
    if (port == end)
      return snprintf(why, whylen, "has an empty port"), -1;
    for (const char *c = port; c < end; ++c) {
      if (!isdigit((unsigned char)*c) || (n = n * 10 + (unsigned long)(*c - '0')) > 65535)
        return snprintf(why, whylen, "has a bad port (1 to 65535)"), -1;
    }
    if (n == 0)
      return snprintf(why, whylen, "has a bad port (1 to 65535)"), -1;
  }
  return 0;
}

void p4p_config_url_redacted(const char *url, char *out, size_t outlen) {
  const char *p    = strstr(url, "://");
  p                = p ? p + 3 : url;
  size_t      alen = strcspn(p, "/");
  const char *at   = memrchr(p, '@', alen);
  if (at)
    snprintf(out, outlen, "%.*s***%s", (int)(p - url), url, at);
  else
    snprintf(out, outlen, "%s", url);
}

/* p4p.provider NAME URL [legacy|alto] */
static int provider_line(char *v, const char *file, int lineno, char *err, size_t errlen) {
  char  *word[3];
  size_t n = split_words(v, word, 3);
  char   why[128];
  if (n < 2 || n > 3) {
    snprintf(err, errlen, "%s:%d: p4p.provider takes NAME URL [legacy|alto]%s", file, lineno, n > 3 ? ", and nothing after" : "");
    return -1;
  }
  const char *name = word[0], *url = word[1];
  if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(name) || strlen(name) >= 48) {
    snprintf(err, errlen, "%s:%d: provider name '%.60s': use letters, digits, '-' and '_' (at most 47)", file, lineno, name);
    return -1;
  }
  if (provider_named(name, strlen(name))) {
    snprintf(err, errlen, "%s:%d: provider '%s' is configured twice", file, lineno, name);
    return -1;
  }
  if (strlen(url) >= 512) {
    snprintf(err, errlen, "%s:%d: provider URL is too long (at most 511 bytes)", file, lineno);
    return -1;
  }
  if (check_url(url, why, sizeof why)) {
    char shown[512];
    p4p_config_url_redacted(url, shown, sizeof shown);
    snprintf(err, errlen, "%s:%d: provider URL '%s' %s", file, lineno, shown, why);
    return -1;
  }
  if (n == 3 && strcmp(word[2], "legacy") && strcmp(word[2], "alto")) {
    snprintf(err, errlen, "%s:%d: unknown provider protocol '%.60s' (only 'legacy' or 'alto' may follow the URL)", file, lineno, word[2]);
    return -1;
  }
  if (g_config.nproviders == CONFIG_MAX_PROVIDERS) {
    snprintf(err, errlen, "%s:%d: at most %d providers", file, lineno, CONFIG_MAX_PROVIDERS);
    return -1;
  }
  /* now, while the tracker still sees the whole file system: it drops
   * privileges and may chroot before the portal client starts */
  char load_err[256];
  if (p4p_curl_load(load_err, sizeof load_err)) {
    snprintf(err, errlen, "%s:%d: %s", file, lineno, load_err);
    return -1;
  }
  struct p4p_provider_config *p = &g_config.providers[g_config.nproviders++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  snprintf(p->url, sizeof p->url, "%s", url);
  snprintf(p->where, sizeof p->where, "%s:%d", file, lineno);
  p->legacy          = n == 3 && !strcmp(word[2], "legacy");
  p->alto            = n == 3 && !strcmp(word[2], "alto");
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

/* A CA file must exist and hold a PEM certificate: curl would only find
 * out at the first fetch, in the background, long after startup. */
static int check_ca_file(const char *path, char *why, size_t whylen) {
  char  *buf;
  size_t len;
  if (proto_read_file(path, CA_FILE_MAX_BYTES, &buf, &len, why, whylen))
    return -1;
  int ok = strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL;
  free(buf);
  if (!ok)
    snprintf(why, whylen, "%s: holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path);
  return ok ? 0 : -1;
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
    unsigned mask;
    if (proto_parse_interfaces(v, &mask)) {
      snprintf(err, errlen, "%s:%d: %s takes a list of pidmap (or info), costs (or policy), guidance, capability", file, lineno, key);
      return -1;
    }
    if (p->legacy && (mask & ~(P4P_IF_INFO | P4P_IF_POLICY))) {
      snprintf(err, errlen, "%s:%d: %s: a legacy (Yale) portal has only pidmap and costs", file, lineno, key);
      return -1;
    }
    p->interfaces = mask;
  } else if (!strcmp(opt, "refresh") || !strcmp(opt, "max_staleness") || !strcmp(opt, "timeout_ms") || !strcmp(opt, "backoff_max")) {
    if (parse_count(v, 86400 * 30, &n) || n == 0) {
      snprintf(err, errlen, "%s:%d: %s takes a positive whole number", file, lineno, key);
      return -1;
    }
    int *field = !strcmp(opt, "refresh")         ? &p->refresh_s
                 : !strcmp(opt, "max_staleness") ? &p->max_staleness_s
                 : !strcmp(opt, "timeout_ms")    ? &p->timeout_ms
                                                 : &p->backoff_max_s;
    *field     = (int)n;
  } else if (!strcmp(opt, "ca_file")) {
    char *path = absolute_path(v, file);
    char  why[400];
    if (!path || strlen(path) >= sizeof p->ca_file) {
      free(path);
      snprintf(err, errlen, "%s:%d: %s: path too long", file, lineno, key);
      return -1;
    }
    if (check_ca_file(path, why, sizeof why)) {
      free(path);
      snprintf(err, errlen, "%s:%d: %s: %s", file, lineno, key, why);
      return -1;
    }
    snprintf(p->ca_file, sizeof p->ca_file, "%s", path);
    snprintf(p->ca_where, sizeof p->ca_where, "%s:%d", file, lineno);
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
    snprintf(err, errlen,
             "%s:%d: unknown provider option %s (known: token, interfaces, refresh, max_staleness, timeout_ms, max_body, report_swarms, backoff_max, ca_file)",
             file, lineno, key);
    return -1;
  }
  return 0;
}

int p4p_config_set(const char *line, const char *file, int lineno, char *err, size_t errlen) {
  char        key[128];
  const char *p    = line;
  size_t      klen = 0;

  while (*p && !isspace((unsigned char)*p) && klen + 1 < sizeof key)
    key[klen++] = *p++;
  key[klen] = 0;
  while (isspace((unsigned char)*p))
    ++p;
  const char *value = p;
  size_t      vlen  = strlen(value);
  /* "# comment" after the value: a '#' opening the value or after a blank */
  for (size_t i = 0; i < vlen; ++i)
    if (value[i] == '#' && (i == 0 || value[i - 1] == ' ' || value[i - 1] == '\t')) {
      vlen = i;
      break;
    }
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
    if (is_map)
      snprintf(g_config.pidmap_where, sizeof g_config.pidmap_where, "%s:%d", file, lineno);
    else
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

/* One named file, opened as the tracker will open it.  The reason names the
 * user: after the drop to nobody, a file only root may read is the usual
 * cause. */
static int readable(const char *where, const char *key, const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st;
    int         dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (!dir)
      return 0;
    errno = EISDIR;
  }
  int            e  = errno;
  struct passwd *pw = getpwuid(geteuid()); /* NULL inside a chroot without /etc/passwd */
  char           user[64];
  if (pw)
    snprintf(user, sizeof user, "%s", pw->pw_name);
  else
    snprintf(user, sizeof user, "uid %u", (unsigned)geteuid());
  snprintf(err, errlen, "%s: %s %s: cannot read it as %s: %s", where, key, path, user, strerror(e));
  return -1;
}

int p4p_config_check_files(char *err, size_t errlen) {
  if (!g_config.enable)
    return 0;
  if (g_config.pidmap_file && readable(g_config.pidmap_where, "p4p.pidmap", g_config.pidmap_file, err, errlen))
    return -1;
  if (g_config.guidance_file && readable(g_config.guidance_where, "p4p.guidance", g_config.guidance_file, err, errlen))
    return -1;
  for (size_t i = 0; i < g_config.nproviders; ++i) {
    char key[128];
    snprintf(key, sizeof key, "p4p.provider.%s.ca_file", g_config.providers[i].name);
    if (g_config.providers[i].ca_file[0] && readable(g_config.providers[i].ca_where, key, g_config.providers[i].ca_file, err, errlen))
      return -1;
  }
  return 0;
}
