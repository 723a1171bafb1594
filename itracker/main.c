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
#include "http.h"
#include "portal.h"
#include "solver.h"

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
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  static struct portal portal;
  char                 err[512];
  if (portal_init(&portal, config, (int)hour, err, sizeof err)) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    return 1;
  }
  portal.hour_step_s           = (int)step;
  portal.started               = time(NULL);
  const struct prov_config *pr = &portal.prov;
  if (raise_fd_limit(&portal, err, sizeof err)) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    portal_free(&portal);
    return 1;
  }
  if (!addr)
    addr = pr->daemon.listen_addr;
  if (port < 0)
    port = pr->daemon.port;
  if (check) {
    int bad = itr_check(&portal, config, addr, err, sizeof err);
    if (bad)
      fprintf(stderr, "%s\n", err);
    else
      printf("p4p-itracker: %s: OK: provider %s (ASID %u, %zu PoPs, %zu "
             "links, %zu PIDs, %zu servers, %zu clients), %s on %s port %u\n",
             config, pr->name, pr->asid, pr->npops, pr->nlinks, pr->npids, pr->nservers, pr->nclients, pr->daemon.tls_cert[0] ? "https" : "http", addr,
             (unsigned)port);
    portal_free(&portal);
    return bad ? 1 : 0;
  }
  struct solver *s = solver_start(&portal, verbose, err, sizeof err);
  if (!s) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    portal_free(&portal);
    return 1;
  }
  struct http_server *h = http_start(&portal, s, addr, (uint16_t)port, verbose, err, sizeof err);
  if (!h) {
    fprintf(stderr, "p4p-itracker: %s\n", err);
    solver_stop(s);
    portal_free(&portal);
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

  int sig;
  sigwait(&sigs, &sig);
  printf("p4p-itracker: signal %d, stopping\n", sig);
  fflush(stdout);
  http_stop(h);
  solver_stop(s);
  portal_free(&portal);
  return 0;
}
