/* test_history.c - usage history (decide/history.c) and its SQLite file
 * (io/history_sqlite.c). Expected percentiles are worked out by hand from
 * VPA's bucket formula: bucket n starts at first*(1.05^n - 1)/0.05. */
#include "testutil.h"
#include "decide/history.h"
#include "io/history_sqlite.h"

#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB 1048576.0
#define HOUR 3600.0
#define DAY 86400.0
/* an hour boundary near 2023-11-14 */
#define T0 (472222.0 * HOUR)

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static void assert_close(double got, double want)
{
    double tol = 1e-9 * fmax(1.0, fabs(want));
    if (fabs(got - want) > tol) fail_msg("got %.17g, want %.17g", got, want);
}

static void init_default(gf_history *h)
{
    gf_error err = {0};
    assert_int_equal(gf_history_init(h, NULL, &err), GF_OK);
}

static void init_half_life(gf_history *h, double half_life_s)
{
    gf_error err = {0};
    gf_history_opts o = {half_life_s};
    assert_int_equal(gf_history_init(h, &o, &err), GF_OK);
}

static void add_ok(gf_history *h, const char *key, gf_hist_signal sig, double t, double v)
{
    gf_error err = {0};
    gf_err rc = gf_history_add(h, key, sig, t, v, &err);
    if (rc != GF_OK) fail_msg("add %s %g at %g: %s: %s", key, v, t, err.where, err.msg);
}

static double pct(const gf_hist_series *s, gf_hist_signal sig, double p)
{
    double out = -1;
    gf_error err = {0};
    assert_int_equal(gf_hist_percentile(s, sig, p, &out, &err), GF_OK);
    return out;
}

static double peak(const gf_hist_series *s, gf_hist_signal sig, double now, double w)
{
    double out = -1;
    gf_error err = {0};
    gf_err rc = gf_hist_peak(s, sig, now, w, &out, &err);
    if (rc != GF_OK) fail_msg("peak(%g, %g): %d %s", now, w, rc, err.msg);
    return out;
}

static double mean(const gf_hist_series *s, gf_hist_signal sig, double now, double w)
{
    double out = -1;
    gf_error err = {0};
    gf_err rc = gf_hist_mean(s, sig, now, w, &out, &err);
    if (rc != GF_OK) fail_msg("mean(%g, %g): %d %s", now, w, rc, err.msg);
    return out;
}

/* ---- layout and percentiles ---- */

static void test_layout_matches_vpa_formula(void **state)
{
    (void)state;
    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++) {
        const gf_hist_layout *l = gf_hist_layout_of((gf_hist_signal)sig);
        /* VPA NewExponentialHistogramOptions */
        double n =
            ceil(log(l->max_value * (l->ratio - 1) / l->first_bucket + 1) / log(l->ratio)) + 1;
        assert_int_equal(l->n_buckets, (uint32_t)n);
        assert_true(gf_hist_bucket_start((gf_hist_signal)sig, l->n_buckets - 1) >= l->max_value);
    }
    assert_int_equal(gf_hist_layout_of(GF_SIG_MEMORY)->n_buckets, 224);
    assert_int_equal(gf_hist_layout_of(GF_SIG_SM)->n_buckets, 167);
    assert_int_equal(gf_hist_layout_of(GF_SIG_KV)->n_buckets, 82);
    assert_int_equal(gf_hist_layout_of(GF_SIG_WAITING)->n_buckets, 223);
    assert_int_equal(gf_hist_layout_of(GF_SIG_PREEMPT)->n_buckets, 223);
    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++)
        assert_true(gf_hist_layout_of((gf_hist_signal)sig)->n_buckets <= GF_HIST_MAX_BUCKETS);
    assert_null(gf_hist_layout_of((gf_hist_signal)7));
    /* bucket 1 starts where bucket 0 (first wide) ends; bucket 2 is 5% wider */
    assert_close(gf_hist_bucket_start(GF_SIG_MEMORY, 1), MIB);
    assert_close(gf_hist_bucket_start(GF_SIG_MEMORY, 2), MIB + 1.05 * MIB);
}

static void test_percentile_memory_hand(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    /* nine samples of 100 MiB and one of 1 GiB, all at once (equal weights).
     * 100 MiB: 100*0.05+1 = 6, log(6)/log(1.05) = 36.7 -> bucket 36, upper
     * edge (1.05^37-1)/0.05 MiB = 101.628 MiB. 1 GiB: bucket 81, edge
     * 1072.83 MiB. */
    for (int i = 0; i < 9; i++)
        add_ok(&h, "a", GF_SIG_MEMORY, T0 + i, 100 * MIB);
    add_ok(&h, "a", GF_SIG_MEMORY, T0 + 9, 1024 * MIB);
    /* weights differ by 2^(9 s / 24 h), so use a tiny spread in time only */
    const gf_hist_series *s = gf_history_find(&h, "a");
    assert_non_null(s);
    assert_close(pct(s, GF_SIG_MEMORY, 0.5), 106564827.3284496);
    assert_close(pct(s, GF_SIG_MEMORY, 0.89), 106564827.3284496);
    assert_close(pct(s, GF_SIG_MEMORY, 0.95), 1124943554.6997273);
    assert_close(pct(s, GF_SIG_MEMORY, 1.0), 1124943554.6997273);
    assert_close(pct(s, GF_SIG_MEMORY, 0.0), 106564827.3284496);
    assert_int_equal(s->track[GF_SIG_MEMORY].samples, 10);
    gf_history_free(&h);
}

