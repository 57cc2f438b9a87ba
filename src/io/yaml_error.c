/* yaml_error.c - see yaml_error.h. */
#include "io/yaml_error.h"

#include <stdio.h>

static yaml_mark_t mark_of_offset(const char *buf, size_t len, size_t offset)
{
    yaml_mark_t m = {0, 0, 0};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    m.index = offset;
    return m;
}

gf_err gf_yaml_error(const yaml_parser_t *parser, const char *file, const char *buf, size_t len,
                     gf_error *err)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return gf_error_set(err, GF_EINTERNAL, file, "out of memory parsing YAML");
    yaml_mark_t mark = parser->problem_mark;
    if (parser->error == YAML_READER_ERROR) mark = mark_of_offset(buf, len, parser->problem_offset);
    char where[600];
    snprintf(where, sizeof where, "%.500s:%zu:%zu", file, mark.line + 1, mark.column + 1);
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    if (parser->context)
        return gf_error_set(err, GF_EINPUT, where, "YAML syntax error: %s %s (line %zu)", problem,
                            parser->context, parser->context_mark.line + 1);
    return gf_error_set(err, GF_EINPUT, where, "YAML syntax error: %s", problem);
}
