//! The package registry (a directory) and the project's local package cache.
//!
//! Registry layout: `<registry>/<name>/<version>/dxpkg.toml` plus
//! `<registry>/<name>/<version>/files/**`, mirroring the project layout.
//! Cache layout (written by `prefetch`): the same under
//! `.dxforge/cache/packages/<name>/<version>/`, plus `hashes.json` holding the
//! BLAKE3 hash of every file. Reads prefer a cached copy whose hashes verify,
//! so installs keep working when the registry directory is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError};
use crate::manifest::PackageManifest;
use crate::safety::validate_package_name;
use crate::store::{hash_hex, write_synced};

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
struct CacheHashes {
    manifest: String,
    files: BTreeMap<String, String>,
}

/// Registry directory plus local cache.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: Option<PathBuf>,
    cache: PathBuf,
}

impl Registry {
    /// A registry at `dir` (may be absent) with the cache at `cache`.
    pub fn new(dir: Option<PathBuf>, cache: PathBuf) -> Self {
        Registry { dir, cache }
    }

    fn registry_label(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| self.cache.clone())
    }

    /// Every package name in the registry and cache.
    pub fn package_names(&self) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        for base in self.dir.iter().chain(std::iter::once(&self.cache)) {
            for name in list_dir_names(base)? {
                if validate_package_name(&name).is_ok() {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Every available version of `name`, ascending. Errors when there is none.
    pub fn versions(&self, name: &str) -> Result<Vec<semver::Version>> {
        validate_package_name(name)?;
        if self.dir.is_none() && !self.cache.join(name).is_dir() {
            return Err(TrafficError::NoRegistry);
        }
        let mut versions = BTreeSet::new();
        for base in self.dir.iter().chain(std::iter::once(&self.cache)) {
            for v in list_dir_names(&base.join(name))? {
                if let Ok(version) = semver::Version::parse(&v)
                    && base.join(name).join(&v).join("dxpkg.toml").is_file()
                {
                    versions.insert(version);
                }
            }
        }
        if versions.is_empty() {
            return Err(TrafficError::PackageNotFound {
                name: name.to_string(),
                registry: self.registry_label(),
            });
        }
        Ok(versions.into_iter().collect())
    }

    fn cache_dir(&self, name: &str, version: &semver::Version) -> PathBuf {
        self.cache.join(name).join(version.to_string())
    }

    /// Only the manifest of `name@version` (cache first, then registry).
    pub fn manifest(&self, name: &str, version: &semver::Version) -> Result<PackageManifest> {
        let cached = self.cache_dir(name, version).join("dxpkg.toml");
        let file = if cached.is_file() {
            cached
        } else {
            self.registry_version_dir(name, version)?.join("dxpkg.toml")
        };
        let manifest = PackageManifest::read(&file)?;
        check_identity(&file, &manifest, name, version)?;
        Ok(manifest)
    }

    fn registry_version_dir(&self, name: &str, version: &semver::Version) -> Result<PathBuf> {
        let dir = self.dir.as_ref().ok_or(TrafficError::NoRegistry)?;
        let p = dir.join(name).join(version.to_string());
        if !p.join("dxpkg.toml").is_file() {
            return Err(TrafficError::PackageNotFound {
                name: format!("{name}@{version}"),
                registry: dir.clone(),
            });
        }
        Ok(p)
    }

    /// Load `name@version` with all its files: a verified cached copy when
    /// present, else the registry.
    pub fn load(&self, name: &str, version: &semver::Version) -> Result<PackageSource> {
        let cache_dir = self.cache_dir(name, version);
        if cache_dir.join("hashes.json").is_file() {
            return load_cached(&cache_dir, name, version);
        }
        let dir = self.registry_version_dir(name, version)?;
        load_dir(&dir, name, version)
    }

    /// Copy `name@version` into the cache (verified). Returns `true` when it was already cached.
    pub fn cache_package(&self, name: &str, version: &semver::Version) -> Result<bool> {
        let target = self.cache_dir(name, version);
        if target.join("hashes.json").is_file() && load_cached(&target, name, version).is_ok() {
            return Ok(true);
        }
        let dir = self.registry_version_dir(name, version)?;
        let source = load_dir(&dir, name, version)?;
        let manifest_text = std::fs::read(dir.join("dxpkg.toml"))
            .map_err(|e| TrafficError::io("read", dir.join("dxpkg.toml"), e))?;
        let parent = self.cache.join(name);
        std::fs::create_dir_all(&parent)
            .map_err(|e| TrafficError::io("create directory", &parent, e))?;
        let staging = parent.join(format!(".{}.tmp-{}", version, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let mut hashes = CacheHashes {
            manifest: hash_hex(&manifest_text),
            files: BTreeMap::new(),
        };
        write_synced(&staging_mkdir(&staging.join("dxpkg.toml"))?, &manifest_text)?;
        for f in &source.files {
            let p = staging.join("files").join(&f.path);
            write_synced(&staging_mkdir(&p)?, &f.content)?;
            hashes.files.insert(f.path.clone(), hash_hex(&f.content));
        }
        let json = serde_json::to_vec_pretty(&hashes).map_err(|e| TrafficError::Journal {
            journal: staging.join("hashes.json"),
            message: e.to_string(),
        })?;
        write_synced(&staging.join("hashes.json"), &json)?;
        // A stale or corrupt copy is replaced whole.
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&staging, &target).map_err(|e| TrafficError::io("rename", &target, e))?;
        Ok(false)
    }
}

fn staging_mkdir(file: &Path) -> Result<PathBuf> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| TrafficError::io("create directory", parent, e))?;
    }
    Ok(file.to_path_buf())
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

fn load_dir(dir: &Path, name: &str, version: &semver::Version) -> Result<PackageSource> {
    let manifest_path = dir.join("dxpkg.toml");
    let manifest = PackageManifest::read(&manifest_path)?;
    check_identity(&manifest_path, &manifest, name, version)?;
    let mut files = Vec::new();
    let files_dir = dir.join("files");
    if files_dir.is_dir() {
        walk_files(&files_dir, "", name, &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(PackageSource { manifest, files })
}

fn load_cached(dir: &Path, name: &str, version: &semver::Version) -> Result<PackageSource> {
    let hashes_path = dir.join("hashes.json");
    let raw = std::fs::read(&hashes_path).map_err(|e| TrafficError::io("read", &hashes_path, e))?;
    let hashes: CacheHashes = serde_json::from_slice(&raw).map_err(|e| TrafficError::Manifest {
        file: hashes_path.clone(),
        line: e.line(),
        key: String::new(),
        message: e.to_string(),
    })?;
    let manifest_path = dir.join("dxpkg.toml");
    let manifest_text =
        std::fs::read(&manifest_path).map_err(|e| TrafficError::io("read", &manifest_path, e))?;
    verify(&manifest_path, &hashes.manifest, &manifest_text)?;
    let source = load_dir(dir, name, version)?;
    let found: BTreeSet<&String> = source.files.iter().map(|f| &f.path).collect();
    let expected: BTreeSet<&String> = hashes.files.keys().collect();
    if found != expected {
        return Err(TrafficError::HashMismatch {
            path: dir.join("files"),
            expected: format!("{} files", expected.len()),
            actual: format!("{} files", found.len()),
        });
    }
    for f in &source.files {
        let expected = hashes.files.get(&f.path).map(String::as_str).unwrap_or("");
        verify(&dir.join("files").join(&f.path), expected, &f.content)?;
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

fn walk_files(dir: &Path, prefix: &str, package: &str, out: &mut Vec<PackageFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrafficError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrafficError::io("list", dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(TrafficError::UnsafePath {
                package: package.to_string(),
                path: path.display().to_string(),
                reason: "file name is not UTF-8".to_string(),
            });
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ft = entry
            .file_type()
            .map_err(|e| TrafficError::io("inspect", &path, e))?;
        if ft.is_symlink() {
            return Err(TrafficError::UnsafePath {
                package: package.to_string(),
                path: rel,
                reason: "packages may not contain symlinks".to_string(),
            });
        } else if ft.is_dir() {
            walk_files(&path, &rel, package, out)?;
        } else {
            let content = std::fs::read(&path).map_err(|e| TrafficError::io("read", &path, e))?;
            out.push(PackageFile { path: rel, content });
        }
    }
    Ok(())
}

fn list_dir_names(dir: &Path) -> Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TrafficError::io("list", dir, e)),
    }
}
