/* engine.c - inference engine detection from the pod spec, see engine.h. */
#include "model/engine.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gf_engine_name(gf_engine_kind k)
{
    static const char *names[GF_ENGINE_COUNT] = {"generic",      "vllm",   "sglang",    "tgi",
                                                 "tensorrt-llm", "triton", "torchserve"};
    return (unsigned)k < GF_ENGINE_COUNT ? names[k] : "?";
}

bool gf_engine_parse(const char *name, gf_engine_kind *out)
{
    for (int k = 0; name && k < GF_ENGINE_COUNT; k++) {
        const char *a = name, *b = gf_engine_name((gf_engine_kind)k);
        while (*a && *b && tolower((unsigned char)*a) == *b) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            *out = (gf_engine_kind)k;
            return true;
        }
    }
    return false;
}

const char *gf_engine_memory_name(gf_engine_memory m)
{
    switch (m) {
    case GF_MEM_FOLLOWS_LOAD:
        return "follows-load";
    case GF_MEM_PREALLOCATES:
        return "preallocates";
    case GF_MEM_HIGH_WATER:
        return "high-water";
    }
    return "?";
}

const char *gf_engine_cap_source_name(gf_engine_cap_source s)
{
    static const char *names[] = {"none", "flag", "env", "gpu-portion", "default", "unknown"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

/* --- the container's words ------------------------------------------------------------ */

/* A container's command + args as words: an entry with blanks (a shell's
 * `-c` script) is split at them, so "vllm serve m --gpu-memory-utilization
 * 0.5" in one string reads like separate args. Words point into buf. */
#define MAX_WORDS 512
typedef struct words {
    const char *w[MAX_WORDS];
    size_t n;
    char buf[16384];
} words;

static void split(const gf_pod *p, words *out)
{
    out->n = 0;
    size_t used = 0;
    for (uint32_t i = 0; i < p->gpu_argc && out->n < MAX_WORDS; i++) {
        const char *s = p->gpu_argv[i];
        while (*s && out->n < MAX_WORDS) {
            while (*s && isspace((unsigned char)*s))
                s++;
            size_t len = 0;
            while (s[len] && !isspace((unsigned char)s[len]))
                len++;
            if (!len) break;
            if (used + len + 1 > sizeof out->buf) return;
            char *w = out->buf + used;
            memcpy(w, s, len);
            w[len] = '\0';
            /* quotes a shell would strip */
            if (len >= 2 && (w[0] == '"' || w[0] == '\'') && w[len - 1] == w[0]) {
                w[len - 1] = '\0';
                w++;
            }
            out->w[out->n++] = w;
            used += len + 1;
            s += len;
        }
    }
}

static bool has(const char *s, const char *sub)
{
    if (!s) return false;
    size_t n = strlen(sub);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == sub[i])
            i++;
        if (i == n) return true;
    }
    return false;
}

static bool any_word_has(const words *w, const char *sub)
{
    for (size_t i = 0; i < w->n; i++)
        if (has(w->w[i], sub)) return true;
    return false;
}

/* The value of flag (spelled with dashes or underscores) in the words:
 * "--flag=V" or "--flag V"; NULL when absent. */
static const char *flag_value(const words *w, const char *flag)
{
    size_t n = strlen(flag);
    for (size_t i = 0; i < w->n; i++) {
        const char *a = w->w[i];
        size_t k = 0;
        while (k < n && a[k] && (a[k] == flag[k] || (k > 1 && a[k] == '_' && flag[k] == '-')))
            k++;
        if (k < n) continue;
        if (a[n] == '=') return a + n + 1;
        if (a[n] == '\0') return i + 1 < w->n ? w->w[i + 1] : "";
    }
    return NULL;
}

static bool is_gpu_portion(const char *v)
{
    return !strcmp(v, "$(GPU_PORTION)") || !strcmp(v, "${GPU_PORTION}") ||
           !strcmp(v, "$GPU_PORTION");
}

/* A cap from a value: GPU_PORTION, a share in (0, 1], or unknown. */
static void set_cap(gf_engine_info *e, const char *v, gf_engine_cap_source literal)
{
    if (is_gpu_portion(v)) {
        e->cap_source = GF_CAP_GPU_PORTION;
        e->cap = NAN;
        return;
    }
    char *end = NULL;
    double x = strtod(v, &end);
    if (*v && end && !*end && x > 0 && x <= 1) {
        e->cap_source = literal;
        e->cap = x;
    } else {
        e->cap_source = GF_CAP_UNKNOWN;
        e->cap = NAN;
    }
}

/* --- detection ---------------------------------------------------------------------- */