static void test_percentile_sm_hand(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    /* 0.25 -> bucket 53, 0.5 -> 66, 0.75 -> 74, 1.0 -> 80 (first 0.001) */
    const double v[] = {0.25, 0.5, 0.75, 1.0};
    for (int i = 0; i < 4; i++)
        add_ok(&h, "a", GF_SIG_SM, T0, v[i]);
    const gf_hist_series *s = gf_history_find(&h, "a");
    assert_close(pct(s, GF_SIG_SM, 0.25), 0.2587739222166457);
    assert_close(pct(s, GF_SIG_SM, 0.5), 0.5056698073299026);
    assert_close(pct(s, GF_SIG_SM, 0.51), 0.7566537184751126);
    assert_close(pct(s, GF_SIG_SM, 0.9), 1.0207902624036946);
    /* memory was never sampled */
    double out = 7;
    gf_error err = {0};
    assert_int_equal(gf_hist_percentile(s, GF_SIG_MEMORY, 0.9, &out, &err), GF_ENOTFOUND);
    assert_true(out == 0.0);
    gf_history_free(&h);
}

static void test_percentile_edges(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    add_ok(&h, "zero", GF_SIG_MEMORY, T0, 0.0);
    add_ok(&h, "huge", GF_SIG_MEMORY, T0, 1125899906842624.0); /* 2^50, above the last start */
    add_ok(&h, "huge", GF_SIG_SM, T0, 64.0);
    /* bucket 0's upper edge is the first bucket size */
    assert_close(pct(gf_history_find(&h, "zero"), GF_SIG_MEMORY, 0.9), MIB);
    /* the last bucket has no upper edge: its start */
    assert_close(pct(gf_history_find(&h, "huge"), GF_SIG_MEMORY, 0.9), 1113872353720.123);
    assert_close(pct(gf_history_find(&h, "huge"), GF_SIG_SM, 0.5), 65.81451511972045);
    double out;
    gf_error err = {0};
    const gf_hist_series *s = gf_history_find(&h, "zero");
    assert_int_equal(gf_hist_percentile(s, GF_SIG_MEMORY, 1.5, &out, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "1.5"));
    assert_string_equal(err.where, "zero");
    assert_int_equal(gf_hist_percentile(s, GF_SIG_MEMORY, NAN, &out, &err), GF_EINPUT);
    assert_int_equal(gf_hist_percentile(s, (gf_hist_signal)5, 0.5, &out, &err), GF_EINPUT);
    gf_history_free(&h);
}

/* ---- decay ---- */

static void test_decay_half_life(void **state)
{
    (void)state;
    gf_history h;
    init_half_life(&h, HOUR);
    /* A = 10 MiB one half-life before B = 100 MiB: A weighs half of B */
    add_ok(&h, "a", GF_SIG_MEMORY, T0, 10 * MIB);
    add_ok(&h, "a", GF_SIG_MEMORY, T0 + HOUR, 100 * MIB);
    const gf_hist_series *s = gf_history_find(&h, "a");
    const double *w = gf_hist_weights_const(s, GF_SIG_MEMORY);
    assert_close(w[8] / w[36], 0.5);
    assert_close(s->track[GF_SIG_MEMORY].total_weight, w[8] + w[36]);
    /* total 3 parts: p <= 1/3 lands on A, above on B */
    assert_close(pct(s, GF_SIG_MEMORY, 1.0 / 3.0), 11562190.707957773);
    assert_close(pct(s, GF_SIG_MEMORY, 0.34), 106564827.3284496);

    /* three half-lives: an eighth, whatever the arrival order */
    add_ok(&h, "b", GF_SIG_SM, T0 + 3 * HOUR, 0.5);
    add_ok(&h, "b", GF_SIG_SM, T0, 0.25);
    s = gf_history_find(&h, "b");
    w = gf_hist_weights_const(s, GF_SIG_SM);
    assert_close(w[53] / w[66], 0.125);
    gf_history_free(&h);
}

static void test_renormalisation_keeps_percentiles(void **state)
{
    (void)state;
    gf_history h;
    init_half_life(&h, HOUR);
    /* 10 MiB every half-life for 300 half-lives (three renormalisations),
     * then five 100 MiB samples. Relative weights: the 10 MiB samples add up
     * to sum 2^-k, k = 1..300, i.e. 1 - 2^-300; the 100 MiB ones weigh 5.
     * So p <= (1 - 2^-300)/6 gives 10 MiB and anything above 1/6 gives
     * 100 MiB, which only holds if every rescaling kept the ratios. */
    for (int k = 0; k < 300; k++)
        add_ok(&h, "a", GF_SIG_MEMORY, T0 + k * HOUR, 10 * MIB);
    for (int i = 0; i < 5; i++)
        add_ok(&h, "a", GF_SIG_MEMORY, T0 + 300 * HOUR, 100 * MIB);
    const gf_hist_series *s = gf_history_find(&h, "a");
    const gf_hist_track *tr = &s->track[GF_SIG_MEMORY];
    assert_true(isfinite(tr->total_weight));
    assert_true(tr->ref_t > T0 + 150 * HOUR);               /* moved forward */
    assert_close(fmod(tr->ref_t, HOUR), 0.0);               /* a multiple of the half-life */
    assert_true(tr->ref_t + 100 * HOUR >= T0 + 300 * HOUR); /* as VPA bounds it */
    const double *w = gf_hist_weights_const(s, GF_SIG_MEMORY);
    assert_close(w[8] / w[36], 1.0 / 5.0);
    assert_close(pct(s, GF_SIG_MEMORY, 0.16), 11562190.707957773);
    assert_close(pct(s, GF_SIG_MEMORY, 0.17), 106564827.3284496);
    assert_close(pct(s, GF_SIG_MEMORY, 0.5), 106564827.3284496);

    /* a jump of 10^4 half-lives forgets the past entirely (below epsilon) */
    add_ok(&h, "a", GF_SIG_MEMORY, T0 + 10300 * HOUR, 10 * MIB);
    assert_close(pct(s, GF_SIG_MEMORY, 1.0), 11562190.707957773);
    assert_true(isfinite(tr->total_weight) && tr->total_weight > 0);
    gf_history_free(&h);
}

