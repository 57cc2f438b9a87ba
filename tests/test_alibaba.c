/* test_alibaba.c - the Alibaba GPU trace converter (src/io/alibaba.c) and
 * the CSV reader under it (src/io/csv.c): fixtures cut from the trace, bad
 * rows, and the full trace from ../shared/data when it is there. */
#include "testutil.h"
#include "model/kai.h"
#include "io/alibaba.h"
#include "io/csv.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TRACE_DIR GF_SHARED_DATA "/alibaba-gpu-v2023"

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_error err;
} fx;

static int setup(void **state)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    gf_model_free(&f->m);
    gf_diags_free(&f->d);
    test_free(f);
    return 0;
}

static const gf_node *node_named(const gf_model *m, const char *name)
{
    size_t i;
    if (!gf_strmap_get(&m->node_by_name, name, &i)) return NULL;
    return &m->nodes.v[i];
}

static const gf_pod *pod_named(const gf_model *m, const char *name)
{
    long i = gf_test_pod(m, GF_ALIBABA_NAMESPACE, name);
    return i < 0 ? NULL : &m->pods.v[i];
}

static gf_err load_nodes(fx *f, const char *fixture)
{
    return gf_alibaba_load_nodes(&f->m, gf_test_fixture(fixture), &f->d, &f->err);
}

static gf_err load_pods(fx *f, const char *fixture, bool cpu_only)
{
    gf_alibaba_opts o = {.include_cpu_only = cpu_only};
    return gf_alibaba_load_pods(&f->m, gf_test_fixture(fixture), &o, &f->d, &f->err);
}

/* The formatted error ("where: msg") must contain needle. */
static void assert_error(gf_err rc, const gf_error *err, const char *needle)
{
    char buf[1100];
    gf_error_format(err, buf, sizeof buf);
    if (rc != GF_EINPUT || !strstr(buf, needle))
        fail_msg("rc %d, error \"%s\"; expected GF_EINPUT with \"%s\"", rc, buf, needle);
}

static void assert_kv(const gf_kvs *kvs, const char *key, const char *value)
{
    const char *v = gf_kvs_get(kvs, key);
    if (!value) {
        if (v) fail_msg("%s is \"%s\", expected absent", key, v);
        return;
    }
    if (!v) fail_msg("%s absent, expected \"%s\"", key, value);
    assert_string_equal(v, value);
}

/* --- nodes ------------------------------------------------------------------- */

static void test_nodes(void **state)
{
    fx *f = *state;
    assert_int_equal(load_nodes(f, "alibaba/nodes.csv"), GF_OK);
    assert_int_equal(f->m.nodes.n, 16);

    const gf_node *n = node_named(&f->m, "openb-node-0234");
    assert_non_null(n);
    assert_int_equal(n->cpu_milli, 96000);
    assert_int_equal(n->memory_bytes, 393216LL * 1048576);
    assert_int_equal(n->gpu_count, 8);
    assert_string_equal(n->gpu_product, "G2");
    assert_int_equal(n->gpu_memory_mib, 16300); /* label 16384, floored as KAI does */
    assert_true(n->gpu_memory_from_label);
    assert_string_equal(f->m.pools.v[n->pool], "default");
    assert_int_equal(n->labels.n, 3);
    assert_kv(&n->labels, GF_LABEL_GPU_PRODUCT, "G2");
    assert_kv(&n->labels, GF_LABEL_GPU_COUNT, "8");
    assert_kv(&n->labels, GF_LABEL_GPU_MEMORY, "16384");
    assert_string_equal(n->origin, gf_test_fixture("alibaba/nodes.csv:10"));

    static const struct {
        const char *node, *model;
        int64_t mib;
    } want[] = {{"openb-node-0123", "P100", 16384},    {"openb-node-0228", "G3", 16384},
                {"openb-node-0229", "V100M32", 32768}, {"openb-node-0233", "V100M16", 16384},
                {"openb-node-0243", "T4", 15360},      {"openb-node-1328", "A10", 23028}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        n = node_named(&f->m, want[i].node);
        assert_non_null(n);
        assert_string_equal(n->gpu_product, want[i].model);
        /* the model's memory is the label as KAI reads it: floored to 100 MiB */
        assert_int_equal(n->gpu_memory_mib, want[i].mib - want[i].mib % 100);
        assert_int_equal(gf_alibaba_gpu_memory_mib(want[i].model), want[i].mib);
    }

    n = node_named(&f->m, "openb-node-0000"); /* CPU-only */
    assert_non_null(n);
    assert_int_equal(n->gpu_count, 0);
    assert_null(n->gpu_product);
    assert_int_equal(n->gpu_memory_mib, 0);
    assert_int_equal(n->labels.n, 0);

    /* the assumed memory of the undisclosed models is said once per model */
    assert_int_equal(f->d.msgs.n, 2);
    assert_true(gf_test_diag_has(&f->d, "GPU model G2 (2 nodes) is an undisclosed"));
    assert_true(gf_test_diag_has(&f->d, "GPU model G3 (2 nodes) is an undisclosed"));

    uint32_t gpus = 0;
    for (size_t i = 0; i < f->m.nodes.n; i++)
        gpus += f->m.nodes.v[i].gpu_count;
    assert_int_equal(gpus, 68);
}

