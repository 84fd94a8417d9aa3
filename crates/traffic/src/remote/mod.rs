//! Remote registries: shadcn-style registry items fetched over HTTP(S) or read
//! from files, placed in the project the way the shadcn CLI places them, and
//! installed through the same transactional path as directory packages.
//!
//! * [`RegistrySource`]: one `[registries]` entry (`"@ns" = "https://host/r/{name}.json"`
//!   or a table with `url` and `headers`); header values may use `${VAR}`,
//!   expanded from the environment when a request is made and never shown.
//! * [`fetch`]: HTTP with timeouts, retries on 5xx, limited redirects, a size
//!   cap and an ETag/Last-Modified cache under `.dxforge/cache/registry/`.
//! * [`item`]: the registry-item JSON, validated before anything is written.
//! * [`place`]: target folders from `components.json` aliases and
//!   `tsconfig.json`/`jsconfig.json` paths, and import rewriting.
//! * [`collect`]: an item with its `registryDependencies`, transitively.
//! * [`build`]: a directory registry as static registry-item JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, TrafficError};
use crate::safety::validate_package_name;

pub mod build;
pub mod collect;
pub mod fetch;
pub mod item;
pub mod place;
mod s3;

/// One registry of `[registries]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySource {
    /// `@ns`.
    pub name: String,
    /// URL template with `{name}` (a directory path becomes `<dir>/{name}.json`).
    pub template: String,
    /// Header name -> value template (`${VAR}` from the environment).
    pub headers: Vec<(String, String)>,
}

impl RegistrySource {
    /// Validate a `[registries]` entry. `root` resolves relative directory
    /// paths. Errors say what is wrong without repeating header values.
    pub fn new(
        name: &str,
        url: &str,
        headers: &BTreeMap<String, String>,
        root: &Path,
    ) -> std::result::Result<Self, String> {
        let ns = name
            .strip_prefix('@')
            .ok_or("a registry name starts with `@` (like \"@acme\")")?;
        validate_package_name(ns)
            .map_err(|_| "a registry name is `@` then [a-z0-9][a-z0-9._-]*".to_string())?;
        let template = match url.split_once("://") {
            Some(("http" | "https" | "s3" | "file", rest)) if !rest.is_empty() => {
                if !url.contains("{name}") {
                    return Err("the URL template needs `{name}`".to_string());
                }
                url.to_string()
            }
            Some((scheme, _)) => {
                return Err(format!(
                    "unsupported scheme `{scheme}`: use http, https, s3, file or a relative directory"
                ));
            }
            None if url.starts_with("./") || url.starts_with("../") => {
                let dir = root.join(url);
                let dir = dir.to_str().ok_or("the directory path is not UTF-8")?;
                if url.contains("{name}") {
                    format!("file://{dir}")
                } else {
                    format!("file://{}/{{name}}.json", dir.trim_end_matches('/'))
                }
            }
            None => {
                return Err(
                    "expected an http(s)://, s3:// or file:// URL template or a relative directory (`./registry`)"
                        .to_string(),
                );
            }
        };
        for (k, v) in headers {
            let valid_name = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid_name {
                return Err(format!("header name `{k}` is not a valid HTTP header name"));
            }
            parse_vars(v).map_err(|m| format!("header `{k}`: {m}"))?;
        }
        Ok(RegistrySource {
            name: name.to_string(),
            template,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// The URL of item `item` of this registry.
    pub fn url_of(&self, item: &str) -> String {
        self.template.replace("{name}", item)
    }

    /// The headers with `${VAR}` expanded from the environment. A missing
    /// variable is an error naming it (never a value).
    pub fn expand_headers(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (k, v) in &self.headers {
            let mut text = String::new();
            let parts = parse_vars(v)
                .map_err(|m| TrafficError::registry(&self.name, format!("header `{k}`: {m}")))?;
            for part in parts {
                match part {
                    Part::Text(t) => text.push_str(t),
                    Part::Var(var) => match std::env::var(var) {
                        Ok(value) => text.push_str(&value),
                        Err(_) => {
                            return Err(TrafficError::registry(
                                &self.name,
                                format!(
                                    "header `{k}` needs the environment variable `{var}`, which is not set"
                                ),
                            ));
                        }
                    },
                }
            }
            out.push((k.clone(), text));
        }
        Ok(out)
    }
}

enum Part<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Split a header template into text and `${VAR}` references.
fn parse_vars(v: &str) -> std::result::Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push(Part::Text(&rest[..i]));
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or("unclosed `${`")?;
        let var = &after[..end];
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("`${…}` must hold an environment variable name".to_string());
        }
        out.push(Part::Var(var));
        rest = &after[end + 1..];
    }
    out.push(Part::Text(rest));
    Ok(out)
}

/// Every registry of `[registries]`, by `@ns`.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Registries by name.
    pub registries: BTreeMap<String, RegistrySource>,
    /// Endpoint and region for `s3://` URLs (from `[remote]`; AWS when absent).
    pub s3: fetch::S3Settings,
}

/// Where an item id points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The URL (`file://` for files).
    pub url: String,
    /// The registry that serves it (its headers apply), if any.
    pub registry: Option<String>,
}

impl Sources {
    /// Where the item `id` (`@ns/name`, URL or file path) is fetched from.
    /// `root` resolves relative file paths.
    pub(crate) fn locate(&self, id: &str, root: &Path) -> Result<Located> {
        if let Some(rest) = id.strip_prefix('@') {
            let (ns, name) = rest
                .split_once('/')
                .ok_or_else(|| TrafficError::InvalidName {
                    name: id.to_string(),
                })?;
            let key = format!("@{ns}");
            let reg = self.registries.get(&key).ok_or_else(|| {
                TrafficError::registry(
                    id,
                    format!("no registry `{key}` in dxforge.toml [registries]"),
                )
            })?;
            return Ok(Located {
                url: reg.url_of(name),
                registry: Some(key),
            });
        }
        if id.contains("://") {
            return Ok(Located {
                url: id.to_string(),
                registry: None,
            });
        }
        let path: PathBuf = if Path::new(id).is_absolute() {
            PathBuf::from(id)
        } else {
            root.join(id)
        };
        let path = path.to_str().ok_or_else(|| TrafficError::InvalidName {
            name: id.to_string(),
        })?;
        Ok(Located {
            url: format!("file://{path}"),
            registry: None,
        })
    }
}
