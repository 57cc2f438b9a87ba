/* http_server.c - published pages over libmicrohttpd, see http_server.h. */
#include "io/http_server.h"
#include "util/sbuf.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_PAGES 16

typedef struct page {
    char path[128];
    unsigned status;
    char content_type[96];
    gf_sbuf body;
} page;

struct gf_http_server {
    struct MHD_Daemon *d;
    pthread_mutex_t lock; /* guards pages */
    page pages[MAX_PAGES];
    size_t n_pages;
};

gf_err gf_http_parse_listen(const char *listen, char *host, size_t host_n, unsigned *port,
                            gf_error *err)
{
    if (!listen || !*listen)
        return gf_error_set(err, GF_EUSAGE, NULL, "empty listen address (expected ADDR:PORT)");
    const char *h = listen, *colon;
    size_t hl;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return gf_error_set(err, GF_EUSAGE, listen, "bad listen address: expected [IPV6]:PORT");
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return gf_error_set(err, GF_EUSAGE, listen,
                                "bad listen address: expected ADDR:PORT or :PORT");
        hl = (size_t)(colon - listen);
        if (memchr(listen, ':', hl))
            return gf_error_set(err, GF_EUSAGE, listen,
                                "bad listen address: write IPv6 addresses in brackets, "
                                "[::1]:PORT");
    }
    if (hl >= host_n) return gf_error_set(err, GF_EUSAGE, listen, "listen host too long");
    memcpy(host, h, hl);
    host[hl] = '\0';
    const char *ps = colon + 1;
    unsigned long v = 0;
    if (!*ps) return gf_error_set(err, GF_EUSAGE, listen, "bad listen address: no port");
    for (const char *q = ps; *q; q++) {
        if (*q < '0' || *q > '9' || v > 65535)
            return gf_error_set(err, GF_EUSAGE, listen, "bad port \"%s\": expected 0..65535", ps);
        v = v * 10 + (unsigned long)(*q - '0');
    }
    if (v > 65535)
        return gf_error_set(err, GF_EUSAGE, listen, "bad port \"%s\": expected 0..65535", ps);
    *port = (unsigned)v;
    return GF_OK;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len, bool allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    gf_http_server *h = cls;
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        static const char msg[] = "method not allowed\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, msg, sizeof msg - 1, true);
    }
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n_pages; i++) {
        const page *p = &h->pages[i];
        if (strcmp(p->path, url)) continue;
        enum MHD_Result ret =
            reply(conn, p->status, p->content_type, gf_sbuf_str(&p->body), p->body.len, false);
        pthread_mutex_unlock(&h->lock);
        return ret;
    }
    pthread_mutex_unlock(&h->lock);
    static const char nf[] = "not found\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, text, nf, sizeof nf - 1, false);
}

void gf_http_publish(gf_http_server *h, const char *path, unsigned status, const char *content_type,
                     const char *body, size_t len)
{
    if (!h || !path) return;
    pthread_mutex_lock(&h->lock);
    page *p = NULL;
    for (size_t i = 0; i < h->n_pages && !p; i++)
        if (!strcmp(h->pages[i].path, path)) p = &h->pages[i];
    if (!p && h->n_pages < MAX_PAGES) {
        p = &h->pages[h->n_pages++];
        snprintf(p->path, sizeof p->path, "%s", path);
    }
    if (p) {
        p->status = status;
        snprintf(p->content_type, sizeof p->content_type, "%s", content_type);
        p->body.len = 0;
        if (p->body.s) p->body.s[0] = '\0';
        gf_sbuf_append(&p->body, body ? body : "", body ? len : 0);
    }
    pthread_mutex_unlock(&h->lock);
}

static struct MHD_Daemon *start_daemon(unsigned flags, unsigned port, const struct sockaddr *sa,
                                       MHD_AccessHandlerCallback fn, void *ctx)
{
    /* a slow client costs a socket and a connection's memory, not a
     * thread: idle connections close after GF_HTTP_TIMEOUT_S, one address
     * holds at most GF_HTTP_PER_IP_LIMIT of the GF_HTTP_CONNECTION_LIMIT */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, GF_HTTP_THREADS, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, GF_HTTP_CONNECTION_LIMIT, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, GF_HTTP_PER_IP_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, GF_HTTP_TIMEOUT_S, NULL},
        {sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, (void *)sa},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, fn, ctx, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

gf_err gf_http_listen(const char *listen, MHD_AccessHandlerCallback fn, void *ctx,
                      struct MHD_Daemon **out, char *bound, size_t bound_n, gf_error *err)
{
    *out = NULL;
    char host[256];
    unsigned port;
    gf_err rc = gf_http_parse_listen(listen, host, sizeof host, &port, err);
    if (rc) return rc;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
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
    struct MHD_Daemon *d;
    if (any) {
        /* every address: IPv6 with IPv4 mapped, else IPv4 alone */
        d = start_daemon(flags | MHD_USE_DUAL_STACK, port, NULL, fn, ctx);
        if (!d) d = start_daemon(flags, port, NULL, fn, ctx);
    } else {
        d = start_daemon(flags, port, (const struct sockaddr *)&ss, fn, ctx);
    }
    if (!d) {
        int e = errno;
        return gf_error_set(err, GF_EIO, listen, "cannot listen: %s",
                            e ? strerror(e) : "libmicrohttpd refused to start");
    }
    if (bound && bound_n) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
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
    *out = d;
    return GF_OK;
}

gf_err gf_http_start(const char *listen, gf_http_server **out, char *bound, size_t bound_n,
                     gf_error *err)
{
    *out = NULL;
    gf_http_server *h = gf_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    gf_err rc = gf_http_listen(listen, handler, h, &h->d, bound, bound_n, err);
    if (rc) {
        gf_http_stop(h);
        return rc;
    }
    *out = h;
    return GF_OK;
}

unsigned gf_http_connections(gf_http_server *h)
{
    const union MHD_DaemonInfo *info =
        h && h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
    return info ? info->num_connections : 0;
}

void gf_http_stop(gf_http_server *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    for (size_t i = 0; i < h->n_pages; i++)
        gf_sbuf_free(&h->pages[i].body);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
