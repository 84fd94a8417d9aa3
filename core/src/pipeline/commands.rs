//! The command grammar shared by the `dxforge` CLI and `DxForge::run_pipeline`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// One dxforge command, as typed after `dxforge [-C DIR] [--json]`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Write a starter dxforge.toml, create .dxforge/ and git-ignore it.
    Init {
        /// Project name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
        /// Convert a Procfile or process-compose.yaml into the tools of dxforge.toml.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// With --from: replace an existing dxforge.toml.
        #[arg(long, requires = "from")]
        force: bool,
    },
    /// Start tools (all by default) and supervise them until Ctrl-C.
    Up {
        /// Tools to start, with their dependencies.
        tools: Vec<String>,
        /// Start, wait until ready, print the status, stop everything and exit.
        #[arg(long)]
        once: bool,
    },
    /// Run a tool to completion (its dependencies are started first).
    Run {
        /// Tool name.
        tool: String,
        /// Arguments for the tool.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// One line per tool: name, status, pid, restarts.
    Status,
    /// Stop tools (all by default), dependents first.
    Stop {
        /// Tools to stop.
        tools: Vec<String>,
    },
    /// Restart tools (their running dependents restart once they are ready).
    Restart {
        /// Tools to restart.
        #[arg(required = true)]
        tools: Vec<String>,
    },
    /// Recent output of a tool (of every tool, interleaved, without TOOL).
    Logs {
        /// Tool name (all tools when omitted).
        tool: Option<String>,
        /// Number of lines.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
        /// Keep printing new lines as they come (needs a running `dxforge up`).
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only lines captured since WHEN: a duration back from now (`10m`,
        /// `1h30m`) or an RFC 3339 time (needs a running `dxforge up`).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
    /// `up` plus restarts of tools whose watch globs match changed files.
    Watch {
        /// Tools to start, with their dependencies.
        tools: Vec<String>,
    },
    /// Install a package, printing each file's traffic light.
    Add {
        /// `NAME`, `NAME@REQ`, `@ns/item`, an item URL or an item `.json` file.
        package: String,
        /// Show the plan without touching the disk.
        #[arg(long)]
        dry_run: bool,
        /// Registry items from the local cache only (no network).
        #[arg(long)]
        offline: bool,
        /// Run the project's package manager (from its lockfile) for the items' npm packages.
        #[arg(long)]
        install_deps: bool,
    },
    /// Install every package in [dependencies].
    Install {
        /// Show the plan without touching the disk.
        #[arg(long)]
        dry_run: bool,
        /// Registry items from the local cache only (no network).
        #[arg(long)]
        offline: bool,
    },
    /// Upgrade one package (or all) within its requirement.
    Update {
        /// Package name.
        package: Option<String>,
        /// Show the plan without touching the disk.
        #[arg(long)]
        dry_run: bool,
        /// Registry items from the local cache only (no network).
        #[arg(long)]
        offline: bool,
        /// Run the project's package manager (from its lockfile) for the items' npm packages.
        #[arg(long)]
        install_deps: bool,
    },
    /// Remove a package; files you modified are kept and reported.
    Remove {
        /// Package name.
        package: String,
        /// Show the plan without touching the disk.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what `update` would do.
    Diff {
        /// Package name.
        package: Option<String>,
        /// Registry items from the local cache only (no network).
        #[arg(long)]
        offline: bool,
    },
    /// Traffic light of replacing PATH with FILE's content.
    Check {
        /// Project file.
        path: PathBuf,
        /// File holding the new content.
        #[arg(long = "with")]
        with: PathBuf,
    },
    /// Take a snapshot of the project tree.
    Snapshot,
    /// List snapshots, or prune old ones.
    Snapshots {
        /// `prune`; none lists the snapshots.
        #[command(subcommand)]
        action: Option<SnapshotsAction>,
    },
    /// Delete snapshot objects and package base content nothing references.
    Gc {
        /// Report what would be deleted without deleting it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Roll the tree back to a snapshot (a safety snapshot is taken first).
    Restore {
        /// Snapshot id.
        id: String,
    },
    /// Sync snapshots with the [remote] bucket.
    Sync {
        /// push or pull.
        #[command(subcommand)]
        action: SyncAction,
    },
    /// Analyse the codebase; writes .dxforge/analysis.json.
    Analyze,
    /// Registry tools.
    Registry {
        /// build.
        #[command(subcommand)]
        action: RegistryAction,
    },
}

/// `dxforge registry …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RegistryAction {
    /// Write a directory registry as static registry-item JSON (servable over HTTP).
    Build {
        /// The directory registry (`<name>/<version>/dxpkg.toml`).
        dir: PathBuf,
        /// Output directory.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
}

/// `dxforge sync …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum SyncAction {
    /// Upload snapshots (only missing objects).
    Push,
    /// Fetch a snapshot from the bucket and restore it.
    Pull {
        /// Snapshot id.
        id: String,
    },
}

/// `dxforge snapshots …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
#[non_exhaustive]
pub enum SnapshotsAction {
    /// Delete old snapshots, then the objects only they used. With both options a
    /// snapshot goes only when both let it go.
    #[command(arg_required_else_help = true)]
    Prune {
        /// Keep the newest N snapshots.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Delete snapshots older than this (`30m`, `12h`, `7d`, `2w`).
        #[arg(long, value_name = "AGE", value_parser = super::age::parse_age)]
        older_than: Option<u64>,
        /// Report what would be deleted without deleting it.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The argument parser of a pipeline command string.
#[derive(Debug, Parser)]
#[command(name = "dxforge", no_binary_name = true, disable_help_flag = false)]
pub(crate) struct PipelineArgs {
    #[command(subcommand)]
    pub(crate) command: Command,
}
