/* fake_nvml.c - a stand-in for libnvidia-ml.so.1 with the same C ABI (the
 * functions gpufrac-exporter uses, src/exporter/nvml_abi.h), scripted by the
 * file named in $GPUFRAC_FAKE_NVML_SCRIPT, so that the exporter's NVML
 * paths can be tested without a GPU.
 *
 * Script: one statement per line, '#' starts a comment, fields separated by
 * spaces, values may be double-quoted:
 *   driver VERSION                   what nvmlSystemGetDriverVersion says
 *   init_error CODE                  nvmlInit fails with CODE
 *   device UUID [name="NVIDIA L4"] [memory=BYTES] [used=BYTES] [reserved=BYTES]
 *          [util=PCT] [lost_after=N] [undercount=K]
 *       a GPU, in index order. lost_after=N: after N calls on its handle every
 *       call answers GPU_IS_LOST (0: lost from the start). undercount=K:
 *       INSUFFICIENT_SIZE answers report K entries fewer than needed (a list
 *       that grows between the sizing call and the next).
 *   process UUID PID [memory=BYTES|na] [type=compute|graphics|both] [sm=PCT]
 *       a process with a context on the GPU (memory "na" reads as
 *       NVML_VALUE_NOT_AVAILABLE); default compute. sm=PCT makes it busy:
 *       every nvmlDeviceGetProcessUtilization call reports a fresh sample
 *       of PCT, 1000 us after the caller's lastSeenTimeStamp.
 *   sample UUID PID ts=MICROSECONDS sm=PCT [mem=PCT]
 *       a process utilisation sample in the driver's buffer;
 *       nvmlDeviceGetProcessUtilization returns those newer than lastSeen.
 *   error CALL CODE [device=UUID] [skip=N] [times=N]
 *       CALL (a symbol, or its name without the _vN suffix) answers CODE
 *       (a name such as GPU_IS_LOST or a number), for one device or all,
 *       after skipping N matching calls, N times (default: always).
 * CODE names are nvmlReturn_t's without NVML_ERROR_ (UNKNOWN, NOT_SUPPORTED,
 * ...). Without the variable set, nvmlInit answers DRIVER_NOT_LOADED; a
 * script that does not parse makes it answer UNKNOWN (the reason on stderr).
 *
 * The script is read at the first nvmlInit (and again after the last
 * nvmlShutdown); gf_fake_nvml_reload() (not an NVML function) reads it again
 * at once and resets the call counters, for tests that change the scenario
 * between two scrapes. */
#include "../../src/exporter/nvml_abi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVICES 64
#define MAX_PROCS 8192
#define MAX_SAMPLES 65536
#define MAX_ERRORS 64

struct nvmlDevice_st {
    char uuid[96], name[96];
    unsigned long long memory, used, reserved;
    unsigned util;
    long lost_after; /* -1: never */
    unsigned undercount;
    long calls;
};

typedef struct fproc {
    int dev;
    unsigned pid;
    unsigned long long memory;
    int type;    /* 1 compute, 2 graphics, 3 both */
    int live_sm; /* >= 0: a fresh sample of this % at every utilisation call */
} fproc;

typedef struct fsample {
    int dev;
    nvmlProcessUtilizationSample_t s;
} fsample;

typedef struct frule {
    char call[96];
    int dev; /* -1 all */
    nvmlReturn_t code;
    long skip, times; /* times < 0: always */
} frule;

static struct {
    int loaded; /* 1 parsed, -1 failed */
    int init_count;
    nvmlReturn_t init_error;
    char driver[80];
    struct nvmlDevice_st devs[MAX_DEVICES];
    int ndev;
    fproc procs[MAX_PROCS];
    int nproc;
    fsample samples[MAX_SAMPLES];
    int nsample;
    frule errors[MAX_ERRORS];
    int nerror;
} F;

