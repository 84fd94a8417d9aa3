/*
 * dxforge C API, Shadow Worker: enqueue of every task kind (returns at
 * once), wait, task states and reports, counters, snapshots and restore,
 * gc, analysis, prefetch, bad input; and, when a local S3-compatible server
 * is configured (DXFORGE_TEST_S3_* from scripts/s3-server.sh), a push from one
 * project and a pull into another.
 *
 * Usage: test_worker REGISTRY_DIR   (examples/registry)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"

static char registry[4096];

static DxForge *open_project(char *dir, size_t size, const char *remote_toml) {
    char path[4200], toml[8192];
    DxForge *forge = NULL;
    CHECK(make_temp_dir(dir, size) != NULL);
    snprintf(path, sizeof path, "%s/dxforge.toml", dir);
    snprintf(toml, sizeof toml, "[project]\nname = \"c-worker\"\n\n[registry]\npath = \"%s\"\n%s", registry,
             remote_toml ? remote_toml : "");
    CHECK(write_file(path, toml) == 0);
    snprintf(path, sizeof path, "%s/src", dir);
    CHECK(mkdir_p_ok(path));
    snprintf(path, sizeof path, "%s/src/main.c", dir);
    CHECK(write_file(path, "int main(void) {\n    return 0;\n}\n") == 0);
    snprintf(path, sizeof path, "%s/README.md", dir);
    CHECK(write_file(path, "# c-worker\n") == 0);
    CHECK_OK(dxforge_open(dir, &forge));
    return forge;
}

/* Waits for a task and returns its final status; `json_needle` must be in its JSON. */
static dxforge_task_status wait_task(DxForge *forge, uint64_t id, const char *json_needle) {
    dxforge_task_state *state = NULL;
    dxforge_task_status status = DXFORGE_TASK_STATUS_QUEUED;
    CHECK_OK(dxforge_wait(forge, id, 60000, &state));
    if (state != NULL) {
        status = dxforge_task_state_status(state);
        if (json_needle != NULL && strstr(dxforge_task_state_json(state), json_needle) == NULL) {
            checks_failed++;
            fprintf(stderr, "task %llu: JSON %s lacks %s\n", (unsigned long long)id, dxforge_task_state_json(state),
                    json_needle);
        }
    }
    dxforge_task_state_free(state);
    return status;
}

