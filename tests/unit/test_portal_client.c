/* portal_client: the background fetcher against the misbehaving fake portal
 * (tests/harness/fake_portal.py), started as a subprocess on
 * 127.0.0.1 with a free port.  Every wait is bounded (wait_for); no
 * assertion is about how long something took, except that stop() does not
 * wait out a transfer that would hang for minutes. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "p4p/portal_client.h"
#include "proto/xml.h"

/* ---- the fake portal as a subprocess ------------------------------------ */

struct fake {
  pid_t pid;
  int   life; /* write end of the fake's stdin: it exits at EOF, so a
                 test that dies takes its fakes with it */
  int  port;
  char url[64];
};

static const char *fake_script(void) {
  static char path[1024];
  const char *data = getenv("TEST_DATA");
  snprintf(path, sizeof path, "%s/../harness/fake_portal.py", data ? data : "tests/data");
  return path;
}

/* Starts fake_portal.py with the given extra arguments (NULL-terminated)
 * and reads the "PORT n" line it prints once listening. */
static void fake_start(struct fake *f, const char *mode, int max_age, ...) {
  int         fds[2], life[2];
  char        age[16];
  const char *argv[24];
  int         a = 0;
  snprintf(age, sizeof age, "%d", max_age);
  argv[a++] = "/usr/bin/python3";
  argv[a++] = fake_script();
  argv[a++] = "--port";
  argv[a++] = "0";
  argv[a++] = "--mode";
  argv[a++] = mode;
  argv[a++] = "--max-age";
  argv[a++] = age;
  argv[a++] = "--exit-on-eof";
  va_list ap;
  va_start(ap, max_age);
  const char *s;
  while ((s = va_arg(ap, const char *)) && a < 22)
    argv[a++] = s;
  va_end(ap);
  argv[a] = NULL;
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(pipe2(life, O_CLOEXEC), 0);
  f->pid = fork();
  assert_true(f->pid >= 0);
  if (f->pid == 0) {
    dup2(fds[1], 1);
    dup2(life[0], 0);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  close(life[0]);
  f->life        = life[1];
  FILE *in       = fdopen(fds[0], "r");
  char  line[64] = "";
  assert_non_null(fgets(line, sizeof line, in)); /* EOF if it died */
  fclose(in);
  assert_int_equal(sscanf(line, "PORT %d", &f->port), 1);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
}

static void fake_stop(struct fake *f) {
  int st;
  close(f->life);
  kill(f->pid, SIGTERM);
  for (int i = 0; i < 100; i++) { /* at most 5 s, then no more manners */
    if (waitpid(f->pid, &st, WNOHANG) == f->pid)
      return;
    usleep(50000);
  }
  kill(f->pid, SIGKILL);
  waitpid(f->pid, &st, 0);
}

static size_t keep_body(char *p, size_t s, size_t n, void *ud) {
  char  *out  = ud;
  size_t have = strlen(out), add = s * n;
  if (have + add >= 4096)
    add = 4095 - have;
  memcpy(out + have, p, add);
  out[have + add] = '\0';
  return s * n;
}

/* GET a control path of the fake; its body in out (4096 bytes). */
static void fake_control(const struct fake *f, const char *path, char *out) {
  char url[512], sink[4096] = "";
  if (!out)
    out = sink;
  out[0] = '\0';
  snprintf(url, sizeof url, "%s%s", f->url, path);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  assert_int_equal(curl_easy_perform(e), CURLE_OK);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  assert_int_equal(code, 200);
  curl_easy_cleanup(e);
}

static int fake_count(const struct fake *f, const char *path) {
  char q[256], out[4096];
  snprintf(q, sizeof q, "/_count?path=%s", path);
  fake_control(f, q, out);
  return atoi(out);
}

/* ---- client helpers -------------------------------------------------------- */

struct updates {
  atomic_int n;
};

static void count_update(void *ctx) {
  struct updates *u = ctx;
  atomic_fetch_add(&u->n, 1);
}

static struct p4p_provider_config source(const char *name, const char *url, unsigned interfaces) {
  struct p4p_provider_config s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  snprintf(s.url, sizeof s.url, "%s", url);
  s.interfaces = interfaces;
  s.timeout_ms = 3000;
  return s;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef int (*cond_fn)(struct portal_client *c, size_t i, void *arg);

/* Polls cond every 20 ms for at most limit_s; returns its last value.  The
 * limits are several times what the behaviour needs, so a slow machine
 * only makes the test slower. */
static int wait_for(struct portal_client *c, size_t i, cond_fn cond, void *arg, double limit_s) {
  double end = now_s() + limit_s;
  int    ok;
  while (!(ok = cond(c, i, arg)) && now_s() < end)
    usleep(20000);
  return ok;
}

static int has_all(struct portal_client *c, size_t i, void *arg) {
  unsigned           want = *(unsigned *)arg;
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, i, &d), 0);
  unsigned have = (d.has_pidmap ? P4P_IF_INFO : 0) | (d.has_costs ? P4P_IF_POLICY : 0) | (d.has_guidance ? P4P_IF_GUIDANCE : 0) |
                  (d.has_capability ? P4P_IF_CAPABILITY : 0);
  p4p_portal_data_free(&d);
  return (have & want) == want;
}

