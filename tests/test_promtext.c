/* test_promtext.c - the exporters' text format read for usage
 * (io/promtext.h): what gpufrac-exporter writes, escapes, timestamps,
 * unattributed and NaN lines, every malformed line named by its number;
 * the writing helpers; and a parallel scrape of endpoints served by
 * io/http_server.h, one of them failing. */
#include "testutil.h"
#include "io/http_server.h"
#include "io/promtext.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MEM GF_USAGE_METRIC_MEMORY
#define SM GF_USAGE_METRIC_SM

static gf_err load(gf_usage *u, const char *text, size_t *skipped, gf_error *err)
{
    return gf_promtext_load_usage(u, "exp:9402/metrics", text, strlen(text), 1000.0, skipped, err);
}

static void test_exporter_text(void **state)
{
    (void)state;
    const char *text =
        "# HELP " MEM " GPU memory used by the container's processes on this GPU.\n"
        "# TYPE " MEM " gauge\n" MEM
        "{namespace=\"team-a\",pod=\"llm-chat-0\",container=\"server\",gpu_uuid=\"GPU-a\","
        "gpu_index=\"0\"} 8589934592\n" MEM
        "{namespace=\"\",pod=\"unattributed\",container=\"\",gpu_uuid=\"GPU-b\",gpu_index=\"1\","
        "unattributed=\"host\"} 524288000\n"
        "gpufrac_gpu_info{gpu_uuid=\"GPU-a\",model=\"NVIDIA L4\"} 1\n"
        "# TYPE " SM " gauge\n" SM
        "{namespace=\"team-a\",pod=\"llm-chat-0\",container=\"server\",gpu_uuid=\"GPU-a\","
        "gpu_index=\"0\"} 0.4 1795700000123\n" SM
        "{namespace=\"team-b\",pod=\"odd\\\"name\\\\x\\n\",container=\"c\",} NaN\r\n" SM
        " {pod=\"p\",namespace=\"n\"}   1e-1  \n"
        "\n";
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    size_t skipped = 0;
    assert_int_equal(load(&u, text, &skipped, &err), GF_OK);
    assert_int_equal(skipped, 2); /* the unattributed line, the NaN */
    assert_int_equal(u.samples.n, 3);
    const gf_usage_sample *s = &u.samples.v[0];
    assert_string_equal(s->ns, "team-a");
    assert_string_equal(s->pod, "llm-chat-0");
    assert_string_equal(s->container, "server");
    assert_string_equal(s->gpu_uuid, "GPU-a");
    assert_true(s->memory_bytes == 8589934592.0);
    assert_true(isnan(s->sm_util));
    assert_true(s->t == 1000.0);
    s = &u.samples.v[1];
    assert_true(s->sm_util == 0.4);
    assert_true(isnan(s->memory_bytes));
    assert_true(fabs(s->t - 1795700000.123) < 1e-6); /* its own timestamp */
    s = &u.samples.v[2];
    assert_string_equal(s->ns, "n");
    assert_string_equal(s->pod, "p");
    assert_string_equal(s->container, "");
    assert_true(fabs(s->sm_util - 0.1) < 1e-12);
    /* the same interned name twice is one string */
    assert_ptr_equal(u.samples.v[0].pod, u.samples.v[1].pod);
    gf_usage_free(&u);

    /* escapes are read */
    gf_usage_init(&u);
    assert_int_equal(load(&u, MEM "{namespace=\"a\\\\b\",pod=\"q\\\"x\\ny\"} 5\n", NULL, &err),
                     GF_OK);
    assert_string_equal(u.samples.v[0].ns, "a\\b");
    assert_string_equal(u.samples.v[0].pod, "q\"x\ny");
    gf_usage_free(&u);
}

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text, *where, *msg;
    } cases[] = {
        {"# ok\n" MEM "{namespace=\"a\",pod=\"b\"}\n", "exp:9402/metrics:2",
         "expected a value after the metric"},
        {MEM "{namespace=\"a\",pod=\"b\"} abc\n", "exp:9402/metrics:1",
         "value \"abc\" is not a finite number"},
        {MEM "{namespace=\"a\",pod=\"b\"} +Inf\n", "exp:9402/metrics:1", "not a finite number"},
        {MEM "{namespace=\"a\",pod=\"b\"} -5\n", "exp:9402/metrics:1", "memory -5 is outside"},
        {SM "{namespace=\"a\",pod=\"b\"} 65\n", "exp:9402/metrics:1", "SM share 65 is outside"},
        {MEM "{namespace=\"a,pod=\"b\"} 5\n", "exp:9402/metrics:1", "expected ',' or '}'"},
        {MEM "{namespace=\"a\" pod=\"b\"} 5\n", "exp:9402/metrics:1", "expected ',' or '}'"},
        {MEM "{namespace=a} 5\n", "exp:9402/metrics:1", "bad label"},
        {MEM "{namespace=\"a\\q\"} 5\n", "exp:9402/metrics:1", "closing quote"},
        {MEM "{namespace=\"a\",pod=\"b\"} 5 12x\n", "exp:9402/metrics:1", "whole milliseconds"},
        /* fuzz_promtext's finding: the timestamp out of range (overflowing,
         * negative, past 9999) made a sample no other reader would take */
        {MEM "{namespace=\"a\",pod=\"b\"} 1.5e9 17957000000007957000000000\n", "exp:9402/metrics:1",
         "the timestamp 17957000000007957000000000 ms is outside"},
        {MEM "{namespace=\"a\",pod=\"b\"} 1.5e9 -5\n", "exp:9402/metrics:1", "is outside 0.."},
        {MEM "{namespace=\"a\",pod=\"b\"} 1.5e9 253402300800000\n", "exp:9402/metrics:1",
         "is outside 0.."},
        {"9bad 1\n", "exp:9402/metrics:1", "expected a metric name"},
        {MEM "{namespace=\"a\"", "exp:9402/metrics:1", "expected ',' or '}'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gf_usage u;
        gf_usage_init(&u);
        gf_error err = {0};
        gf_err rc = load(&u, cases[i].text, NULL, &err);
        if (rc != GF_EINPUT || strcmp(err.where, cases[i].where) || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, \"%s: %s\"", i, rc, err.where, err.msg);
        gf_usage_free(&u);
    }
    /* other metrics are not read at all, whatever they hold */
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    assert_int_equal(load(&u, "other_metric{x=\"\\q\"} not-a-number\n", NULL, &err), GF_OK);
    assert_int_equal(u.samples.n, 0);
    gf_usage_free(&u);
}

