/* pidmap: longest-prefix match by flattening.
 *
 * Prefixes nest (a /16 inside a /8) and may overlap across PIDs; the longest
 * one wins.  Instead of walking a trie on every announce, p4p_pidmap_finish()
 * turns the prefix set into sorted, disjoint address ranges, each carrying
 * the slot of the longest prefix covering it.  A lookup is then one binary
 * search over 128-bit range starts: O(log ranges), no pointer chasing, and
 * the ranges of a map with a few thousand prefixes fit in L2. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p4p.h"
#include "pidmap.h"

typedef unsigned __int128 u128;

struct pid_info {
  char     name[PIDMAP_NAME_MAX];
  uint32_t asid;
  char     loc[P4P_NAME_MAX];
  uint16_t provider;
};

struct prefix_in {
  u128     start, end;
  uint8_t  bits;
  uint16_t slot;
};

struct pidmap {
  atomic_int       refs;
  uint64_t         id; /* unique per map ever built: guards the lookup cache */
  size_t           npids;
  struct pid_info *pids; /* [npids + 1], slot 0 unused */
  /* while building */
  struct prefix_in *in;
  size_t            nin, cap;
  /* after p4p_pidmap_finish: ranges sorted by start, disjoint */
  u128     *starts;
  u128     *ends;
  uint16_t *slots;
  size_t    nranges;
  size_t    shadowed;
};

