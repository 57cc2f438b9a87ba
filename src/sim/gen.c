/* gen.c - deterministic synthetic KAI cluster, see gen.h.
 *
 * The generator first draws a catalogue of workloads per node class (sized
 * from the expected number of nodes of the class), then walks the nodes in
 * order: it draws the node's class and shape, fills its GPUs with pods of
 * the class's workloads up to the node's target allocation, and adds CPU-only
 * pods. Pending pods follow, then the workload objects and PDBs, whose
 * replica counts are known only then. Every random choice comes from one
 * xoshiro stream in a fixed order, so a seed gives one cluster. */
#include "sim/gen.h"
#include "model/kai.h"
#include "util/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_NODE_GPUS 8
#define MIB (1024LL * 1024)
#define GIB (1024LL * MIB)
/* Shares are summed as doubles; the model flags a GPU over-committed above
 * 1 + 1e-6, so placement keeps well inside that. */
#define SHARE_EPS 1e-9
/* Placement attempts that may fail on one node before it counts as full. */
#define MAX_FAILS 24
/* Kubernetes' rand.String alphabet (no vowels, no confusable digits), used
 * for ReplicaSet hashes and pod name suffixes. */
static const char k8s_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

/* --- the cluster's shape ---------------------------------------------------- */

typedef struct shape {
    uint32_t gpus, cores, memory_gib, weight;
} shape;

typedef enum class_kind { CLASS_TRAINING, CLASS_INFERENCE, CLASS_CPU } class_kind;

typedef struct node_class {
    const char *pool;    /* kai.scheduler/node-pool; NULL = default pool (nodes carry no label) */
    const char *prefix;  /* node name prefix */
    const char *product; /* nvidia.com/gpu.product, NULL for CPU-only nodes */
    int64_t gpu_memory_mib; /* nvidia.com/gpu.memory as GPU feature discovery reports it
                               (the values of kai.c's product table) */
    uint32_t permille;      /* share of the nodes */
    class_kind kind;
    shape shapes[4];
    uint32_t n_shapes;
} node_class;

/* Shapes are modelled on cloud GPU instances (GCP a2-ultragpu and g2-standard,
 * AWS g4dn and g5): their cores and memory per GPU, rounded. */
/* clang-format off */
static const node_class classes[] = {
    {"training-a100", "a100", "NVIDIA-A100-SXM4-80GB", 81920, 300, CLASS_TRAINING,
     {{1, 12, 170, 2}, {2, 24, 340, 3}, {4, 48, 680, 5}, {8, 96, 1360, 90}}, 4},
    {"inference-l4", "l4", "NVIDIA-L4", 23034, 300, CLASS_INFERENCE,
     {{1, 8, 32, 5}, {2, 24, 96, 10}, {4, 48, 192, 25}, {8, 96, 384, 60}}, 4},
    {"inference-t4", "t4", "Tesla-T4", 15360, 150, CLASS_INFERENCE,
     {{1, 8, 32, 10}, {2, 16, 64, 10}, {4, 48, 192, 30}, {8, 96, 384, 50}}, 4},
    {NULL, "a10g", "NVIDIA-A10G", 23028, 200, CLASS_INFERENCE,
     {{1, 8, 32, 10}, {4, 48, 192, 30}, {8, 192, 768, 60}}, 3},
    {NULL, "cpu", NULL, 0, 50, CLASS_CPU,
     {{0, 8, 32, 30}, {0, 16, 64, 50}, {0, 32, 128, 20}}, 3},
};
/* clang-format on */
#define N_CLASSES (sizeof classes / sizeof classes[0])

typedef struct ns_queue {
    const char *ns, *queue; /* queue NULL: namespace not served by KAI */
} ns_queue;

static const ns_queue inference_ns[] = {
    {"team-chat", "chat"},     {"team-search", "search"}, {"team-vision", "vision"},
    {"team-speech", "speech"}, {"recsys", "recsys"},      {"ml-platform", "platform"},
};
static const ns_queue training_ns[] = {
    {"research", "research"},
    {"team-chat", "chat"},
    {"team-vision", "vision"},
    {"ml-platform", "platform"},
};
static const ns_queue cpu_ns[] = {
    {"web", NULL},
    {"data", NULL},
    {"ml-platform", "platform"},
    {"team-search", "search"},
};

static const char *const inference_names[] = {
    "llm-chat", "embedder",   "reranker",   "ocr",        "asr",        "tts",
    "detector", "summarizer", "translator", "classifier", "moderation", "recommender",
};
static const char *const training_names[] = {"pretrain", "finetune", "eval",
                                             "rlhf",     "sweep",    "distill"};
static const char *const notebook_names[] = {"notebook", "debug", "bench"};
static const char *const cpu_names[] = {"api",   "frontend",      "ingest",  "etl-worker",
                                        "redis", "feature-store", "gateway", "indexer"};

/* gpu-fraction values as users write them; 0.25 and 0.5 dominate. */
static const struct {
    const char *text;
    double value;
    uint32_t weight;
} fractions[] = {
    {"0.1", 0.1, 4},  {"0.2", 0.2, 8}, {"0.25", 0.25, 24}, {"0.3", 0.3, 6}, {"0.4", 0.4, 6},
    {"0.5", 0.5, 34}, {"0.6", 0.6, 4}, {"0.75", 0.75, 10}, {"0.9", 0.9, 4},
};
#define N_FRACTIONS (sizeof fractions / sizeof fractions[0])

static const int64_t inference_memory_mib[] = {2048, 4096, 6144, 8192, 10240, 12288};
static const int64_t training_memory_mib[] = {10240, 20480, 40960};

/* --- generator state ------------------------------------------------------ */

