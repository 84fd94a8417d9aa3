//! `dxforge.toml`: the project configuration.
//!
//! Unknown keys are errors, not silently ignored, and every error names the
//! file, the line and the key. A project without `dxforge.toml` opens with an
//! empty configuration (`dxforge init` writes a starter file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dxforge_fs::FsError;
use dxforge_orchestrator::DxToolDefinition;
use serde::{Deserialize, Serialize};

pub mod ranges;

/// File name of the project configuration.
pub const CONFIG_FILE: &str = "dxforge.toml";

/// Largest `dxforge.toml` read (1 MiB); a larger file is refused before it is
/// parsed (real ones are a few KiB; a 50 MB file took gigabytes to parse).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A `dxforge.toml` that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{}:{line}:{column}: {}{message}", path.display(), key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// Dotted key the error is about, where known (e.g. `tools.db.priority`).
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{}: larger than {limit} bytes, the limit for a dxforge configuration", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file given to `init --from` is larger than its limit.
    #[error("{}: larger than {limit} bytes, the limit for a file to convert", path.display())]
    ImportTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file parsed but a value is invalid (e.g. a tool definition).
    #[error("{}: key `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The parsed `dxforge.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// `[project]`.
    #[serde(default)]
    pub project: ProjectSection,
    /// `[registry]`: where packages come from.
    #[serde(default)]
    pub registry: Option<RegistrySection>,
    /// `[registries]`: registries of shadcn-style registry items, `@ns` → source.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryEntry>,
    /// `[remote]`: S3-compatible storage for snapshot sync.
    #[serde(default)]
    pub remote: Option<RemoteSection>,
    /// `[worker]`: Shadow Worker settings.
    #[serde(default)]
    pub worker: WorkerSection,
    /// `[tools.NAME]`: developer tools.
    #[serde(default)]
    pub tools: BTreeMap<String, DxToolDefinition>,
    /// `[dependencies]`: packages to inject, name → semver requirement.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
}

/// `[project]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// Project name.
    pub name: Option<String>,
    /// A dotenv file (relative to the project root) every tool gets, below
    /// the tool's own `env_file` and `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
}

/// `[registry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    /// Directory registry, relative to the project root.
    pub path: String,
}

/// One `[registries]` entry: a URL template (`"https://host/r/{name}.json"`),
/// a relative directory (`"./registry"`), or a table with `url` and `headers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RegistryEntry {
    /// URL template or directory.
    Url(String),
    /// URL template with request headers.
    Table(RegistryTable),
}

/// The table form of a `[registries]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryTable {
    /// URL template with `{name}`, or a relative directory.
    pub url: String,
    /// Request headers; `${VAR}` is replaced from the environment at request time.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl RegistryEntry {
    fn parts(&self) -> (&str, BTreeMap<String, String>) {
        match self {
            RegistryEntry::Url(u) => (u, BTreeMap::new()),
            RegistryEntry::Table(t) => (&t.url, t.headers.clone()),
        }
    }
}

/// `[remote]`: the worker's [`dxforge_worker::RemoteConfig`], the one
/// definition of the section (keys, defaults, timeout ranges). Credentials
/// are never part of it: they come from the environment.
pub type RemoteSection = dxforge_worker::RemoteConfig;

/// Default `[remote] connect_timeout_ms` (the worker's).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = dxforge_worker::DEFAULT_CONNECT_TIMEOUT_MS;
/// Default `[remote] request_timeout_ms` (the worker's).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = dxforge_worker::DEFAULT_REQUEST_TIMEOUT_MS;

/// `[worker]`: Shadow Worker settings (not in the seed; defaults in docs/contract.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// Bounded queue capacity; when full the oldest queued task is dropped
    /// ([`ranges::QUEUE_CAPACITY`]).
    pub queue_capacity: usize,
    /// Tasks run at once ([`ranges::CONCURRENCY`]).
    pub concurrency: usize,
}

impl Default for WorkerSection {
    fn default() -> Self {
        Self {
            queue_capacity: dxforge_worker::DEFAULT_CAPACITY,
            concurrency: dxforge_worker::DEFAULT_CONCURRENCY,
        }
    }
}

