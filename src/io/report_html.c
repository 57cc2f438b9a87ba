/* report_html.c - the simulation report as one HTML page, see report_html.h.
 *
 * Charts are plain inline SVG drawn here: polylines for time series, rects
 * for the heat-map (runs of equal colour merged, so a week of a hundred
 * GPUs stays a few hundred kilobytes). */
#include "io/report_html.h"

#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Colours per policy (colour-blind-safe Okabe-Ito palette) and for demand. */
static const char *const policy_color[GF_SIM_NPOLICIES] = {
    "#999999", "#d55e00", "#e69f00", "#0072b2", "#cc79a7", "#56b4e9", "#009e73"};
#define DEMAND_COLOR "#000000"

#define CHART_W 1100
#define CHART_H 300
#define SMALL_W 560
#define SMALL_H 230
#define MARGIN_L 60
#define MARGIN_R 20
#define MARGIN_T 20
#define MARGIN_B 36

/* --- text ---------------------------------------------------------------------------- */

static void esc(gf_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            gf_sbuf_puts(b, "&amp;");
            break;
        case '<':
            gf_sbuf_puts(b, "&lt;");
            break;
        case '>':
            gf_sbuf_puts(b, "&gt;");
            break;
        case '"':
            gf_sbuf_puts(b, "&quot;");
            break;
        case '\'':
            gf_sbuf_puts(b, "&#39;");
            break;
        default:
            gf_sbuf_append(b, s, 1);
        }
    }
}

static const char *pname(int p)
{
    return gf_sim_policy_name((gf_sim_policy)p);
}

/* --- charts ----------------------------------------------------------------------------- */

typedef struct line {
    const char *name;
    const char *color;
    const float *v; /* n values */
    bool dashed;
} line;

/* A "nice" step for about `want` ticks over [0, max]. */
static double nice_step(double max, int want)
{
    double raw = max / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * mag;
}

static void x_axis(gf_sbuf *b, double days, int w, int h)
{
    double pw = w - MARGIN_L - MARGIN_R;
    double step = days <= 1.5 ? 0.25 : days <= 14 ? 1 : nice_step(days, w > 700 ? 10 : 5);
    for (double d = 0; d <= days + 1e-9; d += step) {
        double x = MARGIN_L + pw * d / days;
        gf_sbuf_printf(
            b,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
            "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%g</text>\n",
            x, MARGIN_T, x, h - MARGIN_B, x, h - MARGIN_B + 14, d);
    }
    gf_sbuf_printf(b,
                   "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">days</text>\n",
                   MARGIN_L + pw / 2, h - 4);
}

/* The y axis [*lo, *hi] and its step for values in [min, max]: from zero,
 * or (fit) from a step below the smallest value, so that series close
 * together stay apart on the page. */
static double y_range(double min, double max, bool fit, double *lo, double *hi)
{
    if (!(max > 0)) max = 1;
    if (!fit || !(min > 0) || !(max > min)) min = 0;
    double step = fit ? nice_step(max - min, 8) : nice_step(max, 5);
    *lo = floor(min / step) * step;
    if (*lo > 0 && min - *lo < step / 10) *lo -= step; /* the lowest line off the axis */
    if (*lo < 0) *lo = 0;
    *hi = ceil(max / step) * step;
    if (!(*hi > *lo)) *hi = *lo + step;
    return step;
}

static void line_chart_fit(gf_sbuf *b, const char *id, const char *ylabel, const line *ls, int nl,
                           uint32_t n, double days, int w, int h, bool fit)
{
    double ymin = INFINITY, ymax = 0;
    for (int k = 0; k < nl; k++)
        for (uint32_t i = 0; i < n; i++) {
            if (ls[k].v[i] > ymax) ymax = ls[k].v[i];
            if (ls[k].v[i] < ymin) ymin = ls[k].v[i];
        }
    double y0, y1, ystep = y_range(ymin, ymax, fit, &y0, &y1);
    double pw = w - MARGIN_L - MARGIN_R, ph = h - MARGIN_T - MARGIN_B;
    gf_sbuf_printf(b,
                   "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" data-ymin=\"%g\" data-ymax=\"%g\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n",
                   id, w, h, w, h, y0, y1);
    for (double y = y0; y <= y1 + 1e-9; y += ystep) {
        double py = MARGIN_T + ph * (1 - (y - y0) / (y1 - y0));
        gf_sbuf_printf(b,
                       "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g</text>\n",
                       MARGIN_L, py, w - MARGIN_R, py, MARGIN_L - 6, py + 4, y);
    }
    x_axis(b, days, w, h);
    gf_sbuf_printf(b,
                   "<text x=\"14\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 14 %.1f)\">",
                   MARGIN_T + ph / 2, MARGIN_T + ph / 2);
    esc(b, ylabel);
    gf_sbuf_puts(b, "</text>\n");
    for (int k = 0; k < nl; k++) {
        gf_sbuf_printf(b,
                       "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
                       "stroke-width=\"%s\"%s data-name=\"",
                       ls[k].color, ls[k].dashed ? "1.5" : "1.8",
                       ls[k].dashed ? " stroke-dasharray=\"5 3\"" : "");
        esc(b, ls[k].name);
        gf_sbuf_puts(b, "\" points=\"");
        for (uint32_t i = 0; i < n; i++) {
            double x = MARGIN_L + (n > 1 ? pw * i / (n - 1) : 0);
            double y = MARGIN_T + ph * (1 - (ls[k].v[i] - y0) / (y1 - y0));
            gf_sbuf_printf(b, "%.1f,%.1f ", x, y);
        }
        gf_sbuf_puts(b, "\"><title>");
        esc(b, ls[k].name);
        gf_sbuf_puts(b, "</title></polyline>\n");
    }
    gf_sbuf_puts(b, "</svg>\n<div class=\"legend\">");
    for (int k = 0; k < nl; k++) {
        gf_sbuf_printf(b, "<span><i style=\"background:%s\"></i>", ls[k].color);
        esc(b, ls[k].name);
        gf_sbuf_puts(b, "</span>");
    }
    gf_sbuf_puts(b, "</div>\n");
}

