/* cli_common.c - options, inputs and outputs the subcommands share, see
 * cli_common.h. */
#include "cli_common.h"

#include "io/snapshot.h"
#include "io/yaml_emit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- the cluster ---------------------------------------------------------------------- */

void gf_cli_cluster_init(gf_cli_cluster *c)
{
    memset(c, 0, sizeof *c);
}

void gf_cli_cluster_free(gf_cli_cluster *c)
{
    if (!c) return;
    gf_vec_free(&c->namespaces);
    gf_kube_free(c->kube);
    c->kube = NULL;
}

bool gf_cli_cluster_option(gf_cli_cluster *c, const char *cmd, int opt, const char *arg,
                           int *usage_rc)
{
    switch (opt) {
    case GF_OPT_KUBECONFIG:
        c->kubeconfig = arg;
        return true;
    case GF_OPT_CONTEXT:
        c->context = arg;
        return true;
    case 'n':
        if (!*arg) {
            fprintf(stderr, "gpufrac %s: -n/--namespace needs a name\n", cmd);
            *usage_rc = 2;
        }
        gf_vec_push(&c->namespaces, arg);
        if (c->all_namespaces) {
            fprintf(stderr, "gpufrac %s: -n and -A exclude each other\n", cmd);
            *usage_rc = 2;
        }
        return true;
    case 'l':
        c->selector = arg;
        return true;
    case 'A':
        c->all_namespaces = true;
        if (c->namespaces.n) {
            fprintf(stderr, "gpufrac %s: -n and -A exclude each other\n", cmd);
            *usage_rc = 2;
        }
        return true;
    default:
        return false;
    }
}

gf_err gf_cli_cluster_open(gf_cli_cluster *c, gf_error *err)
{
    if (c->kube) return GF_OK;
    gf_kube_config cfg;
    gf_kube_config_init(&cfg);
    gf_err rc = gf_kube_config_auto(&cfg, c->kubeconfig, c->context, err);
    if (rc == GF_EIO && !c->kubeconfig && !getenv("KUBERNETES_SERVICE_HOST")) {
        /* nothing said where the cluster is: a usage error, with the way out */
        char msg[1100];
        gf_error_format(err, msg, sizeof msg);
        rc = gf_error_set(err, GF_EUSAGE, NULL,
                          "no SNAPSHOT given and no cluster to read (%s): give SNAPSHOT files, "
                          "--kubeconfig FILE, or set KUBECONFIG",
                          msg);
    }
    if (!rc) rc = gf_kube_new(&c->kube, &cfg, NULL, err);
    if (!rc) snprintf(c->origin, sizeof c->origin, "cluster %s (%s)", cfg.server, cfg.origin);
    gf_kube_config_free(&cfg);
    return rc;
}

gf_err gf_cli_load_model(gf_cli_cluster *c, char *const *paths, int npaths, gf_model *m,
                         gf_diags *d, gf_error *err)
{
    if (npaths > 0) {
        if (c->namespaces.n || c->selector)
            return gf_error_set(err, GF_EUSAGE, c->namespaces.n ? "-n" : "-l",
                                "selects what is read from the cluster; a SNAPSHOT is "
                                "filtered when it is taken (kubectl get ... -n NS -l SEL)");
        if (c->kubeconfig || c->context)
            return gf_error_set(err, GF_EUSAGE, c->kubeconfig ? "--kubeconfig" : "--context",
                                "reads the cluster, but SNAPSHOT files were given");
        return gf_snapshot_load_files(m, paths, npaths, d, err);
    }
    gf_err rc = gf_cli_cluster_open(c, err);
    if (rc) return rc;
    gf_cluster_select sel = {c->namespaces.v, c->namespaces.n, c->selector};
    gf_cluster_read_stats st;
    rc = gf_cluster_load_model(c->kube, &sel, m, &st, d, err);
    if (rc) return rc;
    if (c->namespaces.n || c->selector)
        gf_diag(d, NULL,
                "read %s only: GPUs show the selected pods, their other tenants' allocations are "
                "not counted",
                c->selector ? "the pods selected by -l" : "the namespaces given with -n");
    return GF_OK;
}

/* --- Prometheus ----------------------------------------------------------------------- */

void gf_cli_prom_init(gf_cli_prom *p)
{
    memset(p, 0, sizeof *p);
}

void gf_cli_prom_free(gf_cli_prom *p)
{
    if (p) gf_vec_free(&p->headers);
}

