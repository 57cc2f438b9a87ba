/* standin_main.c - `kube-standin`: the stand-in Kubernetes API server
 * (standin.h) as a program, for command-line and end-to-end tests.
 *
 *   kube-standin --port P --fixtures DIR [--token T] [--window N]
 *                [--bookmark-ms MS] [--tls-cert PEM --tls-key PEM]
 *
 * Prints its URL ("http://127.0.0.1:P") on a line of its own once it
 * serves, then runs until SIGINT or SIGTERM. Exit codes: 0 stopped by a
 * signal, 1 cannot start, 2 usage or bad fixtures. */
#include "standin.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fputs("usage: kube-standin --port P --fixtures DIR [--token T] [--window N]\n"
          "                    [--bookmark-ms MS] [--tls-cert FILE --tls-key FILE]\n"
          "  --port P         listen on 127.0.0.1:P (0: any free port)\n"
          "  --fixtures DIR   load every *.json in DIR (objects, Lists) before serving;\n"
          "                   a single .json file works too\n"
          "  --token T        require 'Authorization: Bearer T' (401 without it)\n"
          "  --window N       watch events retained; older resourceVersions get 410 (1000)\n"
          "  --bookmark-ms MS BOOKMARK period on idle watches (1000)\n"
          "  --tls-cert/--tls-key  serve HTTPS with this PEM certificate and key\n"
          "Prints the URL when ready; control endpoints: see tests/standin/standin.h.\n",
          f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    gf_standin_opts o = {0};
    const char *fixtures = NULL, *cert_path = NULL, *key_path = NULL;
    long port = -1, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!val) {
            fprintf(stderr, "kube-standin: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--port") && parse_int(val, 0, 65535, &v)) {
            port = v;
        } else if (!strcmp(a, "--fixtures")) {
            fixtures = val;
        } else if (!strcmp(a, "--token")) {
            o.token = val;
        } else if (!strcmp(a, "--window") && parse_int(val, 1, 100000000, &v)) {
            o.window = (size_t)v;
        } else if (!strcmp(a, "--bookmark-ms") && parse_int(val, 1, 3600000, &v)) {
            o.bookmark_ms = (int)v;
        } else if (!strcmp(a, "--tls-cert")) {
            cert_path = val;
        } else if (!strcmp(a, "--tls-key")) {
            key_path = val;
        } else {
            fprintf(stderr, "kube-standin: bad option or value: %s %s\n", a, val);
            usage(stderr);
            return 2;
        }
    }
    if (port < 0 || !fixtures) {
        fprintf(stderr, "kube-standin: --port and --fixtures are required\n");
        usage(stderr);
        return 2;
    }
    if (!cert_path != !key_path) {
        fprintf(stderr, "kube-standin: --tls-cert and --tls-key go together\n");
        return 2;
    }
    char *cert = NULL, *key = NULL;
    if (cert_path) {
        cert = read_text(cert_path);
        key = read_text(key_path);
        if (!cert || !key) {
            fprintf(stderr, "kube-standin: cannot read %s: %s\n", cert ? key_path : cert_path,
                    strerror(errno));
            free(cert);
            free(key);
            return 2;
        }
        o.tls_cert_pem = cert;
        o.tls_key_pem = key;
    }
    o.port = (int)port;
    /* SIGINT/SIGTERM blocked (in the server's threads too, which inherit
     * the mask) except inside sigsuspend: none is lost or taken elsewhere */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    gf_error err = {0};
    gf_standin *s;
    gf_err rc = gf_standin_start(&s, &o, &err);
    free(cert);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    char msg[1100];
    if (rc) {
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "kube-standin: %s\n", msg);
        return 1;
    }
    if ((rc = gf_standin_load(s, fixtures, &err))) {
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "kube-standin: %s\n", msg);
        gf_standin_stop(s);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("%s\n", gf_standin_url(s));
    fflush(stdout);
    while (!stop)
        sigsuspend(&old);
    gf_standin_stop(s);
    return 0;
}
