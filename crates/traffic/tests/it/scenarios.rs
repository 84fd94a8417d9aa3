//! Install/upgrade/remove scenarios on real files.

use crate::common;

use common::{TestProject, TestRegistry, entry, example_registry};
use dxforge_traffic::{FileAction, InstallOptions, TrafficLight};

fn lines(n: usize, edit: &[(usize, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for i in 1..=n {
        match edit.iter().find(|(l, _)| *l == i) {
            Some((_, text)) => out.push_str(text),
            None => out.push_str(&format!("line {i}")),
        }
        out.push('\n');
    }
    out.into_bytes()
}

fn widget_registry() -> TestRegistry {
    let r = TestRegistry::new();
    let v1 = lines(20, &[]);
    let v2 = lines(20, &[(18, "line 18 upstream")]);
    r.add(
        "widget",
        "1.0.0",
        &[],
        &[("src/widget.ts", &v1), ("src/gone.ts", b"old\n")],
    );
    r.add(
        "widget",
        "2.0.0",
        &[],
        &[("src/widget.ts", &v2), ("src/extra.ts", b"new\n")],
    );
    r
}

#[test]
fn fresh_install_writes_files_and_lock() {
    let p = TestProject::new(example_registry());
    let report = p.install("button", "^1.2");
    assert!(!report.has_red());
    assert_eq!(
        report
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        vec![("button", "1.3.0"), ("utils", "1.1.0")]
    );
    let button =
        std::fs::read(example_registry().join("button/1.3.0/files/components/ui/button.tsx"))
            .unwrap();
    assert_eq!(p.read("components/ui/button.tsx").unwrap(), button);
    assert!(p.read("lib/utils.ts").is_some(), "dependency installed");
    let lock = p.manager().lockfile().unwrap();
    assert_eq!(lock.packages["button"].version.to_string(), "1.3.0");
    assert_eq!(
        lock.packages["button"].dependencies,
        vec!["utils".to_string()]
    );
    assert_eq!(
        lock.packages["button"].files["components/ui/button.tsx"],
        blake3::hash(&button).to_hex().to_string()
    );
    let text = String::from_utf8(p.read("dxforge.lock").unwrap()).unwrap();
    assert!(text.contains("[packages.utils]"), "{text}");
}

#[test]
fn untouched_file_upgrades_yellow_with_new_content() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    let report = p
        .manager()
        .update(
            None,
            &[("widget".into(), "^2".into())].into(),
            &InstallOptions::default(),
        )
        .unwrap();
    let e = entry(&report.files, "src/widget.ts");
    assert_eq!(e.light, TrafficLight::Yellow);
    assert_eq!(e.action, FileAction::Write);
    assert_eq!(
        p.read("src/widget.ts").unwrap(),
        lines(20, &[(18, "line 18 upstream")])
    );
    assert_eq!(report.packages[0].previous.as_deref(), Some("1.0.0"));
}

#[test]
fn user_edit_merges_cleanly() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    p.write("src/widget.ts", &lines(20, &[(2, "line 2 mine")]));
    let report = p.install("widget", "^2");
    let e = entry(&report.files, "src/widget.ts");
    assert_eq!(e.light, TrafficLight::Yellow, "{e:?}");
    assert_eq!(
        p.read("src/widget.ts").unwrap(),
        lines(20, &[(2, "line 2 mine"), (18, "line 18 upstream")])
    );
    // The new base is upstream 2.0.0: a second run sees nothing new.
    let again = p.install("widget", "^2");
    assert_eq!(
        entry(&again.files, "src/widget.ts").action,
        FileAction::None
    );
    assert!(
        p.manager()
            .modified_files()
            .unwrap()
            .iter()
            .any(|m| m.path == "src/widget.ts")
    );
}

