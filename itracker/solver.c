/* Guidance: statistics table, background solves, immutable snapshots. */
#include "solver.h"

#include "deadline.h"
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glpk.h>

#include "proto/text.h"
#include "proto/xml.h"
#include "provider/optimize.h"
#include "provider/pdistance.h"
#include "provider/pidrows.h"

struct swarm_entry {
  uint8_t             hash[P4P_HASH_SIZE];
  double             *up, *down; /* ũ_i, d̃_i per PoP, kbit/s */
  double             *pid_peers; /* peers per PID: splits PoP weights */
  double              demand;    /* sum of d̃: the ranking key */
  time_t              last_seen;
  uint64_t            first_gen; /* statistics generation that added it */
  struct itr_client   owner;     /* the last reporter: its quota counts it */
  struct swarm_entry *next;      /* hash chain */
};

struct snap_swarm {
  uint8_t hash[P4P_HASH_SIZE];
  double *w;         /* PoP weight rows, npops^2 */
  double *pid_peers; /* npids */
  double  t_opt;
};

/* Immutable once published; freed by whoever drops the last reference. */
struct snapshot {
  int                refs;
  uint64_t           gen; /* statistics generation it covers */
  int                hour;
  size_t             nswarms; /* optimized swarms, sorted by hash */
  struct snap_swarm *swarms;
  double             mlu, solve_ms;
  int                rounds;
};

struct solver {
  struct portal         *p;
  int                    verbose;
  pthread_t              thread;
  pthread_mutex_t        mu;     /* guards everything below */
  pthread_cond_t         work;   /* solver thread waits: new stats or stop */
  pthread_cond_t         solved; /* requests wait: a new snapshot */
  int                    stop, dirty;
  uint64_t               gen; /* bumped by every accepted statistics post */
  size_t                 nbuckets, nentries;
  struct swarm_entry   **buckets;
  struct quota_table     owners; /* swarms per client (last reporter) */
  struct snapshot       *snap;
  struct prov_optimizer *opt; /* solver thread only */
};

static size_t hash_bucket(const struct solver *s, const uint8_t *h) {
  uint64_t v;
  memcpy(&v, h, sizeof v); /* info_hashes are SHA-1: already uniform */
  return (size_t)(v & (s->nbuckets - 1));
}

static struct swarm_entry *find_entry(const struct solver *s, const uint8_t *h) {
  for (struct swarm_entry *e = s->buckets[hash_bucket(s, h)]; e; e = e->next)
    if (!memcmp(e->hash, h, P4P_HASH_SIZE))
      return e;
  return NULL;
}

static void free_entry(struct swarm_entry *e) {
  free(e->up);
  free(e->down);
  free(e->pid_peers);
  free(e);
}

static void snapshot_release(struct snapshot *sn) {
  if (!sn || __atomic_sub_fetch(&sn->refs, 1, __ATOMIC_ACQ_REL))
    return;
  for (size_t i = 0; i < sn->nswarms; i++) {
    free(sn->swarms[i].w);
    free(sn->swarms[i].pid_peers);
  }
  free(sn->swarms);
  free(sn);
}

/* caller holds s->mu */
static struct snapshot *snapshot_acquire(struct solver *s) {
  struct snapshot *sn = s->snap;
  if (sn)
    __atomic_add_fetch(&sn->refs, 1, __ATOMIC_ACQ_REL);
  return sn;
}

static int cmp_hash(const void *a, const void *b) { return memcmp(((const struct snap_swarm *)a)->hash, ((const struct snap_swarm *)b)->hash, P4P_HASH_SIZE); }

static const struct snap_swarm *snapshot_find(const struct snapshot *sn, const uint8_t *h) {
  if (!sn || !sn->nswarms)
    return NULL;
  struct snap_swarm key;
  memcpy(key.hash, h, P4P_HASH_SIZE);
  return bsearch(&key, sn->swarms, sn->nswarms, sizeof key, cmp_hash);
}

/* --- the solve ---------------------------------------------------------- */

static int cmp_demand(const void *a, const void *b) {
  const struct swarm_entry *x = *(struct swarm_entry *const *)a;
  const struct swarm_entry *y = *(struct swarm_entry *const *)b;
  if (x->demand != y->demand)
    return x->demand > y->demand ? -1 : 1;
  return memcmp(x->hash, y->hash, P4P_HASH_SIZE); /* deterministic ties */
}

