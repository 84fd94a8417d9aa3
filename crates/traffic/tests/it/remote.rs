//! Registry items (shadcn registry-item JSON) from a real local HTTP server:
//! transitive installs, placement through aliases and tsconfig paths, import
//! rewriting, CRLF, merges on update, the ETag cache and offline mode, and
//! every registry error leaving the project untouched.

use std::collections::BTreeMap;
use std::path::Path;

use dxforge_traffic::remote::{RegistrySource, Sources};
use dxforge_traffic::{InstallOptions, InstallReport, TrafficError, TrafficLight, TrafficManager};

use crate::http::{Reply, Server};

fn item(name: &str, deps: &[&str], files: &[(&str, &str, &str)]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(path, kind, content)| {
            serde_json::json!({"path": path, "type": kind, "content": content})
        })
        .collect();
    serde_json::json!({
        "name": name,
        "type": "registry:ui",
        "registryDependencies": deps,
        "dependencies": ["clsx"],
        "cssVars": {"light": {}},
        "files": files,
    })
    .to_string()
}

const UTILS: &str = "export function cn(...a: string[]) {\n  return a.join(\" \")\n}\n";
const BUTTON: &str = "import { cn } from \"@/registry/demo/lib/utils\"\n\nexport function Button() {\n  return cn(\"a\", \"b\")\n}\n";
const CARD: &str = "import { Button } from \"@/registry/demo/ui/button\"\nimport { cn } from \"@/lib/utils\"\n\nexport const Card = () => Button()\n";

/// A server with utils <- button <- card under `/r/`.
fn demo_server() -> Server {
    let s = Server::start();
    s.route(
        "/r/utils.json",
        vec![Reply::ok(item(
            "utils",
            &[],
            &[("registry/demo/lib/utils.ts", "registry:lib", UTILS)],
        ))],
    );
    s.route(
        "/r/button.json",
        vec![Reply::ok(item(
            "button",
            &["utils"],
            &[("registry/demo/ui/button.tsx", "registry:ui", BUTTON)],
        ))],
    );
    s.route(
        "/r/card.json",
        vec![Reply::ok(item(
            "card",
            &["button"],
            &[("registry/demo/ui/card.tsx", "registry:ui", CARD)],
        ))],
    );
    s
}

struct Proj {
    dir: tempfile::TempDir,
    sources: Sources,
}

impl Proj {
    fn new(server: &Server) -> Proj {
        Self::with_headers(server, &BTreeMap::new())
    }

    fn with_headers(server: &Server, headers: &BTreeMap<String, String>) -> Proj {
        let dir = tempfile::tempdir().unwrap();
        let source =
            RegistrySource::new("@demo", &server.url("/r/{name}.json"), headers, dir.path())
                .unwrap();
        let mut sources = Sources::default();
        sources.registries.insert("@demo".into(), source);
        std::fs::write(dir.path().join("dxforge.toml"), "[dependencies]\n").unwrap();
        Proj { dir, sources }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn manager(&self) -> TrafficManager {
        TrafficManager::new(self.root().to_path_buf(), None).with_sources(self.sources.clone())
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn add(&self, id: &str) -> Result<InstallReport, TrafficError> {
        self.manager()
            .install_package(id, "", &InstallOptions::default())
    }

    fn update(&self, id: Option<&str>, offline: bool) -> Result<InstallReport, TrafficError> {
        let opts = InstallOptions {
            offline,
            ..InstallOptions::default()
        };
        self.manager().update(id, &BTreeMap::new(), &opts)
    }

    /// Every file under the root except `.dxforge/` and `dxforge.toml`.
    fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
        if rel == ".dxforge" {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out);
        } else if rel != "dxforge.toml" {
            out.push(rel);
        }
    }
}

