//! Validation of one tool definition: the single function every way in calls.
//!
//! `register_tool`/`register_tools`, the `dxforge.toml` loader (through
//! [`validate`]) and therefore every binding check a definition here, before
//! anything is registered or spawned. A bad value fails at once with the tool,
//! the field and what is allowed, instead of after `startup_timeout_ms` (a TCP
//! target that is not `host:port`) or never (a number that wrapped).
//!
//! Health targets are checked for shape only, never resolved: registration
//! does no I/O, and a host name that does not resolve yet may well resolve
//! once its tool (a container, a DNS sidecar) runs.

use std::net::{Ipv4Addr, Ipv6Addr};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::definition::{DxToolDefinition, HealthCheck};
use crate::error::OrchestratorError;
use crate::spawn::parse_signal;

/// The longest tool name: it becomes the file name `<name>.log`, and
/// `NAME_MAX` is 255 bytes on Linux.
pub const MAX_NAME_BYTES: usize = 200;

/// One invalid field of a definition: where it is and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// Path of the field inside the definition: `["stop_timeout_ms"]`,
    /// `["health", "tcp"]`, `["env", "KEY"]`, `["args", "2"]`.
    pub path: Vec<String>,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl InvalidField {
    fn new(path: &[&str], reason: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            reason: reason.into(),
        }
    }

    /// The field as written in messages: `health.tcp`, `args[2]`, `env.KEY`.
    pub fn field(&self) -> String {
        let mut out = String::new();
        let mut prev = "";
        for part in &self.path {
            // Only list fields have indexes; an env key may be all digits.
            let is_index = matches!(prev, "args" | "watch" | "command")
                && part.bytes().all(|b| b.is_ascii_digit());
            prev = part;
            if is_index {
                out.push('[');
                out.push_str(part);
                out.push(']');
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(part);
            }
        }
        out
    }
}

impl std::fmt::Display for InvalidField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field(), self.reason)
    }
}

impl std::error::Error for InvalidField {}

/// What validation derives from a definition for the registry.
pub(crate) struct Checked {
    pub stop_signal: libc::c_int,
    pub watch: Option<GlobSet>,
}

/// Checks every field of one definition on its own (dependencies are checked
/// against the whole set at registration). The first invalid field is returned.
pub fn validate(def: &DxToolDefinition) -> Result<(), InvalidField> {
    check(def).map(drop)
}

/// [`validate`] as registration reports it: an
/// [`OrchestratorError::InvalidDefinition`] naming the tool and the field.
pub(crate) fn check_definition(def: &DxToolDefinition) -> crate::Result<Checked> {
    check(def).map_err(|e| OrchestratorError::InvalidDefinition {
        tool: def.name.clone(),
        reason: e.to_string(),
    })
}

fn check(def: &DxToolDefinition) -> Result<Checked, InvalidField> {
    check_name(&def.name)?;
    if def.binary_path.is_empty() {
        return Err(InvalidField::new(&["binary_path"], "must not be empty"));
    }
    no_nul(&["binary_path"], &def.binary_path)?;
    for (i, arg) in def.args.iter().enumerate() {
        no_nul(&["args", &i.to_string()], arg)?;
    }
    if let Some(file) = &def.env_file
        && (file.is_empty() || file.contains('\0'))
    {
        return Err(InvalidField::new(
            &["env_file"],
            "must be a non-empty path without NUL bytes",
        ));
    }
    for name in def.dependency_conditions.keys() {
        if !def.dependencies.contains(name) {
            return Err(InvalidField::new(
                &["dependency_conditions", name],
                format!("`{name}` is not in `dependencies`"),
            ));
        }
    }
    if let Some(cwd) = &def.cwd
        && cwd.as_os_str().as_encoded_bytes().contains(&0)
    {
        return Err(InvalidField::new(&["cwd"], "must not contain NUL bytes"));
    }
    for (key, value) in &def.env {
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(InvalidField::new(
                &["env"],
                format!("key `{key}` must be non-empty, without '=' or NUL"),
            ));
        }
        no_nul(&["env", key], value)?;
    }
    let stop_signal = parse_signal(&def.stop_signal).ok_or_else(|| {
        InvalidField::new(
            &["stop_signal"],
            format!(
                "unknown signal `{}` (a name such as \"SIGTERM\", \"SIGINT\" or \"SIGKILL\")",
                def.stop_signal
            ),
        )
    })?;
    crate::limits::check_numbers(def).map_err(|e| InvalidField::new(&[e.field], e.to_string()))?;
    match &def.health {
        Some(HealthCheck::Tcp(addr)) => check_host_port(addr).map_err(|why| {
            InvalidField::new(
                &["health", "tcp"],
                format!("`{addr}` is not host:port: {why} (e.g. 127.0.0.1:5432, localhost:8080, [::1]:5432)"),
            )
        })?,
        Some(HealthCheck::Http(url)) => check_http_url(url).map_err(|why| {
            InvalidField::new(
                &["health", "http"],
                format!("`{url}` is not a usable URL: {why} (e.g. http://127.0.0.1:8080/health)"),
            )
        })?,
        Some(HealthCheck::Command(argv)) => {
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err(InvalidField::new(
                    &["health", "command"],
                    "must name a program, e.g. [\"pg_isready\", \"-q\"]",
                ));
            }
            for (i, word) in argv.iter().enumerate() {
                no_nul(&["health", "command", &i.to_string()], word)?;
            }
        }
        None => {}
    }
    let watch = if def.watch.is_empty() {
        None
    } else {
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in def.watch.iter().enumerate() {
            let glob = Glob::new(pattern).map_err(|e| {
                InvalidField::new(&["watch", &i.to_string()], format!("glob `{pattern}`: {e}"))
            })?;
            builder.add(glob);
        }
        Some(
            builder
                .build()
                .map_err(|e| InvalidField::new(&["watch"], e.to_string()))?,
        )
    };
    Ok(Checked { stop_signal, watch })
}