/* A workload of the catalogue: the pod template its pods are stamped from. */
typedef struct wl {
    const char *kind; /* "Deployment", "StatefulSet", or NULL: unowned pods */
    const char *ns, *name, *rs_name, *hash;
    const char *pool; /* NULL: default pool */
    const char *queue;
    const char *scheduler;
    gf_share_kind share;
    double fraction;
    const char *fraction_text; /* as the annotation writes it */
    int64_t memory_mib;
    uint32_t devices; /* devices of a share */
    uint32_t whole;   /* whole GPUs */
    int64_t cpu_milli, memory_bytes;
    gf_kvs labels;      /* of pods without GPU-group labels */
    gf_kvs annotations; /* of every pod, and the template's */
    gf_kvs node_selector;
    const char **gpu_models;
    uint32_t n_gpu_models;
    bool gpu_toleration;
    /* the GPU container as the pod spec declares it (model.h gpu_image...):
     * what engine detection (model/engine.h) reads */
    const char *gpu_image;
    const char **gpu_argv;
    uint32_t gpu_argc;
    gf_kvs gpu_env;
    bool old_rs; /* a previous ReplicaSet, scaled to 0, is left over */
    uint32_t pods, running;
} wl;

typedef GF_VEC(uint32_t) idxvec;

typedef struct gen {
    gf_model *m;
    const gf_gen_opts *o;
    gf_rng rng;
    gf_strmap interned; /* literal -> its copy in m->arena */
    const char *origin;
    GF_VEC(wl) wls;
    idxvec by_class[N_CLASSES];
    idxvec gpu_wls, cpu_wls;
    gf_toleration *gpu_toleration;
    uint32_t workload_seq;
    uint32_t gpu_pods_bound;
} gen;

/* One GPU of the node being filled. */
typedef struct slot {
    double allocated;
    const char *group; /* shared GPU: its runai-gpu-group */
    bool whole;
} slot;

typedef struct node_fill {
    const gf_node *node;
    const node_class *cls;
    slot gpus[MAX_NODE_GPUS];
    int64_t cpu_free, memory_free;
    double allocated; /* whole GPUs + shares */
} node_fill;

/* --- small helpers -------------------------------------------------------- */

/* s's copy in the model's arena, one per distinct string (the map's value is
 * the copy's address). */
static const char *lit(gen *g, const char *s)
{
    size_t i;
    if (gf_strmap_get(&g->interned, s, &i)) return (const char *)(uintptr_t)i;
    const char *copy = gf_arena_strdup(&g->m->arena, s);
    gf_strmap_put(&g->interned, copy, (size_t)(uintptr_t)copy);
    return copy;
}

static const char *afmt(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *afmt(gen *g, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return gf_arena_strdup(&g->m->arena, buf);
}

static bool chance(gen *g, double p)
{
    return gf_rng_unit(&g->rng) < p;
}

static uint32_t below(gen *g, uint32_t n)
{
    return (uint32_t)gf_rng_below(&g->rng, n);
}

/* Index into a catalogue list, skewed to the front: a few workloads get most
 * pods, as in real clusters. */
static uint32_t skewed(gen *g, size_t n)
{
    double u = gf_rng_unit(&g->rng);
    uint32_t i = (uint32_t)((double)n * u * u);
    return i < n ? i : (uint32_t)n - 1;
}

static void rand_chars(gen *g, char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = k8s_alphabet[below(g, sizeof k8s_alphabet - 1)];
    out[n] = '\0';
}

/* A version-4 UUID, as the API server gives objects. */
static const char *uuid(gen *g)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = gf_rng_next(&g->rng), b = gf_rng_next(&g->rng);
    a = (a & ~0xf000ULL) | 0x4000ULL;       /* version 4 */
    b = (b & ~(3ULL << 62)) | (2ULL << 62); /* variant 10 */
    char *s = gf_arena_alloc(&g->m->arena, 37), *p = s;
    for (int i = 0; i < 32; i++) {
        uint64_t w = i < 16 ? a : b;
        *p++ = hex[(w >> (60 - 4 * (i % 16))) & 0xf];
        if (i == 7 || i == 11 || i == 15 || i == 19) *p++ = '-';
    }
    return s;
}

static gf_kvs kvs_new(gen *g, uint32_t cap)
{
    gf_kvs k = {gf_arena_alloc(&g->m->arena, cap * sizeof(gf_kv)), 0};
    return k;
}

static void kv_add(gf_kvs *k, const char *key, const char *value)
{
    k->items[k->n].key = key;
    k->items[k->n].value = value;
    k->n++;
}

/* --- the workload catalogue ------------------------------------------------- */

static void add_template_labels(gen *g, wl *w, bool gpu)
{
    w->labels = kvs_new(g, 4);
    kv_add(&w->labels, lit(g, "app"), w->name);
    if (w->hash) kv_add(&w->labels, lit(g, "pod-template-hash"), w->hash);
    if (w->queue) kv_add(&w->labels, lit(g, GF_KAI_QUEUE), w->queue);
    /* KAI assigns a pod to a node pool by this label */
    if (gpu && w->pool) kv_add(&w->labels, lit(g, GF_KAI_NODE_POOL), w->pool);
}

static void name_workload(gen *g, wl *w, const char *base, bool deployment, bool unowned)
{
    w->name = afmt(g, "%s-%u", base, ++g->workload_seq);
    if (unowned) return;
    w->kind = lit(g, deployment ? "Deployment" : "StatefulSet");
    if (deployment) {
        char hash[11];
        rand_chars(g, hash, 10);
        w->hash = gf_arena_strdup(&g->m->arena, hash);
        w->rs_name = afmt(g, "%s-%s", w->name, hash);
        w->old_rs = chance(g, 0.2);
    }
}

/* The inference server a service's GPU container runs, as its pod template
 * declares it, so that the simulator finds its engine class the way
 * inspect and the controller do (model/engine.h gf_engine_detect).
 * Shares among inference services with a gpu-fraction (an assumption,
 * docs/simulator.md "Engine classes"): 45% preallocating LLM servers (vLLM
 * 30%, SGLang 8%, TGI 7%), their cap $(GPU_PORTION) (70%) or a literal
 * equal to the fraction; 25% PyTorch caching-allocator servers (TorchServe
 * 15%, Triton's Python backend 10%); 30% generic. gpu-memory services and
 * the training pool: PyTorch 40%, else generic. Drawn from a stream of its
 * own (seed, workload number), so that the rest of the cluster is the same
 * as without engines. */
