/*
 * dxforge C API, registry items (shadcn registry-item JSON): add by registry
 * name and by URL with transitive registryDependencies, diff, an update that
 * merges the user's edit, and a missing item refused naming its URL.
 *
 * Usage: test_registries BASE_URL   (scripts/test-c.sh serves
 * examples/shadcn-registry at BASE_URL with python3 -m http.server)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    char dir[4096], path[4400], toml[8192], url[4400];
    DxForge *forge = NULL;
    dxforge_traffic_report *report = NULL;
    CHECK(make_temp_dir(dir, sizeof dir) != NULL);
    snprintf(path, sizeof path, "%s/dxforge.toml", dir);
    snprintf(toml, sizeof toml, "[registries]\n\"@demo\" = \"%s/r/{name}.json\"\n", argv[1]);
    CHECK(write_file(path, toml) == 0);
    CHECK_OK(dxforge_open(dir, &forge));

    CHECK_OK(dxforge_install_package(forge, "@demo/card", "", NULL, &report));
    CHECK(dxforge_traffic_report_package_count(report) == 3);
    CHECK(strstr(dxforge_traffic_report_json(report), "\"not_applied\":[\"cssVars\"]") != NULL);
    dxforge_traffic_report_free(report);
    snprintf(path, sizeof path, "%s/components/ui/card.tsx", dir);
    char *card = read_file(path, NULL);
    CHECK(card != NULL && strstr(card, "from \"@/components/ui/button\"") != NULL);
    free(card);

    report = NULL;
    snprintf(url, sizeof url, "%s/r/use-toggle.json", argv[1]);
    CHECK_OK(dxforge_install_package(forge, url, "", NULL, &report));
    dxforge_traffic_report_free(report);
    snprintf(path, sizeof path, "%s/hooks/use-toggle.ts", dir);
    char *hook = read_file(path, NULL);
    CHECK(hook != NULL && strstr(hook, "\r\n") != NULL);
    free(hook);

    snprintf(path, sizeof path, "%s/lib/utils.ts", dir);
    char *utils = read_file(path, NULL);
    CHECK(utils != NULL);
    char mine[8192];
    snprintf(mine, sizeof mine, "%s// mine\n", utils ? utils : "");
    free(utils);
    CHECK(write_file(path, mine) == 0);
    report = NULL;
    CHECK_OK(dxforge_diff(forge, "@demo/utils", &report));
    CHECK(dxforge_traffic_report_dry_run(report));
    dxforge_traffic_report_free(report);
    report = NULL;
    CHECK_OK(dxforge_update(forge, "@demo/utils", NULL, &report));
    CHECK(dxforge_traffic_report_file_count(report) == 1);
    const dxforge_file_report *f = dxforge_traffic_report_file(report, 0);
    CHECK(f != NULL && f->light == DXFORGE_TRAFFIC_LIGHT_YELLOW);
    dxforge_traffic_report_free(report);
    char *after = read_file(path, NULL);
    CHECK(after != NULL && strcmp(after, mine) == 0);
    free(after);

    report = NULL;
    CHECK_ERR(dxforge_install_package(forge, "@demo/missing", "", NULL, &report), DXFORGE_ERROR_REMOTE,
              "/r/missing.json");
    dxforge_free(forge);
    remove_tree(dir);
    return check_summary("c_registries");
}
