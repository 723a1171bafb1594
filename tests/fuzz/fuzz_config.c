/* libFuzzer harness: the tracker's p4p.* configuration lines
 * (p4p/config.h), as upstream's config reader hands them over: one line at
 * a time, then the whole-config check, then a reset. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "p4p/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char   err[1024];
  size_t i      = 0;
  int    lineno = 0;
  while (i < size) {
    const uint8_t *nl = memchr(data + i, '\n', size - i);
    size_t         l  = nl ? (size_t)(nl - (data + i)) : size - i;
    /* upstream reads lines into a fixed buffer and strips the newline */
    char *line        = malloc(l + 1);
    if (!line)
      break;
    memcpy(line, data + i, l);
    line[l]  = '\0';
    size_t k = strlen(line); /* and its trailing blanks */
    while (k && (line[k - 1] == ' ' || line[k - 1] == '\t' || line[k - 1] == '\r'))
      line[--k] = '\0';
    ++lineno;
    if (p4p_config_set(line, "fuzz.conf", lineno, err, sizeof err))
      fuzz_check_reason(err);
    free(line);
    i += l + 1;
  }
  (void)p4p_config_check(err, sizeof err);
  (void)p4p_config_get();
  p4p_config_reset();
  return 0;
}
