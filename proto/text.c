/* text: v1's textual forms of addresses, prefixes, hashes and attribute
 * values (see text.h).  Pure functions, no state: safe from any thread. */
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int proto_addr_parse(const char *s, uint8_t addr[16]) {
  uint8_t tmp[16];
  if (strchr(s, ':')) {
    if (inet_pton(AF_INET6, s, tmp) != 1)
      return -1;
  } else {
    memset(tmp, 0, 10);
    tmp[10] = tmp[11] = 0xff;
    if (inet_pton(AF_INET, s, tmp + 12) != 1)
      return -1;
  }
  memcpy(addr, tmp, 16);
  return 0;
}

void proto_addr_format(const uint8_t addr[16], char out[P4P_ADDR_TEXT_MAX]) {
  if (proto_addr_is_v4_mapped(addr))
    inet_ntop(AF_INET, addr + 12, out, P4P_ADDR_TEXT_MAX);
  else
    inet_ntop(AF_INET6, addr, out, P4P_ADDR_TEXT_MAX);
}

int proto_prefix_host_bits_zero(const uint8_t a[16], unsigned bits) {
  for (unsigned i = bits; i < 128; i++)
    if (a[i / 8] & (0x80u >> (i % 8)))
      return 0;
  return 1;
}

int proto_prefix_parse(const char *s, struct p4p_prefix *p) {
  char        buf[P4P_ADDR_TEXT_MAX];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof buf)
    return -1;
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s]  = '\0';
  const char *len = slash + 1;
  size_t      nd  = strspn(len, "0123456789");
  if (nd == 0 || nd > 3 || len[nd] != '\0' || (nd > 1 && len[0] == '0'))
    return -1;
  unsigned n  = (unsigned)atoi(len);
  int      v6 = strchr(buf, ':') != NULL;
  if (n > (v6 ? 128u : 32u))
    return -1;
  uint8_t a[16];
  if (proto_addr_parse(buf, a) < 0)
    return -1;
  unsigned bits = v6 ? n : 96 + n;
  if (!proto_prefix_host_bits_zero(a, bits))
    return -2;
  memcpy(p->addr, a, 16);
  p->bits = (uint8_t)bits;
  return 0;
}

void proto_prefix_format(const struct p4p_prefix *p, char out[P4P_ADDR_TEXT_MAX]) {
  char a[P4P_ADDR_TEXT_MAX];
  proto_addr_format(p->addr, a);
  unsigned bits = p->bits;
  if (proto_addr_is_v4_mapped(p->addr) && bits >= 96)
    bits -= 96;
  snprintf(out, P4P_ADDR_TEXT_MAX, "%.46s/%u", a, bits); /* 46: INET6_ADDRSTRLEN */
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int proto_hash_parse_hex(const char *s, uint8_t hash[P4P_HASH_SIZE]) {
  uint8_t tmp[P4P_HASH_SIZE];
  for (size_t i = 0; i < P4P_HASH_SIZE; i++) {
    int hi = hexval((unsigned char)s[2 * i]);
    int lo = hi < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    tmp[i] = (uint8_t)(hi << 4 | lo);
  }
  if (s[2 * P4P_HASH_SIZE] != '\0')
    return -1;
  memcpy(hash, tmp, sizeof tmp);
  return 0;
}

void proto_hash_format_hex(const uint8_t hash[P4P_HASH_SIZE], char out[2 * P4P_HASH_SIZE + 1]) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < P4P_HASH_SIZE; i++) {
    out[2 * i]     = hx[hash[i] >> 4];
    out[2 * i + 1] = hx[hash[i] & 15];
  }
  out[2 * P4P_HASH_SIZE] = '\0';
}

/* the character set lets Yale's PID names ("0.i.internet2") through */
int proto_name_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= P4P_NAME_MAX)
    return 0;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == ':' || *c == '-'))
      return 0;
  return 1;
}

int proto_version_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= P4P_NAME_MAX)
    return 0;
  for (const char *c = s; *c; c++)
    if (*c < '!' || *c > '~')
      return 0;
  return 1;
}

int proto_loc_valid(const char *s) {
  if (strlen(s) >= P4P_NAME_MAX)
    return 0;
  for (const char *c = s; *c; c++)
    if (*c < ' ' || *c > '~')
      return 0;
  return 1;
}

int proto_kind_valid(const char *s) { return strcmp(s, "cache") == 0 || strcmp(s, "seed") == 0; }

int proto_value_valid(double v) { return isfinite(v) && v >= 0; }

int proto_uint_parse(const char *s, uint64_t max, uint64_t *out) {
  size_t nd = strspn(s, "0123456789");
  if (nd == 0 || s[nd] != '\0' || nd > 20)
    return -1;
  errno                = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno == ERANGE || v > max)
    return -1;
  *out = v;
  return 0;
}

/* The grammar is checked by hand because strtod() alone would also take
 * hex floats, "inf", leading blanks and a sign. */
int proto_value_parse(const char *s, double *out) {
  if (!strcasecmp(s, "nan") || !strcasecmp(s, "inf") || !strcasecmp(s, "-inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "+inf"))
    return -3;
  const char *c   = s;
  int         neg = *c == '-';
  if (neg)
    c++;
  size_t n = strspn(c, "0123456789");
  if (n == 0)
    return -1;
  c += n;
  if (*c == '.') {
    n = strspn(++c, "0123456789");
    if (n == 0)
      return -1;
    c += n;
  }
  if (*c == 'e' || *c == 'E') {
    c++;
    if (*c == '+' || *c == '-')
      c++;
    n = strspn(c, "0123456789");
    if (n == 0)
      return -1;
    c += n;
  }
  if (*c != '\0')
    return -1;
  if (neg)
    return -2;
  double v = strtod(s, NULL);
  if (!isfinite(v))
    return -3;
  *out = v;
  return 0;
}

/* %.17g always reads back, but writes 0.1 as 0.10000000000000001 */
void proto_value_format(double v, char out[P4P_VALUE_TEXT_MAX]) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, P4P_VALUE_TEXT_MAX, "%.*g", prec, v);
    if (strtod(out, NULL) == v)
      return;
  }
}
