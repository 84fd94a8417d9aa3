/*
 * dxforge C API with real processes: start with dependencies and TCP health
 * checks, PIDs, logs, stop of whole trees, failures, status callbacks
 * (delivered; none after unsubscribe), watch mode.
 *
 * Usage: test_lifecycle TOOLS_DIR   (tests/scenarios/tools)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "check.h"
#include "support.h"

static char tcp_server[4096];

/* Events recorded by the callback, as "tool:old>new" lines. */
struct recorder {
    pthread_mutex_t lock;
    char log[8192];
    int calls;
    pthread_t thread;
    int same_thread_every_time;
};

static void record_event(const dxforge_tool_event *event, void *user_data) {
    struct recorder *r = (struct recorder *)user_data;
    char line[256];
    snprintf(line, sizeof line, "%s:%s>%s\n", event->tool, dxforge_tool_status_name(event->old_status),
             dxforge_tool_status_name(event->new_status));
    pthread_mutex_lock(&r->lock);
    if (r->calls == 0) {
        r->thread = pthread_self();
        r->same_thread_every_time = 1;
    } else if (!pthread_equal(r->thread, pthread_self())) {
        r->same_thread_every_time = 0;
    }
    r->calls++;
    strncat(r->log, line, sizeof r->log - strlen(r->log) - 1);
    pthread_mutex_unlock(&r->lock);
}

/* Waits up to `seconds` until the recorder's log contains `needle`. */
static int wait_for_event(struct recorder *r, const char *needle, double seconds) {
    double deadline = now_seconds() + seconds;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        int found = strstr(r->log, needle) != NULL;
        pthread_mutex_unlock(&r->lock);
        if (found) {
            return 1;
        }
        if (now_seconds() > deadline) {
            return 0;
        }
        sleep_ms(10);
    }
}

/* Held until every tool is stopped: tools restart onto their ports. */
static struct reserved_ports ports;

static void register_server(DxForge *forge, const char *name, int port, const char *dep, const char *watch_glob) {
    dxforge_tool_options opts;
    char port_arg[16], target[64];
    const char *args[1];
    const char *deps[1];
    const char *watch[1];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    args[0] = port_arg;
    deps[0] = dep;
    watch[0] = watch_glob;
    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = name;
    opts.binary_path = tcp_server;
    opts.args = args;
    opts.args_count = 1;
    opts.dependencies = deps;
    opts.dependencies_count = dep ? 1 : 0;
    opts.health_kind = DXFORGE_HEALTH_KIND_TCP;
    opts.health_target = target;
    opts.health_interval_ms = 50;
    opts.startup_timeout_ms = 10000;
    opts.stop_timeout_ms = 2000;
    opts.watch = watch;
    opts.watch_count = watch_glob ? 1 : 0;
    CHECK_OK(dxforge_register_tool(forge, &opts));
}

