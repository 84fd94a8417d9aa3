//! The base store `.dxforge/base/`: the pristine content of every installed
//! file, content-addressed by BLAKE3, so later upgrades have a merge base.
//!
//! Objects are stored either loose (`<2 hex>/<64 hex>`) or, as every install
//! writes them, in one pack per transaction (`packs/<id>.pack` holding the
//! bytes and `packs/<id>.idx`, JSON `{hash: [offset, length]}`, written
//! last; both made durable by the transaction's `syncfs` before its commit
//! point): one file instead of one per installed file. Every
//! read is verified against its hash; a missing, corrupt or out-of-bounds
//! object is reported as absent and the caller falls back to the registry
//! copy of the locked version. Packs of an install that was rolled back stay
//! behind as unreferenced objects.
//!
//! The store is reached through the state root (`.dxforge`, a
//! `dxforge_fs::Root`), so no link in it is ever followed, and every index
//! is parsed with bounds ([`parse_pack_index`]) before an entry is trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use dxforge_fs::{Durability, Kind, Root, WriteOptions};

use crate::error::{Result, TrafficError};
use crate::limits::{MAX_OBJECT_BYTES, MAX_PACK_ENTRIES, MAX_PACK_INDEX_BYTES};
use crate::store::{hash_hex, is_hash};

/// The store's directory in the state root.
pub(crate) const BASE: &str = "base";
/// Its packs.
pub(crate) const PACKS: &str = "base/packs";

/// Where a packed object lives.
#[derive(Debug, Clone)]
pub(crate) struct PackedAt {
    pack: String,
    offset: u64,
    len: u64,
}

/// One entry of a pack index: the object's offset and length in its pack.
pub(crate) type PackIndex = BTreeMap<String, (u64, u64)>;

/// Parse a pack index (`packs/<id>.idx`) with bounds: at most
/// [`MAX_PACK_INDEX_BYTES`] of JSON, at most [`MAX_PACK_ENTRIES`] entries,
/// every key a BLAKE3 hex digest, every length at most [`MAX_OBJECT_BYTES`]
/// and every `offset + length` representable. Whether the entries fit in
/// the pack file is checked by the caller, which knows its size. Never
/// panics; `idx_path` names the file in errors.
pub(crate) fn parse_pack_index(raw: &[u8], idx_path: &Path) -> Result<PackIndex> {
    let corrupt = |message: String| TrafficError::Corrupt {
        path: idx_path.to_path_buf(),
        message,
    };
    if raw.len() as u64 > MAX_PACK_INDEX_BYTES {
        return Err(TrafficError::Limit {
            path: idx_path.to_path_buf(),
            message: format!("pack index larger than {MAX_PACK_INDEX_BYTES} bytes"),
        });
    }
    let index: PackIndex =
        serde_json::from_slice(raw).map_err(|e| corrupt(format!("not a pack index: {e}")))?;
    if index.len() > MAX_PACK_ENTRIES {
        return Err(TrafficError::Limit {
            path: idx_path.to_path_buf(),
            message: format!(
                "{} entries, more than the limit of {MAX_PACK_ENTRIES}",
                index.len()
            ),
        });
    }
    for (hash, (offset, len)) in &index {
        if !is_hash(hash) {
            return Err(corrupt(format!("`{hash}` is not a BLAKE3 hex digest")));
        }
        if *len > MAX_OBJECT_BYTES {
            return Err(corrupt(format!(
                "object {hash} claims {len} bytes, more than the limit of {MAX_OBJECT_BYTES}"
            )));
        }
        if offset.checked_add(*len).is_none() {
            return Err(corrupt(format!(
                "object {hash}: offset {offset} + length {len} overflows"
            )));
        }
    }
    Ok(index)
}

/// The content-addressed store of pristine file contents.
#[derive(Debug)]
pub struct BaseStore {
    /// `None`: the project has no `.dxforge/` yet; every object is absent.
    state: Option<Root>,
    index: OnceLock<BTreeMap<String, PackedAt>>,
    /// The `<2 hex>` directories of loose objects, listed once.
    loose: OnceLock<BTreeSet<String>>,
}

impl BaseStore {
    /// The store in the state root `state` (the project's `.dxforge`).
    pub fn new(state: Root) -> Self {
        BaseStore {
            state: Some(state),
            index: OnceLock::new(),
            loose: OnceLock::new(),
        }
    }

    /// A store with nothing in it (a project without `.dxforge/`).
    pub fn empty() -> Self {
        BaseStore {
            state: None,
            index: OnceLock::new(),
            loose: OnceLock::new(),
        }
    }

    fn object_rel(hash: &str) -> String {
        format!("{BASE}/{}/{hash}", &hash[..2])
    }

