/* policy_yaml.h - RightsizingPolicy YAML -> gf_policy (decide/policy.h).
 *
 *   apiVersion: gpufrac.io/v1alpha1      # required
 *   kind: RightsizingPolicy              # required
 *   optIn: false                         # only annotated workloads are rightsized
 *   allowAnnotationUpgrade: false        # gpufrac.io/rightsize may raise the mode
 *   defaults:                            # settings; every key optional
 *     mode: recommend                    # off | recommend | auto
 *     headroom: 0.15
 *     memoryMargin: 0.10
 *     upsize: {trigger: 0.9, window: 5m}
 *     downsize: {window: 24h, percentile: 0.95, minHistory: 24h, cooldown: 6h,
 *                minChange: 0.05, maxStep: 0.25}
 *     bounds: {minFraction: 0.05, maxFraction: 1.0, step: 0.05, memoryStepMiB: 256}
 *     computeAware: false
 *     maxDisruptionsPerHour: 1
 *   rules:                               # first match wins
 *     - name: llm-serving                # required, unique
 *       match: {namespaces: [prod, "team-*"], labels: {tier: gpu}, kinds: [Deployment]}
 *       mode: auto                       # any settings key; the rest from defaults
 *
 * examples/policy.yaml documents every key. The reading is strict, like
 * Kubernetes' strict decoding: unknown and duplicate keys are errors (typos
 * must not silently fall back to a default), numbers and booleans must be
 * plain YAML scalars (a quoted "0.15" is a string), booleans are true/false,
 * numbers are finite decimals, durations are whole numbers with units d, h,
 * m, s in that order ("30s", "5m", "1h30m", "7d"). An empty value (`rules:`)
 * means an empty section; an empty setting is an error. Anchors and aliases
 * are resolved; YAML merge keys (<<) are not supported. A file without a
 * document (empty or only comments) is an error, not "all defaults": a
 * truncated policy must not pass silently; a document with only apiVersion
 * and kind gives the built-in defaults. Only one document per file.
 *
 * Each rule is validated merged with the defaults (gf_rightsize_rule_validate).
 * Errors name the place and the key path, e.g.
 *   where "policy.yaml:14:15: rules[1].downsize.window"
 *   msg   "bad duration \"5x\": unknown unit 'x' (use d, h, m or s)" */
#ifndef GF_POLICY_YAML_H
#define GF_POLICY_YAML_H

#include "decide/policy.h"

#include <stddef.h>

/* Largest policy accepted, in bytes. */
#define GF_POLICY_MAX_BYTES (1024 * 1024)
/* Nodes in a policy with its YAML aliases expanded (yaml_alias.h): a
 * thousand rules of a hundred namespaces each are 100,000 or so. At
 * 1,000,000 fuzz_policy timed out (13 s instrumented) walking one just
 * under the cap; the cap only counts where aliases are used. */
#define GF_POLICY_MAX_NODES ((size_t)250 * 1000)

/* p must have been set up by gf_policy_init(); on success its contents are
 * replaced by the loaded policy, on error p is left unchanged. name is used
 * in messages (usually the file path). */
gf_err gf_policy_load_buffer(gf_policy *p, const char *name, const char *buf, size_t len,
                             gf_error *err);
/* path "-" reads standard input. */
gf_err gf_policy_load_file(gf_policy *p, const char *path, gf_error *err);

#endif
