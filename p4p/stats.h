/* stats: P4P counters for /stats?mode=p4p (and the metrics and dump views).
 *
 * The announce path's counters are kept per thread (each written by one
 * thread, summed when read): several threads announce at once, a counter
 * that is off by one for a microsecond is fine, and neither a lock nor a
 * locked add belongs on the announce path. */
#ifndef P4P_STATS_H
#define P4P_STATS_H

#include <stddef.h>
#include <time.h>

struct select_tally;
struct p4p_state;

enum stats_selection { STATS_SEL_GUIDED, STATS_SEL_DEFAULT, STATS_SEL_STOCK };

/* The counters at one moment, for rendering. */
struct p4p_stats_counters {
  unsigned long announce_pid, announce_nopid;
  unsigned long selections[3]; /* by enum stats_selection */
  /* returned peers by how they were picked */
  unsigned long peers_same, peers_other, peers_outside, peers_random, peers_capability;
  /* the same peers by where they are (select.h: in_pid, in_provider, elsewhere) */
  unsigned long peers_in_pid, peers_in_provider, peers_elsewhere;
  unsigned long reload_ok, reload_failed;
  char          last_error[512]; /* cleaned (p4p_stats_clean_text), "" = none */
  time_t        last_error_at;   /* 0 = never */
};

void p4p_stats_note_announce(int has_pid);
void p4p_stats_note_selection(enum stats_selection kind, const struct select_tally *tally);
void p4p_stats_note_reload(int ok, const char *error);
void p4p_stats_read(struct p4p_stats_counters *out);
/* Zeroes every counter (tests). */
void   p4p_stats_reset(void);
size_t p4p_stats_write(const struct p4p_state *s, char *reply, size_t cap);

/* Copies text for a one-line field: control characters (a portal's
 * <error> may carry &#10;) and DEL become '?', so nothing sent by a portal
 * or found in a file can start a line of its own in /stats or the logs. */
void p4p_stats_clean_text(const char *in, char *out, size_t outlen);

#endif