static int has_no_pidmap(struct portal_client *c, size_t i, void *arg) {
  (void)arg;
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, i, &d), 0);
  int none = !d.has_pidmap;
  p4p_portal_data_free(&d);
  return none;
}

static int failures_at_least(struct portal_client *c, size_t i, void *arg) {
  struct portal_status st;
  assert_int_equal(p4p_portal_status(c, i, &st), 0);
  return st.failures >= *(unsigned long *)arg;
}

static int not_modified_at_least(struct portal_client *c, size_t i, void *arg) {
  struct portal_status st;
  assert_int_equal(p4p_portal_status(c, i, &st), 0);
  return st.not_modified >= *(unsigned long *)arg;
}

static int healthy_again(struct portal_client *c, size_t i, void *arg) {
  (void)arg;
  struct portal_status st;
  assert_int_equal(p4p_portal_status(c, i, &st), 0);
  return st.backoff_s == 0 && st.last_success >= st.last_error_at && st.failures > 0;
}

struct count_arg {
  const struct fake *f;
  const char        *path;
  int                min;
};

static int fake_count_at_least(struct portal_client *c, size_t i, void *arg) {
  (void)c;
  (void)i;
  struct count_arg *a = arg;
  return fake_count(a->f, a->path) >= a->min;
}

static struct portal_status status_of(struct portal_client *c, size_t i) {
  struct portal_status st;
  assert_int_equal(p4p_portal_status(c, i, &st), 0);
  return st;
}

static double matrix_at(const struct p4p_matrix *m, const char *from, const char *to) {
  size_t a = m->n, b = m->n;
  for (size_t k = 0; k < m->n; k++) {
    if (!strcmp(m->pids[k], from))
      a = k;
    if (!strcmp(m->pids[k], to))
      b = k;
  }
  assert_true(a < m->n && b < m->n);
  return m->v[a * m->n + b];
}

/* ---- tests --------------------------------------------------------------- */

static void test_cache_control_max_age(void **state) {
  (void)state;
  assert_int_equal(p4p_portal_cache_max_age("max-age=300"), 300);
  assert_int_equal(p4p_portal_cache_max_age("public, Max-Age=5"), 5);
  assert_int_equal(p4p_portal_cache_max_age("no-store"), -1);
  assert_int_equal(p4p_portal_cache_max_age("no-cache, max-age=7"), 7);
  assert_int_equal(p4p_portal_cache_max_age("max-age=0"), 0);
  assert_int_equal(p4p_portal_cache_max_age(""), -1);
  assert_int_equal(p4p_portal_cache_max_age("max-age=abc"), -1);
  assert_int_equal(p4p_portal_cache_max_age("private"), -1);
}

