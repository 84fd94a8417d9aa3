//! `dxforge completions SHELL` and `dxforge man`, as the dist script calls them.

use std::process::{Command, Stdio};

fn dxforge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dxforge"))
        .args(args)
        .output()
        .unwrap()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn bash_completion_names_the_subcommands_and_parses() {
    let out = dxforge(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8(out.stdout).unwrap();
    for sub in ["snapshots", "restore", "install", "completions", "init"] {
        assert!(script.contains(sub), "bash completion lacks `{sub}`");
    }
    assert!(script.contains("complete -F"), "no `complete` registration");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dxforge.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n refused the script: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn zsh_and_fish_completions_are_written() {
    let zsh = dxforge(&["completions", "zsh"]);
    assert!(zsh.status.success());
    let zsh = String::from_utf8(zsh.stdout).unwrap();
    assert!(zsh.starts_with("#compdef dxforge"), "{zsh:.80}");
    assert!(zsh.contains("snapshots"));
    let fish = dxforge(&["completions", "fish"]);
    assert!(fish.status.success());
    let fish = String::from_utf8(fish.stdout).unwrap();
    assert!(fish.contains("complete -c dxforge"), "{fish:.80}");
    assert!(fish.contains("restore"));
    if have("fish") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dxforge.fish");
        std::fs::write(&file, &fish).unwrap();
        let st = Command::new("fish").arg("-n").arg(&file).status().unwrap();
        assert!(st.success(), "fish -n refused the script");
    }
}

#[test]
fn unknown_shell_is_a_usage_error_naming_it() {
    let out = dxforge(&["completions", "powershell-ish"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("powershell-ish"));
}

#[test]
fn man_page_is_roff_and_renders() {
    let out = dxforge(&["man"]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.contains(".TH dxforge 1"),
        "no roff title header: {page:.200}"
    );
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    assert!(page.contains("snapshots"));
    // `man` is for the binary, so it is not offered as a command in the help.
    let help = String::from_utf8(dxforge(&["--help"]).stdout).unwrap();
    assert!(
        help.contains("completions") && !help.contains("\n  man "),
        "{help}"
    );
    if have("groff") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dxforge.1");
        std::fs::write(&file, &page).unwrap();
        let render = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(render.status.success(), "groff failed: {render:?}");
        let warnings = String::from_utf8_lossy(&render.stderr);
        assert!(warnings.trim().is_empty(), "groff warned: {warnings}");
    }
}
