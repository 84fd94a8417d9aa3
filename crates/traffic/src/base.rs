//! The base store `.dxforge/base/`: the pristine content of every installed
//! file, content-addressed by BLAKE3, so later upgrades have a merge base.
//!
//! Objects are stored either loose (`<2 hex>/<64 hex>`) or, as every install
//! writes them, in one pack per transaction (`packs/<id>.pack` holding the
//! bytes and `packs/<id>.idx`, JSON `{hash: [offset, length]}`, written
//! last): one file instead of one per installed file. Every read is verified
//! against its hash; a missing or corrupt object is reported as absent and
//! the caller falls back to the registry copy of the locked version. Packs of
//! an install that was rolled back stay behind as unreferenced objects.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Result, TrafficError};
use crate::store::{hash_hex, is_hash, read_optional, temp_path_for, write_atomic};

/// Where a packed object lives.
#[derive(Debug, Clone)]
struct PackedAt {
    pack: PathBuf,
    offset: u64,
    len: u64,
}

/// The content-addressed store of pristine file contents.
#[derive(Debug)]
pub struct BaseStore {
    dir: PathBuf,
    index: OnceLock<BTreeMap<String, PackedAt>>,
}

impl BaseStore {
    /// The store rooted at `dir` (normally `<root>/.dxforge/base`).
    pub fn new(dir: PathBuf) -> Self {
        BaseStore {
            dir,
            index: OnceLock::new(),
        }
    }

    fn object_path(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(hash)
    }

    fn packs_dir(&self) -> PathBuf {
        self.dir.join("packs")
    }

    /// Index of every pack, read once per store instance. Unreadable indexes are skipped.
    fn index(&self) -> &BTreeMap<String, PackedAt> {
        self.index.get_or_init(|| {
            let mut map = BTreeMap::new();
            let Ok(entries) = std::fs::read_dir(self.packs_dir()) else {
                return map;
            };
            for entry in entries.flatten() {
                let idx = entry.path();
                if idx.extension().is_none_or(|e| e != "idx") {
                    continue;
                }
                let Ok(raw) = std::fs::read(&idx) else {
                    continue;
                };
                let Ok(objects) = serde_json::from_slice::<BTreeMap<String, (u64, u64)>>(&raw)
                else {
                    continue;
                };
                let pack = idx.with_extension("pack");
                for (hash, (offset, len)) in objects {
                    map.insert(
                        hash,
                        PackedAt {
                            pack: pack.clone(),
                            offset,
                            len,
                        },
                    );
                }
            }
            map
        })
    }

    /// Whether an object is stored (unverified).
    pub fn contains(&self, hash: &str) -> bool {
        is_hash(hash) && (self.index().contains_key(hash) || self.object_path(hash).exists())
    }

    /// Content stored under `hash`, verified; `None` if absent or corrupt.
    pub fn get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        if !is_hash(hash) {
            return Ok(None);
        }
        if let Some(data) = read_optional(&self.object_path(hash))?
            && hash_hex(&data) == hash
        {
            return Ok(Some(data));
        }
        let Some(at) = self.index().get(hash) else {
            return Ok(None);
        };
        let Ok(data) = read_range(&at.pack, at.offset, at.len) else {
            return Ok(None);
        };
        Ok((hash_hex(&data) == hash).then_some(data))
    }

    /// Store one object loose, atomically and durably. Returns its hash.
    pub fn put(&self, data: &[u8]) -> Result<String> {
        let hash = hash_hex(data);
        if self.contains(&hash) {
            return Ok(hash);
        }
        let path = self.object_path(&hash);
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| TrafficError::io("create directory", parent, e))?;
        write_atomic(&path, data)?;
        Ok(hash)
    }

    /// Store every object not yet present in one new pack, without fsync (a
    /// transaction flushes the filesystem once before its commit point).
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
        let dir = self.packs_dir();
        std::fs::create_dir_all(&dir).map_err(|e| TrafficError::io("create directory", &dir, e))?;
        let id = hash_hex(&data);
        let pack = dir.join(format!("{id}.pack"));
        let idx = dir.join(format!("{id}.idx"));
        let json = serde_json::to_vec(&index).map_err(|e| TrafficError::Journal {
            journal: idx.clone(),
            message: e.to_string(),
        })?;
        // The pack before its index: an index never points into a missing pack.
        write_renamed(&pack, &data)?;
        write_renamed(&idx, &json)?;
        Ok(())
    }
}

fn write_renamed(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path_for(path, &format!("p{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(|e| TrafficError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrafficError::io("rename", path, e))
}

fn read_range(path: &Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; usize::try_from(len).map_err(std::io::Error::other)?];
    f.read_exact(&mut buf)?;
    Ok(buf)
}
