/*
 * dxforge from C: open a project, start its web server (and, first, the
 * database it depends on), print every tool's status, stop everything.
 *
 * Build:  cc -std=c11 status.c $(pkg-config --cflags --libs dxforge) -o status
 *    or:  cmake -S examples/c -B build -DCMAKE_PREFIX_PATH=<dxforge prefix> && cmake --build build
 * Run:    ./status examples/demo
 */
#include <stdio.h>

#include "dxforge.h"

/* Called on a dxforge thread for every status change. */
static void print_event(const dxforge_tool_event *event, void *user_data) {
    (void)user_data;
    printf("  event: %s %s -> %s%s%s\n", event->tool, dxforge_tool_status_name(event->old_status),
           dxforge_tool_status_name(event->new_status), event->reason ? ": " : "",
           event->reason ? event->reason : "");
    fflush(stdout);
}

/* Prints the failed call and the library's message; returns 1. */
static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, dxforge_last_error_message(),
            dxforge_error_code_name(dxforge_last_error_code()));
    return 1;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "examples/demo";
    DxForge *forge = NULL;
    dxforge_string_list *names = NULL;
    uint64_t subscription = 0;
    int rc = 0;

    printf("dxforge %s\n", dxforge_version());
    if (dxforge_open(root, &forge) != DXFORGE_OK) {
        return fail("dxforge_open");
    }
    if (dxforge_on_status_change(forge, print_event, NULL, &subscription) != DXFORGE_OK) {
        rc = fail("dxforge_on_status_change");
        goto out;
    }

    printf("starting web (and its dependency db)...\n");
    dxforge_tool_status status;
    if (dxforge_ensure_running(forge, "web", &status) != DXFORGE_OK) {
        rc = fail("dxforge_ensure_running");
        goto out;
    }
    printf("web is %s\n", dxforge_tool_status_name(status));

    if (dxforge_tool_names(forge, &names) != DXFORGE_OK) {
        rc = fail("dxforge_tool_names");
        goto out;
    }
    for (size_t i = 0; i < names->count; i++) {
        uint32_t pid = 0;
        if (dxforge_status(forge, names->items[i], &status, &pid) != DXFORGE_OK) {
            rc = fail("dxforge_status");
            goto out;
        }
        printf("  %-6s %-9s pid %u\n", names->items[i], dxforge_tool_status_name(status), pid);
    }

    if (dxforge_stop_all(forge) != DXFORGE_OK) {
        rc = fail("dxforge_stop_all");
        goto out;
    }
    if (dxforge_unsubscribe(forge, subscription) != DXFORGE_OK) {
        rc = fail("dxforge_unsubscribe");
    }
    printf("stopped\n");

out:
    dxforge_string_list_free(names);
    dxforge_free(forge); /* also stops anything still running */
    return rc;
}
