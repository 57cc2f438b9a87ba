/* cgroup.h - which pod and container a host process belongs to, from
 * /proc/<pid>/cgroup.
 *
 * NVML reports host PIDs, so the exporter runs with the host's /proc (hostPID
 * or a read-only mount) and reads each GPU process's cgroup. The kubelet
 * names a pod's cgroup after its UID (pkg/kubelet/cm/cgroup_manager_linux.go):
 *   systemd driver:  /kubepods.slice/kubepods-burstable.slice/
 *                    kubepods-burstable-pod<uid with '-' as '_'>.slice/<leaf>
 *   cgroupfs driver: /kubepods/burstable/pod<uid>/<leaf>
 * (Guaranteed pods have no QoS level: kubepods-pod<uid>.slice, /kubepods/pod<uid>.)
 * and the runtime names the container's leaf (cri-o/cri-o internal/config/
 * cgmgr, falcosecurity/libs cri.cpp):
 *   cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope (systemd),
 *   <id> or crio-<id> (cgroupfs), "<pod slice>:cri-containerd:<id>" when
 *   runc does not use the systemd driver; crun may put the processes in a
 *   child ".../crio-<id>.scope/container"; "crio-conmon-<id>" is CRI-O's
 *   monitor, not a container.
 * cgroup v1 files have one "ID:controllers:path" line per hierarchy, v2 a
 * single "0::path"; paths are relative to the reader's cgroup namespace and
 * may start with "/../", so the parser matches by pattern, not by prefix
 * (summarised in shared/research/rightsizing_exporter.md, B7). */
#ifndef GF_CGROUP_H
#define GF_CGROUP_H

#include "model/err.h"

#include <stdbool.h>
#include <stddef.h>

#define GF_POD_UID_MAX 36       /* 8-4-4-4-12; static pods: 32 hex digits */
#define GF_CONTAINER_ID_MAX 128 /* runtimes use 64 hex digits */

typedef enum gf_qos {
    GF_QOS_UNKNOWN = 0,
    GF_QOS_GUARANTEED,
    GF_QOS_BURSTABLE,
    GF_QOS_BESTEFFORT
} gf_qos;

typedef struct gf_cgroup_pod {
    bool in_pod;                                /* false: not a Kubernetes pod's process */
    char pod_uid[GF_POD_UID_MAX + 1];           /* lower case, '-' separators; "" if !in_pod */
    char container_id[GF_CONTAINER_ID_MAX + 1]; /* "" when the path names no container */
    gf_qos qos;
} gf_cgroup_pod;

/* One cgroup path (the text after the second ':' of a line). True when it
 * is a pod's; *out is filled then (and cleared otherwise). */
bool gf_cgroup_parse_path(const char *path, size_t len, gf_cgroup_pod *out);

/* The whole text of a /proc/<pid>/cgroup file, name for messages. The first
 * line naming a pod decides; a later line of the same pod may supply the
 * container ID. GF_OK with out->in_pod false for a process outside pods;
 * GF_EINPUT when no line has the "ID:controllers:path" shape. Lines are
 * separated by '\n'; NUL bytes and missing final newlines are tolerated. */
gf_err gf_cgroup_parse(const char *name, const char *text, size_t len, gf_cgroup_pod *out,
                       gf_error *err);

/* Reads <proc_root>/<pid>/cgroup and parses it. GF_ENOTFOUND when the
 * process is gone (ENOENT/ESRCH), GF_EIO for other read errors. */
gf_err gf_proc_pod_of(const char *proc_root, unsigned pid, gf_cgroup_pod *out, gf_error *err);

/* The process start time (field 22 of <proc_root>/<pid>/stat, clock ticks
 * since boot), which tells a reused PID from the process seen before. */
gf_err gf_proc_start_time(const char *proc_root, unsigned pid, unsigned long long *out,
                          gf_error *err);

/* "guaranteed", "burstable", "besteffort" or "unknown". */
const char *gf_qos_name(gf_qos q);

#endif
