/* test_demand.c - the simulator's demand (sim/demand.c) and the Azure LLM
 * inference trace reader (io/azure_trace.c): the builtin mix has the shape
 * it promises, every source is deterministic and in range, and bad trace
 * files fail with file:line. */
#include "testutil.h"
#include "sim/demand.h"
#include "io/azure_trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY 86400.0

static gf_demand_opts opts(uint32_t days, uint64_t seed)
{
    gf_demand_opts o = {GF_DEMAND_DEFAULT_START_T, 60, days * 1440, seed};
    return o;
}

/* n scales cycling through the fractions users write */
static double *scales(size_t n)
{
    static const double fr[] = {0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0};
    double *s = test_malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = fr[i % 10];
    return s;
}

/* --- builtin --------------------------------------------------------------------- */

/* Roughly 20% of containers use their full GPU (as sized), most use under
 * half; every shape is present; a few exceed their allocation. */
static void test_builtin_mix(void **state)
{
    (void)state;
    size_t n = 1000;
    double *sc = scales(n);
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts o = opts(7, 1);
    gf_error err;
    assert_int_equal(gf_demand_builtin(&d, &o, sc, n, &err), GF_OK);
    gf_demand_mix m;
    gf_demand_measure(&d, NULL, NULL, 10, &m);
    print_message("builtin mix: full %.3f, median %.3f, under half %.3f, over %.3f\n", m.full_share,
                  m.median_use, m.under_half, m.over_share);
    assert_true(m.full_share > 0.15 && m.full_share < 0.25);
    assert_true(m.median_use < 0.5);
    assert_true(m.under_half > 0.6);
    assert_true(m.over_share > 0.005 && m.over_share < 0.15);
    for (int s = GF_SHAPE_DIURNAL; s <= GF_SHAPE_FULL; s++)
        assert_true(m.shape_share[s] > 0.05);
    assert_true(fabs(m.containers - (double)n) < 1e-9);
    /* weights count containers: all weight on idle services -> nobody full */
    double *w = test_calloc(n, sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = d.series.v[i].shape == GF_SHAPE_IDLE;
    gf_demand_measure(&d, w, NULL, 10, &m);
    assert_true(m.full_share == 0 && m.median_use < 0.35);
    for (size_t i = 0; i < n; i++)
        w[i] = d.series.v[i].shape == GF_SHAPE_FULL;
    gf_demand_measure(&d, w, NULL, 10, &m);
    assert_true(m.full_share > 0.99);
    test_free(w);
    test_free(sc);
    gf_demand_free(&d);
}

/* Same seed, same numbers; another seed, others; values within [0, 1]. */
static void test_builtin_deterministic_and_bounded(void **state)
{
    (void)state;
    size_t n = 40;
    double *sc = scales(n);
    gf_demand a, b, c;
    gf_demand_init(&a);
    gf_demand_init(&b);
    gf_demand_init(&c);
    gf_demand_opts o1 = opts(2, 7), o2 = opts(2, 8);
    gf_error err;
    assert_int_equal(gf_demand_builtin(&a, &o1, sc, n, &err), GF_OK);
    assert_int_equal(gf_demand_builtin(&b, &o1, sc, n, &err), GF_OK);
    assert_int_equal(gf_demand_builtin(&c, &o2, sc, n, &err), GF_OK);
    size_t differ = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < o1.n_steps; k += 7) {
            double m1, s1, m2, s2, m3, s3;
            gf_demand_at(&a, i, 3, k, &m1, &s1);
            gf_demand_at(&b, i, 3, k, &m2, &s2);
            gf_demand_at(&c, i, 3, k, &m3, &s3);
            assert_true(m1 == m2 && s1 == s2);
            assert_true(m1 >= 0 && m1 <= 1 && s1 >= 0 && s1 <= 1);
            differ += m1 != m3;
        }
    assert_true(differ > n);
    /* replicas differ a little, not a lot */
    double m0, s0, m1, s1;
    gf_demand_at(&a, 0, 0, 100, &m0, &s0);
    gf_demand_at(&a, 0, 1, 100, &m1, &s1);
    assert_true(m0 != m1 && fabs(m0 - m1) < 0.05 * sc[0] + 1e-9);
    /* out of range series: zero */
    gf_demand_at(&a, (uint32_t)n, 0, 0, &m0, &s0);
    assert_true(m0 == 0 && s0 == 0);
    test_free(sc);
    gf_demand_free(&a);
    gf_demand_free(&b);
    gf_demand_free(&c);
}

