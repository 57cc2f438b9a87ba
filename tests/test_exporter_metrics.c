/* test_exporter_metrics.c - the Prometheus text exposition
 * (exporter/metrics.c) and the HTTP endpoint (exporter/httpd.c): value
 * formatting, label and HELP escaping, family grouping, which metrics a
 * scrape publishes, and /metrics, /healthz under concurrent requests. */
#include "testutil.h"
#include "exporter/httpd.h"
#include "exporter/metrics.h"
#include "io/promtext.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(const gf_scrape *s)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_metrics_render(s, &b);
    return b.s; /* caller frees */
}

static char *value(double v)
{
    static char buf[64];
    gf_sbuf b = GF_SBUF_INIT;
    gf_promtext_format_value(&b, v);
    snprintf(buf, sizeof buf, "%s", b.s);
    gf_sbuf_free(&b);
    return buf;
}

static void test_values(void **state)
{
    (void)state;
    assert_string_equal(value(0), "0");
    assert_string_equal(value(1), "1");
    assert_string_equal(value(-3), "-3");
    assert_string_equal(value(24152899584.0), "24152899584");
    assert_string_equal(value(0.5), "0.5");
    assert_string_equal(value(0.1), "0.1");
    assert_string_equal(value(-0.25), "-0.25");
    assert_string_equal(value(0.000001), "0.000001");
    assert_string_equal(value(123.456), "123.456");
    assert_string_equal(value(0.07 + 0.05), "0.12000000000000001"); /* not 0.12 */
    assert_string_equal(value(1.0 / 3.0), "0.33333333333333331"); /* 17 digits when 15 do not do */
    assert_string_equal(value(7245869875.2), "7245869875.2");
    assert_string_equal(value(1e300), "1e+300");
    assert_string_equal(value(NAN), "NaN");
    assert_string_equal(value(INFINITY), "+Inf");
    assert_string_equal(value(-INFINITY), "-Inf");
    /* every finite value reads back exactly */
    double probes[] = {0.17782408613354173, 1e-7,  123456.789,       9007199254740993.0, 0.3,
                       0.07 + 0.05,         -1e-3, 999999999.999999, 1e9 + 0.5,          5e-324};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        assert_true(strtod(value(probes[i]), NULL) == probes[i]);
}

static void test_label_escaping(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    gf_promtext_escape_label(&b, "a\\b\"c\nd\te");
    assert_string_equal(b.s, "a\\\\b\\\"c\\nd\te"); /* only \, " and LF are escaped */
    gf_sbuf_free(&b);
    gf_promtext_escape_label(&b, "");
    assert_string_equal(gf_sbuf_str(&b), "");
    gf_sbuf_free(&b);
}

