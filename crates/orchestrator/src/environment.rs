//! A tool's environment and arguments as it is spawned: the project's and
//! the tool's dotenv files, then `env`, with `${VAR}` expanded in `env`
//! values and in the arguments.
//!
//! Precedence, lowest first: the process environment, the project
//! `env_file`, the tool's `env_file`, the tool's `env`. Expansion looks up
//! the process environment overlaid by the env files (not other `env`
//! entries). An undefined variable is an error naming the tool and the key
//! (`${VAR:-}` gives an explicit empty default); `$$` is a literal `$`; a `$`
//! not followed by `{` or `$` stays as written.

use std::collections::BTreeMap;
use std::path::Path;

use dxforge_fs::{Policy, Root};

use crate::DxToolDefinition;
use crate::error::{OrchestratorError, Result};

/// Largest env file read (real ones are a few KiB).
pub(crate) const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// Variables of one env file, read beneath `root` (no link followed, never
/// inside `.git` or `.dxforge`). A missing file is an error naming it.
pub(crate) fn read_env_file(tool: &str, root: &Path, rel: &str) -> Result<Vec<(String, String)>> {
    let err = |reason: String| OrchestratorError::EnvFile {
        tool: tool.to_owned(),
        path: root.join(rel),
        reason,
    };
    let project = Root::open(root, Policy::Project).map_err(|e| err(e.to_string()))?;
    let bytes = project
        .read(rel, MAX_ENV_FILE_BYTES)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no such file".to_owned()))?;
    dotenvy::from_read_iter(bytes.as_slice())
        .map(|item| item.map_err(|e| err(e.to_string())))
        .collect()
}

/// The `env` (env files then the tool's `env`, expanded) and `args`
/// (expanded) a tool is spawned with.
pub(crate) fn resolve(
    def: &DxToolDefinition,
    root: &Path,
    project_env_file: Option<&str>,
    args: &[String],
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for rel in project_env_file.into_iter().chain(def.env_file.as_deref()) {
        files.extend(read_env_file(&def.name, root, rel)?);
    }
    let lookup = |name: &str| {
        files
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    let expand_field = |key: String, value: &str| {
        expand(value, &lookup).map_err(|reason| OrchestratorError::Expansion {
            tool: def.name.clone(),
            key,
            reason,
        })
    };
    let mut env = files.clone();
    for (key, value) in &def.env {
        env.insert(key.clone(), expand_field(format!("env.{key}"), value)?);
    }
    let args = args
        .iter()
        .enumerate()
        .map(|(i, a)| expand_field(format!("args[{i}]"), a))
        .collect::<Result<Vec<_>>>()?;
    Ok((env, args))
}

/// Expands `${NAME}` and `${NAME:-default}` (NAME: ASCII letters, digits,
/// `_`, not starting with a digit) in `text`; `$${` is a literal `${`.
/// Anything else, `$$`, `$1`, `${f##*/}` included, stays as written, so a
/// shell script in `args` keeps its own `$` syntax.
pub(crate) fn expand(
    text: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some((name, default, tail)) = reference(after) else {
            out.push('$');
            rest = after;
            continue;
        };
        match (lookup(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "variable `{name}` is not defined (in the environment or an env_file); write `${{{name}:-}}` for an empty default or `$${{{name}}}` for the text itself"
                ));
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// `{NAME}` or `{NAME:-default}` at the start of `s`: the name, the
/// default, and what follows the `}`.
fn reference(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let inner = s.strip_prefix('{')?;
    let end = inner.find('}')?;
    let body = &inner[..end];
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name, default, &inner[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("5433".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_braced_variables_and_defaults_and_leaves_shell_syntax_alone() {
        assert_eq!(expand("--port=${PORT}", &vars).unwrap(), "--port=5433");
        assert_eq!(expand("${NOPE:-x}-${PORT:-1}", &vars).unwrap(), "x-5433");
        assert_eq!(expand("a${EMPTY}b", &vars).unwrap(), "ab");
        assert_eq!(
            expand("$${PORT} $$ $PORT $1 $", &vars).unwrap(),
            "${PORT} $$ $PORT $1 $"
        );
        assert_eq!(
            expand("${f##*/} ${1} ${PORT", &vars).unwrap(),
            "${f##*/} ${1} ${PORT"
        );
        assert_eq!(expand("no vars", &vars).unwrap(), "no vars");
    }

    #[test]
    fn an_undefined_variable_is_an_error_naming_it() {
        let e = expand("x ${MISSING} y", &vars).unwrap_err();
        assert!(e.contains("`MISSING` is not defined"), "{e}");
    }
}
