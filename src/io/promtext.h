/* promtext.h - usage samples straight from the exporters' /metrics
 * endpoints, without a Prometheus server in between: the Prometheus text
 * exposition format (version 0.0.4, as gpufrac-exporter writes it) read for
 * the two usage gauges (usage.h's GF_USAGE_METRIC_*), and a parallel GET of
 * many endpoints.
 *
 * Format (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * one sample per line, `name{label="value",...} value [timestamp_ms]`;
 * label values escape \\, \" and \n; '#' lines are HELP/TYPE/comments;
 * values are Go floats ("NaN", "+Inf", "-Inf" included). Lines of other
 * metrics are skipped unread. The writing side (escaping, values) is here
 * too, for the controller's own /metrics. */
#ifndef GF_PROMTEXT_H
#define GF_PROMTEXT_H

#include "io/usage.h"
#include "util/sbuf.h"

#include <stddef.h>

/* Adds to u one sample per line of GF_USAGE_METRIC_MEMORY or
 * GF_USAGE_METRIC_SM in buf[0..len), at the line's timestamp, else at t.
 * Lines without a namespace or pod (the exporter's unattributed memory) and
 * NaN values are skipped and counted in *skipped (may be NULL). A line that
 * does not parse, or a value out of range, is GF_EINPUT naming name and the
 * line number ("10.0.0.7:9402/metrics:12: ..."); samples read before it stay
 * in u. */
gf_err gf_promtext_load_usage(gf_usage *u, const char *name, const char *buf, size_t len, double t,
                              size_t *skipped, gf_error *err);

/* GETs every url at once (libcurl multi), each within timeout_ms and at
 * most max_bytes, and loads each answer with gf_promtext_load_usage() at
 * time t. A failing endpoint (connection, HTTP status, bad text) does not
 * stop the others: it is reported in d, naming the URL, and counted.
 * starts (may be NULL; n + 1 entries): endpoint i's samples are
 * u->samples.v[starts[i] .. starts[i + 1]), so a caller can check each
 * sample against the endpoint it came from. Returns how many endpoints
 * failed. */
size_t gf_promtext_scrape(const char *const *urls, size_t n, long timeout_ms, size_t max_bytes,
                          double t, gf_usage *u, size_t *starts, gf_diags *d);

/* The content type of the text format. */
#define GF_PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends v as a label value, escaped (without the quotes). */
void gf_promtext_escape_label(gf_sbuf *out, const char *v);
/* Appends v as a sample value: "NaN", "+Inf", "-Inf", else the shortest
 * decimal that reads back as v. */
void gf_promtext_format_value(gf_sbuf *out, double v);
/* Appends "# HELP name help\n# TYPE name type\n" (help escaped). */
void gf_promtext_family(gf_sbuf *out, const char *name, const char *type, const char *help);

#endif
