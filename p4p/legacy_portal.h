/* Yale P4P portal's plain-text protocol (2008-2012 iTracker release):
 * parse its answers into the v1 message structs of msg.h, so the tracker
 * can use legacy portals exactly like our own.
 *
 * Format, as the real server writes it (tests/data/yale-portal/README.md):
 * CRLF lines (a bare LF is accepted too), fields separated by TAB (any run
 * of blanks is accepted), no header line.
 *
 *   GET /pid/map     <pid> <n> <prefix_1> ... <prefix_n>
 *   GET /pdistance   <src> no-reverse <n> <dst_1> <cost_1> ... <dst_n> <cost_n>
 *                    (inc-reverse lines carry <dst> <forward> <reverse>)
 *
 * Both parsers are pure functions of their input, treat it as hostile
 * (caps as the XML parser's, PID names as v1 allows them) and return 0, or
 * -1 with err = "<source>:<line>: <reason>" and *out zeroed.  `version` is
 * the freshness token the portal sent (its X-P4P-PIDMap header); it becomes
 * the message's version, "" when NULL or not a valid v1 version. */
#ifndef P4P_LEGACY_PORTAL_H
#define P4P_LEGACY_PORTAL_H

#include <stddef.h>

#include "proto/msg.h"

/* PID map.  PIDs keep their order; ASID is 0 and LOC "" (the text format
 * has neither).  Prefixes may overlap across PIDs (longest prefix wins in
 * pidmap.h); the same prefix twice, or a PID twice, is an error. */
int p4p_legacy_parse_pidmap(const char *buf, size_t len, const char *source, const char *version, struct p4p_pidmap_msg *out, char *err, size_t errlen);

/* p-distance matrix -> v1 costs.  Yale's costs are integers in which 0
 * "can mean undefined"; v1 has no undefined cost (0 means free).  So:
 *   - an off-diagonal 0, or a pair the answer does not list, is undefined
 *     and becomes the highest cost (100): a pair the provider did not price
 *     is never preferred;
 *   - a diagonal 0 (or missing diagonal) stays 0: same PID, no cost;
 *   - defined costs are scaled by 100 / (largest defined cost), so, as on
 *     our own portal, the costliest priced pair costs 100 and default
 *     weights (exp(-cost/25)) see the same scale from either kind of portal.
 * PIDs are ordered by first appearance (sources, then destinations).  An
 * inc-reverse triple's reverse cost fills (dst, src) only where no line gave
 * that pair directly. */
int p4p_legacy_parse_pdistance(const char *buf, size_t len, const char *source, const char *version, struct p4p_costs_msg *out, char *err, size_t errlen);

#endif
