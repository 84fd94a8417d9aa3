//! Registry parsing, resolution, cycles, prefetch and the package cache.

use crate::common;

use common::{TestProject, TestRegistry, example_registry, snapshot};
use dxforge_traffic::{InstallOptions, PackageManifest, TrafficError, TrafficManager};

#[test]
fn manifest_errors_name_file_line_and_key() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[("a.ts", b"a\n")]);
    let file = r.path().join("widget/1.0.0/dxpkg.toml");
    std::fs::write(
        &file,
        "name = \"widget\"\nversion = \"1.0.0\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let p = TestProject::new(r.path());
    let err = p
        .manager()
        .install_package("widget", "", &InstallOptions::default())
        .unwrap_err();
    match &err {
        TrafficError::Manifest {
            file: f, line, key, ..
        } => {
            assert_eq!(f, &file);
            assert_eq!(*line, 3);
            assert_eq!(key, "colour");
        }
        other => panic!("expected Manifest error, got {other}"),
    }
    assert!(err.to_string().contains("dxpkg.toml:3"), "{err}");
    assert_eq!(snapshot(p.root()), Default::default());

    let bad_version = PackageManifest::parse(
        "x/dxpkg.toml".as_ref(),
        "name = \"w\"\n\nversion = \"one\"\n",
    )
    .unwrap_err();
    assert!(
        matches!(&bad_version, TrafficError::Manifest { line: 3, key, .. } if key == "version"),
        "{bad_version}"
    );
    let bad_dep = PackageManifest::parse(
        "x/dxpkg.toml".as_ref(),
        "name = \"w\"\nversion = \"1.0.0\"\n[dependencies]\nu = \"^^1\"\n",
    )
    .unwrap_err();
    assert!(
        matches!(&bad_dep, TrafficError::Manifest { line: 4, key, .. } if key == "u"),
        "{bad_dep}"
    );
    let syntax =
        PackageManifest::parse("x/dxpkg.toml".as_ref(), "name = \"w\"\nversion = \n").unwrap_err();
    assert!(
        matches!(&syntax, TrafficError::Manifest { line: 2, .. }),
        "{syntax}"
    );
}

#[test]
fn manifest_must_match_its_directory() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[]);
    std::fs::write(
        r.path().join("widget/1.0.0/dxpkg.toml"),
        "name = \"widget\"\nversion = \"2.0.0\"\n",
    )
    .unwrap();
    let p = TestProject::new(r.path());
    let err = p
        .manager()
        .install_package("widget", "", &InstallOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("declares widget@2.0.0"), "{err}");
}

#[test]
fn resolution_picks_highest_matching_and_reports_missing() {
    let p = TestProject::new(example_registry());
    let m = p.manager();
    let plan = m
        .install_package(
            "button",
            "~1.2",
            &InstallOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(plan.packages[0].version, "1.2.0");
    let plan = m
        .install_package(
            "button",
            "",
            &InstallOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(plan.packages[0].version, "1.3.0");
    let err = m
        .install_package("button", "^2", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::NoMatchingVersion { name, available, .. } if name == "button" && available == "1.0.0, 1.2.0, 1.3.0"),
        "{err}"
    );
    let err = m
        .install_package("nosuch", "", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::PackageNotFound { name, .. } if name == "nosuch"),
        "{err}"
    );
}

#[test]
fn locked_versions_are_kept_until_updated() {
    let p = TestProject::new(example_registry());
    p.install("card", "=0.1.0");
    p.install("utils", "=1.0.0");
    // Adding button ^1.2 (wants utils ^1) keeps utils at its locked 1.0.0.
    let report = p.install("button", "~1.2");
    assert!(
        report.packages.iter().all(|p| p.name != "utils"),
        "{:?}",
        report.packages
    );
    assert_eq!(
        p.manager().lockfile().unwrap().packages["utils"]
            .version
            .to_string(),
        "1.0.0"
    );
    // button 1.3.0 needs utils ^1.1: utils is re-picked.
    let report = p.install("button", "^1.3");
    let utils = report.packages.iter().find(|p| p.name == "utils").unwrap();
    assert_eq!(
        (utils.version.as_str(), utils.previous.as_deref()),
        ("1.1.0", Some("1.0.0"))
    );
}