static void line_chart(gf_sbuf *b, const char *id, const char *ylabel, const line *ls, int nl,
                       uint32_t n, double days, int w, int h)
{
    line_chart_fit(b, id, ylabel, ls, nl, n, days, w, h, false);
}

/* --- the use-versus-allocation heat map ------------------------------------------------ */

/* A cell's colour: lightness from the share of the GPU allocated (4 bands),
 * hue from the share of that allocation used (idle under 40%, partly used,
 * used from 75%, over it above 105%); grey out of service, white when
 * nothing is allocated. */
enum { USE_IDLE, USE_PART, USE_USED, USE_OVER, USE_CLASSES };
static const char *const use_class_name[USE_CLASSES] = {"idle (under 40% of the allocation used)",
                                                        "partly used (40-75%)", "used (75-105%)",
                                                        "over the allocation (above 105%)"};
static const char *const use_palette[USE_CLASSES][4] = {
    {"#fdd0a2", "#fdae6b", "#f16913", "#a63603"},
    {"#f6eeb4", "#e8cf5b", "#c9a227", "#8c6d0f"},
    {"#c6dbef", "#6baed6", "#2171b5", "#08306b"},
    {"#dadaeb", "#9e9ac8", "#6a51a3", "#3f007d"}};
#define HEAT_OFF_COLOR "#d9d9d9"
#define HEAT_EMPTY_COLOR "#ffffff"

static const char *use_alloc_color(uint8_t alloc, uint8_t use)
{
    if (alloc > 100) return HEAT_OFF_COLOR;
    if (alloc == 0) return HEAT_EMPTY_COLOR;
    int band = alloc <= 25 ? 0 : alloc <= 50 ? 1 : alloc <= 75 ? 2 : 3;
    double ratio = (double)use / alloc;
    int cls = ratio > 1.05    ? USE_OVER
              : ratio >= 0.75 ? USE_USED
              : ratio >= 0.4  ? USE_PART
                              : USE_IDLE;
    return use_palette[cls][band];
}

/* One <rect> per GPU and time column (data-a: % allocated, data-u: % used),
 * a row per GPU. */
#define HEAT_MAX_CELLS 40000 /* the page's bound: rows beyond it are left out (and said so) */

static uint32_t heat_rows_drawn(const gf_sim_report *r)
{
    uint32_t most = r->heat_cols ? HEAT_MAX_CELLS / r->heat_cols : 0;
    return r->heat_rows < most ? r->heat_rows : most;
}