/* 1 s doubling to the cap, times a jitter factor in [0.5, 1.5):
 *   fails 1: 1 s -> [500, 1500) ms;  fails 4: 8 s -> [4000, 12000) ms;
 *   fails 12 with cap 300: 2048 s capped to 300 s -> [150000, 450000) ms. */
static void test_backoff_doubles_to_cap_with_half_jitter(void **state) {
  (void)state;
  assert_int_equal(p4p_portal_backoff_delay_ms(0, 300, 0.7), 0);
  assert_int_equal(p4p_portal_backoff_delay_ms(1, 300, 0.0), 500);
  assert_int_equal(p4p_portal_backoff_delay_ms(1, 300, 0.5), 1000);
  assert_true(p4p_portal_backoff_delay_ms(1, 300, 0.999999) < 1500);
  assert_int_equal(p4p_portal_backoff_delay_ms(2, 300, 0.5), 2000);
  assert_int_equal(p4p_portal_backoff_delay_ms(4, 300, 0.0), 4000);
  assert_int_equal(p4p_portal_backoff_delay_ms(4, 300, 0.5), 8000);
  assert_int_equal(p4p_portal_backoff_delay_ms(9, 300, 0.5), 256000);
  assert_int_equal(p4p_portal_backoff_delay_ms(10, 300, 0.5), 300000);
  assert_int_equal(p4p_portal_backoff_delay_ms(12, 300, 0.0), 150000);
  assert_int_equal(p4p_portal_backoff_delay_ms(4000000000u, 300, 0.5), 300000);
  assert_int_equal(p4p_portal_backoff_delay_ms(3, 2, 0.5), 2000);
}

static void test_start_refuses_bad_sources(void **state) {
  (void)state;
  char                       err[256];
  struct p4p_provider_config s[2];
  s[0] = source("a", "ftp://127.0.0.1:1", P4P_IF_ALL);
  assert_null(p4p_portal_start(s, 1, NULL, NULL, err, sizeof err));
  assert_string_equal(err, "provider a: base URL must start with http:// or https://");
  s[0] = source("", "http://127.0.0.1:1", P4P_IF_ALL);
  assert_null(p4p_portal_start(s, 1, NULL, NULL, err, sizeof err));
  assert_string_equal(err, "provider name missing or too long");
  s[0] = source("a", "http://127.0.0.1:1", P4P_IF_ALL);
  strcpy(s[0].token, "abc\r\nX-Evil: 1");
  assert_null(p4p_portal_start(s, 1, NULL, NULL, err, sizeof err));
  assert_string_equal(err, "provider a: token must be printable ASCII without blanks");
  s[0] = source("a", "http://127.0.0.1:1", P4P_IF_ALL);
  s[1] = source("a", "http://127.0.0.1:2", P4P_IF_ALL);
  assert_null(p4p_portal_start(s, 2, NULL, NULL, err, sizeof err));
  assert_string_equal(err, "provider a named twice");
  assert_null(p4p_portal_start(s, 0, NULL, NULL, err, sizeof err));
  assert_int_equal(p4p_portal_data(NULL, 0, &(struct portal_data){0}), -1);
}

/* The fake serves docs/PROTOCOL.md's examples: 4 PIDs; cost 0.i -> 2.i is
 * 12.5; default guidance row 0.i = (0.6, 0.3, 0.1); two servers. */
