/*
 * Runs every shared scenario of the .scn files of tests/scenarios through the C API,
 * with the semantics of the Rust runner (core/tests/scenarios.rs): each file
 * on a fresh DxForge over an empty temporary project; tool defaults
 * health_interval_ms=50, stop_timeout_ms=2000, startup_timeout_ms=10000;
 * ${TOOLS}, ${PORT1}, ${PORT2} substituted.
 *
 * Usage: test_scenarios SCENARIOS_DIR
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"

#define MAX_WORDS 32
#define MAX_PIDS 16

struct step {
    char *words[MAX_WORDS];
    int nwords;
    char *expect[MAX_WORDS];
    int nexpect;
};

struct remembered {
    char name[64];
    uint32_t pid;
};

static const char *file_name;
static int line_no;

#define FAIL(...)                                                        \
    do {                                                                 \
        checks_failed++;                                                 \
        fprintf(stderr, "%s:%d: ", file_name, line_no);                  \
        fprintf(stderr, __VA_ARGS__);                                    \
        fprintf(stderr, " (last error: %s)\n", dxforge_last_error_message()); \
    } while (0)

/* Replaces every ${NAME} of `vars` (pairs) in `line`, into `out`. */
static void substitute(const char *line, const char *const *vars, int nvars, char *out, size_t size) {
    size_t o = 0;
    while (*line && o + 1 < size) {
        int replaced = 0;
        for (int i = 0; i < nvars; i += 2) {
            char key[64];
            snprintf(key, sizeof key, "${%s}", vars[i]);
            if (strncmp(line, key, strlen(key)) == 0) {
                size_t n = strlen(vars[i + 1]);
                if (o + n < size) {
                    memcpy(out + o, vars[i + 1], n);
                    o += n;
                }
                line += strlen(key);
                replaced = 1;
                break;
            }
        }
        if (!replaced) {
            out[o++] = *line++;
        }
    }
    out[o] = '\0';
}

/* Splits `line` in place into step words and expectation words. */
static void split_step(char *line, struct step *s) {
    char *arrow = strstr(line, "=>");
    char *save = NULL;
    s->nwords = s->nexpect = 0;
    if (arrow) {
        *arrow = '\0';
        for (char *w = strtok_r(arrow + 2, " \t", &save); w && s->nexpect < MAX_WORDS; w = strtok_r(NULL, " \t", &save)) {
            s->expect[s->nexpect++] = w;
        }
    }
    for (char *w = strtok_r(line, " \t", &save); w && s->nwords < MAX_WORDS; w = strtok_r(NULL, " \t", &save)) {
        s->words[s->nwords++] = w;
    }
}

/* The value of `key=` among words[from..], or NULL. */
static const char *key_value(struct step *s, int from, const char *key) {
    size_t n = strlen(key);
    for (int i = from; i < s->nwords; i++) {
        if (strncmp(s->words[i], key, n) == 0 && s->words[i][n] == '=') {
            return s->words[i] + n + 1;
        }
    }
    return NULL;
}

static const char *expect_value(struct step *s, const char *key) {
    size_t n = strlen(key);
    for (int i = 0; i < s->nexpect; i++) {
        if (strncmp(s->expect[i], key, n) == 0 && s->expect[i][n] == '=') {
            return s->expect[i] + n + 1;
        }
    }
    return NULL;
}

/* Splits a comma-separated list in place; returns the count. */
static size_t split_list(char *text, const char **items, size_t max) {
    size_t n = 0;
    char *save = NULL;
    if (text == NULL) {
        return 0;
    }
    for (char *w = strtok_r(text, ",", &save); w && n < max; w = strtok_r(NULL, ",", &save)) {
        items[n++] = w;
    }
    return n;
}

/* Compares a call's result code with the expectation; returns 1 when the
 * call succeeded and success was expected (so the caller checks the value). */
