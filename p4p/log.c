/* log: lines to stderr or syslog; the portal fetch state machine. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "stats.h"

static void (*g_sink)(int priority, const char *line);

void p4p_log_set_sink(void (*sink)(int priority, const char *line)) { g_sink = sink; }

void p4p_log(int priority, const char *fmt, ...) {
  char    raw[1024], line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  /* one line, whatever a portal or a file put into the text */
  p4p_stats_clean_text(raw, line, sizeof line);
  if (g_sink) {
    g_sink(priority, line);
    return;
  }
#ifdef WANT_SYSLOGS
  syslog(priority, "p4p: %s", line);
#else
  fprintf(stderr, "p4p: %s\n", line);
#endif
}

/* 1 when the provider may log a line now; *suppressed gets the lines held
 * back since its last one. */
static int allowed(struct portal_log_limit *rl, time_t now, unsigned long *suppressed) {
  if (!rl->started) {
    rl->started = 1;
    rl->tokens  = PORTAL_LOG_BURST;
    rl->last    = now;
  }
  if (now > rl->last) {
    rl->tokens += (double)(now - rl->last) / PORTAL_LOG_REFILL_S;
    if (rl->tokens > PORTAL_LOG_BURST)
      rl->tokens = PORTAL_LOG_BURST;
    rl->last = now;
  }
  if (rl->tokens < 1) {
    rl->suppressed++;
    return 0;
  }
  rl->tokens -= 1;
  *suppressed    = rl->suppressed;
  rl->suppressed = 0;
  return 1;
}

static void emit(struct portal_log_limit *rl, time_t now, int priority, const char *provider, const char *iface, const char *text) {
  unsigned long held;
  if (!allowed(rl, now, &held))
    return;
  if (held)
    p4p_log(priority, "provider %s: %s %s (%lu earlier lines of this provider suppressed)", provider, iface, text, held);
  else
    p4p_log(priority, "provider %s: %s %s", provider, iface, text);
}

static void enter(struct portal_log *l, enum portal_log_state state, time_t now) {
  l->state = state;
  l->fails = 0;
  l->since = now;
}

void p4p_portal_log_ok(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, const char *version, time_t now) {
  char text[300];
  if (l->state == PORTAL_LOG_OK)
    return;
  if (l->state == PORTAL_LOG_NONE)
    snprintf(text, sizeof text, "fetched%s%s%s", version && *version ? " (version " : "", version && *version ? version : "", version && *version ? ")" : "");
  else
    snprintf(text, sizeof text, "ok again after %lu failed fetches in %ld s", l->fails, (long)(now - l->since));
  emit(rl, now, LOG_INFO, provider, iface, text);
  enter(l, PORTAL_LOG_OK, now);
}

void p4p_portal_log_failure(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, const char *reason, long data_age,
                            time_t now) {
  char text[700];
  if (l->state == PORTAL_LOG_FAILING || l->state == PORTAL_LOG_DROPPED) {
    l->fails++; /* still failing: counted, said when it ends */
    return;
  }
  if (data_age >= 0)
    snprintf(text, sizeof text, "failing: %.500s; keeping its data fetched %ld s ago (retrying with backoff)", reason, data_age);
  else
    snprintf(text, sizeof text, "failing: %.500s; no data yet, its peers get stock selection (retrying with backoff)", reason);
  emit(rl, now, LOG_WARNING, provider, iface, text);
  enter(l, PORTAL_LOG_FAILING, now);
  l->fails = 1;
}

void p4p_portal_log_dropped(struct portal_log *l, struct portal_log_limit *rl, const char *provider, const char *iface, int max_staleness_s, time_t now) {
  char          text[200];
  unsigned long fails = l->fails;
  snprintf(text, sizeof text, "dropped: no good answer for %d s (max_staleness); its peers get stock selection until it answers", max_staleness_s);
  emit(rl, now, LOG_WARNING, provider, iface, text);
  enter(l, PORTAL_LOG_DROPPED, now);
  l->fails = fails;
}
