//! The `DxForge` handle itself: opening, closing, errors.

use dxforge::DxForge;

#[test]
fn opening_a_file_as_root_is_an_io_error_with_its_errno() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = DxForge::open(&file).unwrap_err();
    assert_eq!(err.code(), "IO");
    assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn a_closed_handle_refuses_every_call_and_closing_twice_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let clone = forge.clone();
    forge.shutdown().unwrap();
    forge.shutdown().unwrap();
    assert!(clone.is_closed());
    assert_eq!(clone.status("x").unwrap_err().code(), "CLOSED");
    assert_eq!(clone.tool_names().unwrap_err().code(), "CLOSED");
}

#[test]
fn run_pipeline_reports_usage_errors_and_unknown_tools_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let usage = dxforge::runtime::block_on(forge.run_pipeline("frobnicate"))
        .unwrap()
        .unwrap_err();
    assert_eq!(usage.code(), "USAGE");
    let unknown = dxforge::runtime::block_on(forge.run_pipeline("logs nope"))
        .unwrap()
        .unwrap_err();
    assert_eq!(unknown.code(), "NOT_FOUND");
    let status = dxforge::runtime::block_on(forge.run_pipeline("status"))
        .unwrap()
        .unwrap();
    assert_eq!(status.exit_code, 0);
    assert_eq!(status.json["tools"], serde_json::json!([]));
}

#[test]
fn block_on_inside_a_runtime_is_an_error_not_a_deadlock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { dxforge::runtime::block_on(async {}) })
        .unwrap_err();
    assert!(err.to_string().contains("inside an async runtime"), "{err}");
}

/// Regression: a prefetch of a package the registry does not have came back
/// as kind OTHER, hiding the traffic error's kind.
#[test]
fn prefetch_of_an_unknown_package_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("registry")).unwrap();
    std::fs::write(
        dir.path().join("dxforge.toml"),
        "[registry]\npath = \"registry\"\n",
    )
    .unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let err = forge.prefetch("no-such-package@^1").unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND", "{err}");
    assert!(err.to_string().contains("no-such-package"), "{err}");
}

/// Regression: `shutdown()` returned while a background task was still
/// writing under `.dxforge/`; it now waits for running tasks to finish.
#[test]
fn shutdown_waits_for_a_running_background_task() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4000 {
        let sub = dir.path().join(format!("src/m{}", i % 40));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("f{i}.txt")),
            format!("file {i}\n").repeat(20),
        )
        .unwrap();
    }
    let forge = DxForge::open(dir.path()).unwrap();
    let id = forge
        .enqueue(dxforge::BackgroundTask::CacheCurrentState)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !matches!(
        forge.task(id).unwrap(),
        Some(dxforge::dxforge_worker::TaskState::Running)
    ) {
        assert!(std::time::Instant::now() < deadline, "task never ran");
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    forge.shutdown().unwrap();
    let manifests = dir.path().join(".dxforge/snapshots/manifests");
    let count = std::fs::read_dir(&manifests)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(count, 1, "the running snapshot was abandoned by shutdown");
}

/// Regression: an event emitted right after `unsubscribe` returned could
/// still reach the callback (its forwarding task had not seen the cancel
/// yet); it showed once starts became fast.
#[test]
fn no_event_emitted_after_unsubscribe_returns_reaches_the_callback() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let mut def = dxforge::DxToolDefinition::new("sleep", "/bin/sleep");
    def.args = vec!["3600".into()];
    forge.register_tool(def).unwrap();
    let kept = Arc::new(AtomicUsize::new(0));
    let counter = kept.clone();
    forge
        .on_status_change(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let counter = dropped.clone();
        let id = forge
            .on_status_change(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        forge.unsubscribe(id).unwrap();
        dxforge::runtime::block_on(forge.ensure_running("sleep"))
            .unwrap()
            .unwrap();
        dxforge::runtime::block_on(forge.stop("sleep"))
            .unwrap()
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kept.load(Ordering::SeqCst) < 60 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(kept.load(Ordering::SeqCst), 60, "3 events per round");
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    forge.shutdown().unwrap();
}
