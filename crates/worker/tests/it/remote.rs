//! Snapshot sync against a real S3-compatible server (s3s-fs, which verifies SigV4).
//!
//! Start one with `eval "$(scripts/s3-server.sh start)"`; these tests read
//! `DXFORGE_TEST_S3_ENDPOINT`, `_ACCESS_KEY`, `_SECRET_KEY` and `_BUCKET`. Without them they
//! fail (set `DXFORGE_SKIP_S3=1` to skip deliberately). Credentials reach the worker only
//! through the process environment, so the tests that set it run one at a time.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{read_tree, runtime, set_exec, write};
use dxforge_worker::{BackgroundWorker, RemoteConfig, SyncProgress, WorkerConfig, WorkerError};
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

struct S3 {
    endpoint: String,
    key: String,
    secret: String,
    bucket: String,
}

/// The server from the environment; `None` only when skipping was asked for.
fn s3() -> Option<S3> {
    if std::env::var("DXFORGE_SKIP_S3").as_deref() == Ok("1") {
        eprintln!("DXFORGE_SKIP_S3=1: skipping a test that needs an S3 server");
        return None;
    }
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: these tests need a local S3 server. Start one with \
                 `eval \"$(scripts/s3-server.sh start)\"` (needs `cargo install s3s-fs@0.14.1 \
                 --features binary --locked`), or set DXFORGE_SKIP_S3=1 to skip them"
            )
        })
    };
    Some(S3 {
        endpoint: var("DXFORGE_TEST_S3_ENDPOINT"),
        key: var("DXFORGE_TEST_S3_ACCESS_KEY"),
        secret: var("DXFORGE_TEST_S3_SECRET_KEY"),
        bucket: var("DXFORGE_TEST_S3_BUCKET"),
    })
}

/// Sets the credential variables the worker reads (callers hold `ENV_LOCK`).
fn set_credentials(key: Option<&str>, secret: Option<&str>) {
    // SAFETY: every test in this binary that touches the environment holds ENV_LOCK, and the
    // worker reads these variables only inside those tests.
    unsafe {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            std::env::remove_var(name);
        }
        match key {
            Some(k) => std::env::set_var("DXFORGE_S3_ACCESS_KEY_ID", k),
            None => std::env::remove_var("DXFORGE_S3_ACCESS_KEY_ID"),
        }
        match secret {
            Some(s) => std::env::set_var("DXFORGE_S3_SECRET_ACCESS_KEY", s),
            None => std::env::remove_var("DXFORGE_S3_SECRET_ACCESS_KEY"),
        }
    }
}

fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tests/{test}-{nanos}/")
}

fn remote(s3: &S3, prefix: &str) -> RemoteConfig {
    RemoteConfig {
        endpoint: Some(s3.endpoint.clone()),
        bucket: s3.bucket.clone(),
        prefix: prefix.to_owned(),
        region: "auto".to_owned(),
        ..RemoteConfig::default()
    }
}

fn worker_with(
    root: &std::path::Path,
    rt: &tokio::runtime::Runtime,
    remote: RemoteConfig,
) -> BackgroundWorker {
    let mut config = WorkerConfig::new(root, rt.handle().clone());
    config.remote = Some(remote);
    BackgroundWorker::new(config)
}

/// A client of our own, to look at the bucket independently of the worker.
fn inspector(s3: &S3) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&s3.endpoint)
            .with_allow_http(true)
            .with_bucket_name(&s3.bucket)
            .with_region("auto")
            .with_access_key_id(&s3.key)
            .with_secret_access_key(&s3.secret)
            .build()
            .unwrap(),
    )
}

async fn count_remote(client: &Arc<dyn ObjectStore>, prefix: &str, sub: &str) -> usize {
    let p = ObjectPath::parse(format!("{}{}", prefix, sub)).unwrap();
    let list: Vec<_> = client.list(Some(&p)).try_collect().await.unwrap();
    list.len()
}

