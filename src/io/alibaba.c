/* alibaba.c - Alibaba GPU trace CSV -> cluster model, see alibaba.h. */
#include "io/alibaba.h"
#include "model/kai.h"
#include "io/csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Plausibility limits: beyond them a value is a typo or corruption, and
 * accepting it would only overflow sums later. */
#define MAX_CPU_MILLI 1000000000LL /* a million cores */
#define MAX_MEMORY_MIB (1LL << 30) /* 1 PiB */
#define MAX_GPUS 4096              /* per node or pod, as the JSON loader */
#define MAX_FRACTION_DEVICES 64    /* gpu-fraction-num-devices, as the JSON loader */
#define MAX_TIME_S (1LL << 40)     /* seconds from the trace's start */
#define MIB 1048576LL

/* GPU memory per trace model code. Public codes are NVIDIA products; sizes
 * are what GPU feature discovery reports (as in kai.c's product table):
 * P100 and V100M16 16 GB, V100M32 32 GB, T4 15360 MiB, A10 23028 MiB.
 * G1, G2 and G3 are "undisclosed internal GPU codes" (the trace's README) and
 * no size is published. ASSUMPTION: 16384 MiB, the smallest size in the
 * trace, so that memory derived from fractions never exceeds a real GPU; the
 * trace's own requests are fractions (gpu_milli), whose meaning does not
 * depend on it. Loading nodes with these codes says so in a warning. */
static const struct {
    const char *code;
    int64_t mib;
    bool assumed;
} trace_models[] = {
    {"A10", 23028, false},     {"P100", 16384, false},    {"T4", 15360, false},
    {"V100M16", 16384, false}, {"V100M32", 32768, false}, {"G1", 16384, true},
    {"G2", 16384, true},       {"G3", 16384, true},
};

static int trace_model(const char *code)
{
    for (size_t i = 0; i < sizeof trace_models / sizeof trace_models[0]; i++)
        if (!strcmp(code, trace_models[i].code)) return (int)i;
    return -1;
}

int64_t gf_alibaba_gpu_memory_mib(const char *model)
{
    int i = model ? trace_model(model) : -1;
    return i < 0 ? 0 : trace_models[i].mib;
}

/* --- helpers ----------------------------------------------------------------- */

static const char *afmt(gf_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *afmt(gf_model *m, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return gf_arena_strdup(&m->arena, buf);
}

static const char *row_origin(gf_model *m, const gf_csv *c)
{
    char where[600];
    gf_csv_where(c, where, sizeof where);
    return gf_arena_strdup(&m->arena, where);
}

static bool is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Kubernetes object names (DNS-1123 subdomain): lowercase letters, digits,
 * '-' and '.', starting and ending with a letter or digit, at most 253. */
static bool is_object_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ((ch == '-' || ch == '.') && i > 0 && i + 1 < n);
        if (!ok) return false;
    }
    return true;
}

/* Kubernetes label values: at most 63 of [A-Za-z0-9_.-], alphanumeric at both
 * ends (empty handled by the callers). */
static bool is_label_value(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
    return true;
}

/* pandas writes missing strings as empty fields, its README shows them as "nan" */
static bool is_missing(const char *s)
{
    return !*s || !strcmp(s, "nan");
}

static gf_kvs kvs_copy(gf_model *m, const gf_kv *kv, uint32_t n)
{
    gf_kvs out = {NULL, n};
    if (n) {
        out.items = gf_arena_alloc(&m->arena, n * sizeof *kv);
        memcpy(out.items, kv, n * sizeof *kv);
    }
    return out;
}

/* Warnings about many rows are given once per key (a GPU model), with the
 * first row and the number of rows. */
typedef struct tally {
    const char *key, *first;
    size_t count;
} tally;

typedef struct tallies {
    GF_VEC(tally) v;
    gf_strmap by_key;
} tallies;

static void tally_add(tallies *t, const char *key, const char *first)
{
    size_t i;
    if (gf_strmap_get(&t->by_key, key, &i)) {
        t->v.v[i].count++;
        return;
    }
    tally x = {key, first, 1};
    gf_vec_push(&t->v, x);
    gf_strmap_put(&t->by_key, key, t->v.n - 1);
}

