/*
 * dxforge C API, Traffic Branching: traffic lights, dry-run plans, installs
 * with their dependencies, upgrades that merge the user's edits (Yellow) or
 * keep them (Red + .new), removal that keeps modified files, install of
 * every [dependencies] entry, and bad input refused with nothing written.
 *
 * Usage: test_traffic REGISTRY_DIR   (examples/registry)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"

static char registry[4096];

/* A fresh project whose dxforge.toml points at the example registry. */
static DxForge *open_project(char *dir, size_t size, const char *extra_toml) {
    char path[4200], toml[8192];
    DxForge *forge = NULL;
    CHECK(make_temp_dir(dir, size) != NULL);
    snprintf(path, sizeof path, "%s/dxforge.toml", dir);
    snprintf(toml, sizeof toml, "[project]\nname = \"c-test\"\n\n[registry]\npath = \"%s\"\n%s", registry,
             extra_toml ? extra_toml : "");
    CHECK(write_file(path, toml) == 0);
    CHECK_OK(dxforge_open(dir, &forge));
    return forge;
}

static const dxforge_file_report *find_file(const dxforge_traffic_report *report, const char *path) {
    for (size_t i = 0; i < dxforge_traffic_report_file_count(report); i++) {
        const dxforge_file_report *f = dxforge_traffic_report_file(report, i);
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }
    return NULL;
}

static char *registry_file(const char *package_path, size_t *len) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", registry, package_path);
    return read_file(path, len);
}

static void test_install_dry_run_then_real(void) {
    char dir[4096], card[4200], utils[4200], toml[4200];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    dxforge_install_options opts;
    dxforge_traffic_report *report = NULL;
    snprintf(card, sizeof card, "%s/components/ui/card.tsx", dir);
    snprintf(utils, sizeof utils, "%s/lib/utils.ts", dir);
    snprintf(toml, sizeof toml, "%s/dxforge.toml", dir);
    char *toml_before = read_file(toml, NULL);

    CHECK_OK(dxforge_install_options_init(&opts, DXFORGE_INSTALL_OPTIONS_VERSION));
    opts.dry_run = true;
    CHECK_OK(dxforge_install_package(forge, "card", "^0.1", &opts, &report));
    CHECK(dxforge_traffic_report_dry_run(report));
    CHECK(dxforge_traffic_report_package_count(report) == 2);
    const dxforge_file_report *f = find_file(report, "components/ui/card.tsx");
    CHECK(f != NULL && f->light == DXFORGE_TRAFFIC_LIGHT_GREEN && f->action == DXFORGE_FILE_ACTION_CREATE);
    CHECK(f != NULL && strcmp(f->package, "card") == 0);
    CHECK(find_file(report, "lib/utils.ts") != NULL);
    CHECK(strstr(dxforge_traffic_report_json(report), "\"dry_run\":true") != NULL);
    dxforge_traffic_report_free(report);
    /* A dry run writes nothing. */
    CHECK(!file_exists(card));
    CHECK(!file_exists(utils));
    char *toml_after = read_file(toml, NULL);
    CHECK(toml_before && toml_after && strcmp(toml_before, toml_after) == 0);
    free(toml_after);

    report = NULL;
    CHECK_OK(dxforge_install_package(forge, "card", "^0.1", NULL, &report));
    CHECK(!dxforge_traffic_report_dry_run(report));
    CHECK(!dxforge_traffic_report_has_red(report));
    int saw_card = 0;
    for (size_t i = 0; i < dxforge_traffic_report_package_count(report); i++) {
        if (strcmp(dxforge_traffic_report_package_name(report, i), "card") == 0) {
            CHECK_STR(dxforge_traffic_report_package_version(report, i), "0.1.0");
            saw_card = 1;
        }
    }
    CHECK(saw_card);
    CHECK(dxforge_traffic_report_package_name(report, 99) == NULL);
    CHECK(dxforge_traffic_report_file(report, 99) == NULL);
    dxforge_traffic_report_free(report);
    CHECK(file_exists(card));
    CHECK(file_exists(utils));
    toml_after = read_file(toml, NULL);
    CHECK(toml_after != NULL && strstr(toml_after, "card") != NULL);
    free(toml_after);
    free(toml_before);

    /* Same content: Green. */
    size_t len = 0;
    char *installed = read_file(card, &len);
    dxforge_traffic_light light = DXFORGE_TRAFFIC_LIGHT_RED;
    CHECK_OK(dxforge_analyze_traffic_safety(forge, "components/ui/card.tsx", installed, len, &light));
    CHECK(light == DXFORGE_TRAFFIC_LIGHT_GREEN);
    free(installed);
    dxforge_free(forge);
    remove_tree(dir);
}