static void heatmap(gf_sbuf *b, const gf_sim_report *r)
{
    uint32_t rows = heat_rows_drawn(r), cols = r->heat_cols;
    int label_w = 170, w = CHART_W;
    double cell_h = rows > 120 ? 4 : rows > 60 ? 6 : 10;
    double pw = w - label_w - MARGIN_R, cw = pw / (cols ? cols : 1);
    int h = (int)(MARGIN_T + rows * cell_h + MARGIN_B + 30);
    gf_sbuf_printf(b,
                   "<svg id=\"heatmap-svg\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" data-rows=\"%u\" data-cols=\"%u\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n",
                   w, h, w, h, rows, cols);
    uint32_t label_every = cell_h >= 10 ? 1 : cell_h >= 6 ? 2 : 4;
    for (uint32_t row = 0; row < rows; row++) {
        double y = MARGIN_T + row * cell_h;
        gf_sbuf_puts(b, "<g class=\"hrow\" data-gpu=\"");
        esc(b, r->heat_label[row]);
        gf_sbuf_puts(b, "\">");
        if (row % label_every == 0) {
            gf_sbuf_printf(b, "<text x=\"%d\" y=\"%.1f\" class=\"hlabel\" text-anchor=\"end\">",
                           label_w - 6, y + cell_h);
            esc(b, r->heat_label[row]);
            gf_sbuf_puts(b, "</text>");
        }
        for (uint32_t c = 0; c < cols; c++) {
            size_t cell = (size_t)row * cols + c;
            uint8_t a = r->heat[cell], u = r->heat_use ? r->heat_use[cell] : 0;
            gf_sbuf_printf(b,
                           "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%g\" fill=\"%s\"",
                           label_w + c * cw, y, cw + 0.3, cell_h, use_alloc_color(a, u));
            if (a > 100)
                gf_sbuf_puts(b, "/>");
            else
                gf_sbuf_printf(b, " data-a=\"%u\" data-u=\"%u\"/>", a, u);
        }
        gf_sbuf_puts(b, "</g>\n");
    }
    double days = r->duration_s / 86400;
    double step = days <= 1.5 ? 0.25 : days <= 14 ? 1 : nice_step(days, 10);
    double ybase = MARGIN_T + rows * cell_h;
    for (double d = 0; d <= days + 1e-9; d += step) {
        double x = label_w + pw * d / days;
        gf_sbuf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%g"
                       "</text>",
                       x, ybase + 14, d);
    }
    gf_sbuf_printf(b,
                   "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">days"
                   "</text>\n",
                   label_w + pw / 2, ybase + 28);
    gf_sbuf_puts(b, "</svg>\n<table class=\"hkey\"><tr><th>share of the allocation used \\ "
                    "of the GPU allocated</th><th>&le;25%</th><th>&le;50%</th><th>&le;75%</th>"
                    "<th>&le;100%</th></tr>\n");
    for (int c = USE_CLASSES - 1; c >= 0; c--) {
        gf_sbuf_printf(b, "<tr><td>%s</td>", use_class_name[c]);
        for (int band = 0; band < 4; band++)
            gf_sbuf_printf(b, "<td><i style=\"background:%s\"></i></td>", use_palette[c][band]);
        gf_sbuf_puts(b, "</tr>\n");
    }
    gf_sbuf_puts(
        b, "</table>\n<div class=\"legend\"><span><i style=\"background:" HEAT_EMPTY_COLOR
           "\"></i>in service, nothing allocated</span><span><i style=\"background:" HEAT_OFF_COLOR
           "\"></i>not in service</span></div>\n");
}

static void heatmap_section(gf_sbuf *b, const gf_sim_report *r)
{
    gf_sbuf_printf(b, "<section id=\"heatmap\"><h2>GPU use versus allocation: %s</h2>\n",
                   pname(r->heat_policy));
    gf_sbuf_printf(b,
                   "<p class=\"note\">Each row a GPU that was in service, each column %.4g "
                   "hours; colour: how much of the GPU was allocated to pods (lighter: less) "
                   "and how much of that allocation they used (served memory or SM share, "
                   "whichever is larger, per pod). ",
                   r->steps_per_col * r->step_s / 3600);
    if (heat_rows_drawn(r) < r->heat_rows)
        gf_sbuf_printf(b,
                       "A sample: %u of the %u GPUs in service (the page holds at most %d "
                       "cells). ",
                       heat_rows_drawn(r), r->heat_gpus, HEAT_MAX_CELLS);
    else if (heat_rows_drawn(r) < r->heat_gpus)
        gf_sbuf_printf(b,
                       "A sample: the %u of the %u GPUs in service that were in service "
                       "longest (rows in node order). ",
                       heat_rows_drawn(r), r->heat_gpus);
    else
        gf_sbuf_printf(b, "All %u GPUs in service. ", r->heat_rows);
    gf_sbuf_puts(b, "Hover data: data-a (% allocated), data-u (% used).</p>\n");
    if (r->heat_rows && r->heat_cols)
        heatmap(b, r);
    else
        gf_sbuf_puts(b, "<p>No GPU was in service.</p>\n");
    gf_sbuf_puts(b, "</section>\n");
}

/* --- harm over time ------------------------------------------------------------------------ */

#define HARM_W 560
#define HARM_H 250
#define MARK_ROW 11 /* the marks' rows under the plot: OOM kills, resizes, moves */
#define HARM_PENDING_COLOR "#e69f00"
#define HARM_THROTTLED_COLOR "#cc79a7"
#define MARK_OOM_COLOR "#cc0000"
#define MARK_RESIZE_COLOR "#0072b2"
#define MARK_MOVE_COLOR "#009e73"

static void harm_values(gf_sbuf *b, const float *v, uint32_t n)
{
    gf_sbuf_puts(b, " data-values=\"");
    for (uint32_t i = 0; i < n; i++)
        gf_sbuf_printf(b, i ? " %g" : "%g", v[i]);
    gf_sbuf_puts(b, "\"");
}

/* Pending and throttled pod-minutes per point as lines on a shared scale
 * (ymax), OOM kills, resizes and moves as marks on the time axis. */