#[test]
fn transitive_add_places_by_default_aliases_and_rewrites_imports() {
    let server = demo_server();
    let p = Proj::new(&server);
    let report = p.add("@demo/card").unwrap();
    let names: Vec<&str> = report.packages.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["@demo/button", "@demo/card", "@demo/utils"]);
    assert_eq!(
        p.files(),
        [
            "components/ui/button.tsx",
            "components/ui/card.tsx",
            "dxforge.lock",
            "lib/utils.ts"
        ]
    );
    assert!(
        p.read("components/ui/card.tsx")
            .contains("from \"@/components/ui/button\"")
    );
    assert!(
        p.read("components/ui/button.tsx")
            .contains("from \"@/lib/utils\"")
    );
    assert!(p.read("dxforge.toml").contains("\"@demo/card\" = \"*\""));
    let lock = p.read("dxforge.lock");
    assert!(
        lock.contains(&format!("source = \"{}\"", server.url("/r/card.json"))),
        "{lock}"
    );
    let card = report
        .items
        .iter()
        .find(|i| i.name == "@demo/card")
        .unwrap();
    assert_eq!(card.not_applied, ["cssVars"]);
    assert_eq!(card.dependencies, ["clsx"]);
}

#[test]
fn components_json_aliases_resolve_through_tsconfig_paths_in_a_src_layout() {
    let server = demo_server();
    let p = Proj::new(&server);
    p.write(
        "components.json",
        r#"{"aliases": {"components": "~/parts", "utils": "~/support/cn", "ui": "~/parts/base"}}"#,
    );
    p.write(
        "tsconfig.json",
        "{\n  // comments and trailing commas, as TypeScript allows\n  \"compilerOptions\": {\"paths\": {\"~/*\": [\"./src/*\"],},},\n}\n",
    );
    std::fs::create_dir_all(p.root().join("src")).unwrap();
    p.add("@demo/card").unwrap();
    let card = p.read("src/parts/base/card.tsx");
    assert!(card.contains("from \"~/parts/base/button\""), "{card}");
    assert!(card.contains("from \"~/support/cn\""), "{card}");
    assert!(
        p.read("src/parts/base/button.tsx")
            .contains("from \"~/support/cn\"")
    );
    // `lib` defaults to the folder of `utils`.
    assert!(p.root().join("src/support/utils.ts").exists());
}

#[test]
fn crlf_content_is_kept_and_merged_with_a_user_edit() {
    let server = Server::start();
    let v1 = "line one\r\nline two\r\nline three\r\nline four\r\n";
    let v2 = "line one\r\nline two\r\nline three\r\nline four upstream\r\n";
    let body = |c: &str| {
        item(
            "note",
            &[],
            &[("registry/demo/lib/note.ts", "registry:lib", c)],
        )
    };
    server.route("/r/note.json", vec![Reply::ok(body(v1))]);
    let p = Proj::new(&server);
    p.add("@demo/note").unwrap();
    assert_eq!(p.read("lib/note.ts"), v1);
    p.write(
        "lib/note.ts",
        "line one mine\r\nline two\r\nline three\r\nline four\r\n",
    );
    server.route("/r/note.json", vec![Reply::ok(body(v2))]);
    let report = p.update(Some("@demo/note"), false).unwrap();
    assert_eq!(report.files[0].light, TrafficLight::Yellow, "{report:?}");
    assert_eq!(
        p.read("lib/note.ts"),
        "line one mine\r\nline two\r\nline three\r\nline four upstream\r\n"
    );
}

#[test]
fn colliding_edit_is_red_with_a_side_file_and_the_users_copy_kept() {
    let server = demo_server();
    let p = Proj::new(&server);
    p.add("@demo/utils").unwrap();
    let mine = UTILS.replace("join(\" \")", "join(\"-\")");
    p.write("lib/utils.ts", &mine);
    let theirs = UTILS.replace("join(\" \")", "join(\"+\")");
    server.route(
        "/r/utils.json",
        vec![Reply::ok(item(
            "utils",
            &[],
            &[("registry/demo/lib/utils.ts", "registry:lib", &theirs)],
        ))],
    );
    let diff = p
        .manager()
        .diff(Some("@demo/utils"), &BTreeMap::new())
        .unwrap();
    assert!(diff.has_red());
    assert!(
        !p.root().join("lib/utils.ts.new").exists(),
        "diff writes nothing"
    );
    let report = p.update(Some("@demo/utils"), false).unwrap();
    assert!(report.has_red());
    assert_eq!(p.read("lib/utils.ts"), mine);
    assert_eq!(p.read("lib/utils.ts.new"), theirs);
}