static void set_engine(gen *g, wl *w, bool training)
{
    gf_rng r;
    gf_rng_seed(&r, g->o->seed * 0x9E3779B97F4A7C15ULL +
                        (uint64_t)g->workload_seq * 0xBF58476D1CE4E5B9ULL + 0x5EED);
    double u = gf_rng_unit(&r);
    bool llm = !training && w->share == GF_SHARE_FRACTION;
    const char **argv = gf_arena_alloc(&g->m->arena, 6 * sizeof *argv);
    uint32_t n = 0;
    const char *cap = NULL;
    if (llm && u < 0.45) {
        cap = gf_rng_unit(&r) < 0.7 ? "$(GPU_PORTION)" : w->fraction_text;
    }
    if (llm && u < 0.30) {
        w->gpu_image = lit(g, "vllm/vllm-openai:v0.11.0");
        argv[n++] = lit(g, "--model");
        argv[n++] = lit(g, "meta-llama/Llama-3.1-8B-Instruct");
        argv[n++] = afmt(g, "--gpu-memory-utilization=%s", cap);
    } else if (llm && u < 0.38) {
        w->gpu_image = lit(g, "lmsysorg/sglang:v0.5.3-cu126");
        argv[n++] = lit(g, "python3");
        argv[n++] = lit(g, "-m");
        argv[n++] = lit(g, "sglang.launch_server");
        argv[n++] = afmt(g, "--mem-fraction-static=%s", cap);
    } else if (llm && u < 0.45) {
        w->gpu_image = lit(g, "ghcr.io/huggingface/text-generation-inference:3.3.6");
        argv[n++] = lit(g, "--model-id");
        argv[n++] = lit(g, "mistralai/Mistral-7B-Instruct-v0.3");
        argv[n++] = afmt(g, "--cuda-memory-fraction=%s", cap);
    } else if (llm ? u < 0.60 : u < 0.40) {
        w->gpu_image = lit(g, "pytorch/torchserve:0.12.0-gpu");
        argv[n++] = lit(g, "torchserve");
        argv[n++] = lit(g, "--start");
        argv[n++] = lit(g, "--foreground");
    } else if (llm && u < 0.70) {
        w->gpu_image = lit(g, "nvcr.io/nvidia/tritonserver:25.09-py3");
        argv[n++] = lit(g, "tritonserver");
        argv[n++] = lit(g, "--model-repository=/models");
    } else {
        w->gpu_image = lit(g, training ? "registry.example.com/ml/train:2.4"
                                       : "registry.example.com/ml/serve:1.8");
        argv[n++] = lit(g, "python");
        argv[n++] = lit(g, training ? "train.py" : "serve.py");
    }
    w->gpu_argv = argv;
    w->gpu_argc = n;
}

static void new_gpu_workload(gen *g, uint32_t cls_idx)
{
    const node_class *c = &classes[cls_idx];
    bool training = c->kind == CLASS_TRAINING;
    wl w = {0};
    const ns_queue *nq = training
                             ? &training_ns[below(g, sizeof training_ns / sizeof *training_ns)]
                             : &inference_ns[below(g, sizeof inference_ns / sizeof *inference_ns)];
    w.ns = lit(g, nq->ns);
    w.queue = lit(g, nq->queue);
    w.pool = c->pool ? lit(g, c->pool) : NULL;
    w.scheduler = lit(g, GF_KAI_SCHEDULER_NAME);
    w.gpu_toleration = true;

    /* What each pod asks of the GPUs. Training pool: 70% whole GPUs (1 to 8),
     * 10% gpu-memory, 20% gpu-fraction (notebooks, evaluation). Inference
     * pools: 15% whole GPUs (1 or 2), 15% gpu-memory, 5% a fraction on each
     * of 2 devices, 65% gpu-fraction. */
    double r = gf_rng_unit(&g->rng);
    if (training ? r < 0.70 : r < 0.15) {
        static const uint32_t sizes[] = {1, 2, 4, 8}, size_w[] = {25, 20, 20, 35};
        uint32_t pick = below(g, 100), acc = 0, k = 0;
        if (training) {
            while (pick >= acc + size_w[k])
                acc += size_w[k++];
            w.whole = sizes[k];
        } else {
            w.whole = pick < 80 ? 1 : 2;
        }
        w.cpu_milli = (training ? 10000 : 4000) * (int64_t)w.whole;
        w.memory_bytes = (training ? 120 : 16) * GIB * w.whole;
    } else {
        bool memory = training ? r < 0.80 : r < 0.30;
        bool two = !training && !memory && r < 0.35;
        if (memory) {
            const int64_t *mibs = training ? training_memory_mib : inference_memory_mib;
            size_t n = training ? sizeof training_memory_mib / sizeof *training_memory_mib
                                : sizeof inference_memory_mib / sizeof *inference_memory_mib;
            w.share = GF_SHARE_MEMORY;
            w.memory_mib = mibs[below(g, (uint32_t)n)];
        } else {
            uint32_t weights[N_FRACTIONS], total = 0, acc = 0, k = 0;
            for (size_t i = 0; i < N_FRACTIONS; i++) {
                /* multi-device fractions are small: 0.25 or 0.5 on each device */
                bool ok = !two || fractions[i].value == 0.25 || fractions[i].value == 0.5;
                weights[i] = ok ? fractions[i].weight : 0;
                total += weights[i];
            }
            uint32_t pick = below(g, total);
            while (pick >= acc + weights[k])
                acc += weights[k++];
            w.share = GF_SHARE_FRACTION;
            w.fraction = fractions[k].value;
            w.fraction_text = fractions[k].text;
        }
        w.devices = two ? 2 : 1;
        static const int64_t cpus[] = {500, 1000, 2000}, mems[] = {2, 4, 8};
        uint32_t size = below(g, 3);
        w.cpu_milli = cpus[size] * (training ? 2 : 1);
        w.memory_bytes = mems[size] * GIB * (training ? 4 : 1);
    }

    bool unowned = chance(g, 0.03);
    const char *base =
        unowned    ? notebook_names[below(g, sizeof notebook_names / sizeof *notebook_names)]
        : training ? training_names[below(g, sizeof training_names / sizeof *training_names)]
                   : inference_names[below(g, sizeof inference_names / sizeof *inference_names)];
    name_workload(g, &w, base, training ? chance(g, 0.3) : chance(g, 0.8), unowned);
    add_template_labels(g, &w, true);
    if (!w.whole) set_engine(g, &w, training);

    w.annotations = kvs_new(g, 3);
    char buf[32];
    if (w.share == GF_SHARE_FRACTION) {
        kv_add(&w.annotations, lit(g, GF_KAI_GPU_FRACTION), lit(g, w.fraction_text));
    } else if (w.share == GF_SHARE_MEMORY) {
        snprintf(buf, sizeof buf, "%lld", (long long)w.memory_mib);
        kv_add(&w.annotations, lit(g, GF_KAI_GPU_MEMORY), lit(g, buf));
    }
    if (w.devices > 1) {
        snprintf(buf, sizeof buf, "%u", w.devices);
        kv_add(&w.annotations, lit(g, GF_KAI_NUM_DEVICES), lit(g, buf));
    }
    if (chance(g, 0.03)) kv_add(&w.annotations, lit(g, GF_ANN_CONSOLIDATE), lit(g, "false"));

    /* some inference services pin their GPU model */
    if (c->kind == CLASS_INFERENCE && chance(g, 0.25)) {
        w.node_selector = kvs_new(g, 1);
        kv_add(&w.node_selector, lit(g, GF_LABEL_GPU_PRODUCT), lit(g, c->product));
        w.gpu_models = gf_arena_alloc(&g->m->arena, sizeof(char *));
        w.gpu_models[0] = w.node_selector.items[0].value;
        w.n_gpu_models = 1;
    }
    gf_vec_push(&g->wls, w);
    gf_vec_push(&g->by_class[cls_idx], (uint32_t)(g->wls.n - 1));
    gf_vec_push(&g->gpu_wls, (uint32_t)(g->wls.n - 1));
}

