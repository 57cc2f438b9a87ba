/* metrics.h - a scrape as Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Every family gets its # HELP and # TYPE lines and all its samples
 * together; label values escape backslash, double quote and line feed
 * (\\, \", \n); HELP text escapes backslash and line feed; values are Go-style
 * floats ("NaN", "+Inf", "-Inf", shortest round-trip decimal). Names follow
 * Prometheus's rules: base units (bytes, seconds), "_ratio" for 0..1,
 * "_total" for counters. The metric list is in docs/exporter.md. */
#ifndef GF_METRICS_H
#define GF_METRICS_H

#include "exporter/collect.h"
#include "util/sbuf.h"

#define GF_EXPORTER_VERSION "0.1.0"

/* The content type of the output. */
#define GF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the exposition of s to out. */
void gf_metrics_render(const gf_scrape *s, gf_sbuf *out);

/* Label values and sample values are written by io/promtext.h
 * (gf_promtext_escape_label, gf_promtext_format_value), shared with the
 * controller's /metrics. */

#endif
