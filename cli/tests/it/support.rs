//! Shared set-up of the end-to-end tests that drive the real `dxforge` binary:
//! projects with a `dxforge.toml`, generated registries, reading a project's
//! state, checking the lock against the files, waiting for processes.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../tests/support/reserved_port.rs"]
mod reserved_port;
pub use reserved_port::{ReservedPort, reserve_port};

/// A temporary project with a `dxforge.toml`, driven through the binary.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project in a fresh temporary directory named `prefix…`.
    pub fn new(prefix: &str, config: &str) -> Self {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        std::fs::write(dir.path().join("dxforge.toml"), config).unwrap();
        Project { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    /// `dxforge -C <root> ARGS…`, not started.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dxforge"));
        cmd.arg("-C").arg(self.root()).args(args);
        cmd
    }

    /// Runs `dxforge ARGS…`; fails the test if it does not finish in 60 s
    /// (a hung command or supervisor fails instead of holding the suite).
    pub fn dx(&self, args: &[&str]) -> Output {
        let child = self.spawn(args);
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                // SAFETY: kill(2) on our own child, not yet reaped.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                panic!("`dxforge {}` got no answer", args.join(" "));
            }
        }
    }

    /// Starts `dxforge ARGS…` with stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Polls `cond` every 20 ms; fails the test after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit; fails the test after `secs` seconds.
pub fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(secs, "the process to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

/// Whether `pid` is alive (a zombie still has a /proc entry: not counted).
pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// A base directory holding a registry, a project and anything beside them.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(prefix: &str) -> Workspace {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        std::fs::create_dir(dir.path().join("registry")).unwrap();
        std::fs::create_dir(dir.path().join("project")).unwrap();
        std::fs::write(
            dir.path().join("project/dxforge.toml"),
            "[project]\nname = \"p\"\n\n[registry]\npath = \"../registry\"\n\n[dependencies]\n",
        )
        .unwrap();
        Workspace { dir }
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    pub fn registry(&self) -> PathBuf {
        self.dir.path().join("registry")
    }

    /// Writes package `name@version` with `files` (path, content).
    pub fn package(&self, name: &str, version: &str, files: &[(String, Vec<u8>)]) {
        let dir = self.registry().join(name).join(version);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(
            dir.join("dxpkg.toml"),
            format!("name = \"{name}\"\nversion = \"{version}\"\ndescription = \"test\"\n"),
        )
        .unwrap();
        for (path, content) in files {
            let target = dir.join("files").join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, content).unwrap();
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dxforge"));
        cmd.arg("-C").arg(self.project()).args(args);
        cmd
    }

    pub fn dx(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

/// `count` files spread over 40 directories; `version` changes every third file's content.
pub fn many_files(count: usize, version: u32) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let path = format!("src/d{:02}/f{i:04}.txt", i % 40);
            let rev = if i % 3 == 0 { version } else { 1 };
            (path, format!("file {i}\nrevision {rev}\n").into_bytes())
        })
        .collect()
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `name` is one of dxforge's temporary files (current or older naming).
pub fn is_temp(name: &str) -> bool {
    (name.starts_with('.') && name.contains(".dxforge-") && name.ends_with(".tmp"))
        || name.starts_with(".dxforge-tmp-")
        || (name.contains("dxforge-w") && name.ends_with(".tmp"))
}

/// The project's files (BLAKE3 of content and executable bit) and links
/// (their targets), by relative path; `.dxforge/` left out.
pub fn tree_state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out, false);
    out
}

/// Every dxforge temporary file under `root`, `.dxforge/` included.
pub fn temp_files(root: &Path) -> Vec<String> {
    let mut all = BTreeMap::new();
    walk(root, root, &mut all, true);
    all.into_keys()
        .filter(|p| is_temp(p.rsplit('/').next().unwrap_or(p)))
        .collect()
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>, state_too: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == ".dxforge" && !state_too {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // removed while walking (a test of concurrency)
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            out.insert(rel, format!("link -> {}", target.display()));
        } else if meta.is_dir() {
            walk(root, &path, out, state_too);
        } else if let Ok(content) = std::fs::read(&path) {
            let exec = meta.permissions().mode() & 0o111 != 0;
            out.insert(
                rel,
                format!(
                    "{}{}",
                    blake3::hash(&content).to_hex(),
                    if exec { " x" } else { "" }
                ),
            );
        }
    }
}

/// Checks that every file `dxforge.lock` lists exists with its recorded hash,
/// or is a recorded Red file (listed in `unresolved`). `Err` says what is wrong.
pub fn check_lock(root: &Path) -> Result<usize, String> {
    let text = match std::fs::read_to_string(root.join("dxforge.lock")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("dxforge.lock: {e}")),
    };
    let lock: toml::Value = toml::from_str(&text).map_err(|e| format!("dxforge.lock: {e}"))?;
    let mut checked = 0;
    let empty = toml::map::Map::new();
    let packages = lock
        .get("packages")
        .and_then(|p| p.as_table())
        .unwrap_or(&empty);
    for (name, pkg) in packages {
        let unresolved: Vec<&str> = pkg
            .get("unresolved")
            .and_then(|u| u.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let files = pkg
            .get("files")
            .and_then(|f| f.as_table())
            .unwrap_or(&empty);
        for (path, hash) in files {
            checked += 1;
            if unresolved.contains(&path.as_str()) {
                continue;
            }
            let content = std::fs::read(root.join(path))
                .map_err(|e| format!("lock lists {path} of {name}, but: {e}"))?;
            let actual = blake3::hash(&content).to_hex().to_string();
            if Some(actual.as_str()) != hash.as_str() {
                return Err(format!(
                    "lock lists {path} of {name} with hash {hash}, the file has {actual}"
                ));
            }
        }
    }
    Ok(checked)
}

/// Exit codes that mean a panic (101) or an abort (134, or killed by SIGABRT).
pub fn crashed(out: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(out.code(), Some(101) | Some(134)) || out.signal() == Some(libc::SIGABRT)
}