/* A diurnal service peaks in the day and is quieter at the weekend. */
static void test_builtin_daily_cycle(void **state)
{
    (void)state;
    size_t n = 200;
    double *sc = scales(n);
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts o = opts(7, 3);
    gf_error err;
    assert_int_equal(gf_demand_builtin(&d, &o, sc, n, &err), GF_OK);
    uint32_t checked = 0;
    for (uint32_t i = 0; i < n && checked < 5; i++) {
        const gf_demand_series *s = &d.series.v[i];
        if (s->shape != GF_SHAPE_DIURNAL || s->peak - s->base < 0.3) continue;
        /* Monday at the peak hour vs 12 hours later; Saturday's peak lower */
        uint32_t peak = (uint32_t)(s->phase_s / 60), night = peak + 720;
        uint32_t saturday = peak + 5 * 1440;
        double mp = 0, mn = 0, ms = 0, sm;
        for (uint32_t k = 0; k < 10; k++) { /* average out the noise */
            double x;
            gf_demand_at(&d, i, 0, peak + k, &x, &sm);
            mp += sm;
            gf_demand_at(&d, i, 0, night + k, &x, &sm);
            mn += sm;
            gf_demand_at(&d, i, 0, saturday + k, &x, &sm);
            ms += sm;
        }
        assert_true(mp > 1.5 * mn);
        assert_true(ms < mp);
        checked++;
    }
    assert_true(checked >= 3);
    test_free(sc);
    gf_demand_free(&d);
}

static void test_bad_options(void **state)
{
    (void)state;
    gf_demand d;
    gf_demand_init(&d);
    gf_error err;
    double sc[2] = {0.5, 1.5};
    gf_demand_opts o = opts(1, 1);
    assert_int_equal(gf_demand_builtin(&d, &o, sc, 2, &err), GF_EUSAGE);
    assert_non_null(strstr(err.msg, "service 1"));
    o.step_s = 0;
    assert_int_equal(gf_demand_builtin(&d, &o, sc, 1, &err), GF_EUSAGE);
    o = opts(1, 1);
    o.n_steps = 0;
    assert_int_equal(gf_demand_builtin(&d, &o, sc, 1, &err), GF_EUSAGE);
    o = opts(1, 1);
    assert_int_equal(gf_demand_table_begin(&d, &o, 1, o.n_steps + 1, &err), GF_EUSAGE);
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    assert_int_equal(gf_demand_trace(&d, &o, &tr, sc, 1, &err), GF_EINPUT); /* empty */
    /* a trace with requests but no tokens has no load */
    assert_int_equal(gf_request_trace_add(&tr, 1000, 0, 0, &err), GF_OK);
    assert_int_equal(gf_demand_trace(&d, &o, &tr, sc, 1, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "no load"));
    gf_request_trace_free(&tr);
    gf_demand_free(&d);
}

/* --- table ------------------------------------------------------------------------ */

static void test_table(void **state)
{
    (void)state;
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts o = opts(1, 0);
    gf_error err;
    assert_int_equal(gf_demand_table_begin(&d, &o, 3, 10, &err), GF_OK);
    gf_demand_table_add(&d, 0, 2, 0.3, 0.2);
    gf_demand_table_add(&d, 0, 2, 0.5, 0.4); /* max memory, mean SM */
    gf_demand_table_add(&d, 0, 6, 0.1, 0.1);
    gf_demand_table_add(&d, 1, 4, NAN, 0.5);  /* no memory reading */
    gf_demand_table_add(&d, 7, 4, 0.5, 0.5);  /* no such series: ignored */
    gf_demand_table_add(&d, 1, 40, 0.5, 0.5); /* past the table: ignored */
    size_t empty = 99;
    gf_demand_table_end(&d, &empty);
    assert_int_equal(empty, 1);
    double m, s;
    gf_demand_at(&d, 0, 0, 2, &m, &s);
    assert_true(fabs(m - 0.5) < 1e-6 && fabs(s - 0.3) < 1e-6);
    gf_demand_at(&d, 0, 0, 0, &m, &s); /* before the first sample: the first */
    assert_true(fabs(m - 0.5) < 1e-6);
    gf_demand_at(&d, 0, 0, 5, &m, &s); /* a gap: the one before */
    assert_true(fabs(m - 0.5) < 1e-6);
    gf_demand_at(&d, 0, 0, 9, &m, &s);
    assert_true(fabs(m - 0.1) < 1e-6);
    gf_demand_at(&d, 0, 0, 12, &m, &s); /* the table repeats */
    assert_true(fabs(m - 0.5) < 1e-6);
    gf_demand_at(&d, 1, 0, 4, &m, &s);
    assert_true(m == 0 && fabs(s - 0.5) < 1e-6);
    gf_demand_at(&d, 2, 0, 4, &m, &s);
    assert_true(m == 0 && s == 0);
    double sc[3] = {0.5, 0.5, 0.5};
    gf_demand_mix mix;
    gf_demand_measure(&d, NULL, sc, 1, &mix);
    assert_true(mix.containers == 3);
    gf_demand_free(&d);
}

