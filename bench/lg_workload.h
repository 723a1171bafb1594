/* Workload model of the load generator: who the peers are, which swarm each
 * belongs to, which address it announces from, and how requests pick swarms.
 * Everything is a pure function of (parameters, peer index), so two runs with
 * the same parameters talk about the same peers: a warm-up in one process and
 * a timed HTTP run in another fill and hit the same swarms. */
#ifndef LG_WORKLOAD_H
#define LG_WORKLOAD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Peers are spread over this many address regions; region r of IPv4 is
 * 127.(16r..16r+15).0.0/12 and of IPv6 fd00:1::r000:0:0:0/68.  The PID map
 * generator (gen_p4p_files.py) gives each region its own PID. */
#define LG_REGIONS   16
#define LG_MAX_PEERS ((uint64_t)LG_REGIONS * ((1u << 20) - 512))

struct lg_rng {
  uint64_t state;
};

struct lg_workload {
  int      family;          /* AF_INET or AF_INET6 */
  uint32_t swarms;          /* number of swarms */
  uint32_t peers_per_swarm; /* every swarm has this many peers */
  double   seeder_share;    /* fraction of peers announcing left=0 */
  uint32_t numwant;
  double   zipf_exponent; /* request popularity of swarm rank k ~ 1/(k+1)^s */
  uint32_t scrape_every;  /* one scrape per this many announces (0: none) */
  double  *swarm_cdf;     /* cumulative popularity, swarms entries */
};

uint64_t lg_rng_next(struct lg_rng *rng);
double   lg_rng_unit(struct lg_rng *rng); /* uniform in [0,1) */

int  lg_workload_init(struct lg_workload *w, char *err, size_t errlen);
void lg_workload_free(struct lg_workload *w);

uint64_t lg_peer_count(const struct lg_workload *w);
uint32_t lg_peer_swarm(const struct lg_workload *w, uint64_t peer);
unsigned lg_peer_region(uint64_t peer);
/* the peer's own source address, port 0, in *ss; returns its length */
socklen_t lg_peer_addr(const struct lg_workload *w, uint64_t peer, struct sockaddr_storage *ss);
uint16_t  lg_peer_port(uint64_t peer);
void      lg_peer_id(uint64_t peer, uint8_t id[20]);
int       lg_peer_is_seeder(const struct lg_workload *w, uint64_t peer);
void      lg_swarm_hash(uint32_t swarm, uint8_t hash[20]);

/* region of a raw address as returned in a compact peer list (4 or 16 bytes),
 * or -1 when the address is not one the generator hands out */
int lg_raw_addr_region(const uint8_t *addr, size_t len);

/* a request target: swarm by popularity, then a peer of it uniformly */
uint64_t lg_pick_peer(const struct lg_workload *w, struct lg_rng *rng);

#endif
