/* cuda_burn.c - a GPU load for checking gpufrac-exporter on real hardware:
 * allocates MIB MiB on GPU 0 and keeps its SMs busy with a loop of FMAs for
 * SECONDS seconds, busy DUTY percent of the time (default 100).
 *
 *   cc -O2 -o cuda_burn tests/gpu/cuda_burn.c -ldl
 *   ./cuda_burn MIB SECONDS [DUTY]
 *
 * No CUDA toolkit is needed: the CUDA driver API is opened with
 * dlopen("libcuda.so.1") and the few entry points used are declared below
 * (signatures from the CUDA driver API reference, cuda.h); the kernel is PTX
 * text that the driver compiles at load time. Prints its PID, the bytes
 * allocated and when the load starts and stops, one line each, to stdout
 * (flushed), so that a script can wait for "start". SIGINT/SIGTERM stop it
 * early, freeing the memory. Exit codes: 0 done, 1 a CUDA call failed,
 * 2 usage. Not built by CMake: only the GPU check (tests/gpu/run_on_gpu.sh)
 * compiles it. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult; /* CUDA_SUCCESS = 0 */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;

typedef struct cuda_api {
    CUresult (*cuInit)(unsigned int flags);
    CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
    CUresult (*cuCtxCreate_v2)(CUcontext *pctx, unsigned int flags, CUdevice dev); /* or: */
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev);
    CUresult (*cuCtxSetCurrent)(CUcontext ctx);
    CUresult (*cuCtxDestroy_v2)(CUcontext ctx);
    CUresult (*cuMemAlloc_v2)(CUdeviceptr *dptr, size_t bytesize);
    CUresult (*cuMemFree_v2)(CUdeviceptr dptr);
    CUresult (*cuMemsetD8_v2)(CUdeviceptr dst, unsigned char uc, size_t n);
    CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
    CUresult (*cuModuleGetFunction)(CUfunction *hfunc, CUmodule hmod, const char *name);
    CUresult (*cuLaunchKernel)(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuGetErrorString)(CUresult error, const char **pStr); /* optional */
} cuda_api;

static cuda_api cu;

/* out[global id] = a chain of dependent FMAs, iters rounds of 8 */
static const char ptx[] = ".version 6.4\n"
                          ".target sm_50\n"
                          ".address_size 64\n"
                          ".visible .entry burn(.param .u64 out, .param .u32 iters)\n"
                          "{\n"
                          "  .reg .pred %p;\n"
                          "  .reg .f32 %f<4>;\n"
                          "  .reg .b32 %r<8>;\n"
                          "  .reg .b64 %rd<4>;\n"
                          "  ld.param.u64 %rd1, [out];\n"
                          "  ld.param.u32 %r1, [iters];\n"
                          "  mov.u32 %r2, %tid.x;\n"
                          "  mov.u32 %r3, %ctaid.x;\n"
                          "  mov.u32 %r4, %ntid.x;\n"
                          "  mad.lo.u32 %r5, %r3, %r4, %r2;\n"
                          "  cvt.rn.f32.u32 %f1, %r5;\n"
                          "  mov.f32 %f2, 0f3F800001;\n"
                          "  mov.f32 %f3, 0f3F7FFFFE;\n"
                          "  mov.u32 %r6, 0;\n"
                          "LOOP:\n"
                          "  fma.rn.f32 %f1, %f1, %f2, %f3;\n"
                          "  fma.rn.f32 %f1, %f1, %f3, %f2;\n"
                          "  fma.rn.f32 %f1, %f1, %f2, %f3;\n"
                          "  fma.rn.f32 %f1, %f1, %f3, %f2;\n"
                          "  fma.rn.f32 %f1, %f1, %f2, %f3;\n"
                          "  fma.rn.f32 %f1, %f1, %f3, %f2;\n"
                          "  fma.rn.f32 %f1, %f1, %f2, %f3;\n"
                          "  fma.rn.f32 %f1, %f1, %f3, %f2;\n"
                          "  add.u32 %r6, %r6, 1;\n"
                          "  setp.lt.u32 %p, %r6, %r1;\n"
                          "  @%p bra LOOP;\n"
                          "  cvta.to.global.u64 %rd2, %rd1;\n"
                          "  mul.wide.u32 %rd3, %r5, 4;\n"
                          "  add.s64 %rd2, %rd2, %rd3;\n"
                          "  st.global.f32 [%rd2], %f1;\n"
                          "  ret;\n"
                          "}\n";

#define GRID 1056 /* blocks: 8 per SM of the largest GPUs (H100: 132 SMs) */
#define BLOCK 256

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void stamp(const char *what)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("cuda_burn: pid %ld: %s %s\n", (long)getpid(), what, ts);
    fflush(stdout);
}

