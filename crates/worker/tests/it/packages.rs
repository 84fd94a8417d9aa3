//! AnalyzeCodebasePatterns and PrefetchPackage against a real directory registry.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{runtime, write};
use dxforge_traffic::{InstallOptions, TrafficManager};
use dxforge_worker::{
    BackgroundTask, BackgroundWorker, TaskReport, TaskState, WorkerConfig, WorkerError,
};

fn package(registry: &Path, name: &str, version: &str, patterns: &[&str], files: &[(&str, &str)]) {
    let dir = registry.join(name).join(version);
    let pats: Vec<String> = patterns.iter().map(|p| format!("{p:?}")).collect();
    write(
        &dir,
        "dxpkg.toml",
        format!(
            "name = \"{name}\"\nversion = \"{version}\"\ndescription = \"test\"\n\n[detect]\npatterns = [{}]\n",
            pats.join(", ")
        )
        .as_bytes(),
    );
    for (path, content) in files {
        write(&dir.join("files"), path, content.as_bytes());
    }
}

/// A project with a registry of three packages: `button` (installed, referenced, one
/// file edited), `card` (referenced, not installed), `badge` (installed, unreferenced).
fn fixture() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    let registry = tmp.path().join("registry");
    package(
        &registry,
        "button",
        "1.2.0",
        &["<Button"],
        &[("ui/button.tsx", "export const Button = 1;\n")],
    );
    package(
        &registry,
        "card",
        "0.1.0",
        &["<Card", "useCard("],
        &[("ui/card.tsx", "export const Card = 1;\n")],
    );
    package(
        &registry,
        "badge",
        "2.0.0",
        &["<Badge"],
        &[("ui/badge.tsx", "export const Badge = 1;\n")],
    );
    std::fs::create_dir_all(&root).unwrap();
    let traffic = TrafficManager::new(root.clone(), Some(registry.clone()));
    traffic
        .install_package("button", "^1", &InstallOptions::default())
        .unwrap();
    traffic
        .install_package("badge", "^2", &InstallOptions::default())
        .unwrap();
    write(
        &root,
        "ui/button.tsx",
        b"export const Button = 2; // edited\n",
    );
    write(
        &root,
        "src/App.tsx",
        b"import x;\n\nexport default () => <Button>\n  <Card/> <Card/>\n</Button>;\n",
    );
    write(&root, "src/hooks.ts", b"const c = useCard(1);\n");
    write(
        &root,
        "src/main.rs",
        b"fn main() {\n    // <Button in a comment counts too\n}\n",
    );
    write(&root, "README.md", b"# Demo\n\ntext\n");
    write(&root, "logo.png", b"\x89PNG\0\0\0binary");
    write(&root, ".gitignore", b"dist/\n");
    write(&root, "dist/bundle.js", b"<Badge/> ignored\n");
    (tmp, root, registry)
}

