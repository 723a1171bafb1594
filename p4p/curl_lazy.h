/* curl_lazy: libcurl loaded when a provider is configured, not at start.
 *
 * libcurl brings its TLS, SSH, LDAP and Kerberos stack along: some thirty
 * shared libraries and ~6 MB resident (~1 MB of it private) in every
 * tracker, P4P on or off, portals or not (docs/BENCHMARKS.md, idle memory).
 * So the module does not link it: p4p_curl_load() dlopen()s it the first
 * time a `p4p.provider` line is read (config parsing, before the tracker
 * drops privileges and chroots, where the library could not be found),
 * and the portal client and the ALTO client call it through p4p_curl_api.
 * Including this header instead of <curl/curl.h> maps the curl_* names
 * they use onto that table. */
#ifndef P4P_CURL_LAZY_H
#define P4P_CURL_LAZY_H

#include <stddef.h>

#define CURL_DISABLE_TYPECHECK /* the names below become table entries */
#include <curl/curl.h>

/* The libcurl entry points the module uses (the same signatures). */
struct p4p_curl_api {
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)(void);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
  CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
  void (*easy_cleanup)(CURL *curl);
  const char *(*easy_strerror)(CURLcode code);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_add_handle)(CURLM *multi, CURL *curl);
  CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *curl);
  CURLMcode (*multi_perform)(CURLM *multi, int *running);
  CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms, int *ret);
  CURLMcode (*multi_wakeup)(CURLM *multi);
  CURLMsg *(*multi_info_read)(CURLM *multi, int *msgs_in_queue);
  CURLMcode (*multi_cleanup)(CURLM *multi);
  struct curl_slist *(*slist_append)(struct curl_slist *list, const char *data);
  void (*slist_free_all)(struct curl_slist *list);
  CURLU *(*url)(void);
  void (*url_cleanup)(CURLU *handle);
  CURLUcode (*url_set)(CURLU *handle, CURLUPart what, const char *part, unsigned int flags);
  CURLUcode (*url_get)(CURLU *handle, CURLUPart what, char **part, unsigned int flags);
  void (*free)(void *p);
};

/* Filled by p4p_curl_load(); read-only after. */
extern struct p4p_curl_api p4p_curl_api;

/* Loads libcurl once (later calls return at once): 0, or -1 with the
 * reason in err.  Thread-safe. */
int p4p_curl_load(char *err, size_t errlen);

#ifndef P4P_CURL_LAZY_SELF
#undef curl_easy_setopt /* curl.h's three-argument checks */
#undef curl_easy_getinfo
#define curl_global_init         p4p_curl_api.global_init
#define curl_global_cleanup      p4p_curl_api.global_cleanup
#define curl_easy_init           p4p_curl_api.easy_init
#define curl_easy_setopt         p4p_curl_api.easy_setopt
#define curl_easy_getinfo        p4p_curl_api.easy_getinfo
#define curl_easy_cleanup        p4p_curl_api.easy_cleanup
#define curl_easy_strerror       p4p_curl_api.easy_strerror
#define curl_multi_init          p4p_curl_api.multi_init
#define curl_multi_add_handle    p4p_curl_api.multi_add_handle
#define curl_multi_remove_handle p4p_curl_api.multi_remove_handle
#define curl_multi_perform       p4p_curl_api.multi_perform
#define curl_multi_poll          p4p_curl_api.multi_poll
#define curl_multi_wakeup        p4p_curl_api.multi_wakeup
#define curl_multi_info_read     p4p_curl_api.multi_info_read
#define curl_multi_cleanup       p4p_curl_api.multi_cleanup
#define curl_slist_append        p4p_curl_api.slist_append
#define curl_slist_free_all      p4p_curl_api.slist_free_all
#define curl_url                 p4p_curl_api.url
#define curl_url_cleanup         p4p_curl_api.url_cleanup
#define curl_url_set             p4p_curl_api.url_set
#define curl_url_get             p4p_curl_api.url_get
#define curl_free                p4p_curl_api.free
#endif

#endif