static void test_fetches_and_parses_every_v1_interface(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 300, "--token", "sixteen-byte-token", NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_ALL);
  strcpy(s.token, "sixteen-byte-token");
  struct updates        u = {0};
  char                  err[256];
  struct portal_client *c = p4p_portal_start(&s, 1, count_update, &u, err, sizeof err);
  assert_non_null(c);
  unsigned all = P4P_IF_ALL;
  assert_true(wait_for(c, 0, has_all, &all, 10));
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, 0, &d), 0);
  assert_int_equal(d.pidmap.npids, 4);
  assert_string_equal(d.pidmap.pids[0].name, "0.i.example");
  assert_string_equal(d.pidmap.version, "fake-1");
  assert_int_equal(d.pidmap.pids[0].asid, 64512);
  assert_true(d.costs.costs.n == 3);
  assert_true(matrix_at(&d.costs.costs, "0.i.example", "2.i.example") == 12.5);
  assert_true(d.guidance.has_default);
  assert_true(matrix_at(&d.guidance.default_weights, "0.i.example", "1.i.example") == 0.3);
  assert_int_equal(d.guidance.nswarms, 0); /* GET: no stats posted yet */
  assert_int_equal(d.capability.nservers, 2);
  assert_string_equal(d.capability.servers[0].kind, "cache");
  assert_int_equal(d.capability.servers[1].port, 51413);
  assert_true(d.pidmap_at > 0 && d.capability_at > 0);
  struct portal_status st = status_of(c, 0);
  assert_true(st.pidmap_at >= d.pidmap_at && st.capability_at > 0);
  assert_int_equal(st.servers, 2);
  assert_int_equal(st.guidance_swarms, 0);
  p4p_portal_data_free(&d);
  assert_int_equal(st.failures, 0);
  assert_true(st.fetches >= 4);
  assert_string_equal(st.last_error, "");
  assert_string_equal(st.version, "fake-1");
  assert_true(atomic_load(&u.n) >= 1);
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* max-age=1: the pidmap is asked again each second with If-None-Match and
 * the fake answers 304; the data stays, its age renews, and nothing counts
 * as an update after the first answer. */
static void test_not_modified_keeps_data_without_update(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 1, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_INFO);
  struct updates             u = {0};
  struct portal_client      *c = p4p_portal_start(&s, 1, count_update, &u, NULL, 0);
  assert_non_null(c);
  unsigned long one = 1;
  assert_true(wait_for(c, 0, not_modified_at_least, &one, 10));
  char etag[4096];
  fake_control(&f, "/_header?path=/p4p/v1/pidmap&name=If-None-Match", etag);
  assert_true(!strncmp(etag, "\"pidmap-", 8));
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, 0, &d), 0);
  assert_true(d.has_pidmap);
  assert_int_equal(d.pidmap.npids, 4);
  p4p_portal_data_free(&d);
  assert_int_equal(atomic_load(&u.n), 1);
  assert_int_equal(status_of(c, 0).failures, 0);
  /* a new version changes the body and ETag: a 200 and one more update */
  fake_control(&f, "/_version?v=fake-2", NULL);
  for (int i = 0; i < 500 && atomic_load(&u.n) < 2; i++)
    usleep(20000);
  assert_int_equal(atomic_load(&u.n), 2);
  assert_int_equal(p4p_portal_data(c, 0, &d), 0);
  assert_string_equal(d.pidmap.version, "fake-2");
  p4p_portal_data_free(&d);
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* max-age 300 everywhere.  The portal moves to version fake-2; the next
 * guidance answer (stats posted) says so, which makes the client ask for
 * the PID map at once instead of in 300 s. */
static void test_newer_version_elsewhere_refetches_pid_map(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 300, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_INFO | P4P_IF_GUIDANCE);
  struct portal_client      *c = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned both = P4P_IF_INFO | P4P_IF_GUIDANCE;
  assert_true(wait_for(c, 0, has_all, &both, 10));
  assert_int_equal(fake_count(&f, "/p4p/v1/pidmap"), 1);
  fake_control(&f, "/_version?v=fake-2", NULL);
  struct p4p_stats_msg none = {0};
  assert_int_equal(p4p_portal_post_stats(c, 0, &none), 0);
  struct count_arg a = {&f, "/p4p/v1/pidmap", 2};
  assert_true(wait_for(c, 0, fake_count_at_least, &a, 10));
  struct portal_data d = {0};
  for (int i = 0; i < 500; i++) {
    assert_int_equal(p4p_portal_data(c, 0, &d), 0);
    if (!strcmp(d.pidmap.version, "fake-2"))
      break;
    p4p_portal_data_free(&d);
    usleep(20000);
  }
  assert_string_equal(d.pidmap.version, "fake-2");
  p4p_portal_data_free(&d);
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* Two providers in one client, refresh_s 300: the one whose answers say
 * max-age=1 is asked again and again; the one saying max-age=300 exactly
 * once in the same time. */
