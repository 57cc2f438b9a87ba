/* kai_patch.c - whole-GPU patches of a pod template, see kai_patch.h. */
#include "io/kai_patch.h"
#include "model/kai.h"

#include <stdio.h>
#include <string.h>

/* Every sharing annotation, null: a JSON merge patch and a strategic merge
 * patch both delete a key set to null. */
static json_t *null_annotations(void)
{
    static const char *keys[] = {GF_KAI_GPU_FRACTION, GF_KAI_GPU_MEMORY, GF_KAI_NUM_DEVICES,
                                 GF_KAI_CONTAINER_NAME};
    json_t *a = json_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_object_set_new(a, keys[i], json_null());
    return a;
}

static json_t *gpus_text(uint32_t gpus)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%u", gpus);
    return json_string(buf);
}

json_t *gf_kai_whole_gpu_strategic(const char *container, bool init, uint32_t gpus)
{
    if (!container || !gpus) return NULL;
    json_t *c = json_pack("{s:s, s:{s:{s:o}}}", "name", container, "resources", "limits",
                          GF_RES_GPU, gpus_text(gpus));
    return json_pack("{s:{s:{s:{s:o}, s:{s:[o]}}}}", "spec", "template", "metadata", "annotations",
                     null_annotations(), "spec", init ? "initContainers" : "containers", c);
}

json_t *gf_kai_whole_gpu_merge(const json_t *obj, const char *container, bool init, uint32_t gpus,
                               gf_error *err)
{
    const char *list = init ? "initContainers" : "containers";
    const json_t *tspec =
        json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
    const json_t *arr = json_object_get(tspec, list);
    if (!json_is_array(arr) || !gpus) {
        gf_error_set(err, GF_EINPUT, "spec.template.spec", "no %s list to patch", list);
        return NULL;
    }
    json_t *copy = json_deep_copy(arr);
    size_t i;
    json_t *c, *target = NULL;
    json_array_foreach(copy, i, c)
    {
        const json_t *nm = json_object_get(c, "name");
        if (!container || (json_is_string(nm) && !strcmp(json_string_value(nm), container))) {
            target = c;
            break;
        }
    }
    if (!json_is_object(target)) {
        json_decref(copy);
        gf_error_set(err, GF_EINPUT, "spec.template.spec", "no %s named %s", list,
                     container ? container : "(first)");
        return NULL;
    }
    json_t *res = json_object_get(target, "resources");
    if (!json_is_object(res)) {
        res = json_object();
        json_object_set_new(target, "resources", res);
    }
    json_t *limits = json_object_get(res, "limits");
    if (!json_is_object(limits)) {
        limits = json_object();
        json_object_set_new(res, "limits", limits);
    }
    json_object_set_new(limits, GF_RES_GPU, gpus_text(gpus));
    /* an extended resource's request, when given, must equal its limit */
    json_t *req = json_object_get(res, "requests");
    if (json_is_object(req) && json_object_get(req, GF_RES_GPU))
        json_object_set_new(req, GF_RES_GPU, gpus_text(gpus));
    return json_pack("{s:{s:{s:{s:o}, s:{s:o}}}}", "spec", "template", "metadata", "annotations",
                     null_annotations(), "spec", list, copy);
}
