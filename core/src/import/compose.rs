//! process-compose.yaml: `processes` with `command`, `working_dir`, `environment`,
//! `depends_on`, `readiness_probe`, `availability` and `shutdown`; top-level
//! `environment` applies to every process. Anything else is listed as not converted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::{
    Imported, ImportedDependency, ImportedTool, command_health, command_tool, restart_policy,
};
use crate::config::ConfigError;
use dxforge_orchestrator::HealthCheck;

/// Most processes read from one file.
const MAX_PROCESSES: usize = 1024;

/// A converted process before its dependencies' conditions are settled.
struct Pending {
    tool: ImportedTool,
    /// Dependency name and dxforge condition.
    depends_on: Vec<(String, &'static str)>,
}

pub(super) fn convert(text: &str, path: &Path) -> Result<Imported, ConfigError> {
    let root: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            key: None,
            message: e.to_string(),
        }
    })?;
    let cx = Cx { path };
    let top = cx.mapping(&root, "")?;
    let mut out = Imported::default();
    let mut global_env = BTreeMap::new();
    let mut processes = None;
    for (k, v) in top {
        let key = cx.key(k, "")?;
        match key {
            // The file format's version: nothing to convert.
            "version" => {}
            "processes" => processes = Some(cx.mapping(v, "processes")?),
            "environment" => global_env = cx.env(v, "environment")?,
            other => out
                .not_converted
                .push(format!("{other} (no dxforge equivalent)")),
        }
    }
    let processes = processes.ok_or_else(|| cx.invalid("processes", "no `processes` section"))?;
    if processes.len() > MAX_PROCESSES {
        return Err(cx.invalid("processes", &format!("more than {MAX_PROCESSES} processes")));
    }
    let mut pending = BTreeMap::new();
    for (k, v) in processes {
        let name = cx.key(k, "processes")?;
        let process = cx.process(name, v, &global_env, &mut out.not_converted)?;
        pending.insert(name.to_owned(), process);
    }
    let has_health: BTreeMap<String, bool> = pending
        .iter()
        .map(|(n, p)| (n.clone(), p.tool.definition.health.is_some()))
        .collect();
    for (name, mut p) in pending {
        for (dep, condition) in p.depends_on {
            // dxforge's default: healthy when the dependency has a health check, else
            // started. Only a different condition is written.
            let default = if has_health.get(&dep).copied().unwrap_or(false) {
                "healthy"
            } else {
                "started"
            };
            p.tool.dependencies.push(ImportedDependency {
                name: dep,
                condition: (condition != default).then_some(condition),
            });
        }
        out.tools.insert(name, p.tool);
    }
    Ok(out)
}

struct Cx<'a> {
    path: &'a Path,
}

