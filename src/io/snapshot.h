/* snapshot.h - Kubernetes API objects (kubectl JSON) -> cluster model.
 *
 * Accepts what `kubectl get ... -o json` and the API server print: a `List`
 * of mixed kinds (`kubectl get nodes,pods -A -o json`), a typed list
 * (`NodeList`, `PodList`, ... whose items carry no kind), or one object.
 * Kinds read: Node, Pod, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job,
 * PodDisruptionBudget;
 * others are skipped with a warning. Several inputs may be loaded into one
 * model before gf_model_finalize().
 *
 * Errors name the input and the JSON path, e.g.
 *   snap.json: items[3].metadata.annotations.gpu-fraction: pod team-a/llm-0:
 *   "1.5" must be at most 1 */
#ifndef GF_SNAPSHOT_H
#define GF_SNAPSHOT_H

#include "model/model.h"

#include <stddef.h>

/* name is used in messages (usually the file path). */
gf_err gf_snapshot_load_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                               gf_diags *d, gf_error *err);
/* path "-" reads standard input. */
gf_err gf_snapshot_load_file(gf_model *m, const char *path, gf_diags *d, gf_error *err);

/* Loads every path, then finalizes the model. */
gf_err gf_snapshot_load_files(gf_model *m, char *const *paths, int npaths, gf_diags *d,
                              gf_error *err);

#endif
