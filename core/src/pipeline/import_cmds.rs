//! `init --from FILE`: writes `dxforge.toml` from a Procfile or process-compose.yaml.

use std::io::Read;
use std::path::Path;

use dxforge_fs::{Policy, Root, WriteOptions};
use serde_json::json;

use super::{PipelineOutcome, escape, orchestrator_cmds};
use crate::config::{CONFIG_FILE, ConfigError};
use crate::import::{self, ImportFormat, MAX_IMPORT_BYTES};
use crate::{Error, Result, STATE_DIR};

/// `init --from FROM [--force] [--name NAME]` in the project at `root` (canonical).
///
/// Needs no open handle, so it can replace a `dxforge.toml` that no longer loads.
pub fn init_from(
    root: &Path,
    name: Option<&str>,
    from: &Path,
    force: bool,
) -> Result<PipelineOutcome> {
    // Relative to the project root, like every path in a command.
    let source = root.join(from);
    let format = ImportFormat::of(&source).ok_or_else(|| Error::InvalidArgument {
        name: "--from".into(),
        reason: format!(
            "cannot tell the format of {}: name it Procfile or *.yaml",
            source.display()
        ),
    })?;
    let text = read_bounded(&source)?;
    let imported = import::convert(&text, &source, format)?;
    let project = Root::open(root, Policy::Project)?;
    if !force && project.metadata(CONFIG_FILE)?.is_some() {
        return Err(Error::InvalidArgument {
            name: "--from".into(),
            reason: format!(
                "{} already exists; pass --force to replace it",
                root.join(CONFIG_FILE).display()
            ),
        });
    }
    let default_name = root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("project");
    let shown = from.to_string_lossy();
    let toml = import::render(name.unwrap_or(default_name), &shown, &imported);
    // A converted file that dxforge could not read back would be a bug here, not the
    // user's: check before writing.
    toml.parse::<toml::Table>().map_err(|e| Error::Internal {
        message: format!("init --from produced invalid TOML: {e}"),
    })?;
    project.write_atomic(CONFIG_FILE, toml.as_bytes(), WriteOptions::durable())?;
    project.subroot(STATE_DIR, Policy::Plain, true)?;
    orchestrator_cmds::ensure_gitignored(&project)?;
    let tools: Vec<&String> = imported.tools.keys().collect();
    let mut text = format!(
        "wrote {CONFIG_FILE} with {} tools from {}: {}",
        tools.len(),
        escape(&shown),
        tools
            .iter()
            .map(|t| escape(t))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for field in &imported.not_converted {
        text.push_str(&format!("\nnot converted: {}", escape(field)));
    }
    Ok(PipelineOutcome::new(
        text,
        json!({
            "wrote": root.join(CONFIG_FILE),
            "from": source,
            "tools": tools,
            "not_converted": imported.not_converted,
        }),
    ))
}

/// The file's text: a regular file (a FIFO or device is refused before it is opened
/// for reading), at most [`MAX_IMPORT_BYTES`], UTF-8.
fn read_bounded(path: &Path) -> Result<String> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::InvalidArgument {
            name: "--from".into(),
            reason: format!("{} is not a regular file", path.display()),
        });
    }
    let too_large = || {
        Error::from(ConfigError::ImportTooLarge {
            path: path.to_path_buf(),
            limit: MAX_IMPORT_BYTES,
        })
    };
    if meta.len() > MAX_IMPORT_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_IMPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::from(ConfigError::Invalid {
            path: path.to_path_buf(),
            key: String::new(),
            message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })
    })
}
