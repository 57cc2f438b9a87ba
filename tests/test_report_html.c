/* test_report_html.c - the simulation report's charts and per-workload
 * table (io/report_html.c) and the accounting behind them (sim/
 * sim_account.c): the page is parsed back and compared with the report and,
 * for a hand-made cluster, with values worked out by hand:
 *   - the use-versus-allocation heat map: one cell per GPU and column with
 *     the GPU's allocated and used share;
 *   - harm over time: each series sums to its policy's total;
 *   - the per-workload table: one row per workload, its figures summing to
 *     the policy's totals;
 *   - the fleet charts' fitted axes;
 *   - the page's size bound on a long run of a large cluster. */
#include "testutil.h"
#include "sim/gen.h"
#include "sim/sim.h"
#include "io/report_html.h"
#include "kjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600.0
#define P(x) (1u << (x))
#define REPORT_LIMIT (8u << 20) /* report_html.h: the page's bound */

/* --- reading the page back --------------------------------------------------------------- */

/* The element that opens with `open` (e.g. "<svg id=\"harm-static\""), up
 * to its closing tag `close`: [*b, *e). */
static bool element(const char *h, const char *open, const char *close, const char **b,
                    const char **e)
{
    *e = NULL;
    *b = strstr(h, open);
    if (!*b) return false;
    *e = strstr(*b, close);
    return *e != NULL;
}

/* The number in attribute name="..." of the tag starting at p (before
 * the tag's end). */
static bool attr_num(const char *p, const char *name, double *v)
{
    const char *end = strchr(p, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(p, key);
    if (!a || (end && a > end)) return false;
    *v = strtod(a + strlen(key), NULL);
    return true;
}

/* Sum of the space-separated numbers in data-values of the tag at p. */
static double values_sum(const char *p, uint32_t *count)
{
    const char *a = strstr(p, " data-values=\"");
    assert_non_null(a);
    a += strlen(" data-values=\"");
    double sum = 0;
    *count = 0;
    while (*a && *a != '"') {
        char *next;
        double v = strtod(a, &next);
        assert_true(next != a);
        sum += v;
        (*count)++;
        a = next;
        while (*a == ' ')
            a++;
    }
    return sum;
}

static size_t count_in(const char *b, const char *e, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(b, what); p && p < e; p = strstr(p + 1, what))
        n++;
    return n;
}

static char *render(const gf_sim_report *rep)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_report_meta meta = {"test cluster", "builtin", NULL, 1, "gpufrac test"};
    gf_report_html(&b, rep, &meta);
    char *s = test_malloc(b.len + 1);
    memcpy(s, gf_sbuf_str(&b), b.len + 1);
    gf_sbuf_free(&b);
    return s;
}

/* --- running the simulator ------------------------------------------------------------------ */

static void gen(gf_model *m, uint32_t nodes, uint64_t seed)
{
    gf_gen_opts go;
    gf_gen_opts_default(&go);
    go.nodes = nodes;
    go.seed = seed;
    gf_model_init(m);
    gf_error err;
    if (gf_gen_cluster(m, &go, NULL, &err)) fail_msg("gen: %s", err.msg);
}

static void run_builtin(const gf_model *m, const gf_sim_opts *o, uint64_t seed, gf_sim_report *rep)
{
    gf_sim *s;
    gf_error err;
    if (gf_sim_new(m, o, &s, &err)) fail_msg("sim: %s: %s", err.where, err.msg);
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, seed, &dopt);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(s, &sv);
    assert_int_equal(gf_demand_builtin(&d, &dopt, gf_sim_scales(s), n, &err), GF_OK);
    if (gf_sim_run(s, &d, rep, &err)) fail_msg("run: %s: %s", err.where, err.msg);
    gf_demand_free(&d);
    gf_sim_free(s);
}

/* --- the heat map on a cluster worked out by hand ---------------------------------------- */