impl Cx<'_> {
    fn invalid(&self, key: &str, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            message: message.to_owned(),
        }
    }

    fn mapping<'v>(&self, value: &'v Value, key: &str) -> Result<&'v Mapping, ConfigError> {
        match value {
            Value::Mapping(m) => Ok(m),
            _ => Err(self.invalid(key, "expected a mapping")),
        }
    }

    fn key<'v>(&self, key: &'v Value, parent: &str) -> Result<&'v str, ConfigError> {
        key.as_str()
            .ok_or_else(|| self.invalid(parent, "a key is not a string"))
    }

    fn string(&self, value: &Value, key: &str) -> Result<String, ConfigError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(self.invalid(key, "expected a string")),
        }
    }

    fn seconds(&self, value: &Value, key: &str) -> Result<u64, ConfigError> {
        value
            .as_u64()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(|| self.invalid(key, "expected a whole number of seconds"))
    }

    /// `environment`: a list of `KEY=VALUE` (process-compose's form) or a mapping.
    fn env(&self, value: &Value, key: &str) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut env = BTreeMap::new();
        match value {
            Value::Sequence(items) => {
                for item in items {
                    let item = self.string(item, key)?;
                    let (k, v) = item
                        .split_once('=')
                        .ok_or_else(|| self.invalid(key, &format!("`{item}` is not KEY=VALUE")))?;
                    env.insert(k.to_owned(), v.to_owned());
                }
            }
            Value::Mapping(m) => {
                for (k, v) in m {
                    env.insert(self.key(k, key)?.to_owned(), self.string(v, key)?);
                }
            }
            Value::Null => {}
            _ => return Err(self.invalid(key, "expected a list of KEY=VALUE")),
        }
        Ok(env)
    }

    fn process(
        &self,
        name: &str,
        value: &Value,
        global_env: &BTreeMap<String, String>,
        not_converted: &mut Vec<String>,
    ) -> Result<Pending, ConfigError> {
        let base = format!("processes.{name}");
        let fields = self.mapping(value, &base)?;
        let command = fields
            .get("command")
            .ok_or_else(|| self.invalid(&base, "no `command`"))?;
        let command = self.string(command, &format!("{base}.command"))?;
        let definition = command_tool(name, &command)
            .ok_or_else(|| self.invalid(&format!("{base}.command"), "empty command"))?;
        let mut p = Pending {
            tool: ImportedTool {
                definition,
                dependencies: Vec::new(),
                set: vec!["binary_path", "args"],
            },
            depends_on: Vec::new(),
        };
        if !global_env.is_empty() {
            p.tool.definition.env = global_env.clone();
            p.tool.set.push("env");
        }
        for (k, v) in fields {
            let field = self.key(k, &base)?;
            let key = format!("{base}.{field}");
            let def = &mut p.tool.definition;
            match field {
                "command" => {}
                "working_dir" => {
                    def.cwd = Some(PathBuf::from(self.string(v, &key)?));
                    p.tool.set.push("cwd");
                }
                "environment" => {
                    def.env.extend(self.env(v, &key)?);
                    if !p.tool.set.contains(&"env") {
                        p.tool.set.push("env");
                    }
                }
                "depends_on" => {
                    for (dep, spec) in self.mapping(v, &key)? {
                        let dep = self.key(dep, &key)?;
                        let condition = self.condition(spec, &format!("{key}.{dep}"))?;
                        match condition {
                            Ok(c) => p.depends_on.push((dep.to_owned(), c)),
                            Err(other) => {
                                not_converted.push(format!(
                                    "{key}.{dep}.condition = {other} (no dxforge equivalent; \
                                     kept as a plain dependency)"
                                ));
                                p.depends_on.push((dep.to_owned(), "started"));
                            }
                        }
                    }
                }
                "readiness_probe" => self.probe(v, &key, &mut p.tool, not_converted)?,
                "availability" => self.availability(v, &key, &mut p.tool, not_converted)?,
                "shutdown" => self.shutdown(v, &key, &mut p.tool, not_converted)?,
                _ => not_converted.push(format!("{key} (no dxforge equivalent)")),
            }
        }
        Ok(p)
    }

    /// The dxforge condition of one `depends_on` entry, or the source's name of a
    /// condition dxforge does not have. A missing condition is process-compose's
    /// `process_started`.
    fn condition(
        &self,
        spec: &Value,
        key: &str,
    ) -> Result<Result<&'static str, String>, ConfigError> {
        let condition = match spec {
            Value::Null => return Ok(Ok("started")),
            Value::Mapping(m) => match m.get("condition") {
                None => return Ok(Ok("started")),
                Some(c) => self.string(c, &format!("{key}.condition"))?,
            },
            _ => return Err(self.invalid(key, "expected a mapping with `condition`")),
        };
        Ok(match condition.as_str() {
            "process_started" => Ok("started"),
            "process_healthy" => Ok("healthy"),
            "process_completed_successfully" => Ok("completed_successfully"),
            _ => Err(condition),
        })
    }

    fn probe(
        &self,
        value: &Value,
        key: &str,
        tool: &mut ImportedTool,
        not_converted: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for (k, v) in self.mapping(value, key)? {
            let field = self.key(k, key)?;
            let fkey = format!("{key}.{field}");
            match field {
                "exec" => {
                    let exec = self.mapping(v, &fkey)?;
                    let command = exec
                        .get("command")
                        .ok_or_else(|| self.invalid(&fkey, "no `command`"))?;
                    let command = self.string(command, &format!("{fkey}.command"))?;
                    tool.definition.health = Some(
                        command_health(&command)
                            .ok_or_else(|| self.invalid(&fkey, "empty command"))?,
                    );
                    tool.set.push("health");
                    for (k, _) in exec {
                        if k.as_str() != Some("command") {
                            not_converted.push(format!(
                                "{fkey}.{} (no dxforge equivalent)",
                                self.key(k, &fkey)?
                            ));
                        }
                    }
                }
                "http_get" => match self.http_url(v, &fkey)? {
                    Ok(url) => {
                        tool.definition.health = Some(HealthCheck::Http(url));
                        tool.set.push("health");
                    }
                    Err(why) => not_converted.push(format!("{fkey} ({why})")),
                },
                "period_seconds" => {
                    tool.definition.health_interval_ms = self.seconds(v, &fkey)?;
                    tool.set.push("health_interval_ms");
                }
                _ => not_converted.push(format!("{fkey} (no dxforge equivalent)")),
            }
        }
        Ok(())
    }

    /// `http_get`'s URL, or why it has no dxforge equivalent.
    fn http_url(&self, value: &Value, key: &str) -> Result<Result<String, String>, ConfigError> {
        let m = self.mapping(value, key)?;
        let get = |f: &str| -> Result<Option<String>, ConfigError> {
            m.get(f)
                .map(|v| self.string(v, &format!("{key}.{f}")))
                .transpose()
        };
        let scheme = get("scheme")?.unwrap_or_else(|| "http".to_owned());
        if scheme != "http" {
            return Ok(Err(format!(
                "scheme {scheme}: dxforge's http check is plain http only"
            )));
        }
        let host = get("host")?.unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = get("port")?.ok_or_else(|| self.invalid(key, "no `port`"))?;
        let path = get("path")?.unwrap_or_else(|| "/".to_owned());
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        for (k, _) in m {
            let f = self.key(k, key)?;
            if !matches!(f, "scheme" | "host" | "port" | "path") {
                return Ok(Err(format!("{f} has no dxforge equivalent")));
            }
        }
        Ok(Ok(format!("http://{host}:{port}{path}")))
    }

    fn availability(
        &self,
        value: &Value,
        key: &str,
        tool: &mut ImportedTool,
        not_converted: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for (k, v) in self.mapping(value, key)? {
            let field = self.key(k, key)?;
            let fkey = format!("{key}.{field}");
            match field {
                "restart" => {
                    let restart = self.string(v, &fkey)?;
                    match restart_policy(&restart) {
                        Some(policy) => {
                            tool.definition.restart = policy;
                            tool.set.push("restart");
                        }
                        None => not_converted.push(format!(
                            "{fkey} = {restart} (dxforge has never, on-failure, always)"
                        )),
                    }
                }
                "max_restarts" => {
                    let n = v
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| self.invalid(&fkey, "expected a whole number"))?;
                    tool.definition.max_restarts = n;
                    tool.set.push("max_restarts");
                }
                _ => not_converted.push(format!("{fkey} (no dxforge equivalent)")),
            }
        }
        Ok(())
    }

    fn shutdown(
        &self,
        value: &Value,
        key: &str,
        tool: &mut ImportedTool,
        not_converted: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for (k, v) in self.mapping(value, key)? {
            let field = self.key(k, key)?;
            let fkey = format!("{key}.{field}");
            match field {
                "signal" => match v.as_u64().and_then(signal_name) {
                    Some(name) => {
                        tool.definition.stop_signal = name.to_owned();
                        tool.set.push("stop_signal");
                    }
                    None => not_converted.push(format!("{fkey} (not a signal dxforge names)")),
                },
                "timeout_seconds" => {
                    tool.definition.stop_timeout_ms = self.seconds(v, &fkey)?;
                    tool.set.push("stop_timeout_ms");
                }
                _ => not_converted.push(format!("{fkey} (no dxforge equivalent)")),
            }
        }
        Ok(())
    }
}

/// The name of a Linux signal number process-compose files use.
fn signal_name(number: u64) -> Option<&'static str> {
    Some(match number {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        12 => "SIGUSR2",
        15 => "SIGTERM",
        _ => return None,
    })
}
