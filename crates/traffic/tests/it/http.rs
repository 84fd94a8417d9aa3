//! A tiny real HTTP/1.1 server for the registry tests (test infrastructure,
//! not shipped): each path answers from a queue of canned responses (the last
//! one repeats), supports `ETag`/`If-None-Match`, and records every request.
//! Shared with the CLI tests through `#[path]`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: format!("status {status}").into_bytes(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

/// A request as received: path and lower-cased headers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Reply>>,
    seen: Vec<Seen>,
    /// Header that must be present (name, value) or the answer is 401.
    require: Option<(String, String)>,
}

/// The server; it stops with the test process.
#[derive(Clone)]
pub struct Server {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Server { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answer `path` with `replies` in turn (the last one repeats).
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), replies);
    }

    /// Every request must carry `name: value` (else 401).
    pub fn require_header(&self, name: &str, value: &str) {
        self.state.lock().unwrap().require = Some((name.to_lowercase(), value.to_string()));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    let reply = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            path: path.clone(),
            headers: headers.clone(),
        });
        let authorized = match &st.require {
            Some((k, v)) => headers.get(k) == Some(v),
            None => true,
        };
        if !authorized {
            Reply::status(401)
        } else {
            match st.routes.get_mut(&path) {
                Some(q) if q.len() > 1 => q.remove(0),
                Some(q) if q.len() == 1 => q[0].clone(),
                _ => Reply::status(404),
            }
        }
    };
    let etag = reply
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    let not_modified =
        reply.status == 200 && etag.is_some() && headers.get("if-none-match").cloned() == etag;
    let (status, body) = if not_modified {
        (304, Vec::new())
    } else {
        (reply.status, reply.body.clone())
    };
    let mut out = Vec::new();
    let _ = write!(out, "HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in &reply.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    if status != 304 {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    let mut conn = conn;
    let _ = conn.write_all(&out);
    let _ = conn.flush();
}