/* ---- peaks and means ---- */

static double minute_value(int k)
{
    return (double)((k * 37) % 60 + 1) * MIB;
}

/* max and mean of minute_value over minutes lo..hi */
static void expect_minutes(int lo, int hi, double *max, double *avg)
{
    *max = 0;
    double sum = 0;
    for (int k = lo; k <= hi; k++) {
        if (minute_value(k) > *max) *max = minute_value(k);
        sum += minute_value(k);
    }
    *avg = sum / (hi - lo + 1);
}

static void test_peak_and_mean_minute_slots(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    for (int k = 0; k < 60; k++)
        add_ok(&h, "a", GF_SIG_MEMORY, T0 + 60 * k + 30, minute_value(k));
    const gf_hist_series *s = gf_history_find(&h, "a");
    double now = T0 + 3599, mx, avg;
    /* [now-300, now] = [3299, 3599] overlaps minutes 54..59 */
    expect_minutes(54, 59, &mx, &avg);
    assert_close(peak(s, GF_SIG_MEMORY, now, 300), mx);
    assert_close(mean(s, GF_SIG_MEMORY, now, 300), avg);
    /* 360 s reaches back to 3239: minute 53 joins, whole */
    expect_minutes(53, 59, &mx, &avg);
    assert_close(peak(s, GF_SIG_MEMORY, now, 360), mx);
    assert_close(mean(s, GF_SIG_MEMORY, now, 360), avg);
    /* the full hour: all 60 minutes */
    expect_minutes(0, 59, &mx, &avg);
    assert_close(peak(s, GF_SIG_MEMORY, now, 3600), mx);
    assert_close(mean(s, GF_SIG_MEMORY, now, 3600), avg);
    assert_close(s->track[GF_SIG_MEMORY].max_value, 60 * MIB);
    /* as of an earlier time: later minutes do not count */
    expect_minutes(10, 20, &mx, &avg);
    assert_close(peak(s, GF_SIG_MEMORY, T0 + 20 * 60 + 59, 600), mx);
    assert_close(mean(s, GF_SIG_MEMORY, T0 + 20 * 60 + 59, 600), avg);
    /* slot granularity at the new end: now at 60k+10 still holds minute k's sample at 60k+30 */
    assert_close(peak(s, GF_SIG_MEMORY, T0 + 60 * 7 + 10, 1), minute_value(7));
    /* nothing in the window */
    double out = 1;
    gf_error err = {0};
    assert_int_equal(gf_hist_peak(s, GF_SIG_MEMORY, T0 + 3 * HOUR, 600, &out, &err), GF_ENOTFOUND);
    assert_true(out == 0);
    assert_int_equal(gf_hist_peak(s, GF_SIG_SM, now, 600, &out, &err), GF_ENOTFOUND);
    /* bad windows */
    assert_int_equal(gf_hist_mean(s, GF_SIG_MEMORY, now, 3601, &out, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "3601"));
    assert_int_equal(gf_hist_peak(s, GF_SIG_MEMORY, now, 0, &out, &err), GF_EINPUT);
    assert_int_equal(gf_hist_peak(s, GF_SIG_MEMORY, now, NAN, &out, &err), GF_EINPUT);
    assert_int_equal(gf_hist_peak(s, GF_SIG_MEMORY, -1, 60, &out, &err), GF_EINPUT);
    gf_history_free(&h);
}

static double hour_value(int k)
{
    return (double)((k * 53) % 97) / 100.0;
}

static void test_peak_hour_slots(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    /* ten days of one SM sample per hour, 100 s into the hour */
    int hours = 240;
    for (int k = 0; k < hours; k++)
        add_ok(&h, "a", GF_SIG_SM, T0 + k * HOUR + 100, hour_value(k));
    const gf_hist_series *s = gf_history_find(&h, "a");
    double now = T0 + (hours - 1) * HOUR + 100;
    for (double w = 2 * HOUR; w <= 8 * DAY; w += 7 * HOUR) {
        /* hours overlapping [now - w, now] */
        int lo = (int)floor((now - w - T0) / HOUR);
        double mx = 0;
        for (int k = lo; k < hours; k++)
            mx = fmax(mx, hour_value(k));
        assert_close(peak(s, GF_SIG_SM, now, w), mx);
    }
    double mx8 = 0;
    for (int k = hours - 193; k < hours; k++)
        mx8 = fmax(mx8, hour_value(k));
    assert_close(peak(s, GF_SIG_SM, now, 8 * DAY), mx8);
    /* past 8 days: only when the window holds every sample */
    double out;
    gf_error err = {0};
    assert_int_equal(gf_hist_peak(s, GF_SIG_SM, now, 9 * DAY, &out, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "777600"));
    assert_close(peak(s, GF_SIG_SM, now, 30 * DAY), 0.96);
    assert_close(s->track[GF_SIG_SM].max_value, 0.96);
    /* a window whose slots were reused: as of day 1, asked on day 10 */
    assert_int_equal(gf_hist_peak(s, GF_SIG_SM, T0 + DAY, 2 * HOUR, &out, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "reused"));
    assert_int_equal(gf_hist_peak(s, GF_SIG_SM, T0 + DAY, 600, &out, &err), GF_EINPUT);
    gf_history_free(&h);
}

