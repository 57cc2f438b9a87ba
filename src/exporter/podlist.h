/* podlist.h - the pods of one node, as the exporter needs them: UID ->
 * namespace/name and KAI allocation, container ID -> container name.
 *
 * Input is a Kubernetes PodList as JSON: the kubelet's /pods, the API
 * server's /api/v1/pods?fieldSelector=spec.nodeName=NODE, or `kubectl get
 * pods -o json` (a List; items of other kinds are skipped), or a single Pod.
 * Fields read (core/v1 Pod):
 *   metadata.uid, .namespace, .name, .labels (runai-gpu-group[/<g>]),
 *   .annotations (KAI: gpu-fraction, gpu-memory, gpu-fraction-num-devices,
 *   gpu-fraction-container-name, run.ai/reserve_for_gpu_index; and
 *   kubernetes.io/config.mirror, the UID a static pod's cgroup carries),
 *   spec.nodeName, spec.containers[].name and .resources.limits/requests
 *   ["nvidia.com/gpu"], status.phase, status.{,init,ephemeral}ContainerStatuses[]
 *   .name and .containerID ("containerd://<id>", "cri-o://<id>", "docker://<id>").
 *
 * A malformed list (not JSON, a field of the wrong type) is an error naming
 * the JSON path; a KAI annotation with a bad value only costs that pod its
 * allocation (a warning in diags), since one user's typo must not blind the
 * exporter to the whole node. KAI semantics: model/kai.h. */
#ifndef GF_PODLIST_H
#define GF_PODLIST_H

#include "model/err.h"
#include "model/kai.h"
#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"

#include <stdbool.h>
#include <stdint.h>

#define GF_ANN_CONFIG_MIRROR "kubernetes.io/config.mirror"

/* What a pod holds of each GPU it uses. */
typedef enum gf_alloc {
    GF_ALLOC_NONE = 0,
    GF_ALLOC_FRACTION, /* gpu-fraction: share of each device's memory */
    GF_ALLOC_MEMORY,   /* gpu-memory: MiB of each device */
    GF_ALLOC_WHOLE     /* nvidia.com/gpu in a container's limits: whole devices */
} gf_alloc;

typedef struct gf_pl_container {
    const char *name;
    const char *id;     /* runtime ID without "runtime://", NULL when not running */
    uint32_t pod;       /* index into gf_podlist.pods */
    int64_t whole_gpus; /* nvidia.com/gpu limit (or request), 0 if none */
    bool init;          /* an init or ephemeral container */
} gf_pl_container;

typedef struct gf_pl_pod {
    const char *uid, *ns, *name;
    const char *node;  /* spec.nodeName, NULL if unscheduled */
    const char *phase; /* status.phase, NULL if absent */
    gf_alloc alloc;
    double fraction;             /* GF_ALLOC_FRACTION: 0 < f <= 1 */
    int64_t memory_mib;          /* GF_ALLOC_MEMORY */
    uint32_t devices;            /* gpu-fraction-num-devices (1 by default) */
    const char *alloc_container; /* the container KAI gives the share to; NULL if unknown */
    const char **groups;         /* runai-gpu-group values (the GPUs it shares) */
    uint32_t n_groups;
    bool reservation;        /* a KAI reservation pod (label app, reservation namespace) */
    const char *reserve_gpu; /* its run.ai/reserve_for_gpu_index: a GPU UUID or index */
    uint32_t first_container, n_containers; /* range in gf_podlist.containers */
} gf_pl_pod;

typedef struct gf_podlist {
    gf_arena arena; /* every string */
    GF_VEC(gf_pl_pod) pods;
    GF_VEC(gf_pl_container) containers;
    gf_strmap by_uid;          /* UID (and static pods' mirror hash) -> pod index */
    gf_strmap by_container_id; /* container ID -> container index */
    gf_kai_names kai;          /* KAI's configurable names (defaults from init) */
} gf_podlist;

void gf_podlist_init(gf_podlist *l);
void gf_podlist_free(gf_podlist *l); /* accepts NULL; reusable after gf_podlist_init */

/* Parses json[0..len) (name is used in messages) and adds its pods to l.
 * Errors are GF_EINPUT, e.g.
 *   pods.json: items[3].metadata.uid: expected a string, got an integer
 * and l must then be discarded. Bad KAI annotations become warnings in d
 * (may be NULL):
 *   pods.json: items[2].metadata.annotations["gpu-fraction"]: pod a/b:
 *   gpu-fraction "1.5": must be at most 1; no allocation reported */
gf_err gf_podlist_parse(gf_podlist *l, const char *name, const char *json, size_t len, gf_diags *d,
                        gf_error *err);

/* The pod with this UID, or NULL. */
const gf_pl_pod *gf_podlist_pod(const gf_podlist *l, const char *uid);
/* The container with this runtime ID, or NULL. */
const gf_pl_container *gf_podlist_container(const gf_podlist *l, const char *id);

#endif