static void tallies_free(tallies *t)
{
    gf_vec_free(&t->v);
    gf_strmap_free(&t->by_key);
}

/* --- nodes ------------------------------------------------------------------- */

enum { N_SN, N_CPU, N_MEM, N_GPU, N_MODEL, N_COLUMNS };
static const char *const node_columns[N_COLUMNS] = {"sn", "cpu_milli", "memory_mib", "gpu",
                                                    "model"};

typedef struct node_warnings {
    tallies assumed, unknown, no_model, no_gpus; /* keyed by model ("" for no_model) */
} node_warnings;

static gf_err node_row(gf_model *m, const gf_csv *c, node_warnings *w, gf_diags *d, gf_error *err)
{
    gf_node n = {0};
    int64_t cpu, mem, gpus;
    const char *sn = gf_csv_field(c, N_SN), *model = gf_csv_field(c, N_MODEL);
    if (!is_object_name(sn))
        return gf_csv_bad_value(c, N_SN, err,
                                "is not a valid node name (lowercase letters, digits, '-', '.')");
    gf_err rc;
    if ((rc = gf_csv_int(c, N_CPU, 0, MAX_CPU_MILLI, &cpu, err)) ||
        (rc = gf_csv_int(c, N_MEM, 0, MAX_MEMORY_MIB, &mem, err)) ||
        (rc = gf_csv_int(c, N_GPU, 0, MAX_GPUS, &gpus, err)))
        return rc;
    if (!is_missing(model) && !is_label_value(model))
        return gf_csv_bad_value(c, N_MODEL, err,
                                "is not a valid label value (at most 63 letters, digits, '-', "
                                "'_', '.')");
    n.name = gf_arena_strdup(&m->arena, sn);
    n.origin = row_origin(m, c);
    n.cpu_milli = cpu;
    n.memory_bytes = mem * MIB;
    n.gpu_count = (uint32_t)gpus;
    n.pool = gf_model_pool(m, GF_KAI_DEFAULT_POOL);
    gf_kv labels[3];
    uint32_t nl = 0;
    if (gpus > 0) {
        labels[nl++] = (gf_kv){GF_LABEL_GPU_COUNT, afmt(m, "%lld", (long long)gpus)};
        if (is_missing(model)) {
            tally_add(&w->no_model, "", n.origin);
        } else {
            n.gpu_product = gf_arena_strdup(&m->arena, model);
            labels[nl++] = (gf_kv){GF_LABEL_GPU_PRODUCT, n.gpu_product};
            int t = trace_model(model);
            int64_t mib = t >= 0 ? trace_models[t].mib : gf_kai_known_gpu_memory_mib(model);
            if (t >= 0 && trace_models[t].assumed) tally_add(&w->assumed, n.gpu_product, n.origin);
            /* as KAI reads the label it writes (core/kai.h) */
            const char *label = mib > 0 ? afmt(m, "%lld", (long long)mib) : NULL;
            n.gpu_memory_mib = gf_kai_node_gpu_memory_mib(label, &n.gpu_memory_from_label);
            n.gpu_memory_display_mib = n.gpu_memory_from_label ? n.gpu_memory_mib : 0;
            if (label) {
                labels[nl++] = (gf_kv){GF_LABEL_GPU_MEMORY, label};
            } else {
                tally_add(&w->unknown, n.gpu_product, n.origin);
            }
        }
    } else if (!is_missing(model)) {
        tally_add(&w->no_gpus, gf_arena_strdup(&m->arena, model), n.origin);
    }
    n.labels = kvs_copy(m, labels, nl);
    gf_model_add_node(m, &n, d);
    return GF_OK;
}

