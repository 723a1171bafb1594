/* libFuzzer harness: the iTracker's provider file (provider/provider.h),
 * and what the iTracker does with an accepted one at startup: route the
 * topology and price every PoP pair. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "provider/provider.h"
#include "provider/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = fuzz_copy(data, size);
  if (!buf)
    return 0;
  struct prov_config p;
  char               err[512];
  if (prov_parse(buf, size, "fuzz.conf", &p, err, sizeof err) == 0) {
    static const uint8_t probe[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    (void)prov_lookup(&p, probe);
    struct prov_topology t;
    prov_topology_init(&t);
    if (prov_build_topology(&p, &t, err, sizeof err) == 0) {
      /* the file caps PoPs well below this; a bigger square is not ours to
       * allocate in a fuzzer */
      if (p.npops && p.npops <= 256) {
        double *c = malloc(p.npops * p.npops * sizeof *c);
        if (c) {
          (void)prov_pop_costs(&p, &t, 12, c, err, sizeof err);
          free(c);
        }
      }
      prov_topology_free(&t);
    }
    prov_free(&p);
  } else {
    fuzz_check_reason(err);
  }
  free(buf);
  return 0;
}
