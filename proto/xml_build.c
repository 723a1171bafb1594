/* Builders: a parsed v1 tree into the structs of msg.h, one builder per
 * message kind, and the public entry points proto_xml_parse_* and
 * proto_xml_kind_of (see xml.h).
 *
 * A builder checks what the grammar cannot: unique names, matrix entries
 * naming declared PIDs, a prefix in one PID only, counts against the caps
 * of xml.h before allocating.  It fills the caller's struct as it goes;
 * on any error the entry point frees what was filled and zeroes it. */
#include "text.h"
#include "xml.h"
#include "xml_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* ------------------------------------------------------------------ */
/* duplicate detection: sort pointers, compare neighbours                */

struct named {
  const char    *name;
  const xmlNode *node;
  size_t         index;
};

static int cmp_named(const void *a, const void *b) {
  const struct named *x = a, *y = b;
  int                 c = strcmp(x->name, y->name);
  if (c)
    return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts v (n items) by name and fails on the first duplicate, naming the
 * later occurrence's line and the earlier one's. */
static int check_unique(struct xml_parse_ctx *p, struct named *v, size_t n, const char *what) {
  if (n < 2)
    return 0; /* also: qsort must not see a NULL array */
  qsort(v, n, sizeof *v, cmp_named);
  for (size_t i = 1; i < n; i++)
    if (strcmp(v[i - 1].name, v[i].name) == 0)
      return proto_xml_fail_at(p, v[i].node, "duplicate %s '%s' (first at line %ld)", what, v[i].name, xmlGetLineNo(v[i - 1].node));
  return 0;
}

static const struct named *find_named(const struct named *v, size_t n, const char *name) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int    c   = strcmp(name, v[mid].name);
    if (c == 0)
      return &v[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* message bodies                                                      */

static int build_matrix(struct xml_parse_ctx *p, const xmlNode *el, struct p4p_matrix *m) {
  static const char *const kids[] = {"pids", "entry", NULL};
  if (proto_xml_check_children(p, el, kids, "pids", NULL) < 0)
    return -1;
  const xmlNode *pids_el = NULL;
  for (const xmlNode *c = el->children; c; c = c->next) {
    if (proto_xml_is_el(c, "pids")) {
      if (pids_el)
        return proto_xml_fail_at(p, c, "<%s> has a second <pids>", EL_NAME(el));
      pids_el = c;
    } else if (proto_xml_is_el(c, "entry") && !pids_el) {
      return proto_xml_fail_at(p, c, "<entry> before <pids> in <%s>", EL_NAME(el));
    }
  }
  if (!pids_el)
    return proto_xml_fail_at(p, el, "<%s> has no <pids> list", EL_NAME(el));
  if (proto_xml_check_attrs(p, pids_el, NULL) < 0)
    return -1;

  char *list = proto_xml_leaf_text(p, pids_el);
  if (!list)
    return -1;
  size_t n = 0;
  for (char *tok = list; *tok;) {
    tok += strspn(tok, " \t\r\n");
    size_t l = strcspn(tok, " \t\r\n");
    if (l)
      n++;
    tok += l;
  }
  int           rc   = -1;
  struct named *idx  = NULL;
  uint8_t      *seen = NULL;
  if (n == 0) {
    proto_xml_fail_at(p, pids_el, "<pids> is empty: a matrix needs at least one PID");
    goto out;
  }
  if (n > P4P_XML_MAX_MATRIX_PIDS) {
    proto_xml_fail_at(p, pids_el, "<pids> lists %zu PIDs, at most %d allowed", n, P4P_XML_MAX_MATRIX_PIDS);
    goto out;
  }
  if (n * n > P4P_XML_MAX_CELLS - p->cells) {
    proto_xml_fail_at(p, pids_el, "matrices of this message exceed %u cells in all", (unsigned)P4P_XML_MAX_CELLS);
    goto out;
  }
  if (proto_matrix_alloc(m, n) < 0) {
    proto_xml_fail_at(p, pids_el, "out of memory");
    goto out;
  }
  p->cells += n * n;
  idx  = calloc(n, sizeof *idx);
  seen = calloc((n * n + 7) / 8, 1);
  if (!idx || !seen) {
    proto_xml_fail_at(p, pids_el, "out of memory");
    goto out;
  }
  size_t i = 0;
  for (char *tok = list; *tok;) {
    tok += strspn(tok, " \t\r\n");
    size_t l = strcspn(tok, " \t\r\n");
    if (!l)
      break;
    char save = tok[l];
    tok[l]    = '\0';
    if (!proto_name_valid(tok)) {
      proto_xml_fail_at(p, pids_el,
                        "<pids>: '%s' is not a PID name (1-%d characters of "
                        "A-Z a-z 0-9 . _ : -)",
                        tok, P4P_NAME_MAX - 1);
      goto out;
    }
    memcpy(m->pids[i], tok, l + 1);
    idx[i] = (struct named){m->pids[i], pids_el, i};
    i++;
    tok[l] = save;
    tok += l;
  }
  if (check_unique(p, idx, n, "PID in <pids>") < 0)
    goto out;

  static const char *const eattrs[] = {"from", "to", "value", NULL};
  for (const xmlNode *c = el->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "entry"))
      continue;
    char   from[P4P_NAME_MAX], to[P4P_NAME_MAX];
    double v;
    if (proto_xml_check_children(p, c, NULL, NULL, NULL) < 0 || proto_xml_check_attrs(p, c, eattrs) < 0 || proto_xml_attr_name(p, c, "from", from, 1) < 0 ||
        proto_xml_attr_name(p, c, "to", to, 1) < 0 || proto_xml_attr_value(p, c, "value", &v, 1) < 0)
      goto out;
    const struct named *f = find_named(idx, n, from);
    const struct named *t = find_named(idx, n, to);
    if (!f || !t) {
      proto_xml_fail_at(p, c,
                        "<entry from=\"%s\" to=\"%s\">: unknown PID '%s' (not in "
                        "<pids> of line %ld)",
                        from, to, f ? to : from, xmlGetLineNo(pids_el));
      goto out;
    }
    size_t cell = f->index * n + t->index;
    if (seen[cell / 8] & (1u << (cell % 8))) {
      proto_xml_fail_at(p, c, "duplicate <entry from=\"%s\" to=\"%s\">", from, to);
      goto out;
    }
    seen[cell / 8] |= (uint8_t)(1u << (cell % 8));
    m->v[cell] = v;
  }
  rc = 0;
out:
  free(list);
  free(idx);
  free(seen);
  return rc;
}