static void new_cpu_workload(gen *g)
{
    static const int64_t cpus[] = {100, 250, 500, 1000, 2000};
    static const int64_t mems_mib[] = {128, 256, 512, 1024, 2048, 4096};
    wl w = {0};
    const ns_queue *nq = &cpu_ns[below(g, sizeof cpu_ns / sizeof *cpu_ns)];
    w.ns = lit(g, nq->ns);
    bool kai = nq->queue && chance(g, 0.5);
    w.queue = kai ? lit(g, nq->queue) : NULL;
    w.scheduler = lit(g, kai ? GF_KAI_SCHEDULER_NAME : "default-scheduler");
    w.cpu_milli = cpus[below(g, sizeof cpus / sizeof *cpus)];
    w.memory_bytes = mems_mib[below(g, sizeof mems_mib / sizeof *mems_mib)] * MIB;
    name_workload(g, &w, cpu_names[below(g, sizeof cpu_names / sizeof *cpu_names)], chance(g, 0.85),
                  false);
    add_template_labels(g, &w, false);
    gf_vec_push(&g->wls, w);
    gf_vec_push(&g->cpu_wls, (uint32_t)(g->wls.n - 1));
}

static void build_catalogue(gen *g)
{
    for (uint32_t c = 0; c < N_CLASSES; c++) {
        if (classes[c].kind == CLASS_CPU) continue;
        double expected = (double)g->o->nodes * classes[c].permille / 1000.0;
        /* a workload per 3 inference nodes, per 2 training nodes: tens of
           pods for an inference service, a few for a training job */
        uint32_t n = 3 + (uint32_t)(expected / (classes[c].kind == CLASS_TRAINING ? 2.0 : 3.0));
        for (uint32_t i = 0; i < n; i++)
            new_gpu_workload(g, c);
    }
    uint32_t n_cpu = 3 + g->o->nodes / 8;
    for (uint32_t i = 0; i < n_cpu; i++)
        new_cpu_workload(g);
}

/* --- pods ------------------------------------------------------------------ */

/* Adds p under a fresh random name suffix until the name is unique in its
 * namespace (prefix + "-" + 5 characters, as Kubernetes' generateName). */
static void add_named(gen *g, gf_pod *p, const char *prefix)
{
    char suffix[6];
    do {
        rand_chars(g, suffix, 5);
        p->name = afmt(g, "%s-%s", prefix, suffix);
    } while (gf_model_add_pod(g->m, p, NULL) == GF_NONE);
}

