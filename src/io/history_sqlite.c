/* history_sqlite.c - gf_history <-> SQLite file, see history_sqlite.h. */
#include "io/history_sqlite.h"
#include "util/sbuf.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MINUTE_BYTES 20 /* max, sum (doubles), count (uint32) */

static const char *const schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value NOT NULL);"
    "CREATE TABLE series(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
    " last_change_t REAL NOT NULL, n_changes INTEGER NOT NULL, change_t BLOB NOT NULL,"
    " alloc_fraction REAL NOT NULL);"
    "CREATE TABLE track(series_id INTEGER NOT NULL, signal INTEGER NOT NULL,"
    " samples INTEGER NOT NULL, first_t REAL NOT NULL, last_t REAL NOT NULL,"
    " max_value REAL NOT NULL, max_t REAL NOT NULL, ref_t REAL NOT NULL,"
    " total_weight REAL NOT NULL, min_bucket INTEGER NOT NULL, max_bucket INTEGER NOT NULL,"
    " weights_lo INTEGER NOT NULL, weights BLOB NOT NULL, minute_head INTEGER NOT NULL,"
    " minute BLOB NOT NULL, hour_head INTEGER NOT NULL, hour_max BLOB NOT NULL,"
    " PRIMARY KEY(series_id, signal)) WITHOUT ROWID;";

/* ---- little-endian encoding ---- */

static void put_u64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t x;
    memcpy(&x, &d, 8);
    put_u64(p, x);
}

static double get_f64(const unsigned char *p)
{
    uint64_t x = get_u64(p);
    double d;
    memcpy(&d, &x, 8);
    return d;
}

static void put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++)
        x |= (uint32_t)p[i] << (8 * i);
    return x;
}

/* ---- errors ---- */

static gf_err sql_error(gf_error *err, gf_err code, const char *path, sqlite3 *db, const char *what)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    if (sys) return gf_error_set(err, code, path, "%s: %s (%s)", what, msg, strerror(sys));
    return gf_error_set(err, code, path, "%s: %s", what, msg);
}

/* ---- save ---- */

typedef struct saver {
    sqlite3 *db;
    sqlite3_stmt *meta, *series, *track;
    const char *path; /* the .tmp file, for messages */
} saver;

