/* azure_trace.h - the Azure LLM inference trace (Azure/AzurePublicDataset,
 * AzureLLMInferenceTrace_{code,conv}.csv; Patel et al., "Splitwise",
 * ISCA 2024) -> per-second request arrivals (sim/demand.h).
 *
 * The files are plain CSV with the header
 *   TIMESTAMP,ContextTokens,GeneratedTokens
 * one row per request: its arrival time, written "2023-11-16 18:17:03.9799600"
 * (UTC, up to 7 fractional digits; RFC 3339 with 'T' or a zone is accepted
 * too), and its prompt and output sizes in tokens (non-negative integers).
 * Rows may be out of order. The file is read in chunks and folded into
 * per-second bins as it goes, so memory follows the trace's time span, not
 * its number of requests.
 *
 * Errors are GF_EINPUT naming the file and line:
 *   trace.csv:12: column ContextTokens: value 'abc' is not an integer
 * GF_EIO when the file cannot be read. */
#ifndef GF_AZURE_TRACE_H
#define GF_AZURE_TRACE_H

#include "sim/demand.h"

#include <stddef.h>

/* tr must be initialised (gf_request_trace_init); requests are added to it.
 * On error it keeps what was read before the bad row: discard it.
 * path "-" reads standard input. */
gf_err gf_azure_trace_load(gf_request_trace *tr, const char *path, gf_error *err);
/* The same from buf[0..len); name is used in messages. */
gf_err gf_azure_trace_load_buffer(gf_request_trace *tr, const char *name, const char *buf,
                                  size_t len, gf_error *err);

#endif