#[test]
fn dependency_cycles_are_named() {
    let r = TestRegistry::new();
    r.add("a", "1.0.0", &[("b", "^1")], &[("a.ts", b"a\n")]);
    r.add("b", "1.0.0", &[("c", "^1")], &[("b.ts", b"b\n")]);
    r.add("c", "1.0.0", &[("a", "^1")], &[("c.ts", b"c\n")]);
    let p = TestProject::new(r.path());
    let err = p
        .manager()
        .install_package("a", "", &InstallOptions::default())
        .unwrap_err();
    match &err {
        TrafficError::DependencyCycle { cycle } => assert_eq!(cycle, "a -> b -> c -> a"),
        other => panic!("expected cycle, got {other}"),
    }
    assert_eq!(snapshot(p.root()), Default::default());
}

#[test]
fn two_packages_shipping_one_file_clash() {
    let r = TestRegistry::new();
    r.add("one", "1.0.0", &[], &[("shared.ts", b"1\n")]);
    r.add("two", "1.0.0", &[], &[("shared.ts", b"2\n")]);
    let p = TestProject::new(r.path());
    p.install("one", "");
    let err = p
        .manager()
        .install_package("two", "", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::FileClash { path, .. } if path == "shared.ts"),
        "{err}"
    );
    assert_eq!(p.read("shared.ts").unwrap(), b"1\n");
}

#[test]
fn prefetch_then_install_without_the_registry() {
    let r = TestRegistry::new();
    r.add("utils", "1.0.0", &[], &[("lib/utils.ts", b"u\n")]);
    r.add(
        "button",
        "1.0.0",
        &[("utils", "^1")],
        &[("button.tsx", b"b\n")],
    );
    let p = TestProject::new(r.path());
    let report = p.manager().prefetch("button@^1").unwrap();
    let names: Vec<_> = report
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.already_cached))
        .collect();
    assert_eq!(names, vec![("button", false), ("utils", false)]);
    assert!(
        p.root()
            .join(".dxforge/cache/packages/button/1.0.0/hashes.json")
            .is_file()
    );
    assert!(
        p.manager()
            .prefetch("button")
            .unwrap()
            .packages
            .iter()
            .all(|p| p.already_cached)
    );

    // The registry disappears; the install still works from the cache.
    let registry_path = r.path();
    drop(r);
    assert!(!registry_path.exists());
    let m = TrafficManager::new(p.root().to_path_buf(), Some(registry_path));
    m.install_package("button", "^1", &InstallOptions::default())
        .unwrap();
    assert_eq!(p.read("button.tsx").unwrap(), b"b\n");
    assert_eq!(p.read("lib/utils.ts").unwrap(), b"u\n");
}

#[test]
fn corrupt_cache_is_detected() {
    let r = TestRegistry::new();
    r.add("utils", "1.0.0", &[], &[("lib/utils.ts", b"u\n")]);
    let p = TestProject::new(r.path());
    p.manager().prefetch("utils").unwrap();
    std::fs::write(
        p.root()
            .join(".dxforge/cache/packages/utils/1.0.0/files/lib/utils.ts"),
        b"tampered\n",
    )
    .unwrap();
    let err = p
        .manager()
        .install_package("utils", "", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::HashMismatch { path, .. } if path.ends_with("lib/utils.ts")),
        "{err}"
    );
    assert!(p.read("lib/utils.ts").is_none());
    // Prefetching again repairs it from the registry.
    assert!(!p.manager().prefetch("utils").unwrap().packages[0].already_cached);
    p.install("utils", "");
    assert_eq!(p.read("lib/utils.ts").unwrap(), b"u\n");
}

#[test]
fn registry_packages_lists_newest_with_detect_patterns() {
    let p = TestProject::new(example_registry());
    let pkgs = p.manager().registry_packages().unwrap();
    let summary: Vec<_> = pkgs
        .iter()
        .map(|m| format!("{}@{}", m.name, m.version))
        .collect();
    assert_eq!(summary, vec!["button@1.3.0", "card@0.2.0", "utils@1.1.0"]);
    assert_eq!(pkgs[0].detect_patterns, vec!["<Button".to_string()]);
}

#[test]
fn no_registry_is_a_clear_error() {
    let p = TestProject::new(example_registry());
    let m = TrafficManager::new(p.root().to_path_buf(), None);
    let err = m
        .install_package("button", "", &InstallOptions::default())
        .unwrap_err();
    assert!(matches!(err, TrafficError::NoRegistry), "{err}");
}

#[test]
fn malformed_lock_file_names_line_and_key() {
    let p = TestProject::new(example_registry());
    p.write(
        "dxforge.lock",
        b"format = 1\n[packages.button]\nversion = \"1.0.0\"\nextra = 1\n",
    );
    let err = p.manager().lockfile().unwrap_err();
    assert!(
        matches!(&err, TrafficError::Manifest { line: 4, key, .. } if key == "extra"),
        "{err}"
    );
}