static const struct {
    const char *name;
    nvmlReturn_t code;
} codes[] = {
    {"SUCCESS", NVML_SUCCESS},
    {"UNINITIALIZED", NVML_ERROR_UNINITIALIZED},
    {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT},
    {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED},
    {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION},
    {"NOT_FOUND", NVML_ERROR_NOT_FOUND},
    {"INSUFFICIENT_SIZE", NVML_ERROR_INSUFFICIENT_SIZE},
    {"DRIVER_NOT_LOADED", NVML_ERROR_DRIVER_NOT_LOADED},
    {"TIMEOUT", NVML_ERROR_TIMEOUT},
    {"LIBRARY_NOT_FOUND", NVML_ERROR_LIBRARY_NOT_FOUND},
    {"FUNCTION_NOT_FOUND", NVML_ERROR_FUNCTION_NOT_FOUND},
    {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
    {"RESET_REQUIRED", NVML_ERROR_RESET_REQUIRED},
    {"LIB_RM_VERSION_MISMATCH", NVML_ERROR_LIB_RM_VERSION_MISMATCH},
    {"NO_DATA", NVML_ERROR_NO_DATA},
    {"GPU_NOT_FOUND", NVML_ERROR_GPU_NOT_FOUND},
    {"UNKNOWN", NVML_ERROR_UNKNOWN},
};

/* --- the script --------------------------------------------------------------- */

static int bad(const char *path, int line, const char *what, const char *tok)
{
    fprintf(stderr, "fake_nvml: %s:%d: %s%s%s\n", path, line, what, tok ? ": " : "",
            tok ? tok : "");
    return -1;
}

/* Splits line into tokens in place; a double-quoted value keeps spaces. */
static int tokenize(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || *p == '#') break;
        char *out = p;
        tok[n++] = out;
        bool quoted = false;
        while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'))) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            *out++ = *p++;
        }
        if (*p) p++;
        *out = '\0';
    }
    return n;
}

static int parse_code(const char *s, nvmlReturn_t *out)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(s, codes[i].name)) {
            *out = codes[i].code;
            return 0;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end) return -1;
    *out = (nvmlReturn_t)v;
    return 0;
}

static int parse_ull(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || *s == '-') return -1;
    *out = v;
    return 0;
}

static int find_dev(const char *uuid)
{
    for (int i = 0; i < F.ndev; i++)
        if (!strcmp(F.devs[i].uuid, uuid)) return i;
    return -1;
}

/* "key=value" -> value when tok starts with key= */
static const char *kv(const char *tok, const char *key)
{
    size_t n = strlen(key);
    return !strncmp(tok, key, n) && tok[n] == '=' ? tok + n + 1 : NULL;
}

