//! Dependency conditions (`started`, `healthy`, `completed_successfully`)
//! and the environment a tool gets (`env_file`s, `env`, `${VAR}`), with
//! real `sh` processes.

use std::collections::BTreeMap;

use dxforge_orchestrator::{
    DependencyCondition, DxToolDefinition, HealthCheck, Orchestrator, OrchestratorConfig,
    OrchestratorError, RestartPolicy, ToolStatus,
};

use crate::common::{Project, RT, wait_until};

/// A `sh -c SCRIPT` tool run in the project root.
fn sh(name: &str, script: &str) -> DxToolDefinition {
    let mut def = DxToolDefinition::new(name, "/bin/sh");
    def.args = vec!["-c".into(), script.into()];
    def.stop_timeout_ms = 2_000;
    def
}

fn depends(
    mut def: DxToolDefinition,
    dep: &str,
    condition: DependencyCondition,
) -> DxToolDefinition {
    def.dependencies.push(dep.to_owned());
    def.dependency_conditions.insert(dep.to_owned(), condition);
    def
}

fn read(p: &Project, name: &str) -> String {
    std::fs::read_to_string(p.path(name)).unwrap_or_default()
}

#[test]
fn a_one_shot_dependency_runs_to_success_before_its_dependent_starts_and_only_once() {
    let p = Project::new();
    let mut migrate = sh(
        "migrate",
        "echo run >> migrate-runs; sleep 0.3; touch migrated",
    );
    migrate.restart = RestartPolicy::Never;
    let web = depends(
        sh(
            "web",
            "if [ -e migrated ]; then echo after; else echo before; fi >> web-saw; exec sleep 1000",
        ),
        "migrate",
        DependencyCondition::CompletedSuccessfully,
    );
    p.orch.register_tools(vec![migrate, web]).unwrap();
    let status = p.block(p.orch.ensure_running("web")).unwrap();
    assert!(matches!(status, ToolStatus::Running(_)), "{status:?}");
    wait_until(30, "web's first line", || {
        read(&p, "web-saw").ends_with('\n')
    });
    assert_eq!(read(&p, "web-saw"), "after\n");
    assert_eq!(p.orch.status("migrate").unwrap(), ToolStatus::Stopped);
    // Restarting the dependent does not run a completed migration again.
    p.block(p.orch.restart("web")).unwrap();
    wait_until(30, "web's second line", || {
        read(&p, "web-saw").lines().count() == 2
    });
    assert_eq!(read(&p, "web-saw"), "after\nafter\n");
    assert_eq!(read(&p, "migrate-runs"), "run\n");
    // `run` of the dependent honours the condition too (already met).
    let out = p
        .block(
            p.orch
                .execute_tool("web", &["-c".into(), "echo ran".into()]),
        )
        .unwrap();
    assert_eq!(out.stdout, b"ran\n");
    assert_eq!(read(&p, "migrate-runs"), "run\n");
}

