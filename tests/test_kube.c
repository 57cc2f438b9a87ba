/* test_kube.c - the Kubernetes API client (src/io/kube/) against the
 * stand-in API server (tests/standin): kubeconfig and in-cluster
 * configuration, TLS, requests with their retries, merge patch conflicts,
 * Evictions, Events, Leases, and the watch cache (sync, events, bookmarks,
 * relists, dropped watches, the model it builds). Fixtures: tests/fixtures/
 * kube (kubectl shapes of a small KAI cluster; tls/ holds a test CA and
 * certificates valid until 2126). */
#include "testutil.h"
#include "io/kube/kube.h"
#include "io/snapshot.h"
#include "io/snapshot_write.h"
#include "standin/standin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "gf-test-token-8f3a"
#define FIXTURE_PODS 17

/* --- helpers ------------------------------------------------------------------------------- */

static void assert_error(gf_err rc, gf_err want, const gf_error *err, const char *needle)
{
    char buf[1100];
    gf_error_format(err, buf, sizeof buf);
    if (rc != want || !strstr(buf, needle))
        fail_msg("rc %d, error \"%s\"; expected %d with \"%s\"", rc, buf, want, needle);
    if (strstr(buf, TOKEN)) fail_msg("the token leaked into \"%s\"", buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    gf_sbuf b = GF_SBUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        gf_sbuf_append(&b, chunk, n);
    fclose(f);
    gf_sbuf_puts(&b, "");
    return b.s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *base64(const char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *out = malloc(n / 3 * 4 + 8);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static const char *tls_file(const char *name)
{
    static char buf[8][600];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 600, "%s/kube/tls/%s", GF_FIXTURES, name);
    return b;
}

/* A temporary folder, removed with everything in it by rm_tree. */
static void make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/gf-kube-XXXXXX");
    if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
}

static void rm_tree(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) print_message("could not remove %s\n", dir);
}

/* The stand-in with the fixtures and the test token. */
static gf_standin *standin(int bookmark_ms, size_t window)
{
    gf_standin_opts o = {0};
    o.token = TOKEN;
    o.bookmark_ms = bookmark_ms;
    o.window = window;
    gf_standin *s;
    gf_error err = {0};
    if (gf_standin_start(&s, &o, &err)) fail_msg("stand-in: %s", err.msg);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/kube", GF_FIXTURES);
    if (gf_standin_load(s, dir, &err)) fail_msg("fixtures: %s: %s", err.where, err.msg);
    return s;
}

/* Fast backoff so that retries cost milliseconds. */
static void fast_options(gf_kube_options *o)
{
    gf_kube_options_default(o);
    o->backoff_base_s = 0.01;
    o->backoff_max_s = 0.05;
    o->watch_timeout_s = 60;
}

static gf_kube *client_for(gf_standin *s, const char *token, const gf_kube_options *opt)
{
    gf_kube_config c;
    gf_kube_config_init(&c);
    c.server = gf_xstrdup(gf_standin_url(s));
    c.token = token ? gf_xstrdup(token) : NULL;
    gf_kube_options def;
    fast_options(&def);
    gf_kube *k;
    gf_error err = {0};
    if (gf_kube_new(&k, &c, opt ? opt : &def, &err)) fail_msg("client: %s", err.msg);
    gf_kube_config_free(&c);
    return k;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o) fail_msg("bad JSON: %s", jerr.text);
    return o;
}

static const char *jpath(const json_t *o, const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, t);
    static char out[512];
    if (json_is_string(cur)) return json_string_value(cur);
    if (json_is_integer(cur)) {
        snprintf(out, sizeof out, "%lld", (long long)json_integer_value(cur));
        return out;
    }
    return NULL;
}

/* --- kubeconfig ------------------------------------------------------------------------------ */

#define KC_HEAD "apiVersion: v1\nkind: Config\n"

static gf_err parse_kc(gf_kube_config *c, const char *text, const char *context, gf_error *err)
{
    return gf_kube_config_parse(c, "config", text, strlen(text), "/etc/kube", context, err);
}

static void test_kubeconfig_token(void **state)
{
    (void)state;
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    static const char kc[] = KC_HEAD "clusters:\n"
                                     "- cluster:\n"
                                     "    certificate-authority: ca/ca.crt\n"
                                     "    server: https://10.0.0.1:6443/\n"
                                     "  name: prod\n"
                                     "- cluster:\n"
                                     "    server: https://kind-control-plane:6443\n"
                                     "    insecure-skip-tls-verify: true\n"
                                     "  name: kind\n"
                                     "contexts:\n"
                                     "- context:\n"
                                     "    cluster: prod\n"
                                     "    user: ci\n"
                                     "    namespace: team-a\n"
                                     "  name: prod-ci\n"
                                     "- context: {cluster: kind, user: kind-admin}\n"
                                     "  name: kind\n"
                                     "current-context: prod-ci\n"
                                     "preferences: {}\n"
                                     "users:\n"
                                     "- name: ci\n"
                                     "  user:\n"
                                     "    token: " TOKEN "\n"
                                     "    tokenFile: /ignored/when/token/is/set\n"
                                     "- name: kind-admin\n"
                                     "  user:\n"
                                     "    tokenFile: ../tokens/kind\n";
    assert_int_equal(parse_kc(&c, kc, NULL, &err), GF_OK);
    assert_string_equal(c.server, "https://10.0.0.1:6443");
    assert_string_equal(c.ca_file, "/etc/kube/ca/ca.crt");
    assert_false(c.insecure);
    assert_string_equal(c.token, TOKEN);
    assert_null(c.token_file); /* client-go: token wins */
    assert_string_equal(c.ns, "team-a");
    assert_string_equal(c.origin, "kubeconfig config, context prod-ci");
    /* another context by name */
    assert_int_equal(parse_kc(&c, kc, "kind", &err), GF_OK);
    assert_string_equal(c.server, "https://kind-control-plane:6443");
    assert_true(c.insecure);
    assert_null(c.token);
    assert_string_equal(c.token_file, "/etc/kube/../tokens/kind");
    assert_string_equal(c.ns, "default");
    gf_kube_config_free(&c);
    gf_kube_config_free(&c); /* twice is fine */
    gf_kube_config_free(NULL);
}

static void test_kubeconfig_cert_data(void **state)
{
    (void)state;
    char *ca = read_text(tls_file("ca.crt"));
    char *crt = read_text(tls_file("client.crt"));
    char *key = read_text(tls_file("client.key"));
    char *ca64 = base64(ca), *crt64 = base64(crt), *key64 = base64(key);
    gf_sbuf kc = GF_SBUF_INIT;
    /* JSON is YAML too: kubeconfigs are sometimes written that way */
    gf_sbuf_printf(&kc,
                   "{\"kind\":\"Config\",\"apiVersion\":\"v1\",\"current-context\":\"c\","
                   "\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://127.0.0.1:1\","
                   "\"certificate-authority-data\":\"%s\"}}],"
                   "\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
                   "\"users\":[{\"name\":\"u\",\"user\":{\"client-certificate-data\":\"%s\","
                   "\"client-key-data\":\"%s\"}}]}",
                   ca64, crt64, key64);
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    assert_int_equal(parse_kc(&c, kc.s, NULL, &err), GF_OK);
    assert_int_equal(c.ca_data.len, strlen(ca));
    assert_memory_equal(c.ca_data.data, ca, strlen(ca));
    assert_int_equal(c.cert_data.len, strlen(crt));
    assert_memory_equal(c.cert_data.data, crt, strlen(crt));
    assert_int_equal(c.key_data.len, strlen(key));
    assert_memory_equal(c.key_data.data, key, strlen(key));
    assert_null(c.ca_file);
    assert_null(c.token);
    gf_kube_config_free(&c);
    /* base64 broken over lines, without padding */
    static const char wrapped[] = KC_HEAD "current-context: c\n"
                                          "clusters: [{name: k, cluster: {server: 'http://h', "
                                          "certificate-authority-data: \"aGVs\\nbG8\"}}]\n"
                                          "contexts: [{name: c, context: {cluster: k}}]\n";
    assert_int_equal(parse_kc(&c, wrapped, NULL, &err), GF_OK);
    assert_int_equal(c.ca_data.len, 5);
    assert_memory_equal(c.ca_data.data, "hello", 5);
    gf_kube_config_free(&c);
    gf_sbuf_free(&kc);
    free(ca);
    free(crt);
    free(key);
    free(ca64);
    free(crt64);
    free(key64);
}

