/* Parsers for the Yale P4P portal's plain-text answers (legacy_portal.h). */
#include "legacy_portal.h"
#include "proto/errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/text.h"
#include "proto/xml.h"

#define MAX_TOKENS_PER_LINE (2 * P4P_XML_MAX_MATRIX_PIDS * 3 + 3)

/* Both answers are text with the same limits: the XML size cap, no NULs. */
static int refuse_answer(const char *buf, size_t len, const char *source, char *err, size_t errlen) {
  if (len > P4P_XML_MAX_BYTES)
    return proto_fail(err, errlen, "%s: larger than %u bytes", source, (unsigned)P4P_XML_MAX_BYTES);
  if (buf && memchr(buf, '\0', len))
    return proto_fail(err, errlen, "%s: NUL byte in answer", source);
  return 0;
}

/* Same alphabet as v1 (docs/PROTOCOL.md): Yale's "0.i.internet2" fits. */
static int valid_name(const char *s, size_t n) {
  if (n == 0 || n >= P4P_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
      return 0;
  }
  return 1;
}

static void copy_version(char dst[P4P_NAME_MAX], const char *version) {
  dst[0] = '\0';
  if (!version)
    return;
  size_t n = strlen(version);
  if (n == 0 || n >= P4P_NAME_MAX)
    return;
  for (size_t i = 0; i < n; i++)
    if (version[i] < 0x21 || version[i] > 0x7e)
      return;
  memcpy(dst, version, n + 1);
}

/* One line split into blank-separated tokens (pointers into a private,
 * NUL-terminated copy of the line). */
struct line {
  char  *copy;
  size_t ntok;
  char **tok;
  size_t cap;
};

static void line_free(struct line *l) {
  free(l->copy);
  free(l->tok);
  memset(l, 0, sizeof *l);
}

/* Splits buf[0..len) into tokens.  -1 with a reason on a control byte. */
static int line_split(struct line *l, const char *s, size_t len, char *why, size_t whylen) {
  free(l->copy);
  l->copy = malloc(len + 1);
  l->ntok = 0;
  if (!l->copy) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  memcpy(l->copy, s, len);
  l->copy[len] = '\0';
  char *p      = l->copy;
  char *end    = l->copy + len;
  while (p < end) {
    while (p < end && (*p == '\t' || *p == ' '))
      *p++ = '\0';
    if (p == end)
      break;
    if (l->ntok == l->cap) {
      size_t ncap = l->cap ? 2 * l->cap : 16;
      if (ncap > MAX_TOKENS_PER_LINE + 1)
        ncap = MAX_TOKENS_PER_LINE + 1;
      if (l->ntok >= ncap) {
        snprintf(why, whylen, "more than %d fields", MAX_TOKENS_PER_LINE);
        return -1;
      }
      char **t = realloc(l->tok, ncap * sizeof *t);
      if (!t) {
        snprintf(why, whylen, "out of memory");
        return -1;
      }
      l->tok = t;
      l->cap = ncap;
    }
    l->tok[l->ntok++] = p;
    while (p < end && *p != '\t' && *p != ' ') {
      unsigned char c = (unsigned char)*p;
      if (c < 0x20 || c == 0x7f) {
        snprintf(why, whylen, "control character 0x%02x", c);
        return -1;
      }
      p++;
    }
  }
  return 0;
}

/* Iterates over lines: the next line, without its CR LF, in ls and ll. */
struct cursor {
  const char *buf;
  size_t      len, pos;
  unsigned    lineno;
};

static int next_line(struct cursor *c, const char **ls, size_t *ll) {
  if (c->pos >= c->len)
    return 0;
  const char *s  = c->buf + c->pos;
  const char *nl = memchr(s, '\n', c->len - c->pos);
  size_t      n  = nl ? (size_t)(nl - s) : c->len - c->pos;
  c->pos += n + (nl ? 1 : 0);
  c->lineno++;
  if (n && s[n - 1] == '\r')
    n--;
  *ls = s;
  *ll = n;
  return 1;
}

/* Decimal count, digits only, at most max. */
static int parse_count(const char *s, size_t max, size_t *out) {
  size_t v = 0;
  if (!*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    v = v * 10 + (size_t)(*s - '0');
    if (v > max)
      return -1;
  }
  *out = v;
  return 0;
}

/* Yale costs are integers; a decimal fraction is accepted, nothing else
 * (no sign, exponent, NaN or INF). */