/* 16 address bytes (network order) as one number: two loads, two swaps. */
static u128 u128_from_bytes(const uint8_t b[16]) {
  uint64_t hi, lo;
  memcpy(&hi, b, 8);
  memcpy(&lo, b + 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  hi = __builtin_bswap64(hi);
  lo = __builtin_bswap64(lo);
#endif
  return (u128)hi << 64 | lo;
}

static u128 prefix_mask(unsigned bits) { return bits == 0 ? 0 : ~(u128)0 << (128 - bits); }

struct pidmap *p4p_pidmap_new(size_t npids) {
  struct pidmap *map;
  if (npids > PIDMAP_MAX_PIDS || !(map = calloc(1, sizeof *map)))
    return NULL;
  if (!(map->pids = calloc(npids + 1, sizeof *map->pids))) {
    free(map);
    return NULL;
  }
  static atomic_uint_fast64_t next_id = 1;
  atomic_init(&map->refs, 1);
  map->id    = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
  map->npids = npids;
  return map;
}

int p4p_pidmap_set_pid(struct pidmap *map, uint16_t slot, const char *name, uint32_t asid, const char *loc) {
  if (slot == 0 || slot > map->npids || strlen(name) >= sizeof map->pids[slot].name)
    return -1;
  snprintf(map->pids[slot].name, sizeof map->pids[slot].name, "%s", name);
  snprintf(map->pids[slot].loc, sizeof map->pids[slot].loc, "%s", loc ? loc : "");
  map->pids[slot].asid = asid;
  return 0;
}

int p4p_pidmap_set_provider(struct pidmap *map, uint16_t slot, uint16_t provider) {
  if (slot == 0 || slot > map->npids)
    return -1;
  map->pids[slot].provider = provider;
  return 0;
}

int p4p_pidmap_add_prefix(struct pidmap *map, const uint8_t addr[16], unsigned bits, uint16_t slot) {
  if (bits > 128 || slot == 0 || slot > map->npids || map->nin >= PIDMAP_MAX_PREFIXES)
    return -1;
  if (map->nin == map->cap) {
    size_t            cap = map->cap ? 2 * map->cap : 16;
    struct prefix_in *in  = realloc(map->in, cap * sizeof *in);
    if (!in)
      return -1;
    map->in  = in;
    map->cap = cap;
  }
  u128              mask = prefix_mask(bits);
  struct prefix_in *p    = &map->in[map->nin++];
  p->start               = u128_from_bytes(addr) & mask;
  p->end                 = p->start | ~mask;
  p->bits                = (uint8_t)bits;
  p->slot                = slot;
  return 0;
}

/* Order in which an outer prefix comes before the prefixes nested in it. */
static int prefix_cmp(const void *a, const void *b) {
  const struct prefix_in *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  if (x->bits != y->bits)
    return (int)x->bits - (int)y->bits;
  return (int)x->slot - (int)y->slot;
}

static int emit_range(struct pidmap *map, u128 start, u128 end, uint16_t slot) {
  size_t n = map->nranges;
  /* Neighbours with the same PID become one range. */
  if (n && map->slots[n - 1] == slot && map->ends[n - 1] + 1 == start) {
    map->ends[n - 1] = end;
    return 0;
  }
  map->starts[n] = start;
  map->ends[n]   = end;
  map->slots[n]  = slot;
  map->nranges++;
  return 0;
}

int p4p_pidmap_finish(struct pidmap *map, char *err, size_t errlen) {
  /* Each prefix contributes at most two range boundaries, so 2n+1 ranges. */
  size_t            max = 2 * map->nin + 1;
  struct prefix_in *stack;
  size_t            depth = 0;

  if (map->nin > 1)
    qsort(map->in, map->nin, sizeof *map->in, prefix_cmp);
  /* Equal prefixes sort next to each other, lower slot (earlier provider)
   * first: across providers the first keeps it, within one it is an error. */
  size_t kept = 0;
  for (size_t i = 0; i < map->nin; ++i) {
    if (kept && map->in[i].start == map->in[kept - 1].start && map->in[i].bits == map->in[kept - 1].bits) {
      const struct pid_info *a = &map->pids[map->in[kept - 1].slot], *b = &map->pids[map->in[i].slot];
      if (a->provider == b->provider) {
        snprintf(err, errlen, "prefix given twice (PIDs '%s' and '%s')", a->name, b->name);
        return -1;
      }
      map->shadowed++;
      continue;
    }
    map->in[kept++] = map->in[i];
  }
  map->nin    = kept;

  map->starts = malloc(max * sizeof *map->starts);
  map->ends   = malloc(max * sizeof *map->ends);
  map->slots  = malloc(max * sizeof *map->slots);
  stack       = malloc((map->nin + 1) * sizeof *stack);
  if (!map->starts || !map->ends || !map->slots || !stack) {
    free(stack);
    snprintf(err, errlen, "out of memory building the PID map");
    return -1;
  }

  /* Sweep in address order with a stack of the prefixes enclosing the
   * cursor; the top of the stack is the longest match for the cursor. */
  u128 cursor = 0;
  int  done   = 0; /* cursor ran past the top of the address space */
  for (size_t i = 0; i <= map->nin; ++i) {
    struct prefix_in *next = i < map->nin ? &map->in[i] : NULL;
    while (depth && (!next || stack[depth - 1].end < next->start)) {
      struct prefix_in *top = &stack[--depth];
      if (!done && cursor <= top->end) {
        emit_range(map, cursor, top->end, top->slot);
        if (top->end == ~(u128)0)
          done = 1;
        else
          cursor = top->end + 1;
      }
    }
    if (!next)
      break;
    if (depth && cursor < next->start)
      emit_range(map, cursor, next->start - 1, stack[depth - 1].slot);
    cursor         = next->start;
    stack[depth++] = *next;
  }
  free(stack);
  free(map->in);
  map->in  = NULL;
  map->nin = map->cap = 0;
  return 0;
}

int p4p_pidmap_add_msg(struct pidmap *map, const struct p4p_pidmap_msg *msg, uint16_t first_slot, const char *ns, uint16_t provider, char *err, size_t errlen) {
  char name[PIDMAP_NAME_MAX + 1];
  if (first_slot == 0 || first_slot - 1 + msg->npids > map->npids) {
    snprintf(err, errlen, "%zu PIDs do not fit the map", msg->npids);
    return -1;
  }
  for (size_t i = 0; i < msg->npids; ++i) {
    const struct p4p_pid_entry *pid  = &msg->pids[i];
    uint16_t                    slot = (uint16_t)(first_slot + i);
    if (*ns)
      snprintf(name, sizeof name, "%s/%s", ns, pid->name);
    else
      snprintf(name, sizeof name, "%s", pid->name);
    if (p4p_pidmap_set_pid(map, slot, name, pid->asid, pid->loc)) {
      snprintf(err, errlen, "PID name '%.80s...' is too long (at most %d bytes with its provider's name)", name, PIDMAP_NAME_MAX - 1);
      return -1;
    }
    p4p_pidmap_set_provider(map, slot, provider);
    for (size_t j = 0; j < pid->nprefixes; ++j)
      if (p4p_pidmap_add_prefix(map, pid->prefixes[j].addr, pid->prefixes[j].bits, slot)) {
        snprintf(err, errlen, "PID '%s': bad prefix or too many prefixes", pid->name);
        return -1;
      }
  }
  return 0;
}

struct pidmap *p4p_pidmap_from_msg(const struct p4p_pidmap_msg *msg, char *err, size_t errlen) {
  struct pidmap *map;
  if (msg->npids > PIDMAP_MAX_PIDS) {
    snprintf(err, errlen, "%zu PIDs, at most %d supported", msg->npids, PIDMAP_MAX_PIDS);
    return NULL;
  }
  if (!(map = p4p_pidmap_new(msg->npids))) {
    snprintf(err, errlen, "out of memory building the PID map");
    return NULL;
  }
  if (p4p_pidmap_add_msg(map, msg, 1, "", 0, err, errlen) || p4p_pidmap_finish(map, err, errlen)) {
    p4p_pidmap_unref(map);
    return NULL;
  }
  return map;
}

/* The last lookup of this thread.  An announce looks its requester up three
 * times (counting it, choosing its bucket, choosing its row); the map's id,
 * not its address, says whether the entry is still about this map, since a
 * freed map's address may come back for a new one. */
static _Thread_local uint64_t tl_id;
static _Thread_local uint8_t  tl_addr[16];
static _Thread_local uint16_t tl_slot;

static inline int same16(const uint8_t *a, const uint8_t *b) {
  uint64_t a0, a1, b0, b1;
  memcpy(&a0, a, 8), memcpy(&a1, a + 8, 8), memcpy(&b0, b, 8), memcpy(&b1, b + 8, 8);
  return !((a0 ^ b0) | (a1 ^ b1));
}

uint16_t p4p_pidmap_lookup(const struct pidmap *map, const uint8_t addr[16]) {
  if (tl_id == map->id && same16(tl_addr, addr))
    return tl_slot;
  u128 key      = u128_from_bytes(addr);
  /* lo = the number of ranges with start <= key, without a branch per step
   * (requesters come in no order: each step would be a coin flip for the
   * branch predictor).  Invariant: every start before b is <= key, every
   * start from b + n on is > key. */
  const u128 *b = map->starts;
  size_t      n = map->nranges;
  while (n > 1) {
    size_t half = n / 2;
    b           = b[half] <= key ? b + half : b;
    n -= half;
  }
  size_t lo = (size_t)(b - map->starts) + (map->nranges && *b <= key);
  tl_id     = map->id;
  memcpy(tl_addr, addr, 16);
  tl_slot = lo == 0 || map->ends[lo - 1] < key ? 0 : map->slots[lo - 1];
  return tl_slot;
}

uint16_t p4p_pidmap_lookup_peer(const struct pidmap *map, const uint8_t *peer, size_t compare_size) {
  if (compare_size == P4P_PEER_COMPARE_SIZE4) {
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    /* the thread's last lookup, without building the 16 bytes */
    if (tl_id == map->id && !memcmp(tl_addr, v4mapped, 12) && !memcmp(tl_addr + 12, peer, 4))
      return tl_slot;
    uint8_t addr[16];
    memcpy(addr, v4mapped, 12);
    memcpy(addr + 12, peer, 4);
    return p4p_pidmap_lookup(map, addr);
  }
  return p4p_pidmap_lookup(map, peer);
}

size_t p4p_pidmap_npids(const struct pidmap *map) { return map->npids; }
size_t p4p_pidmap_shadowed(const struct pidmap *map) { return map->shadowed; }

uint16_t p4p_pidmap_provider_of(const struct pidmap *map, uint16_t slot) { return slot && slot <= map->npids ? map->pids[slot].provider : 0; }

int p4p_pidmap_provider_slots(const struct pidmap *map, uint16_t provider, uint16_t *first, uint16_t *last) {
  *first = *last = 0;
  for (size_t s = 1; s <= map->npids; ++s)
    if (map->pids[s].provider == provider) {
      if (!*first)
        *first = (uint16_t)s;
      *last = (uint16_t)s;
    }
  return *first ? 0 : -1;
}
size_t p4p_pidmap_nranges(const struct pidmap *map) { return map->nranges; }

const char *p4p_pidmap_pid_name(const struct pidmap *map, uint16_t slot) { return slot && slot <= map->npids ? map->pids[slot].name : ""; }

uint16_t p4p_pidmap_slot_by_name(const struct pidmap *map, const char *name) {
  for (size_t s = 1; s <= map->npids; ++s)
    if (!strcmp(map->pids[s].name, name))
      return (uint16_t)s;
  return 0;
}

int p4p_pidmap_equal(const struct pidmap *a, const struct pidmap *b) {
  if (!a || !b || a->npids != b->npids || a->nranges != b->nranges)
    return 0;
  for (size_t s = 1; s <= a->npids; ++s)
    if (strcmp(a->pids[s].name, b->pids[s].name) || a->pids[s].asid != b->pids[s].asid || a->pids[s].provider != b->pids[s].provider ||
        strcmp(a->pids[s].loc, b->pids[s].loc))
      return 0;
  return !memcmp(a->starts, b->starts, a->nranges * sizeof *a->starts) && !memcmp(a->ends, b->ends, a->nranges * sizeof *a->ends) &&
         !memcmp(a->slots, b->slots, a->nranges * sizeof *a->slots);
}

struct pidmap *p4p_pidmap_ref(struct pidmap *map) {
  if (map)
    atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed);
  return map;
}

void p4p_pidmap_unref(struct pidmap *map) {
  if (!map || atomic_fetch_sub_explicit(&map->refs, 1, memory_order_acq_rel) != 1)
    return;
  free(map->pids);
  free(map->in);
  free(map->starts);
  free(map->ends);
  free(map->slots);
  free(map);
}

static void u128_to_bytes(u128 v, uint8_t b[16]) {
  for (int i = 15; i >= 0; --i, v >>= 8)
    b[i] = (uint8_t)v;
}

int p4p_pidmap_range(const struct pidmap *map, size_t i, uint8_t start[16], uint8_t end[16], uint16_t *slot) {
  if (i >= map->nranges)
    return -1;
  u128_to_bytes(map->starts[i], start);
  u128_to_bytes(map->ends[i], end);
  *slot = map->slots[i];
  return 0;
}

uint32_t    p4p_pidmap_pid_asid(const struct pidmap *map, uint16_t slot) { return slot && slot <= map->npids ? map->pids[slot].asid : 0; }
const char *p4p_pidmap_pid_loc(const struct pidmap *map, uint16_t slot) { return slot && slot <= map->npids ? map->pids[slot].loc : ""; }