static void test_out_of_order(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    double now = T0 + 5 * HOUR;
    add_ok(&h, "a", GF_SIG_MEMORY, now, 10 * MIB);
    /* two minutes older: in its minute slot */
    add_ok(&h, "a", GF_SIG_MEMORY, now - 120, 20 * MIB);
    const gf_hist_series *s = gf_history_find(&h, "a");
    assert_close(peak(s, GF_SIG_MEMORY, now, 60), 10 * MIB);
    assert_close(peak(s, GF_SIG_MEMORY, now, 180), 20 * MIB);
    assert_close(mean(s, GF_SIG_MEMORY, now, 180), 15 * MIB);
    /* two hours older: past the minute ring, inside the hour ring */
    add_ok(&h, "a", GF_SIG_MEMORY, now - 2 * HOUR, 40 * MIB);
    assert_close(peak(s, GF_SIG_MEMORY, now, 3 * HOUR), 40 * MIB);
    assert_close(peak(s, GF_SIG_MEMORY, now, 3600), 20 * MIB);
    assert_close(mean(s, GF_SIG_MEMORY, now, 3600), 15 * MIB);
    double out;
    gf_error err = {0};
    /* the minute ring never held it: asking there is refused, not answered wrongly */
    assert_int_equal(gf_hist_peak(s, GF_SIG_MEMORY, now - 2 * HOUR + 30, 60, &out, &err),
                     GF_EINPUT);
    /* ten days older: histogram, counters and all-time max only */
    add_ok(&h, "a", GF_SIG_MEMORY, now - 10 * DAY, 80 * MIB);
    const gf_hist_track *tr = &s->track[GF_SIG_MEMORY];
    assert_int_equal(tr->samples, 4);
    assert_true(tr->first_t == now - 10 * DAY);
    assert_true(tr->last_t == now);
    assert_close(tr->max_value, 80 * MIB);
    assert_true(tr->max_t == now - 10 * DAY);
    assert_close(peak(s, GF_SIG_MEMORY, now, 8 * DAY), 40 * MIB);
    assert_close(peak(s, GF_SIG_MEMORY, now, 30 * DAY), 80 * MIB);
    /* in the histogram at about 2^-10 of a fresh sample's weight (above
     * epsilon): 80 MiB is bucket 32 (log(5)/log(1.05) = 32.99), the top one */
    assert_close(pct(s, GF_SIG_MEMORY, 1.0), gf_hist_bucket_start(GF_SIG_MEMORY, 33));
    gf_history_free(&h);
}

/* ---- validation ---- */

