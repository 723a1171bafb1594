/* p4p-itracker: a network provider's P4P portal (docs/ITRACKER.md). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gen.h"
#include "http.h"
#include "metrics.h"
#include "portal.h"

/* One descriptor per connection plus the daemon's own (listen socket,
 * MHD's wake-up pipes, files): raise the soft limit as far as needed, and
 * refuse to start rather than run with fewer connections than configured.
 * 0, or -1 with a reason in err. */
static int raise_fd_limit(const struct portal *p, char *err, size_t errlen) {
  rlim_t        need = (rlim_t)http_max_sockets(p) + 64;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl))
    return 0; /* cannot tell: let accept() say so later */
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
    return 0;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    snprintf(err, errlen,
             "max-connections %u needs %llu file descriptors "
             "but the hard limit (RLIMIT_NOFILE) is %llu: raise it "
             "(ulimit -Hn, systemd LimitNOFILE=) or lower max-connections",
             p->prov.daemon.max_connections, (unsigned long long)need, (unsigned long long)rl.rlim_max);
    return -1;
  }
  rl.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &rl)) {
    snprintf(err, errlen,
             "cannot raise RLIMIT_NOFILE to %llu for "
             "max-connections %u",
             (unsigned long long)need, p->prov.daemon.max_connections);
    return -1;
  }
  return 0;
}

/* Generations swapped out by reloads, freed once no request holds them. */
struct retired {
  struct itr_gen *g;
  struct retired *next;
};

static void reap(struct retired **list, int all) {
  for (struct retired **pr = list; *pr;) {
    struct retired *r = *pr;
    if (all || itr_gen_idle(r->g)) {
      *pr = r->next;
      itr_gen_free(r->g);
      free(r);
    } else {
      pr = &r->next;
    }
  }
}

/* What a reload needs to know of the command line. */
struct reload_args {
  const char *config;
  int         hour, step, verbose;
  int         addr_fixed, port_fixed; /* -l, -p given */
  time_t      started;
};

/* SIGHUP: read the provider file (and every file it names) again into a
 * new generation; if anything is wrong say so and keep serving *cur
 * unchanged, else swap it in.  The listening socket stays either way. */
static void reload(struct http_server *h, const struct reload_args *a, struct itr_gen **cur, struct retired **retired) {
  char            err[512], notes[2048] = "";
  struct itr_gen *nw = itr_gen_load(a->config, a->hour, a->step, a->started, err, sizeof err);
  if (nw)
    itr_gen_keep_restart_settings(nw, *cur, a->addr_fixed, a->port_fixed, notes, sizeof notes);
  struct retired *r = nw ? malloc(sizeof *r) : NULL;
  if (nw && !r)
    snprintf(err, sizeof err, "out of memory");
  if (!nw || !r || itr_gen_start(nw, a->verbose, err, sizeof err)) {
    fprintf(stderr, "p4p-itracker: reload failed, still serving version %s: %s\n", (*cur)->p.prov.version, err);
    fflush(stderr);
    free(r);
    itr_gen_free(nw);
    itr_metrics_note_reload(0);
    return;
  }
  for (char *line = notes, *next; *line; line = next) {
    next = line + strcspn(line, "\n");
    if (*next)
      *next++ = 0;
    fprintf(stderr, "p4p-itracker: %s: reload: %s\n", a->config, line);
  }
  fflush(stderr);
  struct itr_gen *old = http_swap(h, nw);
  itr_gen_quiesce(old); /* its update streams end; clients reconnect */
  r->g     = old;
  r->next  = *retired;
  *retired = r;
  *cur     = nw;
  itr_metrics_note_reload(1);
  const struct prov_config *pr = &nw->p.prov;
  printf("p4p-itracker: reloaded %s: provider %s version %s (ASID %u, %zu "
         "PoPs, %zu PIDs, %zu servers, %zu clients)\n",
         a->config, pr->name, pr->version, pr->asid, pr->npops, pr->npids, pr->nservers, pr->nclients);
  if (!pr->nclients)
    printf("p4p-itracker: no client credentials configured: every "
           "interface is open\n");
  fflush(stdout);
}

static void usage(FILE *f) {
  fprintf(f, "usage: p4p-itracker [--check] -f PROVIDER.conf [-l ADDR] [-p PORT] "
             "[-H HOUR [-S SECS]] [-v]\n"
             "  --check  validate the provider file and the files it names, "
             "then exit (0 good, 1 not)\n"
             "  -f FILE  provider file (docs/ITRACKER.md)\n"
             "  -l ADDR  listen address, overrides the file ('*' = all)\n"
             "  -p PORT  listen port, overrides the file (0 = any free port)\n"
             "  -H HOUR  pin the policy clock to this UTC hour (0-23), for "
             "tests\n"
             "  -S SECS  with -H: advance that clock one hour every SECS (tests)\n"
             "  -v       log every solve, and every connection closed for a "
             "deadline\n           or at max-connections, to stderr\n");
}

