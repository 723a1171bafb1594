/* dump: the loaded data, for operators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump.h"
#include "guidance.h"
#include "outbuf.h"
#include "pidmap.h"
#include "pidstats.h"
#include "proto/text.h"
#include "provider_view.h"
#include "state.h"

typedef unsigned __int128 u128;

static u128 from_bytes(const uint8_t b[16]) {
  u128 v = 0;
  for (int i = 0; i < 16; ++i)
    v = v << 8 | b[i];
  return v;
}

static void to_bytes(u128 v, uint8_t b[16]) {
  for (int i = 15; i >= 0; --i, v >>= 8)
    b[i] = (uint8_t)v;
}

/* Writes the range [lo, hi] as the fewest CIDR prefixes (the flattened map
 * keeps ranges; nested prefixes of other PIDs cut holes into them).
 * Returns the prefixes written; stops after `budget`. */
static size_t range_prefixes(struct p4p_outbuf *o, u128 lo, u128 hi, const char *pid, size_t budget) {
  size_t n = 0;
  for (;;) {
    unsigned k = 0; /* the block is 2^k addresses: the largest aligned one that fits */
    while (k < 128) {
      if (k + 1 == 128) {
        if (lo == 0 && hi == ~(u128)0)
          k = 128; /* ::/0 */
        break;
      }
      u128 size = (u128)1 << (k + 1);
      if ((lo & (size - 1)) || lo + (size - 1) > hi) /* aligned: lo + size - 1 cannot wrap */
        break;
      ++k;
    }
    if (n == budget)
      return n;
    struct p4p_prefix p = {.bits = (uint8_t)(128 - k)};
    char              text[P4P_ADDR_TEXT_MAX];
    to_bytes(lo, p.addr);
    proto_prefix_format(&p, text);
    p4p_out_printf(o, "prefix %s pid %s\n", text, pid);
    ++n;
    u128 last = k == 128 ? ~(u128)0 : lo + (((u128)1 << k) - 1);
    if (last >= hi)
      return n;
    lo = last + 1;
  }
}

struct entry {
  float    w;
  uint16_t slot;
};

static int heavier_first(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return x->w != y->w ? (x->w < y->w ? 1 : -1) : x->slot - y->slot;
}

static void write_row(struct p4p_outbuf *o, const struct pidmap *map, uint16_t from, const struct select_row *row) {
  struct entry e[PIDMAP_MAX_PIDS];
  size_t       n = 0;
  for (size_t j = 0; j < row->n && n < PIDMAP_MAX_PIDS; ++j) /* sparse: weights > 0 only */
    e[n++] = (struct entry){row->e[j].w, row->e[j].slot};
  qsort(e, n, sizeof *e, heavier_first);
  p4p_out_printf(o, "row %s:", p4p_pidmap_pid_name(map, from));
  for (size_t i = 0; i < n && i < DUMP_MAX_ROW_ENTRIES; ++i)
    p4p_out_printf(o, " %s=%.4g", p4p_pidmap_pid_name(map, e[i].slot), (double)e[i].w);
  if (n > DUMP_MAX_ROW_ENTRIES)
    p4p_out_printf(o, " (+%zu smaller)", n - DUMP_MAX_ROW_ENTRIES);
  p4p_out_printf(o, "\n");
}

static const char *provider_name(const struct p4p_state *s, uint16_t slot) {
  uint16_t pi = p4p_pidmap_provider_of(s->map, slot);
  return pi < s->nproviders ? s->providers[pi].name : "-";
}

