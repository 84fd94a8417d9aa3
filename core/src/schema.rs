//! The JSON Schema of every report a binding returns, from the core's own types.
//!
//! Report shapes are defined once, by the Rust types (their serde form is what
//! the command line's `--json` prints and what Python receives). This document
//! is committed as `schema/reports.json`; `scripts/gen-reports.py` generates the
//! Python `TypedDict`s from it, and each binding's tests check the reports they
//! return against it.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Value, json};

use dxforge_traffic as traffic;
use dxforge_worker as worker;

/// Adds `T` (and everything it refers to) under `$defs`; returns its name.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// One JSON Schema (draft 2020-12) document: every report type under `$defs`; the
/// reports every binding returns as plain data (Python dicts) are listed under
/// `reports`, the orchestrator's JSON documents under `orchestrator`.
pub fn reports() -> Value {
    // The serialize contract: the schema describes what the core writes out.
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    // The types a binding method returns; `$defs` also holds their parts.
    let roots = [
        add::<traffic::FileReport>(&mut generator),
        add::<traffic::InstallReport>(&mut generator),
        add::<traffic::RemoveReport>(&mut generator),
        add::<traffic::Recovery>(&mut generator),
        add::<worker::Counters>(&mut generator),
        add::<worker::SnapshotSummary>(&mut generator),
        add::<worker::RestoreReport>(&mut generator),
        add::<worker::GcReport>(&mut generator),
        add::<worker::SyncReport>(&mut generator),
        add::<worker::PrefetchReport>(&mut generator),
        add::<worker::AnalysisReport>(&mut generator),
        add::<worker::TaskState>(&mut generator),
    ];
    // The orchestrator's serde documents (`dxforge_states_json` prints `ToolState`s);
    // Python and Node return their own objects for these, so no TypedDict is generated.
    let orchestrator = [
        add::<dxforge_orchestrator::ToolState>(&mut generator),
        add::<dxforge_orchestrator::ExecOutput>(&mut generator),
    ];
    let defs = generator.take_definitions(true);
    let any_of: Vec<Value> = roots
        .iter()
        .chain(&orchestrator)
        .map(|name| json!({ "$ref": format!("#/$defs/{name}") }))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dxforge reports",
        "description": "Every report a dxforge binding returns, in the core's serde form.",
        "reports": roots,
        "orchestrator": orchestrator,
        "anyOf": any_of,
        "$defs": defs,
    })
}
