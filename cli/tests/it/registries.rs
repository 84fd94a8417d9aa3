//! `dxforge add/update/diff` of registry items through the binary, against a
//! real local HTTP server: exit 3 on Red, secrets from the environment never
//! printed, `--offline` served from the cache.

use crate::http::{Reply, Server};
use crate::support::Project;

fn item(content: &str) -> String {
    serde_json::json!({
        "name": "utils",
        "type": "registry:lib",
        "tailwind": {},
        "files": [{"path": "registry/x/lib/utils.ts", "type": "registry:lib", "content": content}],
    })
    .to_string()
}

#[test]
fn registry_item_add_update_red_exit_3_and_secret_header_never_printed() {
    let secret = "s3cr3t-token-value";
    let server = Server::start();
    server.require_header("authorization", &format!("Bearer {secret}"));
    server.route("/r/utils.json", vec![Reply::ok(item("a\nb\nc\n"))]);
    let config = format!(
        "[registries]\n\"@acme\" = {{ url = \"{}\", headers = {{ Authorization = \"Bearer ${{DXF_REG_TOKEN}}\" }} }}\n",
        server.url("/r/{name}.json")
    );
    let p = Project::new("dx-reg", &config);
    let run = |args: &[&str]| {
        let out = p.cmd(args).env("DXF_REG_TOKEN", secret).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "secret printed: {all}");
        (out.status.code(), all)
    };
    let (code, text) = run(&["add", "@acme/utils"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("GREEN   lib/utils.ts"), "{text}");
    assert!(text.contains("not applied: tailwind"), "{text}");
    let (code, text) = run(&["--json", "add", "@acme/utils"]);
    assert_eq!(code, Some(0), "{text}");
    // Without the variable: a clear error naming it, exit non-zero.
    let out = p
        .cmd(&["add", "@acme/utils"])
        .env_remove("DXF_REG_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DXF_REG_TOKEN"));

    std::fs::write(p.path("lib/utils.ts"), "a\nmine\nc\n").unwrap();
    server.route("/r/utils.json", vec![Reply::ok(item("a\ntheirs\nc\n"))]);
    let (code, text) = run(&["diff", "@acme/utils"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(!p.path("lib/utils.ts.new").exists());
    let (code, text) = run(&["update", "@acme/utils"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("RED     lib/utils.ts"), "{text}");
    assert_eq!(
        std::fs::read_to_string(p.path("lib/utils.ts")).unwrap(),
        "a\nmine\nc\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.path("lib/utils.ts.new")).unwrap(),
        "a\ntheirs\nc\n"
    );
    for f in ["dxforge.lock", "dxforge.toml"] {
        assert!(!std::fs::read_to_string(p.path(f)).unwrap().contains(secret));
    }
    // Offline: the cache answers, the server sees nothing more.
    let before = server.seen().len();
    let (code, text) = run(&["update", "--offline", "@acme/utils"]);
    assert_eq!(code, Some(3), "{text}");
    assert_eq!(server.seen().len(), before);
}
