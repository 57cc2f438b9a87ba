/* cgroup.c - host process -> pod UID and container ID, see cgroup.h. */
#include "exporter/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROC_FILE_MAX 16384 /* a cgroup v1 file has a dozen short lines; the rest is cut */

const char *gf_qos_name(gf_qos q)
{
    switch (q) {
    case GF_QOS_GUARANTEED:
        return "guaranteed";
    case GF_QOS_BURSTABLE:
        return "burstable";
    case GF_QOS_BESTEFFORT:
        return "besteffort";
    case GF_QOS_UNKNOWN:
        break;
    }
    return "unknown";
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Position of needle in s[0..n), or NULL. */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, needle, k)) return s + i;
    return NULL;
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(s, prefix, k);
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* A pod UID at s[0..n): 8-4-4-4-12 hex digits separated by '-' or '_' (the
 * systemd driver escapes '-' as '_'), or 32 hex digits (static pods' UIDs
 * are a hash). Normalised into out. */
static bool parse_uid(const char *s, size_t n, char out[GF_POD_UID_MAX + 1])
{
    if (n == 36) {
        for (size_t i = 0; i < 36; i++) {
            bool sep = i == 8 || i == 13 || i == 18 || i == 23;
            if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s[i])) return false;
            out[i] = sep ? '-' : lower(s[i]);
        }
        out[36] = '\0';
        return true;
    }
    if (n == 32) {
        for (size_t i = 0; i < 32; i++) {
            if (!is_hex(s[i])) return false;
            out[i] = lower(s[i]);
        }
        out[32] = '\0';
        return true;
    }
    return false;
}

/* The pod UID in one path segment: "pod<uid>" (cgroupfs) or
 * "...-pod<uid>.slice" (systemd); seg may carry a ":runtime:id" tail. */
static bool segment_pod(const char *seg, size_t n, char uid[GF_POD_UID_MAX + 1])
{
    const char *colon = memchr(seg, ':', n);
    if (colon) n = (size_t)(colon - seg);
    if (has_suffix(seg, n, ".slice")) n -= 6;
    const char *start;
    if (has_prefix(seg, n, "pod"))
        start = seg + 3;
    else if ((start = find(seg, n, "-pod")) != NULL)
        start += 4;
    else
        return false;
    /* systemd: kubepods-burstable-pod<uid>; take the rest of the segment */
    return parse_uid(start, (size_t)(seg + n - start), uid);
}

/* A container ID at s[0..n): hex digits, at most GF_CONTAINER_ID_MAX. */
static bool parse_container_id(const char *s, size_t n, char out[GF_CONTAINER_ID_MAX + 1])
{
    if (n < 12 || n > GF_CONTAINER_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_hex(s[i])) return false;
        out[i] = lower(s[i]);
    }
    out[n] = '\0';
    return true;
}

/* The container ID in the leaf below a pod's cgroup. */
static bool segment_container(const char *seg, size_t n, char out[GF_CONTAINER_ID_MAX + 1])
{
    static const char *const prefixes[] = {"cri-containerd-", "crio-", "docker-", "containerd-",
                                           "libpod-"};
    if (has_prefix(seg, n, "crio-conmon-")) return false; /* CRI-O's monitor process */
    if (has_suffix(seg, n, ".scope")) n -= 6;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t k = strlen(prefixes[i]);
        if (has_prefix(seg, n, prefixes[i])) {
            seg += k;
            n -= k;
            break;
        }
    }
    return parse_container_id(seg, n, out);
}

static gf_qos segment_qos(const char *seg, size_t n)
{
    if (find(seg, n, "besteffort")) return GF_QOS_BESTEFFORT;
    if (find(seg, n, "burstable")) return GF_QOS_BURSTABLE;
    return GF_QOS_UNKNOWN;
}

bool gf_cgroup_parse_path(const char *path, size_t len, gf_cgroup_pod *out)
{
    memset(out, 0, sizeof *out);
    const char *anchor = find(path, len, "kubepods");
    if (!anchor) return false;
    /* start at the segment holding the anchor */
    const char *p = anchor;
    while (p > path && p[-1] != '/')
        p--;
    const char *end = path + len;
    gf_qos qos = GF_QOS_UNKNOWN;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t n = (size_t)(seg_end - p);
        if (!out->in_pod) {
            if (segment_pod(p, n, out->pod_uid)) {
                out->in_pod = true;
                gf_qos q = segment_qos(p, n); /* systemd: kubepods-burstable-pod... */
                out->qos = q != GF_QOS_UNKNOWN     ? q
                           : qos != GF_QOS_UNKNOWN ? qos
                                                   : GF_QOS_GUARANTEED;
                /* "<pod slice>:cri-containerd:<id>": the ID is the last field */
                const char *colon = memchr(p, ':', n);
                if (colon) {
                    const char *last = p + n;
                    while (last > colon && last[-1] != ':')
                        last--;
                    if (!parse_container_id(last, (size_t)(p + n - last), out->container_id))
                        out->container_id[0] = '\0';
                }
            } else if (qos == GF_QOS_UNKNOWN) {
                qos = segment_qos(p, n);
            }
        } else {
            /* the first leaf below the pod; deeper ones (crun's "container") add nothing */
            if (!out->container_id[0] && !segment_container(p, n, out->container_id))
                out->container_id[0] = '\0';
            break;
        }
        if (!slash) break;
        p = slash + 1;
    }
    if (!out->in_pod) memset(out, 0, sizeof *out);
    return out->in_pod;
}

