//! Seed properties 1-4 (proptest, 100 cases each), against real processes.

use crate::common;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use common::*;
use dxforge_orchestrator::{DxToolDefinition, HealthCheck, RestartPolicy, ToolStatus, limits};
use proptest::prelude::*;

/// Hosts registration accepts (validate.rs): names, IPv4 and bracketed IPv6.
fn arb_host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,11}(\\.[a-z][a-z0-9]{0,5})?",
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
    ]
}

fn arb_health() -> impl Strategy<Value = Option<HealthCheck>> {
    prop_oneof![
        Just(None),
        (arb_host(), 1..=65_535u16).prop_map(|(h, p)| Some(HealthCheck::Tcp(format!("{h}:{p}")))),
        (arb_host(), prop::option::of(1..=65_535u16), "/[a-z/]{0,10}").prop_map(|(h, p, path)| {
            let port = p.map(|p| format!(":{p}")).unwrap_or_default();
            Some(HealthCheck::Http(format!("http://{h}{port}{path}")))
        }),
        prop::collection::vec("[a-z_-]{1,8}", 1..4).prop_map(|c| Some(HealthCheck::Command(c))),
    ]
}

fn arb_definition() -> impl Strategy<Value = DxToolDefinition> {
    (
        (
            "[a-z][a-z0-9_-]{0,15}",
            "[a-zA-Z0-9_./-]{1,30}",
            prop::collection::vec("[^\0]{0,12}", 0..5),
            any::<u32>(),
        ),
        (
            prop::option::of("[a-z0-9_/]{1,12}"),
            prop::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", "[^\0]{0,10}", 0..4),
            arb_health(),
            // Numbers span their whole documented ranges (orchestrator::limits).
            limits::HEALTH_INTERVAL_MS,
            limits::STARTUP_TIMEOUT_MS,
        ),
        (
            prop_oneof![
                Just(RestartPolicy::Never),
                Just(RestartPolicy::OnFailure),
                Just(RestartPolicy::Always)
            ],
            limits::MAX_RESTARTS.prop_map(|n| n as u32),
            prop::sample::select(vec![
                "SIGTERM", "SIGINT", "TERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "15",
            ]),
            limits::STOP_TIMEOUT_MS,
            prop::collection::vec(
                prop::sample::select(vec!["src/**/*.rs", "*.toml", "assets/*", "**/*.{js,ts}"]),
                0..3,
            ),
        ),
    )
        .prop_map(
            |(
                (name, binary_path, args, priority),
                (cwd, env, health, hi, st),
                (restart, mr, sig, sto, watch),
            )| {
                DxToolDefinition {
                    name,
                    binary_path,
                    args,
                    priority,
                    dependencies: vec![],
                    dependency_conditions: BTreeMap::new(),
                    cwd: cwd.map(Into::into),
                    env_file: None,
                    env: env.into_iter().collect::<BTreeMap<_, _>>(),
                    health,
                    health_interval_ms: hi,
                    startup_timeout_ms: st,
                    restart,
                    max_restarts: mr,
                    stop_signal: sig.to_owned(),
                    stop_timeout_ms: sto,
                    watch: watch.into_iter().map(str::to_owned).collect(),
                }
            },
        )
}

