/* heap: the simulator's two event queues.
 *
 * evq: timed events (type, argument) in a binary heap ordered by time, then
 * by insertion sequence, so events at the same instant run in the order
 * they were scheduled and a run is deterministic.
 * idxheap: one completion time per flow id with decrease/increase-key,
 * because a rate solve moves the completion time of many flows at once. */
#ifndef SIM_HEAP_H
#define SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct sim_event {
  double   time;
  uint64_t seq;
  int      type;
  long     arg;
};

struct evq {
  struct sim_event *v;
  size_t            n, cap;
  uint64_t          next_seq;
};

void evq_init(struct evq *q);
void evq_free(struct evq *q);
int  evq_push(struct evq *q, double time, int type, long arg); /* 0 or -1 (memory) */
/* Removes the earliest event into *ev; 0 when empty. */
int    evq_pop(struct evq *q, struct sim_event *ev);
double evq_peek_time(const struct evq *q); /* INFINITY when empty */

struct idxheap {
  uint32_t *heap; /* ids */
  long     *pos;  /* pos[id] in heap, -1 when absent */
  double   *key;
  size_t    n, cap_ids;
};

void idxheap_init(struct idxheap *h);
void idxheap_free(struct idxheap *h);
/* Sets id's key (inserting it if absent).  0 or -1 (memory). */
int  idxheap_set(struct idxheap *h, uint32_t id, double key);
void idxheap_remove(struct idxheap *h, uint32_t id);
/* Smallest key's id, or -1 when empty. */
long   idxheap_top(const struct idxheap *h);
double idxheap_top_key(const struct idxheap *h); /* INFINITY when empty */

#endif