fn check_name(name: &str) -> Result<(), InvalidField> {
    let bad = |reason: String| Err(InvalidField::new(&["name"], reason));
    if name.is_empty() {
        return bad("must not be empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(format!("must be at most {MAX_NAME_BYTES} bytes"));
    }
    // The name becomes `<log_dir>/<name>.log`: it must stay one path
    // component. Other control characters are allowed and escaped wherever a
    // name is printed (issue 9's status table).
    if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return bad(format!(
            "`{}` cannot contain '/', '\\' or NUL or be `.`/`..`",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn no_nul(path: &[&str], value: &str) -> Result<(), InvalidField> {
    if value.contains('\0') {
        Err(InvalidField::new(path, "must not contain NUL bytes"))
    } else {
        Ok(())
    }
}

/// Checks a TCP target: `host:port` with a port of 1 to 65535 and a host that
/// is an IPv4 literal, a bracketed IPv6 literal or a host name.
pub fn check_host_port(addr: &str) -> Result<(), String> {
    let (host, port) = split_host_port(addr)?;
    let Some(port) = port else {
        return Err("the port is missing".into());
    };
    check_host(host)?;
    check_port(port)
}

/// `host` and the optional port of `authority` (`[v6]:port`, `host:port`, `host`).
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.starts_with('[') {
        let Some(close) = authority.find(']') else {
            return Err("`[` without a closing `]`".into());
        };
        let (host, rest) = authority.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{rest}` after the IPv6 address")),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err("an IPv6 address must be in brackets, e.g. [::1]:5432".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn check_port(port: &str) -> Result<(), String> {
    let valid = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
    if valid {
        Ok(())
    } else {
        Err(format!("port `{port}` is not a number from 1 to 65535"))
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let v6 = inner.strip_suffix(']').unwrap_or(inner);
        return v6
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("`{v6}` is not an IPv6 address"));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let not_a_name = || {
        format!(
            "host `{host}` is neither an IP address nor a host name (letters, digits, '-', '_', dots)"
        )
    };
    // A trailing dot is a fully qualified name.
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(not_a_name());
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(not_a_name());
        }
    }
    // As in URLs: a name whose last label is a number was meant as an IPv4
    // address (`127.0.0.256`, `127.1`) and would only fail to resolve later.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("`{host}` is not a valid IPv4 address"));
    }
    Ok(())
}

/// Checks an HTTP target as the health checker will use it: `http://`, a
/// host (name or IP literal), an optional port of 1 to 65535, then an
/// optional path without spaces or control characters.
pub fn check_http_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it must start with http://".into());
    };
    if scheme.eq_ignore_ascii_case("https") {
        return Err(
            "https is not supported by the health check (it speaks plain HTTP); use http:// or a command check"
                .into(),
        );
    }
    if scheme != "http" {
        return Err(format!("the scheme is `{scheme}`: it must be http://"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("credentials (user@host) are not supported".into());
    }
    if authority.is_empty() {
        return Err("the host is missing".into());
    }
    if tail.starts_with(['?', '#']) {
        return Err("the host must be followed by a path starting with '/'".into());
    }
    if tail.contains('#') {
        return Err("a fragment (#…) is never sent to the server; remove it".into());
    }
    if tail.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err("the path contains a space or control character; percent-encode it".into());
    }
    let (host, port) = split_host_port(authority)?;
    check_host(host)?;
    match port {
        Some(port) => check_port(port),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_targets_accept_names_and_ip_literals_with_a_port() {
        for ok in [
            "127.0.0.1:5432",
            "localhost:1",
            "db.internal.:65535",
            "my_db-1:80",
            "[::1]:5432",
            "[fe80::1]:8080",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "localhost:",
            ":80",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:99999999999",
            "127.0.0.1:+80",
            "::1:80",
            "[::1]80",
            "[::1",
            "[nope]:80",
            "127.0.0.256:80",
            "127.1:80",
            "bad host:80",
            "-x:80",
            "a..b:80",
            "http://x:80",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn http_targets_need_plain_http_a_host_and_a_clean_path() {
        for ok in [
            "http://127.0.0.1:8080/health",
            "http://localhost/",
            "http://localhost",
            "http://[::1]:3000/ready?full=1",
        ] {
            assert_eq!(check_http_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "127.0.0.1:8080",
            "https://x/",
            "ftp://x/",
            "HTTP://x/",
            "http://",
            "http:///health",
            "http://u:p@x/",
            "http://x:0/",
            "http://x:65536/",
            "http://x?y",
            "http://x/a b",
            "http://x/#top",
            "http://x/\r\nHost: evil",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn field_paths_read_as_written_in_code() {
        let f = InvalidField::new(&["args", "2"], "x");
        assert_eq!(f.field(), "args[2]");
        assert_eq!(
            InvalidField::new(&["health", "tcp"], "x").field(),
            "health.tcp"
        );
    }
}
