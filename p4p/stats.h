/* stats: P4P counters for /stats?mode=p4p.
 *
 * Counters are atomics bumped with relaxed ordering: several threads
 * announce at once and a counter that is off by one for a microsecond is
 * fine; a lock on the announce path is not. */
#ifndef P4P_STATS_H
#define P4P_STATS_H

#include <stddef.h>

struct select_tally;
struct p4p_state;

enum stats_selection { STATS_SEL_GUIDED, STATS_SEL_DEFAULT, STATS_SEL_STOCK };

void   p4p_stats_note_announce(int has_pid);
void   p4p_stats_note_selection(enum stats_selection kind, const struct select_tally *tally);
void   p4p_stats_note_reload(int ok, const char *error);
size_t p4p_stats_write(const struct p4p_state *s, char *reply, size_t cap);

#endif
