/* main.c - the gpufrac command: parses the subcommand and delegates. */
#include "cli/commands.h"
#include "model/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"inspect", gf_cmd_inspect, "show GPUs, their sharing pods and fragmentation of a snapshot"},
    {"consolidate", gf_cmd_consolidate,
     "GPU nodes that can be drained (their pods fit elsewhere) and the move plan"},
    {"explain", gf_cmd_explain, "noisy neighbours on shared GPUs: findings, responses, why"},
    {"recommend", gf_cmd_recommend,
     "recommend KAI GPU fractions from observed use (fast upsize, patient downsize)"},
    {"run", gf_cmd_run, "the controller: rightsize, fair use and consolidation, every interval"},
    {"simulate", gf_cmd_simulate, "replay a cluster under sharing policies: savings vs harm"},
    {"pack-eval", gf_cmd_pack_eval,
     "compare placement scorers (binpack, spread, bestfit, fgd) by workload inflation"},
    {"gen-snapshot", gf_cmd_gen_snapshot, "write a synthetic cluster as kubectl JSON"},
    {"convert-alibaba", gf_cmd_convert_alibaba,
     "convert the Alibaba GPU trace (nodes + pods CSV) into kubectl JSON"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gpufrac COMMAND [ARGS...]\n\n"
               "GPU-sharing autopilot for Kubernetes clusters scheduled by KAI Scheduler.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'gpufrac COMMAND --help' describes a command.\n"
               "exit codes: 0 success, 1 runtime failure, 2 usage or input error\n");
}

bool gf_cli_kai_option(gf_cli_kai *k, int c, const char *arg)
{
    if (c < GF_CLI_OPT_SCHEDULER_NAME || c > GF_CLI_OPT_RESERVATION_APP) return false;
    k->set[c - GF_CLI_OPT_SCHEDULER_NAME] = arg;
    return true;
}

void gf_cli_kai_names(const gf_cli_kai *k, const gf_kai_names *base, gf_kai_names *out)
{
    if (base)
        *out = *base;
    else
        gf_kai_names_default(out);
    const char **dst[] = {&out->scheduler_name, &out->queue_label, &out->node_pool_label,
                          &out->reservation_ns, &out->reservation_app};
    for (int i = 0; i < 5; i++)
        if (k->set[i]) *dst[i] = k->set[i];
}

void gf_cli_print_diags(const struct gf_diags *d, unsigned limit)
{
    for (size_t i = 0; i < d->msgs.n && i < limit; i++)
        fprintf(stderr, "gpufrac: warning: %s\n", d->msgs.v[i]);
    if (d->msgs.n > limit)
        fprintf(stderr, "gpufrac: warning: ... and %zu more warnings\n", d->msgs.n - limit);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gpufrac 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gpufrac: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