static void test_kubeconfig_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *context, *want;
    } cases[] = {
        {"clusters: [\n", NULL, "config:2:1: YAML syntax error"},
        {"", NULL, "config: empty kubeconfig"},
        {"- a\n- b\n", NULL, "config:1:1: expected a kubeconfig (a mapping with kind: Config)"},
        {"kind: Pod\n", NULL, "kind is \"Pod\"; a kubeconfig has kind: Config"},
        {KC_HEAD "clusters: []\n", NULL, "no current-context is set and no context was named"},
        {KC_HEAD "current-context: x\ncontexts:\n- name: a\n  context: {cluster: k}\n"
                 "- name: b\n  context: {cluster: k}\n",
         NULL, "config: context \"x\" is not in contexts (known: \"a\", \"b\")"},
        {KC_HEAD "current-context: a\ncontexts:\n- name: a\n  context: {cluster: nope}\n", NULL,
         "context \"a\" names cluster \"nope\", which is not in clusters (there are none)"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k, user: who}}]\n"
                 "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: me, user: {token: t}}]\n",
         NULL, "names user \"who\", which is not in users (known: \"me\")"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {user: u}}]\n", NULL,
         "config:4:31: contexts[0].context: context \"a\" names no cluster"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    insecure-skip-tls-verify: true\n",
         NULL, "config:8:5: clusters[0].cluster: no server"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    server: 10.0.0.1:6443\n",
         NULL, "server \"10.0.0.1:6443\" must start with https:// or http://"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    server: https:///api\n",
         NULL, "server \"https:///api\" names no host"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    server: https://h\n"
                 "    certificate-authority-data: 'bm90*YmFzZTY0'\n",
         NULL,
         "config:9:33: clusters[0].cluster.certificate-authority-data: not valid base64: '*' at "
         "offset 4"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    server: https://h\n"
                 "    insecure-skip-tls-verify: yes please\n",
         NULL, "clusters[0].cluster.insecure-skip-tls-verify: expected true or false"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
                 "clusters:\n- name: k\n  cluster:\n    server: https://h\n"
                 "    insecure-skip-tls-verify: true\n    certificate-authority: /ca\n",
         NULL, "insecure-skip-tls-verify together with a certificate-authority"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\n"
                 "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                 "users:\n- name: u\n  user:\n    client-certificate: /c.crt\n",
         NULL, "config:9:5: users[0].user: user \"u\" has a client certificate but no client key"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\n"
                 "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                 "users:\n- name: u\n  user:\n    exec:\n      apiVersion: "
                 "client.authentication.k8s.io/v1beta1\n      command: aws\n",
         NULL,
         "user \"u\" authenticates with an exec plugin (command \"aws\"), which gpufrac "
         "does not run"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\n"
                 "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
         NULL, "authenticates with an auth-provider"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\n"
                 "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {username: admin, password: hunter2}}]\n",
         NULL, "uses basic authentication"},
        {KC_HEAD "current-context: a\ncurrent-context: b\n", NULL,
         "config:4:1: key \"current-context\" given twice"},
        {KC_HEAD "current-context: a\ncontexts: {a: b}\n", NULL,
         "config:4:11: contexts: expected a list, got a mapping"},
        {KC_HEAD "current-context: a\ncontexts: [{name: a, context: [x]}]\n", NULL,
         "contexts[0].context: expected a mapping, got a list"},
        {KC_HEAD "current-context: a\ncontexts: [{context: {cluster: k}}]\n", NULL,
         "contexts[0]: entry without a name"},
        {KC_HEAD "current-context: [a]\n", NULL, "current-context: expected a string, got a list"},
        {KC_HEAD "current-context: a\n", "other",
         "context \"other\" is not in contexts (there "
         "are none)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_kube_config c;
        gf_kube_config_init(&c);
        gf_error err = {0};
        assert_error(parse_kc(&c, cases[i].text, cases[i].context, &err), GF_EINPUT, &err,
                     cases[i].want);
        assert_null(c.server); /* left empty */
        gf_kube_config_free(&c);
    }
}

/* Aliases of an anchored list reused thousands of times are refused before
 * the walk, naming the alias (yaml_alias.h). */
static void test_kubeconfig_aliases(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_puts(&b, KC_HEAD "current-context: a\ncontexts: [{name: a, context: {cluster: k0}}]\n"
                             "preferences: {extensions: &ext [");
    for (int i = 0; i < 2000; i++)
        gf_sbuf_printf(&b, "%sx%d", i ? ", " : "", i);
    gf_sbuf_puts(&b, "]}\nclusters:\n");
    for (int i = 0; i < 3000; i++)
        gf_sbuf_printf(&b, "- {name: k%d, cluster: {server: 'https://h', extensions: *ext}}\n", i);
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    assert_int_equal(gf_kube_config_parse(&c, "config", b.s, b.len, "/etc/kube", NULL, &err),
                     GF_EINPUT);
    assert_non_null(strstr(err.where, "config:"));
    assert_non_null(strstr(err.msg, "alias *ext (2001 nodes)"));
    gf_kube_config_free(&c);
    gf_sbuf_free(&b);
}

static void test_kubeconfig_files(void **state)
{
    (void)state;
    char dir[64], path[200], other[200];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/config", dir);
    snprintf(other, sizeof other, "%s/second", dir);
    write_text(path, KC_HEAD "current-context: a\n"
                             "contexts: [{name: a, context: {cluster: k, user: u}}]\n"
                             "clusters: [{name: k, cluster: {server: 'https://one:6443', "
                             "certificate-authority: ca.crt}}]\n"
                             "users: [{name: u, user: {client-certificate: certs/me.crt, "
                             "client-key: certs/me.key}}]\n");
    write_text(other, KC_HEAD "current-context: a\n"
                              "contexts: [{name: a, context: {cluster: k}}]\n"
                              "clusters: [{name: k, cluster: {server: 'https://two:6443'}}]\n");
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    /* KUBECONFIG: the first entry of the list is read */
    char env[500];
    snprintf(env, sizeof env, "::%s:%s", path, other);
    setenv("KUBECONFIG", env, 1);
    assert_int_equal(gf_kube_config_load_file(&c, NULL, NULL, &err), GF_OK);
    assert_string_equal(c.server, "https://one:6443");
    char want[300];
    snprintf(want, sizeof want, "%s/ca.crt", dir); /* relative to the kubeconfig's folder */
    assert_string_equal(c.ca_file, want);
    snprintf(want, sizeof want, "%s/certs/me.key", dir);
    assert_string_equal(c.key_file, want);
    /* else $HOME/.kube/config */
    unsetenv("KUBECONFIG");
    char kube[200];
    snprintf(kube, sizeof kube, "%s/.kube", dir);
    assert_int_equal(mkdir(kube, 0700), 0);
    snprintf(kube, sizeof kube, "%s/.kube/config", dir);
    assert_int_equal(rename(other, kube), 0);
    const char *home = getenv("HOME");
    char saved_home[500];
    snprintf(saved_home, sizeof saved_home, "%s", home ? home : "");
    setenv("HOME", dir, 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(gf_kube_config_auto(&c, NULL, NULL, &err), GF_OK);
    assert_string_equal(c.server, "https://two:6443");
    /* missing file, and errors that name it with a line */
    snprintf(want, sizeof want, "%s/none", dir);
    assert_error(gf_kube_config_load_file(&c, want, NULL, &err), GF_EIO, &err,
                 "/none: cannot open: No such file or directory");
    write_text(path, KC_HEAD "current-context: a\n\tbad: tab\n");
    snprintf(want, sizeof want, "%s:4:1: YAML syntax error", path);
    assert_error(gf_kube_config_load_file(&c, path, NULL, &err), GF_EINPUT, &err, want);
    /* files the config names must be readable when the client is made */
    write_text(path, KC_HEAD "current-context: a\n"
                             "contexts: [{name: a, context: {cluster: k}}]\n"
                             "clusters: [{name: k, cluster: {server: 'https://one:6443', "
                             "certificate-authority: missing-ca.crt}}]\n");
    assert_int_equal(gf_kube_config_load_file(&c, path, NULL, &err), GF_OK);
    gf_kube *k = NULL;
    snprintf(want, sizeof want, "context a: certificate-authority %s/missing-ca.crt: cannot read",
             dir);
    assert_error(gf_kube_new(&k, &c, NULL, &err), GF_EIO, &err, want);
    assert_null(k);
    if (saved_home[0])
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
    gf_kube_config_free(&c);
    rm_tree(dir);
}

/* --- TLS ------------------------------------------------------------------------------------- */

static gf_standin *tls_standin(void)
{
    char *cert = read_text(tls_file("server.crt"));
    char *key = read_text(tls_file("server.key"));
    gf_standin_opts o = {0};
    o.token = TOKEN;
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    gf_standin *s;
    gf_error err = {0};
    gf_err rc = gf_standin_start(&s, &o, &err);
    free(cert);
    free(key);
    if (rc) fail_msg("TLS stand-in: %s", err.msg);
    return s;
}

static gf_err tls_get(gf_standin *s, gf_kube_config *c, gf_error *err)
{
    gf_kube_options o;
    fast_options(&o);
    o.max_attempts = 1;
    free(c->server);
    c->server = gf_xstrdup(gf_standin_url(s));
    gf_kube *k;
    gf_err rc = gf_kube_new(&k, c, &o, err);
    if (rc) return rc;
    gf_kube_reply r = {0};
    rc = gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, err);
    gf_kube_reply_free(&r);
    gf_kube_free(k);
    return rc;
}

static void test_tls(void **state)
{
    (void)state;
    gf_standin *s = tls_standin();
    assert_non_null(strstr(gf_standin_url(s), "https://127.0.0.1:"));
    gf_kube_config c;
    gf_kube_config_init(&c);
    c.token = gf_xstrdup(TOKEN);
    gf_error err = {0};
    /* the CA as a file */
    c.ca_file = gf_xstrdup(tls_file("ca.crt"));
    assert_int_equal(tls_get(s, &c, &err), GF_OK);
    /* the CA as data (CURLOPT_CAINFO_BLOB) */
    free(c.ca_file);
    c.ca_file = NULL;
    char *ca = read_text(tls_file("ca.crt"));
    c.ca_data.data = (unsigned char *)ca;
    c.ca_data.len = strlen(ca);
    assert_int_equal(tls_get(s, &c, &err), GF_OK);
    /* another CA: verification fails, and is not retried away */
    char *other = read_text(tls_file("other-ca.crt"));
    free(c.ca_data.data);
    c.ca_data.data = (unsigned char *)other;
    c.ca_data.len = strlen(other);
    assert_error(tls_get(s, &c, &err), GF_EIO, &err, "GET https://127.0.0.1:");
    assert_non_null(strstr(err.msg, "SSL"));
    /* the system's CAs do not know the test CA either */
    free(c.ca_data.data);
    c.ca_data.data = NULL;
    c.ca_data.len = 0;
    assert_int_equal(tls_get(s, &c, &err), GF_EIO);
    /* insecure-skip-tls-verify */
    c.insecure = true;
    assert_int_equal(tls_get(s, &c, &err), GF_OK);
    gf_kube_config_free(&c);
    gf_standin_stop(s);
}

