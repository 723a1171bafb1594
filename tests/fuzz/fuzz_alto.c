/* libFuzzer harness: ALTO (RFC 7285) JSON, proto/alto.h.  Built only when
 * the tree has proto/alto.h (tests/fuzz/module.mk).
 *
 * The input is parsed once as JSON under the parser's caps; every message
 * and request parser then reads the same value, as a hostile server's or
 * client's document may reach any of them.  What the network map and
 * guidance parsers accept must encode again and read back to the same
 * encoding. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/alto.h"

static void same_or_die(const char *what, char *a, size_t la, char *b, size_t lb) {
  if (!a || !b || la != lb || memcmp(a, b, la)) {
    fprintf(stderr, "%s: round trip changed the message\n---\n%.*s\n---\n%.*s\n", what, a ? (int)la : 0, a ? a : "", b ? (int)lb : 0, b ? b : "");
    abort();
  }
  free(a);
  free(b);
}

static void networkmap(const json_t *j) {
  struct p4p_pidmap_msg  m, again;
  struct proto_alto_vtag vt, vt2;
  char                   err[512];
  if (proto_alto_parse_networkmap(j, "fuzz", &m, &vt, err, sizeof err))
    return;
  json_t *out = proto_alto_networkmap_json(&m, &vt, NULL, 3);
  if (!out) {
    fprintf(stderr, "networkmap: accepted but not encodable\n");
    abort();
  }
  if (proto_alto_parse_networkmap(out, "again", &again, &vt2, err, sizeof err)) {
    fprintf(stderr, "networkmap: own output refused: %s\n", err);
    abort();
  }
  /* compared as ALTO encodes them (ALTO names allow '@', which v1 XML's
   * do not, so the XML writer is no judge here) */
  json_t *out2 = proto_alto_networkmap_json(&again, &vt2, NULL, 3);
  size_t  l1 = 0, l2 = 0;
  same_or_die("networkmap", proto_alto_dump(out, &l1), l1, out2 ? proto_alto_dump(out2, &l2) : NULL, l2);
  json_decref(out2);
  json_decref(out);
  proto_pidmap_msg_free(&again);
  proto_pidmap_msg_free(&m);
}

static void guidance(const json_t *j) {
  struct p4p_guidance_msg g, again;
  struct proto_alto_vtag  dep, dep2;
  char                    err[512];
  if (proto_alto_parse_guidance(j, "fuzz", &g, &dep, err, sizeof err))
    return;
  json_t *out = proto_alto_guidance_json(&g, &dep, NULL);
  if (out && !proto_alto_parse_guidance(out, "again", &again, &dep2, err, sizeof err)) {
    json_t *out2 = proto_alto_guidance_json(&again, &dep2, NULL);
    size_t  l1 = 0, l2 = 0;
    same_or_die("guidance", proto_alto_dump(out, &l1), l1, out2 ? proto_alto_dump(out2, &l2) : NULL, l2);
    json_decref(out2);
    proto_guidance_msg_free(&again);
  } else if (out) {
    fprintf(stderr, "guidance: own output refused: %s\n", err);
    abort();
  }
  json_decref(out);
  proto_guidance_msg_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = fuzz_copy(data, size);
  if (!buf)
    return 0;
  struct proto_alto_fault f;
  char                    err[512];
  memset(&f, 0, sizeof f);
  json_t *j = proto_alto_load(buf, size, "fuzz", &f, err, sizeof err);
  free(buf);
  if (!j)
    return 0;

  networkmap(j);
  guidance(j);

  struct p4p_costs_msg        c;
  struct proto_alto_cost_type ct;
  struct proto_alto_vtag      dep;
  if (!proto_alto_parse_costmap(j, "fuzz", &c, &ct, &dep, err, sizeof err))
    proto_costs_msg_free(&c);

  struct p4p_stats_msg s;
  if (!proto_alto_parse_stats(j, "fuzz", &s, &f, err, sizeof err))
    proto_stats_msg_free(&s);

  struct proto_alto_ird ird;
  if (!proto_alto_parse_ird(j, "fuzz", &ird, err, sizeof err))
    proto_alto_ird_free(&ird);

  struct proto_alto_netmap_filter nf;
  if (!proto_alto_parse_netmap_filter(j, &nf, &f, err, sizeof err))
    proto_alto_names_free(&nf.pids);

  for (int endpoints = 0; endpoints < 2; ++endpoints) {
    struct proto_alto_cost_filter cf;
    if (!proto_alto_parse_cost_filter(j, endpoints, &cf, &f, err, sizeof err)) {
      (void)proto_alto_constraints_hold(&cf, 1.0);
      proto_alto_cost_filter_free(&cf);
    }
  }

  struct proto_alto_prop_request pr;
  if (!proto_alto_parse_prop_request(j, &pr, &f, err, sizeof err))
    proto_alto_prop_request_free(&pr);

  struct proto_alto_stream_request sr;
  if (!proto_alto_parse_stream_request(j, &sr, &f, err, sizeof err)) {
    json_t *back = proto_alto_stream_request_json(&sr);
    json_decref(back);
  }

  char line[512];
  (void)proto_alto_describe_error(j, line, sizeof line);
  json_decref(j);
  return 0;
}
