/* gen: one generation of the iTracker's configuration, everything built
 * from one reading of the provider file: the portal (provider data and
 * published documents), its solver thread (statistics table, guidance) and
 * its ALTO server (static resources, update streams).
 *
 * SIGHUP builds a whole new generation beside the running one; only when
 * that succeeded does the HTTP front end switch to it (http_swap), so a bad
 * file changes nothing.  Every request holds a reference to the generation
 * it started on and answers from it alone, so no request ever sees half of
 * two files.  A retired generation is freed by the main thread once no
 * request holds it (itr_gen_idle): nothing is freed under a reader. */
#ifndef ITRACKER_GEN_H
#define ITRACKER_GEN_H

#include <stddef.h>
#include <time.h>

#include "alto.h"
#include "portal.h"
#include "solver.h"

struct itr_gen {
  struct portal       p;
  struct solver      *s;    /* NULL until itr_gen_start */
  struct alto_server *alto; /* NULL until itr_gen_start */
  int                 refs; /* requests answering from it (atomic) */
};

/* Read the provider file into a new generation (no threads yet): the
 * policy clock as on the command line (-H, -S), started when the daemon
 * started, so a reload does not move it.  NULL with "file:line: reason"
 * in err. */
struct itr_gen *itr_gen_load(const char *config, int fixed_hour, int hour_step_s, time_t started, char *err, size_t errlen);
/* Start its solver thread and ALTO server.  0, or -1 with a reason. */
int itr_gen_start(struct itr_gen *g, int verbose, char *err, size_t errlen);
/* Settings the running daemon cannot change (the listening socket, TLS,
 * the connection guard's limits): where new differs from old, new keeps
 * old's value and a line "SETTING: needs a restart, kept OLD" is appended
 * to notes.  addr_fixed, port_fixed: -l, -p override the file, so its
 * value is not in effect anyway.  Returns how many were kept. */
int itr_gen_keep_restart_settings(struct itr_gen *nw, const struct itr_gen *old, int addr_fixed, int port_fixed, char *notes, size_t len);

void itr_gen_acquire(struct itr_gen *g);
void itr_gen_release(struct itr_gen *g);
/* No request holds g (meaningful once g can no longer be acquired). */
int itr_gen_idle(struct itr_gen *g);
/* End its update streams (retired generations: their clients reconnect
 * and get the new one's). */
void itr_gen_quiesce(struct itr_gen *g);
/* Stop its threads and free it; g must be idle. */
void itr_gen_free(struct itr_gen *g);

#endif
