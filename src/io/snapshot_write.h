/* snapshot_write.h - cluster model -> kubectl JSON.
 *
 * The inverse of snapshot.h: writes one `List` document (apiVersion v1,
 * kind List) as `kubectl get nodes,pods,... -A -o json` would print it, with
 * the Nodes first, then the workloads read from input (ReplicaSets,
 * Deployments, ...; owners synthesised from pods' ownerReferences are not
 * objects and are left out), PodDisruptionBudgets, and Pods. Each item is one
 * line, so that large snapshots stream and diff well.
 *
 * Loading the output with gf_snapshot_load_* gives an equal model: the same
 * nodes, pods, workloads and PDBs with the same fields (containers are folded
 * into one container holding the pod's effective requests; a terminating
 * pod's deletionTimestamp is written as the epoch). */
#ifndef GF_SNAPSHOT_WRITE_H
#define GF_SNAPSHOT_WRITE_H

#include "model/model.h"

#include <stdio.h>

/* The model need not be finalized. Errors: GF_EIO when f cannot be written,
 * GF_EINTERNAL when an object cannot be encoded. */
gf_err gf_snapshot_write(const gf_model *m, FILE *f, gf_error *err);

#endif
