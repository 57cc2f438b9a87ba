/* test_usage_prometheus.c - integration test of the usage reader against a
 * real Prometheus (the Debian `prometheus` package, which scripts/deps.sh
 * --test installs): two hours of the exporter's two gauges for three pods
 * are written as OpenMetrics, backfilled with `promtool tsdb
 * create-blocks-from openmetrics`, served by a Prometheus started on a free
 * local port, fetched with gf_prom_query_range() and parsed with
 * gf_usage_load_prom_json(); every value must come back bit for bit.
 *
 * Skipped only when prometheus or promtool is not on PATH. Prometheus runs
 * as a child that dies with this process (PR_SET_PDEATHSIG) and is stopped
 * by the group teardown and an atexit handler; its data lives in a temporary
 * folder removed at the end. */
#include "testutil.h"
#include "io/usage.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define START 1795507200.0 /* 2026-11-24T08:00:00Z */
#define STEP 15.0
#define POINTS 481 /* two hours at 15 s, both ends included */
#define PODS 3

static const struct {
    const char *ns, *pod, *container, *uuid, *index;
} pods[PODS] = {
    {"team-a", "llm-chat-7d9f8b6c5d-x2lqf", "server", "GPU-1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11",
     "0"},
    {"team-a", "embedder-5f6c7d8e9a-p0d7z", "embed", "GPU-1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11",
     "0"},
    {"team-b", "reranker-9a8b7c6d5e-q4v1n", "rerank", "GPU-7c2d9e10-3b4a-4c5d-8e6f-0a1b2c3d4e5f",
     "1"},
};

static double memory_of(int p, int i)
{
    return (p + 1) * 2147483648.0 + (double)((i * 7919 + p * 104729) % 1000) * 1048576.0;
}

/* Full 17-digit doubles, so that the round trip through Prometheus's text
 * formats is tested; NaN for one minute of one pod, as the exporter writes
 * when a reading fails. */
static double sm_of(int p, int i)
{
    if (p == 1 && i >= 40 && i < 44) return NAN;
    return 0.5 + 0.45 * sin(i / 20.0 + p);
}

static struct {
    bool have;     /* prometheus and promtool found */
    char dir[64];  /* temporary folder */
    char base[64]; /* http://127.0.0.1:PORT */
    pid_t pid;     /* the running Prometheus, or 0 */
    char prometheus[4096], promtool[4096];
} P;

/* --- processes ---------------------------------------------------------------- */

static bool find_in_path(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(out, n, "%.*s/%s", (int)len, path, name);
        if (len && access(out, X_OK) == 0) return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* Starts argv[0] with stdout and stderr into log; the child dies with us. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) _exit(127); /* the parent is already gone */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execv(argv[0], argv);
    _exit(127);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for pid up to timeout_s; true when it exited (status in *st). */
static bool wait_for(pid_t pid, double timeout_s, int *st)
{
    double end = now_s() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (now_s() > end) return false;
        sleep_ms(20);
    }
}

static void stop_prometheus(void)
{
    if (P.pid <= 0) return;
    int st;
    kill(P.pid, SIGTERM);
    if (!wait_for(P.pid, 10, &st)) {
        kill(P.pid, SIGKILL);
        waitpid(P.pid, &st, 0);
    }
    P.pid = 0;
}

