//! Live fan-out: agents signed in to the inbox each hold its live stream
//! (`/events`, the SSE stream the inbox page follows) while customers' texts
//! arrive through the signed Twilio webhook at a paced rate. Printed: the
//! inbound rate achieved, the events each agent got (and how many never
//! arrived: lost), the delivery latency from the webhook's 200 to each
//! agent's receipt of that text's `message.created` (p50, p99), and the
//! server's memory (RSS). The real release `textdesk serve` runs as its own
//! process on a fresh SQLite data folder. Baselines from the same run: the
//! same webhooks at the same pace with no agent connected (the rate), and
//! the same fan-out through a bare tokio broadcast channel and axum SSE server
//! (this bench binary run again; latency, losses, memory).
//!
//! Run with `cargo bench -p textdesk --bench fanout`. FANOUT_AGENTS,
//! FANOUT_RATE and FANOUT_SECONDS change the load (200 agents, 1,000 texts a
//! second, 10 s by default); a quick debug run: `FANOUT_AGENTS=20
//! FANOUT_RATE=100 FANOUT_SECONDS=3 cargo bench --profile dev -p textdesk
//! --bench fanout`. At most `SENDERS` webhooks are in flight (a provider's
//! connections are few); a text that falls behind its slot is sent as soon
//! as a connection is free, so the achieved rate says whether the server kept
//! up. Every step has a deadline and fails with a sentence saying which; the
//! servers are killed and the streams closed however the run ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

mod support;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use support::{Server, bench_row, env_or};
use textdesk_channels::twilio::{FakeTwilio, SIGNATURE_HEADER, compute_signature};

const SENDER: &str = "+14155550100";
const PASSWORD: &str = "a bench password";
/// Webhook (or publish) requests in flight at most.
const SENDERS: usize = 64;
/// Customers texting: each has a conversation, and texts again and again.
const CUSTOMERS: usize = 1000;
/// How long Twilio waits for a webhook's answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the last events may take to arrive after the last text was answered.
const DRAIN: Duration = Duration::from_secs(15);

type Fallible<T> = Result<T, String>;

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Fallible<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// What one agent's stream saw: `message.created` events of customers'
/// messages (the id the sender knows them by, when received), and the
/// conversations they were in.
#[derive(Default)]
struct Seen {
    events: Vec<(i64, Instant)>,
    conversations: HashSet<i64>,
}

