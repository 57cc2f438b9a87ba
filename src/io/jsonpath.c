/* jsonpath.c - see jsonpath.h. */
#include "io/jsonpath.h"

#include <stdio.h>

bool gf_path_plain_key(const char *k)
{
    if (!*k) return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static size_t grew(size_t cap, size_t *len, size_t saved, int n)
{
    if (n > 0) *len += (size_t)n;
    if (*len >= cap) *len = cap - 1;
    return saved;
}

size_t gf_path_push_key(char *path, size_t cap, size_t *len, const char *key)
{
    size_t saved = *len;
    int n = gf_path_plain_key(key)
                ? snprintf(path + *len, cap - *len, "%s%.100s", *len ? "." : "", key)
                : snprintf(path + *len, cap - *len, "[\"%.100s\"]", key);
    return grew(cap, len, saved, n);
}

size_t gf_path_push_index(char *path, size_t cap, size_t *len, size_t i)
{
    size_t saved = *len;
    return grew(cap, len, saved, snprintf(path + *len, cap - *len, "[%zu]", i));
}

void gf_path_pop(char *path, size_t *len, size_t saved)
{
    *len = saved;
    path[saved] = '\0';
}

const char *gf_json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}
