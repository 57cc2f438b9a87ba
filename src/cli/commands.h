/* commands.h - the gpufrac subcommands. Each takes argc/argv starting at the
 * subcommand name and returns the process exit code:
 * 0 ok, 1 runtime failure, 2 usage or input error. */
#ifndef GF_COMMANDS_H
#define GF_COMMANDS_H

int gf_cmd_inspect(int argc, char **argv);
int gf_cmd_gen_snapshot(int argc, char **argv);
int gf_cmd_convert_alibaba(int argc, char **argv);
int gf_cmd_consolidate(int argc, char **argv);
int gf_cmd_pack_eval(int argc, char **argv);
int gf_cmd_recommend(int argc, char **argv);
int gf_cmd_simulate(int argc, char **argv);
int gf_cmd_explain(int argc, char **argv);
int gf_cmd_run(int argc, char **argv);
int gf_cmd_top(int argc, char **argv);

/* KAI's configurable names as flags, shared by every command that reads a
 * snapshot. They override the policy file's kai: section, which overrides
 * KAI's defaults (core/kai.h gf_kai_names). Use GF_CLI_KAI_OPTIONS inside a
 * getopt_long option table and GF_CLI_KAI_HELP in --help; pass every option
 * value to gf_cli_kai_option() first. */
#include "model/kai.h"
#include <stdbool.h>

enum {
    GF_CLI_OPT_SCHEDULER_NAME = 0x4b00,
    GF_CLI_OPT_QUEUE_LABEL,
    GF_CLI_OPT_NODE_POOL_LABEL,
    GF_CLI_OPT_RESERVATION_NS,
    GF_CLI_OPT_RESERVATION_APP
};
#define GF_CLI_KAI_OPTIONS                                                                         \
    {"scheduler-name", required_argument, NULL, GF_CLI_OPT_SCHEDULER_NAME},                        \
        {"queue-label", required_argument, NULL, GF_CLI_OPT_QUEUE_LABEL},                          \
        {"node-pool-label", required_argument, NULL, GF_CLI_OPT_NODE_POOL_LABEL},                  \
        {"reservation-namespace", required_argument, NULL, GF_CLI_OPT_RESERVATION_NS},             \
    {                                                                                              \
        "reservation-app-label", required_argument, NULL, GF_CLI_OPT_RESERVATION_APP               \
    }
#define GF_CLI_KAI_HELP                                                                            \
    "KAI's configurable names (defaults: KAI's; a policy's kai: section; these flags win):\n"      \
    "      --scheduler-name NAME        spec.schedulerName of KAI's pods (kai-scheduler);\n"       \
    "                                   other pods use capacity, their annotations are ignored\n"  \
    "      --queue-label KEY            pod label of the queue (kai.scheduler/queue)\n"            \
    "      --node-pool-label KEY        node label of the pool (kai.scheduler/node-pool)\n"        \
    "      --reservation-namespace NS   KAI's reservation pods' namespace\n"                       \
    "                                   (kai-resource-reservation)\n"                              \
    "      --reservation-app-label V    their label app=V (kai-resource-reservation)\n"

typedef struct gf_cli_kai {
    const char *set[5]; /* per option, in enum order; NULL = not given */
} gf_cli_kai;

/* True when c is one of the options above (its value kept in k). */
bool gf_cli_kai_option(gf_cli_kai *k, int c, const char *arg);
/* The names to use: base (the policy's, or KAI's defaults when NULL) with
 * the flags given applied. */
void gf_cli_kai_names(const gf_cli_kai *k, const gf_kai_names *base, gf_kai_names *out);

/* Prints "gpufrac: warning: ..." lines for the diagnostics (at most limit,
 * then a count of the rest) to stderr. */
struct gf_diags;
void gf_cli_print_diags(const struct gf_diags *d, unsigned limit);

#endif