#[test]
fn etag_revalidation_then_offline_update_from_the_cache() {
    let server = Server::start();
    let body = item(
        "utils",
        &[],
        &[("registry/demo/lib/utils.ts", "registry:lib", UTILS)],
    );
    server.route(
        "/r/utils.json",
        vec![Reply::ok(body).header("ETag", "\"v1\"")],
    );
    let p = Proj::new(&server);
    p.add("@demo/utils").unwrap();
    let lock = p.read("dxforge.lock");
    assert!(
        lock.lines()
            .any(|l| l.starts_with("etag = ") && l.contains("v1")),
        "{lock}"
    );
    let report = p.update(Some("@demo/utils"), false).unwrap();
    assert!(
        report.items[0].from_cache,
        "304 answers come from the cache"
    );
    let requests = server.requests_to("/r/utils.json");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    // The registry is gone: offline still works, online does not.
    server.route("/r/utils.json", vec![Reply::status(404)]);
    let offline = p.update(Some("@demo/utils"), true).unwrap();
    assert!(offline.items[0].from_cache);
    assert_eq!(
        server.requests_to("/r/utils.json").len(),
        2,
        "offline sent nothing"
    );
    let err = p.add("@demo/button").unwrap_err().to_string();
    assert!(err.contains("/r/button.json"), "{err}");
    let p2 = Proj::new(&server);
    let opts = InstallOptions {
        offline: true,
        ..Default::default()
    };
    let err = p2
        .manager()
        .install_package("@demo/utils", "", &opts)
        .unwrap_err();
    assert!(
        err.to_string().contains("offline and not in the cache"),
        "{err}"
    );
}

#[test]
fn header_values_from_the_environment_are_sent_and_never_shown() {
    // PATH is always set; its value stands in for a secret that must never be echoed.
    let secret = std::env::var("PATH").unwrap();
    let server = demo_server();
    server.require_header("x-registry-token", &secret);
    let headers: BTreeMap<String, String> =
        [("X-Registry-Token".to_string(), "${PATH}".to_string())].into();
    let p = Proj::with_headers(&server, &headers);
    let report = p.add("@demo/card").unwrap();
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(&secret));
    assert!(!p.read("dxforge.lock").contains(&secret));
    assert!(!p.read("dxforge.toml").contains(&secret));
    let err = p.add("@demo/missing").unwrap_err().to_string();
    assert!(err.contains("404") && !err.contains(&secret), "{err}");
    let debug = format!("{:?}", p.sources);
    assert!(
        !debug.contains(&secret),
        "the config holds the template only"
    );
    let missing: BTreeMap<String, String> = [(
        "Authorization".to_string(),
        "Bearer ${DXFORGE_TEST_UNSET_TOKEN}".to_string(),
    )]
    .into();
    let p = Proj::with_headers(&server, &missing);
    let err = p.add("@demo/card").unwrap_err().to_string();
    assert!(err.contains("DXFORGE_TEST_UNSET_TOKEN"), "{err}");
}

#[test]
fn a_server_error_is_retried_until_it_succeeds() {
    let server = demo_server();
    let body = item(
        "utils",
        &[],
        &[("registry/demo/lib/utils.ts", "registry:lib", UTILS)],
    );
    server.route(
        "/r/utils.json",
        vec![Reply::status(500), Reply::status(503), Reply::ok(body)],
    );
    let p = Proj::new(&server);
    p.add("@demo/utils").unwrap();
    assert_eq!(server.requests_to("/r/utils.json").len(), 3);
    assert_eq!(p.read("lib/utils.ts"), UTILS);
}

/// `add @demo/bad` against `reply` fails naming the URL and `expect`, writing nothing.
fn refused(reply: Reply, expect: &str) {
    let server = demo_server();
    server.route("/r/bad.json", vec![reply]);
    let p = Proj::new(&server);
    let err = p.add("@demo/bad").unwrap_err().to_string();
    assert!(err.contains(&server.url("/r/bad.json")), "{err}");
    assert!(err.contains(expect), "{err}");
    assert!(p.files().is_empty(), "{:?}", p.files());
    assert_eq!(p.read("dxforge.toml"), "[dependencies]\n");
}