/* A scrape by hand: one GPU, an odd container name, an unattributed series. */
static void sample_scrape(gf_scrape *s)
{
    gf_scrape_init(s);
    gf_gpu_reading g;
    memset(&g, 0, sizeof g);
    g.index = 3;
    snprintf(g.uuid, sizeof g.uuid, "GPU-1");
    snprintf(g.model, sizeof g.model, "Tesla \"T4\"\\x");
    g.memory_total_bytes = 16e9;
    g.memory_used_bytes = NAN; /* a failed read */
    g.sm_util = 0.25;
    g.has_memory = true;
    g.has_sm = true;
    g.has_proc_memory = true;
    g.has_proc_sm = false; /* MIG: no per-process SM */
    gf_vec_push(&s->gpus, g);
    gf_pod_series p;
    memset(&p, 0, sizeof p);
    p.ns = "ns";
    p.pod = "pod-1";
    p.container = "we\"ird\nname";
    p.memory_bytes = 1024;
    p.sm_util = NAN;
    p.allocated = true;
    p.alloc_fraction = 0.5;
    p.alloc_memory_bytes = 8e9;
    p.memory_used_ratio = 1024 / 8e9;
    p.sm_used_ratio = NAN;
    gf_vec_push(&s->series, p);
    memset(&p, 0, sizeof p);
    p.ns = "";
    p.pod = GF_UNATTRIBUTED_POD;
    p.container = "";
    p.unattributed = GF_UNATTR_HOST;
    p.memory_bytes = 2048;
    gf_vec_push(&s->series, p);
    s->nvml_up = true;
    s->driver_version = "550.1";
    s->nvml_errors[GF_NVML_MEMORY] = 2;
    s->pod_refreshes = 7;
    s->pod_errors = 1;
    s->pods = 12;
    s->duration_s = 0.00025;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_render(void **state)
{
    (void)state;
    gf_scrape s;
    sample_scrape(&s);
    char *t = render(&s);
    assert_non_null(strstr(t, "gpufrac_gpu_info{gpu_uuid=\"GPU-1\",gpu_index=\"3\",model=\"Tesla "
                              "\\\"T4\\\"\\\\x\"} 1\n"));
    assert_non_null(strstr(t, "gpufrac_gpu_memory_total_bytes{gpu_uuid=\"GPU-1\",gpu_index=\"3\"} "
                              "16000000000\n"));
    assert_non_null(
        strstr(t, "gpufrac_gpu_memory_used_bytes{gpu_uuid=\"GPU-1\",gpu_index=\"3\"} NaN\n"));
    assert_non_null(strstr(t, "gpufrac_pod_gpu_memory_used_bytes{namespace=\"ns\",pod=\"pod-1\","
                              "container=\"we\\\"ird\\nname\",gpu_uuid=\"GPU-1\",gpu_index=\"3\"} "
                              "1024\n"));
    assert_non_null(strstr(t, "gpufrac_pod_gpu_memory_used_bytes{namespace=\"\",pod="
                              "\"unattributed\",container=\"\",gpu_uuid=\"GPU-1\",gpu_index=\"3\","
                              "unattributed=\"host\"} 2048\n"));
    /* no per-process SM on this GPU: no SM samples, and no SM ratio */
    assert_int_equal(count(t, "\ngpufrac_pod_gpu_sm_utilization_ratio{"), 0);
    assert_int_equal(count(t, "\ngpufrac_pod_gpu_sm_used_ratio{"), 0);
    /* allocation metrics only on the allocated series */
    assert_int_equal(count(t, "\ngpufrac_pod_gpu_allocated_fraction{"), 1);
    assert_non_null(strstr(t, "gpufrac_pod_gpu_memory_used_ratio{namespace=\"ns\",pod=\"pod-1\","
                              "container=\"we\\\"ird\\nname\",gpu_uuid=\"GPU-1\",gpu_index=\"3\"} "
                              "1.28e-07\n"));
    /* self-metrics */
    assert_non_null(strstr(t, "\ngpufrac_exporter_nvml_up 1\n"));
    assert_non_null(strstr(t,
                           "gpufrac_exporter_nvml_errors_total{call=\"nvmlDeviceGetMemoryInfo\"} "
                           "2\n"));
    assert_non_null(strstr(t, "\ngpufrac_exporter_pod_list_refreshes_total 7\n"));
    assert_non_null(strstr(t, "\ngpufrac_exporter_pod_list_errors_total 1\n"));
    assert_non_null(strstr(t, "\ngpufrac_exporter_pod_list_pods 12\n"));
    assert_non_null(strstr(t, "\ngpufrac_exporter_scrape_duration_seconds 0.00025\n"));
    assert_non_null(strstr(t, "gpufrac_exporter_build_info{version=\"" GF_EXPORTER_VERSION
                              "\",driver_version=\"550.1\"} 1\n"));

    /* the format's rules: each family once, HELP then TYPE, its samples
     * right after, every line ends in a newline, names are valid */
    static const char *const families[] = {"gpufrac_gpu_info",
                                           "gpufrac_gpu_memory_total_bytes",
                                           "gpufrac_gpu_memory_used_bytes",
                                           "gpufrac_gpu_sm_utilization_ratio",
                                           "gpufrac_pod_gpu_memory_used_bytes",
                                           "gpufrac_pod_gpu_sm_utilization_ratio",
                                           "gpufrac_pod_gpu_allocated_fraction",
                                           "gpufrac_pod_gpu_allocated_memory_bytes",
                                           "gpufrac_pod_gpu_memory_used_ratio",
                                           "gpufrac_pod_gpu_sm_used_ratio",
                                           "gpufrac_exporter_nvml_up",
                                           "gpufrac_exporter_nvml_errors_total",
                                           "gpufrac_exporter_pod_list_refreshes_total",
                                           "gpufrac_exporter_pod_list_errors_total",
                                           "gpufrac_exporter_pod_list_pods",
                                           "gpufrac_exporter_scrape_duration_seconds",
                                           "gpufrac_exporter_build_info"};
    char help[200], type[200];
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        snprintf(help, sizeof help, "# HELP %s ", families[i]);
        snprintf(type, sizeof type, "# TYPE %s %s\n", families[i],
                 strlen(families[i]) > 6 && !strcmp(families[i] + strlen(families[i]) - 6, "_total")
                     ? "counter"
                     : "gauge");
        if (count(t, help) != 1 || count(t, type) != 1) fail_msg("family %s", families[i]);
        assert_true(strstr(t, help) < strstr(t, type));
    }
    assert_int_equal(t[strlen(t) - 1], '\n');
    /* samples of a family sit between its TYPE line and the next HELP line */
    const char *ty = strstr(t, "# TYPE gpufrac_pod_gpu_memory_used_bytes gauge\n");
    const char *next = strstr(ty, "# HELP gpufrac_pod_gpu_sm_utilization_ratio");
    assert_int_equal(count(t, "\ngpufrac_pod_gpu_memory_used_bytes{"), 2);
    for (const char *p = t; (p = strstr(p, "\ngpufrac_pod_gpu_memory_used_bytes{")); p++)
        assert_true(p > ty && p < next);
    free(t);
    gf_scrape_free(&s);
}