/* A user edit at the top merges with the upstream addition at the bottom:
 * Yellow, and the upgrade keeps both. */
static void test_upgrade_merges_user_edit(void) {
    char dir[4096], card[4200], edited[8192];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    dxforge_traffic_report *report = NULL;
    snprintf(card, sizeof card, "%s/components/ui/card.tsx", dir);
    CHECK_OK(dxforge_install_package(forge, "card", "0.1.0", NULL, &report));
    dxforge_traffic_report_free(report);

    char *original = read_file(card, NULL);
    snprintf(edited, sizeof edited, "// user note: keep me\n%s", original ? original : "");
    CHECK(write_file(card, edited) == 0);
    free(original);

    size_t len = 0;
    char *upstream = registry_file("card/0.2.0/files/components/ui/card.tsx", &len);
    dxforge_traffic_light light = DXFORGE_TRAFFIC_LIGHT_GREEN;
    CHECK_OK(dxforge_analyze_traffic_safety(forge, "components/ui/card.tsx", upstream, len, &light));
    CHECK(light == DXFORGE_TRAFFIC_LIGHT_YELLOW);
    report = NULL;
    CHECK_OK(dxforge_check_file(forge, "components/ui/card.tsx", upstream, len, &report));
    CHECK(dxforge_traffic_report_file_count(report) == 1);
    CHECK(dxforge_traffic_report_file(report, 0)->light == DXFORGE_TRAFFIC_LIGHT_YELLOW);
    CHECK(strlen(dxforge_traffic_report_file(report, 0)->reason) > 0);
    dxforge_traffic_report_free(report);
    free(upstream);

    report = NULL;
    CHECK_OK(dxforge_install_package(forge, "card", "^0.2", NULL, &report));
    const dxforge_file_report *f = find_file(report, "components/ui/card.tsx");
    CHECK(f != NULL && f->light == DXFORGE_TRAFFIC_LIGHT_YELLOW && f->action == DXFORGE_FILE_ACTION_WRITE);
    dxforge_traffic_report_free(report);
    char *merged = read_file(card, NULL);
    CHECK(merged != NULL && strstr(merged, "// user note: keep me") != NULL && strstr(merged, "CardTitle") != NULL);
    free(merged);
    dxforge_free(forge);
    remove_tree(dir);
}

/* A user edit where upstream also changed: Red; the user's file stays
 * byte-identical and upstream goes to <file>.new. Removal keeps it. */