#[test]
fn a_one_shot_dependency_that_fails_fails_its_dependent_naming_both() {
    let p = Project::new();
    let mut migrate = sh("migrate", "exit 3");
    migrate.restart = RestartPolicy::Never;
    let web = depends(
        sh("web", "touch web-started; exec sleep 1000"),
        "migrate",
        DependencyCondition::CompletedSuccessfully,
    );
    p.orch.register_tools(vec![migrate, web]).unwrap();
    let err = p.block(p.orch.ensure_running("web")).unwrap_err();
    let OrchestratorError::DependencyNotCompleted {
        tool,
        dependency,
        outcome,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((tool.as_str(), dependency.as_str()), ("web", "migrate"));
    assert!(outcome.contains("exited with status 3"), "{outcome}");
    let msg = err.to_string();
    assert!(msg.contains("`web`") && msg.contains("`migrate`"), "{msg}");
    assert_eq!(p.orch.status("web").unwrap(), ToolStatus::Stopped);
    assert!(!p.path("web-started").exists());
}

#[test]
fn a_one_shot_dependency_with_restarts_fails_its_dependent_at_its_first_bad_exit() {
    let p = Project::new();
    let mut migrate = sh("migrate", "exit 4");
    migrate.restart = RestartPolicy::OnFailure;
    migrate.max_restarts = 10;
    let web = depends(
        sh("web", "exec sleep 1000"),
        "migrate",
        DependencyCondition::CompletedSuccessfully,
    );
    p.orch.register_tools(vec![migrate, web]).unwrap();
    let started = std::time::Instant::now();
    let err = p.block(p.orch.ensure_running("web")).unwrap_err();
    assert!(err.to_string().contains("exited with status 4"), "{err}");
    // Not after ten restarts with backoff (100 ms doubling: over 100 s).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_started_condition_does_not_wait_for_the_dependency_health_check() {
    let p = Project::new();
    let mut db = sh("db", "exec sleep 1000");
    db.health = Some(HealthCheck::Command(vec![
        "/bin/sh".into(),
        "-c".into(),
        "test -e db-ready".into(),
    ]));
    db.health_interval_ms = 20;
    db.startup_timeout_ms = 60_000;
    let web = depends(
        sh("web", "exec sleep 1000"),
        "db",
        DependencyCondition::Started,
    );
    p.orch.register_tools(vec![db, web]).unwrap();
    let status = p.block(p.orch.ensure_running("web")).unwrap();
    assert!(matches!(status, ToolStatus::Running(_)), "{status:?}");
    assert_eq!(p.orch.status("db").unwrap(), ToolStatus::Starting);
    std::fs::write(p.path("db-ready"), "").unwrap();
    wait_until(30, "db healthy", || {
        p.orch.status("db").unwrap() == ToolStatus::Healthy
    });
}

#[test]
fn conditions_a_dependency_cannot_meet_are_refused_at_registration() {
    let p = Project::new();
    let db = sh("db", "exec sleep 1000");
    let web = depends(
        sh("web", "exec sleep 1000"),
        "db",
        DependencyCondition::Healthy,
    );
    let err = p.orch.register_tools(vec![db.clone(), web]).unwrap_err();
    assert!(
        err.to_string().contains("`db` with condition `healthy`"),
        "{err}"
    );
    assert!(err.to_string().contains("no health check"), "{err}");
    let mut always = db;
    always.restart = RestartPolicy::Always;
    let web = depends(
        sh("web", "exec sleep 1000"),
        "db",
        DependencyCondition::CompletedSuccessfully,
    );
    let err = p.orch.register_tools(vec![always, web]).unwrap_err();
    assert!(err.to_string().contains("restart = \"always\""), "{err}");
    // A condition on a tool that is not a dependency.
    let mut web = sh("web", "exec sleep 1000");
    web.dependency_conditions
        .insert("db".into(), DependencyCondition::Started);
    let err = p.orch.register_tool(web).unwrap_err();
    assert!(err.to_string().contains("not in `dependencies`"), "{err}");
    assert!(p.orch.tool_names().is_empty(), "nothing was registered");
}

/// An orchestrator over `p`'s root with a project env file.
fn with_project_env(p: &Project, env_file: &str) -> Orchestrator {
    Orchestrator::new(OrchestratorConfig {
        root: p.root().to_path_buf(),
        log_dir: p.path(".dxforge/logs"),
        log_max_bytes: 1 << 20,
        recent_lines: 100,
        runtime: RT.handle().clone(),
        env_file: Some(env_file.to_owned()),
    })
}

#[test]
fn env_files_env_and_expansion_apply_in_their_documented_precedence() {
    let p = Project::new();
    std::fs::write(
        p.path(".env"),
        "A=project\nB=project\nC=project\n# a comment\nQ=\"quoted value\"\n",
    )
    .unwrap();
    std::fs::write(p.path(".env.tool"), "B=tool\nC=tool\n").unwrap();
    let orch = with_project_env(&p, ".env");
    let mut def = sh("show", "");
    def.env_file = Some(".env.tool".into());
    def.env = BTreeMap::from([
        ("C".into(), "env-${A}".into()),
        ("D".into(), "${UNSET_IN_TEST:-fallback} $${HOME}".into()),
    ]);
    orch.register_tool(def).unwrap();
    let args: Vec<String> = vec![
        "-c".into(),
        "echo \"$A|$B|$C|$D|$Q|$1\"".into(),
        "sh".into(),
        "${B}-${Q}".into(),
    ];
    let out = RT.block_on(orch.execute_tool("show", &args)).unwrap();
    orch.shutdown_blocking();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "project|tool|env-project|fallback ${HOME}|quoted value|tool-quoted value\n"
    );
}

#[test]
fn a_missing_or_escaping_env_file_and_an_undefined_variable_are_errors_naming_them() {
    let p = Project::new();
    let mut def = sh("show", "echo hi");
    def.env_file = Some("nope.env".into());
    p.orch.register_tool(def.clone()).unwrap();
    let err = p.block(p.orch.execute_tool("show", &def.args)).unwrap_err();
    assert!(matches!(err, OrchestratorError::EnvFile { .. }), "{err:?}");
    assert!(
        err.to_string().contains("nope.env") && err.to_string().contains("`show`"),
        "{err}"
    );
    // The start of a supervised tool fails the same way: Degraded, naming it.
    let err = p.block(p.orch.ensure_running("show")).unwrap_err();
    assert!(err.to_string().contains("nope.env"), "{err}");
    assert_eq!(p.orch.status("show").unwrap(), ToolStatus::Degraded);
    // Outside the project, through a link, or into .git: refused.
    std::fs::write(p.root().parent().unwrap().join("outside.env"), "X=1\n").ok();
    std::os::unix::fs::symlink("/etc/hostname", p.path("link.env")).unwrap();
    std::fs::create_dir_all(p.path(".git")).unwrap();
    std::fs::write(p.path(".git/x.env"), "X=1\n").unwrap();
    for bad in ["../outside.env", "link.env", ".git/x.env", "/etc/hostname"] {
        def.env_file = Some(bad.into());
        p.orch.register_tool(def.clone()).unwrap();
        let err = p.block(p.orch.execute_tool("show", &def.args)).unwrap_err();
        assert!(
            matches!(err, OrchestratorError::EnvFile { .. }),
            "{bad}: {err:?}"
        );
    }
    def.env_file = None;
    def.args = vec!["-c".into(), "echo ${NOT_DEFINED_ANYWHERE}".into()];
    p.orch.register_tool(def.clone()).unwrap();
    let err = p.block(p.orch.execute_tool("show", &def.args)).unwrap_err();
    let OrchestratorError::Expansion { tool, key, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((tool.as_str(), key.as_str()), ("show", "args[1]"));
    assert!(reason.contains("NOT_DEFINED_ANYWHERE"), "{reason}");
    def.args = vec!["-c".into(), "true".into()];
    def.env = BTreeMap::from([("X".into(), "a ${ALSO_NOT_DEFINED}".into())]);
    p.orch.register_tool(def.clone()).unwrap();
    let err = p.block(p.orch.execute_tool("show", &def.args)).unwrap_err();
    assert!(err.to_string().contains("key `env.X`"), "{err}");
}
