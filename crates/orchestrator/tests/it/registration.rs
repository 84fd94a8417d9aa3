//! Registration: round trip, validation, unknown dependencies, cycles.

use crate::common;

use common::*;
use dxforge_orchestrator::limits::NumberField;
use dxforge_orchestrator::{DxToolDefinition, HealthCheck, OrchestratorError, RestartPolicy};

fn full_definition() -> DxToolDefinition {
    DxToolDefinition {
        name: "db".into(),
        binary_path: "./bin/fake-db".into(),
        args: vec!["--port".into(), "5433".into()],
        priority: 7,
        dependencies: vec![],
        dependency_conditions: Default::default(),
        cwd: Some("data".into()),
        env_file: Some(".env.db".into()),
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
        (DxToolDefinition::new("", "x"), "name: must not be empty"),
        (DxToolDefinition::new("a/b", "x"), "cannot contain"),
        (DxToolDefinition::new("..", "x"), "cannot contain"),
        (
            DxToolDefinition::new("t", ""),
            "binary_path: must not be empty",
        ),
        (DxToolDefinition::new("a\0b", "x"), "cannot contain"),
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
            "https is not supported",
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
            "startup_timeout_ms: 18446744073709551615 is out of range: must be a whole number from 1 to 86400000",
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
            "args[0]: must not contain NUL",
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

/// Registers `def` expecting `InvalidDefinition` of tool `t` whose message
/// names `field`; asserts nothing was registered. Returns the message.
fn refused(p: &Project, def: DxToolDefinition, field: &str) -> String {
    let shown = format!("{def:?}");
    let err = p.orch.register_tool(def).unwrap_err();
    let OrchestratorError::InvalidDefinition { tool, reason } = &err else {
        panic!("{shown}: {err}")
    };
    assert_eq!(tool, "t", "{err}");
    assert!(
        reason.starts_with(&format!("{field}: ")),
        "{err} should name the field {field}"
    );
    let msg = err.to_string();
    assert!(msg.contains("tool `t`"), "{msg}");
    assert!(
        !p.orch.tool_names().contains(&"t".to_owned()),
        "nothing registered: {msg}"
    );
    assert!(p.orch.definition("t").is_err(), "nothing registered: {msg}");
    msg
}

// Issue 10, class 9: every number has a range, checked at registration, and
// the error names the tool, the field and the range.
#[test]
fn out_of_range_numbers_are_refused_at_registration_naming_the_tool_and_the_field() {
    let p = Project::new();
    for field in NumberField::ALL {
        let range = field.range();
        let mut beyond = vec![range.end().saturating_add(1)];
        if let Some(below) = range.start().checked_sub(1) {
            beyond.push(below);
        }
        for value in beyond {
            let mut def = DxToolDefinition::new("t", "x");
            field.set(&mut def, value);
            if field.get(&def) != value {
                // A `u32` field cannot hold the value at all (priority's range
                // is the whole u32); bindings refuse it on conversion instead.
                assert!(field.from_int(i128::from(value)).is_err());
                continue;
            }
            let msg = refused(&p, def, field.name());
            assert!(
                msg.contains(&format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                )),
                "{msg}"
            );
        }
        // The bounds themselves are accepted.
        for value in [*range.start(), *range.end()] {
            let mut def = DxToolDefinition::new("ok", "x");
            field.set(&mut def, value);
            p.orch.register_tool(def).unwrap();
        }
    }
}

// Issue 10, class 9: a negative, fractional, NaN or infinite host number is
// refused by the conversion every binding uses, naming the field; it never
// wraps (`-1` → 4294967295) or truncates (`NaN` → 0).
#[test]
fn negative_fractional_and_non_finite_host_numbers_are_refused_naming_the_field() {
    for field in NumberField::ALL {
        for bad in [
            -1.0,
            -5.0,
            0.5,
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            let err = field.from_f64(bad).unwrap_err();
            assert_eq!(err.field, field.name());
            assert!(err.to_string().contains("out of range"), "{err}");
        }
        let err = field.from_int(-1).unwrap_err();
        assert_eq!(err.field, field.name());
        assert!(err.to_string().starts_with("-1 is out of range"), "{err}");
        assert!(field.from_int(i128::from(u64::MAX) + 1).is_err());
        let end = *field.range().end();
        assert_eq!(field.from_int(i128::from(end)), Ok(end));
        assert_eq!(field.from_f64(end as f64), Ok(end));
    }
}

// Issue 10, class 9: a TCP target that is not `host:port` used to be accepted
// and fail only after `startup_timeout_ms`, with the tool already spawned.
#[test]
fn tcp_health_target_that_is_not_host_port_is_refused_at_registration() {
    let p = Project::new();
    for bad in [
        "localhost",
        "127.0.0.1",
        "127.0.0.1:",
        ":5432",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "::1:5432",
        "[::1]5432",
        "[not-v6]:5432",
        "300.0.0.1:80",
        "db host:5432",
        "http://127.0.0.1:5432",
        "",
    ] {
        let def = DxToolDefinition {
            health: Some(HealthCheck::Tcp(bad.into())),
            ..DxToolDefinition::new("t", "x")
        };
        let msg = refused(&p, def, "health.tcp");
        assert!(msg.contains("is not host:port"), "{msg}");
    }
    for good in [
        "127.0.0.1:5432",
        "localhost:1",
        "[::1]:65535",
        "db.internal:80",
    ] {
        let def = DxToolDefinition {
            health: Some(HealthCheck::Tcp(good.into())),
            ..DxToolDefinition::new("ok", "x")
        };
        p.orch.register_tool(def).unwrap();
    }
}

// Issue 10, class 9: the HTTP target is checked as the health check will use it.
#[test]
fn http_health_target_that_is_not_a_usable_url_is_refused_at_registration() {
    let p = Project::new();
    for bad in [
        "127.0.0.1:8080/health",
        "https://127.0.0.1/health",
        "ftp://127.0.0.1/",
        "http://",
        "http:///health",
        "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:70000/",
        "http://127.0.0.1?ready",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/\r\nX-Injected: 1",
        "http://[::1/",
    ] {
        let def = DxToolDefinition {
            health: Some(HealthCheck::Http(bad.into())),
            ..DxToolDefinition::new("t", "x")
        };
        let msg = refused(&p, def, "health.http");
        assert!(msg.contains("is not a usable URL"), "{msg}");
    }
    for good in [
        "http://127.0.0.1:8080/health",
        "http://localhost",
        "http://[::1]:3000/ready?full=1",
    ] {
        let def = DxToolDefinition {
            health: Some(HealthCheck::Http(good.into())),
            ..DxToolDefinition::new("ok", "x")
        };
        p.orch.register_tool(def).unwrap();
    }
}

#[test]
fn one_invalid_definition_in_a_set_registers_none_of_the_set() {
    let p = Project::new();
    let bad = DxToolDefinition {
        health: Some(HealthCheck::Tcp("nope".into())),
        ..DxToolDefinition::new("t", "x")
    };
    let err = p
        .orch
        .register_tools(vec![tool("a", &[]), bad, tool("b", &[])])
        .unwrap_err();
    assert!(err.to_string().contains("health.tcp"), "{err}");
    assert!(p.orch.tool_names().is_empty());
}

#[test]
fn env_and_health_command_errors_name_the_entry() {
    let p = Project::new();
    let mut def = DxToolDefinition::new("t", "x");
    def.env.insert("K".into(), "a\0b".into());
    refused(&p, def, "env.K");
    let mut def = DxToolDefinition::new("t", "x");
    def.env.insert("A=B".into(), "v".into());
    refused(&p, def, "env");
    let def = DxToolDefinition {
        health: Some(HealthCheck::Command(vec!["true".into(), "a\0".into()])),
        ..DxToolDefinition::new("t", "x")
    };
    refused(&p, def, "health.command[1]");
    let def = DxToolDefinition {
        name: "t".repeat(201),
        ..DxToolDefinition::new("t", "x")
    };
    let err = p.orch.register_tool(def).unwrap_err();
    assert!(err.to_string().contains("at most 200 bytes"), "{err}");
}
