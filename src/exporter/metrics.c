/* metrics.c - Prometheus text exposition of a scrape, see metrics.h. */
#include "exporter/metrics.h"
#include "io/promtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sample(gf_sbuf *out, const char *name, const char *labels, size_t labels_len, double v)
{
    gf_sbuf_puts(out, name);
    if (labels_len) {
        gf_sbuf_append(out, "{", 1);
        gf_sbuf_append(out, labels, labels_len);
        gf_sbuf_append(out, "}", 1);
    }
    gf_sbuf_append(out, " ", 1);
    gf_promtext_format_value(out, v);
    gf_sbuf_append(out, "\n", 1);
}

static void label(gf_sbuf *b, const char *name, const char *value, bool first)
{
    if (!first) gf_sbuf_append(b, ",", 1);
    gf_sbuf_puts(b, name);
    gf_sbuf_append(b, "=\"", 2);
    gf_promtext_escape_label(b, value);
    gf_sbuf_append(b, "\"", 1);
}

/* Label sets built once and used by every family: labels.s[off[i]..off[i+1]). */
typedef struct labelsets {
    gf_sbuf text;
    size_t *off;
} labelsets;

static void gpu_labels(const gf_scrape *s, labelsets *ls)
{
    ls->off = gf_xmalloc((s->gpus.n + 1) * sizeof *ls->off);
    char idx[16];
    for (size_t i = 0; i < s->gpus.n; i++) {
        ls->off[i] = ls->text.len;
        snprintf(idx, sizeof idx, "%u", s->gpus.v[i].index);
        label(&ls->text, "gpu_uuid", s->gpus.v[i].uuid, true);
        label(&ls->text, "gpu_index", idx, false);
    }
    ls->off[s->gpus.n] = ls->text.len;
}

static void series_labels(const gf_scrape *s, labelsets *ls)
{
    ls->off = gf_xmalloc((s->series.n + 1) * sizeof *ls->off);
    char idx[16];
    for (size_t i = 0; i < s->series.n; i++) {
        const gf_pod_series *p = &s->series.v[i];
        const gf_gpu_reading *g = &s->gpus.v[p->gpu];
        ls->off[i] = ls->text.len;
        snprintf(idx, sizeof idx, "%u", g->index);
        label(&ls->text, "namespace", p->ns, true);
        label(&ls->text, "pod", p->pod, false);
        label(&ls->text, "container", p->container, false);
        label(&ls->text, "gpu_uuid", g->uuid, false);
        label(&ls->text, "gpu_index", idx, false);
        if (p->unattributed) label(&ls->text, "unattributed", p->unattributed, false);
    }
    ls->off[s->series.n] = ls->text.len;
}

#define AT(ls, i) (ls).text.s + (ls).off[i], (ls).off[(i) + 1] - (ls).off[i]

/* Which pod-series family a loop emits. */
typedef enum pod_metric {
    PM_MEMORY,
    PM_SM,
    PM_ALLOC_FRACTION,
    PM_ALLOC_MEMORY,
    PM_MEMORY_RATIO,
    PM_SM_RATIO
} pod_metric;

static const struct {
    const char *name, *help;
} pod_families[] = {
    [PM_MEMORY] = {"gpufrac_pod_gpu_memory_used_bytes",
                   "GPU memory used by the container's processes on the GPU (NVML "
                   "usedGpuMemory, compute and graphics processes)."},
    [PM_SM] = {"gpufrac_pod_gpu_sm_utilization_ratio",
               "Share of one GPU's SM time the container's processes kept busy (NVML "
               "per-process smUtil, latest sample since the previous scrape; 0..1)."},
    [PM_ALLOC_FRACTION] = {"gpufrac_pod_gpu_allocated_fraction",
                           "Share of the GPU the pod holds, memory-based as KAI counts it: "
                           "gpu-fraction, or gpu-memory over the GPU's memory; 1 for whole GPUs."},
    [PM_ALLOC_MEMORY] = {"gpufrac_pod_gpu_allocated_memory_bytes",
                         "GPU memory the pod holds on the GPU (gpu-memory, or gpu-fraction "
                         "times the GPU's memory)."},
    [PM_MEMORY_RATIO] = {"gpufrac_pod_gpu_memory_used_ratio",
                         "The pod's GPU memory use on the GPU over the memory it holds there."},
    [PM_SM_RATIO] = {"gpufrac_pod_gpu_sm_used_ratio",
                     "The pod's SM share on the GPU over the fraction it holds there."},
};

static void pod_family(gf_sbuf *out, const gf_scrape *s, const labelsets *ls, pod_metric m)
{
    gf_promtext_family(out, pod_families[m].name, "gauge", pod_families[m].help);
    for (size_t i = 0; i < s->series.n; i++) {
        const gf_pod_series *p = &s->series.v[i];
        const gf_gpu_reading *g = &s->gpus.v[p->gpu];
        double v;
        switch (m) {
        case PM_MEMORY:
            if (!g->has_proc_memory) continue;
            v = p->memory_bytes;
            break;
        case PM_SM:
            if (!g->has_proc_sm) continue;
            v = p->sm_util;
            break;
        case PM_ALLOC_FRACTION:
            if (!p->allocated) continue;
            v = p->alloc_fraction;
            break;
        case PM_ALLOC_MEMORY:
            if (!p->allocated) continue;
            v = p->alloc_memory_bytes;
            break;
        case PM_MEMORY_RATIO:
            if (!p->allocated || !g->has_proc_memory) continue;
            v = p->memory_used_ratio;
            break;
        case PM_SM_RATIO:
            if (!p->allocated || !g->has_proc_sm) continue;
            v = p->sm_used_ratio;
            break;
        default:
            continue;
        }
        sample(out, pod_families[m].name, AT(*ls, i), v);
    }
}