impl ProjectConfig {
    /// Reads `<root>/dxforge.toml`; a missing file gives the empty configuration.
    /// A file over [`MAX_CONFIG_BYTES`] is refused without reading the rest.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let Some(bytes) = read_config(&path)? else {
            return Ok(Self::default());
        };
        match std::str::from_utf8(&bytes) {
            Ok(text) => Self::parse(text, &path),
            Err(e) => {
                // Point at the first bad byte, like any other parse error.
                let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, column) = position(valid, valid.len());
                Err(ConfigError::Parse {
                    path,
                    line,
                    column,
                    key: None,
                    message: "not valid UTF-8".to_owned(),
                })
            }
        }
    }

    /// Parses configuration text; `path` is only used in error messages.
    /// Every number is checked against its documented range ([`ranges`]).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        let mut config: ProjectConfig =
            toml::from_str(text).map_err(|e| parse_error(text, path, &e))?;
        for (name, tool) in config.tools.iter_mut() {
            if !tool.name.is_empty() && tool.name != *name {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    key: format!("tools.{name}.name"),
                    message: format!("differs from the table name `{name}`; leave it out"),
                });
            }
            tool.name = name.clone();
            if tool.binary_path.is_empty() {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    key: format!("tools.{name}.binary_path"),
                    message: "missing; every tool needs a binary".to_owned(),
                });
            }
        }
        ranges::check(&config, text, path)?;
        let root = path.parent().unwrap_or(Path::new("."));
        config.registry_sources(root)?;
        Ok(config)
    }

    /// The validated `[registries]` of a project at `root`.
    pub fn registry_sources(
        &self,
        root: &Path,
    ) -> Result<dxforge_traffic::remote::Sources, ConfigError> {
        let mut sources = dxforge_traffic::remote::Sources::default();
        if let Some(remote) = &self.remote {
            sources.s3 = dxforge_traffic::remote::fetch::S3Settings {
                endpoint: remote.endpoint.clone(),
                region: Some(remote.region.clone()),
            };
        }
        for (name, entry) in &self.registries {
            let (url, headers) = entry.parts();
            let source = dxforge_traffic::remote::RegistrySource::new(name, url, &headers, root)
                .map_err(|message| ConfigError::Invalid {
                    path: root.join(CONFIG_FILE),
                    key: format!("registries.\"{name}\""),
                    message,
                })?;
            sources.registries.insert(name.clone(), source);
        }
        Ok(sources)
    }

    /// Tool definitions in table order.
    pub fn tool_definitions(&self) -> Vec<DxToolDefinition> {
        self.tools.values().cloned().collect()
    }

    /// The registry directory, resolved against the project root.
    pub fn registry_dir(&self, root: &Path) -> Option<PathBuf> {
        self.registry.as_ref().map(|r| root.join(&r.path))
    }
}

