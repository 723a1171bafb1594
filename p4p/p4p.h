/* p4p.h: the P4P module as opentracker sees it.
 *
 * This is the only header the patches in patches/ include.  Like an nginx
 * module, the P4P module joins the tracker at a few declared points:
 *
 *   config    p4p_config_line()        one "p4p.*" line of the config file
 *   lifecycle p4p_init(), p4p_deinit() from trackerlogic_init/_deinit: load
 *                                      the configured files or refuse; stop
 *   reload    p4p_reload_request()     SIGHUP: new snapshot, or keep the old
 *   storage   p4p_peerlist_*()         arrange a swarm's peers by PID
 *   announce  p4p_note_announce(), p4p_select_peers()
 *   stats     p4p_stats_render()       /stats?mode=p4p
 *             p4p_stats_render_large() /stats?mode=prometheus, mode=p4p_dump
 *   check     p4p_check_*()            opentracker-p4p --check -f conf
 *
 * Everything else (PID maps, guidance, formats, selection internals) is
 * private to p4p/.  Nothing here blocks, touches the network or takes a lock
 * on the announce path: data arrives as immutable snapshots swapped in by a
 * background thread.
 *
 * Like upstream's WANT_* features, the module vanishes when WANT_P4P is not
 * defined: every hook becomes an inline no-op (a "p4p." config line is then
 * refused), and the call sites in upstream's code stay one line each. */
#ifndef P4P_H
#define P4P_H

#include <stddef.h>
#include <stdint.h>

/* Same layout as upstream's ot_vector; the storage patch checks this with a
 * static assertion, so a change upstream fails the build, not the tracker. */
struct p4p_vector {
  void  *data;
  size_t size;
  size_t space;
};

/* Upstream's peer record (ot_peer4/ot_peer6), which the module reads in
 * place: the compare bytes (address, then port, network order), then a flag
 * byte and a time byte.  Named once here; the storage patch asserts every
 * value against upstream's own definitions. */
#define P4P_PEER_COMPARE_SIZE4           6  /* IPv4 address + port */
#define P4P_PEER_COMPARE_SIZE6           18 /* IPv6 address + port */
#define P4P_PEER_TAIL_SIZE               2  /* flag byte, time byte */
#define P4P_PEER_SIZE4                   (P4P_PEER_COMPARE_SIZE4 + P4P_PEER_TAIL_SIZE)
#define P4P_PEER_SIZE6                   (P4P_PEER_COMPARE_SIZE6 + P4P_PEER_TAIL_SIZE)
#define P4P_PEER_FLAG_SEEDING            0x80 /* in the flag byte */
#define P4P_PEER_COMPARE_SIZE(peer_size) ((peer_size)-P4P_PEER_TAIL_SIZE)
#define P4P_PEER_FLAGS(peer, peer_size)  ((peer)[P4P_PEER_COMPARE_SIZE(peer_size)])

struct pidmap;

/* How one peer list is arranged.  map == NULL: upstream's own arrangement
 * (one sorted vector, or buckets by hash).  Otherwise the list is a bucket
 * array of groups * per_group sorted vectors, one group per PID present in
 * the list (its slot in a table after the buckets, p4p/layout.h), holding
 * the peers that `map` puts in that PID (slot 0 = no PID), spread over
 * per_group buckets by address hash.  The list holds a reference on `map`,
 * so a bucket can always be recomputed with the map the list was laid out
 * with, whatever reloads happened since. */
struct p4p_layout {
  struct pidmap *map;
  uint16_t       groups;
  uint16_t       per_group;
};

/* The module reports per-PID statistics of the heaviest swarms to the
 * providers' guidance interface.  It reads them from its own thread through
 * a walker the tracker passes to p4p_init(): the walker visits every swarm
 * holding that swarm's bucket mutex, and the pointers it passes are valid
 * only during the call. */
typedef void (*p4p_swarm_visitor)(void *ctx, const uint8_t *info_hash, const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count,
                                  size_t seed_count, size_t peer_size);
typedef void (*p4p_swarm_walker)(p4p_swarm_visitor visit, void *ctx);

#ifdef WANT_P4P

/* --- configuration and lifecycle (main thread, before serving) --------- */

/* One config line starting with "p4p.".  0 when taken; -1 after printing
 * "file:line: reason" to stderr (the tracker must then refuse to start). */
int p4p_config_line(const char *line, const char *file, int lineno);

/* After the config is read (and privileges dropped, so what the module can
 * read now it can read on every reload): checks the keys, loads the
 * configured files and starts the module's threads.  own_sighup: a module
 * thread waits for SIGHUP itself (0 when another thread, the access list's,
 * owns that signal and calls p4p_reload_request()).  -1 after printing why:
 * the tracker must not start half-configured. */
int p4p_init(p4p_swarm_walker walk, int own_sighup);
/* Stops the threads and frees the module's data; lists still holding a map
 * reference free it when they are released. */
void p4p_deinit(void);
void p4p_reload_request(void);

/* --- storage (under the torrent's bucket mutex) ------------------------- */

/* Brings a peer list to the layout the current snapshot wants: PID groups
 * when a PID map is loaded, upstream's own otherwise.  incoming: the peer
 * record about to be inserted, or NULL: a list in PID layout gets a group
 * for its PID if it has none (lists hold groups only for PIDs present).
 * Returns 1 when the list is (now) in a PID layout, 0 when upstream's rules
 * apply to it, -1 when there is no memory to make room for incoming (the
 * caller must not insert it).  On allocation failure the list keeps its
 * old, still consistent layout. */
