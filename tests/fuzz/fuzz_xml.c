/* libFuzzer harness: one P4P XML v1 message kind (FUZZ_KIND, one binary per
 * kind: fuzz_xml_pidmap, fuzz_xml_costs, ...).
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks the
 * round trip a portal and a tracker rely on: whatever the parser accepts,
 * the writer can say (non-NULL), the parser accepts again, and writing that
 * gives the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/xml.h"

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)

#if !defined(FUZZ_KIND)
#error "build with -DFUZZ_KIND=<kind> -DFUZZ_TYPE=<struct>"
#endif

#define PARSE   CAT(proto_xml_parse_, FUZZ_KIND)
#define WRITE   CAT(proto_xml_write_, FUZZ_KIND)
#define RELEASE CAT(release_, FUZZ_KIND)

static __attribute__((unused)) void release_pidmap(struct p4p_pidmap_msg *m) { proto_pidmap_msg_free(m); }
static __attribute__((unused)) void release_lookup_request(struct p4p_lookup_request *m) { proto_lookup_request_free(m); }
static __attribute__((unused)) void release_lookup(struct p4p_lookup_msg *m) { proto_lookup_msg_free(m); }
static __attribute__((unused)) void release_costs(struct p4p_costs_msg *m) { proto_costs_msg_free(m); }
static __attribute__((unused)) void release_guidance(struct p4p_guidance_msg *m) { proto_guidance_msg_free(m); }
static __attribute__((unused)) void release_stats(struct p4p_stats_msg *m) { proto_stats_msg_free(m); }
static __attribute__((unused)) void release_capability(struct p4p_capability_msg *m) { proto_capability_msg_free(m); }
/* messages without arrays own nothing */
static __attribute__((unused)) void release_capability_request(struct p4p_capability_request *m) { (void)m; }
static __attribute__((unused)) void release_error(struct p4p_error_msg *m) { (void)m; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = fuzz_copy(data, size);
  if (!buf)
    return 0;
  FUZZ_TYPE m;
  char      err[512];
  if (PARSE(buf, size, "fuzz", &m, err, sizeof err) == 0) {
    size_t len1 = 0, len2 = 0;
    char  *w1 = WRITE(&m, &len1);
    if (!w1) {
      fprintf(stderr, "accepted but not writable\n");
      abort();
    }
    FUZZ_TYPE again;
    if (PARSE(w1, len1, "rewritten", &again, err, sizeof err)) {
      fprintf(stderr, "own output refused: %s\n---\n%.*s\n", err, (int)len1, w1);
      abort();
    }
    char *w2 = WRITE(&again, &len2);
    if (!w2 || len1 != len2 || memcmp(w1, w2, len1)) {
      fprintf(stderr, "round trip changed the document\n---\n%.*s\n---\n%.*s\n", (int)len1, w1, w2 ? (int)len2 : 0, w2 ? w2 : "");
      abort();
    }
    free(w1);
    free(w2);
    RELEASE(&again);
    RELEASE(&m);
  } else {
    fuzz_check_reason(err);
  }
  free(buf);
  return 0;
}
