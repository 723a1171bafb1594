/* loader: sources -> one snapshot, each source isolated (issue 15.5).
 *
 * Sources here: "local" (ns "", the local files), providers "a" and "b".
 * Unless a test says otherwise:
 *   local: L1 = 10.1/16, L2 = 10.2/16       slots 1, 2
 *   a:     A1 = 10.11/16, A2 = 10.12/16     slots 3, 4   ("a/A1", "a/A2")
 *   b:     B1 = 10.21/16                    slot 5       ("b/B1")
 * each with a default matrix over its own PIDs.  A source left out keeps
 * its index (providers[i] is src[i]) but no slots; the slots of the ones
 * after it close up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p4p/config.h"
#include "p4p/guidance.h"
#include "p4p/loader.h"
#include "p4p/pidmap.h"
#include "p4p/state.h"

#define assert_contains(hay, needle)                                                                                                                           \
  do {                                                                                                                                                         \
    if (!strstr((hay), (needle)))                                                                                                                              \
      fail_msg("'%s' does not contain '%s'", (hay), (needle));                                                                                                 \
  } while (0)

/* One source's messages, owned by the test. */
struct src_data {
  struct p4p_pidmap_msg     map;
  struct p4p_guidance_msg   guidance;
  struct p4p_costs_msg      costs;
  struct p4p_capability_msg cap;
  int                       has_guidance, has_costs, has_cap;
};

/* npids PIDs named <prefix><1..n>; the first `with_prefix` of them get
 * 10.<second + k>/16. */
static void make_map(struct src_data *d, const char *prefix, size_t npids, size_t with_prefix, uint8_t second) {
  memset(d, 0, sizeof *d);
  snprintf(d->map.version, sizeof d->map.version, "v-%s", prefix);
  d->map.npids = npids;
  d->map.pids  = calloc(npids, sizeof *d->map.pids);
  assert_non_null(d->map.pids);
  for (size_t k = 0; k < npids; ++k) {
    struct p4p_pid_entry *e = &d->map.pids[k];
    snprintf(e->name, sizeof e->name, "%s%zu", prefix, k + 1);
    if (k < with_prefix) {
      e->nprefixes = 1;
      e->prefixes  = calloc(1, sizeof *e->prefixes);
      assert_non_null(e->prefixes);
      *e->prefixes = (struct p4p_prefix){.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (uint8_t)(second + k), 0, 0}, .bits = 96 + 16};
    }
  }
}

/* A default matrix over the map's first n PIDs (uniform), naming `extra`
 * as well when given (a PID the map does not have). */
static void make_guidance(struct src_data *d, size_t n, const char *extra) {
  size_t m = n + (extra != NULL);
  proto_guidance_msg_free(&d->guidance); /* replaces what was there */
  memset(&d->guidance, 0, sizeof d->guidance);
  d->has_guidance         = 1;
  d->guidance.has_default = 1;
  assert_int_equal(proto_matrix_alloc(&d->guidance.default_weights, m), 0);
  for (size_t i = 0; i < m; ++i) {
    snprintf(d->guidance.default_weights.pids[i], P4P_NAME_MAX, "%s", i < n ? d->map.pids[i].name : extra);
    for (size_t j = 0; j < m; ++j)
      d->guidance.default_weights.v[i * m + j] = 1;
  }
}

static void free_data(struct src_data *d) {
  proto_pidmap_msg_free(&d->map);
  proto_guidance_msg_free(&d->guidance);
  proto_costs_msg_free(&d->costs);
  proto_capability_msg_free(&d->cap);
}

static struct loader_source as_source(const char *ns, const struct src_data *d) {
  return (struct loader_source){
      .ns             = ns,
      .pidmap         = &d->map,
      .guidance       = d->has_guidance ? &d->guidance : NULL,
      .costs          = d->has_costs ? &d->costs : NULL,
      .capability     = d->has_cap ? &d->cap : NULL,
      .pidmap_version = d->map.version,
  };
}

static struct p4p_config enabled(void) {
  struct p4p_config c;
  memset(&c, 0, sizeof c);
  c.enable           = 1;
  c.random_fraction  = 0.1;
  c.intra_share      = 0.9;
  c.capability_peers = 2;
  return c;
}

static uint16_t slot_of(const struct p4p_state *s, uint8_t second) {
  uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, second, 7, 7};
  return p4p_pidmap_lookup(s->map, a);
}

