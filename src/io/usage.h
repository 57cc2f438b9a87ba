/* usage.h - per-pod GPU usage samples for `gpufrac recommend`: read from a
 * CSV file, from saved Prometheus HTTP API answers, or fetched live.
 *
 * A sample is one observation of one container's use of one GPU: memory in
 * bytes and/or the share of the GPU's streaming multiprocessors it kept busy
 * (0..1 of one GPU), either of which may be missing (NaN). The exporter
 * (gpufrac-exporter) publishes them as two gauges with the labels
 * namespace, pod, container, gpu_uuid and gpu_index; GF_USAGE_METRIC_*
 * below are their names, shared by both sides.
 *
 * Samples are kept in input order; the Prometheus loader adds one sample per
 * value, with the other signal NaN (joining the two series is the caller's
 * business). Names are interned in the set's arena: every distinct string is
 * stored once, so equal names have equal pointers within one gf_usage.
 *
 * Errors are GF_EINPUT naming the place and why:
 *   usage.csv:12: column sm_util: value 'abc' is not a number
 *   prom.json: data.result[3].values[17][1]: "abc" is not a number
 * On error the set keeps the samples read before the bad one; discard it. */
#ifndef GF_USAGE_H
#define GF_USAGE_H

#include "model/err.h"
#include "model/sample.h"
#include "util/arena.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/vec.h"

#include <stdbool.h>
#include <stddef.h>

/* The exporter's metric names (Prometheus naming: unit suffix, _ratio for 0..1). */
#define GF_USAGE_METRIC_MEMORY "gpufrac_pod_gpu_memory_used_bytes"
#define GF_USAGE_METRIC_SM "gpufrac_pod_gpu_sm_utilization_ratio"

/* Inference engines' own metrics (model/sample.h gf_engine_sample), by the
 * names the engines export them under; Prometheus's Kubernetes service
 * discovery adds the namespace and pod labels that join them to pods.
 *   KV-cache use, 0..1:
 *     vLLM v1 vllm:kv_cache_usage_perc (vllm/v1/metrics/loggers.py), older
 *     vLLM vllm:gpu_cache_usage_perc, SGLang sglang:token_usage
 *     (python/sglang/srt/metrics/collector.py);
 *   requests waiting:
 *     vllm:num_requests_waiting, sglang:num_queue_reqs, TGI tgi_queue_size
 *     (router/src/queue.rs);
 *   preemptions (counters; a saved raw answer is turned into a rate per
 *   second between its points, a live query asks for rate()):
 *     vLLM vllm:num_preemptions (a prometheus_client Counter, exported as
 *     vllm:num_preemptions_total), SGLang's retractions
 *     sglang:num_retracted_requests_total.
 *   TensorRT-LLM in Triton (its backend's README, "Triton Metrics":
 *   triton-inference-server/tensorrtllm_backend, now NVIDIA/TensorRT-LLM
 *   triton_backend/; the batch manager's gauges, labelled model and
 *   version, scraped from the Triton pod): KV-cache use
 *   nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"} (the
 *   share of the KV blocks in use, 0..1; the family's other types, used,
 *   free, max, tokens_per, reused, are block counts and not read), requests
 *   waiting nv_trt_llm_request_metrics{request_type="waiting"} (the other
 *   types, context, scheduled, max, active, are not read); no preemption
 *   counter. Backends older than the "fraction" type give no KV samples.
 * TGI exports no KV-cache use. */
#define GF_ENGINE_METRIC_KV "vllm:kv_cache_usage_perc"
#define GF_ENGINE_METRIC_KV_OLD "vllm:gpu_cache_usage_perc"
#define GF_ENGINE_METRIC_KV_SGLANG "sglang:token_usage"
#define GF_ENGINE_METRIC_WAITING "vllm:num_requests_waiting"
#define GF_ENGINE_METRIC_WAITING_SGLANG "sglang:num_queue_reqs"
#define GF_ENGINE_METRIC_WAITING_TGI "tgi_queue_size"
#define GF_ENGINE_METRIC_PREEMPT "vllm:num_preemptions_total"
#define GF_ENGINE_METRIC_PREEMPT_SGLANG "sglang:num_retracted_requests_total"
#define GF_ENGINE_METRIC_KV_TRTLLM "nv_trt_llm_kv_cache_block_metrics"
#define GF_ENGINE_LABEL_KV_TRTLLM "kv_cache_block_type"
#define GF_ENGINE_VALUE_KV_TRTLLM "fraction"
#define GF_ENGINE_METRIC_WAITING_TRTLLM "nv_trt_llm_request_metrics"
#define GF_ENGINE_LABEL_WAITING_TRTLLM "request_type"
#define GF_ENGINE_VALUE_WAITING_TRTLLM "waiting"