/* One L4 node with two GPUs: a (0.5) and b (0.25) share GPU 0, GPU 1 idle.
 * Per hour c (a column): a uses memory 0.10 + 0.05 c and SM 0.05, b memory
 * 0.10 and SM 0.20 (its use: the SM it is served, uncontended). So GPU 0 is
 * 75% allocated and 30, 35, 40, 45% used; GPU 1 0% and 0%. */
static void test_heatmap_cells(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags dg;
    gf_diags_init(&dg);
    gf_error err;
    const char *json = KJ_LIST(KJ_NODE("n1", "NVIDIA-L4", "20000", "2", "16", "", "") "," KJ_SHARED(
        "a", "n1", "g1", "0.5", "") "," KJ_SHARED("b", "n1", "g1", "0.25", ""));
    if (gf_test_load_text(&m, &dg, &err, json)) fail_msg("load: %s: %s", err.where, err.msg);
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.duration_s = 4 * HOUR;
    o.policies = P(GF_SIM_STATIC);
    o.heat_policy = GF_SIM_STATIC;
    o.heat_columns = 4;
    o.check = true;
    gf_sim *s;
    if (gf_sim_new(&m, &o, &s, &err)) fail_msg("sim: %s: %s", err.where, err.msg);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(s, &sv);
    assert_int_equal(n, 2);
    uint32_t svc_a = strcmp(sv[0].name, "a") ? 1 : 0;
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, 0, &dopt);
    gf_demand d;
    gf_demand_init(&d);
    assert_int_equal(gf_demand_table_begin(&d, &dopt, n, dopt.n_steps, &err), GF_OK);
    for (uint32_t k = 0; k < dopt.n_steps; k++) {
        gf_demand_table_add(&d, svc_a, k, 0.10 + 0.05 * (k / 60), 0.05);
        gf_demand_table_add(&d, 1 - svc_a, k, 0.10, 0.20);
    }
    gf_demand_table_end(&d, NULL);
    gf_sim_report rep;
    if (gf_sim_run(s, &d, &rep, &err)) fail_msg("run: %s: %s", err.where, err.msg);
    assert_int_equal(rep.heat_cols, 4);
    assert_int_equal(rep.heat_rows, 2);
    assert_int_equal(rep.heat_gpus, 2);
    char *h = render(&rep);
    const char *b, *e;
    assert_true(element(h, "<svg id=\"heatmap-svg\"", "</svg>", &b, &e));
    /* one cell per GPU and column, in rows */
    assert_int_equal(count_in(b, e, "<g class=\"hrow\""), 2);
    assert_int_equal(count_in(b, e, "<rect "), 2 * 4);
    const char *row0 = strstr(b, "<g class=\"hrow\" data-gpu=\"n1/0\"");
    const char *row1 = strstr(b, "<g class=\"hrow\" data-gpu=\"n1/1\"");
    assert_non_null(row0);
    assert_non_null(row1);
    const char *rowp[2] = {row0, row1};
    for (int g = 0; g < 2; g++) {
        const char *c = rowp[g];
        for (int col = 0; col < 4; col++) {
            c = strstr(c + 1, "<rect ");
            assert_non_null(c);
            double a, u;
            assert_true(attr_num(c, "data-a", &a));
            assert_true(attr_num(c, "data-u", &u));
            double want_a = g == 0 ? 75 : 0, want_u = g == 0 ? 30 + 5 * col : 0;
            if (fabs(a - want_a) > 0.5 || fabs(u - want_u) > 0.5)
                fail_msg("GPU n1/%d column %d: allocated %g%% used %g%%, want %g%% and %g%%", g,
                         col, a, u, want_a, want_u);
        }
    }
    /* the GPU's colour says "partly used, 51-75% allocated" (30-45 of 75) */
    assert_non_null(strstr(row0, "fill=\"#c9a227\""));
    assert_non_null(strstr(h, "All 2 GPUs in service."));
    test_free(h);
    gf_sim_report_free(&rep);
    gf_demand_free(&d);
    gf_sim_free(s);
    gf_diags_free(&dg);
    gf_model_free(&m);
}

