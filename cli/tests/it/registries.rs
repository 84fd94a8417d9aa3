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

/// The local S3-compatible server of `scripts/s3-server.sh` (`DXFORGE_TEST_S3_*`);
/// `None` with `DXFORGE_SKIP_S3=1`.
fn s3_env() -> Option<[String; 4]> {
    if std::env::var_os("DXFORGE_SKIP_S3").is_some() {
        return None;
    }
    let var = |n: &str| {
        std::env::var(n).unwrap_or_else(|_| {
            panic!("{n} is not set: run eval \"$(scripts/s3-server.sh start)\" or set DXFORGE_SKIP_S3=1")
        })
    };
    Some([
        var("DXFORGE_TEST_S3_ENDPOINT"),
        var("DXFORGE_TEST_S3_ACCESS_KEY"),
        var("DXFORGE_TEST_S3_SECRET_KEY"),
        var("DXFORGE_TEST_S3_BUCKET"),
    ])
}

#[test]
fn s3_registry_items_install_with_credentials_from_the_environment() {
    use object_store::aws::AmazonS3Builder;
    use object_store::path::Path as ObjectPath;
    use object_store::{ClientOptions, ObjectStoreExt, PutPayload};

    let Some([endpoint, key, secret, bucket]) = s3_env() else {
        eprintln!("DXFORGE_SKIP_S3 set: skipping the s3:// registry test");
        return;
    };
    let prefix = format!(
        "registry-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_bucket_name(&bucket)
        .with_region("auto")
        .with_access_key_id(&key)
        .with_secret_access_key(&secret)
        .with_virtual_hosted_style_request(false)
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = item("from the bucket\n");
    rt.block_on(store.put(
        &ObjectPath::from(format!("{prefix}/utils.json")),
        PutPayload::from(body.into_bytes()),
    ))
    .unwrap();
    let config = format!(
        "[remote]\nendpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\n\n[registries]\n\"@team\" = \"s3://{bucket}/{prefix}/{{name}}.json\"\n"
    );
    let p = Project::new("dx-reg-s3", &config);
    let with_creds = |args: &[&str]| {
        p.cmd(args)
            .env("DXFORGE_S3_ACCESS_KEY_ID", &key)
            .env("DXFORGE_S3_SECRET_ACCESS_KEY", &secret)
            .output()
            .unwrap()
    };
    let out = with_creds(&["add", "@team/utils"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(&secret));
    assert_eq!(
        std::fs::read_to_string(p.path("lib/utils.ts")).unwrap(),
        "from the bucket\n"
    );
    let lock = std::fs::read_to_string(p.path("dxforge.lock")).unwrap();
    assert!(
        lock.contains(&format!("s3://{bucket}/{prefix}/utils.json")),
        "{lock}"
    );
    // A missing object is a clear error naming it; no credentials is another.
    let out = with_creds(&["add", "@team/nothing"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing.json"));
    let out = p
        .cmd(&["add", "@team/utils"])
        .env_remove("DXFORGE_S3_ACCESS_KEY_ID")
        .env_remove("AWS_ACCESS_KEY_ID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("S3 credentials missing"));
}

#[test]
fn install_deps_runs_the_package_manager_named_by_the_lockfile() {
    let server = Server::start();
    let body = serde_json::json!({
        "name": "utils",
        "dependencies": ["clsx", "tailwind-merge"],
        "devDependencies": ["@types/demo"],
        "files": [{"path": "lib/utils.ts", "type": "registry:lib", "content": "x\n"}],
    })
    .to_string();
    server.route("/r/utils.json", vec![Reply::ok(body)]);
    let p = Project::new(
        "dx-reg-deps",
        &format!(
            "[registries]\n\"@d\" = \"{}\"\n",
            server.url("/r/{name}.json")
        ),
    );
    std::fs::write(p.path("pnpm-lock.yaml"), "lockfileVersion: '9.0'\n").unwrap();
    // A stand-in pnpm on PATH that records its arguments; `-D` runs fail.
    let bin = p.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = p.path("pnpm.log");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\ncase \"$2\" in -D) exit 1;; esac\n",
        log.display()
    );
    std::fs::write(bin.join("pnpm"), script).unwrap();
    std::fs::set_permissions(
        bin.join("pnpm"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = p
        .cmd(&["--json", "add", "@d/utils", "--install-deps"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["install_deps"].as_array().unwrap();
    assert_eq!(
        runs[0]["command"],
        serde_json::json!(["pnpm", "add", "clsx", "tailwind-merge"])
    );
    assert_eq!(runs[0]["exit_code"], 0);
    assert_eq!(
        runs[1]["exit_code"], 1,
        "a failing run is a result, not an error"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "add clsx tailwind-merge\nadd -D @types/demo\n"
    );
    // Without the flag nothing runs.
    p.cmd(&["add", "@d/utils"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}
