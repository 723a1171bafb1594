/* file: capped whole-file reads (see file.h). */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errbuf.h"

int proto_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, char *err, size_t errlen) {
  *buf    = NULL;
  *len    = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return proto_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return proto_fail(err, errlen, "%s: is a directory", path);
  }
  /* read in chunks rather than trusting st_size: pipes and growing files */
  size_t cap = 0, n = 0;
  char  *b = NULL;
  for (;;) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > max_bytes + 1)
        ncap = max_bytes + 1;
      if (ncap <= n) {
        proto_fail(err, errlen, "%s: larger than the limit of %zu bytes", path, max_bytes);
        goto fail;
      }
      char *nb = realloc(b, ncap + 1);
      if (!nb) {
        proto_fail(err, errlen, "%s: out of memory", path);
        goto fail;
      }
      b   = nb;
      cap = ncap;
    }
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (r == 0)
      break;
  }
  if (ferror(f)) {
    proto_fail(err, errlen, "%s: read error: %s", path, strerror(errno));
    goto fail;
  }
  if (n > max_bytes) {
    proto_fail(err, errlen, "%s: larger than the limit of %zu bytes", path, max_bytes);
    goto fail;
  }
  fclose(f);
  if (!b && !(b = malloc(1)))
    return proto_fail(err, errlen, "%s: out of memory", path);
  b[n] = '\0';
  *buf = b;
  *len = n;
  return 0;
fail:
  free(b);
  fclose(f);
  return -1;
}
