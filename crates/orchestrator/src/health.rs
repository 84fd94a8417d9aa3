//! Readiness checks: TCP connect, HTTP GET (plain HTTP/1.0), command exit 0.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::definition::HealthCheck;

/// Runs one check, bounded by `limit`; `Err` says why it did not pass.
pub(crate) async fn check(health: &HealthCheck, cwd: &Path, limit: Duration) -> Result<(), String> {
    match tokio::time::timeout(limit, run(health, cwd)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "health check gave no answer within {} ms",
            limit.as_millis()
        )),
    }
}

async fn run(health: &HealthCheck, cwd: &Path) -> Result<(), String> {
    match health {
        HealthCheck::Tcp(addr) => TcpStream::connect(addr.as_str())
            .await
            .map(drop)
            .map_err(|e| format!("tcp {addr}: {e}")),
        HealthCheck::Http(url) => http_get(url).await,
        HealthCheck::Command(argv) => command(argv, cwd).await,
    }
}

/// Runs a command check in a process group of its own, killed whole when
/// the check ends: by its exit, its timeout, or a stop of the tool (each
/// drops this future). Whatever the command left behind in its group
/// would otherwise outlive the orchestrator.
async fn command(argv: &[String], cwd: &Path) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("empty health command".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("health command `{program}`: {e}"))?;
    let _group = child.id().map(GroupKill);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("health command `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("health command `{program}` exited with {status}"))
    }
}

/// SIGKILLs a process group when dropped.
struct GroupKill(u32);

impl Drop for GroupKill {
    fn drop(&mut self) {
        let Ok(pgid) = libc::pid_t::try_from(self.0) else {
            return;
        };
        // SAFETY: kill(2) with a negative PID signals that process group; it
        // touches no memory. ESRCH (the group is already empty) is expected.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// `GET url` over HTTP/1.0; passes on a 2xx status line.
async fn http_get(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = connect_address(authority);
    let mut stream = TcpStream::connect(addr.as_str())
        .await
        .map_err(|e| format!("http {url}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("http {url}: {e}"))?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("http {url}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(code) if (200..300).contains(&code) => Ok(()),
        Some(code) => Err(format!("http {url}: status {code}")),
        None => Err(format!("http {url}: no HTTP status line in the answer")),
    }
}

/// The `host:port` to connect to for an HTTP URL's authority: port 80 unless
/// one is given. A port follows the last ':' unless that ':' is inside an
/// IPv6 literal (`[::1]` has colons but no port).
fn connect_address(authority: &str) -> String {
    let has_port = authority
        .rfind(':')
        .is_some_and(|i| !authority[i..].contains(']'));
    if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    }
}

#[cfg(test)]
mod tests {
    use super::connect_address;

    #[test]
    fn http_target_without_a_port_connects_to_80_also_for_ipv6_literals() {
        assert_eq!(connect_address("localhost"), "localhost:80");
        assert_eq!(connect_address("localhost:8080"), "localhost:8080");
        assert_eq!(connect_address("[::1]"), "[::1]:80");
        assert_eq!(connect_address("[::1]:3000"), "[::1]:3000");
    }
}