static void test_max_age_schedules_next_fetch(void **state) {
  (void)state;
  struct fake fast, slow;
  fake_start(&fast, "healthy", 1, NULL);
  fake_start(&slow, "healthy", 300, NULL);
  struct p4p_provider_config s[2] = {source("fast", fast.url, P4P_IF_POLICY), source("slow", slow.url, P4P_IF_POLICY)};
  struct portal_client      *c    = p4p_portal_start(s, 2, NULL, NULL, NULL, 0);
  assert_non_null(c);
  struct count_arg a = {&fast, "/p4p/v1/costs", 2};
  assert_true(wait_for(c, 0, fake_count_at_least, &a, 10));
  struct count_arg b = {&slow, "/p4p/v1/costs", 1};
  assert_true(wait_for(c, 1, fake_count_at_least, &b, 10));
  assert_int_equal(fake_count(&slow, "/p4p/v1/costs"), 1);
  p4p_portal_stop(c);
  fake_stop(&fast);
  fake_stop(&slow);
}

/* Stats posted: the next guidance round POSTs them as <stats> and stores
 * the answer, which (in the fake) has a matrix for each posted swarm. */
static void test_guidance_posts_stats_and_stores_swarm_matrix(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 300, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_GUIDANCE);
  struct portal_client      *c = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned g = P4P_IF_GUIDANCE;
  assert_true(wait_for(c, 0, has_all, &g, 10));

  struct p4p_pid_stats   ps = {.pid = "0.i.example", .seeders = 2, .leechers = 40, .up_kbps = -1, .down_kbps = -1};
  struct p4p_swarm_stats sw = {.npids = 1, .pids = &ps};
  memset(sw.info_hash, 0xab, sizeof sw.info_hash);
  struct p4p_stats_msg stats = {.nswarms = 1, .swarms = &sw};
  assert_int_equal(p4p_portal_post_stats(c, 0, &stats), 0);

  struct portal_data d = {0};
  for (int i = 0; i < 500; i++) {
    assert_int_equal(p4p_portal_data(c, 0, &d), 0);
    if (d.guidance.nswarms == 1)
      break;
    p4p_portal_data_free(&d);
    usleep(20000);
  }
  assert_int_equal(d.guidance.nswarms, 1);
  assert_int_equal(d.guidance.swarms[0].info_hash[7], 0xab);
  assert_int_equal(status_of(c, 0).guidance_swarms, 1);
  assert_true(matrix_at(&d.guidance.swarms[0].weights, "0.i.example", "2.i.example") == 1);
  p4p_portal_data_free(&d);
  char body[4096];
  fake_control(&f, "/_last?path=/p4p/v1/guidance", body);
  assert_non_null(strstr(body, "<stats"));
  assert_non_null(strstr(body, "abababababababababababababababababababab"));
  assert_non_null(strstr(body, "leechers=\"40\""));
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* Portal turns to 500: the last good data stays (staleness 60 s), every
 * failure is counted and named, and the backoff grows 1 -> 2 and stops at
 * the cap (2 s here).  Back to healthy: the backoff resets. */