void gf_metrics_render(const gf_scrape *s, gf_sbuf *out)
{
    labelsets gl = {GF_SBUF_INIT, NULL}, sl = {GF_SBUF_INIT, NULL};
    gpu_labels(s, &gl);
    series_labels(s, &sl);

    gf_promtext_family(out, "gpufrac_gpu_info", "gauge",
                       "GPUs NVML reports on this node (value 1).");
    for (size_t i = 0; i < s->gpus.n; i++) {
        gf_sbuf b = GF_SBUF_INIT;
        gf_sbuf_append(&b, AT(gl, i));
        label(&b, "model", s->gpus.v[i].model, false);
        sample(out, "gpufrac_gpu_info", b.s, b.len, 1);
        gf_sbuf_free(&b);
    }
    gf_promtext_family(out, "gpufrac_gpu_memory_total_bytes", "gauge", "GPU memory in all.");
    for (size_t i = 0; i < s->gpus.n; i++)
        if (s->gpus.v[i].has_memory)
            sample(out, "gpufrac_gpu_memory_total_bytes", AT(gl, i),
                   s->gpus.v[i].memory_total_bytes);
    gf_promtext_family(
        out, "gpufrac_gpu_memory_used_bytes", "gauge",
        "GPU memory in use (without the driver's reserved memory where NVML reports it "
        "apart).");
    for (size_t i = 0; i < s->gpus.n; i++)
        if (s->gpus.v[i].has_memory)
            sample(out, "gpufrac_gpu_memory_used_bytes", AT(gl, i), s->gpus.v[i].memory_used_bytes);
    gf_promtext_family(out, "gpufrac_gpu_sm_utilization_ratio", "gauge",
                       "Share of the last sample period in which a kernel ran on the GPU (NVML "
                       "utilization.gpu; 0..1).");
    for (size_t i = 0; i < s->gpus.n; i++)
        if (s->gpus.v[i].has_sm)
            sample(out, "gpufrac_gpu_sm_utilization_ratio", AT(gl, i), s->gpus.v[i].sm_util);

    for (int m = PM_MEMORY; m <= PM_SM_RATIO; m++)
        pod_family(out, s, &sl, (pod_metric)m);

    gf_promtext_family(
        out, "gpufrac_exporter_nvml_up", "gauge",
        "1 when NVML is loaded and initialised, 0 when the exporter runs without GPUs.");
    sample(out, "gpufrac_exporter_nvml_up", NULL, 0, s->nvml_up ? 1 : 0);
    gf_promtext_family(
        out, "gpufrac_exporter_nvml_errors_total", "counter",
        "NVML calls that failed, by function (a lost GPU counts at the call that saw it).");
    for (int c = 0; c < GF_NVML_NCALLS; c++) {
        gf_sbuf b = GF_SBUF_INIT;
        label(&b, "call", gf_nvml_call_name((gf_nvml_call)c), true);
        sample(out, "gpufrac_exporter_nvml_errors_total", b.s, b.len, (double)s->nvml_errors[c]);
        gf_sbuf_free(&b);
    }
    gf_promtext_family(out, "gpufrac_exporter_pod_list_refreshes_total", "counter",
                       "Attempts to fetch the node's pod list.");
    sample(out, "gpufrac_exporter_pod_list_refreshes_total", NULL, 0, (double)s->pod_refreshes);
    gf_promtext_family(
        out, "gpufrac_exporter_pod_list_errors_total", "counter",
        "Attempts to fetch the node's pod list that failed (the previous list is kept).");
    sample(out, "gpufrac_exporter_pod_list_errors_total", NULL, 0, (double)s->pod_errors);
    gf_promtext_family(out, "gpufrac_exporter_pod_list_pods", "gauge",
                       "Pods in the current pod list.");
    sample(out, "gpufrac_exporter_pod_list_pods", NULL, 0, (double)s->pods);
    gf_promtext_family(out, "gpufrac_exporter_scrape_duration_seconds", "gauge",
                       "Time the exporter took to collect this scrape.");
    sample(out, "gpufrac_exporter_scrape_duration_seconds", NULL, 0, s->duration_s);
    gf_promtext_family(out, "gpufrac_exporter_build_info", "gauge",
                       "The exporter's version and the NVIDIA driver's (value 1).");
    {
        gf_sbuf b = GF_SBUF_INIT;
        label(&b, "version", GF_EXPORTER_VERSION, true);
        label(&b, "driver_version", s->driver_version ? s->driver_version : "", false);
        sample(out, "gpufrac_exporter_build_info", b.s, b.len, 1);
        gf_sbuf_free(&b);
    }

    gf_sbuf_free(&gl.text);
    gf_sbuf_free(&sl.text);
    free(gl.off);
    free(sl.off);
}