size_t p4p_dump_write(const struct p4p_state *s, const struct p4p_provider_view *pv, size_t npv, char *out, size_t cap) {
  struct p4p_outbuf o;
  time_t            now   = time(NULL);
  static const char cut[] = "dump truncated: the rest did not fit\n";
  if (cap < sizeof cut)
    return 0;
  p4p_out_init(&o, out, cap - sizeof cut);

  p4p_out_printf(&o, "p4p dump\nsnapshot generation: %lu\np4p enabled: %s\n", s ? (unsigned long)s->gen : 0UL, s && s->enabled ? "yes" : "no");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, "provider %s: %s, url %s%s\n", pv[i].cfg->name,
                   p4p_provider_state_of(&pv[i]) == P4P_PROVIDER_REFUSED   ? "refused"
                   : p4p_provider_state_of(&pv[i]) == P4P_PROVIDER_IN_USE  ? "in use"
                   : p4p_provider_state_of(&pv[i]) == P4P_PROVIDER_WAITING ? "waiting for the next snapshot"
                                                                           : "no data",
                   pv[i].url, pv[i].cfg->legacy ? " (legacy)" : "");
  if (!s || !s->map) {
    p4p_out_printf(&o, "pidmap: none (stock selection)\nend\n");
    return o.n;
  }
  const struct pidmap *map = s->map;
  size_t               P   = p4p_pidmap_npids(map);
  p4p_out_printf(&o, "pidmap version: %s\npidmap pids: %zu\npidmap ranges: %zu\npidmap age seconds: %ld\n", s->map_version[0] ? s->map_version : "-", P,
                 p4p_pidmap_nranges(map), (long)(now - s->map_loaded));
  if (s->pidstats)
    p4p_out_printf(&o, "counters since seconds: %ld\n", (long)(now - s->pidstats->since));

  /* PIDs with their counters; slot 0 is the requesters in no PID */
  for (size_t slot = 0; slot <= P; ++slot) {
    const struct p4p_pid_counter *c    = s->pidstats && slot <= s->pidstats->npids ? &s->pidstats->slot[slot] : NULL;
    unsigned long                 v[4] = {0, 0, 0, 0};
    if (c) {
      v[0] = atomic_load_explicit(&c->announces, memory_order_relaxed);
      v[1] = atomic_load_explicit(&c->answers, memory_order_relaxed);
      v[2] = atomic_load_explicit(&c->peers, memory_order_relaxed);
      v[3] = atomic_load_explicit(&c->peers_in_pid, memory_order_relaxed);
    }
    if (slot == 0)
      p4p_out_printf(&o, "pid 0 (no pid) announces %lu\n", v[0]);
    else
      p4p_out_printf(&o, "pid %zu %s provider %s asid %u loc %s announces %lu answers %lu peers %lu peers_same_pid %lu\n", slot,
                     p4p_pidmap_pid_name(map, (uint16_t)slot), provider_name(s, (uint16_t)slot), p4p_pidmap_pid_asid(map, (uint16_t)slot),
                     *p4p_pidmap_pid_loc(map, (uint16_t)slot) ? p4p_pidmap_pid_loc(map, (uint16_t)slot) : "-", v[0], v[1], v[2], v[3]);
  }

  /* address ranges, in address order, as CIDR prefixes */
  size_t shown = 0, left_out = 0;
  for (size_t i = 0; i < p4p_pidmap_nranges(map) && !o.full; ++i) {
    uint8_t  a[16], b[16];
    uint16_t slot;
    p4p_pidmap_range(map, i, a, b, &slot);
    if (shown == DUMP_MAX_PREFIXES) {
      ++left_out;
      continue;
    }
    shown += range_prefixes(&o, from_bytes(a), from_bytes(b), p4p_pidmap_pid_name(map, slot), DUMP_MAX_PREFIXES - shown);
  }
  if (left_out)
    p4p_out_printf(&o, "prefixes not shown: the ranges of %zu more\n", left_out);

  /* matrices in use */
  const struct guidance *g = s->guidance;
  if (g && p4p_guidance_has_default(g)) {
    p4p_out_printf(&o, "matrix default (guidance version %s)\n", s->guidance_version[0] ? s->guidance_version : "-");
    for (uint16_t from = 1; from <= P && !o.full; ++from) {
      const struct select_row *row = p4p_guidance_default_row(g, from);
      if (row)
        write_row(&o, map, from, row);
    }
  } else
    p4p_out_printf(&o, "matrix default: none\n");
  size_t nswarms = g ? p4p_guidance_nswarms(g) : 0;
  for (size_t k = 0; k < nswarms && k < DUMP_MAX_SWARMS && !o.full; ++k) {
    const uint8_t *hash = p4p_guidance_swarm_hash(g, k);
    char           hex[2 * P4P_HASH_SIZE + 1];
    proto_hash_format_hex(hash, hex);
    p4p_out_printf(&o, "matrix swarm %s\n", hex);
    for (uint16_t from = 1; from <= P && !o.full; ++from) {
      enum guidance_kind       kind;
      const struct select_row *row = p4p_guidance_row(g, hash, from, &kind);
      if (row && kind == GUIDANCE_SWARM)
        write_row(&o, map, from, row);
    }
  }
  if (nswarms > DUMP_MAX_SWARMS)
    p4p_out_printf(&o, "swarm matrices not shown: %zu\n", nswarms - DUMP_MAX_SWARMS);
  p4p_out_printf(&o, "end\n");
  if (o.full) {
    memcpy(out + o.n, cut, sizeof cut);
    return o.n + sizeof cut - 1;
  }
  return o.n;
}
