/*
 * Per-call overhead of the C API, for comparison with the same calls made
 * straight from Rust (calls_rust.rs, same method) and with criterion's
 * status_registered_tool (core/benches/status.rs):
 *   - dxforge_status of a registered tool (the cheap query);
 *   - dxforge_enqueue of a background task (never blocks).
 * Prints the median ns/call over 31 rounds of batched calls, and for enqueue
 * also p50/p99 of single timed calls. With BENCH_CALLS=N only the status loop
 * runs, N times (for instruction counts under callgrind). Run via run.sh.
 */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dxforge.h"

#define ROUNDS 31

static volatile int sink = 0;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *rounds, int n) {
    qsort(rounds, (size_t)n, sizeof rounds[0], by_value);
    printf("c %s: median %.1f ns/call (min %.1f, max %.1f)\n", what, rounds[n / 2], rounds[0], rounds[n - 1]);
}

static void bench_status(DxForge *forge, long batch, int rounds_n) {
    double rounds[ROUNDS];
    for (int r = 0; r < rounds_n; r++) {
        dxforge_tool_status status;
        double t0 = now_ns();
        for (long i = 0; i < batch; i++) {
            sink += dxforge_status(forge, "db", &status, NULL);
            sink += (int)status;
        }
        rounds[r] = (now_ns() - t0) / (double)batch;
    }
    report("status_registered_tool", rounds, rounds_n);
}

/* The project has no registry, so consumers fail these tasks at once; the
 * queue fills and drops its oldest entries, as under load. */
static void bench_enqueue(DxForge *forge, long batch) {
    double rounds[ROUNDS];
    static double single[200000];
    const int n = 200000;
    uint64_t id;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < batch; i++) {
            sink += dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "button@^1.2", &id);
        }
        rounds[r] = (now_ns() - t0) / (double)batch;
    }
    report("enqueue", rounds, ROUNDS);
    for (int i = 0; i < n; i++) {
        double t0 = now_ns();
        sink += dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "button@^1.2", &id);
        single[i] = now_ns() - t0;
    }
    qsort(single, (size_t)n, sizeof single[0], by_value);
    printf("c enqueue single calls: p50 %.0f ns, p99 %.0f ns (includes ~20-30 ns of clock_gettime)\n",
           single[n / 2], single[(int)(n * 0.99)]);
}

int main(void) {
    char dir[] = "/tmp/dxforge-c-bench-XXXXXX";
    DxForge *forge = NULL;
    dxforge_tool_options opts;
    const char *env_calls = getenv("BENCH_CALLS");
    const long batch = env_calls ? atol(env_calls) : 1000000;

    char config[64];
    FILE *f = NULL;
    if (mkdtemp(dir) != NULL) {
        /* One consumer and no registry: prefetch tasks fail at once and the
         * queue stays full, as in the Rust, Python and Node benches. */
        snprintf(config, sizeof config, "%s/dxforge.toml", dir);
        f = fopen(config, "w");
        if (f != NULL) {
            fputs("[project]\nname = \"bench\"\n\n[worker]\nconcurrency = 1\n", f);
            fclose(f);
        }
    }
    if (f == NULL || dxforge_open(dir, &forge) != DXFORGE_OK ||
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
    bench_status(forge, batch, batch < 1000 ? 1 : ROUNDS);
    if (env_calls == NULL) {
        bench_enqueue(forge, batch / 10);
    }
    dxforge_free(forge);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
