/* deadline: an absolute time `ms` from now on `clock`, for
 * pthread_cond_timedwait() (whose clock is the condition's: REALTIME by
 * default, MONOTONIC where the condition was made so). */
#ifndef ITRACKER_DEADLINE_H
#define ITRACKER_DEADLINE_H

#include <time.h>

static inline void itr_deadline_in_ms(struct timespec *ts, clockid_t clock, unsigned ms) {
  clock_gettime(clock, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

#endif
