/* config: the p4p.* keys, as an operator writes them.  Each case is one
 * config line and what the module must make of it; every refusal names the
 * file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "p4p/config.h"

static char g_err[1024];

static int set(const char *line, int lineno) {
  g_err[0] = 0;
  return p4p_config_set(line, "/etc/ot.conf", lineno, g_err, sizeof g_err);
}

/* refused, and the reason starts with the file and line and mentions `word` */
static void assert_refused(const char *line, int lineno, const char *word) {
  char where[64];
  snprintf(where, sizeof where, "/etc/ot.conf:%d: ", lineno);
  if (set(line, lineno) == 0)
    fail_msg("accepted: %s", line);
  if (strncmp(g_err, where, strlen(where)) || !strstr(g_err, word))
    fail_msg("'%s' refused as '%s', wanted %s...%s", line, g_err, where, word);
}

static int teardown(void **state) {
  (void)state;
  p4p_config_reset();
  return 0;
}

/* README's block has comments after values; they are not part of them. */
static void test_trailing_comments_are_stripped(void **state) {
  (void)state;
  assert_int_equal(set("p4p.random_fraction 0.25                       # share of each answer kept uniformly random", 2), 0);
  assert_true(p4p_config_get()->random_fraction == 0.25);
  assert_int_equal(set("p4p.provider abilene https://itracker.example:6671   # a provider's iTracker (or: URL legacy)", 3), 0);
  assert_string_equal(p4p_config_get()->providers[0].url, "https://itracker.example:6671");
  assert_false(p4p_config_get()->providers[0].legacy);
  assert_int_equal(set("p4p.enable yes\t# tab before the comment", 4), 0);
  assert_int_equal(p4p_config_get()->enable, 1);
  /* a '#' inside a word is part of it */
  assert_int_equal(set("p4p.provider.abilene.token ab#cd # the comment", 5), 0);
  assert_string_equal(p4p_config_get()->providers[0].token, "ab#cd");
  /* only a comment: no value */
  assert_refused("p4p.random_fraction # nothing", 6, "needs a value");
}

static void test_numbers_are_plain_decimals(void **state) {
  (void)state;
  static const struct {
    const char *v;
    double      want;
  } good[] = {{"0", 0}, {"1", 1}, {".5", 0.5}, {"5e-1", 0.5}, {"0.125", 0.125}, {"1.", 1}, {"2E-1", 0.2}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i) {
    char line[64];
    snprintf(line, sizeof line, "p4p.random_fraction %s", good[i].v);
    assert_int_equal(set(line, 1), 0);
    assert_true(p4p_config_get()->random_fraction == good[i].want);
  }
  static const char *bad[] = {"0x1p-1", "inf", "nan", "+0.5", "-0", "0.5x", "1.5", "e1", ".", "1e", "0,5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    char line[64];
    snprintf(line, sizeof line, "p4p.intra_provider_share %s", bad[i]);
    assert_refused(line, 7, "from 0 to 1");
  }
}

static void test_provider_line_takes_exactly_name_url_and_legacy(void **state) {
  (void)state;
  assert_int_equal(set("p4p.provider yale http://127.0.0.1:8080 legacy", 1), 0);
  assert_true(p4p_config_get()->providers[0].legacy);
  assert_string_equal(p4p_config_get()->providers[0].where, "/etc/ot.conf:1");
  assert_refused("p4p.provider y2 http://127.0.0.1:8080 legacy extra", 2, "nothing after");
  assert_refused("p4p.provider y3 http://127.0.0.1:8080 legacyX", 3, "only 'legacy'");
  assert_refused("p4p.provider y4", 4, "NAME URL");
  assert_refused("p4p.provider yale http://127.0.0.1:9", 5, "twice");
  assert_int_equal(p4p_config_get()->nproviders, 1);
}