static int bind_meta_text(saver *sv, const char *key, const char *value)
{
    sqlite3_reset(sv->meta);
    sqlite3_bind_text(sv->meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(sv->meta, 2, value, -1, SQLITE_TRANSIENT);
    return sqlite3_step(sv->meta) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

static int bind_meta_num(saver *sv, const char *key, double value)
{
    sqlite3_reset(sv->meta);
    sqlite3_bind_text(sv->meta, 1, key, -1, SQLITE_STATIC);
    if (value == floor(value) && fabs(value) < 9e15)
        sqlite3_bind_int64(sv->meta, 2, (sqlite3_int64)value);
    else
        sqlite3_bind_double(sv->meta, 2, value);
    return sqlite3_step(sv->meta) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

static int save_meta(saver *sv, const gf_history *h)
{
    const gf_hist_layout *mem = gf_hist_layout_of(GF_SIG_MEMORY);
    const gf_hist_layout *sm = gf_hist_layout_of(GF_SIG_SM);
    int rc = SQLITE_OK;
    rc |= bind_meta_num(sv, "schema_version", GF_HISTORY_SCHEMA_VERSION);
    rc |= bind_meta_num(sv, "half_life_s", h->half_life_s);
    rc |= bind_meta_num(sv, "ratio", mem->ratio);
    rc |= bind_meta_num(sv, "memory_first_bucket", mem->first_bucket);
    rc |= bind_meta_num(sv, "memory_buckets", mem->n_buckets);
    rc |= bind_meta_num(sv, "sm_first_bucket", sm->first_bucket);
    rc |= bind_meta_num(sv, "sm_buckets", sm->n_buckets);
    for (int sig = GF_SIG_KV; sig < GF_HIST_NSIGNALS; sig++) {
        const gf_hist_layout *l = gf_hist_layout_of((gf_hist_signal)sig);
        char key[64];
        snprintf(key, sizeof key, "%s_first_bucket", gf_hist_signal_name((gf_hist_signal)sig));
        rc |= bind_meta_num(sv, key, l->first_bucket);
        snprintf(key, sizeof key, "%s_buckets", gf_hist_signal_name((gf_hist_signal)sig));
        rc |= bind_meta_num(sv, key, l->n_buckets);
    }
    rc |= bind_meta_num(sv, "minute_slots", GF_HIST_MINUTE_SLOTS);
    rc |= bind_meta_num(sv, "hour_slots", GF_HIST_HOUR_SLOTS);
    rc |= bind_meta_num(sv, "change_slots", GF_HIST_CHANGE_SLOTS);
    rc |= bind_meta_num(sv, "series_count", (double)gf_history_count(h));
    rc |= bind_meta_text(sv, "writer", "gpufrac");
    return rc;
}

/* A track as gf_history_get() makes it: never a sample, nothing decayed. */
static bool pristine(const gf_hist_track *tr)
{
    return tr->samples == 0 && tr->total_weight == 0 && tr->ref_t == 0 && tr->minute_head == -1 &&
           tr->hour_head == -1;
}

static int save_series(saver *sv, size_t id, const gf_hist_series *s, unsigned char *buf)
{
    sqlite3_stmt *st = sv->series;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    sqlite3_bind_text(st, 2, s->key, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, s->last_change_t);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)s->n_changes);
    for (int i = 0; i < GF_HIST_CHANGE_SLOTS; i++)
        put_f64(buf + 8 * i, s->change_t[i]);
    sqlite3_bind_blob(st, 5, buf, 8 * GF_HIST_CHANGE_SLOTS, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 6, s->alloc_fraction);
    if (sqlite3_step(st) != SQLITE_DONE) return SQLITE_ERROR;

    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++) {
        const gf_hist_track *tr = &s->track[sig];
        const double *w = gf_hist_weights_const(s, (gf_hist_signal)sig);
        uint32_t n = gf_hist_layout_of((gf_hist_signal)sig)->n_buckets;
        /* most workloads run no inference engine: an engine track that never
         * had a sample is not written (it loads as new) */
        if (sig >= GF_SIG_KV && pristine(tr)) continue;
        st = sv->track;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        sqlite3_bind_int(st, 2, sig);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)tr->samples);
        sqlite3_bind_double(st, 4, tr->first_t);
        sqlite3_bind_double(st, 5, tr->last_t);
        sqlite3_bind_double(st, 6, tr->max_value);
        sqlite3_bind_double(st, 7, tr->max_t);
        sqlite3_bind_double(st, 8, tr->ref_t);
        sqlite3_bind_double(st, 9, tr->total_weight);
        sqlite3_bind_int64(st, 10, tr->min_bucket);
        sqlite3_bind_int64(st, 11, tr->max_bucket);
        uint32_t lo = 0, hi = 0; /* non-zero weights are in [lo, hi) */
        while (lo < n && w[lo] == 0.0)
            lo++;
        for (uint32_t b = lo; b < n; b++)
            if (w[b] != 0.0) hi = b + 1;
        if (lo == n) lo = 0;
        for (uint32_t b = lo; b < hi; b++)
            put_f64(buf + 8 * (b - lo), w[b]);
        sqlite3_bind_int64(st, 12, lo);
        sqlite3_bind_blob(st, 13, buf, (int)(8 * (hi - lo)), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 14, tr->minute_head);
        unsigned char *m = buf + 8 * GF_HIST_MAX_BUCKETS;
        for (int i = 0; i < GF_HIST_MINUTE_SLOTS; i++) {
            put_f64(m + MINUTE_BYTES * i, tr->minute[i].max);
            put_f64(m + MINUTE_BYTES * i + 8, tr->minute[i].sum);
            put_u32(m + MINUTE_BYTES * i + 16, tr->minute[i].count);
        }
        sqlite3_bind_blob(st, 15, m, MINUTE_BYTES * GF_HIST_MINUTE_SLOTS, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 16, tr->hour_head);
        unsigned char *hr = m + MINUTE_BYTES * GF_HIST_MINUTE_SLOTS;
        for (int i = 0; i < GF_HIST_HOUR_SLOTS; i++)
            put_f64(hr + 8 * i, tr->hour_max[i]);
        sqlite3_bind_blob(st, 17, hr, 8 * GF_HIST_HOUR_SLOTS, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

/* fsync a file or directory by path; 0 or errno */
static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0) return errno;
    int rc = fsync(fd) ? errno : 0;
    close(fd);
    return rc;
}

