// The dxforge header compiled as C++17 (-Wall -Wextra -pedantic -Werror) and
// used from C++: enums, option structs, out-parameters, callbacks.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include <unistd.h>

#include "dxforge.h"

static int failures = 0;
static int passes = 0;
#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (cond) {                                                                \
            ++passes;                                                              \
        } else {                                                                   \
            ++failures;                                                            \
            std::fprintf(stderr, "%s:%d: EXPECT failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                         dxforge_last_error_message());                            \
        }                                                                          \
    } while (0)

static_assert(std::is_same<decltype(dxforge_version()), const char *>::value, "version returns const char*");
static_assert(sizeof(dxforge_tool_status) == 4, "C enums are int-sized");
static_assert(DXFORGE_OK == 0 && DXFORGE_ERROR_INTERNAL < 0, "error codes are negative");

extern "C" void on_event(const dxforge_tool_event *event, void *user_data) {
    static_cast<std::string *>(user_data)->append(event->tool);
}

int main() {
    EXPECT(std::string(dxforge_version()) == DXFORGE_VERSION);
    DxForge *forge = nullptr;
    EXPECT(dxforge_open("/nonexistent/dxforge-cxx", &forge) == DXFORGE_ERROR_IO);
    EXPECT(forge == nullptr);
    EXPECT(std::string(dxforge_error_code_name(dxforge_last_error_code())) == "IO");
    char dir[] = "/tmp/dxforge-cxx-XXXXXX";
    EXPECT(mkdtemp(dir) != nullptr);
    EXPECT(dxforge_open(dir, &forge) == DXFORGE_OK);

    dxforge_tool_options opts;
    EXPECT(dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION) == DXFORGE_OK);
    const char *args[] = {"-c", "echo from-cxx"};
    opts.name = "sh";
    opts.binary_path = "/bin/sh";
    opts.args = args;
    opts.args_count = 2;
    opts.restart = DXFORGE_RESTART_POLICY_NEVER;
    EXPECT(dxforge_register_tool(forge, &opts) == DXFORGE_OK);

    std::string seen;
    uint64_t id = 0;
    EXPECT(dxforge_on_status_change(forge, on_event, &seen, &id) == DXFORGE_OK);
    dxforge_exec_result *result = nullptr;
    EXPECT(dxforge_execute_tool(forge, "sh", args, 2, &result) == DXFORGE_OK);
    EXPECT(result != nullptr && result->exited && result->exit_code == 0);
    EXPECT(result != nullptr && std::string(result->stdout_data, result->stdout_len) == "from-cxx\n");
    dxforge_exec_result_free(result);
    EXPECT(dxforge_unsubscribe(forge, id) == DXFORGE_OK);

    dxforge_tool_status status = DXFORGE_TOOL_STATUS_DEGRADED;
    EXPECT(dxforge_status(forge, "sh", &status, nullptr) == DXFORGE_OK);
    EXPECT(status == DXFORGE_TOOL_STATUS_STOPPED);
    dxforge_free(forge);
    std::string rm = std::string("rm -rf '") + dir + "'";
    EXPECT(std::system(rm.c_str()) == 0);
    std::printf("c_cxx: %d passed, %d failed\n", passes, failures);
    return failures == 0 ? 0 : 1;
}
