/* file: read a whole file into memory, capped.
 *
 * The one file reader of the project: XML documents (PID maps, guidance),
 * provider files, PEM files and data files all come through here, so every
 * reader refuses directories and oversized files the same way and says so
 * in the caller's error buffer. */
#ifndef PROTO_FILE_H
#define PROTO_FILE_H

#include <stddef.h>

/* Read a whole file into a malloc'd NUL-terminated buffer (*len = bytes
 * read, without the NUL); refuses directories and files over max_bytes.
 * 0, or -1 with err = "<path>: <reason>" and *buf = NULL. */
int proto_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, char *err, size_t errlen);

#endif