static void node_warnings_flush(node_warnings *w, gf_diags *d)
{
    for (size_t i = 0; i < w->assumed.v.n; i++) {
        const tally *t = &w->assumed.v.v[i];
        gf_diag(d, t->first,
                "GPU model %s (%zu nodes) is an undisclosed Alibaba-internal code; its memory "
                "is assumed to be %lld MiB per GPU",
                t->key, t->count, (long long)gf_alibaba_gpu_memory_mib(t->key));
    }
    for (size_t i = 0; i < w->unknown.v.n; i++) {
        const tally *t = &w->unknown.v.v[i];
        gf_diag(d, t->first,
                "GPU model %s (%zu nodes) has no known memory size; %s not set, memory-based "
                "shares on these GPUs cannot be counted",
                t->key, t->count, GF_LABEL_GPU_MEMORY);
    }
    for (size_t i = 0; i < w->no_model.v.n; i++) {
        const tally *t = &w->no_model.v.v[i];
        gf_diag(d, t->first, "%zu nodes have GPUs but no model; no %s label, GPU memory unknown",
                t->count, GF_LABEL_GPU_PRODUCT);
    }
    for (size_t i = 0; i < w->no_gpus.v.n; i++) {
        const tally *t = &w->no_gpus.v.v[i];
        gf_diag(d, t->first, "GPU model %s given for %zu nodes with 0 GPUs; ignored", t->key,
                t->count);
    }
    tallies_free(&w->assumed);
    tallies_free(&w->unknown);
    tallies_free(&w->no_model);
    tallies_free(&w->no_gpus);
}

static gf_err load_nodes(gf_model *m, gf_csv *c, gf_diags *d, gf_error *err)
{
    gf_err rc = gf_csv_header(c, node_columns, N_COLUMNS, N_COLUMNS, err);
    if (rc) return rc;
    node_warnings w = {0};
    while ((rc = gf_csv_next(c, err)) == GF_OK)
        if ((rc = node_row(m, c, &w, d, err))) break;
    node_warnings_flush(&w, d);
    return rc == GF_ENOTFOUND ? GF_OK : rc;
}

gf_err gf_alibaba_load_nodes_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                                    gf_diags *d, gf_error *err)
{
    gf_csv c;
    gf_csv_init(&c, name, buf, len);
    gf_err rc = load_nodes(m, &c, d, err);
    gf_csv_free(&c);
    return rc;
}

gf_err gf_alibaba_load_nodes(gf_model *m, const char *path, gf_diags *d, gf_error *err)
{
    gf_csv c;
    gf_err rc = gf_csv_open_file(&c, path, err);
    if (!rc) rc = load_nodes(m, &c, d, err);
    gf_csv_free(&c);
    return rc;
}

/* --- pods -------------------------------------------------------------------- */

enum {
    P_NAME,
    P_CPU,
    P_MEM,
    P_NUM_GPU,
    P_GPU_MILLI,
    P_GPU_SPEC,
    P_QOS,
    P_PHASE,
    P_CREATION,
    P_DELETION,
    P_SCHEDULED,
    P_COLUMNS
};
static const char *const pod_columns[P_COLUMNS] = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",     "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time"};
/* the multigpuNN files have only the first five columns */
#define P_REQUIRED (P_GPU_MILLI + 1)

typedef struct pod_ctx {
    gf_model *m;
    const gf_alibaba_opts *o;
    gf_strmap products; /* GPU models of the loaded nodes */
    tallies unknown;    /* gpu_spec models no node has */
} pod_ctx;

/* gpu_spec "A|B|B" -> {A, B} in p->gpu_models. */
static gf_err pod_gpu_spec(pod_ctx *x, const gf_csv *c, gf_pod *p, gf_error *err)
{
    const char *spec = gf_csv_field(c, P_GPU_SPEC);
    if (!spec || is_missing(spec)) return GF_OK;
    size_t n = 1;
    for (const char *s = spec; *s; s++)
        n += *s == '|';
    const char **models = gf_arena_alloc(&x->m->arena, n * sizeof *models);
    uint32_t k = 0;
    const char *s = spec;
    for (;;) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        char *one = gf_arena_strndup(&x->m->arena, s, len);
        if (!is_label_value(one))
            return gf_csv_bad_value(c, P_GPU_SPEC, err,
                                    "is not a list of GPU models separated by '|' (model '%.64s' "
                                    "is not a valid label value)",
                                    one);
        bool dup = false;
        for (uint32_t i = 0; i < k && !dup; i++)
            dup = !strcmp(models[i], one);
        if (!dup) models[k++] = one;
        if (!bar) break;
        s = bar + 1;
    }
    p->gpu_models = models;
    p->n_gpu_models = k;
    return GF_OK;
}

