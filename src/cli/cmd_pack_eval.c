/* cmd_pack_eval.c - `gpufrac pack-eval`: compare placement scorers with the
 * FGD paper's workload-inflation protocol, several seeds, one table. */
#include "cli/commands.h"
#include "sim/inflate.h"
#include "cli/cli_common.h"
#include "io/snapshot.h"

#include <errno.h>
#include <jansson.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "gpufrac pack-eval [options] SNAPSHOT..."

static void help(FILE *f)
{
    fprintf(f, "usage: gpufrac pack-eval [options] SNAPSHOT...\n\n"
               "Evaluates placement scorers the way the FGD paper (Weng et al., USENIX ATC'23)\n"
               "does: from an empty cluster of the snapshot's nodes, tasks drawn at random\n"
               "from the snapshot's pods arrive until their GPU request reaches --until x\n"
               "the cluster's GPUs; each scorer places them; a task that fits nowhere fails.\n"
               "Prints, per scorer over the seeds, the median (min..max) GPU allocation ratio\n"
               "and unallocated GPUs when arrivals reach --at x capacity and at the end, and\n"
               "the lower bound ceil(sum of placed GPU requests).\n"
               "Typical input: gpufrac convert-alibaba NODES.csv PODS.csv -o trace.json\n\n"
               "options:\n"
               "  --scorers LIST   comma-separated: binpack,spread,bestfit,fgd (default all)\n"
               "  --seeds N        seeds 1..N (default 5)\n"
               "  --until X        stop when arrived GPU request >= X x capacity (default 1.3)\n"
               "  --at X           also report at X x capacity (default 1.0)\n"
               "  -o, --output F   table (default), json, yaml or csv (a line a scorer)\n"
               "  -q, --quiet      do not print warnings\n"
               "  -h, --help       this text\n\n" GF_CLI_KAI_HELP "\n"
               "Progress with the time left goes to standard error when it is a terminal.\n"
               "exit codes: 0 success, 1 runtime failure, 2 usage or input error\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool parse_ratio(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v > 0 && v <= 10)) return false;
    *out = v;
    return true;
}

int gf_cmd_pack_eval(int argc, char **argv)
{
    enum { OPT_SCORERS = 256, OPT_SEEDS, OPT_UNTIL, OPT_AT };
    static const struct option opts[] = {{"scorers", required_argument, NULL, OPT_SCORERS},
                                         {"seeds", required_argument, NULL, OPT_SEEDS},
                                         {"until", required_argument, NULL, OPT_UNTIL},
                                         {"at", required_argument, NULL, OPT_AT},
                                         {"output", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         GF_CLI_KAI_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    bool use[GF_SCORER_COUNT] = {true, true, true, true}, quiet = false;
    int seeds = 5, c;
    gf_cli_format format = GF_OUT_TABLE;
    double until = 1.3, at = 1.0;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        switch (c) {
        case 'o':
            if (!gf_cli_parse_format("pack-eval", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                return 2;
            break;
        case OPT_SCORERS: {
            memset(use, 0, sizeof use);
            char *list = optarg, *tok, *save = NULL;
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                gf_scorer s;
                if (gf_scorer_parse(tok, &s)) {
                    fprintf(stderr, "gpufrac pack-eval: unknown scorer '%s'\n", tok);
                    return 2;
                }
                use[s] = true;
            }
            break;
        }
        case OPT_SEEDS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1000) {
                fprintf(stderr, "gpufrac pack-eval: --seeds needs 1..1000, got '%s'\n", optarg);
                return 2;
            }
            seeds = (int)v;
            break;
        }
        case OPT_UNTIL:
        case OPT_AT:
            if (!parse_ratio(optarg, c == OPT_UNTIL ? &until : &at)) {
                fprintf(stderr, "gpufrac pack-eval: --%s needs a number in (0, 10], got '%s'\n",
                        c == OPT_UNTIL ? "until" : "at", optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            return gf_cli_bad_option("pack-eval", USAGE, "o:qh", argc, argv);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "gpufrac pack-eval: no snapshot given\n\n");
        help(stderr);
        return 2;
    }
    if (at > until) at = until;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    int exit_code = 0;
    gf_cli_kai_names(&kai, NULL, &m.kai);
    json_t *doc = NULL; /* -o json|yaml */
    gf_err rc = gf_snapshot_load_files(&m, argv + optind, argc - optind, &d, &err);
    if (!quiet) gf_cli_print_diags(&d, 20);
    double *ar = calloc((size_t)seeds, sizeof(double)), *ua = calloc((size_t)seeds, sizeof(double));
    double *ae = calloc((size_t)seeds, sizeof(double)), *ue = calloc((size_t)seeds, sizeof(double));
    double *lb = calloc((size_t)seeds, sizeof(double)),
           *secs = calloc((size_t)seeds, sizeof(double));
    if (!ar || !ua || !ae || !ue || !lb || !secs) {
        fprintf(stderr, "gpufrac pack-eval: out of memory\n");
        exit_code = 1;
        goto out;
    }
    if (rc) goto fail;
    if (format == GF_OUT_TABLE) {
        printf("pack-eval: %zu nodes, %zu GPUs, %zu tasks; seeds 1..%d; arrivals until %.2fx, "
               "report at %.2fx\n",
               m.nodes.n, m.gpus.n, m.pods.n, seeds, until, at);
        printf("%-8s | %-26s %-24s | %-26s %-24s | %-12s | %s\n", "scorer", "alloc ratio @at",
               "unalloc GPUs @at", "alloc ratio @end", "unalloc GPUs @end", "lower bound", "s/run");
    } else if (format == GF_OUT_CSV) {
        printf("scorer,alloc_ratio_at_pct,alloc_ratio_at_min,alloc_ratio_at_max,unalloc_gpus_at,"
               "unalloc_gpus_at_min,unalloc_gpus_at_max,alloc_ratio_end_pct,alloc_ratio_end_min,"
               "alloc_ratio_end_max,unalloc_gpus_end,unalloc_gpus_end_min,unalloc_gpus_end_max,"
               "lower_bound_gpus,seconds_per_run\n");
    }
    doc = json_pack("{s:I, s:I, s:I, s:i, s:f, s:f, s:[]}", "nodes", (json_int_t)m.nodes.n, "gpus",
                    (json_int_t)m.gpus.n, "tasks", (json_int_t)m.pods.n, "seeds", seeds, "until",
                    until, "at", at, "scorers");
    int runs = 0, done = 0;
    for (int s = 0; s < GF_SCORER_COUNT; s++)
        runs += use[s] ? seeds : 0;
    bool progress = !quiet && isatty(fileno(stderr));
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (int s = 0; s < GF_SCORER_COUNT; s++) {
        if (!use[s]) continue;
        for (int k = 0; k < seeds; k++) {
            gf_inflate_opts io = {(gf_scorer)s, (uint64_t)k + 1, until, at};
            gf_inflate_result r;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            if ((rc = gf_inflate(&m, &io, &r, &err))) goto fail;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            secs[k] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
            ar[k] = r.at_report.allocation_ratio * 100;
            ua[k] = r.at_report.unallocated_gpus;
            ae[k] = r.at_end.allocation_ratio * 100;
            ue[k] = r.at_end.unallocated_gpus;
            lb[k] = r.lower_bound_gpus;
            if (progress) {
                double spent = (double)(t1.tv_sec - started.tv_sec) +
                               (double)(t1.tv_nsec - started.tv_nsec) / 1e9;
                done++;
                fprintf(stderr, "\rpack-eval: %d/%d runs, ETA %.0f s   ", done, runs,
                        spent / done * (runs - done));
                if (done == runs) fputc('\n', stderr);
                fflush(stderr);
            }
        }
        char a[4][64];
        double *cols[4] = {ar, ua, ae, ue};
        double meds[4], los[4], his[4];
        for (int i = 0; i < 4; i++) {
            double lo = cols[i][0], hi = cols[i][0];
            for (int k = 1; k < seeds; k++) {
                if (cols[i][k] < lo) lo = cols[i][k];
                if (cols[i][k] > hi) hi = cols[i][k];
            }
            double med = median(cols[i], seeds);
            meds[i] = med;
            los[i] = lo;
            his[i] = hi;
            if (i % 2 == 0)
                snprintf(a[i], sizeof a[i], "%.2f%% (%.2f..%.2f)", med, lo, hi);
            else
                snprintf(a[i], sizeof a[i], "%.1f (%.1f..%.1f)", med, lo, hi);
        }
        double lower = median(lb, seeds), per_run = median(secs, seeds);
        if (format == GF_OUT_TABLE) {
            printf("%-8s | %-26s %-24s | %-26s %-24s | %-12.0f | %.2f\n",
                   gf_scorer_name((gf_scorer)s), a[0], a[1], a[2], a[3], lower, per_run);
        } else if (format == GF_OUT_CSV) {
            printf("%s", gf_scorer_name((gf_scorer)s));
            for (int i = 0; i < 4; i++)
                printf(",%.4f,%.4f,%.4f", meds[i], los[i], his[i]);
            printf(",%.0f,%.4f\n", lower, per_run);
        } else {
            const char *names[4] = {"alloc_ratio_at_pct", "unalloc_gpus_at", "alloc_ratio_end_pct",
                                    "unalloc_gpus_end"};
            json_t *o = json_pack("{s:s, s:f, s:f}", "scorer", gf_scorer_name((gf_scorer)s),
                                  "lower_bound_gpus", lower, "seconds_per_run", per_run);
            for (int i = 0; i < 4; i++)
                json_object_set_new(
                    o, names[i],
                    json_pack("{s:f, s:f, s:f}", "median", meds[i], "min", los[i], "max", his[i]));
            json_array_append_new(json_object_get(doc, "scorers"), o);
        }
        fflush(stdout);
    }
    if (format == GF_OUT_JSON || format == GF_OUT_YAML)
        exit_code = gf_cli_print_doc(doc, format, 6);
    goto out;
fail : {
    char msg[1100];
    gf_error_format(&err, msg, sizeof msg);
    fprintf(stderr, "gpufrac pack-eval: %s\n", msg);
    exit_code = gf_err_exit_code(rc);
}
out:
    json_decref(doc);
    free(ar);
    free(ua);
    free(ae);
    free(ue);
    free(lb);
    free(secs);
    gf_diags_free(&d);
    gf_model_free(&m);
    return exit_code;
}
