/*
 * Per-call overhead of the C API, for comparison with the Rust criterion
 * benchmark of the same call (core/benches/status.rs):
 *   - dxforge_status of a registered tool (the cheap query);
 *   - dxforge_enqueue of a background task (never blocks).
 * Prints the median ns/call over rounds of batched calls, and for enqueue
 * also p50/p99 of single timed calls. Run through bindings/c/bench/run.sh.
 */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dxforge.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define ROUNDS 31

int main(void) {
    char dir[] = "/tmp/dxforge-c-bench-XXXXXX";
    DxForge *forge = NULL;
    dxforge_tool_options opts;
    double rounds[ROUNDS];
    const long batch = 1000000;
    volatile int sink = 0;

    if (mkdtemp(dir) == NULL || dxforge_open(dir, &forge) != DXFORGE_OK ||
        dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION) != DXFORGE_OK) {
        fprintf(stderr, "setup failed: %s\n", dxforge_last_error_message());
        return 1;
    }
    opts.name = "db";
    opts.binary_path = "/bin/true";
    if (dxforge_register_tool(forge, &opts) != DXFORGE_OK) {
        fprintf(stderr, "register failed: %s\n", dxforge_last_error_message());
        return 1;
    }

    /* status: batches of calls, median of the per-call means. */
    for (int r = 0; r < ROUNDS; r++) {
        dxforge_tool_status status;
        double t0 = now_ns();
        for (long i = 0; i < batch; i++) {
            sink += dxforge_status(forge, "db", &status, NULL);
            sink += (int)status;
        }
        rounds[r] = (now_ns() - t0) / (double)batch;
    }
    qsort(rounds, ROUNDS, sizeof rounds[0], by_value);
    printf("c status_registered_tool: median %.1f ns/call (min %.1f, max %.1f)\n", rounds[ROUNDS / 2], rounds[0],
           rounds[ROUNDS - 1]);

    /* enqueue: the project has no registry, so consumers fail these tasks at
     * once; the queue fills and drops its oldest entries, as under load. */
    const long enqueue_batch = 100000;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t id;
        double t0 = now_ns();
        for (long i = 0; i < enqueue_batch; i++) {
            sink += dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "button@^1.2", &id);
        }
        rounds[r] = (now_ns() - t0) / (double)enqueue_batch;
    }
    qsort(rounds, ROUNDS, sizeof rounds[0], by_value);
    printf("c enqueue: median %.1f ns/call (min %.1f, max %.1f)\n", rounds[ROUNDS / 2], rounds[0],
           rounds[ROUNDS - 1]);
    static double single[200000];
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        uint64_t id;
        double t0 = now_ns();
        sink += dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "button@^1.2", &id);
        single[i] = now_ns() - t0;
    }
    qsort(single, (size_t)n, sizeof single[0], by_value);
    printf("c enqueue single calls: p50 %.0f ns, p99 %.0f ns (includes ~20-30 ns of clock_gettime)\n",
           single[n / 2], single[(int)(n * 0.99)]);

    dxforge_free(forge);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        return 1;
    }
    return sink == 42 ? 2 : 0; /* keep the calls observable */
}
