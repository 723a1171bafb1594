/* The iTracker's own provider-file statements (client_limits.h). */
#include "client_limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void itr_limits_defaults(struct itr_limits *l) {
  /* the reasons are in docs/ITRACKER.md, "Hostile clients" */
  l->max_connections = 1024;
  l->max_connections_per_ip = 16;
  l->request_deadline_s = 10;
  l->response_deadline_s = 60;
  l->max_body_total = 64u << 20;
  l->max_swarms_per_client = 10000;
  l->max_allocations = 65536;
  l->max_allocations_per_client = 4096;
  l->allocation_expiry_s = 3600;
}

struct limit_key {
  const char        *key;
  size_t             off, size;
  unsigned long long min, max;
};

#define K(k, f, lo, hi) {k, offsetof(struct itr_limits, f), \
                         sizeof(((struct itr_limits *)0)->f), lo, hi}
static const struct limit_key keys[] = {
  /* one thread and descriptor each: bounded well below the kernel's */
  K("max-connections", max_connections, 1, 20000),
  K("max-connections-per-ip", max_connections_per_ip, 1, 20000),
  K("request-deadline", request_deadline_s, 1, 3600),
  K("response-deadline", response_deadline_s, 1, 86400),
  K("max-body-total", max_body_total, 1024, 16ull << 30),
  K("max-swarms-per-client", max_swarms_per_client, 1, 10000000),
  K("max-allocations", max_allocations, 1, 10000000),
  K("max-allocations-per-client", max_allocations_per_client, 1, 10000000),
  K("allocation-expiry", allocation_expiry_s, 1, 7 * 86400),
};
#undef K

static int set_value(struct itr_limits *l, const struct limit_key *k,
                     const char *arg, const char *source, unsigned line,
                     char *err, size_t errlen) {
  char *end;
  errno = 0;
  unsigned long long v = isdigit((unsigned char)arg[0])
                           ? strtoull(arg, &end, 10) : 0;
  if (!isdigit((unsigned char)arg[0]) || errno || *end) {
    snprintf(err, errlen, "%s:%u: %s: '%.40s' is not a non-negative integer",
             source, line, k->key, arg);
    return -1;
  }
  if (v < k->min || v > k->max) {
    snprintf(err, errlen, "%s:%u: %s: %llu is outside [%llu, %llu]", source,
             line, k->key, v, k->min, k->max);
    return -1;
  }
  char *field = (char *)l + k->off;
  if (k->size == sizeof(size_t)) {
    size_t s = (size_t)v;
    memcpy(field, &s, sizeof s);
  } else {
    unsigned u = (unsigned)v;
    memcpy(field, &u, sizeof u);
  }
  return 0;
}

/* One line (NUL-terminated copy): 1 = not ours, 0 = parsed, -1 = error. */
static int limit_line(char *line, struct itr_limits *l, const char *source,
                      unsigned lineno, char *err, size_t errlen) {
  char *hash = strchr(line, '#');
  if (hash)
    *hash = 0;
  char *save = NULL, *word = strtok_r(line, " \t\r", &save);
  if (!word)
    return 1;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (strcmp(word, keys[i].key))
      continue;
    char *arg = strtok_r(NULL, " \t\r", &save);
    if (!arg || strtok_r(NULL, " \t\r", &save)) {
      snprintf(err, errlen, "%s:%u: usage: %s N", source, lineno,
               keys[i].key);
      return -1;
    }
    return set_value(l, &keys[i], arg, source, lineno, err, errlen);
  }
  return 1;
}

int itr_limits_extract(char *text, size_t len, const char *source,
                       struct itr_limits *l, char *err, size_t errlen) {
  unsigned lineno = 0;
  for (size_t pos = 0; pos < len;) {
    lineno++;
    size_t eol = pos;
    while (eol < len && text[eol] != '\n')
      eol++;
    size_t n = eol - pos;
    /* lines the shared parser refuses (too long, NUL bytes) are left to
     * it, so every file error reads the same */
    if (n <= 8192 && !memchr(text + pos, 0, n)) {
      char line[8193];
      memcpy(line, text + pos, n);
      line[n] = 0;
      int rc = limit_line(line, l, source, lineno, err, errlen);
      if (rc < 0)
        return -1;
      if (rc == 0)
        memset(text + pos, ' ', n);
    }
    pos = eol + 1;
  }
  return 0;
}
