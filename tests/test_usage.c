/* test_usage.c - GPU usage samples (src/io/usage.c, src/io/usage_fetch.c):
 * the CSV reader and its time formats, saved Prometheus answers from
 * tests/fixtures/prom (made by its regen.sh from a real Prometheus), and the
 * HTTP client against a scripted local server. The end-to-end run against a
 * real Prometheus is test_usage_prometheus.c. */
#include "testutil.h"
#include "io/usage.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fx {
    gf_usage u;
    gf_diags d;
    gf_error err;
    gf_sbuf buf;
} fx;

static int setup(void **state)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_usage_init(&f->u);
    gf_diags_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    gf_usage_free(&f->u);
    gf_diags_free(&f->d);
    gf_sbuf_free(&f->buf);
    test_free(f);
    return 0;
}

/* The formatted error ("where: msg") must be rc with needle in it. */
static void assert_error(gf_err rc, gf_err want, const gf_error *err, const char *needle)
{
    char buf[1100];
    gf_error_format(err, buf, sizeof buf);
    if (rc != want || !strstr(buf, needle))
        fail_msg("rc %d, error \"%s\"; expected %d with \"%s\"", rc, buf, want, needle);
}

static void read_all(const char *path, gf_sbuf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    char chunk[4096];
    size_t n;
    b->len = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        gf_sbuf_append(b, chunk, n);
    fclose(f);
}

/* --- CSV ----------------------------------------------------------------------- */

#define HEADER "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"

static gf_err load_csv(fx *f, const char *text)
{
    return gf_usage_load_csv_buffer(&f->u, "usage.csv", text, strlen(text), &f->err);
}

static void test_csv_good(void **state)
{
    fx *f = *state;
    static const char csv[] = "\xEF\xBB\xBF" HEADER "\r\n"
                              "1795507200,team-a,llm-0,server,GPU-1,4294967296,0.5\r\n"
                              "1795507215.25,team-a,llm-0,server,GPU-1,,0.25\r\n"
                              "\r\n"
                              "2026-11-24T08:00:30Z,team-a,llm-0,server,GPU-1,4294967296,\r\n"
                              "2026-11-24T09:00:45.5+01:00,team-b,emb-0,,,1e9,0\r\n"
                              "1795507260,team-b,emb-0,,,0,1.5"; /* no final newline */
    assert_int_equal(load_csv(f, csv), GF_OK);
    assert_int_equal(f->u.samples.n, 5);
    const gf_usage_sample *s = f->u.samples.v;
    assert_true(s[0].t == 1795507200.0);
    assert_string_equal(s[0].ns, "team-a");
    assert_string_equal(s[0].pod, "llm-0");
    assert_string_equal(s[0].container, "server");
    assert_string_equal(s[0].gpu_uuid, "GPU-1");
    assert_true(s[0].memory_bytes == 4294967296.0);
    assert_true(s[0].sm_util == 0.5);
    assert_true(s[1].t == 1795507215.25);
    assert_true(isnan(s[1].memory_bytes));
    assert_true(s[1].sm_util == 0.25);
    assert_true(s[2].t == 1795507230.0);
    assert_true(isnan(s[2].sm_util));
    assert_true(s[3].t == 1795507245.5);
    assert_string_equal(s[3].container, "");
    assert_string_equal(s[3].gpu_uuid, "");
    assert_true(s[3].memory_bytes == 1e9);
    assert_true(s[3].sm_util == 0.0);
    assert_true(s[4].sm_util == 1.5); /* one container over two GPUs' worth */
    /* interned: one copy of each name */
    assert_ptr_equal(s[0].ns, s[2].ns);
    assert_ptr_equal(s[0].gpu_uuid, s[1].gpu_uuid);
    assert_ptr_equal(s[3].pod, s[4].pod);
    assert_int_equal(f->u.names.n, 6); /* team-a llm-0 server GPU-1 team-b emb-0 */
    assert_ptr_equal(gf_usage_intern(&f->u, "llm-0"), s[0].pod);
    assert_int_equal(f->u.names.n, 6);
}

static void test_csv_header_only(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, HEADER "\n"), GF_OK);
    assert_int_equal(f->u.samples.n, 0);
}