static void harm_chart(gf_sbuf *b, const gf_sim_report *r, int p, double ymax)
{
    const gf_sim_result *x = &r->policy[p];
    uint32_t n = r->n_points;
    int w = HARM_W, h = HARM_H;
    double days = r->duration_s / 86400;
    double pw = w - MARGIN_L - MARGIN_R;
    double plot_b = h - MARGIN_B - 3 * MARK_ROW - 6, ph = plot_b - MARGIN_T;
    double y0, y1, ystep = y_range(0, ymax, false, &y0, &y1);
    gf_sbuf_printf(b,
                   "<svg id=\"harm-%s\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" data-ymax=\"%g\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n",
                   pname(p), w, h, w, h, y1);
    for (double y = 0; y <= y1 + 1e-9; y += ystep) {
        double py = MARGIN_T + ph * (1 - y / y1);
        gf_sbuf_printf(b,
                       "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g</text>\n",
                       MARGIN_L, py, w - MARGIN_R, py, MARGIN_L - 6, py + 4, y);
    }
    x_axis(b, days, w, h);
    gf_sbuf_printf(b,
                   "<text x=\"14\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 14 %.1f)\">pod-min</text>\n",
                   MARGIN_T + ph / 2, MARGIN_T + ph / 2);
    struct {
        const char *kind, *color;
        const float *v;
    } ls[2] = {{"pending", HARM_PENDING_COLOR, x->harm_pending},
               {"throttled", HARM_THROTTLED_COLOR, x->harm_throttled}};
    for (int k = 0; k < 2; k++) {
        gf_sbuf_printf(b,
                       "<polyline class=\"harm\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                       "data-kind=\"%s\"",
                       ls[k].color, ls[k].kind);
        harm_values(b, ls[k].v, n);
        gf_sbuf_puts(b, " points=\"");
        for (uint32_t i = 0; i < n; i++)
            gf_sbuf_printf(b, "%.1f,%.1f ", MARGIN_L + (n > 1 ? pw * i / (n - 1) : 0),
                           MARGIN_T + ph * (1 - ls[k].v[i] / y1));
        gf_sbuf_printf(b, "\"><title>%s pod-minutes</title></polyline>\n", ls[k].kind);
    }
    struct {
        const char *kind, *label, *color;
        const float *v;
    } ms[3] = {{"oom", "OOM", MARK_OOM_COLOR, x->harm_ooms},
               {"resize", "resize", MARK_RESIZE_COLOR, x->harm_resizes},
               {"move", "move", MARK_MOVE_COLOR, x->harm_moves}};
    for (int k = 0; k < 3; k++) {
        double my = plot_b + 4 + k * MARK_ROW;
        gf_sbuf_printf(b,
                       "<text x=\"%d\" y=\"%.1f\" class=\"hlabel\" text-anchor=\"end\">%s</text>"
                       "<g class=\"marks\" data-kind=\"%s\" fill=\"%s\">",
                       MARGIN_L - 4, my + 7.5, ms[k].label, ms[k].kind, ms[k].color);
        /* one mark per pixel column at most: its count is the points' there */
        double count = 0;
        long px = -1;
        for (uint32_t i = 0; i <= n; i++) {
            long at = i < n ? lround(MARGIN_L + (n > 1 ? pw * i / (n - 1) : 0)) : -2;
            if (at != px && count > 0)
                gf_sbuf_printf(b,
                               "<rect x=\"%ld\" y=\"%.1f\" width=\"2\" height=\"%d\" "
                               "data-n=\"%g\"/>",
                               px - 1, my, MARK_ROW - 2, count);
            if (at != px) count = 0;
            px = at;
            if (i < n) count += ms[k].v[i];
        }
        gf_sbuf_puts(b, "</g>\n");
    }
    gf_sbuf_puts(b, "</svg>\n");
}

static void harm_section(gf_sbuf *b, const gf_sim_report *r)
{
    double ymax = 0;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        if (!x->ran || p == GF_SIM_ORACLE || !x->harm_pending) continue;
        for (uint32_t i = 0; i < r->n_points; i++)
            ymax = fmax(ymax, fmax(x->harm_pending[i], x->harm_throttled[i]));
    }
    gf_sbuf_printf(b,
                   "<section id=\"harm\"><h2>Harm over time</h2>\n<p class=\"note\">Per policy, "
                   "per %.4g minutes: pending and throttled pod-minutes, on one scale for all "
                   "policies; under each plot, a mark where OOM "
                   "kills, workload resizes or consolidation moves happened.</p>\n"
                   "<div class=\"small\">\n",
                   r->steps_per_point * r->step_s / 60);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        if (!x->ran || p == GF_SIM_ORACLE || !x->harm_pending) continue;
        gf_sbuf_printf(b,
                       "<div><h3><span class=\"swatch\" style=\"background:%s\"></span>%s: %llu "
                       "OOM kills, %.0f throttled and %.0f pending pod-min, %llu resizes, %llu "
                       "moves</h3>\n",
                       policy_color[p], pname(p), (unsigned long long)x->ooms, x->throttled_min,
                       x->pending_min, (unsigned long long)x->resizes,
                       (unsigned long long)x->moves);
        harm_chart(b, r, p, ymax);
        gf_sbuf_puts(b, "</div>\n");
    }
    gf_sbuf_puts(b, "</div>\n<div class=\"legend\"><span><i style=\"background:" HARM_PENDING_COLOR
                    "\"></i>pending pod-min</span><span><i style=\"background:" HARM_THROTTLED_COLOR
                    "\"></i>throttled pod-min</span><span><i style=\"background:" MARK_OOM_COLOR
                    "\"></i>OOM kills</span><span><i style=\"background:" MARK_RESIZE_COLOR
                    "\"></i>resizes</span><span><i style=\"background:" MARK_MOVE_COLOR
                    "\"></i>moves</span></div></section>\n");
}

