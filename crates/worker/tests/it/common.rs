//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dxforge_worker::{BackgroundWorker, WorkerConfig};

/// Held by every test that sets or reads the credential variables: the tests of this
/// binary run on parallel threads of one process, which shares one environment.
pub static ENV_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// What a tree holds, for byte-for-byte comparison (excluding `.dxforge/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { bytes: Vec<u8>, executable: bool },
    Link(String),
}

pub fn read_tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if rel == ".dxforge" {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap();
            out.insert(rel, Node::Link(target.to_str().unwrap().to_owned()));
        } else if meta.is_dir() {
            visit(root, &path, out);
        } else {
            out.insert(
                rel,
                Node::File {
                    bytes: fs::read(&path).unwrap(),
                    executable: meta.permissions().mode() & 0o111 != 0,
                },
            );
        }
    }
}

pub fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

pub fn set_exec(root: &Path, rel: &str, executable: bool) {
    let path = root.join(rel);
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A worker on `rt` for `root` with default settings.
pub fn worker(root: &Path, rt: &tokio::runtime::Runtime) -> BackgroundWorker {
    BackgroundWorker::new(WorkerConfig::new(root, rt.handle().clone()))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