/* --- request traces ------------------------------------------------------------------ */

static void test_trace_bins(void **state)
{
    (void)state;
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_error err;
    assert_int_equal(gf_request_trace_add(&tr, 1000.5, 100, 10, &err), GF_OK);
    assert_int_equal(gf_request_trace_add(&tr, 1000.9, 50, 5, &err), GF_OK);
    assert_int_equal(gf_request_trace_add(&tr, 990.2, 10, 1, &err), GF_OK);  /* earlier */
    assert_int_equal(gf_request_trace_add(&tr, 1500.0, 20, 2, &err), GF_OK); /* later */
    assert_int_equal(gf_request_trace_add(&tr, 200.0, 1, 1, &err), GF_OK);   /* much earlier */
    assert_int_equal(tr.total_requests, 5);
    assert_true(tr.start_t + tr.first == 200 && tr.start_t + tr.last == 1500);
    uint32_t at1000 = (uint32_t)(1000 - tr.start_t);
    assert_int_equal(tr.requests[at1000], 2);
    assert_true(tr.context_tokens[at1000] == 150 && tr.generated_tokens[at1000] == 15);
    assert_int_equal(tr.requests[(uint32_t)(990 - tr.start_t)], 1);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < tr.seconds; i++)
        sum += tr.requests[i];
    assert_int_equal(sum, 5);
    /* refused */
    assert_int_equal(gf_request_trace_add(&tr, NAN, 1, 1, &err), GF_EINPUT);
    assert_int_equal(gf_request_trace_add(&tr, 1000, -1, 1, &err), GF_EINPUT);
    assert_int_equal(gf_request_trace_add(&tr, 1000, 1, 1e12, &err), GF_EINPUT);
    assert_int_equal(gf_request_trace_add(&tr, 200.0 + GF_TRACE_MAX_SECONDS, 1, 1, &err),
                     GF_EINPUT);
    assert_non_null(strstr(err.msg, "span"));
    assert_int_equal(tr.total_requests, 5);
    gf_request_trace_free(&tr);
    gf_request_trace_free(NULL);
}

static void test_azure_fixture_and_trace_demand(void **state)
{
    (void)state;
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_error err = {0};
    gf_err rc = gf_azure_trace_load(&tr, gf_test_fixture("azure/conv_excerpt.csv"), &err);
    if (rc) fail_msg("%s: %s", err.where, err.msg);
    assert_int_equal(tr.total_requests, 300);
    /* 2023-11-16 18:15:46 UTC .. 18:17:10 */
    assert_true(tr.start_t + tr.first == 1700158546.0);
    assert_true(tr.last - tr.first == 84);
    size_t n = 50;
    double *sc = scales(n);
    gf_demand d, d2;
    gf_demand_init(&d);
    gf_demand_init(&d2);
    gf_demand_opts o = opts(2, 5);
    assert_int_equal(gf_demand_trace(&d, &o, &tr, sc, n, &err), GF_OK);
    assert_int_equal(gf_demand_trace(&d2, &o, &tr, sc, n, &err), GF_OK);
    assert_int_equal(d.kind, GF_DEMAND_TRACE);
    double hi = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < o.n_steps; k += 13) {
            double m, s, m2, s2;
            gf_demand_at(&d, i, 0, k, &m, &s);
            gf_demand_at(&d2, i, 0, k, &m2, &s2);
            assert_true(m == m2 && s == s2);
            assert_true(m >= 0 && m <= 1 && s >= 0 && s <= 1);
            if (m / sc[i] > hi) hi = m / sc[i];
        }
    assert_true(hi > 0.8); /* some services are driven to their allocation */
    gf_demand_mix mix;
    gf_demand_measure(&d, NULL, NULL, 3, &mix);
    assert_true(mix.shape_share[GF_SHAPE_TRACE] == 1.0);
    assert_true(mix.median_use > 0.05 && mix.median_use < 0.9);
    test_free(sc);
    gf_demand_free(&d);
    gf_demand_free(&d2);
    gf_request_trace_free(&tr);
}

/* A trace bigger than the reader's chunks, with lines across chunk
 * boundaries, reads the same as the whole buffer at once. */