#[test]
fn conflicting_edit_is_red_user_file_untouched_and_new_holds_upstream() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    let mine = lines(20, &[(18, "line 18 mine")]);
    p.write("src/widget.ts", &mine);
    let report = p.install("widget", "^2");
    assert!(report.has_red());
    let e = entry(&report.files, "src/widget.ts");
    assert_eq!(e.light, TrafficLight::Red);
    assert_eq!(e.action, FileAction::WriteNew);
    assert_eq!(e.conflicts.len(), 1);
    assert_eq!(e.conflicts[0].ours.start, 18);
    assert_eq!(e.conflicts[0].theirs.start, 18);
    assert_eq!(e.conflicts[0].ours.count, 1);
    assert_eq!(p.read("src/widget.ts").unwrap(), mine);
    assert_eq!(
        p.read("src/widget.ts.new").unwrap(),
        lines(20, &[(18, "line 18 upstream")])
    );
    let lock = p.manager().lockfile().unwrap();
    assert_eq!(
        lock.packages["widget"].unresolved,
        vec!["src/widget.ts".to_string()]
    );
    // The base stays the 1.0.0 content the user's file derives from.
    assert_eq!(
        lock.packages["widget"].files["src/widget.ts"],
        blake3::hash(&lines(20, &[])).to_hex().to_string()
    );
}

#[test]
fn file_dxforge_did_not_install_is_red() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.write("src/widget.ts", b"my own widget\n");
    let report = p.install("widget", "^1");
    let e = entry(&report.files, "src/widget.ts");
    assert_eq!(e.light, TrafficLight::Red);
    assert!(e.reason.contains("no record"), "{}", e.reason);
    assert_eq!(p.read("src/widget.ts").unwrap(), b"my own widget\n");
    assert_eq!(p.read("src/widget.ts.new").unwrap(), lines(20, &[]));
    // And the file it did install next to it is Green.
    assert_eq!(
        entry(&report.files, "src/gone.ts").light,
        TrafficLight::Green
    );
}

#[test]
fn file_the_user_deleted_is_written_again_green() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    std::fs::remove_file(p.root().join("src/widget.ts")).unwrap();
    let report = p.install("widget", "^2");
    let e = entry(&report.files, "src/widget.ts");
    assert_eq!(
        (e.light, e.action),
        (TrafficLight::Green, FileAction::Create)
    );
    assert_eq!(
        p.read("src/widget.ts").unwrap(),
        lines(20, &[(18, "line 18 upstream")])
    );
}

#[test]
fn file_removed_upstream_is_deleted_when_unmodified_and_kept_when_modified() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    let report = p.install("widget", "^2");
    let e = entry(&report.files, "src/gone.ts");
    assert_eq!(
        (e.light, e.action),
        (TrafficLight::Green, FileAction::Delete)
    );
    assert!(p.read("src/gone.ts").is_none());
    assert_eq!(p.read("src/extra.ts").unwrap(), b"new\n");

    let p2 = TestProject::new(r.path());
    p2.install("widget", "=1.0.0");
    p2.write("src/gone.ts", b"old but mine\n");
    let report = p2.install("widget", "^2");
    let e = entry(&report.files, "src/gone.ts");
    assert_eq!(
        (e.light, e.action),
        (TrafficLight::Yellow, FileAction::Keep)
    );
    assert_eq!(p2.read("src/gone.ts").unwrap(), b"old but mine\n");
    assert!(
        !p2.manager().lockfile().unwrap().packages["widget"]
            .files
            .contains_key("src/gone.ts")
    );
}

#[test]
fn crlf_files_merge_and_keep_their_line_endings() {
    let r = TestRegistry::new();
    r.add(
        "crlf",
        "1.0.0",
        &[],
        &[("a.txt", b"one\r\ntwo\r\nthree\r\nfour\r\nfive\r\n")],
    );
    r.add(
        "crlf",
        "1.1.0",
        &[],
        &[("a.txt", b"one\r\ntwo\r\nthree\r\nfour\r\nFIVE\r\n")],
    );
    let p = TestProject::new(r.path());
    p.install("crlf", "=1.0.0");
    p.write("a.txt", b"ONE\r\ntwo\r\nthree\r\nfour\r\nfive\r\n");
    let report = p.install("crlf", "^1.1");
    assert_eq!(entry(&report.files, "a.txt").light, TrafficLight::Yellow);
    assert_eq!(
        p.read("a.txt").unwrap(),
        b"ONE\r\ntwo\r\nthree\r\nfour\r\nFIVE\r\n"
    );
}

