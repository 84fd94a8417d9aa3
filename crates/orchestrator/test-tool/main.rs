//! A configurable fake tool for the orchestrator's integration tests.
//!
//! Flags are applied in order:
//! `--record FILE` append "start <pid> <monotonic ms>" to FILE; `--print TEXT` line on stdout;
//! `--eprint TEXT` line on stderr; `--lines N` print N numbered lines;
//! `--serve-tcp PORT` accept TCP connections in the background;
//! `--serve-http PORT` answer every request with 200 OK (both bind with
//! `SO_REUSEPORT` beside the test's reservation of the port);
//! `--ignore-term` ignore SIGTERM; `--double-fork PIDFILE` leave a grandchild
//! that setsid()s out of the group and sleeps, its pid written to PIDFILE;
//! `--touch PATH` write PATH; `--crash` abort; `--sleep MS` sleep;
//! `--exit CODE` exit now. Without `--exit` the helper sleeps forever at the end.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let next = |i: &mut usize| -> String {
        *i += 1;
        args.get(*i).cloned().unwrap_or_else(|| {
            eprintln!("missing value after {}", args[*i - 1]);
            std::process::exit(2)
        })
    };
    while i < args.len() {
        match args[i].as_str() {
            "--record" => {
                let path = next(&mut i);
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap();
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: clock_gettime writes into the timespec it is given.
                unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
                let ms = ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000;
                writeln!(f, "start {} {ms}", std::process::id()).unwrap();
            }
            "--print" => {
                println!("{}", next(&mut i));
                std::io::stdout().flush().unwrap();
            }
            "--eprint" => eprintln!("{}", next(&mut i)),
            "--lines" => {
                let n: usize = next(&mut i).parse().unwrap();
                let mut out = std::io::stdout().lock();
                for k in 0..n {
                    writeln!(out, "line {k}").unwrap();
                }
                out.flush().unwrap();
            }
            "--serve-tcp" => {
                let listener = listen_shared(next(&mut i).parse().unwrap());
                std::thread::spawn(move || {
                    for conn in listener.incoming() {
                        drop(conn);
                    }
                });
            }
            "--serve-http" => {
                let listener = listen_shared(next(&mut i).parse().unwrap());
                std::thread::spawn(move || {
                    for mut conn in listener.incoming().flatten() {
                        let mut buf = [0u8; 1024];
                        let _ = conn.read(&mut buf);
                        let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                });
            }
            // SAFETY: ignoring a signal installs no handler code.
            "--ignore-term" => unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
            },
            "--double-fork" => double_fork(&next(&mut i)),
            "--touch" => std::fs::write(next(&mut i), std::process::id().to_string()).unwrap(),
            "--crash" => std::process::abort(),
            "--sleep" => std::thread::sleep(Duration::from_millis(next(&mut i).parse().unwrap())),
            "--exit" => std::process::exit(next(&mut i).parse().unwrap()),
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Listens on 127.0.0.1:`port` with `SO_REUSEPORT`, so the bind succeeds
/// while the test still holds its (never listening) reservation of the port.
fn listen_shared(port: u16) -> TcpListener {
    let fail = |what: &str| -> ! {
        eprintln!(
            "{what} 127.0.0.1:{port}: {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(2)
    };
    // SAFETY: socket() takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        fail("socket for");
    }
    // SAFETY: fd is the fresh descriptor socket() returned, owned by nobody else.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: each pointer is to a live local of the size passed with it.
    unsafe {
        for opt in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
            let size = std::mem::size_of_val(&one) as libc::socklen_t;
            if libc::setsockopt(fd, libc::SOL_SOCKET, opt, (&raw const one).cast(), size) != 0 {
                fail("setsockopt on");
            }
        }
        let size = std::mem::size_of_val(&addr) as libc::socklen_t;
        if libc::bind(fd, (&raw const addr).cast(), size) != 0 {
            fail("bind");
        }
        if libc::listen(fd, 128) != 0 {
            fail("listen on");
        }
    }
    listener
}

/// Forks a child that setsid()s and forks a grandchild, then exits: the
/// grandchild is an orphan outside the tool's process group and session.
fn double_fork(pidfile: &str) {
    let pidfile = std::ffi::CString::new(pidfile).unwrap();
    // SAFETY: this test tool is single-threaded, so the forked child may call
    // anything; every pointer passed is a live NUL-terminated string.
    unsafe {
        let child = libc::fork();
        if child == 0 {
            libc::setsid();
            let grandchild = libc::fork();
            if grandchild == 0 {
                let pid = libc::getpid().to_string();
                let tmp =
                    std::ffi::CString::new(format!("{}.tmp", pidfile.to_str().unwrap())).unwrap();
                let fd = libc::open(
                    tmp.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    0o644,
                );
                libc::write(fd, pid.as_ptr().cast(), pid.len());
                libc::close(fd);
                libc::rename(tmp.as_ptr(), pidfile.as_ptr());
                loop {
                    libc::sleep(3600);
                }
            }
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(child, &mut status, 0);
    }
}