static void test_nodes_crlf(void **state)
{
    fx *f = *state;
    gf_model lf;
    gf_model_init(&lf);
    assert_int_equal(gf_alibaba_load_nodes(&lf, gf_test_fixture("alibaba/nodes.csv"), NULL, NULL),
                     GF_OK);
    assert_int_equal(load_nodes(f, "alibaba/nodes_crlf.csv"), GF_OK);
    assert_int_equal(f->m.nodes.n, lf.nodes.n);
    for (size_t i = 0; i < lf.nodes.n; i++) {
        const gf_node *a = &lf.nodes.v[i], *b = &f->m.nodes.v[i];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->cpu_milli, b->cpu_milli);
        assert_int_equal(a->memory_bytes, b->memory_bytes);
        assert_int_equal(a->gpu_count, b->gpu_count);
        assert_int_equal(a->gpu_memory_mib, b->gpu_memory_mib);
        assert_int_equal(!a->gpu_product, !b->gpu_product);
        if (a->gpu_product) assert_string_equal(a->gpu_product, b->gpu_product);
    }
    gf_model_free(&lf);
}

static void test_nodes_unusual(void **state)
{
    fx *f = *state;
    static const char csv[] = "sn,cpu_milli,memory_mib,gpu,model\n"
                              "n-a100,64000,524288,8,NVIDIA-A100-SXM4-80GB\n"
                              "n-x,8000,65536,2,X9\n"
                              "n-x2,8000,65536,2,X9\n"
                              "n-nomodel,8000,65536,1,nan\n"
                              "n-cpu,8000,65536,0,T4\n"
                              "n-a100,1,1,1,T4\n";
    assert_int_equal(
        gf_alibaba_load_nodes_buffer(&f->m, "n.csv", csv, sizeof csv - 1, &f->d, &f->err), GF_OK);
    assert_int_equal(f->m.nodes.n, 5); /* the duplicate is skipped */
    const gf_node *n = node_named(&f->m, "n-a100");
    assert_int_equal(n->gpu_memory_mib, 81900); /* the product table's 81920, as KAI floors it */
    assert_int_equal(n->cpu_milli, 64000);
    n = node_named(&f->m, "n-x");
    assert_int_equal(n->gpu_memory_mib, 100); /* no label: KAI's DefaultGpuMemory */
    assert_false(n->gpu_memory_from_label);
    assert_kv(&n->labels, GF_LABEL_GPU_MEMORY, NULL);
    assert_kv(&n->labels, GF_LABEL_GPU_PRODUCT, "X9");
    n = node_named(&f->m, "n-nomodel");
    assert_null(n->gpu_product);
    assert_kv(&n->labels, GF_LABEL_GPU_COUNT, "1");
    n = node_named(&f->m, "n-cpu");
    assert_null(n->gpu_product);
    assert_true(gf_test_diag_has(&f->d, "n.csv:3: GPU model X9 (2 nodes) has no known memory"));
    assert_true(gf_test_diag_has(&f->d, "n.csv:5: 1 nodes have GPUs but no model"));
    assert_true(gf_test_diag_has(&f->d, "n.csv:6: GPU model T4 given for 1 nodes with 0 GPUs"));
    assert_true(gf_test_diag_has(&f->d, "node n-a100 already loaded from n.csv:2"));
}

