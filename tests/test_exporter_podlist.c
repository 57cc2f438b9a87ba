/* test_exporter_podlist.c - the exporter's pod list (exporter/podlist.c,
 * exporter/podsource.c): the kubelet's /pods and the API server's PodList
 * shapes, KAI allocations, container IDs, static pods, and errors that name
 * the JSON path. */
#include "testutil.h"
#include "exporter/podlist.h"
#include "exporter/podsource.h"

#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define U_LLM "11111111-1111-4111-8111-111111111111"
#define STATIC_HASH "0123456789abcdef0123456789abcdef"

static gf_err parse_text(gf_podlist *l, gf_diags *d, gf_error *err, const char *json)
{
    gf_podlist_init(l);
    return gf_podlist_parse(l, "pods.json", json, strlen(json), d, err);
}

static gf_err load_fixture(gf_podlist *l, gf_diags *d, gf_error *err, const char *name)
{
    gf_podsrc s;
    gf_podsrc_config cfg = {GF_PODSRC_FILE,
                            gf_test_fixture(name),
                            NULL,
                            NULL,
                            NULL,
                            false,
                            30,
                            5,
                            {NULL, NULL, NULL, NULL, NULL}};
    gf_err rc = gf_podsrc_init(&s, &cfg, err);
    if (rc) return rc;
    rc = gf_podsrc_refresh(&s, 100.0, d, err);
    gf_podlist_init(l);
    if (!rc) {
        /* take the list out of the source */
        *l = *s.list;
        free(s.list);
        s.list = NULL;
    }
    gf_podsrc_free(&s);
    return rc;
}