static void test_invalid_samples_change_nothing(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    add_ok(&h, "a", GF_SIG_MEMORY, T0, 5 * MIB);
    add_ok(&h, "a", GF_SIG_SM, T0, 0.5);
    gf_hist_series *s = gf_history_get(&h, "a", false);
    gf_hist_series before;
    memcpy(&before, s, sizeof before);
    struct {
        gf_hist_signal sig;
        double t, v;
        const char *needle;
    } bad[] = {
        {GF_SIG_MEMORY, T0, NAN, "nan"},
        {GF_SIG_MEMORY, T0, INFINITY, "inf"},
        {GF_SIG_MEMORY, T0, -1, "-1"},
        {GF_SIG_MEMORY, T0, 1125899906842625.0 * 2, "2251799813685250"},
        {GF_SIG_SM, T0, 64.5, "64.5"},
        {GF_SIG_SM, T0, -0.1, "-0.1"},
        {GF_SIG_SM, NAN, 0.5, "nan"},
        {GF_SIG_SM, -1, 0.5, "-1"},
        {GF_SIG_SM, INFINITY, 0.5, "inf"},
        {GF_SIG_SM, 2e12, 0.5, "2000000000000"},
        {GF_SIG_KV, T0, 1.01, "kv sample 1.01 is above 1"},
        {GF_SIG_KV, T0, -0.5, "-0.5"},
        {GF_SIG_WAITING, T0, 2e9, "waiting sample 2000000000 is above the limit"},
        {GF_SIG_PREEMPT, T0, NAN, "preempt sample nan"},
        {GF_SIG_PREEMPT, T0, 2e6, "preempt sample 2000000 is above the limit"},
        {(gf_hist_signal)9, T0, 0.5, "signal 9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gf_error err = {0};
        assert_int_equal(gf_history_add(&h, "a", bad[i].sig, bad[i].t, bad[i].v, &err), GF_EINPUT);
        if (!strstr(err.msg, bad[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].needle);
        assert_string_equal(err.where, "a");
        assert_int_equal(gf_history_add_to(&h, s, bad[i].sig, bad[i].t, bad[i].v, &err), GF_EINPUT);
        /* a new key with a bad sample creates no series */
        assert_int_equal(gf_history_add(&h, "new", bad[i].sig, bad[i].t, bad[i].v, &err),
                         GF_EINPUT);
        assert_string_equal(err.where, "new");
    }
    assert_memory_equal(&before, s, sizeof before);
    assert_int_equal(gf_history_count(&h), 1);
    assert_null(gf_history_find(&h, "new"));
    gf_error err = {0};
    assert_int_equal(gf_history_add(&h, NULL, GF_SIG_SM, T0, 0.5, &err), GF_EINPUT);
    /* limits themselves are accepted */
    add_ok(&h, "a", GF_SIG_MEMORY, 0, 1125899906842624.0);
    add_ok(&h, "a", GF_SIG_SM, GF_HIST_MAX_T, 64);
    add_ok(&h, "a", GF_SIG_KV, T0, 1.0);
    add_ok(&h, "a", GF_SIG_WAITING, T0, 1e9);
    add_ok(&h, "a", GF_SIG_PREEMPT, T0, 1e6);
    /* bad half-life */
    gf_history h2;
    gf_history_opts o = {0};
    assert_int_equal(gf_history_init(&h2, &o, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "half-life 0"));
    gf_history_free(&h2);
    gf_history_free(&h);
}

/* ---- container ---- */

static void test_container_stable_pointers_and_order(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    gf_hist_series *first = gf_history_get(&h, "ns/Deployment/x/c", true);
    assert_non_null(first);
    assert_null(gf_history_get(&h, "missing", false));
    assert_null(gf_history_get(&h, NULL, true));
    char key[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "ns/Deployment/w%d/c", i);
        gf_error err = {0};
        assert_int_equal(gf_history_add(&h, key, GF_SIG_SM, T0 + i, 0.1, &err), GF_OK);
    }
    assert_ptr_equal(gf_history_get(&h, "ns/Deployment/x/c", false), first);
    assert_int_equal(gf_history_count(&h), 5001);
    assert_ptr_equal(gf_history_at(&h, 0), first);
    assert_string_equal(gf_history_at(&h, 1)->key, "ns/Deployment/w0/c");
    assert_string_equal(gf_history_at(&h, 5000)->key, "ns/Deployment/w4999/c");
    assert_null(gf_history_at(&h, 5001));
    gf_hist_series *w7 = gf_history_get(&h, "ns/Deployment/w7/c", false);
    gf_error err = {0};
    assert_int_equal(gf_history_add_to(&h, w7, GF_SIG_SM, T0 + 10, 0.9, &err), GF_OK);
    assert_int_equal(w7->track[GF_SIG_SM].samples, 2);
    assert_true(gf_history_bytes(&h) >= 5001 * sizeof(gf_hist_series));
    gf_history_free(&h);
    gf_history_free(NULL);
}

static void test_bookkeeping(void **state)
{
    (void)state;
    gf_history h;
    init_default(&h);
    gf_hist_series *s = gf_history_get(&h, "a", true);
    gf_error err = {0};
    assert_true(s->last_change_t == -1.0);
    assert_true(s->alloc_fraction == -1.0);
    assert_int_equal(gf_hist_changes_since(s, 0), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(gf_hist_note_change(s, T0 + 60 * i, &err), GF_OK);
    assert_true(s->last_change_t == T0 + 60 * 19);
    assert_int_equal(s->n_changes, 20);
    assert_int_equal(gf_hist_changes_since(s, 0), GF_HIST_CHANGE_SLOTS); /* the last 16 */
    assert_int_equal(gf_hist_changes_since(s, T0 + 60 * 15), 5);
    assert_int_equal(gf_hist_note_change(s, NAN, &err), GF_EINPUT);
    assert_int_equal(gf_hist_set_alloc(s, 0.25, &err), GF_OK);
    assert_true(s->alloc_fraction == 0.25);
    assert_int_equal(gf_hist_set_alloc(s, -0.5, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "-0.5"));
    assert_true(s->alloc_fraction == 0.25);
    gf_history_free(&h);
}

/* ---- SQLite file ---- */

/* A history with varied content: in- and out-of-order samples, both signals,
 * changes and allocations. */
static void build_history(gf_history *h, int n_series)
{
    init_default(h);
    uint64_t x = 12345;
    char key[64];
    for (int i = 0; i < n_series; i++) {
        snprintf(key, sizeof key, "team-%d/Deployment/app-%d/main", i % 7, i);
        int n = 50 + (i % 13) * 20;
        for (int k = 0; k < n; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double jitter = (double)((x >> 33) % 900);
            double t = T0 + k * 1800.0 + ((k % 5 == 4) ? -jitter * 4 : jitter);
            add_ok(h, key, GF_SIG_MEMORY, t, (double)((x >> 20) % 80000) * MIB);
            add_ok(h, key, GF_SIG_SM, t, (double)((x >> 40) % 1000) / 997.0);
            if (i % 2) { /* an inference engine's own signals */
                add_ok(h, key, GF_SIG_KV, t, (double)((x >> 24) % 1001) / 1000.0);
                add_ok(h, key, GF_SIG_WAITING, t, (double)((x >> 44) % 40));
                add_ok(h, key, GF_SIG_PREEMPT, t, (double)((x >> 50) % 7) / 60.0);
            }
        }
        gf_hist_series *s = gf_history_get(h, key, false);
        gf_error err = {0};
        for (int c = 0; c < i % 20; c++)
            gf_hist_note_change(s, T0 + c * 600.0, &err);
        if (i % 3) gf_hist_set_alloc(s, 0.1 * (i % 10), &err);
    }
}

/* Same state and the same answer to every query. */
static void assert_same_history(const gf_history *a, const gf_history *b)
{
    assert_int_equal(gf_history_count(a), gf_history_count(b));
    assert_true(a->half_life_s == b->half_life_s);
    for (size_t i = 0; i < gf_history_count(a); i++) {
        const gf_hist_series *x = gf_history_at(a, i), *y = gf_history_at(b, i);
        assert_string_equal(x->key, y->key);
        assert_ptr_equal(gf_history_find(b, x->key), y);
        assert_memory_equal(x->memory_weights, y->memory_weights, sizeof x->memory_weights);
        assert_memory_equal(x->sm_weights, y->sm_weights, sizeof x->sm_weights);
        assert_memory_equal(x->kv_weights, y->kv_weights, sizeof x->kv_weights);
        assert_memory_equal(x->waiting_weights, y->waiting_weights, sizeof x->waiting_weights);
        assert_memory_equal(x->preempt_weights, y->preempt_weights, sizeof x->preempt_weights);
        assert_memory_equal(x->change_t, y->change_t, sizeof x->change_t);
        assert_true(x->last_change_t == y->last_change_t);
        assert_true(x->n_changes == y->n_changes);
        assert_true(x->alloc_fraction == y->alloc_fraction);
        for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++) {
            const gf_hist_track *p = &x->track[sig], *q = &y->track[sig];
            assert_true(p->ref_t == q->ref_t && p->total_weight == q->total_weight);
            assert_true(p->min_bucket == q->min_bucket && p->max_bucket == q->max_bucket);
            assert_true(p->samples == q->samples && p->first_t == q->first_t &&
                        p->last_t == q->last_t && p->max_value == q->max_value &&
                        p->max_t == q->max_t);
            assert_true(p->minute_head == q->minute_head && p->hour_head == q->hour_head);
            for (int m = 0; m < GF_HIST_MINUTE_SLOTS; m++)
                assert_true(p->minute[m].max == q->minute[m].max &&
                            p->minute[m].sum == q->minute[m].sum &&
                            p->minute[m].count == q->minute[m].count);
            assert_memory_equal(p->hour_max, q->hour_max, sizeof p->hour_max);
            for (double pp = 0; pp <= 1.0; pp += 0.05) {
                double u = -1, v = -2;
                gf_error e1 = {0}, e2 = {0};
                assert_int_equal(gf_hist_percentile(x, (gf_hist_signal)sig, pp, &u, &e1),
                                 gf_hist_percentile(y, (gf_hist_signal)sig, pp, &v, &e2));
                assert_true(u == v);
            }
            double now = p->last_t;
            const double windows[] = {60, 600, 3600, 6 * HOUR, DAY, 8 * DAY, 30 * DAY};
            for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
                double u = -1, v = -2;
                gf_error e1 = {0}, e2 = {0};
                assert_int_equal(gf_hist_peak(x, (gf_hist_signal)sig, now, windows[w], &u, &e1),
                                 gf_hist_peak(y, (gf_hist_signal)sig, now, windows[w], &v, &e2));
                assert_true(u == v);
                assert_int_equal(gf_hist_mean(x, (gf_hist_signal)sig, now, windows[w], &u, &e1),
                                 gf_hist_mean(y, (gf_hist_signal)sig, now, windows[w], &v, &e2));
                assert_true(u == v);
            }
        }
    }
}