static const uint8_t no_swarm[P4P_HASH_SIZE];

/* The three sources of the header, all good. */
struct three {
  struct src_data      local, a, b;
  struct loader_source src[3];
};

static void three_good(struct three *t) {
  make_map(&t->local, "L", 2, 2, 1);
  make_guidance(&t->local, 2, NULL);
  make_map(&t->a, "A", 2, 2, 11);
  make_guidance(&t->a, 2, NULL);
  make_map(&t->b, "B", 1, 1, 21);
  make_guidance(&t->b, 1, NULL);
}

static void three_sources(struct three *t) {
  t->src[0]          = as_source("", &t->local);
  t->src[0].required = 1;
  t->src[1]          = as_source("a", &t->a);
  t->src[2]          = as_source("b", &t->b);
}

/* The three sources assembled (local required), the reason in err. */
static struct p4p_state *assemble_three(struct three *t, const struct p4p_config *cfg, char *err, size_t errlen) {
  three_sources(t);
  return p4p_loader_assemble(cfg, t->src, 3, NULL, err, errlen);
}

static void three_free(struct three *t) {
  free_data(&t->local);
  free_data(&t->a);
  free_data(&t->b);
}

static void test_sources_that_resolve_all_go_in(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  struct p4p_config cfg      = enabled();
  char              err[600] = "";
  struct p4p_state *s        = assemble_three(&t, &cfg, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(s->nproviders, 3);
  assert_int_equal(p4p_pidmap_npids(s->map), 5);
  for (size_t i = 0; i < 3; ++i)
    assert_string_equal(s->providers[i].refused, "");
  assert_int_equal(s->providers[0].first, 1);
  assert_int_equal(s->providers[0].last, 2);
  assert_int_equal(s->providers[1].first, 3);
  assert_int_equal(s->providers[1].last, 4);
  assert_int_equal(s->providers[2].first, 5);
  assert_int_equal(s->providers[2].last, 5);
  assert_int_equal(slot_of(s, 2), 2);
  assert_int_equal(slot_of(s, 12), 4);
  assert_int_equal(slot_of(s, 21), 5);
  assert_string_equal(p4p_pidmap_pid_name(s->map, 4), "a/A2");
  assert_string_equal(s->map_version, "v-L");
  enum guidance_kind kind;
  assert_non_null(p4p_guidance_row(s->guidance, no_swarm, 5, &kind));
  p4p_state_free(s);
  three_free(&t);
}

/* a's guidance names 'ghost', which its map lacks: a is left out with the
 * guidance's own reason; local and b are in, b at slot 3 now. */
static void test_guidance_naming_an_unknown_pid_drops_only_that_source(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  make_guidance(&t.a, 2, "ghost");
  struct p4p_config cfg      = enabled();
  char              err[600] = "";
  struct p4p_state *s        = assemble_three(&t, &cfg, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(s->nproviders, 3);
  assert_string_equal(s->providers[0].refused, "");
  assert_contains(s->providers[1].refused, "guidance: ");
  assert_contains(s->providers[1].refused, "PID 'ghost' is not in the PID map");
  assert_string_equal(s->providers[2].refused, "");
  assert_int_equal(p4p_pidmap_npids(s->map), 3);
  assert_int_equal(s->providers[1].first, 0); /* no slots: stock for a's peers */
  assert_int_equal(s->providers[1].last, 0);
  assert_int_equal(s->providers[2].first, 3);
  assert_int_equal(slot_of(s, 11), 0);
  assert_int_equal(slot_of(s, 21), 3);
  assert_string_equal(p4p_pidmap_pid_name(s->map, 3), "b/B1");
  enum guidance_kind kind;
  assert_non_null(p4p_guidance_row(s->guidance, no_swarm, 3, &kind)); /* b's default matrix */
  assert_non_null(p4p_guidance_row(s->guidance, no_swarm, 1, &kind)); /* local's */
  p4p_state_free(s);
  three_free(&t);
}

/* Costs naming a PID the map lacks: the same isolation. */
static void test_costs_naming_an_unknown_pid_drop_only_that_source(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  proto_guidance_msg_free(&t.b.guidance);
  memset(&t.b.guidance, 0, sizeof t.b.guidance);
  t.b.has_guidance = 0;
  t.b.has_costs    = 1;
  assert_int_equal(proto_matrix_alloc(&t.b.costs.costs, 2), 0);
  snprintf(t.b.costs.costs.pids[0], P4P_NAME_MAX, "B1");
  snprintf(t.b.costs.costs.pids[1], P4P_NAME_MAX, "B9");
  struct p4p_config cfg      = enabled();
  char              err[600] = "";
  struct p4p_state *s        = assemble_three(&t, &cfg, err, sizeof err);
  assert_non_null(s);
  assert_contains(s->providers[2].refused, "costs: ");
  assert_contains(s->providers[2].refused, "'B9'");
  assert_string_equal(s->providers[1].refused, "");
  assert_int_equal(p4p_pidmap_npids(s->map), 4);
  assert_int_equal(slot_of(s, 21), 0);
  assert_int_equal(slot_of(s, 12), 4);
  p4p_state_free(s);
  three_free(&t);
}

/* The map holds 1024 PIDs in all.  local 1000 + a 100 would be 1100: a is
 * left out; b's 24 still fit (1000 + 24 = 1024, exactly the limit) and go
 * in at slots 1001..1024. */
static void test_pid_limit_drops_the_source_that_overflows_not_all(void **state) {
  (void)state;
  struct src_data local, a, b;
  make_map(&local, "L", 1000, 2, 1);
  make_map(&a, "A", 100, 2, 11);
  make_map(&b, "B", 24, 1, 21);
  struct loader_source src[3] = {as_source("", &local), as_source("a", &a), as_source("b", &b)};
  src[0].required             = 1;
  struct p4p_config cfg       = enabled();
  char              err[600]  = "";
  struct p4p_state *s         = p4p_loader_assemble(&cfg, src, 3, NULL, err, sizeof err);
  assert_non_null(s);
  assert_string_equal(s->providers[1].refused, "its 100 PIDs and the 1000 of the sources before it are over the limit of 1024 PIDs in all");
  assert_string_equal(s->providers[2].refused, "");
  assert_int_equal(p4p_pidmap_npids(s->map), 1024);
  assert_int_equal(s->providers[2].first, 1001);
  assert_int_equal(s->providers[2].last, 1024);
  assert_int_equal(slot_of(s, 21), 1001);
  assert_int_equal(slot_of(s, 11), 0);
  assert_int_equal(slot_of(s, 2), 2);
  p4p_state_free(s);
  free_data(&local);
  free_data(&a);
  free_data(&b);
}

/* Two PIDs of a with the same prefix (a legacy or hand-built message can
 * carry it): the combined map refuses to finish, and the source alone is
 * found to blame by building each map by itself.  The same prefix in two
 * providers is not an error: the first keeps it. */
static void test_a_prefix_twice_in_one_source_drops_that_source(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  t.a.map.pids[1].prefixes[0] = t.a.map.pids[0].prefixes[0];
  t.b.map.pids[0].prefixes[0] = t.local.map.pids[0].prefixes[0]; /* 10.1/16 in local and b */
  struct p4p_config cfg       = enabled();
  char              err[600]  = "";
  struct p4p_state *s         = assemble_three(&t, &cfg, err, sizeof err);
  assert_non_null(s);
  assert_string_equal(s->providers[1].refused, "prefix given twice (PIDs 'A1' and 'A2')");
  assert_string_equal(s->providers[2].refused, "");
  assert_int_equal(slot_of(s, 1), 1); /* local keeps 10.1/16 */
  assert_int_equal(p4p_pidmap_shadowed(s->map), 1);
  p4p_state_free(s);
  three_free(&t);
}

/* A left-out provider's servers are not offered; the others' are. */
static void test_servers_of_a_refused_source_are_not_offered(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  make_guidance(&t.a, 2, "ghost");
  struct p4p_server sa = {.pid = "A1", .port = 6881}, sb = {.pid = "B1", .port = 6882};
  sa.addr[10] = sa.addr[11] = sb.addr[10] = sb.addr[11] = 0xff;
  t.a.has_cap = t.b.has_cap = 1;
  t.a.cap.nservers = t.b.cap.nservers = 1;
  t.a.cap.servers                     = malloc(sizeof sa);
  t.b.cap.servers                     = malloc(sizeof sb);
  memcpy(t.a.cap.servers, &sa, sizeof sa);
  memcpy(t.b.cap.servers, &sb, sizeof sb);
  struct p4p_config cfg      = enabled();
  char              err[600] = "";
  struct p4p_state *s        = assemble_three(&t, &cfg, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(s->providers[1].nservers, 0);
  assert_int_equal(s->providers[2].nservers, 1);
  assert_int_equal(s->providers[2].servers[0].port, 6882);
  assert_int_equal(s->providers[2].servers[0].slot, 3);
  p4p_state_free(s);
  three_free(&t);
}

/* A required source (the local files) that does not resolve fails the
 * whole assembly: the tracker does not start, a reload keeps the old. */
static void test_a_required_source_refused_fails_the_assembly(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  make_guidance(&t.local, 2, "ghost");
  three_sources(&t);
  struct p4p_config cfg = enabled();
  cfg.guidance_file     = "/etc/p4p/guidance.xml";
  char err[600]         = "";
  assert_null(p4p_loader_assemble(&cfg, t.src, 3, NULL, err, sizeof err));
  assert_string_equal(err, "local files: /etc/p4p/guidance.xml: default matrix: PID 'ghost' is not in the PID map");
  three_free(&t);

  struct src_data big;
  make_map(&big, "L", 1025, 1, 1);
  struct loader_source one = as_source("", &big);
  one.required             = 1;
  assert_null(p4p_loader_assemble(&cfg, &one, 1, NULL, err, sizeof err));
  assert_string_equal(err, "local files: its 1025 PIDs and the 0 of the sources before it are over the limit of 1024 PIDs in all");
  free_data(&big);
}

/* Nobody's data resolves: an empty snapshot (stock selection) that still
 * says why for each provider. */
static void test_all_refused_gives_stock_with_the_reasons(void **state) {
  (void)state;
  struct src_data a, b;
  make_map(&a, "A", 2, 2, 11);
  make_guidance(&a, 2, "ghost");
  make_map(&b, "B", 1025, 1, 21);
  struct loader_source src[2]   = {as_source("a", &a), as_source("b", &b)};
  struct p4p_config    cfg      = enabled();
  char                 err[600] = "";
  struct p4p_state    *s        = p4p_loader_assemble(&cfg, src, 2, NULL, err, sizeof err);
  assert_non_null(s);
  assert_null(s->map);
  assert_int_equal(s->nproviders, 2);
  assert_contains(s->providers[0].refused, "ghost");
  assert_contains(s->providers[1].refused, "1025 PIDs");
  p4p_state_free(s);
  free_data(&a);
  free_data(&b);
}

/* p4p.enable no: always the empty snapshot, whatever the sources hold. */
static void test_disabled_is_stock(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  three_sources(&t);
  struct p4p_config cfg      = enabled();
  cfg.enable                 = 0;
  char              err[600] = "";
  struct p4p_state *s        = p4p_loader_assemble(&cfg, t.src, 3, NULL, err, sizeof err);
  assert_non_null(s);
  assert_null(s->map);
  assert_int_equal(s->nproviders, 0);
  p4p_state_free(s);
  three_free(&t);
}

/* The same sources again share the previous map (no peer list rebuilt). */
static void test_unchanged_map_is_shared(void **state) {
  (void)state;
  struct three t;
  three_good(&t);
  three_sources(&t);
  struct p4p_config cfg      = enabled();
  char              err[600] = "";
  struct p4p_state *s1       = p4p_loader_assemble(&cfg, t.src, 3, NULL, err, sizeof err);
  struct p4p_state *s2       = p4p_loader_assemble(&cfg, t.src, 3, s1->map, err, sizeof err);
  assert_ptr_equal(s1->map, s2->map);
  p4p_state_free(s2);
  p4p_state_free(s1);
  three_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sources_that_resolve_all_go_in),
      cmocka_unit_test(test_guidance_naming_an_unknown_pid_drops_only_that_source),
      cmocka_unit_test(test_costs_naming_an_unknown_pid_drop_only_that_source),
      cmocka_unit_test(test_pid_limit_drops_the_source_that_overflows_not_all),
      cmocka_unit_test(test_a_prefix_twice_in_one_source_drops_that_source),
      cmocka_unit_test(test_servers_of_a_refused_source_are_not_offered),
      cmocka_unit_test(test_a_required_source_refused_fails_the_assembly),
      cmocka_unit_test(test_all_refused_gives_stock_with_the_reasons),
      cmocka_unit_test(test_disabled_is_stock),
      cmocka_unit_test(test_unchanged_map_is_shared),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
