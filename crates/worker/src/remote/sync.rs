//! push and pull.
//!
//! push lists what the bucket already has and sends only the missing objects, then the
//! manifests: a manifest is never visible remotely before all of its objects are. An
//! interrupted push therefore resumes on the next run without re-sending what arrived.
//! pull downloads a manifest and the objects missing locally, checks every hash before
//! storing, then restores the tree to the snapshot (with a safety snapshot first).

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::config::{RemoteConfig, classify, connect};
use super::{ProgressFn, SyncProgress, SyncReport};
use crate::error::{Result, WorkerError};
use crate::fsutil::StoreLock;
use crate::snapshot::{Manifest, ObjectId, SnapshotStore, validate_id};

/// Objects above this size go up as multipart uploads.
const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// Cloudflare R2 wants all parts but the last of equal size.
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Transfers in flight at once.
const PARALLEL_TRANSFERS: usize = 4;

fn object_rest(id: &ObjectId) -> String {
    let hex = id.to_hex();
    format!("objects/{}/{}", &hex[..2], &hex[2..])
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkerError::Panicked {
            what,
            message: e.to_string(),
        })?
}

async fn lock(store: &SnapshotStore, exclusive: bool) -> Result<StoreLock> {
    let s = store.clone();
    blocking("store lock", move || s.lock(exclusive)).await
}

/// Object ids under `prefix/objects/` in the bucket.
async fn remote_objects(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
) -> Result<HashSet<ObjectId>> {
    let prefix = remote.key("objects")?;
    let metas: Vec<_> = client
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| classify(remote, "list", prefix.as_ref(), e))?;
    Ok(metas
        .iter()
        .filter_map(|m| {
            let mut parts = m.location.as_ref().rsplit('/');
            let tail = parts.next()?;
            let shard = parts.next()?;
            format!("{shard}{tail}").parse().ok()
        })
        .collect())
}

/// Snapshot ids under `prefix/manifests/` in the bucket.
async fn remote_manifests(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
) -> Result<HashSet<String>> {
    let prefix = remote.key("manifests")?;
    let metas: Vec<_> = client
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| classify(remote, "list", prefix.as_ref(), e))?;
    Ok(metas
        .iter()
        .filter_map(|m| {
            let name = m.location.filename()?;
            Some(name.strip_suffix(".json")?.to_owned())
        })
        .collect())
}

/// Uploads every local snapshot's missing objects, then its manifest.
pub(crate) async fn push(
    store: &SnapshotStore,
    remote: &RemoteConfig,
    progress: Option<ProgressFn>,
) -> Result<SyncReport> {
    let client = connect(remote)?;
    let _lock = lock(store, false).await?;
    let s = store.clone();
    let manifests: Vec<Manifest> = blocking("reading manifests", move || {
        s.ids()?.iter().map(|id| s.load(id)).collect()
    })
    .await?;

    let present = remote_objects(&client, remote).await?;
    let mut wanted = HashSet::new();
    let mut to_send = Vec::new();
    for manifest in &manifests {
        for (id, size) in manifest.objects() {
            if wanted.insert(id) && !present.contains(&id) {
                to_send.push((id, size));
            }
        }
    }
    let mut report = SyncReport {
        objects_skipped: (wanted.len() - to_send.len()) as u64,
        snapshots: manifests.iter().map(|m| m.id.clone()).collect(),
        ..SyncReport::default()
    };

    let total = to_send.len() as u64;
    let (done, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut uploads = futures::stream::iter(to_send)
        .map(|(id, size)| upload_object(&client, remote, store, id, size))
        .buffer_unordered(PARALLEL_TRANSFERS);
    while let Some(result) = uploads.next().await {
        let sent = result?;
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = bytes.fetch_add(sent, Ordering::Relaxed) + sent;
        if let Some(cb) = &progress {
            cb(&SyncProgress {
                phase: "objects",
                done,
                total,
                bytes,
            });
        }
    }
    report.objects_sent = done.into_inner();
    report.bytes_sent = bytes.into_inner();

    // Manifests last: only now is every object they name in the bucket.
    let remote_ids = remote_manifests(&client, remote).await?;
    let missing: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| !remote_ids.contains(&m.id))
        .collect();
    report.manifests_skipped = (manifests.len() - missing.len()) as u64;
    for (i, manifest) in missing.iter().enumerate() {
        let path = store.manifest_path(&manifest.id);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| WorkerError::io("read", &path, e))?;
        let key = remote.key(&format!("manifests/{}.json", manifest.id))?;
        client
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(|e| classify(remote, "put", key.as_ref(), e))?;
        report.manifests_sent += 1;
        if let Some(cb) = &progress {
            cb(&SyncProgress {
                phase: "manifests",
                done: i as u64 + 1,
                total: missing.len() as u64,
                bytes: 0,
            });
        }
    }
    tracing::info!(
        sent = report.objects_sent,
        skipped = report.objects_skipped,
        manifests = report.manifests_sent,
        "push finished"
    );
    Ok(report)
}

