//! Shared helpers: real registries and projects in temp directories.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dxforge_traffic::{InstallOptions, TrafficManager};

/// A registry directory built file by file.
pub struct TestRegistry {
    pub dir: tempfile::TempDir,
}

impl TestRegistry {
    pub fn new() -> Self {
        TestRegistry {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Add `name@version` with `deps` and `files` (relative path, content).
    pub fn add(
        &self,
        name: &str,
        version: &str,
        deps: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> &Self {
        let dir = self.dir.path().join(name).join(version);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        let mut toml = format!("name = \"{name}\"\nversion = \"{version}\"\n\n[dependencies]\n");
        for (d, r) in deps {
            toml.push_str(&format!("{d} = \"{r}\"\n"));
        }
        std::fs::write(dir.join("dxpkg.toml"), toml).unwrap();
        for (p, c) in files {
            let f = dir.join("files").join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, c).unwrap();
        }
        self
    }
}

/// A project directory with a manager bound to a registry.
pub struct TestProject {
    pub dir: tempfile::TempDir,
    pub registry: PathBuf,
}

impl TestProject {
    pub fn new(registry: PathBuf) -> Self {
        TestProject {
            dir: tempfile::tempdir().unwrap(),
            registry,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn manager(&self) -> TrafficManager {
        TrafficManager::new(self.root().to_path_buf(), Some(self.registry.clone()))
    }

    pub fn write(&self, rel: &str, content: &[u8]) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(rel)).ok()
    }

    pub fn install(&self, name: &str, req: &str) -> dxforge_traffic::InstallReport {
        self.manager()
            .install_package(name, req, &InstallOptions::default())
            .unwrap()
    }

    /// Every file and directory under the root except `.dxforge/` (path -> content, dirs as None).
    pub fn tree(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        snapshot(self.root())
    }
}

pub fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".dxforge" {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.insert(format!("{rel}/"), None);
                walk(root, &p, out);
            } else if ft.is_symlink() {
                out.insert(
                    rel,
                    Some(
                        std::fs::read_link(&p)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned()
                            .into_bytes(),
                    ),
                );
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The example registry shipped in the repository.
pub fn example_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/registry")
        .canonicalize()
        .unwrap()
}

/// Light + action of the report entry for `path`.
pub fn entry<'a>(
    report: &'a [dxforge_traffic::FileReport],
    path: &str,
) -> &'a dxforge_traffic::FileReport {
    report
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no report for {path}: {report:#?}"))
}