static void check_node_list(const gf_podlist *l)
{
    assert_int_equal(l->pods.n, 9);
    const gf_pl_pod *p = gf_podlist_pod(l, U_LLM);
    assert_non_null(p);
    assert_string_equal(p->ns, "team-a");
    assert_string_equal(p->name, "llm-chat-0");
    assert_string_equal(p->node, "gpu-node-1");
    assert_string_equal(p->phase, "Running");
    assert_int_equal(p->alloc, GF_ALLOC_FRACTION);
    assert_true(p->fraction == 0.5);
    assert_int_equal(p->devices, 1);
    assert_string_equal(p->alloc_container, "server"); /* the first container */
    assert_int_equal(p->n_groups, 1);
    assert_string_equal(p->groups[0], "grp-a");

    /* container ID -> name, without the runtime prefix */
    const gf_pl_container *c =
        gf_podlist_container(l, "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    assert_non_null(c);
    assert_string_equal(c->name, "server");
    assert_ptr_equal(&l->pods.v[c->pod], p);
    c = gf_podlist_container(l, "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3");
    assert_non_null(c); /* cri-o:// */
    assert_string_equal(c->name, "rerank");
    assert_null(gf_podlist_container(l, "nope"));

    p = gf_podlist_pod(l, "22222222-2222-4222-8222-222222222222");
    assert_int_equal(p->alloc, GF_ALLOC_MEMORY);
    assert_int_equal(p->memory_mib, 4096);

    p = gf_podlist_pod(l, "33333333-3333-4333-8333-333333333333");
    assert_int_equal(p->alloc, GF_ALLOC_FRACTION);
    assert_int_equal(p->devices, 2);
    assert_int_equal(p->n_groups, 2);     /* runai-gpu-group and runai-gpu-group/grp-b */
    assert_int_equal(p->n_containers, 2); /* the init container and rerank */
    assert_true(l->containers.v[p->first_container].init);
    assert_string_equal(p->alloc_container, "rerank"); /* not the init container */

    p = gf_podlist_pod(l, "44444444-4444-4444-8444-444444444444");
    assert_int_equal(p->alloc, GF_ALLOC_WHOLE);
    assert_int_equal(l->containers.v[p->first_container].whole_gpus, 1);

    p = gf_podlist_pod(l, "55555555-5555-4555-8555-555555555555");
    assert_string_equal(p->alloc_container, "main"); /* gpu-fraction-container-name */

    p = gf_podlist_pod(l, "77777777-7777-4777-8777-777777777777");
    assert_true(p->reservation);
    assert_int_equal(p->alloc, GF_ALLOC_NONE); /* reservation pods hold, they do not use */
    assert_string_equal(p->reserve_gpu, "GPU-aaaaaaaa-0000-4000-8000-000000000000");

    /* the static pod is found by the UID its cgroup carries */
    p = gf_podlist_pod(l, STATIC_HASH);
    assert_non_null(p);
    assert_string_equal(p->name, "gpu-probe-gpu-node-1");
}

static void test_kubelet_shape(void **state)
{
    (void)state;
    gf_podlist l;
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(load_fixture(&l, &d, &err, "exporter/pods-kubelet.json"), GF_OK);
    check_node_list(&l);
    assert_int_equal(d.msgs.n, 0);
    gf_podlist_free(&l);
    gf_diags_free(&d);
}

static void test_api_shape_and_mirror_pods(void **state)
{
    (void)state;
    gf_podlist l;
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(load_fixture(&l, &d, &err, "exporter/pods-api.json"), GF_OK);
    check_node_list(&l); /* the mirror pod is found by kubernetes.io/config.mirror */
    assert_non_null(gf_podlist_pod(&l, "abababab-abab-4bab-8bab-abababababab"));
    gf_podlist_free(&l);
    gf_diags_free(&d);
}

#define POD(extra_meta, spec)                                                                      \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"uid\":\"u1\"" extra_meta \
    "},\"spec\":" spec "}"

/* KAI's rules, as in the snapshot reader: a reservation pod is labelled
 * app=kai-resource-reservation in the reservation namespace
 * (pod_info/utility_pods.go); only kai-scheduler's pods carry KAI shares. */
static void test_kai_rules(void **state)
{
    (void)state;
    gf_podlist l;
    gf_diags d;
    gf_error err = {0};
#define RSV(ns, labels)                                                                            \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"r\",\"namespace\":\"" ns                           \
    "\",\"uid\":\"r1\",\"labels\":{"                                                               \
    "\"runai-gpu-group\":\"g\"" labels "},\"annotations\":{\"run.ai/reserve_for_gpu_index\":"      \
    "\"GPU-1234\"}},\"spec\":{}}"
    assert_int_equal(
        parse_text(&l, NULL, &err,
                   RSV("kai-resource-reservation", ",\"app\":\"kai-resource-reservation\"")),
        GF_OK);
    assert_true(l.pods.v[0].reservation);
    assert_string_equal(l.pods.v[0].reserve_gpu, "GPU-1234"); /* the UUID, opaque */
    gf_podlist_free(&l);
    assert_int_equal(parse_text(&l, NULL, &err, RSV("kai-resource-reservation", "")), GF_OK);
    assert_false(l.pods.v[0].reservation); /* the namespace alone is not enough */
    gf_podlist_free(&l);
    assert_int_equal(
        parse_text(&l, NULL, &err, RSV("elsewhere", ",\"app\":\"kai-resource-reservation\"")),
        GF_OK);
    assert_false(l.pods.v[0].reservation);
    gf_podlist_free(&l);
    /* names KAI makes configurable (--reservation-namespace, ...) */
    {
        const char *json = RSV("elsewhere", ",\"app\":\"rr\"");
        gf_podlist_init(&l);
        l.kai.reservation_ns = "elsewhere";
        l.kai.reservation_app = "rr";
        assert_int_equal(gf_podlist_parse(&l, "pods.json", json, strlen(json), NULL, &err), GF_OK);
        assert_true(l.pods.v[0].reservation);
        gf_podlist_free(&l);
    }
    /* another scheduler's pod: its gpu-fraction is not KAI's, not even checked */
    gf_diags_init(&d);
    assert_int_equal(
        parse_text(
            &l, &d, &err,
            POD(",\"annotations\":{\"gpu-fraction\":\"1.5\"}",
                "{\"schedulerName\":\"default-scheduler\",\"containers\":[{\"name\":\"c\"}]}")),
        GF_OK);
    assert_int_equal(l.pods.v[0].alloc, GF_ALLOC_NONE);
    assert_int_equal(d.msgs.n, 0);
    gf_podlist_free(&l);
    gf_diags_free(&d);
    /* the same pod under kai-scheduler: refused (0 < f < 1), a warning */
    gf_diags_init(&d);
    assert_int_equal(
        parse_text(&l, &d, &err,
                   POD(",\"annotations\":{\"gpu-fraction\":\"1\"}",
                       "{\"schedulerName\":\"kai-scheduler\",\"containers\":[{\"name\":\"c\"}]}")),
        GF_OK);
    assert_int_equal(l.pods.v[0].alloc, GF_ALLOC_NONE);
    assert_true(gf_test_diag_has(&d, "gpu-fraction \"1\": must be below 1"));
    gf_podlist_free(&l);
    gf_diags_free(&d);
#undef RSV
}

static void test_list_kinds(void **state)
{
    (void)state;
    gf_podlist l;
    gf_error err = {0};
    /* a kubectl List of mixed kinds: only pods count */
    assert_int_equal(
        parse_text(&l, NULL, &err,
                   "{\"kind\":\"List\",\"items\":[{\"kind\":\"Node\",\"metadata\":{"
                   "\"name\":\"n1\"}}," POD("", "{\"containers\":[{\"name\":\"c\"}]}") "]}"),
        GF_OK);
    assert_int_equal(l.pods.n, 1);
    gf_podlist_free(&l);
    /* a single Pod */
    assert_int_equal(parse_text(&l, NULL, &err, POD("", "{}")), GF_OK);
    assert_int_equal(l.pods.n, 1);
    assert_non_null(gf_podlist_pod(&l, "u1"));
    gf_podlist_free(&l);
    /* an empty list; a pod without status or spec */
    assert_int_equal(parse_text(&l, NULL, &err, "{\"kind\":\"PodList\",\"items\":[]}"), GF_OK);
    assert_int_equal(l.pods.n, 0);
    gf_podlist_free(&l);
    assert_int_equal(
        parse_text(&l, NULL, &err, "{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"}}]}"),
        GF_OK);
    assert_string_equal(l.pods.v[0].ns, "default");
    gf_podlist_free(&l);
}

