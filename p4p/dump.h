/* dump: /stats?mode=p4p_dump, what the tracker has loaded (docs/TRACKER.md):
 * the PID map (PIDs with provider, ASID, LOC and their per-PID counters;
 * the address ranges as CIDR prefixes), and the matrices in use (default
 * and per swarm), each row as its heaviest entries.  Bounded: at most
 * DUMP_MAX_PREFIXES prefix lines, DUMP_MAX_SWARMS swarm matrices and
 * DUMP_MAX_ROW_ENTRIES entries per row, and never more than the caller's
 * buffer (a "truncated" line says so); what is left out is counted. */
#ifndef P4P_DUMP_H
#define P4P_DUMP_H

#include <stddef.h>

#define DUMP_MAX_PREFIXES    20000
#define DUMP_MAX_SWARMS      100
#define DUMP_MAX_ROW_ENTRIES 32

struct p4p_state;
struct p4p_provider_view;

size_t p4p_dump_write(const struct p4p_state *s, const struct p4p_provider_view *pv, size_t npv, char *out, size_t cap);

#endif
