/* test_http_server.c - the one HTTP listener (io/http_server.c) of the
 * exporter and the controller stays up under slow clients: while a bounded
 * number of clients hold connections open by sending a header line now and
 * then (slowloris), /metrics and /healthz are still answered, and one
 * address cannot take more than its share of connections.
 *
 * Everything runs on 127.0.0.0/8: the slow clients connect to 127.0.0.1
 * from source addresses 127.0.0.2.. (Linux routes the whole block to the
 * loopback), so the per-address limit is exercised as it would be by pods
 * with addresses of their own. Conditions are waited for with generous
 * deadlines; nothing is timed. */
#include "testutil.h"
#include "io/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 20.0
#define SLOW_ADDRESSES 10 /* 127.0.0.2 .. 127.0.0.11 */
#define SLOW_PER_ADDRESS 10
#define GREEDY_ADDRESS "127.0.0.12"
#define GREEDY_CLIENTS (GF_HTTP_PER_IP_LIMIT + 4)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned port_of(const char *bound)
{
    const char *c = strrchr(bound, ':');
    return c ? (unsigned)atoi(c + 1) : 0;
}

/* A connected socket from source address src to 127.0.0.1:port, or -1. */
static int connect_from(const char *src, unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    struct timeval tv = {.tv_sec = (time_t)DEADLINE_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) ||
        connect(fd, (struct sockaddr *)&to, sizeof to)) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += (size_t)n;
    }
    return true;
}

/* GET path from src; the whole answer (the server closes after HTTP/1.0)
 * into buf. True when an answer came before the deadline. */
static bool get(const char *src, unsigned port, const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = connect_from(src, port);
    if (fd < 0) return false;
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    bool ok = send_all(fd, req);
    size_t len = 0;
    double deadline = now_s() + DEADLINE_S;
    while (ok && len + 1 < n && now_s() < deadline) {
        ssize_t got = recv(fd, buf + len, n - 1 - len, 0);
        if (got <= 0) break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(fd);
    return ok && len > 0;
}

/* Waits until at least want of fds[0..n) are closed by the server (EOF or
 * reset); their count then. */
static unsigned wait_closed(const int *fds, unsigned n, unsigned want)
{
    bool closed[GREEDY_CLIENTS] = {false};
    unsigned count = 0;
    double deadline = now_s() + DEADLINE_S;
    while (count < want && now_s() < deadline) {
        struct pollfd p[GREEDY_CLIENTS];
        for (unsigned i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = closed[i] ? -1 : fds[i], .events = POLLIN};
        if (poll(p, n, 200) <= 0) continue;
        for (unsigned i = 0; i < n; i++) {
            if (closed[i] || !p[i].revents) continue;
            char c;
            ssize_t got = recv(fds[i], &c, 1, MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                closed[i] = true;
                count++;
            }
        }
    }
    return count;
}

/* The slowloris: a header line to every socket about once a second, far
 * more often than the idle timeout, until told to stop (at most 2 min). */
typedef struct drip {
    const int *fds;
    unsigned n;
    atomic_bool stop;
} drip;

static void *drip_main(void *arg)
{
    drip *d = arg;
    for (int round = 0; round < 120 && !atomic_load(&d->stop); round++) {
        for (unsigned i = 0; i < d->n; i++)
            send(d->fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
        for (int t = 0; t < 10 && !atomic_load(&d->stop); t++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static unsigned connections(gf_http_server *h)
{
    return gf_http_connections(h);
}

/* Waits until the server holds want connections; true if it did in time. */
static bool wait_connections(gf_http_server *h, unsigned want)
{
    double deadline = now_s() + DEADLINE_S;
    while (now_s() < deadline) {
        if (connections(h) == want) return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void test_slow_clients(void **state)
{
    (void)state;
    gf_http_server *h = NULL;
    char bound[128];
    gf_error err = {0};
    assert_int_equal(gf_http_start("127.0.0.1:0", &h, bound, sizeof bound, &err), GF_OK);
    unsigned port = port_of(bound);
    assert_true(port > 0);
    static const char metrics[] = "# TYPE up gauge\nup 1\n";
    gf_http_publish(h, "/metrics", 200, "text/plain; version=0.0.4", metrics, sizeof metrics - 1);
    gf_http_publish(h, "/healthz", 200, "text/plain", "ok\n", 3);

    /* slow clients, more than the old limit of 64 connections: each sends
     * a request line and one header, never the blank line */
    enum { SLOW = SLOW_ADDRESSES * SLOW_PER_ADDRESS };
    int slow[SLOW + GREEDY_CLIENTS];
    for (int a = 0; a < SLOW_ADDRESSES; a++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", 2 + a);
        for (int i = 0; i < SLOW_PER_ADDRESS; i++) {
            int fd = connect_from(src, port);
            assert_true(fd >= 0);
            assert_true(send_all(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
            slow[a * SLOW_PER_ADDRESS + i] = fd;
        }
    }
    drip d = {.fds = slow, .n = SLOW};
    atomic_init(&d.stop, false);
    pthread_t dripper;
    assert_int_equal(pthread_create(&dripper, NULL, drip_main, &d), 0);
    assert_true(wait_connections(h, SLOW));

    /* one address asking for more than its share: the excess is closed */
    int *greedy = slow + SLOW;
    for (int i = 0; i < GREEDY_CLIENTS; i++) {
        greedy[i] = connect_from(GREEDY_ADDRESS, port);
        assert_true(greedy[i] >= 0);
        assert_true(send_all(greedy[i], "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    }
    assert_int_equal(wait_closed(greedy, GREEDY_CLIENTS, GREEDY_CLIENTS - GF_HTTP_PER_IP_LIMIT),
                     GREEDY_CLIENTS - GF_HTTP_PER_IP_LIMIT);
    assert_true(wait_connections(h, SLOW + GF_HTTP_PER_IP_LIMIT));
    /* the same address is refused a scrape of its own too */
    char buf[4096];
    assert_false(get(GREEDY_ADDRESS, port, "/metrics", buf, sizeof buf) &&
                 strstr(buf, "HTTP/1.1 200 OK"));

    /* the scrape and the probe are answered while all of them hold on */
    d.n = SLOW + GREEDY_CLIENTS;
    for (int round = 0; round < 3; round++) {
        assert_true(get("127.0.0.1", port, "/metrics", buf, sizeof buf));
        assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
        assert_non_null(strstr(buf, "up 1\n"));
        assert_true(get("127.0.0.1", port, "/healthz", buf, sizeof buf));
        assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    }
    /* the slow clients are still connected: held, not dropped */
    assert_true(wait_connections(h, SLOW + GF_HTTP_PER_IP_LIMIT));

    atomic_store(&d.stop, true);
    pthread_join(dripper, NULL);
    for (int i = 0; i < SLOW + GREEDY_CLIENTS; i++)
        close(slow[i]);
    gf_http_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