static void test_conflict_is_red_and_remove_keeps_edits(void) {
    char dir[4096], card[4200], card_new[4300], utils[4200];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    dxforge_traffic_report *report = NULL;
    snprintf(card, sizeof card, "%s/components/ui/card.tsx", dir);
    snprintf(card_new, sizeof card_new, "%s.new", card);
    snprintf(utils, sizeof utils, "%s/lib/utils.ts", dir);
    CHECK_OK(dxforge_install_package(forge, "card", "0.1.0", NULL, &report));
    dxforge_traffic_report_free(report);

    char *original = read_file(card, NULL);
    char edited[8192];
    snprintf(edited, sizeof edited, "%s\nexport const userAddition = 1;\n", original ? original : "");
    free(original);
    CHECK(write_file(card, edited) == 0);

    report = NULL;
    CHECK_OK(dxforge_install_package(forge, "card", "^0.2", NULL, &report));
    CHECK(dxforge_traffic_report_has_red(report));
    const dxforge_file_report *f = find_file(report, "components/ui/card.tsx");
    CHECK(f != NULL && f->light == DXFORGE_TRAFFIC_LIGHT_RED && f->action == DXFORGE_FILE_ACTION_WRITE_NEW);
    CHECK(f != NULL && f->conflict_count >= 1);
    CHECK(strstr(dxforge_traffic_report_json(report), "conflicts") != NULL);
    dxforge_traffic_report_free(report);
    char *after = read_file(card, NULL);
    CHECK(after != NULL && strcmp(after, edited) == 0);
    free(after);
    char *upstream = read_file(card_new, NULL);
    CHECK(upstream != NULL && strstr(upstream, "CardTitle") != NULL);
    free(upstream);

    /* Remove: the modified card.tsx is kept, utils stays (card's dependency is separate). */
    report = NULL;
    CHECK_OK(dxforge_remove_package(forge, "card", NULL, &report));
    f = find_file(report, "components/ui/card.tsx");
    CHECK(f != NULL && f->action == DXFORGE_FILE_ACTION_KEEP);
    CHECK_STR(dxforge_traffic_report_package_name(report, 0), "card");
    dxforge_traffic_report_free(report);
    CHECK(file_exists(card));
    CHECK_ERR(dxforge_remove_package(forge, "card", NULL, &report), DXFORGE_ERROR_NOT_FOUND, "card");
    CHECK(report == NULL);
    dxforge_free(forge);
    remove_tree(dir);
}

static void test_install_all_and_diff(void) {
    char dir[4096], button[4200];
    DxForge *forge = open_project(dir, sizeof dir, "\n[dependencies]\nbutton = \"^1.2\"\n");
    dxforge_traffic_report *report = NULL;
    snprintf(button, sizeof button, "%s/components/ui/button.css", dir);
    CHECK_OK(dxforge_install_all_dependencies(forge, NULL, &report));
    CHECK(find_file(report, "components/ui/button.tsx") != NULL);
    CHECK(find_file(report, "lib/utils.ts") != NULL);
    dxforge_traffic_report_free(report);
    CHECK(file_exists(button));
    report = NULL;
    CHECK_OK(dxforge_diff(forge, NULL, &report));
    CHECK(dxforge_traffic_report_dry_run(report));
    CHECK(!dxforge_traffic_report_has_red(report));
    dxforge_traffic_report_free(report);
    report = NULL;
    CHECK_OK(dxforge_update(forge, "button", NULL, &report));
    CHECK(!dxforge_traffic_report_has_red(report));
    dxforge_traffic_report_free(report);
    dxforge_free(forge);
    remove_tree(dir);
}

