/* p4p-optbench: time the fast P4P optimizer against the exact GLPK LP on
 * Abilene and AttMpls with random swarms.
 *
 *   p4p-optbench DATADIR [--swarms 1,10,100,500] [--seed N] [--json FILE]
 *                [--exact-limit SECONDS] [--gap REL] [--seeders F]
 *                [--background F]
 *
 * DATADIR holds abilene11_{nodes,links}.csv and attmpls_{nodes,links}.csv.
 * Abilene: capacity_p4p_sim_kbps (10 Gb/s) and the OSPF weights; AttMpls:
 * every link 10 Gb/s, IGP weight = propagation delay in microseconds
 * (what the operator's delay-based metric would be).  Swarms: a seed with
 * 1 Gb/s upload at a random PoP, and 200..2000 leechers (uniform), each at
 * a uniformly random PoP with access link (down/up kbit/s) 784/128 (20%),
 * 1500/384 (40%), 3000/1000 (25%) or 10000/5000 (15%).  The exact solver
 * is skipped where its time, extrapolated from the previous size with
 * exponent 2.5, would pass --exact-limit (default 60 s; 0 = never run
 * it). */
#include "proto/file.h"
#include "provider/optimize.h"
#include "provider/topology.h"
#include "tests/oracle/lp_exact.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXCOLS       16
#define CSV_MAX_BYTES (16u << 20)

/* splitmix64: small, fixed-seed reproducible */
struct rng {
  uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }

