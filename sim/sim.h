/* sim: a flow-level BitTorrent simulation on a provider's PoP network,
 * with the project's own tracker selection and optimizer in the loop.
 *
 * Model (docs/SIMULATOR.md): peers sit at PoPs behind access links; every
 * transfer is a flow whose rate is its max-min fair share of the sender's
 * uplink, the receiver's downlink and each backbone link on the IGP route,
 * capped by a TCP window / RTT limit.  Rates are re-solved only when the
 * flow set changes.  Peer lists come from the tracker's own module, driven
 * through p4p/p4p.h as upstream's patched code drives it (swarms kept with
 * peerlist.h, answers from p4p_select_peers() or upstream's stock walk);
 * the module's data arrives as messages through p4p_embed_publish(): the
 * provider's PID map and guidance, P4P rows from prov_optimizer_solve()
 * fed with the live swarms' per-PoP capacities. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

/* native: no P4P data, upstream's stock selection.  P4P: the iTracker's
 * default matrix, then the optimizer's rows.  localized: guidance that puts
 * all guided picks in the requester's own PoP (its PIDs by peers). */
enum sim_mode { SIM_NATIVE = 0, SIM_P4P, SIM_LOCALIZED };

/* Largest numwant a run takes (upstream caps what clients ask for too). */
#define SIM_MAX_NUMWANT 512

struct sim_config {
  const char   *provider_path;
  enum sim_mode mode;
  double        random_fraction; /* P4P and localized (the tracker's p4p.random_fraction) */
  int           nswarms;
  size_t        peers_per_swarm; /* leechers; each swarm adds one seed */
  double        file_mb;         /* MiB */
  double        block_kb;        /* KiB */
  unsigned      blocks_per_unit; /* block group moved as one request */
  double        seed_up_kbps;    /* the initial seed's uplink */
  unsigned      numwant, max_conns, regular_slots;
  double        slot_kbps; /* extra upload slot per this much uplink */
  double        rechoke_s, optimistic_s;
  double        announce_s, min_announce_s;
  unsigned      low_watermark;                    /* re-announce early below this many connections */
  double        optimize_s;                       /* P4P guidance re-solve period */
  double        seed_stay_s;                      /* leechers seed this long when done (0: leave) */
  double        join_window_s;                    /* leechers arrive uniformly in [0, this) */
  double        tcp_window_kb;                    /* per-connection cap = window / RTT */
  double        access_rtt_ms;                    /* last-mile RTT added to 2 x propagation */
  double        background_frac;                  /* extra background on every link, of capacity */
  const char   *masses_path;                      /* gravity background: "POP mass" lines (NULL: equal masses) */
  double        gravity_peak;                     /* > 0: gravity background scaled so the busiest link is at this */
  int           seeds_announce;                   /* seeds announce too and connect out to the leechers returned */
  int           seed_found;                       /* every leecher announce also reaches its swarm's first seed */
  double        turnover_frac;                    /* at each announce near the limit, drop this share of connections */
  int           p4p_local_start;                  /* P4P: localized rows, not the default matrix, until the first solve */
  double        itracker_down_s;                  /* P4P: no solves from this time on (< 0: never down) */
  double        max_staleness_s;                  /* P4P: the tracker keeps the last guidance this long, then stock */
  double        external_frac;                    /* share of each swarm's leechers outside the provider */
  const char   *peering_pop;                      /* where external peers enter (NULL: best connected PoP) */
  double        access_down_kbps, access_up_kbps; /* > 0: every leecher gets this access link */
  double        stream_kbps;                      /* > 0: live stream at this rate instead of a file */
  double        stream_window_s;                  /* streaming: units fetched this far ahead of the oldest wanted */
  double        stream_deadline_s;                /* streaming: a unit counts as on time within this of its birth */
  double        recompute_delay_s;                /* flow-set changes within this are solved together */
  double        sample_s;                         /* utilization sampling period */
  double        max_time_s;
  const char   *watch_link; /* "A-B" PoP names, or NULL */
  uint64_t      seed;
};

void sim_config_defaults(struct sim_config *c);

struct sim_result {
  size_t  nleechers, ncompleted;
  double *completion_s; /* per leecher, NAN if it never finished */
  size_t  nsamples;
  double *ts_time, *ts_maxutil, *ts_watch, *ts_leechers; /* per sample */
  int     nlinks;
  char  **link_names;         /* "A->B" */
  double *link_bytes;         /* per directed link */
  int     watch_ab, watch_ba; /* link indexes, -1 when not found */
  double  end_time;
  double  bytes_total, bytes_backbone, byte_hops, bytes_intra_pid, bytes_intra_pop;
  double  bytes_from_seeds;                                   /* uploaded by the swarms' initial seeds */
  size_t  seed_peak_conns;                                    /* most connections an initial seed had at once */
  double  peak_maxutil, mean_maxutil, peak_watch, mean_watch; /* means over samples with leechers */
  /* peers named to announcers (the requester itself never counted): by
   * the P4P module, in the requester's PID or elsewhere (another PID, no
   * PID), and of those the ones inside the provider in the requester's
   * PoP; by stock selection or as the whole swarm (random) */
  size_t  select_same_pid, select_other_pid, select_random, select_same_pop;
  size_t  rate_solves, optimizer_solves, unit_transfers, events;
  double  last_opt_mlu;                           /* the optimizer's predicted MLU at its last solve */
  double *ts_links;                               /* nsamples x nlinks utilization, background included */
  double *ts_seedconns;                           /* per sample: connections of the swarms' first seeds, summed */
  double *link_capacity, *link_background;        /* per directed link, kbit/s */
  double  bytes_external;                         /* between peers inside the provider and outside it */
  double  stream_units_due, stream_units_on_time; /* streaming: units x peers due / arrived in time */
  double  stream_bytes;                           /* streaming: bytes received by the leechers */
};

/* Progress callback: simulated time and leechers done so far. */
typedef void (*sim_progress_fn)(void *arg, double now, size_t done, size_t total);

/* Runs one simulation.  0, or -1 with a reason in err.  Free the result
 * with sim_result_free(). */
int  sim_run(const struct sim_config *cfg, struct sim_result *res, sim_progress_fn progress, void *parg, char *err, size_t errlen);
void sim_result_free(struct sim_result *r);

#endif
