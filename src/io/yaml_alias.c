/* yaml_alias.c - alias expansion cap, see yaml_alias.h. */
#include "io/yaml_alias.h"
#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SATURATED (UINT64_MAX / 4)

typedef struct frame {
    uint64_t nodes;     /* the collection and everything in it, aliases expanded */
    const char *anchor; /* arena copy, or NULL */
} frame;

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > SATURATED - b ? SATURATED : a + b;
}

gf_err gf_yaml_check_aliases(const char *file, const char *buf, size_t len, size_t max_nodes,
                             gf_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return gf_error_set(err, GF_EINTERNAL, file, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), buf ? len : 0);
    gf_arena names;
    gf_arena_init(&names);
    gf_strmap sizes; /* anchor -> expanded node count */
    gf_strmap_init(&sizes);
    GF_VEC(frame) stack = {0};
    uint64_t total = 0;
    gf_err rc = GF_OK;
    for (bool done = false; !done && !rc;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) break; /* the loader reports it */
        uint64_t here = 0;                           /* nodes this event adds */
        const char *anchor = NULL;
        bool closes = false;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_SCALAR_EVENT:
            here = 1;
            anchor = (const char *)ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *a = ev.type == YAML_SEQUENCE_START_EVENT
                                       ? ev.data.sequence_start.anchor
                                       : ev.data.mapping_start.anchor;
            frame f = {1, a ? gf_arena_strdup(&names, (const char *)a) : NULL};
            gf_vec_push(&stack, f);
            total = add_sat(total, 1);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            closes = stack.n > 0;
            break;
        case YAML_ALIAS_EVENT: {
            size_t v = 1; /* an unknown anchor: the loader reports it */
            const char *name = (const char *)ev.data.alias.anchor;
            gf_strmap_get(&sizes, name, &v);
            here = v;
            if (add_sat(total, here) > max_nodes) {
                char where[600];
                snprintf(where, sizeof where, "%.500s:%zu:%zu", file, ev.start_mark.line + 1,
                         ev.start_mark.column + 1);
                rc = gf_error_set(err, GF_EINPUT, where,
                                  "alias *%.100s (%llu nodes): expanding it makes the document "
                                  "more than %zu nodes (anchors reused too often; write the "
                                  "value out or use fewer aliases)",
                                  name, (unsigned long long)v, max_nodes);
            }
            break;
        }
        default:
            break;
        }
        if (closes) {
            frame f = stack.v[--stack.n];
            here = f.nodes;
            anchor = f.anchor;
        } else {
            total = add_sat(total, here);
        }
        if (anchor) {
            char *key = closes ? (char *)anchor : gf_arena_strdup(&names, anchor);
            gf_strmap_put(&sizes, key, (size_t)(here > SIZE_MAX ? SIZE_MAX : here));
        }
        if (stack.n) stack.v[stack.n - 1].nodes = add_sat(stack.v[stack.n - 1].nodes, here);
        yaml_event_delete(&ev);
    }
    gf_vec_free(&stack);
    gf_strmap_free(&sizes);
    gf_arena_free(&names);
    yaml_parser_delete(&parser);
    return rc;
}