    /// Whether a loose object with `hash` may exist (its directory does).
    fn may_be_loose(&self, hash: &str) -> bool {
        let dirs = self.loose.get_or_init(|| {
            let Some(state) = &self.state else {
                return BTreeSet::new();
            };
            state
                .read_dir(BASE)
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, kind)| *kind == Kind::Dir)
                .filter_map(|(name, _)| name.into_string().ok())
                .filter(|name| name.len() == 2)
                .collect()
        });
        dirs.contains(&hash[..2])
    }

    /// Index of every pack, read once per store instance. An index that is
    /// unreadable, malformed or points past the end of its pack is skipped
    /// (its objects read as absent) with a warning.
    fn index(&self) -> &BTreeMap<String, PackedAt> {
        self.index.get_or_init(|| {
            let mut map = BTreeMap::new();
            let Some(state) = &self.state else {
                return map;
            };
            let entries = match state.read_dir(PACKS) {
                Ok(e) => e,
                Err(e) if e.is_not_found() => return map,
                Err(e) => {
                    tracing::warn!(error = %e, "base store packs unreadable; objects read as absent");
                    return map;
                }
            };
            for (name, kind) in entries {
                let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".idx")) else {
                    continue;
                };
                if kind != Kind::File || !is_hash(id) {
                    continue;
                }
                match load_index(state, id) {
                    Ok(objects) => map.extend(objects),
                    Err(e) => tracing::warn!(error = %e, "pack index skipped"),
                }
            }
            map
        })
    }

    /// Whether an object is stored (unverified).
    pub fn contains(&self, hash: &str) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        is_hash(hash)
            && (self.index().contains_key(hash)
                || (self.may_be_loose(hash)
                    && matches!(state.metadata(Self::object_rel(hash)), Ok(Some(m)) if m.kind == Kind::File)))
    }

    /// Content stored under `hash`, verified; `None` if absent, corrupt or unreadable.
    pub fn get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let Some(state) = &self.state else {
            return Ok(None);
        };
        if !is_hash(hash) {
            return Ok(None);
        }
        if self.may_be_loose(hash)
            && let Ok(Some(data)) = state.read(Self::object_rel(hash), MAX_OBJECT_BYTES)
            && hash_hex(&data) == hash
        {
            return Ok(Some(data));
        }
        let Some(at) = self.index().get(hash) else {
            return Ok(None);
        };
        match read_range(state, at) {
            Ok(data) if hash_hex(&data) == hash => Ok(Some(data)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, hash, "packed base object unreadable");
                Ok(None)
            }
        }
    }

    /// Store one object loose, atomically and durably. Returns its hash.
    pub fn put(&self, data: &[u8]) -> Result<String> {
        let state = self.writable()?;
        let hash = hash_hex(data);
        if self.contains(&hash) {
            return Ok(hash);
        }
        state.write_atomic(Self::object_rel(&hash), data, WriteOptions::durable())?;
        Ok(hash)
    }

    /// Store every object not yet present in one new pack, pack before index,
    /// atomically but without fsync: the transaction that follows flushes the
    /// file system once (`syncfs`) before its commit point, and only then
    /// does a lock file name these objects. An index that outlived its pack
    /// in a power cut reads as absent (every read is verified).
    pub fn put_pack<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>,
    ) -> Result<()> {
        let mut data = Vec::new();
        let mut index: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (hash, content) in objects {
            if self.contains(hash) || index.contains_key(hash.as_str()) {
                continue;
            }
            index.insert(hash, (data.len() as u64, content.len() as u64));
            data.extend_from_slice(content);
        }
        if index.is_empty() {
            return Ok(());
        }
        let state = self.writable()?;
        let id = hash_hex(&data);
        let idx_rel = format!("{PACKS}/{id}.idx");
        let json = serde_json::to_vec(&index).map_err(|e| TrafficError::Corrupt {
            path: state.join(&idx_rel),
            message: e.to_string(),
        })?;
        let atomic = WriteOptions {
            mode: None,
            durability: Durability::Atomic,
        };
        state.write_atomic(format!("{PACKS}/{id}.pack"), &data, atomic)?;
        state.write_atomic(idx_rel, &json, atomic)?;
        Ok(())
    }

    fn writable(&self) -> Result<&Root> {
        self.state.as_ref().ok_or_else(|| {
            TrafficError::io(
                "write the base store",
                ".dxforge/base",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })
    }
}

pub(crate) fn load_index(state: &Root, id: &str) -> Result<Vec<(String, PackedAt)>> {
    let idx_rel = format!("{PACKS}/{id}.idx");
    let pack_rel = format!("{PACKS}/{id}.pack");
    let idx_path = state.join(&idx_rel);
    let raw = state
        .read(&idx_rel, MAX_PACK_INDEX_BYTES)?
        .unwrap_or_default();
    let index = parse_pack_index(&raw, &idx_path)?;
    let pack_len = match state.metadata(&pack_rel)? {
        Some(m) if m.kind == Kind::File => m.len,
        _ => {
            return Err(TrafficError::Corrupt {
                path: idx_path,
                message: "its pack is missing".to_string(),
            });
        }
    };
    let mut out = Vec::with_capacity(index.len());
    for (hash, (offset, len)) in index {
        // parse_pack_index checked that the sum does not overflow.
        if offset.saturating_add(len) > pack_len {
            return Err(TrafficError::Corrupt {
                path: idx_path,
                message: format!(
                    "object {hash} at {offset}+{len} lies past the end of the {pack_len}-byte pack"
                ),
            });
        }
        let pack = pack_rel.clone();
        out.push((hash, PackedAt { pack, offset, len }));
    }
    Ok(out)
}

fn read_range(state: &Root, at: &PackedAt) -> Result<Vec<u8>> {
    let path = || state.join(&at.pack);
    let mut file = state.open_file(&at.pack)?;
    file.seek(SeekFrom::Start(at.offset))
        .map_err(|e| TrafficError::io("seek", path(), e))?;
    // `len` is bounded by MAX_OBJECT_BYTES and by the pack's size.
    let len = usize::try_from(at.len.min(MAX_OBJECT_BYTES)).unwrap_or(0);
    let mut buf = vec![0; len];
    file.read_exact(&mut buf)
        .map_err(|e| TrafficError::io("read", path(), e))?;
    Ok(buf)
}
