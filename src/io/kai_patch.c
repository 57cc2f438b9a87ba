/* kai_patch.c - whole-GPU patches of a pod template, see kai_patch.h. */
#include "io/kai_patch.h"
#include "model/kai.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* --- the cap moves with the fraction ---------------------------------------- */

void gf_kai_cap_text(double cap, char *buf, size_t n)
{
    snprintf(buf, n, "%g", floor(cap * 1000 + 1e-6) / 1000);
}

/* Does the flag (dashes or underscores after the leading "--") start at s? */
static size_t flag_at(const char *s, const char *flag)
{
    size_t k = 0;
    while (flag[k] && (s[k] == flag[k] || (k > 1 && s[k] == '_' && flag[k] == '-')))
        k++;
    return flag[k] ? 0 : k;
}

/* arg with its value for flag replaced by value (new string, caller frees),
 * when arg holds the flag with its value inside ("--f=V", or "... --f V ..."
 * in a shell script); NULL otherwise. *value_next: arg ends at the flag, the
 * value is the next entry. */
static char *rewrite_in(const char *arg, const char *flag, const char *value, bool *value_next)
{
    *value_next = false;
    for (size_t i = 0; arg[i]; i++) {
        if (i > 0 && !isspace((unsigned char)arg[i - 1])) continue;
        size_t k = flag_at(arg + i, flag);
        if (!k) continue;
        const char *after = arg + i + k;
        size_t vstart, vend;
        if (*after == '=') {
            vstart = i + k + 1;
        } else if (*after == '\0') {
            *value_next = true;
            return NULL;
        } else if (isspace((unsigned char)*after)) {
            vstart = i + k;
            while (arg[vstart] && isspace((unsigned char)arg[vstart]))
                vstart++;
            if (!arg[vstart]) return NULL;
        } else {
            continue; /* a longer flag that starts the same */
        }
        vend = vstart;
        while (arg[vend] && !isspace((unsigned char)arg[vend]))
            vend++;
        size_t len = strlen(arg), vlen = strlen(value);
        char *out = malloc(len - (vend - vstart) + vlen + 1);
        if (!out) return NULL;
        memcpy(out, arg, vstart);
        memcpy(out + vstart, value, vlen);
        memcpy(out + vstart + vlen, arg + vend, len - vend + 1);
        return out;
    }
    return NULL;
}

json_t *gf_kai_engine_cap_container(const char *container, const char *knob, bool env,
                                    const char *const *argv, uint32_t argc, uint32_t cmd_n,
                                    double cap, gf_error *err)
{
    char value[32];
    gf_kai_cap_text(cap, value, sizeof value);
    if (!container || !knob) {
        gf_error_set(err, GF_EINPUT, "spec.template.spec", "the engine's container is not known");
        return NULL;
    }
    if (env)
        return json_pack("{s:s, s:[{s:s, s:s}]}", "name", container, "env", "name", knob, "value",
                         value);
    json_t *lists[2] = {json_array(), json_array()}; /* command, args */
    bool changed[2] = {false, false};
    bool next_is_value = false;
    for (uint32_t i = 0; i < argc; i++) {
        int l = i < cmd_n ? 0 : 1;
        const char *a = argv[i] ? argv[i] : "";
        if (next_is_value) {
            json_array_append_new(lists[l], json_string(value));
            changed[l] = true;
            next_is_value = false;
            continue;
        }
        bool value_next = false;
        char *rewritten = rewrite_in(a, knob, value, &value_next);
        if (rewritten) {
            json_array_append_new(lists[l], json_string(rewritten));
            changed[l] = true;
            free(rewritten);
        } else {
            json_array_append_new(lists[l], json_string(a));
            next_is_value = value_next;
        }
    }
    if (!changed[0] && !changed[1]) {
        json_decref(lists[0]);
        json_decref(lists[1]);
        gf_error_set(err, GF_EINPUT, container, "no %s value in the container's command or args",
                     knob);
        return NULL;
    }
    json_t *c = json_pack("{s:s}", "name", container);
    static const char *names[2] = {"command", "args"};
    for (int l = 0; l < 2; l++) {
        if (changed[l])
            json_object_set_new(c, names[l], lists[l]);
        else
            json_decref(lists[l]);
    }
    return c;
}