/* --- harm over time, the per-workload table and the fleet charts ------------------------ */

/* A day and a half of a 20-node cluster with every policy, the first 4
 * hours a cold start (not counted): OOMs, throttling, pending pods,
 * resizes and moves all happen, under gpufrac too (seed 2: since resizes
 * roll out with a surge, seed 3's run has no pending pod left to draw). */
static gf_sim_report big_rep;
static char *big_html;

static int big_setup(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 20, 2);
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.duration_s = 36 * HOUR;
    o.step_s = 120;
    o.cold_start_s = 4 * HOUR;
    run_builtin(&m, &o, 2, &big_rep);
    gf_model_free(&m);
    big_html = render(&big_rep);
    return 0;
}

static int big_teardown(void **state)
{
    (void)state;
    test_free(big_html);
    gf_sim_report_free(&big_rep);
    return 0;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-3 + 1e-5 * fabs(want);
}

static double marks_sum(const char *b, const char *e, const char *kind)
{
    char open[64];
    snprintf(open, sizeof open, "<g class=\"marks\" data-kind=\"%s\"", kind);
    const char *g = strstr(b, open);
    assert_true(g && g < e);
    const char *ge = strstr(g, "</g>");
    double sum = 0;
    for (const char *r = strstr(g, "<rect "); r && r < ge; r = strstr(r + 1, "<rect ")) {
        double v;
        assert_true(attr_num(r, "data-n", &v));
        sum += v;
    }
    return sum;
}

/* Each policy's harm over time sums to its totals (counted after the cold
 * start, as the totals are); one chart per policy but the oracle. */
static void test_harm_over_time(void **state)
{
    (void)state;
    const gf_sim_report *r = &big_rep;
    bool pending = false, throttled = false, ooms = false, resizes = false, moves = false;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        assert_true(x->ran);
        const char *name = gf_sim_policy_name((gf_sim_policy)p);
        char open[64];
        snprintf(open, sizeof open, "<svg id=\"harm-%s\"", name);
        const char *b, *e;
        if (p == GF_SIM_ORACLE) {
            assert_null(strstr(big_html, open));
            continue;
        }
        if (!element(big_html, open, "</svg>", &b, &e)) fail_msg("no %s", open);
        uint32_t n;
        const char *pl = strstr(b, "data-kind=\"pending\"");
        assert_true(pl && pl < e);
        double sum = values_sum(pl, &n);
        assert_int_equal(n, r->n_points);
        if (!near(sum, x->pending_min))
            fail_msg("%s: pending over time sums to %g, the total is %g", name, sum,
                     x->pending_min);
        pl = strstr(b, "data-kind=\"throttled\"");
        assert_true(pl && pl < e);
        sum = values_sum(pl, &n);
        if (!near(sum, x->throttled_min))
            fail_msg("%s: throttled over time sums to %g, the total is %g", name, sum,
                     x->throttled_min);
        double m = marks_sum(b, e, "oom");
        if (m != (double)x->ooms)
            fail_msg("%s: %g OOM marks, %llu OOM kills", name, m, (unsigned long long)x->ooms);
        m = marks_sum(b, e, "resize");
        if (m != (double)x->resizes)
            fail_msg("%s: %g resize marks, %llu resizes", name, m, (unsigned long long)x->resizes);
        m = marks_sum(b, e, "move");
        if (m != (double)x->moves)
            fail_msg("%s: %g move marks, %llu moves", name, m, (unsigned long long)x->moves);
        pending |= x->pending_min > 0;
        throttled |= x->throttled_min > 0;
        ooms |= x->ooms > 0;
        resizes |= x->resizes > 0;
        moves |= x->moves > 0;
    }
    /* the run had every kind of harm to draw */
    assert_true(pending && throttled && ooms && resizes && moves);
    /* nothing before the cold start's end: the first 4 h of points are empty */
    const gf_sim_result *g = &r->policy[GF_SIM_GPUFRAC];
    uint32_t held = (uint32_t)(4 * HOUR / r->step_s / r->steps_per_point);
    for (uint32_t i = 0; i < held; i++)
        assert_true(g->harm_pending[i] == 0 && g->harm_moves[i] == 0 && g->harm_ooms[i] == 0);
}

