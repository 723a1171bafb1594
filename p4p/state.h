/* state: the snapshot the announce path reads.
 *
 * One immutable struct holds everything selection needs (PID map, guidance
 * resolved against that map, the random fraction).  A new snapshot is built
 * off the announce path and published with one atomic pointer store; readers
 * load the pointer and never lock.  A replaced snapshot is retired, not
 * freed: it is freed only after a grace period far longer than any announce
 * (the access list does the same), so a reader that loaded it just before
 * the swap still reads valid memory. */
#ifndef P4P_STATE_H
#define P4P_STATE_H

#include <stdint.h>
#include <time.h>

#include "proto/msg.h"

struct pidmap;
struct guidance;
struct p4p_pidstats;

/* A provider server (cache, seed) offered to the provider's own peers. */
struct p4p_cap_server {
  uint8_t  addr[16];
  uint16_t port;
  uint16_t slot; /* its PID */
};

/* One source of P4P data: the local files, or a provider's portal. */
struct p4p_provider_info {
  char                   name[P4P_NAME_MAX];
  uint16_t               first, last; /* its PID slots; 0, 0: none */
  size_t                 nservers;
  struct p4p_cap_server *servers;
  char                   refused[256]; /* why its data is left out ("": it is in, or it has none) */
};

struct p4p_state {
  uint64_t                  gen;              /* 1, 2, ... per publish */
  int                       enabled;          /* p4p.enable: counted even while no source has data */
  struct pidmap            *map;              /* NULL: P4P off, stock behaviour */
  struct guidance          *guidance;         /* NULL: no guidance */
  double                    random_fraction;  /* epsilon in [0, 1] */
  double                    intra_share;      /* guided share kept inside the requester's provider */
  unsigned                  capability_peers; /* provider servers per answer, at most */
  size_t                    nproviders;
  size_t                    local_sources; /* 1 when providers[0] is the local files */
  struct p4p_provider_info *providers;     /* indexed like p4p_pidmap_provider_of() */
  char                      map_version[P4P_NAME_MAX];
  char                      guidance_version[P4P_NAME_MAX];
  struct p4p_pidstats      *pidstats;   /* per-PID counters of this map (shared), may be NULL */
  time_t                    map_loaded; /* when the data was read */
  time_t                    guidance_loaded;
  /* retirement list, owned by state.c */
  struct p4p_state *retired_next;
  time_t            retired_at;
};

/* Takes ownership of s (and of its map reference and guidance). */
void p4p_state_publish(struct p4p_state *s);
/* The current snapshot; NULL before the first publish. */
const struct p4p_state *p4p_state_current(void);
/* Frees retired snapshots older than grace_seconds (all when < 0). */
void p4p_state_collect(time_t now, int grace_seconds);
/* Retired snapshots not yet freed (memory held for readers; tests). */
size_t p4p_state_retired(void);
/* Frees everything, the current snapshot included (shutdown, tests). */
void p4p_state_shutdown(void);

void p4p_state_free(struct p4p_state *s);

#endif
