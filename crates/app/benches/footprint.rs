//! The server's footprint: binary size, time from spawn to the first served
//! `/healthz`, idle memory, memory with many open live streams
//! (`/api/v1/events`) and after they close. The real release `textdesk serve`
//! runs as its own process on a fresh SQLite data folder; beside it, the same
//! steps against a bare axum/tokio SSE server (this bench binary run again),
//! so each figure has a baseline from the same run and machine.
//!
//! Run with `cargo bench -p textdesk --bench footprint`
//! (FOOTPRINT_STREAMS changes the number of streams, 10,000 by default; both
//! processes need that many open files, and the bench raises its own limit).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

mod support;

use std::time::Duration;

use support::{Server, bench_row, env_or};

/// What one server measured.
struct Footprint {
    started_ms: f64,
    idle_mib: f64,
    streams_mib: f64,
    closed_mib: f64,
}

/// Opens `n` streams on `server`, measures, closes them and measures again.
async fn measure(server: &Server, path: &str, token: &str, n: usize) -> Footprint {
    let started_ms = server.started_in.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_mib = server.settled_rss_mib(Duration::from_secs(5)).await;
    let streams = support::open_streams(server.port, path, token, n, 128).await;
    let streams_mib = server.settled_rss_mib(Duration::from_secs(10)).await;
    drop(streams);
    // The server hears each close at once (or at the next keep-alive, 15 s).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed_mib = server.settled_rss_mib(Duration::from_secs(20)).await;
    Footprint { started_ms, idle_mib, streams_mib, closed_mib }
}

fn main() {
    if let Ok(port) = std::env::var(support::BASELINE_ENV) {
        support::baseline_server(port.parse().unwrap());
        return;
    }
    textdesk_channels::ensure_tls_provider();
    let n = env_or("FOOTPRINT_STREAMS", 10_000);
    let fits = textdesk::open_files::fit_connections(n);
    assert!(fits >= n, "the open-file limit is too low for {n} streams: raise `ulimit -Hn`");
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let port = support::free_port();
        let settings = [("TEXTDESK_MAX_CONNECTIONS", (n + 100).to_string())];
        let command = support::textdesk(dir.path(), port, &["serve"], &settings);
        let textdesk = support::spawn_and_wait(command, port, &dir.path().join("serve.log")).await;
        let token = support::admin_token(dir.path(), port);
        let ours = measure(&textdesk, "/api/v1/events", &token, n).await;
        drop(textdesk);

        let port = support::free_port();
        let bare =
            support::spawn_and_wait(support::baseline_command(port), port, &dir.path().join("baseline.log")).await;
        let base = measure(&bare, "/events", "-", n).await;
        drop(bare);

        let size_mib = std::fs::metadata(support::BIN).unwrap().len() as f64 / (1024.0 * 1024.0);
        let per_stream = |f: &Footprint| (f.streams_mib - f.idle_mib) * 1024.0 / n as f64;
        println!("footprint of `textdesk serve` (release, fresh SQLite folder) against a bare axum/tokio SSE server");
        println!("  binary size                 {size_mib:>8.1} MiB");
        println!("  spawn to first /healthz     {:>8.1} ms   (bare: {:.1} ms)", ours.started_ms, base.started_ms);
        println!("  idle RSS                    {:>8.1} MiB  (bare: {:.1} MiB)", ours.idle_mib, base.idle_mib);
        println!("  RSS with {n} streams    {:>8.1} MiB  (bare: {:.1} MiB)", ours.streams_mib, base.streams_mib);
        println!("  per stream                  {:>8.1} KiB  (bare: {:.1} KiB)", per_stream(&ours), per_stream(&base));
        println!("  RSS after they closed       {:>8.1} MiB  (bare: {:.1} MiB)", ours.closed_mib, base.closed_mib);
        let bare_name = "bare axum SSE";
        bench_row("footprint", "binary size", size_mib, "MiB", None);
        bench_row("footprint", "spawn to first /healthz", ours.started_ms, "ms", Some((bare_name, base.started_ms)));
        bench_row("footprint", "idle RSS", ours.idle_mib, "MiB", Some((bare_name, base.idle_mib)));
        let with = format!("RSS with {n} SSE streams");
        bench_row("footprint", &with, ours.streams_mib, "MiB", Some((bare_name, base.streams_mib)));
        bench_row("footprint", "RSS per SSE stream", per_stream(&ours), "KiB", Some((bare_name, per_stream(&base))));
        let after = format!("RSS after {n} streams closed");
        bench_row("footprint", &after, ours.closed_mib, "MiB", Some((bare_name, base.closed_mib)));
    });
}
