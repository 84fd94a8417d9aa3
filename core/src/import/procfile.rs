//! Procfile: one `name: command` per line; blank lines and `#` comments are skipped.

use std::path::Path;

use super::{Imported, ImportedTool, command_tool};
use crate::config::ConfigError;

/// Longest Procfile: more lines than any real one, bounded so a huge file fails fast.
const MAX_PROCESSES: usize = 1024;

pub(super) fn convert(text: &str, path: &Path) -> Result<Imported, ConfigError> {
    let mut imported = Imported::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let err = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            line: line_no,
            column: 1,
            key: None,
            message,
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(err("expected `name: command`".into()));
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(err(format!(
                "process name `{}` must be letters, digits, `_` or `-`",
                name.escape_debug()
            )));
        }
        if imported.tools.contains_key(name) {
            return Err(err(format!("process `{name}` is defined twice")));
        }
        if imported.tools.len() >= MAX_PROCESSES {
            return Err(err(format!("more than {MAX_PROCESSES} processes")));
        }
        let definition = command_tool(name, command)
            .ok_or_else(|| err(format!("process `{name}` has no command")))?;
        imported.tools.insert(
            name.to_owned(),
            ImportedTool {
                definition,
                dependencies: Vec::new(),
                set: vec!["binary_path", "args"],
            },
        );
    }
    if imported.tools.is_empty() {
        return Err(ConfigError::Parse {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            key: None,
            message: "no `name: command` line".into(),
        });
    }
    Ok(imported)
}