static int rng_below(struct rng *r, int n) { return (int)(rng_unit(r) * n); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A tiny CSV reader: no quoting (the data files use none).  The file is
 * read whole and split in place; fields point into it. */
struct csv {
  char *buf;  /* the file, NUL-terminated */
  char *next; /* start of the next line */
  int   ncols;
  char  names[MAXCOLS][64];
  char *field[MAXCOLS];
};

/* the next line, its '\n' cut off; NULL at the end of the file */
static char *next_line(struct csv *c) {
  char *l = c->next;
  if (!*l)
    return NULL;
  size_t n = strcspn(l, "\n");
  c->next  = l + n + (l[n] == '\n');
  l[n]     = 0;
  return l;
}

static int split(char *s, char **out) {
  int n                 = 0;
  s[strcspn(s, "\r\n")] = 0;
  for (char *p = s; n < MAXCOLS;) {
    out[n++] = p;
    char *c  = strchr(p, ',');
    if (!c)
      break;
    *c = 0;
    p  = c + 1;
  }
  return n;
}

static int csv_open(struct csv *c, const char *dir, const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  char   err[4200];
  size_t len;
  if (proto_read_file(path, CSV_MAX_BYTES, &c->buf, &len, err, sizeof err)) {
    fprintf(stderr, "p4p-optbench: %s\n", err);
    return -1;
  }
  c->next    = c->buf;
  char *head = next_line(c);
  if (!head) {
    fprintf(stderr, "p4p-optbench: %s: empty\n", path);
    free(c->buf);
    return -1;
  }
  char *f[MAXCOLS];
  c->ncols = split(head, f);
  for (int i = 0; i < c->ncols; i++)
    snprintf(c->names[i], sizeof c->names[i], "%s", f[i]);
  return 0;
}

static int csv_col(const struct csv *c, const char *name) {
  for (int i = 0; i < c->ncols; i++)
    if (strcmp(c->names[i], name) == 0)
      return i;
  fprintf(stderr, "p4p-optbench: no column %s\n", name);
  return -1;
}

static int csv_next(struct csv *c) {
  for (char *l; (l = next_line(c));)
    if (split(l, c->field) == c->ncols)
      return 1;
  return 0;
}

static int load_pops(struct prov_topology *t, const char *dir, const char *file) {
  struct csv c;
  char       err[256];
  if (csv_open(&c, dir, file) < 0)
    return -1;
  int cp = csv_col(&c, "pop"), cla = csv_col(&c, "lat"), clo = csv_col(&c, "lon");
  int rc = cp < 0 || cla < 0 || clo < 0 ? -1 : 0;
  while (rc == 0 && csv_next(&c))
    if (prov_topology_add_pop(t, c.field[cp], 1, atof(c.field[cla]), atof(c.field[clo]), err, sizeof err) < 0) {
      fprintf(stderr, "p4p-optbench: %s: %s\n", file, err);
      rc = -1;
    }
  free(c.buf);
  return rc;
}

/* weight_col / cap_col / km_col / delay_us_col: column names or NULL */
static int load_links(struct prov_topology *t, const char *dir, const char *file, const char *weight_col, const char *cap_col, const char *km_col,
                      const char *delay_us_col) {
  struct csv c;
  char       err[256];
  if (csv_open(&c, dir, file) < 0)
    return -1;
  int ca = csv_col(&c, "a"), cb = csv_col(&c, "b");
  int cw = csv_col(&c, weight_col);
  int cc = cap_col ? csv_col(&c, cap_col) : -1;
  int ck = km_col ? csv_col(&c, km_col) : -1;
  int cd = delay_us_col ? csv_col(&c, delay_us_col) : -1;
  int rc = ca < 0 || cb < 0 || cw < 0 ? -1 : 0;
  while (rc == 0 && csv_next(&c)) {
    int                   a = prov_topology_find_pop(t, c.field[ca]);
    int                   b = prov_topology_find_pop(t, c.field[cb]);
    struct prov_link_spec s = {
        .capacity_kbps   = cc >= 0 ? atof(c.field[cc]) : 10e6,
        .igp_weight      = (uint32_t)atol(c.field[cw]),
        .background_kbps = 0,
        .delay_ms        = cd >= 0 ? atof(c.field[cd]) / 1000.0 : -1,
        .length_km       = ck >= 0 ? atof(c.field[ck]) : -1,
    };
    if (a < 0 || b < 0) {
      fprintf(stderr, "p4p-optbench: %s: unknown PoP %s or %s\n", file, c.field[ca], c.field[cb]);
      rc = -1;
    } else if (prov_topology_add_duplex(t, a, b, &s, err, sizeof err) < 0) {
      fprintf(stderr, "p4p-optbench: %s: %s\n", file, err);
      rc = -1;
    }
  }
  free(c.buf);
  return rc;
}

/* background: each link gets b_e uniform in [0, background * c_e) */
static int build_topology(struct prov_topology *t, const char *dir, const char *name, double background, struct rng *r) {
  char err[256];
  int  rc;
  prov_topology_init(t);
  if (strcmp(name, "Abilene") == 0)
    rc = load_pops(t, dir, "abilene11_nodes.csv") || load_links(t, dir, "abilene11_links.csv", "ospf_weight", "capacity_p4p_sim_kbps", "great_circle_km", NULL);
  else
    rc = load_pops(t, dir, "attmpls_nodes.csv") || load_links(t, dir, "attmpls_links.csv", "repetita_delay_us", NULL, NULL, "repetita_delay_us");
  if (rc)
    return -1;
  if (prov_topology_finish(t, err, sizeof err) < 0) {
    fprintf(stderr, "p4p-optbench: %s: %s\n", name, err);
    return -1;
  }
  for (int e = 0; background > 0 && e < t->nlinks; e++)
    prov_topology_set_background(t, e, background * t->links[e].capacity_kbps * rng_unit(r), NULL, 0);
  return 0;
}

/* the access-link mix, down/up kbit/s, cumulative probabilities */
static const struct {
  double cum, down, up;
} access_mix[] = {
    {0.20, 784, 128},
    {0.60, 1500, 384},
    {0.85, 3000, 1000},
    {1.00, 10000, 5000},
};

/* seeders: fraction of the leechers' slots taken by peers that finished
 * and only upload (0 in the paper's setup; > 0 gives swarms several
 * supply PoPs, i.e. larger transportation subproblems) */
static void make_swarm(struct rng *r, int npops, double seeders, double *up, double *down) {
  memset(up, 0, (size_t)npops * sizeof *up);
  memset(down, 0, (size_t)npops * sizeof *down);
  up[rng_below(r, npops)] += 1e6; /* the 1 Gb/s seed; it downloads nothing */
  int leechers = 200 + rng_below(r, 1801);
  for (int p = 0; p < leechers; p++) {
    int    pop = rng_below(r, npops);
    double x   = rng_unit(r);
    int    c   = 0;
    while (c < 3 && x >= access_mix[c].cum)
      c++;
    up[pop] += access_mix[c].up;
    if (!(seeders > 0 && rng_unit(r) < seeders))
      down[pop] += access_mix[c].down;
  }
}

struct row {
  const char *topo;
  int         nswarms;
  double      fast_s, exact_s, warm_s;
  int         rounds, warm_rounds, exact_done;
  double      fast_mlu, exact_mlu, gap, bound_gap, topt_err;
};

static int parse_list(const char *s, int *out, int max) {
  int n = 0;
  while (*s && n < max) {
    char *end;
    long  v = strtol(s, &end, 10);
    if (end == s || v <= 0)
      return -1;
    out[n++] = (int)v;
    s        = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return -1;
  }
  return n;
}

static void usage(void) {
  fprintf(stderr, "usage: p4p-optbench DATADIR [--swarms 1,10,100,500] "
                  "[--seed N] [--json FILE] [--exact-limit SECONDS] [--gap REL] [--seeders FRACTION]\n"
                  "       [--background FRACTION]\n");
}

int main(int argc, char **argv) {
  const char *dir = NULL, *json = NULL;
  int         sizes[16] = {1, 10, 100, 500}, nsizes = 4;
  uint64_t    seed        = 20080817;
  double      exact_limit = 60, rel_gap = 1e-3, seeders = 0, background = 0;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--swarms") == 0 && a + 1 < argc) {
      nsizes = parse_list(argv[++a], sizes, 16);
      if (nsizes <= 0) {
        usage();
        return 2;
      }
    } else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
      seed = strtoull(argv[++a], NULL, 10);
    } else if (strcmp(argv[a], "--json") == 0 && a + 1 < argc) {
      json = argv[++a];
    } else if (strcmp(argv[a], "--exact-limit") == 0 && a + 1 < argc) {
      exact_limit = atof(argv[++a]);
    } else if (strcmp(argv[a], "--background") == 0 && a + 1 < argc) {
      background = atof(argv[++a]);
    } else if (strcmp(argv[a], "--seeders") == 0 && a + 1 < argc) {
      seeders = atof(argv[++a]);
    } else if (strcmp(argv[a], "--gap") == 0 && a + 1 < argc) {
      rel_gap = atof(argv[++a]);
    } else if (argv[a][0] != '-' && !dir) {
      dir = argv[a];
    } else {
      usage();
      return 2;
    }
  }
  if (!dir) {
    usage();
    return 2;
  }
  const char *topos[2] = {"Abilene", "AttMpls"};
  struct row  rows[32];
  int         nrows = 0;
  printf("%-8s %7s %9s %6s %9s %6s %9s %9s %9s %8s %8s\n", "topology", "swarms", "fast_s", "rounds", "warm_s", "wrnds", "exact_s", "fast_mlu", "exact_mlu",
         "gap_%", "bound_%");
  for (int ti = 0; ti < 2; ti++) {
    struct prov_topology t;
    struct rng           tr = {seed ^ 0x5bd1e995u};
    if (build_topology(&t, dir, topos[ti], background, &tr) < 0)
      return 1;
    int    n          = t.npops;
    double prev_exact = 0;
    int    prev_n     = 0;
    for (int si = 0; si < nsizes; si++) {
      int                      K   = sizes[si];
      struct rng               r   = {seed + (uint64_t)ti * 1000003u + (uint64_t)K};
      double                  *buf = malloc(4 * (size_t)K * n * sizeof *buf);
      struct prov_swarm_input *sw  = malloc((size_t)K * sizeof *sw);
      if (!buf || !sw)
        return 1;
      for (int k = 0; k < K; k++) {
        sw[k].up_kbps   = buf + (size_t)(2 * k) * n;
        sw[k].down_kbps = buf + (size_t)(2 * k + 1) * n;
        sw[k].peers     = NULL;
        make_swarm(&r, n, seeders, (double *)sw[k].up_kbps, (double *)sw[k].down_kbps);
      }
      struct prov_opt_params prm = {.rel_gap = rel_gap};
      struct prov_opt_result fast, warm, ex;
      char                   err[256];
      struct row            *row = &rows[nrows++];
      memset(row, 0, sizeof *row);
      row->topo                 = topos[ti];
      row->nswarms              = K;
      struct prov_optimizer *o  = prov_optimizer_new();
      double                 t0 = now_s();
      if (prov_optimizer_solve(o, &t, sw, K, &prm, &fast, err, sizeof err)) {
        fprintf(stderr, "p4p-optbench: fast: %s\n", err);
        return 1;
      }
      row->fast_s                   = now_s() - t0;
      row->rounds                   = fast.rounds;
      row->fast_mlu                 = fast.mlu;
      row->bound_gap                = fast.objective > 0 ? 100 * (fast.objective - fast.lower_bound) / fast.objective : 0;
      /* warm re-solve after churn: every swarm's capacities move by up to
       * +-10% per PoP, as between two periodic re-optimizations */
      double                  *buf2 = malloc(2 * (size_t)K * n * sizeof *buf2);
      struct prov_swarm_input *sw2  = malloc((size_t)K * sizeof *sw2);
      if (!buf2 || !sw2)
        return 1;
      for (int k = 0; k < K; k++) {
        double *u2 = buf2 + (size_t)(2 * k) * n, *d2 = u2 + n;
        for (int i = 0; i < n; i++) {
          u2[i] = sw[k].up_kbps[i] * (0.9 + 0.2 * rng_unit(&r));
          d2[i] = sw[k].down_kbps[i] * (0.9 + 0.2 * rng_unit(&r));
        }
        sw2[k].up_kbps   = u2;
        sw2[k].down_kbps = d2;
        sw2[k].peers     = NULL;
      }
      t0 = now_s();
      if (prov_optimizer_solve(o, &t, sw2, K, &prm, &warm, err, sizeof err)) {
        fprintf(stderr, "p4p-optbench: warm: %s\n", err);
        return 1;
      }
      row->warm_s      = now_s() - t0;
      row->warm_rounds = warm.rounds;
      prov_opt_result_free(&warm);
      prov_optimizer_free(o);
      free(buf2);
      free(sw2);

      double predicted = prev_n ? prev_exact * pow((double)K / prev_n, 2.5) : 0;
      if (exact_limit > 0 && predicted <= exact_limit) {
        t0 = now_s();
        if (lp_exact_optimize(&t, sw, K, &prm, &ex, err, sizeof err)) {
          fprintf(stderr, "p4p-optbench: exact: %s\n", err);
          return 1;
        }
        row->exact_s    = now_s() - t0;
        row->exact_done = 1;
        row->exact_mlu  = ex.mlu;
        row->gap        = ex.objective > 0 ? 100 * (fast.objective - ex.objective) / ex.objective : 0;
        for (int k = 0; k < K; k++) {
          double s = 0;
          for (size_t q = 0; q < (size_t)n * n; q++)
            s += fast.swarms[k].t[q];
          double e      = fabs(s - ex.swarms[k].t_opt) / fmax(ex.swarms[k].t_opt, 1e-300);
          row->topt_err = fmax(row->topt_err, e);
        }
        prov_opt_result_free(&ex);
        prev_exact = row->exact_s;
        prev_n     = K;
      }
      prov_opt_result_free(&fast);
      printf("%-8s %7d %9.4f %6d %9.4f %6d ", row->topo, K, row->fast_s, row->rounds, row->warm_s, row->warm_rounds);
      if (row->exact_done)
        printf("%9.3f %9.5f %9.5f %8.4f %8.4f\n", row->exact_s, row->fast_mlu, row->exact_mlu, row->gap, row->bound_gap);
      else {
        printf("%9s %9.5f %9s %8s %8.4f", "-", row->fast_mlu, "-", "-", row->bound_gap);
        if (exact_limit > 0)
          printf("  (exact skipped: ~%.0f s predicted)\n", predicted);
        else
          printf("  (exact not run)\n");
      }
      fflush(stdout);
      free(buf);
      free(sw);
    }
    prov_topology_free(&t);
  }
  if (json) {
    FILE *f = fopen(json, "w");
    if (!f) {
      fprintf(stderr, "p4p-optbench: %s: %s\n", json, strerror(errno));
      return 1;
    }
    fprintf(f,
            "{\n  \"seed\": %llu,\n  \"rel_gap\": %g,\n  \"seeders\": %g,\n"
            "  \"background\": %g,\n  \"rows\": [\n",
            (unsigned long long)seed, rel_gap, seeders, background);
    for (int i = 0; i < nrows; i++) {
      struct row *w = &rows[i];
      fprintf(f,
              "    {\"topology\": \"%s\", \"swarms\": %d, \"fast_s\": %.6f, "
              "\"fast_rounds\": %d, \"warm_s\": %.6f, \"warm_rounds\": %d, "
              "\"fast_mlu\": %.9g, \"bound_gap_pct\": %.6g, ",
              w->topo, w->nswarms, w->fast_s, w->rounds, w->warm_s, w->warm_rounds, w->fast_mlu, w->bound_gap);
      if (w->exact_done)
        fprintf(f,
                "\"exact_s\": %.6f, \"exact_mlu\": %.9g, \"gap_pct\": %.6g, "
                "\"t_opt_max_rel_err\": %.3g}",
                w->exact_s, w->exact_mlu, w->gap, w->topt_err);
      else
        fprintf(f, "\"exact_s\": null, \"exact_mlu\": null, \"gap_pct\": null}");
      fprintf(f, "%s\n", i + 1 < nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
  }
  return 0;
}