typedef struct bad_case {
    const char *json, *where, *msg;
} bad_case;

static void test_errors_name_the_path(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{\"items\":[", "pods.json:1:", "not valid JSON"},
        {"[1,2]", "pods.json: (top level)", "expected a PodList object, got an array"},
        {"{\"kind\":\"PodList\"}", "pods.json: (top level)", "neither a list"},
        {"{\"items\":{}}", "pods.json: items", "expected an array, got an object"},
        {"{\"items\":[3]}", "pods.json: items[0]", "expected an object, got an integer"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"}},{\"metadata\":{\"name\":\"b\","
         "\"uid\":7}}]}",
         "pods.json: items[1].metadata.uid", "expected a string, got an integer"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\"}}]}", "pods.json: items[0].metadata",
         "pod default/a: no metadata.uid"},
        {"{\"items\":[{\"metadata\":{\"uid\":\"x\"}}]}", "pods.json: items[0].metadata",
         "pod without metadata.name"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\",\"annotations\":{\"gpu-"
         "fraction\":0.5}}}]}",
         "pods.json: items[0].metadata.annotations[\"gpu-fraction\"]",
         "expected a string, got a number"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"},\"spec\":{\"containers\":[{"
         "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"x1\"}}}]}}]}",
         "pods.json: items[0].spec.containers[0].resources.limits[\"nvidia.com/gpu\"]",
         "bad quantity"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"},\"status\":{"
         "\"containerStatuses\":[{\"name\":\"c\",\"containerID\":5}]}}]}",
         "pods.json: items[0].status.containerStatuses[0].containerID",
         "expected a string, got an integer"},
        {"{\"items\":[{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"},\"spec\":{\"containers\":[{}]}}"
         "]}",
         "pods.json: items[0].spec.containers[0]", "container without a name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_podlist l;
        gf_error err = {0};
        gf_err rc = parse_text(&l, NULL, &err, cases[i].json);
        if (rc != GF_EINPUT || strncmp(err.where, cases[i].where, strlen(cases[i].where)) ||
            !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d where '%s' msg '%s'", i, rc, err.where, err.msg);
        gf_podlist_free(&l);
    }
}