static void test_azure_streaming_equals_buffer(void **state)
{
    (void)state;
    char path[] = "/tmp/gf_azure_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    size_t cap = 1 << 20, len = 0;
    char *buf = test_malloc(cap);
    len += (size_t)snprintf(buf, cap, "TIMESTAMP,ContextTokens,GeneratedTokens\r\n");
    for (int i = 0; i < 6000; i++) {
        int sec = (i * 7919) % 3000; /* out of order */
        len += (size_t)snprintf(buf + len, cap - len, "2023-11-16 18:%02d:%02d.%07d,%d,%d\r\n",
                                10 + sec / 60, sec % 60, i % 9999991, 100 + i % 977, i % 301);
    }
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_true(len > 3 * 65536);
    gf_request_trace a, b;
    gf_request_trace_init(&a);
    gf_request_trace_init(&b);
    gf_error err = {0};
    if (gf_azure_trace_load(&a, path, &err)) fail_msg("%s: %s", err.where, err.msg);
    assert_int_equal(gf_azure_trace_load_buffer(&b, "buf", buf, len, &err), GF_OK);
    assert_int_equal(a.total_requests, 6000);
    assert_true(a.start_t + a.first == b.start_t + b.first && a.last - a.first == b.last - b.first);
    for (uint32_t i = 0; i <= a.last - a.first; i++) {
        assert_int_equal(a.requests[a.first + i], b.requests[b.first + i]);
        assert_true(a.context_tokens[a.first + i] == b.context_tokens[b.first + i]);
    }
    /* a bad row far into the file: its line number */
    len += (size_t)snprintf(buf + len, cap - len, "2023-11-16 18:00:00,x,1\n");
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    gf_request_trace_free(&a);
    gf_request_trace_init(&a);
    assert_int_equal(gf_azure_trace_load(&a, path, &err), GF_EINPUT);
    char want[64];
    snprintf(want, sizeof want, ":6002");
    assert_non_null(strstr(err.where, want));
    assert_non_null(strstr(err.msg, "ContextTokens"));
    unlink(path);
    test_free(buf);
    gf_request_trace_free(&a);
    gf_request_trace_free(&b);
}

static void bad(const char *text, const char *where, const char *msg)
{
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_error err = {0};
    gf_err rc = gf_azure_trace_load_buffer(&tr, "t.csv", text, strlen(text), &err);
    if (rc != GF_EINPUT) fail_msg("accepted: %s", text);
    if (!strstr(err.where, where) || !strstr(err.msg, msg))
        fail_msg("got %s: %s; want %s: ...%s...", err.where, err.msg, where, msg);
    gf_request_trace_free(&tr);
}

#define HDR "TIMESTAMP,ContextTokens,GeneratedTokens\n"

static void test_azure_bad_input(void **state)
{
    (void)state;
    bad("", "t.csv", "empty file");
    bad("time,ctx,gen\n", "t.csv:1", "header");
    bad(HDR "2023-11-16 18:15:46.1,abc,3\n", "t.csv:2", "column ContextTokens: value 'abc'");
    bad(HDR "2023-11-16 18:15:46.1,3,-4\n", "t.csv:2", "negative");
    bad(HDR "\n2023-11-16 18:15:46.1,3\n", "t.csv:3", "missing GeneratedTokens");
    bad(HDR "2023-11-16 18:15:46.1,3,4,5\n", "t.csv:2", "extra value");
    bad(HDR "2023-13-16 18:15:46,3,4\n", "t.csv:2", "month 13");
    bad(HDR "yesterday,3,4\n", "t.csv:2", "column TIMESTAMP");
    bad(HDR "\"2023-11-16 18:15:46\",3,4\n", "t.csv:2", "quoted");
    bad(HDR "2023-11-16 18:15:46,3,200000000\n", "t.csv:2", "above");
    bad(HDR "2023-11-16 18:15:46,3,4\n2021-11-16 18:15:46,3,4\n", "t.csv:3", "span");
    /* accepted: CRLF, a BOM, zones, unix seconds */
    const char *ok = "\xEF\xBB\xBF"
                     "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                     "2023-11-16T18:15:46Z,1,2\r\n2023-11-16 19:15:46+01:00,3,4\r\n1700158546,5,6";
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_error err = {0};
    assert_int_equal(gf_azure_trace_load_buffer(&tr, "ok.csv", ok, strlen(ok), &err), GF_OK);
    assert_int_equal(tr.total_requests, 3);
    assert_int_equal(tr.requests[tr.first], 3); /* all in one second */
    gf_request_trace_free(&tr);
    gf_request_trace_init(&tr);
    assert_int_equal(gf_azure_trace_load(&tr, "/nonexistent/trace.csv", &err), GF_EIO);
    assert_non_null(strstr(err.where, "/nonexistent/trace.csv"));
    gf_request_trace_free(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_mix),
        cmocka_unit_test(test_builtin_deterministic_and_bounded),
        cmocka_unit_test(test_builtin_daily_cycle),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_trace_bins),
        cmocka_unit_test(test_azure_fixture_and_trace_demand),
        cmocka_unit_test(test_azure_streaming_equals_buffer),
        cmocka_unit_test(test_azure_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
