/* input.h - reading a whole input file (or standard input) into memory,
 * bounded: the one reader for snapshots, usage CSV, saved Prometheus answers,
 * policies and kubeconfigs.
 *
 * Inputs come from outside (files a user was given, pipes), so the size is
 * capped and text is checked as it arrives: a regular file larger than the
 * cap is refused before anything is read, a stream is refused as soon as it
 * passes the cap, and a NUL byte (never part of JSON, CSV, YAML or
 * Prometheus text) stops the read at once, so `inspect /dev/zero` fails in
 * the first 64 KiB instead of filling memory. */
#ifndef GF_INPUT_H
#define GF_INPUT_H

#include "model/err.h"
#include "util/sbuf.h"

#include <stddef.h>

/* The default cap: 1 GiB. A generated 30,000-node snapshot (gen-snapshot
 * --nodes 30000) is 337 MB compact, about 820 MB indented as kubectl prints
 * it (docs/testing.md). */
#define GF_INPUT_MAX_DEFAULT ((size_t)1 << 30)

/* The environment variable that overrides the cap, e.g. 4G, 512M, 100000. */
#define GF_INPUT_MAX_ENV "GPUFRAC_MAX_INPUT"

/* Parses a size: digits with an optional K, M, G or T suffix (binary
 * multiples, optionally followed by "i" and/or "B": 512M, 4GiB). GF_EUSAGE
 * naming what (e.g. the variable) otherwise, and for 0. */
gf_err gf_input_parse_size(const char *what, const char *text, size_t *out, gf_error *err);

/* The cap in force: GPUFRAC_MAX_INPUT when set (GF_EUSAGE when it does not
 * parse), else GF_INPUT_MAX_DEFAULT. */
gf_err gf_input_max_bytes(size_t *out, gf_error *err);

/* Reads path ("-": standard input, named "(stdin)" in messages) into out
 * (appended; out stays NUL-terminated). max: the cap in bytes; what names
 * the kind of input in messages ("snapshot", "policy"). GF_EIO when it
 * cannot be opened or read; GF_EINPUT naming the file when it is larger
 * than max or holds a NUL byte (with its offset). On failure out holds what
 * was read; the caller frees it either way. */
gf_err gf_input_read(const char *path, const char *what, size_t max, gf_sbuf *out, gf_error *err);

/* gf_input_read with the cap in force (gf_input_max_bytes). */
gf_err gf_input_read_capped(const char *path, const char *what, gf_sbuf *out, gf_error *err);

#endif
