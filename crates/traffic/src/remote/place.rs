//! Where the files of a registry item go, and how their imports are rewritten,
//! following the shadcn CLI.
//!
//! The project's `components.json` `aliases` (`components`, `ui`, `lib`,
//! `hooks`, `utils`) name import aliases; each is turned into a project
//! folder through `compilerOptions.paths` (and `baseUrl`) of `tsconfig.json`,
//! else `jsconfig.json` (JSON with comments and trailing commas, as
//! TypeScript reads it; `extends` is not followed). Without `components.json`
//! shadcn's defaults apply (`@/components`, `@/components/ui`, `@/lib`,
//! `@/hooks`, `@/lib/utils`); without a `paths` entry for an alias `@/*`
//! maps to `./src/*` when the project has a `src/` folder, else `./*`.
//!
//! A file's folder follows its `type` (`registry:ui` → ui, `registry:component`
//! / `registry:block` / `registry:example` → components, `registry:lib` → lib,
//! `registry:hook` → hooks) and keeps the part of its registry path after
//! the last `ui/`, `components/`, `lib/` or `hooks/` folder (else its file
//! name). A file's `target` wins (`~/` = the project root; otherwise under
//! `src/` in a `src/` layout, as shadcn does); `registry:page` and
//! `registry:file` need one.

use dxforge_fs::Root;
use serde_json::Value;

use crate::error::{Result, TrafficError};
use crate::limits::MAX_PROJECT_JSON_BYTES;
use crate::remote::item::ItemFile;
use crate::safety::validate_relative;

/// The five aliases of `components.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aliases {
    /// `components`.
    pub components: String,
    /// `ui`.
    pub ui: String,
    /// `lib`.
    pub lib: String,
    /// `hooks`.
    pub hooks: String,
    /// `utils`.
    pub utils: String,
}

impl Default for Aliases {
    fn default() -> Self {
        Aliases {
            components: "@/components".into(),
            ui: "@/components/ui".into(),
            lib: "@/lib".into(),
            hooks: "@/hooks".into(),
            utils: "@/lib/utils".into(),
        }
    }
}

/// The project's placement rules.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Import aliases.
    pub aliases: Aliases,
    /// Project-relative folders of `components`, `ui`, `lib`, `hooks`.
    pub dirs: [String; 4],
    /// The project keeps its sources in `src/` (targets without `~/` go there).
    pub src: bool,
}

impl Placement {
    /// Read `components.json` and `tsconfig.json`/`jsconfig.json` of `project`.
    pub fn load(project: &Root) -> Result<Self> {
        let aliases = match read_json(project, "components.json")? {
            None => Aliases::default(),
            Some(v) => aliases_of(project, &v)?,
        };
        let ts = match read_json(project, "tsconfig.json")? {
            Some(v) => Some(("tsconfig.json", v)),
            None => read_json(project, "jsconfig.json")?.map(|v| ("jsconfig.json", v)),
        };
        let has_src = matches!(
            project.metadata("src")?.map(|m| m.kind),
            Some(dxforge_fs::Kind::Dir)
        );
        let resolve = |alias: &str| resolve_alias(project, ts.as_ref(), has_src, alias);
        let dirs = [
            resolve(&aliases.components)?,
            resolve(&aliases.ui)?,
            resolve(&aliases.lib)?,
            resolve(&aliases.hooks)?,
        ];
        Ok(Placement {
            aliases,
            dirs,
            src: has_src,
        })
    }

