/* config: the p4p.* keys of opentracker's config file.
 *
 *   p4p.enable           yes | no          (default no: stock behaviour)
 *   p4p.random_fraction  number in [0, 1]  (default 0.2, docs/SELECTION.md)
 *   p4p.pidmap           file              PID map, P4P XML v1
 *   p4p.guidance         file              guidance, P4P XML v1 (optional)
 *
 * Values are checked as they are read; a bad one is reported with the file
 * and line, and the tracker refuses to start. */
#ifndef P4P_CONFIG_H
#define P4P_CONFIG_H

#include <stddef.h>

struct p4p_config {
  int    enable;
  double random_fraction;
  char  *pidmap_file;   /* absolute (the tracker may chdir or chroot later) */
  char  *guidance_file;
  /* where each key was set, for messages: "file:line" */
  char   pidmap_where[300];
  char   guidance_where[300];
};

/* 0, or -1 with "file:line: reason" in err. */
int                      config_set(const char *line, const char *file, int lineno, char *err, size_t errlen);
/* Checks the keys fit together (e.g. enable without a PID map). */
int                      config_check(char *err, size_t errlen);
const struct p4p_config *config_get(void);
void                     config_reset(void);

#endif