/* A port nothing listens on now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Client certificates: libmicrohttpd cannot verify them without GnuTLS
 * calls, so `openssl s_server -Verify` plays the server that requires one. */
static void test_client_certificate(void **state)
{
    (void)state;
    if (system("openssl version >/dev/null 2>&1") != 0) skip();
    int port = free_port();
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", port);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", portarg, "-cert",
               tls_file("server.crt"), "-key", tls_file("server.key"), "-CAfile",
               tls_file("ca.crt"), "-Verify", "1", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !port_open(port); i++)
        msleep(50);
    gf_kube_config c;
    gf_kube_config_init(&c);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    c.server = gf_xstrdup(url);
    c.ca_file = gf_xstrdup(tls_file("ca.crt"));
    gf_kube_options o;
    fast_options(&o);
    o.max_attempts = 1;
    gf_error err = {0};
    gf_kube *k;
    /* certificate and key as files */
    c.cert_file = gf_xstrdup(tls_file("client.crt"));
    c.key_file = gf_xstrdup(tls_file("client.key"));
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    gf_kube_reply r = {0};
    gf_err rc = gf_kube_request(k, "GET", "/", NULL, NULL, &r, &err);
    gf_kube_free(k);
    if (rc) fail_msg("with a certificate file: %s", err.msg);
    assert_non_null(strstr(gf_sbuf_str(&r.body), "s_server"));
    /* as data (CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB) */
    free(c.cert_file);
    free(c.key_file);
    c.cert_file = c.key_file = NULL;
    char *crt = read_text(tls_file("client.crt")), *key = read_text(tls_file("client.key"));
    c.cert_data.data = (unsigned char *)crt;
    c.cert_data.len = strlen(crt);
    c.key_data.data = (unsigned char *)key;
    c.key_data.len = strlen(key);
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    rc = gf_kube_request(k, "GET", "/", NULL, NULL, &r, &err);
    gf_kube_free(k);
    if (rc) fail_msg("with certificate data: %s", err.msg);
    /* without one, the server refuses the handshake */
    gf_kube_config_free(&c);
    c.server = gf_xstrdup(url);
    c.ca_file = gf_xstrdup(tls_file("ca.crt"));
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    assert_int_equal(gf_kube_request(k, "GET", "/", NULL, NULL, &r, &err), GF_EIO);
    gf_kube_free(k);
    gf_kube_reply_free(&r);
    gf_kube_config_free(&c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* --- in-cluster ----------------------------------------------------------------------------------
 */

static void test_in_cluster_rotation(void **state)
{
    (void)state;
    gf_standin *s = tls_standin();
    gf_standin_set_token(s, "token-one");
    char dir[64], p[200], tmp[200];
    make_tmpdir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/token", dir);
    write_text(p, "token-one\n");
    snprintf(p, sizeof p, "%s/namespace", dir);
    write_text(p, "team-a");
    char *ca = read_text(tls_file("ca.crt"));
    snprintf(p, sizeof p, "%s/ca.crt", dir);
    write_text(p, ca);
    free(ca);
    char port[16];
    snprintf(port, sizeof port, "%d", gf_standin_port(s));
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    assert_int_equal(gf_kube_config_in_cluster(&c, dir, &err), GF_OK);
    char want[200];
    snprintf(want, sizeof want, "https://127.0.0.1:%s", port);
    assert_string_equal(c.server, want);
    assert_string_equal(c.ns, "team-a");
    snprintf(want, sizeof want, "%s/token", dir);
    assert_string_equal(c.token_file, want);
    gf_kube_options o;
    fast_options(&o);
    gf_kube *k;
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    assert_string_equal(gf_kube_namespace(k), "team-a");
    gf_kube_reply r = {0};
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    /* the kubelet rotates the projected token: a new file swapped in */
    gf_standin_set_token(s, "token-two");
    snprintf(tmp, sizeof tmp, "%s/.token.new", dir);
    write_text(tmp, "token-two");
    snprintf(p, sizeof p, "%s/token", dir);
    assert_int_equal(rename(tmp, p), 0);
    size_t before = gf_standin_count(s, "GET", "/api/v1/nodes", 401);
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    assert_int_equal(gf_standin_count(s, "GET", "/api/v1/nodes", 401), before);
    /* rewritten in place (same inode) works too */
    gf_standin_set_token(s, "token-three-is-longer");
    write_text(p, "token-three-is-longer\n");
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    /* a token file that went away: named, its content never shown */
    assert_int_equal(unlink(p), 0);
    assert_error(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_EIO, &err,
                 "/token: token file: cannot read: No such file or directory");
    write_text(p, "\n");
    assert_error(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_EINPUT, &err,
                 "token file: empty");
    gf_kube_free(k);
    /* not in a cluster */
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_error(gf_kube_config_in_cluster(&c, dir, &err), GF_EUSAGE, &err,
                 "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT");
    setenv("KUBERNETES_SERVICE_PORT", "https", 1);
    assert_error(gf_kube_config_in_cluster(&c, dir, &err), GF_EINPUT, &err,
                 "KUBERNETES_SERVICE_PORT: \"https\" is not a port");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(gf_kube_config_in_cluster(&c, dir, &err), GF_OK);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    gf_kube_reply_free(&r);
    gf_kube_config_free(&c);
    gf_standin_stop(s);
    rm_tree(dir);
}

/* --- requests
 * ------------------------------------------------------------------------------------- */

static void test_get_and_list(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube_options o;
    fast_options(&o);
    o.list_page_size = 4;
    gf_kube *k = client_for(s, TOKEN, &o);
    gf_error err = {0};
    json_t *items = NULL, *obj = NULL;
    char *rv = NULL;
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, NULL, &items, &rv, &err), GF_OK);
    assert_int_equal(json_array_size(items), FIXTURE_PODS);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)gf_standin_rv(s));
    assert_string_equal(rv, want);
    /* list items come without kind; the client puts it back */
    assert_string_equal(jpath(json_array_get(items, 0), "kind"), "Pod");
    assert_string_equal(jpath(json_array_get(items, 0), "apiVersion"), "v1");
    /* 17 pods in pages of 4: 5 requests, 4 of them continuing */
    assert_int_equal(gf_standin_count(s, "GET", "/api/v1/pods?limit=4", 200), 5);
    assert_int_equal(gf_standin_count(s, "GET", "continue=", 200), 4);
    json_decref(items);
    free(rv);
    /* selectors and a namespace */
    gf_kube_list_opts lo = {"team-a", "app=llm-chat", NULL};
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, &lo, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    gf_kube_list_opts fo = {NULL, "app notin (llm-chat,kai-resource-reservation)",
                            "spec.nodeName=gpu-l4-a"};
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, &fo, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), 4); /* embedder, ocr, train-0, train-1 */
    json_decref(items);
    gf_kube_list_opts bad = {NULL, "app in (x", NULL};
    assert_error(gf_kube_list(k, GF_KUBE_POD, &bad, &items, NULL, &err), GF_EINPUT, &err,
                 "HTTP 400 Bad Request: found '', expected: ',' or ')'");
    assert_null(items);
    /* one object; cluster-scoped and namespaced */
    assert_int_equal(gf_kube_get(k, GF_KUBE_NODE, NULL, "gpu-l4-a", &obj, &err), GF_OK);
    assert_string_equal(jpath(obj, "status.allocatable.cpu"), "31850m");
    json_decref(obj);
    assert_int_equal(gf_kube_get(k, GF_KUBE_DEPLOYMENT, "team-a", "llm-chat", &obj, &err), GF_OK);
    assert_string_equal(jpath(obj, "spec.template.metadata.annotations.gpu-fraction"), "0.5");
    json_decref(obj);
    char where[200];
    snprintf(where, sizeof where,
             "GET %s/apis/apps/v1/namespaces/team-a/deployments/nope: HTTP 404 Not Found: "
             "deployments.apps \"nope\" not found",
             gf_standin_url(s));
    assert_error(gf_kube_get(k, GF_KUBE_DEPLOYMENT, "team-a", "nope", &obj, &err), GF_ENOTFOUND,
                 &err, where);
    assert_error(gf_kube_get(k, GF_KUBE_POD, NULL, "x", &obj, &err), GF_EUSAGE, &err,
                 "Pod x without a namespace");
    /* size cap */
    gf_kube_free(k);
    o.max_response_bytes = 1000;
    k = client_for(s, TOKEN, &o);
    assert_error(gf_kube_list(k, GF_KUBE_POD, NULL, &items, NULL, &err), GF_EIO, &err,
                 "the answer is larger than 1000 bytes");
    gf_kube_free(k);
    /* authentication: the token is checked and never shown */
    k = client_for(s, "wrong-" TOKEN, NULL);
    assert_error(gf_kube_get(k, GF_KUBE_NODE, NULL, "gpu-l4-a", &obj, &err), GF_KUBE_EAUTH, &err,
                 "HTTP 401 Unauthorized: Unauthorized");
    assert_string_equal(gf_kube_strerror(GF_KUBE_EAUTH), "not authorized");
    gf_kube_free(k);
    gf_standin_stop(s);
}

/* Records watch events. */
typedef struct seen {
    int n[5];
    char last_rv[64];
    char names[32][64];
    int n_names;
    int stop_after;
} seen;