fn worker_for(
    root: &Path,
    registry: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> BackgroundWorker {
    let mut config = WorkerConfig::new(root, rt.handle().clone());
    config.traffic = Some(Arc::new(TrafficManager::new(
        root.to_path_buf(),
        registry.map(Path::to_path_buf),
    )));
    BackgroundWorker::new(config)
}

#[test]
fn analysis_reports_languages_references_and_package_status() {
    let (_tmp, root, registry) = fixture();
    let rt = runtime();
    let w = worker_for(&root, Some(&registry), &rt);
    let report = w.analyze().unwrap();

    let lang = |name: &str| {
        report
            .languages
            .iter()
            .find(|l| l.language == name)
            .cloned()
    };
    let tsx = lang("TSX").unwrap();
    assert_eq!(
        (tsx.files, tsx.lines, tsx.blank_lines),
        (3, 7, 1),
        "App.tsx + two installed .tsx"
    );
    let rust = lang("Rust").unwrap();
    assert_eq!((rust.files, rust.lines), (1, 3));
    assert_eq!(lang("Markdown").unwrap().lines, 3);
    assert!(lang("JavaScript").is_none(), "dist/ is ignored");
    assert_eq!(
        report.other_files, 3,
        "logo.png, .gitignore and dxforge.lock are counted, not read"
    );

    let p = report.packages.as_ref().unwrap();
    let button = p.packages.iter().find(|u| u.name == "button").unwrap();
    assert_eq!(button.installed_version.as_deref(), Some("1.2.0"));
    let places: Vec<(String, u64)> = button
        .references
        .iter()
        .map(|r| (r.file.clone(), r.line))
        .collect();
    assert_eq!(
        places,
        [("src/App.tsx".to_owned(), 3), ("src/main.rs".to_owned(), 2)]
    );
    let card = p.packages.iter().find(|u| u.name == "card").unwrap();
    assert_eq!(
        card.reference_count, 2,
        "one line with two <Card counts once, plus useCard("
    );
    assert_eq!(p.referenced_not_installed, ["card"]);
    assert_eq!(p.installed_not_referenced, ["badge"]);
    assert_eq!(p.modified_files.len(), 1);
    assert_eq!(
        (
            p.modified_files[0].package.as_str(),
            p.modified_files[0].path.as_str()
        ),
        ("button", "ui/button.tsx")
    );

    // The same report is on disk.
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(".dxforge/analysis.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk["packages"]["referenced_not_installed"][0], "card");
    assert_eq!(on_disk["files"], report.files);
}

#[test]
fn analysis_without_a_registry_still_counts_languages() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.py", b"print(1)\nprint(2)\n");
    let w = common::worker(dir.path(), &rt);
    let report = w.analyze().unwrap();
    assert_eq!(report.lines, 2);
    assert!(report.packages.is_none());
}

#[test]
fn analysis_task_reports_a_summary() {
    let (_tmp, root, registry) = fixture();
    let rt = runtime();
    let w = worker_for(&root, Some(&registry), &rt);
    let id = w.enqueue(BackgroundTask::AnalyzeCodebasePatterns);
    match rt.block_on(w.wait(id, Duration::from_secs(30))).unwrap() {
        TaskState::Succeeded(TaskReport::Analysis(s)) => {
            assert_eq!(
                (
                    s.referenced_not_installed,
                    s.installed_not_referenced,
                    s.modified_files
                ),
                (1, 1, 1)
            );
            assert!(s.path.ends_with(".dxforge/analysis.json"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn prefetch_caches_the_package_so_install_works_without_the_registry() {
    let (tmp, _, registry) = fixture();
    let root = tmp.path().join("fresh");
    std::fs::create_dir_all(&root).unwrap();
    let rt = runtime();
    let w = worker_for(&root, Some(&registry), &rt);
    let id = w.enqueue(BackgroundTask::PrefetchPackage("card@^0.1".into()));
    let report = match rt.block_on(w.wait(id, Duration::from_secs(30))).unwrap() {
        TaskState::Succeeded(TaskReport::Prefetch(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(report.packages.len(), 1);
    assert_eq!(
        (
            report.packages[0].name.as_str(),
            report.packages[0].version.as_str()
        ),
        ("card", "0.1.0")
    );
    assert!(!report.packages[0].already_cached);

    // The registry goes away; the install is served from the cache.
    std::fs::rename(&registry, tmp.path().join("registry-gone")).unwrap();
    let offline = TrafficManager::new(root.clone(), Some(registry.clone()));
    offline
        .install_package("card", "^0.1", &InstallOptions::default())
        .unwrap();
    assert_eq!(
        std::fs::read(root.join("ui/card.tsx")).unwrap(),
        b"export const Card = 1;\n"
    );
    let again = w.prefetch("card@^0.1").unwrap();
    assert!(again.packages[0].already_cached);
}

#[test]
fn prefetch_without_or_with_a_missing_registry_is_a_clear_error() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let unconfigured = common::worker(dir.path(), &rt);
    let err = unconfigured.prefetch("button@^1").unwrap_err();
    assert!(
        matches!(err, WorkerError::RegistryUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("[registry]"), "{err}");

    let missing = dir.path().join("no-such-registry");
    let w = worker_for(dir.path(), Some(&missing), &rt);
    let err = w.prefetch("button@^1").unwrap_err();
    assert!(
        err.to_string().contains("no-such-registry"),
        "names the registry path: {err}"
    );
    let err = w.prefetch("Bad Name!").unwrap_err();
    assert!(matches!(err, WorkerError::Traffic { .. }), "{err}");
    assert!(
        !dir.path().join(".dxforge/cache").exists(),
        "nothing cached"
    );
}