static int process_alive(uint32_t pid) {
    return pid != 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void test_start_stop_with_callbacks(DxForge *forge) {
    struct recorder rec;
    uint64_t sub = 0;
    dxforge_tool_status status = DXFORGE_TOOL_STATUS_STOPPED;
    uint32_t db_pid = 0, web_pid = 0, again_pid = 0;

    memset(&rec, 0, sizeof rec);
    pthread_mutex_init(&rec.lock, NULL);
    CHECK_ERR(dxforge_on_status_change(forge, NULL, &rec, &sub), DXFORGE_ERROR_INVALID_ARGUMENT, "callback");
    CHECK_ERR(dxforge_on_status_change(forge, record_event, &rec, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "out_id");
    CHECK_OK(dxforge_on_status_change(forge, record_event, &rec, &sub));
    CHECK(sub != 0);

    register_server(forge, "db", reserve_port(&ports), NULL, NULL);
    register_server(forge, "web", reserve_port(&ports), "db", NULL);

    CHECK_OK(dxforge_ensure_running(forge, "web", &status));
    CHECK(status == DXFORGE_TOOL_STATUS_HEALTHY);
    CHECK_OK(dxforge_status(forge, "db", &status, &db_pid));
    CHECK(status == DXFORGE_TOOL_STATUS_HEALTHY);
    CHECK_OK(dxforge_status(forge, "web", &status, &web_pid));
    CHECK(process_alive(db_pid));
    CHECK(process_alive(web_pid));
    CHECK(db_pid != web_pid);

    /* Idempotent: same PID. */
    CHECK_OK(dxforge_ensure_running(forge, "web", NULL));
    CHECK_OK(dxforge_status(forge, "web", &status, &again_pid));
    CHECK(again_pid == web_pid);

    /* Callbacks: both tools went starting -> healthy, on one dedicated thread. */
    CHECK(wait_for_event(&rec, "db:starting>healthy", 10));
    CHECK(wait_for_event(&rec, "web:starting>healthy", 10));
    pthread_mutex_lock(&rec.lock);
    CHECK(rec.same_thread_every_time);
    CHECK(!pthread_equal(rec.thread, pthread_self()));
    CHECK(strstr(rec.log, "web:stopped>starting") < strstr(rec.log, "web:starting>healthy"));
    CHECK(strstr(rec.log, "db:starting>healthy") < strstr(rec.log, "web:stopped>starting"));
    pthread_mutex_unlock(&rec.lock);

    /* Logs of a running tool. */
    dxforge_log_lines *lines = NULL;
    double deadline = now_seconds() + 10;
    int seen = 0;
    while (!seen && now_seconds() < deadline) {
        CHECK_OK(dxforge_logs(forge, "web", 50, &lines));
        for (size_t i = 0; lines != NULL && i < lines->count; i++) {
            if (strstr(lines->lines[i].line, "listening on") && strcmp(lines->lines[i].stream, "stdout") == 0) {
                seen = 1;
            }
        }
        dxforge_log_lines_free(lines);
        lines = NULL;
        if (!seen) {
            sleep_ms(20);
        }
    }
    CHECK(seen);

    /* A detailed state while running. */
    dxforge_tool_state *state = NULL;
    CHECK_OK(dxforge_state(forge, "web", &state));
    CHECK(state != NULL && state->pid == web_pid && state->status == DXFORGE_TOOL_STATUS_HEALTHY);
    dxforge_tool_state_free(state);

    /* Stopping the dependency stops its dependent first; both processes end. */
    CHECK_OK(dxforge_stop(forge, "db"));
    CHECK_OK(dxforge_status(forge, "web", &status, NULL));
    CHECK(status == DXFORGE_TOOL_STATUS_STOPPED);
    CHECK_OK(dxforge_status(forge, "db", &status, NULL));
    CHECK(status == DXFORGE_TOOL_STATUS_STOPPED);
    CHECK(!process_alive(web_pid));
    CHECK(!process_alive(db_pid));
    CHECK(wait_for_event(&rec, "web:healthy>stopped", 10));
    CHECK(wait_for_event(&rec, "db:healthy>stopped", 10));

    /* After unsubscribe the callback never runs again. */
    CHECK_OK(dxforge_unsubscribe(forge, sub));
    CHECK_ERR(dxforge_unsubscribe(forge, sub), DXFORGE_ERROR_INVALID_ARGUMENT, "id");
    pthread_mutex_lock(&rec.lock);
    int calls_before = rec.calls;
    pthread_mutex_unlock(&rec.lock);
    CHECK_OK(dxforge_ensure_running(forge, "db", NULL));
    CHECK_OK(dxforge_stop(forge, "db"));
    sleep_ms(200);
    pthread_mutex_lock(&rec.lock);
    CHECK(rec.calls == calls_before);
    pthread_mutex_unlock(&rec.lock);
    pthread_mutex_destroy(&rec.lock);
}

/* A callback that unsubscribes itself on its first event. */
struct self_unsub {
    DxForge *forge;
    uint64_t id;
    int calls;
    int unsubscribe_rc;
};

static void unsubscribe_myself(const dxforge_tool_event *event, void *user_data) {
    struct self_unsub *s = (struct self_unsub *)user_data;
    (void)event;
    s->calls++;
    if (s->calls == 1) {
        s->unsubscribe_rc = dxforge_unsubscribe(s->forge, s->id);
    }
}

static void test_callback_may_unsubscribe_itself(DxForge *forge) {
    struct self_unsub s;
    memset(&s, 0, sizeof s);
    s.forge = forge;
    s.unsubscribe_rc = 1;
    CHECK_OK(dxforge_on_status_change(forge, unsubscribe_myself, &s, &s.id));
    CHECK_OK(dxforge_ensure_running(forge, "db", NULL));
    CHECK_OK(dxforge_stop(forge, "db"));
    double deadline = now_seconds() + 10;
    while (s.unsubscribe_rc == 1 && now_seconds() < deadline) {
        sleep_ms(10);
    }
    sleep_ms(100);
    CHECK(s.unsubscribe_rc == DXFORGE_OK);
    CHECK(s.calls == 1);
}

/* A slow callback: dxforge_close must wait for it to return, and call it no more. */
struct slow {
    pthread_mutex_t lock;
    int entered;
    int returned;
    int calls_after_close;
    int closed;
};

static void slow_callback(const dxforge_tool_event *event, void *user_data) {
    struct slow *s = (struct slow *)user_data;
    (void)event;
    pthread_mutex_lock(&s->lock);
    s->entered++;
    if (s->closed) {
        s->calls_after_close++;
    }
    pthread_mutex_unlock(&s->lock);
    sleep_ms(300);
    pthread_mutex_lock(&s->lock);
    s->returned++;
    pthread_mutex_unlock(&s->lock);
}

static void test_close_waits_for_running_callback(void) {
    char dir[4096];
    DxForge *forge = NULL;
    struct slow s;
    uint64_t id = 0;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    CHECK_OK(dxforge_open(dir, &forge));
    register_server(forge, "slowdb", reserve_port(&ports), NULL, NULL);
    CHECK_OK(dxforge_on_status_change(forge, slow_callback, &s, &id));
    CHECK_OK(dxforge_ensure_running(forge, "slowdb", NULL));
    double deadline = now_seconds() + 10;
    int entered = 0;
    while (!entered && now_seconds() < deadline) {
        pthread_mutex_lock(&s.lock);
        entered = s.entered;
        pthread_mutex_unlock(&s.lock);
        sleep_ms(5);
    }
    CHECK(entered);
    CHECK_OK(dxforge_close(forge)); /* stops slowdb too: more events, none delivered */
    pthread_mutex_lock(&s.lock);
    CHECK(s.entered == s.returned); /* no callback is still running */
    s.closed = 1;
    pthread_mutex_unlock(&s.lock);
    sleep_ms(400);
    pthread_mutex_lock(&s.lock);
    CHECK(s.calls_after_close == 0);
    pthread_mutex_unlock(&s.lock);
    CHECK_ERR(dxforge_unsubscribe(forge, id), DXFORGE_ERROR_INVALID_ARGUMENT, "id");
    dxforge_free(forge);
    pthread_mutex_destroy(&s.lock);
    remove_tree(dir);
}

static void test_start_failure(DxForge *forge) {
    dxforge_tool_options opts;
    dxforge_tool_status status = DXFORGE_TOOL_STATUS_RUNNING;
    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = "ghost";
    opts.binary_path = "/nonexistent/dxforge-ghost-binary";
    opts.restart = DXFORGE_RESTART_POLICY_NEVER;
    CHECK_OK(dxforge_register_tool(forge, &opts));
    CHECK_ERR(dxforge_ensure_running(forge, "ghost", &status), DXFORGE_ERROR_TOOL_FAILED, "ghost");
    CHECK_OK(dxforge_status(forge, "ghost", &status, NULL));
    CHECK(status == DXFORGE_TOOL_STATUS_DEGRADED);
    dxforge_tool_state *state = NULL;
    CHECK_OK(dxforge_state(forge, "ghost", &state));
    CHECK(state != NULL && state->last_error != NULL && strstr(state->last_error, "dxforge-ghost-binary") != NULL);
    dxforge_tool_state_free(state);
    CHECK_ERR(dxforge_ensure_running(forge, "nope", NULL), DXFORGE_ERROR_NOT_FOUND, "nope");
    CHECK_ERR(dxforge_stop(forge, "nope"), DXFORGE_ERROR_NOT_FOUND, "nope");
    CHECK_ERR(dxforge_stop(forge, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "name");
}

static void test_watch_restarts(DxForge *forge, const char *dir) {
    uint32_t pid = 0, later = 0;
    char file[4200];
    dxforge_tool_status status;
    register_server(forge, "watched", reserve_port(&ports), NULL, "src/**/*.txt");
    snprintf(file, sizeof file, "%s/src", dir);
    CHECK(mkdir_p_ok(file));
    snprintf(file, sizeof file, "%s/src/a.txt", dir);
    CHECK(write_file(file, "one\n") == 0);
    CHECK_OK(dxforge_ensure_running(forge, "watched", NULL));
    CHECK_OK(dxforge_status(forge, "watched", &status, &pid));
    CHECK_OK(dxforge_watch(forge, 50)); /* returns once the project is watched */
    CHECK(write_file(file, "two\n") == 0);
    double deadline = now_seconds() + 15;
    later = pid;
    while (now_seconds() < deadline) {
        CHECK_OK(dxforge_status(forge, "watched", &status, &later));
        if (later != 0 && later != pid && status == DXFORGE_TOOL_STATUS_HEALTHY) {
            break;
        }
        sleep_ms(50);
    }
    CHECK(later != pid && later != 0);
    CHECK(!process_alive(pid));
    CHECK_OK(dxforge_unwatch(forge));
}

static void test_stop_all_and_free(DxForge *forge) {
    uint32_t pid = 0;
    dxforge_tool_status status;
    /* "ghost" cannot start, so starting everything reports its failure. */
    CHECK_ERR(dxforge_ensure_all_running(forge), DXFORGE_ERROR_TOOL_FAILED, "ghost");
    CHECK_OK(dxforge_ensure_running(forge, "web", NULL));
    CHECK_OK(dxforge_status(forge, "web", &status, &pid));
    CHECK(process_alive(pid));
    CHECK_OK(dxforge_stop_all(forge));
    CHECK(!process_alive(pid));
    /* dxforge_free stops what is still running. */
    CHECK_OK(dxforge_ensure_running(forge, "web", NULL));
    CHECK_OK(dxforge_status(forge, "web", &status, &pid));
    CHECK(process_alive(pid));
    dxforge_free(forge);
    CHECK(!process_alive(pid));
}

int main(int argc, char **argv) {
    char dir[4096];
    DxForge *forge = NULL;
    char *tools = argc > 1 ? realpath(argv[1], NULL) : NULL;
    if (tools == NULL) {
        fprintf(stderr, "usage: %s TOOLS_DIR\n", argv[0]);
        return 2;
    }
    snprintf(tcp_server, sizeof tcp_server, "%s/tcp-server", tools);
    free(tools);

    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    CHECK_OK(dxforge_open(dir, &forge));
    test_start_stop_with_callbacks(forge);
    test_callback_may_unsubscribe_itself(forge);
    test_close_waits_for_running_callback();
    test_start_failure(forge);
    test_watch_restarts(forge, dir);
    test_stop_all_and_free(forge);
    release_ports(&ports);
    remove_tree(dir);
    return check_summary("c_lifecycle");
}