/* --- per workload ---------------------------------------------------------------------------- */

#define WORKLOAD_ROWS 500 /* the report's table at most; -o json has every workload */

static void alloc_text(gf_sbuf *b, gf_share_kind unit, double fraction, int64_t mib, uint32_t whole)
{
    if (whole)
        gf_sbuf_printf(b, "%u GPU", whole);
    else if (unit == GF_SHARE_MEMORY)
        gf_sbuf_printf(b, "%lld MiB", (long long)mib);
    else
        gf_sbuf_printf(b, "%.2f", fraction);
}

static void workloads_section(gf_sbuf *b, const gf_sim_report *r)
{
    gf_sim_policy tp = gf_sim_workload_policy(r);
    if (tp == GF_SIM_NPOLICIES || !r->svc) return;
    uint32_t *order;
    gf_sim_workloads_by_saving(r, &order);
    uint32_t shown = r->services < WORKLOAD_ROWS ? r->services : WORKLOAD_ROWS;
    gf_sbuf_printf(b,
                   "<section id=\"workloads\"><h2>Per workload: %s</h2>\n<p class=\"note\">"
                   "Each GPU service's allocation per pod and device, as declared and at the "
                   "end of the run under %s; its peak use (one pod, one device: memory or SM "
                   "share, whichever is larger); headroom = final allocation - peak; risk: "
                   "high with OOM kills or a final allocation below the peak memory, medium with "
                   "throttled minutes or under 0.05 of a GPU of headroom; GPU-hours reserved "
                   "under static and %s, and the saving. ",
                   pname(tp), pname(tp), pname(tp));
    if (shown < r->services)
        gf_sbuf_printf(b,
                       "The %u of %u workloads that save most; all in <code>gpufrac simulate "
                       "-o json</code>.",
                       shown, r->services);
    else
        gf_sbuf_printf(b, "All %u workloads, by saving.", r->services);
    gf_sbuf_puts(b, "</p>\n<table id=\"workload-table\">\n<tr><th>workload</th><th>pods x "
                    "devices</th><th>declared</th><th>final</th><th>peak use</th><th>headroom"
                    "</th><th>risk</th><th>OOM kills</th><th>throttled pod-min</th><th>pending "
                    "pod-min</th><th>resizes</th><th>GPU-h static</th><th>GPU-h ");
    gf_sbuf_puts(b, pname(tp));
    gf_sbuf_puts(b, "</th><th>saved GPU-h</th></tr>\n");
    for (uint32_t k = 0; k < shown; k++) {
        gf_sim_workload_row w;
        gf_sim_workload_row_get(r, order[k], &w);
        const gf_sim_svc_info *in = w.info;
        const gf_sim_svc_result *x = w.final;
        gf_sbuf_puts(b, "<tr class=\"workload\" data-name=\"");
        esc(b, in->name);
        gf_sbuf_printf(b, "\" data-risk=\"%s\" data-saved=\"%.4f\"><td>", gf_sim_risk_name(w.risk),
                       w.saved_gpu_hours);
        esc(b, in->name);
        gf_sbuf_printf(b, "</td><td>%u x %u</td><td>", in->pods, in->devices);
        alloc_text(b, in->unit, in->fraction, in->memory_mib, in->whole);
        gf_sbuf_puts(b, "</td><td>");
        alloc_text(b, x->unit, x->fraction, x->memory_mib, x->whole);
        gf_sbuf_printf(b,
                       "</td><td>%.2f</td><td>%+.2f</td><td class=\"risk-%s\">%s</td><td>%llu</td>"
                       "<td>%.0f</td><td>%.0f</td><td>%u</td>",
                       in->peak_need, w.headroom, gf_sim_risk_name(w.risk),
                       gf_sim_risk_name(w.risk), (unsigned long long)x->ooms, x->throttled_min,
                       x->pending_min, x->resizes);
        if (w.has_static)
            gf_sbuf_printf(b, "<td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n", w.static_gpu_hours,
                           x->gpu_hours_reserved, w.saved_gpu_hours);
        else
            gf_sbuf_printf(b, "<td>-</td><td>%.1f</td><td>-</td></tr>\n", x->gpu_hours_reserved);
    }
    gf_sbuf_puts(b, "</table></section>\n");
    free(order);
}