#[test]
fn push_then_pull_into_an_empty_project_reproduces_the_tree() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some(&s3.key), Some(&s3.secret));
    let rt = runtime();
    let prefix = unique_prefix("roundtrip");

    let a = tempfile::tempdir().unwrap();
    write(
        a.path(),
        "src/main.rs",
        b"fn main() { println!(\"hi\"); }\n",
    );
    write(a.path(), "bin/tool", b"#!/bin/sh\nexit 0\n");
    set_exec(a.path(), "bin/tool", true);
    write(a.path(), "same-1.txt", b"duplicate content");
    write(a.path(), "same-2.txt", b"duplicate content");
    std::os::unix::fs::symlink("src/main.rs", a.path().join("main-link")).unwrap();
    // 12 MiB of varied bytes: sent as a multipart upload of 5 MiB parts.
    let big: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(a.path(), "assets/big.bin", &big);

    let wa = worker_with(a.path(), &rt, remote(&s3, &prefix));
    let snap = wa.snapshot().unwrap();
    let pushed = rt.block_on(wa.push()).unwrap();
    assert_eq!(
        pushed.objects_sent, 4,
        "duplicate content is one object: {pushed:?}"
    );
    assert_eq!(pushed.manifests_sent, 1);
    assert!(pushed.bytes_sent > 12 * 1024 * 1024);

    let again = rt.block_on(wa.push()).unwrap();
    assert_eq!(
        (
            again.objects_sent,
            again.objects_skipped,
            again.manifests_sent
        ),
        (0, 4, 0)
    );

    let b = tempfile::tempdir().unwrap();
    let wb = worker_with(b.path(), &rt, remote(&s3, &prefix));
    let pulled = rt.block_on(wb.pull(&snap.id)).unwrap();
    assert_eq!(pulled.objects_sent, 4);
    assert_eq!(read_tree(b.path()), read_tree(a.path()));
    assert!(
        wb.snapshots().unwrap().iter().any(|s| s.id == snap.id),
        "now restorable locally"
    );

    // A second pull finds every object locally and sends nothing.
    let repeat = rt.block_on(wb.pull(&snap.id)).unwrap();
    assert_eq!((repeat.objects_sent, repeat.objects_skipped), (0, 4));
}

#[test]
fn interrupted_push_completes_next_time_without_resending() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some(&s3.key), Some(&s3.secret));
    let rt = runtime();
    let prefix = unique_prefix("interrupted");
    let dir = tempfile::tempdir().unwrap();
    const FILES: u64 = 40;
    for i in 0..FILES {
        write(
            dir.path(),
            &format!("f{i:02}.txt"),
            format!("content {i}\n").repeat(100).as_bytes(),
        );
    }
    let w = worker_with(dir.path(), &rt, remote(&s3, &prefix));
    w.snapshot().unwrap();
    let client = inspector(&s3);

    // Interrupt (drop) the push once 10 uploads have completed, as Ctrl-C would.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = parking_lot::Mutex::new(Some(tx));
    let progress = Arc::new(move |p: &SyncProgress| {
        if p.phase == "objects"
            && p.done >= 10
            && let Some(tx) = tx.lock().take()
        {
            let _ = tx.send(());
        }
    });
    let finished = rt.block_on(async {
        tokio::select! {
            r = w.push_with_progress(Some(progress)) => Some(r),
            _ = rx => None,
        }
    });
    assert!(finished.is_none(), "the push was interrupted");
    let arrived = rt.block_on(count_remote(&client, &prefix, "objects")) as u64;
    assert!((10..FILES).contains(&arrived), "{arrived} objects arrived");
    assert_eq!(
        rt.block_on(count_remote(&client, &prefix, "manifests")),
        0,
        "manifests go last"
    );

    let resumed = rt.block_on(w.push()).unwrap();
    assert_eq!(resumed.objects_skipped, arrived);
    assert_eq!(
        resumed.objects_sent,
        FILES - arrived,
        "only the remainder is sent"
    );
    assert_eq!(resumed.manifests_sent, 1);
    assert_eq!(
        rt.block_on(count_remote(&client, &prefix, "objects")) as u64,
        FILES
    );
}

#[test]
fn wrong_credentials_are_rejected_without_leaking_the_secret() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a");
    let w = worker_with(dir.path(), &rt, remote(&s3, &unique_prefix("wrongcreds")));
    w.snapshot().unwrap();
    let wrong_secret = "not-the-secret-0123456789";
    set_credentials(Some(&s3.key), Some(wrong_secret));
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(matches!(err, WorkerError::RemoteAuth { .. }), "{err}");
    let message = err.to_string();
    assert!(!message.contains(wrong_secret), "{message}");
    assert!(message.contains(&s3.bucket), "{message}");

    set_credentials(Some("UNKNOWNKEY"), Some(&s3.secret));
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(matches!(err, WorkerError::RemoteAuth { .. }), "{err}");
    assert!(!err.to_string().contains(&s3.secret));
}

