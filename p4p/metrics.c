/* metrics: the Prometheus view. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "guidance.h"
#include "metrics.h"
#include "outbuf.h"
#include "pidmap.h"
#include "provider_view.h"
#include "state.h"
#include "stats.h"

#define NS "opentracker_p4p_"

void p4p_metrics_label_value(const char *in, char *out, size_t outlen) {
  size_t n = 0;
  for (; *in && n + 3 < outlen; ++in) {
    if (*in == '\\' || *in == '"')
      out[n++] = '\\', out[n++] = *in;
    else if (*in == '\n')
      out[n++] = '\\', out[n++] = 'n';
    else
      out[n++] = *in;
  }
  if (outlen)
    out[n] = 0;
}

static void family(struct p4p_outbuf *o, const char *name, const char *type, const char *help) {
  p4p_out_printf(o, "# HELP " NS "%s %s\n# TYPE " NS "%s %s\n", name, help, name, type);
}

size_t p4p_metrics_write(const struct p4p_state *s, const struct p4p_provider_view *pv, size_t npv, char *out, size_t cap) {
  struct p4p_outbuf         o;
  struct p4p_stats_counters c;
  time_t                    now           = time(NULL);
  static const char *const  state_names[] = {"in_use", "waiting", "no_data", "refused"};
  static const char *const  data_names[]  = {"pidmap", "costs", "guidance", "capability"};

  p4p_out_init(&o, out, cap);
  p4p_stats_read(&c);

  family(&o, "enabled", "gauge", "1 when p4p.enable is yes");
  p4p_out_printf(&o, NS "enabled %d\n", s && s->enabled);
  family(&o, "data_loaded", "gauge", "1 when some source's PID map is in use");
  p4p_out_printf(&o, NS "data_loaded %d\n", s && s->map);
  family(&o, "announces_total", "counter", "Announces counted by P4P, by whether the requester is in a PID");
  p4p_out_printf(&o, NS "announces_total{pid=\"yes\"} %lu\n" NS "announces_total{pid=\"no\"} %lu\n", c.announce_pid, c.announce_nopid);
  family(&o, "selections_total", "counter", "Peer selections: guided (a swarm's own matrix), default (the default matrix), stock (upstream's)");
  p4p_out_printf(&o, NS "selections_total{kind=\"guided\"} %lu\n" NS "selections_total{kind=\"default\"} %lu\n" NS "selections_total{kind=\"stock\"} %lu\n",
                 c.selections[STATS_SEL_GUIDED], c.selections[STATS_SEL_DEFAULT], c.selections[STATS_SEL_STOCK]);
  family(&o, "peers_returned_total", "counter", "Peers returned by P4P selection, by how they were picked");
  p4p_out_printf(&o,
                 NS "peers_returned_total{pick=\"same_pid\"} %lu\n" NS "peers_returned_total{pick=\"other_pid\"} %lu\n" NS
                    "peers_returned_total{pick=\"outside_provider\"} %lu\n" NS "peers_returned_total{pick=\"random\"} %lu\n" NS
                    "peers_returned_total{pick=\"provider_server\"} %lu\n",
                 c.peers_same, c.peers_other, c.peers_outside, c.peers_random, c.peers_capability);
  family(&o, "peers_locality_total", "counter", "Peers returned by P4P selection, by where they are: the requester's PID, another PID of its provider, other");
  p4p_out_printf(&o,
                 NS "peers_locality_total{locality=\"same_pid\"} %lu\n" NS "peers_locality_total{locality=\"same_provider\"} %lu\n" NS
                    "peers_locality_total{locality=\"other\"} %lu\n",
                 c.peers_in_pid, c.peers_in_provider, c.peers_elsewhere);
  family(&o, "random_fraction", "gauge", "Share of each answer drawn uniformly at random");
  p4p_out_printf(&o, NS "random_fraction %g\n", s ? s->random_fraction : 0.0);
  family(&o, "pidmap_pids", "gauge", "PIDs in the PID map in use");
  p4p_out_printf(&o, NS "pidmap_pids %zu\n", s && s->map ? p4p_pidmap_npids(s->map) : 0);
  family(&o, "pidmap_ranges", "gauge", "Disjoint address ranges of the PID map in use");
  p4p_out_printf(&o, NS "pidmap_ranges %zu\n", s && s->map ? p4p_pidmap_nranges(s->map) : 0);
  family(&o, "pidmap_age_seconds", "gauge", "Seconds since the PID map in use was built");
  if (s && s->map)
    p4p_out_printf(&o, NS "pidmap_age_seconds %ld\n", (long)(now - s->map_loaded));
  family(&o, "guidance_swarms", "gauge", "Swarms with their own guidance matrix");
  p4p_out_printf(&o, NS "guidance_swarms %zu\n", s && s->guidance ? p4p_guidance_nswarms(s->guidance) : 0);
  family(&o, "guidance_default_matrix", "gauge", "1 when a default guidance matrix is in use");
  p4p_out_printf(&o, NS "guidance_default_matrix %d\n", s && s->guidance && p4p_guidance_has_default(s->guidance));
  family(&o, "guidance_age_seconds", "gauge", "Seconds since the guidance in use was read");
  if (s && s->guidance && s->guidance_loaded)
    p4p_out_printf(&o, NS "guidance_age_seconds %ld\n", (long)(now - s->guidance_loaded));
  family(&o, "snapshot_generation", "gauge", "Snapshots published since start");
  p4p_out_printf(&o, NS "snapshot_generation %lu\n", s ? (unsigned long)s->gen : 0UL);
  family(&o, "reloads_total", "counter", "Snapshot rebuilds (SIGHUP, new portal data), by result");
  p4p_out_printf(&o, NS "reloads_total{result=\"ok\"} %lu\n" NS "reloads_total{result=\"failed\"} %lu\n", c.reload_ok, c.reload_failed);
  family(&o, "last_reload_error_age_seconds", "gauge", "Seconds since the last failed rebuild");
  if (c.last_error_at)
    p4p_out_printf(&o, NS "last_reload_error_age_seconds %ld\n", (long)(now - c.last_error_at));

  /* per provider: names are [A-Za-z0-9_-] (config.c); URLs are escaped */
  family(&o, "provider_info", "gauge", "A configured provider portal (URL without credentials)");
  for (size_t i = 0; i < npv; ++i) {
    char url[1100];
    p4p_metrics_label_value(pv[i].url, url, sizeof url);
    p4p_out_printf(&o, NS "provider_info{provider=\"%s\",url=\"%s\",protocol=\"%s\"} 1\n", pv[i].cfg->name, url, pv[i].cfg->legacy ? "legacy" : "v1");
  }
  family(&o, "provider_state", "gauge",
         "Where the provider's data stands: in_use, waiting (for the next snapshot), no_data, refused (its data does not resolve)");
  for (size_t i = 0; i < npv; ++i)
    for (int k = 0; k < (int)(sizeof state_names / sizeof *state_names); ++k)
      p4p_out_printf(&o, NS "provider_state{provider=\"%s\",state=\"%s\"} %d\n", pv[i].cfg->name, state_names[k], (int)p4p_provider_state_of(&pv[i]) == k);
  family(&o, "provider_failing", "gauge", "1 while some interface of the provider is failing (backing off)");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_failing{provider=\"%s\"} %d\n", pv[i].cfg->name, pv[i].st.backoff_s > 0);
  family(&o, "provider_fetches_total", "counter", "Fetches finished, good or bad");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_fetches_total{provider=\"%s\"} %lu\n", pv[i].cfg->name, pv[i].st.fetches);
  family(&o, "provider_fetch_failures_total", "counter", "Fetches that failed");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_fetch_failures_total{provider=\"%s\"} %lu\n", pv[i].cfg->name, pv[i].st.failures);
  family(&o, "provider_not_modified_total", "counter", "Fetches answered 304 Not Modified");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_not_modified_total{provider=\"%s\"} %lu\n", pv[i].cfg->name, pv[i].st.not_modified);
  family(&o, "provider_backoff_seconds", "gauge", "Current retry backoff step, 0 when healthy");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_backoff_seconds{provider=\"%s\"} %d\n", pv[i].cfg->name, pv[i].st.backoff_s);
  family(&o, "provider_last_success_age_seconds", "gauge", "Seconds since the provider's last good fetch");
  for (size_t i = 0; i < npv; ++i)
    if (pv[i].st.last_success)
      p4p_out_printf(&o, NS "provider_last_success_age_seconds{provider=\"%s\"} %ld\n", pv[i].cfg->name, (long)(now - pv[i].st.last_success));
  family(&o, "provider_last_error_age_seconds", "gauge", "Seconds since the provider's last failed fetch");
  for (size_t i = 0; i < npv; ++i)
    if (pv[i].st.last_error_at)
      p4p_out_printf(&o, NS "provider_last_error_age_seconds{provider=\"%s\"} %ld\n", pv[i].cfg->name, (long)(now - pv[i].st.last_error_at));
  family(&o, "provider_data_age_seconds", "gauge", "Age of the provider's data held, by kind (absent when not held)");
  for (size_t i = 0; i < npv; ++i) {
    const time_t at[4] = {pv[i].st.pidmap_at, pv[i].st.costs_at, pv[i].st.guidance_at, pv[i].st.capability_at};
    for (int k = 0; k < 4; ++k)
      if (at[k])
        p4p_out_printf(&o, NS "provider_data_age_seconds{provider=\"%s\",data=\"%s\"} %ld\n", pv[i].cfg->name, data_names[k], (long)(now - at[k]));
  }
  family(&o, "provider_guidance_swarms", "gauge", "Swarms under the provider's per-swarm guidance");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_guidance_swarms{provider=\"%s\"} %zu\n", pv[i].cfg->name, pv[i].st.guidance_swarms);
  family(&o, "provider_servers", "gauge", "The provider's servers in use");
  for (size_t i = 0; i < npv; ++i)
    p4p_out_printf(&o, NS "provider_servers{provider=\"%s\"} %zu\n", pv[i].cfg->name, pv[i].servers);
  return o.n;
}