static int check(CUresult r, const char *call)
{
    if (r == 0) return 0;
    const char *s = NULL;
    if (cu.cuGetErrorString) cu.cuGetErrorString(r, &s);
    fprintf(stderr, "cuda_burn: %s failed: error %d%s%s\n", call, r, s ? ": " : "", s ? s : "");
    return 1;
}

static int load(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "cuda_burn: cannot load libcuda.so.1: %s\n", dlerror());
        return 1;
    }
    static const struct {
        const char *name;
        size_t offset;
        int optional;
    } syms[] = {
#define SYM(n, opt) {#n, offsetof(cuda_api, n), opt}
        SYM(cuInit, 0),
        SYM(cuDeviceGet, 0),
        SYM(cuCtxCreate_v2, 1),
        SYM(cuDevicePrimaryCtxRetain, 0),
        SYM(cuCtxSetCurrent, 0),
        SYM(cuCtxDestroy_v2, 1),
        SYM(cuMemAlloc_v2, 0),
        SYM(cuMemFree_v2, 0),
        SYM(cuMemsetD8_v2, 0),
        SYM(cuModuleLoadData, 0),
        SYM(cuModuleGetFunction, 0),
        SYM(cuLaunchKernel, 0),
        SYM(cuCtxSynchronize, 0),
        SYM(cuGetErrorString, 1),
#undef SYM
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p && !syms[i].optional) {
            fprintf(stderr, "cuda_burn: libcuda.so.1 has no %s\n", syms[i].name);
            return 1;
        }
        memcpy((char *)&cu + syms[i].offset, &p, sizeof p);
    }
    return 0;
}

static int parse(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > hi) return 1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long mib, seconds, duty = 100;
    /* the kernel writes GRID * BLOCK floats (about 1 MiB) into the allocation */
    if (argc < 3 || argc > 4 || parse(argv[1], 2, 1 << 20, &mib) ||
        parse(argv[2], 1, 86400, &seconds) || (argc == 4 && parse(argv[3], 1, 100, &duty))) {
        fprintf(stderr, "usage: cuda_burn MIB (>= 2) SECONDS [DUTY 1..100]\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (load()) return 1;

    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CUdeviceptr mem = 0;
    size_t bytes = (size_t)mib << 20;
    if (check(cu.cuInit(0), "cuInit") || check(cu.cuDeviceGet(&dev, 0), "cuDeviceGet")) return 1;
    bool own_ctx = cu.cuCtxCreate_v2 && cu.cuCtxDestroy_v2;
    if (own_ctx ? check(cu.cuCtxCreate_v2(&ctx, 0, dev), "cuCtxCreate_v2")
                : (check(cu.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain") ||
                   check(cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")))
        return 1;
    int rc = 1;
    if (check(cu.cuMemAlloc_v2(&mem, bytes), "cuMemAlloc_v2") ||
        check(cu.cuMemsetD8_v2(mem, 0x5a, bytes), "cuMemsetD8_v2") || /* make it resident */
        check(cu.cuModuleLoadData(&mod, ptx), "cuModuleLoadData") ||
        check(cu.cuModuleGetFunction(&fn, mod, "burn"), "cuModuleGetFunction"))
        goto out;
    printf("cuda_burn: pid %ld: allocated %zu bytes on GPU 0\n", (long)getpid(), bytes);
    fflush(stdout);

    /* size one launch to about 20 ms, then launch until the time is up */
    unsigned iters = 1024;
    void *params[] = {&mem, &iters};
    for (int k = 0; k < 12; k++) {
        double t0 = now_s();
        if (check(cu.cuLaunchKernel(fn, GRID, 1, 1, BLOCK, 1, 1, 0, NULL, params, NULL),
                  "cuLaunchKernel") ||
            check(cu.cuCtxSynchronize(), "cuCtxSynchronize"))
            goto out;
        double dt = now_s() - t0;
        if (dt > 0.015 || iters >= (1u << 30)) break;
        iters *= dt < 0.002 ? 8 : 2;
    }
    stamp("start");
    double end = now_s() + (double)seconds;
    while (!stop && now_s() < end) {
        double t0 = now_s();
        if (check(cu.cuLaunchKernel(fn, GRID, 1, 1, BLOCK, 1, 1, 0, NULL, params, NULL),
                  "cuLaunchKernel") ||
            check(cu.cuCtxSynchronize(), "cuCtxSynchronize"))
            goto out;
        if (duty < 100) {
            double idle = (now_s() - t0) * (100.0 - (double)duty) / (double)duty;
            struct timespec ts = {(time_t)idle, (long)((idle - (double)(time_t)idle) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    stamp(stop ? "stop (signal)" : "stop");
    rc = 0;
out:
    if (mem) cu.cuMemFree_v2(mem);
    if (own_ctx) cu.cuCtxDestroy_v2(ctx); /* a primary context goes with the process */
    return rc;
}
