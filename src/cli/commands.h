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

/* Prints "gpufrac: warning: ..." lines for the diagnostics (at most limit,
 * then a count of the rest) to stderr. */
struct gf_diags;
void gf_cli_print_diags(const struct gf_diags *d, unsigned limit);

#endif
