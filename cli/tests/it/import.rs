//! `init --from Procfile` and `init --from process-compose.yaml`.

use crate::support::{Project, text};

fn project(prefix: &str, name: &str, content: &str) -> Project {
    let p = Project::new(prefix, "");
    std::fs::remove_file(p.path("dxforge.toml")).unwrap();
    std::fs::write(p.path(name), content).unwrap();
    p
}

fn config(p: &Project) -> toml::Table {
    std::fs::read_to_string(p.path("dxforge.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

const PROCFILE: &str = "\
# the web tier
web: ./bin/web --port 5000 'two words'

greet: printf '%s-%s\\n' hello world | tr a-z A-Z
   # indented comment
worker: env RAILS_ENV=production sleep 30
";

#[test]
fn procfile_converts_and_the_tools_run() {
    let p = project("dx-procfile", "Procfile", PROCFILE);
    let out = p.dx(&["init", "--from", "Procfile"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 tools"),
        "{}",
        text(&out)
    );
    let t = config(&p);
    let tools = t["tools"].as_table().unwrap();
    assert_eq!(tools["web"]["binary_path"].as_str(), Some("./bin/web"));
    let args: Vec<&str> = tools["web"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["--port", "5000", "two words"]);
    assert_eq!(tools["greet"]["binary_path"].as_str(), Some("sh"));
    assert_eq!(tools["worker"]["binary_path"].as_str(), Some("env"));
    assert!(p.path(".dxforge").is_dir());
    // The file is one dxforge loads, and a converted shell pipeline runs as written.
    let run = p.dx(&["run", "greet"]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("HELLO-WORLD"),
        "{}",
        text(&run)
    );
}

#[test]
fn an_existing_config_is_kept_unless_forced() {
    let p = project("dx-procfile-force", "Procfile", "web: ./web\n");
    std::fs::write(p.path("dxforge.toml"), "this is [ not toml").unwrap();
    let out = p.dx(&["init", "--from", "Procfile"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(p.path("dxforge.toml")).unwrap(),
        "this is [ not toml"
    );
    // --force replaces it, even though it no longer loads.
    let out = p.dx(&["init", "--from", "Procfile", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(config(&p)["tools"]["web"].is_table());
    let no_from = p.dx(&["init", "--force"]);
    assert_eq!(no_from.status.code(), Some(2), "{}", text(&no_from));
}

#[test]
fn malformed_input_names_the_file_and_line_and_writes_nothing() {
    let p = project(
        "dx-procfile-bad",
        "Procfile",
        "web: ./web\n\nthis line has no colon\n",
    );
    let out = p.dx(&["init", "--from", "Procfile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("Procfile:3:"), "{}", text(&out));
    assert!(!p.path("dxforge.toml").exists());

    std::fs::write(
        p.path("pc.yaml"),
        "processes:\n  web:\n    command: ./web\n    environment: [\"A=1\"\n",
    )
    .unwrap();
    let out = p.dx(&["init", "--from", "pc.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(
        shown.contains("pc.yaml:5:") || shown.contains("pc.yaml:4:"),
        "{shown}"
    );
    assert!(!p.path("dxforge.toml").exists());

    std::fs::write(
        p.path("pc.yaml"),
        "processes:\n  web:\n    working_dir: .\n",
    )
    .unwrap();
    let out = p.dx(&["init", "--from", "pc.yaml"]);
    assert!(
        text(&out).contains("processes.web") && text(&out).contains("command"),
        "{}",
        text(&out)
    );
    let out = p.dx(&["init", "--from", "notes.txt"]);
    assert!(text(&out).contains("notes.txt"), "{}", text(&out));
}

const COMPOSE: &str = r#"
version: "0.5"
log_level: debug
environment:
  - "SHARED=yes"
processes:
  db:
    command: "./bin/db --port 5433"
    readiness_probe:
      exec:
        command: "./bin/db-ready"
      period_seconds: 2
      failure_threshold: 3
  migrate:
    command: "./bin/migrate up && echo done"
    depends_on:
      db:
        condition: process_healthy
    availability:
      restart: "no"
  web:
    command: "./bin/web"
    working_dir: "./app"
    environment:
      - "PORT=8080"
    depends_on:
      migrate:
        condition: process_completed_successfully
      db:
        condition: process_log_ready
    readiness_probe:
      http_get:
        host: 127.0.0.1
        port: 8080
        path: /health
    availability:
      restart: on_failure
      max_restarts: 3
      backoff_seconds: 2
    shutdown:
      signal: 2
      timeout_seconds: 10
      command: "./bin/drain"
    replicas: 2
"#;

#[test]
fn process_compose_converts_and_lists_what_it_could_not() {
    let p = project("dx-compose", "process-compose.yaml", COMPOSE);
    let out = p.dx(&["--json", "init", "--from", "process-compose.yaml"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut not: Vec<&str> = doc["not_converted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    not.sort();
    let expected = [
        "log_level",
        "processes.db.readiness_probe.failure_threshold",
        "processes.web.availability.backoff_seconds",
        "processes.web.depends_on.db.condition = process_log_ready",
        "processes.web.replicas",
        "processes.web.shutdown.command",
    ];
    assert_eq!(not.len(), expected.len(), "{not:?}");
    for (got, want) in not.iter().zip(expected) {
        assert!(got.starts_with(want), "{got} vs {want}");
    }
    let file = std::fs::read_to_string(p.path("dxforge.toml")).unwrap();
    assert!(
        file.contains("#   processes.web.shutdown.command"),
        "{file}"
    );
    let t = config(&p);
    let tools = t["tools"].as_table().unwrap();
    let db = &tools["db"];
    assert_eq!(db["health"]["command"][0].as_str(), Some("./bin/db-ready"));
    assert_eq!(db["health_interval_ms"].as_integer(), Some(2000));
    assert_eq!(db["env"]["SHARED"].as_str(), Some("yes"));
    let migrate = &tools["migrate"];
    assert_eq!(migrate["binary_path"].as_str(), Some("sh"));
    assert_eq!(migrate["restart"].as_str(), Some("never"));
    // healthy is dxforge's default for a dependency with a health check: a plain name.
    assert_eq!(migrate["dependencies"][0].as_str(), Some("db"));
    let web = &tools["web"];
    assert_eq!(web["cwd"].as_str(), Some("./app"));
    assert_eq!(web["env"]["PORT"].as_str(), Some("8080"));
    assert_eq!(web["env"]["SHARED"].as_str(), Some("yes"));
    assert_eq!(
        web["health"]["http"].as_str(),
        Some("http://127.0.0.1:8080/health")
    );
    assert_eq!(web["restart"].as_str(), Some("on-failure"));
    assert_eq!(web["max_restarts"].as_integer(), Some(3));
    assert_eq!(web["stop_signal"].as_str(), Some("SIGINT"));
    assert_eq!(web["stop_timeout_ms"].as_integer(), Some(10_000));
    let deps = web["dependencies"].as_array().unwrap();
    let migrate_dep = deps
        .iter()
        .find(|d| d.get("name").and_then(|n| n.as_str()) == Some("migrate"))
        .expect("migrate dependency with its condition");
    assert_eq!(
        migrate_dep["condition"].as_str(),
        Some("completed_successfully")
    );
    // The unsupported condition kept the dependency, as `started` (db has a health
    // check, so `started` is written out).
    assert!(
        deps.iter()
            .any(|d| d.get("name").and_then(|n| n.as_str()) == Some("db")
                && d["condition"].as_str() == Some("started"))
    );
}

#[test]
fn unknown_dependency_and_oversized_input_are_refused() {
    let p = project(
        "dx-compose-bad",
        "pc.yaml",
        "processes:\n  web:\n    command: ./web\n    depends_on:\n      ghost: {}\n",
    );
    let out = p.dx(&["init", "--from", "pc.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("ghost") && text(&out).contains("pc.yaml"),
        "{}",
        text(&out)
    );
    std::fs::write(p.path("Procfile"), "a: b\n".repeat(300_000)).unwrap();
    let out = p.dx(&["init", "--from", "Procfile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("larger than"), "{}", text(&out));
    assert!(!p.path("dxforge.toml").exists());
}
