/* check: what only starting the daemon would find out. */
#include "check.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portal.h"
#include "proto/file.h"

static enum MHD_Result refuse_all(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)cls, (void)c, (void)url, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
  return MHD_NO;
}

int itr_check(const struct portal *p, const char *config, const char *addr, char *err, size_t errlen) {
  const struct prov_daemon_settings *d = &p->prov.daemon;
  if (strcmp(addr, "*")) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(addr, NULL, &hints, &ai)) {
      snprintf(err, errlen, "%s: listen address '%s' is not a numeric address", config, addr);
      return -1;
    }
    freeaddrinfo(ai);
  }
  if (!d->tls_cert[0])
    return 0;
  char  *cert = NULL, *key = NULL, why[600];
  size_t len;
  int    rc = -1;
  if (proto_read_file(d->tls_cert, 1u << 20, &cert, &len, why, sizeof why) || proto_read_file(d->tls_key, 1u << 20, &key, &len, why, sizeof why)) {
    snprintf(err, errlen, "%s:%u: tls: %s", config, d->tls_line, why);
    goto out;
  }
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(err, errlen, "%s:%u: tls: this libmicrohttpd has no TLS support", config, d->tls_line);
    goto out;
  }
  /* loads the pair exactly as http_start would, with no socket at all */
  struct MHD_Daemon *md = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_TLS, 0, NULL, NULL, refuse_all, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                           MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
  if (!md) {
    snprintf(err, errlen, "%s:%u: tls: %s and %s are not a PEM certificate and its private key", config, d->tls_line, d->tls_cert, d->tls_key);
    goto out;
  }
  MHD_stop_daemon(md);
  rc = 0;
out:
  free(cert);
  if (key)
    explicit_bzero(key, strlen(key));
  free(key);
  return rc;
}