gf_err gf_history_save(const gf_history *h, const char *path, gf_error *err)
{
    gf_sbuf tmp = GF_SBUF_INIT;
    gf_sbuf_printf(&tmp, "%s.tmp", path);
    const char *tmp_path = gf_sbuf_str(&tmp);
    gf_err rc = GF_OK;
    saver sv = {NULL, NULL, NULL, NULL, tmp_path};
    unsigned char *buf = gf_xmalloc(8 * GF_HIST_MAX_BUCKETS + MINUTE_BYTES * GF_HIST_MINUTE_SLOTS +
                                    8 * GF_HIST_HOUR_SLOTS);

    if (unlink(tmp_path) != 0 && errno != ENOENT) {
        rc = gf_error_set(err, GF_EIO, tmp_path, "cannot remove stale file: %s", strerror(errno));
        goto out;
    }
    if (sqlite3_open_v2(tmp_path, &sv.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot create");
        goto fail;
    }
    /* the file is renamed into place only once complete, so no journal is
     * needed; it is synced explicitly before the rename */
    if (sqlite3_exec(sv.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(sv.db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot write");
        goto fail;
    }
    if (sqlite3_prepare_v2(sv.db, "INSERT INTO meta(key, value) VALUES(?, ?)", -1, &sv.meta,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sv.db, "INSERT INTO series VALUES(?, ?, ?, ?, ?, ?)", -1, &sv.series,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sv.db,
                           "INSERT INTO track VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?)",
                           -1, &sv.track, NULL) != SQLITE_OK ||
        save_meta(&sv, h) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot write");
        goto fail;
    }
    for (size_t i = 0; i < gf_history_count(h); i++) {
        if (save_series(&sv, i, gf_history_at(h, i), buf) != SQLITE_OK) {
            rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot write");
            goto fail;
        }
    }
    if (sqlite3_exec(sv.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot commit");
        goto fail;
    }
    sqlite3_finalize(sv.meta);
    sqlite3_finalize(sv.series);
    sqlite3_finalize(sv.track);
    sv.meta = sv.series = sv.track = NULL;
    if (sqlite3_close(sv.db) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, tmp_path, sv.db, "cannot close");
        goto fail;
    }
    sv.db = NULL;
    int e = sync_path(tmp_path, O_RDONLY);
    if (e) {
        rc = gf_error_set(err, GF_EIO, tmp_path, "cannot sync: %s", strerror(e));
        goto fail;
    }
    if (rename(tmp_path, path) != 0) {
        rc = gf_error_set(err, GF_EIO, path, "cannot rename %s over it: %s", tmp_path,
                          strerror(errno));
        goto fail;
    }
    /* make the rename itself durable; a directory that cannot be opened
     * (unusual permissions) still has the file in place */
    gf_sbuf dir = GF_SBUF_INIT;
    const char *slash = strrchr(path, '/');
    if (slash)
        gf_sbuf_append(&dir, path, slash == path ? 1 : (size_t)(slash - path));
    else
        gf_sbuf_puts(&dir, ".");
    (void)sync_path(gf_sbuf_str(&dir), O_RDONLY | O_DIRECTORY);
    gf_sbuf_free(&dir);
    goto out;

fail:
    sqlite3_finalize(sv.meta);
    sqlite3_finalize(sv.series);
    sqlite3_finalize(sv.track);
    sqlite3_close(sv.db);
    unlink(tmp_path);
out:
    free(buf);
    gf_sbuf_free(&tmp);
    return rc;
}

/* ---- load ---- */

typedef struct loader {
    sqlite3 *db;
    const char *path;
    gf_error *err;
} loader;

/* A column that must be a number (integer or real). */
static gf_err col_num(loader *ld, sqlite3_stmt *st, int col, const char *what, double *out)
{
    int type = sqlite3_column_type(st, col);
    if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
        return gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s is not a number", what,
                            sqlite3_column_name(st, col));
    *out = sqlite3_column_double(st, col);
    return GF_OK;
}

static gf_err col_int(loader *ld, sqlite3_stmt *st, int col, const char *what, int64_t lo,
                      int64_t hi, int64_t *out)
{
    if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
        return gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s is not an integer", what,
                            sqlite3_column_name(st, col));
    int64_t v = sqlite3_column_int64(st, col);
    if (v < lo || v > hi)
        return gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s %lld is out of range", what,
                            sqlite3_column_name(st, col), (long long)v);
    *out = v;
    return GF_OK;
}