#[test]
fn registry_errors_are_clear_and_write_nothing() {
    refused(Reply::status(404), "HTTP 404");
    refused(Reply::status(500), "HTTP 500");
    refused(Reply::ok("{ not json"), "not valid JSON");
    refused(
        Reply::ok(item(
            "bad",
            &[],
            &[("registry/../../etc/x.ts", "registry:lib", "x")],
        )),
        "contains `..`",
    );
    refused(Reply::ok(vec![b' '; 9 << 20]), "larger than");
    refused(
        Reply::status(302).header("Location", "/r/bad.json"),
        "redirect",
    );
    // A dependency that fails stops the whole add.
    let server = demo_server();
    server.route(
        "/r/top.json",
        vec![Reply::ok(item(
            "top",
            &["gone"],
            &[("registry/demo/ui/top.tsx", "registry:ui", "x\n")],
        ))],
    );
    let p = Proj::new(&server);
    let err = p.add("@demo/top").unwrap_err().to_string();
    assert!(err.contains("/r/gone.json"), "{err}");
    assert!(p.files().is_empty());
}

#[test]
fn dependency_cycles_are_refused() {
    let server = Server::start();
    server.route("/r/a.json", vec![Reply::ok(item("a", &["b"], &[]))]);
    server.route("/r/b.json", vec![Reply::ok(item("b", &["a"], &[]))]);
    let p = Proj::new(&server);
    let err = p.add("@demo/a").unwrap_err();
    assert!(matches!(err, TrafficError::DependencyCycle { .. }), "{err}");
    assert!(
        err.to_string().contains("@demo/a -> @demo/b -> @demo/a"),
        "{err}"
    );
}

#[test]
fn items_by_url_and_by_file() {
    let server = demo_server();
    let p = Proj::new(&server);
    let url = server.url("/r/button.json");
    p.add(&url).unwrap();
    // The bare dependency resolves next to the URL.
    assert!(
        p.read("dxforge.lock")
            .contains(&server.url("/r/utils.json"))
    );
    assert!(
        p.read("dxforge.toml")
            .contains(&format!("\"{url}\" = \"*\""))
    );
    p.write(
        "items/hook.json",
        &item(
            "hook",
            &[],
            &[(
                "registry/demo/hooks/use-x.ts",
                "registry:hook",
                "export {}\n",
            )],
        ),
    );
    p.add("./items/hook.json").unwrap();
    assert_eq!(p.read("hooks/use-x.ts"), "export {}\n");
}

#[test]
fn every_prefix_of_a_published_item_parses_or_errors_without_panicking() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shadcn-registry/r");
    for name in ["login-page.json", "use-toggle.json"] {
        let body = std::fs::read(path.join(name)).unwrap();
        let full = dxforge_traffic::remote::item::parse_item("x", &body).unwrap();
        assert!(!full.files.is_empty());
        let ok = (0..body.trim_ascii_end().len())
            .filter(|n| dxforge_traffic::remote::item::parse_item("x", &body[..*n]).is_ok())
            .count();
        assert_eq!(ok, 0, "a truncated item must not parse");
    }
}

#[test]
fn a_built_static_registry_installs_the_same_files_as_its_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry");
    let out = tempfile::tempdir().unwrap();
    let report = dxforge_traffic::remote::build::build_static(&dir, out.path()).unwrap();
    assert_eq!(report.packages["button"], ["1.0.0", "1.2.0", "1.3.0"]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["packages"]["utils"],
        serde_json::json!(["1.0.0", "1.1.0"])
    );
    let server = Server::start();
    let mut built = Vec::new();
    walk(out.path(), out.path(), &mut built);
    for rel in &built {
        let body = std::fs::read(out.path().join(rel)).unwrap();
        server.route(&format!("/r/{rel}"), vec![Reply::ok(body)]);
    }
    let remote = Proj::new(&server);
    remote.add("@demo/button").unwrap();
    let local = tempfile::tempdir().unwrap();
    TrafficManager::new(local.path().to_path_buf(), Some(dir.clone()))
        .install_package("button", "", &InstallOptions::default())
        .unwrap();
    for rel in [
        "components/ui/button.tsx",
        "components/ui/button.css",
        "lib/utils.ts",
    ] {
        assert_eq!(
            std::fs::read(local.path().join(rel)).unwrap(),
            remote.read(rel).into_bytes(),
            "{rel}"
        );
    }
    // A versioned item installs by URL too; a tampered file is refused.
    let p = Proj::new(&server);
    p.add(&server.url("/r/button/1.2.0.json")).unwrap();
    let body = std::fs::read_to_string(out.path().join("utils/1.0.0.json")).unwrap();
    server.route(
        "/r/utils/1.0.0.json",
        vec![Reply::ok(body.replace("export", "exp0rt"))],
    );
    let err = p
        .add(&server.url("/r/utils/1.0.0.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its blake3"), "{err}");
}