static void test_help_escaping_and_empty_scrape(void **state)
{
    (void)state;
    gf_scrape s;
    gf_scrape_init(&s); /* no NVML, nothing known */
    char *t = render(&s);
    assert_non_null(strstr(t, "\ngpufrac_exporter_nvml_up 0\n"));
    assert_int_equal(count(t, "\ngpufrac_gpu_info{"), 0);
    /* HELP text has no raw newline inside a line: every line starts with '#' or a name */
    for (const char *line = t; *line;) {
        assert_true(*line == '#' || (*line >= 'a' && *line <= 'z'));
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        line = nl + 1;
    }
    free(t);
    gf_scrape_free(&s);
}

/* --- the HTTP endpoint ----------------------------------------------------------------- */

typedef struct fetched {
    long status;
    char type[128];
    gf_sbuf body;
} fetched;

static size_t on_body(char *d, size_t size, size_t n, void *u)
{
    gf_sbuf_append(&((fetched *)u)->body, d, size * n);
    return size * n;
}

static void fetch(const char *url, const char *method, fetched *out)
{
    memset(out, 0, sizeof *out);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (method) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(h) == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) snprintf(out->type, sizeof out->type, "%s", ct);
    }
    curl_easy_cleanup(h);
}

static char base[256];

static void *scraper(void *arg)
{
    char url[400];
    snprintf(url, sizeof url, "%s/metrics", base);
    for (int i = 0; i < 20; i++) {
        fetched f;
        fetch(url, NULL, &f);
        if (f.status != 200 || !strstr(gf_sbuf_str(&f.body), "gpufrac_exporter_build_info")) {
            gf_sbuf_free(&f.body);
            return (void *)1;
        }
        gf_sbuf_free(&f.body);
    }
    (void)arg;
    return NULL;
}

