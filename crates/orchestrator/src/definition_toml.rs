//! The serialized (`dxforge.toml`) form of a [`DxToolDefinition`]: the same
//! keys, except that `dependencies` mixes names and
//! `{ name, condition }` tables, which the definition keeps apart as
//! `dependencies` plus `dependency_conditions`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::definition::{DependencyCondition, DxToolDefinition, HealthCheck, RestartPolicy};

/// `[tools.NAME]` as written. Field for field the definition's, so that
/// unknown keys are refused with their position (no `flatten`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ToolTable {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    binary_path: String,
    args: Vec<String>,
    priority: u32,
    dependencies: Vec<DependencyEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env_file: Option<String>,
    env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<HealthCheck>,
    health_interval_ms: u64,
    startup_timeout_ms: u64,
    restart: RestartPolicy,
    max_restarts: u32,
    stop_signal: String,
    stop_timeout_ms: u64,
    watch: Vec<String>,
}

impl Default for ToolTable {
    fn default() -> Self {
        DxToolDefinition::default().into()
    }
}

/// One entry of `dependencies`: `"db"` or `{ name = "db", condition = "healthy" }`.
pub(crate) struct DependencyEntry {
    name: String,
    condition: Option<DependencyCondition>,
}

impl TryFrom<ToolTable> for DxToolDefinition {
    type Error = String;

    fn try_from(t: ToolTable) -> Result<Self, String> {
        let mut dependencies = Vec::with_capacity(t.dependencies.len());
        let mut dependency_conditions = BTreeMap::new();
        for entry in t.dependencies {
            if let Some(condition) = entry.condition
                && let Some(old) = dependency_conditions.insert(entry.name.clone(), condition)
                && old != condition
            {
                return Err(format!(
                    "dependency `{}` is listed with two conditions, `{old}` and `{condition}`",
                    entry.name
                ));
            }
            dependencies.push(entry.name);
        }
        Ok(DxToolDefinition {
            name: t.name,
            binary_path: t.binary_path,
            args: t.args,
            priority: t.priority,
            dependencies,
            dependency_conditions,
            cwd: t.cwd,
            env_file: t.env_file,
            env: t.env,
            health: t.health,
            health_interval_ms: t.health_interval_ms,
            startup_timeout_ms: t.startup_timeout_ms,
            restart: t.restart,
            max_restarts: t.max_restarts,
            stop_signal: t.stop_signal,
            stop_timeout_ms: t.stop_timeout_ms,
            watch: t.watch,
        })
    }
}

impl From<DxToolDefinition> for ToolTable {
    fn from(d: DxToolDefinition) -> Self {
        let conditions = d.dependency_conditions;
        ToolTable {
            name: d.name,
            binary_path: d.binary_path,
            args: d.args,
            priority: d.priority,
            dependencies: d
                .dependencies
                .into_iter()
                .map(|name| DependencyEntry {
                    condition: conditions.get(&name).copied(),
                    name,
                })
                .collect(),
            cwd: d.cwd,
            env_file: d.env_file,
            env: d.env,
            health: d.health,
            health_interval_ms: d.health_interval_ms,
            startup_timeout_ms: d.startup_timeout_ms,
            restart: d.restart,
            max_restarts: d.max_restarts,
            stop_signal: d.stop_signal,
            stop_timeout_ms: d.stop_timeout_ms,
            watch: d.watch,
        }
    }
}

impl Serialize for DependencyEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.condition {
            None => s.serialize_str(&self.name),
            Some(condition) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("name", &self.name)?;
                map.serialize_entry("condition", condition.as_str())?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for DependencyEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = DependencyEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a tool name or a table { name = \"…\", condition = \"…\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DependencyEntry, E> {
        Ok(DependencyEntry {
            name: v.to_owned(),
            condition: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DependencyEntry, A::Error> {
        let mut name: Option<String> = None;
        let mut condition: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" if name.is_none() => name = Some(map.next_value()?),
                "condition" if condition.is_none() => condition = Some(map.next_value()?),
                "name" | "condition" => return Err(de::Error::duplicate_field("name")),
                other => return Err(de::Error::unknown_field(other, &["name", "condition"])),
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let condition = condition
            .map(|c| c.parse::<DependencyCondition>().map_err(de::Error::custom))
            .transpose()?;
        Ok(DependencyEntry { name, condition })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_dependencies_parse_into_names_and_conditions_and_serialize_back() {
        let def: DxToolDefinition = serde_json::from_value(serde_json::json!({
            "binary_path": "web",
            "dependencies": ["db", { "name": "migrate", "condition": "completed_successfully" }],
            "env_file": ".env.web",
        }))
        .unwrap();
        assert_eq!(def.dependencies, ["db", "migrate"]);
        assert_eq!(
            def.dependency_conditions,
            BTreeMap::from([(
                "migrate".to_owned(),
                DependencyCondition::CompletedSuccessfully
            )])
        );
        assert_eq!(def.env_file.as_deref(), Some(".env.web"));
        let back = serde_json::to_value(&def).unwrap();
        assert_eq!(
            back["dependencies"],
            serde_json::json!(["db", { "name": "migrate", "condition": "completed_successfully" }])
        );
        assert_eq!(
            serde_json::from_value::<DxToolDefinition>(back).unwrap(),
            def
        );
    }

    #[test]
    fn bad_dependency_entries_are_errors_naming_what_is_wrong() {
        for (deps, want) in [
            (
                serde_json::json!([{ "name": "m", "condition": "done" }]),
                "unknown condition \"done\"",
            ),
            (
                serde_json::json!([{ "condition": "started" }]),
                "missing field `name`",
            ),
            (
                serde_json::json!([{ "name": "m", "when": "x" }]),
                "unknown field `when`",
            ),
            (serde_json::json!([3]), "a tool name or a table"),
            (
                serde_json::json!([{ "name": "m", "condition": "started" }, { "name": "m", "condition": "healthy" }]),
                "two conditions",
            ),
        ] {
            let err = serde_json::from_value::<DxToolDefinition>(serde_json::json!({
                "binary_path": "web",
                "dependencies": deps,
            }))
            .unwrap_err()
            .to_string();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
    }
}