static void test_writing(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    gf_promtext_escape_label(&b, "a\\b\"c\nd");
    assert_string_equal(gf_sbuf_str(&b), "a\\\\b\\\"c\\nd");
    b.len = 0;
    gf_promtext_format_value(&b, 0.1);
    gf_sbuf_puts(&b, " ");
    gf_promtext_format_value(&b, 1e300);
    gf_sbuf_puts(&b, " ");
    gf_promtext_format_value(&b, NAN);
    gf_sbuf_puts(&b, " ");
    gf_promtext_format_value(&b, -INFINITY);
    gf_sbuf_puts(&b, " ");
    gf_promtext_format_value(&b, 8589934592.0);
    gf_sbuf_puts(&b, " ");
    gf_promtext_format_value(&b, 1.0 / 3.0);
    assert_string_equal(gf_sbuf_str(&b), "0.1 1e+300 NaN -Inf 8589934592 0.33333333333333331");
    b.len = 0;
    gf_promtext_family(&b, "x_total", "counter", "line\none \\ two");
    assert_string_equal(gf_sbuf_str(&b),
                        "# HELP x_total line\\none \\\\ two\n# TYPE x_total counter\n");
    gf_sbuf_free(&b);
}

/* Two exporters served by http_server, one path that 404s, one port where
 * nobody listens: the good ones are read, the others reported. */