#[test]
fn binary_files_never_merge() {
    let r = TestRegistry::new();
    r.add("bin", "1.0.0", &[], &[("logo.bin", b"\0\x01\x02v1")]);
    r.add("bin", "2.0.0", &[], &[("logo.bin", b"\0\x01\x02v2")]);
    // Unmodified since install: Green, replaced.
    let p = TestProject::new(r.path());
    p.install("bin", "=1.0.0");
    let report = p.install("bin", "^2");
    let e = entry(&report.files, "logo.bin");
    assert_eq!(
        (e.light, e.action),
        (TrafficLight::Green, FileAction::Write)
    );
    assert_eq!(p.read("logo.bin").unwrap(), b"\0\x01\x02v2");
    // Modified: Red, kept, .new written.
    let p = TestProject::new(r.path());
    p.install("bin", "=1.0.0");
    p.write("logo.bin", b"\0\x01\x02mine");
    let report = p.install("bin", "^2");
    assert_eq!(entry(&report.files, "logo.bin").light, TrafficLight::Red);
    assert_eq!(p.read("logo.bin").unwrap(), b"\0\x01\x02mine");
    assert_eq!(p.read("logo.bin.new").unwrap(), b"\0\x01\x02v2");
}

#[test]
fn empty_files() {
    let r = TestRegistry::new();
    r.add("empty", "1.0.0", &[], &[("e.txt", b"")]);
    r.add("empty", "1.1.0", &[], &[("e.txt", b"now has a line\n")]);
    let p = TestProject::new(r.path());
    let report = p.install("empty", "=1.0.0");
    assert_eq!(entry(&report.files, "e.txt").action, FileAction::Create);
    assert_eq!(p.read("e.txt").unwrap(), b"");
    let report = p.install("empty", "^1.1");
    assert_eq!(entry(&report.files, "e.txt").light, TrafficLight::Yellow);
    assert_eq!(p.read("e.txt").unwrap(), b"now has a line\n");
}

#[test]
fn non_ascii_paths() {
    let r = TestRegistry::new();
    r.add(
        "intl",
        "1.0.0",
        &[],
        &[("composants/bouton-é/日本語.tsx", "é\n".as_bytes())],
    );
    let p = TestProject::new(r.path());
    let report = p.install("intl", "");
    assert_eq!(
        entry(&report.files, "composants/bouton-é/日本語.tsx").light,
        TrafficLight::Green
    );
    assert_eq!(
        p.read("composants/bouton-é/日本語.tsx").unwrap(),
        "é\n".as_bytes()
    );
    assert!(
        p.manager().lockfile().unwrap().packages["intl"]
            .files
            .contains_key("composants/bouton-é/日本語.tsx")
    );
}

#[test]
fn package_depending_on_another_resolves_the_dependency() {
    let p = TestProject::new(example_registry());
    let report = p.install("button", "=1.2.0");
    let utils = report.packages.iter().find(|p| p.name == "utils").unwrap();
    // button 1.2.0 wants utils ^1: the highest is 1.1.0.
    assert_eq!(utils.version, "1.1.0");
    // Removing the dependency while button needs it is refused.
    let err = p
        .manager()
        .remove_package("utils", &InstallOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("required by `button`"), "{err}");
}

#[test]
fn dry_run_writes_nothing_and_returns_the_same_plan() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    p.write("src/widget.ts", &lines(20, &[(18, "line 18 mine")]));
    let before = p.tree();
    let before_state = common::snapshot(&p.root().join(".dxforge"));
    let dry = p
        .manager()
        .install_package(
            "widget",
            "^2",
            &InstallOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(p.tree(), before);
    assert_eq!(common::snapshot(&p.root().join(".dxforge")), before_state);
    let real = p.install("widget", "^2");
    assert_eq!(dry.files, real.files);
    assert_eq!(dry.packages, real.packages);
}

#[test]
fn remove_deletes_unmodified_and_keeps_modified() {
    let p = TestProject::new(example_registry());
    p.install("button", "^1.2");
    p.write("components/ui/button.css", b"/* mine */\n");
    let report = p
        .manager()
        .remove_package("button", &InstallOptions::default())
        .unwrap();
    assert_eq!(
        entry(&report.files, "components/ui/button.tsx").action,
        FileAction::Delete
    );
    assert_eq!(
        entry(&report.files, "components/ui/button.css").action,
        FileAction::Keep
    );
    assert_eq!(report.kept().count(), 1);
    assert!(p.read("components/ui/button.tsx").is_none());
    assert_eq!(p.read("components/ui/button.css").unwrap(), b"/* mine */\n");
    let lock = p.manager().lockfile().unwrap();
    assert!(!lock.packages.contains_key("button"));
    assert!(lock.packages.contains_key("utils"));
}