static void save_ok(const gf_history *h, const char *path)
{
    gf_error err = {0};
    gf_err rc = gf_history_save(h, path, &err);
    if (rc != GF_OK) fail_msg("save %s: %s: %s", path, err.where, err.msg);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    gf_history a, b;
    build_history(&a, 60);
    gf_history_get(&a, "empty/series", true); /* never sampled */
    const char *path = tmp_path("round.db");
    save_ok(&a, path);
    assert_int_not_equal(access(tmp_path("round.db.tmp"), F_OK), 0); /* no leftover */
    init_default(&b);
    add_ok(&b, "to-be-replaced", GF_SIG_SM, T0, 0.5);
    gf_error err = {0};
    assert_int_equal(gf_history_load(&b, path, &err), GF_OK);
    assert_null(gf_history_find(&b, "to-be-replaced"));
    assert_same_history(&a, &b);
    /* engine tracks are written only where they had samples: the 30 odd series */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*), sum(signal < 2) FROM track", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 61 * 2 + 30 * 3);
    assert_int_equal(sqlite3_column_int(q, 1), 61 * 2);
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* both keep behaving the same after more samples */
    for (size_t i = 0; i < gf_history_count(&a); i++) {
        gf_error e = {0};
        assert_int_equal(
            gf_history_add_to(&a, gf_history_at(&a, i), GF_SIG_SM, T0 + 9 * DAY, 0.7, &e), GF_OK);
        assert_int_equal(
            gf_history_add_to(&b, gf_history_at(&b, i), GF_SIG_SM, T0 + 9 * DAY, 0.7, &e), GF_OK);
    }
    assert_same_history(&a, &b);
    /* saving over an existing file replaces it */
    save_ok(&b, path);
    gf_history c;
    init_default(&c);
    assert_int_equal(gf_history_load(&c, path, &err), GF_OK);
    assert_same_history(&b, &c);
    gf_history_free(&a);
    gf_history_free(&b);
    gf_history_free(&c);
    unlink(path);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* Loads path into a history holding one known series; expects failure with
 * code and a message containing needle, and the history untouched. */
static void expect_load_error(const char *path, gf_err code, const char *needle)
{
    gf_history h;
    build_history(&h, 3);
    gf_hist_series *s0 = gf_history_at(&h, 0);
    gf_history ref;
    build_history(&ref, 3);
    gf_error err = {0};
    gf_err rc = gf_history_load(&h, path, &err);
    char msg[1100];
    gf_error_format(&err, msg, sizeof msg);
    if (rc != code) fail_msg("load %s: rc %d, want %d (%s)", path, rc, code, msg);
    if (!strstr(msg, needle)) fail_msg("'%s' lacks '%s'", msg, needle);
    assert_string_equal(err.where, path);
    assert_ptr_equal(gf_history_at(&h, 0), s0);
    assert_same_history(&ref, &h);
    gf_history_free(&h);
    gf_history_free(&ref);
}

static void test_load_newer_schema(void **state)
{
    (void)state;
    gf_history h;
    build_history(&h, 2);
    const char *path = tmp_path("newer.db");
    save_ok(&h, path);
    exec_sql(path, "UPDATE meta SET value = 3 WHERE key = 'schema_version'");
    char want[600];
    snprintf(want, sizeof want,
             "%s: history schema version 3 is newer than this gpufrac supports (2)", path);
    expect_load_error(path, GF_EINPUT, want);
    exec_sql(path, "DELETE FROM meta WHERE key = 'schema_version'");
    expect_load_error(path, GF_EINPUT, "no schema_version");
    gf_history_free(&h);
    unlink(path);
}