/* caller holds s->mu: forget swarms nobody reported for swarm-expiry */
static void expire_swarms(struct solver *s, time_t now) {
  time_t ttl = (time_t)s->p->prov.daemon.swarm_expiry_s;
  for (size_t b = 0; b < s->nbuckets; b++)
    for (struct swarm_entry **pe = &s->buckets[b]; *pe;) {
      if (now - (*pe)->last_seen > ttl) {
        struct swarm_entry *dead = *pe;
        *pe                      = dead->next;
        quota_sub(&s->owners, &dead->owner, 1);
        free_entry(dead);
        s->nentries--;
      } else {
        pe = &(*pe)->next;
      }
    }
}

/* Copy the heaviest swarms' inputs out of the table (caller holds s->mu),
 * so the solve itself runs without the lock. */
static struct snapshot *pick_swarms(struct solver *s, double **ups, double **downs) {
  const struct prov_config *pr = &s->p->prov;
  size_t                    np = pr->npops, k = 0;
  struct swarm_entry      **all = malloc((s->nentries + 1) * sizeof *all);
  struct snapshot          *sn  = calloc(1, sizeof *sn);
  if (!all || !sn)
    goto oom;
  for (size_t b = 0; b < s->nbuckets; b++)
    for (struct swarm_entry *e = s->buckets[b]; e; e = e->next)
      all[k++] = e;
  qsort(all, k, sizeof *all, cmp_demand);
  size_t cap  = pr->daemon.max_optimized_swarms;
  sn->nswarms = k < cap ? k : cap;
  sn->swarms  = calloc(sn->nswarms + 1, sizeof *sn->swarms);
  *ups        = malloc((sn->nswarms * np + 1) * sizeof **ups);
  *downs      = malloc((sn->nswarms * np + 1) * sizeof **downs);
  if (!sn->swarms || !*ups || !*downs)
    goto oom;
  for (size_t i = 0; i < sn->nswarms; i++) {
    struct snap_swarm *w = &sn->swarms[i];
    memcpy(w->hash, all[i]->hash, P4P_HASH_SIZE);
    w->pid_peers = malloc((pr->npids + 1) * sizeof *w->pid_peers);
    if (!w->pid_peers)
      goto oom;
    memcpy(w->pid_peers, all[i]->pid_peers, pr->npids * sizeof(double));
    memcpy(*ups + i * np, all[i]->up, np * sizeof(double));
    memcpy(*downs + i * np, all[i]->down, np * sizeof(double));
  }
  sn->gen  = s->gen;
  sn->refs = 1;
  free(all);
  return sn;
oom:
  free(all);
  if (sn) {
    for (size_t i = 0; i < sn->nswarms && sn->swarms; i++)
      free(sn->swarms[i].pid_peers);
    free(sn->swarms);
    free(sn);
  }
  free(*ups);
  free(*downs);
  *ups = *downs = NULL;
  return NULL;
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Solve for sn's swarms (inputs ups/downs) and fill their weight rows.
 * Runs without the lock. */
static int solve_snapshot(struct solver *s, struct snapshot *sn, const double *ups, const double *downs, char *err, size_t errlen) {
  const struct portal *p  = s->p;
  size_t               np = p->prov.npops, ns = sn->nswarms;
  struct timespec      t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sn->hour = portal_hour(p);
  if (ns == 0)
    return 0;
  struct prov_swarm_input *in        = calloc(ns, sizeof *in);
  double                  *mult      = malloc((2 * p->prov.nlinks + 1) * sizeof *mult);
  double                  *pop_peers = calloc(ns * np + 1, sizeof *pop_peers);
  if (!in || !mult || !pop_peers) {
    free(in);
    free(mult);
    free(pop_peers);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < ns; i++) {
    in[i].up_kbps   = ups + i * np;
    in[i].down_kbps = downs + i * np;
    /* the weight rows count the peers they pick from (docs/OPTIMIZER.md) */
    for (size_t q = 0; q < p->prov.npids; q++)
      pop_peers[i * np + p->prov.pids[q].pop] += sn->swarms[i].pid_peers[q];
    in[i].peers = pop_peers + i * np;
  }
  /* time-of-day avoidance also steers the optimum off avoided links; the
   * fair plan keeps the rows independent of which optimum the LP found */
  prov_link_mults(&p->prov, sn->hour, mult);
  struct prov_opt_params prm = {.link_mult = mult, .fair_plan = 1, .fair_slack = P4P_FAIR_SLACK};
  struct prov_opt_result res;
  memset(&res, 0, sizeof res);
  int rc = prov_optimizer_solve(s->opt, &p->topo, in, (int)ns, &prm, &res, err, errlen);
  if (rc == 0) {
    sn->mlu    = res.mlu;
    sn->rounds = res.rounds;
    for (size_t i = 0; i < ns && rc == 0; i++) {
      struct snap_swarm *w = &sn->swarms[i];
      w->t_opt             = res.swarms[i].t_opt;
      w->w                 = malloc(np * np * sizeof *w->w);
      if (!w->w) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        break;
      }
      /* the optimizer's rows (prov_weights_from_plan on the fair plan)
       * cover demand-only PoPs and local traffic too */
      memcpy(w->w, res.swarms[i].w, np * np * sizeof *w->w);
    }
  }
  prov_opt_result_free(&res);
  free(in);
  free(mult);
  free(pop_peers);
  qsort(sn->swarms, ns, sizeof *sn->swarms, cmp_hash);
  sn->solve_ms = ms_since(&t0);
  return rc;
}

