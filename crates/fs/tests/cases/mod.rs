//! Every confinement case, run twice: once through `openat2` (`openat2.rs`)
//! and once through the `O_NOFOLLOW` component walk (`walk.rs`).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use dxforge_fs::{FsError, Kind, LockMode, Policy, ProjectLock, Root, WriteOptions};

fn project() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("p")).unwrap();
    let root = Root::open(dir.path().join("p"), Policy::Project).unwrap();
    (dir, root)
}

/// Every file under `dir`, as sorted relative paths (links listed, not followed).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn write_creates_parents_and_replaces() {
    let (_t, root) = project();
    root.write_atomic("a/b/c.txt", b"one", WriteOptions::durable())
        .unwrap();
    root.write_atomic(
        "a/b/c.txt",
        b"two",
        WriteOptions::default().with_mode(0o600),
    )
    .unwrap();
    assert_eq!(root.read("a/b/c.txt", 10).unwrap().unwrap(), b"two");
    let meta = root.metadata("a/b/c.txt").unwrap().unwrap();
    assert_eq!((meta.kind, meta.len, meta.mode), (Kind::File, 3, 0o600));
    assert_eq!(
        tree(root.path()),
        ["a", "a/b", "a/b/c.txt"],
        "no temp file left"
    );
}

pub fn reserved_names_are_out_of_reach_at_any_depth() {
    let (_t, root) = project();
    for rel in [
        ".git/hooks/pre-commit",
        "vendor/lib/.git/hooks/x",
        ".dxforge/txn/journal.json",
        "a/.dxforge",
    ] {
        let err = root
            .write_atomic(rel, b"x", WriteOptions::default())
            .unwrap_err();
        assert!(matches!(err, FsError::Reserved { .. }), "{rel}: {err}");
        assert!(root.read(rel, 10).is_err(), "{rel}");
    }
    assert!(
        tree(root.path()).is_empty(),
        "nothing created: {:?}",
        tree(root.path())
    );
}

pub fn non_plain_paths_are_refused() {
    let (_t, root) = project();
    for rel in ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/", ""] {
        let err = root
            .write_atomic(rel, b"x", WriteOptions::default())
            .unwrap_err();
        assert!(err.is_refusal(), "{rel:?}: {err}");
    }
}

pub fn a_link_inside_the_project_into_git_is_not_followed() {
    let (t, root) = project();
    let p = t.path().join("p");
    std::fs::create_dir_all(p.join(".git/hooks")).unwrap();
    symlink(".git/hooks", p.join("hooks")).unwrap();
    let err = root
        .write_atomic("hooks/pre-commit", b"#!/bin/sh\n", WriteOptions::default())
        .unwrap_err();
    match &err {
        FsError::Symlink { path } => assert_eq!(path, &p.join("hooks")),
        other => panic!("{other}"),
    }
    assert!(!p.join(".git/hooks/pre-commit").exists());
    assert!(root.read("hooks/pre-commit", 10).is_err());
    assert!(root.create_dir_all("hooks/sub").is_err());
}

pub fn a_link_out_of_the_project_is_not_followed() {
    let (t, root) = project();
    std::fs::create_dir(t.path().join("outside")).unwrap();
    std::fs::write(t.path().join("outside/secret"), "key").unwrap();
    symlink(t.path().join("outside"), t.path().join("p/out")).unwrap();
    symlink(t.path().join("outside/secret"), t.path().join("p/secret")).unwrap();
    assert!(matches!(
        root.read("out/secret", 10),
        Err(FsError::Symlink { .. })
    ));
    assert!(matches!(
        root.read("secret", 10),
        Err(FsError::Symlink { .. })
    ));
    assert!(
        root.write_atomic("out/new", b"x", WriteOptions::default())
            .is_err()
    );
    assert!(root.subroot("out", Policy::Plain, false).is_err());
    assert_eq!(tree(&t.path().join("outside")), ["secret"]);
}

pub fn a_link_at_the_target_is_replaced_not_written_through() {
    let (t, root) = project();
    std::fs::write(t.path().join("victim"), "keep").unwrap();
    symlink(t.path().join("victim"), t.path().join("p/file")).unwrap();
    assert_eq!(root.metadata("file").unwrap().unwrap().kind, Kind::Symlink);
    root.write_atomic("file", b"new", WriteOptions::default())
        .unwrap();
    assert_eq!(std::fs::read(t.path().join("victim")).unwrap(), b"keep");
    assert_eq!(root.read("file", 10).unwrap().unwrap(), b"new");
    symlink(t.path().join("victim"), t.path().join("p/link2")).unwrap();
    assert!(root.remove_file("link2").unwrap());
    assert_eq!(std::fs::read(t.path().join("victim")).unwrap(), b"keep");
}