/* An optional time column -> annotation (normalised integer text). */
static gf_err pod_time(pod_ctx *x, const gf_csv *c, size_t col, const char *key, gf_kv *kv,
                       uint32_t *n, gf_error *err)
{
    const char *s = gf_csv_field(c, col);
    if (!s || !*s) return GF_OK;
    int64_t t;
    gf_err rc = gf_csv_int(c, col, 0, MAX_TIME_S, &t, err);
    if (rc) return rc;
    kv[(*n)++] = (gf_kv){key, afmt(x->m, "%lld", (long long)t)};
    return GF_OK;
}

static gf_err pod_row(pod_ctx *x, const gf_csv *c, gf_diags *d, gf_error *err)
{
    gf_model *m = x->m;
    gf_pod p = {0};
    int64_t cpu, mem, num_gpu, milli;
    const char *name = gf_csv_field(c, P_NAME);
    if (!is_object_name(name))
        return gf_csv_bad_value(c, P_NAME, err,
                                "is not a valid pod name (lowercase letters, digits, '-', '.')");
    gf_err rc;
    if ((rc = gf_csv_int(c, P_CPU, 0, MAX_CPU_MILLI, &cpu, err)) ||
        (rc = gf_csv_int(c, P_MEM, 0, MAX_MEMORY_MIB, &mem, err)) ||
        (rc = gf_csv_int(c, P_NUM_GPU, 0, MAX_GPUS, &num_gpu, err)) ||
        (rc = gf_csv_int(c, P_GPU_MILLI, 0, 1000, &milli, err)))
        return rc;
    /* gpu_milli is the share of each requested GPU (README: "GPU requested for
     * GPU-sharing workloads"); 1000 = whole GPUs */
    if (num_gpu == 0 && milli != 0)
        return gf_csv_bad_value(c, P_GPU_MILLI, err, "must be 0 when num_gpu is 0");
    if (num_gpu > 0 && milli == 0)
        return gf_csv_bad_value(c, P_GPU_MILLI, err, "must be above 0 when num_gpu is %lld",
                                (long long)num_gpu);
    if (num_gpu > MAX_FRACTION_DEVICES && milli < 1000)
        return gf_csv_bad_value(c, P_NUM_GPU, err,
                                "is above %d, the most devices a GPU fraction can span",
                                MAX_FRACTION_DEVICES);

    gf_kv labels[1], ann[6];
    uint32_t nl = 0, na = 0;
    p.ns = GF_ALIBABA_NAMESPACE;
    p.name = gf_arena_strdup(&m->arena, name);
    p.origin = row_origin(m, c);
    /* the trace records no node for a pod: every pod waits to be placed */
    p.phase = GF_PHASE_PENDING;
    p.scheduler_name = GF_KAI_SCHEDULER_NAME;
    p.cpu_milli = cpu;
    p.memory_bytes = mem * MIB;
    p.is_kai = true;
    if (milli == 1000) {
        p.gpu_whole = (uint32_t)num_gpu;
    } else if (num_gpu > 0) {
        /* 0.250 -> "0.25": trailing zeros dropped, as a person writes it */
        char frac[8];
        int v = (int)milli, digits = 3;
        while (digits > 1 && v % 10 == 0) {
            v /= 10;
            digits--;
        }
        snprintf(frac, sizeof frac, "0.%0*d", digits, v);
        p.share = GF_SHARE_FRACTION;
        p.gpu_fraction = (double)milli / 1000.0;
        p.gpu_devices = (uint32_t)num_gpu;
        ann[na++] = (gf_kv){GF_KAI_GPU_FRACTION, gf_arena_strdup(&m->arena, frac)};
        if (num_gpu > 1)
            ann[na++] = (gf_kv){GF_KAI_NUM_DEVICES, afmt(m, "%lld", (long long)num_gpu)};
    }
    if ((rc = pod_gpu_spec(x, c, &p, err))) return rc;

    const char *qos = gf_csv_field(c, P_QOS), *phase = gf_csv_field(c, P_PHASE);
    if (qos && *qos) {
        if (!is_label_value(qos))
            return gf_csv_bad_value(c, P_QOS, err,
                                    "is not a valid label value (at most 63 letters, digits, "
                                    "'-', '_', '.')");
        labels[nl++] = (gf_kv){GF_ALIBABA_QOS, gf_arena_strdup(&m->arena, qos)};
    }
    if (phase && *phase) {
        static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed",
                                             "Unknown"};
        const char *known = NULL;
        for (size_t i = 0; i < sizeof phases / sizeof phases[0] && !known; i++)
            if (!strcmp(phase, phases[i])) known = phases[i];
        if (!known)
            return gf_csv_bad_value(c, P_PHASE, err,
                                    "is not a pod phase (Pending, Running, Succeeded, Failed, "
                                    "Unknown)");
        ann[na++] = (gf_kv){GF_ALIBABA_POD_PHASE, known};
    }
    if ((rc = pod_time(x, c, P_CREATION, GF_ALIBABA_CREATION_TIME, ann, &na, err)) ||
        (rc = pod_time(x, c, P_DELETION, GF_ALIBABA_DELETION_TIME, ann, &na, err)) ||
        (rc = pod_time(x, c, P_SCHEDULED, GF_ALIBABA_SCHEDULED_TIME, ann, &na, err)))
        return rc;

    if (num_gpu == 0 && !(x->o && x->o->include_cpu_only)) return GF_OK;
    p.labels = kvs_copy(m, labels, nl);
    p.annotations = kvs_copy(m, ann, na);
    if (x->products.len)
        for (uint32_t i = 0; i < p.n_gpu_models; i++)
            if (!gf_strmap_get(&x->products, p.gpu_models[i], NULL))
                tally_add(&x->unknown, p.gpu_models[i], p.origin);
    gf_model_add_pod(m, &p, d);
    return GF_OK;
}