static gf_engine_kind kind_of(const gf_pod *p, const words *w)
{
    const char *img = p->gpu_image;
    /* vLLM: image vllm/vllm-openai; `vllm serve`, python -m vllm.entrypoints.* */
    if (has(img, "vllm") || any_word_has(w, "vllm.entrypoints") ||
        (w->n && (!strcmp(w->w[0], "vllm") || has(w->w[0], "/vllm"))))
        return GF_ENGINE_VLLM;
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->w[i], "vllm") && i + 1 < w->n && !strcmp(w->w[i + 1], "serve"))
            return GF_ENGINE_VLLM;
    /* SGLang: image lmsysorg/sglang; python -m sglang.launch_server, `sglang serve` */
    if (has(img, "sglang") || any_word_has(w, "sglang.launch_server") ||
        (w->n && !strcmp(w->w[0], "sglang")))
        return GF_ENGINE_SGLANG;
    /* TGI: image ghcr.io/huggingface/text-generation-inference; text-generation-launcher */
    if (has(img, "text-generation-inference") || any_word_has(w, "text-generation-launcher"))
        return GF_ENGINE_TGI;
    /* Triton with the TensorRT-LLM backend: nvcr.io/nvidia/tritonserver:<v>-trtllm-python-py3 */
    if ((has(img, "tritonserver") && has(img, "trtllm")) || has(img, "tensorrt-llm") ||
        has(img, "tensorrt_llm") || any_word_has(w, "tensorrt_llm"))
        return GF_ENGINE_TRTLLM;
    if (has(img, "tritonserver") || any_word_has(w, "tritonserver")) return GF_ENGINE_TRITON;
    if (has(img, "torchserve") || any_word_has(w, "torchserve")) return GF_ENGINE_TORCHSERVE;
    return GF_ENGINE_GENERIC;
}

void gf_engine_detect(const gf_pod *p, gf_engine_info *out, bool *bad_annotation)
{
    memset(out, 0, sizeof *out);
    out->cap = NAN;
    if (bad_annotation) *bad_annotation = false;
    words *w = malloc(sizeof *w);
    if (!w) return;
    split(p, w);
    const char *named = gf_kvs_get(&p->annotations, GF_ENGINE_ANNOTATION);
    if (named && gf_engine_parse(named, &out->kind)) {
        out->by_annotation = true;
    } else {
        if (named && bad_annotation) *bad_annotation = true;
        out->kind = kind_of(p, w);
    }
    const char *v;
    switch (out->kind) {
    case GF_ENGINE_VLLM: /* vLLM engine args: --gpu-memory-utilization, default 0.9 */
        out->memory = GF_MEM_PREALLOCATES;
        out->knob = "--gpu-memory-utilization";
        if ((v = flag_value(w, out->knob))) {
            set_cap(out, v, GF_CAP_FLAG);
        } else {
            out->cap_source = GF_CAP_DEFAULT;
            out->cap = 0.9;
        }
        break;
    case GF_ENGINE_SGLANG: /* server args: --mem-fraction-static; default chosen per GPU */
        out->memory = GF_MEM_PREALLOCATES;
        out->knob = "--mem-fraction-static";
        if ((v = flag_value(w, out->knob)))
            set_cap(out, v, GF_CAP_FLAG);
        else
            out->cap_source = GF_CAP_DEFAULT; /* cap NaN: SGLang picks it from the GPU */
        break;
    case GF_ENGINE_TGI: /* launcher: --cuda-memory-fraction / CUDA_MEMORY_FRACTION, default 1.0 */
        out->memory = GF_MEM_PREALLOCATES;
        out->knob = "--cuda-memory-fraction";
        if ((v = flag_value(w, out->knob))) {
            set_cap(out, v, GF_CAP_FLAG);
        } else if ((v = gf_kvs_get(&p->gpu_env, "CUDA_MEMORY_FRACTION"))) {
            out->knob = "CUDA_MEMORY_FRACTION";
            set_cap(out, v, GF_CAP_ENV);
        } else {
            out->cap_source = GF_CAP_DEFAULT;
            out->cap = 1.0;
        }
        break;
    case GF_ENGINE_TRTLLM: /* kv_cache_free_gpu_mem_fraction: in the model's config.pbtxt */
        out->memory = GF_MEM_PREALLOCATES;
        out->cap_source = GF_CAP_UNKNOWN;
        out->knob = "kv_cache_free_gpu_mem_fraction";
        break;
    case GF_ENGINE_TRITON:     /* Python/PyTorch backends: the caching allocator */
    case GF_ENGINE_TORCHSERVE: /* PyTorch's caching allocator */
        out->memory = GF_MEM_HIGH_WATER;
        out->cap_source = GF_CAP_NONE;
        break;
    default:
        out->memory = GF_MEM_FOLLOWS_LOAD;
        out->cap_source = GF_CAP_NONE;
        break;
    }
    free(w);
}

bool gf_engine_overrun(const gf_engine_info *e, double fraction, char *msg, size_t n)
{
    if (e->memory != GF_MEM_PREALLOCATES || !isfinite(e->cap) || !(fraction > 0)) return false;
    if (e->cap <= fraction + 0.005) return false;
    const char *src = e->cap_source == GF_CAP_DEFAULT ? " (its default)" : "";
    if (e->cap_source == GF_CAP_ENV)
        snprintf(msg, n,
                 "%s %s=%g%s takes %.2f of the GPU's memory but holds a %.2f fraction: set "
                 "%s to $(GPU_PORTION) (or %.2f)",
                 gf_engine_name(e->kind), e->knob, e->cap, src, e->cap, fraction, e->knob,
                 fraction);
    else
        snprintf(msg, n,
                 "%s %s %g%s takes %.2f of the GPU's memory but holds a %.2f fraction: set "
                 "%s=$(GPU_PORTION) (or %.2f)",
                 gf_engine_name(e->kind), e->knob, e->cap, src, e->cap, fraction, e->knob,
                 fraction);
    return true;
}
