/* alto_ctx: the error context the ALTO parsers (alto.c, alto_req.c,
 * alto_sse.c) share: where a message came from, the caller's error buffer
 * and the optional RFC 7285 fault to fill.  Internal to proto/. */
#ifndef PROTO_ALTO_CTX_H
#define PROTO_ALTO_CTX_H

#include <stddef.h>

#include "alto.h"

struct proto_alto_ctx {
  const char              *source; /* "response", "request", a file name */
  char                    *err;
  size_t                   errlen;
  struct proto_alto_fault *fault; /* NULL: the caller wants no fault */
};

/* Leave "<source>: <path>: <reason>" (no path: "<source>: <reason>") in the
 * error buffer and code/field/value in the fault; returns -1. */
int proto_alto_ctx_fail(struct proto_alto_ctx *cx, const char *code, const char *field, const char *value, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A JSON value shown in a message: strings as they are (cut, control
 * characters as '?'), anything else as compact JSON (cut). */
void proto_alto_ctx_show(const json_t *v, char *out, size_t outlen);

/* Strings of an array, each a valid id, deduplicated in order.  Refuses
 * non-strings and bad ids with E_INVALID_FIELD_VALUE / E_SYNTAX naming
 * field; at most max entries. */
int proto_alto_ctx_names(struct proto_alto_ctx *cx, const json_t *arr, const char *field, size_t max, struct proto_alto_names *out);

#endif