gf_err gf_cgroup_parse(const char *name, const char *text, size_t len, gf_cgroup_pod *out,
                       gf_error *err)
{
    memset(out, 0, sizeof *out);
    size_t valid = 0;
    const char *end = text + len;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = nl ? nl : end;
        /* ID:controllers:path; the ID is a number, controllers may be empty (v2) */
        const char *c1 = memchr(line, ':', (size_t)(line_end - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(line_end - c1 - 1)) : NULL;
        bool digits = c1 && c1 > line;
        for (const char *q = line; digits && q < c1; q++)
            if (*q < '0' || *q > '9') digits = false;
        if (digits && c2) {
            valid++;
            const char *path = c2 + 1;
            gf_cgroup_pod here;
            if (gf_cgroup_parse_path(path, (size_t)(line_end - path), &here)) {
                if (!out->in_pod)
                    *out = here;
                else if (!out->container_id[0] && here.container_id[0] &&
                         !strcmp(here.pod_uid, out->pod_uid))
                    memcpy(out->container_id, here.container_id, sizeof out->container_id);
            }
        }
        if (!nl) break;
        line = nl + 1;
    }
    if (!valid)
        return gf_error_set(err, GF_EINPUT, name,
                            len ? "no line of the form ID:controllers:path"
                                : "empty file, expected ID:controllers:path lines");
    return GF_OK;
}

/* Reads a small /proc file into buf (NUL-terminated); bytes read or -1. */
static long read_proc(const char *proc_root, unsigned pid, const char *file, char *buf, size_t cap,
                      char *path, size_t path_n, int *errnum)
{
    snprintf(path, path_n, "%s/%u/%s", proc_root, pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *errnum = errno;
        return -1;
    }
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            *errnum = errno;
            close(fd);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (long)got;
}

static gf_err proc_error(gf_error *err, const char *path, int errnum)
{
    if (errnum == ENOENT || errnum == ESRCH)
        return gf_error_set(err, GF_ENOTFOUND, path,
                            "no such process (it exited, or this is "
                            "not the host's /proc)");
    return gf_error_set(err, GF_EIO, path, "cannot read: %s", strerror(errnum));
}

gf_err gf_proc_pod_of(const char *proc_root, unsigned pid, gf_cgroup_pod *out, gf_error *err)
{
    char buf[PROC_FILE_MAX], path[4200];
    int errnum = 0;
    memset(out, 0, sizeof *out);
    long n = read_proc(proc_root, pid, "cgroup", buf, sizeof buf, path, sizeof path, &errnum);
    if (n < 0) return proc_error(err, path, errnum);
    return gf_cgroup_parse(path, buf, (size_t)n, out, err);
}

gf_err gf_proc_start_time(const char *proc_root, unsigned pid, unsigned long long *out,
                          gf_error *err)
{
    char buf[2048], path[4200];
    int errnum = 0;
    *out = 0;
    long n = read_proc(proc_root, pid, "stat", buf, sizeof buf, path, sizeof path, &errnum);
    if (n < 0) return proc_error(err, path, errnum);
    /* "pid (comm) state ppid ...": comm may hold spaces and ')', so count
     * fields from the last ')'; starttime is field 22, the 20th after it */
    const char *p = strrchr(buf, ')');
    if (!p) return gf_error_set(err, GF_EINPUT, path, "no ')' after the command name");
    p++;
    for (int field = 3;; field++) {
        while (*p == ' ')
            p++;
        if (!*p) return gf_error_set(err, GF_EINPUT, path, "fewer than 22 fields");
        if (field == 22) break;
        while (*p && *p != ' ')
            p++;
    }
    unsigned long long v = 0;
    const char *q = p;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (~0ULL - 9) / 10) return gf_error_set(err, GF_EINPUT, path, "starttime overflows");
        v = v * 10 + (unsigned)(*q - '0');
    }
    if (q == p) return gf_error_set(err, GF_EINPUT, path, "field 22 (starttime) is not a number");
    *out = v;
    return GF_OK;
}