json_t *gf_kai_resize_with_cap_strategic(const char *annotation, const char *value, bool init,
                                         json_t *container_entry)
{
    if (!container_entry) return NULL;
    return json_pack("{s:{s:{s:{s:{s:s}}, s:{s:[o]}}}}", "spec", "template", "metadata",
                     "annotations", annotation, value, "spec",
                     init ? "initContainers" : "containers", container_entry);
}

/* The strings of a JSON array into v[*n..] (non-strings as ""); false when
 * it holds more than cap entries. */
static bool argv_of(const json_t *arr, const char **v, uint32_t *n, uint32_t cap)
{
    size_t i;
    const json_t *s;
    json_array_foreach(arr, i, s)
    {
        if (*n >= cap) return false;
        v[(*n)++] = json_is_string(s) ? json_string_value(s) : "";
    }
    return true;
}

/* The env entry knob of container c set to value (added when absent; a
 * valueFrom it had is dropped: the literal decides). */
static void set_env(json_t *c, const char *knob, const char *value)
{
    json_t *env = json_object_get(c, "env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(c, "env", env);
    }
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const json_t *nm = json_object_get(e, "name");
        if (json_is_string(nm) && !strcmp(json_string_value(nm), knob)) {
            json_object_del(e, "valueFrom");
            json_object_set_new(e, "value", json_string(value));
            return;
        }
    }
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", knob, "value", value));
}

json_t *gf_kai_resize_with_cap_merge(const json_t *obj, const char *annotation, const char *value,
                                     const char *container, bool init, const char *knob, bool env,
                                     double cap, gf_error *err)
{
    const char *list = init ? "initContainers" : "containers";
    const json_t *tspec =
        json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
    const json_t *arr = json_object_get(tspec, list);
    if (!json_is_array(arr) || !container || !knob || !annotation || !value) {
        gf_error_set(err, GF_EINPUT, "spec.template.spec", "no %s list to patch", list);
        return NULL;
    }
    json_t *copy = json_deep_copy(arr);
    size_t i;
    json_t *c, *target = NULL;
    json_array_foreach(copy, i, c)
    {
        const json_t *nm = json_object_get(c, "name");
        if (json_is_string(nm) && !strcmp(json_string_value(nm), container)) {
            target = c;
            break;
        }
    }
    if (!json_is_object(target)) {
        json_decref(copy);
        gf_error_set(err, GF_EINPUT, "spec.template.spec", "no %s named %s", list, container);
        return NULL;
    }
    if (env) {
        char text[32];
        gf_kai_cap_text(cap, text, sizeof text);
        set_env(target, knob, text);
    } else {
        /* the container's command then args, as the object writes them, moved
         * as the strategic patch moves them (one rule for both encodings) */
        enum { MAX_ARGV = 512 };
        const char *argv[MAX_ARGV];
        uint32_t argc = 0;
        bool ok = argv_of(json_object_get(target, "command"), argv, &argc, MAX_ARGV);
        uint32_t cmd_n = argc;
        ok = ok && argv_of(json_object_get(target, "args"), argv, &argc, MAX_ARGV);
        if (!ok) {
            json_decref(copy);
            gf_error_set(err, GF_EINPUT, container, "more than %d command and args entries",
                         MAX_ARGV);
            return NULL;
        }
        json_t *moved =
            gf_kai_engine_cap_container(container, knob, false, argv, argc, cmd_n, cap, err);
        if (!moved) {
            json_decref(copy);
            return NULL;
        }
        static const char *names[2] = {"command", "args"};
        for (int l = 0; l < 2; l++) {
            json_t *v = json_object_get(moved, names[l]);
            if (v) json_object_set(target, names[l], v);
        }
        json_decref(moved);
    }
    return json_pack("{s:{s:{s:{s:{s:s}}, s:{s:o}}}}", "spec", "template", "metadata",
                     "annotations", annotation, value, "spec", list, copy);
}