/* A BLOB column of exactly want bytes (want < 0: any length, *n set). */
static gf_err col_blob(loader *ld, sqlite3_stmt *st, int col, const char *what, int want,
                       const unsigned char **p, int *n)
{
    int type = sqlite3_column_type(st, col);
    if (type != SQLITE_BLOB)
        return gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s is not a BLOB", what,
                            sqlite3_column_name(st, col));
    *p = sqlite3_column_blob(st, col);
    int len = sqlite3_column_bytes(st, col);
    if ((want >= 0 && len != want) || (len > 0 && !*p))
        return gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s holds %d bytes, expected %d",
                            what, sqlite3_column_name(st, col), len, want);
    if (n) *n = len;
    return GF_OK;
}

static gf_err step_error(loader *ld, const char *what)
{
    return sql_error(ld->err, GF_EIO, ld->path, ld->db, what);
}

/* Reads meta into checks against this build's layout and h's half-life;
 * *nsignals is the number of tracks per series the file's version holds. */
static gf_err load_meta(loader *ld, const gf_history *h, int64_t *series_count, int *nsignals)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ld->db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK) {
        gf_err rc = sql_error(ld->err, GF_EIO, ld->path, ld->db, "not a gpufrac history file");
        sqlite3_finalize(st);
        return rc;
    }
    enum {
        VERSION,
        HALF_LIFE,
        RATIO,
        MEM_FIRST,
        MEM_N,
        SM_FIRST,
        SM_N,
        MIN_SLOTS,
        HOUR_SLOTS,
        CHANGE_SLOTS,
        COUNT,
        /* version 2: the engine signals' layouts */
        KV_FIRST,
        KV_N,
        WAITING_FIRST,
        WAITING_N,
        PREEMPT_FIRST,
        PREEMPT_N,
        NKEYS
    };
    static const char *const names[NKEYS] = {
        "schema_version", "half_life_s",          "ratio",           "memory_first_bucket",
        "memory_buckets", "sm_first_bucket",      "sm_buckets",      "minute_slots",
        "hour_slots",     "change_slots",         "series_count",    "kv_first_bucket",
        "kv_buckets",     "waiting_first_bucket", "waiting_buckets", "preempt_first_bucket",
        "preempt_buckets"};
    double v[NKEYS];
    bool seen[NKEYS] = {false};
    int step;
    gf_err rc = GF_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; key && i < NKEYS; i++) {
            if (strcmp(key, names[i]) != 0) continue;
            char what[64];
            snprintf(what, sizeof what, "meta %s", names[i]);
            if ((rc = col_num(ld, st, 1, what, &v[i]))) goto out;
            seen[i] = true;
        }
    }
    if (step != SQLITE_DONE) {
        rc = step_error(ld, "cannot read meta");
        goto out;
    }
    if (!seen[VERSION]) {
        rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                          "not a gpufrac history file: meta has no schema_version");
        goto out;
    }
    if (v[VERSION] > GF_HISTORY_SCHEMA_VERSION) {
        rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                          "history schema version %g is newer than this gpufrac supports (%d)",
                          v[VERSION], GF_HISTORY_SCHEMA_VERSION);
        goto out;
    }
    /* version 1 (memory and sm only) is read with empty engine tracks */
    if (v[VERSION] != GF_HISTORY_SCHEMA_VERSION && v[VERSION] != 1) {
        rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                          "history schema version %g is not supported (this gpufrac reads 1 to %d)",
                          v[VERSION], GF_HISTORY_SCHEMA_VERSION);
        goto out;
    }
    int nkeys = v[VERSION] == 1 ? KV_FIRST : NKEYS;
    *nsignals = v[VERSION] == 1 ? GF_HIST_NSIGNALS_V1 : GF_HIST_NSIGNALS;
    for (int i = 0; i < nkeys; i++) {
        if (!seen[i]) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path, "meta has no %s", names[i]);
            goto out;
        }
    }
    const gf_hist_layout *mem = gf_hist_layout_of(GF_SIG_MEMORY);
    const gf_hist_layout *sm = gf_hist_layout_of(GF_SIG_SM);
    const gf_hist_layout *kv = gf_hist_layout_of(GF_SIG_KV);
    const gf_hist_layout *wt = gf_hist_layout_of(GF_SIG_WAITING);
    const gf_hist_layout *pr = gf_hist_layout_of(GF_SIG_PREEMPT);
    const double want[NKEYS] = {[RATIO] = mem->ratio,
                                [MEM_FIRST] = mem->first_bucket,
                                [MEM_N] = mem->n_buckets,
                                [SM_FIRST] = sm->first_bucket,
                                [SM_N] = sm->n_buckets,
                                [MIN_SLOTS] = GF_HIST_MINUTE_SLOTS,
                                [HOUR_SLOTS] = GF_HIST_HOUR_SLOTS,
                                [CHANGE_SLOTS] = GF_HIST_CHANGE_SLOTS,
                                [KV_FIRST] = kv->first_bucket,
                                [KV_N] = kv->n_buckets,
                                [WAITING_FIRST] = wt->first_bucket,
                                [WAITING_N] = wt->n_buckets,
                                [PREEMPT_FIRST] = pr->first_bucket,
                                [PREEMPT_N] = pr->n_buckets};
    for (int i = RATIO; i < nkeys; i++) {
        if (i == COUNT) continue;
        if (v[i] != want[i]) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                              "history layout differs: %s is %.17g in the file, %.17g in this "
                              "gpufrac (a changed layout cannot reuse saved weights)",
                              names[i], v[i], want[i]);
            goto out;
        }
    }
    if (v[HALF_LIFE] != h->half_life_s) {
        rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                          "history layout differs: saved with a half-life of %g s, this history "
                          "uses %g s",
                          v[HALF_LIFE], h->half_life_s);
        goto out;
    }
    if (!(v[COUNT] >= 0 && v[COUNT] <= 1e12 && v[COUNT] == floor(v[COUNT]))) {
        rc =
            gf_error_set(ld->err, GF_EINPUT, ld->path, "meta series_count %g is invalid", v[COUNT]);
        goto out;
    }
    *series_count = (int64_t)v[COUNT];