static void test_failures_back_off_and_keep_last_good_data(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 1, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_INFO);
  s.max_staleness_s            = 60;
  s.backoff_max_s              = 2;
  struct portal_client *c      = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned pm = P4P_IF_INFO;
  assert_true(wait_for(c, 0, has_all, &pm, 10));
  fake_control(&f, "/_mode?m=500", NULL);
  unsigned long one = 1, three = 3;
  assert_true(wait_for(c, 0, failures_at_least, &one, 10));
  struct portal_status st = status_of(c, 0);
  assert_true(st.backoff_s == 1 || st.backoff_s == 2);
  assert_string_equal(st.last_error, "pidmap: HTTP 500: portal failure (fake)");
  assert_true(wait_for(c, 0, failures_at_least, &three, 15));
  assert_int_equal(status_of(c, 0).backoff_s, 2); /* 1, 2, 4 capped at 2 */
  assert_true(has_all(c, 0, &pm));                /* last good data still served */
  fake_control(&f, "/_mode?m=healthy", NULL);
  assert_true(wait_for(c, 0, healthy_again, NULL, 10));
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* max_staleness_s = 2 and the portal hangs: the data is dropped (and an
 * update announced) once the last good fetch is 2 s old. */
static void test_stale_data_is_dropped(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 1, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_INFO);
  s.max_staleness_s            = 2;
  s.timeout_ms                 = 500;
  struct updates        u      = {0};
  struct portal_client *c      = p4p_portal_start(&s, 1, count_update, &u, NULL, 0);
  assert_non_null(c);
  unsigned pm = P4P_IF_INFO;
  assert_true(wait_for(c, 0, has_all, &pm, 10));
  fake_control(&f, "/_mode?m=hang", NULL);
  assert_true(wait_for(c, 0, has_no_pidmap, NULL, 10));
  assert_int_equal(atomic_load(&u.n), 2); /* arrival, then expiry */
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, 0, &d), 0);
  assert_int_equal(d.pidmap_at, 0);
  assert_int_equal(d.pidmap.npids, 0);
  p4p_portal_data_free(&d);
  assert_int_equal(status_of(c, 0).pidmap_at, 0);
  assert_true(status_of(c, 0).failures >= 1);
  p4p_portal_stop(c);
  fake_stop(&f);
}

static void test_endless_body_is_cut_at_max_body(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "huge", 300, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_INFO);
  s.max_body                   = 65536;
  struct portal_client *c      = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned long one = 1;
  assert_true(wait_for(c, 0, failures_at_least, &one, 10));
  assert_string_equal(status_of(c, 0).last_error, "pidmap: response larger than max_body (65536 bytes)");
  assert_true(has_no_pidmap(c, 0, NULL));
  p4p_portal_stop(c);
  fake_stop(&f);
}

/* One client, three providers: one hangs, one answers a byte every 0.5 s,
 * one is healthy.  The healthy one's data arrives regardless, and the other
 * two are cut by the 800 ms transfer cap. */
static void test_hang_and_slow_are_cut_and_block_nobody(void **state) {
  (void)state;
  struct fake hang, slow, ok;
  fake_start(&hang, "hang", 300, NULL);
  fake_start(&slow, "slow", 300, NULL);
  fake_start(&ok, "healthy", 300, NULL);
  struct p4p_provider_config s[3] = {source("hang", hang.url, P4P_IF_INFO), source("slow", slow.url, P4P_IF_INFO), source("ok", ok.url, P4P_IF_INFO)};
  s[0].timeout_ms = s[1].timeout_ms = 800;
  struct portal_client *c           = p4p_portal_start(s, 3, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned      pm  = P4P_IF_INFO;
  unsigned long one = 1;
  assert_true(wait_for(c, 2, has_all, &pm, 10));
  assert_true(wait_for(c, 0, failures_at_least, &one, 10));
  assert_true(wait_for(c, 1, failures_at_least, &one, 10));
  for (size_t i = 0; i < 2; i++) {
    struct portal_status st = status_of(c, i);
    assert_true(!strncmp(st.last_error, "pidmap: ", 8));
    assert_non_null(strstr(st.last_error, "timed out"));
    assert_true(has_no_pidmap(c, i, NULL));
  }
  assert_int_equal(status_of(c, 2).failures, 0);
  p4p_portal_stop(c);
  fake_stop(&hang);
  fake_stop(&slow);
  fake_stop(&ok);
}

/* A transfer that would hang for a minute (timeout 60 s, the fake never
 * answers): stop() aborts it instead of waiting it out. */
static void test_stop_is_prompt_while_a_transfer_hangs(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "hang", 300, NULL);
  struct p4p_provider_config s = source("example", f.url, P4P_IF_ALL);
  s.timeout_ms                 = 60000;
  struct portal_client *c      = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  struct count_arg a = {&f, "/p4p/v1/pidmap", 1};
  assert_true(wait_for(c, 0, fake_count_at_least, &a, 10));
  double t0 = now_s();
  p4p_portal_stop(c);
  /* stop waits for nothing but the thread's next wakeup; 60 s would mean
   * it waited for the transfer */
  assert_true(now_s() - t0 < 10);
  fake_stop(&f);
}

