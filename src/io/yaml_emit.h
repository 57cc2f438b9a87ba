/* yaml_emit.h - a JSON document written as YAML (libyaml's emitter), for
 * `-o yaml`: block style, keys in the document's order, strings quoted
 * where a plain scalar would read as another type ("true", "1.5", "null",
 * "") so that the YAML loads back to the same JSON. */
#ifndef GF_YAML_EMIT_H
#define GF_YAML_EMIT_H

#include "model/err.h"

#include <jansson.h>
#include <stdio.h>

/* real_precision: significant digits of reals (as JSON_REAL_PRECISION). */
gf_err gf_yaml_emit_json(const json_t *doc, FILE *out, int real_precision, gf_error *err);

#endif
