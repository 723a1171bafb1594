/* loader: builds a snapshot from the configured files.
 *
 * Runs off the announce path (startup, reload thread).  Either every file
 * parses and resolves and a complete snapshot comes back, or nothing does
 * and err says which file, which line and why. */
#ifndef P4P_LOADER_H
#define P4P_LOADER_H

#include <stddef.h>

struct p4p_config;
struct p4p_state;

#define LOADER_MAX_FILE_BYTES (64u << 20)

struct p4p_state *loader_build(const struct p4p_config *cfg, char *err, size_t errlen);

#endif