static int parse_cost(const char *s, double *out) {
  size_t n = strlen(s), digits = 0, dots = 0;
  if (n == 0 || n > 32)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.')
      dots++;
    else if (s[i] >= '0' && s[i] <= '9')
      digits++;
    else
      return -1;
  }
  if (dots > 1 || digits == 0 || s[0] == '.' || s[n - 1] == '.')
    return -1;
  errno = 0;
  *out  = strtod(s, NULL);
  return errno ? -1 : 0;
}

/* ---- PID map ---------------------------------------------------------- */

struct pfx_ref {
  struct p4p_prefix p;
  unsigned          line;
};

static int cmp_pfx_ref(const void *a, const void *b) {
  const struct pfx_ref *x = a, *y = b;
  int                   c = memcmp(x->p.addr, y->p.addr, 16);
  if (c)
    return c;
  if (x->p.bits != y->p.bits)
    return x->p.bits < y->p.bits ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

struct name_ref {
  const char *name;
  unsigned    line;
};

static int cmp_name_ref(const void *a, const void *b) {
  const struct name_ref *x = a, *y = b;
  int                    c = strcmp(x->name, y->name);
  if (c)
    return c;
  return x->line < y->line ? -1 : x->line > y->line;
}

int p4p_legacy_parse_pidmap(const char *buf, size_t len, const char *source, const char *version, struct p4p_pidmap_msg *out, char *err, size_t errlen) {
  struct cursor    c        = {buf, len, 0, 0};
  struct line      l        = {0};
  struct pfx_ref  *all      = NULL;
  struct name_ref *names    = NULL;
  unsigned        *pid_line = NULL;
  size_t           nall = 0, cap = 0, pcap = 0;
  const char      *ls;
  size_t           ll;
  char             why[160];

  if (!source)
    source = "pid map";
  memset(out, 0, sizeof *out);
  if (refuse_answer(buf, len, source, err, errlen))
    return -1;
  copy_version(out->version, version);

  while (next_line(&c, &ls, &ll)) {
    if (line_split(&l, ls, ll, why, sizeof why) < 0)
      goto fail_why;
    if (l.ntok == 0)
      continue; /* the final CRLF, or a blank line */
    if (!valid_name(l.tok[0], strlen(l.tok[0]))) {
      snprintf(why, sizeof why, "bad PID name");
      goto fail_why;
    }
    size_t n;
    if (l.ntok < 2 || parse_count(l.tok[1], P4P_XML_MAX_PREFIXES, &n) < 0) {
      snprintf(why, sizeof why, "PID %s: missing or bad prefix count", l.tok[0]);
      goto fail_why;
    }
    if (l.ntok - 2 != n) {
      snprintf(why, sizeof why, "PID %s: count says %zu prefixes, line has %zu", l.tok[0], n, l.ntok - 2);
      goto fail_why;
    }
    if (out->npids == P4P_XML_MAX_PIDS) {
      snprintf(why, sizeof why, "more than %d PIDs", P4P_XML_MAX_PIDS);
      goto fail_why;
    }
    if (nall + n > P4P_XML_MAX_PREFIXES) {
      snprintf(why, sizeof why, "more than %d prefixes", P4P_XML_MAX_PREFIXES);
      goto fail_why;
    }
    if (out->npids == pcap) {
      size_t                ncap = pcap ? 2 * pcap : 16;
      struct p4p_pid_entry *np   = realloc(out->pids, ncap * sizeof *np);
      if (!np)
        goto oom;
      out->pids    = np;
      unsigned *nl = realloc(pid_line, ncap * sizeof *nl);
      if (!nl)
        goto oom;
      pid_line = nl;
      pcap     = ncap;
    }
    struct p4p_pid_entry *e = &out->pids[out->npids];
    memset(e, 0, sizeof *e);
    strcpy(e->name, l.tok[0]); /* length checked by valid_name */
    pid_line[out->npids] = c.lineno;
    out->npids++;
    if (n) {
      e->prefixes = calloc(n, sizeof *e->prefixes);
      if (!e->prefixes)
        goto oom;
    }
    if (nall + n > cap) {
      size_t ncap = cap ? cap : 64;
      while (ncap < nall + n)
        ncap *= 2;
      struct pfx_ref *na = realloc(all, ncap * sizeof *na);
      if (!na)
        goto oom;
      all = na;
      cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
      int r = proto_prefix_parse(l.tok[2 + i], &e->prefixes[i]);
      if (r < 0) {
        snprintf(why, sizeof why, "PID %s: %s prefix \"%.60s\"", e->name, r == -2 ? "host bits set in" : "bad", l.tok[2 + i]);
        goto fail_why;
      }
      e->nprefixes++;
      all[nall].p    = e->prefixes[i];
      all[nall].line = c.lineno;
      nall++;
    }
  }
  if (out->npids == 0) {
    proto_fail(err, errlen, "%s: no PIDs", source);
    goto fail;
  }

  /* Unique PID names and prefixes: sort, then compare neighbours (the
   * later line is the one reported). */
  names = malloc(out->npids * sizeof *names);
  if (!names)
    goto oom;
  for (size_t i = 0; i < out->npids; i++) {
    names[i].name = out->pids[i].name;
    names[i].line = pid_line[i];
  }
  qsort(names, out->npids, sizeof *names, cmp_name_ref);
  for (size_t i = 1; i < out->npids; i++)
    if (!strcmp(names[i].name, names[i - 1].name)) {
      proto_fail(err, errlen, "%s:%u: PID %s listed twice", source, names[i].line, names[i].name);
      goto fail;
    }
  /* no prefix at all (every PID empty, as in "0\t0"): all is still NULL,
   * and qsort must not see a NULL array even for 0 items */
  if (nall > 1)
    qsort(all, nall, sizeof *all, cmp_pfx_ref);
  for (size_t i = 1; i < nall; i++)
    if (all[i].p.bits == all[i - 1].p.bits && !memcmp(all[i].p.addr, all[i - 1].p.addr, 16)) {
      char t[P4P_ADDR_TEXT_MAX];
      proto_prefix_format(&all[i].p, t);
      proto_fail(err, errlen, "%s:%u: prefix %s listed twice", source, all[i].line, t);
      goto fail;
    }
  free(names);
  free(all);
  free(pid_line);
  line_free(&l);
  return 0;

oom:
  snprintf(why, sizeof why, "out of memory");
fail_why:
  proto_fail(err, errlen, "%s:%u: %s", source, c.lineno, why);
fail:
  free(names);
  free(all);
  free(pid_line);
  line_free(&l);
  proto_pidmap_msg_free(out);
  return -1;
}

/* ---- p-distances ------------------------------------------------------- */

/* PID name -> index, open addressing; at most P4P_XML_MAX_MATRIX_PIDS. */
#define NAME_SLOTS (4 * P4P_XML_MAX_MATRIX_PIDS)

struct names {
  char (*name)[P4P_NAME_MAX];
  size_t  n;
  int32_t slot[NAME_SLOTS]; /* index + 1, 0 = empty */
};

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* Index of name, added when new; -1 when full. */
static long names_index(struct names *t, const char *s) {
  uint32_t h = name_hash(s) & (NAME_SLOTS - 1);
  while (t->slot[h]) {
    long i = t->slot[h] - 1;
    if (!strcmp(t->name[i], s))
      return i;
    h = (h + 1) & (NAME_SLOTS - 1);
  }
  if (t->n == P4P_XML_MAX_MATRIX_PIDS)
    return -1;
  strcpy(t->name[t->n], s);
  t->slot[h] = (int32_t)(t->n + 1);
  return (long)t->n++;
}

struct cell {
  uint32_t from, to;
  double   v;
  unsigned line;
  int      reverse; /* from an inc-reverse triple's reverse column */
};

int p4p_legacy_parse_pdistance(const char *buf, size_t len, const char *source, const char *version, struct p4p_costs_msg *out, char *err, size_t errlen) {
  struct cursor c      = {buf, len, 0, 0};
  struct line   l      = {0};
  struct names *t      = NULL;
  struct cell  *cells  = NULL;
  uint8_t      *given  = NULL;
  size_t        ncells = 0, ccap = 0;
  const char   *ls;
  size_t        ll;
  char          why[200];

  if (!source)
    source = "pdistance";
  memset(out, 0, sizeof *out);
  if (refuse_answer(buf, len, source, err, errlen))
    return -1;
  t = calloc(1, sizeof *t);
  if (t)
    t->name = calloc(P4P_XML_MAX_MATRIX_PIDS, sizeof *t->name);
  if (!t || !t->name)
    goto oom;

  while (next_line(&c, &ls, &ll)) {
    if (line_split(&l, ls, ll, why, sizeof why) < 0)
      goto fail_why;
    if (l.ntok == 0)
      continue;
    if (l.ntok < 3) {
      snprintf(why, sizeof why, "expected <src> no-reverse|inc-reverse <n>");
      goto fail_why;
    }
    int inc;
    if (!strcmp(l.tok[1], "no-reverse"))
      inc = 0;
    else if (!strcmp(l.tok[1], "inc-reverse"))
      inc = 1;
    else {
      snprintf(why, sizeof why, "unknown mode \"%.40s\"", l.tok[1]);
      goto fail_why;
    }
    size_t n, per = inc ? 3 : 2;
    if (parse_count(l.tok[2], P4P_XML_MAX_MATRIX_PIDS, &n) < 0) {
      snprintf(why, sizeof why, "bad destination count \"%.40s\"", l.tok[2]);
      goto fail_why;
    }
    if (l.ntok - 3 != n * per) {
      snprintf(why, sizeof why,
               "count says %zu destinations, line has %zu "
               "fields after it (want %zu)",
               n, l.ntok - 3, n * per);
      goto fail_why;
    }
    if (!valid_name(l.tok[0], strlen(l.tok[0]))) {
      snprintf(why, sizeof why, "bad PID name");
      goto fail_why;
    }
    long src = names_index(t, l.tok[0]);
    if (src < 0) {
      snprintf(why, sizeof why, "more than %d PIDs", P4P_XML_MAX_MATRIX_PIDS);
      goto fail_why;
    }
    for (size_t k = 0; k < n; k++) {
      char **f = &l.tok[3 + k * per];
      if (!valid_name(f[0], strlen(f[0]))) {
        snprintf(why, sizeof why, "bad PID name");
        goto fail_why;
      }
      long dst = names_index(t, f[0]);
      if (dst < 0) {
        snprintf(why, sizeof why, "more than %d PIDs", P4P_XML_MAX_MATRIX_PIDS);
        goto fail_why;
      }
      for (size_t q = 1; q < per; q++) {
        double v;
        if (parse_cost(f[q], &v) < 0) {
          snprintf(why, sizeof why, "bad cost \"%.40s\" for %s -> %s", f[q], l.tok[0], f[0]);
          goto fail_why;
        }
        if (ncells == ccap) {
          size_t ncap = ccap ? 2 * ccap : 256;
          if (ncap > (size_t)P4P_XML_MAX_CELLS * 2)
            ncap = (size_t)P4P_XML_MAX_CELLS * 2;
          if (ncells >= ncap) {
            snprintf(why, sizeof why, "too many costs");
            goto fail_why;
          }
          struct cell *nc = realloc(cells, ncap * sizeof *nc);
          if (!nc)
            goto oom;
          cells = nc;
          ccap  = ncap;
        }
        struct cell *ce = &cells[ncells++];
        ce->from        = (uint32_t)(q == 1 ? src : dst);
        ce->to          = (uint32_t)(q == 1 ? dst : src);
        ce->v           = v;
        ce->line        = c.lineno;
        ce->reverse     = q == 2;
      }
    }
  }
  if (t->n == 0) {
    proto_fail(err, errlen, "%s: no PIDs", source);
    goto fail;
  }

  size_t np = t->n;
  if (proto_matrix_alloc(&out->costs, np) < 0)
    goto oom;
  given = calloc(np * np, 1); /* 0 none, 1 by a reverse column, 2 direct */
  if (!given)
    goto oom;
  for (size_t i = 0; i < np; i++)
    memcpy(out->costs.pids[i], t->name[i], P4P_NAME_MAX);
  for (size_t k = 0; k < ncells; k++) {
    const struct cell *ce = &cells[k];
    size_t             at = (size_t)ce->from * np + ce->to;
    if (!ce->reverse) {
      if (given[at] == 2) {
        c.lineno = ce->line;
        snprintf(why, sizeof why, "cost %s -> %s given twice", t->name[ce->from], t->name[ce->to]);
        goto fail_why;
      }
      given[at]        = 2;
      out->costs.v[at] = ce->v;
    } else if (!given[at]) {
      given[at]        = 1;
      out->costs.v[at] = ce->v;
    }
  }

  /* Undefined -> costliest; scale so the costliest defined pair is 100. */
  double max = 0;
  for (size_t k = 0; k < np * np; k++)
    if (given[k] && out->costs.v[k] > max)
      max = out->costs.v[k];
  for (size_t i = 0; i < np; i++)
    for (size_t j = 0; j < np; j++) {
      double *v       = &out->costs.v[i * np + j];
      int     defined = given[i * np + j] && (*v > 0 || i == j);
      if (!defined)
        *v = i == j ? 0 : 100;
      else
        *v = max > 0 ? 100 * *v / max : 0;
    }
  copy_version(out->version, version);
  free(given);
  free(cells);
  free(t->name);
  free(t);
  line_free(&l);
  return 0;

oom:
  snprintf(why, sizeof why, "out of memory");
fail_why:
  proto_fail(err, errlen, "%s:%u: %s", source, c.lineno, why);
fail:
  free(given);
  free(cells);
  if (t)
    free(t->name);
  free(t);
  line_free(&l);
  proto_costs_msg_free(out);
  return -1;
}