/* Plausibility limits: beyond them a value is a unit mistake or corruption. */
#define GF_USAGE_MAX_MEMORY_BYTES 1125899906842624.0 /* 2^50 = 1 PiB */
#define GF_USAGE_MAX_SM_UTIL 64.0                    /* a sum over 64 GPUs */
#define GF_USAGE_MAX_TIME_S 253402300799.0           /* 9999-12-31T23:59:59Z */
#define GF_USAGE_MAX_WAITING 1e9                     /* requests queued */
#define GF_USAGE_MAX_PREEMPT_RATE 1e6                /* preemptions per second */

/* Largest Prometheus answer gf_prom_query_range() accepts. */
#define GF_PROM_MAX_RESPONSE_BYTES (256u << 20)

/* gf_usage_sample: see model/sample.h */

typedef struct gf_usage {
    GF_VEC(gf_usage_sample) samples;
    GF_VEC(gf_engine_sample) engine; /* engine metrics, one value per sample, the others NaN */
    size_t nan_skipped;         /* Prometheus "NaN" values skipped (see gf_usage_load_prom_json) */
    gf_arena arena;             /* the interned names */
    GF_VEC(const char *) names; /* distinct names, in order of first use */
    gf_strmap name_index;       /* name -> index in names, keys in arena */
} gf_usage;

/* Which field of a sample a Prometheus answer's values fill. */
typedef enum gf_usage_signal {
    GF_USAGE_BY_NAME = 0, /* from each series' __name__ label (must be one of ours) */
    GF_USAGE_MEMORY,      /* memory_bytes */
    GF_USAGE_SM,          /* sm_util */
    GF_USAGE_KV,          /* engine: kv_usage (0..1) */
    GF_USAGE_WAITING,     /* engine: requests_waiting */
    GF_USAGE_PREEMPT      /* engine: preempt_rate, per second (a rate() answer) */
} gf_usage_signal;

void gf_usage_init(gf_usage *u);
void gf_usage_free(gf_usage *u); /* accepts NULL; u is reusable after gf_usage_init */

/* The interned copy of s (NUL-terminated), owned by u; "" for "". */
const char *gf_usage_intern(gf_usage *u, const char *s);

/* Parses a timestamp as the CSV loader does: unix seconds or RFC 3339
 * (section 5.6: 'T', 't' or ' ' between date and time, fractional seconds,
 * "Z" or a +hh:mm/-hh:mm offset). Second 60 is accepted only where a leap
 * second can be, at 23:59:60 UTC, and counts as the next day's 00:00:00 (as
 * POSIX time does). Result in 0..GF_USAGE_MAX_TIME_S. On failure GF_EINPUT
 * and why[0..why_n) says what is wrong ("month 13 is not 1..12"). */
gf_err gf_usage_parse_time(const char *s, double *t, char *why, size_t why_n);

/* CSV with the header
 *   timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util
 * timestamp: unix seconds ("1795507200", "1795507200.25") or RFC 3339
 * ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00.5+01:00"). namespace and pod
 * must not be empty; container and gpu_uuid may be. memory_bytes (bytes,
 * 0..2^50) or sm_util (0..64) may be empty, not both. LF or CRLF line ends.
 * path "-" reads standard input. */
gf_err gf_usage_load_csv(gf_usage *u, const char *path, gf_error *err);
/* The same from buf[0..len); name is used in messages. */
gf_err gf_usage_load_csv_buffer(gf_usage *u, const char *name, const char *buf, size_t len,
                                gf_error *err);

/* A saved answer of Prometheus's /api/v1/query_range or /api/v1/query
 * (https://prometheus.io/docs/prometheus/latest/querying/api/): resultType
 * "matrix" (series with "values") or "vector" (series with "value"); other
 * result types are errors. signal says which field the values fill: the
 * answers of rate(), max_over_time() and other functions drop __name__, so
 * the caller, who wrote the query, says what it measures. With an explicit
 * signal, a series whose __name__ is the other gpufrac metric is an error
 * (a selector matching both); other names (recording rules) are accepted.
 * With GF_USAGE_BY_NAME the engine metrics (GF_ENGINE_METRIC_*) are read
 * too, into u->engine; a preemption counter's points become rates between
 * consecutive points of one series (a reset counts from 0), so a vector
 * answer of one gives none.
 *
 * Every series needs the labels namespace and pod; container and gpu_uuid
 * become "" when aggregated away. Values are Prometheus's strings:
 *   "NaN"  skipped and counted in u->nan_skipped: the exporter publishes NaN
 *          when a reading failed, and a query over a gap returns it;
 *   "+Inf", "-Inf", negatives and values past the limits above: errors, as
 *          no correct query of these gauges yields them (a division by zero
 *          or a wrong unit does).
 * A "status":"error" answer is an error carrying errorType and error. The
 * answer's "warnings" (e.g. an unreachable remote-read endpoint: the data
 * may be partial) go into d as "NAME: warnings[i]: Prometheus warns: ...". */
gf_err gf_usage_load_prom_json(gf_usage *u, const char *name, const char *buf, size_t len,
                               gf_usage_signal signal, gf_diags *d, gf_error *err);

/* How to authenticate to a Prometheus server (all optional). Files are read
 * at each request, so rotated tokens are picked up; their contents never
 * appear in messages. */
