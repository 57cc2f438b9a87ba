/* cmd_gen.c - `gpufrac gen-snapshot`: a synthetic KAI cluster (sim/gen.h)
 * written as kubectl List JSON, for scale tests and benchmarks. */
#include "cli/commands.h"
#include "sim/gen.h"
#include "model/model.h"
#include "cli/cli_common.h"
#include "io/snapshot_write.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE "gpufrac gen-snapshot [--nodes N] [--seed S] [--fill F] [--gpus-per-node G] ..."

static void help(FILE *f)
{
    fprintf(f,
            "usage: gpufrac gen-snapshot [--nodes N] [--seed S] [--fill F] [--gpus-per-node G]\n"
            "                            [--cpu-pods-per-node P] [-o FILE]\n\n"
            "Writes a synthetic GPU cluster scheduled by KAI Scheduler as one kubectl `List`\n"
            "(Nodes, Deployments, ReplicaSets, StatefulSets, PodDisruptionBudgets, Pods), as\n"
            "`kubectl get nodes,deploy,rs,sts,pdb,pods -A -o json` prints it, for `gpufrac\n"
            "inspect`, `consolidate` and benchmarks. The same options give the same bytes.\n\n"
            "The cluster has node pools training-a100 (NVIDIA-A100-SXM4-80GB), inference-l4\n"
            "(NVIDIA-L4), inference-t4 (Tesla-T4) and default (NVIDIA-A10G and CPU-only\n"
            "nodes), 1 to 8 GPUs per node, a few tainted and cordoned nodes; fractional pods\n"
            "(gpu-fraction, gpu-memory, 2-device fractions) placed as KAI binds them, with a\n"
            "reservation pod per shared GPU; whole-GPU pods, CPU-only pods, Pending pods,\n"
            "unowned pods and pods opted out of consolidation (gpufrac.io/consolidate).\n"
            "No GPU is over-committed and no node's CPU or memory is exceeded.\n\n"
            "options:\n"
            "      --nodes N        nodes, 1..%u (default 100)\n"
            "  -s, --seed S         random seed, 0..18446744073709551615 (default 1)\n"
            "  -f, --fill F         target allocated share of the GPUs, 0..1 (default 0.6)\n"
            "  -g, --gpus-per-node G  1, 2, 4 or 8: every node a GPU node with G GPUs\n"
            "                       (default: a mix of 1 to 8, and 5%% CPU-only nodes)\n"
            "  -c, --cpu-pods-per-node P  mean CPU-only pods per GPU node, 0..100 (default 10)\n"
            "  -o, --output FILE    write to FILE (created once the cluster is generated)\n"
            "                       instead of standard output\n"
            "  -h, --help           this text\n\n"
            "exit codes: 0 success, 1 runtime failure (writing the output), 2 usage error\n",
            GF_GEN_MAX_NODES);
}

/* A whole decimal number in lo..hi: no sign, no spaces, no trailing junk. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!(*s >= '0' && *s <= '9')) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_fill(const char *s, double *out)
{
    if (!((*s >= '0' && *s <= '9') || *s == '.')) return false; /* no sign, space, "nan" */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v) || v < 0.0 || v > 1.0) return false;
    *out = v;
    return true;
}

int gf_cmd_gen_snapshot(int argc, char **argv)
{
    static const struct option opts[] = {{"nodes", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"fill", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"gpus-per-node", required_argument, NULL, 'g'},
                                         {"cpu-pods-per-node", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    gf_gen_opts o;
    gf_gen_opts_default(&o);
    const char *out_path = NULL;
    uint64_t v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:f:g:c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!parse_u64(optarg, 1, GF_GEN_MAX_NODES, &v)) {
                fprintf(stderr,
                        "gpufrac gen-snapshot: --nodes '%s': expected a whole number in 1..%u\n",
                        optarg, GF_GEN_MAX_NODES);
                return 2;
            }
            o.nodes = (uint32_t)v;
            break;
        case 's':
            if (!parse_u64(optarg, 0, UINT64_MAX, &o.seed)) {
                fprintf(stderr,
                        "gpufrac gen-snapshot: --seed '%s': expected a whole number in "
                        "0..18446744073709551615\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            if (!parse_fill(optarg, &o.fill)) {
                fprintf(stderr,
                        "gpufrac gen-snapshot: --fill '%s': expected a number in 0..1 (e.g. 0.6)\n",
                        optarg);
                return 2;
            }
            break;
        case 'g':
            if (!parse_u64(optarg, 1, 8, &v) || (v != 1 && v != 2 && v != 4 && v != 8)) {
                fprintf(stderr,
                        "gpufrac gen-snapshot: --gpus-per-node '%s': expected 1, 2, 4 or 8\n",
                        optarg);
                return 2;
            }
            o.gpus_per_node = (uint32_t)v;
            break;
        case 'c':
            if (!parse_u64(optarg, 0, 100, &v)) {
                fprintf(
                    stderr,
                    "gpufrac gen-snapshot: --cpu-pods-per-node '%s': expected a whole number in "
                    "0..100\n",
                    optarg);
                return 2;
            }
            o.cpu_pods_per_node = (uint32_t)v;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            return gf_cli_bad_option("gen-snapshot", USAGE, "s:f:g:c:o:h", argc, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpufrac gen-snapshot: unexpected argument '%s'\n\n", argv[optind]);
        help(stderr);
        return 2;
    }

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    char msg[1100];
    int exit_code = 0;
    gf_err rc = gf_gen_cluster(&m, &o, &d, &err);
    gf_cli_print_diags(&d, 20); /* none expected: they would be a generator bug */
    if (rc) {
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac gen-snapshot: %s\n", msg);
        exit_code = gf_err_exit_code(rc);
        goto out;
    }

    /* the output file is created only once the cluster is generated */
    FILE *f = stdout;
    bool to_file = out_path && strcmp(out_path, "-") != 0;
    if (to_file && !(f = fopen(out_path, "w"))) {
        fprintf(stderr, "gpufrac gen-snapshot: %s: cannot create: %s\n", out_path, strerror(errno));
        exit_code = 1;
        goto out;
    }
    /* only a regular file is removed on failure, never e.g. /dev/full */
    struct stat st;
    bool removable = to_file && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    const char *name = to_file ? out_path : "(stdout)";
    rc = gf_snapshot_write(&m, f, &err);
    if (fflush(f) != 0 && !rc)
        rc = gf_error_set(&err, GF_EIO, name, "write failed: %s", strerror(errno));
    if (to_file && fclose(f) != 0 && !rc)
        rc = gf_error_set(&err, GF_EIO, name, "write failed: %s", strerror(errno));
    if (rc) {
        if (!err.where[0]) snprintf(err.where, sizeof err.where, "%s", name);
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac gen-snapshot: %s\n", msg);
        exit_code = 1;
        if (removable) remove(out_path); /* no half-written snapshot left behind */
    }
out:
    gf_diags_free(&d);
    gf_model_free(&m);
    return exit_code;
}