/* a prefix with where it was declared, for the duplicate check */
struct pfx_at {
  struct p4p_prefix pf;
  const char       *pid;
  const xmlNode    *node;
};

static int cmp_pfx_at(const void *a, const void *b) {
  const struct pfx_at *x = a, *y = b;
  int                  r = memcmp(x->pf.addr, y->pf.addr, 16);
  if (r)
    return r;
  if (x->pf.bits != y->pf.bits)
    return x->pf.bits < y->pf.bits ? -1 : 1;
  long lx = xmlGetLineNo(x->node), ly = xmlGetLineNo(y->node);
  return lx < ly ? -1 : lx > ly;
}

static int build_pidmap(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_pidmap_msg   *out      = outp;
  static const char *const rattrs[] = {"version", NULL};
  static const char *const kids[]   = {"pid", NULL};
  size_t                   n;
  if (proto_xml_check_attrs(p, root, rattrs) < 0 || proto_xml_attr_version(p, root, out->version) < 0 || proto_xml_check_children(p, root, kids, "pid", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_PIDS)
    return proto_xml_fail_at(p, root, "<pidmap> has %zu PIDs, at most %d allowed", n, P4P_XML_MAX_PIDS);
  if (n == 0)
    return 0;
  out->pids           = calloc(n, sizeof *out->pids);
  struct named *names = calloc(n, sizeof *names);
  if (!out->pids || !names) {
    free(names);
    return proto_xml_fail_at(p, root, "out of memory");
  }
  out->npids                        = n;

  /* first pass: PIDs and their prefixes */
  static const char *const pattrs[] = {"name", "asid", "loc", NULL};
  static const char *const pkids[]  = {"prefix", NULL};
  size_t                   i = 0, total = 0;
  int                      rc = -1;
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "pid"))
      continue;
    struct p4p_pid_entry *e = &out->pids[i];
    uint64_t              asid;
    size_t                np;
    if (proto_xml_check_attrs(p, c, pattrs) < 0 || proto_xml_attr_name(p, c, "name", e->name, 1) < 0 ||
        proto_xml_attr_uint(p, c, "asid", 0, UINT32_MAX, &asid, 1) < 0 || proto_xml_attr_loc(p, c, e->loc) < 0 ||
        proto_xml_check_children(p, c, pkids, "prefix", &np) < 0)
      goto out;
    e->asid  = (uint32_t)asid;
    names[i] = (struct named){e->name, c, i};
    total += np;
    if (total > P4P_XML_MAX_PREFIXES) {
      proto_xml_fail_at(p, c, "PID map has more than %d prefixes", P4P_XML_MAX_PREFIXES);
      goto out;
    }
    if (np) {
      e->prefixes = calloc(np, sizeof *e->prefixes);
      if (!e->prefixes) {
        proto_xml_fail_at(p, c, "out of memory");
        goto out;
      }
    }
    size_t k = 0;
    for (const xmlNode *q = c->children; q; q = q->next) {
      if (!proto_xml_is_el(q, "prefix"))
        continue;
      if (proto_xml_check_attrs(p, q, NULL) < 0)
        goto out;
      char *t = proto_xml_leaf_text(p, q);
      if (!t)
        goto out;
      int r = proto_prefix_parse(t, &e->prefixes[k]);
      if (r == -2) {
        struct p4p_prefix z;
        char              net[P4P_ADDR_TEXT_MAX] = "";
        /* show the network the operator probably meant */
        const char *sl                           = strrchr(t, '/');
        unsigned    len                          = (unsigned)atoi(sl + 1);
        uint8_t     a[16];
        char        ab[P4P_ADDR_TEXT_MAX];
        snprintf(ab, sizeof ab, "%.*s", (int)(sl - t), t);
        if (proto_addr_parse(ab, a) == 0) {
          unsigned bits = strchr(ab, ':') ? len : 96 + len;
          for (unsigned b = bits; b < 128; b++)
            a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
          memcpy(z.addr, a, 16);
          z.bits = (uint8_t)bits;
          proto_prefix_format(&z, net);
        }
        proto_xml_fail_at(p, q, "<prefix> '%s': host bits set (did you mean %s?)", t, net);
        free(t);
        goto out;
      }
      if (r < 0) {
        proto_xml_fail_at(p, q,
                          "<prefix> '%s': not an IPv4 or IPv6 prefix "
                          "(address/length, e.g. 192.0.2.0/24 or 2001:db8::/32)",
                          t);
        free(t);
        goto out;
      }
      free(t);
      k++;
      e->nprefixes = k;
    }
    i++;
  }
  if (check_unique(p, names, n, "PID name") < 0)
    goto out;

  /* second pass: a prefix in two PIDs makes lookups ambiguous */
  if (total > 1) {
    struct pfx_at *all = calloc(total, sizeof *all);
    if (!all) {
      proto_xml_fail_at(p, root, "out of memory");
      goto out;
    }
    size_t k = 0;
    i        = 0;
    for (const xmlNode *c = root->children; c; c = c->next) {
      if (!proto_xml_is_el(c, "pid"))
        continue;
      size_t j = 0;
      for (const xmlNode *q = c->children; q; q = q->next)
        if (proto_xml_is_el(q, "prefix"))
          all[k++] = (struct pfx_at){out->pids[i].prefixes[j++], out->pids[i].name, q};
      i++;
    }
    qsort(all, total, sizeof *all, cmp_pfx_at);
    for (k = 1; k < total; k++) {
      if (memcmp(&all[k - 1].pf, &all[k].pf, sizeof all[k].pf) == 0) {
        char t[P4P_ADDR_TEXT_MAX];
        proto_prefix_format(&all[k].pf, t);
        proto_xml_fail_at(p, all[k].node,
                          "prefix %s of PID '%s' is already in PID '%s' "
                          "(line %ld)",
                          t, all[k].pid, all[k - 1].pid, xmlGetLineNo(all[k - 1].node));
        free(all);
        goto out;
      }
    }
    free(all);
  }
  rc = 0;