static int record_event(gf_kube_event_type t, const json_t *obj, void *user)
{
    seen *s = user;
    s->n[t]++;
    const char *rv = jpath(obj, "metadata.resourceVersion");
    if (rv) snprintf(s->last_rv, sizeof s->last_rv, "%s", rv);
    const char *name = jpath(obj, "metadata.name");
    if (name && s->n_names < 32)
        snprintf(s->names[s->n_names++], 64, "%s %s", gf_kube_event_type_name(t), name);
    int total = s->n[0] + s->n[1] + s->n[2];
    return s->stop_after && total >= s->stop_after;
}

static void test_watch(void **state)
{
    (void)state;
    gf_standin *s = standin(200, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    json_t *items;
    char *rv;
    gf_kube_list_opts team_a = {"team-a", NULL, NULL};
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, &team_a, &items, &rv, &err), GF_OK);
    json_decref(items);
    /* changes after the list: in team-a (seen) and elsewhere (not) */
    assert_int_equal(
        gf_standin_put(s,
                       "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                       "\"new-0\",\"namespace\":\"team-a\"},\"spec\":{},\"status\":{"
                       "\"phase\":\"Pending\"}}",
                       &err),
        GF_OK);
    assert_int_equal(
        gf_standin_put(s,
                       "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                       "\"other\",\"namespace\":\"team-b\"},\"spec\":{}}",
                       &err),
        GF_OK);
    assert_int_equal(gf_standin_remove(s, "Pod", "team-a", "debug-shell", &err), GF_OK);
    seen got = {0};
    /* the server ends the watch after timeoutSeconds: GF_OK */
    assert_int_equal(gf_kube_watch(k, GF_KUBE_POD, &team_a, rv, 1, record_event, &got, &err),
                     GF_OK);
    assert_int_equal(got.n[GF_KUBE_ADDED], 1);
    assert_int_equal(got.n[GF_KUBE_DELETED], 1);
    assert_int_equal(got.n[GF_KUBE_MODIFIED], 0);
    assert_string_equal(got.names[0], "ADDED new-0");
    assert_string_equal(got.names[1], "DELETED debug-shell");
    /* idle: bookmarks with the current resourceVersion */
    assert_true(got.n[GF_KUBE_BOOKMARK] >= 1);
    char cur[32];
    snprintf(cur, sizeof cur, "%llu", (unsigned long long)gf_standin_rv(s));
    assert_string_equal(got.last_rv, cur);
    assert_int_equal(gf_standin_count(s, "GET", "watch=1&resourceVersion=", 200), 1);
    assert_int_equal(gf_standin_count(s, "GET", "allowWatchBookmarks=true&timeoutSeconds=1", 200),
                     1);
    /* the callback can stop it */
    seen one = {.stop_after = 1};
    assert_int_equal(gf_kube_watch(k, GF_KUBE_POD, NULL, "", 30, record_event, &one, &err), GF_OK);
    assert_int_equal(one.n[GF_KUBE_ADDED], 1);
    /* a compacted resourceVersion: the ERROR event, then GF_KUBE_EGONE */
    gf_standin_compact(s, false);
    seen gone = {0};
    assert_error(gf_kube_watch(k, GF_KUBE_POD, NULL, rv, 30, record_event, &gone, &err),
                 GF_KUBE_EGONE, &err, "HTTP 410 Gone (ERROR event): too old resource version");
    assert_int_equal(gone.n[GF_KUBE_ERROR], 1);
    /* an event too large for the cap */
    gf_kube_free(k);
    gf_kube_options o;
    fast_options(&o);
    o.max_event_bytes = 100;
    k = client_for(s, TOKEN, &o);
    assert_error(gf_kube_watch(k, GF_KUBE_POD, NULL, "0", 30, record_event, &gone, &err), GF_EIO,
                 &err, "a watch event is larger than 100 bytes");
    free(rv);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static void test_retries(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    gf_kube_reply r = {0};
    /* 429 with Retry-After: waited for at least that long */
    gf_standin_fault f429 = {"GET", "/api/v1/nodes", -1, 1, 429, 1, 0, false};
    gf_standin_add_fault(s, &f429);
    double t0 = now_s();
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    double waited = now_s() - t0;
    if (waited < 1.0) fail_msg("retried after %.3f s; Retry-After said 1 s", waited);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.status, 200);
    assert_int_equal(gf_standin_count(s, "GET", "/api/v1/nodes", 429), 1);
    /* 500s: retried for GET */
    gf_standin_fault f500 = {"GET", "/api/v1/nodes", -1, 2, 500, 0, 0, false};
    gf_standin_add_fault(s, &f500);
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    assert_int_equal(r.attempts, 3);
    /* a lost connection: retried for GET */
    gf_standin_fault drop = {"GET", "/api/v1/nodes", -1, 1, 0, 0, 0, true};
    gf_standin_add_fault(s, &drop);
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    assert_int_equal(r.attempts, 2);
    /* but not for a POST (it may have been applied) */
    gf_standin_fault post500 = {"POST", "/events", -1, 1, 500, 0, 0, false};
    gf_standin_add_fault(s, &post500);
    gf_kube_ref about = {GF_KUBE_NODE, NULL, "gpu-l4-a", NULL};
    assert_error(gf_kube_event(k, &about, false, "Test", "m", &err), GF_EIO, &err,
                 "HTTP 500 Internal Server Error: injected fault: HTTP 500");
    assert_int_equal(gf_standin_count(s, "POST", "/events", 0), 1);
    /* a 429 on POST is safe to repeat (the server did nothing) */
    gf_standin_fault post429 = {"POST", "/events", -1, 1, 429, 0, 0, false};
    gf_standin_add_fault(s, &post429);
    assert_int_equal(gf_kube_event(k, &about, false, "Test", "m", &err), GF_OK);
    /* throttled beyond the attempts */
    gf_standin_fault many = {"GET", "/api/v1/nodes", -1, 3, 429, 0, 0, false};
    gf_standin_add_fault(s, &many);
    gf_kube_free(k);
    gf_kube_options o;
    fast_options(&o);
    o.max_attempts = 3;
    k = client_for(s, TOKEN, &o);
    assert_error(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err),
                 GF_KUBE_ETHROTTLED, &err, "HTTP 429 Too Many Requests");
    assert_int_equal(r.attempts, 3);
    /* a Retry-After longer than we wait for: no waiting at all */
    gf_standin_fault longer = {"GET", "/api/v1/nodes", -1, 1, 429, 120, 0, false};
    gf_standin_add_fault(s, &longer);
    gf_kube_free(k);
    k = client_for(s, TOKEN, NULL);
    t0 = now_s();
    assert_error(gf_kube_request(k, "GET", "/api/v1/nodes?x=1", NULL, NULL, &r, &err),
                 GF_KUBE_ETHROTTLED, &err, "Retry-After 120 s, longer than the 60 s waited for");
    assert_int_equal(r.attempts, 1);
    assert_true(r.retry_after_s == 120);
    gf_kube_free(k);
    /* slow answers: the request timeout, then a retry (the retry's answer
     * has the whole timeout, 3 s, to come back on a loaded machine) */
    o.max_attempts = 5;
    o.request_timeout_ms = 3000;
    k = client_for(s, TOKEN, &o);
    gf_standin_fault slow = {"GET", "/api/v1/nodes", -1, 1, 0, 0, 6000, false};
    gf_standin_add_fault(s, &slow);
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    assert_int_equal(r.attempts, 2);
    gf_kube_free(k);
    o.max_attempts = 1;
    k = client_for(s, TOKEN, &o);
    gf_standin_add_fault(s, &slow);
    assert_error(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_EIO, &err,
                 "Timeout was reached");
    gf_kube_free(k);
    /* nothing listening */
    gf_kube_config c;
    gf_kube_config_init(&c);
    char url[64];
    int port = free_port();
    snprintf(url, sizeof url, "http://user:s3cret@127.0.0.1:%d", port);
    c.server = gf_xstrdup(url);
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    snprintf(url, sizeof url, "GET http://127.0.0.1:%d/version: Couldn't connect to server", port);
    assert_error(gf_kube_request(k, "GET", "/version", NULL, NULL, &r, &err), GF_EIO, &err, url);
    assert_null(strstr(err.where, "s3cret"));
    assert_null(strstr(err.msg, "s3cret"));
    assert_error(gf_kube_request(k, "GET", "version", NULL, NULL, &r, &err), GF_EUSAGE, &err,
                 "a path from '/'");
    gf_kube_free(k);
    gf_kube_config_free(&c);
    gf_kube_reply_free(&r);
    gf_standin_stop(s);
}

/* --- patch --------------------------------------------------------------------------------------
 */

typedef struct patcher {
    gf_standin *s;
    int calls;
    int interfere; /* calls during which someone else writes first */
} patcher;

static gf_err set_fraction(const json_t *cur, json_t **patch, void *user, gf_error *err)
{
    (void)err;
    patcher *p = user;
    p->calls++;
    const char *have = jpath(cur, "spec.template.metadata.annotations.gpu-fraction");
    if (have && !strcmp(have, "0.3")) {
        *patch = NULL; /* already done */
        return GF_OK;
    }
    if (p->calls <= p->interfere) {
        /* another writer changes the Deployment between our read and write */
        char *text = gf_standin_get(p->s, "Deployment", "team-a", "llm-chat");
        json_t *o = parse(text);
        free(text);
        json_object_set_new(json_object_get(o, "metadata"), "labels",
                            json_pack("{s:s, s:i}", "app", "llm-chat", "touch", p->calls));
        json_object_del(json_object_get(o, "metadata"), "resourceVersion");
        char *again = json_dumps(o, 0);
        gf_error e;
        if (gf_standin_put(p->s, again, &e)) fail_msg("put: %s", e.msg);
        free(again);
        json_decref(o);
    }
    *patch = json_pack("{s:{s:{s:{s:{s:s, s:n}}}}}", "spec", "template", "metadata", "annotations",
                       "gpu-fraction", "0.3", "gpu-memory");
    return GF_OK;
}