pub fn reads_are_bounded() {
    let (_t, root) = project();
    root.write_atomic("big", &[7u8; 100], WriteOptions::default())
        .unwrap();
    assert!(matches!(
        root.read("big", 99),
        Err(FsError::TooLarge { limit: 99, .. })
    ));
    assert_eq!(root.read("big", 100).unwrap().unwrap().len(), 100);
    assert_eq!(root.read("missing", 100).unwrap(), None);
}

pub fn a_fifo_is_refused_without_blocking() {
    let (t, root) = project();
    let fifo = t.path().join("p/fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    assert!(root.read("fifo", 10).is_err());
    assert_eq!(root.metadata("fifo").unwrap().unwrap().kind, Kind::Other);
}

pub fn temp_files_are_unique_and_removed_on_drop() {
    let (_t, root) = project();
    let a = root.temp_file("d").unwrap();
    let b = root.temp_file("d").unwrap();
    assert_ne!(a.rel(), b.rel());
    let name = a.rel().file_name().unwrap().to_string_lossy().into_owned();
    assert!(dxforge_fs::is_temp_name(&name), "{name}");
    drop(a);
    let kept = b.keep();
    assert_eq!(
        tree(&root.join("d")),
        [kept.file_name().unwrap().to_string_lossy()]
    );
}

pub fn sweep_removes_temps_but_not_through_links() {
    let (t, root) = project();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join(".x.dxforge-0123456789abcdef.tmp"), "").unwrap();
    symlink(&outside, t.path().join("p/link")).unwrap();
    root.create_dir_all("a/b").unwrap();
    std::fs::write(root.join("a/b/.f.dxforge-0123456789abcdef.tmp"), "").unwrap();
    std::fs::write(root.join("a/.g.dxforge-fedcba9876543210.tmp"), "").unwrap();
    std::fs::write(root.join("a/.g.dxforge-notatemp.tmp"), "").unwrap();
    assert_eq!(root.sweep_temps("").unwrap(), 2);
    assert_eq!(tree(&outside), [".x.dxforge-0123456789abcdef.tmp"]);
    assert!(root.join("a/.g.dxforge-notatemp.tmp").exists());
}

pub fn state_root_is_reached_only_as_a_subroot_and_never_through_a_link() {
    let (t, root) = project();
    let state = root.subroot(".dxforge", Policy::Plain, true).unwrap();
    state
        .write_atomic("txn/journal.json", b"{}", WriteOptions::durable())
        .unwrap();
    assert!(t.path().join("p/.dxforge/txn/journal.json").exists());

    let (t2, root2) = project();
    std::fs::create_dir(t2.path().join("elsewhere")).unwrap();
    symlink(t2.path().join("elsewhere"), t2.path().join("p/.dxforge")).unwrap();
    assert!(matches!(
        root2.subroot(".dxforge", Policy::Plain, true),
        Err(FsError::Symlink { .. })
    ));
}

pub fn the_project_lock_excludes_and_names_its_holder() {
    let (_t, root) = project();
    let state = root.subroot(".dxforge", Policy::Plain, true).unwrap();
    let held = ProjectLock::acquire(&state, "add", LockMode::Exclusive, Duration::ZERO).unwrap();
    let err = ProjectLock::acquire(
        &state,
        "restore",
        LockMode::Exclusive,
        Duration::from_millis(30),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("busy: add (pid {})", std::process::id())),
        "{msg}"
    );
    assert!(ProjectLock::acquire(&state, "diff", LockMode::Shared, Duration::ZERO).is_err());
    drop(held);
    let a = ProjectLock::acquire(&state, "diff", LockMode::Shared, Duration::ZERO).unwrap();
    let b = ProjectLock::acquire(&state, "diff", LockMode::Shared, Duration::ZERO).unwrap();
    assert!(ProjectLock::acquire(&state, "add", LockMode::Exclusive, Duration::ZERO).is_err());
    drop((a, b));
    ProjectLock::acquire(&state, "add", LockMode::Exclusive, Duration::ZERO).unwrap();
}