/* --- pods -------------------------------------------------------------------- */

static void test_pods(void **state)
{
    fx *f = *state;
    assert_int_equal(load_nodes(f, "alibaba/nodes.csv"), GF_OK);
    assert_int_equal(load_pods(f, "alibaba/pods.csv", false), GF_OK);
    assert_int_equal(f->m.pods.n, 14); /* 16 rows less 2 CPU-only */
    assert_null(pod_named(&f->m, "openb-pod-0005"));

    const gf_pod *p = pod_named(&f->m, "openb-pod-0001"); /* 1,460 */
    assert_non_null(p);
    assert_int_equal(p->phase, GF_PHASE_PENDING);
    assert_null(p->node_name);
    assert_null(p->owner.kind);
    assert_string_equal(p->scheduler_name, GF_KAI_SCHEDULER_NAME);
    assert_int_equal(p->cpu_milli, 6000);
    assert_int_equal(p->memory_bytes, 12288LL * 1048576);
    assert_int_equal(p->share, GF_SHARE_FRACTION);
    assert_true(p->gpu_fraction == 0.46);
    assert_int_equal(p->gpu_devices, 1);
    assert_int_equal(p->gpu_whole, 0);
    assert_int_equal(p->n_gpu_models, 0);
    assert_null(p->reserve_gpu);
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, "0.46");
    assert_kv(&p->annotations, GF_KAI_NUM_DEVICES, NULL);
    assert_kv(&p->labels, GF_ALIBABA_QOS, "LS");
    assert_kv(&p->annotations, GF_ALIBABA_POD_PHASE, "Running");
    assert_kv(&p->annotations, GF_ALIBABA_CREATION_TIME, "427061");
    assert_kv(&p->annotations, GF_ALIBABA_DELETION_TIME, "12902960");
    assert_kv(&p->annotations, GF_ALIBABA_SCHEDULED_TIME, "427061");
    assert_string_equal(p->origin, gf_test_fixture("alibaba/pods.csv:3"));

    p = pod_named(&f->m, "openb-pod-0039"); /* 1,50 */
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, "0.05");
    assert_true(p->gpu_fraction == 0.05);

    p = pod_named(&f->m, "openb-pod-0017"); /* 8,1000 */
    assert_int_equal(p->share, GF_SHARE_NONE);
    assert_int_equal(p->gpu_whole, 8);
    assert_int_equal(p->gpu_devices, 0);
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, NULL);
    assert_kv(&p->labels, GF_ALIBABA_QOS, "Burstable");
    assert_kv(&p->annotations, GF_ALIBABA_POD_PHASE, "Succeeded");

    p = pod_named(&f->m, "openb-pod-0097"); /* pending, scheduled_time empty */
    assert_kv(&p->annotations, GF_ALIBABA_POD_PHASE, "Pending");
    assert_kv(&p->annotations, GF_ALIBABA_SCHEDULED_TIME, NULL);
    assert_kv(&p->annotations, GF_ALIBABA_DELETION_TIME, "10020025");

    p = pod_named(&f->m, "openb-pod-0000"); /* creation_time 0 is a time */
    assert_kv(&p->annotations, GF_ALIBABA_CREATION_TIME, "0");

    assert_int_equal(f->d.msgs.n, 2); /* only the G2/G3 notes from the nodes */

    /* unbound pending pods finalize: every GPU idle, every GPU pod waiting */
    assert_int_equal(gf_model_finalize(&f->m, &f->d, &f->err), GF_OK);
    gf_totals t;
    gf_model_totals(&f->m, GF_NONE, &t);
    assert_int_equal(t.nodes, 16);
    assert_int_equal(t.gpus, t.gpus_idle);
    assert_int_equal(t.pods_pending_gpu, 14);
}