static void test_urls_need_a_host_and_nothing_after_the_path(void **state) {
  (void)state;
  static const struct {
    const char *url, *why;
  } bad[] = {
      {"http://", "no host"},         {"https://:6671", "no host"},    {"http://h:0", "bad port"},
      {"http://h:65536", "bad port"}, {"http://h:", "empty port"},     {"http://h:66x", "bad port"},
      {"http://h/p?x=1", "query"},    {"http://h/#frag", "fragment"},  {"ftp://h", "http:// or https://"},
      {"http://[::1", "IPv6"},        {"http://[::1]x", "junk after"}, {"http://h!st/", "bad character"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    char line[128];
    snprintf(line, sizeof line, "p4p.provider p%zu %s", i, bad[i].url);
    assert_refused(line, 9, bad[i].why);
  }
  static const char *good[] = {"http://127.0.0.1:6671", "https://itracker.example", "http://[::1]:6671/p4p-prefix/", "http://user:pw@h:80/x"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i) {
    char line[128];
    snprintf(line, sizeof line, "p4p.provider g%zu %s", i, good[i]);
    assert_int_equal(set(line, 10), 0);
  }
}

/* Credentials in a URL never reach /stats or the logs, nor the refusal. */
static void test_urls_are_shown_without_their_userinfo(void **state) {
  (void)state;
  char out[128];
  p4p_config_url_redacted("https://user:s3cret@itracker.example:6671/p4p", out, sizeof out);
  assert_string_equal(out, "https://***@itracker.example:6671/p4p");
  p4p_config_url_redacted("http://a@b@host/x@y", out, sizeof out); /* the last @ of the authority ends the userinfo */
  assert_string_equal(out, "http://***@host/x@y");
  p4p_config_url_redacted("http://host/x@y", out, sizeof out); /* an @ in the path is not userinfo */
  assert_string_equal(out, "http://host/x@y");
  assert_refused("p4p.provider x http://user:s3cret@:80", 3, "no host");
  assert_null(strstr(g_err, "s3cret"));
}

static void test_legacy_portals_have_only_pidmap_and_costs(void **state) {
  (void)state;
  assert_int_equal(set("p4p.provider yale http://127.0.0.1:8080 legacy", 1), 0);
  assert_int_equal(p4p_config_get()->providers[0].interfaces, P4P_IF_INFO | P4P_IF_POLICY);
  assert_refused("p4p.provider.yale.interfaces pidmap,guidance", 2, "legacy");
  assert_refused("p4p.provider.yale.interfaces capability", 3, "legacy");
  assert_int_equal(set("p4p.provider.yale.interfaces pidmap", 4), 0);
  assert_int_equal(p4p_config_get()->providers[0].interfaces, P4P_IF_INFO);
}

static void test_ca_file_must_exist_and_hold_a_certificate(void **state) {
  (void)state;
  char dir[] = "/tmp/test_config.XXXXXX", pem[128], txt[128], line[300];
  assert_non_null(mkdtemp(dir));
  snprintf(pem, sizeof pem, "%s/ca.pem", dir);
  snprintf(txt, sizeof txt, "%s/notes.txt", dir);
  FILE *f = fopen(pem, "w");
  fputs("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", f);
  fclose(f);
  f = fopen(txt, "w");
  fputs("not a certificate\n", f);
  fclose(f);

  assert_int_equal(set("p4p.provider a https://127.0.0.1:6671", 1), 0);
  assert_refused("p4p.provider.a.ca_file /nonexistent.pem", 2, "/nonexistent.pem: cannot open");
  snprintf(line, sizeof line, "p4p.provider.a.ca_file %s", txt);
  assert_refused(line, 3, "holds no PEM certificate");
  snprintf(line, sizeof line, "p4p.provider.a.ca_file %s  # the portal's own CA", pem);
  assert_int_equal(set(line, 4), 0);
  assert_string_equal(p4p_config_get()->providers[0].ca_where, "/etc/ot.conf:4");
  assert_int_equal(p4p_config_check_files(g_err, sizeof g_err), 0); /* enable is off: nothing to check */
  assert_int_equal(set("p4p.enable yes", 5), 0);
  assert_int_equal(p4p_config_check_files(g_err, sizeof g_err), 0);
  unlink(pem);
  /* gone after the config was read (or unreadable to nobody): named with its line */
  assert_int_equal(p4p_config_check_files(g_err, sizeof g_err), -1);
  assert_non_null(strstr(g_err, "/etc/ot.conf:4: p4p.provider.a.ca_file"));
  unlink(txt);
  rmdir(dir);
}

/* A missing data file is named with the line of its key, not as a reload. */
static void test_missing_pidmap_is_named_with_its_key_line(void **state) {
  (void)state;
  assert_int_equal(set("p4p.enable yes", 1), 0);
  assert_int_equal(set("p4p.pidmap /nonexistent/pidmap.xml", 2), 0);
  assert_int_equal(p4p_config_check_files(g_err, sizeof g_err), -1);
  assert_non_null(strstr(g_err, "/etc/ot.conf:2: p4p.pidmap /nonexistent/pidmap.xml: cannot read it as "));
  assert_non_null(strstr(g_err, "No such file"));
  assert_null(strstr(g_err, "reload"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_trailing_comments_are_stripped, teardown),
      cmocka_unit_test_teardown(test_numbers_are_plain_decimals, teardown),
      cmocka_unit_test_teardown(test_provider_line_takes_exactly_name_url_and_legacy, teardown),
      cmocka_unit_test_teardown(test_urls_need_a_host_and_nothing_after_the_path, teardown),
      cmocka_unit_test_teardown(test_urls_are_shown_without_their_userinfo, teardown),
      cmocka_unit_test_teardown(test_legacy_portals_have_only_pidmap_and_costs, teardown),
      cmocka_unit_test_teardown(test_ca_file_must_exist_and_hold_a_certificate, teardown),
      cmocka_unit_test_teardown(test_missing_pidmap_is_named_with_its_key_line, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
