/* The iTracker's limits against hostile clients: provider-file statements
 * only the daemon reads (docs/ITRACKER.md, "Hostile clients").
 *
 * They are taken out of the file's text before the shared provider parser
 * (p4p_provider_parse) sees it, each line blanked so line numbers stay
 * right for both.  max-connections moved here from the shared parser: its
 * default had to change with the connection guard. */
#ifndef ITRACKER_CLIENT_LIMITS_H
#define ITRACKER_CLIENT_LIMITS_H

#include <stddef.h>

struct itr_limits {
  unsigned max_connections;            /* guard evicts above this */
  unsigned max_connections_per_ip;     /* MHD refuses above this */
  unsigned request_deadline_s;         /* headers + body within */
  unsigned response_deadline_s;        /* answer taken within */
  size_t   max_body_total;             /* request bodies buffered at once */
  size_t   max_swarms_per_client;      /* statistics table share */
  size_t   max_allocations;            /* (swarm, server) pairs in all */
  size_t   max_allocations_per_client;
  unsigned allocation_expiry_s;        /* forget pairs not asked for since */
};

void itr_limits_defaults(struct itr_limits *l);

/* Parse and blank the limit statements in text (len bytes, writable).
 * 0, or -1 with "source:line: reason" in err. */
int itr_limits_extract(char *text, size_t len, const char *source,
                       struct itr_limits *l, char *err, size_t errlen);

#endif