/* One table row per workload; the rows' figures are the policy's totals
 * split by workload. */
static void test_workload_table(void **state)
{
    (void)state;
    const gf_sim_report *r = &big_rep;
    const char *b, *e;
    assert_true(element(big_html, "<table id=\"workload-table\"", "</table>", &b, &e));
    assert_true(r->services > 5 && r->services < 500);
    assert_int_equal(count_in(b, e, "<tr class=\"workload\""), r->services);
    assert_int_equal(gf_sim_workload_policy(r), GF_SIM_GPUFRAC);
    const gf_sim_result *g = &r->policy[GF_SIM_GPUFRAC], *st = &r->policy[GF_SIM_STATIC];
    double reserved = 0, throttled = 0, pending = 0, prev_saved = INFINITY;
    uint64_t ooms = 0, resizes = 0;
    const char *row = b;
    for (uint32_t k = 0; k < r->services; k++) {
        row = strstr(row + 1, "<tr class=\"workload\"");
        double saved;
        assert_true(attr_num(row, "data-saved", &saved));
        assert_true(saved <= prev_saved + 1e-9); /* by saving */
        prev_saved = saved;
    }
    for (uint32_t si = 0; si < r->services; si++) {
        const gf_sim_svc_result *x = &g->svc[si];
        reserved += x->gpu_hours_reserved;
        throttled += x->throttled_min;
        pending += x->pending_min;
        ooms += x->ooms;
        resizes += x->resizes;
        /* each workload once, with its saving */
        char key[700];
        snprintf(key, sizeof key, "<tr class=\"workload\" data-name=\"%s\"", r->svc[si].name);
        const char *w = strstr(b, key);
        if (!w || w > e) fail_msg("no row for %s", r->svc[si].name);
        assert_null(strstr(w + 1, key));
        double saved;
        assert_true(attr_num(w, "data-saved", &saved));
        assert_true(fabs(saved - (st->svc[si].gpu_hours_reserved - x->gpu_hours_reserved)) < 1e-3);
        assert_true(r->svc[si].peak_need > 0);
    }
    if (!near(reserved, g->gpu_hours_reserved))
        fail_msg("workloads reserved %g GPU-h, gpufrac %g", reserved, g->gpu_hours_reserved);
    assert_true(near(throttled, g->throttled_min));
    assert_int_equal(ooms, g->ooms);
    assert_int_equal(resizes, g->resizes);
    assert_true(pending <= g->pending_min + 1e-9); /* other GPU pods can pend too */
    assert_true(ooms > 0 && resizes > 0);
    /* static's rows add up the same way */
    double st_res = 0;
    for (uint32_t si = 0; si < r->services; si++)
        st_res += st->svc[si].gpu_hours_reserved;
    assert_true(near(st_res, st->gpu_hours_reserved));
    /* a workload that was OOM-killed is at high risk */
    for (uint32_t si = 0; si < r->services; si++) {
        gf_sim_workload_row w;
        gf_sim_workload_row_get(r, si, &w);
        if (w.final->ooms) assert_int_equal(w.risk, GF_SIM_RISK_HIGH);
        /* SM above the allocation is throttled, not killed: not high on its own */
        bool below_mem = w.final_share < r->svc[si].peak_memory - 1e-9;
        assert_true((w.risk == GF_SIM_RISK_HIGH) == (w.final->ooms > 0 || below_mem));
        assert_true(r->svc[si].peak_memory <= r->svc[si].peak_need);
    }
}