pub fn rename_and_remove_stay_beneath_the_root() {
    let (_t, root) = project();
    root.write_atomic("a/x", b"1", WriteOptions::default())
        .unwrap();
    root.create_dir_all("b").unwrap();
    root.rename("a/x", "b/y").unwrap();
    assert_eq!(root.read("b/y", 10).unwrap().unwrap(), b"1");
    assert!(root.rename("b/y", "../y").is_err());
    assert!(root.remove_file("b/y").unwrap());
    assert!(!root.remove_file("b/y").unwrap());
    assert!(root.remove_dir("a").unwrap());
    root.write_atomic("b/z", b"1", WriteOptions::default())
        .unwrap();
    assert!(!root.remove_dir("b").unwrap(), "not empty");
    let names: Vec<_> = root
        .read_dir("")
        .unwrap()
        .into_iter()
        .map(|(n, k)| (n.into_string().unwrap(), k))
        .collect();
    assert_eq!(names, [("b".to_string(), Kind::Dir)]);
}

pub fn sweep_leaves_git_and_state_alone_under_a_project_root() {
    let (_t, root) = project();
    for dir in [".git/objects", ".dxforge/txn", "src"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join(".x.dxforge-0123456789abcdef.tmp"), "").unwrap();
    }
    assert_eq!(root.sweep_temps("").unwrap(), 1);
    assert!(
        root.join(".git/objects/.x.dxforge-0123456789abcdef.tmp")
            .exists()
    );
    assert!(
        root.join(".dxforge/txn/.x.dxforge-0123456789abcdef.tmp")
            .exists()
    );
}

pub fn replace_with_symlink_swaps_the_entry_without_following_it() {
    let (t, root) = project();
    std::fs::write(t.path().join("victim"), "keep").unwrap();
    symlink(t.path().join("victim"), root.join("old")).unwrap();
    root.write_atomic("file", b"x", WriteOptions::default())
        .unwrap();
    root.replace_with_symlink("new-target", "old").unwrap();
    root.replace_with_symlink("other", "file").unwrap();
    assert_eq!(root.read_link("old").unwrap(), Path::new("new-target"));
    assert_eq!(root.read_link("file").unwrap(), Path::new("other"));
    assert_eq!(std::fs::read(t.path().join("victim")).unwrap(), b"keep");
    assert_eq!(tree(root.path()), ["file", "old"], "no temp link left");
}

pub fn write_here_replaces_a_planted_link_and_leaves_no_temp() {
    let (t, root) = project();
    std::fs::write(t.path().join("victim"), b"keep").unwrap();
    root.create_dir_all("d").unwrap();
    symlink(t.path().join("victim"), root.path().join("d/planted")).unwrap();
    let dir = root.subroot("d", Policy::Project, false).unwrap();
    dir.write_here("planted", b"new", 0o444, true).unwrap();
    dir.write_here("fresh", b"x", 0o644, false).unwrap();
    assert_eq!(std::fs::read(t.path().join("victim")).unwrap(), b"keep");
    let meta = dir.metadata_here("planted").unwrap().unwrap();
    assert_eq!((meta.kind, meta.len), (Kind::File, 3));
    assert_eq!(meta.mode & 0o222, 0, "created read-only");
    assert_eq!(dir.metadata_here("missing").unwrap(), None);
    // A failing fill leaves nothing behind.
    let failed: Result<(), FsError> = dir.write_here_with("other", 0o644, |_| {
        Err(FsError::TooLarge {
            path: "other".into(),
            limit: 0,
        })
    });
    assert!(failed.is_err());
    assert_eq!(
        tree(root.path()),
        ["d", "d/fresh", "d/planted"],
        "no temp file left"
    );
}

pub fn staged_files_wait_for_their_rename_and_a_link_is_replaced() {
    let (_t, root) = project();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), root.path().join("link")).unwrap();
    assert!(root.subroot("link", Policy::Project, false).is_err());
    let here = root.subroot("", Policy::Project, false).unwrap();
    let a = here.stage_here("a.txt", b"one", 0o644).unwrap();
    let b = here.stage_here("a.txt", b"two", 0o644).unwrap();
    assert_ne!(a, b);
    assert!(dxforge_fs::is_temp_name(a.to_str().unwrap()));
    here.rename_here(a.to_str().unwrap(), "a.txt").unwrap();
    assert_eq!(std::fs::read(root.path().join("a.txt")).unwrap(), b"one");
    assert!(here.metadata_here(b.to_str().unwrap()).unwrap().is_some());
    // A link at the target is replaced, not followed.
    let c = here.stage_here("link", b"data", 0o644).unwrap();
    here.rename_here(c.to_str().unwrap(), "link").unwrap();
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    assert_eq!(std::fs::read(root.path().join("link")).unwrap(), b"data");
    for bad in ["x/y", ".dxforge", ".."] {
        assert!(here.stage_here(bad, b"", 0o644).is_err(), "{bad:?} staged");
        assert!(
            here.rename_here("a.txt", bad).is_err(),
            "renamed to {bad:?}"
        );
    }
}

