/* yaml_error.h - libyaml's parse errors as gpufrac errors, one format for
 * every YAML input (policies, kubeconfigs):
 *   policy.yaml:4:9: YAML syntax error: found character that cannot start
 *   any token while scanning for the next token (line 4)
 * A reader error (bad UTF-8, a control character) is placed at its line
 * and column too. */
#ifndef GF_YAML_ERROR_H
#define GF_YAML_ERROR_H

#include "model/err.h"

#include <stddef.h>
#include <yaml.h>

/* GF_EINPUT (GF_EINTERNAL when libyaml ran out of memory) for the failed
 * parser; buf/len are the input it read, file names it. */
gf_err gf_yaml_error(const yaml_parser_t *parser, const char *file, const char *buf, size_t len,
                     gf_error *err);

#endif
