/*
 * dxforge C API: conventions, bad input and queries (no tool is started).
 *
 * Usage: test_api TOOLS_DIR   (tests/scenarios/tools)
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "support.h"

static const char *tools_dir;
/* Set (DXFORGE_TEST_VALGRIND=1) under valgrind: valgrind 3.19 lacks pidfd_open,
 * so tools cannot be spawned, and a forked child deliberately leaks the parent's
 * runtime (core/src/runtime.rs), which valgrind would report in the child. */
static int under_valgrind;
static char exit_with[4096];

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", DXFORGE_VERSION_MAJOR, DXFORGE_VERSION_MINOR,
             DXFORGE_VERSION_PATCH);
    CHECK_STR(DXFORGE_VERSION, expected);
    CHECK_STR(dxforge_version(), DXFORGE_VERSION);
}

static void test_error_codes(void) {
    CHECK_STR(dxforge_error_code_name(DXFORGE_OK), "OK");
    CHECK_STR(dxforge_error_code_name(DXFORGE_ERROR_NOT_FOUND), "NOT_FOUND");
    CHECK_STR(dxforge_error_code_name(DXFORGE_ERROR_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    CHECK_STR(dxforge_error_code_name(DXFORGE_ERROR_INTERNAL), "INTERNAL");
    CHECK_STR(dxforge_error_code_name(-99), "UNKNOWN");
    CHECK_STR(dxforge_error_code_name(5), "UNKNOWN");
    CHECK_STR(dxforge_tool_status_name(DXFORGE_TOOL_STATUS_HEALTHY), "healthy");
    CHECK_STR(dxforge_tool_status_name(42), "unknown");
}

static void test_open_bad_input(void) {
    DxForge *forge = (DxForge *)&forge; /* must be reset to NULL on failure */
    CHECK_ERR(dxforge_open("/nonexistent/dxforge-project", &forge), DXFORGE_ERROR_IO,
              "/nonexistent/dxforge-project");
    CHECK(forge == NULL);
    CHECK_ERR(dxforge_open("/tmp", NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "out");
    CHECK_ERR(dxforge_open("/tmp/\xff\xfe", &forge), DXFORGE_ERROR_INVALID_ARGUMENT, "root");
    CHECK(forge == NULL);
    /* A success keeps the thread's last failure (libgit2 style); clearing resets it. */
    char dir[4096];
    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    CHECK_OK(dxforge_open(dir, &forge));
    CHECK(dxforge_last_error_code() == DXFORGE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(dxforge_last_error_message(), "root") != NULL);
    dxforge_clear_last_error();
    CHECK(dxforge_last_error_code() == DXFORGE_OK);
    CHECK_STR(dxforge_last_error_message(), "");
    dxforge_free(forge);
    /* A malformed dxforge.toml is a CONFIG error naming the file. */
    char toml[4200];
    snprintf(toml, sizeof toml, "%s/dxforge.toml", dir);
    CHECK(write_file(toml, "[tools.x]\nbinary_path = 3\n") == 0);
    forge = NULL;
    CHECK_ERR(dxforge_open(dir, &forge), DXFORGE_ERROR_CONFIG, "dxforge.toml");
    CHECK(forge == NULL);
    remove_tree(dir);
}

static void test_open_null_root_is_cwd(void) {
    char dir[4096], cwd[4096];
    DxForge *forge = NULL;
    char *root = NULL;
    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    CHECK_OK(dxforge_open(NULL, &forge));
    CHECK_OK(dxforge_root(forge, &root));
    char real[4096];
    CHECK(realpath(dir, real) != NULL);
    CHECK_STR(root, real);
    dxforge_string_free(root);
    dxforge_free(forge);
    CHECK(chdir(cwd) == 0);
    remove_tree(dir);
}

/* Every tool name registered, comma-joined (for "nothing changed" checks). */
static void names_of(DxForge *forge, char *buf, size_t size) {
    dxforge_string_list *names = NULL;
    buf[0] = '\0';
    if (dxforge_tool_names(forge, &names) != DXFORGE_OK) {
        snprintf(buf, size, "<error>");
        return;
    }
    for (size_t i = 0; i < names->count; i++) {
        strncat(buf, names->items[i], size - strlen(buf) - 2);
        strcat(buf, ",");
    }
    dxforge_string_list_free(names);
}

static void test_register_bad_input(DxForge *forge) {
    dxforge_tool_options opts;
    const char *bad_args[] = {"ok", NULL};
    const char *bad_env[] = {"NOEQUALS"};
    const char *bad_utf8_dep[] = {"\xc3\x28"};
    char names[1024];

    CHECK_ERR(dxforge_tool_options_init(NULL, DXFORGE_TOOL_OPTIONS_VERSION), DXFORGE_ERROR_INVALID_ARGUMENT, "opts");
    CHECK_ERR(dxforge_tool_options_init(&opts, 99), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.version");
    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    CHECK(opts.version == DXFORGE_TOOL_OPTIONS_VERSION);
    CHECK(opts.restart == DXFORGE_RESTART_POLICY_ON_FAILURE);
    CHECK(opts.health_kind == DXFORGE_HEALTH_KIND_NONE);
    CHECK(opts.stop_timeout_ms == 5000);

    CHECK_ERR(dxforge_register_tool(NULL, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "forge");
    CHECK_ERR(dxforge_register_tool(forge, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "opts");
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.name");
    opts.name = "\xff";
    opts.binary_path = exit_with;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.name");
    opts.name = "t";
    opts.binary_path = NULL;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.binary_path");
    opts.binary_path = exit_with;
    opts.args = bad_args;
    opts.args_count = 2;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.args[1]");
    opts.args = NULL;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.args");
    opts.args_count = 0;
    opts.env = bad_env;
    opts.env_count = 1;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.env[0]");
    opts.env_count = 0;
    opts.dependencies = bad_utf8_dep;
    opts.dependencies_count = 1;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.dependencies[0]");
    opts.dependencies_count = 0;
    opts.health_kind = 9;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.health_kind");
    opts.health_kind = DXFORGE_HEALTH_KIND_TCP;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.health_target");
    opts.health_kind = DXFORGE_HEALTH_KIND_NONE;
    opts.restart = 7;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.restart");
    opts.restart = DXFORGE_RESTART_POLICY_NEVER;
    const char *bad_condition[] = {"db=done"};
    opts.dependency_conditions = bad_condition;
    opts.dependency_conditions_count = 1;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT,
              "opts.dependency_conditions[0]");
    opts.dependency_conditions_count = 0;
    /* A caller built for version 1 (before env_file and dependency_conditions). */
    opts.version = 1;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.version");
    opts.version = DXFORGE_TOOL_OPTIONS_VERSION;
    opts.name = "";
    CHECK(dxforge_register_tool(forge, &opts) == DXFORGE_ERROR_INVALID_ARGUMENT);

    /* Nothing of the above registered anything. */
    names_of(forge, names, sizeof names);
    CHECK_STR(names, "");
}

/* Issue 10, class 9: every definition is validated at registration, the same
 * as in Rust, Python and Node. A negative number wraps in C before dxforge sees
 * it, so it arrives out of range and is refused naming the field; a bad
 * host:port or URL is refused here, not after the tool was spawned. */
static void test_register_validation(DxForge *forge) {
    dxforge_tool_options opts;
    char names[1024];

    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = "t";
    opts.binary_path = exit_with;
    opts.max_restarts = (uint32_t)-1; /* a negative number */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "max_restarts");
    CHECK(strstr(dxforge_last_error_message(), "tool `t`") != NULL);
    opts.max_restarts = 5;
    opts.stop_timeout_ms = (uint64_t)-5; /* a negative number */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "stop_timeout_ms");
    opts.stop_timeout_ms = 3600001; /* one beyond its range */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT,
              "stop_timeout_ms: 3600001 is out of range: must be a whole number from 0 to 3600000");
    opts.stop_timeout_ms = 5000;
    opts.health_interval_ms = 0; /* would be a busy loop */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "health_interval_ms");
    opts.health_interval_ms = 500;

    opts.health_kind = DXFORGE_HEALTH_KIND_TCP;
    opts.health_target = "localhost"; /* no port */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "health.tcp");
    CHECK(strstr(dxforge_last_error_message(), "is not host:port") != NULL);
    opts.health_target = "127.0.0.1:65536";
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "health.tcp");
    opts.health_kind = DXFORGE_HEALTH_KIND_HTTP;
    opts.health_target = "https://127.0.0.1/health";
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "health.http");
    opts.health_target = "127.0.0.1:8080/health"; /* no scheme */
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_INVALID_ARGUMENT, "health.http");

    /* Nothing of the above registered anything. */
    names_of(forge, names, sizeof names);
    CHECK_STR(names, "");
}