static void test_http(void **state)
{
    (void)state;
    if (GF_FAKE_NVML[0]) {
        char script[4200];
        snprintf(script, sizeof script, "%s", gf_test_fixture("exporter/node.nvml"));
        setenv("GPUFRAC_FAKE_NVML_SCRIPT", script, 1);
    }
    char proc_root[4200];
    snprintf(proc_root, sizeof proc_root, "%s", gf_test_fixture("exporter/proc"));
    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.proc_root = proc_root;
    cfg.nvml_lib = GF_FAKE_NVML[0] ? GF_FAKE_NVML : "/nonexistent/libnvidia-ml.so.1";
    cfg.pods.refresh_s = 30;
    gf_collector *c = NULL;
    gf_error err = {0};
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    gf_httpd *h = NULL;
    char bound[200];
    assert_int_equal(gf_httpd_start("127.0.0.1:0", c, 0, &h, bound, sizeof bound, &err), GF_OK);
    assert_int_equal(strncmp(bound, "127.0.0.1:", 10), 0);
    assert_string_not_equal(bound, "127.0.0.1:0");
    snprintf(base, sizeof base, "http://%s", bound);

    char url[400];
    fetched f;
    snprintf(url, sizeof url, "%s/metrics", base);
    fetch(url, NULL, &f);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.type, GF_METRICS_CONTENT_TYPE);
    assert_non_null(strstr(gf_sbuf_str(&f.body), "gpufrac_exporter_nvml_up"));
    if (GF_FAKE_NVML[0])
        assert_non_null(strstr(gf_sbuf_str(&f.body), "gpufrac_gpu_info{gpu_uuid=\"GPU-aaaaaaaa"));
    gf_sbuf_free(&f.body);
    snprintf(url, sizeof url, "%s/healthz", base);
    fetch(url, NULL, &f);
    assert_int_equal(f.status, 200);
    assert_string_equal(gf_sbuf_str(&f.body), "ok\n");
    gf_sbuf_free(&f.body);
    snprintf(url, sizeof url, "%s/nope", base);
    fetch(url, NULL, &f);
    assert_int_equal(f.status, 404);
    gf_sbuf_free(&f.body);
    snprintf(url, sizeof url, "%s/metrics", base);
    fetch(url, "POST", &f);
    assert_int_equal(f.status, 405);
    gf_sbuf_free(&f.body);

    /* eight clients at once: every answer complete (the collector is serialised) */
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, scraper, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    gf_httpd_stop(h);
    gf_collector_free(c);

    /* a port in use is an error that says so */
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    gf_httpd *h2 = NULL;
    assert_int_equal(gf_httpd_start("127.0.0.1:0", c, 1, &h, bound, sizeof bound, &err), GF_OK);
    assert_int_equal(gf_httpd_start(bound, c, 1, &h2, NULL, 0, &err), GF_EIO);
    assert_true(strstr(err.msg, "cannot listen") != NULL);
    gf_httpd_stop(h);
    gf_collector_free(c);
}

static void test_listen_parsing(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 1;
    gf_error err = {0};
    assert_int_equal(gf_httpd_parse_listen(":9402", host, sizeof host, &port, &err), GF_OK);
    assert_string_equal(host, "");
    assert_int_equal(port, 9402);
    assert_int_equal(gf_httpd_parse_listen("127.0.0.1:0", host, sizeof host, &port, &err), GF_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(gf_httpd_parse_listen("[::1]:80", host, sizeof host, &port, &err), GF_OK);
    assert_string_equal(host, "::1");
    static const char *const bad[] = {
        "", "9402", "::1:80", "host:", "host:65536", "h:12x", "[::1]80", "[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gf_httpd_parse_listen(bad[i], host, sizeof host, &port, &err), GF_EUSAGE);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values), cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_render), cmocka_unit_test(test_help_escaping_and_empty_scrape),
        cmocka_unit_test(test_http),   cmocka_unit_test(test_listen_parsing),
    };
    int rc = cmocka_run_group_tests_name("exporter_metrics", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
