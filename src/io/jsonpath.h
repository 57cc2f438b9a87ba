/* jsonpath.h - the one way gpufrac's parsers name a place in their input:
 * a path like `items[3].metadata.annotations["gpu-fraction"]` built while
 * walking a document (JSON or YAML), and the name of a JSON value's type
 * for "expected X, got Y" messages. */
#ifndef GF_JSONPATH_H
#define GF_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True when key can follow a '.' (letters, digits, '_'); others are
 * written ["key"]. */
bool gf_path_plain_key(const char *k);

/* Append ".key" / "[\"key\"]" (at most 100 bytes of the key, which comes
 * from the input) or "[i]" to path (capacity cap, current length *len,
 * truncated at cap); returns the length before, for gf_path_pop(). */
size_t gf_path_push_key(char *path, size_t cap, size_t *len, const char *key);
size_t gf_path_push_index(char *path, size_t cap, size_t *len, size_t i);
void gf_path_pop(char *path, size_t *len, size_t saved);

/* "an object", "an array", "a string", "an integer", "a number",
 * "a boolean", "null". */
const char *gf_json_type_name(const json_t *j);

#endif
