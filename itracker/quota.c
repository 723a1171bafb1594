/* Client identity and per-client entry counts (quota.h). */
#include "quota.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct quota_node {
  struct itr_client  who;
  size_t             count;
  struct quota_node *next;
};

void itr_client_token(struct itr_client *c, size_t client_index) {
  memset(c, 0, sizeof *c);
  c->kind    = ITR_CLIENT_TOKEN;
  uint64_t v = client_index;
  memcpy(c->key, &v, sizeof v);
}

int itr_client_address(struct itr_client *c, const struct sockaddr *sa) {
  memset(c, 0, sizeof *c);
  c->kind = ITR_CLIENT_ADDR;
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    c->key[10] = c->key[11] = 0xff; /* v4-mapped: one key space */
    memcpy(c->key + 12, &v4->sin_addr, 4);
    return 0;
  }
  if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
    memcpy(c->key, &v6->sin6_addr, 16);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(c->key, mapped, sizeof mapped))
      memset(c->key + 8, 0, 8); /* a native IPv6 client is its /64 */
    return 0;
  }
  return -1;
}

int itr_client_equal(const struct itr_client *a, const struct itr_client *b) { return a->kind == b->kind && !memcmp(a->key, b->key, sizeof a->key); }

void itr_client_describe(const struct itr_client *c, const struct prov_config *pr, char *buf, size_t len) {
  if (c->kind == ITR_CLIENT_TOKEN) {
    uint64_t i;
    memcpy(&i, c->key, sizeof i);
    snprintf(buf, len, "client %s", i < pr->nclients ? pr->clients[i].name : "?");
    return;
  }
  char                 text[INET6_ADDRSTRLEN];
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!memcmp(c->key, mapped, sizeof mapped)) {
    inet_ntop(AF_INET, c->key + 12, text, sizeof text);
    snprintf(buf, len, "address %s", text);
  } else {
    inet_ntop(AF_INET6, c->key, text, sizeof text);
    snprintf(buf, len, "address %s/64", text);
  }
}

static size_t bucket_of(const struct quota_table *q, const struct itr_client *c) {
  /* FNV-1a from a secret start: clients cannot aim at one chain */
  uint64_t h = 14695981039346656037ull ^ q->seed;
  h          = (h ^ c->kind) * 1099511628211ull;
  for (size_t i = 0; i < sizeof c->key; i++)
    h = (h ^ c->key[i]) * 1099511628211ull;
  return (size_t)(h ^ (h >> 32)) & (q->nbuckets - 1);
}

int quota_init(struct quota_table *q, size_t expected_clients) {
  memset(q, 0, sizeof *q);
  q->nbuckets = 16;
  while (q->nbuckets < expected_clients && q->nbuckets < (1u << 16))
    q->nbuckets <<= 1;
  if (getrandom(&q->seed, sizeof q->seed, GRND_NONBLOCK) != sizeof q->seed)
    q->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)q;
  q->buckets = calloc(q->nbuckets, sizeof *q->buckets);
  return q->buckets ? 0 : -1;
}

void quota_free(struct quota_table *q) {
  for (size_t b = 0; q->buckets && b < q->nbuckets; b++)
    while (q->buckets[b]) {
      struct quota_node *n = q->buckets[b];
      q->buckets[b]        = n->next;
      free(n);
    }
  free(q->buckets);
  memset(q, 0, sizeof *q);
}

size_t quota_count(const struct quota_table *q, const struct itr_client *c) {
  for (struct quota_node *n = q->buckets[bucket_of(q, c)]; n; n = n->next)
    if (itr_client_equal(&n->who, c))
      return n->count;
  return 0;
}

int quota_add(struct quota_table *q, const struct itr_client *c, size_t n) {
  struct quota_node **head = &q->buckets[bucket_of(q, c)];
  for (struct quota_node *k = *head; k; k = k->next)
    if (itr_client_equal(&k->who, c)) {
      k->count += n;
      return 0;
    }
  if (n == 0)
    return 0;
  struct quota_node *k = malloc(sizeof *k);
  if (!k)
    return -1;
  k->who   = *c;
  k->count = n;
  k->next  = *head;
  *head    = k;
  return 0;
}

void quota_sub(struct quota_table *q, const struct itr_client *c, size_t n) {
  for (struct quota_node **pk = &q->buckets[bucket_of(q, c)]; *pk; pk = &(*pk)->next) {
    struct quota_node *k = *pk;
    if (!itr_client_equal(&k->who, c))
      continue;
    k->count = k->count > n ? k->count - n : 0;
    if (k->count == 0) {
      *pk = k->next;
      free(k);
    }
    return;
  }
}
