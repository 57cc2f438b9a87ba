/* fuzz_policy.c - libFuzzer harness for the RightsizingPolicy YAML loader and
 * policy resolution: any input must give GF_OK with a valid policy, or an
 * error that names the input and says what went wrong; never a crash or a
 * leak. */
#include "decide/policy.h"
#include "io/policy_yaml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    gf_err rc = gf_policy_load_buffer(&p, "fuzz.yaml", (const char *)data, size, &err);
    if (rc != GF_OK) {
        /* every error says what went wrong and names the input */
        if (err.msg[0] == '\0' || strncmp(err.where, "fuzz.yaml", 9) != 0) abort();
        if (p.rules.n != 0) abort(); /* a failed load leaves p untouched */
    } else {
        if (gf_policy_validate(&p, &err) != GF_OK) abort();
        /* resolve a subject taken from each rule's own match: when the rule
         * selects it (a glob need not match itself), it or an earlier rule
         * decides; the result is always valid */
        for (size_t i = 0; i < p.rules.n; i++) {
            const gf_policy_match *m = &p.rules.v[i].match;
            gf_policy_subject s = {m->n_kinds ? m->kinds[0] : "Deployment",
                                   m->n_namespaces ? m->namespaces[0] : "default", "w", &m->labels,
                                   i % 2 ? "auto" : NULL};
            gf_policy_decision d;
            gf_policy_resolve(&p, &s, &d);
            bool selects = gf_policy_match_selects(m, &s);
            if (selects && (d.rule_index == GF_NONE || d.rule_index > i)) abort();
            if (gf_rightsize_rule_validate(&d.rule, NULL) != GF_OK) abort();
            if (d.rule.mode > d.rule_mode && !p.allow_annotation_upgrade) abort();
            if (!d.reason[0]) abort();
        }
    }
    gf_policy_free(&p);
    return 0;
}
