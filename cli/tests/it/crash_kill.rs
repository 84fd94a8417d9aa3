//! kill -9 at random points of `add`, `update`, `remove`, `snapshot` and
//! `restore` on a 2,000-file package, with the real `dxforge` binary.
//!
//! Rounds (`DXFORGE_CRASH_ROUNDS`, default 20; seed `DXFORGE_CRASH_SEED`,
//! printed) walk a fixed cycle of commands whose every state is learned
//! once, unkilled, before the first kill. Each round starts the next command
//! of the cycle, SIGKILLs it after a random delay (0 to 1 times its latest
//! unkilled duration), runs the command that recovers, and checks:
//!
//! - the project (files, hashes, links, `dxforge.lock`, `dxforge.toml`) is
//!   exactly the old or the new state after the command that recovers:
//!   `diff` (then `snapshot`, which also clears leftover temp files) after
//!   `add`/`update`/`remove` and after `restore` (a restore killed after its
//!   commit point is finished by `diff`), `snapshot` after `snapshot`;
//! - nothing outside the project changed: a sentinel directory beside it,
//!   reachable through a link from the project, is byte-identical;
//! - no dxforge temporary file is left anywhere in the project;
//! - no command panicked (exit 101) or aborted (134, SIGABRT).
//!
//! A run prints the figures: kills, states checked, torn states (0 or the test fails).

use crate::support;

use std::collections::BTreeMap;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{Workspace, crashed, many_files, temp_files, text, tree_state};

/// Files in the package.
const FILES: usize = 2_000;

/// xorshift64*: small, seeded, good enough to spread kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `add`, `update`, `remove`: a Traffic Branching transaction.
    Traffic,
    /// `snapshot`: changes only `.dxforge/`.
    Snapshot,
    /// `restore`: finished (after its commit point) by the next `diff`.
    Restore,
}

struct Step {
    args: Vec<String>,
    kind: Kind,
    /// Rewrite `dxforge.toml`'s requirement before the step (the user's edit before `update`).
    widen_requirement: bool,
}

fn state_diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    let mut lines = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => lines.push(format!("  only before: {k}")),
            Some(w) if w != v => lines.push(format!("  differs: {k}")),
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        lines.push(format!("  only after: {k}"));
    }
    let more = lines.len().saturating_sub(12);
    lines.truncate(12);
    if more > 0 {
        lines.push(format!("  … {more} more"));
    }
    lines.join("\n")
}

struct Run<'a> {
    ws: &'a Workspace,
    sentinel: BTreeMap<String, String>,
    logs: std::path::PathBuf,
}

impl Run<'_> {
    fn spawn(&self, args: &[String]) -> Child {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ws
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.logs).unwrap())
            .spawn()
            .unwrap()
    }

    /// Runs a command to completion; it must neither crash nor fail.
    fn finish(&self, args: &[String], what: &str) -> std::process::Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.ws.dx(&args);
        assert!(
            !crashed(&out.status),
            "{what}: {args:?} crashed: {}",
            text(&out)
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{what}: {args:?} failed: {}",
            text(&out)
        );
        out
    }

    fn check_outside(&self, what: &str) {
        let now = tree_state(&self.ws.base().join("sentinel"));
        assert!(
            now == self.sentinel,
            "{what}: the sentinel outside the project changed:\n{}",
            state_diff(&self.sentinel, &now)
        );
    }

    fn check_no_temps(&self, what: &str) {
        let temps = temp_files(&self.ws.project());
        assert!(temps.is_empty(), "{what}: temp files left: {temps:?}");
    }

    fn widen(&self) {
        let path = self.ws.project().join("dxforge.toml");
        let toml = std::fs::read_to_string(&path).unwrap();
        let widened = toml.replace("\"=1.0.0\"", "\">=1.0.0\"");
        assert_ne!(toml, widened, "no requirement to widen in {toml}");
        std::fs::write(path, widened).unwrap();
    }
}

fn wait_killed(child: &mut Child, delay: Duration) -> (ExitStatus, bool) {
    let deadline = Instant::now() + delay;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, false);
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1).min(deadline - Instant::now()));
    }
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    let killed = status.signal() == Some(libc::SIGKILL);
    (status, killed)
}

