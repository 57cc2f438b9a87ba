/* test_exporter.c - the exporter's collection (exporter/collect.c,
 * exporter/nvml.c) against the fake NVML (tests/fake_nvml): per-pod sums,
 * KAI ratio maths, unattributed processes, NVML failures of every kind
 * (init, missing library or symbol, per-device errors, INSUFFICIENT_SIZE,
 * a GPU lost in the middle of a scrape) and utilisation sample timestamps.
 *
 * Scenario files: tests/fixtures/exporter/node.nvml with proc/ and
 * pods-kubelet.json; other scenarios are written to temporary files. */
#include "testutil.h"
#include "exporter/collect.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GPU0 "GPU-aaaaaaaa-0000-4000-8000-000000000000"
#define GPU1 "GPU-bbbbbbbb-0000-4000-8000-000000000000"
#define GPU2 "GPU-cccccccc-0000-4000-8000-000000000000"
#define L4_BYTES 24152899584.0
#define GIB 1073741824.0
#define EPS 1e-9

/* --- helpers ----------------------------------------------------------------- */

static char script_path[64];
static gf_diags logs;

static void capture(void *ctx, const char *msg)
{
    gf_diag((gf_diags *)ctx, NULL, "%s", msg);
}

static int setup(void **state)
{
    (void)state;
    if (!GF_FAKE_NVML[0]) {
        print_message("fake NVML not built; skipping\n");
        return -1;
    }
    snprintf(script_path, sizeof script_path, "/tmp/gf-fake-nvml-XXXXXX");
    int fd = mkstemp(script_path);
    if (fd < 0) return -1;
    close(fd);
    gf_diags_init(&logs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(script_path);
    gf_diags_free(&logs);
    return 0;
}

/* Uses the scenario text (or the fixture node.nvml when NULL). */
static void use_script(const char *text)
{
    if (!text) {
        setenv("GPUFRAC_FAKE_NVML_SCRIPT", gf_test_fixture("exporter/node.nvml"), 1);
        return;
    }
    FILE *f = fopen(script_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    setenv("GPUFRAC_FAKE_NVML_SCRIPT", script_path, 1);
}

/* The node scenario's script with extra lines appended. */
static void use_node_script_plus(const char *extra)
{
    FILE *in = fopen(gf_test_fixture("exporter/node.nvml"), "r");
    assert_non_null(in);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    fclose(in);
    buf[n] = '\0';
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_puts(&b, buf);
    gf_sbuf_puts(&b, extra);
    use_script(b.s);
    gf_sbuf_free(&b);
}

static gf_collector *collector(const char *pods_fixture, const char *disable)
{
    static char proc_root[4200], pods[4200];
    snprintf(proc_root, sizeof proc_root, "%s", gf_test_fixture("exporter/proc"));
    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.proc_root = proc_root;
    cfg.node_name = "gpu-node-1";
    cfg.nvml_lib = GF_FAKE_NVML;
    cfg.nvml_disable = disable;
    cfg.pods.refresh_s = 30;
    cfg.pods.retry_s = 5;
    if (pods_fixture) {
        snprintf(pods, sizeof pods, "%s", gf_test_fixture(pods_fixture));
        cfg.pods.kind = GF_PODSRC_FILE;
        cfg.pods.location = pods;
    }
    cfg.log = capture;
    cfg.log_ctx = &logs;
    gf_collector *c = NULL;
    gf_error err = {0};
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    return c;
}

static const gf_gpu_reading *gpu(const gf_scrape *s, const char *uuid)
{
    for (size_t i = 0; i < s->gpus.n; i++)
        if (!strcmp(s->gpus.v[i].uuid, uuid)) return &s->gpus.v[i];
    return NULL;
}

static const gf_pod_series *series(const gf_scrape *s, const char *uuid, const char *ns,
                                   const char *pod, const char *container)
{
    for (size_t i = 0; i < s->series.n; i++) {
        const gf_pod_series *p = &s->series.v[i];
        if (!strcmp(s->gpus.v[p->gpu].uuid, uuid) && !strcmp(p->ns, ns) && !strcmp(p->pod, pod) &&
            !strcmp(p->container, container))
            return p;
    }
    return NULL;
}

static const gf_pod_series *unattributed(const gf_scrape *s, const char *uuid, const char *why)
{
    for (size_t i = 0; i < s->series.n; i++) {
        const gf_pod_series *p = &s->series.v[i];
        if (!strcmp(s->gpus.v[p->gpu].uuid, uuid) && p->unattributed &&
            !strcmp(p->unattributed, why))
            return p;
    }
    return NULL;
}

static bool logged(const char *needle)
{
    return gf_test_diag_has(&logs, needle);
}

/* --- the node scenario --------------------------------------------------------- */

static void check_node_scrape(const gf_scrape *s)
{
    assert_true(s->nvml_up);
    assert_string_equal(s->driver_version, "550.54.15");
    assert_int_equal(s->gpus.n, 3);
    const gf_gpu_reading *g = gpu(s, GPU0);
    assert_string_equal(g->model, "NVIDIA L4");
    assert_int_equal(g->index, 0);
    assert_true(g->memory_total_bytes == L4_BYTES);
    assert_true(g->memory_used_bytes == 12.0 * GIB); /* v2: without the reserved part */
    assert_true(fabs(g->sm_util - 0.6) < EPS);
    assert_true(g->has_proc_memory && g->has_proc_sm);

    /* gpu-fraction 0.5: holds half the memory; the latest sample (40 %) counts */
    const gf_pod_series *p = series(s, GPU0, "team-a", "llm-chat-0", "server");
    assert_non_null(p);
    assert_true(p->memory_bytes == 8.0 * GIB);
    assert_true(fabs(p->sm_util - 0.40) < EPS);
    assert_true(p->allocated);
    assert_true(p->alloc_fraction == 0.5);
    assert_true(p->alloc_memory_bytes == 0.5 * L4_BYTES);
    assert_true(fabs(p->memory_used_ratio - 8.0 * GIB / (0.5 * L4_BYTES)) < EPS);
    assert_true(fabs(p->sm_used_ratio - 0.8) < EPS);

    /* gpu-memory 4096 MiB: fraction = 4 GiB / device memory; two processes summed */
    p = series(s, GPU0, "team-a", "embedder-0", "embed");
    assert_non_null(p);
    assert_int_equal(p->processes, 2);
    assert_true(p->memory_bytes == 3.0 * GIB);
    assert_true(fabs(p->sm_util - 0.20) < EPS);
    assert_true(p->alloc_memory_bytes == 4.0 * GIB);
    assert_true(fabs(p->alloc_fraction - 4.0 * GIB / L4_BYTES) < EPS);
    assert_true(fabs(p->memory_used_ratio - 0.75) < EPS);
    assert_true(fabs(p->sm_used_ratio - 0.20 / (4.0 * GIB / L4_BYTES)) < EPS);

    /* gpu-fraction 0.3 on two devices: 0.3 of each */
    p = series(s, GPU0, "team-b", "reranker-0", "rerank");
    assert_true(p && p->allocated && p->alloc_fraction == 0.3);
    assert_true(fabs(p->sm_used_ratio - 0.05 / 0.3) < EPS);
    p = series(s, GPU1, "team-b", "reranker-0", "rerank");
    assert_true(p && p->allocated && p->alloc_fraction == 0.3);
    assert_true(fabs(p->memory_used_ratio - 3.0 * GIB / (0.3 * L4_BYTES)) < EPS);

    /* a whole GPU: fraction 1, all its memory */
    p = series(s, GPU2, "team-c", "train-0", "train");
    assert_true(p && p->allocated && p->alloc_fraction == 1.0);
    assert_true(p->alloc_memory_bytes == 80.0 * GIB);
    assert_true(fabs(p->sm_used_ratio - 0.9) < EPS);

    /* KAI reservation pins grp-a to GPU0: the idle pod shows at 0 on its container */
    p = series(s, GPU0, "team-a", "idle-0", "main");
    assert_non_null(p);
    assert_true(p->memory_bytes == 0 && p->sm_util == 0 && p->processes == 0);
    assert_true(p->allocated && p->alloc_fraction == 0.25);
    assert_true(p->memory_used_ratio == 0);
    /* ... but not the Succeeded pod of the same group */
    assert_null(series(s, GPU0, "team-d", "done-0", ""));

    /* the static pod: no allocation, idle (no sample: 0) */
    p = series(s, GPU1, "kube-system", "gpu-probe-gpu-node-1", "probe");
    assert_non_null(p);
    assert_false(p->allocated);
    assert_true(p->sm_util == 0);

    /* never dropped: host, unknown pod, exited process */
    p = unattributed(s, GPU1, GF_UNATTR_HOST);
    assert_non_null(p);
    assert_string_equal(p->ns, "");
    assert_string_equal(p->pod, GF_UNATTRIBUTED_POD);
    assert_true(p->memory_bytes == 524288000.0); /* compute+graphics: counted once */
    assert_true(fabs(p->sm_util - 0.03) < EPS);
    assert_non_null(unattributed(s, GPU1, GF_UNATTR_UNKNOWN_POD));
    p = unattributed(s, GPU0, GF_UNATTR_NO_PROCESS);
    assert_true(p && p->memory_bytes == 134217728.0);

    /* every NVML byte is somewhere: the per-series memory sums to the lists */
    double total = 0;
    for (size_t i = 0; i < s->series.n; i++)
        total += s->series.v[i].memory_bytes;
    assert_true(total == 8.0 * GIB + 3.0 * GIB + 1.0 * GIB + 134217728.0 + 3.0 * GIB + 524288000.0 +
                             268435456.0 + 67108864.0 + 10.0 * GIB);
    for (int c = 0; c < GF_NVML_NCALLS; c++)
        assert_int_equal(s->nvml_errors[c], 0);
}

static void test_node_scenario(void **state)
{
    (void)state;
    use_script(NULL);
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    check_node_scrape(&s);
    assert_int_equal(s.pods, 9);
    assert_int_equal(s.pod_refreshes, 1);
    assert_true(logged("pod UID 66666666-6666-4666-8666-666666666666 is not in the pod list"));
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* A whole-GPU pod (no KAI annotation) running on two GPUs: a series per
 * GPU, each allocated the whole GPU, each with its own ratio, so that the
 * history a conversion needs exists per device. */
static void test_whole_gpu_pod_on_two_gpus(void **state)
{
    (void)state;
    use_node_script_plus("process " GPU1 " 1006 memory=2147483648\n"
                         "sample " GPU1 " 1006 ts=2200 sm=30\n");
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    const gf_pod_series *a = series(&s, GPU2, "team-c", "train-0", "train");
    const gf_pod_series *b = series(&s, GPU1, "team-c", "train-0", "train");
    assert_true(a && a->allocated && a->alloc_fraction == 1.0);
    assert_true(fabs(a->sm_used_ratio - 0.9) < EPS);
    assert_true(fabs(a->memory_used_ratio - 10.0 * GIB / (80.0 * GIB)) < EPS);
    assert_true(b && b->allocated && b->alloc_fraction == 1.0);
    assert_true(b->alloc_memory_bytes == L4_BYTES);
    assert_true(fabs(b->memory_used_ratio - 2.0 * GIB / L4_BYTES) < EPS);
    assert_true(fabs(b->sm_used_ratio - 0.3) < EPS);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_api_pod_list_gives_the_same(void **state)
{
    (void)state;
    use_script(NULL);
    gf_collector *c = collector("exporter/pods-api.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    check_node_scrape(&s);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_no_pod_list(void **state)
{
    (void)state;
    use_script(NULL);
    gf_collector *c = collector(NULL, NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_false(s.have_pod_list);
    /* every pod process is an unknown pod; the host process stays "host" */
    for (size_t i = 0; i < s.series.n; i++)
        assert_non_null(s.series.v[i].unattributed);
    const gf_pod_series *p = unattributed(&s, GPU0, GF_UNATTR_UNKNOWN_POD);
    assert_true(p && p->processes == 4 && p->memory_bytes == 12.0 * GIB);
    assert_non_null(unattributed(&s, GPU1, GF_UNATTR_HOST));
    assert_true(logged("(no pod list source given)"));
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* --- NVML missing or failing at start ----------------------------------------- */

static void test_init_failure(void **state)
{
    (void)state;
    use_script("init_error DRIVER_NOT_LOADED\n");
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    assert_null(gf_collector_nvml(c));
    assert_true(strstr(gf_collector_nvml_error(c), "nvmlInit_v2 failed: DRIVER_NOT_LOADED"));
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s); /* device-less, not a crash; the retry waits nvml_retry_s */
    assert_false(s.nvml_up);
    assert_int_equal(s.gpus.n, 0);
    assert_int_equal(s.series.n, 0);
    assert_int_equal(s.nvml_errors[GF_NVML_INIT], 1);
    assert_int_equal(s.pods, 9); /* the pod list still works */
    assert_true(logged("NVML unavailable, serving no GPUs"));
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* no script at all: the fake behaves as a node without a loaded driver */
    unsetenv("GPUFRAC_FAKE_NVML_SCRIPT");
    c = collector(NULL, NULL);
    assert_true(strstr(gf_collector_nvml_error(c), "DRIVER_NOT_LOADED"));
    gf_collector_free(c);
}

static void test_missing_library_and_symbols(void **state)
{
    (void)state;
    gf_nvml n;
    gf_error err = {0};
    assert_int_equal(gf_nvml_open(&n, "/nonexistent/libnvidia-ml.so.1", NULL, NULL, &err), GF_EIO);
    assert_string_equal(err.where, "/nonexistent/libnvidia-ml.so.1");
    assert_true(strstr(err.msg, "cannot load the NVML library"));
    assert_null(n.lib);
    gf_nvml_close(&n); /* closing a closed one is harmless */

    /* a library that is not NVML at all: dlsym fails for real */
    assert_int_equal(gf_nvml_open(&n, "libm.so.6", NULL, NULL, &err), GF_ENOTFOUND);
    assert_true(strstr(err.msg, "the library has no nvmlInit_v2 (or nvmlInit)"));

    /* a required entry point disabled */
    use_script(NULL);
    assert_int_equal(gf_nvml_open(&n, GF_FAKE_NVML, "nvmlDeviceGetUUID", NULL, &err), GF_ENOTFOUND);
    assert_true(strstr(err.msg, "no nvmlDeviceGetUUID"));
    gf_collector *c = collector(NULL, "nvmlDeviceGetUUID");
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_false(s.nvml_up);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_older_symbol_versions(void **state)
{
    (void)state;
    use_script(NULL);
    /* without the newest versions the exporter falls back, with the same figures */
    gf_collector *c = collector("exporter/pods-kubelet.json",
                                "nvmlInit_v2,nvmlDeviceGetCount_v2 nvmlDeviceGetHandleByIndex_v2,"
                                "nvmlDeviceGetComputeRunningProcesses_v3,"
                                "nvmlDeviceGetComputeRunningProcesses_v2,"
                                "nvmlDeviceGetGraphicsRunningProcesses_v3,"
                                "nvmlDeviceGetGraphicsRunningProcesses_v2");
    const gf_nvml *n = gf_collector_nvml(c);
    assert_non_null(n);
    assert_string_equal(n->symbol[GF_NVML_INIT], "nvmlInit");
    assert_string_equal(n->symbol[GF_NVML_DEVICE_COUNT], "nvmlDeviceGetCount");
    assert_string_equal(n->symbol[GF_NVML_COMPUTE_PROCS], "nvmlDeviceGetComputeRunningProcesses");
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    check_node_scrape(&s); /* v1 process entries widened in place: same values */
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* only _v2 of the process lists */
    c = collector("exporter/pods-kubelet.json", "nvmlDeviceGetComputeRunningProcesses_v3");
    assert_string_equal(gf_collector_nvml(c)->symbol[GF_NVML_COMPUTE_PROCS],
                        "nvmlDeviceGetComputeRunningProcesses_v2");
    gf_collector_free(c);

    /* memory info v1: `used` includes the reserved memory */
    c = collector("exporter/pods-kubelet.json", "nvmlDeviceGetMemoryInfo_v2");
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_true(gpu(&s, GPU0)->memory_used_bytes == 12.0 * GIB + 402653184.0);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_optional_symbols_missing(void **state)
{
    (void)state;
    use_script(NULL);
    gf_diags_free(&logs);
    gf_diags_init(&logs);
    gf_collector *c =
        collector("exporter/pods-kubelet.json", "nvmlDeviceGetProcessUtilization nvmlDeviceGetName "
                                                "nvmlDeviceGetUtilizationRates");
    assert_true(logged("no nvmlDeviceGetProcessUtilization: the metrics it feeds are not "
                       "published"));
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    const gf_gpu_reading *g = gpu(&s, GPU0);
    assert_false(g->has_proc_sm);
    assert_false(g->has_sm);
    assert_string_equal(g->model, "");
    assert_true(g->has_proc_memory);
    const gf_pod_series *p = series(&s, GPU0, "team-a", "llm-chat-0", "server");
    assert_true(p->memory_bytes == 8.0 * GIB);
    assert_true(isnan(p->sm_util));
    for (int k = 0; k < GF_NVML_NCALLS; k++)
        assert_int_equal(s.nvml_errors[k], 0); /* absent is not an error */

    /* without process lists or samples: GPUs still, no pod memory */
    gf_collector_free(c);
    c = collector("exporter/pods-kubelet.json",
                  "nvmlDeviceGetComputeRunningProcesses_v3 nvmlDeviceGetComputeRunningProcesses_v2 "
                  "nvmlDeviceGetComputeRunningProcesses nvmlDeviceGetGraphicsRunningProcesses_v3 "
                  "nvmlDeviceGetGraphicsRunningProcesses_v2 nvmlDeviceGetGraphicsRunningProcesses");
    gf_collect(c, &s);
    assert_int_equal(s.gpus.n, 3);
    assert_false(gpu(&s, GPU0)->has_proc_memory);
    p = series(&s, GPU0, "team-a", "llm-chat-0", "server"); /* from the samples alone */
    assert_true(p && isnan(p->memory_bytes) && fabs(p->sm_util - 0.4) < EPS);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* --- failures during a scrape ---------------------------------------------------- */

static void test_per_device_errors(void **state)
{
    (void)state;
    use_node_script_plus("error nvmlDeviceGetMemoryInfo UNKNOWN device=" GPU0 "\n"
                         "error nvmlDeviceGetComputeRunningProcesses NO_PERMISSION device=" GPU1
                         "\n"
                         "error nvmlDeviceGetUUID UNKNOWN device=" GPU2 " times=1\n"
                         "error nvmlDeviceGetProcessUtilization TIMEOUT device=" GPU0 " times=1\n"
                         "error nvmlDeviceGetUtilizationRates NOT_SUPPORTED device=" GPU1 "\n");
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    /* GPU2 has no UUID this time: left out; the others are there */
    assert_int_equal(s.gpus.n, 2);
    assert_null(gpu(&s, GPU2));
    assert_int_equal(s.nvml_errors[GF_NVML_UUID], 1);

    /* GPU0: memory unknown -> NaN, and so is everything derived from it */
    const gf_gpu_reading *g0 = gpu(&s, GPU0);
    assert_true(g0->has_memory && isnan(g0->memory_total_bytes));
    assert_int_equal(s.nvml_errors[GF_NVML_MEMORY], 1);
    const gf_pod_series *p = series(&s, GPU0, "team-a", "embedder-0", "embed");
    assert_true(p->alloc_memory_bytes == 4.0 * GIB); /* gpu-memory is known ... */
    assert_true(isnan(p->alloc_fraction));           /* ... its share of the GPU is not */
    assert_true(isnan(p->sm_used_ratio));
    assert_true(fabs(p->memory_used_ratio - 0.75) < EPS);
    p = series(&s, GPU0, "team-a", "llm-chat-0", "server");
    assert_true(isnan(p->alloc_memory_bytes) && isnan(p->memory_used_ratio));
    /* GPU0's samples failed once: SM unknown this scrape, counted */
    assert_true(g0->proc_sm_failed && isnan(p->sm_util));
    assert_int_equal(s.nvml_errors[GF_NVML_PROC_UTIL], 1);

    /* GPU1: the compute list failed -> process memory unknown; no device SM reading */
    const gf_gpu_reading *g1 = gpu(&s, GPU1);
    assert_true(g1->proc_memory_failed);
    assert_false(g1->has_sm); /* NOT_SUPPORTED: not published, not an error */
    assert_int_equal(s.nvml_errors[GF_NVML_UTILIZATION], 0);
    p = series(&s, GPU1, "team-b", "reranker-0", "rerank");
    assert_true(isnan(p->memory_bytes) && fabs(p->sm_util - 0.2) < EPS);
    assert_int_equal(s.nvml_errors[GF_NVML_COMPUTE_PROCS], 1);
    assert_true(logged("GPU " GPU1 ": nvmlDeviceGetComputeRunningProcesses: NO_PERMISSION"));

    /* next scrape: the one-off failures are gone; the samples not read last
     * time are read now (lastSeen did not move on a failure) */
    gf_collect(c, &s);
    assert_int_equal(s.gpus.n, 3);
    p = series(&s, GPU0, "team-a", "llm-chat-0", "server");
    assert_true(fabs(p->sm_util - 0.4) < EPS);
    assert_int_equal(s.nvml_errors[GF_NVML_UUID], 1);
    assert_int_equal(s.nvml_errors[GF_NVML_MEMORY], 2);
    assert_int_equal(s.nvml_errors[GF_NVML_COMPUTE_PROCS], 2);
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* the device count itself fails: no GPUs, counted, still a scrape */
    use_node_script_plus("error nvmlDeviceGetCount UNKNOWN\n"
                         "error nvmlDeviceGetHandleByIndex NO_PERMISSION device=" GPU1 "\n");
    c = collector(NULL, NULL);
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_true(s.nvml_up);
    assert_int_equal(s.gpus.n, 0);
    assert_int_equal(s.nvml_errors[GF_NVML_DEVICE_COUNT], 1);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_handle_error_skips_one_gpu(void **state)
{
    (void)state;
    use_node_script_plus("error nvmlDeviceGetHandleByIndex NO_PERMISSION device=" GPU1 "\n");
    gf_collector *c = collector(NULL, NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_int_equal(s.gpus.n, 2);
    assert_null(gpu(&s, GPU1));
    assert_int_equal(s.nvml_errors[GF_NVML_HANDLE], 1);
    assert_true(logged("GPU index 1: nvmlDeviceGetHandleByIndex: NO_PERMISSION"));
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* n processes (and one sample each) on one GPU, the list under-reported by k */
static void many_processes(unsigned n, unsigned k)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_printf(&b, "device " GPU0 " memory=85899345920 undercount=%u\n", k);
    for (unsigned i = 0; i < n; i++) {
        gf_sbuf_printf(&b, "process " GPU0 " %u memory=1048576\n", 20000 + i);
        gf_sbuf_printf(&b, "sample " GPU0 " %u ts=%u sm=1\n", 20000 + i, 100 + i);
    }
    use_script(b.s);
    gf_sbuf_free(&b);
}

static void test_insufficient_size_grows(void **state)
{
    (void)state;
    /* 300 processes and samples, NVML under-reporting the need by 300:
     * the buffers double until they fit (32 -> ... -> 512) */
    many_processes(300, 300);
    gf_collector *c = collector(NULL, NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    const gf_pod_series *p = unattributed(&s, GPU0, GF_UNATTR_NO_PROCESS);
    assert_non_null(p);
    assert_int_equal(p->processes, 300);
    assert_true(p->memory_bytes == 300 * 1048576.0);
    assert_true(p->sm_util == 1.0); /* 300 x 1 %, capped at one GPU */
    for (int k = 0; k < GF_NVML_NCALLS; k++)
        assert_int_equal(s.nvml_errors[k], 0);
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* a truthful NVML: one growth step */
    many_processes(1000, 0);
    c = collector(NULL, NULL);
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_int_equal(unattributed(&s, GPU0, GF_UNATTR_NO_PROCESS)->processes, 1000);
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* a list that keeps outgrowing the buffer: an error after 5 calls, not a loop */
    many_processes(3000, 3000);
    c = collector(NULL, NULL);
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_int_equal(s.nvml_errors[GF_NVML_COMPUTE_PROCS], 1);
    assert_int_equal(s.nvml_errors[GF_NVML_PROC_UTIL], 1);
    assert_true(logged("nvmlDeviceGetComputeRunningProcesses: INSUFFICIENT_SIZE"));
    assert_true(gpu(&s, GPU0)->proc_memory_failed);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

static void test_gpu_lost_mid_scrape(void **state)
{
    (void)state;
    /* GPU1 answers 3 calls (UUID, name, memory), then GPU_IS_LOST */
    FILE *in = fopen(gf_test_fixture("exporter/node.nvml"), "r");
    assert_non_null(in);
    gf_sbuf b = GF_SBUF_INIT;
    char line[512];
    while (fgets(line, sizeof line, in)) {
        gf_sbuf_puts(&b, line);
        if (!strncmp(line, "device " GPU1, strlen("device " GPU1)))
            b.s[--b.len] = '\0', gf_sbuf_puts(&b, " lost_after=3\n");
    }
    fclose(in);
    use_script(b.s);
    gf_sbuf_free(&b);
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_int_equal(s.gpus.n, 2);
    assert_null(gpu(&s, GPU1));
    assert_int_equal(s.nvml_errors[GF_NVML_UTILIZATION], 1); /* the call that saw it */
    /* nothing of GPU1 is left, the others are whole */
    for (size_t i = 0; i < s.series.n; i++)
        assert_string_not_equal(s.gpus.v[s.series.v[i].gpu].uuid, GPU1);
    assert_non_null(series(&s, GPU0, "team-a", "llm-chat-0", "server"));
    assert_non_null(series(&s, GPU2, "team-c", "train-0", "train"));
    assert_null(series(&s, GPU1, "team-b", "reranker-0", "rerank"));
    assert_true(logged("GPU " GPU1 " (index 1) is lost (GPU_IS_LOST from "
                       "nvmlDeviceGetUtilizationRates)"));
    /* and stays out while lost */
    gf_collect(c, &s);
    assert_int_equal(s.gpus.n, 2);
    assert_int_equal(s.nvml_errors[GF_NVML_UUID], 1);
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* lost in the middle of the process lists (NOT_FOUND: the GPU is gone) */
    use_node_script_plus("error nvmlDeviceGetGraphicsRunningProcesses NOT_FOUND device=" GPU0 "\n");
    c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape_init(&s);
    gf_collect(c, &s);
    assert_null(gpu(&s, GPU0));
    assert_int_equal(s.gpus.n, 2);
    assert_null(series(&s, GPU0, "team-a", "llm-chat-0", "server"));
    assert_int_equal(s.nvml_errors[GF_NVML_GRAPHICS_PROCS], 1);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* --- utilisation sample timestamps -------------------------------------------------- */

static void test_only_new_samples_count(void **state)
{
    (void)state;
    use_script(NULL);
    gf_collector *c = collector("exporter/pods-kubelet.json", NULL);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s); /* the whole buffer: the latest per PID */
    assert_true(fabs(series(&s, GPU0, "team-a", "llm-chat-0", "server")->sm_util - 0.40) < EPS);

    /* nothing new since: NVML answers NOT_FOUND, every process was idle */
    gf_collect(c, &s);
    for (size_t i = 0; i < s.series.n; i++)
        assert_true(s.series.v[i].sm_util == 0);
    assert_int_equal(s.nvml_errors[GF_NVML_PROC_UTIL], 0);
    assert_true(series(&s, GPU0, "team-a", "llm-chat-0", "server")->memory_bytes == 8.0 * GIB);

    /* new samples arrive (and old ones linger in the driver's buffer) */
    use_node_script_plus("sample " GPU0 " 1001 ts=2500 sm=30\n"
                         "sample " GPU0 " 1001 ts=2600 sm=35\n"
                         "sample " GPU0 " 1002 ts=1200 sm=80\n"   /* older than lastSeen 2000 */
                         "sample " GPU2 " 1006 ts=2100 sm=50\n"   /* equal to lastSeen: not new */
                         "sample " GPU1 " 1005 ts=1900 sm=60\n"); /* GPU1's lastSeen is 1900 */
    int (*reload)(void) = NULL;
    void *h = dlopen(GF_FAKE_NVML, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    *(void **)&reload = dlsym(h, "gf_fake_nvml_reload");
    assert_non_null(reload);
    assert_int_equal(reload(), 0);
    dlclose(h);
    gf_collect(c, &s);
    assert_true(fabs(series(&s, GPU0, "team-a", "llm-chat-0", "server")->sm_util - 0.35) < EPS);
    assert_true(series(&s, GPU0, "team-a", "embedder-0", "embed")->sm_util == 0);
    assert_true(series(&s, GPU2, "team-c", "train-0", "train")->sm_util == 0);
    assert_true(series(&s, GPU1, "team-b", "reranker-0", "rerank")->sm_util == 0);
    gf_scrape_free(&s);
    gf_collector_free(c);
}

/* --- the pod list during scrapes ------------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}

static void test_unknown_pod_refreshes_the_list(void **state)
{
    (void)state;
    char pods[] = "/tmp/gf-pods-XXXXXX";
    int fd = mkstemp(pods);
    assert_true(fd >= 0);
    close(fd);
    copy_file(gf_test_fixture("exporter/pods-empty.json"), pods);
    use_script(NULL);
    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.proc_root = gf_test_fixture("exporter/proc");
    char proc_root[4200];
    snprintf(proc_root, sizeof proc_root, "%s", cfg.proc_root);
    cfg.proc_root = proc_root;
    cfg.nvml_lib = GF_FAKE_NVML;
    cfg.pods.kind = GF_PODSRC_FILE;
    cfg.pods.location = pods;
    cfg.pods.refresh_s = 3600;
    cfg.pods.retry_s = 0; /* no rate limit, for the test */
    gf_collector *c = NULL;
    gf_error err = {0};
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s); /* unknown pods: one early refresh (still empty) */
    assert_int_equal(s.pod_refreshes, 2);
    assert_non_null(unattributed(&s, GPU0, GF_UNATTR_UNKNOWN_POD));
    /* the pods appear in the list: the next scrape attributes them */
    copy_file(gf_test_fixture("exporter/pods-kubelet.json"), pods);
    gf_collect(c, &s);
    assert_int_equal(s.pod_refreshes, 3);
    assert_non_null(series(&s, GPU0, "team-a", "llm-chat-0", "server"));
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* with a rate limit, unknown pods do not refresh again at once */
    cfg.pods.retry_s = 3600;
    copy_file(gf_test_fixture("exporter/pods-empty.json"), pods);
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    gf_scrape_init(&s);
    gf_collect(c, &s);
    gf_collect(c, &s);
    assert_int_equal(s.pod_refreshes, 1);
    gf_scrape_free(&s);
    gf_collector_free(c);

    /* a bad pods file at start is an error naming the file */
    FILE *f = fopen(pods, "w");
    fputs("{\"items\":[{\"metadata\":{\"name\":1}}]}", f);
    fclose(f);
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_EINPUT);
    assert_null(c);
    assert_true(strstr(err.where, "items[0].metadata.name") != NULL);
    unlink(pods);
}

static void test_background_pod_refresh(void **state)
{
    (void)state;
    char pods[] = "/tmp/gf-pods-XXXXXX";
    int fd = mkstemp(pods);
    assert_true(fd >= 0);
    close(fd);
    copy_file(gf_test_fixture("exporter/pods-empty.json"), pods);
    use_script(NULL);
    char proc_root[4200];
    snprintf(proc_root, sizeof proc_root, "%s", gf_test_fixture("exporter/proc"));
    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.proc_root = proc_root;
    cfg.nvml_lib = GF_FAKE_NVML;
    cfg.pods.kind = GF_PODSRC_FILE;
    cfg.pods.location = pods;
    cfg.pods.refresh_s = 3600;
    cfg.pods.retry_s = 0.05;
    cfg.async_pods = true;
    gf_collector *c = NULL;
    gf_error err = {0};
    assert_int_equal(gf_collector_new(&cfg, &c, &err), GF_OK);
    gf_scrape s;
    gf_scrape_init(&s);
    gf_collect(c, &s); /* unknown pods: the scrape does not wait, the thread fetches */
    assert_non_null(unattributed(&s, GPU0, GF_UNATTR_UNKNOWN_POD));
    /* replaced atomically: the thread may read at any moment */
    char next[64];
    snprintf(next, sizeof next, "%s.new", pods);
    copy_file(gf_test_fixture("exporter/pods-kubelet.json"), next);
    assert_int_equal(rename(next, pods), 0);
    /* the next scrapes pick the new list up as soon as the thread has it */
    bool found = false;
    for (int i = 0; i < 300 && !found; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        gf_collect(c, &s);
        found = series(&s, GPU0, "team-a", "llm-chat-0", "server") != NULL;
    }
    assert_true(found);
    assert_true(s.pod_refreshes >= 2);
    assert_int_equal(s.pod_errors, 0);
    gf_scrape_free(&s);
    gf_collector_free(c); /* stops and joins the thread */
    unlink(pods);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_scenario),
        cmocka_unit_test(test_whole_gpu_pod_on_two_gpus),
        cmocka_unit_test(test_api_pod_list_gives_the_same),
        cmocka_unit_test(test_no_pod_list),
        cmocka_unit_test(test_init_failure),
        cmocka_unit_test(test_missing_library_and_symbols),
        cmocka_unit_test(test_older_symbol_versions),
        cmocka_unit_test(test_optional_symbols_missing),
        cmocka_unit_test(test_per_device_errors),
        cmocka_unit_test(test_handle_error_skips_one_gpu),
        cmocka_unit_test(test_insufficient_size_grows),
        cmocka_unit_test(test_gpu_lost_mid_scrape),
        cmocka_unit_test(test_only_new_samples_count),
        cmocka_unit_test(test_unknown_pod_refreshes_the_list),
        cmocka_unit_test(test_background_pod_refresh),
    };
    return cmocka_run_group_tests_name("exporter", tests, setup, teardown);
}