static int load(void)
{
    /* reset the counts only: clearing the arrays would make them resident */
    F.loaded = 0;
    F.init_error = NVML_SUCCESS;
    F.driver[0] = '\0';
    F.ndev = F.nproc = F.nsample = F.nerror = 0;
    const char *path = getenv("GPUFRAC_FAKE_NVML_SCRIPT");
    if (!path || !*path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return bad(path, 0, "cannot open", strerror(errno));
    char line[1024];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *tok[16];
        int n = tokenize(line, tok, 16);
        if (n == 0) continue;
        unsigned long long v;
        const char *val;
        if (!strcmp(tok[0], "driver") && n == 2) {
            snprintf(F.driver, sizeof F.driver, "%s", tok[1]);
        } else if (!strcmp(tok[0], "init_error") && n == 2) {
            if (parse_code(tok[1], &F.init_error)) rc = bad(path, ln, "bad code", tok[1]);
        } else if (!strcmp(tok[0], "device") && n >= 2) {
            if (F.ndev == MAX_DEVICES) {
                rc = bad(path, ln, "too many devices", NULL);
                break;
            }
            struct nvmlDevice_st *d = &F.devs[F.ndev++];
            memset(d, 0, sizeof *d);
            snprintf(d->uuid, sizeof d->uuid, "%s", tok[1]);
            snprintf(d->name, sizeof d->name, "NVIDIA Fake GPU");
            d->memory = 24ULL << 30;
            d->lost_after = -1;
            for (int i = 2; i < n && !rc; i++) {
                if ((val = kv(tok[i], "name")))
                    snprintf(d->name, sizeof d->name, "%s", val);
                else if ((val = kv(tok[i], "memory")) && !parse_ull(val, &v))
                    d->memory = v;
                else if ((val = kv(tok[i], "used")) && !parse_ull(val, &v))
                    d->used = v;
                else if ((val = kv(tok[i], "reserved")) && !parse_ull(val, &v))
                    d->reserved = v;
                else if ((val = kv(tok[i], "util")) && !parse_ull(val, &v))
                    d->util = (unsigned)v;
                else if ((val = kv(tok[i], "lost_after")) && !parse_ull(val, &v))
                    d->lost_after = (long)v;
                else if ((val = kv(tok[i], "undercount")) && !parse_ull(val, &v))
                    d->undercount = (unsigned)v;
                else
                    rc = bad(path, ln, "bad device field", tok[i]);
            }
        } else if (!strcmp(tok[0], "process") && n >= 3) {
            int d = find_dev(tok[1]);
            if (d < 0 || F.nproc == MAX_PROCS || parse_ull(tok[2], &v)) {
                rc = bad(path, ln, "bad process (unknown device, bad pid or too many)", tok[1]);
                break;
            }
            fproc *p = &F.procs[F.nproc++];
            memset(p, 0, sizeof *p);
            p->dev = d;
            p->pid = (unsigned)v;
            p->type = 1;
            p->live_sm = -1;
            for (int i = 3; i < n && !rc; i++) {
                if ((val = kv(tok[i], "memory")) && !strcmp(val, "na"))
                    p->memory = NVML_VALUE_NOT_AVAILABLE;
                else if ((val = kv(tok[i], "memory")) && !parse_ull(val, &v))
                    p->memory = v;
                else if ((val = kv(tok[i], "type")) && !strcmp(val, "compute"))
                    p->type = 1;
                else if ((val = kv(tok[i], "type")) && !strcmp(val, "graphics"))
                    p->type = 2;
                else if ((val = kv(tok[i], "type")) && !strcmp(val, "both"))
                    p->type = 3;
                else if ((val = kv(tok[i], "sm")) && !parse_ull(val, &v) && v <= 100)
                    p->live_sm = (int)v;
                else
                    rc = bad(path, ln, "bad process field", tok[i]);
            }
        } else if (!strcmp(tok[0], "sample") && n >= 3) {
            int d = find_dev(tok[1]);
            if (d < 0 || F.nsample == MAX_SAMPLES || parse_ull(tok[2], &v)) {
                rc = bad(path, ln, "bad sample (unknown device, bad pid or too many)", tok[1]);
                break;
            }
            fsample *s = &F.samples[F.nsample++];
            memset(s, 0, sizeof *s);
            s->dev = d;
            s->s.pid = (unsigned)v;
            for (int i = 3; i < n && !rc; i++) {
                if ((val = kv(tok[i], "ts")) && !parse_ull(val, &v))
                    s->s.timeStamp = v;
                else if ((val = kv(tok[i], "sm")) && !parse_ull(val, &v))
                    s->s.smUtil = (unsigned)v;
                else if ((val = kv(tok[i], "mem")) && !parse_ull(val, &v))
                    s->s.memUtil = (unsigned)v;
                else
                    rc = bad(path, ln, "bad sample field", tok[i]);
            }
        } else if (!strcmp(tok[0], "error") && n >= 3) {
            if (F.nerror == MAX_ERRORS) {
                rc = bad(path, ln, "too many error rules", NULL);
                break;
            }
            frule *e = &F.errors[F.nerror++];
            memset(e, 0, sizeof *e);
            snprintf(e->call, sizeof e->call, "%s", tok[1]);
            e->dev = -1;
            e->times = -1;
            if (parse_code(tok[2], &e->code)) rc = bad(path, ln, "bad code", tok[2]);
            for (int i = 3; i < n && !rc; i++) {
                if ((val = kv(tok[i], "device"))) {
                    if ((e->dev = find_dev(val)) < 0) rc = bad(path, ln, "unknown device", val);
                } else if ((val = kv(tok[i], "skip")) && !parse_ull(val, &v)) {
                    e->skip = (long)v;
                } else if ((val = kv(tok[i], "times")) && !parse_ull(val, &v)) {
                    e->times = (long)v;
                } else {
                    rc = bad(path, ln, "bad error field", tok[i]);
                }
            }
        } else {
            rc = bad(path, ln, "unknown statement", tok[0]);
        }
    }
    fclose(f);
    return rc;
}

