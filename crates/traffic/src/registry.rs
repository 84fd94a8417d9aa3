//! The package registry (a directory) and the project's local package cache.
//!
//! Registry layout: `<registry>/<name>/<version>/dxpkg.toml` plus
//! `<registry>/<name>/<version>/files/**`, mirroring the project layout.
//! Cache layout (written by `prefetch`): the same under
//! `.dxforge/cache/packages/<name>/<version>/`, plus `hashes.json` holding the
//! BLAKE3 hash of every file, written last. Reads prefer a cached copy whose
//! hashes verify, so installs keep working when the registry directory is gone.
//!
//! Neither is trusted. The registry directory is opened as a
//! `dxforge_fs::Root` (the directory itself is the user's choice, so a link
//! to it is fine) and the cache is reached through the project's state root;
//! beneath them no symlink is ever followed: a package folder, version
//! folder, `dxpkg.toml`, `files` or anything under `files` that is a symlink
//! is refused with an error naming it. Sizes and counts are bounded by
//! [`crate::limits`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dxforge_fs::{Durability, FsError, Kind, Policy, Root, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError};
use crate::limits::{
    MAX_CACHE_HASHES_BYTES, MAX_PACKAGE_BYTES, MAX_PACKAGE_FILE_BYTES, MAX_PACKAGE_FILES,
    MAX_PACKAGE_MANIFEST_BYTES, MAX_TREE_DEPTH,
};
use crate::manifest::PackageManifest;
use crate::safety::{validate_package_name, validate_relative};
use crate::store::hash_hex;

/// The cache's directory in the state root.
const CACHE: &str = "cache/packages";

/// One file of a package version.
#[derive(Debug, Clone)]
pub struct PackageFile {
    /// Project-relative target path (`/`-separated).
    pub path: String,
    /// Pristine upstream content.
    pub content: Vec<u8>,
}

/// A package version with its files loaded.
#[derive(Debug, Clone)]
pub struct PackageSource {
    /// Its manifest.
    pub manifest: PackageManifest,
    /// Its files, sorted by path.
    pub files: Vec<PackageFile>,
}

/// Hashes of a cached package version.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheHashes {
    manifest: String,
    files: BTreeMap<String, String>,
}

/// A package version's folder beneath a root (registry or state root).
struct VersionDir<'a> {
    root: &'a Root,
    /// `<name>/<version>` or `cache/packages/<name>/<version>`.
    rel: String,
    name: &'a str,
}

impl VersionDir<'_> {
    fn rel(&self, sub: &str) -> String {
        format!("{}/{sub}", self.rel)
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.root.join(self.rel(sub))
    }

    /// Read `sub` (a regular file, never through a link), at most `limit` bytes.
    fn read(&self, sub: &str, limit: u64) -> Result<Vec<u8>> {
        self.root
            .read(self.rel(sub), limit)
            .map_err(|e| tree_error(e, self.name))?
            .ok_or_else(|| {
                TrafficError::io(
                    "read",
                    self.path(sub),
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                )
            })
    }

    fn kind(&self, sub: &str) -> Result<Option<Kind>> {
        let rel = if sub.is_empty() {
            self.rel.clone()
        } else {
            self.rel(sub)
        };
        let meta = self
            .root
            .metadata(&rel)
            .map_err(|e| tree_error(e, self.name))?;
        match meta.map(|m| m.kind) {
            Some(Kind::Symlink) => Err(symlink_in_package(self.name, &self.root.join(&rel))),
            other => Ok(other),
        }
    }
}

/// Registry directory plus local cache.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: Option<PathBuf>,
    state: Option<Root>,
}

impl Registry {
    /// A registry at `dir` (may be absent) with the cache in the state root
    /// `state` (the project's `.dxforge`; `None` when the project has none yet).
    pub fn new(dir: Option<PathBuf>, state: Option<Root>) -> Self {
        Registry { dir, state }
    }

    fn cache_label(&self) -> PathBuf {
        match &self.state {
            Some(s) => s.join(CACHE),
            None => PathBuf::from(".dxforge").join(CACHE),
        }
    }