static void test_pods_cpu_only(void **state)
{
    fx *f = *state;
    assert_int_equal(load_pods(f, "alibaba/pods.csv", true), GF_OK);
    assert_int_equal(f->m.pods.n, 16);
    const gf_pod *p = pod_named(&f->m, "openb-pod-0005");
    assert_non_null(p);
    assert_int_equal(p->gpu_whole, 0);
    assert_int_equal(p->share, GF_SHARE_NONE);
    assert_int_equal(p->cpu_milli, 20000);
    /* NULL options: CPU-only pods left out */
    gf_model m2;
    gf_model_init(&m2);
    assert_int_equal(
        gf_alibaba_load_pods(&m2, gf_test_fixture("alibaba/pods.csv"), NULL, NULL, NULL), GF_OK);
    assert_int_equal(m2.pods.n, 14);
    gf_model_free(&m2);
}

static void test_pods_gpuspec(void **state)
{
    fx *f = *state;
    assert_int_equal(load_nodes(f, "alibaba/nodes.csv"), GF_OK);
    size_t notes = f->d.msgs.n;
    assert_int_equal(load_pods(f, "alibaba/pods_gpuspec.csv", false), GF_OK);
    assert_int_equal(f->d.msgs.n, notes); /* every model is some node's */
    assert_int_equal(f->m.pods.n, 9);

    const gf_pod *p = pod_named(&f->m, "openb-pod-0527"); /* V100M16|V100M32|V100M32 */
    assert_int_equal(p->n_gpu_models, 2);
    assert_string_equal(p->gpu_models[0], "V100M16");
    assert_string_equal(p->gpu_models[1], "V100M32");
    p = pod_named(&f->m, "openb-pod-1444");
    assert_int_equal(p->n_gpu_models, 6);
    p = pod_named(&f->m, "openb-pod-0022"); /* 1,220,T4 */
    assert_int_equal(p->n_gpu_models, 1);
    assert_string_equal(p->gpu_models[0], "T4");
    assert_true(p->gpu_fraction == 0.22);
    p = pod_named(&f->m, "openb-pod-0013");
    assert_int_equal(p->n_gpu_models, 1);
    assert_string_equal(p->gpu_models[0], "G2");
}

static void test_pods_unknown_model(void **state)
{
    fx *f = *state;
    static const char nodes[] = "sn,cpu_milli,memory_mib,gpu,model\nt4-a,8000,32768,2,T4\n";
    assert_int_equal(
        gf_alibaba_load_nodes_buffer(&f->m, "n.csv", nodes, sizeof nodes - 1, &f->d, &f->err),
        GF_OK);
    assert_int_equal(load_pods(f, "alibaba/pods_gpuspec.csv", false), GF_OK);
    assert_true(gf_test_diag_has(&f->d, "pods_gpuspec.csv:3: gpu_spec model G2 (named by 3 pods)"
                                        " is not the GPU model of any loaded node"));
    assert_true(gf_test_diag_has(&f->d, "gpu_spec model P100 (named by 4 pods)"));
    assert_false(gf_test_diag_has(&f->d, "model T4 "));
    assert_int_equal(f->d.msgs.n, 6); /* G2 P100 V100M16 V100M32 G3 A10 */
}

static void test_pods_multigpu_variant(void **state)
{
    fx *f = *state;
    assert_int_equal(load_pods(f, "alibaba/pods_multigpu.csv", true), GF_OK);
    assert_int_equal(f->m.pods.n, 4);
    const gf_pod *p = pod_named(&f->m, "openb-pod-0128");
    assert_int_equal(p->gpu_whole, 8);
    assert_int_equal(p->annotations.n, 0);
    assert_int_equal(p->labels.n, 0);
    p = pod_named(&f->m, "openb-pod-0001");
    assert_int_equal(p->annotations.n, 1);
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, "0.46");
}

