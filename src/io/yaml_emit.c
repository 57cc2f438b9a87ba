/* yaml_emit.c - JSON as YAML through libyaml's emitter, see yaml_emit.h. */
#include "io/yaml_emit.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

/* Would a plain scalar s be read back as something other than this string
 * (YAML 1.1 and 1.2 core schema: booleans, null, numbers)? libyaml's emitter
 * decides quoting on syntax only, so the type is our business. */
static bool needs_quotes(const char *s)
{
    static const char *const words[] = {"true",  "false", "yes", "no",   "on",    "off",  "null",
                                        "~",     "y",     "n",   "True", "False", "Null", "TRUE",
                                        "FALSE", "NULL",  "Yes", "No",   "YES",   "NO",   "On",
                                        "Off",   "ON",    "OFF", ".inf", ".nan",  "-.inf"};
    if (!*s) return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(s, words[i])) return true;
    /* anything that starts like a number: digits, sign, dot */
    return strchr("0123456789+-.", s[0]) != NULL;
}

static int scalar(yaml_emitter_t *e, const char *s, bool quote)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), !quote, 1,
                                 quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(e, &ev);
}

static int emit(yaml_emitter_t *e, const json_t *j, int precision, int depth)
{
    yaml_event_t ev;
    char buf[64];
    if (depth > 256) return 0; /* deeper than any document of ours */
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            if (!scalar(e, k, needs_quotes(k)) || !emit(e, v, precision, depth + 1)) return 0;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev);
    }
    case JSON_ARRAY: {
        bool empty = json_array_size(j) == 0;
        if (!yaml_sequence_start_event_initialize(
                &ev, NULL, NULL, 1, empty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v)
        {
            if (!emit(e, v, precision, depth + 1)) return 0;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(j);
        return scalar(e, s, needs_quotes(s) || strlen(s) != json_string_length(j));
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return scalar(e, buf, false);
    case JSON_REAL: {
        double v = json_real_value(j);
        if (isnan(v))
            snprintf(buf, sizeof buf, ".nan");
        else if (isinf(v))
            snprintf(buf, sizeof buf, "%s", v > 0 ? ".inf" : "-.inf");
        else
            snprintf(buf, sizeof buf, "%.*g", precision, v);
        /* "3" would read back as an integer; JSON kept it a real */
        if (isfinite(v) && !strpbrk(buf, ".eE")) strcat(buf, ".0");
        return scalar(e, buf, false);
    }
    case JSON_TRUE:
        return scalar(e, "true", false);
    case JSON_FALSE:
        return scalar(e, "false", false);
    case JSON_NULL:
    default:
        return scalar(e, "null", false);
    }
}

gf_err gf_yaml_emit_json(const json_t *doc, FILE *out, int real_precision, gf_error *err)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return gf_error_set(err, GF_EINTERNAL, "yaml", "cannot start the YAML emitter");
    yaml_emitter_set_output_file(&e, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    int ok =
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
        yaml_emitter_emit(&e, &ev) && emit(&e, doc, real_precision > 0 ? real_precision : 10, 0) &&
        yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
        yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
        yaml_emitter_flush(&e);
    gf_err rc = ok ? GF_OK
                   : gf_error_set(err, GF_EIO, "yaml", "cannot write YAML: %s",
                                  e.problem ? e.problem : "write failed");
    yaml_emitter_delete(&e);
    return rc;
}
