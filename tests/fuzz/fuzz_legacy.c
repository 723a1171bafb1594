/* libFuzzer harness: the Yale portal's text answers (p4p/legacy_portal.h),
 * /pid/map (FUZZ_LEGACY_PIDMAP) or /pdistance (FUZZ_LEGACY_PDISTANCE).
 *
 * What they accept must be a message the rest of the tracker can take:
 * writable as v1 XML (the same checks the XML parser makes), and a PID map
 * must build a lookup map (pidmap.h) without error. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "p4p/legacy_portal.h"
#include "p4p/pidmap.h"
#include "proto/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = fuzz_copy(data, size);
  if (!buf)
    return 0;
  char   err[512];
  size_t len;
#if defined(FUZZ_LEGACY_PIDMAP)
  struct p4p_pidmap_msg m;
  if (p4p_legacy_parse_pidmap(buf, size, "fuzz", "v1", &m, err, sizeof err) == 0) {
    char *w = proto_xml_write_pidmap(&m, &len);
    if (!w) {
      fprintf(stderr, "accepted but not writable as v1\n");
      abort();
    }
    free(w);
    /* the portal's map alone never exceeds what a tracker could take only
     * by its PID count */
    if (m.npids <= PIDMAP_MAX_PIDS) {
      struct pidmap *map = p4p_pidmap_from_msg(&m, err, sizeof err);
      if (!map) {
        fprintf(stderr, "accepted but no lookup map: %s\n", err);
        abort();
      }
      static const uint8_t probe[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
      (void)p4p_pidmap_lookup(map, probe);
      p4p_pidmap_unref(map);
    }
    proto_pidmap_msg_free(&m);
  }
#elif defined(FUZZ_LEGACY_PDISTANCE)
  struct p4p_costs_msg c;
  if (p4p_legacy_parse_pdistance(buf, size, "fuzz", "v1", &c, err, sizeof err) == 0) {
    char *w = proto_xml_write_costs(&c, &len);
    if (!w) {
      fprintf(stderr, "accepted but not writable as v1\n");
      abort();
    }
    free(w);
    proto_costs_msg_free(&c);
  }
#else
#error "build with -DFUZZ_LEGACY_PIDMAP or -DFUZZ_LEGACY_PDISTANCE"
#endif
  free(buf);
  return 0;
}
