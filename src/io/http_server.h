/* http_server.h - a small HTTP server for a long-running program's own
 * endpoints (libmicrohttpd): pages that the program publishes from its loop
 * (the /metrics text, /healthz, /readyz) are served from copies kept under
 * a mutex, so the loop never waits for a client and a client never sees a
 * half-written page.
 *
 *   GET or HEAD of a published path  its status, content type and body
 *   other paths                      404; other methods 405
 *
 * libmicrohttpd polls the connections (epoll where there is one) from a
 * pool of GF_HTTP_THREADS threads, so a client that sends its request a
 * byte at a time (slowloris) holds a socket, not a thread: at most
 * GF_HTTP_CONNECTION_LIMIT connections, at most GF_HTTP_PER_IP_LIMIT from
 * one address (Prometheus and the kubelet's probes come from other
 * addresses than a misbehaving pod), each closed after GF_HTTP_TIMEOUT_S
 * without a byte. tests/test_http_server.c holds the listener under slow
 * clients and checks that /metrics and /healthz are still answered. */
#ifndef GF_HTTP_SERVER_H
#define GF_HTTP_SERVER_H

#include "model/err.h"

#include <microhttpd.h>
#include <stddef.h>

#define GF_HTTP_THREADS 4
#define GF_HTTP_CONNECTION_LIMIT 1024
#define GF_HTTP_PER_IP_LIMIT 64
#define GF_HTTP_TIMEOUT_S 10

typedef struct gf_http_server gf_http_server;

/* Parses "ADDR:PORT", ":PORT" (every address, IPv6 and IPv4) or
 * "[V6]:PORT" into host (empty for every address) and port (0: a free one).
 * GF_EUSAGE naming the address otherwise. */
gf_err gf_http_parse_listen(const char *listen, char *host, size_t host_n, unsigned *port,
                            gf_error *err);

/* The listening part, for servers with a handler of their own (the
 * exporter's): a libmicrohttpd daemon with the limits above, calling fn
 * with ctx from any of its threads. bound as below.
 * GF_EUSAGE for a bad address, GF_EIO when it cannot listen. */
gf_err gf_http_listen(const char *listen, MHD_AccessHandlerCallback fn, void *ctx,
                      struct MHD_Daemon **out, char *bound, size_t bound_n, gf_error *err);

/* Starts serving on listen. bound (may be NULL) receives "HOST:PORT" as
 * bound, with the real port. GF_EUSAGE for a bad address, GF_EIO when it
 * cannot listen. */
gf_err gf_http_start(const char *listen, gf_http_server **out, char *bound, size_t bound_n,
                     gf_error *err);

/* Serves body (copied) at path from now on, with status and content_type;
 * replaces what path served before. At most 16 paths. Thread-safe. */
void gf_http_publish(gf_http_server *h, const char *path, unsigned status, const char *content_type,
                     const char *body, size_t len);

/* The connections open now (slow ones included). */
unsigned gf_http_connections(gf_http_server *h);

/* Stops serving (waits for requests in flight) and frees. Accepts NULL. */
void gf_http_stop(gf_http_server *h);

#endif