out:
  free(names);
  return rc;
}

static int build_lookup_request(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_lookup_request *out      = outp;
  static const char *const   rattrs[] = {"info-hash", NULL};
  static const char *const   kids[]   = {"addr", NULL};
  size_t                     n;
  int                        r;
  if (proto_xml_check_attrs(p, root, rattrs) < 0 || (r = proto_xml_attr_hash(p, root, out->info_hash, 0)) < 0 ||
      proto_xml_check_children(p, root, kids, "addr", &n) < 0)
    return -1;
  out->has_info_hash = r;
  if (n > P4P_XML_MAX_ADDRS)
    return proto_xml_fail_at(p, root,
                             "<lookup-request> has %zu addresses, at most %d "
                             "allowed",
                             n, P4P_XML_MAX_ADDRS);
  if (n == 0)
    return 0;
  out->addrs = calloc(n, sizeof *out->addrs);
  if (!out->addrs)
    return proto_xml_fail_at(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "addr"))
      continue;
    if (proto_xml_check_attrs(p, c, NULL) < 0)
      return -1;
    char *t = proto_xml_leaf_text(p, c);
    if (!t)
      return -1;
    if (proto_addr_parse(t, out->addrs[out->n]) < 0) {
      proto_xml_fail_at(p, c, "<addr> '%s': not an IPv4 or IPv6 address", t);
      free(t);
      return -1;
    }
    free(t);
    out->n++;
  }
  return 0;
}