    /// The project-relative target of `file` of `item` (fetched from `url`).
    pub fn target(&self, url: &str, item: &str, file: &ItemFile) -> Result<String> {
        let rel = if let Some(t) = &file.target {
            match t.strip_prefix("~/") {
                Some(root_rel) => root_rel.to_string(),
                None if self.src && !t.starts_with("src/") => {
                    format!("src/{}", t.trim_start_matches("./"))
                }
                None => t.trim_start_matches("./").to_string(),
            }
        } else {
            let (dir, marker) = match file.kind.as_str() {
                "registry:ui" => (&self.dirs[1], "ui"),
                "registry:component" | "registry:block" | "registry:example" => {
                    (&self.dirs[0], "components")
                }
                "registry:lib" => (&self.dirs[2], "lib"),
                "registry:hook" => (&self.dirs[3], "hooks"),
                other => {
                    return Err(TrafficError::registry(
                        url,
                        format!(
                            "file `{}` of type `{other}` needs a `target` to be installed",
                            file.path
                        ),
                    ));
                }
            };
            let tail = tail_after(&file.path, marker);
            if dir.is_empty() {
                tail
            } else {
                format!("{dir}/{tail}")
            }
        };
        validate_relative(item, &rel)
            .map_err(|e| TrafficError::registry(url, format!("file `{}`: {e}", file.path)))?;
        Ok(rel)
    }