#[test]
fn kill_9_at_random_points_leaves_the_old_or_the_new_state() {
    let rounds: usize = std::env::var("DXFORGE_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("DXFORGE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("crash test: {rounds} rounds, seed {seed} (DXFORGE_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    let ws = Workspace::new("dxcrash");
    ws.package("big", "1.0.0", &many_files(FILES, 1));
    // 2.0.0: every third file changed, the last 100 dropped, 100 new ones.
    let mut v2 = many_files(FILES - 100, 2);
    v2.extend((FILES..FILES + 100).map(|i| {
        (
            format!("src/new/f{i:04}.txt"),
            format!("new file {i}\n").into_bytes(),
        )
    }));
    ws.package("big", "2.0.0", &v2);
    // Outside the project, reachable through a link from inside it.
    let sentinel = ws.base().join("sentinel");
    std::fs::create_dir_all(sentinel.join("deep")).unwrap();
    std::fs::write(sentinel.join("secret.txt"), "do not touch\n").unwrap();
    std::fs::write(sentinel.join("deep/key"), "private\n").unwrap();
    std::os::unix::fs::symlink("../sentinel", ws.project().join("link")).unwrap();
    std::fs::write(ws.project().join("mine.txt"), "the user's own file\n").unwrap();
    let registry_before = tree_state(&ws.registry());
    let run = Run {
        ws: &ws,
        sentinel: tree_state(&sentinel),
        logs: ws.base().join("stderr.log"),
    };

    // The empty project's snapshot, then one unkilled pass over the cycle to
    // learn every state and how long each command takes.
    let out = run.finish(&["--json".into(), "snapshot".into()], "set-up");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let empty_id = doc["id"].as_str().unwrap().to_owned();
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut steps = [
        Step {
            args: s(&["add", "big@=1.0.0"]),
            kind: Kind::Traffic,
            widen_requirement: false,
        },
        Step {
            args: s(&["update", "big"]),
            kind: Kind::Traffic,
            widen_requirement: true,
        },
        Step {
            args: s(&["snapshot"]),
            kind: Kind::Snapshot,
            widen_requirement: false,
        },
        Step {
            args: s(&["restore", &empty_id]),
            kind: Kind::Restore,
            widen_requirement: false,
        },
        // Filled in below with the snapshot of the full project.
        Step {
            args: Vec::new(),
            kind: Kind::Restore,
            widen_requirement: false,
        },
        Step {
            args: s(&["remove", "big"]),
            kind: Kind::Traffic,
            widen_requirement: false,
        },
        Step {
            args: s(&["restore", &empty_id]),
            kind: Kind::Restore,
            widen_requirement: false,
        },
    ];
    let start = tree_state(&ws.project());
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut took = Vec::new();
    for i in 0..steps.len() {
        if steps[i].widen_requirement {
            run.widen();
        }
        before.push(tree_state(&ws.project()));
        let t = Instant::now();
        let mut args = steps[i].args.clone();
        if steps[i].kind == Kind::Snapshot {
            args.insert(0, "--json".into());
        }
        let out = run.finish(&args, "learning pass");
        took.push(t.elapsed());
        if steps[i].kind == Kind::Snapshot {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            steps[4].args = s(&["restore", doc["id"].as_str().unwrap()]);
        }
        after.push(tree_state(&ws.project()));
    }
    assert_eq!(
        after.last(),
        Some(&start),
        "the cycle does not come back to the empty project"
    );
    assert_eq!(
        after[0].len(),
        start.len() + FILES + 1,
        "add did not install"
    );
    eprintln!(
        "unkilled durations: {:?}",
        took.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
    );

    let (mut kills, mut finished_first, mut checked, mut mid_restore) = (0u64, 0u64, 0u64, 0u64);
    // Per command: kills, and how the killed ones ended (old state, new state).
    let mut per_command: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    let torn = 0u64; // a torn state fails the test at once, after printing the figures
    for round in 0..rounds {
        let i = round % steps.len();
        let step = &steps[i];
        let what = format!("round {round} ({})", step.args.join(" "));
        if step.widen_requirement {
            run.widen();
        }
        let old = tree_state(&ws.project());
        assert!(
            old == before[i],
            "{what}: the project is not in the state the cycle expects:\n{}",
            state_diff(&before[i], &old)
        );
        let new = &after[i];
        let max = took[i].as_micros() as u64 + 1;
        let delay = Duration::from_micros(rng.next() % max);
        let started = Instant::now();
        let mut child = run.spawn(&step.args);
        let (status, killed) = wait_killed(&mut child, delay);
        if !killed {
            // Later runs can be quicker than the first (a snapshot of an unchanged
            // tree): kill points follow the latest duration.
            took[i] = started.elapsed();
        }
        let stderr = std::fs::read_to_string(&run.logs).unwrap_or_default();
        assert!(!crashed(&status), "{what}: crashed: {status:?}\n{stderr}");
        if killed {
            kills += 1;
            per_command.entry(step.args[0].clone()).or_default()[0] += 1;
        } else {
            finished_first += 1;
            assert!(
                matches!(status.code(), Some(0 | 3)),
                "{what}: failed unkilled: {status:?}\n{stderr}"
            );
        }
        // The command that recovers.
        match step.kind {
            Kind::Traffic => {
                // A read finishes or undoes the interrupted transaction…
                run.finish(&s(&["diff"]), &what);
                let read = tree_state(&ws.project());
                checked += 1;
                assert!(
                    read == old || &read == new,
                    "{what}: TORN after `diff` (seed {seed}, delay {delay:?})\nagainst the new state:\n{}",
                    state_diff(new, &read)
                );
                // …and the next command that writes (here a snapshot, which
                // leaves the tree alone) also clears leftover temp files: a
                // read does not write `.dxforge/`.
                run.finish(&s(&["snapshot"]), &what);
                let after = tree_state(&ws.project());
                assert!(after == read, "{what}: a snapshot changed the tree");
            }
            Kind::Snapshot => {
                run.finish(&s(&["snapshot"]), &what);
            }
            Kind::Restore => {
                let now = tree_state(&ws.project());
                if now != old && &now != new {
                    mid_restore += 1;
                }
                // A package command finishes a restore killed after its commit
                // point before it reads the tree…
                run.finish(&s(&["diff"]), &what);
                let read = tree_state(&ws.project());
                checked += 1;
                assert!(
                    read == old || &read == new,
                    "{what}: TORN after `diff` (seed {seed}, delay {delay:?})\nagainst the new state:\n{}\nagainst the old state:\n{}",
                    state_diff(new, &read),
                    state_diff(&old, &read)
                );
                // …and a snapshot then records that tree as it is.
                run.finish(&s(&["snapshot"]), &what);
            }
        }
        let now = tree_state(&ws.project());
        checked += 1;
        if &now != new && now != old {
            eprintln!(
                "kills {kills}, states checked {checked}, torn states {}",
                torn + 1
            );
            panic!(
                "{what}: TORN: neither the old nor the new state after recovery \
                 (seed {seed}, delay {delay:?})\nagainst the new state:\n{}\nagainst the old state:\n{}",
                state_diff(new, &now),
                state_diff(&old, &now)
            );
        }
        run.check_no_temps(&what);
        run.check_outside(&what);
        if killed && old != *new {
            per_command.entry(step.args[0].clone()).or_default()
                [if &now == new { 2 } else { 1 }] += 1;
        }
        if &now != new {
            // Rolled back: run it to completion so the cycle goes on.
            run.finish(&step.args, &what);
            let done = tree_state(&ws.project());
            checked += 1;
            assert!(
                &done == new,
                "{what}: after a rollback, the command did not reach the new state:\n{}",
                state_diff(new, &done)
            );
            run.check_no_temps(&what);
        }
    }
    assert!(
        tree_state(&ws.registry()) == registry_before,
        "the registry changed"
    );
    run.check_outside("end");
    eprintln!(
        "crash test figures: rounds {rounds}, kills {kills}, finished before the kill {finished_first}, \
         states checked {checked}, torn states {torn}, restores killed with the tree half-restored \
         (then finished by the next `diff`) {mid_restore}, seed {seed}"
    );
    for (command, [k, old, new]) in &per_command {
        eprintln!(
            "  {command}: {k} kills; recovered to the old state {old}, to the new state {new}"
        );
    }
}