static void test_register_and_query(DxForge *forge) {
    dxforge_tool_options opts;
    const char *deps[] = {"lint"};
    const char *missing[] = {"missing"};
    const char *env[] = {"GREETING=hi", "EMPTY="};
    char names[1024];
    dxforge_tool_status status = DXFORGE_TOOL_STATUS_DEGRADED;
    uint32_t pid = 99;

    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = "lint";
    opts.binary_path = exit_with;
    opts.env = env;
    opts.env_count = 2;
    opts.restart = DXFORGE_RESTART_POLICY_NEVER;
    opts.priority = 10;
    CHECK_OK(dxforge_register_tool(forge, &opts));

    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = "report";
    opts.binary_path = exit_with;
    opts.dependencies = missing;
    opts.dependencies_count = 1;
    CHECK_ERR(dxforge_register_tool(forge, &opts), DXFORGE_ERROR_DEPENDENCY, "missing");
    opts.dependencies = deps;
    CHECK_OK(dxforge_register_tool(forge, &opts));
    names_of(forge, names, sizeof names);
    CHECK_STR(names, "lint,report,");

    CHECK_OK(dxforge_status(forge, "lint", &status, &pid));
    CHECK(status == DXFORGE_TOOL_STATUS_STOPPED);
    CHECK(pid == 0);
    CHECK_OK(dxforge_status(forge, "report", &status, NULL));
    CHECK_ERR(dxforge_status(forge, "nope", &status, NULL), DXFORGE_ERROR_NOT_FOUND, "nope");
    CHECK_ERR(dxforge_status(forge, NULL, &status, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "name");
    CHECK_ERR(dxforge_status(forge, "li\xffnt", &status, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "name");
    CHECK_ERR(dxforge_status(forge, "lint", NULL, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "out_status");
    CHECK_ERR(dxforge_status(NULL, "lint", &status, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "forge");

    dxforge_tool_state *state = NULL;
    CHECK_OK(dxforge_state(forge, "lint", &state));
    CHECK(state != NULL);
    if (state != NULL) {
        CHECK_STR(state->name, "lint");
        CHECK(state->status == DXFORGE_TOOL_STATUS_STOPPED);
        CHECK(state->pid == 0);
        CHECK(state->last_exit_kind == DXFORGE_EXIT_KIND_NONE);
        CHECK(state->last_error == NULL);
    }
    dxforge_tool_state_free(state);
    state = (dxforge_tool_state *)&state;
    CHECK_ERR(dxforge_state(forge, "nope", &state), DXFORGE_ERROR_NOT_FOUND, "nope");
    CHECK(state == NULL);

    char *json = NULL;
    CHECK_OK(dxforge_tool_json(forge, "lint", &json));
    CHECK(json != NULL && strstr(json, "\"binary_path\"") != NULL && strstr(json, "GREETING") != NULL);
    dxforge_string_free(json);
    json = NULL;
    CHECK_OK(dxforge_states_json(forge, &json));
    CHECK(json != NULL && strstr(json, "\"report\"") != NULL && strstr(json, "\"stopped\"") != NULL);
    dxforge_string_free(json);

    dxforge_log_lines *lines = NULL;
    CHECK_OK(dxforge_logs(forge, "lint", 10, &lines));
    CHECK(lines != NULL && lines->count == 0);
    dxforge_log_lines_free(lines);
    CHECK_ERR(dxforge_logs(forge, "nope", 10, &lines), DXFORGE_ERROR_NOT_FOUND, "nope");

    /* Non-ASCII UTF-8 names are fine. */
    CHECK_OK(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION));
    opts.name = "caf\xc3\xa9-\xe6\x97\xa5";
    opts.binary_path = exit_with;
    CHECK_OK(dxforge_register_tool(forge, &opts));
    CHECK_OK(dxforge_status(forge, "caf\xc3\xa9-\xe6\x97\xa5", &status, NULL));
    CHECK_ERR(dxforge_status(forge, "caf\xc3", &status, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "name");
}

static void test_execute(DxForge *forge) {
    dxforge_exec_result *result = NULL;
    const char *args[] = {"3", "found-problems"};
    CHECK_OK(dxforge_execute_tool(forge, "lint", args, 2, &result));
    CHECK(result != NULL);
    if (result != NULL) {
        CHECK(result->exited);
        CHECK(result->exit_code == 3);
        CHECK(result->signal == 0);
        CHECK_STR(result->stdout_data, "found-problems\n");
        CHECK(result->stdout_len == strlen("found-problems\n"));
        CHECK_STR(result->stderr_data, "to-stderr\n");
    }
    dxforge_exec_result_free(result);
    result = NULL;
    CHECK_OK(dxforge_execute_tool(forge, "lint", NULL, 0, &result));
    CHECK(result != NULL && result->exited && result->exit_code == 0 && result->stdout_len == 1);
    dxforge_exec_result_free(result);
    CHECK_ERR(dxforge_execute_tool(forge, "lint", NULL, 1, &result), DXFORGE_ERROR_INVALID_ARGUMENT, "args");
    CHECK(result == NULL);
    CHECK_ERR(dxforge_execute_tool(forge, "nope", NULL, 0, &result), DXFORGE_ERROR_NOT_FOUND, "nope");
    CHECK_ERR(dxforge_execute_tool(forge, "lint", NULL, 0, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "out");
}

static void test_pipeline(DxForge *forge) {
    dxforge_pipeline_outcome *outcome = NULL;
    CHECK_OK(dxforge_run_pipeline(forge, "status", &outcome));
    CHECK(outcome != NULL);
    if (outcome == NULL) {
        return;
    }
    CHECK(dxforge_pipeline_outcome_exit_code(outcome) == 0);
    CHECK(strstr(dxforge_pipeline_outcome_text(outcome), "lint") != NULL);
    CHECK(strstr(dxforge_pipeline_outcome_json(outcome), "\"report\"") != NULL);
    dxforge_pipeline_outcome_free(outcome);
    outcome = NULL;
    if (!under_valgrind) {
        CHECK_OK(dxforge_run_pipeline(forge, "run lint -- 4 'two words'", &outcome));
        CHECK(outcome != NULL && dxforge_pipeline_outcome_exit_code(outcome) == 4);
        CHECK(outcome != NULL && strstr(dxforge_pipeline_outcome_text(outcome), "two words") != NULL);
        dxforge_pipeline_outcome_free(outcome);
    }
    outcome = NULL;
    CHECK_ERR(dxforge_run_pipeline(forge, "frobnicate", &outcome), DXFORGE_ERROR_USAGE, "frobnicate");
    CHECK(outcome == NULL);
    CHECK_ERR(dxforge_run_pipeline(forge, NULL, &outcome), DXFORGE_ERROR_INVALID_ARGUMENT, "command");
    CHECK(dxforge_pipeline_outcome_text(NULL) == NULL);
    CHECK(dxforge_pipeline_outcome_exit_code(NULL) == 0);
}

/* The last error is per thread: a failure on another thread is not seen here. */
static void *fail_on_other_thread(void *arg) {
    DxForge *forge = (DxForge *)arg;
    dxforge_tool_status status;
    int rc = dxforge_status(forge, "other-thread-unknown", &status, NULL);
    return (void *)(long)(rc == DXFORGE_ERROR_NOT_FOUND && dxforge_last_error_code() == rc);
}

static void test_thread_local_errors(DxForge *forge) {
    pthread_t thread;
    void *ok = NULL;
    dxforge_tool_status status;
    CHECK_ERR(dxforge_status(forge, "main-thread-unknown", &status, NULL), DXFORGE_ERROR_NOT_FOUND, "main-thread");
    CHECK(pthread_create(&thread, NULL, fail_on_other_thread, forge) == 0);
    CHECK(pthread_join(thread, &ok) == 0);
    CHECK(ok == (void *)1L);
    CHECK(strstr(dxforge_last_error_message(), "main-thread-unknown") != NULL);
}

/* After fork(), the parent's handle refuses to work in the child (no hang),
 * and a handle opened in the child works (a fresh runtime). */
static void test_fork(DxForge *forge, const char *dir) {
    pid_t child = fork();
    if (child == 0) {
        dxforge_tool_status status;
        DxForge *mine = NULL;
        alarm(60); /* a hang fails the test instead of blocking it */
        if (dxforge_status(forge, "lint", &status, NULL) != DXFORGE_ERROR_FORKED) {
            _exit(10);
        }
        if (strstr(dxforge_last_error_message(), "fork") == NULL) {
            _exit(11);
        }
        if (dxforge_open(dir, &mine) != DXFORGE_OK) {
            _exit(12);
        }
        dxforge_tool_options opts;
        dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION);
        opts.name = "child-tool";
        opts.binary_path = exit_with;
        if (dxforge_register_tool(mine, &opts) != DXFORGE_OK) {
            _exit(13);
        }
        {
            dxforge_exec_result *result = NULL;
            const char *args[] = {"5", "from-child"};
            if (dxforge_execute_tool(mine, "child-tool", args, 2, &result) != DXFORGE_OK || result->exit_code != 5) {
                _exit(14);
            }
            dxforge_exec_result_free(result);
        }
        dxforge_free(mine);
        dxforge_free(forge); /* stops nothing of the parent's */
        _exit(0);
    }
    int wstatus = 0;
    CHECK(child > 0);
    CHECK(waitpid(child, &wstatus, 0) == child);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)) {
        fprintf(stderr, "fork child: status %d\n", wstatus);
    }
    /* The parent's handle still works. */
    dxforge_tool_status status;
    CHECK_OK(dxforge_status(forge, "lint", &status, NULL));
}

static void test_close(DxForge *forge) {
    dxforge_tool_status status;
    CHECK(dxforge_is_closed(forge) == 0);
    CHECK_OK(dxforge_close(forge));
    CHECK_OK(dxforge_close(forge));
    CHECK(dxforge_is_closed(forge) == 1);
    CHECK_ERR(dxforge_status(forge, "lint", &status, NULL), DXFORGE_ERROR_CLOSED, "closed");
    CHECK_ERR(dxforge_run_pipeline(forge, "status", &(dxforge_pipeline_outcome *){NULL}), DXFORGE_ERROR_CLOSED,
              "closed");
    CHECK(dxforge_is_closed(NULL) == 0);
    CHECK_ERR(dxforge_close(NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "forge");
    /* Every free function accepts NULL. */
    dxforge_free(NULL);
    dxforge_string_free(NULL);
    dxforge_string_list_free(NULL);
    dxforge_tool_state_free(NULL);
    dxforge_exec_result_free(NULL);
    dxforge_log_lines_free(NULL);
    dxforge_pipeline_outcome_free(NULL);
}

int main(int argc, char **argv) {
    char dir[4096];
    DxForge *forge = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: %s TOOLS_DIR\n", argv[0]);
        return 2;
    }
    tools_dir = realpath(argv[1], NULL);
    if (tools_dir == NULL) {
        fprintf(stderr, "no such directory: %s\n", argv[1]);
        return 2;
    }
    snprintf(exit_with, sizeof exit_with, "%s/exit-with", tools_dir);

    test_version();
    test_error_codes();
    test_open_bad_input();
    test_open_null_root_is_cwd();

    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    CHECK_OK(dxforge_open(dir, &forge));
    test_register_bad_input(forge);
    test_register_validation(forge);
    test_register_and_query(forge);
    under_valgrind = getenv("DXFORGE_TEST_VALGRIND") != NULL;
    if (!under_valgrind) {
        test_execute(forge);
    }
    test_pipeline(forge);
    test_thread_local_errors(forge);
    if (!under_valgrind) {
        test_fork(forge, dir);
    }
    test_close(forge);
    dxforge_free(forge);
    remove_tree(dir);
    free((void *)tools_dir);
    return check_summary("c_api");
}
