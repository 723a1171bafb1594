/* stats, metrics, dump: what an operator reads.  A two-PID snapshot built
 * through the loader from XML, counters bumped by hand, and the exact lines
 * each view must show for them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/config.h"
#include "p4p/dump.h"
#include "p4p/loader.h"
#include "p4p/metrics.h"
#include "p4p/pidmap.h"
#include "p4p/pidstats.h"
#include "p4p/provider_view.h"
#include "p4p/select.h"
#include "p4p/state.h"
#include "p4p/stats.h"
#include "proto/xml.h"

/* pid-a holds 10/8 except 10.1/16, which is pid-b's (longest prefix wins):
 * so the flattened map has three ranges, a | b | a. */
static const char PIDMAP[]   = "<pidmap xmlns=\"urn:opentracker-p4p:p4p:1\" version=\"map-7\">"
                               "<pid name=\"pid-a\" asid=\"64512\" loc=\"x:1\"><prefix>10.0.0.0/8</prefix></pid>"
                               "<pid name=\"pid-b\" asid=\"64512\"><prefix>10.1.0.0/16</prefix><prefix>2001:db8::/32</prefix></pid>"
                               "</pidmap>";
/* default: a -> a 3, a -> b 1 (normalized 0.75, 0.25); b -> b 1.
 * One swarm: a -> b only. */
static const char GUIDANCE[] = "<guidance xmlns=\"urn:opentracker-p4p:p4p:1\" version=\"g-3\">"
                               "<default><pids>pid-a pid-b</pids>"
                               "<entry from=\"pid-a\" to=\"pid-a\" value=\"3\"/><entry from=\"pid-a\" to=\"pid-b\" value=\"1\"/>"
                               "<entry from=\"pid-b\" to=\"pid-b\" value=\"1\"/></default>"
                               "<swarm info-hash=\"0101010101010101010101010101010101010101\"><pids>pid-a pid-b</pids>"
                               "<entry from=\"pid-a\" to=\"pid-b\" value=\"2\"/></swarm>"
                               "</guidance>";

struct fixture {
  struct p4p_pidmap_msg   map;
  struct p4p_guidance_msg guidance;
  struct p4p_state       *s;
};

static int setup(void **state) {
  static struct fixture f;
  char                  err[512];
  struct p4p_config     cfg = {.enable = 1, .random_fraction = 0.2, .intra_share = 0.9, .capability_peers = 2};
  memset(&f, 0, sizeof f);
  assert_int_equal(proto_xml_parse_pidmap(PIDMAP, strlen(PIDMAP), "pidmap", &f.map, err, sizeof err), 0);
  assert_int_equal(proto_xml_parse_guidance(GUIDANCE, strlen(GUIDANCE), "guidance", &f.guidance, err, sizeof err), 0);
  struct loader_source src = {.ns = "", .pidmap = &f.map, .guidance = &f.guidance, .pidmap_version = "map-7", .guidance_version = "g-3"};
  f.s                      = p4p_loader_assemble(&cfg, &src, 1, NULL, err, sizeof err);
  assert_non_null(f.s);
  f.s->gen      = 5;
  f.s->pidstats = p4p_pidstats_new(2);
  p4p_stats_reset();
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  p4p_state_free(f->s);
  proto_pidmap_msg_free(&f->map);
  proto_guidance_msg_free(&f->guidance);
  return 0;
}

static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)); ++p)
    if ((p == text || p[-1] == '\n') && p[n] == '\n')
      return 1;
  return 0;
}
#define assert_line(text, line)                                                                                                                                \
  do {                                                                                                                                                         \
    if (!has_line(text, line))                                                                                                                                 \
      fail_msg("no line '%s' in:\n%s", line, text);                                                                                                            \
  } while (0)

static size_t count_lines(const char *text) {
  size_t n = 0;
  for (; *text; ++text)
    n += *text == '\n';
  return n;
}

static void test_clean_text_keeps_one_line(void **state) {
  (void)state;
  char out[16];
  p4p_stats_clean_text("a\nb\rc\x7f"
                       "d\te",
                       out, sizeof out);
  assert_string_equal(out, "a?b?c?d?e");
  p4p_stats_clean_text("0123456789abcdefXYZ", out, 8); /* cut to the buffer */
  assert_string_equal(out, "0123456");
}

/* 3 announces with a PID, 2 without; one guided selection of 8 peers:
 * picked 4 same PID, 2 other PIDs, 1 random, 1 server; located 5 in the
 * requester's PID, 2 in its provider, 1 elsewhere. */