/* A version-1 file (gpufrac before the engine signals: memory and sm only)
 * is read with empty engine tracks; one holding an engine track is not. */
static void test_load_version_1(void **state)
{
    (void)state;
    gf_history h;
    build_history(&h, 6);
    const char *path = tmp_path("v1.db");
    save_ok(&h, path);
    exec_sql(path, "UPDATE meta SET value = 1 WHERE key = 'schema_version';"
                   "DELETE FROM meta WHERE key LIKE 'kv_%' OR key LIKE 'waiting_%' OR key LIKE "
                   "'preempt_%';");
    expect_load_error(path, GF_EINPUT, "unexpected track for signal 2");
    exec_sql(path, "DELETE FROM track WHERE signal >= 2");
    gf_history v1;
    init_default(&v1);
    gf_error err = {0};
    assert_int_equal(gf_history_load(&v1, path, &err), GF_OK);
    /* memory and sm as saved, engine tracks empty */
    assert_int_equal(gf_history_count(&v1), gf_history_count(&h));
    for (size_t i = 0; i < gf_history_count(&v1); i++) {
        const gf_hist_series *x = gf_history_at(&h, i), *y = gf_history_at(&v1, i);
        assert_string_equal(x->key, y->key);
        assert_memory_equal(x->memory_weights, y->memory_weights, sizeof x->memory_weights);
        assert_memory_equal(x->sm_weights, y->sm_weights, sizeof x->sm_weights);
        for (int sig = GF_SIG_MEMORY; sig <= GF_SIG_SM; sig++) {
            assert_int_equal(y->track[sig].samples, x->track[sig].samples);
            assert_true(y->track[sig].max_value == x->track[sig].max_value);
            assert_memory_equal(y->track[sig].hour_max, x->track[sig].hour_max,
                                sizeof x->track[sig].hour_max);
        }
        for (int sig = GF_SIG_KV; sig < GF_HIST_NSIGNALS; sig++) {
            assert_int_equal(y->track[sig].samples, 0);
            assert_int_equal(y->track[sig].minute_head, -1);
            assert_int_equal(y->track[sig].hour_head, -1);
        }
        if (i % 2) assert_true(x->track[GF_SIG_KV].samples > 0);
    }
    /* and saved again as the current version, it loads the same */
    save_ok(&v1, path);
    gf_history again;
    init_default(&again);
    assert_int_equal(gf_history_load(&again, path, &err), GF_OK);
    assert_same_history(&v1, &again);
    gf_history_free(&again);
    gf_history_free(&v1);
    gf_history_free(&h);
    unlink(path);
}

