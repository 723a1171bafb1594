/* log: the module's operational messages.
 *
 * One line each, to stderr ("p4p: ...", for journald), or to syslog when the
 * tracker is built with upstream's WANT_SYSLOGS (upstream opens the log).
 * Portal fetches are logged per interface on state changes only (portal
 * log below) and every provider's lines are rate-limited, so a portal that
 * is down, or flapping, cannot flood the log. */
#ifndef P4P_LOG_H
#define P4P_LOG_H

#include <stddef.h>
#include <syslog.h>
#include <time.h>

void p4p_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tests: every line goes to sink instead (NULL: back to stderr/syslog). */
void p4p_log_set_sink(void (*sink)(int priority, const char *line));

/* --- portal fetches ------------------------------------------------------- */

enum portal_log_state { PORTAL_LOG_NONE, PORTAL_LOG_OK, PORTAL_LOG_FAILING, PORTAL_LOG_DROPPED };

/* One interface of one provider (fetch thread only). */
struct portal_log {
  enum portal_log_state state;
  unsigned long         fails; /* failures since the state began */
  time_t                since; /* when it began */
};

/* One provider's budget: PORTAL_LOG_BURST lines, then one per
 * PORTAL_LOG_REFILL_S seconds; suppressed lines are counted and the next
 * line says how many. */
#define PORTAL_LOG_BURST    10
#define PORTAL_LOG_REFILL_S 60
struct portal_log_limit {
  double        tokens;
  time_t        last;
  unsigned long suppressed;
  int           started;
};

/* What happened to a fetch.  Each logs a line when the interface's state
 * changes: first data, ok -> failing (the reason, and whether data is kept
 * and how old it is), failing -> ok (after how many failures and how long),
 * dropped (max_staleness passed).  data_age < 0: no data held. */
void p4p_portal_log_ok(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, const char *version, time_t now);
void p4p_portal_log_failure(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, const char *reason, long data_age,
                            time_t now);
void p4p_portal_log_dropped(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, int max_staleness_s, time_t now);

#endif
