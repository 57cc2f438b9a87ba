/* testutil.c - shared helpers for the cmocka test programs. */
#include "testutil.h"
#include "io/snapshot.h"

#include <stdio.h>
#include <string.h>

const char *gf_test_fixture(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", GF_FIXTURES, name);
    return buf;
}

gf_err gf_test_load(gf_model *m, gf_diags *d, gf_error *err, const char *fixture)
{
    char *paths[1] = {(char *)gf_test_fixture(fixture)};
    return gf_snapshot_load_files(m, paths, 1, d, err);
}

gf_err gf_test_load_text(gf_model *m, gf_diags *d, gf_error *err, const char *json)
{
    gf_err rc = gf_snapshot_load_buffer(m, "inline.json", json, strlen(json), d, err);
    if (rc) return rc;
    return gf_model_finalize(m, d, err);
}

int gf_test_diag_has(const gf_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->msgs.n; i++)
        if (strstr(d->msgs.v[i], needle)) return 1;
    return 0;
}

long gf_test_pod(const gf_model *m, const char *ns, const char *name)
{
    for (size_t i = 0; i < m->pods.n; i++)
        if (!strcmp(m->pods.v[i].ns, ns) && !strcmp(m->pods.v[i].name, name)) return (long)i;
    return -1;
}