/// Shared project for the process properties (tests run in parallel, so
/// property 2 uses tools `idem0..3` and property 3 uses `cold0..3`).
static SHARED: LazyLock<Project> = LazyLock::new(|| {
    let p = Project::new();
    for i in 0..4 {
        p.orch
            .register_tool(tool(&format!("idem{i}"), &[]))
            .unwrap();
        p.orch
            .register_tool(tool(&format!("cold{i}"), &[]))
            .unwrap();
    }
    p
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// Feature: binary-dawn, Property 1: Tool Registration Round-Trip
    #[test]
    fn property_1_tool_registration_round_trip(def in arb_definition(), deps in prop::collection::vec("[a-z]{1,6}", 0..3)) {
        let p = Project::new();
        let mut def = def;
        for d in &deps {
            let dep_name = format!("dep-{d}");
            if dep_name != def.name {
                p.orch.register_tool(DxToolDefinition::new(dep_name.clone(), "x")).unwrap();
                def.dependencies.push(dep_name);
            }
        }
        p.orch.register_tool(def.clone()).unwrap();
        let back = p.orch.definition(&def.name).unwrap();
        prop_assert_eq!(&back.name, &def.name);
        prop_assert_eq!(&back.binary_path, &def.binary_path);
        prop_assert_eq!(back.priority, def.priority);
        prop_assert_eq!(&back.dependencies, &def.dependencies);
        prop_assert_eq!(back, def);
    }

    /// Feature: binary-dawn, Property 2: Ensure Running Idempotence
    #[test]
    fn property_2_ensure_running_idempotence(tool in 0..4usize, calls in 1..8usize, threads in 1..4usize) {
        let p = &*SHARED;
        let name = format!("idem{tool}");
        let first = RT.block_on(p.orch.ensure_running(&name)).unwrap();
        let ToolStatus::Running(pid) = first else { panic!("{first:?}") };
        let handles: Vec<_> = (0..threads).map(|_| {
            let orch = p.orch.clone();
            let name = name.clone();
            std::thread::spawn(move || (0..calls).map(|_| RT.block_on(orch.ensure_running(&name)).unwrap()).collect::<Vec<_>>())
        }).collect();
        for h in handles {
            for status in h.join().unwrap() {
                prop_assert_eq!(status, ToolStatus::Running(pid));
            }
        }
        prop_assert_eq!(p.orch.status(&name).unwrap(), ToolStatus::Running(pid));
        prop_assert!(proc_state(pid).is_some_and(|s| s != 'Z'));
    }

    /// Feature: binary-dawn, Property 3: Stopped to Running Transition
    #[test]
    fn property_3_stopped_to_running_transition(tool in 0..4usize) {
        let p = &*SHARED;
        let name = format!("cold{tool}");
        RT.block_on(p.orch.stop(&name)).unwrap();
        prop_assert_eq!(p.orch.status(&name).unwrap(), ToolStatus::Stopped);
        let status = RT.block_on(p.orch.ensure_running(&name)).unwrap();
        let ToolStatus::Running(pid) = status else { panic!("{status:?}") };
        prop_assert_eq!(p.orch.status(&name).unwrap(), ToolStatus::Running(pid));
        prop_assert_eq!(p.orch.state(&name).unwrap().pid, Some(pid));
        prop_assert!(proc_state(pid).is_some_and(|s| s != 'Z'));
    }

    /// Feature: binary-dawn, Property 4: Tool Status Validity
    #[test]
    fn property_4_tool_status_validity(ops in prop::collection::vec((0..3usize, 0..3usize), 1..6)) {
        // Tools: a sleeper, one that exits at once (restart never), one that is missing.
        let p = Project::new();
        let mut quitter = tool("quitter", &["--exit", "1"]);
        quitter.restart = RestartPolicy::Never;
        p.orch.register_tools(vec![tool("sleeper", &[]), quitter, DxToolDefinition::new("missing", "./nope")]).unwrap();
        let names = ["sleeper", "quitter", "missing"];
        let check = |p: &Project| -> Result<(), TestCaseError> {
            for state in p.orch.states() {
                let valid = matches!(
                    state.status,
                    ToolStatus::Stopped | ToolStatus::Starting | ToolStatus::Running(_) | ToolStatus::Healthy | ToolStatus::Degraded
                );
                prop_assert!(valid);
                match state.status {
                    ToolStatus::Running(pid) => prop_assert_eq!(state.pid, Some(pid)),
                    ToolStatus::Stopped | ToolStatus::Degraded => prop_assert_eq!(state.pid, None),
                    _ => {}
                }
                prop_assert_eq!(p.orch.status(&state.name).unwrap().as_str().is_empty(), false);
            }
            Ok(())
        };
        check(&p)?;
        for (tool, op) in ops {
            let name = names[tool];
            match op {
                0 => { let _ = RT.block_on(p.orch.ensure_running(name)); }
                1 => { RT.block_on(p.orch.stop(name)).unwrap(); }
                _ => { let _ = RT.block_on(p.orch.restart(name)); }
            }
            check(&p)?;
        }
        RT.block_on(p.orch.stop_all()).unwrap();
        for name in names {
            let st = p.orch.status(name).unwrap();
            prop_assert!(st == ToolStatus::Stopped || st == ToolStatus::Degraded, "{} is {:?} after stop_all", name, st);
        }
    }
}
