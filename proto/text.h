/* text: the textual forms P4P v1 uses, for the XML units and for callers
 * that show or take them elsewhere (config files, logs, error messages).
 *
 * Addresses: IPv4 dotted quad or RFC 5952 IPv6, stored as in msg.h
 * (IPv4-mapped).  Hashes: 40 hex digits.  Names, versions, LOC, kinds and
 * numbers: the value forms the XML's attributes hold (docs/PROTOCOL.md).
 * Parsers return 0 or a negative code and leave their output untouched on
 * error.  Numbers are read and written with '.' as decimal point: the XML
 * entry points switch to the C locale around a call, other callers must run
 * under it (the default of a program that never calls setlocale()). */
#ifndef PROTO_TEXT_H
#define PROTO_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "msg.h"

/* --- addresses and prefixes --------------------------------------------- */

#define P4P_ADDR_TEXT_MAX 64 /* address or prefix text, with NUL */

/* ::ffff:a.b.c.d, the form msg.h (and opentracker) keeps IPv4 in.  Inline:
 * the tracker asks this on its announce path. */
static inline int proto_addr_is_v4_mapped(const uint8_t a[16]) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, mapped, sizeof mapped) == 0;
}

int  proto_addr_parse(const char *s, uint8_t addr[16]);
void proto_addr_format(const uint8_t addr[16], char out[P4P_ADDR_TEXT_MAX]);
/* "a.b.c.d/n" or "x::/n"; the length is required and host bits must be
 * zero (-2 when they are not, so a caller can say so) */
int  proto_prefix_parse(const char *s, struct p4p_prefix *p);
void proto_prefix_format(const struct p4p_prefix *p, char out[P4P_ADDR_TEXT_MAX]);
/* 1 when every bit of a from `bits` on is zero (bits <= 128) */
int proto_prefix_host_bits_zero(const uint8_t a[16], unsigned bits);

/* --- info_hashes --------------------------------------------------------- */

/* 40 hex digits, either case; formatted lowercase */
int  proto_hash_parse_hex(const char *s, uint8_t hash[P4P_HASH_SIZE]);
void proto_hash_format_hex(const uint8_t hash[P4P_HASH_SIZE], char out[2 * P4P_HASH_SIZE + 1]);

/* --- value forms of v1 attributes ---------------------------------------- */

/* PID names: 1..63 of [A-Za-z0-9._:-] */
int proto_name_valid(const char *s);
/* versions: 1..63 printable ASCII without space */
int proto_version_valid(const char *s);
/* LOC: 0..63 printable ASCII */
int proto_loc_valid(const char *s);
/* server kinds: "cache" or "seed" */
int proto_kind_valid(const char *s);
/* values (costs, weights, rates): finite and >= 0 */
int proto_value_valid(double v);

/* Unsigned decimal, digits only (no sign, no spaces), at most max: 0 or -1. */
int proto_uint_parse(const char *s, uint64_t max, uint64_t *out);
/* Non-negative decimal [0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?: 0, -1 syntax,
 * -2 negative, -3 not finite (NaN, INF, overflow). */
int proto_value_parse(const char *s, double *out);
/* The shortest of %.15g/%.16g/%.17g that reads back exactly. */
#define P4P_VALUE_TEXT_MAX 32
void proto_value_format(double v, char out[P4P_VALUE_TEXT_MAX]);

#endif