    /// `content` with imports into the registry's tree (`@/registry/<style>/ui/x`,
    /// `@/registry/<style>/lib/utils`, …) and shadcn's default aliases rewritten
    /// to the project's aliases. Only quoted `@/…` strings change.
    pub fn rewrite(&self, content: &str) -> String {
        let mut out = String::with_capacity(content.len());
        let mut rest = content;
        while let Some(i) = rest.find(['"', '\'', '`']) {
            let quote = rest.as_bytes()[i] as char;
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            if !rest.starts_with("@/") {
                continue;
            }
            let Some(end) = rest.find([quote, '\n']) else {
                continue;
            };
            out.push_str(&self.rewrite_spec(&rest[..end]));
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    fn rewrite_spec(&self, spec: &str) -> String {
        let a = &self.aliases;
        // `@/registry/<style>/<kind>/…` → the default alias of `<kind>`, then mapped below.
        let spec_owned;
        let spec = if let Some(after) = spec.strip_prefix("@/registry/")
            && let Some((_style, inner)) = after.split_once('/')
        {
            let kind = inner.split('/').next().unwrap_or("");
            spec_owned = match kind {
                "ui" => format!("@/components/{inner}"),
                "components" | "lib" | "hooks" => format!("@/{inner}"),
                // Blocks place their components in the components folder.
                "blocks" => match inner.split_once("/components/") {
                    Some((_, file)) => format!("@/components/{file}"),
                    None => return spec.to_string(),
                },
                _ => return spec.to_string(),
            };
            spec_owned.as_str()
        } else {
            spec
        };
        let map = [
            ("@/lib/utils", a.utils.as_str(), true),
            ("@/components/ui", a.ui.as_str(), false),
            ("@/components", a.components.as_str(), false),
            ("@/lib", a.lib.as_str(), false),
            ("@/hooks", a.hooks.as_str(), false),
        ];
        for (from, to, exact) in map {
            if spec == from {
                return to.to_string();
            }
            if !exact && let Some(tail) = spec.strip_prefix(from).filter(|t| t.starts_with('/')) {
                return format!("{to}{tail}");
            }
        }
        spec.to_string()
    }
}

/// The part of `path` after its last `marker/` folder, else its file name.
fn tail_after(path: &str, marker: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.iter().rposition(|p| *p == marker) {
        Some(i) if i + 1 < parts.len() => parts[i + 1..].join("/"),
        _ => parts.last().map(|s| s.to_string()).unwrap_or_default(),
    }
}

fn read_json(project: &Root, rel: &str) -> Result<Option<Value>> {
    let Some(bytes) = project.read(rel, MAX_PROJECT_JSON_BYTES)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let clean = strip_jsonc(&text);
    serde_json::from_str(&clean).map(Some).map_err(|e| {
        TrafficError::registry(
            project.join(rel).display().to_string(),
            format!("invalid JSON: {e}"),
        )
    })
}

fn aliases_of(project: &Root, v: &Value) -> Result<Aliases> {
    let file = project.join("components.json").display().to_string();
    let mut a = Aliases::default();
    let Some(map) = v.get("aliases") else {
        return Ok(a);
    };
    let Value::Object(map) = map else {
        return Err(TrafficError::registry(file, "`aliases` must be an object"));
    };
    let get = |k: &str| -> Result<Option<String>> {
        match map.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => {
                Ok(Some(s.trim_end_matches('/').to_string()))
            }
            Some(_) => Err(TrafficError::registry(
                file.clone(),
                format!("`aliases.{k}` must be a non-empty string"),
            )),
        }
    };
    if let Some(c) = get("components")? {
        a.ui = format!("{c}/ui");
        a.components = c;
    }
    if let Some(u) = get("utils")? {
        a.lib = u
            .rsplit_once('/')
            .map(|(l, _)| l.to_string())
            .unwrap_or(a.lib);
        a.utils = u;
    }
    if let Some(u) = get("ui")? {
        a.ui = u;
    }
    if let Some(l) = get("lib")? {
        a.lib = l;
    }
    if let Some(h) = get("hooks")? {
        a.hooks = h;
    }
    Ok(a)
}

/// The project folder an import alias names.
fn resolve_alias(
    project: &Root,
    ts: Option<&(&str, Value)>,
    has_src: bool,
    alias: &str,
) -> Result<String> {
    if let Some((file, v)) = ts {
        let opts = v.get("compilerOptions");
        let base = opts
            .and_then(|o| o.get("baseUrl"))
            .and_then(Value::as_str)
            .unwrap_or(".");
        if let Some(Value::Object(paths)) = opts.and_then(|o| o.get("paths")) {
            // The longest matching pattern wins, as in TypeScript.
            let mut best: Option<(usize, String)> = None;
            for (pattern, targets) in paths {
                let first = targets
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_str);
                let Some(first) = first else { continue };
                let hit = match pattern.strip_suffix('*') {
                    Some(prefix) => alias
                        .strip_prefix(prefix)
                        .map(|rest| first.replacen('*', rest, 1)),
                    None => (alias == pattern).then(|| first.to_string()),
                };
                if let Some(t) = hit
                    && best.as_ref().is_none_or(|(len, _)| pattern.len() > *len)
                {
                    best = Some((pattern.len(), format!("{base}/{t}")));
                }
            }
            if let Some((_, t)) = best {
                return normalize(&t).ok_or_else(|| {
                    TrafficError::registry(
                        project.join(file).display().to_string(),
                        format!("alias `{alias}` resolves to `{t}`, outside the project"),
                    )
                });
            }
        }
    }
    if let Some(rest) = alias.strip_prefix("@/") {
        let t = if has_src {
            format!("src/{rest}")
        } else {
            rest.to_string()
        };
        return normalize(&t).ok_or_else(|| {
            TrafficError::registry(alias, "alias resolves outside the project".to_string())
        });
    }
    Err(TrafficError::registry(
        project.join("components.json").display().to_string(),
        format!("alias `{alias}` is not in compilerOptions.paths of tsconfig.json/jsconfig.json"),
    ))
}

/// `./a/../b/./c` → `b/c`; `None` when it climbs above the root.
fn normalize(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// JSON with `//` and `/* */` comments and trailing commas → plain JSON.
fn strip_jsonc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            _ => out.push(c),
        }
    }
    // Trailing commas: a comma whose next non-space character closes a container.
    let bytes: Vec<char> = out.chars().collect();
    let mut clean = String::with_capacity(out.len());
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            clean.push(c);
            if c == '\\' && i + 1 < bytes.len() {
                clean.push(bytes[i + 1]);
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            clean.push(c);
        } else if c == ',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_whitespace());
            if !matches!(next, Some('}') | Some(']')) {
                clean.push(c);
            }
        } else {
            clean.push(c);
        }
        i += 1;
    }
    clean
}