static void test_bad_kai_values_cost_only_the_allocation(void **state)
{
    (void)state;
    gf_podlist l;
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json =
        "{\"items\":["
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"t\",\"uid\":\"ua\",\"annotations\":{\"gpu-"
        "fraction\":\"1.5\"}}},"
        "{\"metadata\":{\"name\":\"b\",\"namespace\":\"t\",\"uid\":\"ub\",\"annotations\":{\"gpu-"
        "fraction\":\"0.5\",\"gpu-memory\":\"100\"}}},"
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"t\",\"uid\":\"uc\",\"annotations\":{\"gpu-"
        "memory\":\"lots\"}}},"
        "{\"metadata\":{\"name\":\"d\",\"namespace\":\"t\",\"uid\":\"ud\",\"annotations\":{\"gpu-"
        "fraction\":\"0.5\",\"gpu-fraction-num-devices\":\"0\"}}},"
        "{\"metadata\":{\"name\":\"e\",\"namespace\":\"t\",\"uid\":\"ue\",\"annotations\":{\"gpu-"
        "fraction\":\"0.25\"}}}]}";
    assert_int_equal(parse_text(&l, &d, &err, json), GF_OK);
    assert_int_equal(l.pods.n, 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(l.pods.v[i].alloc, GF_ALLOC_NONE);
    assert_int_equal(l.pods.v[4].alloc, GF_ALLOC_FRACTION);
    assert_int_equal(d.msgs.n, 4);
    assert_true(gf_test_diag_has(
        &d, "pods.json: items[0].metadata.annotations[\"gpu-fraction\"]: pod t/a: gpu-fraction "
            "\"1.5\": must be below 1"));
    assert_true(gf_test_diag_has(&d, "pod t/b: both gpu-fraction and gpu-memory are set"));
    assert_true(gf_test_diag_has(&d, "pod t/c: gpu-memory \"lots\" (MiB)"));
    assert_true(gf_test_diag_has(&d, "pod t/d: gpu-fraction-num-devices \"0\""));
    gf_podlist_free(&l);
    gf_diags_free(&d);
}

static void test_source_config(void **state)
{
    (void)state;
    gf_podsrc s;
    gf_error err = {0};
    gf_podsrc_config api = {GF_PODSRC_APISERVER,
                            "https://kubernetes.default.svc/",
                            "node a/1",
                            NULL,
                            NULL,
                            false,
                            30,
                            5,
                            {NULL, NULL, NULL, NULL, NULL}};
    assert_int_equal(gf_podsrc_init(&s, &api, &err), GF_OK);
    assert_string_equal(s.url, "https://kubernetes.default.svc/api/v1/pods?fieldSelector="
                               "spec.nodeName%3Dnode%20a%2F1");
    /* due at once, then every refresh_s; early refreshes no more often than retry_s */
    assert_true(gf_podsrc_due(&s, 0));
    s.last_attempt = s.last_success = 100;
    assert_false(gf_podsrc_due(&s, 110));
    assert_true(gf_podsrc_due(&s, 130));
    assert_false(gf_podsrc_may_retry(&s, 103));
    assert_true(gf_podsrc_may_retry(&s, 105));
    s.last_attempt = 200; /* a failure: retried at the retry pace */
    assert_true(gf_podsrc_due(&s, 205));
    gf_podsrc_free(&s);

    gf_podsrc_config kub = {GF_PODSRC_KUBELET,
                            "https://10.0.0.5:10250",
                            NULL,
                            NULL,
                            NULL,
                            true,
                            30,
                            5,
                            {NULL, NULL, NULL, NULL, NULL}};
    assert_int_equal(gf_podsrc_init(&s, &kub, &err), GF_OK);
    assert_string_equal(s.url, "https://10.0.0.5:10250/pods");
    gf_podsrc_free(&s);

    api.node_name = NULL;
    assert_int_equal(gf_podsrc_init(&s, &api, &err), GF_EUSAGE);
    assert_true(strstr(err.msg, "node name") != NULL);
    gf_podsrc_free(&s);
    kub.location = "ftp://x";
    assert_int_equal(gf_podsrc_init(&s, &kub, &err), GF_EUSAGE);
    gf_podsrc_free(&s);
    kub.location = "https://x/?a=b";
    assert_int_equal(gf_podsrc_init(&s, &kub, &err), GF_EUSAGE);
    gf_podsrc_free(&s);
}

static void test_source_file_errors_keep_the_list(void **state)
{
    (void)state;
    char path[] = "/tmp/gf-podlist-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(POD("", "{}"), f);
    fclose(f);
    gf_podsrc s;
    gf_error err = {0};
    gf_podsrc_config cfg = {
        GF_PODSRC_FILE, path, NULL, NULL, NULL, false, 30, 5, {NULL, NULL, NULL, NULL, NULL}};
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_OK);
    assert_int_equal(s.list->pods.n, 1);
    /* the file turns bad: the refresh fails, counted, the old list stays */
    f = fopen(path, "w");
    fputs("{\"items\": [", f);
    fclose(f);
    assert_int_equal(gf_podsrc_refresh(&s, 40, NULL, &err), GF_EINPUT);
    assert_true(strstr(err.where, path) != NULL);
    assert_int_equal(s.refreshes, 2);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.list->pods.n, 1);
    unlink(path);
    assert_int_equal(gf_podsrc_refresh(&s, 80, NULL, &err), GF_EIO);
    assert_true(strstr(err.msg, "cannot open") != NULL);
    gf_podsrc_free(&s);
}

