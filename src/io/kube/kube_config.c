/* kube_config.c - where the API server is and how to authenticate to it (see
 * kube.h): a kubeconfig (kubectl's format, client-go's
 * tools/clientcmd/api/v1 types) or the in-cluster service account
 * (client-go's rest.InClusterConfig).
 *
 * The kubeconfig is read with libyaml's document API; the walk descends only
 * where the format has fields (root -> clusters/contexts/users -> item ->
 * fields), so aliases and deep nesting cost nothing. Errors carry the
 * file:line:column of the node at fault. */
#include "io/kube/kube_private.h"
#include "io/yaml_error.h"
#include "io/input.h"
#include "io/kube/kube_private.h"
#include "io/yaml_alias.h"
#include "io/yaml_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define KUBECONFIG_MAX_BYTES (4u << 20)
/* aliases expanded (yaml_alias.h); 4 MiB of text without aliases is at most
 * about 2 million nodes */
#define KUBECONFIG_MAX_NODES ((size_t)4 << 20)
#define DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

void gf_kube_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void gf_kube_free_secret(char *s)
{
    if (!s) return;
    gf_kube_wipe(s, strlen(s));
    free(s);
}

static void blob_free(gf_kube_blob *b)
{
    if (b->data) gf_kube_wipe(b->data, b->len);
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void gf_kube_config_init(gf_kube_config *c)
{
    memset(c, 0, sizeof *c);
}

void gf_kube_config_free(gf_kube_config *c)
{
    if (!c) return;
    free(c->server);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->token_file);
    free(c->ns);
    gf_kube_free_secret(c->token);
    blob_free(&c->ca_data);
    blob_free(&c->cert_data);
    blob_free(&c->key_data);
    gf_kube_config_init(c);
}

/* --- the YAML walk -------------------------------------------------------------------- */

typedef struct walk {
    yaml_document_t *doc;
    gf_error *err;
    const char *file;
    char path[256];
} walk;

static gf_err fail_at(walk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static gf_err fail_at(walk *w, const yaml_node_t *n, const char *fmt, ...)
{
    char where[700], msg[512];
    if (n)
        snprintf(where, sizeof where, "%.400s:%zu:%zu%s%s", w->file, n->start_mark.line + 1,
                 n->start_mark.column + 1, w->path[0] ? ": " : "", w->path);
    else
        snprintf(where, sizeof where, "%.400s%s%s", w->file, w->path[0] ? ": " : "", w->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gf_error_set(w->err, GF_EINPUT, where, "%s", msg);
}

static const char *describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        return "a scalar";
    default:
        return "nothing";
    }
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The value of key in mapping n, or NULL (absent or null). A key given twice
 * is an error (*rc). */
static yaml_node_t *map_get(walk *w, yaml_node_t *n, const char *key, gf_err *rc)
{
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) continue;
        if (strlen((const char *)k->data.scalar.value) != k->data.scalar.length) continue;
        if (strcmp((const char *)k->data.scalar.value, key)) continue;
        if (found) {
            *rc = fail_at(w, k, "key \"%s\" given twice", key);
            return NULL;
        }
        found = yaml_document_get_node(w->doc, p->value);
    }
    return found && !is_null(found) ? found : NULL;
}

/* A string field; *out NULL when absent. */
static gf_err get_str(walk *w, yaml_node_t *map, const char *key, const char **out)
{
    gf_err rc = GF_OK;
    *out = NULL;
    yaml_node_t *v = map_get(w, map, key, &rc);
    if (rc || !v) return rc;
    size_t saved = strlen(w->path);
    snprintf(w->path + saved, sizeof w->path - saved, ".%s", key);
    if (v->type != YAML_SCALAR_NODE) {
        rc = fail_at(w, v, "expected a string, got %s", describe(v));
    } else if (strlen((const char *)v->data.scalar.value) != v->data.scalar.length) {
        rc = fail_at(w, v, "contains a NUL character");
    } else {
        *out = (const char *)v->data.scalar.value;
    }
    w->path[saved] = '\0';
    return rc;
}

static gf_err get_bool(walk *w, yaml_node_t *map, const char *key, bool *out)
{
    gf_err rc = GF_OK;
    yaml_node_t *v = map_get(w, map, key, &rc);
    if (rc || !v) return rc;
    const char *s = (const char *)v->data.scalar.value;
    if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))) {
        *out = true;
        return GF_OK;
    }
    if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))) {
        *out = false;
        return GF_OK;
    }
    size_t saved = strlen(w->path);
    snprintf(w->path + saved, sizeof w->path - saved, ".%s", key);
    rc = v->type == YAML_SCALAR_NODE ? fail_at(w, v, "expected true or false, got \"%.40s\"", s)
                                     : fail_at(w, v, "expected true or false, got %s", describe(v));
    w->path[saved] = '\0';
    return rc;
}

