/* kjson.h - macros that write small Kubernetes objects as JSON text, for
 * tests that build hand-made clusters inline (shapes as kubectl prints them,
 * reduced to the fields gpufrac reads). */
#ifndef GF_KJSON_H
#define GF_KJSON_H

#define KJ_LIST(...) "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" __VA_ARGS__ "]}"

/* A GPU node: name, GFD product, GPU memory (MiB), GPU count, CPU cores,
 * extra labels (",\"k\":\"v\"" or ""), extra spec fields. */
#define KJ_NODE(name, product, gpumem, gpus, cpu, labels, spec)                                    \
    "{\"kind\":\"Node\",\"metadata\":{\"name\":\"" name "\",\"labels\":{"                          \
    "\"nvidia.com/gpu.product\":\"" product "\",\"nvidia.com/gpu.memory\":\"" gpumem "\"" labels   \
    "}},\"spec\":{" spec "},\"status\":{\"allocatable\":{\"cpu\":\"" cpu "\","                     \
    "\"memory\":\"64Gi\",\"nvidia.com/gpu\":\"" gpus "\"}}}"

/* An ownerReference list for metadata (kind, name) */
#define KJ_OWNER(kind, name)                                                                       \
    ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"" kind "\",\"name\":\"" name     \
    "\",\"controller\":true}]"

/* A running pod in namespace t on node: extra metadata (labels, annotations,
 * owner), container resources object. */
#define KJ_RUNNING(name, node, meta, res)                                                          \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" meta "},"          \
    "\"spec\":{\"nodeName\":\"" node "\",\"containers\":[{\"name\":\"c\",\"resources\":" res       \
    "}]},\"status\":{\"phase\":\"Running\"}}"

/* A running fractional pod sharing GPU group on node, 1 CPU requested. */
#define KJ_SHARED(name, node, group, frac, meta)                                                   \
    KJ_RUNNING(name, node,                                                                         \
               ",\"labels\":{\"runai-gpu-group\":\"" group "\"},\"annotations\":{"                 \
               "\"gpu-fraction\":\"" frac "\"}" meta,                                              \
               "{\"requests\":{\"cpu\":\"1\"}}")

/* A pending pod in namespace t: extra metadata, extra spec, resources. */
#define KJ_PENDING(name, meta, spec, res)                                                          \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" meta "},"          \
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":" res "}]" spec "},"                  \
    "\"status\":{\"phase\":\"Pending\"}}"

#endif