static void test_http_errors(void **state)
{
    (void)state;
    /* nothing listens on port 1: a connection error naming the URL, no query */
    gf_podsrc_config cfg = {
        GF_PODSRC_APISERVER,           "http://127.0.0.1:1", "n1", NULL, NULL, false, 30, 5,
        {NULL, NULL, NULL, NULL, NULL}};
    gf_podsrc s;
    gf_error err = {0};
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_EIO);
    assert_string_equal(err.where, "http://127.0.0.1:1/api/v1/pods");
    assert_null(s.list);
    gf_podsrc_free(&s);
    /* a token file that does not exist */
    cfg.token_file = "/nonexistent/token";
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_EIO);
    assert_string_equal(err.where, "/nonexistent/token");
    gf_podsrc_free(&s);
}

/* --- HTTP sources against a local server ---------------------------------------- */

static char *fixture_text;

/* A stand-in API server and kubelet: checks the token and the node filter. */
static enum MHD_Result api(void *cls, struct MHD_Connection *conn, const char *url,
                           const char *method, const char *version, const char *upload,
                           size_t *upload_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *sel = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fieldSelector");
    unsigned status = 200;
    const char *body = fixture_text;
    if (!strcmp(url, "/broken/pods")) {
        status = 500, body = "etcdserver: request timed out\n";
    } else if (!auth || strcmp(auth, "Bearer secret-token")) {
        status = 401, body = "{\"kind\":\"Status\",\"reason\":\"Unauthorized\"}";
    } else if (!strcmp(url, "/api/v1/pods")) {
        if (!sel || strcmp(sel, "spec.nodeName=gpu-node-1")) status = 400, body = "bad selector";
    } else if (strcmp(url, "/pods")) {
        status = 404, body = "not found";
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void test_http_sources(void **state)
{
    (void)state;
    FILE *f = fopen(gf_test_fixture("exporter/pods-api.json"), "rb");
    assert_non_null(f);
    fixture_text = calloc(1, 1 << 20);
    size_t n = fread(fixture_text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, api, NULL, MHD_OPTION_END);
    assert_non_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char base[64], token[] = "/tmp/gf-token-XXXXXX";
    snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
    int fd = mkstemp(token);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret-token\n", 13), 13); /* the newline is trimmed */
    close(fd);

    gf_podsrc s;
    gf_error err = {0};
    gf_podsrc_config cfg = {
        GF_PODSRC_APISERVER,           base, "gpu-node-1", token, NULL, false, 30, 5,
        {NULL, NULL, NULL, NULL, NULL}};
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_OK);
    assert_int_equal(s.list->pods.n, 9);
    gf_podsrc_free(&s);

    cfg.kind = GF_PODSRC_KUBELET;
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_OK);
    assert_non_null(gf_podlist_pod(s.list, U_LLM));
    gf_podsrc_free(&s);

    /* no token: 401 with a hint */
    cfg.token_file = NULL;
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_EIO);
    assert_true(strstr(err.msg, "HTTP 401 (check the token file)") != NULL);
    assert_int_equal(s.errors, 1);
    gf_podsrc_free(&s);

    /* a server error: the start of the body, on one line */
    char broken[96];
    snprintf(broken, sizeof broken, "%s/broken", base);
    cfg.location = broken;
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_EIO);
    assert_string_equal(err.msg, "HTTP 500: etcdserver: request timed out ");
    gf_podsrc_free(&s);

    /* an answer that is not a pod list names the URL and the place */
    static char not_list[] = "{\"kind\":\"Status\"}";
    char *saved = fixture_text;
    fixture_text = not_list;
    cfg.location = base;
    cfg.token_file = token;
    assert_int_equal(gf_podsrc_init(&s, &cfg, &err), GF_OK);
    assert_int_equal(gf_podsrc_refresh(&s, 1, NULL, &err), GF_EINPUT);
    assert_true(strstr(err.where, "/pods: (top level)") != NULL);
    gf_podsrc_free(&s);
    fixture_text = saved;

    MHD_stop_daemon(d);
    unlink(token);
    free(fixture_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubelet_shape),
        cmocka_unit_test(test_api_shape_and_mirror_pods),
        cmocka_unit_test(test_list_kinds),
        cmocka_unit_test(test_kai_rules),
        cmocka_unit_test(test_errors_name_the_path),
        cmocka_unit_test(test_bad_kai_values_cost_only_the_allocation),
        cmocka_unit_test(test_source_config),
        cmocka_unit_test(test_source_file_errors_keep_the_list),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_http_sources),
    };
    return cmocka_run_group_tests_name("exporter_podlist", tests, NULL, NULL);
}
