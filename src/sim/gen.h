/* gen.h - a deterministic synthetic KAI Scheduler cluster, for scale tests
 * and benchmarks.
 *
 * gf_gen_cluster() fills an empty model with what a GPU cluster scheduled by
 * KAI looks like through `kubectl get -o json`, and finalizes it:
 *   - node pools (label kai.scheduler/node-pool): training-a100 (8x
 *     NVIDIA-A100-SXM4-80GB mostly), inference-l4 (NVIDIA-L4), inference-t4
 *     (Tesla-T4), and the default pool (NVIDIA-A10G nodes and a few CPU-only
 *     nodes); 1, 2, 4 or 8 GPUs per node with GPU feature discovery labels
 *     nvidia.com/gpu.product, .count and .memory (MiB); a few nodes tainted
 *     nvidia.com/gpu:NoSchedule, a few cordoned (unschedulable);
 *   - Deployments (with their ReplicaSets, pod-template-hash labels, now and
 *     then an old ReplicaSet scaled to 0) and StatefulSets in several
 *     namespaces and KAI queues (label kai.scheduler/queue), schedulerName
 *     kai-scheduler; a few unowned pods; CPU-only services;
 *   - fractional pods (gpu-fraction 0.1..0.9, mostly 0.25 and 0.5; gpu-memory
 *     in MiB; some gpu-fraction-num-devices 2), whole-GPU pods (1 to 8 GPUs),
 *     a share of Pending pods, a few pods and templates annotated
 *     gpufrac.io/consolidate: "false", and PodDisruptionBudgets.
 * Bound pods are placed as KAI binds them: every shared GPU has a reservation
 * pod (namespace kai-resource-reservation, label runai-gpu-group=G,
 * annotation run.ai/reserve_for_gpu_index=I) and its sharing pods carry
 * runai-gpu-group=G (and runai-gpu-group/<G2>=<G2> for a second device). No
 * GPU is over-committed (memory-based, as KAI counts gpu-memory) and no
 * node's allocatable CPU or memory is exceeded. Sharing pods are mostly
 * binpacked onto the fullest shared GPU, sometimes opened on an idle one, so
 * that the free fractions left are scattered as churn leaves them.
 *
 * The same options give the same model, object for object and string for
 * string, on every platform (util/rng.h). All strings live in m->arena. */
#ifndef GF_GEN_H
#define GF_GEN_H

#include "model/model.h"

#include <stdint.h>

#define GF_GEN_MAX_NODES 1000000u

typedef struct gf_gen_opts {
    uint32_t nodes;             /* 1 .. GF_GEN_MAX_NODES (default 100) */
    uint64_t seed;              /* default 1 */
    double fill;                /* target allocated share of the GPUs, 0..1 (default 0.6) */
    double pending_share;       /* GPU pods left Pending per bound GPU pod, 0..1 (default 0.02) */
    uint32_t cpu_pods_per_node; /* mean CPU-only pods on an untainted GPU node, <= 100
                                   (default 10; CPU-only nodes are filled to `fill` of CPU) */
    uint32_t gpus_per_node;     /* 0: the mix of 1, 2, 4 and 8 (and CPU-only nodes); 1, 2, 4
                                   or 8: every node is a GPU node with that many GPUs */
    double chat_quota_share;    /* the "chat" queue's GPU quota over the non-preemptible GPUs
                                   it holds, 0..10 (default 0.9: cut below use, the quota
                                   scenario; the other queues get 1.5) */
} gf_gen_opts;

void gf_gen_opts_default(gf_gen_opts *o);

/* Generates into m, which must be freshly initialised (gf_model_init), and
 * finalizes it. Errors: GF_EUSAGE for options out of range or a model that
 * already holds objects (err says which). Finalization adds no warnings to d
 * for a generated cluster; d may be NULL. */
gf_err gf_gen_cluster(gf_model *m, const gf_gen_opts *o, gf_diags *d, gf_error *err);

#endif
