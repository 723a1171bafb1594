/* gen: generations of the configuration and their references. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct itr_gen *itr_gen_load(const char *config, int fixed_hour, int hour_step_s, time_t started, char *err, size_t errlen) {
  struct itr_gen *g = calloc(1, sizeof *g);
  if (!g) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (portal_init(&g->p, config, fixed_hour, err, errlen)) {
    free(g);
    return NULL;
  }
  g->p.hour_step_s = hour_step_s;
  g->p.started     = started;
  return g;
}

int itr_gen_start(struct itr_gen *g, int verbose, char *err, size_t errlen) {
  if (!(g->s = solver_start(&g->p, verbose, err, errlen)))
    return -1;
  if (!(g->alto = alto_start(&g->p, g->s, err, errlen)))
    return -1;
  return 0;
}

/* append one "name: needs a restart, kept value" line */
static void note(char *notes, size_t len, const char *name, const char *kept) {
  size_t n = strlen(notes);
  if (n < len)
    snprintf(notes + n, len - n, "%s%s: needs a restart, kept %s", n ? "\n" : "", name, kept);
}

#define KEEP_UINT(field, name)                                                                                                                                 \
  do {                                                                                                                                                         \
    if (nd->field != od->field) {                                                                                                                              \
      char v[32];                                                                                                                                              \
      snprintf(v, sizeof v, "%llu", (unsigned long long)od->field);                                                                                            \
      note(notes, len, name, v);                                                                                                                               \
      nd->field = od->field;                                                                                                                                   \
      kept++;                                                                                                                                                  \
    }                                                                                                                                                          \
  } while (0)

#define KEEP_STR(field, name)                                                                                                                                  \
  do {                                                                                                                                                         \
    if (strcmp(nd->field, od->field)) {                                                                                                                        \
      char v[P4P_PATH_MAX + 4];                                                                                                                                \
      snprintf(v, sizeof v, od->field[0] ? "'%s'" : "none", od->field);                                                                                        \
      note(notes, len, name, v);                                                                                                                               \
      memcpy(nd->field, od->field, sizeof nd->field);                                                                                                          \
      kept++;                                                                                                                                                  \
    }                                                                                                                                                          \
  } while (0)

int itr_gen_keep_restart_settings(struct itr_gen *nw, const struct itr_gen *old, int addr_fixed, int port_fixed, char *notes, size_t len) {
  struct prov_daemon_settings       *nd   = &nw->p.prov.daemon;
  const struct prov_daemon_settings *od   = &old->p.prov.daemon;
  int                                kept = 0;
  if (len)
    notes[0] = 0;
  /* the listening socket */
  if (!addr_fixed)
    KEEP_STR(listen_addr, "listen address");
  else
    memcpy(nd->listen_addr, od->listen_addr, sizeof nd->listen_addr);
  if (!port_fixed)
    KEEP_UINT(port, "listen port");
  else
    nd->port = od->port;
  /* TLS: libmicrohttpd holds the pair it started with */
  KEEP_STR(tls_cert, "tls certificate");
  KEEP_STR(tls_key, "tls key");
  nd->tls_line = od->tls_line;
  /* the daemon's and the connection guard's limits, set at start */
  KEEP_UINT(max_connections, "max-connections");
  KEEP_UINT(max_connections_per_ip, "max-connections-per-ip");
  KEEP_UINT(connection_timeout_s, "connection-timeout");
  KEEP_UINT(request_deadline_s, "request-deadline");
  KEEP_UINT(response_deadline_s, "response-deadline");
  return kept;
}

void itr_gen_acquire(struct itr_gen *g) { __atomic_add_fetch(&g->refs, 1, __ATOMIC_ACQ_REL); }

void itr_gen_release(struct itr_gen *g) {
  if (g)
    __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL);
}

int itr_gen_idle(struct itr_gen *g) { return __atomic_load_n(&g->refs, __ATOMIC_ACQUIRE) == 0; }

void itr_gen_quiesce(struct itr_gen *g) { alto_quiesce(g->alto); }

void itr_gen_free(struct itr_gen *g) {
  if (!g)
    return;
  /* the streams' notifier asks the solver: stop it first */
  alto_stop(g->alto);
  solver_stop(g->s);
  portal_free(&g->p);
  free(g);
}
