/* httpd.h - the exporter's HTTP endpoint (libmicrohttpd).
 *
 *   GET /metrics  the scrape, Prometheus text format 0.0.4
 *   GET /healthz  200 "ok"
 *   GET /         a line saying where the metrics are
 * Other paths 404, other methods 405.
 *
 * The listener is io/http_server's (a pool of polling threads, per-address
 * and total connection limits, a short idle timeout: slow clients do not
 * keep scrapes out); the collector is serialised by a mutex. A scrape is
 * collected on request, unless the last one is younger than min_interval_s:
 * then its text is served again (two Prometheus replicas scraping the same
 * node do not double the NVML work, and all readers see the same values). */
#ifndef GF_HTTPD_H
#define GF_HTTPD_H

#include "exporter/collect.h"

typedef struct gf_httpd gf_httpd;

/* Parses "ADDR:PORT", ":PORT" (every address, IPv6 and IPv4), "[V6]:PORT";
 * port 0 picks a free one. */
gf_err gf_httpd_parse_listen(const char *listen, char *host, size_t host_n, unsigned *port,
                             gf_error *err);

/* Starts serving c on listen. bound (may be NULL) receives "HOST:PORT" as
 * bound, with the real port. The collector must outlive the server. */
gf_err gf_httpd_start(const char *listen, gf_collector *c, double min_interval_s, gf_httpd **out,
                      char *bound, size_t bound_n, gf_error *err);
/* Stops serving (waits for requests in flight) and frees. Accepts NULL. */
void gf_httpd_stop(gf_httpd *h);

#endif