static double guard_left(void *ctx)
{
    return *(const double *)ctx;
}

/* The write guard: with too little time left a write is not sent at all;
 * reads are never asked about. */
static void test_write_guard(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    double left = 0.5;
    gf_kube_set_write_guard(k, guard_left, &left);
    gf_error err = {0};
    json_t *p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "tier", "gold");
    assert_int_equal(
        gf_kube_merge_patch(k, GF_KUBE_POD, "team-a", "debug-shell", p, NULL, NULL, &err),
        GF_KUBE_ELEASE);
    assert_non_null(strstr(err.msg, "not sent: this replica may write for 0.5 s more"));
    assert_int_equal(gf_standin_count(s, "PATCH", "/pods/debug-shell", 0), 0);
    json_t *obj = NULL;
    assert_int_equal(gf_kube_get(k, GF_KUBE_POD, "team-a", "debug-shell", &obj, &err), GF_OK);
    json_decref(obj);
    left = 5;
    assert_int_equal(
        gf_kube_merge_patch(k, GF_KUBE_POD, "team-a", "debug-shell", p, NULL, NULL, &err), GF_OK);
    assert_int_equal(gf_standin_count(s, "PATCH", "/pods/debug-shell", 200), 1);
    json_decref(p);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static void test_patch(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    json_t *obj = NULL;
    /* a plain merge patch; null deletes (RFC 7386) */
    json_t *p = json_pack("{s:{s:{s:s, s:n}}}", "metadata", "labels", "tier", "gold", "app");
    assert_int_equal(
        gf_kube_merge_patch(k, GF_KUBE_POD, "team-a", "debug-shell", p, NULL, &obj, &err), GF_OK);
    assert_string_equal(jpath(obj, "metadata.labels.tier"), "gold");
    json_decref(obj);
    char *stored = gf_standin_get(s, "Pod", "team-a", "debug-shell");
    obj = parse(stored);
    free(stored);
    assert_string_equal(jpath(obj, "metadata.labels.tier"), "gold");
    assert_null(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));
    char old_rv[32];
    snprintf(old_rv, sizeof old_rv, "%s", jpath(obj, "metadata.resourceVersion"));
    json_decref(obj);
    /* a stale resourceVersion precondition: 409 */
    assert_error(gf_kube_merge_patch(k, GF_KUBE_POD, "team-a", "debug-shell", p, "1", NULL, &err),
                 GF_KUBE_ECONFLICT, &err,
                 "HTTP 409 Conflict: Operation cannot be fulfilled on pods \"debug-shell\": the "
                 "object has been modified");
    /* the current one: fine */
    assert_int_equal(
        gf_kube_merge_patch(k, GF_KUBE_POD, "team-a", "debug-shell", p, old_rv, NULL, &err), GF_OK);
    json_decref(p);
    /* read-modify-write: two conflicts, then success */
    patcher pt = {s, 0, 2};
    assert_int_equal(gf_kube_patch_retry(k, GF_KUBE_DEPLOYMENT, "team-a", "llm-chat", set_fraction,
                                         &pt, &obj, &err),
                     GF_OK);
    assert_int_equal(pt.calls, 3);
    assert_int_equal(gf_standin_count(s, "PATCH", "/deployments/llm-chat", 409), 2);
    assert_int_equal(gf_standin_count(s, "PATCH", "/deployments/llm-chat", 200), 1);
    assert_string_equal(jpath(obj, "spec.template.metadata.annotations.gpu-fraction"), "0.3");
    assert_string_equal(jpath(obj, "metadata.labels.touch"), "2"); /* the other writes kept */
    assert_string_equal(jpath(obj, "metadata.generation"), "5");   /* the spec changed */
    json_decref(obj);
    /* nothing to do: no PATCH at all */
    pt.calls = 0;
    assert_int_equal(gf_kube_patch_retry(k, GF_KUBE_DEPLOYMENT, "team-a", "llm-chat", set_fraction,
                                         &pt, NULL, &err),
                     GF_OK);
    assert_int_equal(pt.calls, 1);
    assert_int_equal(gf_standin_count(s, "PATCH", "/deployments/llm-chat", 0), 3);
    /* conflicts every time: bounded */
    gf_kube_free(k);
    gf_kube_options o;
    fast_options(&o);
    o.max_conflict_retries = 2;
    k = client_for(s, TOKEN, &o);
    char *text = gf_standin_get(s, "Deployment", "team-a", "llm-chat");
    json_t *d = parse(text);
    free(text);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "metadata"),
        "annotations", json_pack("{s:s}", "gpu-fraction", "0.5"));
    text = json_dumps(d, 0);
    assert_int_equal(gf_standin_put(s, text, &err), GF_OK);
    free(text);
    json_decref(d);
    patcher always = {s, 0, 100};
    assert_error(gf_kube_patch_retry(k, GF_KUBE_DEPLOYMENT, "team-a", "llm-chat", set_fraction,
                                     &always, NULL, &err),
                 GF_KUBE_ECONFLICT, &err,
                 "Deployment team-a/llm-chat: still changed by others after 3 attempts");
    assert_int_equal(always.calls, 3);
    gf_kube_free(k);
    gf_standin_stop(s);
}

/* --- Evictions and Events ----------------------------------------------------------------------
 */