static void *solver_main(void *arg) {
  struct solver *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    if (!s->dirty) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += s->p->prov.daemon.resolve_interval_s;
      while (!s->dirty && !s->stop && pthread_cond_timedwait(&s->work, &s->mu, &until) != ETIMEDOUT)
        ;
      if (s->stop)
        break;
    }
    s->dirty = 0;
    expire_swarms(s, time(NULL));
    double          *ups = NULL, *downs = NULL;
    struct snapshot *sn = pick_swarms(s, &ups, &downs);
    pthread_mutex_unlock(&s->mu);

    char err[P4P_TEXT_MAX] = "";
    int  rc                = sn ? solve_snapshot(s, sn, ups, downs, err, sizeof err) : -1;
    free(ups);
    free(downs);
    itr_metrics_note_solve(sn ? sn->solve_ms : 0, rc == 0, sn && rc == 0 ? sn->nswarms : 0, sn && rc == 0 ? sn->mlu : 0);
    if (rc) {
      /* keep answering from the previous solution */
      fprintf(stderr, "p4p-itracker: solve failed: %s\n", sn ? err : "out of memory");
      snapshot_release(sn);
      sn = NULL;
    } else if (s->verbose) {
      fprintf(stderr,
              "p4p-itracker: solved %zu swarms in %.1f ms, "
              "%d rounds, MLU %.4f, hour %d\n",
              sn->nswarms, sn->solve_ms, sn->rounds, sn->mlu, sn->hour);
    }

    pthread_mutex_lock(&s->mu);
    if (sn) {
      struct snapshot *old = s->snap;
      s->snap              = sn;
      snapshot_release(old);
    }
    pthread_cond_broadcast(&s->solved);
  }
  pthread_mutex_unlock(&s->mu);
  /* GLPK keeps a per-thread environment: release it, and everything the
   * optimizer built in it, on the thread that made them */
  prov_optimizer_free(s->opt);
  s->opt = NULL;
  glp_free_env();
  return NULL;
}

struct solver *solver_start(struct portal *p, int verbose, char *err, size_t errlen) {
  struct solver *s = calloc(1, sizeof *s);
  if (!s)
    goto oom;
  s->p        = p;
  s->verbose  = verbose;
  /* a bucket per swarm up to a million; chains absorb the rest */
  size_t want = p->prov.daemon.max_tracked_swarms;
  s->nbuckets = 1;
  while (s->nbuckets < want && s->nbuckets < (1u << 20))
    s->nbuckets <<= 1;
  s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
  s->opt     = prov_optimizer_new();
  if (!s->buckets || !s->opt || quota_init(&s->owners, p->prov.nclients ? p->prov.nclients : 256))
    goto oom;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work, NULL);
  pthread_cond_init(&s->solved, NULL);
  /* a first, empty solve publishes a snapshot right away */
  s->dirty = 1;
  if (pthread_create(&s->thread, NULL, solver_main, s)) {
    snprintf(err, errlen, "cannot start the solver thread");
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->solved);
    goto fail;
  }
  return s;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  if (s) {
    free(s->buckets);
    quota_free(&s->owners);
    if (s->opt)
      prov_optimizer_free(s->opt);
    free(s);
  }
  return NULL;
}

