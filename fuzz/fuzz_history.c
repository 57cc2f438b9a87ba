/* fuzz_history.c - libFuzzer harness for the SQLite history loader. The
 * input is written to a file and loaded: the result must be GF_OK with a
 * history that passes its own checks and answers queries, or an error with a
 * message that leaves the caller's history untouched. Mutating raw bytes
 * mostly exercises SQLite's own corruption checks; the seed corpus holds
 * real saved files (fuzz/corpus/history) so that mutations also reach the
 * value checks. */
#include "decide/history.h"
#include "io/history_sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/gf-fuzz-history-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    gf_history h;
    gf_error err = {0};
    if (gf_history_init(&h, NULL, &err)) abort();
    (void)gf_history_add(&h, "keep/Deployment/me", GF_SIG_MEMORY, 1000, 1e9, &err);
    gf_err rc = gf_history_load(&h, path, &err);
    if (rc != GF_OK) {
        if (!err.msg[0]) abort(); /* every error says what went wrong */
        /* untouched: the one series added before is still there, alone */
        if (gf_history_count(&h) != 1 || !gf_history_find(&h, "keep/Deployment/me")) abort();
    } else {
        for (size_t i = 0; i < gf_history_count(&h); i++) {
            const gf_hist_series *s = gf_history_at(&h, i);
            if (gf_hist_series_check(&h, s, &err)) abort(); /* load checked it */
            double v;
            for (int k = 0; k < GF_HIST_NSIGNALS; k++) {
                (void)gf_hist_percentile(s, (gf_hist_signal)k, 0.95, &v, &err);
                (void)gf_hist_peak(s, (gf_hist_signal)k, s->track[k].last_t, 3600, &v, &err);
                (void)gf_hist_mean(s, (gf_hist_signal)k, s->track[k].last_t, 600, &v, &err);
            }
        }
    }
    gf_history_free(&h);
    unlink(path);
    return 0;
}