int p4p_peerlist_refresh(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size, const uint8_t *incoming);

/* Bucket index of a peer in a list with layout->map != NULL. */
size_t p4p_peer_bucket(const struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size);

/* Drops the list's map reference; called when the list is freed. */
void p4p_peerlist_release(struct p4p_layout *layout);

/* --- announce ------------------------------------------------------------ */

/* Counts the announce for /stats (with or without a PID) and remembers the
 * requester's PID for this thread, so selection does not look it up again. */
void p4p_note_announce(const uint8_t *requester6);

/* Writes `amount` peers of the list (never the requester, no duplicates)
 * into reply the way upstream does: compare_size bytes each, leechers from
 * the front, seeders from the back.  Requires amount < peer_count.  Returns
 * the bytes written, or 0 when P4P does not apply (no PID for the requester,
 * no guidance for the swarm): the caller then runs stock selection.
 * requester6: the announcing peer as upstream's ot_peer6 (address first). */
size_t p4p_select_peers(const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t peer_size, const uint8_t *requester6,
                        const uint8_t *info_hash, size_t amount, unsigned short rand48[3], char *reply);

/* Writes the /stats?mode=p4p text into reply (at most cap bytes). */
size_t p4p_stats_render(char *reply, size_t cap);

/* The views too large for upstream's 8 KiB stats buffer, rendered in its
 * stats worker thread into a buffer of P4P_STATS_LARGE_CAP bytes:
 * P4P_STATS_PROMETHEUS (text exposition format 0.0.4) or P4P_STATS_DUMP
 * (the PID map, matrices and per-PID counters in use). */
#define P4P_STATS_PROMETHEUS 1
#define P4P_STATS_DUMP       2
#define P4P_STATS_LARGE_CAP  (4u << 20)
size_t p4p_stats_render_large(int mode, char *reply, size_t cap);

/* --- --check: validate a configuration and exit (main thread) ----------- */

/* main() saw --check: from now on nothing binds (p4p_check_only() is 1) and
 * upstream's lenient config warnings count as problems. */
void p4p_check_begin(void);
int  p4p_check_only(void);
/* Upstream's parser met a line it could not use (check mode: reported as
 * "file:line: what" and counted; otherwise nothing, upstream warned). */
void p4p_check_problem(const char *file, int lineno, const char *what);
/* After the privilege drop, as the tracker would load: checks the p4p keys
 * together, every file they name, and the local data files' contents.
 * Prints the verdict; returns the exit status (0 good, 1 not). */
int p4p_check_finish(void);

/* --- embedding (the simulator, benchmarks; not upstream) --------------- */

struct p4p_pidmap_msg;
struct p4p_guidance_msg;

/* Publishes the snapshot these messages give, exactly as if a provider's
 * portal had delivered them (same loader, same checks), with the given
 * random fraction and the config's other settings.  The embedder then
 * stores peers and selects through the hooks above, so it runs the
 * tracker's own announce path.  For a single-threaded embedder only:
 * replaced snapshots are freed at once.  guidance may be NULL.  0, or -1
 * with the reason in err (the old snapshot stays). */
int p4p_embed_publish(const struct p4p_pidmap_msg *pidmap, const struct p4p_guidance_msg *guidance, double random_fraction, char *err, size_t errlen);
/* Frees every snapshot (the embedder's shutdown). */
void p4p_embed_reset(void);

#else /* !WANT_P4P: stock behaviour, every hook compiles away */

#include <stdio.h>

static inline int p4p_config_line(const char *line, const char *file, int lineno) {
  (void)line;
  fprintf(stderr, "%s:%d: p4p keys need a tracker built with WANT_P4P\n", file, lineno);
  return -1;
}
static inline int p4p_init(p4p_swarm_walker walk, int own_sighup) {
  (void)walk, (void)own_sighup;
  return 0;
}
static inline void p4p_deinit(void) {}
static inline void p4p_reload_request(void) {}
static inline int  p4p_peerlist_refresh(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size, const uint8_t *incoming) {
   (void)peers, (void)layout, (void)peer_count, (void)peer_size, (void)incoming;
   return 0;
}
static inline size_t p4p_peer_bucket(const struct p4p_vector *peers, const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size) {
  (void)peers, (void)layout, (void)peer, (void)compare_size;
  return 0;
}
static inline void   p4p_peerlist_release(struct p4p_layout *layout) { (void)layout; }
static inline void   p4p_note_announce(const uint8_t *requester6) { (void)requester6; }
static inline size_t p4p_select_peers(const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t peer_size,
                                      const uint8_t *requester6, const uint8_t *info_hash, size_t amount, unsigned short rand48[3], char *reply) {
  (void)peers, (void)layout, (void)peer_count, (void)peer_size, (void)requester6, (void)info_hash, (void)amount, (void)rand48, (void)reply;
  return 0;
}
static inline size_t p4p_stats_render(char *reply, size_t cap) {
  (void)reply, (void)cap;
  return 0;
}
#define P4P_STATS_PROMETHEUS 1
#define P4P_STATS_DUMP       2
#define P4P_STATS_LARGE_CAP  8192
static inline size_t p4p_stats_render_large(int mode, char *reply, size_t cap) {
  (void)mode, (void)reply, (void)cap;
  return 0;
}
static inline void p4p_check_begin(void) {}
static inline int  p4p_check_only(void) { return 0; }
static inline void p4p_check_problem(const char *file, int lineno, const char *what) { (void)file, (void)lineno, (void)what; }
static inline int  p4p_check_finish(void) { return 0; }

#endif /* WANT_P4P */

#endif
