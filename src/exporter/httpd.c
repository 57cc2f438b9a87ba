/* httpd.c - /metrics and /healthz over libmicrohttpd, see httpd.h. */
#include "exporter/httpd.h"
#include "io/http_server.h"
#include "exporter/metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gf_httpd {
    struct MHD_Daemon *d;
    gf_collector *c;
    double min_interval_s;
    pthread_mutex_t lock; /* guards everything below and the collector */
    gf_scrape scrape;
    gf_sbuf text;
    double last; /* monotonic time of the cached text, < 0 none */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

gf_err gf_httpd_parse_listen(const char *listen, char *host, size_t host_n, unsigned *port,
                             gf_error *err)
{
    return gf_http_parse_listen(listen, host, host_n, port, err); /* one parser for both servers */
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_metrics(gf_httpd *h, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&h->lock);
    double t = now_s();
    if (h->last < 0 || t - h->last >= h->min_interval_s) {
        gf_collect(h->c, &h->scrape);
        h->text.len = 0;
        if (h->text.s) h->text.s[0] = '\0';
        gf_metrics_render(&h->scrape, &h->text);
        h->last = t;
    }
    enum MHD_Result ret =
        reply(conn, MHD_HTTP_OK, GF_METRICS_CONTENT_TYPE, gf_sbuf_str(&h->text), h->text.len);
    pthread_mutex_unlock(&h->lock);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    gf_httpd *h = cls;
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        static const char msg[] = "method not allowed\n";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, text);
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (!strcmp(url, "/metrics")) return serve_metrics(h, conn);
    if (!strcmp(url, "/healthz")) return reply(conn, MHD_HTTP_OK, text, "ok\n", 3);
    if (!strcmp(url, "/")) {
        static const char msg[] = "gpufrac-exporter: metrics at /metrics, health at /healthz\n";
        return reply(conn, MHD_HTTP_OK, text, msg, sizeof msg - 1);
    }
    static const char nf[] = "not found\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, text, nf, sizeof nf - 1);
}

gf_err gf_httpd_start(const char *listen, gf_collector *c, double min_interval_s, gf_httpd **out,
                      char *bound, size_t bound_n, gf_error *err)
{
    *out = NULL;
    gf_httpd *h = gf_xcalloc(1, sizeof *h);
    h->c = c;
    h->min_interval_s = min_interval_s;
    h->last = -1;
    gf_scrape_init(&h->scrape);
    pthread_mutex_init(&h->lock, NULL);
    gf_err rc = gf_http_listen(listen, handler, h, &h->d, bound, bound_n, err);
    if (rc) {
        gf_httpd_stop(h);
        return rc;
    }
    *out = h;
    return GF_OK;
}

void gf_httpd_stop(gf_httpd *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->lock);
    gf_scrape_free(&h->scrape);
    gf_sbuf_free(&h->text);
    free(h);
}
