/* report_html.h - a simulation report (sim/sim.h) as one self-contained
 * HTML page: inline CSS and SVG charts, no scripts, no external fonts,
 * images or style sheets, so it opens offline and can be mailed around.
 *
 * Sections, each with a stable id for tests:
 *   #summary   what was simulated (cluster, demand and its measured mix)
 *   #savings   savings vs harm per policy (table)
 *   #fleet     services' allocation per policy vs their demand over time,
 *              and GPUs in service per policy (two charts)
 *   #top       the largest services: allocation per policy vs demand
 *   #heatmap   per-GPU sharing occupancy of one policy (rows GPUs, columns
 *              time, colour = share of the GPU allocated)
 * Every text from the inputs (names, the policy file, ...) is escaped. */
#ifndef GF_REPORT_HTML_H
#define GF_REPORT_HTML_H

#include "sim/sim.h"
#include "util/sbuf.h"

#include <stdint.h>

/* What the page says about the run (all optional, NULL = not shown). */
typedef struct gf_report_meta {
    const char *cluster; /* e.g. "generated: 50 nodes, seed 1" or the snapshot path */
    const char *demand;  /* e.g. "builtin" or "azure:trace.csv" */
    const char *policy;  /* the gpufrac policy file, NULL = built-in */
    uint64_t seed;
    const char *version; /* "gpufrac 0.1.0" */
} gf_report_meta;

/* Appends the page to out. */
void gf_report_html(gf_sbuf *out, const gf_sim_report *r, const gf_report_meta *meta);
/* Writes the page to path. GF_EIO (naming the path) when it cannot. */
gf_err gf_report_html_write(const char *path, const gf_sim_report *r, const gf_report_meta *meta,
                            gf_error *err);

#endif