int gf_fake_nvml_reload(void);
int gf_fake_nvml_reload(void)
{
    int init = F.init_count;
    F.loaded = load() == 0 ? 1 : -1;
    F.init_count = init;
    return F.loaded == 1 ? 0 : -1;
}

/* --- behaviour ------------------------------------------------------------------ */

static bool call_matches(const char *rule, const char *symbol)
{
    if (!strcmp(rule, symbol)) return true;
    size_t n = strlen(rule);
    /* the rule names the function without its version suffix */
    return !strncmp(rule, symbol, n) && (symbol[n] == '\0' || !strncmp(symbol + n, "_v", 2));
}

static nvmlReturn_t injected(const char *symbol, int dev)
{
    for (int i = 0; i < F.nerror; i++) {
        frule *e = &F.errors[i];
        if (!call_matches(e->call, symbol) || (e->dev >= 0 && e->dev != dev)) continue;
        if (e->skip > 0) {
            e->skip--;
            continue;
        }
        if (e->times == 0) continue;
        if (e->times > 0) e->times--;
        return e->code;
    }
    return NVML_SUCCESS;
}

/* Checks a device call: initialised, valid handle, not lost, no injected error. */
static nvmlReturn_t enter(const char *symbol, nvmlDevice_t d, int *index)
{
    if (F.init_count <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!d || d < F.devs || d >= F.devs + F.ndev) return NVML_ERROR_INVALID_ARGUMENT;
    *index = (int)(d - F.devs);
    if (d->lost_after >= 0 && d->calls++ >= d->lost_after) return NVML_ERROR_GPU_IS_LOST;
    return injected(symbol, *index);
}

static nvmlReturn_t do_init(const char *symbol)
{
    /* the first nvmlInit reads the script (again: a test may have changed it) */
    if (F.init_count == 0) F.loaded = load() == 0 ? 1 : -1;
    if (F.loaded < 0) return NVML_ERROR_UNKNOWN;
    if (!getenv("GPUFRAC_FAKE_NVML_SCRIPT")) return NVML_ERROR_DRIVER_NOT_LOADED;
    if (F.init_error) return F.init_error;
    nvmlReturn_t r = injected(symbol, -1);
    if (r) return r;
    F.init_count++;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void)
{
    return do_init("nvmlInit_v2");
}

nvmlReturn_t nvmlInit(void)
{
    return do_init("nvmlInit");
}

nvmlReturn_t nvmlShutdown(void)
{
    if (F.init_count <= 0) return NVML_ERROR_UNINITIALIZED;
    F.init_count--;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == r) return codes[i].name;
    return "Unknown Error";
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    if (F.init_count <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(F.driver) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(version, F.driver);
    return NVML_SUCCESS;
}

static nvmlReturn_t get_count(const char *symbol, unsigned int *n)
{
    if (F.init_count <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!n) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = injected(symbol, -1);
    if (r) return r;
    *n = (unsigned)F.ndev;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
    return get_count("nvmlDeviceGetCount_v2", n);
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *n)
{
    return get_count("nvmlDeviceGetCount", n);
}

static nvmlReturn_t get_handle(const char *symbol, unsigned int index, nvmlDevice_t *d)
{
    if (F.init_count <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!d || index >= (unsigned)F.ndev) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = injected(symbol, (int)index);
    if (r) return r;
    *d = &F.devs[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *d)
{
    return get_handle("nvmlDeviceGetHandleByIndex_v2", index, d);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *d)
{
    return get_handle("nvmlDeviceGetHandleByIndex", index, d);
}

static nvmlReturn_t copy_string(const char *s, char *buf, unsigned int length)
{
    if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buf, s);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int length)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetUUID", d, &i);
    return r ? r : copy_string(d->uuid, buf, length);
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int length)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetName", d, &i);
    return r ? r : copy_string(d->name, buf, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetMemoryInfo", d, &i);
    if (r) return r;
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    m->total = d->memory;
    m->used = d->used + d->reserved; /* v1 counts the reserved memory as used */
    m->free = m->total > m->used ? m->total - m->used : 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetMemoryInfo_v2", d, &i);
    if (r) return r;
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    m->total = d->memory;
    m->reserved = d->reserved;
    m->used = d->used;
    m->free = d->memory > d->used + d->reserved ? d->memory - d->used - d->reserved : 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetUtilizationRates", d, &i);
    if (r) return r;
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = d->util;
    u->memory = 0;
    return NVML_SUCCESS;
}