static int build_lookup(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_lookup_msg   *out      = outp;
  static const char *const kids[]   = {"result", NULL};
  static const char *const eattrs[] = {"addr", "pid", "asid", "loc", NULL};
  size_t                   n;
  if (proto_xml_check_attrs(p, root, NULL) < 0 || proto_xml_check_children(p, root, kids, "result", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_ADDRS)
    return proto_xml_fail_at(p, root, "<lookup> has %zu results, at most %d allowed", n, P4P_XML_MAX_ADDRS);
  if (n == 0)
    return 0;
  out->entries = calloc(n, sizeof *out->entries);
  if (!out->entries)
    return proto_xml_fail_at(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "result"))
      continue;
    struct p4p_lookup_entry *e = &out->entries[out->n];
    int                      has_pid;
    if (proto_xml_check_children(p, c, NULL, NULL, NULL) < 0 || proto_xml_check_attrs(p, c, eattrs) < 0 || proto_xml_attr_addr(p, c, "addr", e->addr, 1) < 0 ||
        (has_pid = proto_xml_attr_name(p, c, "pid", e->pid, 0)) < 0)
      return -1;
    if (has_pid) {
      uint64_t asid;
      if (proto_xml_attr_uint(p, c, "asid", 0, UINT32_MAX, &asid, 1) < 0 || proto_xml_attr_loc(p, c, e->loc) < 0)
        return -1;
      e->asid  = (uint32_t)asid;
      e->found = 1;
    } else if (xmlHasProp(c, (const xmlChar *)"asid") || xmlHasProp(c, (const xmlChar *)"loc")) {
      return proto_xml_fail_at(p, c,
                               "<result>: 'asid' and 'loc' need a 'pid' (an "
                               "address in no PID has neither)");
    }
    out->n++;
  }
  return 0;
}