static int check_result(int rc, struct step *s) {
    int expects_error = s->nexpect >= 2 && strcmp(s->expect[0], "error") == 0;
    if (expects_error) {
        if (rc == DXFORGE_OK) {
            FAIL("expected error %s, got success", s->expect[1]);
        } else if (strcmp(dxforge_error_code_name(rc), s->expect[1]) != 0) {
            FAIL("expected error %s, got %s", s->expect[1], dxforge_error_code_name(rc));
        } else {
            checks_passed++;
        }
        return 0;
    }
    if (rc != DXFORGE_OK) {
        FAIL("unexpected error %s", dxforge_error_code_name(rc));
        return 0;
    }
    checks_passed++;
    return 1;
}

static void check_status(dxforge_tool_status status, struct step *s) {
    if (s->nexpect < 1 || strcmp(dxforge_tool_status_name(status), s->expect[0]) != 0) {
        FAIL("status %s, expected %s", dxforge_tool_status_name(status), s->nexpect ? s->expect[0] : "?");
    } else {
        checks_passed++;
    }
}

static int register_step(DxForge *forge, struct step *s) {
    dxforge_tool_options opts;
    char args_buf[1024] = "", deps_buf[1024] = "";
    const char *args[MAX_WORDS], *deps[MAX_WORDS];
    const char *v;
    dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION);
    opts.name = s->words[1];
    opts.binary_path = key_value(s, 2, "bin");
    if ((v = key_value(s, 2, "args")) != NULL) {
        snprintf(args_buf, sizeof args_buf, "%s", v);
    }
    if ((v = key_value(s, 2, "deps")) != NULL) {
        snprintf(deps_buf, sizeof deps_buf, "%s", v);
    }
    opts.args = args;
    opts.args_count = split_list(args_buf, args, MAX_WORDS);
    opts.dependencies = deps;
    opts.dependencies_count = split_list(deps_buf, deps, MAX_WORDS);
    opts.health_interval_ms = 50;
    opts.stop_timeout_ms = 2000;
    opts.startup_timeout_ms = 10000;
    if ((v = key_value(s, 2, "priority")) != NULL) {
        opts.priority = (uint32_t)strtoul(v, NULL, 10);
    }
    if ((v = key_value(s, 2, "health_tcp")) != NULL) {
        opts.health_kind = DXFORGE_HEALTH_KIND_TCP;
        opts.health_target = v;
    }
    if ((v = key_value(s, 2, "restart")) != NULL) {
        opts.restart = strcmp(v, "never") == 0    ? DXFORGE_RESTART_POLICY_NEVER
                       : strcmp(v, "always") == 0 ? DXFORGE_RESTART_POLICY_ALWAYS
                                                  : DXFORGE_RESTART_POLICY_ON_FAILURE;
    }
    if ((v = key_value(s, 2, "max_restarts")) != NULL) {
        opts.max_restarts = (uint32_t)strtoul(v, NULL, 10);
    }
    if ((v = key_value(s, 2, "startup_timeout_ms")) != NULL) {
        opts.startup_timeout_ms = strtoull(v, NULL, 10);
    }
    if ((v = key_value(s, 2, "stop_timeout_ms")) != NULL) {
        opts.stop_timeout_ms = strtoull(v, NULL, 10);
    }
    return dxforge_register_tool(forge, &opts);
}

static void execute_step(DxForge *forge, struct step *s) {
    char args_buf[1024] = "";
    const char *args[MAX_WORDS];
    const char *v = key_value(s, 2, "args");
    dxforge_exec_result *result = NULL;
    if (v != NULL) {
        snprintf(args_buf, sizeof args_buf, "%s", v);
    }
    size_t n = split_list(args_buf, args, MAX_WORDS);
    if (check_result(dxforge_execute_tool(forge, s->words[1], args, n, &result), s) && result != NULL) {
        const char *text = expect_value(s, "stdout");
        if (s->nexpect < 2 || !result->exited || result->exit_code != atoi(s->expect[1])) {
            FAIL("exit code %d, expected %s", result->exit_code, s->nexpect > 1 ? s->expect[1] : "?");
        } else if (text != NULL && strstr(result->stdout_data, text) == NULL) {
            FAIL("stdout \"%s\" lacks \"%s\"", result->stdout_data, text);
        } else {
            checks_passed++;
        }
    }
    dxforge_exec_result_free(result);
}