static gf_err load_pods(gf_model *m, gf_csv *c, const gf_alibaba_opts *o, gf_diags *d,
                        gf_error *err)
{
    gf_err rc = gf_csv_header(c, pod_columns, P_REQUIRED, P_COLUMNS, err);
    if (rc) return rc;
    pod_ctx x = {.m = m, .o = o};
    for (size_t i = 0; i < m->nodes.n; i++)
        if (m->nodes.v[i].gpu_count && m->nodes.v[i].gpu_product)
            gf_strmap_put(&x.products, m->nodes.v[i].gpu_product, i);
    while ((rc = gf_csv_next(c, err)) == GF_OK)
        if ((rc = pod_row(&x, c, d, err))) break;
    for (size_t i = 0; i < x.unknown.v.n; i++) {
        const tally *t = &x.unknown.v.v[i];
        gf_diag(d, t->first,
                "gpu_spec model %s (named by %zu pods) is not the GPU model of any loaded node",
                t->key, t->count);
    }
    tallies_free(&x.unknown);
    gf_strmap_free(&x.products);
    return rc == GF_ENOTFOUND ? GF_OK : rc;
}

gf_err gf_alibaba_load_pods_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                                   const gf_alibaba_opts *o, gf_diags *d, gf_error *err)
{
    gf_csv c;
    gf_csv_init(&c, name, buf, len);
    gf_err rc = load_pods(m, &c, o, d, err);
    gf_csv_free(&c);
    return rc;
}

gf_err gf_alibaba_load_pods(gf_model *m, const char *path, const gf_alibaba_opts *o, gf_diags *d,
                            gf_error *err)
{
    gf_csv c;
    gf_err rc = gf_csv_open_file(&c, path, err);
    if (!rc) rc = load_pods(m, &c, o, d, err);
    gf_csv_free(&c);
    return rc;
}