out:
    sqlite3_finalize(st);
    return rc;
}

static gf_err load_track(loader *ld, sqlite3_stmt *st, gf_hist_series *s, gf_hist_signal sig,
                         const char *what)
{
    gf_hist_track *tr = &s->track[sig];
    uint32_t n = gf_hist_layout_of(sig)->n_buckets;
    double *w = gf_hist_weights(s, sig);
    int64_t i64 = 0;
    gf_err rc;
    if ((rc = col_int(ld, st, 0, what, 0, INT64_MAX, &i64))) return rc;
    tr->samples = (uint64_t)i64;
    if ((rc = col_num(ld, st, 1, what, &tr->first_t)) ||
        (rc = col_num(ld, st, 2, what, &tr->last_t)) ||
        (rc = col_num(ld, st, 3, what, &tr->max_value)) ||
        (rc = col_num(ld, st, 4, what, &tr->max_t)) ||
        (rc = col_num(ld, st, 5, what, &tr->ref_t)) ||
        (rc = col_num(ld, st, 6, what, &tr->total_weight)))
        return rc;
    if ((rc = col_int(ld, st, 7, what, 0, n - 1, &i64))) return rc;
    tr->min_bucket = (uint32_t)i64;
    if ((rc = col_int(ld, st, 8, what, 0, n - 1, &i64))) return rc;
    tr->max_bucket = (uint32_t)i64;
    int64_t lo = 0;
    if ((rc = col_int(ld, st, 9, what, 0, n, &lo))) return rc;
    const unsigned char *p;
    int len;
    if ((rc = col_blob(ld, st, 10, what, -1, &p, &len))) return rc;
    if (len % 8 != 0 || (int64_t)(len / 8) > (int64_t)n - lo)
        return gf_error_set(ld->err, GF_EINPUT, ld->path,
                            "%s: weights hold %d bytes, not a whole number of buckets from %lld "
                            "to %u",
                            what, len, (long long)lo, n);
    memset(w, 0, n * sizeof *w);
    for (int b = 0; b < len / 8; b++)
        w[lo + b] = get_f64(p + 8 * b);
    if ((rc = col_int(ld, st, 11, what, -1, (int64_t)(GF_HIST_MAX_T / 60) + 1, &tr->minute_head)))
        return rc;
    if ((rc = col_blob(ld, st, 12, what, MINUTE_BYTES * GF_HIST_MINUTE_SLOTS, &p, NULL))) return rc;
    for (int i = 0; i < GF_HIST_MINUTE_SLOTS; i++) {
        tr->minute[i].max = get_f64(p + MINUTE_BYTES * i);
        tr->minute[i].sum = get_f64(p + MINUTE_BYTES * i + 8);
        tr->minute[i].count = get_u32(p + MINUTE_BYTES * i + 16);
    }
    if ((rc = col_int(ld, st, 13, what, -1, (int64_t)(GF_HIST_MAX_T / 3600) + 1, &tr->hour_head)))
        return rc;
    if ((rc = col_blob(ld, st, 14, what, 8 * GF_HIST_HOUR_SLOTS, &p, NULL))) return rc;
    for (int i = 0; i < GF_HIST_HOUR_SLOTS; i++)
        tr->hour_max[i] = get_f64(p + 8 * i);
    return GF_OK;
}

