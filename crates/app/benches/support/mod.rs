//! What the footprint and live fan-out benchmarks share: the real `textdesk
//! serve` binary as a separate process (so its memory is its own), the bare
//! axum/tokio server they compare it with (this bench binary run again with
//! `FOOTPRINT_BASELINE_SERVER=1`), raw SSE connections, and the `bench-row`
//! lines.
#![allow(dead_code)] // Each bench uses its own part.

use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const BIN: &str = env!("CARGO_BIN_EXE_textdesk");

/// Set in the environment of this bench run again as the baseline server.
pub const BASELINE_ENV: &str = "FOOTPRINT_BASELINE_SERVER";

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One figure as a line of the one-table command.
pub fn bench_row(area: &str, what: &str, value: f64, unit: &str, baseline: Option<(&str, f64)>) {
    let (name, base, ratio) = match baseline {
        Some((name, base)) if base != 0.0 => (name.to_owned(), fmt(base), format!("{:.3}", value / base)),
        Some((name, base)) => (name.to_owned(), fmt(base), "-".into()),
        None => ("-".into(), "-".into(), "-".into()),
    };
    println!("bench-row\t{area}\t{what}\t{}\t{unit}\t{name}\t{base}\t{ratio}", fmt(value));
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// From spawn to the first `/healthz` answered 200.
    pub started_in: Duration,
}

impl Server {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Resident memory in MiB, from `/proc`.
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }

    /// Resident memory once it has stopped moving (frees and trims settle).
    pub async fn settled_rss_mib(&self, at_most: Duration) -> f64 {
        let deadline = Instant::now() + at_most;
        let mut last = self.rss_mib();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.rss_mib();
            if (now - last).abs() < 0.5 || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` (which listens on `port`) and waits for its first healthy answer.
pub async fn spawn_and_wait(mut command: Command, port: u16, log: &Path) -> Server {
    let started = Instant::now();
    let child = command.stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap()).spawn().unwrap();
    let mut server = Server { child, port, started_in: Duration::ZERO };
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await
            && r.status().is_success()
        {
            server.started_in = started.elapsed();
            return server;
        }
        let exited = server.child.try_wait().unwrap();
        assert!(
            exited.is_none() && started.elapsed() < Duration::from_secs(60),
            "server did not become healthy ({exited:?}): {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `textdesk` with the data folder `dir` on `port`, with `settings`.
pub fn textdesk(dir: &Path, port: u16, args: &[&str], settings: &[(&str, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("TEXTDESK_CONFIG")
        .env("TEXTDESK_DATA_DIR", dir)
        .env("TEXTDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TEXTDESK_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("TEXTDESK_LOG", "warn");
    for (k, v) in settings {
        c.env(k, v);
    }
    c
}

/// An admin on the first account and an API token for them, made with the CLI.
pub fn admin_token(dir: &Path, port: u16) -> String {
    let mut add = textdesk(dir, port, &["user", "add", "--email", "bench@example.com", "--role", "admin"], &[])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin.take().unwrap().write_all(b"a bench password\n").unwrap();
    assert!(add.wait().unwrap().success(), "textdesk user add failed");
    let out = textdesk(dir, port, &["token", "create", "--user", "bench@example.com"], &[]).output().unwrap();
    assert!(out.status.success(), "textdesk token create: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// This bench binary again, as the bare axum/tokio server.
pub fn baseline_command(port: u16) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(BASELINE_ENV, port.to_string());
    c
}

/// Opens an SSE stream on `path` and reads until its first event (`ready`).
pub async fn open_stream(port: u16, path: &str, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !contains(&got, b"event: ready") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream closed before its first event: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        assert!(got.starts_with(b"HTTP/1.1 200") || got.len() < 12, "{}", String::from_utf8_lossy(&got));
    }
    s
}

/// `n` streams, `at_once` being opened at a time.
pub async fn open_streams(port: u16, path: &str, token: &str, n: usize, at_once: usize) -> Vec<TcpStream> {
    futures_util::stream::iter(0..n).map(|_| open_stream(port, path, token)).buffer_unordered(at_once).collect().await
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The baseline: a bare axum app on tokio's default runtime, serving
/// `/healthz`, an SSE stream at `/events` that starts with a `ready` event and
/// then relays a tokio broadcast channel, and `/publish` that sends the
/// request's body (a message id) on it. Runs until killed.
pub fn baseline_server(port: u16) {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::routing::{get, post};
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let (tx, _) = tokio::sync::broadcast::channel::<String>(1024);
        let events_tx = tx.clone();
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/events",
                get(move || {
                    let rx = events_tx.subscribe();
                    async move {
                        let ready = futures_util::stream::once(async {
                            Ok::<_, Infallible>(Event::default().event("ready").data("{}"))
                        });
                        let live = futures_util::stream::unfold(rx, |mut rx| async move {
                            loop {
                                match rx.recv().await {
                                    Ok(id) => {
                                        let ev = Event::default().event("message.created").data(id);
                                        return Some((Ok::<_, Infallible>(ev), rx));
                                    }
                                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                                }
                            }
                        });
                        Sse::new(ready.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
                    }
                }),
            )
            .route(
                "/publish",
                post(move |body: String| {
                    let _ = tx.send(body);
                    async { "ok" }
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}