/* A pod of w, bound to f's node (NULL: Pending) on the shared GPUs groups. */
static void add_pod(gen *g, wl *w, const node_fill *f, const char *const *groups, uint32_t n_groups)
{
    gf_pod p = {0};
    p.ns = w->ns;
    p.uid = uuid(g);
    p.origin = g->origin;
    p.labels = w->labels;
    if (n_groups) {
        p.labels = kvs_new(g, w->labels.n + n_groups);
        memcpy(p.labels.items, w->labels.items, w->labels.n * sizeof(gf_kv));
        p.labels.n = w->labels.n;
        if (n_groups == 1) {
            kv_add(&p.labels, lit(g, GF_KAI_GPU_GROUP), groups[0]);
            p.gpu_group = groups[0];
        } else {
            /* a multi-device fraction gets only runai-gpu-group/<g>=<g>
             * (resource_reservation.go updatePodGPUGroup) */
            p.extra_groups = gf_arena_alloc(&g->m->arena, n_groups * sizeof(char *));
            for (uint32_t i = 0; i < n_groups; i++) {
                const char *key = afmt(g, "%s/%s", GF_KAI_GPU_GROUP, groups[i]);
                kv_add(&p.labels, key, groups[i]);
                p.extra_groups[i] = groups[i];
            }
            p.n_extra_groups = n_groups;
        }
    }
    p.annotations = w->annotations;
    p.phase = f ? GF_PHASE_RUNNING : GF_PHASE_PENDING;
    p.node_name = f ? f->node->name : NULL;
    p.scheduler_name = w->scheduler;
    p.queue = w->queue;
    p.cpu_milli = w->cpu_milli;
    p.memory_bytes = w->memory_bytes;
    p.gpu_whole = w->whole;
    p.share = w->share;
    p.gpu_fraction = w->fraction;
    p.gpu_memory_mib = w->memory_mib;
    p.gpu_devices = w->share != GF_SHARE_NONE ? w->devices : 0;
    p.gpu_models = w->gpu_models;
    p.n_gpu_models = w->n_gpu_models;
    p.node_selector = w->node_selector;
    if (w->gpu_toleration) {
        p.tolerations = g->gpu_toleration;
        p.n_tolerations = 1;
    }
    p.gpu_image = w->gpu_image;
    p.gpu_argv = w->gpu_argv;
    p.gpu_argc = w->gpu_argc;
    p.gpu_env = w->gpu_env;
    p.pool_selector = w->pool;
    p.is_kai = p.scheduler_name && !strcmp(p.scheduler_name, GF_KAI_SCHEDULER_NAME);
    w->pods++;
    if (f) w->running++;
    if (w->kind && w->hash) {
        p.owner.kind = lit(g, "ReplicaSet");
        p.owner.name = w->rs_name;
        add_named(g, &p, w->rs_name);
    } else if (w->kind) { /* StatefulSet pods are numbered: unique by construction */
        p.owner.kind = w->kind;
        p.owner.name = w->name;
        p.name = afmt(g, "%s-%u", w->name, w->pods - 1);
        gf_model_add_pod(g->m, &p, NULL);
    } else {
        add_named(g, &p, w->name);
    }
}

/* KAI's binder holds a shared GPU with a reservation pod
 * (pkg/binder/binding/resourcereservation/resource_reservation.go
 * createResourceReservationPod: labels app and runai-gpu-group, bound by
 * nodeName, no schedulerName of its own); the pod writes its GPU's UUID into
 * run.ai/reserve_for_gpu_index (pkg/resourcereservation/patcher). */