static void bump(void) {
  struct select_tally t = {.same_pid = 4, .other_pid = 2, .random = 1, .capability = 1, .in_pid = 5, .in_provider = 2, .elsewhere = 1};
  for (int i = 0; i < 3; ++i)
    p4p_stats_note_announce(1);
  for (int i = 0; i < 2; ++i)
    p4p_stats_note_announce(0);
  p4p_stats_note_selection(STATS_SEL_GUIDED, &t);
  p4p_stats_note_selection(STATS_SEL_STOCK, NULL);
}

static void test_p4p_text_shows_counters_and_the_snapshot(void **state) {
  struct fixture *f = *state;
  char            out[8192];
  bump();
  p4p_stats_write(f->s, out, sizeof out);
  assert_line(out, "p4p enabled: yes");
  assert_line(out, "announces with pid: 3");
  assert_line(out, "announces without pid: 2");
  assert_line(out, "selections guided: 1");
  assert_line(out, "selections stock: 1");
  assert_line(out, "peers same pid: 4");
  assert_line(out, "peers random: 1");
  assert_line(out, "peers provider servers: 1");
  assert_line(out, "peers located in requester pid: 5");
  assert_line(out, "peers located in requester provider: 2");
  assert_line(out, "peers located elsewhere: 1");
  assert_line(out, "pidmap version: map-7");
  assert_line(out, "pidmap pids: 2");
  assert_line(out, "pidmap ranges: 4"); /* a | b | a in IPv4, b in IPv6 */
  assert_line(out, "guidance version: g-3");
  assert_line(out, "guidance default matrix: yes");
  assert_line(out, "guidance swarms: 1");
  assert_line(out, "snapshot generation: 5");
  assert_line(out, "last reload error: -");
}

/* A reload error carrying a newline (a portal's <error> text, a file name)
 * must not forge a line of its own. */
static void test_reload_error_cannot_forge_lines(void **state) {
  struct fixture *f = *state;
  char            out[8192];
  p4p_stats_write(f->s, out, sizeof out);
  size_t lines = count_lines(out);
  p4p_stats_note_reload(0, "bad file\nselections guided: 999999");
  p4p_stats_write(f->s, out, sizeof out);
  assert_int_equal(count_lines(out), lines);
  assert_line(out, "last reload error: bad file?selections guided: 999999");
  assert_line(out, "reloads failed: 1");
}

static void test_prometheus_samples(void **state) {
  struct fixture            *f = *state;
  static char                out[65536];
  struct p4p_provider_config pc = {.name = "abilene", .url = "https://u:secret@h:1/p"};
  struct p4p_provider_view   v  = {.cfg = &pc, .in_use = 1, .servers = 3};
  snprintf(v.url, sizeof v.url, "https://***@h:1/p");
  v.st.fetches   = 7;
  v.st.failures  = 2;
  v.st.pidmap_at = time(NULL) - 10;
  bump();
  p4p_metrics_write(f->s, &v, 1, out, sizeof out);
  assert_line(out, "# TYPE opentracker_p4p_announces_total counter");
  assert_line(out, "opentracker_p4p_announces_total{pid=\"yes\"} 3");
  assert_line(out, "opentracker_p4p_selections_total{kind=\"guided\"} 1");
  assert_line(out, "opentracker_p4p_peers_locality_total{locality=\"same_pid\"} 5");
  assert_line(out, "opentracker_p4p_peers_locality_total{locality=\"same_provider\"} 2");
  assert_line(out, "opentracker_p4p_peers_locality_total{locality=\"other\"} 1");
  assert_line(out, "opentracker_p4p_pidmap_pids 2");
  assert_line(out, "opentracker_p4p_provider_state{provider=\"abilene\",state=\"in_use\"} 1");
  assert_line(out, "opentracker_p4p_provider_state{provider=\"abilene\",state=\"no_data\"} 0");
  assert_line(out, "opentracker_p4p_provider_fetch_failures_total{provider=\"abilene\"} 2");
  assert_line(out, "opentracker_p4p_provider_servers{provider=\"abilene\"} 3");
  assert_non_null(strstr(out, "opentracker_p4p_provider_data_age_seconds{provider=\"abilene\",data=\"pidmap\"} 1"));
  assert_null(strstr(out, "data=\"costs\"")); /* not held: no sample */
  assert_null(strstr(out, "secret"));
  char esc[64];
  p4p_metrics_label_value("a\"b\\c\nd", esc, sizeof esc);
  assert_string_equal(esc, "a\\\"b\\\\c\\nd");
}

/* The dump lists every PID with its counters, the ranges as the fewest
 * CIDR prefixes, and each matrix row heaviest first.  pid-a's second range
 * 10.2.0.0 - 10.255.255.255 splits as /15 /14 /13 /12 /11 /10 /9. */