static void test_eviction(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    /* llm-chat's PDB allows no disruption */
    assert_error(gf_kube_evict(k, "team-a", "llm-chat-7d9f8b6c5d-x2lqf", -1, &err), GF_KUBE_EPDB,
                 &err,
                 "HTTP 429 Too Many Requests: Cannot evict pod as it would violate the pod's "
                 "disruption budget. (The disruption budget llm-chat needs 2 healthy pods and has "
                 "2 currently)");
    assert_int_equal(gf_standin_count(s, "POST", "/eviction", 429), 1); /* not retried */
    char *pod = gf_standin_get(s, "Pod", "team-a", "llm-chat-7d9f8b6c5d-x2lqf");
    assert_non_null(pod);
    free(pod);
    /* train's allows one: the pod goes, the budget is used up */
    assert_int_equal(gf_kube_evict(k, "team-c", "train-0", 30, &err), GF_OK);
    pod = gf_standin_get(s, "Pod", "team-c", "train-0");
    assert_null(pod);
    char *pdb = gf_standin_get(s, "PodDisruptionBudget", "team-c", "train");
    json_t *o = parse(pdb);
    free(pdb);
    assert_string_equal(jpath(o, "status.disruptionsAllowed"), "0");
    json_decref(o);
    assert_int_equal(gf_kube_evict(k, "team-c", "train-1", -1, &err), GF_KUBE_EPDB);
    assert_string_equal(gf_kube_strerror(GF_KUBE_EPDB), "disruption budget forbids");
    /* a pending pod is evicted without looking at budgets; a missing one is 404 */
    assert_int_equal(gf_kube_evict(k, "team-a", "llm-big-8c7d6e5f4a-a1b2c", -1, &err), GF_OK);
    assert_error(gf_kube_evict(k, "team-a", "gone", -1, &err), GF_ENOTFOUND, &err,
                 "pods \"gone\" not found");
    /* a 429 without a DisruptionBudget cause is throttling: retried */
    gf_standin_fault f = {"POST", "/eviction", -1, 1, 429, 0, 0, false};
    gf_standin_add_fault(s, &f);
    assert_int_equal(gf_kube_evict(k, "team-a", "debug-shell", -1, &err), GF_OK);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static void test_events(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    gf_kube_ref dep = {GF_KUBE_DEPLOYMENT, "team-a", "llm-chat",
                       "5e34e87e-2f05-ea1a-de8d-fdc782cce0ca"};
    assert_int_equal(gf_kube_event(k, &dep, true, "FractionReduced",
                                   "gpu-fraction 0.5 -> 0.3: p95 memory 5.1 GiB over 7 days", &err),
                     GF_OK);
    gf_kube_ref node = {GF_KUBE_NODE, NULL, "gpu-l4-b", NULL};
    assert_int_equal(gf_kube_event(k, &node, false, "Consolidating", "draining", &err), GF_OK);
    json_t *items;
    gf_kube_list_opts ns = {"team-a", NULL, NULL};
    assert_int_equal(gf_kube_list(k, GF_KUBE_EVENT, &ns, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), 1);
    json_t *e = json_array_get(items, 0);
    assert_string_equal(jpath(e, "type"), "Warning");
    assert_string_equal(jpath(e, "reason"), "FractionReduced");
    assert_string_equal(jpath(e, "involvedObject.kind"), "Deployment");
    assert_string_equal(jpath(e, "involvedObject.apiVersion"), "apps/v1");
    assert_string_equal(jpath(e, "involvedObject.namespace"), "team-a");
    assert_string_equal(jpath(e, "involvedObject.uid"), "5e34e87e-2f05-ea1a-de8d-fdc782cce0ca");
    assert_string_equal(jpath(e, "source.component"), "gpufrac");
    assert_string_equal(jpath(e, "count"), "1");
    assert_non_null(strstr(jpath(e, "metadata.name"), "llm-chat."));
    json_decref(items);
    gf_kube_list_opts def = {"default", NULL, NULL};
    assert_int_equal(gf_kube_list(k, GF_KUBE_EVENT, &def, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(jpath(json_array_get(items, 0), "type"), "Normal");
    assert_null(jpath(json_array_get(items, 0), "involvedObject.namespace"));
    json_decref(items);
    assert_error(gf_kube_event(k, &dep, false, "", "m", &err), GF_EUSAGE, &err,
                 "a reason of 1..128 characters");
    gf_kube_free(k);
    gf_standin_stop(s);
}

/* --- leases -------------------------------------------------------------------------------------
 */

typedef struct racer {
    gf_standin *s;
    int after_ms;
} racer;

static void *touch_lease(void *arg)
{
    racer *r = arg;
    msleep(r->after_ms);
    char *text = gf_standin_get(r->s, "Lease", "gpufrac", "leader");
    json_t *o = parse(text);
    free(text);
    json_object_set_new(json_object_get(o, "spec"), "holderIdentity", json_string("c"));
    char *again = json_dumps(o, 0);
    gf_error e;
    gf_standin_put(r->s, again, &e);
    free(again);
    json_decref(o);
    return NULL;
}

static void test_lease(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *ka = client_for(s, TOKEN, NULL), *kb = client_for(s, TOKEN, NULL);
    gf_kube_leader a, b;
    gf_kube_leader_init(&a, "gpufrac", "leader", "a", 1);
    gf_kube_leader_init(&b, "gpufrac", "leader", "b", 1);
    gf_error err = {0};
    bool leading;
    /* a creates it */
    assert_int_equal(gf_kube_leader_try(ka, &a, &leading, &err), GF_OK);
    assert_true(leading);
    assert_int_equal(gf_standin_count(s, "POST", "/leases", 201), 1);
    char *text = gf_standin_get(s, "Lease", "gpufrac", "leader");
    json_t *o = parse(text);
    free(text);
    assert_string_equal(jpath(o, "spec.holderIdentity"), "a");
    assert_string_equal(jpath(o, "spec.leaseDurationSeconds"), "1");
    assert_string_equal(jpath(o, "spec.leaseTransitions"), "0");
    assert_int_equal(strlen(jpath(o, "spec.renewTime")), strlen("2026-11-24T10:00:00.000000Z"));
    char acquired[40];
    snprintf(acquired, sizeof acquired, "%s", jpath(o, "spec.acquireTime"));
    json_decref(o);
    /* b sees a live lease: never taken */
    assert_int_equal(gf_kube_leader_try(kb, &b, &leading, &err), GF_OK);
    assert_false(leading);
    assert_string_equal(b.holder, "a");
    /* a renews (acquireTime kept) */
    assert_int_equal(gf_kube_leader_try(ka, &a, &leading, &err), GF_OK);
    assert_true(leading);
    text = gf_standin_get(s, "Lease", "gpufrac", "leader");
    o = parse(text);
    free(text);
    assert_string_equal(jpath(o, "spec.acquireTime"), acquired);
    json_decref(o);
    assert_int_equal(gf_kube_leader_try(kb, &b, &leading, &err), GF_OK);
    assert_false(leading);
    /* a stops renewing: once b has watched it unchanged for its duration, b takes it */
    msleep(1200);
    assert_int_equal(gf_kube_leader_try(kb, &b, &leading, &err), GF_OK);
    assert_true(leading);
    text = gf_standin_get(s, "Lease", "gpufrac", "leader");
    o = parse(text);
    free(text);
    assert_string_equal(jpath(o, "spec.holderIdentity"), "b");
    assert_string_equal(jpath(o, "spec.leaseTransitions"), "1");
    json_decref(o);
    /* a comes back: b's lease is live */
    assert_int_equal(gf_kube_leader_try(ka, &a, &leading, &err), GF_OK);
    assert_false(leading);
    assert_string_equal(a.holder, "b");
    /* b lets go: a need not wait */
    assert_int_equal(gf_kube_leader_release(kb, &b, &err), GF_OK);
    assert_false(b.leading);
    assert_int_equal(gf_kube_leader_try(ka, &a, &leading, &err), GF_OK);
    assert_true(leading);
    /* a race: someone updates the lease between a's read and write; a's
     * write carries the old resourceVersion, gets 409 and a stands down */
    gf_standin_fault slow = {"PUT", "/leases/leader", -1, 1, 0, 0, 3000, false};
    gf_standin_add_fault(s, &slow);
    racer r = {s, 600};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, touch_lease, &r), 0);
    assert_int_equal(gf_kube_leader_try(ka, &a, &leading, &err), GF_OK);
    pthread_join(th, NULL);
    assert_false(leading);
    assert_int_equal(gf_standin_count(s, "PUT", "/leases/leader", 409), 1);
    /* no identity */
    gf_kube_leader c;
    gf_kube_leader_init(&c, NULL, NULL, NULL, 0);
    assert_int_equal(c.lease_duration_s, 15);
    assert_error(gf_kube_leader_try(ka, &c, &leading, &err), GF_EUSAGE, &err, "needs an identity");
    gf_kube_leader_free(&c);
    gf_kube_leader_free(&a);
    gf_kube_leader_free(&b);
    gf_kube_free(ka);
    gf_kube_free(kb);
    gf_standin_stop(s);
}

/* --- the cache
 * ------------------------------------------------------------------------------------ */

typedef struct changes {
    int n[5];
    char last[128];
} changes;

static void on_change(gf_kube_kind kind, gf_kube_event_type t, const json_t *obj, void *user)
{
    changes *c = user;
    c->n[t]++;
    snprintf(c->last, sizeof c->last, "%s %s %s", gf_kube_event_type_name(t),
             gf_kube_resource_of(kind)->kind, jpath(obj, "metadata.name"));
}

typedef bool (*cond_fn)(gf_kube_cache *c, gf_standin *s, void *arg);

/* Steps the cache until cond holds (10 s at most: then the test fails). */
static void step_until(gf_kube_cache *c, gf_standin *s, cond_fn cond, void *arg, const char *what)
{
    double deadline = now_s() + 10;
    while (!cond(c, s, arg)) {
        if (now_s() > deadline) fail_msg("the cache did not reach: %s", what);
        gf_error err;
        gf_kube_cache_step(c, 50, &err); /* failures are retried by the cache */
    }
}

static bool pod_count_is(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)s;
    return gf_kube_cache_count(c, GF_KUBE_POD) == (size_t)(long)arg;
}

static bool pods_at_rv(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)arg;
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)gf_standin_rv(s));
    return !strcmp(gf_kube_cache_rv(c, GF_KUBE_POD), want);
}

static bool label_is(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)s;
    const json_t *p = gf_kube_cache_get(c, GF_KUBE_POD, "team-a", "debug-shell");
    const char *v = p ? jpath(p, "metadata.labels.step") : NULL;
    return v && !strcmp(v, (const char *)arg);
}

static void put_pod(gf_standin *s, const char *ns, const char *name, const char *step)
{
    char text[600];
    snprintf(text, sizeof text,
             "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\",\"labels\":{\"step\":\"%s\"}},\"spec\":{\"containers\":[{"
             "\"name\":\"c\"}]},\"status\":{\"phase\":\"Pending\"}}",
             name, ns, step);
    gf_error err;
    if (gf_standin_put(s, text, &err)) fail_msg("put: %s", err.msg);
}

/* The kinds a cache watches by default: the six core ones and KAI's four. */
#define DEFAULT_KINDS __builtin_popcount(GF_KUBE_CACHE_DEFAULT_KINDS)

/* Steps until the stand-in serves n watches (the cache's, once synced). */
static void wait_watches(gf_kube_cache *c, gf_standin *s, int n)
{
    double deadline = now_s() + 10;
    while (gf_standin_open_watches(s) < n && now_s() < deadline) {
        gf_error e;
        gf_kube_cache_step(c, 20, &e);
    }
    assert_int_equal(gf_standin_open_watches(s), n);
}

static gf_kube_cache *cache_for(gf_kube *k, changes *ch, const char *ns)
{
    gf_kube_cache_opts o = {0, ns, on_change, ch, 0};
    gf_kube_cache *c;
    gf_error err = {0};
    if (gf_kube_cache_new(&c, k, &o, &err)) fail_msg("cache: %s", err.msg);
    if (gf_kube_cache_sync(c, 10000, &err)) fail_msg("sync: %s: %s", err.where, err.msg);
    return c;
}

static void test_cache_events(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    assert_true(gf_kube_cache_synced(c));
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_POD), FIXTURE_PODS);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_NODE), 4);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_DEPLOYMENT), 1);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_STATEFULSET), 1);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_REPLICASET), 1);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_PDB), 2);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_LEASE), 0); /* not cached */
    assert_int_equal(ch.n[GF_KUBE_ADDED], FIXTURE_PODS + 4 + 1 + 1 + 1 + 2);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)gf_standin_rv(s));
    assert_string_equal(gf_kube_cache_rv(c, GF_KUBE_NODE), want);
    const json_t *n = gf_kube_cache_get(c, GF_KUBE_NODE, NULL, "gpu-t4-a");
    assert_non_null(n);
    assert_string_equal(jpath(n, "kind"), "Node");
    uint64_t gen = gf_kube_cache_generation(c);
    /* ADDED, MODIFIED, DELETED */
    put_pod(s, "team-a", "new-0", "1");
    step_until(c, s, pod_count_is, (void *)(long)(FIXTURE_PODS + 1), "the new pod");
    assert_string_equal(ch.last, "ADDED Pod new-0");
    put_pod(s, "team-a", "debug-shell", "2");
    step_until(c, s, label_is, "2", "the modified pod");
    assert_string_equal(ch.last, "MODIFIED Pod debug-shell");
    gf_error err;
    assert_int_equal(gf_standin_remove(s, "Pod", "team-a", "new-0", &err), GF_OK);
    step_until(c, s, pod_count_is, (void *)(long)FIXTURE_PODS, "the deleted pod");
    assert_string_equal(ch.last, "DELETED Pod new-0");
    assert_null(gf_kube_cache_get(c, GF_KUBE_POD, "team-a", "new-0"));
    assert_true(gf_kube_cache_generation(c) >= gen + 3);
    step_until(c, s, pods_at_rv, NULL, "the pods' resourceVersion");
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    assert_int_equal(st.lists, DEFAULT_KINDS);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.relists_gone, 0);
    gf_kube_cache_free(c);
    /* a namespace only */
    memset(&ch, 0, sizeof ch);
    c = cache_for(k, &ch, "team-c");
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_POD), 2);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_NODE), 4); /* cluster-scoped */
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_DEPLOYMENT), 0);
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static bool rv_at_least(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)s;
    return strtoull(gf_kube_cache_rv(c, GF_KUBE_POD), NULL, 10) >= (unsigned long long)(long)arg;
}

