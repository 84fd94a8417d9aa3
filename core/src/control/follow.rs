//! `logs --follow` through the control socket: the one request whose answer
//! is a stream. The server sends the recent lines, then every new line, one
//! frame (JSON line) each, and ends with an `end` frame when the tool stops
//! (`Stopped` or `Degraded`); a follow of every tool ends with `dxforge up`,
//! whose exit closes the socket. Frames are bounded like every answer: a
//! captured line is at most 64 KiB. A client that does not take a frame
//! within [`IDLE_TIMEOUT`] is dropped; lines the server could not keep up
//! with are counted in a `dropped` frame.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use dxforge_orchestrator::ToolStatus;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::broadcast::error::RecvError;

use super::server::{IDLE_TIMEOUT, client_gone};
use super::{MAX_RESPONSE_LINE, Response};
use crate::pipeline::LogEntry;
use crate::pipeline::logs_cmd::{entries, parse_since};
use crate::{DxForge, Result};

/// What a follow delivers besides its end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowEvent {
    /// One captured line.
    Entry(LogEntry),
    /// Lines produced faster than the server could send them, not shown.
    Dropped(u64),
}

/// Serves one `logs --follow` request on `write` until the tool stops, the
/// client goes away (seen on `reader`) or a frame cannot be delivered.
pub(super) async fn serve<R: AsyncRead + Unpin>(
    forge: &DxForge,
    tool: Option<&str>,
    lines: usize,
    since: Option<&str>,
    write: &mut OwnedWriteHalf,
    reader: &mut R,
) {
    if let Err(e) = stream(forge, tool, lines, since, write, reader).await {
        let _ = frame(write, &super::server::error_response(&e)).await;
    }
    let _ = write.shutdown().await;
}

async fn stream<R: AsyncRead + Unpin>(
    forge: &DxForge,
    tool: Option<&str>,
    lines: usize,
    since: Option<&str>,
    write: &mut OwnedWriteHalf,
    reader: &mut R,
) -> Result<()> {
    let cut = since.map(parse_since).transpose()?;
    // Subscribed before the backlog is read: no line falls in between.
    let mut live = forge.subscribe_logs()?;
    let mut events = forge.subscribe()?;
    let backlog = entries(forge, tool, lines, cut)?;
    let last = backlog.last().map(|e| (e.at_ms, e.clone()));
    for entry in backlog {
        if !send_entry(write, entry).await {
            return Ok(());
        }
    }
    let stopped = |status: ToolStatus| matches!(status, ToolStatus::Stopped | ToolStatus::Degraded);
    if let Some(t) = tool
        && stopped(forge.status(t)?)
    {
        end(write, "the tool is not running").await;
        return Ok(());
    }
    // Lines already sent in the backlog may also be in the broadcast.
    let mut seen_until = last;
    let mut gone = std::pin::pin!(client_gone(reader));
    loop {
        tokio::select! {
            line = live.recv() => match line {
                Ok((name, line)) => {
                    if tool.is_some_and(|t| t != name) || cut.is_some_and(|c| line.at_ms < c) {
                        continue;
                    }
                    let entry = LogEntry { tool: name, stream: line.stream.to_owned(), line: line.line, at_ms: line.at_ms };
                    if let Some((at, last)) = &seen_until {
                        if entry.at_ms < *at || &entry == last {
                            if &entry == last { seen_until = None; }
                            continue;
                        }
                        seen_until = None;
                    }
                    if !send_entry(write, entry).await {
                        return Ok(());
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let dropped = Response { dropped: Some(n), ..Response::ok() };
                    if !frame(write, &dropped).await {
                        return Ok(());
                    }
                }
                Err(RecvError::Closed) => {
                    end(write, "dxforge up stopped").await;
                    return Ok(());
                }
            },
            ev = events.recv() => match ev {
                Ok(ev) if tool.is_some_and(|t| t == ev.tool) && stopped(ev.new) => {
                    // Its last lines may still be on their way: a moment for them.
                    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
                    while let Ok(Ok((name, line))) = tokio::time::timeout_at(deadline, live.recv()).await {
                        if Some(name.as_str()) == tool {
                            let entry = LogEntry { tool: name, stream: line.stream.to_owned(), line: line.line, at_ms: line.at_ms };
                            if !send_entry(write, entry).await {
                                return Ok(());
                            }
                        }
                    }
                    end(write, &format!("the tool is {}", ev.new.as_str())).await;
                    return Ok(());
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    end(write, "dxforge up stopped").await;
                    return Ok(());
                }
            },
            () = &mut gone => return Ok(()),
        }
    }
}

async fn send_entry(write: &mut OwnedWriteHalf, entry: LogEntry) -> bool {
    let response = Response {
        entry: Some(entry),
        ..Response::ok()
    };
    frame(write, &response).await
}

async fn end(write: &mut OwnedWriteHalf, why: &str) {
    let response = Response {
        end: Some(why.to_owned()),
        ..Response::ok()
    };
    frame(write, &response).await;
}

/// Writes one frame within [`IDLE_TIMEOUT`]; `false` when the client is
/// gone or too slow.
async fn frame(write: &mut OwnedWriteHalf, response: &Response) -> bool {
    let Ok(mut bytes) = serde_json::to_vec(response) else {
        return false;
    };
    if bytes.len() >= MAX_RESPONSE_LINE {
        return false; // cannot happen: a line is at most 64 KiB
    }
    bytes.push(b'\n');
    matches!(
        tokio::time::timeout(IDLE_TIMEOUT, write.write_all(&bytes)).await,
        Ok(Ok(()))
    )
}

/// Sends a `logs --follow` command string to the `dxforge up` serving the
/// project at `root` and hands each line to `on` until the stream ends.
/// `Ok(false)` when no `dxforge up` is running.
pub fn follow(root: &Path, command: &str, mut on: impl FnMut(FollowEvent)) -> Result<bool> {
    let Some((stream, control)) = super::send_request(root, command)? else {
        return Ok(false);
    };
    let mut reader = BufReader::new(&stream);
    loop {
        let mut line = String::new();
        let n = (&mut reader)
            .take(MAX_RESPONSE_LINE as u64 + 1)
            .read_line(&mut line)
            .map_err(|e| control(format!("stream broken: {e}")))?;
        if n == 0 {
            return Ok(true); // `dxforge up` ended
        }
        let response: Response = serde_json::from_str(&line)
            .map_err(|e| control(format!("malformed frame ({e}): {}", line.trim_end())))?;
        if !response.ok {
            return Err(super::relayed(response.code.as_deref(), response.message));
        }
        if let Some(entry) = response.entry {
            on(FollowEvent::Entry(entry));
        } else if let Some(n) = response.dropped {
            on(FollowEvent::Dropped(n));
        } else if response.end.is_some() {
            return Ok(true);
        }
    }
}