static const char *reserve_gpu(gen *g, const node_fill *f, uint32_t index)
{
    const char *group = uuid(g);
    /* a UUID-shaped device ID from node and slot (FNV-1a), so the random
     * stream, and every generated cluster, stays what it was */
    uint64_t h1 = 1469598103934665603ULL, h2;
    for (const char *q = f->node->name; *q; q++)
        h1 = (h1 ^ (unsigned char)*q) * 1099511628211ULL;
    h1 = (h1 ^ index) * 1099511628211ULL;
    h2 = (h1 ^ 0x9e3779b97f4a7c15ULL) * 1099511628211ULL;
    const char *dev = afmt(g, "GPU-%08x-%04x-%04x-%04x-%012llx", (unsigned)(h1 >> 32),
                           (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xffff,
                           (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffULL));
    gf_pod p = {0};
    p.ns = lit(g, GF_KAI_RESERVATION_NS);
    p.uid = uuid(g);
    p.origin = g->origin;
    p.labels = kvs_new(g, 2);
    kv_add(&p.labels, lit(g, GF_KAI_APP_LABEL), lit(g, GF_KAI_RESERVATION_APP));
    kv_add(&p.labels, lit(g, GF_KAI_GPU_GROUP), group);
    p.annotations = kvs_new(g, 1);
    kv_add(&p.annotations, lit(g, GF_KAI_RESERVE_GPU_INDEX), dev);
    p.phase = GF_PHASE_RUNNING;
    p.node_name = f->node->name;
    p.scheduler_name = lit(g, "default-scheduler");
    p.gpu_whole = 1;
    p.gpu_group = group;
    p.tolerations = g->gpu_toleration;
    p.n_tolerations = 1;
    p.is_reservation = true;
    p.reserve_gpu = dev;
    add_named(g, &p, afmt(g, "gpu-reservation-%s", f->node->name));
    return group;
}

static bool is_idle(const slot *s)
{
    return !s->whole && !s->group;
}

/* Chooses devices for a share on distinct GPUs: usually the fullest shared
 * GPU it fits on (KAI's binpack), otherwise, or when none has room, an idle
 * GPU. Writes the slot indices to out; false when the node has no room. */
static bool choose_shared(gen *g, const node_fill *f, double share, uint32_t devices, uint32_t *out)
{
    bool used[MAX_NODE_GPUS] = {false};
    uint32_t n_gpus = f->node->gpu_count;
    for (uint32_t d = 0; d < devices; d++) {
        bool pack = chance(g, 0.7);
        uint32_t best = GF_NONE, idle = GF_NONE;
        for (uint32_t i = 0; i < n_gpus; i++) {
            const slot *s = &f->gpus[i];
            if (used[i]) continue;
            if (is_idle(s)) {
                if (idle == GF_NONE) idle = i;
            } else if (s->group && s->allocated + share <= 1.0 + SHARE_EPS &&
                       (best == GF_NONE || s->allocated > f->gpus[best].allocated)) {
                best = i;
            }
        }
        uint32_t pick = pack ? (best != GF_NONE ? best : idle) : (idle != GF_NONE ? idle : best);
        if (pick == GF_NONE) return false;
        used[pick] = true;
        out[d] = pick;
    }
    return true;
}

static double share_on(const node_fill *f, const wl *w)
{
    return w->share == GF_SHARE_MEMORY ? (double)w->memory_mib / (double)f->node->gpu_memory_mib
                                       : w->fraction;
}

/* Whether the node has room for a pod of w (try_place then succeeds). */
static bool fits(const node_fill *f, const wl *w)
{
    if (w->cpu_milli > f->cpu_free || w->memory_bytes > f->memory_free) return false;
    uint32_t room = 0;
    double share = w->share != GF_SHARE_NONE ? share_on(f, w) : 0.0;
    for (uint32_t i = 0; i < f->node->gpu_count; i++) {
        const slot *s = &f->gpus[i];
        if (is_idle(s) ||
            (w->share != GF_SHARE_NONE && s->group && s->allocated + share <= 1.0 + SHARE_EPS))
            room++;
    }
    if (w->whole) return room >= w->whole;
    if (w->share != GF_SHARE_NONE) return share <= 1.0 && room >= w->devices;
    return true;
}

static bool try_place(gen *g, node_fill *f, wl *w)
{
    if (w->cpu_milli > f->cpu_free || w->memory_bytes > f->memory_free) return false;
    uint32_t n_gpus = f->node->gpu_count;
    if (w->whole) {
        uint32_t got = 0, idx[MAX_NODE_GPUS];
        for (uint32_t i = 0; i < n_gpus && got < w->whole; i++)
            if (is_idle(&f->gpus[i])) idx[got++] = i;
        if (got < w->whole) return false;
        for (uint32_t k = 0; k < got; k++) {
            f->gpus[idx[k]].whole = true;
            f->gpus[idx[k]].allocated = 1.0;
        }
        f->allocated += w->whole;
        add_pod(g, w, f, NULL, 0);
    } else if (w->share != GF_SHARE_NONE) {
        double share = share_on(f, w);
        uint32_t idx[MAX_NODE_GPUS];
        if (w->devices > n_gpus || share > 1.0 || !choose_shared(g, f, share, w->devices, idx))
            return false;
        const char *groups[MAX_NODE_GPUS];
        for (uint32_t k = 0; k < w->devices; k++) {
            slot *s = &f->gpus[idx[k]];
            if (!s->group) s->group = reserve_gpu(g, f, idx[k]);
            s->allocated += share;
            groups[k] = s->group;
        }
        f->allocated += share * w->devices;
        add_pod(g, w, f, groups, w->devices);
    } else {
        add_pod(g, w, f, NULL, 0);
    }
    if (w->whole || w->share != GF_SHARE_NONE) g->gpu_pods_bound++;
    f->cpu_free -= w->cpu_milli;
    f->memory_free -= w->memory_bytes;
    return true;
}

/* The node's own target: spread evenly around the cluster's, so that some
 * nodes are nearly empty and some full, with the mean at o->fill. */
static double node_target(gen *g)
{
    double fill = g->o->fill;
    double h = 0.9 * (fill < 1.0 - fill ? fill : 1.0 - fill);
    return fill - h + 2.0 * h * gf_rng_unit(&g->rng);
}

static void fill_node(gen *g, uint32_t node_idx, uint32_t cls_idx)
{
    node_fill f;
    memset(&f, 0, sizeof f);
    f.node = &g->m->nodes.v[node_idx];
    f.cls = &classes[cls_idx];
    f.cpu_free = f.node->cpu_milli;
    f.memory_free = f.node->memory_bytes;
    double target = node_target(g);

    if (f.node->gpu_count) {
        const idxvec *cat = &g->by_class[cls_idx];
        double gpu_target = target * f.node->gpu_count;
        for (uint32_t fails = 0; f.allocated < gpu_target && fails < MAX_FAILS;) {
            wl *w = &g->wls.v[cat->v[skewed(g, cat->n)]];
            double need = w->whole ? (double)w->whole : share_on(&f, w) * w->devices;
            if (!fits(&f, w)) {
                fails++;
                continue;
            }
            /* a pod that fits but overshoots ends the node: it is taken with the
               chance that keeps the expected allocation at the target */
            if (f.allocated + need > gpu_target &&
                need * gf_rng_unit(&g->rng) > gpu_target - f.allocated)
                break;
            if (!try_place(g, &f, w)) fails++; /* cannot happen after fits() */
        }
    }
    /* CPU-only pods: CPU nodes up to the target share of their CPU, untainted
     * GPU nodes a few; they tolerate no taint. */
    if (f.node->n_taints) return;
    const idxvec *cat = &g->cpu_wls;
    if (f.cls->kind == CLASS_CPU) {
        int64_t cpu_target = (int64_t)(target * (double)f.node->cpu_milli);
        for (uint32_t fails = 0; f.node->cpu_milli - f.cpu_free < cpu_target && fails < MAX_FAILS;)
            if (!try_place(g, &f, &g->wls.v[cat->v[skewed(g, cat->n)]])) fails++;
    } else {
        uint32_t n = below(g, 2 * g->o->cpu_pods_per_node + 1);
        for (uint32_t i = 0; i < n; i++)
            try_place(g, &f, &g->wls.v[cat->v[skewed(g, cat->n)]]);
    }
}

/* --- nodes ----------------------------------------------------------------- */

static uint32_t draw_class(gen *g)
{
    uint32_t total = 0;
    for (uint32_t c = 0; c < N_CLASSES; c++)
        if (!g->o->gpus_per_node || classes[c].kind != CLASS_CPU) total += classes[c].permille;
    uint32_t pick = below(g, total), acc = 0;
    for (uint32_t c = 0; c < N_CLASSES; c++) {
        if (g->o->gpus_per_node && classes[c].kind == CLASS_CPU) continue;
        acc += classes[c].permille;
        if (pick < acc) return c;
    }
    return N_CLASSES - 1;
}

static void add_node(gen *g, uint32_t i, uint32_t cls_idx)
{
    const node_class *c = &classes[cls_idx];
    uint32_t total = 0, acc = 0, k = 0;
    for (uint32_t s = 0; s < c->n_shapes; s++)
        total += c->shapes[s].weight;
    uint32_t pick = below(g, total);
    while (pick >= acc + c->shapes[k].weight)
        acc += c->shapes[k++].weight;
    const shape *sh = &c->shapes[k];
    shape fixed;
    if (g->o->gpus_per_node && c->kind != CLASS_CPU) {
        /* the class's shape with that many GPUs, else its largest scaled */
        const shape *base = &c->shapes[c->n_shapes - 1];
        for (uint32_t s = 0; s < c->n_shapes; s++)
            if (c->shapes[s].gpus == g->o->gpus_per_node) base = &c->shapes[s];
        fixed = *base;
        fixed.cores = base->cores * g->o->gpus_per_node / base->gpus;
        fixed.memory_gib = base->memory_gib * g->o->gpus_per_node / base->gpus;
        fixed.gpus = g->o->gpus_per_node;
        sh = &fixed;
    }

    gf_node n = {0};
    n.name = afmt(g, "%s-%05u", c->prefix, i + 1);
    n.origin = g->origin;
    n.labels = kvs_new(g, 6);
    kv_add(&n.labels, lit(g, "kubernetes.io/hostname"), n.name);
    if (c->pool) kv_add(&n.labels, lit(g, GF_KAI_NODE_POOL), lit(g, c->pool));
    char buf[32];
    if (sh->gpus) {
        kv_add(&n.labels, lit(g, "nvidia.com/gpu.present"), lit(g, "true"));
        kv_add(&n.labels, lit(g, GF_LABEL_GPU_PRODUCT), lit(g, c->product));
        snprintf(buf, sizeof buf, "%u", sh->gpus);
        kv_add(&n.labels, lit(g, GF_LABEL_GPU_COUNT), lit(g, buf));
        snprintf(buf, sizeof buf, "%lld", (long long)c->gpu_memory_mib);
        kv_add(&n.labels, lit(g, GF_LABEL_GPU_MEMORY), lit(g, buf));
        n.gpu_count = sh->gpus;
        n.gpu_product = n.labels.items[n.labels.n - 3].value;
        n.gpu_memory_mib = gf_kai_node_gpu_memory_mib(buf, &n.gpu_memory_from_label);
        n.gpu_memory_display_mib = n.gpu_memory_mib;
    }
    /* allocatable: capacity less what the kubelet reserves (about 1% of the
     * cores and 6% of the memory) */
    n.cpu_milli = (int64_t)sh->cores * 1000 - 100 - 10 * (int64_t)sh->cores;
    n.memory_bytes = (int64_t)sh->memory_gib * GIB / 100 * 94 / 1024 * 1024;
    if (sh->gpus && chance(g, 0.03)) {
        n.taints = gf_arena_alloc(&g->m->arena, sizeof(gf_taint));
        n.taints[0].key = lit(g, GF_RES_GPU);
        n.taints[0].value = lit(g, "present");
        n.taints[0].effect = lit(g, "NoSchedule");
        n.n_taints = 1;
    }
    n.unschedulable = chance(g, 0.01); /* cordoned after its pods were bound */
    n.pool = gf_model_pool(g->m, c->pool ? c->pool : GF_KAI_DEFAULT_POOL);
    gf_model_add_node(g->m, &n, NULL);
}

/* --- workload objects and PDBs ------------------------------------------------ */

static void add_workload(gen *g, const wl *w, const char *kind, const char *name,
                         const char *owner_kind, const char *owner_name, int32_t replicas)
{
    gf_workload o = {0};
    o.kind = kind;
    o.ns = w->ns;
    o.name = name;
    o.uid = uuid(g);
    o.origin = g->origin;
    o.owner.kind = owner_kind;
    o.owner.name = owner_name;
    o.template_annotations = w->annotations;
    o.replicas = replicas;
    o.max_surge = -1; /* no strategy: Kubernetes' default */
    o.max_unavailable = -1;
    o.from_input = true;
    gf_model_add_workload(g->m, &o, NULL);
}

static void add_workloads_and_pdbs(gen *g)
{
    for (size_t i = 0; i < g->wls.n; i++) {
        const wl *w = &g->wls.v[i];
        if (!w->kind || !w->pods) continue; /* unowned pods; workloads never drawn */
        int32_t replicas = (int32_t)w->pods;
        add_workload(g, w, w->kind, w->name, NULL, NULL, replicas);
        if (w->hash) {
            const char *rs = lit(g, "ReplicaSet");
            if (w->old_rs) {
                char hash[11];
                rand_chars(g, hash, 10);
                add_workload(g, w, rs, afmt(g, "%s-%s", w->name, hash), w->kind, w->name, 0);
            }
            add_workload(g, w, rs, w->rs_name, w->kind, w->name, replicas);
        }
        if (w->pods >= 2 && chance(g, 0.08)) {
            /* minAvailable all (no disruption allowed) or all but one */
            int32_t min_available = chance(g, 0.3) ? replicas : replicas - 1;
            gf_pdb b = {0};
            b.ns = w->ns;
            b.name = afmt(g, "%s-pdb", w->name);
            b.origin = g->origin;
            b.match_labels = kvs_new(g, 1);
            kv_add(&b.match_labels, lit(g, "app"), w->name);
            int32_t allowed = (int32_t)w->running - min_available;
            b.disruptions_allowed = allowed > 0 ? allowed : 0;
            gf_vec_push(&g->m->pdbs, b);
        }
    }
}

/* --- entry points ------------------------------------------------------------- */

void gf_gen_opts_default(gf_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = 100;
    o->seed = 1;
    o->fill = 0.6;
    o->pending_share = 0.02;
    o->cpu_pods_per_node = 10;
    o->chat_quota_share = 0.9;
}

/* KAI Queues for the generated queues (pkg/apis/scheduling/v2/queue_types.go),
 * under one parent "departments" (no quota), each with a GPU quota sized
 * from the non-preemptible GPUs its bound pods hold (Deployments: KAI's
 * class inference; StatefulSets: train, preemptible): "chat"'s quota was
 * cut to 90% of what it holds (KAI keeps running pods and refuses new
 * non-preemptible ones: its upsizes hit quota until downsizes make room,
 * the simulator's quota scenario), the others get half as much again as
 * they hold. No random draws: the rest of the cluster
 * is what it was without queues. */
static void add_queues(gen *g, double chat_share)
{
    gf_model *m = g->m;
    const char *names[16];
    size_t n = 0;
    const ns_queue *lists[] = {inference_ns, training_ns, cpu_ns};
    size_t sizes[] = {sizeof inference_ns / sizeof *inference_ns,
                      sizeof training_ns / sizeof *training_ns, sizeof cpu_ns / sizeof *cpu_ns};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < sizes[l]; i++) {
            const char *q = lists[l][i].queue;
            bool seen = !q;
            for (size_t k = 0; k < n && !seen; k++)
                seen = !strcmp(names[k], q);
            if (!seen && n < sizeof names / sizeof *names) names[n++] = q;
        }
    double held[16] = {0};
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        size_t ni;
        if (!p->queue || !p->node_name || !gf_pod_active(p) || p->is_reservation) continue;
        if (!p->owner.kind || strcmp(p->owner.kind, "ReplicaSet")) continue; /* preemptible */
        if (!gf_strmap_get(&m->node_by_name, p->node_name, &ni)) continue;
        double devices = p->gpu_devices ? p->gpu_devices : 1;
        double gpus = p->gpu_whole + gf_pod_share_on(p, m->nodes.v[ni].gpu_memory_mib) * devices;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(names[k], p->queue)) held[k] += gpus;
    }
    gf_queue top = {0};
    top.name = lit(g, "departments");
    top.origin = g->origin;
    top.priority = 100;
    top.gpu.quota = top.gpu.limit = top.cpu.quota = top.cpu.limit = -1;
    top.memory.quota = top.memory.limit = -1;
    top.gpu.over_quota_weight = top.cpu.over_quota_weight = top.memory.over_quota_weight = 1;
    gf_vec_push(&m->queues, top);
    for (size_t k = 0; k < n; k++) {
        gf_queue q = top;
        q.name = lit(g, names[k]);
        q.parent = top.name;
        bool chat = !strcmp(names[k], "chat");
        q.gpu.quota = chat ? floor(held[k] * chat_share * 10) / 10 /* cut below use */
                           : ceil(held[k] * 1.5 * 10 - 1e-9) / 10; /* tenths of a GPU */
        gf_vec_push(&m->queues, q);
    }
}

