//! push and pull.
//!
//! push lists what the bucket already has and sends only the missing objects, then the
//! manifests: a manifest is never visible remotely before all of its objects are. An
//! interrupted push therefore resumes on the next run without re-sending what arrived.
//! pull downloads a manifest and the objects missing locally, checks every hash before
//! storing, then restores the tree to the snapshot (with a safety snapshot first).
//!
//! Locking: pull holds the project lock exclusively from before the first download until
//! the restore is done (one acquisition). push takes no lock: it only reads manifests and
//! objects, which are immutable once in place, and gc never deletes an object a manifest
//! names; an `add` is therefore not held up by a long upload.
//!
//! The bucket is not trusted: a pulled manifest is read up to
//! [`crate::MAX_MANIFEST_BYTES`] and validated like a local one, an object is read up to
//! the size its manifest records and stored only if it hashes to its name.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dxforge_fs::Root;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::config::{RemoteConfig, classify, connect};
use super::{ProgressFn, SyncProgress, SyncReport};
use crate::error::{Result, WorkerError};
use crate::limits::MAX_MANIFEST_BYTES;
use crate::snapshot::{
    Locked, Manifest, ObjectId, Objects, SnapshotStore, SparseWriter, validate_id,
};

/// Objects above this size go up as multipart uploads.
const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// Cloudflare R2 wants all parts but the last of equal size.
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Transfers in flight at once. Small objects are latency-bound (one request
/// each), so many run at once, as `aws s3 sync` (10) and s5cmd (hundreds) do.
const PARALLEL_TRANSFERS: usize = 16;
/// Of those, transfers of objects above [`LARGE_OBJECT`] at once: each may hold
/// up to `MULTIPART_THRESHOLD` (or `PARTS_IN_FLIGHT` parts) in memory.
const LARGE_IN_FLIGHT: usize = 4;
/// Objects above this size count against [`LARGE_IN_FLIGHT`].
const LARGE_OBJECT: u64 = 1024 * 1024;
/// Parts of one multipart upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

fn object_rest(id: &ObjectId) -> String {
    let hex = id.to_hex();
    format!("objects/{}/{}", &hex[..2], &hex[2..])
}

/// Runs `transfer`, holding a permit of `large` first when the object is large
/// (bounds the memory of many transfers in flight).
async fn bounded<T>(
    large: &tokio::sync::Semaphore,
    size: u64,
    transfer: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let _permit = if size > LARGE_OBJECT {
        // The semaphore lives until every transfer is done and is never closed.
        large.acquire().await.ok()
    } else {
        None
    };
    transfer.await
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
    let s = store.clone();
    let (store_root, manifests) = blocking("reading manifests", move || {
        Ok((s.open_store()?, s.manifests()?))
    })
    .await?;
    let Some(store_root) = store_root else {
        return Ok(SyncReport::default());
    };
    let objects = Objects::new(store_root.clone());

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
    let large = tokio::sync::Semaphore::new(LARGE_IN_FLIGHT);
    let mut uploads = futures::stream::iter(to_send)
        .map(|(id, size)| {
            bounded(
                &large,
                size,
                upload_object(&client, remote, &objects, id, size),
            )
        })
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
        let bytes = read_manifest_bytes(&store_root, &manifest.id).await?;
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

/// The stored bytes of a local manifest (bounded, never through a link).
async fn read_manifest_bytes(store: &Root, id: &str) -> Result<Vec<u8>> {
    let store = store.clone();
    let id = id.to_owned();
    blocking("reading manifest", move || {
        let rel = Manifest::rel(&id);
        store
            .read(&rel, MAX_MANIFEST_BYTES)?
            .ok_or_else(|| WorkerError::SnapshotNotFound {
                path: store.join(&rel),
                id,
            })
    })
    .await
}

/// Sends one object after checking its hash (a corrupted local object is never uploaded).
async fn upload_object(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
    objects: &Objects,
    id: ObjectId,
    size: u64,
) -> Result<u64> {
    let key = remote.key(&object_rest(&id))?;
    let path = objects.path_of(&id);
    if size <= MULTIPART_THRESHOLD {
        let objects = objects.clone();
        let bytes = blocking("reading object", move || {
            objects.read_verified(&id, MULTIPART_THRESHOLD)
        })
        .await?;
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
    let opener = objects.clone();
    let file = match blocking("opening object", move || opener.open(&id)).await {
        Ok(file) => file,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    let mut file = tokio::fs::File::from_std(file);
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
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
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
        Ok(r) => {
            let key = manifest_key.to_string();
            if r.meta.size > MAX_MANIFEST_BYTES {
                return Err(WorkerError::InvalidManifest {
                    path: key,
                    reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                });
            }
            let mut bytes = Vec::new();
            let mut stream = r.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| classify(remote, "get", &key, e))?;
                // The server may send more than it announced.
                if (bytes.len() + chunk.len()) as u64 > MAX_MANIFEST_BYTES {
                    return Err(WorkerError::InvalidManifest {
                        path: key,
                        reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            bytes
        }
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

    let s = store.clone();
    let locked: Locked = blocking("project lock", move || s.lock("sync pull")).await?;
    let objects = locked.objects.clone();
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
    let large = tokio::sync::Semaphore::new(LARGE_IN_FLIGHT);
    let mut downloads = futures::stream::iter(missing)
        .map(|(oid, size)| {
            let transfer = download_object(&client, remote, &locked.objects, oid, size);
            bounded(&large, size, transfer)
        })
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
        let store = &locked.store;
        if store.metadata(Manifest::rel(&manifest.id))?.is_some() {
            report.manifests_skipped = 1;
        } else {
            // The downloaded objects are durable before the manifest naming them.
            store.syncfs()?;
            manifest.write(store)?;
            report.manifests_sent = 1;
        }
        report.restore = Some(s.restore_manifest_locked(&locked, &manifest)?);
        Ok(report)
    })
    .await?;
    Ok(restore)
}

/// Downloads one object into the local store (zero blocks left as holes); stored only if
/// it hashes to its name, and never more than the `size` its manifest records is read.
async fn download_object(
    client: &Arc<dyn ObjectStore>,
    remote: &RemoteConfig,
    objects: &Objects,
    id: ObjectId,
    size: u64,
) -> Result<u64> {
    let key: ObjectPath = remote.key(&object_rest(&id))?;
    let result = client
        .get(&key)
        .await
        .map_err(|e| classify(remote, "get", key.as_ref(), e))?;
    let too_large = || WorkerError::Remote {
        op: "get",
        key: key.to_string(),
        message: format!("the object is larger than the {size} bytes its manifest records"),
    };
    if result.meta.size > size {
        return Err(too_large());
    }
    let tmp = objects.temp_file()?;
    let shown = || objects.path_of(&id);
    let mut writer = SparseWriter::new(tmp.file());
    let mut hasher = blake3::Hasher::new();
    let mut received = 0u64;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(remote, "get", key.as_ref(), e))?;
        received += chunk.len() as u64;
        if received > size {
            return Err(too_large());
        }
        hasher.update(&chunk);
        writer
            .write(&chunk)
            .map_err(|e| WorkerError::io("write", shown(), e))?;
    }
    writer
        .finish()
        .map_err(|e| WorkerError::io("write", shown(), e))?;
    let actual = ObjectId(*hasher.finalize().as_bytes());
    if actual != id {
        return Err(WorkerError::RemoteObjectCorrupt {
            key: key.to_string(),
            actual: actual.to_hex(),
        });
    }
    objects.persist(tmp, &id)?;
    Ok(received)
}