static void test_bad_input_changes_nothing(void) {
    char dir[4096], lock[4200], toml[4200];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    dxforge_traffic_report *report = NULL;
    dxforge_traffic_light light;
    dxforge_install_options opts;
    snprintf(lock, sizeof lock, "%s/dxforge.lock", dir);
    snprintf(toml, sizeof toml, "%s/dxforge.toml", dir);
    char *toml_before = read_file(toml, NULL);

    CHECK_ERR(dxforge_analyze_traffic_safety(forge, "../outside.txt", "x", 1, &light), DXFORGE_ERROR_UNSAFE_PATH,
              "outside.txt");
    CHECK_ERR(dxforge_analyze_traffic_safety(forge, "/etc/passwd", "x", 1, &light), DXFORGE_ERROR_UNSAFE_PATH,
              "/etc/passwd");
    CHECK_ERR(dxforge_analyze_traffic_safety(forge, "a.txt", NULL, 3, &light), DXFORGE_ERROR_INVALID_ARGUMENT,
              "content");
    CHECK_ERR(dxforge_analyze_traffic_safety(forge, NULL, "x", 1, &light), DXFORGE_ERROR_INVALID_ARGUMENT, "path");
    CHECK_ERR(dxforge_analyze_traffic_safety(forge, "a\xff.txt", "x", 1, &light), DXFORGE_ERROR_INVALID_ARGUMENT,
              "path");
    CHECK_OK(dxforge_analyze_traffic_safety(forge, "new-file.txt", NULL, 0, &light));
    CHECK(light == DXFORGE_TRAFFIC_LIGHT_GREEN);

    CHECK_ERR(dxforge_install_package(forge, "nosuchpackage", NULL, NULL, &report), DXFORGE_ERROR_NOT_FOUND,
              "nosuchpackage");
    CHECK_ERR(dxforge_install_package(forge, "Bad Name!", NULL, NULL, &report), DXFORGE_ERROR_INVALID_ARGUMENT,
              "Bad Name!");
    CHECK_ERR(dxforge_install_package(forge, "card", "^^1", NULL, &report), DXFORGE_ERROR_INVALID_ARGUMENT, "^^1");
    CHECK_ERR(dxforge_install_package(forge, NULL, NULL, NULL, &report), DXFORGE_ERROR_INVALID_ARGUMENT, "name");
    CHECK_ERR(dxforge_install_package(forge, "card", "\xc3", NULL, &report), DXFORGE_ERROR_INVALID_ARGUMENT,
              "version_req");
    CHECK_ERR(dxforge_install_package(NULL, "card", NULL, NULL, &report), DXFORGE_ERROR_INVALID_ARGUMENT, "forge");
    CHECK_OK(dxforge_install_options_init(&opts, DXFORGE_INSTALL_OPTIONS_VERSION));
    opts.version = 9;
    CHECK_ERR(dxforge_install_package(forge, "card", NULL, &opts, &report), DXFORGE_ERROR_INVALID_ARGUMENT,
              "opts.version");
    CHECK_ERR(dxforge_install_options_init(&opts, 0), DXFORGE_ERROR_INVALID_ARGUMENT, "opts.version");
    CHECK(report == NULL);

    /* Nothing was written by any of the above. */
    CHECK(!file_exists(lock));
    char *toml_after = read_file(toml, NULL);
    CHECK(toml_before && toml_after && strcmp(toml_before, toml_after) == 0);
    free(toml_before);
    free(toml_after);
    CHECK_STR(dxforge_traffic_light_name(DXFORGE_TRAFFIC_LIGHT_YELLOW), "YELLOW");
    CHECK(dxforge_traffic_report_file_count(NULL) == 0);
    CHECK(dxforge_traffic_report_json(NULL) == NULL);
    dxforge_traffic_report_free(NULL);
    dxforge_free(forge);
    remove_tree(dir);
}

static void test_recover_on_a_clean_project(void) {
    char dir[4096];
    DxForge *forge = open_project(dir, sizeof dir, NULL);
    dxforge_recovery recovery = DXFORGE_RECOVERY_ROLLED_BACK;
    CHECK_OK(dxforge_recover_traffic(forge, &recovery));
    CHECK(recovery == DXFORGE_RECOVERY_CLEAN);
    CHECK_ERR(dxforge_recover_traffic(NULL, &recovery), DXFORGE_ERROR_INVALID_ARGUMENT, "forge");
    CHECK_ERR(dxforge_recover_traffic(forge, NULL), DXFORGE_ERROR_INVALID_ARGUMENT, "out");
    dxforge_free(forge);
    remove_tree(dir);
}

int main(int argc, char **argv) {
    char *dir = argc > 1 ? realpath(argv[1], NULL) : NULL;
    if (dir == NULL) {
        fprintf(stderr, "usage: %s REGISTRY_DIR\n", argv[0]);
        return 2;
    }
    snprintf(registry, sizeof registry, "%s", dir);
    free(dir);
    test_install_dry_run_then_real();
    test_upgrade_merges_user_edit();
    test_conflict_is_red_and_remove_keeps_edits();
    test_install_all_and_diff();
    test_bad_input_changes_nothing();
    test_recover_on_a_clean_project();
    return check_summary("c_traffic");
}
