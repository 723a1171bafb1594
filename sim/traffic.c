/* Gravity background traffic and the masses file (traffic.h). */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int traffic_gravity(const struct prov_topology *t, const double *mass, double peak, double *bg, char *err, size_t errlen) {
  if (!(peak > 0) || !isfinite(peak)) {
    snprintf(err, errlen, "background peak must be > 0");
    return -1;
  }
  for (int e = 0; e < t->nlinks; ++e)
    bg[e] = 0;
  for (int i = 0; i < t->npops; ++i)
    for (int j = 0; j < t->npops; ++j) {
      const struct prov_route *r = prov_topology_route(t, i, j);
      double                   x = mass[i] * mass[j];
      if (i == j || !r || !(x > 0))
        continue;
      for (int k = 0; k < r->nlinks; ++k)
        bg[prov_route_links(t, r)[k]] += x;
    }
  double umax = 0;
  for (int e = 0; e < t->nlinks; ++e)
    if (t->links[e].capacity_kbps > 0)
      umax = fmax(umax, bg[e] / t->links[e].capacity_kbps);
  if (!(umax > 0)) {
    snprintf(err, errlen, "the gravity matrix puts no traffic on any link");
    return -1;
  }
  for (int e = 0; e < t->nlinks; ++e)
    bg[e] *= peak / umax;
  return 0;
}

int traffic_read_masses(const char *path, const struct prov_topology *t, double *mass, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open", path);
    return -1;
  }
  char  line[512];
  int   lineno = 0, rc = 0;
  char *seen = calloc((size_t)t->npops + 1, 1);
  if (!seen) {
    fclose(f);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = 0;
    char   name[128], extra[2];
    double m;
    int    n = sscanf(line, "%127s %lf %1s", name, &m, extra);
    if (n <= 0)
      continue;
    int pop = n == 2 ? prov_topology_find_pop(t, name) : -1;
    if (n != 2)
      snprintf(err, errlen, "%s:%d: expected \"POP MASS\"", path, lineno), rc = -1;
    else if (pop < 0)
      snprintf(err, errlen, "%s:%d: unknown PoP %s", path, lineno, name), rc = -1;
    else if (!isfinite(m) || m < 0)
      snprintf(err, errlen, "%s:%d: mass must be finite and >= 0", path, lineno), rc = -1;
    else if (seen[pop])
      snprintf(err, errlen, "%s:%d: PoP %s given twice", path, lineno, name), rc = -1;
    else {
      seen[pop] = 1;
      mass[pop] = m;
    }
  }
  for (int i = 0; !rc && i < t->npops; ++i)
    if (!seen[i])
      snprintf(err, errlen, "%s: no mass for PoP %s", path, t->pops[i].name), rc = -1;
  free(seen);
  fclose(f);
  return rc;
}
