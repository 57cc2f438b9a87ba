/* main.c - the gpufrac command: parses the subcommand and delegates. As
 * kubectl-gpufrac on the PATH it is a kubectl plugin (`kubectl gpufrac ...`:
 * kubectl runs it with the words after "gpufrac"); the help says so. */
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/err.h"
#include "util/version.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

static int cmd_version(int argc, char **argv);
static int cmd_completion(int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"inspect", gf_cmd_inspect, "show GPUs, their sharing pods and fragmentation of the cluster"},
    {"consolidate", gf_cmd_consolidate,
     "GPU nodes that can be drained (their pods fit elsewhere) and the move plan"},
    {"explain", gf_cmd_explain, "noisy neighbours on shared GPUs: findings, responses, why"},
    {"recommend", gf_cmd_recommend,
     "recommend KAI GPU fractions from observed use (fast upsize, patient downsize)"},
    {"run", gf_cmd_run, "the controller: rightsize, fair use and consolidation, every interval"},
    {"top", gf_cmd_top, "a live view of shared GPUs: pods, allocation vs use, findings"},
    {"simulate", gf_cmd_simulate, "replay a cluster under sharing policies: savings vs harm"},
    {"pack-eval", gf_cmd_pack_eval,
     "compare placement scorers (binpack, spread, bestfit, fgd) by workload inflation"},
    {"gen-snapshot", gf_cmd_gen_snapshot, "write a synthetic cluster as kubectl JSON"},
    {"convert-alibaba", gf_cmd_convert_alibaba,
     "convert the Alibaba GPU trace (nodes + pods CSV) into kubectl JSON"},
    {"version", cmd_version, "the version and the libraries' versions"},
    {"completion", cmd_completion, "shell completion: gpufrac completion bash|zsh"},
};

static const char *prog = "gpufrac"; /* "kubectl gpufrac" when run as a plugin */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s COMMAND [ARGS...]\n\n"
            "GPU-sharing autopilot for Kubernetes clusters scheduled by KAI Scheduler.\n\n"
            "commands:\n",
            prog);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n'%s COMMAND --help' describes a command. Without a SNAPSHOT file, inspect,\n"
            "recommend, consolidate and explain read the cluster of your kubeconfig's current\n"
            "context, as kubectl does. Installed as kubectl-gpufrac on the PATH, gpufrac is a\n"
            "kubectl plugin: kubectl gpufrac recommend -n team-a.\n"
            "exit codes: 0 success, 1 runtime failure, 2 usage or input error (recommend:\n"
            "3 no usage at all)\n",
            prog);
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

#define VERSION_USAGE "gpufrac version [-o text|json|yaml]"

static int cmd_version(int argc, char **argv)
{
    gf_cli_format f = GF_OUT_TABLE;
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: " VERSION_USAGE "\n\ngpufrac's version and the libraries it runs with.\n");
        return 0;
    }
    if (argc == 3 && (!strcmp(argv[1], "-o") || !strcmp(argv[1], "--output"))) {
        if (!strcmp(argv[2], "text")) argv[2] = (char *)"table";
        if (!gf_cli_parse_format("version", argv[2], GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML, &f))
            return 2;
    } else if (argc != 1) {
        return gf_cli_usage_error("version", VERSION_USAGE, "unexpected argument '%s'", argv[1]);
    }
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    if (f == GF_OUT_TABLE) {
        printf("gpufrac %s\n", GF_VERSION);
        printf("libraries: jansson %s, libyaml %s, sqlite %s, libcurl %s (%s)\n",
               jansson_version_str(), yaml_get_version_string(), sqlite3_libversion(), cv->version,
               cv->ssl_version ? cv->ssl_version : "no TLS");
        return 0;
    }
    json_t *j =
        json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s?}}", "version", GF_VERSION, "libraries",
                  "jansson", jansson_version_str(), "libyaml", yaml_get_version_string(), "sqlite",
                  sqlite3_libversion(), "libcurl", cv->version, "tls", cv->ssl_version);
    int rc = gf_cli_print_doc(j, f, 6);
    json_decref(j);
    return rc;
}

/* Completion scripts. Options are taken from each command's --help at
 * completion time (the text that documents them), so every command's
 * options complete without a second list to keep in step. */
