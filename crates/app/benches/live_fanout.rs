//! Live fan-out: 200 agents follow `/api/v1/events` over SSE while customers'
//! texts arrive through the simulator's API at a steady 1,000 a second. For
//! every text and every agent: the time from sending the inbound request to
//! that agent reading its `message.created` event (p50, p99), how many such
//! events never arrived (lost), and the rate achieved. The real release
//! `textdesk serve` runs as its own process on a fresh SQLite data folder;
//! the baseline is the same fan-out through a bare tokio broadcast channel and
//! axum SSE server (this bench binary run again), with the same client.
//!
//! Run with `cargo bench -p textdesk --bench live_fanout` (FANOUT_AGENTS,
//! FANOUT_RATE and FANOUT_SECONDS change the load: 200 agents, 1,000 texts a
//! second for 5 seconds by default). Every agent uses one admin's token: what
//! is measured is the relay and its streams, the same for any user.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{bench_row, env_or};

/// When each agent read each message's event: (message id, when).
type Arrivals = Arc<Mutex<Vec<Vec<(i64, Instant)>>>>;

/// Follows `url` as agent `i`, noting every `message.created` (for
/// textdesk: a customer's) until the stream ends or the bench drops it.
async fn agent(client: reqwest::Client, url: String, token: String, i: usize, arrivals: Arrivals) {
    let mut resp = client.get(&url).bearer_auth(token).send().await.unwrap();
    assert!(resp.status().is_success(), "agent {i}: {}", resp.status());
    let mut pending = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let now = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let frame: String = pending.drain(..end + 2).collect();
            if let Some(id) = message_created(&frame) {
                arrivals.lock().unwrap()[i].push((id, now));
            }
        }
    }
}

/// The message id of a `message.created` frame: textdesk's JSON (a
/// customer's message only), or the baseline's bare id.
fn message_created(frame: &str) -> Option<i64> {
    let mut kind = "";
    let mut data = "";
    for line in frame.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = line.strip_prefix("data:") {
            data = d.trim();
        }
    }
    if kind != "message.created" {
        return None;
    }
    match serde_json::from_str::<Value>(data).ok()? {
        Value::Number(n) => n.as_i64(),
        v if v["inbound"] == true => v["message_id"].as_i64(),
        _ => None,
    }
}

struct Run {
    sent: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    lost: usize,
}

impl Run {
    fn percentile(&self, p: usize) -> f64 {
        let i = (self.latencies_ms.len() * p / 100).min(self.latencies_ms.len().saturating_sub(1));
        self.latencies_ms.get(i).copied().unwrap_or(f64::NAN)
    }
    fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }
}

/// `agents` follow `events`; `send(i)` is paced at `rate` a second for
/// `total` texts and yields the id of the message it caused.
async fn fan_out<F, Fut>(events: String, token: String, (agents, rate, total): (usize, usize, usize), send: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = i64> + Send + 'static,
{
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![Vec::new(); agents]));
    let client = reqwest::Client::builder().pool_max_idle_per_host(agents).build().unwrap();
    let mut followers = Vec::new();
    for i in 0..agents {
        followers.push(tokio::spawn(agent(client.clone(), events.clone(), token.clone(), i, arrivals.clone())));
    }
    // Every stream open before the first text.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total);
    for i in 0..total {
        ticks.tick().await;
        let sent_at = Instant::now();
        let fut = send(i);
        sends.push(tokio::spawn(async move { (fut.await, sent_at) }));
    }
    let mut sent_at = HashMap::new();
    for s in sends {
        let (id, at) = s.await.unwrap();
        sent_at.insert(id, at);
    }
    let elapsed = start.elapsed();
    // Let the last events arrive (at most 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && arrivals.lock().unwrap().iter().any(|a| a.len() < total) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for f in &followers {
        f.abort();
    }
    let arrivals = arrivals.lock().unwrap();
    let mut latencies_ms = Vec::with_capacity(total * agents);
    let mut lost = 0;
    for a in arrivals.iter() {
        let seen: HashMap<i64, Instant> = a.iter().copied().collect();
        for (id, at) in &sent_at {
            match seen.get(id) {
                Some(got) => latencies_ms.push(got.saturating_duration_since(*at).as_secs_f64() * 1000.0),
                None => lost += 1,
            }
        }
    }
    latencies_ms.sort_by(f64::total_cmp);
    Run { sent: total, elapsed, latencies_ms, lost }
}

fn main() {
    textdesk_channels::ensure_tls_provider();
    let agents = env_or("FANOUT_AGENTS", 200);
    let rate = env_or("FANOUT_RATE", 1000);
    let total = rate * env_or("FANOUT_SECONDS", 5);
    textdesk::open_files::fit_connections(agents);
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let port = support::free_port();
        let settings = [("TEXTDESK_SIMULATOR", "true".to_owned()), ("TEXTDESK_MAX_CONNECTIONS", "4000".to_owned())];
        let command = support::textdesk(dir.path(), port, &["serve"], &settings);
        let server = support::spawn_and_wait(command, port, &dir.path().join("serve.log")).await;
        let base = server.base();
        let token = support::admin_token(dir.path(), port);
        let client = reqwest::Client::new();
        let inbox: Value = client
            .post(format!("{base}/api/v1/inboxes"))
            .bearer_auth(&token)
            .json(&json!({ "name": "Main line", "channel_kind": "simulator", "sender": "+14155550100" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let texts = format!("{base}/simulator/api/inboxes/{}/messages", inbox["id"]);
        let ours = fan_out(format!("{base}/api/v1/events"), token, (agents, rate, total), |i| {
            let (client, url) = (client.clone(), texts.clone());
            async move {
                // A thousand customers, each texting now and then.
                let from = format!("+1415{:07}", 2_000_000 + i % 1000);
                let body = json!({ "from": from, "body": format!("Fan-out text {i}: is my order ready?") });
                let r: Value = client.post(url).json(&body).send().await.unwrap().json().await.unwrap();
                r["message_id"].as_i64().unwrap_or_else(|| panic!("no message id: {r}"))
            }
        })
        .await;
        drop(server);

        let port = support::free_port();
        let bare =
            support::spawn_and_wait(support::baseline_command(port), port, &dir.path().join("baseline.log")).await;
        let publish = format!("{}/publish", bare.base());
        let base_run = fan_out(format!("{}/events", bare.base()), "-".into(), (agents, rate, total), |i| {
            let (client, url) = (client.clone(), publish.clone());
            async move {
                client.post(url).body(i.to_string()).send().await.unwrap().text().await.unwrap();
                i as i64
            }
        })
        .await;
        drop(bare);

        println!("live fan-out: {agents} SSE agents, {total} customer texts at {rate}/s (simulator API)");
        for (name, r) in [("textdesk", &ours), ("bare broadcast + axum SSE", &base_run)] {
            println!(
                "  {name:<28} {:>7.0} texts/s  delivery p50 {:>7.2} ms  p99 {:>7.2} ms  lost {}",
                r.rate(),
                r.percentile(50),
                r.percentile(99),
                r.lost
            );
        }
        let bare_name = "bare broadcast SSE";
        let area = "live fan-out";
        bench_row(area, &format!("{agents} agents texts/s"), ours.rate(), "/s", Some((bare_name, base_run.rate())));
        bench_row(area, "delivery p50", ours.percentile(50), "ms", Some((bare_name, base_run.percentile(50))));
        bench_row(area, "delivery p99", ours.percentile(99), "ms", Some((bare_name, base_run.percentile(99))));
        bench_row(area, "events lost", ours.lost as f64, "events", Some((bare_name, base_run.lost as f64)));
    });
}