size_t solver_tracked_swarms(struct solver *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nentries;
  pthread_mutex_unlock(&s->mu);
  return n;
}

void solver_stop(struct solver *s) {
  if (!s)
    return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->work);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  for (size_t b = 0; b < s->nbuckets; b++)
    while (s->buckets[b]) {
      struct swarm_entry *e = s->buckets[b];
      s->buckets[b]         = e->next;
      free_entry(e);
    }
  free(s->buckets);
  quota_free(&s->owners);
  snapshot_release(s->snap);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work);
  pthread_cond_destroy(&s->solved);
  free(s);
}

/* --- answers ------------------------------------------------------------ */

/* Default (non-optimized) PoP rows from the costs at hour; presence NULL
 * means every PoP. */
static int default_rows(const struct portal *p, int hour, const double *presence, double *w) {
  char err[P4P_TEXT_MAX];
  return prov_default_weights(&p->topo, p->pop_cost[hour], PROV_DEFAULT_TEMPERATURE, presence, w, err, sizeof err);
}

static int add_default_matrix(const struct portal *p, int hour, struct p4p_guidance_msg *g) {
  char err[P4P_TEXT_MAX];
  if (proto_matrix_alloc(&g->default_weights, p->prov.npids))
    return -1;
  for (size_t i = 0; i < p->prov.npids; i++)
    snprintf(g->default_weights.pids[i], P4P_NAME_MAX, "%s", p->prov.pids[i].name);
  if (prov_default_pid_rows(&p->prov, &p->topo, p->pop_cost[hour], g->default_weights.v, err, sizeof err))
    return -1;
  g->has_default = 1;
  return 0;
}

static int fill_swarm(const struct portal *p, struct p4p_swarm_guidance *sg, const uint8_t *hash, const double *pop_w, const double *pid_peers) {
  memcpy(sg->info_hash, hash, P4P_HASH_SIZE);
  if (proto_matrix_alloc(&sg->weights, p->prov.npids))
    return -1;
  for (size_t i = 0; i < p->prov.npids; i++)
    snprintf(sg->weights.pids[i], P4P_NAME_MAX, "%s", p->prov.pids[i].name);
  prov_expand_pop_rows(&p->prov, pop_w, pid_peers, sg->weights.v);
  return 0;
}

static void reply_guidance(struct itr_reply *r, struct p4p_guidance_msg *g, uint64_t gen, int hour, size_t optimized, int max_age) {
  r->body = proto_xml_write_guidance(g, &r->len);
  proto_guidance_msg_free(g);
  if (!r->body) {
    itr_reply_error(r, 503, "cannot write guidance");
    return;
  }
  r->status  = 200;
  r->max_age = max_age;
  snprintf(r->etag, sizeof r->etag, "\"guidance-%llu-h%d\"", (unsigned long long)gen, hour);
  snprintf(r->xname, sizeof r->xname, "X-P4P-Optimized-Swarms");
  snprintf(r->xvalue, sizeof r->xvalue, "%zu", optimized);
}

int solver_guidance_msg(struct solver *s, struct p4p_guidance_msg *g, uint64_t *gen, int *hour) {
  const struct portal *p = s->p;
  pthread_mutex_lock(&s->mu);
  struct snapshot *sn = snapshot_acquire(s);
  pthread_mutex_unlock(&s->mu);
  memset(g, 0, sizeof *g);
  snprintf(g->version, sizeof g->version, "%s", p->prov.version);
  *hour     = sn ? sn->hour : portal_hour(p);
  *gen      = sn ? sn->gen : 0;
  size_t n  = sn ? sn->nswarms : 0;
  g->swarms = calloc(n + 1, sizeof *g->swarms);
  int bad   = !g->swarms || add_default_matrix(p, *hour, g);
  for (size_t i = 0; i < n && !bad; i++) {
    bad        = fill_swarm(p, &g->swarms[i], sn->swarms[i].hash, sn->swarms[i].w, sn->swarms[i].pid_peers);
    g->nswarms = i + 1;
  }
  snapshot_release(sn);
  if (bad) {
    proto_guidance_msg_free(g);
    return -1;
  }
  return 0;
}