/* The process list of type mask on device i into infos (v1 or v2 entries). */
static nvmlReturn_t processes(const char *symbol, nvmlDevice_t d, int mask, unsigned *count,
                              void *infos, int v2)
{
    int i;
    nvmlReturn_t r = enter(symbol, d, &i);
    if (r) return r;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = 0;
    for (int k = 0; k < F.nproc; k++)
        if (F.procs[k].dev == i && (F.procs[k].type & mask)) n++;
    if (n == 0) {
        *count = 0;
        return NVML_SUCCESS;
    }
    if (!infos || *count < n) {
        *count = n > d->undercount ? n - d->undercount : 0;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned o = 0;
    for (int k = 0; k < F.nproc; k++) {
        const fproc *p = &F.procs[k];
        if (p->dev != i || !(p->type & mask)) continue;
        if (v2) {
            nvmlProcessInfo_v2_t *e = (nvmlProcessInfo_v2_t *)infos + o;
            e->pid = p->pid;
            e->usedGpuMemory = p->memory;
            e->gpuInstanceId = e->computeInstanceId = 0xFFFFFFFFu;
        } else {
            nvmlProcessInfo_v1_t *e = (nvmlProcessInfo_v1_t *)infos + o;
            e->pid = p->pid;
            e->usedGpuMemory = p->memory;
        }
        o++;
    }
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *c,
                                                     nvmlProcessInfo_v2_t *p)
{
    return processes("nvmlDeviceGetComputeRunningProcesses_v3", d, 1, c, p, 1);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *c,
                                                     nvmlProcessInfo_v2_t *p)
{
    return processes("nvmlDeviceGetComputeRunningProcesses_v2", d, 1, c, p, 1);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *c,
                                                  nvmlProcessInfo_v1_t *p)
{
    return processes("nvmlDeviceGetComputeRunningProcesses", d, 1, c, p, 0);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *c,
                                                      nvmlProcessInfo_v2_t *p)
{
    return processes("nvmlDeviceGetGraphicsRunningProcesses_v3", d, 2, c, p, 1);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int *c,
                                                      nvmlProcessInfo_v2_t *p)
{
    return processes("nvmlDeviceGetGraphicsRunningProcesses_v2", d, 2, c, p, 1);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d, unsigned int *c,
                                                   nvmlProcessInfo_v1_t *p)
{
    return processes("nvmlDeviceGetGraphicsRunningProcesses", d, 2, c, p, 0);
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d,
                                             nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *count,
                                             unsigned long long lastSeenTimeStamp)
{
    int i;
    nvmlReturn_t r = enter("nvmlDeviceGetProcessUtilization", d, &i);
    if (r) return r;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = 0;
    for (int k = 0; k < F.nsample; k++)
        if (F.samples[k].dev == i && F.samples[k].s.timeStamp > lastSeenTimeStamp) n++;
    for (int k = 0; k < F.nproc; k++)
        if (F.procs[k].dev == i && F.procs[k].live_sm >= 0) n++;
    if (n == 0) return NVML_ERROR_NOT_FOUND; /* no samples since lastSeen */
    if (!utilization || *count < n) {
        *count = n > d->undercount ? n - d->undercount : 0;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned o = 0;
    for (int k = 0; k < F.nsample; k++)
        if (F.samples[k].dev == i && F.samples[k].s.timeStamp > lastSeenTimeStamp)
            utilization[o++] = F.samples[k].s;
    for (int k = 0; k < F.nproc; k++)
        if (F.procs[k].dev == i && F.procs[k].live_sm >= 0) {
            nvmlProcessUtilizationSample_t *u = &utilization[o++];
            memset(u, 0, sizeof *u);
            u->pid = F.procs[k].pid;
            u->timeStamp = lastSeenTimeStamp + 1000;
            u->smUtil = (unsigned)F.procs[k].live_sm;
        }
    *count = n;
    return NVML_SUCCESS;
}
