//! Registration: round trip, validation, unknown dependencies, cycles.

mod common;

use common::*;
use dxforge_orchestrator::{DxToolDefinition, HealthCheck, OrchestratorError, RestartPolicy};

fn full_definition() -> DxToolDefinition {
    DxToolDefinition {
        name: "db".into(),
        binary_path: "./bin/fake-db".into(),
        args: vec!["--port".into(), "5433".into()],
        priority: 7,
        dependencies: vec![],
        cwd: Some("data".into()),
        env: [("RUST_LOG".to_string(), "info".to_string())].into(),
        health: Some(HealthCheck::Tcp("127.0.0.1:5433".into())),
        health_interval_ms: 250,
        startup_timeout_ms: 9_000,
        restart: RestartPolicy::Always,
        max_restarts: 2,
        stop_signal: "SIGINT".into(),
        stop_timeout_ms: 1_234,
        watch: vec!["src/**/*.rs".into()],
    }
}

#[test]
fn definition_round_trips_exactly() {
    let p = Project::new();
    let def = full_definition();
    p.orch.register_tool(def.clone()).unwrap();
    assert_eq!(p.orch.definition("db").unwrap(), def);
    assert_eq!(p.orch.tool_names(), vec!["db"]);
}

#[test]
fn unknown_dependency_is_rejected_with_both_names() {
    let p = Project::new();
    let mut web = tool("web", &[]);
    web.dependencies = vec!["db".into()];
    let err = p.orch.register_tool(web).unwrap_err();
    let OrchestratorError::UnknownDependency { tool, dependency } = &err else {
        panic!("{err}")
    };
    assert_eq!((tool.as_str(), dependency.as_str()), ("web", "db"));
    assert!(p.orch.tool_names().is_empty(), "nothing registered");
    assert!(matches!(
        p.orch.definition("web"),
        Err(OrchestratorError::UnknownTool { .. })
    ));
}

#[test]
fn cycle_is_rejected_with_the_cycle_and_nothing_is_registered() {
    let p = Project::new();
    let mut a = tool("a", &[]);
    a.dependencies = vec!["b".into()];
    let mut b = tool("b", &[]);
    b.dependencies = vec!["c".into()];
    let mut c = tool("c", &[]);
    c.dependencies = vec!["a".into()];
    let err = p.orch.register_tools(vec![a, b, c]).unwrap_err();
    let OrchestratorError::DependencyCycle { cycle } = &err else {
        panic!("{err}")
    };
    assert_eq!(cycle, &vec!["a", "b", "c", "a"]);
    assert!(err.to_string().contains("a -> b -> c -> a"));
    assert!(p.orch.tool_names().is_empty());
}

#[test]
fn self_dependency_is_a_cycle() {
    let p = Project::new();
    let mut a = tool("a", &[]);
    a.dependencies = vec!["a".into()];
    let err = p.orch.register_tools(vec![a]).unwrap_err();
    let OrchestratorError::DependencyCycle { cycle } = &err else {
        panic!("{err}")
    };
    assert_eq!(cycle, &vec!["a", "a"]);
}

#[test]
fn re_registration_that_would_create_a_cycle_is_rejected_and_keeps_the_old_definition() {
    let p = Project::new();
    p.orch.register_tool(tool("a", &[])).unwrap();
    let mut b = tool("b", &[]);
    b.dependencies = vec!["a".into()];
    p.orch.register_tool(b).unwrap();
    let mut a2 = tool("a", &["--print", "new"]);
    a2.dependencies = vec!["b".into()];
    let err = p.orch.register_tool(a2).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::DependencyCycle { .. }),
        "{err}"
    );
    assert!(p.orch.definition("a").unwrap().dependencies.is_empty());
}

#[test]
fn invalid_definitions_are_rejected_with_the_reason() {
    let p = Project::new();
    let cases: Vec<(DxToolDefinition, &str)> = vec![
        (DxToolDefinition::new("", "x"), "name is empty"),
        (DxToolDefinition::new("a/b", "x"), "cannot contain"),
        (DxToolDefinition::new("..", "x"), "cannot contain"),
        (DxToolDefinition::new("t", ""), "binary_path is empty"),
        (
            DxToolDefinition {
                stop_signal: "SIGNOPE".into(),
                ..DxToolDefinition::new("t", "x")
            },
            "SIGNOPE",
        ),
        (
            DxToolDefinition {
                watch: vec!["src/[".into()],
                ..DxToolDefinition::new("t", "x")
            },
            "src/[",
        ),
        (
            DxToolDefinition {
                health: Some(HealthCheck::Http("https://x".into())),
                ..DxToolDefinition::new("t", "x")
            },
            "http://",
        ),
        (
            DxToolDefinition {
                health: Some(HealthCheck::Command(vec![])),
                ..DxToolDefinition::new("t", "x")
            },
            "health.command",
        ),
        (
            DxToolDefinition {
                health_interval_ms: 0,
                ..DxToolDefinition::new("t", "x")
            },
            "health_interval_ms",
        ),
        // Numbers from a host binding get the ranges `dxforge.toml` gets: a
        // huge timeout overflowed `Instant + Duration` (a panic) or waited forever.
        (
            DxToolDefinition {
                startup_timeout_ms: u64::MAX,
                ..DxToolDefinition::new("t", "x")
            },
            "startup_timeout_ms: 18446744073709551615 is out of range",
        ),
        (
            DxToolDefinition {
                stop_timeout_ms: 3_600_001,
                ..DxToolDefinition::new("t", "x")
            },
            "stop_timeout_ms",
        ),
        (
            DxToolDefinition {
                max_restarts: u32::MAX,
                ..DxToolDefinition::new("t", "x")
            },
            "max_restarts",
        ),
        (
            DxToolDefinition {
                args: vec!["a\0b".into()],
                ..DxToolDefinition::new("t", "x")
            },
            "NUL",
        ),
    ];
    for (def, needle) in cases {
        let err = p.orch.register_tool(def.clone()).unwrap_err();
        assert!(
            matches!(err, OrchestratorError::InvalidDefinition { .. }),
            "{def:?}: {err}"
        );
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
    assert!(p.orch.tool_names().is_empty());
}

#[test]
fn duplicate_names_in_one_set_are_rejected() {
    let p = Project::new();
    let err = p
        .orch
        .register_tools(vec![tool("a", &[]), tool("a", &[])])
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn a_set_may_list_tools_in_any_order() {
    let p = Project::new();
    let mut web = tool("web", &[]);
    web.dependencies = vec!["db".into()];
    p.orch.register_tools(vec![web, tool("db", &[])]).unwrap();
    assert_eq!(p.orch.tool_names(), vec!["db", "web"]);
}

#[test]
fn unknown_tool_errors_name_the_tool() {
    let p = Project::new();
    let err = p.block(p.orch.ensure_running("ghost")).unwrap_err();
    assert_eq!(err.to_string(), "unknown tool `ghost`");
    assert!(p.orch.status("ghost").is_err());
    assert!(p.orch.recent_logs("ghost", 1).is_err());
}