static void test_enqueue_every_kind(void) {
    char dir[4096], analysis[4200];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    uint64_t snap = 0, analyze = 0, prefetch = 0, missing = 0, sync = 0;
    dxforge_queue_counters counters;

    CHECK_OK(dxforge_enqueue(forge, DXFORGE_TASK_KIND_CACHE_CURRENT_STATE, NULL, &snap));
    CHECK_OK(dxforge_enqueue(forge, DXFORGE_TASK_KIND_ANALYZE_CODEBASE_PATTERNS, NULL, &analyze));
    CHECK_OK(dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "card@^0.1", &prefetch));
    CHECK_OK(dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "nosuchpackage", &missing));
    /* No [remote] in this project: the sync task fails (a result, not an enqueue error). */
    CHECK_OK(dxforge_enqueue(forge, DXFORGE_TASK_KIND_SYNC_TO_CLOUDFLARE_R2, NULL, &sync));
    CHECK(snap != 0 && analyze != snap && prefetch != analyze && missing != prefetch && sync != missing);

    CHECK(wait_task(forge, snap, "snapshot") == DXFORGE_TASK_STATUS_SUCCEEDED);
    CHECK(wait_task(forge, analyze, "analysis") == DXFORGE_TASK_STATUS_SUCCEEDED);
    CHECK(wait_task(forge, prefetch, "card") == DXFORGE_TASK_STATUS_SUCCEEDED);
    CHECK(wait_task(forge, missing, "failed") == DXFORGE_TASK_STATUS_FAILED);
    CHECK(wait_task(forge, sync, "failed") == DXFORGE_TASK_STATUS_FAILED);
    snprintf(analysis, sizeof analysis, "%s/.dxforge/analysis.json", dir);
    CHECK(file_exists(analysis));

    dxforge_task_state *state = NULL;
    CHECK_OK(dxforge_task(forge, missing, &state));
    CHECK(dxforge_task_state_status(state) == DXFORGE_TASK_STATUS_FAILED);
    CHECK(dxforge_task_state_error(state) != NULL && strstr(dxforge_task_state_error(state), "nosuchpackage") != NULL);
    dxforge_task_state_free(state);
    state = NULL;
    CHECK_OK(dxforge_task(forge, snap, &state));
    CHECK(dxforge_task_state_error(state) == NULL);
    CHECK_STR(dxforge_task_status_name(dxforge_task_state_status(state)), "succeeded");
    /* The names come from the core's table, in the enum's order. */
    CHECK_STR(dxforge_task_status_name(DXFORGE_TASK_STATUS_QUEUED), "queued");
    CHECK_STR(dxforge_task_status_name(DXFORGE_TASK_STATUS_RUNNING), "running");
    CHECK_STR(dxforge_task_status_name(DXFORGE_TASK_STATUS_FAILED), "failed");
    CHECK_STR(dxforge_task_status_name(DXFORGE_TASK_STATUS_DROPPED), "dropped");
    CHECK_STR(dxforge_task_status_name(5), "unknown");
    CHECK_STR(dxforge_task_status_name(-1), "unknown");
    dxforge_task_state_free(state);

    CHECK_OK(dxforge_counters(forge, &counters));
    CHECK(counters.enqueued == 5);
    CHECK(counters.succeeded == 3);
    CHECK(counters.failed == 2);
    CHECK(counters.queued == 0 && counters.running == 0 && counters.dropped == 0);

    /* Bad input. */
    state = (dxforge_task_state *)&state;
    CHECK_ERR(dxforge_task(forge, 987654321, &state), DXFORGE_ERROR_NOT_FOUND, "987654321");
    CHECK(state == NULL);
    CHECK_ERR(dxforge_wait(forge, 987654321, 10, &state), DXFORGE_ERROR_NOT_FOUND, "987654321");
    uint64_t id = 42;
    CHECK_ERR(dxforge_enqueue(forge, 7, NULL, &id), DXFORGE_ERROR_INVALID_ARGUMENT, "kind");
    CHECK(id == 0);
    CHECK_ERR(dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, NULL, &id), DXFORGE_ERROR_INVALID_ARGUMENT,
              "arg");
    CHECK_ERR(dxforge_enqueue(forge, DXFORGE_TASK_KIND_CACHE_CURRENT_STATE, "x", &id), DXFORGE_ERROR_INVALID_ARGUMENT,
              "arg");
    CHECK_ERR(dxforge_enqueue(forge, DXFORGE_TASK_KIND_PREFETCH_PACKAGE, "\xff", &id), DXFORGE_ERROR_INVALID_ARGUMENT,
              "arg");
    CHECK_ERR(dxforge_enqueue(NULL, DXFORGE_TASK_KIND_CACHE_CURRENT_STATE, NULL, &id), DXFORGE_ERROR_INVALID_ARGUMENT,
              "forge");
    CHECK_OK(dxforge_counters(forge, &counters));
    CHECK(counters.enqueued == 5); /* refused calls enqueued nothing */
    dxforge_free(forge);
    remove_tree(dir);
}

