//! `dxforge init --from FILE`: converts a Procfile or a process-compose.yaml into the
//! `[tools]` of a `dxforge.toml`.
//!
//! Conversion never drops a setting silently: every field that has no dxforge
//! equivalent is listed in [`Imported::not_converted`] by its dotted path. Input is
//! bounded ([`MAX_IMPORT_BYTES`]) and every error names the file, and the line where
//! the parser knows it, or the dotted key.

mod compose;
mod procfile;
mod render;

use std::collections::BTreeMap;
use std::path::Path;

use dxforge_orchestrator::{DxToolDefinition, HealthCheck, RestartPolicy};

use crate::config::ConfigError;

pub use render::render;

/// Largest file `init --from` reads (1 MiB, like `dxforge.toml`).
pub const MAX_IMPORT_BYTES: u64 = 1024 * 1024;

/// The formats `init --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportFormat {
    /// Heroku-style `name: command` lines.
    Procfile,
    /// process-compose's YAML.
    ProcessCompose,
}

impl ImportFormat {
    /// The format a file's name says: `Procfile…` or `*.yaml`/`*.yml`.
    pub fn of(path: &Path) -> Option<ImportFormat> {
        let name = path.file_name()?.to_str()?;
        if name.starts_with("Procfile") {
            Some(ImportFormat::Procfile)
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            Some(ImportFormat::ProcessCompose)
        } else {
            None
        }
    }
}

/// A dependency of a converted tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDependency {
    /// The tool depended on.
    pub name: String,
    /// `started`, `healthy` or `completed_successfully`; `None` is dxforge's default.
    pub condition: Option<&'static str>,
}

/// One converted tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedTool {
    /// The tool's settings (dependencies are in `dependencies`).
    pub definition: DxToolDefinition,
    /// Dependencies, with conditions where they differ from dxforge's default.
    pub dependencies: Vec<ImportedDependency>,
    /// Keys of `definition` the source set (the rest keep dxforge's defaults and are
    /// not written).
    pub set: Vec<&'static str>,
}

/// The result of a conversion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// Tools by name.
    pub tools: BTreeMap<String, ImportedTool>,
    /// Dotted paths of source fields without a dxforge equivalent, each with why.
    pub not_converted: Vec<String>,
}

/// Converts `text`, read from `path` (named in errors), from `format`.
pub fn convert(text: &str, path: &Path, format: ImportFormat) -> Result<Imported, ConfigError> {
    let imported = match format {
        ImportFormat::Procfile => procfile::convert(text, path)?,
        ImportFormat::ProcessCompose => compose::convert(text, path)?,
    };
    for (name, tool) in &imported.tools {
        dxforge_orchestrator::validate::validate(&tool.definition).map_err(|e| {
            ConfigError::Invalid {
                path: path.to_path_buf(),
                key: format!("{name}.{}", e.field()),
                message: e.to_string(),
            }
        })?;
        for dep in &tool.dependencies {
            if !imported.tools.contains_key(&dep.name) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: format!("{name}.depends_on"),
                    message: format!("depends on `{}`, which is not defined", dep.name),
                });
            }
        }
    }
    Ok(imported)
}

/// A tool running `command` the way a Procfile or process-compose runs it (through
/// a shell): split into program and arguments when it uses no shell syntax, else
/// `sh -c COMMAND`.
fn command_tool(name: &str, command: &str) -> Option<DxToolDefinition> {
    let (binary, args) = split_command(command)?;
    let mut def = DxToolDefinition::new(name, binary);
    def.args = args;
    Some(def)
}

/// Program and arguments of `command` (see [`command_tool`]); `None` when empty.
fn split_command(command: &str) -> Option<(String, Vec<String>)> {
    let command = command.trim();
    if command.is_empty() {
        return None;
    }
    if !uses_shell_syntax(command)
        && let Ok(mut words) = shell_words::split(command)
        && !words.is_empty()
        // `FOO=1 cmd` sets a variable: only a shell does that.
        && !words[0].contains('=')
    {
        let binary = words.remove(0);
        return Some((binary, words));
    }
    Some(("sh".to_owned(), vec!["-c".to_owned(), command.to_owned()]))
}

/// Whether a shell would do more with `command` than split it into words: pipes,
/// lists, redirections, expansions, globs, subshells, comments, line breaks.
fn uses_shell_syntax(command: &str) -> bool {
    command.contains([
        '|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '{', '}', '~', '#', '\n',
        '\r', '!',
    ])
}

/// The health check of a probe command (run through `sh -c` when it needs a shell).
fn command_health(command: &str) -> Option<HealthCheck> {
    let (binary, mut args) = split_command(command)?;
    args.insert(0, binary);
    Some(HealthCheck::Command(args))
}

/// process-compose's `availability.restart` in dxforge's terms.
fn restart_policy(value: &str) -> Option<RestartPolicy> {
    match value {
        "always" => Some(RestartPolicy::Always),
        "on_failure" => Some(RestartPolicy::OnFailure),
        "no" => Some(RestartPolicy::Never),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_commands_split_and_shell_commands_go_through_sh() {
        assert_eq!(
            split_command("bundle exec puma -p 5000 'a b'"),
            Some((
                "bundle".into(),
                vec![
                    "exec".into(),
                    "puma".into(),
                    "-p".into(),
                    "5000".into(),
                    "a b".into()
                ]
            ))
        );
        for shell in [
            "npm run build && npm start",
            "web --port $PORT",
            "tail -f log | grep x",
            "RAILS_ENV=prod rails s",
            "echo 'unclosed",
        ] {
            assert_eq!(
                split_command(shell),
                Some(("sh".into(), vec!["-c".into(), shell.into()])),
                "{shell}"
            );
        }
        assert_eq!(split_command("   "), None);
    }

    #[test]
    fn fuzz_seeds_convert_and_render() {
        for seed in [
            &include_bytes!("../../../fuzz/seeds/init_from/procfile")[..],
            &include_bytes!("../../../fuzz/seeds/init_from/process-compose.yaml")[..],
            &include_bytes!("../../../fuzz/seeds/init_from/aliases.yaml")[..],
        ] {
            crate::fuzzing::parse_import(seed);
        }
        let compose = &include_bytes!("../../../fuzz/seeds/init_from/process-compose.yaml")[1..];
        let imported = convert(
            std::str::from_utf8(compose).unwrap(),
            Path::new("pc.yaml"),
            ImportFormat::ProcessCompose,
        )
        .unwrap();
        assert_eq!(imported.tools.len(), 2);
        assert!(
            imported
                .not_converted
                .iter()
                .any(|f| f.starts_with("processes.web.we\"ird")),
            "{:?}",
            imported.not_converted
        );
    }

    #[test]
    fn an_alias_bomb_is_refused_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        }
        text.push_str("processes: {p: {command: q}}\n");
        let started = std::time::Instant::now();
        let err = convert(&text, Path::new("bomb.yaml"), ImportFormat::ProcessCompose);
        assert!(err.is_err(), "an alias bomb was expanded");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
