/* curl_lazy: dlopen() libcurl on first need (curl_lazy.h says why). */
#define P4P_CURL_LAZY_SELF
#include "curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* libcurl4's soname; the one the -dev package links */
#define CURL_SONAME "libcurl.so.4"

struct p4p_curl_api p4p_curl_api;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int             g_loaded;

/* name of the entry, its symbol */
#define ENTRY(field, symbol)                                                                                                                                   \
  { (void **)&p4p_curl_api.field, #symbol }

int p4p_curl_load(char *err, size_t errlen) {
  const struct {
    void      **slot;
    const char *name;
  } entries[] = {
      ENTRY(global_init, curl_global_init),
      ENTRY(global_cleanup, curl_global_cleanup),
      ENTRY(easy_init, curl_easy_init),
      ENTRY(easy_setopt, curl_easy_setopt),
      ENTRY(easy_getinfo, curl_easy_getinfo),
      ENTRY(easy_cleanup, curl_easy_cleanup),
      ENTRY(easy_strerror, curl_easy_strerror),
      ENTRY(multi_init, curl_multi_init),
      ENTRY(multi_add_handle, curl_multi_add_handle),
      ENTRY(multi_remove_handle, curl_multi_remove_handle),
      ENTRY(multi_perform, curl_multi_perform),
      ENTRY(multi_poll, curl_multi_poll),
      ENTRY(multi_wakeup, curl_multi_wakeup),
      ENTRY(multi_info_read, curl_multi_info_read),
      ENTRY(multi_cleanup, curl_multi_cleanup),
      ENTRY(slist_append, curl_slist_append),
      ENTRY(slist_free_all, curl_slist_free_all),
      ENTRY(url, curl_url),
      ENTRY(url_cleanup, curl_url_cleanup),
      ENTRY(url_set, curl_url_set),
      ENTRY(url_get, curl_url_get),
      ENTRY(free, curl_free),
  };
  int rc = 0;

  pthread_mutex_lock(&g_lock);
  if (!g_loaded) {
    /* never closed: handles and callbacks live in it until the process ends */
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      snprintf(err, errlen, "cannot load libcurl (%s), which P4P providers need: %s", CURL_SONAME, dlerror());
      rc = -1;
    }
    for (size_t i = 0; lib && i < sizeof entries / sizeof entries[0]; ++i)
      if (!(*entries[i].slot = dlsym(lib, entries[i].name))) {
        snprintf(err, errlen, "%s has no %s (libcurl 7.68 or later is needed)", CURL_SONAME, entries[i].name);
        rc = -1;
        break;
      }
    g_loaded = rc == 0;
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}