static void test_snapshot_restore(void) {
    char dir[4096], main_c[4200], readme[4200], extra[4200];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    char *id = NULL, *json = NULL;
    snprintf(main_c, sizeof main_c, "%s/src/main.c", dir);
    snprintf(readme, sizeof readme, "%s/README.md", dir);
    snprintf(extra, sizeof extra, "%s/src/extra.c", dir);
    char *original = read_file(main_c, NULL);

    CHECK_OK(dxforge_snapshot(forge, &id, &json));
    CHECK(id != NULL && strlen(id) > 10);
    CHECK(json != NULL && strstr(json, "\"files\"") != NULL);
    dxforge_string_free(json);
    json = NULL;

    CHECK(write_file(main_c, "int main(void) { return 1; }\n") == 0);
    CHECK(remove(readme) == 0);
    CHECK(write_file(extra, "int extra;\n") == 0);

    CHECK_OK(dxforge_restore(forge, id, &json));
    CHECK(json != NULL && strstr(json, "safety_snapshot") != NULL);
    dxforge_string_free(json);
    char *restored = read_file(main_c, NULL);
    CHECK(original && restored && strcmp(original, restored) == 0);
    free(restored);
    CHECK(file_exists(readme));
    CHECK(!file_exists(extra));

    dxforge_string_list *ids = NULL;
    CHECK_OK(dxforge_snapshots(forge, &ids));
    CHECK(ids != NULL && ids->count == 2); /* ours + the safety snapshot */
    CHECK(ids != NULL && ids->count > 0 && strcmp(ids->items[0], id) == 0);
    dxforge_string_list_free(ids);
    json = NULL;
    CHECK_OK(dxforge_snapshots_json(forge, &json));
    CHECK(json != NULL && strstr(json, id) != NULL);
    dxforge_string_free(json);

    json = NULL;
    CHECK_ERR(dxforge_restore(forge, "20200101T000000Z-00000000", &json), DXFORGE_ERROR_NOT_FOUND,
              "20200101T000000Z-00000000");
    CHECK(json == NULL);
    CHECK_ERR(dxforge_restore(forge, NULL, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "id");
    restored = read_file(main_c, NULL);
    CHECK(original && restored && strcmp(original, restored) == 0); /* a refused restore changes nothing */
    free(restored);

    CHECK_OK(dxforge_gc_snapshots(forge, &json));
    CHECK(json != NULL && strstr(json, "removed") != NULL);
    dxforge_string_free(json);
    json = NULL;
    CHECK_OK(dxforge_analyze(forge, &json));
    CHECK(json != NULL && strstr(json, "languages") != NULL);
    dxforge_string_free(json);
    json = NULL;
    CHECK_OK(dxforge_prefetch(forge, "button@^1.2", &json));
    CHECK(json != NULL && strstr(json, "button") != NULL && strstr(json, "utils") != NULL);
    dxforge_string_free(json);
    CHECK_ERR(dxforge_prefetch(forge, "nosuchpackage", NULL), DXFORGE_ERROR_NOT_FOUND, "nosuchpackage");
    /* No [remote]: a configuration error. */
    CHECK_ERR(dxforge_push(forge, NULL), DXFORGE_ERROR_CONFIG, "remote");
    free(original);
    dxforge_string_free(id);
    dxforge_free(forge);
    remove_tree(dir);
}

/* push from one project, pull into another, against the local S3 server. */
static void test_push_pull_round_trip(void) {
    const char *endpoint = getenv("DXFORGE_TEST_S3_ENDPOINT");
    const char *bucket = getenv("DXFORGE_TEST_S3_BUCKET");
    const char *key = getenv("DXFORGE_TEST_S3_ACCESS_KEY");
    const char *secret = getenv("DXFORGE_TEST_S3_SECRET_KEY");
    char remote[1024], a[4096], b[4096], path[4300];
    char *id = NULL, *json = NULL;
    if (!endpoint || !bucket || !key || !secret) {
        printf("c_worker: no DXFORGE_TEST_S3_* server configured; push/pull round trip not run\n");
        return;
    }
    setenv("DXFORGE_S3_ACCESS_KEY_ID", key, 1);
    setenv("DXFORGE_S3_SECRET_ACCESS_KEY", secret, 1);
    snprintf(remote, sizeof remote, "\n[remote]\nendpoint = \"%s\"\nbucket = \"%s\"\nprefix = \"c-test-%ld-%d/\"\n",
             endpoint, bucket, (long)getpid(), rand());
    DxForge *first = open_project(a, sizeof a, remote);
    CHECK_OK(dxforge_snapshot(first, &id, NULL));
    CHECK_OK(dxforge_push(first, &json));
    CHECK(json != NULL && strstr(json, "objects_sent") != NULL && strstr(json, "\"objects_sent\":0") == NULL);
    dxforge_string_free(json);
    json = NULL;
    uint64_t task = 0;
    CHECK_OK(dxforge_enqueue(first, DXFORGE_TASK_KIND_SYNC_TO_CLOUDFLARE_R2, NULL, &task));
    CHECK(wait_task(first, task, "sync") == DXFORGE_TASK_STATUS_SUCCEEDED);

    DxForge *second = open_project(b, sizeof b, remote);
    snprintf(path, sizeof path, "%s/src/main.c", b);
    CHECK(write_file(path, "changed on the second machine\n") == 0);
    CHECK_OK(dxforge_pull(second, id, &json));
    CHECK(json != NULL && strstr(json, "restore") != NULL);
    dxforge_string_free(json);
    char *pulled = read_file(path, NULL);
    CHECK(pulled != NULL && strstr(pulled, "return 0;") != NULL);
    free(pulled);

    /* Wrong credentials are rejected by the server. */
    setenv("DXFORGE_S3_SECRET_ACCESS_KEY", "wrong-secret", 1);
    DxForge *third = NULL;
    CHECK_OK(dxforge_open(a, &third));
    CHECK(dxforge_push(third, NULL) == DXFORGE_ERROR_REMOTE);
    setenv("DXFORGE_S3_SECRET_ACCESS_KEY", secret, 1);
    dxforge_free(third);
    dxforge_string_free(id);
    dxforge_free(first);
    dxforge_free(second);
    remove_tree(a);
    remove_tree(b);
}

int main(int argc, char **argv) {
    char *dir = argc > 1 ? realpath(argv[1], NULL) : NULL;
    if (dir == NULL) {
        fprintf(stderr, "usage: %s REGISTRY_DIR\n", argv[0]);
        return 2;
    }
    snprintf(registry, sizeof registry, "%s", dir);
    free(dir);
    test_enqueue_every_kind();
    test_snapshot_restore();
    test_push_pull_round_trip();
    return check_summary("c_worker");
}