/// Agents' streams, open until dropped.
struct Agents {
    seen: Vec<Arc<Mutex<Seen>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Agents {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Agents {
    /// Opens `headers.len()` streams on `url` (each with its own headers) and
    /// waits until every one has had its first event (`ready`).
    async fn open(url: &str, headers: Vec<(&'static str, String)>) -> Fallible<Agents> {
        let client = ctx(reqwest::Client::builder().pool_max_idle_per_host(0).build(), "an HTTP client")?;
        let ready = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(None::<String>));
        let n = headers.len();
        let mut agents = Agents { seen: Vec::with_capacity(n), tasks: Vec::with_capacity(n) };
        for (i, (name, value)) in headers.into_iter().enumerate() {
            let seen = Arc::new(Mutex::new(Seen::default()));
            agents.seen.push(seen.clone());
            let request = client.get(url).header(name, value).header("accept", "text/event-stream");
            let (ready, failed) = (ready.clone(), failed.clone());
            agents.tasks.push(tokio::spawn(async move {
                if let Err(e) = follow(request, &ready, &seen).await {
                    failed.lock().unwrap().get_or_insert(format!("agent {i}: {e}"));
                }
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready.load(Ordering::SeqCst) < n {
            if let Some(e) = failed.lock().unwrap().take() {
                return Err(e);
            }
            if Instant::now() > deadline {
                return Err(format!("only {} of {n} streams opened within 60 s", ready.load(Ordering::SeqCst)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(agents)
    }

    /// Events received by all agents together.
    fn received(&self) -> usize {
        self.seen.iter().map(|s| s.lock().unwrap().events.len()).sum()
    }

    /// Waits until the agents have `expected` events in all, or nothing new
    /// came for `DRAIN`.
    async fn drain(&self, expected: usize) {
        let mut last = (self.received(), Instant::now());
        while last.0 < expected && last.1.elapsed() < DRAIN {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.received();
            if now != last.0 {
                last = (now, Instant::now());
            }
        }
    }
}

/// Reads one stream until it ends, noting each customer's `message.created`.
async fn follow(request: reqwest::RequestBuilder, ready: &AtomicUsize, seen: &Mutex<Seen>) -> Fallible<()> {
    let mut resp = ctx(request.send().await, "opening the stream")?;
    if !resp.status().is_success() {
        return Err(format!("the stream was answered {}", resp.status()));
    }
    let mut pending = String::new();
    while let Some(chunk) = ctx(resp.chunk().await, "reading the stream")? {
        let at = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let frame: String = pending.drain(..end + 2).collect();
            match frame_of(&frame) {
                Some(("ready", _)) => {
                    ready.fetch_add(1, Ordering::SeqCst);
                }
                Some(("message.created", data)) => note(data, at, seen),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The event name and data of an SSE frame.
fn frame_of(frame: &str) -> Option<(&str, &str)> {
    let (mut kind, mut data) = (None, "");
    for line in frame.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = Some(k.trim());
        } else if let Some(d) = line.strip_prefix("data:") {
            data = d.trim();
        }
    }
    Some((kind?, data))
}

/// textdesk's JSON (a customer's message only: `inbound`), or the bare
/// server's slot number.
fn note(data: &str, at: Instant, seen: &Mutex<Seen>) {
    let mut seen = seen.lock().unwrap();
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Number(n)) => seen.events.extend(n.as_i64().map(|id| (id, at))),
        Ok(v) if v["inbound"] == true => {
            if let (Some(id), Some(conv)) = (v["message_id"].as_i64(), v["conversation_id"].as_i64()) {
                seen.events.push((id, at));
                seen.conversations.insert(conv);
            }
        }
        _ => {}
    }
}

/// What a paced run of requests did.
struct Paced {
    /// When each accepted request (by slot) was answered 200.
    answered: HashMap<usize, Instant>,
    failed: usize,
    elapsed: Duration,
    /// Request latency, sorted (ms).
    latency_ms: Vec<f64>,
    /// The server's largest RSS seen during the run (MiB).
    peak_rss_mib: f64,
}

impl Paced {
    fn rate(&self) -> f64 {
        self.answered.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// Sends `total` requests, slot `i` due at `i / rate` s from the start, with
/// at most `SENDERS` in flight; `send(i)` says whether slot `i` was accepted.
async fn paced<F, Fut>(total: usize, rate: usize, server: &Server, send: F) -> Paced
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let every = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let next = AtomicUsize::new(0);
    let done = Mutex::new((HashMap::with_capacity(total), 0usize, Vec::with_capacity(total)));
    let peak = Mutex::new(0.0f64);
    let (next, done, send) = (&next, &done, &send);
    let worker = move || async move {
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= total {
                return;
            }
            tokio::time::sleep_until(start + every * i as u32).await;
            let sent = Instant::now();
            let ok = send(i).await;
            let answered = Instant::now();
            let mut d = done.lock().unwrap();
            if ok {
                d.0.insert(i, answered);
            } else {
                d.1 += 1;
            }
            d.2.push((answered - sent).as_secs_f64() * 1000.0);
        }
    };
    let sampler = async {
        while next.load(Ordering::SeqCst) < total {
            let rss = server.rss_mib();
            {
                let mut p = peak.lock().unwrap();
                *p = p.max(rss);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let workers = futures_util::future::join_all((0..SENDERS).map(|_| worker()));
    let (_, ()) = tokio::join!(workers, sampler);
    let elapsed = start.elapsed();
    let (answered, failed, mut latency_ms) = std::mem::take(&mut *done.lock().unwrap());
    latency_ms.sort_by(f64::total_cmp);
    let peak_rss_mib = peak.into_inner().unwrap().max(server.rss_mib());
    Paced { answered, failed, elapsed, latency_ms, peak_rss_mib }
}

/// Delivery of a run: latencies from each 200 to each agent's receipt (ms,
/// sorted; an event read before its 200 counts 0), and what never arrived.
struct Delivery {
    latency_ms: Vec<f64>,
    lost: usize,
    /// The fewest events any one agent got.
    fewest: usize,
}

/// `slot_of` maps what the streams carry (a message id) to the sender's slot.
fn delivery(agents: &Agents, run: &Paced, slot_of: &HashMap<i64, usize>) -> Delivery {
    let mut latency_ms = Vec::with_capacity(run.answered.len() * agents.seen.len());
    let (mut lost, mut fewest) = (0, usize::MAX);
    for seen in &agents.seen {
        let seen = seen.lock().unwrap();
        let mut got = HashSet::new();
        for (id, at) in &seen.events {
            let Some(slot) = slot_of.get(id) else { continue };
            if let Some(ok) = run.answered.get(slot)
                && got.insert(*slot)
            {
                latency_ms.push(at.saturating_duration_since(*ok).as_secs_f64() * 1000.0);
            }
        }
        lost += run.answered.len() - got.len();
        fewest = fewest.min(got.len());
    }
    latency_ms.sort_by(f64::total_cmp);
    Delivery { latency_ms, lost, fewest: if agents.seen.is_empty() { 0 } else { fewest } }
}

/// The run against textdesk: figures without agents, with agents, and the
/// server's RSS with the agents' streams open.
struct Ours {
    alone: Paced,
    fanned: Paced,
    delivery: Delivery,
    streams_rss_mib: f64,
}

/// Signed Twilio texts, one per slot: `CUSTOMERS` numbers, each texting again.
fn signed_texts(fake: &FakeTwilio, url: &str, first: usize, n: usize) -> Vec<(String, String, String)> {
    (first..first + n)
        .map(|i| {
            let from = format!("+1415{:07}", 2_000_000 + i % CUSTOMERS);
            let params = fake.inbound_params(&from, SENDER, &format!("Fan-out text {i}: is my order ready?"));
            let signature = compute_signature(fake.auth_token(), url, &params);
            let sid = params.iter().find(|(k, _)| k == "MessageSid").map(|(_, v)| v.clone()).unwrap_or_default();
            (sid, signature, url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish())
        })
        .collect()
}

async fn send_texts(client: &reqwest::Client, url: &str, texts: &[(String, String, String)], i: usize) -> bool {
    let (_, signature, body) = &texts[i];
    let resp = client
        .post(url)
        .header(SIGNATURE_HEADER, signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await;
    match resp {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Sends `req`, again after a second while the server says it is busy
/// checking passwords (503; 30 times at most).
async fn send_patiently(req: reqwest::RequestBuilder, what: &str) -> Fallible<reqwest::Response> {
    for _ in 0..30 {
        let attempt = req.try_clone().ok_or_else(|| format!("{what}: a request that cannot be sent again"))?;
        let resp = ctx(attempt.send().await, what)?;
        if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Ok(resp);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(format!("{what}: the server stayed busy for 30 s"))
}

/// Answers 2xx with a JSON body, or says what came back.
async fn api(req: reqwest::RequestBuilder, what: &str) -> Fallible<Value> {
    let resp = send_patiently(req, what).await?;
    let status = resp.status();
    let text = ctx(resp.text().await, what)?;
    if !status.is_success() {
        return Err(format!("{what}: answered {status}: {text}"));
    }
    ctx(serde_json::from_str(&text), what)
}

/// Adds an agent with the API and signs them in as a browser does; their session cookie.
async fn signed_in_agent(client: &reqwest::Client, base: &str, admin: &str, n: usize) -> Fallible<String> {
    let email = format!("agent{n}@example.com");
    let body = json!({ "email": email, "name": format!("Agent {n}"), "role": "agent", "password": PASSWORD });
    api(client.post(format!("{base}/api/v1/users")).bearer_auth(admin).json(&body), "adding an agent").await?;
    let page = ctx(client.get(format!("{base}/login")).send().await, "the sign-in page")?;
    let csrf_cookie = cookie(&page, "textdesk_signin_csrf");
    let html = ctx(page.text().await, "the sign-in page")?;
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or("the sign-in page has no CSRF field")?
        .to_owned();
    let form = [("email", email.as_str()), ("password", PASSWORD), ("next", "/inbox"), ("csrf", token.as_str())];
    let csrf_cookie = format!("textdesk_signin_csrf={}", csrf_cookie.unwrap_or_else(|| token.clone()));
    let login = client.post(format!("{base}/login")).header("cookie", csrf_cookie).form(&form);
    let resp = send_patiently(login, "signing in").await?;
    cookie(&resp, "textdesk_session")
        .ok_or_else(|| format!("signing in as {email} was answered {} without a session", resp.status()))
}

fn cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.strip_prefix(name).and_then(|v| v.strip_prefix('=')).and_then(|v| v.split(';').next()).map(str::to_owned)
    })
}

/// textdesk: a Twilio inbox on the fake, `agents` signed in, the texts.
async fn run_textdesk(
    server: &Server,
    dir: &std::path::Path,
    (agents, rate, total): (usize, usize, usize),
) -> Fallible<Ours> {
    let base = server.base();
    let fake = ctx(FakeTwilio::start().await, "starting the fake Twilio")?;
    let admin = support::admin_token(dir, server.port);
    let client = ctx(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(WEBHOOK_TIMEOUT)
            .pool_max_idle_per_host(SENDERS)
            .build(),
        "an HTTP client",
    )?;
    let inbox = api(
        client.post(format!("{base}/api/v1/inboxes")).bearer_auth(&admin).json(&json!({
            "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
            "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } })),
        "adding the Twilio inbox",
    )
    .await?;
    let url = inbox["webhook_urls"]["inbound"].as_str().ok_or(format!("no webhook URL in {inbox}"))?.to_owned();

    // The webhooks alone first: the rate the server keeps with nobody watching.
    let texts = signed_texts(&fake, &url, 0, total);
    let alone = paced(total, rate, server, |i| send_texts(&client, &url, &texts, i)).await;
    if alone.answered.is_empty() {
        return Err(format!("no webhook was answered 200 (see {}/serve.log)", dir.display()));
    }

    let started = Instant::now();
    let cookies: Vec<Fallible<String>> = futures_util::stream::iter(0..agents)
        .map(|n| signed_in_agent(&client, &base, &admin, n))
        .buffer_unordered(2)
        .collect()
        .await;
    let headers = cookies
        .into_iter()
        .map(|c| c.map(|c| ("cookie", format!("textdesk_session={c}"))))
        .collect::<Fallible<Vec<_>>>()?;
    eprintln!("fanout: {agents} agents added and signed in ({:.1} s)", started.elapsed().as_secs_f64());
    let streams = Agents::open(&format!("{base}/events"), headers).await?;
    let streams_rss_mib = server.settled_rss_mib(Duration::from_secs(5)).await;

    let texts = signed_texts(&fake, &url, total, total);
    let fanned = paced(total, rate, server, |i| send_texts(&client, &url, &texts, i)).await;
    streams.drain(fanned.answered.len() * agents).await;

    // Which message each slot's text became: its MessageSid is the stored message's provider id.
    let slot_by_sid: HashMap<&str, usize> = texts.iter().enumerate().map(|(i, t)| (t.0.as_str(), i)).collect();
    let conversations: HashSet<i64> =
        streams.seen.iter().flat_map(|s| s.lock().unwrap().conversations.iter().copied().collect::<Vec<_>>()).collect();
    let lists: Vec<Fallible<Value>> = futures_util::stream::iter(conversations)
        .map(|c| {
            let req = client.get(format!("{base}/api/v1/conversations/{c}/messages?limit=1000")).bearer_auth(&admin);
            async move { api(req, "reading a conversation's messages").await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut slot_of = HashMap::new();
    for list in lists {
        for m in list?.as_array().into_iter().flatten() {
            if let (Some(id), Some(sid)) = (m["id"].as_i64(), m["provider_id"].as_str())
                && let Some(slot) = slot_by_sid.get(sid)
            {
                slot_of.insert(id, *slot);
            }
        }
    }
    let delivery = delivery(&streams, &fanned, &slot_of);
    drop(streams);
    Ok(Ours { alone, fanned, delivery, streams_rss_mib })
}

/// The bare server: the same agents and pace, through `/publish`.
async fn run_bare(server: &Server, (agents, rate, total): (usize, usize, usize)) -> Fallible<(Paced, Delivery, f64)> {
    let base = server.base();
    let client = ctx(
        reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).pool_max_idle_per_host(SENDERS).build(),
        "an HTTP client",
    )?;
    let streams = Agents::open(&format!("{base}/events"), vec![("x-agent", String::new()); agents]).await?;
    let rss = server.settled_rss_mib(Duration::from_secs(5)).await;
    let publish = format!("{base}/publish");
    let run = paced(total, rate, server, |i| {
        let req = client.post(&publish).body(i.to_string());
        async move {
            match req.send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    streams.drain(run.answered.len() * agents).await;
    let slot_of: HashMap<i64, usize> = (0..total).map(|i| (i as i64, i)).collect();
    let d = delivery(&streams, &run, &slot_of);
    drop(streams);
    Ok((run, d, rss))
}

async fn bench(dir: &std::path::Path, load: (usize, usize, usize)) -> Fallible<()> {
    let (agents, rate, total) = load;
    let port = support::free_port();
    let settings = [("TEXTDESK_MAX_CONNECTIONS", (agents + 4 * SENDERS + 200).to_string())];
    let command = support::textdesk(dir, port, &["serve"], &settings);
    let textdesk = support::spawn_and_wait(command, port, &dir.join("serve.log")).await;
    let ours = run_textdesk(&textdesk, dir, load).await?;
    drop(textdesk);

    let port = support::free_port();
    let bare = support::spawn_and_wait(support::baseline_command(port), port, &dir.join("baseline.log")).await;
    let (base_run, base, base_rss) = run_bare(&bare, load).await?;
    drop(bare);

    let d = &ours.delivery;
    println!("live fan-out: {agents} agents on /events, {total} signed Twilio texts at {rate}/s, {SENDERS} in flight");
    println!(
        "  textdesk, no agents       {:>7.0} texts/s  webhook p50 {:>7.2} ms  p99 {:>7.2} ms  failed {}",
        ours.alone.rate(),
        percentile(&ours.alone.latency_ms, 50),
        percentile(&ours.alone.latency_ms, 99),
        ours.alone.failed
    );
    println!(
        "  textdesk, {agents} agents    {:>7.0} texts/s  webhook p50 {:>7.2} ms  p99 {:>7.2} ms  failed {}",
        ours.fanned.rate(),
        percentile(&ours.fanned.latency_ms, 50),
        percentile(&ours.fanned.latency_ms, 99),
        ours.fanned.failed
    );
    for (name, run, del, rss) in [
        ("textdesk", &ours.fanned, d, ours.fanned.peak_rss_mib),
        ("bare broadcast + axum SSE", &base_run, &base, base_run.peak_rss_mib),
    ] {
        println!(
            "  {name:<26} delivered {} of {} per agent at least, lost {}, 200-to-agent p50 {:.2} ms p99 {:.2} ms, peak RSS {rss:.1} MiB",
            del.fewest,
            run.answered.len(),
            del.lost,
            percentile(&del.latency_ms, 50),
            percentile(&del.latency_ms, 99),
        );
    }
    println!(
        "  RSS with the streams open, before the texts: textdesk {:.1} MiB, bare {base_rss:.1} MiB",
        ours.streams_rss_mib
    );

    let area = "live fan-out";
    let bare = "bare broadcast SSE";
    let alone = "same, no agents";
    bench_row(
        area,
        &format!("{agents} agents inbound texts/s"),
        ours.fanned.rate(),
        "/s",
        Some((alone, ours.alone.rate())),
    );
    let p = |v: &Vec<f64>, n| percentile(v, n);
    bench_row(area, "200-to-agent p50", p(&d.latency_ms, 50), "ms", Some((bare, p(&base.latency_ms, 50))));
    bench_row(area, "200-to-agent p99", p(&d.latency_ms, 99), "ms", Some((bare, p(&base.latency_ms, 99))));
    let per_agent = ours.fanned.answered.len() as f64;
    bench_row(
        area,
        "texts delivered to the worst agent",
        d.fewest as f64,
        "events",
        Some(("texts answered 200", per_agent)),
    );
    bench_row(area, "events lost (all agents)", d.lost as f64, "events", Some((bare, base.lost as f64)));
    bench_row(
        area,
        "webhook p99 with agents",
        p(&ours.fanned.latency_ms, 99),
        "ms",
        Some((alone, p(&ours.alone.latency_ms, 99))),
    );
    bench_row(area, "server peak RSS", ours.fanned.peak_rss_mib, "MiB", Some((bare, base_run.peak_rss_mib)));
    Ok(())
}

fn main() {
    if let Ok(port) = std::env::var(support::BASELINE_ENV) {
        support::baseline_server(port.parse().unwrap());
        return;
    }
    textdesk_channels::ensure_tls_provider();
    let agents = env_or("FANOUT_AGENTS", 200);
    let rate = env_or("FANOUT_RATE", 1000).max(1);
    let total = rate * env_or("FANOUT_SECONDS", 10).max(1);
    let fits = textdesk::open_files::fit_connections(agents + 4 * SENDERS + 200);
    if fits < agents + 2 * SENDERS {
        eprintln!("fanout: the open-file limit is too low for {agents} streams: raise `ulimit -Hn`");
        std::process::exit(1);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The servers are killed as `bench` returns (their `Drop`), whatever it returns.
    let result = runtime.block_on(bench(dir.path(), (agents, rate, total)));
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = result {
        eprintln!("fanout failed: {e}");
        std::process::exit(1);
    }
}
