/* yaml_alias.h - a cap on YAML alias expansion, for every YAML input
 * (policies, kubeconfigs).
 *
 * libyaml's document API shares an aliased node instead of copying it, but
 * a reader that walks the tree visits it once per alias: one anchored
 * 90,000-entry list reused 6,000 times (under 1 MB of text) is 540 million
 * nodes to walk and copy. This check streams the events once, sizes every
 * anchored node with the aliases inside it expanded, and refuses the input
 * when the expanded document would pass max_nodes, naming the alias that
 * passed it and where:
 *   policy.yaml:253:38: alias *teams (1001 nodes): expanding it makes the
 *   document more than 250000 nodes (anchors reused too often; ...) */
#ifndef GF_YAML_ALIAS_H
#define GF_YAML_ALIAS_H

#include "model/err.h"

#include <stddef.h>

/* GF_OK when buf (len bytes, named file in messages) expands to at most
 * max_nodes nodes, or when it is not well-formed YAML (the loader reports
 * that, in its own words); GF_EINPUT otherwise. */
gf_err gf_yaml_check_aliases(const char *file, const char *buf, size_t len, size_t max_nodes,
                             gf_error *err);

#endif