static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup(void)
{
    stop_prometheus();
    if (P.dir[0]) remove_tree(P.dir);
    P.dir[0] = '\0';
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void print_log(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    fclose(f);
}

/* --- the data -------------------------------------------------------------------- */

static bool write_openmetrics(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return false;
    static const char *names[2] = {GF_USAGE_METRIC_MEMORY, GF_USAGE_METRIC_SM};
    for (int m = 0; m < 2; m++) {
        fprintf(f, "# TYPE %s gauge\n", names[m]);
        for (int p = 0; p < PODS; p++)
            for (int i = 0; i < POINTS; i++) {
                fprintf(f,
                        "%s{namespace=\"%s\",pod=\"%s\",container=\"%s\",gpu_uuid=\"%s\","
                        "gpu_index=\"%s\"} ",
                        names[m], pods[p].ns, pods[p].pod, pods[p].container, pods[p].uuid,
                        pods[p].index);
                if (m == 0)
                    fprintf(f, "%.0f", memory_of(p, i));
                else if (isnan(sm_of(p, i)))
                    fprintf(f, "NaN");
                else
                    fprintf(f, "%.17g", sm_of(p, i));
                fprintf(f, " %.0f\n", START + i * STEP);
            }
    }
    fprintf(f, "# EOF\n");
    return fclose(f) == 0;
}

static int group_setup(void **state)
{
    (void)state;
    P.have = find_in_path("prometheus", P.prometheus, sizeof P.prometheus) &&
             find_in_path("promtool", P.promtool, sizeof P.promtool);
    if (!P.have) {
        printf("SKIP: prometheus or promtool not on PATH (scripts/deps.sh --test installs "
               "them)\n");
        return 0;
    }
    atexit(cleanup);
    snprintf(P.dir, sizeof P.dir, "/tmp/gpufrac-prom-XXXXXX");
    if (!mkdtemp(P.dir)) {
        P.dir[0] = '\0';
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    char om[128], tsdb[128], config[128], log[128];
    snprintf(om, sizeof om, "%s/usage.om", P.dir);
    snprintf(tsdb, sizeof tsdb, "%s/tsdb", P.dir);
    snprintf(config, sizeof config, "%s/prometheus.yml", P.dir);
    snprintf(log, sizeof log, "%s/log", P.dir);
    if (!write_openmetrics(om)) return -1;
    FILE *f = fopen(config, "w");
    if (!f) return -1;
    fprintf(f, "global:\n  scrape_interval: 15s\n");
    fclose(f);

    char *backfill[] = {P.promtool, "tsdb", "create-blocks-from", "openmetrics", om, tsdb, NULL};
    int st = 0;
    pid_t pid = spawn(backfill, log);
    if (pid < 0 || !wait_for(pid, 120, &st) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        fprintf(stderr, "promtool backfill failed:\n");
        print_log(log);
        return -1;
    }

    /* the port may be taken between free_port() and Prometheus's bind: retry */
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = free_port();
        if (port < 0) return -1;
        char cfg_flag[200], tsdb_flag[200], listen_flag[64];
        snprintf(cfg_flag, sizeof cfg_flag, "--config.file=%s", config);
        snprintf(tsdb_flag, sizeof tsdb_flag, "--storage.tsdb.path=%s", tsdb);
        snprintf(listen_flag, sizeof listen_flag, "--web.listen-address=127.0.0.1:%d", port);
        char *argv[] = {
            P.prometheus, cfg_flag, tsdb_flag, listen_flag, "--storage.tsdb.retention.time=100y",
            NULL};
        P.pid = spawn(argv, log);
        if (P.pid < 0) return -1;
        snprintf(P.base, sizeof P.base, "http://127.0.0.1:%d", port);
        char ready[128];
        snprintf(ready, sizeof ready, "%s/-/ready", P.base);
        double deadline = now_s() + 60;
        while (now_s() < deadline) {
            gf_sbuf body = GF_SBUF_INIT;
            gf_error err = {0};
            gf_err rc = gf_prom_get(ready, 4096, &body, &err);
            gf_sbuf_free(&body);
            if (rc == GF_OK) return 0;
            if (waitpid(P.pid, &st, WNOHANG) == P.pid) {
                P.pid = 0;
                break;
            }
            sleep_ms(100);
        }
        fprintf(stderr, "Prometheus on port %d did not become ready:\n", port);
        print_log(log);
        stop_prometheus();
    }
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    cleanup();
    return 0;
}

/* --- the checks ------------------------------------------------------------------ */

static void query(const char *promql, gf_usage_signal sig, gf_usage *u, gf_diags *d)
{
    gf_sbuf body = GF_SBUF_INIT;
    gf_error err = {0};
    char msg[1100];
    gf_err rc =
        gf_prom_query_range(P.base, promql, START, START + (POINTS - 1) * STEP, STEP, &body, &err);
    if (rc == GF_OK) rc = gf_usage_load_prom_json(u, "answer", body.s, body.len, sig, d, &err);
    gf_sbuf_free(&body);
    if (rc) {
        gf_error_format(&err, msg, sizeof msg);
        fail_msg("%s: %s", promql, msg);
    }
}

static int pod_index(const char *pod)
{
    for (int p = 0; p < PODS; p++)
        if (!strcmp(pods[p].pod, pod)) return p;
    return -1;
}

/* Every sample is the value written for its pod and time, and every value
 * written (NaN aside) came back once. */
static void check_round_trip(const gf_usage *u, gf_usage_signal sig, bool labels_kept)
{
    static bool seen[PODS][POINTS];
    memset(seen, 0, sizeof seen);
    for (size_t k = 0; k < u->samples.n; k++) {
        const gf_usage_sample *s = &u->samples.v[k];
        int p = pod_index(s->pod);
        if (p < 0) fail_msg("unexpected pod %s", s->pod);
        double pos = (s->t - START) / STEP;
        int i = (int)pos;
        if (pos != i || i < 0 || i >= POINTS) fail_msg("unexpected time %.3f", s->t);
        assert_false(seen[p][i]);
        seen[p][i] = true;
        assert_string_equal(s->ns, pods[p].ns);
        assert_string_equal(s->container, labels_kept ? pods[p].container : "");
        assert_string_equal(s->gpu_uuid, labels_kept ? pods[p].uuid : "");
        double want = sig == GF_USAGE_MEMORY ? memory_of(p, i) : sm_of(p, i);
        double got = sig == GF_USAGE_MEMORY ? s->memory_bytes : s->sm_util;
        double other = sig == GF_USAGE_MEMORY ? s->sm_util : s->memory_bytes;
        if (got != want) fail_msg("%s at %.0f: got %.17g, wrote %.17g", s->pod, s->t, got, want);
        assert_true(isnan(other));
    }
    for (int p = 0; p < PODS; p++)
        for (int i = 0; i < POINTS; i++) {
            double want = sig == GF_USAGE_MEMORY ? memory_of(p, i) : sm_of(p, i);
            if (!isnan(want) && !seen[p][i])
                fail_msg("%s at %.0f: missing", pods[p].pod, START + i * STEP);
        }
}

static void test_memory_round_trip(void **state)
{
    (void)state;
    if (!P.have) skip();
    gf_usage u;
    gf_diags d;
    gf_usage_init(&u);
    gf_diags_init(&d);
    query(GF_USAGE_METRIC_MEMORY, GF_USAGE_BY_NAME, &u, &d);
    assert_int_equal(u.samples.n, PODS * POINTS);
    assert_int_equal(u.nan_skipped, 0);
    assert_int_equal(d.msgs.n, 0);
    check_round_trip(&u, GF_USAGE_MEMORY, true);
    gf_usage_free(&u);
    gf_diags_free(&d);
}

static void test_sm_round_trip(void **state)
{
    (void)state;
    if (!P.have) skip();
    gf_usage u;
    gf_usage_init(&u);
    query(GF_USAGE_METRIC_SM, GF_USAGE_SM, &u, NULL);
    assert_int_equal(u.nan_skipped, 4);
    assert_int_equal(u.samples.n, PODS * POINTS - 4);
    check_round_trip(&u, GF_USAGE_SM, true);
    gf_usage_free(&u);
}

static void test_aggregated(void **state)
{
    (void)state;
    if (!P.have) skip();
    gf_usage u;
    gf_usage_init(&u);
    /* one series per pod, so the sum is the value itself; __name__ is dropped */
    query("sum by (namespace, pod) (" GF_USAGE_METRIC_MEMORY ")", GF_USAGE_MEMORY, &u, NULL);
    assert_int_equal(u.samples.n, PODS * POINTS);
    check_round_trip(&u, GF_USAGE_MEMORY, false);
    gf_usage_free(&u);
}

/* The exporter's series end at START + 2 h. Asked up to 10 minutes later,
 * Prometheus repeats each series' last value for its 5-minute lookback; the
 * fetch must keep only the samples that exist, at their own times, so that
 * a stopped exporter is seen as stopped (issue: staleness from the samples'
 * own timestamps). */
static void test_fetch_sample_times(void **state)
{
    (void)state;
    if (!P.have) skip();
    gf_usage u;
    gf_diags d;
    gf_usage_init(&u);
    gf_diags_init(&d);
    gf_error err = {0};
    double last = START + (POINTS - 1) * STEP;
    assert_int_equal(gf_prom_fetch_usage(P.base, START, last + 600, STEP, &u, &d, &err), GF_OK);
    assert_int_equal(d.msgs.n, 0);
    size_t memory = 0, sm = 0;
    double newest = 0;
    for (size_t k = 0; k < u.samples.n; k++) {
        const gf_usage_sample *s = &u.samples.v[k];
        memory += !isnan(s->memory_bytes);
        sm += !isnan(s->sm_util);
        if (s->t > newest) newest = s->t;
    }
    assert_int_equal(memory, PODS * POINTS);
    assert_int_equal(sm, PODS * POINTS - 4);
    assert_true(newest == last);
    /* and at half the step every sample comes once, not twice */
    gf_usage_free(&u);
    gf_usage_init(&u);
    assert_int_equal(gf_prom_fetch_usage(P.base, START, last, STEP / 2, &u, &d, &err), GF_OK);
    memory = 0;
    for (size_t k = 0; k < u.samples.n; k++)
        memory += !isnan(u.samples.v[k].memory_bytes);
    assert_int_equal(memory, PODS * POINTS);
    gf_usage_free(&u);
    gf_diags_free(&d);
}

static void test_errors(void **state)
{
    (void)state;
    if (!P.have) skip();
    gf_sbuf body = GF_SBUF_INIT;
    gf_error err = {0};
    char msg[1100];
    gf_err rc = gf_prom_query_range(P.base, "rate(" GF_USAGE_METRIC_MEMORY, START, START + 60, 15,
                                    &body, &err);
    gf_error_format(&err, msg, sizeof msg);
    assert_int_equal(rc, GF_EINPUT);
    if (!strstr(msg, "/api/v1/query_range: HTTP 400: bad_data: ") || !strstr(msg, "parse error"))
        fail_msg("%s", msg);
    /* more than 11000 points per series */
    rc = gf_prom_query_range(P.base, GF_USAGE_METRIC_MEMORY, START, START + 12000, 1, &body, &err);
    gf_error_format(&err, msg, sizeof msg);
    assert_int_equal(rc, GF_EINPUT);
    if (!strstr(msg, "HTTP 400: bad_data: exceeded maximum resolution")) fail_msg("%s", msg);
    /* a base URL with a wrong path prefix */
    char base[128];
    snprintf(base, sizeof base, "%s/prometheus", P.base);
    rc = gf_prom_query_range(base, GF_USAGE_METRIC_MEMORY, START, START + 60, 15, &body, &err);
    gf_error_format(&err, msg, sizeof msg);
    assert_int_equal(rc, GF_EINPUT);
    if (!strstr(msg, "/prometheus/api/v1/query_range: HTTP 404")) fail_msg("%s", msg);
    gf_sbuf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_round_trip),
        cmocka_unit_test(test_sm_round_trip),
        cmocka_unit_test(test_aggregated),
        cmocka_unit_test(test_fetch_sample_times),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
