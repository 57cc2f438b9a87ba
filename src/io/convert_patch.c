/* convert_patch.c - the conversion's pod-template patch, see convert_patch.h. */
#include "io/convert_patch.h"
#include "model/kai.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gf_convert_change_of(const gf_recommendation *r, char *buf, size_t n, gf_convert_change *c)
{
    gf_recommend_value_text(r->in.unit, r->recommended, buf, n);
    c->container = r->in.gpu_container;
    c->unit_key = gf_recommend_unit_annotation(r->in.unit);
    c->value = buf;
    c->devices = r->in.whole_gpus;
    c->set_scheduler = r->set_scheduler;
}

/* The template's metadata.annotations (and schedulerName) part. */
static json_t *template_with(const gf_convert_change *c, json_t *containers)
{
    json_t *ann = json_object();
    json_object_set_new(ann, c->unit_key, json_string(c->value));
    if (c->devices > 1) {
        char n[16];
        snprintf(n, sizeof n, "%u", c->devices);
        json_object_set_new(ann, GF_KAI_NUM_DEVICES, json_string(n));
    }
    json_t *spec = json_object();
    json_object_set_new(spec, "containers", containers);
    if (c->set_scheduler)
        json_object_set_new(spec, "schedulerName", json_string(GF_KAI_SCHEDULER_NAME));
    return json_pack("{s:{s:{s:{s:o}, s:o}}}", "spec", "template", "metadata", "annotations", ann,
                     "spec", spec);
}

json_t *gf_convert_patch_strategic(const gf_convert_change *c)
{
    json_t *container = json_pack("{s:s, s:{s:{s:n}, s:{s:n}}}", "name", c->container, "resources",
                                  "limits", GF_RES_GPU, "requests", GF_RES_GPU);
    return container ? template_with(c, json_pack("[o]", container)) : NULL;
}

static bool has_gpu(const json_t *container)
{
    const json_t *res = json_object_get(container, "resources");
    return json_object_get(json_object_get(res, "requests"), GF_RES_GPU) ||
           json_object_get(json_object_get(res, "limits"), GF_RES_GPU);
}

static bool same_value(const json_t *have, const char *want)
{
    if (!json_is_string(have)) return false;
    const char *h = json_string_value(have);
    char *e1, *e2;
    double x = strtod(h, &e1), y = strtod(want, &e2);
    if (e1 == h || e2 == want || *e1 || *e2) return !strcmp(h, want);
    return fabs(x - y) < 1e-9;
}

gf_err gf_convert_patch_merge(const json_t *current, const gf_convert_change *c, json_t **patch,
                              gf_error *err)
{
    *patch = NULL;
    const json_t *meta = json_object_get(current, "metadata");
    const json_t *nm = json_object_get(meta, "name");
    const char *name = json_is_string(nm) ? json_string_value(nm) : "?";
    const json_t *tmpl = json_object_get(json_object_get(current, "spec"), "template");
    const json_t *list = json_object_get(json_object_get(tmpl, "spec"), "containers");
    if (!json_is_array(list))
        return gf_error_set(err, GF_EINPUT, name, "spec.template.spec.containers is not a list");
    json_t *copy = json_deep_copy(list);
    size_t i;
    json_t *ct;
    bool found = false, had_gpu = false;
    json_array_foreach(copy, i, ct)
    {
        const json_t *cn = json_object_get(ct, "name");
        if (!c->container || !json_is_string(cn) || strcmp(json_string_value(cn), c->container))
            continue;
        found = true;
        had_gpu = has_gpu(ct);
        json_t *res = json_object_get(ct, "resources");
        json_object_del(json_object_get(res, "requests"), GF_RES_GPU);
        json_object_del(json_object_get(res, "limits"), GF_RES_GPU);
    }
    if (!found) {
        json_decref(copy);
        return gf_error_set(err, GF_EINPUT, name,
                            "spec.template.spec.containers has no container \"%s\"",
                            c->container ? c->container : "");
    }
    const json_t *have = json_object_get(
        json_object_get(json_object_get(tmpl, "metadata"), "annotations"), c->unit_key);
    if (!had_gpu && same_value(have, c->value)) { /* already converted */
        json_decref(copy);
        return GF_OK;
    }
    *patch = template_with(c, copy);
    return *patch ? GF_OK : gf_error_set(err, GF_EINPUT, name, "bad patch text");
}
