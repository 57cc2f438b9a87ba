/* bench_exporter.c - CPU time of one exporter scrape (collect + render) and
 * the process's peak memory, on a busy node simulated with the fake NVML.
 *
 *   bench_exporter FAKE_NVML_SO [GPUS] [PROCS_PER_GPU] [SCRAPES]
 *       (default 8 GPUs, 64 processes per GPU, 2001 scrapes)
 *
 * The node: every GPU shared by PROCS_PER_GPU/2 KAI pods (gpu-fraction or
 * gpu-memory) with two processes each, all busy (a fresh utilisation sample
 * per process at every scrape), pod cgroups in a generated fake /proc
 * (cgroup v2, systemd driver, containerd) and a pod list file. The first
 * scrape reads /proc for every PID (a cold cache) and is reported apart;
 * the others are the steady state. Prints "name value" lines:
 *   gpus, processes, series, exposition_bytes
 *   first_scrape_us           the cold scrape, CPU time
 *   scrape_cpu_us_median      collect + render, CPU time (CLOCK_PROCESS_CPUTIME_ID)
 *   scrape_cpu_us_p90, scrape_cpu_us_max
 *   collect_cpu_us_median, render_cpu_us_median
 *   peak_rss_kib              getrusage's ru_maxrss at the end
 *   rss_anon_kib, rss_file_kib  /proc/self/status at the end: the process's own
 *                             memory, and the pages of its shared libraries */
#include "exporter/collect.h"
#include "exporter/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static long parse_count(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_exporter: '%s' is not a count in %ld..%ld\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        fprintf(stderr, "bench_exporter: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void uid_of(long pod, char *buf, size_t n, char sep)
{
    snprintf(buf, n, "%08lx%c1111%c4111%c8111%c%012lx", (unsigned long)pod & 0xffffffffUL, sep, sep,
             sep, sep, (unsigned long)pod & 0xffffffffffffUL);
}