static void series_range(const float *v, uint32_t n, double *lo, double *hi)
{
    for (uint32_t i = 0; i < n; i++) {
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
}

/* The fleet charts' axes hold every line drawn and are fitted to them (a
 * range under 1.5 times theirs, not from zero), one-gpu-per-container left
 * out of the allocation chart when it lies far above. */
static void test_fleet_scale(void **state)
{
    (void)state;
    const gf_sim_report *r = &big_rep;
    uint32_t n = r->n_points;
    const char *b, *e;
    assert_true(element(big_html, "<svg id=\"fleet-alloc\"", "</svg>", &b, &e));
    double lo = INFINITY, hi = 0;
    series_range(r->use, n, &lo, &hi);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (p != GF_SIM_ORACLE && p != GF_SIM_ONE_GPU)
            series_range(r->policy[p].alloc, n, &lo, &hi);
    double one_lo = INFINITY, one_hi = 0;
    series_range(r->policy[GF_SIM_ONE_GPU].alloc, n, &one_lo, &one_hi);
    assert_true(one_lo > 1.25 * hi); /* the scenario: one GPU per container is far above */
    assert_non_null(strstr(big_html, "id=\"fleet-off-scale\""));
    assert_int_equal(count_in(b, e, "data-name=\"one-gpu-per-container\""), 0);
    double y0, y1;
    assert_true(attr_num(b, "data-ymin", &y0) && attr_num(b, "data-ymax", &y1));
    if (!(y0 <= lo && y1 >= hi && y1 - y0 < 1.5 * (hi - lo)))
        fail_msg("fleet-alloc axis %g..%g for lines in %g..%g", y0, y1, lo, hi);
    assert_true(element(big_html, "<svg id=\"fleet-gpus\"", "</svg>", &b, &e));
    lo = INFINITY, hi = 0;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        series_range(r->policy[p].gpus, n, &lo, &hi);
    assert_true(attr_num(b, "data-ymin", &y0) && attr_num(b, "data-ymax", &y1));
    if (!(y0 <= lo && y1 >= hi && y1 - y0 < 1.5 * (hi - lo)))
        fail_msg("fleet-gpus axis %g..%g for lines in %g..%g", y0, y1, lo, hi);
}

/* The heat map of the generated cluster: every cell the report's. */
static void test_heatmap_matches_report(void **state)
{
    (void)state;
    const gf_sim_report *r = &big_rep;
    const char *b, *e;
    assert_true(element(big_html, "<svg id=\"heatmap-svg\"", "</svg>", &b, &e));
    assert_int_equal(count_in(b, e, "<g class=\"hrow\""), r->heat_rows);
    assert_int_equal(count_in(b, e, "<rect "), (size_t)r->heat_rows * r->heat_cols);
    const char *c = b;
    for (size_t cell = 0; cell < (size_t)r->heat_rows * r->heat_cols; cell++) {
        c = strstr(c + 1, "<rect ");
        double a, u;
        if (r->heat[cell] > 100) {
            assert_false(attr_num(c, "data-a", &a));
            continue;
        }
        assert_true(attr_num(c, "data-a", &a) && attr_num(c, "data-u", &u));
        if (a != r->heat[cell] || u != r->heat_use[cell])
            fail_msg("cell %zu: %g/%g, the report %u/%u", cell, a, u, r->heat[cell],
                     r->heat_use[cell]);
    }
}

/* The page's bound: a week of a 30-node cluster (over 160 GPUs: the most
 * heat-map rows; the most time points; every policy) stays under 8 MiB. */
static void test_report_size_bound(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 30, 3);
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.step_s = 300;
    o.duration_s = o.max_points * o.step_s; /* one step per point: the most points */
    gf_sim_report rep;
    run_builtin(&m, &o, 3, &rep);
    assert_int_equal(rep.n_points, o.max_points);
    assert_int_equal(rep.heat_rows, o.heat_rows); /* the most rows */
    assert_true(rep.heat_gpus > rep.heat_rows);
    char *h = render(&rep);
    size_t len = strlen(h);
    print_message("report of %u services, %u of %u GPUs: %zu bytes\n", rep.services, rep.heat_rows,
                  rep.heat_gpus, len);
    if (len >= REPORT_LIMIT) fail_msg("report is %zu bytes, the bound %u", len, REPORT_LIMIT);
    char want[160];
    snprintf(want, sizeof want, "A sample: the %u of the %u GPUs in service", rep.heat_rows,
             rep.heat_gpus);
    assert_non_null(strstr(h, want));
    test_free(h);
    gf_sim_report_free(&rep);
    gf_model_free(&m);
}