static int build_costs(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_costs_msg    *out      = outp;
  static const char *const rattrs[] = {"version", NULL};
  if (proto_xml_check_attrs(p, root, rattrs) < 0 || proto_xml_attr_version(p, root, out->version) < 0)
    return -1;
  return build_matrix(p, root, &out->costs);
}

static int build_guidance(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_guidance_msg *out      = outp;
  static const char *const rattrs[] = {"version", NULL};
  static const char *const kids[]   = {"default", "swarm", NULL};
  static const char *const sattrs[] = {"info-hash", NULL};
  size_t                   n;
  if (proto_xml_check_attrs(p, root, rattrs) < 0 || proto_xml_attr_version(p, root, out->version) < 0 ||
      proto_xml_check_children(p, root, kids, "swarm", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SWARMS)
    return proto_xml_fail_at(p, root, "<guidance> has %zu swarms, at most %d allowed", n, P4P_XML_MAX_SWARMS);
  if (n) {
    out->swarms = calloc(n, sizeof *out->swarms);
    if (!out->swarms)
      return proto_xml_fail_at(p, root, "out of memory");
  }
  struct named *hashes              = n ? calloc(n, sizeof *hashes) : NULL;
  char(*hex)[2 * P4P_HASH_SIZE + 1] = n ? calloc(n, sizeof *hex) : NULL;
  int rc                            = -1;
  if (n && (!hashes || !hex)) {
    proto_xml_fail_at(p, root, "out of memory");
    goto out;
  }
  const xmlNode *dflt = NULL;
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (proto_xml_is_el(c, "default")) {
      if (out->nswarms) {
        proto_xml_fail_at(p, c, "<default> must come before the first <swarm>");
        goto out;
      }
      if (dflt) {
        proto_xml_fail_at(p, c, "second <default> (first at line %ld)", xmlGetLineNo(dflt));
        goto out;
      }
      dflt = c;
      if (proto_xml_check_attrs(p, c, NULL) < 0 || build_matrix(p, c, &out->default_weights) < 0)
        goto out;
      out->has_default = 1;
    } else if (proto_xml_is_el(c, "swarm")) {
      struct p4p_swarm_guidance *s = &out->swarms[out->nswarms];
      if (proto_xml_check_attrs(p, c, sattrs) < 0 || proto_xml_attr_hash(p, c, s->info_hash, 1) < 0)
        goto out;
      /* count the swarm before its matrix so a failure frees it */
      size_t k = out->nswarms++;
      if (build_matrix(p, c, &s->weights) < 0)
        goto out;
      proto_hash_format_hex(s->info_hash, hex[k]);
      hashes[k] = (struct named){hex[k], c, k};
    }
  }
  if (check_unique(p, hashes, out->nswarms, "swarm info-hash") < 0)
    goto out;
  rc = 0;
out:
  free(hashes);
  free(hex);
  return rc;
}

