/* standin_rules.h - the API rules the stand-in applies to objects:
 * label and field selectors (apimachinery's labels.Parse and
 * fields.ParseSelector, the common subset), PodDisruptionBudget selectors
 * (metav1.LabelSelector) and JSON merge patch (RFC 7386). */
#ifndef GF_STANDIN_RULES_H
#define GF_STANDIN_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct gf_sel gf_sel;

/* Parses labelSelector and fieldSelector (either may be NULL or ""). NULL
 * and why[] filled on a syntax error. */
gf_sel *gf_sel_parse(const char *labels, const char *fields, char *why, size_t why_n);
void gf_sel_free(gf_sel *s);
/* True when obj matches (a NULL selector matches everything). */
bool gf_sel_match(const gf_sel *s, const json_t *obj);

/* A metav1.LabelSelector (matchLabels, matchExpressions) against labels.
 * NULL/absent selector: matches nothing; {}: everything (policy/v1). */
bool gf_label_selector_match(const json_t *selector, const json_t *labels);

/* target := MergePatch(target, patch); returns the new target (a new
 * reference; target is consumed). */
json_t *gf_merge_patch(json_t *target, const json_t *patch);

#endif