/* --- page ---------------------------------------------------------------------------------- */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;"
    "color:#222;max-width:1160px}"
    "h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .4em}"
    "p.note{color:#555;font-size:.9em;margin:.3em 0}"
    "table{border-collapse:collapse;font-size:.88em}"
    "th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    "th{background:#f4f4f4}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:.92em}"
    "dt{color:#555}dd{margin:0}"
    ".chart{display:block;max-width:100%;height:auto}"
    ".grid{stroke:#e6e6e6;stroke-width:1}"
    ".tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}"
    ".hlabel{font-size:8px;fill:#555}"
    ".legend{font-size:.85em;margin:4px 0 10px 60px}"
    ".legend span{margin-right:16px;white-space:nowrap}"
    ".legend i{display:inline-block;width:12px;height:12px;margin-right:5px;"
    "vertical-align:-1px;border:1px solid #bbb}"
    ".small{display:grid;grid-template-columns:1fr 1fr;gap:8px 20px}"
    ".small h3{font-size:.95em;margin:.6em 0 0;font-weight:600}"
    ".swatch{display:inline-block;width:10px;height:10px;margin-right:6px}"
    ".hkey{font-size:.8em;margin:4px 0 4px 60px}.hkey td,.hkey th{padding:1px 6px}"
    ".hkey i{display:inline-block;width:22px;height:12px;border:1px solid #bbb}"
    ".risk-high{color:#b00;font-weight:600}.risk-medium{color:#a60}"
    "#workload-table td:first-child{white-space:nowrap}";

static void summary(gf_sbuf *b, const gf_sim_report *r, const gf_report_meta *m)
{
    gf_sbuf_puts(b, "<section id=\"summary\"><dl>\n");
    if (m && m->cluster) {
        gf_sbuf_puts(b, "<dt>cluster</dt><dd>");
        esc(b, m->cluster);
        gf_sbuf_printf(b, ": %u GPU nodes, %u GPUs; %u spare nodes for scale-up</dd>\n",
                       r->gpu_nodes, r->gpus, r->spare_nodes);
    }
    gf_sbuf_printf(b,
                   "<dt>services</dt><dd>%u GPU services (workloads holding a KAI share), %u "
                   "pods</dd>\n",
                   r->services, r->service_pods);
    gf_sbuf_puts(b, "<dt>demand</dt><dd>");
    esc(b, m && m->demand ? m->demand : gf_demand_kind_name(r->demand_kind));
    if (m) gf_sbuf_printf(b, ", seed %llu", (unsigned long long)m->seed);
    gf_sbuf_puts(b, "</dd>\n");
    gf_sbuf_printf(b,
                   "<dt>demand mix</dt><dd>%.0f%% of containers use their full GPU (as sized: "
                   "95th-percentile use at least 90%% of the allocation); median use %.2f of the "
                   "allocation, %.0f%% under half; %.0f%% exceed their allocation at some "
                   "point</dd>\n",
                   100 * r->mix.full_share, r->mix.median_use, 100 * r->mix.under_half,
                   100 * r->mix.over_share);
    gf_sbuf_printf(b, "<dt>time</dt><dd>%.4g days in steps of %.0f s (%u steps)</dd>\n",
                   r->duration_s / 86400, r->step_s, r->n_steps);
    gf_sbuf_puts(b, "<dt>gpufrac policy</dt><dd>");
    esc(b, m && m->policy ? m->policy : "built-in defaults");
    gf_sbuf_puts(b, " (recommend mode simulated as auto)</dd>\n</dl></section>\n");
}

static void savings(gf_sbuf *b, const gf_sim_report *r)
{
    const gf_sim_result *base = r->policy[GF_SIM_STATIC].ran ? &r->policy[GF_SIM_STATIC] : NULL;
    gf_sbuf_puts(b,
                 "<section id=\"savings\"><h2>Savings vs harm</h2>\n<table>\n<tr><th>policy</th>"
                 "<th>GPU-hours reserved</th><th>vs static</th><th>GPUs peak / mean</th>"
                 "<th>nodes peak / mean</th><th>GPU-hours in service</th><th>saved vs static</th>"
                 "<th>OOM kills</th><th>throttled pod-min</th><th>slowed by neighbours pod-min"
                 "</th><th>pending pod-min</th><th>KV cache short pod-min / spells</th>"
                 "<th>restarts resize / move</th>"
                 "<th>resizes / workload / day</th></tr>\n");
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        if (!x->ran) continue;
        char vs[32] = "", saved[32] = "";
        if (base && base->gpu_hours_reserved > 0)
            snprintf(vs, sizeof vs, "%+.1f%%",
                     100 * (x->gpu_hours_reserved / base->gpu_hours_reserved - 1));
        if (base)
            snprintf(saved, sizeof saved, "%.0f",
                     base->gpu_hours_provisioned - x->gpu_hours_provisioned);
        gf_sbuf_printf(b,
                       "<tr class=\"policy\" data-policy=\"%s\"><td><span class=\"swatch\" "
                       "style=\"background:%s\"></span>%s</td><td>%.1f</td><td>%s</td>"
                       "<td>%.0f / %.1f</td><td>%.0f / %.1f</td><td>%.0f</td><td>%s</td>"
                       "<td>%llu</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.0f / %llu</td>"
                       "<td>%llu / %llu</td>",
                       pname(p), policy_color[p], pname(p), x->gpu_hours_reserved, vs, x->gpus_peak,
                       x->gpus_mean, x->nodes_peak, x->nodes_mean, x->gpu_hours_provisioned, saved,
                       (unsigned long long)x->ooms, x->throttled_min, x->neighbour_min,
                       x->pending_min, x->kv_starved_min, (unsigned long long)x->preemptions,
                       (unsigned long long)x->restarts_resize,
                       (unsigned long long)x->restarts_move);
        if (p == GF_SIM_VPA || p == GF_SIM_GPUFRAC)
            gf_sbuf_printf(b, "<td>%.2f</td></tr>\n", x->resizes_per_workload_day);
        else
            gf_sbuf_puts(b, "<td>-</td></tr>\n");
    }
    gf_sbuf_puts(
        b,
        "</table>\n<p class=\"note\">GPU-hours reserved: the services' allocations held by "
        "placed pods. GPUs and nodes: GPU nodes in service after consolidation (the oracle's are "
        "a fluid lower bound). Throttled: SM demand above the pod's fraction on a contended GPU; "
        "slowed by neighbours: within its fraction, yet slowed (fair-use protection addresses "
        "these). Pending: not placed, or waiting for a node to boot. KV cache short: a "
        "preallocating "
        "engine (vLLM-like) whose need passed its memory cap: requests wait and running ones are "
        "preempted (spells: how often that began).</p></section>\n");
}