static int build_stats(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_stats_msg    *out      = outp;
  static const char *const kids[]   = {"swarm", NULL};
  static const char *const skids[]  = {"pid", NULL};
  static const char *const sattrs[] = {"info-hash", NULL};
  static const char *const pattrs[] = {"name", "seeders", "leechers", "up-kbps", "down-kbps", NULL};
  size_t                   n;
  if (proto_xml_check_attrs(p, root, NULL) < 0 || proto_xml_check_children(p, root, kids, "swarm", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SWARMS)
    return proto_xml_fail_at(p, root, "<stats> has %zu swarms, at most %d allowed", n, P4P_XML_MAX_SWARMS);
  if (n == 0)
    return 0;
  out->swarms                       = calloc(n, sizeof *out->swarms);
  struct named *hashes              = calloc(n, sizeof *hashes);
  char(*hex)[2 * P4P_HASH_SIZE + 1] = calloc(n, sizeof *hex);
  struct named *names               = NULL;
  int           rc                  = -1;
  if (!out->swarms || !hashes || !hex) {
    proto_xml_fail_at(p, root, "out of memory");
    goto out;
  }
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "swarm"))
      continue;
    size_t                  k = out->nswarms;
    struct p4p_swarm_stats *s = &out->swarms[k];
    size_t                  np;
    if (proto_xml_check_attrs(p, c, sattrs) < 0 || proto_xml_attr_hash(p, c, s->info_hash, 1) < 0 || proto_xml_check_children(p, c, skids, "pid", &np) < 0)
      goto out;
    out->nswarms++;
    proto_hash_format_hex(s->info_hash, hex[k]);
    hashes[k] = (struct named){hex[k], c, k};
    if (np > P4P_XML_MAX_PIDS) {
      proto_xml_fail_at(p, c, "<swarm> has %zu PIDs, at most %d allowed", np, P4P_XML_MAX_PIDS);
      goto out;
    }
    if (np == 0)
      continue;
    s->pids = calloc(np, sizeof *s->pids);
    free(names);
    names = calloc(np, sizeof *names);
    if (!s->pids || !names) {
      proto_xml_fail_at(p, c, "out of memory");
      goto out;
    }
    for (const xmlNode *q = c->children; q; q = q->next) {
      if (!proto_xml_is_el(q, "pid"))
        continue;
      struct p4p_pid_stats *ps = &s->pids[s->npids];
      uint64_t              seeders, leechers;
      int                   r;
      if (proto_xml_check_children(p, q, NULL, NULL, NULL) < 0 || proto_xml_check_attrs(p, q, pattrs) < 0 ||
          proto_xml_attr_name(p, q, "name", ps->pid, 1) < 0 || proto_xml_attr_uint(p, q, "seeders", 0, UINT64_MAX, &seeders, 1) < 0 ||
          proto_xml_attr_uint(p, q, "leechers", 0, UINT64_MAX, &leechers, 1) < 0)
        goto out;
      ps->seeders  = seeders;
      ps->leechers = leechers;
      /* an absent rate is "unknown", which msg.h spells as negative */
      if ((r = proto_xml_attr_value(p, q, "up-kbps", &ps->up_kbps, 0)) < 0)
        goto out;
      if (r == 0)
        ps->up_kbps = -1;
      if ((r = proto_xml_attr_value(p, q, "down-kbps", &ps->down_kbps, 0)) < 0)
        goto out;
      if (r == 0)
        ps->down_kbps = -1;
      names[s->npids] = (struct named){ps->pid, q, s->npids};
      s->npids++;
    }
    if (check_unique(p, names, s->npids, "PID in <swarm>") < 0)
      goto out;
  }
  if (check_unique(p, hashes, out->nswarms, "swarm info-hash") < 0)
    goto out;
  rc = 0;
out:
  free(names);
  free(hashes);
  free(hex);
  return rc;
}

static int build_capability(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_capability_msg *out     = outp;
  static const char *const   kids[]  = {"server", NULL};
  static const char *const   attrs[] = {"pid", "kind", "addr", "port", "capacity-kbps", NULL};
  size_t                     n;
  if (proto_xml_check_attrs(p, root, NULL) < 0 || proto_xml_check_children(p, root, kids, "server", &n) < 0)
    return -1;
  if (n > P4P_XML_MAX_SERVERS)
    return proto_xml_fail_at(p, root, "<capability> has %zu servers, at most %d allowed", n, P4P_XML_MAX_SERVERS);
  if (n == 0)
    return 0;
  out->servers = calloc(n, sizeof *out->servers);
  if (!out->servers)
    return proto_xml_fail_at(p, root, "out of memory");
  for (const xmlNode *c = root->children; c; c = c->next) {
    if (!proto_xml_is_el(c, "server"))
      continue;
    struct p4p_server *s = &out->servers[out->nservers];
    uint64_t           port, cap;
    if (proto_xml_check_children(p, c, NULL, NULL, NULL) < 0 || proto_xml_check_attrs(p, c, attrs) < 0 || proto_xml_attr_name(p, c, "pid", s->pid, 1) < 0 ||
        proto_xml_get_attr(p, c, "kind", s->kind, sizeof s->kind, 1) < 0)
      return -1;
    if (!proto_kind_valid(s->kind))
      return proto_xml_fail_at(p, c, "<server kind=\"%s\">: kind is \"cache\" or \"seed\"", s->kind);
    if (proto_xml_attr_addr(p, c, "addr", s->addr, 1) < 0 || proto_xml_attr_uint(p, c, "port", 1, 65535, &port, 1) < 0 ||
        proto_xml_attr_uint(p, c, "capacity-kbps", 0, UINT64_MAX, &cap, 1) < 0)
      return -1;
    s->port          = (uint16_t)port;
    s->capacity_kbps = cap;
    out->nservers++;
  }
  return 0;
}