#[test]
fn add_records_dependency_in_dxforge_toml_preserving_formatting() {
    let p = TestProject::new(example_registry());
    p.write(
        "dxforge.toml",
        b"# my project\n[project]\nname = \"demo\"  # keep me\n",
    );
    let report = p.install("card", "");
    assert!(report.manifest_updated);
    let text = String::from_utf8(p.read("dxforge.toml").unwrap()).unwrap();
    assert!(
        text.starts_with("# my project\n[project]\nname = \"demo\"  # keep me\n"),
        "{text}"
    );
    assert!(text.contains("[dependencies]\ncard = \"^0.2.0\""), "{text}");
    // Already present: unchanged.
    assert!(!p.install("card", "").manifest_updated);
    p.manager()
        .remove_package("card", &InstallOptions::default())
        .unwrap();
    let text = String::from_utf8(p.read("dxforge.toml").unwrap()).unwrap();
    assert!(!text.contains("card ="), "{text}");
}

#[test]
fn install_all_and_diff() {
    let p = TestProject::new(example_registry());
    let deps = [
        ("button".to_string(), "~1.2".to_string()),
        ("card".to_string(), "^0.1".to_string()),
    ]
    .into();
    let report = p
        .manager()
        .install_all(&deps, &InstallOptions::default())
        .unwrap();
    let versions: Vec<_> = report
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert_eq!(versions, vec!["button@1.2.0", "card@0.1.0", "utils@1.1.0"]);
    // diff with wider requirements shows the upgrade without writing it.
    let wider = [
        ("button".to_string(), "^1".to_string()),
        ("card".to_string(), "^0.1".to_string()),
    ]
    .into();
    let before = p.tree();
    let plan = p.manager().diff(None, &wider).unwrap();
    assert_eq!(p.tree(), before);
    assert_eq!(plan.packages.len(), 1);
    assert_eq!(plan.packages[0].version, "1.3.0");
    assert_eq!(plan.packages[0].previous.as_deref(), Some("1.2.0"));
    let real = p
        .manager()
        .update(Some("button"), &wider, &InstallOptions::default())
        .unwrap();
    assert_eq!(real.files, plan.files);
    assert_eq!(
        p.manager().lockfile().unwrap().packages["button"]
            .version
            .to_string(),
        "1.3.0"
    );
}

#[test]
fn fresh_clone_without_base_store_still_merges() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    std::fs::remove_dir_all(p.root().join(".dxforge")).unwrap();
    p.write("src/widget.ts", &lines(20, &[(2, "line 2 mine")]));
    let report = p.install("widget", "^2");
    assert_eq!(
        entry(&report.files, "src/widget.ts").light,
        TrafficLight::Yellow
    );
    assert_eq!(
        p.read("src/widget.ts").unwrap(),
        lines(20, &[(2, "line 2 mine"), (18, "line 18 upstream")])
    );
}

#[test]
fn check_reports_light_for_a_path() {
    let r = widget_registry();
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    let m = p.manager();
    let v2 = lines(20, &[(18, "line 18 upstream")]);
    assert_eq!(
        m.analyze_traffic_safety("src/nothing.ts".as_ref(), b"x")
            .unwrap(),
        TrafficLight::Green
    );
    assert_eq!(
        m.analyze_traffic_safety("src/widget.ts".as_ref(), &lines(20, &[]))
            .unwrap(),
        TrafficLight::Green
    );
    let report = m.check(&p.root().join("src/widget.ts"), &v2).unwrap();
    assert_eq!(
        (report.light, report.package.as_str()),
        (TrafficLight::Yellow, "widget")
    );
    let err = m.check("/etc/passwd".as_ref(), b"x").unwrap_err();
    assert!(
        err.to_string().contains("outside the project root"),
        "{err}"
    );
}