gf_err gf_gen_cluster(gf_model *m, const gf_gen_opts *o, gf_diags *d, gf_error *err)
{
    if (o->nodes < 1 || o->nodes > GF_GEN_MAX_NODES)
        return gf_error_set(err, GF_EUSAGE, NULL, "nodes %u is outside 1..%u", o->nodes,
                            GF_GEN_MAX_NODES);
    if (!(o->fill >= 0.0 && o->fill <= 1.0)) /* also rejects NaN */
        return gf_error_set(err, GF_EUSAGE, NULL, "fill %g is outside 0..1", o->fill);
    if (!(o->pending_share >= 0.0 && o->pending_share <= 1.0))
        return gf_error_set(err, GF_EUSAGE, NULL, "pending share %g is outside 0..1",
                            o->pending_share);
    if (o->gpus_per_node != 0 && o->gpus_per_node != 1 && o->gpus_per_node != 2 &&
        o->gpus_per_node != 4 && o->gpus_per_node != 8)
        return gf_error_set(err, GF_EUSAGE, NULL, "GPUs per node must be 1, 2, 4 or 8 (got %u)",
                            o->gpus_per_node);
    if (!(o->chat_quota_share >= 0.0 && o->chat_quota_share <= 10.0))
        return gf_error_set(err, GF_EUSAGE, NULL, "chat queue quota share %g is outside 0..10",
                            o->chat_quota_share);
    if (o->cpu_pods_per_node > 100)
        return gf_error_set(err, GF_EUSAGE, NULL, "%u CPU-only pods per node is above 100",
                            o->cpu_pods_per_node);
    if (m->nodes.n || m->pods.n || m->workloads.n || m->pdbs.n)
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "the model already holds objects; generate into an empty one");

    gen g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.o = o;
    gf_rng_seed(&g.rng, o->seed);
    gf_strmap_init(&g.interned);
    g.origin = lit(&g, "(generated)");
    /* GPU pods tolerate the taint GPU nodes are often given */
    g.gpu_toleration = gf_arena_alloc(&m->arena, sizeof(gf_toleration));
    g.gpu_toleration->key = lit(&g, GF_RES_GPU);
    g.gpu_toleration->op = lit(&g, "Exists");
    g.gpu_toleration->effect = lit(&g, "NoSchedule");

    build_catalogue(&g);
    gf_vec_reserve(&m->nodes, o->nodes);
    for (uint32_t i = 0; i < o->nodes; i++) {
        uint32_t c = draw_class(&g);
        add_node(&g, i, c);
        fill_node(&g, i, c);
    }
    uint32_t pending = (uint32_t)llround(o->pending_share * g.gpu_pods_bound);
    for (uint32_t i = 0; i < pending && g.gpu_wls.n; i++)
        add_pod(&g, &g.wls.v[g.gpu_wls.v[skewed(&g, g.gpu_wls.n)]], NULL, NULL, 0);
    add_workloads_and_pdbs(&g);
    add_queues(&g, o->chat_quota_share);

    gf_vec_free(&g.wls);
    for (size_t c = 0; c < N_CLASSES; c++)
        gf_vec_free(&g.by_class[c]);
    gf_vec_free(&g.gpu_wls);
    gf_vec_free(&g.cpu_wls);
    gf_strmap_free(&g.interned);
    return gf_model_finalize(m, d, err);
}