static int build_capability_request(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_capability_request *out     = outp;
  static const char *const       attrs[] = {"info-hash", "pid", "count", NULL};
  uint64_t                       count;
  if (proto_xml_check_children(p, root, NULL, NULL, NULL) < 0 || proto_xml_check_attrs(p, root, attrs) < 0 ||
      proto_xml_attr_hash(p, root, out->info_hash, 1) < 0 || proto_xml_attr_name(p, root, "pid", out->pid, 0) < 0 ||
      proto_xml_attr_uint(p, root, "count", 1, P4P_XML_MAX_SERVERS, &count, 1) < 0)
    return -1;
  out->count = (size_t)count;
  return 0;
}

/* Cut s to fit in size bytes without splitting a UTF-8 sequence. */
static void copy_utf8_truncated(char *dst, size_t size, const char *s) {
  size_t l = strlen(s);
  if (l >= size) {
    l = size - 1;
    while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80)
      l--;
  }
  memcpy(dst, s, l);
  dst[l] = '\0';
}

static int build_error(struct xml_parse_ctx *p, const xmlNode *root, void *outp) {
  struct p4p_error_msg    *out     = outp;
  static const char *const attrs[] = {"status", NULL};
  uint64_t                 status;
  if (proto_xml_check_attrs(p, root, attrs) < 0 || proto_xml_attr_uint(p, root, "status", 400, 599, &status, 1) < 0)
    return -1;
  out->status = (int)status;
  char *t     = proto_xml_leaf_text(p, root);
  if (!t)
    return -1;
  copy_utf8_truncated(out->text, sizeof out->text, t);
  free(t);
  /* the cut may end on blanks the text had inside; trim them as the ends
   * were, so that the text reads back the same once written */
  size_t l = strlen(out->text);
  while (l > 0 && strchr(" \t\r\n", out->text[l - 1]))
    out->text[--l] = '\0';
  return 0;
}

/* ------------------------------------------------------------------ */
/* entry points                                                        */

typedef int (*build_fn)(struct xml_parse_ctx *, const xmlNode *, void *);
typedef void (*free_fn)(void *);

static const struct kind_info {
  const char         *root;
  enum proto_xml_kind kind;
} kinds[] = {
    {"pidmap", P4P_XML_PIDMAP},         {"lookup-request", P4P_XML_LOOKUP_REQUEST},
    {"lookup", P4P_XML_LOOKUP},         {"costs", P4P_XML_COSTS},
    {"guidance", P4P_XML_GUIDANCE},     {"stats", P4P_XML_STATS},
    {"capability", P4P_XML_CAPABILITY}, {"capability-request", P4P_XML_CAPABILITY_REQUEST},
    {"error", P4P_XML_ERROR},
};