static void test_pods_fraction_on_several_gpus(void **state)
{
    fx *f = *state;
    static const char csv[] = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
                              "two-halves,1000,1024,2,500\n"
                              "tiny,1000,1024,1,1\n";
    assert_int_equal(
        gf_alibaba_load_pods_buffer(&f->m, "p.csv", csv, sizeof csv - 1, NULL, &f->d, &f->err),
        GF_OK);
    const gf_pod *p = pod_named(&f->m, "two-halves");
    assert_int_equal(p->share, GF_SHARE_FRACTION);
    assert_true(p->gpu_fraction == 0.5);
    assert_int_equal(p->gpu_devices, 2);
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, "0.5");
    assert_kv(&p->annotations, GF_KAI_NUM_DEVICES, "2");
    p = pod_named(&f->m, "tiny");
    assert_kv(&p->annotations, GF_KAI_GPU_FRACTION, "0.001");
    /* the annotation means what the model says, by KAI's own parser */
    double v;
    const char *why;
    assert_int_equal(gf_kai_parse_fraction("0.001", &v, &why), GF_OK);
    assert_true(v == p->gpu_fraction);
}

/* --- bad input ----------------------------------------------------------------- */

static void test_bad_fixtures(void **state)
{
    fx *f = *state;
    gf_err rc = load_pods(f, "alibaba/bad_header.csv", true);
    assert_error(rc, &f->err,
                 "bad_header.csv:1: header 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,"
                 "qos,phase,creation_time,deletion_time,scheduled_time' is not the expected "
                 "'name,cpu_milli,memory_mib,num_gpu,"
                 "gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time' "
                 "(or its first columns up to gpu_milli)");
    rc = load_pods(f, "alibaba/bad_truncated.csv", true);
    assert_error(rc, &f->err,
                 "bad_truncated.csv:4: 8 columns, expected 11: missing creation_time, "
                 "deletion_time, scheduled_time");
    rc = load_nodes(f, "alibaba/bad_negative.csv");
    assert_error(rc, &f->err, "bad_negative.csv:3: column cpu_milli: value '-64000' is negative");
    rc = load_pods(f, "alibaba/bad_gpu_milli.csv", true);
    assert_error(rc, &f->err, "bad_gpu_milli.csv:3: column gpu_milli: value '1500' is above 1000");
    rc = load_nodes(f, "alibaba/pods.csv"); /* the wrong kind of file */
    assert_error(rc, &f->err, "pods.csv:1: header 'name,cpu_milli");
    assert_error(rc, &f->err, "is not the expected 'sn,cpu_milli,memory_mib,gpu,model'");
    rc = load_nodes(f, "alibaba/no-such-file.csv");
    assert_int_equal(rc, GF_EIO);
    assert_non_null(strstr(f->err.where, "no-such-file.csv"));
}

static const char pod_header[] = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,"
                                 "pod_phase,creation_time,deletion_time,scheduled_time\n";