/* Standard base64 (RFC 4648 section 4); line breaks and spaces skipped,
 * padding optional. The -data fields of a kubeconfig are []byte in Go, which
 * JSON and YAML carry as base64. */
static gf_err decode_base64(walk *w, const yaml_node_t *at, const char *s, gf_kube_blob *out)
{
    size_t n = strlen(s);
    unsigned char *buf = gf_xmalloc(n / 4 * 3 + 3);
    size_t o = 0, pad = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int v;
        if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad) {
            gf_kube_wipe(buf, o);
            free(buf);
            return fail_at(w, at, "not valid base64: data after '=' padding (offset %zu)", i);
        }
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+')
            v = 62;
        else if (ch == '/')
            v = 63;
        else {
            gf_kube_wipe(buf, o);
            free(buf);
            if (ch >= 0x20 && ch < 0x7f)
                return fail_at(w, at, "not valid base64: '%c' at offset %zu", ch, i);
            return fail_at(w, at, "not valid base64: byte 0x%02x at offset %zu", ch, i);
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    if (bits >= 6 || pad > 2) {
        gf_kube_wipe(buf, o);
        free(buf);
        return fail_at(w, at, "not valid base64: truncated");
    }
    if (o == 0) {
        free(buf);
        return fail_at(w, at, "empty after base64 decoding");
    }
    out->data = buf;
    out->len = o;
    return GF_OK;
}

/* A -data field into *out (decoded). */
static gf_err get_data(walk *w, yaml_node_t *map, const char *key, gf_kube_blob *out)
{
    const char *s;
    gf_err rc = get_str(w, map, key, &s);
    if (rc || !s) return rc;
    gf_err dummy = GF_OK;
    const yaml_node_t *at = map_get(w, map, key, &dummy);
    size_t saved = strlen(w->path);
    snprintf(w->path + saved, sizeof w->path - saved, ".%s", key);
    rc = decode_base64(w, at, s, out);
    w->path[saved] = '\0';
    return rc;
}

/* path, made absolute against base_dir (kubectl resolves a kubeconfig's
 * relative paths against the kubeconfig's own folder). */
static char *resolve_path(const char *path, const char *base_dir)
{
    gf_sbuf b = GF_SBUF_INIT;
    if (path[0] == '/') {
        gf_sbuf_puts(&b, path);
        return b.s;
    }
    if (base_dir && base_dir[0] == '/') {
        gf_sbuf_puts(&b, base_dir);
    } else {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd)) gf_sbuf_puts(&b, cwd);
        if (base_dir && *base_dir && strcmp(base_dir, ".")) {
            gf_sbuf_puts(&b, "/");
            gf_sbuf_puts(&b, base_dir);
        }
    }
    if (b.len && b.s[b.len - 1] != '/') gf_sbuf_puts(&b, "/");
    gf_sbuf_puts(&b, path);
    return b.s;
}

/* The entry of list key (clusters, contexts, users) named name: its inner
 * mapping (entry.cluster / .context / .user) into *out, NULL when absent. */
static gf_err find_named(walk *w, yaml_node_t *root, const char *list_key, const char *inner_key,
                         const char *name, yaml_node_t **out, size_t *index)
{
    *out = NULL;
    gf_err rc = GF_OK;
    yaml_node_t *list = map_get(w, root, list_key, &rc);
    if (rc || !list) return rc;
    snprintf(w->path, sizeof w->path, "%s", list_key);
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(w, list, "expected a list, got %s", describe(list));
    size_t i = 0;
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = yaml_document_get_node(w->doc, *it);
        snprintf(w->path, sizeof w->path, "%s[%zu]", list_key, i);
        if (!e || e->type != YAML_MAPPING_NODE)
            return fail_at(w, e, "expected a mapping with name and %s, got %s", inner_key,
                           e ? describe(e) : "nothing");
        const char *n;
        if ((rc = get_str(w, e, "name", &n))) return rc;
        if (!n) return fail_at(w, e, "entry without a name");
        if (strcmp(n, name)) continue;
        if (*out) return fail_at(w, e, "a second %.20s entry named \"%.100s\"", list_key, name);
        yaml_node_t *inner = map_get(w, e, inner_key, &rc);
        if (rc) return rc;
        if (!inner) return fail_at(w, e, "entry \"%.100s\" has no %s", name, inner_key);
        snprintf(w->path, sizeof w->path, "%s[%zu].%s", list_key, i, inner_key);
        if (inner->type != YAML_MAPPING_NODE)
            return fail_at(w, inner, "expected a mapping, got %s", describe(inner));
        *out = inner;
        *index = i;
    }
    return GF_OK;
}