/* Steps in service per model GPU, under gpufrac. */
typedef struct on_steps {
    const gf_sim *sim;
    uint64_t *on;
} on_steps;

static void count_on(void *ctx, const gf_sim_step_view *v)
{
    on_steps *c = ctx;
    if (v->policy != GF_SIM_GPUFRAC) return;
    const gf_model *w = gf_sim_model(c->sim);
    for (size_t g = 0; g < w->gpus.n; g++)
        c->on[g] += v->node_in_service[w->gpus.v[g].node];
}

/* When more GPUs were in service than the heat map has rows, its rows are
 * the GPUs longest in service: none left out was in service longer than
 * one shown. */
static void test_heatmap_sample(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 40, 5);
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.duration_s = 12 * HOUR;
    o.step_s = 120;
    o.policies = P(GF_SIM_GPUFRAC);
    o.heat_rows = 30;
    on_steps c = {0};
    o.observe = count_on;
    o.observe_ctx = &c;
    gf_sim *s;
    gf_error err;
    if (gf_sim_new(&m, &o, &s, &err)) fail_msg("sim: %s: %s", err.where, err.msg);
    const gf_model *w = gf_sim_model(s);
    c.sim = s;
    c.on = test_calloc(w->gpus.n + 1, sizeof(uint64_t));
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, 5, &dopt);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(s, &sv);
    assert_int_equal(gf_demand_builtin(&d, &dopt, gf_sim_scales(s), n, &err), GF_OK);
    gf_sim_report rep;
    if (gf_sim_run(s, &d, &rep, &err)) fail_msg("run: %s: %s", err.where, err.msg);
    assert_int_equal(rep.heat_rows, 30);
    uint64_t least_shown = UINT64_MAX, most_left = 0;
    uint32_t ever = 0;
    for (size_t g = 0; g < w->gpus.n; g++) {
        char label[320];
        snprintf(label, sizeof label, "%.300s/%d", w->nodes.v[w->gpus.v[g].node].name,
                 (int)w->gpus.v[g].index);
        bool shown = false;
        for (uint32_t row = 0; row < rep.heat_rows && !shown; row++)
            shown = !strcmp(rep.heat_label[row], label);
        ever += c.on[g] > 0;
        if (shown && c.on[g] < least_shown) least_shown = c.on[g];
        if (!shown && c.on[g] > most_left) most_left = c.on[g];
    }
    assert_int_equal(ever, rep.heat_gpus);
    assert_true(rep.heat_gpus > rep.heat_rows);
    assert_true(most_left > 0); /* GPUs in service were left out */
    if (most_left > least_shown)
        fail_msg("a GPU %llu steps in service left out, one of %llu shown",
                 (unsigned long long)most_left, (unsigned long long)least_shown);
    test_free(c.on);
    gf_sim_report_free(&rep);
    gf_demand_free(&d);
    gf_sim_free(s);
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest hand[] = {
        cmocka_unit_test(test_heatmap_cells),
        cmocka_unit_test(test_report_size_bound),
        cmocka_unit_test(test_heatmap_sample),
    };
    const struct CMUnitTest big[] = {
        cmocka_unit_test(test_harm_over_time),
        cmocka_unit_test(test_workload_table),
        cmocka_unit_test(test_fleet_scale),
        cmocka_unit_test(test_heatmap_matches_report),
    };
    int rc = cmocka_run_group_tests(hand, NULL, NULL);
    return rc | cmocka_run_group_tests(big, big_setup, big_teardown);
}