static void test_cache_bookmarks(void **state)
{
    (void)state;
    gf_standin *s = standin(100, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    uint64_t gen = gf_kube_cache_generation(c);
    /* a change to a node moves the global resourceVersion; the pod watch
     * learns it from a bookmark, without any pod event */
    gf_error err;
    assert_int_equal(gf_standin_remove(s, "Node", NULL, "cpu-a", &err), GF_OK);
    uint64_t target = gf_standin_rv(s);
    step_until(c, s, rv_at_least, (void *)(long)target, "a bookmark's resourceVersion");
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    assert_true(st.bookmarks >= 1);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_POD), FIXTURE_PODS);
    assert_int_equal(gf_kube_cache_generation(c), gen + 1); /* the node only */
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static bool relisted(gf_kube_cache *c, gf_standin *s, void *arg)
{
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    return st.relists_gone >= (uint64_t)(long)arg &&
           gf_standin_count(s, "GET", "/api/v1/pods?watch=1", 410) == 1 &&
           pod_count_is(c, s, (void *)(long)(FIXTURE_PODS + 2)) && pods_at_rv(c, s, NULL);
}

static void test_cache_relist(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 5);
    gf_kube *k = client_for(s, TOKEN, NULL);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    wait_watches(c, s, DEFAULT_KINDS);
    /* open watches get an ERROR 410 event; changes made meanwhile arrive by
     * the relist */
    gf_standin_compact(s, true);
    put_pod(s, "team-a", "during-0", "x");
    step_until(c, s, pod_count_is, (void *)(long)(FIXTURE_PODS + 1), "relisted after ERROR 410");
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    assert_true(st.relists_gone >= 1);
    /* an HTTP 410 answer to a watch relists too */
    gf_standin_fault f = {"GET", "/api/v1/pods", 1, 1, 410, 0, 0, false};
    gf_standin_add_fault(s, &f);
    gf_standin_drop_watches(s);
    put_pod(s, "team-a", "during-1", "x");
    step_until(c, s, relisted, (void *)(long)(st.relists_gone + 1), "relisted after HTTP 410");
    assert_int_equal(gf_standin_count(s, "GET", "/api/v1/pods?watch=1", 410), 1);
    /* more changes than the window while disconnected: 410 again, and whole */
    gf_standin_fault fail = {"GET", "/api/v1/pods", 1, 2, 503, 0, 0, false};
    gf_standin_add_fault(s, &fail);
    gf_standin_drop_watches(s);
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "burst-%d", i);
        put_pod(s, "team-b", name, "x");
    }
    step_until(c, s, pod_count_is, (void *)(long)(FIXTURE_PODS + 10), "whole after a burst");
    step_until(c, s, pods_at_rv, NULL, "the burst's resourceVersion");
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static bool has_labels(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)arg;
    return label_is(c, s, "after-drop") &&
           gf_kube_cache_get(c, GF_KUBE_POD, "team-b", "added-while-down") &&
           !gf_kube_cache_get(c, GF_KUBE_POD, "team-c", "train-1");
}

static void test_cache_dropped_watch(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    wait_watches(c, s, DEFAULT_KINDS);
    char rv[100];
    snprintf(rv, sizeof rv, "/api/v1/pods?watch=1&resourceVersion=%s&",
             gf_kube_cache_rv(c, GF_KUBE_POD));
    /* connections break; changes happen before the cache notices */
    gf_standin_drop_watches(s);
    put_pod(s, "team-a", "debug-shell", "after-drop");
    put_pod(s, "team-b", "added-while-down", "x");
    gf_error err;
    assert_int_equal(gf_standin_remove(s, "Pod", "team-c", "train-1", &err), GF_OK);
    step_until(c, s, has_labels, NULL, "the changes made while the watch was down");
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    assert_int_equal(st.lists, DEFAULT_KINDS); /* resumed, not relisted */
    assert_int_equal(st.relists_gone, 0);
    assert_int_equal(st.events, 3);
    /* from where it was */
    assert_int_equal(gf_standin_count(s, "GET", rv, 200), 2);
    /* failing watch requests: backoff (Retry-After honoured), then whole */
    gf_standin_fault f429 = {"GET", "/api/v1/pods", 1, 1, 429, 1, 0, false};
    gf_standin_fault f500 = {"GET", "/api/v1/pods", 1, 2, 500, 0, 0, false};
    gf_standin_add_fault(s, &f500);
    gf_standin_add_fault(s, &f429);
    gf_standin_drop_watches(s);
    put_pod(s, "team-a", "debug-shell", "after-faults");
    step_until(c, s, label_is, "after-faults", "the change after failing watches");
    gf_kube_cache_get_stats(c, &st);
    assert_true(st.failures >= 3);
    assert_int_equal(st.lists, DEFAULT_KINDS);
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static bool silent_restarts_at_least(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)s;
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    return st.silent_restarts >= (uint64_t)(long)arg;
}

static bool bookmarks_at_least(gf_kube_cache *c, gf_standin *s, void *arg)
{
    (void)s;
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    return st.bookmarks >= (uint64_t)(long)arg;
}

/* A watch that answers 200 and then says nothing, not even a bookmark, is
 * started again after silence_s (the watchdog), from its resourceVersion;
 * the cache's age tells how long it has been deaf. Bookmarks alone keep a
 * quiet watch alive. */
static void test_cache_silent_watch(void **state)
{
    (void)state;
    gf_standin *s = standin(100, 0); /* a bookmark every 100 ms */
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_kube_cache_opts o = {GF_KUBE_KIND_BIT(GF_KUBE_POD), NULL, NULL, NULL, 3.0};
    gf_kube_cache *c;
    gf_error err = {0};
    assert_int_equal(gf_kube_cache_new(&c, k, &o, &err), GF_OK);
    assert_true(isinf(gf_kube_cache_age(c))); /* never heard from */
    assert_int_equal(gf_kube_cache_sync(c, 10000, &err), GF_OK);
    wait_watches(c, s, 1);
    step_until(c, s, bookmarks_at_least, (void *)5L, "five bookmarks");
    gf_kube_cache_stats st;
    gf_kube_cache_get_stats(c, &st);
    assert_int_equal(st.silent_restarts, 0);
    uint64_t watches = st.watches;

    gf_standin_set_silent(s, true);
    put_pod(s, "team-a", "debug-shell", "while-silent");
    step_until(c, s, silent_restarts_at_least, (void *)1L, "the silent watch started again");
    assert_true(gf_kube_cache_age(c) >= 3.0); /* nothing heard since */
    gf_kube_cache_get_stats(c, &st);
    assert_true(st.watches > watches);
    gf_standin_set_silent(s, false);
    step_until(c, s, label_is, "while-silent", "the change made while the watch was silent");
    assert_true(gf_kube_cache_age(c) < 3.0);
    gf_kube_cache_get_stats(c, &st);
    assert_true(st.failures >= st.silent_restarts);
    assert_int_equal(st.lists, 1); /* resumed, not relisted */
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static void test_cache_continue_expired(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube_options o;
    fast_options(&o);
    o.list_page_size = 5;
    gf_kube *k = client_for(s, TOKEN, &o);
    gf_kube_cache_opts co = {GF_KUBE_KIND_BIT(GF_KUBE_POD), NULL, NULL, NULL, 0};
    gf_kube_cache *c;
    gf_error err = {0};
    assert_int_equal(gf_kube_cache_new(&c, k, &co, &err), GF_OK);
    /* the first page, then a change before the next */
    double deadline = now_s() + 10;
    while (gf_standin_count(s, "GET", "/api/v1/pods?limit=5", 200) < 1 && now_s() < deadline)
        gf_kube_cache_step(c, 20, &err);
    put_pod(s, "team-a", "between-pages", "x");
    assert_int_equal(gf_kube_cache_sync(c, 10000, &err), GF_OK);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_POD), FIXTURE_PODS + 1);
    assert_true(gf_standin_count(s, "GET", "continue=", 410) >= 1);
    gf_kube_cache_free(c);
    /* a blocking list restarts too */
    json_t *items;
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, NULL, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), FIXTURE_PODS + 1);
    json_decref(items);
    gf_kube_free(k);
    gf_standin_stop(s);
}

/* KAI's kinds: served, they are listed and watched like the others; a
 * cluster without KAI's CRDs (404) leaves them empty and synced, a failure
 * neither for the sync nor for the cache's age (kube_cache.c list_done). */
