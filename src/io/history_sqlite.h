/* history_sqlite.h - saving and loading a gf_history as an SQLite file.
 *
 * Schema (version 2):
 *   meta(key TEXT PRIMARY KEY, value)  schema_version, half_life_s, ratio,
 *       memory_first_bucket, memory_buckets, sm_first_bucket, sm_buckets,
 *       minute_slots, hour_slots, change_slots, series_count,
 *       kv_first_bucket, kv_buckets, waiting_first_bucket, waiting_buckets,
 *       preempt_first_bucket, preempt_buckets
 *   series(id, key, last_change_t, n_changes, change_t BLOB, alloc_fraction)
 *       id = position in insertion order
 *   track(series_id, signal, samples, first_t, last_t, max_value, max_t,
 *         ref_t, total_weight, min_bucket, max_bucket,
 *         weights_lo, weights BLOB, minute_head, minute BLOB, hour_head, hour_max BLOB)
 *       one row per series and signal (0 memory, 1 sm, 2 kv, 3 waiting,
 *       4 preempt: decide/history.h gf_hist_signal); an engine signal's
 *       row (2..4) only when its track ever had a sample
 * Version 1 (gpufrac before the engine signals) has no engine layouts in
 * meta and two tracks per series (memory, sm); it is still read, with the
 * engine tracks empty. Saving always writes the current version.
 * BLOBs are little-endian: doubles (8 bytes) and, in minute, per slot
 * max, sum (doubles) and count (uint32). weights holds buckets weights_lo ..
 * the last non-zero one; the rest are 0.
 *
 * Like VPA's checkpoints, saved weights are only meaningful with the same
 * bucket layout and half-life, so a file with another layout is refused. */
#ifndef GF_HISTORY_SQLITE_H
#define GF_HISTORY_SQLITE_H

#include "model/err.h"
#include "decide/history.h"

#define GF_HISTORY_SCHEMA_VERSION 2

/* Writes every series in one transaction to PATH.tmp, syncs it, then renames
 * it over path, so a crash mid-save leaves the old file whole. GF_EIO naming
 * the file and SQLite's (or the system's) message; PATH.tmp is removed on
 * failure. */
gf_err gf_history_save(const gf_history *h, const char *path, gf_error *err);

/* Replaces h's series with those in path (h's half-life must match the
 * file's). GF_EIO when the file cannot be opened or read (missing, not an
 * SQLite database, corrupt, truncated); GF_EINPUT when it is a newer schema
 * version, has another layout or holds out-of-range values. On any error h
 * is left unchanged. */
gf_err gf_history_load(gf_history *h, const char *path, gf_error *err);

#endif
