/* cli_common.h - what the gpufrac subcommands share, parsed in one place so
 * that a flag means the same thing in every command:
 *
 *   where the cluster comes from  SNAPSHOT files, else the cluster itself
 *                                 (--kubeconfig, --context, in-cluster
 *                                 config), -n/--namespace (repeatable),
 *                                 -l/--selector, -A/--all-namespaces
 *   how Prometheus is reached     --prometheus URL and its credentials
 *                                 (--prometheus-bearer-token-file, -ca-file,
 *                                 -header 'K: V', -basic-auth-file); without
 *                                 a URL, the Service found in the cluster
 *   the output format             -o table|json|yaml|csv
 *   a bad flag                    "gpufrac CMD: unknown option '--x'" and
 *                                 the short usage line, exit 2
 *   colour                        only on a terminal, never with NO_COLOR
 *
 * Each command lists GF_CLI_CLUSTER_OPTIONS / GF_CLI_PROM_OPTIONS in its
 * getopt_long table (and GF_CLI_CLUSTER_SHORT in its short options) and
 * hands every option to gf_cli_cluster_option() / gf_cli_prom_option()
 * first. */
#ifndef GF_CLI_COMMON_H
#define GF_CLI_COMMON_H

#include "model/err.h"
#include "model/model.h"
#include "io/kube/cluster_read.h"
#include "io/kube/kube.h"
#include "io/usage.h"
#include "util/vec.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

enum {
    GF_OPT_KUBECONFIG = 1000,
    GF_OPT_CONTEXT,
    GF_OPT_PROMETHEUS,
    GF_OPT_PROM_TOKEN,
    GF_OPT_PROM_CA,
    GF_OPT_PROM_HEADER,
    GF_OPT_PROM_BASIC
};

/* getopt_long table entries, one per line */
/* clang-format off */
#define GF_CLI_CLUSTER_SHORT "n:l:A"
#define GF_CLI_CLUSTER_OPTIONS                                        \
    {"kubeconfig", required_argument, NULL, GF_OPT_KUBECONFIG},       \
    {"context", required_argument, NULL, GF_OPT_CONTEXT},             \
    {"namespace", required_argument, NULL, 'n'},                      \
    {"selector", required_argument, NULL, 'l'},                       \
    {"all-namespaces", no_argument, NULL, 'A'}
/* clang-format on */
#define GF_CLI_CLUSTER_HELP                                                                        \
    "the cluster (when no SNAPSHOT is given; kubectl's flags):\n"                                  \
    "      --kubeconfig FILE  kubeconfig (default: $KUBECONFIG, else ~/.kube/config; in a\n"       \
    "                         pod: its service account)\n"                                         \
    "      --context NAME     kubeconfig context (default: current-context)\n"                     \
    "  -n, --namespace NS     only workloads in NS (repeatable); nodes are read whole\n"           \
    "  -l, --selector SEL     only pods and workloads whose labels match (app=llm,tier!=x)\n"      \
    "  -A, --all-namespaces   every namespace (the default)\n"

/* clang-format off */
#define GF_CLI_PROM_OPTIONS                                                    \
    {"prometheus", required_argument, NULL, GF_OPT_PROMETHEUS},                \
    {"prometheus-bearer-token-file", required_argument, NULL, GF_OPT_PROM_TOKEN}, \
    {"prometheus-ca-file", required_argument, NULL, GF_OPT_PROM_CA},           \
    {"prometheus-header", required_argument, NULL, GF_OPT_PROM_HEADER},        \
    {"prometheus-basic-auth-file", required_argument, NULL, GF_OPT_PROM_BASIC}
/* clang-format on */
#define GF_CLI_PROM_HELP                                                                           \
    "      --prometheus URL   a Prometheus server; without it (and without other usage\n"          \
    "                         input) the one found in the cluster: kube-prometheus-stack's\n"      \
    "                         or the Prometheus Operator's Service, reached from outside\n"        \
    "                         through the API server's service proxy\n"                            \
    "      --prometheus-bearer-token-file FILE  'Authorization: Bearer' from FILE\n"               \
    "      --prometheus-ca-file FILE            CA bundle for an https URL\n"                      \
    "      --prometheus-header 'NAME: VALUE'    an extra header (repeatable), e.g.\n"              \
    "                                           X-Scope-OrgID: team-a\n"                           \
    "      --prometheus-basic-auth-file FILE    basic auth from FILE's line USER:PASSWORD\n"

/* --- the cluster ---------------------------------------------------------------------- */