    fn registry_label(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| self.cache_label())
    }

    /// The registry directory as a root; `None` when none is configured or it is gone.
    fn registry_root(&self) -> Result<Option<Root>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        match Root::open(dir, Policy::Plain) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The roots to search with the prefix of package folders in each: cache first.
    fn sources(&self) -> Result<Vec<(Root, &'static str)>> {
        let mut out = Vec::new();
        if let Some(state) = &self.state {
            out.push((state.clone(), "cache/packages/"));
        }
        if let Some(reg) = self.registry_root()? {
            out.push((reg, ""));
        }
        Ok(out)
    }

    /// Every package name in the registry and cache.
    pub fn package_names(&self) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        for (root, prefix) in self.sources()? {
            let dir = prefix.trim_end_matches('/');
            for (name, kind) in list(&root, dir)? {
                // A symlinked package folder is listed: reading it is refused with its name.
                if matches!(kind, Kind::Dir | Kind::Symlink) && validate_package_name(&name).is_ok()
                {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Every available version of `name`, ascending. Errors when there is none,
    /// and when a package or version folder is a symlink.
    pub fn versions(&self, name: &str) -> Result<Vec<semver::Version>> {
        validate_package_name(name)?;
        let cached = self.cached_versions(name)?;
        if self.dir.is_none() && cached.is_empty() {
            return Err(TrafficError::NoRegistry);
        }
        let mut versions: BTreeSet<semver::Version> = cached.into_iter().collect();
        if let Some(reg) = self.registry_root()? {
            versions.extend(versions_in(&reg, "", name, false)?);
        }
        if versions.is_empty() {
            return Err(TrafficError::PackageNotFound {
                name: name.to_string(),
                registry: self.registry_label(),
            });
        }
        Ok(versions.into_iter().collect())
    }

    fn cached_versions(&self, name: &str) -> Result<Vec<semver::Version>> {
        match &self.state {
            Some(state) => versions_in(state, "cache/packages/", name, true),
            None => Ok(Vec::new()),
        }
    }

    fn cache_dir<'a>(&'a self, name: &'a str, version: &semver::Version) -> Option<VersionDir<'a>> {
        self.state.as_ref().map(|root| VersionDir {
            root,
            rel: format!("{CACHE}/{name}/{version}"),
            name,
        })
    }

    /// The cached copy of `name@version` when one is complete (its `hashes.json` exists).
    fn cached<'a>(
        &'a self,
        name: &'a str,
        version: &semver::Version,
    ) -> Result<Option<VersionDir<'a>>> {
        let Some(dir) = self.cache_dir(name, version) else {
            return Ok(None);
        };
        Ok((dir.kind("hashes.json")? == Some(Kind::File)).then_some(dir))
    }

    fn with_registry_version<T>(
        &self,
        name: &str,
        version: &semver::Version,
        f: impl FnOnce(&VersionDir<'_>) -> Result<T>,
    ) -> Result<T> {
        let dir = self.dir.as_ref().ok_or(TrafficError::NoRegistry)?;
        let not_found = || TrafficError::PackageNotFound {
            name: format!("{name}@{version}"),
            registry: dir.clone(),
        };
        let root = self.registry_root()?.ok_or_else(not_found)?;
        let v = VersionDir {
            root: &root,
            rel: format!("{name}/{version}"),
            name,
        };
        match v.kind("")? {
            Some(Kind::Dir) => {}
            _ => return Err(not_found()),
        }
        if v.kind("dxpkg.toml")? != Some(Kind::File) {
            return Err(not_found());
        }
        f(&v)
    }

    /// Only the manifest of `name@version` (cache first, then registry).
    pub fn manifest(&self, name: &str, version: &semver::Version) -> Result<PackageManifest> {
        if let Some(dir) = self.cached(name, version)? {
            return read_manifest(&dir, version);
        }
        self.with_registry_version(name, version, |dir| read_manifest(dir, version))
    }

    /// Load `name@version` with all its files: a verified cached copy when
    /// present, else the registry.
    pub fn load(&self, name: &str, version: &semver::Version) -> Result<PackageSource> {
        if let Some(dir) = self.cached(name, version)? {
            return load_cached(&dir, version);
        }
        self.with_registry_version(name, version, |dir| load_dir(dir, version))
    }

    /// Copy `name@version` into the cache (verified). Returns `true` when it was
    /// already cached. The caller holds the project lock.
    pub fn cache_package(&self, name: &str, version: &semver::Version) -> Result<bool> {
        if let Some(dir) = self.cached(name, version)?
            && load_cached(&dir, version).is_ok()
        {
            return Ok(true);
        }
        let (source, manifest_text) = self.with_registry_version(name, version, |dir| {
            let source = load_dir(dir, version)?;
            let text = dir.read("dxpkg.toml", MAX_PACKAGE_MANIFEST_BYTES)?;
            Ok((source, text))
        })?;
        let Some(target) = self.cache_dir(name, version) else {
            return Err(TrafficError::io(
                "write the package cache",
                self.cache_label(),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        };
        let state = target.root;
        // A stale or corrupt copy is replaced whole; the copy only counts once
        // `hashes.json` is written, last and durably.
        remove_tree(state, Path::new(&target.rel), 0)?;
        let mut hashes = CacheHashes {
            manifest: hash_hex(&manifest_text),
            files: BTreeMap::new(),
        };
        let atomic = WriteOptions::default();
        state.write_atomic(target.rel("dxpkg.toml"), &manifest_text, atomic)?;
        for f in &source.files {
            state.write_atomic(target.rel(&format!("files/{}", f.path)), &f.content, atomic)?;
            hashes.files.insert(f.path.clone(), hash_hex(&f.content));
        }
        state.syncfs()?;
        let json = serde_json::to_vec_pretty(&hashes).map_err(|e| TrafficError::Corrupt {
            path: target.path("hashes.json"),
            message: e.to_string(),
        })?;
        state.write_atomic(
            target.rel("hashes.json"),
            &json,
            WriteOptions {
                mode: None,
                durability: Durability::Durable,
            },
        )?;
        Ok(false)
    }
}

/// Entries of `dir` beneath `root` as UTF-8 names; a missing directory is empty.
fn list(root: &Root, dir: &str) -> Result<Vec<(String, Kind)>> {
    match root.read_dir(dir) {
        Ok(entries) => Ok(entries
            .into_iter()
            .filter_map(|(n, k)| n.into_string().ok().map(|n| (n, k)))
            .collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Versions of `name` under `prefix` in `root`: folders named by a semver
/// version holding a `dxpkg.toml` (and, for the cache, a `hashes.json`).
fn versions_in(root: &Root, prefix: &str, name: &str, cache: bool) -> Result<Vec<semver::Version>> {
    let package_dir = format!("{prefix}{name}");
    let entries = match root.read_dir(&package_dir) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(tree_error(e, name)),
    };
    let mut out = Vec::new();
    for (entry, kind) in entries {
        let Some(Ok(version)) = entry.to_str().map(semver::Version::parse) else {
            continue;
        };
        let dir = VersionDir {
            root,
            rel: format!("{package_dir}/{version}"),
            name,
        };
        match kind {
            Kind::Symlink => {
                let path = root.join(Path::new(&package_dir).join(&entry));
                return Err(symlink_in_package(name, &path));
            }
            Kind::Dir => {}
            _ => continue,
        }
        if entry.to_str() != Some(version.to_string().as_str()) {
            // `01.0.0` style aliases are not versions dxforge writes or reads.
            continue;
        }
        let complete = dir.kind("dxpkg.toml")? == Some(Kind::File)
            && (!cache || dir.kind("hashes.json")? == Some(Kind::File));
        if complete {
            out.push(version);
        }
    }
    Ok(out)
}

fn symlink_in_package(package: &str, path: &Path) -> TrafficError {
    TrafficError::UnsafePath {
        package: package.to_string(),
        path: path.display().to_string(),
        reason: "is a symbolic link; registry packages may not contain symlinks".to_string(),
    }
}

/// A filesystem error met while reading a package's tree: a link anywhere is
/// refused naming it; the rest keeps its kind.
fn tree_error(e: FsError, package: &str) -> TrafficError {
    match e {
        FsError::Symlink { path } => symlink_in_package(package, &path),
        other => other.into(),
    }
}

fn check_identity(
    file: &Path,
    m: &PackageManifest,
    name: &str,
    version: &semver::Version,
) -> Result<()> {
    if m.name != name || &m.version != version {
        return Err(TrafficError::Manifest {
            file: file.to_path_buf(),
            line: 0,
            key: if m.name != name { "name" } else { "version" }.to_string(),
            message: format!(
                "declares {}@{} but lives in the directory of {name}@{version}",
                m.name, m.version
            ),
        });
    }
    Ok(())
}

fn read_manifest(dir: &VersionDir<'_>, version: &semver::Version) -> Result<PackageManifest> {
    let path = dir.path("dxpkg.toml");
    let bytes = dir.read("dxpkg.toml", MAX_PACKAGE_MANIFEST_BYTES)?;
    let manifest = PackageManifest::parse_bytes(&path, &bytes)?;
    check_identity(&path, &manifest, dir.name, version)?;
    Ok(manifest)
}

fn load_dir(dir: &VersionDir<'_>, version: &semver::Version) -> Result<PackageSource> {
    let manifest = read_manifest(dir, version)?;
    let mut walk = Walk {
        dir,
        files: Vec::new(),
        bytes: 0,
    };
    match dir.kind("files")? {
        None => {}
        Some(Kind::Dir) => walk.walk("files", "", 0)?,
        Some(_) => {
            return Err(TrafficError::UnsafePath {
                package: dir.name.to_string(),
                path: dir.path("files").display().to_string(),
                reason: "`files` is not a directory".to_string(),
            });
        }
    }
    let mut files = walk.files;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(PackageSource { manifest, files })
}

/// Reads a package's `files/` tree with its bounds.
struct Walk<'a, 'b> {
    dir: &'a VersionDir<'b>,
    files: Vec<PackageFile>,
    bytes: u64,
}

impl Walk<'_, '_> {
    fn walk(&mut self, sub: &str, prefix: &str, depth: usize) -> Result<()> {
        let package = self.dir.name;
        let shown = self.dir.path(sub);
        if depth > MAX_TREE_DEPTH {
            return Err(TrafficError::Limit {
                path: shown,
                message: format!("package tree deeper than {MAX_TREE_DEPTH} levels"),
            });
        }
        let entries = self
            .dir
            .root
            .read_dir(self.dir.rel(sub))
            .map_err(|e| tree_error(e, package))?;
        for (name, kind) in entries {
            let Some(name) = name.to_str().map(str::to_string) else {
                return Err(TrafficError::UnsafePath {
                    package: package.to_string(),
                    path: shown.join(&name).display().to_string(),
                    reason: "file name is not UTF-8".to_string(),
                });
            };
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let sub_rel = format!("{sub}/{name}");
            match kind {
                Kind::Symlink => {
                    return Err(symlink_in_package(package, &self.dir.path(&sub_rel)));
                }
                Kind::Dir => {
                    validate_relative(package, &rel)?;
                    self.walk(&sub_rel, &rel, depth + 1)?;
                }
                Kind::File => {
                    validate_relative(package, &rel)?;
                    if self.files.len() >= MAX_PACKAGE_FILES {
                        return Err(TrafficError::Limit {
                            path: self.dir.path("files"),
                            message: format!("package has more than {MAX_PACKAGE_FILES} files"),
                        });
                    }
                    let content = self.dir.read(&sub_rel, MAX_PACKAGE_FILE_BYTES)?;
                    self.bytes += content.len() as u64;
                    if self.bytes > MAX_PACKAGE_BYTES {
                        return Err(TrafficError::Limit {
                            path: self.dir.path("files"),
                            message: format!(
                                "package content larger than {MAX_PACKAGE_BYTES} bytes"
                            ),
                        });
                    }
                    self.files.push(PackageFile { path: rel, content });
                }
                Kind::Other => {
                    return Err(TrafficError::UnsafePath {
                        package: package.to_string(),
                        path: self.dir.path(&sub_rel).display().to_string(),
                        reason: "not a regular file (FIFO, socket or device)".to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn load_cached(dir: &VersionDir<'_>, version: &semver::Version) -> Result<PackageSource> {
    let hashes_path = dir.path("hashes.json");
    let raw = dir.read("hashes.json", MAX_CACHE_HASHES_BYTES)?;
    let hashes: CacheHashes = serde_json::from_slice(&raw).map_err(|e| TrafficError::Corrupt {
        path: hashes_path.clone(),
        message: e.to_string(),
    })?;
    if hashes.files.len() > MAX_PACKAGE_FILES {
        return Err(TrafficError::Limit {
            path: hashes_path,
            message: format!("more than {MAX_PACKAGE_FILES} files"),
        });
    }
    let manifest_text = dir.read("dxpkg.toml", MAX_PACKAGE_MANIFEST_BYTES)?;
    verify(&dir.path("dxpkg.toml"), &hashes.manifest, &manifest_text)?;
    let source = load_dir(dir, version)?;
    let found: BTreeSet<&String> = source.files.iter().map(|f| &f.path).collect();
    let expected: BTreeSet<&String> = hashes.files.keys().collect();
    if found != expected {
        return Err(TrafficError::HashMismatch {
            path: dir.path("files"),
            expected: format!("{} files", expected.len()),
            actual: format!("{} files", found.len()),
        });
    }
    for f in &source.files {
        let expected = hashes.files.get(&f.path).map(String::as_str).unwrap_or("");
        verify(
            &dir.path(&format!("files/{}", f.path)),
            expected,
            &f.content,
        )?;
    }
    Ok(source)
}

fn verify(path: &Path, expected: &str, data: &[u8]) -> Result<()> {
    let actual = hash_hex(data);
    if actual != expected {
        return Err(TrafficError::HashMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// Remove `rel` and everything under it, never following a link (a link is
/// removed itself).
fn remove_tree(root: &Root, rel: &Path, depth: usize) -> Result<()> {
    let Some(meta) = root.metadata(rel)? else {
        return Ok(());
    };
    if meta.kind != Kind::Dir {
        root.remove_file(rel)?;
        return Ok(());
    }
    if depth > MAX_TREE_DEPTH {
        return Err(TrafficError::Limit {
            path: root.join(rel),
            message: format!("directory tree deeper than {MAX_TREE_DEPTH} levels"),
        });
    }
    for (name, kind) in root.read_dir(rel)? {
        let child = rel.join(&name);
        if kind == Kind::Dir {
            remove_tree(root, &child, depth + 1)?;
        } else {
            root.remove_file(&child)?;
        }
    }
    root.remove_dir(rel)?;
    Ok(())
}