static void test_bad_pod_rows(void **state)
{
    fx *f = *state;
    static const struct {
        const char *row, *error;
    } cases[] = {
        {"p,1,1,1,1000,,LS,Running,0,1,0,x", "p.csv:2: 12 columns, expected 11: extra value 'x' "
                                             "after column scheduled_time"},
        {"p,1.5,1,1,1000,,LS,Running,0,1,0", "p.csv:2: column cpu_milli: value '1.5' is not an "
                                             "integer"},
        {"p,,1,1,1000,,LS,Running,0,1,0", "column cpu_milli: value '' is not an integer"},
        {"p, 1,1,1,1000,,LS,Running,0,1,0", "column cpu_milli: value ' 1' is not an integer"},
        {"p,1,1e3,1,1000,,LS,Running,0,1,0", "column memory_mib: value '1e3' is not an integer"},
        {"p,1,1,-1,1000,,LS,Running,0,1,0", "column num_gpu: value '-1' is negative"},
        {"p,1,1,1,-5,,LS,Running,0,1,0", "column gpu_milli: value '-5' is negative"},
        {"p,99999999999999999999,1,1,1000,,LS,Running,0,1,0",
         "column cpu_milli: value '99999999999999999999' is out of range"},
        {"p,1,1,0,500,,LS,Running,0,1,0", "column gpu_milli: value '500' must be 0 when num_gpu "
                                          "is 0"},
        {"p,1,1,2,0,,LS,Running,0,1,0", "column gpu_milli: value '0' must be above 0 when "
                                        "num_gpu is 2"},
        {"p,1,1,100,500,,LS,Running,0,1,0", "column num_gpu: value '100' is above 64"},
        {"p,1,1,5000,1000,,LS,Running,0,1,0", "column num_gpu: value '5000' is above 4096"},
        {"p,1,1,1,1000,A||B,LS,Running,0,1,0", "column gpu_spec: value 'A||B' is not a list of "
                                               "GPU models"},
        {"p,1,1,1,1000,,L S,Running,0,1,0", "column qos: value 'L S' is not a valid label value"},
        {"p,1,1,1,1000,,LS,Done,0,1,0", "column pod_phase: value 'Done' is not a pod phase"},
        {"p,1,1,1,1000,,LS,Running,-3,1,0", "column creation_time: value '-3' is negative"},
        {"p,1,1,1,1000,,LS,Running,0,1,x", "column scheduled_time: value 'x' is not an integer"},
        {"Pod_A,1,1,1,1000,,LS,Running,0,1,0", "column name: value 'Pod_A' is not a valid pod "
                                               "name"},
        {"p,1,1,1,1000,\"T4\",LS,Running,0,1,0", "column gpu_spec: quoted fields are not "
                                                 "supported"},
        {"p,1,1,1,1000,,LS,Running,0,1\r,0", "column deletion_time: carriage return not followed"},
        {"p,1,1,1,1000,,LS,Run\x1bning,0,1,0", "value 'Run\\x1bning' is not a pod phase"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        int n = snprintf(buf, sizeof buf, "%s%s\n", pod_header, cases[i].row);
        gf_model m;
        gf_model_init(&m);
        gf_error err = {0};
        gf_err rc = gf_alibaba_load_pods_buffer(&m, "p.csv", buf, (size_t)n, NULL, NULL, &err);
        char got[1100];
        gf_error_format(&err, got, sizeof got);
        if (rc != GF_EINPUT || !strstr(got, cases[i].error))
            fail_msg("row '%s': rc %d, error \"%s\"; expected \"%s\"", cases[i].row, rc, got,
                     cases[i].error);
        gf_model_free(&m);
    }
    (void)f;
}

static void test_bad_bytes(void **state)
{
    fx *f = *state;
    static const char nul[] = "sn,cpu_milli,memory_mib,gpu,model\nn,1,1\0,0,\n";
    gf_err rc = gf_alibaba_load_nodes_buffer(&f->m, "n.csv", nul, sizeof nul - 1, &f->d, &f->err);
    assert_error(rc, &f->err, "n.csv:2: column memory_mib: NUL byte");
    rc = gf_alibaba_load_nodes_buffer(&f->m, "n.csv", "", 0, &f->d, &f->err);
    assert_error(rc, &f->err,
                 "n.csv: empty file; expected the header 'sn,cpu_milli,memory_mib,"
                 "gpu,model'");
    rc = gf_alibaba_load_nodes_buffer(&f->m, "n.csv", NULL, 0, &f->d, &f->err);
    assert_error(rc, &f->err, "n.csv: empty file");
    static const char blank[] = "\n\r\n\n";
    rc = gf_alibaba_load_nodes_buffer(&f->m, "n.csv", blank, sizeof blank - 1, &f->d, &f->err);
    assert_error(rc, &f->err, "empty file");
    /* a long value is shortened in the message */
    char big[300];
    int n = snprintf(big, sizeof big, "sn,cpu_milli,memory_mib,gpu,model\nn,x%0200d,1,0,\n", 7);
    rc = gf_alibaba_load_nodes_buffer(&f->m, "n.csv", big, (size_t)n, &f->d, &f->err);
    assert_error(rc, &f->err,
                 "value 'x00000000000000000000000000000000000000000000000...' is not an integer");
    assert_int_equal(f->m.nodes.n, 0);
}

static void test_csv_layout(void **state)
{
    fx *f = *state;
    /* byte order mark, blank lines, CRLF mixed with LF, no final newline */
    static const char csv[] = "\xEF\xBB\xBFsn,cpu_milli,memory_mib,gpu,model\r\n"
                              "\n"
                              "a,1000,1024,1,T4\r\n"
                              "\r\n"
                              "b,2000,2048,0,";
    assert_int_equal(
        gf_alibaba_load_nodes_buffer(&f->m, "n.csv", csv, sizeof csv - 1, &f->d, &f->err), GF_OK);
    assert_int_equal(f->m.nodes.n, 2);
    assert_string_equal(f->m.nodes.v[0].origin, "n.csv:3");
    assert_string_equal(f->m.nodes.v[1].origin, "n.csv:5");
    assert_int_equal(f->m.nodes.v[1].cpu_milli, 2000);

    /* line numbers count physical lines, blank ones included */
    static const char bad[] = "sn,cpu_milli,memory_mib,gpu,model\n\n\nc,1,1,x,\n";
    gf_model m;
    gf_model_init(&m);
    gf_err rc = gf_alibaba_load_nodes_buffer(&m, "n.csv", bad, sizeof bad - 1, NULL, &f->err);
    assert_error(rc, &f->err, "n.csv:4: column gpu: value 'x' is not an integer");
    gf_model_free(&m);
}

static void test_csv_reader(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c"};
    static const char text[] = "a,b\n1,+2\n-9223372036854775808,9223372036854775807\n,\n";
    gf_csv c;
    gf_error err = {0};
    gf_csv_init(&c, "t.csv", text, sizeof text - 1);
    assert_int_equal(gf_csv_header(&c, names, 2, 3, &err), GF_OK);
    assert_int_equal(c.n_columns, 2);
    assert_int_equal(gf_csv_next(&c, &err), GF_OK);
    int64_t v;
    assert_int_equal(gf_csv_int(&c, 1, 0, 10, &v, &err), GF_OK);
    assert_int_equal(v, 2);
    assert_int_equal(gf_csv_int(&c, 0, 2, 10, &v, &err), GF_EINPUT);
    assert_string_equal(err.msg, "column a: value '1' is below 2");
    assert_int_equal(gf_csv_next(&c, &err), GF_OK);
    assert_int_equal(gf_csv_int(&c, 0, INT64_MIN, INT64_MAX, &v, &err), GF_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(gf_csv_int(&c, 1, INT64_MIN, INT64_MAX, &v, &err), GF_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(gf_csv_next(&c, &err), GF_OK);
    assert_int_equal(gf_csv_width(&c), 2);
    assert_string_equal(gf_csv_field(&c, 0), "");
    assert_null(gf_csv_field(&c, 2));
    assert_int_equal(gf_csv_next(&c, &err), GF_ENOTFOUND);
    gf_csv_free(&c);
    gf_csv_free(NULL);

    /* a header shorter than the required columns */
    gf_csv_init(&c, "t.csv", "a\n", 2);
    assert_int_equal(gf_csv_header(&c, names, 2, 3, &err), GF_EINPUT);
    assert_string_equal(err.where, "t.csv:1");
    gf_csv_free(&c);
}

/* --- the full trace -------------------------------------------------------------- */

static bool have_trace(void)
{
    struct stat st;
    return stat(TRACE_DIR "/openb_pod_list_default.csv", &st) == 0;
}

static void test_real_trace(void **state)
{
    fx *f = *state;
    if (!have_trace()) skip();
    /* README.upstream.md: 1523 nodes with 6212 GPUs in all; the GPU-node file
     * is the same cluster without CPU-only nodes */
    assert_int_equal(
        gf_alibaba_load_nodes(&f->m, TRACE_DIR "/openb_node_list_all_node.csv", &f->d, &f->err),
        GF_OK);
    uint32_t gpus = 0, gpu_nodes = 0;
    for (size_t i = 0; i < f->m.nodes.n; i++) {
        gpus += f->m.nodes.v[i].gpu_count;
        gpu_nodes += f->m.nodes.v[i].gpu_count > 0;
    }
    assert_int_equal(f->m.nodes.n, 1523);
    assert_int_equal(gpus, 6212);

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    assert_int_equal(
        gf_alibaba_load_nodes(&m, TRACE_DIR "/openb_node_list_gpu_node.csv", &d, &f->err), GF_OK);
    assert_int_equal(m.nodes.n, gpu_nodes);
    assert_int_equal(m.nodes.n, 1213);
    gf_alibaba_opts o = {.include_cpu_only = true};
    assert_int_equal(
        gf_alibaba_load_pods(&m, TRACE_DIR "/openb_pod_list_default.csv", &o, &d, &f->err), GF_OK);
    assert_int_equal(m.pods.n, 8152); /* README: 8152 tasks */
    uint32_t sharing = 0, whole = 0, cpu_only = 0, whole_gpus = 0;
    for (size_t i = 0; i < m.pods.n; i++) {
        const gf_pod *p = &m.pods.v[i];
        if (p->share == GF_SHARE_FRACTION) sharing++;
        if (p->gpu_whole) whole++;
        if (!p->gpu_whole && p->share == GF_SHARE_NONE) cpu_only++;
        whole_gpus += p->gpu_whole;
    }
    /* counted from the CSV with awk: num_gpu 1 and gpu_milli < 1000: 3078;
     * gpu_milli 1000: 3911 + 16 (2 GPUs) + 15 (4) + 44 (8); num_gpu 0: 1088 */
    assert_int_equal(sharing, 3078);
    assert_int_equal(whole, 3986);
    assert_int_equal(whole_gpus, 3911 + 2 * 16 + 4 * 15 + 8 * 44);
    assert_int_equal(cpu_only, 1088);
    assert_int_equal(d.msgs.n, 2); /* the G2 and G3 memory notes, nothing else */

    assert_int_equal(gf_model_finalize(&m, &d, &f->err), GF_OK);
    gf_totals t;
    gf_model_totals(&m, GF_NONE, &t);
    assert_int_equal(t.gpus, 6212);
    assert_int_equal(t.gpus_idle, 6212);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* Every pod list the trace ships (all variants) loads against its nodes with
 * no warning: the model constraints of the gpuspec variants name real models. */
static void test_real_trace_variants(void **state)
{
    fx *f = *state;
    if (!have_trace()) skip();
    assert_int_equal(
        gf_alibaba_load_nodes(&f->m, TRACE_DIR "/openb_node_list_gpu_node.csv", NULL, &f->err),
        GF_OK);
    DIR *dir = opendir(TRACE_DIR);
    assert_non_null(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "openb_pod_list_", 15) || len < 4 ||
            strcmp(e->d_name + len - 4, ".csv"))
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", TRACE_DIR, e->d_name);
        gf_model pods; /* a fresh model with the nodes (their strings stay in f->m) */
        gf_model_init(&pods);
        gf_diags d;
        gf_diags_init(&d);
        for (size_t i = 0; i < f->m.nodes.n; i++)
            gf_model_add_node(&pods, &f->m.nodes.v[i], NULL);
        gf_alibaba_opts o = {.include_cpu_only = true};
        gf_err rc = gf_alibaba_load_pods(&pods, path, &o, &d, &f->err);
        if (rc) fail_msg("%s: %s: %s", e->d_name, f->err.where, f->err.msg);
        if (d.msgs.n) fail_msg("%s: warning %s", e->d_name, d.msgs.v[0]);
        assert_true(pods.pods.n > 1000);
        gf_diags_free(&d);
        gf_model_free(&pods);
        files++;
    }
    closedir(dir);
    assert_int_equal(files, 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_unusual, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_cpu_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_gpuspec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_unknown_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_multigpu_variant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_fraction_on_several_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pod_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_layout, setup, teardown),
        cmocka_unit_test(test_csv_reader),
        cmocka_unit_test_setup_teardown(test_real_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_trace_variants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