/* One fresh client per failure mode; its first fetch fails with the text
 * the status must show. */
static void expect_first_error(const struct fake *f, const char *mode, const char *token, const char *prefix, const char *contains, const char *or_contains) {
  char q[64];
  if (mode) {
    snprintf(q, sizeof q, "/_mode?m=%s", mode);
    fake_control(f, q, NULL);
  }
  struct p4p_provider_config s = source("example", f->url, P4P_IF_INFO);
  snprintf(s.token, sizeof s.token, "%s", token);
  s.timeout_ms            = 2000;
  struct portal_client *c = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned long one = 1;
  assert_true(wait_for(c, 0, failures_at_least, &one, 10));
  struct portal_status st = status_of(c, 0);
  if (strncmp(st.last_error, prefix, strlen(prefix)) || (contains && !strstr(st.last_error, contains) && !(or_contains && strstr(st.last_error, or_contains))))
    fail_msg("mode %s: got \"%s\", want \"%s...%s\"", mode ? mode : "-", st.last_error, prefix, contains ? contains : "");
  assert_true(st.last_error_at > 0);
  assert_true(has_no_pidmap(c, 0, NULL));
  p4p_portal_stop(c);
}

static void test_every_failure_is_named(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 300, "--token", "right-token-123456", NULL);
  expect_first_error(&f, NULL, "wrong-token-123456", "pidmap: HTTP 401 (credentials refused): no or unknown token", NULL, NULL);
  expect_first_error(&f, "500", "", "pidmap: HTTP 500: portal failure (fake)", NULL, NULL);
  expect_first_error(&f, "hostile", "", "pidmap: response:", "DOCTYPE", NULL);
  expect_first_error(&f, "garbage", "", "pidmap: response", NULL, NULL);
  /* curl says "Empty reply from server" (or, if the close came as a
   * reset, "Connection reset by peer") */
  expect_first_error(&f, "refuse", "", "pidmap: ", "reply", "reset");
  fake_stop(&f);

  /* down: nobody listens on a port that was just free */
  int                fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
  socklen_t sl          = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd);
  struct fake down = {.pid = -1, .port = ntohs(sa.sin_port)};
  snprintf(down.url, sizeof down.url, "http://127.0.0.1:%d", down.port);
  expect_first_error(&down, NULL, "", "pidmap: ", "onnect", NULL);
}

/* HTTPS with a self-signed certificate made now (openssl): trusted through
 * ca_file the data arrives; without it the fetch fails on the certificate
 * and nothing is stored. */
