/* Peers, addresses and popularity of the load generator (see lg_workload.h). */
#include "lg_workload.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, fast, and good enough to pick swarms and peers */
static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t lg_rng_next(struct lg_rng *rng) {
  rng->state += 0x9e3779b97f4a7c15ULL;
  return splitmix64(rng->state);
}

double lg_rng_unit(struct lg_rng *rng) { return (double)(lg_rng_next(rng) >> 11) * 0x1.0p-53; }

int lg_workload_init(struct lg_workload *w, char *err, size_t errlen) {
  if (w->family != AF_INET && w->family != AF_INET6) {
    snprintf(err, errlen, "family must be 4 or 6");
    return -1;
  }
  if (!w->swarms || !w->peers_per_swarm) {
    snprintf(err, errlen, "need at least one swarm of one peer");
    return -1;
  }
  if (lg_peer_count(w) > LG_MAX_PEERS) {
    snprintf(err, errlen, "%llu peers exceed the %llu addresses the generator hands out", (unsigned long long)lg_peer_count(w),
             (unsigned long long)LG_MAX_PEERS);
    return -1;
  }
  if (w->seeder_share < 0 || w->seeder_share > 1) {
    snprintf(err, errlen, "seeder share must lie in [0,1]");
    return -1;
  }
  w->swarm_cdf = malloc(sizeof(double) * w->swarms);
  if (!w->swarm_cdf) {
    snprintf(err, errlen, "out of memory for %u swarms", w->swarms);
    return -1;
  }
  double sum = 0;
  for (uint32_t k = 0; k < w->swarms; k++) {
    sum += pow((double)k + 1.0, -w->zipf_exponent);
    w->swarm_cdf[k] = sum;
  }
  for (uint32_t k = 0; k < w->swarms; k++)
    w->swarm_cdf[k] /= sum;
  w->swarm_cdf[w->swarms - 1] = 1.0; /* guard against rounding below 1 */
  return 0;
}

void lg_workload_free(struct lg_workload *w) {
  free(w->swarm_cdf);
  w->swarm_cdf = NULL;
}

uint64_t lg_peer_count(const struct lg_workload *w) { return (uint64_t)w->swarms * w->peers_per_swarm; }

uint32_t lg_peer_swarm(const struct lg_workload *w, uint64_t peer) { return (uint32_t)(peer / w->peers_per_swarm); }

/* consecutive peers of a swarm land in consecutive regions, so every swarm
 * spans every region evenly */
unsigned lg_peer_region(uint64_t peer) { return (unsigned)(peer % LG_REGIONS); }

/* index inside the region; +256 keeps 127.0.0.1 (the tracker) and the
 * 127.0.0.0/24 neighbourhood free */
static uint32_t peer_host(uint64_t peer) { return (uint32_t)(peer / LG_REGIONS) + 256; }

socklen_t lg_peer_addr(const struct lg_workload *w, uint64_t peer, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  uint32_t region = lg_peer_region(peer), host = peer_host(peer);
  if (w->family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family         = AF_INET;
    sin->sin_addr.s_addr    = htonl((127u << 24) | (region << 20) | host);
    return sizeof(*sin);
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  uint8_t             *a    = sin6->sin6_addr.s6_addr;
  sin6->sin6_family         = AF_INET6;
  a[0]                      = 0xfd;
  a[3]                      = 0x01;
  a[8]                      = (uint8_t)(region << 4);
  a[12]                     = (uint8_t)(host >> 24);
  a[13]                     = (uint8_t)(host >> 16);
  a[14]                     = (uint8_t)(host >> 8);
  a[15]                     = (uint8_t)host;
  return sizeof(*sin6);
}

int lg_raw_addr_region(const uint8_t *addr, size_t len) {
  if (len == 4)
    return addr[0] == 127 ? addr[1] >> 4 : -1;
  if (len == 16) {
    static const uint8_t prefix[8] = {0xfd, 0, 0, 1, 0, 0, 0, 0};
    return memcmp(addr, prefix, 8) ? -1 : addr[8] >> 4;
  }
  return -1;
}

uint16_t lg_peer_port(uint64_t peer) { return (uint16_t)(10000 + peer % 50000); }

void lg_peer_id(uint64_t peer, uint8_t id[20]) {
  /* Azureus-style client prefix, then the peer index in hex; 20 bytes, no NUL */
  char text[21];
  snprintf(text, sizeof text, "-LG0001-%012llx", (unsigned long long)peer);
  memcpy(id, text, 20);
}

int lg_peer_is_seeder(const struct lg_workload *w, uint64_t peer) { return (double)(splitmix64(peer ^ 0x5eed5eedULL) >> 11) * 0x1.0p-53 < w->seeder_share; }

void lg_swarm_hash(uint32_t swarm, uint8_t hash[20]) {
  uint64_t h[3] = {splitmix64(swarm), splitmix64((uint64_t)swarm + (1ULL << 32)), splitmix64((uint64_t)swarm + (2ULL << 32))};
  memcpy(hash, h, 20);
}

uint64_t lg_pick_peer(const struct lg_workload *w, struct lg_rng *rng) {
  double   u  = lg_rng_unit(rng);
  uint32_t lo = 0, hi = w->swarms - 1;
  while (lo < hi) { /* first swarm whose cumulative popularity exceeds u */
    uint32_t mid = lo + (hi - lo) / 2;
    if (w->swarm_cdf[mid] > u)
      hi = mid;
    else
      lo = mid + 1;
  }
  return (uint64_t)lo * w->peers_per_swarm + lg_rng_next(rng) % w->peers_per_swarm;
}
