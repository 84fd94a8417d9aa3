//! `sync push` of 10,000 objects to the local S3-compatible server, against a
//! sequential upload of the same objects through the same client
//! (`object_store`'s S3 client, one `put` after the other, the way a simple
//! `aws s3 sync`-style script would), interleaved, three rounds each.
//!
//! Needs the server of `scripts/s3-server.sh` (`DXFORGE_TEST_S3_*`); without
//! it the benchmark says so and exits 0. Each round pushes into a fresh
//! prefix, so every object is missing for both sides.
#![allow(missing_docs, reason = "a benchmark binary")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dxforge_worker::{BackgroundWorker, RemoteConfig, WorkerConfig};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload};

const FILES: usize = 10_000;
const ROUNDS: usize = 3;

struct Server {
    endpoint: String,
    key: String,
    secret: String,
    bucket: String,
}

fn server() -> Option<Server> {
    let var = |name: &str| std::env::var(name).ok();
    Some(Server {
        endpoint: var("DXFORGE_TEST_S3_ENDPOINT")?,
        key: var("DXFORGE_TEST_S3_ACCESS_KEY")?,
        secret: var("DXFORGE_TEST_S3_SECRET_KEY")?,
        bucket: var("DXFORGE_TEST_S3_BUCKET")?,
    })
}

/// 10,000 distinct files of about 1 KiB in 100 directories.
fn generate_tree(root: &Path) {
    for d in 0..100 {
        let dir = root.join(format!("src/mod{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES / 100 {
            let line = format!("export const value_{d}_{f} = compute({d}, {f});\n");
            std::fs::write(dir.join(format!("file{f:03}.ts")), line.repeat(20)).unwrap();
        }
    }
}

/// Every object file of the local store, as (key below the prefix, path).
fn local_objects(root: &Path) -> Vec<(String, PathBuf)> {
    let objects = root.join(".dxforge/snapshots/objects");
    let mut out = Vec::new();
    for fan in std::fs::read_dir(&objects).unwrap() {
        let fan = fan.unwrap();
        let two = fan.file_name().to_string_lossy().into_owned();
        for obj in std::fs::read_dir(fan.path()).unwrap() {
            let obj = obj.unwrap();
            let rest = obj.file_name().to_string_lossy().into_owned();
            out.push((format!("objects/{two}/{rest}"), obj.path()));
        }
    }
    out
}

fn unique_prefix(side: &str, round: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("bench/sync-{nanos}-{side}-{round}/")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let Some(s3) = server() else {
        println!("sync push: skipped (no S3 server; eval \"$(scripts/s3-server.sh start)\")");
        return;
    };
    // SAFETY: set before any thread of this process starts; the worker reads them.
    unsafe {
        std::env::set_var("DXFORGE_S3_ACCESS_KEY_ID", &s3.key);
        std::env::set_var("DXFORGE_S3_SECRET_ACCESS_KEY", &s3.secret);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    generate_tree(dir.path());
    let remote = |prefix: String| RemoteConfig {
        endpoint: Some(s3.endpoint.clone()),
        bucket: s3.bucket.clone(),
        prefix,
        region: "auto".to_owned(),
        ..RemoteConfig::default()
    };
    let worker = |prefix: String| {
        let mut config = WorkerConfig::new(dir.path(), rt.handle().clone());
        config.remote = Some(remote(prefix));
        BackgroundWorker::new(config)
    };
    worker(String::new()).snapshot().unwrap();
    let objects = local_objects(dir.path());
    assert_eq!(objects.len(), FILES, "one object per distinct file");

    let client: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&s3.endpoint)
            .with_bucket_name(&s3.bucket)
            .with_region("auto")
            .with_access_key_id(&s3.key)
            .with_secret_access_key(&s3.secret)
            .with_virtual_hosted_style_request(false)
            .with_client_options(ClientOptions::new().with_allow_http(true))
            .build()
            .unwrap(),
    );

    let (mut ours, mut seq) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let w = worker(unique_prefix("dxforge", round));
        let start = Instant::now();
        let report = rt.block_on(w.push()).unwrap();
        ours.push(start.elapsed());
        assert_eq!(report.objects_sent as usize, FILES);
        w.shutdown();

        let prefix = unique_prefix("sequential", round);
        let start = Instant::now();
        rt.block_on(async {
            for (key, path) in &objects {
                let bytes = std::fs::read(path).unwrap();
                let key = ObjectPath::parse(format!("{prefix}{key}")).unwrap();
                client.put(&key, PutPayload::from(bytes)).await.unwrap();
            }
        });
        seq.push(start.elapsed());
    }
    let (o, s) = (median(ours.clone()), median(seq.clone()));
    println!(
        "sync push of {FILES} objects ({ROUNDS} rounds, interleaved): dxforge median {o:?} {ours:?}, \
         sequential puts median {s:?} {seq:?}, {:.2}x faster (target >= 4x)",
        s.as_secs_f64() / o.as_secs_f64()
    );
    println!(
        "bench-row {{\"row\":\"sync_push\",\"mode\":\"in-process\",\"ours_ns\":{:?},\"peer_ns\":{:?}}}",
        ours.iter().map(Duration::as_nanos).collect::<Vec<_>>(),
        seq.iter().map(Duration::as_nanos).collect::<Vec<_>>()
    );
}