static void test_cache_governance_kinds(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    gf_error err = {0};
    if (gf_standin_put(s,
                       "{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":"
                       "{\"name\":\"team-a\"},\"spec\":{\"resources\":{\"gpu\":{\"quota\":2,"
                       "\"limit\":-1,\"overQuotaWeight\":1}}}}",
                       &err))
        fail_msg("put: %s", err.msg);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_QUEUE), 1);
    assert_int_equal(gf_kube_cache_absent(c), 0);
    wait_watches(c, s, DEFAULT_KINDS);
    gf_kube_cache_free(c);
    /* no PodGroup CRD: 404 for every request on it */
    size_t watched = gf_standin_count(s, "GET", "podgroups?watch", 0);
    gf_standin_fault f = {"GET", "/apis/scheduling.run.ai/v2alpha2/podgroups", -1, 1000, 404, 0, 0,
                          false};
    gf_standin_add_fault(s, &f);
    memset(&ch, 0, sizeof ch);
    c = cache_for(k, &ch, NULL);
    assert_true(gf_kube_cache_synced(c));
    assert_int_equal(gf_kube_cache_absent(c), GF_KUBE_KIND_BIT(GF_KUBE_PODGROUP));
    assert_int_equal(gf_kube_cache_count(c, GF_KUBE_QUEUE), 1);
    /* every other kind is watched; the absent one is neither watched nor
     * asked again soon (one list, answered 404) */
    gf_kube_cache_stats st;
    double deadline = now_s() + 10;
    do {
        gf_kube_cache_step(c, 20, &err);
        gf_kube_cache_get_stats(c, &st);
    } while (st.watches < (uint64_t)DEFAULT_KINDS - 1 && now_s() < deadline);
    assert_true(st.watches >= (uint64_t)DEFAULT_KINDS - 1);
    assert_int_equal(gf_standin_count(s, "GET", "/apis/scheduling.run.ai/v2alpha2/podgroups", 404),
                     1);
    /* after the fault every podgroups request is answered 404: a watch of
     * the absent kind would be counted here. (Not the count of all podgroups
     * watches: the first cache's watch, cut when it was freed, may be
     * recorded as answered later, under ASan after the fault.) */
    assert_int_equal(gf_standin_count(s, "GET", "podgroups?watch", 404), 0);
    assert_true(gf_standin_count(s, "GET", "podgroups?watch", 0) >= watched);
    assert_true(gf_kube_cache_age(c) < 60);
    assert_int_equal(st.failures, 0);
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

static void test_cache_errors(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, "not-" TOKEN, NULL);
    gf_kube_cache *c;
    gf_error err = {0};
    assert_int_equal(gf_kube_cache_new(&c, k, NULL, &err), GF_OK);
    assert_error(gf_kube_cache_sync(c, 5000, &err), GF_KUBE_EAUTH, &err, "HTTP 401 Unauthorized");
    assert_false(gf_kube_cache_synced(c));
    gf_kube_cache_free(c);
    gf_kube_free(k);
    /* never synced within the time given */
    k = client_for(s, TOKEN, NULL);
    gf_standin_fault f = {"GET", "/api/v1/nodes", 0, 1000, 503, 0, 0, false};
    gf_standin_add_fault(s, &f);
    assert_int_equal(gf_kube_cache_new(&c, k, NULL, &err), GF_OK);
    assert_error(gf_kube_cache_sync(c, 300, &err), GF_EIO, &err, "HTTP 503 Service Unavailable");
    gf_kube_cache_free(c);
    gf_kube_cache_opts bad = {1u << 20, NULL, NULL, NULL, 0};
    assert_error(gf_kube_cache_new(&c, k, &bad, &err), GF_EUSAGE, &err, "unknown kinds");
    gf_kube_free(k);
    gf_standin_stop(s);
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The model through gf_snapshot_write, one line per object, sorted. */
static char *model_text(const gf_model *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gf_error err = {0};
    if (gf_snapshot_write(m, f, &err)) fail_msg("write: %s", err.msg);
    fclose(f);
    GF_VEC(char *) lines = {0};
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(l);
        while (n && (l[n - 1] == ',' || l[n - 1] == ' '))
            l[--n] = '\0';
        gf_vec_push(&lines, l);
    }
    qsort(lines.v, lines.n, sizeof *lines.v, strcmp_ptr);
    gf_sbuf out = GF_SBUF_INIT;
    for (size_t i = 0; i < lines.n; i++) {
        gf_sbuf_puts(&out, lines.v[i]);
        gf_sbuf_puts(&out, "\n");
    }
    gf_vec_free(&lines);
    free(buf);
    return out.s;
}

static void test_cache_model(void **state)
{
    (void)state;
    gf_standin *s = standin(0, 0);
    gf_kube *k = client_for(s, TOKEN, NULL);
    changes ch = {0};
    gf_kube_cache *c = cache_for(k, &ch, NULL);
    gf_model live, file;
    gf_model_init(&live);
    gf_model_init(&file);
    gf_diags d1, d2;
    gf_diags_init(&d1);
    gf_diags_init(&d2);
    gf_error err = {0};
    assert_int_equal(gf_kube_cache_model(c, &live, &d1, &err), GF_OK);
    static const char *names[] = {"nodes",       "pods",         "replicasets",
                                  "deployments", "statefulsets", "poddisruptionbudgets"};
    char paths[6][600];
    char *argv[6];
    for (int i = 0; i < 6; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/kube/%s.json", GF_FIXTURES, names[i]);
        argv[i] = paths[i];
    }
    assert_int_equal(gf_snapshot_load_files(&file, argv, 6, &d2, &err), GF_OK);
    assert_int_equal(live.pods.n, file.pods.n);
    assert_int_equal(live.nodes.n, file.nodes.n);
    assert_int_equal(live.workloads.n, file.workloads.n);
    assert_int_equal(live.pdbs.n, file.pdbs.n);
    assert_int_equal(live.gpus.n, file.gpus.n);
    char *a = model_text(&live), *b = model_text(&file);
    assert_string_equal(a, b);
    free(a);
    free(b);
    gf_totals t1, t2;
    gf_model_totals(&live, GF_NONE, &t1);
    gf_model_totals(&file, GF_NONE, &t2);
    assert_memory_equal(&t1, &t2, sizeof t1);
    assert_int_equal(d1.msgs.n, d2.msgs.n);
    /* the List itself */
    gf_sbuf list = GF_SBUF_INIT;
    assert_int_equal(gf_kube_cache_write_list(c, &list, &err), GF_OK);
    assert_non_null(strstr(list.s, "\"kind\":\"List\""));
    gf_sbuf_free(&list);
    gf_model_free(&live);
    gf_model_free(&file);
    gf_diags_free(&d1);
    gf_diags_free(&d2);
    gf_kube_cache_free(c);
    gf_kube_free(k);
    gf_standin_stop(s);
}

/* --- kube-standin, the program -----------------------------------------------------------------
 */

static void test_standin_program(void **state)
{
    (void)state;
    char bin[600];
    snprintf(bin, sizeof bin, "%s", GF_BIN);
    char *slash = strrchr(bin, '/');
    if (!slash) skip();
    snprintf(slash + 1, sizeof bin - (size_t)(slash + 1 - bin), "kube-standin");
    if (access(bin, X_OK) != 0) skip();
    char fixtures[600];
    snprintf(fixtures, sizeof fixtures, "%s/kube", GF_FIXTURES);
    int out[2];
    assert_int_equal(pipe(out), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(bin, bin, "--port", "0", "--fixtures", fixtures, "--token", TOKEN, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char url[128] = "";
    FILE *f = fdopen(out[0], "r");
    if (!fgets(url, sizeof url, f)) fail_msg("kube-standin printed nothing");
    fclose(f);
    url[strcspn(url, "\n")] = '\0';
    assert_non_null(strstr(url, "http://127.0.0.1:"));
    gf_kube_config c;
    gf_kube_config_init(&c);
    c.server = gf_xstrdup(url);
    c.token = gf_xstrdup(TOKEN);
    gf_kube *k;
    gf_error err = {0};
    gf_kube_options o;
    fast_options(&o);
    assert_int_equal(gf_kube_new(&k, &c, &o, &err), GF_OK);
    json_t *items;
    assert_int_equal(gf_kube_list(k, GF_KUBE_POD, NULL, &items, NULL, &err), GF_OK);
    assert_int_equal(json_array_size(items), FIXTURE_PODS);
    json_decref(items);
    /* a fault through the control endpoint */
    gf_kube_reply r = {0};
    assert_int_equal(gf_kube_request(k, "POST", "/standin/faults", "application/json",
                                     "{\"path\":\"/api/v1/nodes\",\"status\":503,\"count\":1}", &r,
                                     &err),
                     GF_OK);
    assert_int_equal(gf_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &r, &err), GF_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(gf_kube_request(k, "GET", "/standin/requests", NULL, NULL, &r, &err), GF_OK);
    assert_non_null(strstr(r.body.s, "GET /api/v1/nodes 503"));
    gf_kube_reply_free(&r);
    gf_kube_free(k);
    gf_kube_config_free(&c);
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    /* no proxy from the environment between the client and 127.0.0.1 */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_token),
        cmocka_unit_test(test_kubeconfig_cert_data),
        cmocka_unit_test(test_kubeconfig_bad),
        cmocka_unit_test(test_kubeconfig_aliases),
        cmocka_unit_test(test_kubeconfig_files),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_in_cluster_rotation),
        cmocka_unit_test(test_get_and_list),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_write_guard),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_cache_events),
        cmocka_unit_test(test_cache_bookmarks),
        cmocka_unit_test(test_cache_relist),
        cmocka_unit_test(test_cache_dropped_watch),
        cmocka_unit_test(test_cache_silent_watch),
        cmocka_unit_test(test_cache_continue_expired),
        cmocka_unit_test(test_cache_errors),
        cmocka_unit_test(test_cache_governance_kinds),
        cmocka_unit_test(test_cache_model),
        cmocka_unit_test(test_standin_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