static gf_err load_series(loader *ld, gf_history *tmp, int nsignals, int64_t *loaded)
{
    sqlite3_stmt *ss = NULL, *ts = NULL;
    gf_err rc = GF_OK;
    if (sqlite3_prepare_v2(ld->db,
                           "SELECT id, key, last_change_t, n_changes, change_t, alloc_fraction "
                           "FROM series ORDER BY id",
                           -1, &ss, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ld->db,
                           "SELECT samples, first_t, last_t, max_value, max_t, ref_t, "
                           "total_weight, min_bucket, max_bucket, weights_lo, weights, "
                           "minute_head, minute, hour_head, hour_max, signal FROM track "
                           "WHERE series_id = ? ORDER BY signal",
                           -1, &ts, NULL) != SQLITE_OK) {
        rc = sql_error(ld->err, GF_EIO, ld->path, ld->db, "not a gpufrac history file");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(ss)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(ss, 1);
        if (!key) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path, "series row %lld has no key",
                              (long long)*loaded);
            goto out;
        }
        char what[300];
        snprintf(what, sizeof what, "series '%.250s'", key);
        size_t before = gf_history_count(tmp);
        gf_hist_series *s = gf_history_get(tmp, key, true);
        if (gf_history_count(tmp) == before) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path, "%s appears twice", what);
            goto out;
        }
        int64_t n_changes = 0;
        const unsigned char *p;
        if ((rc = col_num(ld, ss, 2, what, &s->last_change_t)) ||
            (rc = col_int(ld, ss, 3, what, 0, INT64_MAX, &n_changes)) ||
            (rc = col_blob(ld, ss, 4, what, 8 * GF_HIST_CHANGE_SLOTS, &p, NULL)) ||
            (rc = col_num(ld, ss, 5, what, &s->alloc_fraction)))
            goto out;
        s->n_changes = (uint64_t)n_changes;
        for (int i = 0; i < GF_HIST_CHANGE_SLOTS; i++)
            s->change_t[i] = get_f64(p + 8 * i);

        sqlite3_reset(ts);
        sqlite3_bind_int64(ts, 1, sqlite3_column_int64(ss, 0));
        int sig = 0;
        while ((step = sqlite3_step(ts)) == SQLITE_ROW) {
            /* engine tracks without samples are not saved: skip to the next one held */
            int64_t row_sig = sqlite3_column_int64(ts, 15);
            if (sig >= GF_SIG_KV && row_sig > sig && row_sig < nsignals) sig = (int)row_sig;
            if (sig >= nsignals || row_sig != sig) {
                rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                                  "%s: unexpected track for signal %lld", what,
                                  (long long)sqlite3_column_int64(ts, 15));
                goto out;
            }
            char twhat[340];
            snprintf(twhat, sizeof twhat, "%s %s", what, gf_hist_signal_name((gf_hist_signal)sig));
            if ((rc = load_track(ld, ts, s, (gf_hist_signal)sig, twhat))) goto out;
            sig++;
        }
        if (step != SQLITE_DONE) {
            rc = step_error(ld, "cannot read track");
            goto out;
        }
        if (sig < GF_HIST_NSIGNALS_V1) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path,
                              "%s has %d of the %d signal tracks every series has (memory, sm)",
                              what, sig, GF_HIST_NSIGNALS_V1);
            goto out;
        }
        gf_error cerr = {0};
        if (gf_hist_series_check(tmp, s, &cerr) != GF_OK) {
            rc = gf_error_set(ld->err, GF_EINPUT, ld->path, "%s: %s", what, cerr.msg);
            goto out;
        }
        (*loaded)++;
    }
    if (step != SQLITE_DONE) rc = step_error(ld, "cannot read series");
