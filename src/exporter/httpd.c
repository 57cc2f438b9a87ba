/* httpd.c - /metrics and /healthz over libmicrohttpd, see httpd.h. */
#include "httpd.h"
#include "io/http_server.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 30

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
    char host[256];
    unsigned port;
    gf_err rc = gf_httpd_parse_listen(listen, host, sizeof host, &port, err);
    if (rc) return rc;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    bool any = !*host;
    if (!any) {
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        int e = getaddrinfo(host, NULL, &hints, &ai);
        if (e || !ai)
            return gf_error_set(err, GF_EUSAGE, listen, "cannot resolve \"%s\": %s", host,
                                e ? gai_strerror(e) : "no address");
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (ss.ss_family == AF_INET6) {
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
            flags |= MHD_USE_IPv6;
        } else {
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        }
    }

    gf_httpd *h = gf_xcalloc(1, sizeof *h);
    h->c = c;
    h->min_interval_s = min_interval_s;
    h->last = -1;
    gf_scrape_init(&h->scrape);
    pthread_mutex_init(&h->lock, NULL);
    if (any) {
        /* every address: IPv6 with IPv4 mapped, else IPv4 alone */
        h->d = MHD_start_daemon(flags | MHD_USE_DUAL_STACK, (uint16_t)port, NULL, NULL, handler, h,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                MHD_OPTION_END);
        if (!h->d)
            h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, h,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                    MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    }
    if (!h->d) {
        int e = errno;
        gf_httpd_stop(h);
        return gf_error_set(err, GF_EIO, listen, "cannot listen: %s",
                            e ? strerror(e) : "libmicrohttpd refused to start");
    }
    if (bound && bound_n) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage got;
        socklen_t gl = sizeof got;
        char addr[INET6_ADDRSTRLEN] = "?";
        unsigned got_port = port;
        if (info && getsockname(info->listen_fd, (struct sockaddr *)&got, &gl) == 0) {
            if (got.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&got;
                inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
                got_port = ntohs(a->sin6_port);
            } else {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&got;
                inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
                got_port = ntohs(a->sin_port);
            }
        }
        if (strchr(addr, ':'))
            snprintf(bound, bound_n, "[%s]:%u", addr, got_port);
        else
            snprintf(bound, bound_n, "%s:%u", addr, got_port);
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