/* The names in list key, for "known: a, b" hints. */
static void names_of(walk *w, yaml_node_t *root, const char *list_key, char *buf, size_t n)
{
    gf_err rc = GF_OK;
    buf[0] = '\0';
    yaml_node_t *list = map_get(w, root, list_key, &rc);
    if (!list || list->type != YAML_SEQUENCE_NODE) return;
    size_t o = 0;
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top && o + 4 < n; it++) {
        yaml_node_t *e = yaml_document_get_node(w->doc, *it);
        if (!e || e->type != YAML_MAPPING_NODE) continue;
        yaml_node_t *nm = map_get(w, e, "name", &rc);
        if (!nm || nm->type != YAML_SCALAR_NODE) continue;
        int k = snprintf(buf + o, n - o, "%s\"%.60s\"", o ? ", " : "",
                         (const char *)nm->data.scalar.value);
        if (k < 0) break;
        o += (size_t)k;
        if (o >= n) o = n - 1;
    }
}

static gf_err load_cluster(walk *w, yaml_node_t *cl, const char *base_dir, gf_kube_config *c)
{
    const char *server, *ca;
    gf_err rc;
    if ((rc = get_str(w, cl, "server", &server))) return rc;
    if (!server || !*server) return fail_at(w, cl, "no server");
    if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
        return fail_at(w, cl, "server \"%.200s\" must start with https:// or http://", server);
    const char *host = strstr(server, "://") + 3;
    if (!*host || *host == '/') return fail_at(w, cl, "server \"%.200s\" names no host", server);
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    c->server = gf_xmalloc(n + 1);
    memcpy(c->server, server, n);
    c->server[n] = '\0';
    if ((rc = get_bool(w, cl, "insecure-skip-tls-verify", &c->insecure))) return rc;
    if ((rc = get_str(w, cl, "certificate-authority", &ca))) return rc;
    if (ca && *ca) c->ca_file = resolve_path(ca, base_dir);
    if ((rc = get_data(w, cl, "certificate-authority-data", &c->ca_data))) return rc;
    if (c->insecure && (c->ca_file || c->ca_data.data))
        /* client-go refuses this combination too ("specifying a root
         * certificates file with the insecure flag is not allowed") */
        return fail_at(w, cl,
                       "insecure-skip-tls-verify together with a certificate-authority; keep "
                       "one");
    return GF_OK;
}

