/* bench_history.c - ingest rate, memory and save/load time of gf_history.
 *
 *   bench_history [SAMPLES] [WORKLOADS]   (default 20000000 samples, 10000 workloads)
 *
 * Samples arrive as a scraper would send them: every 15 s each workload
 * gets one memory and one SM sample, workloads visited in a fixed shuffled
 * order. Keys are built beforehand; values come from an LCG, so every run
 * does the same work. Prints "name value" lines:
 *   add_by_key_per_s      samples/s through gf_history_add (key lookup)
 *   add_by_series_per_s   samples/s through gf_history_add_to (cached series)
 *   bytes_per_series      gf_history_bytes / series (sizeof + heap)
 *   sizeof_series         sizeof(gf_hist_series)
 *   save_s, load_s, file_bytes   gf_history_save / gf_history_load of the result */
#include "decide/history.h"
#include "io/history_sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

static int parse_count(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0) return -1;
    *out = v;
    return 0;
}

static void die(const char *what, const gf_error *err)
{
    char buf[1100];
    gf_error_format(err, buf, sizeof buf);
    fprintf(stderr, "bench_history: %s: %s\n", what, buf);
    exit(1);
}

/* Feeds n_samples samples; by_key selects gf_history_add or gf_history_add_to. */
static void ingest(gf_history *h, char **keys, gf_hist_series **series, const size_t *order,
                   long n_workloads, long n_samples, int by_key)
{
    uint64_t x = 42;
    double t = 1.7e9;
    long done = 0;
    gf_error err = {0};
    while (done < n_samples) {
        for (long i = 0; i < n_workloads && done < n_samples; i++) {
            size_t w = order[i];
            double mem = (double)(lcg(&x) % 81920) * 1048576.0;
            double sm = (double)(lcg(&x) % 1000) / 1000.0;
            gf_err rc;
            if (by_key) {
                rc = gf_history_add(h, keys[w], GF_SIG_MEMORY, t, mem, &err);
                if (!rc && done + 1 < n_samples)
                    rc = gf_history_add(h, keys[w], GF_SIG_SM, t, sm, &err);
            } else {
                rc = gf_history_add_to(h, series[w], GF_SIG_MEMORY, t, mem, &err);
                if (!rc && done + 1 < n_samples)
                    rc = gf_history_add_to(h, series[w], GF_SIG_SM, t, sm, &err);
            }
            if (rc) die("add", &err);
            done += 2;
        }
        t += 15.0;
    }
}

int main(int argc, char **argv)
{
    long n_samples = 20000000, n_workloads = 10000;
    if (argc > 3 || (argc > 1 && parse_count(argv[1], &n_samples)) ||
        (argc > 2 && parse_count(argv[2], &n_workloads))) {
        fprintf(stderr, "usage: bench_history [SAMPLES] [WORKLOADS]\n");
        return 2;
    }
    char **keys = malloc((size_t)n_workloads * sizeof *keys);
    size_t *order = malloc((size_t)n_workloads * sizeof *order);
    gf_hist_series **series = malloc((size_t)n_workloads * sizeof *series);
    if (!keys || !order || !series) return 1;
    uint64_t x = 7;
    for (long i = 0; i < n_workloads; i++) {
        char buf[96];
        snprintf(buf, sizeof buf, "team-%ld/Deployment/inference-%ld/main", i % 97, i);
        keys[i] = strdup(buf);
        order[i] = (size_t)i;
    }
    for (long i = n_workloads - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)(lcg(&x) % (uint64_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    gf_error err = {0};

    gf_history a;
    if (gf_history_init(&a, NULL, &err)) die("init", &err);
    double t0 = now_s();
    ingest(&a, keys, NULL, order, n_workloads, n_samples, 1);
    double by_key_s = now_s() - t0;

    gf_history b;
    if (gf_history_init(&b, NULL, &err)) die("init", &err);
    for (long i = 0; i < n_workloads; i++)
        series[i] = gf_history_get(&b, keys[i], true);
    t0 = now_s();
    ingest(&b, keys, series, order, n_workloads, n_samples, 0);
    double by_series_s = now_s() - t0;

    char dir[] = "/tmp/gf-bench-history-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_history: mkdtemp");
        return 1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/history.db", dir);
    t0 = now_s();
    if (gf_history_save(&a, path, &err)) die("save", &err);
    double save_s = now_s() - t0;
    struct stat st;
    long long file_bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    gf_history c;
    if (gf_history_init(&c, NULL, &err)) die("init", &err);
    t0 = now_s();
    if (gf_history_load(&c, path, &err)) die("load", &err);
    double load_s = now_s() - t0;
    unlink(path);
    rmdir(dir);

    printf("samples %ld\n", n_samples);
    printf("workloads %ld\n", n_workloads);
    printf("add_by_key_per_s %.0f\n", (double)n_samples / by_key_s);
    printf("add_by_series_per_s %.0f\n", (double)n_samples / by_series_s);
    printf("bytes_per_series %.0f\n", (double)gf_history_bytes(&a) / (double)gf_history_count(&a));
    printf("sizeof_series %zu\n", sizeof(gf_hist_series));
    printf("save_s %.3f\n", save_s);
    printf("load_s %.3f\n", load_s);
    printf("file_bytes %lld\n", file_bytes);

    gf_history_free(&a);
    gf_history_free(&b);
    gf_history_free(&c);
    for (long i = 0; i < n_workloads; i++)
        free(keys[i]);
    free(keys);
    free(order);
    free(series);
    return 0;
}