static void test_scrape(void **state)
{
    (void)state;
    gf_http_server *h = NULL;
    char bound[100];
    gf_error err = {0};
    assert_int_equal(gf_http_start("127.0.0.1:0", &h, bound, sizeof bound, &err), GF_OK);
    const char *one = MEM "{namespace=\"a\",pod=\"p1\",container=\"c\",gpu_uuid=\"G\"} 100\n";
    const char *two = SM "{namespace=\"a\",pod=\"p2\"} 0.5\n" MEM "{namespace=\"a\"} oops\n";
    const char *three = MEM "{namespace=\"b\",pod=\"p3\"} 7\n";
    gf_http_publish(h, "/one", 200, GF_PROMTEXT_CONTENT_TYPE, one, strlen(one));
    gf_http_publish(h, "/two", 200, GF_PROMTEXT_CONTENT_TYPE, two, strlen(two));
    gf_http_publish(h, "/three", 200, GF_PROMTEXT_CONTENT_TYPE, three, strlen(three));
    char u1[200], u2[200], u3[200], u4[200], u5[200];
    snprintf(u1, sizeof u1, "http://%s/one", bound);
    snprintf(u2, sizeof u2, "http://%s/two", bound);
    snprintf(u3, sizeof u3, "http://%s/three", bound);
    snprintf(u4, sizeof u4, "http://%s/missing", bound);
    snprintf(u5, sizeof u5, "http://127.0.0.1:9/metrics");
    const char *urls[] = {u1, u2, u3, u4, u5};
    gf_usage u;
    gf_usage_init(&u);
    gf_diags d;
    gf_diags_init(&d);
    size_t failed = gf_promtext_scrape(urls, 5, 5000, 1 << 20, 42.0, &u, NULL, &d);
    assert_int_equal(failed, 3);
    assert_int_equal(u.samples.n, 2); /* /two's good line is dropped with its bad one */
    assert_string_equal(u.samples.v[0].pod, "p1");
    assert_string_equal(u.samples.v[1].pod, "p3");
    assert_true(u.samples.v[0].t == 42.0);
    assert_true(gf_test_diag_has(&d, "/missing: scrape: HTTP 404"));
    assert_true(gf_test_diag_has(&d, "/two:2: value \"oops\" is not a finite number"));
    assert_true(gf_test_diag_has(&d, "127.0.0.1:9/metrics: scrape: "));
    /* an answer above the size limit */
    gf_usage_free(&u);
    gf_usage_init(&u);
    gf_diags_free(&d);
    gf_diags_init(&d);
    assert_int_equal(gf_promtext_scrape(urls, 1, 5000, 10, 42.0, &u, NULL, &d), 1);
    assert_true(gf_test_diag_has(&d, "larger than 10 bytes"));
    assert_int_equal(gf_promtext_scrape(urls, 0, 5000, 10, 42.0, &u, NULL, &d), 0);
    gf_usage_free(&u);
    gf_diags_free(&d);
    gf_http_stop(h);
}

static void test_http_server(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    gf_error err = {0};
    assert_int_equal(gf_http_parse_listen(":9403", host, sizeof host, &port, &err), GF_OK);
    assert_string_equal(host, "");
    assert_int_equal(port, 9403);
    assert_int_equal(gf_http_parse_listen("[::1]:0", host, sizeof host, &port, &err), GF_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(gf_http_parse_listen("9403", host, sizeof host, &port, &err), GF_EUSAGE);
    assert_int_equal(gf_http_parse_listen("::1:80", host, sizeof host, &port, &err), GF_EUSAGE);
    assert_int_equal(gf_http_parse_listen("a:70000", host, sizeof host, &port, &err), GF_EUSAGE);
    assert_int_equal(gf_http_parse_listen("", host, sizeof host, &port, &err), GF_EUSAGE);
    gf_http_server *h = NULL;
    assert_int_equal(gf_http_start("no-such-host.invalid:0", &h, NULL, 0, &err), GF_EUSAGE);
    assert_null(h);
    char bound[100];
    assert_int_equal(gf_http_start("127.0.0.1:0", &h, bound, sizeof bound, &err), GF_OK);
    /* the same port again: taken */
    gf_http_server *h2 = NULL;
    assert_int_equal(gf_http_start(bound, &h2, NULL, 0, &err), GF_EIO);
    assert_non_null(strstr(err.msg, "cannot listen"));
    gf_http_publish(h, "/readyz", 503, "text/plain", "wait\n", 5);
    gf_http_publish(h, "/readyz", 200, "text/plain", "ok\n", 3); /* replaced */
    char url[200];
    snprintf(url, sizeof url, "http://%s/readyz", bound);
    const char *urls[] = {url};
    gf_usage u;
    gf_usage_init(&u);
    gf_diags d;
    gf_diags_init(&d);
    /* served, replaced; "ok" is another metric's line: nothing read */
    assert_int_equal(gf_promtext_scrape(urls, 1, 5000, 1 << 20, 0, &u, NULL, &d), 0);
    assert_int_equal(u.samples.n, 0);
    gf_usage_free(&u);
    gf_diags_free(&d);
    gf_http_stop(h);
    gf_http_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exporter_text), cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_writing),       cmocka_unit_test(test_scrape),
        cmocka_unit_test(test_http_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