/* The fake /proc, the NVML script and the pod list in dir. */
static void make_node(const char *dir, long gpus, long per_gpu)
{
    char path[4200], uid[40], uid_[40], cid[80];
    gf_sbuf script = GF_SBUF_INIT, pods = GF_SBUF_INIT;
    gf_sbuf_puts(&script, "driver 550.54.15\n");
    for (long g = 0; g < gpus; g++)
        gf_sbuf_printf(
            &script,
            "device GPU-%08lx-0000-4000-8000-000000000000 name=\"NVIDIA H100 80GB HBM3\" "
            "memory=85520809984 used=42949672960 util=%ld\n",
            g, 30 + g);
    gf_sbuf_puts(&pods, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[");
    snprintf(path, sizeof path, "%s/proc", dir);
    mkdir(path, 0755);
    long pid = 100000, pod = 0;
    for (long g = 0; g < gpus; g++) {
        for (long k = 0; k < per_gpu; k += 2, pod++) {
            uid_of(pod, uid, sizeof uid, '-');
            uid_of(pod, uid_, sizeof uid_, '_');
            snprintf(cid, sizeof cid, "%064lx", pod + 0xabc000);
            gf_sbuf_printf(&pods,
                           "%s{\"metadata\":{\"name\":\"svc-%ld-7d9f8b6c5d-x2lqf\",\"namespace\":"
                           "\"team-%ld\",\"uid\":\"%s\",\"annotations\":{\"%s\":\"%s\"},\"labels\":"
                           "{\"runai-gpu-group\":\"grp-%ld\"}},\"spec\":{\"nodeName\":\"n1\","
                           "\"containers\":[{\"name\":\"server\"},{\"name\":\"sidecar\"}]},"
                           "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":"
                           "\"server\",\"containerID\":\"containerd://%s\"}]}}",
                           pod ? "," : "", pod, pod % 7, uid,
                           pod % 2 ? "gpu-memory" : "gpu-fraction", pod % 2 ? "8192" : "0.125", g,
                           cid);
            for (long j = 0; j < 2 && k + j < per_gpu; j++, pid++) {
                gf_sbuf_printf(&script,
                               "process GPU-%08lx-0000-4000-8000-000000000000 %ld "
                               "memory=%ld sm=%ld\n",
                               g, pid, (pid % 97 + 1) * 33554432L, pid % 13);
                snprintf(path, sizeof path, "%s/proc/%ld", dir, pid);
                mkdir(path, 0755);
                char text[600];
                snprintf(path, sizeof path, "%s/proc/%ld/cgroup", dir, pid);
                snprintf(text, sizeof text,
                         "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s"
                         ".slice/cri-containerd-%s.scope\n",
                         uid_, cid);
                write_file(path, text);
                snprintf(path, sizeof path, "%s/proc/%ld/stat", dir, pid);
                snprintf(text, sizeof text,
                         "%ld (python3) S 1 %ld %ld 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 8 0 %ld "
                         "123456789 1000\n",
                         pid, pid, pid, 5000 + pid);
                write_file(path, text);
            }
        }
    }
    gf_sbuf_puts(&pods, "]}");
    snprintf(path, sizeof path, "%s/node.nvml", dir);
    write_file(path, script.s);
    snprintf(path, sizeof path, "%s/pods.json", dir);
    write_file(path, pods.s);
    gf_sbuf_free(&script);
    gf_sbuf_free(&pods);
}

static void remove_node(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_exporter: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: bench_exporter FAKE_NVML_SO [GPUS] [PROCS_PER_GPU] [SCRAPES]\n");
        return 2;
    }
    const char *fake = argv[1];
    long gpus = argc > 2 ? parse_count(argv[2], 1, 64) : 8;
    long per_gpu = argc > 3 ? parse_count(argv[3], 1, 1024) : 64;
    long scrapes = argc > 4 ? parse_count(argv[4], 2, 1000000) : 2001;

    char dir[] = "/tmp/gf-bench-exporter-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_exporter: mkdtemp");
        return 1;
    }
    make_node(dir, gpus, per_gpu);
    char script[4200], proc[4200], pods[4200];
    snprintf(script, sizeof script, "%s/node.nvml", dir);
    snprintf(proc, sizeof proc, "%s/proc", dir);
    snprintf(pods, sizeof pods, "%s/pods.json", dir);
    setenv("GPUFRAC_FAKE_NVML_SCRIPT", script, 1);

    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.proc_root = proc;
    cfg.node_name = "n1";
    cfg.nvml_lib = fake;
    cfg.pods.kind = GF_PODSRC_FILE;
    cfg.pods.location = pods;
    cfg.pods.refresh_s = 86400; /* a pod-list refresh is not part of a scrape's cost */
    cfg.pods.retry_s = 86400;
    gf_collector *c = NULL;
    gf_error err = {0};
    if (gf_collector_new(&cfg, &c, &err) || !gf_collector_nvml(c)) {
        char msg[1200];
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "bench_exporter: %s%s\n", msg, c ? gf_collector_nvml_error(c) : "");
        remove_node(dir);
        return 1;
    }
    gf_scrape s;
    gf_scrape_init(&s);
    gf_sbuf text = GF_SBUF_INIT;
    double *total = gf_xcalloc((size_t)scrapes, sizeof *total);
    double *collect = gf_xcalloc((size_t)scrapes, sizeof *collect);
    double *render = gf_xcalloc((size_t)scrapes, sizeof *render);
    size_t processes = 0;
    for (long i = 0; i < scrapes; i++) {
        double t0 = cpu_us();
        gf_collect(c, &s);
        double t1 = cpu_us();
        text.len = 0;
        gf_metrics_render(&s, &text);
        double t2 = cpu_us();
        collect[i] = t1 - t0;
        render[i] = t2 - t1;
        total[i] = t2 - t0;
        if (i == 0)
            for (size_t k = 0; k < s.series.n; k++)
                processes += s.series.v[k].processes;
    }
    printf("gpus %ld\nprocesses %zu\nseries %zu\nexposition_bytes %zu\n", (long)s.gpus.n, processes,
           s.series.n, text.len);
    printf("first_scrape_us %.1f\n", total[0]);
    /* the steady state: scrapes 1.. */
    long n = scrapes - 1;
    qsort(total + 1, (size_t)n, sizeof *total, cmp_double);
    qsort(collect + 1, (size_t)n, sizeof *collect, cmp_double);
    qsort(render + 1, (size_t)n, sizeof *render, cmp_double);
    printf("scrape_cpu_us_median %.1f\n", total[1 + n / 2]);
    printf("scrape_cpu_us_p90 %.1f\n", total[1 + n * 9 / 10]);
    printf("scrape_cpu_us_max %.1f\n", total[n]);
    printf("collect_cpu_us_median %.1f\n", collect[1 + n / 2]);
    printf("render_cpu_us_median %.1f\n", render[1 + n / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_kib %ld\n", ru.ru_maxrss);
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st)) {
        long kib;
        if (sscanf(line, "RssAnon: %ld", &kib) == 1) printf("rss_anon_kib %ld\n", kib);
        if (sscanf(line, "RssFile: %ld", &kib) == 1) printf("rss_file_kib %ld\n", kib);
    }
    if (st) fclose(st);
    free(total);
    free(collect);
    free(render);
    gf_sbuf_free(&text);
    gf_scrape_free(&s);
    gf_collector_free(c);
    remove_node(dir);
    return 0;
}