/// Reads the configuration file, at most [`MAX_CONFIG_BYTES`]; `None` when it
/// is missing. The file itself is never read through a link, and a FIFO or
/// device in its place is refused instead of blocking.
fn read_config(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    dxforge_fs::read_bounded(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        FsError::TooLarge { limit, .. } => ConfigError::TooLarge {
            path: path.to_owned(),
            limit,
        },
        FsError::Io { source, .. } => ConfigError::Read {
            path: path.to_owned(),
            source,
        },
        other => ConfigError::Read {
            path: path.to_owned(),
            source: other.into(),
        },
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Builds a parse error with line, column and the dotted key at the error's span.
fn parse_error(text: &str, path: &Path, err: &toml::de::Error) -> ConfigError {
    let mut offset = err.span().map(|s| s.start).unwrap_or(0).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let (line, column) = position(text, offset);
    ConfigError::Parse {
        path: path.to_owned(),
        line,
        column,
        key: key_at(text, offset),
        message: err.message().trim().to_owned(),
    }
}

/// The dotted key whose line contains `offset`: the nearest `[table]` header
/// above it plus the bare key left of `=` on that line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    let lhs = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned());
    match (table, lhs) {
        (Some(t), Some(k)) if !k.is_empty() => Some(format!("{t}.{k}")),
        (None, Some(k)) if !k.is_empty() => Some(k),
        (t, _) => t,
    }
}

/// The starter `dxforge.toml` written by `dxforge init`.
pub fn starter_config(project_name: &str) -> String {
    format!(
        r#"# dxforge project configuration. Reference: see the dxforge README.
[project]
name = "{project_name}"

# [registry]
# path = "../registry"

# [tools.web]
# binary_path = "./bin/web"      # absolute; relative to this file if it contains '/'; else on PATH
# args = ["--port", "3000"]
# dependencies = []
# health = {{ http = "http://127.0.0.1:3000/health" }}
# restart = "on-failure"

[dependencies]
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectConfig, ConfigError> {
        ProjectConfig::parse(text, Path::new("/p/dxforge.toml"))
    }

    #[test]
    fn registries_accept_templates_tables_and_directories_and_refuse_the_rest() {
        let c = parse(
            r#"
[registry]
path = "../registry"
[registries]
"@shadcn" = "https://registry.example.com/r/{name}.json"
"@acme" = { url = "https://acme.example.com/r/{name}.json", headers = { Authorization = "Bearer ${ACME_TOKEN}" } }
"@team" = "s3://team-bucket/registry/{name}.json"
"@local" = "./registry"
[dependencies]
"@shadcn/button" = "*"
"#,
        )
        .unwrap();
        let sources = c.registry_sources(Path::new("/p")).unwrap();
        assert_eq!(
            sources.registries["@local"].template,
            "file:///p/./registry/{name}.json"
        );
        assert_eq!(sources.registries["@acme"].headers.len(), 1);
        let refused = [
            (
                r#""@x" = "ftp://h/{name}.json""#,
                "unsupported scheme `ftp`",
            ),
            (r#""@x" = "https://h/r/button.json""#, "needs `{name}`"),
            (r#""x" = "https://h/{name}.json""#, "starts with `@`"),
            (r#""@x" = "/abs/dir""#, "relative directory"),
            (
                r#""@x" = { url = "https://h/{name}.json", headers = { A = "${unclosed" } }"#,
                "unclosed",
            ),
        ];
        for (entry, want) in refused {
            let err = parse(&format!("[registries]\n{entry}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("registries."), "{err}");
            assert!(err.contains(want), "{entry}: {err}");
        }
    }

    #[test]
    fn full_example_parses() {
        let c = parse(
            r#"
[project]
name = "demo"
[registry]
path = "../registry"
[remote]
endpoint = "http://127.0.0.1:9000"
bucket = "b"
prefix = "team-a/"
[tools.db]
binary_path = "./bin/fake-db"
args = ["--port", "5433"]
env = { RUST_LOG = "info" }
health = { tcp = "127.0.0.1:5433" }
restart = "always"
watch = ["src/**/*.rs"]
[tools.web]
binary_path = "web"
dependencies = ["db"]
health = { http = "http://127.0.0.1:3000/health" }
[dependencies]
button = "^1.2"
"#,
        )
        .unwrap();
        assert_eq!(c.tools["db"].name, "db");
        assert_eq!(c.tools["db"].args, ["--port", "5433"]);
        assert_eq!(c.tools["web"].dependencies, ["db"]);
        assert_eq!(c.remote.unwrap().region, "auto");
        assert_eq!(c.dependencies["button"], "^1.2");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[tools.db]\nbinary_path = \"x\"\nprioirty = 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/p/dxforge.toml:3:"), "{msg}");
        assert!(msg.contains("tools.db.prioirty"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn wrong_type_names_key() {
        let err = parse("[tools.db]\nbinary_path = \"x\"\npriority = \"high\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(":3:"), "{msg}");
        assert!(msg.contains("tools.db.priority"), "{msg}");
    }

    #[test]
    fn missing_binary_is_an_error() {
        let err = parse("[tools.db]\nargs = []\n").unwrap_err();
        assert!(err.to_string().contains("tools.db.binary_path"), "{err}");
    }

    #[test]
    fn omitted_sections_take_the_workers_defaults() {
        let c = parse("[remote]\nbucket = \"b\"\n").unwrap();
        let r = c.remote.unwrap();
        let w = dxforge_worker::RemoteConfig::new(None, "b");
        assert_eq!(
            (r.endpoint, r.bucket, r.prefix, r.region),
            (w.endpoint, w.bucket, w.prefix, w.region)
        );
        assert_eq!(
            (r.connect_timeout_ms, r.request_timeout_ms),
            (w.connect_timeout_ms, w.request_timeout_ms)
        );
        assert_eq!(c.worker.queue_capacity, dxforge_worker::DEFAULT_CAPACITY);
        assert_eq!(c.worker.concurrency, dxforge_worker::DEFAULT_CONCURRENCY);
    }

    #[test]
    fn env_files_and_dependency_conditions_parse() {
        let c = parse(
            r#"
[project]
env_file = ".env"
[tools.migrate]
binary_path = "./bin/migrate"
restart = "never"
[tools.db]
binary_path = "db"
[tools.web]
binary_path = "web"
env_file = ".env.web"
dependencies = ["db", { name = "migrate", condition = "completed_successfully" }]
"#,
        )
        .unwrap();
        assert_eq!(c.project.env_file.as_deref(), Some(".env"));
        let web = &c.tools["web"];
        assert_eq!(web.env_file.as_deref(), Some(".env.web"));
        assert_eq!(web.dependencies, ["db", "migrate"]);
        assert_eq!(
            web.dependency_conditions.get("migrate"),
            Some(&dxforge_orchestrator::DependencyCondition::CompletedSuccessfully)
        );
        assert!(!web.dependency_conditions.contains_key("db"));
    }

    #[test]
    fn a_bad_dependency_condition_names_the_line_and_the_condition() {
        let err = parse(
            "[tools.web]\nbinary_path = \"x\"\ndependencies = [{ name = \"m\", condition = \"done\" }]\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/p/dxforge.toml:3:"), "{msg}");
        assert!(msg.contains("unknown condition \"done\""), "{msg}");
        assert!(msg.contains("completed_successfully"), "{msg}");
        let err = parse("[project]\nenv_fil = \".env\"\n").unwrap_err();
        assert!(err.to_string().contains("project.env_fil"), "{err}");
    }

    #[test]
    fn starter_config_parses() {
        let c = parse(&starter_config("x")).unwrap();
        assert_eq!(c.project.name.as_deref(), Some("x"));
    }
}