typedef struct gf_prom_auth {
    const char *bearer_token_file; /* "Authorization: Bearer <first line>" */
    const char *basic_auth_file;   /* first line "USER:PASSWORD": HTTP basic auth */
    const char *ca_file;           /* CA bundle (PEM) for https */
    const char *const *headers;    /* n_headers "Name: value" lines, sent as they are */
    size_t n_headers;
} gf_prom_auth;

/* Checks a "Name: value" header: a token name (RFC 9110 5.1), a colon, no
 * CR, LF or NUL. false and why[0..n) says what is wrong. */
bool gf_prom_header_valid(const char *header, char *why, size_t n);

/* GET base_url/api/v1/query_range?query=QUERY&start=START&end=END&step=STEP
 * (base_url may carry a path prefix and a trailing '/'; times are unix
 * seconds, step_s > 0) and put the answer's body into out (cleared first;
 * left empty on error; the caller frees it with gf_sbuf_free).
 * Limits: http and https only, 5 s to connect, 60 s in all, at most
 * GF_PROM_MAX_RESPONSE_BYTES; redirects are followed only within the same
 * scheme, host and port (at most 5). Errors name the URL (without the query
 * string or a password): GF_EINPUT for a 4xx answer (a bad query: the
 * message carries Prometheus's errorType and error) and bad arguments,
 * GF_EIO for everything else (connection, timeout, 5xx, size). */
gf_err gf_prom_query_range(const char *base_url, const char *query, double start, double end,
                           double step_s, gf_sbuf *out, gf_error *err);
/* The same with credentials (auth NULL: none). */
gf_err gf_prom_query_range_auth(const char *base_url, const gf_prom_auth *auth, const char *query,
                                double start, double end, double step_s, gf_sbuf *out,
                                gf_error *err);

/* The selector that keeps the exporter's per-pod series: it also publishes
 * GPU memory that no pod accounts for (label unattributed, no namespace),
 * which usage cannot use (gf_usage_load_prom_json needs namespace and pod). */
#define GF_USAGE_POD_SELECTOR "{namespace!=\"\"}"

/* Both exporter metrics (memory, then SM) over [start, end] at step_s from
 * a Prometheus server, selected with GF_USAGE_POD_SELECTOR, into u:
 * gf_prom_query_range() and gf_usage_load_prom_json() for each. Errors as
 * theirs; samples loaded before an error stay in u. Then the engine
 * metrics, per pod (gf_prom_engine_query): missing ones give no samples,
 * and a failed engine query is a diagnostic in d, never an error. */
gf_err gf_prom_fetch_usage(const char *base_url, double start, double end, double step_s,
                           gf_usage *u, gf_diags *d, gf_error *err);
/* The same with credentials (auth NULL: none). */
gf_err gf_prom_fetch_usage_auth(const char *base_url, const gf_prom_auth *auth, double start,
                                double end, double step_s, gf_usage *u, gf_diags *d, gf_error *err);

/* The query for an engine signal (GF_USAGE_KV, _WAITING, _PREEMPT) into
 * buf, per pod: KV the max over the pod's engines' series, waiting their
 * sum, preemptions the sum of rate() over max(5m, step). False for another
 * signal. */
bool gf_prom_engine_query(gf_usage_signal sig, double step_s, char *buf, size_t n);

/* Appends "/api/v1/query_range?query=QUERY&start=..&end=..&step=.." to out. */
void gf_prom_range_path(gf_sbuf *out, const char *query, double start, double end, double step_s);

/* Another way to reach Prometheus (the API server's service proxy,
 * cluster_read.h): answer one range query into out, as
 * gf_prom_query_range_auth() does. */
typedef gf_err (*gf_prom_range_fn)(void *ctx, const char *query, double start, double end,
                                   double step_s, gf_sbuf *out, gf_error *err);
/* gf_prom_fetch_usage() through range. */
gf_err gf_prom_fetch_usage_via(gf_prom_range_fn range, void *ctx, double start, double end,
                               double step_s, gf_usage *u, gf_diags *d, gf_error *err);

/* GET url with the limits above, except that the size limit is max_bytes;
 * the body of a 2xx answer into out (cleared first). The building block of
 * gf_prom_query_range(), also used to wait for a server's /-/ready. */
gf_err gf_prom_get(const char *url, size_t max_bytes, gf_sbuf *out, gf_error *err);
/* The same with credentials (auth NULL: none). A file in auth that cannot
 * be read is GF_EIO naming it; a bad header GF_EUSAGE. */
gf_err gf_prom_get_auth(const char *url, const gf_prom_auth *auth, size_t max_bytes, gf_sbuf *out,
                        gf_error *err);
/* The message of a non-2xx Prometheus answer body into buf (n > 8):
 * "errorType: error" when it is Prometheus's JSON, else the body's start;
 * control characters never reach buf. */
void gf_prom_error_text(const gf_sbuf *body, char *buf, size_t n);

#endif