static int parse_doc(const char *buf, size_t len, const char *source, const char *want, build_fn build, free_fn release, void *out, size_t outsize, char *err,
                     size_t errlen) {
  memset(out, 0, outsize);
  if (err && errlen)
    err[0] = '\0';
  locale_t             old = proto_xml_c_locale_enter();
  struct xml_parse_ctx p   = {source ? source : "input", err, errlen, 0, 0};
  xmlParserCtxtPtr     ctxt;
  xmlDocPtr            doc = proto_xml_parse_tree(&p, buf, len, &ctxt);
  int                  rc  = -1;
  if (!doc)
    goto done;
  const xmlNode *root = xmlDocGetRootElement(doc);
  if (!root) {
    proto_xml_fail_line(&p, 0, "document has no root element");
  } else if (!proto_xml_in_ns(root)) {
    if (root->ns && root->ns->href)
      proto_xml_fail_at(&p, root, "root element <%s> is in namespace '%s', expected '%s'", EL_NAME(root), (const char *)root->ns->href, P4P_XML_NS);
    else
      proto_xml_fail_at(&p, root,
                        "root element <%s> has no namespace, expected "
                        "xmlns=\"%s\"",
                        EL_NAME(root), P4P_XML_NS);
  } else if (strcmp(EL_NAME(root), want) != 0) {
    if (strcmp(EL_NAME(root), "error") == 0) {
      /* the other side answered with an error: say what it said */
      struct p4p_error_msg e;
      struct xml_parse_ctx q = {p.source, NULL, 0, 0, 0};
      memset(&e, 0, sizeof e);
      if (build_error(&q, root, &e) == 0)
        proto_xml_fail_at(&p, root, "expected <%s>, got <error status=\"%d\">: %s", want, e.status, e.text);
      else
        proto_xml_fail_at(&p, root, "expected <%s>, got a malformed <error>", want);
    } else {
      proto_xml_fail_at(&p, root, "root element is <%s>, expected <%s>", EL_NAME(root), want);
    }
  } else if (build(&p, root, out) == 0 && !p.failed) {
    rc = 0;
  }
  if (rc < 0) {
    release(out);
    memset(out, 0, outsize);
  }
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
done:
  proto_xml_c_locale_leave(old);
  return rc;
}

/* messages without arrays own nothing */
static void proto_capability_request_free(struct p4p_capability_request *m) { (void)m; }

static void proto_error_msg_free(struct p4p_error_msg *m) { (void)m; }

#define DEFINE_PARSE(kind, type, root, freefn)                                                                                                                 \
  static void release_##kind(void *m) { freefn((type *)m); }                                                                                                   \
  int         proto_xml_parse_##kind(const char *buf, size_t len, const char *source, type *out, char *err, size_t errlen) {                                   \
            return parse_doc(buf, len, source, root, build_##kind, release_##kind, out, sizeof *out, err, errlen);                                             \
  }

DEFINE_PARSE(pidmap, struct p4p_pidmap_msg, "pidmap", proto_pidmap_msg_free)
DEFINE_PARSE(lookup_request, struct p4p_lookup_request, "lookup-request", proto_lookup_request_free)
DEFINE_PARSE(lookup, struct p4p_lookup_msg, "lookup", proto_lookup_msg_free)
DEFINE_PARSE(costs, struct p4p_costs_msg, "costs", proto_costs_msg_free)
DEFINE_PARSE(guidance, struct p4p_guidance_msg, "guidance", proto_guidance_msg_free)
DEFINE_PARSE(stats, struct p4p_stats_msg, "stats", proto_stats_msg_free)
DEFINE_PARSE(capability, struct p4p_capability_msg, "capability", proto_capability_msg_free)
DEFINE_PARSE(capability_request, struct p4p_capability_request, "capability-request", proto_capability_request_free)
DEFINE_PARSE(error, struct p4p_error_msg, "error", proto_error_msg_free)

enum proto_xml_kind proto_xml_kind_of(const char *buf, size_t len) {
  locale_t             old = proto_xml_c_locale_enter();
  struct xml_parse_ctx p   = {"input", NULL, 0, 0, 0};
  xmlParserCtxtPtr     ctxt;
  xmlDocPtr            doc = proto_xml_parse_tree(&p, buf, len, &ctxt);
  enum proto_xml_kind  k   = P4P_XML_UNKNOWN;
  if (doc) {
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root && proto_xml_in_ns(root))
      for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(EL_NAME(root), kinds[i].root) == 0)
          k = kinds[i].kind;
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
  }
  proto_xml_c_locale_leave(old);
  return k;
}