pub fn temp_names_of_long_utf8_targets_stay_utf8() {
    let (_t, root) = project();
    // 84 three-byte characters (252 bytes): the temp name's 200-byte cut of the
    // target falls inside a character unless it is cut at a boundary.
    let name = "\u{4e2d}".repeat(84);
    let here = root.subroot("", Policy::Project, false).unwrap();
    let staged = here.stage_here(&name, b"x", 0o644).unwrap();
    let staged = staged.to_str().expect("the temp name is UTF-8");
    assert!(dxforge_fs::is_temp_name(staged));
    here.rename_here(staged, &name).unwrap();
    root.write_atomic(&name, b"z", WriteOptions::default())
        .unwrap();
    assert_eq!(
        tree(root.path()),
        std::slice::from_ref(&name),
        "no temp file left"
    );
    here.write_here(&name, b"w", 0o644, false).unwrap();
    assert_eq!(std::fs::read(root.path().join(&name)).unwrap(), b"w");
}

pub fn the_root_as_its_own_subroot_is_the_same_handle() {
    let (_t, root) = project();
    let same = root.subroot("", Policy::Project, false).unwrap();
    assert_eq!(same.path(), root.path());
    same.write_here("f", b"1", 0o644, false).unwrap();
    assert_eq!(root.read("f", 10).unwrap().as_deref(), Some(&b"1"[..]));
    let plain = root.subroot("", Policy::Plain, false).unwrap();
    assert_eq!(plain.policy(), Policy::Plain);
    assert!(root.metadata_here(".git").is_err());
    assert!(plain.metadata_here(".git").unwrap().is_none());
}

pub fn here_operations_take_one_plain_name_only() {
    let (_t, root) = project();
    root.create_dir_all("d/e").unwrap();
    for bad in ["d/e", ".git", ".dxforge", "..", ".", ""] {
        assert!(root.metadata_here(bad).is_err(), "{bad:?} stat'ed");
        assert!(
            root.write_here(bad, b"x", 0o644, false).is_err(),
            "{bad:?} written"
        );
    }
    assert_eq!(tree(root.path()), ["d", "d/e"]);
}

pub fn open_file_meta_gives_the_opened_files_stat_and_refuses_non_files() {
    let (_t, root) = project();
    root.write_atomic("a/f.txt", b"hello", WriteOptions::default())
        .unwrap();
    let (file, meta) = root.open_file_meta("a/f.txt").unwrap();
    assert_eq!((meta.kind, meta.len), (Kind::File, 5));
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&file.metadata().unwrap()),
        meta.ino
    );
    assert!(root.open_file_meta("a").is_err(), "a directory opened");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        root.path().join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    assert!(root.open_file_meta("fifo").is_err(), "a FIFO opened");
    symlink("a/f.txt", root.path().join("link")).unwrap();
    assert!(matches!(
        root.open_file_meta("link"),
        Err(FsError::Symlink { .. })
    ));
}

/// Defines one `#[test]` per case, each running `$setup` first.
#[macro_export]
macro_rules! confinement_tests {
    ($setup:expr) => {
        confinement_tests!(@each $setup;
            write_creates_parents_and_replaces,
            reserved_names_are_out_of_reach_at_any_depth,
            non_plain_paths_are_refused,
            a_link_inside_the_project_into_git_is_not_followed,
            a_link_out_of_the_project_is_not_followed,
            a_link_at_the_target_is_replaced_not_written_through,
            reads_are_bounded,
            a_fifo_is_refused_without_blocking,
            temp_files_are_unique_and_removed_on_drop,
            sweep_removes_temps_but_not_through_links,
            state_root_is_reached_only_as_a_subroot_and_never_through_a_link,
            the_project_lock_excludes_and_names_its_holder,
            rename_and_remove_stay_beneath_the_root,
            sweep_leaves_git_and_state_alone_under_a_project_root,
            replace_with_symlink_swaps_the_entry_without_following_it,
            write_here_replaces_a_planted_link_and_leaves_no_temp,
            staged_files_wait_for_their_rename_and_a_link_is_replaced,
            temp_names_of_long_utf8_targets_stay_utf8,
            the_root_as_its_own_subroot_is_the_same_handle,
            here_operations_take_one_plain_name_only,
            open_file_meta_gives_the_opened_files_stat_and_refuses_non_files,
        );
    };
    (@each $setup:expr; $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $setup;
            cases::$name();
        }
    )*};
}
