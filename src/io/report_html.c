/* report_html.c - the simulation report as one HTML page, see report_html.h.
 *
 * Charts are plain inline SVG drawn here: polylines for time series, rects
 * for the heat-map (runs of equal colour merged, so a week of a hundred
 * GPUs stays a few hundred kilobytes). */
#include "io/report_html.h"

#include <errno.h>
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

static void line_chart(gf_sbuf *b, const char *id, const char *ylabel, const line *ls, int nl,
                       uint32_t n, double days, int w, int h)
{
    double ymax = 0;
    for (int k = 0; k < nl; k++)
        for (uint32_t i = 0; i < n; i++)
            if (ls[k].v[i] > ymax) ymax = ls[k].v[i];
    if (!(ymax > 0)) ymax = 1;
    double ystep = nice_step(ymax, 5);
    ymax = ceil(ymax / ystep) * ystep;
    double pw = w - MARGIN_L - MARGIN_R, ph = h - MARGIN_T - MARGIN_B;
    gf_sbuf_printf(b,
                   "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\n",
                   id, w, h, w, h);
    for (double y = 0; y <= ymax + 1e-9; y += ystep) {
        double py = MARGIN_T + ph * (1 - y / ymax);
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
            double y = MARGIN_T + ph * (1 - ls[k].v[i] / ymax);
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

/* Occupancy 0..100 -> a sequential blue; 255 (out of service) -> grey. */
static void heat_color(uint8_t v, char *buf, size_t n)
{
    if (v > 100) {
        snprintf(buf, n, "#d9d9d9");
        return;
    }
    /* from #f7fbff (0) to #08306b (100) */
    double f = v / 100.0;
    int r = (int)(0xf7 + (0x08 - 0xf7) * f), g = (int)(0xfb + (0x30 - 0xfb) * f),
        bl = (int)(0xff + (0x6b - 0xff) * f);
    snprintf(buf, n, "#%02x%02x%02x", r, g, bl);
}

static uint8_t heat_level(uint8_t v)
{
    return v > 100 ? 255 : (uint8_t)(((v + 2) / 5) * 5); /* 5% levels */
}

static void heatmap(gf_sbuf *b, const gf_sim_report *r)
{
    uint32_t rows = r->heat_rows, cols = r->heat_cols;
    int label_w = 170, w = CHART_W;
    double cell_h = rows > 120 ? 4 : rows > 60 ? 6 : 10;
    double pw = w - label_w - MARGIN_R, cw = pw / (cols ? cols : 1);
    int h = (int)(MARGIN_T + rows * cell_h + MARGIN_B + 30);
    gf_sbuf_printf(b,
                   "<svg id=\"heatmap-svg\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\n",
                   w, h, w, h);
    uint32_t label_every = cell_h >= 10 ? 1 : cell_h >= 6 ? 2 : 4;
    for (uint32_t row = 0; row < rows; row++) {
        double y = MARGIN_T + row * cell_h;
        if (row % label_every == 0) {
            gf_sbuf_printf(b, "<text x=\"%d\" y=\"%.1f\" class=\"hlabel\" text-anchor=\"end\">",
                           label_w - 6, y + cell_h);
            esc(b, r->heat_label[row]);
            gf_sbuf_puts(b, "</text>");
        }
        for (uint32_t c = 0; c < cols;) {
            uint8_t lv = heat_level(r->heat[(size_t)row * cols + c]);
            uint32_t e = c + 1;
            while (e < cols && heat_level(r->heat[(size_t)row * cols + e]) == lv)
                e++;
            char color[16];
            heat_color(lv, color, sizeof color);
            gf_sbuf_printf(b,
                           "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                           "fill=\"%s\"/>",
                           label_w + c * cw, y, (e - c) * cw + 0.3, cell_h, color);
            c = e;
        }
        gf_sbuf_puts(b, "\n");
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
    gf_sbuf_puts(b, "</svg>\n<div class=\"legend\">");
    for (int v = 0; v <= 100; v += 25) {
        char color[16];
        heat_color((uint8_t)v, color, sizeof color);
        gf_sbuf_printf(b, "<span><i style=\"background:%s\"></i>%d%% allocated</span>", color, v);
    }
    gf_sbuf_puts(b, "<span><i style=\"background:#d9d9d9\"></i>not in service</span></div>\n");
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
    ".swatch{display:inline-block;width:10px;height:10px;margin-right:6px}";

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

static void fleet(gf_sbuf *b, const gf_sim_report *r)
{
    double days = r->duration_s / 86400;
    line ls[GF_SIM_NPOLICIES + 1];
    int n = 0;
    /* the oracle allocates the demand: one line for both, drawn last */
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran && p != GF_SIM_ORACLE)
            ls[n++] = (line){pname(p), policy_color[p], r->policy[p].alloc, false};
    ls[n++] = (line){"demand (= oracle)", DEMAND_COLOR, r->use, true};
    gf_sbuf_puts(b, "<section id=\"fleet\"><h2>Fleet: allocation vs use</h2>\n"
                    "<p class=\"note\">GPUs allocated to the services per policy, and what "
                    "they use (max of memory and SM share per device).</p>\n");
    line_chart(b, "fleet-alloc", "GPUs allocated", ls, n, r->n_points, days, CHART_W, CHART_H);
    n = 0;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran) ls[n++] = (line){pname(p), policy_color[p], r->policy[p].gpus, false};
    gf_sbuf_puts(b, "<p class=\"note\">GPUs of the GPU nodes in service (consolidation releases "
                    "nodes hourly; pending pods bring nodes in).</p>\n");
    line_chart(b, "fleet-gpus", "GPUs in service", ls, n, r->n_points, days, CHART_W, CHART_H);
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
    if (r->n_points) fleet(out, r);
    if (r->n_top && r->n_points) top(out, r);
    gf_sbuf_printf(out, "<section id=\"heatmap\"><h2>GPU sharing occupancy: %s</h2>\n",
                   pname(r->heat_policy));
    gf_sbuf_puts(out, "<p class=\"note\">Each row a GPU that was in service, each column a "
                      "stretch of time; colour: share of the GPU allocated to pods.</p>\n");
    if (r->heat_rows && r->heat_cols)
        heatmap(out, r);
    else
        gf_sbuf_puts(out, "<p>No GPU was in service.</p>\n");
    gf_sbuf_puts(out, "</section>\n</body>\n</html>\n");
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