void solver_guidance(struct solver *s, struct itr_reply *r) {
  struct p4p_guidance_msg g;
  uint64_t                gen;
  int                     hour;
  if (solver_guidance_msg(s, &g, &gen, &hour)) {
    itr_reply_error(r, 503, "out of memory");
    return;
  }
  reply_guidance(r, &g, gen, hour, g.nswarms, (int)s->p->prov.daemon.resolve_interval_s);
}

uint64_t solver_published(struct solver *s, int *hour) {
  pthread_mutex_lock(&s->mu);
  uint64_t gen = s->snap ? s->snap->gen : 0;
  *hour        = s->snap ? s->snap->hour : -1;
  pthread_mutex_unlock(&s->mu);
  return gen;
}

/* One posted swarm turned into solver inputs. */
struct posted {
  double *up, *down, *pid_peers, demand;
};

static void free_posted(struct posted *ps, size_t n) {
  for (size_t i = 0; ps && i < n; i++) {
    free(ps[i].up);
    free(ps[i].down);
    free(ps[i].pid_peers);
  }
  free(ps);
}

/* Validate statistics and derive ũ, d̃ per PoP.  Unknown rates are
 * estimated from the access classes: every peer uploads at the mean class
 * upload rate, every leecher downloads at the mean download rate. */