bool gf_cli_prom_option(gf_cli_prom *p, const char *cmd, int opt, const char *arg, int *usage_rc)
{
    char why[200];
    switch (opt) {
    case GF_OPT_PROMETHEUS:
        p->url = arg;
        return true;
    case GF_OPT_PROM_TOKEN:
        p->auth.bearer_token_file = arg;
        return true;
    case GF_OPT_PROM_CA:
        p->auth.ca_file = arg;
        return true;
    case GF_OPT_PROM_BASIC:
        p->auth.basic_auth_file = arg;
        return true;
    case GF_OPT_PROM_HEADER:
        if (!gf_prom_header_valid(arg, why, sizeof why)) {
            fprintf(stderr, "gpufrac %s: --prometheus-header '%s': %s\n", cmd, arg, why);
            *usage_rc = 2;
        }
        gf_vec_push(&p->headers, arg);
        p->auth.headers = p->headers.v;
        p->auth.n_headers = p->headers.n;
        return true;
    default:
        return false;
    }
}

bool gf_cli_prom_has_auth(const gf_cli_prom *p)
{
    return p->auth.bearer_token_file || p->auth.ca_file || p->auth.basic_auth_file ||
           p->auth.n_headers;
}

gf_err gf_cli_prom_discover(gf_cli_prom *p, gf_cli_cluster *c, gf_error *err)
{
    gf_err rc = gf_cli_cluster_open(c, err);
    if (!rc) rc = gf_cluster_find_prometheus(c->kube, &p->found, err);
    if (rc) return rc;
    p->use_found = true;
    bool in_pod = getenv("KUBERNETES_SERVICE_HOST") && !c->kubeconfig;
    fprintf(stderr, "gpufrac: Prometheus: Service %s/%s port %d (found by the label %s), %s\n",
            p->found.ns, p->found.name, p->found.port, p->found.found_by,
            in_pod ? p->found.url : "through the API server's service proxy");
    if (in_pod) {
        p->url = p->found.url;
        p->use_found = false;
    }
    return GF_OK;
}

gf_err gf_cli_prom_fetch(gf_cli_prom *p, gf_cli_cluster *c, double start, double end, double step_s,
                         gf_usage *u, gf_diags *d, gf_error *err)
{
    if (p->use_found) {
        gf_cluster_prom_proxy x = {c->kube, &p->found};
        return gf_prom_fetch_usage_via(gf_cluster_prom_range, &x, start, end, step_s, u, d, err);
    }
    return gf_prom_fetch_usage_auth(p->url, &p->auth, start, end, step_s, u, d, err);
}

/* --- output ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    gf_cli_format f;
} FORMATS[] = {
    {"table", GF_OUT_TABLE}, {"json", GF_OUT_JSON}, {"yaml", GF_OUT_YAML}, {"csv", GF_OUT_CSV}};

bool gf_cli_parse_format(const char *cmd, const char *arg, unsigned allowed, gf_cli_format *out)
{
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if ((allowed & FORMATS[i].f) && !strcmp(arg, FORMATS[i].name)) {
            *out = FORMATS[i].f;
            return true;
        }
    fprintf(stderr, "gpufrac %s: -o/--output '%s': use", cmd, arg);
    const char *sep = " ";
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (allowed & FORMATS[i].f) {
            fprintf(stderr, "%s%s", sep, FORMATS[i].name);
            sep = ", ";
        }
    fputc('\n', stderr);
    return false;
}

int gf_cli_print_doc(const json_t *j, gf_cli_format f, int real_precision)
{
    if (f == GF_OUT_YAML) {
        gf_error err = {0};
        if (gf_yaml_emit_json(j, stdout, real_precision, &err)) {
            char msg[1100];
            gf_error_format(&err, msg, sizeof msg);
            fprintf(stderr, "gpufrac: %s\n", msg);
            return 1;
        }
        return 0;
    }
    if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(real_precision)) ||
        fputc('\n', stdout) == EOF)
        return 1;
    return 0;
}

void gf_cli_csv_field(FILE *f, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

/* --- errors and terminals ----------------------------------------------------------------- */

int gf_cli_bad_option(const char *cmd, const char *usage_line, const char *shortopts, int argc,
                      char **argv)
{
    /* getopt_long leaves optind after the offending word (or its value) */
    const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    bool known_short = optopt > 0 && optopt < 256 && strchr(shortopts, optopt);
    if (optopt >= 256 || known_short)
        fprintf(stderr, "gpufrac %s: option '%s' needs a value\n", cmd, word);
    else if (optopt > 0)
        fprintf(stderr, "gpufrac %s: unknown option '-%c'\n", cmd, optopt);
    else
        fprintf(stderr, "gpufrac %s: unknown option '%s'\n", cmd, word);
    fprintf(stderr, "usage: %s\nSee 'gpufrac %s --help'.\n", usage_line, cmd);
    return 2;
}

int gf_cli_usage_error(const char *cmd, const char *usage_line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpufrac %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\nSee 'gpufrac %s --help'.\n", usage_line, cmd);
    return 2;
}

bool gf_cli_color(FILE *f)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    if (no && *no) return false;
    if (term && !strcmp(term, "dumb")) return false;
    return isatty(fileno(f));
}