int main(int argc, char **argv) {
  const char                *config = NULL, *addr = NULL;
  long                       port = -1, hour = -1, step = 0;
  int                        verbose = 0, check = 0, opt;
  char                      *end;
  static const struct option longopts[] = {{"check", no_argument, NULL, 'C'}, {NULL, 0, NULL, 0}};
  while ((opt = getopt_long(argc, argv, "f:l:p:H:S:vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'C':
      check = 1;
      break;
    case 'f':
      config = optarg;
      break;
    case 'l':
      addr = optarg;
      break;
    case 'p':
      port = strtol(optarg, &end, 10);
      if (*end || port < 0 || port > 65535) {
        fprintf(stderr, "p4p-itracker: bad port '%s'\n", optarg);
        return 2;
      }
      break;
    case 'H':
      hour = strtol(optarg, &end, 10);
      if (*end || hour < 0 || hour > 23) {
        fprintf(stderr, "p4p-itracker: hour must be 0..23\n");
        return 2;
      }
      break;
    case 'S':
      step = strtol(optarg, &end, 10);
      if (*end || step < 1 || step > 86400) {
        fprintf(stderr, "p4p-itracker: -S takes seconds 1..86400\n");
        return 2;
      }
      break;
    case 'v':
      verbose = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (!config || optind != argc || (step && hour < 0)) {
    usage(stderr);
    return 2;
  }

  /* every thread inherits this mask; only sigwait() below sees them */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  char               err[512];
  struct reload_args ra = {
      .config = config, .hour = (int)hour, .step = (int)step, .verbose = verbose, .addr_fixed = addr != NULL, .port_fixed = port >= 0, .started = time(NULL)};
  struct itr_gen *gen = itr_gen_load(config, ra.hour, ra.step, ra.started, err, sizeof err);
  if (!gen) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    return 1;
  }
  const struct prov_config *pr = &gen->p.prov;
  if (raise_fd_limit(&gen->p, err, sizeof err)) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    itr_gen_free(gen);
    return 1;
  }
  if (!addr)
    addr = pr->daemon.listen_addr;
  if (port < 0)
    port = pr->daemon.port;
  if (check) {
    int bad = itr_check(&gen->p, config, addr, err, sizeof err);
    if (bad)
      fprintf(stderr, "%s\n", err);
    else
      printf("p4p-itracker: %s: OK: provider %s (ASID %u, %zu PoPs, %zu "
             "links, %zu PIDs, %zu servers, %zu clients), %s on %s port %u\n",
             config, pr->name, pr->asid, pr->npops, pr->nlinks, pr->npids, pr->nservers, pr->nclients, pr->daemon.tls_cert[0] ? "https" : "http", addr,
             (unsigned)port);
    itr_gen_free(gen);
    return bad ? 1 : 0;
  }
  struct http_server *h = NULL;
  if (itr_gen_start(gen, verbose, err, sizeof err) || !(h = http_start(gen, addr, (uint16_t)port, verbose, err, sizeof err))) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    itr_gen_free(gen);
    return 1;
  }
  int v6 = strchr(addr, ':') != NULL;
  printf("p4p-itracker: provider %s (ASID %u, %zu PoPs, %zu PIDs) "
         "listening on %s://%s%s%s:%u/p4p/v1/ (ALTO: /directory)\n",
         pr->name, pr->asid, pr->npops, pr->npids, http_is_tls(h) ? "https" : "http", v6 ? "[" : "", addr, v6 ? "]" : "", (unsigned)http_port(h));
  if (!pr->nclients)
    printf("p4p-itracker: no client credentials configured: every "
           "interface is open\n");
  fflush(stdout);

  /* the main thread's work from now on: signals, and freeing generations
   * that reloads retired once their last request is done */
  struct retired *retired = NULL;
  int             sig;
  for (;;) {
    struct timespec tick = {1, 0};
    sig                  = sigtimedwait(&sigs, NULL, &tick);
    reap(&retired, 0);
    if (sig == SIGHUP) {
      printf("p4p-itracker: SIGHUP, reloading %s\n", config);
      fflush(stdout);
      reload(h, &ra, &gen, &retired);
    } else if (sig > 0) {
      break;
    }
  }
  printf("p4p-itracker: signal %d, stopping\n", sig);
  fflush(stdout);
  http_stop(h); /* every connection is closed: no generation is held */
  reap(&retired, 1);
  itr_gen_free(gen);
  return 0;
}