/* gpufrac's resizes whose new pods could not be placed in time (the
 * controller's stalled rollouts), when there were any. */
static void stalls(gf_sbuf *b, const gf_sim_report *r)
{
    const gf_sim_result *g = &r->policy[GF_SIM_GPUFRAC];
    if (!g->ran || !g->stalls) return;
    gf_sbuf_printf(b,
                   "<section id=\"stalls\"><h2>Resizes that stalled: %u</h2>\n<table>\n"
                   "<tr><th>workload</th><th>resize (of a GPU)</th><th>stalled after</th>"
                   "<th>then</th></tr>\n",
                   g->stalls);
    for (uint32_t k = 0; k < g->stalls && k < GF_SIM_MAX_STALLS; k++) {
        const gf_sim_stall *st = &g->stall_list[k];
        char when[32];
        gf_format_duration((int64_t)(st->t - r->start_t), when, sizeof when);
        gf_sbuf_puts(b, "<tr><td>");
        esc(b, st->workload);
        gf_sbuf_printf(b, "</td><td>%.2f &rarr; %.2f</td><td>%s</td><td>%s</td></tr>\n", st->from,
                       st->to, when,
                       st->reverted ? "reverted (onStall revert)" : "held (onStall hold)");
    }
    gf_sbuf_puts(b, "</table>\n<p class=\"note\">The new pods of a gpufrac resize were not all "
                    "placed within the rule's stallTimeout (the controller's stall rule, cause "
                    "pending_timeout); the workload is resized no more.</p></section>\n");
}

/* gpufrac's upsizes KAI's queue quota stopped (decide/quota.h). */
static void quota(gf_sbuf *b, const gf_sim_report *r)
{
    const gf_sim_result *g = &r->policy[GF_SIM_GPUFRAC];
    if (!g->ran || !g->quota_blocked) return;
    gf_sbuf_printf(b,
                   "<section id=\"quota\"><h2>Upsizes blocked by KAI queue quota</h2>\n"
                   "<p>%llu upsize%s of non-preemptible services not applied: their queue (or a "
                   "parent) could not fund the new pods, the rollout's surge included, and KAI "
                   "would have left them Pending.</p>\n<table>\n<tr><th>service</th><th>from"
                   "</th><th>to</th><th>queue</th><th>quota GPUs</th><th>allocated GPUs</th>"
                   "<th>+ GPUs</th><th>first at hour</th></tr>\n",
                   (unsigned long long)g->quota_blocked, g->quota_blocked == 1 ? "" : "s");
    for (uint32_t i = 0; i < g->n_blocked; i++) {
        const gf_sim_blocked *x = &g->blocked[i];
        gf_sbuf_puts(b, "<tr><td>");
        esc(b, x->name);
        gf_sbuf_printf(b, "</td><td>%.2f</td><td>%.2f</td><td>", x->from_fraction, x->to_fraction);
        esc(b, x->queue);
        gf_sbuf_printf(b, "</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.1f</td></tr>\n",
                       x->quota_gpus, x->allocated_gpus, x->delta_gpus,
                       (x->t - r->start_t) / 3600.0);
    }
    gf_sbuf_puts(b, "</table></section>\n");
}

static double series_min(const float *v, uint32_t n)
{
    double m = INFINITY;
    for (uint32_t i = 0; i < n; i++)
        m = fmin(m, v[i]);
    return m;
}

static double series_max(const float *v, uint32_t n)
{
    double m = 0;
    for (uint32_t i = 0; i < n; i++)
        m = fmax(m, v[i]);
    return m;
}

/* Both charts' y axes are fitted to the lines drawn (not from zero), and
 * one-gpu-per-container's allocation, when it lies wholly above the others by
 * more than a quarter, is named in the note instead of drawn: it would press
 * the policies that share GPUs into one band. */