static void test_dump_shows_pids_prefixes_and_matrices(void **state) {
  struct fixture *f = *state;
  static char     out[65536];
  p4p_pidstats_note_announce(f->s->pidstats, 1);
  p4p_pidstats_note_announce(f->s->pidstats, 1);
  p4p_pidstats_note_announce(f->s->pidstats, 0);
  p4p_pidstats_note_answer(f->s->pidstats, 1, 40, 30);
  p4p_dump_write(f->s, NULL, 0, out, sizeof out);
  assert_line(out, "pidmap version: map-7");
  assert_line(out, "pid 0 (no pid) announces 1");
  assert_line(out, "pid 1 pid-a provider local asid 64512 loc x:1 announces 2 answers 1 peers 40 peers_same_pid 30");
  assert_line(out, "pid 2 pid-b provider local asid 64512 loc - announces 0 answers 0 peers 0 peers_same_pid 0");
  static const char *const prefixes[] = {"10.0.0.0/16 pid pid-a",  "10.1.0.0/16 pid pid-b",  "10.2.0.0/15 pid pid-a",  "10.4.0.0/14 pid pid-a",
                                         "10.8.0.0/13 pid pid-a",  "10.16.0.0/12 pid pid-a", "10.32.0.0/11 pid pid-a", "10.64.0.0/10 pid pid-a",
                                         "10.128.0.0/9 pid pid-a", "2001:db8::/32 pid pid-b"};
  const char              *at         = out;
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; ++i) { /* in address order */
    char line[80];
    snprintf(line, sizeof line, "prefix %s\n", prefixes[i]);
    const char *p = strstr(at, line);
    if (!p)
      fail_msg("no '%s' after the previous prefix in:\n%s", line, out);
    at = p;
  }
  assert_line(out, "matrix default (guidance version g-3)");
  assert_line(out, "row pid-a: pid-a=0.75 pid-b=0.25");
  assert_line(out, "row pid-b: pid-b=1");
  assert_line(out, "matrix swarm 0101010101010101010101010101010101010101");
  assert_line(out, "row pid-a: pid-b=1");
  assert_line(out, "end");
}

/* A buffer too small for the dump keeps whole lines and says it was cut. */
static void test_dump_is_bounded_by_its_buffer(void **state) {
  struct fixture *f = *state;
  char            out[400];
  size_t          n = p4p_dump_write(f->s, NULL, 0, out, sizeof out);
  assert_true(n < sizeof out);
  assert_int_equal(strlen(out), n);
  assert_non_null(strstr(out, "\ndump truncated: the rest did not fit\n"));
  assert_int_equal(out[n - 1], '\n');
}

/* Counters are kept per announcing thread and summed when read: 80
 * threads (more than the 64 blocks of their own, so some share the last
 * one, with locked adds) each note 1000 announces with a PID, 500 without
 * and 1000 selections of 3 peers in the PID; every one is counted. */
static void *announcer(void *arg) {
  (void)arg;
  struct select_tally t = {.same_pid = 3, .in_pid = 3};
  for (int i = 0; i < 1000; ++i) {
    p4p_stats_note_announce(1);
    p4p_stats_note_announce(i & 1);
    p4p_stats_note_selection(STATS_SEL_DEFAULT, &t);
  }
  return NULL;
}

static void test_counters_from_many_threads_add_up(void **state) {
  (void)state;
  enum { THREADS = 80 };
  pthread_t                 th[THREADS];
  struct p4p_stats_counters c;
  p4p_stats_reset();
  for (int i = 0; i < THREADS; ++i)
    assert_int_equal(pthread_create(&th[i], NULL, announcer, NULL), 0);
  for (int i = 0; i < THREADS; ++i)
    pthread_join(th[i], NULL);
  p4p_stats_read(&c);
  assert_int_equal(c.announce_pid, THREADS * 1500);
  assert_int_equal(c.announce_nopid, THREADS * 500);
  assert_int_equal(c.selections[STATS_SEL_DEFAULT], THREADS * 1000);
  assert_int_equal(c.peers_same, THREADS * 3000);
  assert_int_equal(c.peers_in_pid, THREADS * 3000);
  p4p_stats_reset();
  p4p_stats_read(&c);
  assert_int_equal(c.announce_pid, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean_text_keeps_one_line),
      cmocka_unit_test(test_counters_from_many_threads_add_up),
      cmocka_unit_test_setup_teardown(test_p4p_text_shows_counters_and_the_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_error_cannot_forge_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prometheus_samples, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_shows_pids_prefixes_and_matrices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_is_bounded_by_its_buffer, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