static const char BASH_COMPLETION[] =
    "# bash completion for gpufrac (and kubectl-gpufrac):\n"
    "#   source <(gpufrac completion bash)\n"
    "_gpufrac() {\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}\n"
    "  local self=${COMP_WORDS[0]}\n"
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
    "    COMPREPLY=($(compgen -W \"@COMMANDS@\" -- \"$cur\")); return\n"
    "  fi\n"
    "  case $prev in\n"
    "    -o|--output) COMPREPLY=($(compgen -W \"table json yaml csv\" -- \"$cur\")); return ;;\n"
    "    -n|--namespace) COMPREPLY=($(compgen -W \"$(kubectl get namespaces -o "
    "jsonpath='{.items[*].metadata.name}' 2>/dev/null)\" -- \"$cur\")); return ;;\n"
    "    --context) COMPREPLY=($(compgen -W \"$(kubectl config get-contexts -o name "
    "2>/dev/null)\" -- \"$cur\")); return ;;\n"
    "    completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")); return ;;\n"
    "  esac\n"
    "  if [[ $cur == -* ]]; then\n"
    "    COMPREPLY=($(compgen -W \"$(\"$self\" \"$cmd\" --help 2>/dev/null | grep -oE -- "
    "'--[a-z][a-z0-9-]*' | sort -u)\" -- \"$cur\")); return\n"
    "  fi\n"
    "  COMPREPLY=($(compgen -f -- \"$cur\"))\n"
    "}\n"
    "complete -o filenames -F _gpufrac gpufrac kubectl-gpufrac\n";

static const char ZSH_COMPLETION[] =
    "#compdef gpufrac kubectl-gpufrac\n"
    "# zsh completion for gpufrac (and kubectl-gpufrac), after compinit:\n"
    "#   source <(gpufrac completion zsh)\n"
    "_gpufrac() {\n"
    "  local -a commands opts\n"
    "  commands=(@ZSH_COMMANDS@)\n"
    "  if (( CURRENT == 2 )); then _describe 'command' commands; return; fi\n"
    "  case ${words[CURRENT-1]} in\n"
    "    -o|--output) compadd table json yaml csv; return ;;\n"
    "    -n|--namespace) compadd ${(s: :)$(kubectl get namespaces -o "
    "jsonpath='{.items[*].metadata.name}' 2>/dev/null)}; return ;;\n"
    "    completion) compadd bash zsh; return ;;\n"
    "  esac\n"
    "  if [[ ${words[CURRENT]} == -* ]]; then\n"
    "    opts=(${(f)\"$(${words[1]} ${words[2]} --help 2>/dev/null | grep -oE -- "
    "'--[a-z][a-z0-9-]*' | sort -u)\"})\n"
    "    compadd -- $opts; return\n"
    "  fi\n"
    "  _files\n"
    "}\n"
    "compdef _gpufrac gpufrac kubectl-gpufrac\n";

/* text with @MARK@ replaced by repl. */
static void print_with(const char *text, const char *mark, const char *repl)
{
    const char *at = strstr(text, mark);
    if (!at) {
        fputs(text, stdout);
        return;
    }
    fwrite(text, 1, (size_t)(at - text), stdout);
    fputs(repl, stdout);
    fputs(at + strlen(mark), stdout);
}

#define COMPLETION_USAGE "gpufrac completion bash|zsh"

static int cmd_completion(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: " COMPLETION_USAGE "\n\n"
               "Prints a completion script for the shell: commands, each command's options,\n"
               "-o formats, namespaces and contexts (from kubectl), files.\n"
               "  bash: source <(gpufrac completion bash)   (e.g. in ~/.bashrc)\n"
               "  zsh:  source <(gpufrac completion zsh)    (after compinit, e.g. in ~/.zshrc)\n");
        return 0;
    }
    if (argc != 2 || (strcmp(argv[1], "bash") && strcmp(argv[1], "zsh")))
        return gf_cli_usage_error("completion", COMPLETION_USAGE, "which shell: bash or zsh");
    char names[512] = "", described[4096] = "";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t o = strlen(names), p = strlen(described);
        snprintf(names + o, sizeof names - o, "%s%s", o ? " " : "", commands[i].name);
        snprintf(described + p, sizeof described - p, "%s'%s:", p ? " " : "", commands[i].name);
        for (const char *s = commands[i].summary; *s; s++) { /* single-quoted for zsh */
            p = strlen(described);
            snprintf(described + p, sizeof described - p, "%s",
                     *s == '\'' ? "'\\''" : (char[]){*s, 0});
        }
        p = strlen(described);
        snprintf(described + p, sizeof described - p, "'");
    }
    if (!strcmp(argv[1], "bash"))
        print_with(BASH_COMPLETION, "@COMMANDS@", names);
    else
        print_with(ZSH_COMPLETION, "@ZSH_COMMANDS@", described);
    return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (!strcmp(base, "kubectl-gpufrac")) prog = "kubectl gpufrac";
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gpufrac %s\n", GF_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\nusage: %s COMMAND [ARGS...]\nSee '%s --help'.\n",
            prog, argv[1], prog, prog);
    return 2;
}