static void fleet(gf_sbuf *b, const gf_sim_report *r)
{
    double days = r->duration_s / 86400;
    uint32_t np = r->n_points;
    line ls[GF_SIM_NPOLICIES + 1];
    int n = 0;
    double others_max = series_max(r->use, np);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran && p != GF_SIM_ORACLE && p != GF_SIM_ONE_GPU)
            others_max = fmax(others_max, series_max(r->policy[p].alloc, np));
    const gf_sim_result *one = &r->policy[GF_SIM_ONE_GPU];
    bool one_apart = one->ran && series_min(one->alloc, np) > 1.25 * others_max;
    /* the oracle allocates the demand: one line for both, drawn last */
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran && p != GF_SIM_ORACLE && !(p == GF_SIM_ONE_GPU && one_apart))
            ls[n++] = (line){pname(p), policy_color[p], r->policy[p].alloc, false};
    ls[n++] = (line){"demand (= oracle)", DEMAND_COLOR, r->use, true};
    gf_sbuf_puts(b, "<section id=\"fleet\"><h2>Fleet: allocation vs use</h2>\n"
                    "<p class=\"note\">GPUs allocated to the services per policy, and what "
                    "they use (max of memory and SM share per device). The axis is fitted to "
                    "the lines, not drawn from zero.");
    gf_sbuf_printf(b,
                   " The %u steps are drawn as %u points of %.4g minutes each (means; harm "
                   "below: sums): a long run is downsampled to a fixed number of points.",
                   r->n_steps, np, r->steps_per_point * r->step_s / 60);
    if (one_apart) {
        double mean = 0;
        for (uint32_t i = 0; i < np; i++)
            mean += one->alloc[i];
        gf_sbuf_printf(b,
                       " <span id=\"fleet-off-scale\">one-gpu-per-container (%.0f GPUs "
                       "allocated on average) is above this scale and not drawn.</span>",
                       np ? mean / np : 0);
    }
    gf_sbuf_puts(b, "</p>\n");
    line_chart_fit(b, "fleet-alloc", "GPUs allocated", ls, n, np, days, CHART_W, CHART_H, true);
    n = 0;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran) ls[n++] = (line){pname(p), policy_color[p], r->policy[p].gpus, false};
    gf_sbuf_puts(b, "<p class=\"note\">GPUs of the GPU nodes in service (consolidation releases "
                    "nodes hourly; pending pods bring nodes in); the axis is fitted to the "
                    "lines.</p>\n");
    line_chart_fit(b, "fleet-gpus", "GPUs in service", ls, n, np, days, CHART_W, CHART_H, true);
    gf_sbuf_puts(b, "</section>\n");
}

static void top(gf_sbuf *b, const gf_sim_report *r)
{
    double days = r->duration_s / 86400;
    gf_sbuf_puts(b, "<section id=\"top\"><h2>Largest services: allocation vs use</h2>\n"
                    "<div class=\"small\">\n");
    for (uint32_t k = 0; k < r->n_top; k++) {
        line ls[GF_SIM_NPOLICIES + 1];
        int n = 0;
        for (int p = 0; p < GF_SIM_NPOLICIES; p++)
            if (r->policy[p].ran && p != GF_SIM_ONE_GPU && p != GF_SIM_ORACLE)
                ls[n++] = (line){pname(p), policy_color[p],
                                 r->policy[p].top_alloc + (size_t)k * r->n_points, false};
        ls[n++] = (line){"demand", DEMAND_COLOR, r->top_use + (size_t)k * r->n_points, true};
        gf_sbuf_puts(b, "<div><h3>");
        esc(b, r->top_name[k]);
        gf_sbuf_puts(b, "</h3>\n");
        char id[32];
        snprintf(id, sizeof id, "top-%u", k);
        line_chart(b, id, "GPUs", ls, n, r->n_points, days, SMALL_W, SMALL_H);
        gf_sbuf_puts(b, "</div>\n");
    }
    gf_sbuf_puts(b, "</div></section>\n");
}

void gf_report_html(gf_sbuf *out, const gf_sim_report *r, const gf_report_meta *meta)
{
    gf_sbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>gpufrac simulation report</title>\n<style>");
    gf_sbuf_puts(out, css);
    gf_sbuf_puts(out, "</style>\n</head>\n<body>\n<h1>gpufrac simulation report</h1>\n");
    gf_sbuf_puts(out, "<p class=\"note\">");
    esc(out, meta && meta->version ? meta->version : "gpufrac");
    gf_sbuf_puts(out, ": the same cluster and demand replayed under each policy.</p>\n");
    summary(out, r, meta);
    savings(out, r);
    stalls(out, r);
    quota(out, r);
    if (r->n_points) fleet(out, r);
    if (r->n_points) harm_section(out, r);
    workloads_section(out, r);
    if (r->n_top && r->n_points) top(out, r);
    heatmap_section(out, r);
    gf_sbuf_puts(out, "</body>\n</html>\n");
}

gf_err gf_report_html_write(const char *path, const gf_sim_report *r, const gf_report_meta *meta,
                            gf_error *err)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_report_html(&b, r, meta);
    FILE *f = fopen(path, "wb");
    if (!f) {
        gf_sbuf_free(&b);
        return gf_error_set(err, GF_EIO, path, "cannot create: %s", strerror(errno));
    }
    size_t wrote = fwrite(gf_sbuf_str(&b), 1, b.len, f);
    int bad = wrote != b.len || ferror(f);
    int saved = errno;
    if (fclose(f) != 0) bad = 1;
    gf_sbuf_free(&b);
    if (bad) return gf_error_set(err, GF_EIO, path, "write failed: %s", strerror(saved));
    return GF_OK;
}
