//! The built `textdesk` binary as a separate process, for the tests that must
//! kill it (SIGKILL mid-change), measure it (its memory under a flood) or run
//! its CLI: every invocation of one test shares an [`Env`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_textdesk");

/// A port for a server a test starts (and perhaps kills and starts again):
/// free now, below the kernel's ephemeral range, and never given out twice
/// in this process. A port from `bind(…:0)` sits in that range, where any
/// test's outgoing connection or `bind(…:0)` may take it between the pick and
/// the server's bind, or while a killed node is down; then the node cannot
/// start, or the test talks to another test's server.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let ephemeral_low = range.split_whitespace().next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(FIRST);
    if span < 1_000 {
        // No room below the range on this machine: the kernel's pick, as before.
        return std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    }
    // Test binaries of one `cargo test` run one after another; the pid spreads them anyway.
    let start = std::process::id() % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free port left below the ephemeral range");
        let port = (FIRST + (start + n) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The database, data folder, port and settings every `textdesk` invocation
/// of one test shares.
pub struct Env {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub port: u16,
    /// More `TEXTDESK_*` settings, in the order given.
    pub settings: Vec<(String, String)>,
}

impl Env {
    /// On a free port, with nothing but the database and folder set.
    pub fn new(database_url: &str, data_dir: &Path) -> Env {
        Env {
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_owned(),
            port: free_port(),
            settings: Vec::new(),
        }
    }

    pub fn set(mut self, name: &str, value: impl ToString) -> Env {
        self.settings.push((name.to_owned(), value.to_string()));
        self
    }

    /// The same database, folder and settings on another free port (a second node).
    pub fn another_node(&self) -> Env {
        Env { port: free_port(), settings: self.settings.clone(), ..Env::new(&self.database_url, &self.data_dir) }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_remove("TEXTDESK_CONFIG")
            .env("TEXTDESK_DATABASE_URL", &self.database_url)
            .env("TEXTDESK_DATA_DIR", &self.data_dir)
            .env("TEXTDESK_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("TEXTDESK_PUBLIC_URL", self.base());
        for (k, v) in &self.settings {
            c.env(k, v);
        }
        c
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a CLI subcommand to completion, with `stdin` as its input; returns its stdout.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        if let Some(input) = stdin {
            let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "textdesk {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `textdesk serve` (its log in `log`) and waits until it answers its health check.
    pub async fn serve(&self, log: &Path) -> Server {
        let child = self
            .command(&["serve"])
            .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.base())).send().await
                && r.status().is_success()
            {
                return server;
            }
            let exited = server.0.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "server did not become healthy ({exited:?}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running server, killed when dropped.
pub struct Server(pub Child);

impl Server {
    /// SIGKILL: no shutdown hook, no flush, no chance to record anything.
    pub fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
