/* What the libFuzzer harnesses share. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as an exact-size heap copy, so that a read past its end is an
 * ASan error (libFuzzer's own buffer may be larger); NULL on no memory. */
static inline char *fuzz_copy(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (buf)
    memcpy(buf, data, size);
  return buf;
}

/* A refusal must say why, on one line (it goes into logs and /stats). */
static inline void fuzz_check_reason(const char *err) {
  if (!err[0] || strchr(err, '\n')) {
    fprintf(stderr, "refused without a one-line reason: '%s'\n", err);
    abort();
  }
}

#endif