static gf_err load_user(walk *w, yaml_node_t *u, const char *user_name, const char *base_dir,
                        gf_kube_config *c)
{
    const char *token, *token_file, *cert, *key, *s;
    gf_err rc;
    if ((rc = get_str(w, u, "token", &token))) return rc;
    if ((rc = get_str(w, u, "tokenFile", &token_file))) return rc;
    if ((rc = get_str(w, u, "client-certificate", &cert))) return rc;
    if ((rc = get_str(w, u, "client-key", &key))) return rc;
    if ((rc = get_data(w, u, "client-certificate-data", &c->cert_data))) return rc;
    if ((rc = get_data(w, u, "client-key-data", &c->key_data))) return rc;
    /* client-go: a token takes precedence over tokenFile */
    if (token && *token)
        c->token = gf_xstrdup(token);
    else if (token_file && *token_file)
        c->token_file = resolve_path(token_file, base_dir);
    if (cert && *cert) c->cert_file = resolve_path(cert, base_dir);
    if (key && *key) c->key_file = resolve_path(key, base_dir);
    bool has_cert = c->cert_file || c->cert_data.data;
    bool has_key = c->key_file || c->key_data.data;
    if (has_cert != has_key)
        return fail_at(w, u, "user \"%.100s\" has a client %s but no client %s", user_name,
                       has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
    if (c->token || c->token_file || has_cert) return GF_OK;
    gf_err dummy = GF_OK;
    if (map_get(w, u, "exec", &dummy)) {
        yaml_node_t *ex = map_get(w, u, "exec", &dummy);
        const char *cmd = NULL;
        if (ex && ex->type == YAML_MAPPING_NODE) get_str(w, ex, "command", &cmd);
        return fail_at(w, u,
                       "user \"%.100s\" authenticates with an exec plugin (command \"%.100s\"), "
                       "which gpufrac does not run; use a token, a tokenFile or a client "
                       "certificate (e.g. a ServiceAccount token)",
                       user_name, cmd ? cmd : "?");
    }
    if (map_get(w, u, "auth-provider", &dummy))
        return fail_at(w, u,
                       "user \"%.100s\" authenticates with an auth-provider, which gpufrac does "
                       "not support; use a token, a tokenFile or a client certificate",
                       user_name);
    if ((rc = get_str(w, u, "username", &s))) return rc;
    if (s)
        return fail_at(w, u,
                       "user \"%.100s\" uses basic authentication (username/password), which "
                       "gpufrac does not support; use a token or a client certificate",
                       user_name);
    return GF_OK; /* no credentials: anonymous requests */
}

static gf_err load_document(walk *w, yaml_node_t *root, const char *base_dir, const char *context,
                            gf_kube_config *c)
{
    gf_err rc = GF_OK;
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(w, root, "expected a kubeconfig (a mapping with kind: Config), got %s",
                       describe(root));
    const char *kind, *current;
    if ((rc = get_str(w, root, "kind", &kind))) return rc;
    if (kind && strcmp(kind, "Config"))
        return fail_at(w, root, "kind is \"%.100s\"; a kubeconfig has kind: Config", kind);
    if ((rc = get_str(w, root, "current-context", &current))) return rc;
    const char *ctx_name = context && *context ? context : current;
    if (!ctx_name || !*ctx_name)
        return fail_at(w, root, "no current-context is set and no context was named");

    char known[300];
    yaml_node_t *ctx, *cl, *user = NULL;
    size_t ci = 0, cli = 0, ui = 0;
    if ((rc = find_named(w, root, "contexts", "context", ctx_name, &ctx, &ci))) return rc;
    w->path[0] = '\0';
    if (!ctx) {
        names_of(w, root, "contexts", known, sizeof known);
        return fail_at(w, NULL, "context \"%.100s\" is not in contexts (%s%s)", ctx_name,
                       known[0] ? "known: " : "there are none", known);
    }
    const char *cluster_name, *user_name, *ns;
    snprintf(w->path, sizeof w->path, "contexts[%zu].context", ci);
    if ((rc = get_str(w, ctx, "cluster", &cluster_name))) return rc;
    if ((rc = get_str(w, ctx, "user", &user_name))) return rc;
    if ((rc = get_str(w, ctx, "namespace", &ns))) return rc;
    if (!cluster_name || !*cluster_name)
        return fail_at(w, ctx, "context \"%.100s\" names no cluster", ctx_name);
    /* copied: the next lookups reuse w->path and keep nodes alive anyway */
    char cname[256], uname[256];
    snprintf(cname, sizeof cname, "%s", cluster_name);
    snprintf(uname, sizeof uname, "%s", user_name ? user_name : "");

    if ((rc = find_named(w, root, "clusters", "cluster", cname, &cl, &cli))) return rc;
    if (!cl) {
        w->path[0] = '\0';
        names_of(w, root, "clusters", known, sizeof known);
        return fail_at(w, NULL,
                       "context \"%.100s\" names cluster \"%.100s\", which is not in "
                       "clusters (%s%s)",
                       ctx_name, cname, known[0] ? "known: " : "there are none", known);
    }
    if (uname[0]) {
        if ((rc = find_named(w, root, "users", "user", uname, &user, &ui))) return rc;
        if (!user) {
            w->path[0] = '\0';
            names_of(w, root, "users", known, sizeof known);
            return fail_at(w, NULL,
                           "context \"%.100s\" names user \"%.100s\", which is not in "
                           "users (%s%s)",
                           ctx_name, uname, known[0] ? "known: " : "there are none", known);
        }
    }
    snprintf(w->path, sizeof w->path, "clusters[%zu].cluster", cli);
    if ((rc = load_cluster(w, cl, base_dir, c))) return rc;
    if (user) {
        snprintf(w->path, sizeof w->path, "users[%zu].user", ui);
        if ((rc = load_user(w, user, uname, base_dir, c))) return rc;
    }
    c->ns = gf_xstrdup(ns && *ns ? ns : "default");
    snprintf(c->origin, sizeof c->origin, "kubeconfig %.400s, context %.150s", w->file, ctx_name);
    return GF_OK;
}

gf_err gf_kube_config_parse(gf_kube_config *c, const char *name, const char *text, size_t len,
                            const char *base_dir, const char *context, gf_error *err)
{
    gf_kube_config_free(c);
    if (!name) name = "kubeconfig";
    walk w = {.err = err, .file = name};
    if (len > KUBECONFIG_MAX_BYTES)
        return gf_error_set(err, GF_EINPUT, name, "%zu bytes, more than the %u a kubeconfig may be",
                            len, KUBECONFIG_MAX_BYTES);
    gf_err alias_rc = gf_yaml_check_aliases(name, text, text ? len : 0, KUBECONFIG_MAX_NODES, err);
    if (alias_rc) return alias_rc;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return gf_error_set(err, GF_EINTERNAL, name, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""),
                                 text ? len : 0);
    gf_err rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = gf_yaml_error(&parser, name, text, text ? len : 0, err);
    } else {
        w.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root)
            rc = gf_error_set(err, GF_EINPUT, name, "empty kubeconfig");
        else
            rc = load_document(&w, root, base_dir, context, c);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc) gf_kube_config_free(c);
    return rc;
}