/// Sends one object after checking its hash (a corrupted local object is never uploaded).
async fn upload_object(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
    store: &SnapshotStore,
    id: ObjectId,
    size: u64,
) -> Result<u64> {
    let key = remote.key(&object_rest(&id))?;
    let path = store.objects().path_of(&id);
    if size <= MULTIPART_THRESHOLD {
        let objects = store.objects().clone();
        let bytes = blocking("reading object", move || objects.read_verified(&id)).await?;
        let len = bytes.len() as u64;
        client
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(|e| classify(remote, "put", key.as_ref(), e))?;
        return Ok(len);
    }
    let upload = client
        .put_multipart(&key)
        .await
        .map_err(|e| classify(remote, "start multipart upload", key.as_ref(), e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| WorkerError::io("open", &path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; PART_SIZE];
    let mut sent = 0u64;
    loop {
        use tokio::io::AsyncReadExt;
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(WorkerError::io("read", &path, e));
            }
        };
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Err(e) = writer.wait_for_capacity(PARALLEL_TRANSFERS).await {
            return Err(classify(remote, "upload part", key.as_ref(), e));
        }
        writer.write(&buf[..n]);
        sent += n as u64;
    }
    let actual = ObjectId(*hasher.finalize().as_bytes());
    if actual != id {
        let _ = writer.abort().await;
        return Err(WorkerError::CorruptObject {
            hash: id.to_hex(),
            path,
            actual: actual.to_hex(),
        });
    }
    writer
        .finish()
        .await
        .map_err(|e| classify(remote, "complete multipart upload", key.as_ref(), e))?;
    Ok(sent)
}

/// Fetches snapshot `id` into the local store and restores the tree to it.
pub(crate) async fn pull(
    store: &SnapshotStore,
    remote: &RemoteConfig,
    id: &str,
    progress: Option<ProgressFn>,
) -> Result<SyncReport> {
    validate_id(id)?;
    let client = connect(remote)?;
    let manifest_key = remote.key(&format!("manifests/{id}.json"))?;
    let manifest_bytes = match client.get(&manifest_key).await {
        Ok(r) => r
            .bytes()
            .await
            .map_err(|e| classify(remote, "get", manifest_key.as_ref(), e))?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(WorkerError::RemoteSnapshotNotFound {
                id: id.to_owned(),
                bucket: remote.bucket.clone(),
                key: manifest_key.to_string(),
            });
        }
        Err(e) => return Err(classify(remote, "get", manifest_key.as_ref(), e)),
    };
    let manifest = Manifest::parse(&manifest_bytes, manifest_key.as_ref())?;
    if manifest.id != id {
        return Err(WorkerError::InvalidManifest {
            path: manifest_key.to_string(),
            reason: format!("it describes snapshot {:?}", manifest.id),
        });
    }

    let _lock = lock(store, true).await?;
    let objects = store.objects().clone();
    let needed: Vec<(ObjectId, u64)> = manifest.objects().collect();
    let total_objects = needed.len() as u64;
    let missing: Vec<(ObjectId, u64)> = blocking("checking local objects", move || {
        Ok(needed
            .into_iter()
            .filter(|(id, _)| objects.verify(id).is_err())
            .collect())
    })
    .await?;

    let mut report = SyncReport {
        objects_skipped: total_objects - missing.len() as u64,
        snapshots: vec![id.to_owned()],
        ..SyncReport::default()
    };
    let total = missing.len() as u64;
    let mut downloads = futures::stream::iter(missing)
        .map(|(oid, _)| download_object(&client, remote, store, oid))
        .buffer_unordered(PARALLEL_TRANSFERS);
    while let Some(result) = downloads.next().await {
        report.bytes_sent += result?;
        report.objects_sent += 1;
        if let Some(cb) = &progress {
            cb(&SyncProgress {
                phase: "objects",
                done: report.objects_sent,
                total,
                bytes: report.bytes_sent,
            });
        }
    }
    drop(downloads);

    let s = store.clone();
    let restore = blocking("restoring pulled snapshot", move || {
        let local = s.manifest_path(&manifest.id);
        if local.is_file() {
            report.manifests_skipped = 1;
        } else {
            manifest.write(&s.manifest_dir())?;
            report.manifests_sent = 1;
        }
        report.restore = Some(s.restore_manifest_locked(&manifest)?);
        Ok(report)
    })
    .await?;
    Ok(restore)
}

/// Downloads one object into the local store; stored only if its hash matches its name.
async fn download_object(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
    store: &SnapshotStore,
    id: ObjectId,
) -> Result<u64> {
    let key: ObjectPath = remote.key(&object_rest(&id))?;
    let result = client
        .get(&key)
        .await
        .map_err(|e| classify(remote, "get", key.as_ref(), e))?;
    let dir = store.objects().dir().to_path_buf();
    crate::fsutil::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".dxforge-tmp-")
        .tempfile_in(&dir)
        .map_err(|e| WorkerError::io("create temporary file in", &dir, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(remote, "get", key.as_ref(), e))?;
        hasher.update(&chunk);
        tmp.write_all(&chunk)
            .map_err(|e| WorkerError::io("write", tmp.path().to_path_buf(), e))?;
        size += chunk.len() as u64;
    }
    let actual = ObjectId(*hasher.finalize().as_bytes());
    if actual != id {
        return Err(WorkerError::RemoteObjectCorrupt {
            key: key.to_string(),
            actual: actual.to_hex(),
        });
    }
    let path = store.objects().path_of(&id);
    if let Some(parent) = path.parent() {
        crate::fsutil::create_dir_all(parent)?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o444))
        .map_err(|e| WorkerError::io("set permissions of", tmp.path().to_path_buf(), e))?;
    tmp.persist(&path)
        .map_err(|e| WorkerError::io("rename temporary file to", &path, e.error))?;
    Ok(size)
}
