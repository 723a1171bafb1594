/* p4p.h: the P4P module as opentracker sees it.
 *
 * This is the only header the patches in patches/ include.  Like an nginx
 * module, the P4P module joins the tracker at a few declared points:
 *
 *   config    p4p_config_line()        one "p4p.*" line of the config file
 *   startup   p4p_start(), p4p_stop()  load the configured files, or refuse
 *   reload    p4p_reload_request()     SIGHUP: new snapshot, or keep the old
 *   storage   p4p_peerlist_*()         arrange a swarm's peers by PID
 *   announce  p4p_note_announce(), p4p_select_peers()
 *   swarms    p4p_set_swarm_walker()   statistics of the heaviest swarms
 *   stats     p4p_stats_render()       /stats?mode=p4p
 *
 * Everything else (PID maps, guidance, formats, selection internals) is
 * private to p4p/.  Nothing here blocks, touches the network or takes a lock
 * on the announce path: data arrives as immutable snapshots swapped in by a
 * background thread. */
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

struct pidmap;

/* How one peer list is arranged.  map == NULL: upstream's own arrangement
 * (one sorted vector, or buckets by hash).  Otherwise the list is a bucket
 * array of groups * per_group sorted vectors: group g holds the peers that
 * `map` puts in PID slot g (0 = no PID), spread over per_group buckets by
 * address hash.  The list holds a reference on `map`, so a bucket can always
 * be recomputed with the map the list was laid out with, whatever reloads
 * happened since. */
struct p4p_layout {
  struct pidmap *map;
  uint16_t       groups;
  uint16_t       per_group;
};

/* --- configuration and lifecycle (main thread, before serving) --------- */

/* One config line starting with "p4p.".  0 when taken; -1 after printing
 * "file:line: reason" to stderr (the tracker must then refuse to start). */
int  p4p_config_line(const char *line, const char *file, int lineno);

/* Loads the configured files and starts the reload thread.  own_sighup: the
 * reload thread waits for SIGHUP itself (pass 0 when another thread already
 * does and calls p4p_reload_request()).  -1 after printing why. */
int  p4p_start(int own_sighup);
void p4p_reload_request(void);
void p4p_stop(void);

/* --- storage (under the torrent's bucket mutex) ------------------------- */

/* Brings a peer list to the layout the current snapshot wants: PID groups
 * when a PID map is loaded, upstream's own otherwise.  Returns 1 when the
 * list is (now) in a PID layout, 0 when upstream's rules apply to it.  On
 * allocation failure the list keeps its old, still consistent layout. */
int    p4p_peerlist_refresh(struct p4p_vector *peers, struct p4p_layout *layout, size_t peer_count, size_t peer_size);

/* Bucket index of a peer in a list with layout->map != NULL. */
size_t p4p_peer_bucket(const struct p4p_layout *layout, const uint8_t *peer, size_t compare_size);

/* Drops the list's map reference; called when the list is freed. */
void   p4p_peerlist_release(struct p4p_layout *layout);

/* --- announce ------------------------------------------------------------ */

/* Counts the announce for /stats (with or without a PID) and remembers the
 * requester's PID for this thread, so selection does not look it up again. */
void   p4p_note_announce(const uint8_t *requester6);

/* Writes `amount` peers of the list (never the requester, no duplicates)
 * into reply the way upstream does: compare_size bytes each, leechers from
 * the front, seeders from the back.  Requires amount < peer_count.  Returns
 * the bytes written, or 0 when P4P does not apply (no PID for the requester,
 * no guidance for the swarm): the caller then runs stock selection.
 * requester6: the announcing peer as upstream's ot_peer6 (address first). */
size_t p4p_select_peers(const struct p4p_vector *peers, const struct p4p_layout *layout, size_t peer_count, size_t peer_size,
                        const uint8_t *requester6, const uint8_t *info_hash, size_t amount, unsigned short rand48[3], char *reply);

/* --- swarm statistics for the providers ---------------------------------- */

/* The module reports per-PID statistics of the heaviest swarms to the
 * providers' guidance interface.  It reads them from its own thread through
 * a walker the tracker registers at startup: the walker visits every swarm
 * holding that swarm's bucket mutex, and the pointers it passes are valid
 * only during the call. */
typedef void (*p4p_swarm_visitor)(void *ctx, const uint8_t *info_hash, const struct p4p_vector *peers, const struct p4p_layout *layout,
                                  size_t peer_count, size_t seed_count, size_t peer_size);
typedef void (*p4p_swarm_walker)(p4p_swarm_visitor visit, void *ctx);
void p4p_set_swarm_walker(p4p_swarm_walker walk);

/* --- stats --------------------------------------------------------------- */

/* Writes the /stats?mode=p4p text into reply (at most cap bytes). */
size_t p4p_stats_render(char *reply, size_t cap);

#endif