#[test]
fn missing_credentials_and_missing_remote_are_clear_errors() {
    let _env = common::ENV_LOCK.lock();
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let unconfigured = common::worker(dir.path(), &rt);
    let err = rt.block_on(unconfigured.push()).unwrap_err();
    assert!(matches!(err, WorkerError::RemoteNotConfigured), "{err}");
    assert!(err.to_string().contains("[remote]"));

    let cfg = RemoteConfig::new(Some("http://127.0.0.1:9".into()), "b");
    let w = worker_with(dir.path(), &rt, cfg);
    set_credentials(None, None);
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(
        matches!(err, WorkerError::CredentialsMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("DXFORGE_S3_ACCESS_KEY_ID"));
    set_credentials(Some("key-only"), None);
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(
        err.to_string().contains("DXFORGE_S3_SECRET_ACCESS_KEY"),
        "{err}"
    );

    let mut bad = RemoteConfig::new(Some("ftp://example".into()), "b");
    bad.prefix = "a/../b".into();
    let w = worker_with(dir.path(), &rt, bad);
    set_credentials(Some("k"), Some("s"));
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(
        matches!(
            err,
            WorkerError::InvalidRemoteConfig {
                key: "endpoint",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unreachable_remote_is_reported_after_retries() {
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some("k"), Some("s"));
    let rt = runtime();
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"a");
    let w = worker_with(
        dir.path(),
        &rt,
        RemoteConfig::new(Some(format!("http://127.0.0.1:{port}")), "bucket"),
    );
    w.snapshot().unwrap();
    let err = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), w.push()).await })
        .expect("gives up well within a minute")
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::RemoteUnreachable { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn unknown_remote_snapshot_and_missing_bucket_are_clear_errors() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some(&s3.key), Some(&s3.secret));
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keep.txt", b"keep");
    let before = read_tree(dir.path());
    let w = worker_with(dir.path(), &rt, remote(&s3, &unique_prefix("unknown")));
    let err = rt
        .block_on(w.pull("20200101T000000Z-00000000"))
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::RemoteSnapshotNotFound { .. }),
        "{err}"
    );
    assert_eq!(read_tree(dir.path()), before);

    let mut cfg = remote(&s3, "x/");
    cfg.bucket = "no-such-bucket-dxforge".into();
    let w = worker_with(dir.path(), &rt, cfg);
    w.snapshot().unwrap();
    let err = rt.block_on(w.push()).unwrap_err();
    assert!(matches!(err, WorkerError::BucketNotFound { .. }), "{err}");
}

#[test]
fn corrupted_remote_object_is_detected_and_not_restored() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some(&s3.key), Some(&s3.secret));
    let rt = runtime();
    let prefix = unique_prefix("corrupt");
    let a = tempfile::tempdir().unwrap();
    write(a.path(), "x.txt", b"precious");
    let wa = worker_with(a.path(), &rt, remote(&s3, &prefix));
    let snap = wa.snapshot().unwrap();
    rt.block_on(wa.push()).unwrap();

    // Replace the object on the server with other bytes under the same name.
    let hash = blake3::hash(b"precious").to_hex();
    let key = ObjectPath::parse(format!("{prefix}objects/{}/{}", &hash[..2], &hash[2..])).unwrap();
    rt.block_on(inspector(&s3).put(&key, PutPayload::from_static(b"tampered")))
        .unwrap();

    let b = tempfile::tempdir().unwrap();
    write(b.path(), "mine.txt", b"local work");
    let before = read_tree(b.path());
    let wb = worker_with(b.path(), &rt, remote(&s3, &prefix));
    let err = rt.block_on(wb.pull(&snap.id)).unwrap_err();
    assert!(
        matches!(err, WorkerError::RemoteObjectCorrupt { .. }),
        "{err}"
    );
    assert_eq!(read_tree(b.path()), before, "nothing restored");
    assert!(
        wb.snapshots().unwrap().is_empty(),
        "the manifest was not stored either"
    );
}

#[test]
fn progress_is_reported_per_object() {
    let Some(s3) = s3() else { return };
    let _env = common::ENV_LOCK.lock();
    set_credentials(Some(&s3.key), Some(&s3.secret));
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write(dir.path(), &format!("{i}.txt"), format!("{i}").as_bytes());
    }
    let w = worker_with(dir.path(), &rt, remote(&s3, &unique_prefix("progress")));
    w.snapshot().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    let report = rt
        .block_on(w.push_with_progress(Some(Arc::new(move |p: &SyncProgress| {
            assert_eq!(p.total, if p.phase == "objects" { 5 } else { 1 });
            c.fetch_add(1, Ordering::Relaxed);
        }))))
        .unwrap();
    assert_eq!(report.objects_sent, 5);
    assert_eq!(calls.load(Ordering::Relaxed), 6);
}