out:
    sqlite3_finalize(ss);
    sqlite3_finalize(ts);
    return rc;
}

/* The database size an SQLite header declares (page size times the
 * in-header page count, when the header marks that count valid), else -1.
 * SQLite reads pages past the end of a cut-short file as zeros, so this is
 * how a truncated copy is told apart (sqlite.org/fileformat.html, 1.3). */
static long long declared_size(const char *path)
{
    unsigned char hdr[100];
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    if (n != sizeof hdr || memcmp(hdr, "SQLite format 3", 16) != 0) return -1;
    unsigned page = (unsigned)hdr[16] << 8 | hdr[17];
    if (page == 1) page = 65536;
    unsigned long pages = (unsigned long)hdr[28] << 24 | (unsigned long)hdr[29] << 16 |
                          (unsigned long)hdr[30] << 8 | hdr[31];
    if (memcmp(hdr + 24, hdr + 92, 4) != 0 || pages == 0) return -1; /* count not valid */
    return (long long)page * (long long)pages;
}

gf_err gf_history_load(gf_history *h, const char *path, gf_error *err)
{
    struct stat stbuf;
    if (stat(path, &stbuf) != 0)
        return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    if (!S_ISREG(stbuf.st_mode))
        return gf_error_set(err, GF_EIO, path, "cannot open: not a regular file");

    long long declared = declared_size(path);
    if (declared > (long long)stbuf.st_size)
        return gf_error_set(err, GF_EIO, path,
                            "file is truncated: %lld bytes, the database needs %lld",
                            (long long)stbuf.st_size, declared);

    loader ld = {NULL, path, err};
    gf_history tmp;
    gf_history_opts opts = {h->half_life_s};
    gf_err rc = gf_history_init(&tmp, &opts, err);
    if (rc) goto out;
    if (sqlite3_open_v2(path, &ld.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, path, ld.db, "cannot open");
        goto out;
    }
    /* whole-file structure check first: truncated or damaged pages show here
     * even when the rows this code reads happen to survive */
    sqlite3_stmt *qc = NULL;
    if (sqlite3_prepare_v2(ld.db, "PRAGMA quick_check(1)", -1, &qc, NULL) != SQLITE_OK) {
        rc = sql_error(err, GF_EIO, path, ld.db, "cannot read");
        sqlite3_finalize(qc);
        goto out;
    }
    int step = sqlite3_step(qc);
    if (step != SQLITE_ROW) {
        rc = sql_error(err, GF_EIO, path, ld.db, "cannot read");
        sqlite3_finalize(qc);
        goto out;
    }
    const char *verdict = (const char *)sqlite3_column_text(qc, 0);
    if (!verdict || strcmp(verdict, "ok") != 0) {
        rc = gf_error_set(err, GF_EIO, path, "database is corrupt: %s",
                          verdict ? verdict : "(no detail)");
        sqlite3_finalize(qc);
        goto out;
    }
    sqlite3_finalize(qc);

    int64_t want = 0, loaded = 0;
    int nsignals = GF_HIST_NSIGNALS;
    if ((rc = load_meta(&ld, &tmp, &want, &nsignals))) goto out;
    if ((rc = load_series(&ld, &tmp, nsignals, &loaded))) goto out;
    if (loaded != want) {
        rc = gf_error_set(err, GF_EINPUT, path, "holds %lld series, meta says %lld",
                          (long long)loaded, (long long)want);
        goto out;
    }
    gf_history old = *h;
    *h = tmp;
    gf_history_free(&old);
    sqlite3_close(ld.db);
    return GF_OK;
out:
    sqlite3_close(ld.db);
    gf_history_free(&tmp);
    return rc;
}
