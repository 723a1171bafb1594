/* Who is asking, and how much of a shared table they hold.
 *
 * A client is its access token when the provider file has client lines
 * (every request is then authenticated), else its address: an IPv4
 * address, or an IPv6 /64 (one subscriber's usual assignment, so hopping
 * addresses inside it gains nothing).  A quota_table counts entries per
 * client for one table (swarm statistics, server allocations); its owner
 * serializes access. */
#ifndef ITRACKER_QUOTA_H
#define ITRACKER_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "provider/provider.h"

enum itr_client_kind { ITR_CLIENT_TOKEN = 1, ITR_CLIENT_ADDR = 2 };

struct itr_client {
  uint8_t kind;    /* enum itr_client_kind */
  uint8_t key[16]; /* token: client index; address: IPv6 or v4-mapped */
};

void itr_client_token(struct itr_client *c, size_t client_index);
/* 0, or -1 for an address family other than IPv4/IPv6. */
int itr_client_address(struct itr_client *c, const struct sockaddr *sa);
int itr_client_equal(const struct itr_client *a, const struct itr_client *b);
/* "client NAME" or "address A" (IPv6: "address P::/64"), for messages. */
void itr_client_describe(const struct itr_client *c, const struct prov_config *pr, char *buf, size_t len);

struct quota_node;

struct quota_table {
  size_t   nbuckets; /* power of two */
  uint64_t seed;     /* keyed hash: addresses are chosen by
                        the clients */
  struct quota_node **buckets;
};

/* 0, or -1 when out of memory. */
int    quota_init(struct quota_table *q, size_t expected_clients);
void   quota_free(struct quota_table *q);
size_t quota_count(const struct quota_table *q, const struct itr_client *c);
/* Count n more entries for c.  0, or -1 when out of memory (unchanged). */
int quota_add(struct quota_table *q, const struct itr_client *c, size_t n);
/* n fewer; a client's record goes when its count reaches 0. */
void quota_sub(struct quota_table *q, const struct itr_client *c, size_t n);

#endif