static void test_csv_bad(void **state)
{
    fx *f = *state;
    static const struct {
        const char *row; /* line 3, after a good line 2 */
        const char *want;
    } cases[] = {
        {"1795507200,a,b,c,d,1,abc", "usage.csv:3: column sm_util: value 'abc' is not a number"},
        {"1795507200,a,b,c,d,1,nan", "usage.csv:3: column sm_util: value 'nan' is not a finite"},
        {"1795507200,a,b,c,d,-Inf,0.5",
         "usage.csv:3: column memory_bytes: value '-Inf' is not a finite number"},
        {"1795507200,a,b,c,d,NaN,", "column memory_bytes: value 'NaN' is not a finite number"},
        {"1795507200,a,b,c,d,-1,0.5", "usage.csv:3: column memory_bytes: value '-1' is negative"},
        {"1795507200,a,b,c,d,1,-0.1", "usage.csv:3: column sm_util: value '-0.1' is negative"},
        {"1795507200,a,b,c,d,2e15,0.5",
         "usage.csv:3: column memory_bytes: value '2e15' is above 2^50 bytes"},
        {"1795507200,a,b,c,d,1,65", "usage.csv:3: column sm_util: value '65' is above 64"},
        {"1795507200,a,b,c,d,1,0x1p-1", "column sm_util: value '0x1p-1' is not a number"},
        {"1795507200,a,b,c,d,1, 0.5", "column sm_util: value ' 0.5' is not a number"},
        {"1795507200,a,b,c,d,1e,0.5", "column memory_bytes: value '1e' is not a number"},
        {"1795507200,a,b,c,d,.,0.5", "column memory_bytes: value '.' is not a number"},
        {"1795507200,a,b,c,d,,", "usage.csv:3: column sm_util: value '' is empty and so is "
                                 "memory_bytes"},
        {"abc,a,b,c,d,1,0.5", "usage.csv:3: column timestamp: value 'abc' is not a valid time: "
                              "expected unix seconds or RFC 3339"},
        {"1795507200000,a,b,c,d,1,0.5",
         "column timestamp: value '1795507200000' is not a valid time: is after the year 9999 "
         "(milliseconds? expected seconds)"},
        {"-5,a,b,c,d,1,0.5", "column timestamp: value '-5' is not a valid time: is before 1970"},
        {"2026-02-29T00:00:00Z,a,b,c,d,1,0.5",
         "column timestamp: value '2026-02-29T00:00:00Z' is not a valid time: day 29 is not in "
         "2026-02 (1..28)"},
        {",a,b,c,d,1,0.5", "usage.csv:3: column timestamp: value '' is not a valid time"},
        {"1795507200,,b,c,d,1,0.5", "usage.csv:3: column namespace: value '' is empty"},
        {"1795507200,a,,c,d,1,0.5", "usage.csv:3: column pod: value '' is empty"},
        {"1795507200,a,b,c,d,1", "usage.csv:3: 6 columns, expected 7: missing sm_util"},
        {"1795507200,a,b,c,d,1,0.5,x",
         "usage.csv:3: 8 columns, expected 7: extra value 'x' after column sm_util"},
        {"1795507200,a,\"b\",c,d,1,0.5", "usage.csv:3: column pod: quoted fields are not"},
        {"1795507200,a,b\r,c,d,1,0.5", "usage.csv:3: column pod: carriage return not followed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, HEADER "\n1795507185,a,b,c,d,1,0.5\n%s\n", cases[i].row);
        gf_usage_free(&f->u);
        gf_usage_init(&f->u);
        memset(&f->err, 0, sizeof f->err);
        assert_error(load_csv(f, text), GF_EINPUT, &f->err, cases[i].want);
        assert_int_equal(f->u.samples.n, 1); /* the rows before the bad one stay */
    }
}

static void test_csv_bad_header(void **state)
{
    fx *f = *state;
    assert_error(load_csv(f, "time,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n"),
                 GF_EINPUT, &f->err,
                 "usage.csv:1: header 'time,namespace,pod,container,gpu_uuid,memory_bytes,"
                 "sm_util' is not the expected '" HEADER "'");
    assert_error(load_csv(f, "timestamp,namespace,pod\n"), GF_EINPUT, &f->err,
                 "usage.csv:1: header 'timestamp,namespace,pod' is not the expected");
    assert_error(load_csv(f, ""), GF_EINPUT, &f->err, "usage.csv: empty file; expected the header");
    assert_error(load_csv(f, "\r\n\r\n"), GF_EINPUT, &f->err, "usage.csv: empty file");
}

static void test_csv_file(void **state)
{
    fx *f = *state;
    char path[] = "/tmp/gpufrac-usage-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char csv[] = HEADER "\n"
                                     "1795507200,team-a,llm-0,server,GPU-1,4294967296,0.5\n"
                                     "1795507215,team-a,llm-0,server,GPU-1,4294967296,bad\n";
    assert_int_equal(write(fd, csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
    close(fd);
    gf_err rc = gf_usage_load_csv(&f->u, path, &f->err);
    char want[128];
    snprintf(want, sizeof want, "%s:3: column sm_util: value 'bad' is not a number", path);
    assert_error(rc, GF_EINPUT, &f->err, want);
    /* "-" reads standard input, named "(stdin)" in messages */
    assert_non_null(freopen(path, "rb", stdin));
    assert_error(gf_usage_load_csv(&f->u, "-", &f->err), GF_EINPUT, &f->err,
                 "(stdin):3: column sm_util: value 'bad' is not a number");
    assert_int_equal(f->u.samples.n, 2); /* one row from each load */
    unlink(path);
    assert_error(gf_usage_load_csv(&f->u, path, &f->err), GF_EIO, &f->err, "cannot open");
    gf_usage_free(NULL);
}

/* --- time stamps ------------------------------------------------------------------ */

static void test_time_good(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double t;
    } cases[] = {
        {"0", 0},
        {"1795507200", 1795507200},
        {"1795507200.125", 1795507200.125},
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-24T10:00:00Z", 1795514400},
        {"2026-11-24T10:00:00.125Z", 1795514400.125},
        {"2026-11-24T10:00:00.000000001Z", 1795514400.000000001},
        {"2026-11-24t10:00:00z", 1795514400},
        {"2026-11-24 10:00:00Z", 1795514400},
        {"2026-11-24T11:30:00+01:30", 1795514400},
        {"2026-11-24T05:00:00-05:00", 1795514400},
        {"2026-11-24T10:00:00-00:00", 1795514400},
        {"2026-11-25T09:59:00+23:59", 1795514400},
        {"2026-11-24T20:00:00-10:00", 1795514400 + 20 * 3600}, /* the next day in UTC */
        {"1969-12-31T23:00:00-01:00", 0},
        {"2024-02-29T00:00:00Z", 1709164800}, /* leap year */
        {"2000-02-29T12:00:00Z", 951825600},  /* divisible by 400: leap */
        {"2026-12-31T23:59:59Z", 1798761599},
        {"2027-01-01T00:00:00Z", 1798761600},
        /* leap seconds: 23:59:60 UTC counts as the next 00:00:00, as in POSIX time */
        {"2016-12-31T23:59:60Z", 1483228800},
        {"2016-12-31T23:59:60.5Z", 1483228800.5},
        {"2017-01-01T00:59:60+01:00", 1483228800},
        {"2016-12-31T18:59:60-05:00", 1483228800},
        {"9999-12-31T23:59:59Z", 253402300799},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double t = -1;
        char why[160] = "";
        gf_err rc = gf_usage_parse_time(cases[i].s, &t, why, sizeof why);
        if (rc != GF_OK || t != cases[i].t)
            fail_msg("%s: rc %d t %.9f (%s), expected %.9f", cases[i].s, rc, t, why, cases[i].t);
    }
}

static void test_time_bad(void **state)
{
    (void)state;
    static const struct {
        const char *s, *why;
    } cases[] = {
        {"", "expected unix seconds or RFC 3339"},
        {"1795507200.", "expected unix seconds or RFC 3339"},
        {"1e9", "expected unix seconds or RFC 3339"},
        {"17955O7200", "expected unix seconds or RFC 3339"},
        {"2026-11-24", "expected unix seconds or RFC 3339"},
        {"2026-11-24T10:00Z", "expected unix seconds or RFC 3339"},
        {"2026/11/24T10:00:00Z", "expected unix seconds or RFC 3339"},
        {"1900-02-29T00:00:00Z", "day 29 is not in 1900-02 (1..28)"}, /* century: no leap */
        {"2023-02-29T00:00:00Z", "day 29 is not in 2023-02"},
        {"2026-04-31T00:00:00Z", "day 31 is not in 2026-04 (1..30)"},
        {"2026-11-00T00:00:00Z", "day 0 is not in 2026-11"},
        {"2026-13-01T00:00:00Z", "month 13 is not 1..12"},
        {"2026-00-10T00:00:00Z", "month 0 is not 1..12"},
        {"2026-11-24T24:00:00Z", "time 24:00:00 is not a time of day"},
        {"2026-11-24T10:60:00Z", "time 10:60:00 is not a time of day"},
        {"2026-11-24T10:00:61Z", "time 10:00:61 is not a time of day"},
        {"2026-11-24T10:00:60Z", "second 60 is only valid for a leap second at 23:59:60 UTC"},
        {"2016-12-31T23:59:60+01:00", "second 60 is only valid"}, /* 22:59:60 UTC */
        {"2026-11-24T10:00:00", "no time zone"},
        {"2026-11-24T10:00:00+0100", "bad UTC offset"},
        {"2026-11-24T10:00:00+01", "bad UTC offset"},
        {"2026-11-24T10:00:00+24:00", "UTC offset 24:00 is out of range"},
        {"2026-11-24T10:00:00+01:60", "UTC offset 01:60 is out of range"},
        {"2026-11-24T10:00:00.Z", "no digits after the decimal point"},
        {"2026-11-24T10:00:00,5Z", "no time zone"},
        {"2026-11-24T10:00:00Zjunk", "unexpected characters after the time zone"},
        {"2026-11-24T10:00:00+01:00 ", "unexpected characters after the time zone"},
        {"1969-12-31T23:59:59Z", "is before 1970"},
        {"9999-12-31T23:59:59-00:01", "is after the year 9999"},
        {"-1", "is before 1970"},
        {"253402300800", "is after the year 9999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double t = 42;
        char why[160] = "";
        gf_err rc = gf_usage_parse_time(cases[i].s, &t, why, sizeof why);
        if (rc != GF_EINPUT || !strstr(why, cases[i].why) || t != 42)
            fail_msg("'%s': rc %d, why \"%s\"; expected \"%s\"", cases[i].s, rc, why, cases[i].why);
    }
}

/* --- Prometheus answers ------------------------------------------------------------ */

static gf_err load_prom_text(fx *f, const char *text, gf_usage_signal sig)
{
    return gf_usage_load_prom_json(&f->u, "prom.json", text, strlen(text), sig, &f->d, &f->err);
}

static gf_err load_prom(fx *f, const char *fixture, gf_usage_signal sig)
{
    char name[128];
    snprintf(name, sizeof name, "prom/%s", fixture);
    read_all(gf_test_fixture(name), &f->buf);
    return gf_usage_load_prom_json(&f->u, fixture, f->buf.s, f->buf.len, sig, &f->d, &f->err);
}

/* The sample for pod at t, or NULL. */
static const gf_usage_sample *sample_at(const gf_usage *u, const char *pod, double t)
{
    for (size_t i = 0; i < u->samples.n; i++)
        if (!strcmp(u->samples.v[i].pod, pod) && u->samples.v[i].t == t) return &u->samples.v[i];
    return NULL;
}

#define LLM "llm-chat-7d9f8b6c5d-x2lqf"
#define EMB "embedder-5f6c7d8e9a-p0d7z"
#define RER "reranker-9a8b7c6d5e-q4v1n"
#define UUID0 "GPU-1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11"
#define UUID1 "GPU-7c2d9e10-3b4a-4c5d-8e6f-0a1b2c3d4e5f"

static void test_prom_matrix(void **state)
{
    fx *f = *state;
    assert_int_equal(load_prom(f, "matrix_memory.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.samples.n, 12);
    assert_int_equal(f->u.nan_skipped, 0);
    const gf_usage_sample *s = sample_at(&f->u, RER, 1795507815);
    assert_non_null(s);
    assert_string_equal(s->ns, "team-b");
    assert_string_equal(s->container, "rerank");
    assert_string_equal(s->gpu_uuid, UUID1);
    assert_true(s->memory_bytes == 6586105856.0);
    assert_true(isnan(s->sm_util));
    s = sample_at(&f->u, EMB, 1795507785);
    assert_true(s->memory_bytes == 4892655616.0);
    assert_string_equal(s->gpu_uuid, UUID0);
    assert_int_equal(f->d.msgs.n, 0);

    /* the same answer read with an explicit signal */
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    assert_int_equal(load_prom(f, "matrix_memory.json", GF_USAGE_MEMORY), GF_OK);
    assert_int_equal(f->u.samples.n, 12);
    /* ... but not as the other one */
    assert_error(load_prom(f, "matrix_memory.json", GF_USAGE_SM), GF_EINPUT, &f->err,
                 "matrix_memory.json: data.result[0].metric: series of "
                 "gpufrac_pod_gpu_memory_used_bytes in an answer read as "
                 "gpufrac_pod_gpu_sm_utilization_ratio");
}

static void test_prom_nan(void **state)
{
    fx *f = *state;
    assert_int_equal(load_prom(f, "matrix_sm_nan.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.nan_skipped, 4);
    assert_int_equal(f->u.samples.n, 3 * 6 - 4);
    assert_null(sample_at(&f->u, EMB, 1795507800));
    assert_null(sample_at(&f->u, EMB, 1795507845));
    const gf_usage_sample *s = sample_at(&f->u, EMB, 1795507785);
    assert_true(s->sm_util == 0.5856901913124621);
    assert_true(isnan(s->memory_bytes));
    s = sample_at(&f->u, EMB, 1795507860);
    assert_true(s->sm_util == 0.47373163545758895);
    s = sample_at(&f->u, RER, 1795507785);
    assert_true(s->sm_util == 0.17456534416106956);
}

static void test_prom_functions(void **state)
{
    fx *f = *state;
    /* max_over_time() drops __name__: the caller must say what it is */
    assert_error(load_prom(f, "matrix_max_over_time.json", GF_USAGE_BY_NAME), GF_EINPUT, &f->err,
                 "matrix_max_over_time.json: data.result[0].metric: no __name__ label is not a "
                 "gpufrac usage metric");
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    assert_int_equal(load_prom(f, "matrix_max_over_time.json", GF_USAGE_SM), GF_OK);
    assert_int_equal(f->u.samples.n, 9);
    const gf_usage_sample *s = sample_at(&f->u, RER, 1795510830.125); /* milliseconds kept */
    assert_non_null(s);
    assert_true(s->sm_util == 0.9496892249365629);

    /* a range selector through /api/v1/query is a matrix too */
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    assert_int_equal(load_prom(f, "matrix_range_selector.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.samples.n, 15);
    assert_true(sample_at(&f->u, EMB, 1795510740)->memory_bytes == 4937744384.0);

    /* a division by zero gives +Inf */
    assert_error(load_prom(f, "vector_inf.json", GF_USAGE_SM), GF_EINPUT, &f->err,
                 "vector_inf.json: data.result[0].value[1]: \"+Inf\" is not a usage value");
}

static void test_prom_vector(void **state)
{
    fx *f = *state;
    assert_int_equal(load_prom(f, "vector_memory.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.samples.n, 3);
    assert_true(sample_at(&f->u, LLM, 1795510800.5)->memory_bytes == 2734686208.0);

    /* a selector matching both metrics: each series by its name */
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    assert_int_equal(load_prom(f, "vector_both.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.samples.n, 2);
    assert_true(f->u.samples.v[0].memory_bytes == 6461325312.0);
    assert_true(isnan(f->u.samples.v[0].sm_util));
    assert_true(f->u.samples.v[1].sm_util == 0.9457733100626917);
    assert_true(isnan(f->u.samples.v[1].memory_bytes));
    assert_ptr_equal(f->u.samples.v[0].pod, f->u.samples.v[1].pod);
    assert_error(load_prom(f, "vector_both.json", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "vector_both.json: data.result[1].metric: series of "
                 "gpufrac_pod_gpu_sm_utilization_ratio in an answer read as");

    /* aggregated: container and gpu_uuid gone, namespace and pod kept */
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    assert_int_equal(load_prom(f, "sum_by_pod.json", GF_USAGE_MEMORY), GF_OK);
    assert_int_equal(f->u.samples.n, 3);
    const gf_usage_sample *s = sample_at(&f->u, RER, 1795510800);
    assert_string_equal(s->container, "");
    assert_string_equal(s->gpu_uuid, "");
    assert_true(s->memory_bytes == 6461325312.0);
    assert_error(load_prom(f, "sum_by_namespace.json", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "sum_by_namespace.json: data.result[0].metric: no \"pod\" label");
}

static void test_prom_other_answers(void **state)
{
    fx *f = *state;
    assert_int_equal(load_prom(f, "empty.json", GF_USAGE_MEMORY), GF_OK);
    assert_int_equal(f->u.samples.n, 0);
    assert_error(load_prom(f, "scalar.json", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "scalar.json: data.resultType: \"scalar\": expected \"matrix\" or \"vector\"");
    assert_error(load_prom(f, "error_bad_data.json", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "error_bad_data.json: Prometheus answered an error: bad_data: 1:39: parse "
                 "error: unclosed left parenthesis");
    assert_error(load_prom(f, "error_execution.json", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "error_execution.json: Prometheus answered an error: execution: query "
                 "processing would load too many samples");
    assert_int_equal(f->d.msgs.n, 0);

    assert_int_equal(load_prom(f, "warnings.json", GF_USAGE_BY_NAME), GF_OK);
    assert_int_equal(f->u.samples.n, 3);
    assert_int_equal(f->d.msgs.n, 1);
    assert_true(gf_test_diag_has(&f->d, "warnings.json: warnings[0]: Prometheus warns: "
                                        "remote_read: error sending request"));
}

/* Replaces the first `from` in the fixture's text by `to` and loads it. */
static gf_err load_mutated(fx *f, const char *fixture, const char *from, const char *to,
                           gf_usage_signal sig)
{
    char name[128];
    snprintf(name, sizeof name, "prom/%s", fixture);
    read_all(gf_test_fixture(name), &f->buf);
    const char *at = strstr(f->buf.s, from);
    if (!at) fail_msg("%s not in %s", from, fixture);
    gf_sbuf m = GF_SBUF_INIT;
    gf_sbuf_append(&m, f->buf.s, (size_t)(at - f->buf.s));
    gf_sbuf_puts(&m, to);
    gf_sbuf_puts(&m, at + strlen(from));
    gf_usage_free(&f->u);
    gf_usage_init(&f->u);
    memset(&f->err, 0, sizeof f->err);
    gf_err rc = gf_usage_load_prom_json(&f->u, "prom.json", m.s, m.len, sig, &f->d, &f->err);
    gf_sbuf_free(&m);
    return rc;
}

static void test_prom_bad(void **state)
{
    fx *f = *state;
    static const struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"6586105856\"", "\"abc\"",
         "prom.json: data.result[1].values[2][1]: \"abc\" is not a number"},
        {"\"6586105856\"", "\"-1\"",
         "prom.json: data.result[1].values[2][1]: memory \"-1\" is negative"},
        {"\"6586105856\"", "\"2e15\"", "memory \"2e15\" is above 2^50 bytes"},
        {"\"6586105856\"", "\"-Inf\"", "data.result[1].values[2][1]: \"-Inf\" is not a usage"},
        {"\"6586105856\"", "\"nan\"", "data.result[1].values[2][1]: \"nan\" is not a number"},
        {"\"6586105856\"", "\"a\\nb\"", "\"a\\x0ab\" is not a number"},
        {"\"6586105856\"", "6586105856",
         "data.result[1].values[2][1]: expected a value string, got a number"},
        {"[1795507815,\"6586105856\"]", "[\"1795507815\",\"6586105856\"]",
         "data.result[1].values[2][0]: expected a timestamp number, got a string"},
        {"[1795507815,\"6586105856\"]", "[1795507815000,\"6586105856\"]",
         "data.result[1].values[2][0]: timestamp 1795507815000 is after the year 9999 "
         "(milliseconds? expected seconds)"},
        {"[1795507815,\"6586105856\"]", "[-1,\"6586105856\"]", "is before 1970"},
        {"[1795507815,\"6586105856\"]", "[1795507815,\"6586105856\",1]",
         "data.result[1].values[2]: expected a [timestamp, \"value\"] pair"},
        {"[1795507815,\"6586105856\"]", "{}",
         "data.result[1].values[2]: expected a [timestamp, \"value\"] pair, got an object"},
        {"\"values\":[[1795507785,\"6755975168\"]", "\"values\":{},\"x\":[[1795507785,\"1\"]",
         "data.result[1].values: expected an array, got an object"},
        {"\"values\":[[1795507785,\"6755975168\"]", "\"vals\":[[1795507785,\"1\"]",
         "data.result[1]: no \"values\" member"},
        {"\"pod\":\"reranker-9a8b7c6d5e-q4v1n\"", "\"pod\":5",
         "data.result[1].metric.pod: expected a label value string, got a number"},
        {"\"pod\":\"reranker-9a8b7c6d5e-q4v1n\"", "\"pod\":\"\"",
         "data.result[1].metric: no \"pod\" label"},
        {"\"namespace\":\"team-b\",", "", "data.result[1].metric: no \"namespace\" label"},
        {"\"__name__\":\"gpufrac_pod_gpu_memory_used_bytes\"", "\"__name__\":\"node_load1\"",
         "data.result[0].metric: __name__ \"node_load1\" is not a gpufrac usage metric"},
        {"{\"metric\":", "{\"labels\":", "data.result[0]: no \"metric\" member"},
        {"\"resultType\":\"matrix\"", "\"resultType\":\"string\"",
         "data.resultType: \"string\": expected"},
        {"\"resultType\":\"matrix\"", "\"resultType\":1",
         "data.resultType: expected a string, got a number"},
        {"\"resultType\":\"matrix\"", "\"resultType\":\"vector\"",
         "data.result[0]: no \"value\" member"},
        {"\"status\":\"success\"", "\"status\":\"ok\"",
         "prom.json: status: \"ok\" is neither \"success\" nor \"error\""},
        {"\"status\":\"success\"", "\"state\":\"success\"",
         "prom.json: (top level): no \"status\" member: not a Prometheus API answer"},
        {"\"data\":", "\"dat\":", "prom.json: (top level): no \"data\" member"},
        {"\"result\":[", "\"result\":[7,", "data.result[0]: expected an object, got a number"},
        {"]]}]}}", "]]}]}", "prom.json: line 1, column"},
        {"{\"status\"", "[{\"status\"", "prom.json: line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_err rc =
            load_mutated(f, "matrix_memory.json", cases[i].from, cases[i].to, GF_USAGE_BY_NAME);
        assert_error(rc, GF_EINPUT, &f->err, cases[i].want);
    }
    /* the same for an SM series: its own limits */
    assert_error(
        load_mutated(f, "matrix_sm_nan.json", "\"0.5856901913124621\"", "\"65\"", GF_USAGE_BY_NAME),
        GF_EINPUT, &f->err, "data.result[0].values[0][1]: SM utilization \"65\" is above 64");
    assert_error(load_mutated(f, "vector_memory.json", "\"value\":[1795510800.500,",
                              "\"value\":[1795510800.500]", GF_USAGE_BY_NAME),
                 GF_EINPUT, &f->err, "prom.json: line 1");
    assert_error(load_mutated(f, "vector_memory.json", "[1795510800.500,\"4598005760\"]", "[]",
                              GF_USAGE_BY_NAME),
                 GF_EINPUT, &f->err, "data.result[0].value: expected a [timestamp, \"value\"]");

    /* shapes no fixture has */
    assert_error(load_prom_text(f, "[]", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "prom.json: (top level): expected an object, got an array");
    assert_error(load_prom_text(f, "", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "prom.json: line 1, column 0: invalid JSON");
    assert_error(load_prom_text(f,
                                "{\"status\":\"error\",\"errorType\":\"bad\\ndata\","
                                "\"error\":\"x\\ny\"}",
                                GF_USAGE_MEMORY),
                 GF_EINPUT, &f->err, "prom.json: Prometheus answered an error: bad data: x y");
    assert_error(load_prom_text(f, "{\"status\":\"error\"}", GF_USAGE_MEMORY), GF_EINPUT, &f->err,
                 "prom.json: Prometheus answered an error: (no errorType): (no error message)");
    assert_error(load_prom_text(f,
                                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                                "\"result\":[{\"metric\":{\"namespace\":\"a\",\"pod\":\"b\"},"
                                "\"histograms\":[]}]}}",
                                GF_USAGE_MEMORY),
                 GF_EINPUT, &f->err,
                 "prom.json: data.result[0]: native histogram samples are not usage values");
    assert_error(
        load_prom_text(f, "{\"status\":\"success\",\"status\":\"success\"}", GF_USAGE_MEMORY),
        GF_EINPUT, &f->err, "duplicate object key");
    assert_error(
        load_prom_text(f,
                       "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                       "\"result\":[{\"metric\":{\"namespace\":\"a\",\"pod\":\"b\\u0000\"},"
                       "\"value\":[1,\"1\"]}]}}",
                       GF_USAGE_MEMORY),
        GF_EINPUT, &f->err, "prom.json: line 1");
}

/* --- HTTP ---------------------------------------------------------------------------- */

/* A scripted HTTP/1.0 server in a child process: it answers the i-th
 * connection with replies[i] ("%R" in it becomes the request line), then
 * exits. alarm() ends it should the test not connect. */
typedef struct server {
    pid_t pid;
    int port;
} server;

static void serve(int lfd, const char *const *replies, size_t n)
{
    alarm(20);
    for (size_t i = 0; i < n; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) _exit(1);
        char req[8192];
        size_t got = 0;
        while (got + 1 < sizeof req) {
            ssize_t r = read(c, req + got, sizeof req - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[got] = '\0';
        char line[4096];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(req, "\r\n"), req);
        static char out[1 << 20];
        size_t o = 0;
        for (const char *p = replies[i]; *p && o + sizeof line < sizeof out; p++) {
            if (p[0] == '%' && p[1] == 'R') {
                o += (size_t)snprintf(out + o, sizeof out - o, "%s", line);
                p++;
            } else {
                out[o++] = *p;
            }
        }
        for (size_t w = 0; w < o;) {
            ssize_t r = write(c, out + w, o - w);
            if (r <= 0) break;
            w += (size_t)r;
        }
        shutdown(c, SHUT_WR);
        while (read(c, req, sizeof req) > 0) {
        }
        close(c);
    }
    _exit(0);
}

static server start_server(const char *const *replies, size_t n)
{
    server s = {-1, 0};
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    s.port = ntohs(a.sin_port);
    fflush(NULL);
    s.pid = fork();
    assert_true(s.pid >= 0);
    if (s.pid == 0) serve(lfd, replies, n);
    close(lfd);
    return s;
}

static void stop_server(server *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
}

/* A port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#define OK_JSON(body) "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" body

static void test_fetch_ok(void **state)
{
    fx *f = *state;
    const char *replies[] = {OK_JSON("{\"request\":\"%R\"}")};
    server s = start_server(replies, 1);
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/prom/", s.port);
    gf_err rc = gf_prom_query_range(base, "max_over_time(x{pod=~\"a.*\"}[5m]) / 1e9", 1795507200,
                                    1795514400.5, 15, &f->buf, &f->err);
    stop_server(&s);
    assert_int_equal(rc, GF_OK);
    /* the path prefix kept, one '/', the query percent-encoded, milliseconds */
    assert_string_equal(f->buf.s,
                        "{\"request\":\"GET /prom/api/v1/query_range?query=max_over_time%28x%7Bpod"
                        "%3D~%22a.%2A%22%7D%5B5m%5D%29%20%2F%201e9&start=1795507200.000&end="
                        "1795514400.500&step=15.000 HTTP/1.1\"}");
}

static void test_fetch_errors(void **state)
{
    fx *f = *state;
    const char *replies[] = {
        "HTTP/1.0 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: "
        "unclosed left parenthesis\"}",
        "HTTP/1.0 503 Service Unavailable\r\n\r\nService Unavailable\n",
        "HTTP/1.0 422 Unprocessable Entity\r\n\r\n{\"status\":\"error\",\"errorType\":"
        "\"execution\",\"error\":\"query processing would load too many samples\"}",
        "HTTP/1.0 500 Internal Server Error\r\n\r\n",
        "not http at all\r\n\r\n",
    };
    server s = start_server(replies, 5);
    char base[128];
    snprintf(base, sizeof base, "http://user:s3cret@127.0.0.1:%d", s.port);
    gf_err rc = gf_prom_query_range(base, "rate(x", 1, 2, 1, &f->buf, &f->err);
    char want[256];
    snprintf(want, sizeof want,
             "http://user@127.0.0.1:%d/api/v1/query_range: HTTP 400: bad_data: 1:5: parse "
             "error: unclosed left parenthesis",
             s.port);
    assert_error(rc, GF_EINPUT, &f->err, want);
    assert_null(strstr(f->err.where, "s3cret"));
    assert_int_equal(f->buf.len, 0);
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "HTTP 503: Service Unavailable");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EINPUT, &f->err,
                 "HTTP 422: execution: query processing would load too many samples");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "HTTP 500: (empty body)");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "/api/v1/query_range: ");
    stop_server(&s);

    snprintf(base, sizeof base, "http://127.0.0.1:%d", closed_port());
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "Couldn't connect to server");
}

static void test_fetch_redirects(void **state)
{
    fx *f = *state;
    /* relative Locations stay on this server; absolute ones elsewhere do not */
    const char *replies[] = {
        "HTTP/1.0 302 Found\r\nLocation: /moved/api\r\n\r\n",
        OK_JSON("{\"request\":\"%R\"}"),
        "HTTP/1.0 301 Moved\r\nLocation: http://evil.example/api/v1/query_range\r\n\r\n",
        "HTTP/1.0 307 Temporary Redirect\r\nLocation: https://127.0.0.1/x\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /1\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /2\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /3\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /4\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /5\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /6\r\n\r\n",
        "HTTP/1.0 302 Found\r\n\r\n",
    };
    server s = start_server(replies, sizeof replies / sizeof replies[0]);
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", s.port);
    assert_int_equal(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_OK);
    assert_string_equal(f->buf.s, "{\"request\":\"GET /moved/api HTTP/1.1\"}");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "HTTP 301 redirects to another host (http://evil.example/api/v1/query_range); "
                 "not followed");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "HTTP 307 redirects to another host (https://127.0.0.1/x)");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "more than 5 redirects");
    assert_error(gf_prom_query_range(base, "x", 1, 2, 1, &f->buf, &f->err), GF_EIO, &f->err,
                 "HTTP 302 without a Location");
    stop_server(&s);
}

static void test_fetch_size_cap(void **state)
{
    fx *f = *state;
    static char big[3000], chunked[3000];
    /* with Content-Length: refused before reading; without: cut while reading */
    memset(big, 0, sizeof big);
    snprintf(big, sizeof big, "HTTP/1.0 200 OK\r\nContent-Length: 2000\r\n\r\n");
    memset(big + strlen(big), 'x', 2000);
    snprintf(chunked, sizeof chunked, "HTTP/1.0 200 OK\r\n\r\n");
    memset(chunked + strlen(chunked), 'y', 2000);
    const char *replies[] = {big, chunked, chunked};
    server s = start_server(replies, 3);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query_range?query=x", s.port);
    char want[128];
    snprintf(want, sizeof want,
             "http://127.0.0.1:%d/api/v1/query_range: the answer is larger "
             "than 1000 bytes",
             s.port);
    assert_error(gf_prom_get(url, 1000, &f->buf, &f->err), GF_EIO, &f->err, want);
    assert_error(gf_prom_get(url, 1000, &f->buf, &f->err), GF_EIO, &f->err, want);
    assert_int_equal(f->buf.len, 0);
    assert_int_equal(gf_prom_get(url, 2000, &f->buf, &f->err), GF_OK);
    assert_int_equal(f->buf.len, 2000);
    stop_server(&s);
}

static void test_fetch_arguments(void **state)
{
    fx *f = *state;
    assert_error(gf_prom_query_range("ftp://h/", "x", 1, 2, 1, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "ftp://h/api/v1/query_range: the URL must start with http://");
    assert_error(gf_prom_query_range("127.0.0.1:9090", "x", 1, 2, 1, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "must start with http:// or https://");
    assert_error(gf_prom_query_range("http://h/?a=b", "x", 1, 2, 1, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "must not carry a query");
    assert_error(gf_prom_query_range("", "x", 1, 2, 1, &f->buf, &f->err), GF_EUSAGE, &f->err,
                 "no Prometheus URL");
    assert_error(gf_prom_query_range("http://h", "", 1, 2, 1, &f->buf, &f->err), GF_EUSAGE, &f->err,
                 "empty PromQL query");
    assert_error(gf_prom_query_range("http://h", "x", 2, 1, 1, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "bad time range");
    assert_error(gf_prom_query_range("http://h", "x", NAN, 1, 1, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "bad time range");
    assert_error(gf_prom_query_range("http://h", "x", 1, 2, 0, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "bad step 0");
    assert_error(gf_prom_query_range("http://h", "x", 1, 2, INFINITY, &f->buf, &f->err), GF_EUSAGE,
                 &f->err, "bad step");
    assert_error(gf_prom_get("http://[::1", 100, &f->buf, &f->err), GF_EUSAGE, &f->err,
                 "not a valid URL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_header_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_file, setup, teardown),
        cmocka_unit_test(test_time_good),
        cmocka_unit_test(test_time_bad),
        cmocka_unit_test_setup_teardown(test_prom_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prom_nan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prom_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prom_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prom_other_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prom_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