static void test_load_layout_mismatch(void **state)
{
    (void)state;
    gf_history h;
    build_history(&h, 2);
    const char *path = tmp_path("layout.db");
    save_ok(&h, path);
    exec_sql(path, "UPDATE meta SET value = 176 WHERE key = 'memory_buckets'");
    expect_load_error(path, GF_EINPUT, "layout differs: memory_buckets is 176 in the file, 224");
    save_ok(&h, path);
    exec_sql(path, "UPDATE meta SET value = 10000000 WHERE key = 'memory_first_bucket'");
    expect_load_error(path, GF_EINPUT, "memory_first_bucket");
    /* another half-life */
    gf_history other;
    init_half_life(&other, HOUR);
    add_ok(&other, "x", GF_SIG_SM, T0, 0.5);
    save_ok(&other, path);
    expect_load_error(path, GF_EINPUT, "half-life of 3600 s, this history uses 86400 s");
    gf_history_free(&other);
    /* values a crafted file could hold */
    save_ok(&h, path);
    exec_sql(path, "UPDATE track SET max_value = -5 WHERE signal = 1");
    expect_load_error(path, GF_EINPUT, "sm max_value -5 is out of range");
    save_ok(&h, path);
    exec_sql(path, "UPDATE track SET min_bucket = 500");
    expect_load_error(path, GF_EINPUT, "min_bucket 500 is out of range");
    save_ok(&h, path);
    exec_sql(path, "UPDATE track SET minute = x'00'");
    expect_load_error(path, GF_EINPUT, "minute holds 1 bytes, expected 1280");
    save_ok(&h, path);
    exec_sql(path, "DELETE FROM track WHERE signal >= 1");
    expect_load_error(path, GF_EINPUT, "has 1 of the 2 signal tracks every series has");
    save_ok(&h, path);
    exec_sql(path, "DELETE FROM track WHERE signal = 1 AND series_id = 0");
    expect_load_error(path, GF_EINPUT, "app-0/main' has 1 of the 2 signal tracks");
    save_ok(&h, path);
    exec_sql(path,
             "DELETE FROM track WHERE signal = 1 AND series_id = 1"); /* it has engine tracks */
    expect_load_error(path, GF_EINPUT, "app-1/main': unexpected track for signal 2");
    /* an engine track missing is one that never had a sample */
    save_ok(&h, path);
    exec_sql(path, "DELETE FROM track WHERE signal = 3");
    gf_history mis;
    init_default(&mis);
    gf_error lerr = {0};
    assert_int_equal(gf_history_load(&mis, path, &lerr), GF_OK);
    assert_int_equal(gf_history_at(&mis, 1)->track[GF_SIG_WAITING].samples, 0);
    assert_true(gf_history_at(&mis, 1)->track[GF_SIG_PREEMPT].samples > 0);
    gf_history_free(&mis);
    save_ok(&h, path);
    exec_sql(path, "UPDATE meta SET value = 81 WHERE key = 'kv_buckets'");
    expect_load_error(path, GF_EINPUT, "layout differs: kv_buckets is 81 in the file, 82");
    save_ok(&h, path);
    exec_sql(path, "DELETE FROM meta WHERE key = 'preempt_first_bucket'");
    expect_load_error(path, GF_EINPUT, "meta has no preempt_first_bucket");
    save_ok(&h, path);
    exec_sql(path, "UPDATE track SET max_value = 1.5 WHERE signal = 2");
    expect_load_error(path, GF_EINPUT, "kv max_value 1.5 is out of range");
    save_ok(&h, path);
    exec_sql(path, "DELETE FROM series WHERE id = 1");
    expect_load_error(path, GF_EINPUT, "holds 1 series, meta says 2");
    save_ok(&h, path);
    exec_sql(path, "UPDATE series SET alloc_fraction = 'abc'");
    expect_load_error(path, GF_EINPUT, "alloc_fraction is not a number");
    gf_history_free(&h);
    unlink(path);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_load_corrupt_and_missing(void **state)
{
    (void)state;
    const char *path = tmp_path("garbage.db");
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    write_bytes(path, junk, sizeof junk);
    expect_load_error(path, GF_EIO, "file is not a database");
    write_bytes(path, "", 0); /* empty: SQLite sees an empty database */
    expect_load_error(path, GF_EIO, "not a gpufrac history file");
    unlink(path);
    expect_load_error(tmp_path("missing.db"), GF_EIO, "No such file or directory");
    expect_load_error(tmpdir, GF_EIO, "not a regular file");
}

static void test_load_truncated(void **state)
{
    (void)state;
    gf_history h;
    build_history(&h, 200);
    const char *path = tmp_path("full.db"), *cut = tmp_path("cut.db");
    save_ok(&h, path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    assert_true(size > 100000);
    const long cuts[] = {50, 100, 4096, size / 4, size / 2, size - 4096, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(cut, data, (size_t)cuts[i]);
        gf_history t;
        build_history(&t, 1);
        gf_error err = {0};
        gf_err rc = gf_history_load(&t, cut, &err);
        if (rc == GF_OK) fail_msg("a copy cut to %ld of %ld bytes loaded", cuts[i], size);
        assert_string_equal(err.where, cut);
        assert_int_equal(gf_history_count(&t), 1);
        gf_history_free(&t);
    }
    write_bytes(cut, data, (size_t)(size / 2));
    expect_load_error(cut, GF_EIO, "truncated");
    free(data);
    gf_history_free(&h);
    unlink(path);
    unlink(cut);
}

static void test_save_errors_keep_old_file(void **state)
{
    (void)state;
    gf_history h;
    build_history(&h, 3);
    gf_error err = {0};
    /* a directory that does not exist */
    char p[600];
    snprintf(p, sizeof p, "%s/no-such-dir/h.db", tmpdir);
    assert_int_equal(gf_history_save(&h, p, &err), GF_EIO);
    assert_non_null(strstr(err.where, "no-such-dir/h.db.tmp"));
    assert_non_null(strstr(err.msg, "cannot create"));
    /* a "directory" that is a regular file */
    const char *file = tmp_path("plain");
    write_bytes(file, "x", 1);
    snprintf(p, sizeof p, "%s/h.db", file);
    assert_int_equal(gf_history_save(&h, p, &err), GF_EIO);
    assert_non_null(strstr(err.msg, "cannot"));
    unlink(file);
    /* a read-only directory (root writes anyway, so only as another user) */
    if (geteuid() != 0) {
        const char *ro = tmp_path("ro");
        assert_int_equal(mkdir(ro, 0555), 0);
        snprintf(p, sizeof p, "%s/h.db", ro);
        assert_int_equal(gf_history_save(&h, p, &err), GF_EIO);
        assert_non_null(strstr(err.msg, "cannot create"));
        rmdir(ro);
    }
    /* a failed save leaves the previous file whole */
    const char *path = tmp_path("keep.db");
    save_ok(&h, path);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp", path);
    assert_int_equal(mkdir(tmpname, 0755), 0);
    mkdir(tmp_path("keep.db.tmp/x"), 0755); /* not empty: cannot be removed */
    gf_history other;
    build_history(&other, 9);
    assert_int_equal(gf_history_save(&other, path, &err), GF_EIO);
    assert_string_equal(err.where, tmpname);
    rmdir(tmp_path("keep.db.tmp/x"));
    rmdir(tmpname);
    gf_history back;
    init_default(&back);
    assert_int_equal(gf_history_load(&back, path, &err), GF_OK);
    assert_same_history(&h, &back);
    gf_history_free(&back);
    gf_history_free(&other);
    gf_history_free(&h);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/gf-history-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tmp_path(e->d_name));
        closedir(d);
    }
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_vpa_formula),
        cmocka_unit_test(test_percentile_memory_hand),
        cmocka_unit_test(test_percentile_sm_hand),
        cmocka_unit_test(test_percentile_edges),
        cmocka_unit_test(test_decay_half_life),
        cmocka_unit_test(test_renormalisation_keeps_percentiles),
        cmocka_unit_test(test_peak_and_mean_minute_slots),
        cmocka_unit_test(test_peak_hour_slots),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_invalid_samples_change_nothing),
        cmocka_unit_test(test_container_stable_pointers_and_order),
        cmocka_unit_test(test_bookkeeping),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_newer_schema),
        cmocka_unit_test(test_load_layout_mismatch),
        cmocka_unit_test(test_load_version_1),
        cmocka_unit_test(test_load_corrupt_and_missing),
        cmocka_unit_test(test_load_truncated),
        cmocka_unit_test(test_save_errors_keep_old_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