gf_err gf_kube_config_load_file(gf_kube_config *c, const char *path, const char *context,
                                gf_error *err)
{
    char chosen[4096];
    if (path && *path) {
        snprintf(chosen, sizeof chosen, "%s", path);
    } else {
        const char *env = getenv("KUBECONFIG");
        /* KUBECONFIG is a list (':' on Unix) that kubectl merges; only its
         * first non-empty entry is read here */
        size_t skip = env ? strspn(env, ":") : 0;
        if (env && env[skip]) {
            snprintf(chosen, sizeof chosen, "%.*s", (int)strcspn(env + skip, ":"), env + skip);
        } else {
            const char *home = getenv("HOME");
            if (!home || !*home)
                return gf_error_set(err, GF_EUSAGE, NULL,
                                    "no kubeconfig: KUBECONFIG and HOME are not set");
            snprintf(chosen, sizeof chosen, "%s/.kube/config", home);
        }
    }
    gf_sbuf b = GF_SBUF_INIT;
    gf_err rc = gf_input_read(chosen, "kubeconfig", KUBECONFIG_MAX_BYTES, &b, err);
    if (!rc) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", chosen);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        rc = gf_kube_config_parse(c, chosen, b.s, b.len, dir, context, err);
    }
    if (b.s) gf_kube_wipe(b.s, b.len); /* held tokens and keys */
    gf_sbuf_free(&b);
    return rc;
}

gf_err gf_kube_config_in_cluster(gf_kube_config *c, const char *dir, gf_error *err)
{
    gf_kube_config_free(c);
    if (!dir || !*dir) dir = DEFAULT_SA_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "not in a cluster: KUBERNETES_SERVICE_HOST and "
                            "KUBERNETES_SERVICE_PORT are not both set");
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return gf_error_set(err, GF_EINPUT, "KUBERNETES_SERVICE_PORT", "\"%.20s\" is not a port",
                            port);
    if (strpbrk(host, "/?#@[] "))
        return gf_error_set(err, GF_EINPUT, "KUBERNETES_SERVICE_HOST",
                            "\"%.100s\" is not a host name or address", host);
    gf_sbuf b = GF_SBUF_INIT;
    /* an IPv6 address needs brackets in a URL */
    gf_sbuf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->server = b.s;
    b = (gf_sbuf)GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%s/token", dir);
    c->token_file = b.s;
    b = (gf_sbuf)GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%s/ca.crt", dir);
    c->ca_file = b.s;
    b = (gf_sbuf)GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%s/namespace", dir);
    gf_sbuf ns = GF_SBUF_INIT;
    gf_error ignored;
    if (gf_input_read(b.s, "namespace file", 4096, &ns, &ignored) == GF_OK && ns.len) {
        size_t n = ns.len;
        while (n > 0 && (ns.s[n - 1] == '\n' || ns.s[n - 1] == '\r' || ns.s[n - 1] == ' '))
            n--;
        ns.s[n] = '\0';
    }
    c->ns = gf_xstrdup(ns.len && ns.s[0] ? ns.s : "default");
    gf_sbuf_free(&ns);
    gf_sbuf_free(&b);
    snprintf(c->origin, sizeof c->origin, "in-cluster service account (%.500s)", dir);
    return GF_OK;
}

gf_err gf_kube_config_auto(gf_kube_config *c, const char *path, const char *context, gf_error *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (!path && !context && host && *host) return gf_kube_config_in_cluster(c, NULL, err);
    return gf_kube_config_load_file(c, path, context, err);
}