static void test_https_trusts_only_the_given_ca(void **state) {
  (void)state;
  char dir[] = "/tmp/portal-tls-XXXXXX", cmd[1024], cert[128], key[128];
  assert_non_null(mkdtemp(dir));
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
           "-keyout %s -out %s >/dev/null 2>&1",
           key, cert);
  assert_int_equal(system(cmd), 0);
  struct fake f;
  fake_start(&f, "healthy", 300, "--tls", cert, key, NULL);
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d", f.port);
  struct p4p_provider_config s[2] = {source("trusted", url, P4P_IF_INFO), source("untrusted", url, P4P_IF_INFO)};
  snprintf(s[0].ca_file, sizeof s[0].ca_file, "%s", cert);
  struct portal_client *c = p4p_portal_start(s, 2, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned      pm  = P4P_IF_INFO;
  unsigned long one = 1;
  assert_true(wait_for(c, 0, has_all, &pm, 10));
  assert_true(wait_for(c, 1, failures_at_least, &one, 10));
  struct portal_status st = status_of(c, 1);
  assert_non_null(strstr(st.last_error, "certificate"));
  assert_true(has_no_pidmap(c, 1, NULL));
  assert_int_equal(status_of(c, 0).failures, 0);
  p4p_portal_stop(c);
  fake_stop(&f);
  unlink(cert);
  unlink(key);
  rmdir(dir);
}

/* A legacy Yale portal: GET /pid/map and /pdistance (the captures in
 * tests/data/yale-portal), version from X-P4P-PIDMap; guidance and
 * capability are not asked for (Yale's portal has neither). */
static void test_legacy_portal_is_fetched_and_converted(void **state) {
  (void)state;
  struct fake f;
  fake_start(&f, "healthy", 300, "--version", "7", NULL);
  char url[80];
  snprintf(url, sizeof url, "%s//", f.url); /* slashes dropped, no 406 */
  struct p4p_provider_config s = source("internet2", url, P4P_IF_ALL);
  s.legacy                     = 1;
  struct portal_client *c      = p4p_portal_start(&s, 1, NULL, NULL, NULL, 0);
  assert_non_null(c);
  unsigned both = P4P_IF_INFO | P4P_IF_POLICY;
  assert_true(wait_for(c, 0, has_all, &both, 10));
  struct portal_data d;
  assert_int_equal(p4p_portal_data(c, 0, &d), 0);
  assert_int_equal(d.pidmap.npids, 13);
  assert_string_equal(d.pidmap.version, "7");
  assert_string_equal(d.costs.version, "7");
  /* 9 -> 100 * 9 / 97 (see test_legacy_portal.c) */
  double v = matrix_at(&d.costs.costs, "0.i.internet2", "1.i.internet2");
  assert_true(v > 9.2783 && v < 9.2784);
  assert_false(d.has_guidance || d.has_capability);
  p4p_portal_data_free(&d);
  assert_int_equal(fake_count(&f, "/p4p/v1/guidance"), 0);
  assert_int_equal(fake_count(&f, "/p4p/v1/pidmap"), 0);
  assert_int_equal(fake_count(&f, "/pid/map"), 1);
  p4p_portal_stop(c);
  fake_stop(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cache_control_max_age),
      cmocka_unit_test(test_backoff_doubles_to_cap_with_half_jitter),
      cmocka_unit_test(test_start_refuses_bad_sources),
      cmocka_unit_test(test_fetches_and_parses_every_v1_interface),
      cmocka_unit_test(test_not_modified_keeps_data_without_update),
      cmocka_unit_test(test_max_age_schedules_next_fetch),
      cmocka_unit_test(test_newer_version_elsewhere_refetches_pid_map),
      cmocka_unit_test(test_guidance_posts_stats_and_stores_swarm_matrix),
      cmocka_unit_test(test_failures_back_off_and_keep_last_good_data),
      cmocka_unit_test(test_stale_data_is_dropped),
      cmocka_unit_test(test_endless_body_is_cut_at_max_body),
      cmocka_unit_test(test_hang_and_slow_are_cut_and_block_nobody),
      cmocka_unit_test(test_stop_is_prompt_while_a_transfer_hangs),
      cmocka_unit_test(test_every_failure_is_named),
      cmocka_unit_test(test_https_trusts_only_the_given_ca),
      cmocka_unit_test(test_legacy_portal_is_fetched_and_converted),
  };
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
