/* test_yaml_emit.c - `-o yaml` (io/yaml_emit.h): a JSON document written as
 * YAML reads back as the same types: strings that would read as booleans,
 * nulls or numbers are quoted, reals keep a decimal point, empty arrays and
 * objects nest; the exact text is checked, as a reader of the output sees it. */
#include "testutil.h"
#include "io/yaml_emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* doc as YAML, malloc'd. */
static char *emit(const char *json_text)
{
    json_error_t jerr;
    json_t *doc = json_loads(json_text, 0, &jerr);
    if (!doc) fail_msg("bad test JSON: %s", jerr.text);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    gf_error err = {0};
    assert_int_equal(gf_yaml_emit_json(doc, f, 6, &err), GF_OK);
    fclose(f);
    json_decref(doc);
    return buf;
}

static void test_scalars_keep_their_types(void **state)
{
    (void)state;
    char *y = emit("{\"s\": \"plain\", \"t\": \"true\", \"n\": \"null\", \"num\": \"1.5\","
                   " \"empty\": \"\", \"neg\": \"-3\", \"yes\": \"yes\", \"i\": 7, \"r\": 3.0,"
                   " \"f\": 0.25, \"b\": false, \"z\": null, \"colon\": \"a: b\"}");
    const char *want = "s: plain\n"
                       "t: \"true\"\n"
                       "\"n\": \"null\"\n" /* YAML 1.1 reads a plain n as false */
                       "num: \"1.5\"\n"
                       "empty: \"\"\n"
                       "neg: \"-3\"\n"
                       "\"yes\": \"yes\"\n"
                       "i: 7\n"
                       "r: 3.0\n"
                       "f: 0.25\n"
                       "b: false\n"
                       "z: null\n"
                       "colon: 'a: b'\n";
    if (strcmp(y, want)) fail_msg("got:\n%s\nwant:\n%s", y, want);
    free(y);
}

static void test_nesting(void **state)
{
    (void)state;
    char *y = emit("{\"pools\": [{\"name\": \"a\", \"gpus\": [1, 2]}, {\"name\": \"b\", "
                   "\"gpus\": []}], \"meta\": {}}");
    const char *want = "pools:\n"
                       "- name: a\n"
                       "  gpus:\n"
                       "  - 1\n"
                       "  - 2\n"
                       "- name: b\n"
                       "  gpus: []\n"
                       "meta: {}\n";
    if (strcmp(y, want)) fail_msg("got:\n%s\nwant:\n%s", y, want);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_keep_their_types),
        cmocka_unit_test(test_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
