/* quantity.h - Kubernetes resource.Quantity parsing.
 *
 * Grammar and rounding follow k8s.io/apimachinery/pkg/api/resource
 * (quantity.go): <signedNumber><suffix>, suffix one of the binary SI
 * (Ki Mi Gi Ti Pi Ei), decimal SI (n u m "" k M G T P E) or a decimal exponent
 * (e3, E-2). Value() and MilliValue() round up, so do we. The arithmetic is
 * exact (128-bit integers); a value that does not fit int64 is an error rather
 * than being clamped, because in gpufrac's inputs it is always a mistake. */
#ifndef GF_QUANTITY_H
#define GF_QUANTITY_H

#include "model/err.h"

#include <stdint.h>

/* ceil(q) into *out, e.g. "1Gi" -> 1073741824, "1.5" -> 2, "500m" -> 1.
 * On failure returns GF_EINPUT and sets *why to a static explanation. */
gf_err gf_quantity_value(const char *s, int64_t *out, const char **why);
/* ceil(q * 1000), e.g. "500m" -> 500, "2" -> 2000, "0.1" -> 100. */
gf_err gf_quantity_milli(const char *s, int64_t *out, const char **why);

#endif
