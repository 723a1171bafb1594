/* config: the p4p.* keys of opentracker's config file.
 *
 *   p4p.enable           yes | no          (default no: stock behaviour)
 *   p4p.random_fraction  number in [0, 1]  (default 0.2, docs/SELECTION.md)
 *   p4p.pidmap           file              PID map, P4P XML v1
 *   p4p.guidance         file              guidance, P4P XML v1 (optional)
 *   p4p.intra_provider_share number in [0,1] (default 0.9)
 *   p4p.capability_peers number             (default 2)
 *   p4p.report_interval  seconds            (default 60) swarm statistics to providers
 *   p4p.provider NAME URL [legacy|alto]    an iTracker (or Yale portal, or
 *                                          ALTO server: URL = its IRD)
 *   p4p.provider.NAME.KEY value            token, interfaces, refresh,
 *                                          max_staleness, timeout_ms,
 *                                          max_body, report_swarms,
 *                                          backoff_max, ca_file
 *
 * Values are checked as they are read; a bad one is reported with the file
 * and line, and the tracker refuses to start.  A '#' at the start of a value
 * or after a blank starts a comment, as on upstream's comment lines; a '#'
 * inside a word (a token "ab#cd") is part of it. */
#ifndef P4P_CONFIG_H
#define P4P_CONFIG_H

#include <stddef.h>

#include "proto/iface.h"

#define CONFIG_MAX_PROVIDERS 16

/* One provider's iTracker, as configured; the portal client takes it as it
 * is.  A zero in a number means the portal client's default [in brackets]
 * (the config sets its own defaults, docs/TRACKER.md). */
struct p4p_provider_config {
  char     name[48];        /* namespace for its PIDs, e.g. "abilene" */
  char     url[512];        /* http(s)://host[:port][/prefix]; trailing / dropped */
  char     token[256];      /* bearer credential, "" = none */
  int      legacy;          /* Yale's plain-text portal protocol */
  int      alto;            /* an ALTO server (RFC 7285); url = its IRD */
  unsigned interfaces;      /* P4P_IF_* mask [all] */
  int      refresh_s;       /* poll period without max-age [300] */
  int      max_staleness_s; /* drop good data older than this [3600] */
  int      timeout_ms;      /* whole-transfer cap per fetch [10000] */
  size_t   max_body;        /* larger answers are refused [16 MiB] */
  unsigned report_swarms;   /* heaviest swarms whose statistics are posted */
  int      backoff_max_s;   /* cap of the retry backoff [300] */
  char     ca_file[256];    /* https: PEM file of the CAs to trust, "" = the system's */
  char     where[300];      /* "file:line" of its p4p.provider line, for messages */
  char     ca_where[300];   /* "file:line" of its ca_file line */
};

struct p4p_config {
  int                        enable;
  double                     random_fraction;
  double                     intra_share;      /* p4p.intra_provider_share, default 0.9 */
  unsigned                   capability_peers; /* p4p.capability_peers, default 2 */
  unsigned                   report_interval;  /* p4p.report_interval seconds, default 60 */
  char                      *pidmap_file;      /* absolute (the tracker may chdir or chroot later) */
  char                      *guidance_file;
  char                       pidmap_where[300];   /* "file:line" of p4p.pidmap, for messages */
  char                       guidance_where[300]; /* "file:line" of p4p.guidance, for messages */
  size_t                     nproviders;
  struct p4p_provider_config providers[CONFIG_MAX_PROVIDERS];
};

/* 0, or -1 with "file:line: reason" in err. */
int p4p_config_set(const char *line, const char *file, int lineno, char *err, size_t errlen);
/* Checks the keys fit together (e.g. enable without a PID map). */
int p4p_config_check(char *err, size_t errlen);
/* Every file the keys name (PID map, guidance, CA files) can be opened for
 * reading by this process now: called again after the tracker dropped its
 * privileges, since that user reads them on every reload.  0, or -1 with
 * "file:line: key path: reason" in err. */
int                      p4p_config_check_files(char *err, size_t errlen);
const struct p4p_config *p4p_config_get(void);
void                     p4p_config_reset(void);

/* url without its userinfo (user:pw@ in the authority becomes ***@), for
 * /stats, metrics and logs: credentials in a URL never leave the config. */
void p4p_config_url_redacted(const char *url, char *out, size_t outlen);

#endif