#[test]
fn a_relative_directory_registry_serves_items_and_dry_runs_write_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shadcn-registry/r");
    std::fs::create_dir_all(dir.path().join("vendor")).unwrap();
    for name in ["card", "button", "utils"] {
        std::fs::copy(
            fixture.join(format!("{name}.json")),
            dir.path().join(format!("vendor/{name}.json")),
        )
        .unwrap();
    }
    let source = RegistrySource::new("@local", "./vendor", &BTreeMap::new(), dir.path()).unwrap();
    let mut sources = Sources::default();
    sources.registries.insert("@local".into(), source);
    let manager = TrafficManager::new(dir.path().to_path_buf(), None).with_sources(sources);
    let dry = InstallOptions {
        dry_run: true,
        ..InstallOptions::default()
    };
    let plan = manager.install_package("@local/card", "", &dry).unwrap();
    assert_eq!(plan.files.len(), 3);
    assert!(
        !dir.path().join(".dxforge").exists(),
        "a dry run creates no state"
    );
    assert!(!dir.path().join("components").exists());
    manager
        .install_package("@local/card", "", &InstallOptions::default())
        .unwrap();
    let card = std::fs::read_to_string(dir.path().join("components/ui/card.tsx")).unwrap();
    assert!(card.contains("from \"@/components/ui/button\""), "{card}");
}

#[test]
fn semver_requirements_resolve_through_a_built_registrys_index() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry");
    let out = tempfile::tempdir().unwrap();
    dxforge_traffic::remote::build::build_static(&dir, out.path()).unwrap();
    let server = Server::start();
    let mut built = Vec::new();
    walk(out.path(), out.path(), &mut built);
    for rel in &built {
        let body = std::fs::read(out.path().join(rel)).unwrap();
        server.route(&format!("/r/{rel}"), vec![Reply::ok(body)]);
    }
    let remote = Proj::new(&server);
    let report = remote
        .manager()
        .install_package("@demo/button", "~1.2", &InstallOptions::default())
        .unwrap();
    let versions: Vec<String> = report
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert_eq!(versions, ["@demo/button@1.2.0", "@demo/utils@1.1.0"]);
    let toml = remote.read("dxforge.toml");
    assert!(toml.contains("\"@demo/button\" = \"~1.2\""), "{toml}");
    assert!(
        remote
            .read("dxforge.lock")
            .contains(&server.url("/r/button/1.2.0.json"))
    );
    let local = tempfile::tempdir().unwrap();
    TrafficManager::new(local.path().to_path_buf(), Some(dir.clone()))
        .install_package("button", "~1.2", &InstallOptions::default())
        .unwrap();
    for rel in [
        "components/ui/button.tsx",
        "components/ui/button.css",
        "lib/utils.ts",
    ] {
        assert_eq!(
            std::fs::read(local.path().join(rel)).unwrap(),
            remote.read(rel).into_bytes(),
            "{rel}"
        );
    }
    // `update` keeps the requirement recorded in [dependencies].
    let deps: BTreeMap<String, String> = [("@demo/button".to_string(), "~1.2".to_string())].into();
    let update = remote
        .manager()
        .update(None, &deps, &InstallOptions::default())
        .unwrap();
    assert!(
        update.packages.iter().all(|p| p.version != "1.3.0"),
        "{update:?}"
    );
    let err = remote
        .manager()
        .install_package("@demo/card", "^9", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, TrafficError::NoMatchingVersion { .. }),
        "{err}"
    );
}