static uint32_t pid_of(DxForge *forge, const char *name) {
    dxforge_tool_status status;
    uint32_t pid = 0;
    if (dxforge_status(forge, name, &status, &pid) != DXFORGE_OK) {
        FAIL("no status for %s", name);
    }
    return pid;
}

static void run_file(const char *dir, const char *name, const char *tools) {
    char path[4200], project[4096], line[4096], expanded[8192];
    char port1[16], port2[16];
    struct remembered pids[MAX_PIDS];
    int npids = 0;
    DxForge *forge = NULL;
    struct reserved_ports ports = {.count = 0};
    snprintf(port1, sizeof port1, "%d", reserve_port(&ports));
    snprintf(port2, sizeof port2, "%d", reserve_port(&ports));
    const char *vars[] = {"TOOLS", tools, "PORT1", port1, "PORT2", port2};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    file_name = name;
    line_no = 0;
    if (f == NULL || make_temp_dir(project, sizeof project) == NULL || dxforge_open(project, &forge) != DXFORGE_OK) {
        FAIL("cannot set up %s", path);
        if (f) {
            fclose(f);
        }
        release_ports(&ports);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        struct step s;
        dxforge_tool_status status;
        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        char *start = line + strspn(line, " \t");
        if (*start == '\0' || *start == '#') {
            continue;
        }
        substitute(start, vars, 6, expanded, sizeof expanded);
        split_step(expanded, &s);
        if (s.nwords < 2) {
            FAIL("malformed step");
            continue;
        }
        const char *op = s.words[0], *tool = s.words[1];
        if (strcmp(op, "tool") == 0) {
            check_result(register_step(forge, &s), &s);
        } else if (strcmp(op, "ensure_running") == 0) {
            if (check_result(dxforge_ensure_running(forge, tool, &status), &s)) {
                check_status(status, &s);
            }
        } else if (strcmp(op, "status") == 0) {
            if (check_result(dxforge_status(forge, tool, &status, NULL), &s)) {
                check_status(status, &s);
            }
        } else if (strcmp(op, "stop") == 0) {
            check_result(dxforge_stop(forge, tool), &s);
        } else if (strcmp(op, "execute") == 0) {
            execute_step(forge, &s);
        } else if (strcmp(op, "remember_pid") == 0 && npids < MAX_PIDS) {
            snprintf(pids[npids].name, sizeof pids[npids].name, "%s", tool);
            pids[npids].pid = pid_of(forge, tool);
            if (pids[npids].pid == 0) {
                FAIL("%s has no pid", tool);
            }
            npids++;
        } else if (strcmp(op, "same_pid") == 0) {
            uint32_t now = pid_of(forge, tool), then = 0;
            for (int i = 0; i < npids; i++) {
                if (strcmp(pids[i].name, tool) == 0) {
                    then = pids[i].pid;
                }
            }
            if (now == 0 || now != then) {
                FAIL("pid of %s changed: %u -> %u", tool, then, now);
            } else {
                checks_passed++;
            }
        } else {
            FAIL("unknown step `%s`", op);
        }
    }
    fclose(f);
    if (dxforge_close(forge) != DXFORGE_OK) {
        FAIL("close failed");
    }
    dxforge_free(forge);
    release_ports(&ports);
    remove_tree(project);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    char *names[256];
    int n = 0;
    char tools[4200];
    char *dir = argc > 1 ? realpath(argv[1], NULL) : NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    if (d == NULL) {
        fprintf(stderr, "usage: %s SCENARIOS_DIR\n", argv[0]);
        free(dir);
        return 2;
    }
    for (struct dirent *e = readdir(d); e != NULL && n < 256; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".scn") == 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    snprintf(tools, sizeof tools, "%s/tools", dir);
    CHECK(n >= 4); /* the scenario files are there */
    for (int i = 0; i < n; i++) {
        int failed_before = checks_failed;
        run_file(dir, names[i], tools);
        printf("scenario %s: %s\n", names[i], checks_failed == failed_before ? "ok" : "FAILED");
        free(names[i]);
    }
    free(dir);
    return check_summary("c_scenarios");
}
