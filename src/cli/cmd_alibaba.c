/* cmd_alibaba.c - `gpufrac convert-alibaba`: Alibaba's GPU trace (node and
 * pod CSV lists) -> kubectl List JSON, through the model. */
#include "cli/commands.h"
#include "model/model.h"
#include "cli/cli_common.h"
#include "io/alibaba.h"
#include "io/snapshot_write.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE "gpufrac convert-alibaba [-o FILE] [--include-cpu-only] NODES.csv PODS.csv"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gpufrac convert-alibaba [-o FILE] [--include-cpu-only] NODES.csv PODS.csv\n\n"
            "Converts Alibaba's GPU-sharing cluster trace (alibaba/clusterdata,\n"
            "cluster-trace-gpu-v2023; Weng et al., \"Beware of Fragmentation\", USENIX ATC'23)\n"
            "into Kubernetes objects as `kubectl get nodes,pods -A -o json` prints them, for\n"
            "`gpufrac inspect` and simulation.\n\n"
            "  NODES.csv  an openb_node_list_*.csv: sn,cpu_milli,memory_mib,gpu,model\n"
            "  PODS.csv   an openb_pod_list_*.csv: name,cpu_milli,memory_mib,num_gpu,gpu_milli,\n"
            "             gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
            "             (or only its first five columns, as in the multigpu variants)\n"
            "  '-' reads one of them from standard input.\n\n"
            "Nodes go to node pool \"default\" with labels nvidia.com/gpu.product (the trace's\n"
            "model code, e.g. V100M32), nvidia.com/gpu.count and nvidia.com/gpu.memory (G1, G2\n"
            "and G3 are undisclosed Alibaba models: 16384 MiB per GPU is assumed).\n"
            "Pods become unbound Pending pods in namespace \"alibaba\" for kai-scheduler:\n"
            "  gpu_milli < 1000   annotation gpu-fraction = gpu_milli/1000 (on num_gpu devices)\n"
            "  gpu_milli = 1000   num_gpu whole GPUs (nvidia.com/gpu)\n"
            "  num_gpu = 0        CPU-only; left out unless --include-cpu-only\n"
            "  gpu_spec A|B       required node affinity on nvidia.com/gpu.product in (A, B)\n"
            "and keep the trace's facts for replay: label alibaba.com/qos, annotations\n"
            "alibaba.com/pod-phase, alibaba.com/creation-time, alibaba.com/deletion-time and\n"
            "alibaba.com/scheduled-time (seconds from the start of the trace).\n\n"
            "options:\n"
            "  -o, --output FILE       write to FILE instead of standard output\n"
            "  -c, --include-cpu-only  also convert pods that request no GPU\n"
            "  -q, --quiet             do not print warnings\n"
            "  -h, --help              this text\n\n"
            "Errors name the file, line and column, e.g.\n"
            "  gpufrac: pods.csv:12: column gpu_milli: value '1500' is above 1000\n\n"
            "exit codes: 0 success, 1 runtime failure (writing the output), 2 usage or input "
            "error\n");
}

static int fail(const gf_error *err)
{
    char msg[1100];
    gf_error_format(err, msg, sizeof msg);
    fprintf(stderr, "gpufrac: %s\n", msg);
    return gf_err_exit_code(err->code);
}

int gf_cmd_convert_alibaba(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"include-cpu-only", no_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    gf_alibaba_opts o = {0};
    const char *out_path = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:cqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'c':
            o.include_cpu_only = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            return gf_cli_bad_option("convert-alibaba", USAGE, "o:cqh", argc, argv);
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "gpufrac: convert-alibaba needs NODES.csv and PODS.csv (%d given)\n\n",
                argc - optind);
        help(stderr);
        return 2;
    }
    const char *nodes_path = argv[optind], *pods_path = argv[optind + 1];
    if (!strcmp(nodes_path, "-") && !strcmp(pods_path, "-")) {
        fprintf(stderr, "gpufrac: only one of NODES.csv and PODS.csv can be '-'\n");
        return 2;
    }

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    int exit_code = 0;
    gf_err rc = gf_alibaba_load_nodes(&m, nodes_path, &d, &err);
    if (!rc) rc = gf_alibaba_load_pods(&m, pods_path, &o, &d, &err);
    if (!rc) rc = gf_model_finalize(&m, &d, &err);
    if (!quiet) gf_cli_print_diags(&d, 20);
    if (rc) {
        exit_code = fail(&err);
        goto out;
    }

    /* the output file is created only once the input is known to be good */
    FILE *f = stdout;
    if (out_path && strcmp(out_path, "-") && !(f = fopen(out_path, "w"))) {
        fprintf(stderr, "gpufrac: %s: cannot create: %s\n", out_path, strerror(errno));
        exit_code = 1;
        goto out;
    }
    /* only a regular file is removed on failure, never e.g. /dev/full */
    struct stat st;
    bool removable = f != stdout && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    rc = gf_snapshot_write(&m, f, &err);
    if (fflush(f) != 0 && !rc)
        rc = gf_error_set(&err, GF_EIO, out_path ? out_path : "(stdout)", "write failed: %s",
                          strerror(errno));
    if (f != stdout && fclose(f) != 0 && !rc)
        rc = gf_error_set(&err, GF_EIO, out_path, "write failed: %s", strerror(errno));
    if (rc) {
        exit_code = fail(&err);
        if (removable) remove(out_path); /* no half-written snapshot left behind */
    }
out:
    gf_diags_free(&d);
    gf_model_free(&m);
    return exit_code;
}
