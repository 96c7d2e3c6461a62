//! The real `textdesk serve` binary with 2,000 agents' live streams
//! (`/api/v1/events`) open and then closed: once they close, the memory they
//! used goes back to the system. With glibc's malloc it stayed (2,000 streams
//! took a server from 72 to 484 MiB, and it was still 484 MiB after they
//! closed). The figures themselves are the footprint benchmark's; this checks
//! only that the memory comes back.

use crate::common;

use std::time::{Duration, Instant};

use common::Db;
use common::binary::Env;

const STREAMS: usize = 2000;

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens a live stream and waits for its `ready` event.
async fn open(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    let mut r = c.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("event: ready") {
        got.extend_from_slice(&r.chunk().await.unwrap().expect("the stream ended before its first event"));
    }
    r
}

both_backends!(closed_live_streams_give_their_memory_back);
async fn closed_live_streams_give_their_memory_back(db: Db) {
    use futures_util::StreamExt;
    // This process holds a file per stream too.
    textdesk::open_files::fit_connections(STREAMS);
    textdesk_channels::ensure_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = crate::flood::new_database(db, dir.path()).await;
    let env = Env::new(&database_url, dir.path()).set("TEXTDESK_MAX_CONNECTIONS", STREAMS + 100);
    let server = env.serve(&dir.path().join("server.log")).await;
    env.run(
        &["user", "add", "--email", "ada@example.com", "--role", "agent", "--password-stdin"],
        Some("a long password\n"),
    );
    let token = env.run(&["token", "create", "--user", "ada@example.com"], None).trim().to_owned();
    let pid = server.0.id();
    let url = format!("{}/api/v1/events", env.base());
    let c = reqwest::Client::new();
    open(&c, &url, &token).await;
    let idle = rss_kib(pid);

    let streams: Vec<reqwest::Response> =
        futures_util::stream::iter(0..STREAMS).map(|_| open(&c, &url, &token)).buffer_unordered(64).collect().await;
    let open_rss = rss_kib(pid);
    let grew = open_rss.saturating_sub(idle);
    drop(streams);

    // Most of what the streams took is handed back within seconds.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut now = rss_kib(pid);
    while now > idle + grew / 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = rss_kib(pid);
    }
    assert!(
        now <= idle + grew / 4,
        "idle {idle} KiB, {open_rss} KiB with {STREAMS} streams, still {now} KiB 40 s after they closed"
    );
    // And the server still serves a stream.
    open(&c, &url, &token).await;
    drop(server);
    crate::flood::drop_database(pg).await;
}