static int convert_stats(const struct portal *p, const struct p4p_stats_msg *m, struct posted *ps, struct itr_reply *r) {
  const struct prov_config *pr = &p->prov;
  char                      hex[2 * P4P_HASH_SIZE + 1];
  char                      seen[pr->npids + 1];
  for (size_t k = 0; k < m->nswarms; k++) {
    const struct p4p_swarm_stats *sw = &m->swarms[k];
    proto_hash_format_hex(sw->info_hash, hex);
    for (size_t j = 0; j < k; j++)
      if (!memcmp(m->swarms[j].info_hash, sw->info_hash, P4P_HASH_SIZE)) {
        itr_reply_error(r, 400, "swarm %s reported twice", hex);
        return -1;
      }
    struct posted *o = &ps[k];
    memset(seen, 0, pr->npids);
    o->up        = calloc(pr->npops, sizeof *o->up);
    o->down      = calloc(pr->npops, sizeof *o->down);
    o->pid_peers = calloc(pr->npids + 1, sizeof *o->pid_peers);
    if (!o->up || !o->down || !o->pid_peers) {
      itr_reply_error(r, 503, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < sw->npids; i++) {
      const struct p4p_pid_stats *st  = &sw->pids[i];
      long                        pid = prov_pid_index(pr, st->pid);
      if (pid < 0) {
        itr_reply_error(r, 400, "unknown PID '%s' in swarm %s", st->pid, hex);
        return -1;
      }
      if (seen[pid]) {
        itr_reply_error(r, 400, "PID '%s' reported twice in swarm %s", st->pid, hex);
        return -1;
      }
      if (st->seeders > ITR_MAX_PEERS_PER_PID || st->leechers > ITR_MAX_PEERS_PER_PID) {
        itr_reply_error(r, 400,
                        "absurd peer count in PID '%s' of swarm %s "
                        "(limit %llu)",
                        st->pid, hex, ITR_MAX_PEERS_PER_PID);
        return -1;
      }
      if (!isfinite(st->up_kbps) || !isfinite(st->down_kbps) || st->up_kbps > ITR_MAX_RATE_KBPS || st->down_kbps > ITR_MAX_RATE_KBPS) {
        itr_reply_error(r, 400,
                        "absurd rate in PID '%s' of swarm %s "
                        "(limit %.0f kbit/s)",
                        st->pid, hex, ITR_MAX_RATE_KBPS);
        return -1;
      }
      double peers = (double)st->seeders + (double)st->leechers;
      size_t P     = pr->pids[pid].pop;
      o->up[P] += st->up_kbps >= 0 ? st->up_kbps : peers * p->mean_up_kbps;
      o->down[P] += st->down_kbps >= 0 ? st->down_kbps : (double)st->leechers * p->mean_down_kbps;
      o->pid_peers[pid] = peers;
      seen[pid]         = 1;
    }
    for (size_t P = 0; P < pr->npops; P++)
      o->demand += o->down[P];
  }
  return 0;
}

/* caller holds s->mu: swarms of m that would newly count against who
 * (not tracked yet, or last reported by someone else); *fresh = those not
 * tracked at all */
static size_t newly_held(const struct solver *s, const struct p4p_stats_msg *m, const struct itr_client *who, size_t *fresh) {
  size_t n = 0;
  *fresh   = 0;
  for (size_t k = 0; k < m->nswarms; k++) {
    const struct swarm_entry *e = find_entry(s, m->swarms[k].info_hash);
    *fresh += !e;
    n += !e || !itr_client_equal(&e->owner, who);
  }
  return n;
}

void solver_post_stats(struct solver *s, const struct itr_client *who, const char *body, size_t len, struct itr_reply *r) {
  struct p4p_stats_msg m;
  char                 perr[P4P_TEXT_MAX];
  if (proto_xml_parse_stats(body, len, "request", &m, perr, sizeof perr)) {
    itr_reply_error(r, 400, "%s", perr);
    return;
  }
  struct p4p_guidance_msg g;
  uint64_t                gen;
  int                     hour;
  size_t                  optimized;
  int                     rc = solver_post_msg(s, who, &m, &g, &gen, &hour, &optimized, r);
  proto_stats_msg_free(&m);
  if (rc == 0)
    reply_guidance(r, &g, gen, hour, optimized, -1);
}

int solver_post_msg(struct solver *s, const struct itr_client *who, const struct p4p_stats_msg *msg, struct p4p_guidance_msg *out, uint64_t *out_gen,
                    int *out_hour, size_t *out_optimized, struct itr_reply *r) {
  const struct portal       *p  = s->p;
  const struct prov_config  *pr = &p->prov;
  const struct p4p_stats_msg m  = *msg; /* the caller frees it */
  memset(out, 0, sizeof *out);
  struct posted *ps = calloc(m.nswarms + 1, sizeof *ps);
  if (!ps) {
    itr_reply_error(r, 503, "out of memory");
    return -1;
  }
  if (convert_stats(p, &m, ps, r)) {
    free_posted(ps, m.nswarms);
    return -1;
  }

  pthread_mutex_lock(&s->mu);
  size_t fresh, more = newly_held(s, &m, who, &fresh);
  size_t quota = p->prov.daemon.max_swarms_per_client;
  time_t now   = time(NULL);
  if (s->nentries + fresh > pr->daemon.max_tracked_swarms || quota_count(&s->owners, who) + more > quota) {
    /* expired swarms must not be what refuses a post */
    expire_swarms(s, now);
    more = newly_held(s, &m, who, &fresh);
  }
  size_t held = quota_count(&s->owners, who);
  if (held + more > quota || s->nentries + fresh > pr->daemon.max_tracked_swarms) {
    pthread_mutex_unlock(&s->mu);
    free_posted(ps, m.nswarms);
    if (held + more > quota) {
      char name[96];
      itr_client_describe(who, pr, name, sizeof name);
      itr_reply_error(r, 429,
                      "%s reports %zu swarms and this post adds "
                      "%zu, above its quota of %zu (max-swarms-per-client); "
                      "swarms not reported expire after %u s",
                      name, held, more, quota, pr->daemon.swarm_expiry_s);
    } else {
      itr_reply_error(r, 503, "swarm table full (%zu swarms tracked)", pr->daemon.max_tracked_swarms);
    }
    return -1;
  }
  uint64_t gen = ++s->gen;
  int      oom = 0;
  for (size_t k = 0; k < m.nswarms; k++) {
    struct swarm_entry *e = find_entry(s, m.swarms[k].info_hash);
    if (!e || !itr_client_equal(&e->owner, who)) {
      /* counted before the table changes: on failure nothing moved */
      if (quota_add(&s->owners, who, 1)) {
        oom = 1;
        break;
      }
      if (e)
        quota_sub(&s->owners, &e->owner, 1);
    }
    if (!e) {
      e = calloc(1, sizeof *e);
      if (!e) {
        quota_sub(&s->owners, who, 1);
        oom = 1;
        break;
      }
      memcpy(e->hash, m.swarms[k].info_hash, P4P_HASH_SIZE);
      e->first_gen  = gen;
      size_t b      = hash_bucket(s, e->hash);
      e->next       = s->buckets[b];
      s->buckets[b] = e;
      s->nentries++;
    } else {
      free(e->up);
      free(e->down);
      free(e->pid_peers);
    }
    /* ownership moves into the table */
    e->up        = ps[k].up;
    e->down      = ps[k].down;
    e->pid_peers = ps[k].pid_peers;
    e->demand    = ps[k].demand;
    e->last_seen = now;
    e->owner     = *who;
    ps[k].up = ps[k].down = ps[k].pid_peers = NULL;
  }
  s->dirty = 1;
  pthread_cond_signal(&s->work);
  /* a swarm the published solution has never seen: wait (bounded) for the
   * solve this post just triggered rather than answer defaults at once */
  if (!oom && fresh && pr->daemon.max_optimized_swarms > 0) {
    struct timespec until;
    itr_deadline_in_ms(&until, CLOCK_REALTIME, pr->daemon.first_solve_wait_ms);
    while ((!s->snap || s->snap->gen < gen) && !s->stop && pthread_cond_timedwait(&s->solved, &s->mu, &until) != ETIMEDOUT)
      ;
  }
  struct snapshot *sn = snapshot_acquire(s);
  pthread_mutex_unlock(&s->mu);
  free_posted(ps, m.nswarms);
  if (oom) {
    snapshot_release(sn);
    itr_reply_error(r, 503, "out of memory");
    return -1;
  }

  /* answer from the snapshot; swarms not optimized get default rows over
   * the PoPs where they have peers */
  struct p4p_guidance_msg g;
  memset(&g, 0, sizeof g);
  snprintf(g.version, sizeof g.version, "%s", pr->version);
  int     hour = sn ? sn->hour : portal_hour(p);
  size_t  np = pr->npops, optimized = 0;
  double *w        = malloc((np * np + 1) * sizeof *w);
  double *presence = malloc((np + 1) * sizeof *presence);
  double *peers    = calloc(pr->npids + 1, sizeof *peers);
  g.swarms         = calloc(m.nswarms + 1, sizeof *g.swarms);
  int bad          = !w || !presence || !peers || !g.swarms || add_default_matrix(p, hour, &g);
  for (size_t k = 0; k < m.nswarms && !bad; k++) {
    const struct p4p_swarm_stats *sw = &m.swarms[k];
    memset(peers, 0, pr->npids * sizeof *peers);
    memset(presence, 0, np * sizeof *presence);
    for (size_t i = 0; i < sw->npids; i++) {
      long pid   = prov_pid_index(pr, sw->pids[i].pid);
      peers[pid] = (double)sw->pids[i].seeders + (double)sw->pids[i].leechers;
      if (peers[pid] > 0)
        presence[pr->pids[pid].pop] = 1;
    }
    const struct snap_swarm *ss = snapshot_find(sn, sw->info_hash);
    if (ss) {
      optimized++;
      bad = fill_swarm(p, &g.swarms[k], sw->info_hash, ss->w, peers);
    } else {
      bad = default_rows(p, hour, presence, w) || fill_swarm(p, &g.swarms[k], sw->info_hash, w, peers);
    }
    g.nswarms = k + 1;
  }
  free(w);
  free(presence);
  free(peers);
  *out_gen       = sn ? sn->gen : 0;
  *out_hour      = hour;
  *out_optimized = optimized;
  snapshot_release(sn);
  if (bad) {
    proto_guidance_msg_free(&g);
    itr_reply_error(r, 503, "out of memory");
    return -1;
  }
  *out = g;
  return 0;
}
