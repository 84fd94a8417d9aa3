//! Writes the `dxforge.toml` of a conversion: only the keys the source set, strings
//! quoted by the TOML library so any content round-trips.

use dxforge_orchestrator::{HealthCheck, RestartPolicy};

use super::{Imported, ImportedTool};

/// The text of a `dxforge.toml` for project `name` holding the converted tools.
pub fn render(project_name: &str, source: &str, imported: &Imported) -> String {
    let mut out = format!(
        "# Converted by `dxforge init --from` from {}.\n",
        source.escape_debug()
    );
    if !imported.not_converted.is_empty() {
        out.push_str("# Not converted (no dxforge equivalent):\n");
        for field in &imported.not_converted {
            out.push_str(&format!("#   {}\n", field.escape_debug()));
        }
    }
    out.push_str(&format!("\n[project]\nname = {}\n", quote(project_name)));
    for (name, tool) in &imported.tools {
        out.push_str(&format!("\n[tools.{}]\n", key(name)));
        tool_body(&mut out, tool);
    }
    out
}

fn tool_body(out: &mut String, tool: &ImportedTool) {
    let def = &tool.definition;
    let mut line = |k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
    line("binary_path", quote(&def.binary_path));
    if !def.args.is_empty() {
        line("args", list(&def.args));
    }
    if let Some(cwd) = &def.cwd {
        line("cwd", quote(&cwd.to_string_lossy()));
    }
    if !def.env.is_empty() {
        let pairs: Vec<String> = def
            .env
            .iter()
            .map(|(k, v)| format!("{} = {}", key(k), quote(v)))
            .collect();
        line("env", format!("{{ {} }}", pairs.join(", ")));
    }
    if !tool.dependencies.is_empty() {
        let deps: Vec<String> = tool
            .dependencies
            .iter()
            .map(|d| match d.condition {
                None => quote(&d.name),
                Some(c) => format!("{{ name = {}, condition = {} }}", quote(&d.name), quote(c)),
            })
            .collect();
        line("dependencies", format!("[{}]", deps.join(", ")));
    }
    if let Some(health) = &def.health {
        line(
            "health",
            match health {
                HealthCheck::Tcp(a) => format!("{{ tcp = {} }}", quote(a)),
                HealthCheck::Http(u) => format!("{{ http = {} }}", quote(u)),
                HealthCheck::Command(c) => format!("{{ command = {} }}", list(c)),
            },
        );
    }
    let set = |k: &str| tool.set.contains(&k);
    if set("health_interval_ms") {
        line("health_interval_ms", def.health_interval_ms.to_string());
    }
    if set("restart") {
        let policy = match def.restart {
            RestartPolicy::Never => "never",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        };
        line("restart", quote(policy));
    }
    if set("max_restarts") {
        line("max_restarts", def.max_restarts.to_string());
    }
    if set("stop_signal") {
        line("stop_signal", quote(&def.stop_signal));
    }
    if set("stop_timeout_ms") {
        line("stop_timeout_ms", def.stop_timeout_ms.to_string());
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A key: bare when it can be, else quoted.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_owned()
    } else {
        quote(s)
    }
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}