typedef struct gf_cli_cluster {
    const char *kubeconfig, *context, *selector;
    GF_VEC(const char *) namespaces;
    bool all_namespaces;
    gf_kube *kube;    /* opened by gf_cli_load_model() when it read the cluster */
    char origin[700]; /* "cluster https://h:6443 (kubeconfig ..., context ...)" */
} gf_cli_cluster;

void gf_cli_cluster_init(gf_cli_cluster *c);
void gf_cli_cluster_free(gf_cli_cluster *c);
/* Takes opt if it is one of GF_CLI_CLUSTER_OPTIONS: true (and *usage_rc 2
 * after printing why, when arg is bad). */
bool gf_cli_cluster_option(gf_cli_cluster *c, const char *cmd, int opt, const char *arg,
                           int *usage_rc);
/* Opens the cluster (gf_kube_config_auto) into c->kube. */
gf_err gf_cli_cluster_open(gf_cli_cluster *c, gf_error *err);
/* npaths > 0: the snapshot files (-n/-l then are usage errors: filter when
 * taking the snapshot); else the cluster (cluster_read.h), with a warning
 * into d when -n/-l leave GPUs' other tenants out. */
gf_err gf_cli_load_model(gf_cli_cluster *c, char *const *paths, int npaths, gf_model *m,
                         gf_diags *d, gf_error *err);

/* --- Prometheus ----------------------------------------------------------------------- */

typedef struct gf_cli_prom {
    const char *url;
    gf_prom_auth auth;
    GF_VEC(const char *) headers;
    gf_prom_service found; /* when the URL came from the cluster */
    bool use_found;
} gf_cli_prom;

void gf_cli_prom_init(gf_cli_prom *p);
void gf_cli_prom_free(gf_cli_prom *p);
bool gf_cli_prom_option(gf_cli_prom *p, const char *cmd, int opt, const char *arg, int *usage_rc);
/* Credentials given without --prometheus and without a cluster to look in. */
bool gf_cli_prom_has_auth(const gf_cli_prom *p);
/* Without --prometheus: looks for the cluster's Prometheus (c opened if it
 * is not) and says on stderr which it found. GF_ENOTFOUND when none. */
gf_err gf_cli_prom_discover(gf_cli_prom *p, gf_cli_cluster *c, gf_error *err);
/* Both usage metrics over [start, end] from --prometheus or the Service
 * found (c's connection: the service proxy, or the Service's DNS name in a
 * pod). */
gf_err gf_cli_prom_fetch(gf_cli_prom *p, gf_cli_cluster *c, double start, double end, double step_s,
                         gf_usage *u, gf_diags *d, gf_error *err);

/* --- output ------------------------------------------------------------------------------ */

typedef enum gf_cli_format {
    GF_OUT_TABLE = 1,
    GF_OUT_JSON = 2,
    GF_OUT_YAML = 4,
    GF_OUT_CSV = 8
} gf_cli_format;

/* -o ARG among the formats in allowed (a mask): false after printing why. */
bool gf_cli_parse_format(const char *cmd, const char *arg, unsigned allowed, gf_cli_format *out);
/* j printed as JSON (indented) or YAML (libyaml) to stdout; 0 or 1. */
int gf_cli_print_doc(const json_t *j, gf_cli_format f, int real_precision);
/* One CSV field (RFC 4180 quoting when needed) and the separator after it. */
void gf_cli_csv_field(FILE *f, const char *s, bool last);

/* --- errors and terminals ----------------------------------------------------------------- */

/* getopt_long's answer '?' or ':' for argv: prints "gpufrac CMD: unknown
 * option '-x'" (or "needs a value"), the usage line and a pointer to --help;
 * returns 2. Call with opterr = 0. */
int gf_cli_bad_option(const char *cmd, const char *usage_line, const char *shortopts, int argc,
                      char **argv);
/* The same for a message of the caller's. */
int gf_cli_usage_error(const char *cmd, const char *usage_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether to colour f: a terminal, NO_COLOR unset or empty, TERM not dumb. */
bool gf_cli_color(FILE *f);

/* --- findings ------------------------------------------------------------------------- */

/* Sharing pods (of one pool, or every pool with GF_NONE) whose inference
 * engine is configured to take more memory than their share
 * (model/engine.h gf_engine_overrun), printed under a heading with the
 * fix; returns how many. */
uint32_t gf_cli_print_overruns(const gf_model *m, uint32_t only_pool);

#endif
