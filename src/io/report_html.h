/* report_html.h - a simulation report (sim/sim.h) as one self-contained
 * HTML page: inline CSS and SVG charts, no scripts, no external fonts,
 * images or style sheets, so it opens offline and can be mailed around.
 *
 * Sections, each with a stable id for tests:
 *   #summary   what was simulated (cluster, demand and its measured mix)
 *   #savings   savings vs harm per policy (table)
 *   #fleet     services' allocation per policy vs their demand over time,
 *              and GPUs in service per policy (two charts, #fleet-alloc and
 *              #fleet-gpus, on axes fitted to their lines; one-gpu-per-
 *              container named instead of drawn when it lies far above)
 *   #harm      harm over time, a chart per policy (#harm-<policy>): pending
 *              and throttled pod-minutes per point (data-values: the
 *              numbers), OOM kills, resizes and moves as marks on the time
 *              axis (data-n: how many)
 *   #workloads the per-workload table (#workload-table, a row per workload,
 *              at most 500, by saving): declared and final allocation, peak
 *              use, headroom, risk, harm and GPU-hours saved vs static
 *   #top       the largest services: allocation per policy vs demand
 *   #heatmap   use versus allocation per GPU of one policy (#heatmap-svg:
 *              a row per GPU, one <rect> per time column with data-a, %
 *              allocated, and data-u, % used; the GPUs longest in service
 *              when there are more than the rows)
 * Every text from the inputs (names, the policy file, ...) is escaped.
 *
 * Size: bounded by the simulation's options, not by the run's length:
 * series of at most max_points points, the heat map at most 40,000 cells,
 * the table at most 500 rows. With the defaults (2000 points, 160 x 168
 * cells) a page is under 8 MiB (tests/test_report_html.c runs the largest
 * chart shape: about 3.8 MB; a full table adds at most 0.5 MB). */
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
