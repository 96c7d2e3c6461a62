//! Replies: agents' messages through the dispatcher to a fake Twilio (the
//! tests' fake, speaking Twilio's Messages API over real HTTP), from many
//! senders at once, each paced by its inbox's `rate_limit`. Reports the
//! messages per second that reach the fake and the largest deviation of any
//! sender from its configured rate, measured at the fake from the arrival
//! times per sender; beside them, the fake's own throughput with a bare client
//! posting the same number of requests.
//!
//! The replies are queued through the API of an in-process textdesk that runs
//! no workers; then real `textdesk serve` processes start on the same database
//! and their dispatchers send everything: one node on SQLite, and on
//! PostgreSQL (REPLIES_BENCH_POSTGRES_URL, a role that may create databases)
//! one node and then several at once, whose sum must keep each sender's rate.
//!
//! Run with `cargo bench -p textdesk --bench replies`. REPLIES_BENCH_SENDERS
//! (100), REPLIES_BENCH_PER_SENDER (replies per sender, 20), REPLIES_BENCH_RATE
//! (each sender's segments per second, 2) and REPLIES_BENCH_NODES (3) change
//! the load.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::Timestamp;
use serde_json::{Value, json};
use textdesk::{Application, Config, Options};
use textdesk_channels::twilio::FakeTwilio;

const BIN: &str = env!("CARGO_BIN_EXE_textdesk");
/// Every process of a run seals and opens the inboxes' credentials with this key.
const SECRET_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sender(i: usize) -> String {
    format!("+1415{:07}", 3_000_000 + i)
}

struct Load {
    senders: usize,
    per_sender: usize,
    rate: f64,
}

impl Load {
    fn total(&self) -> usize {
        self.senders * self.per_sender
    }
}

/// An admin's API on the in-process textdesk.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, r: reqwest::RequestBuilder) -> Value {
        let r = r.bearer_auth(&self.token).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(self.client.post(format!("{}/api/v1{path}", self.base)).json(&body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Value {
        self.send(self.client.patch(format!("{}/api/v1{path}", self.base)).json(&body)).await
    }

    async fn conversations(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/conversations?limit=200&cursor={c}"),
                None => "/conversations?limit=200".to_owned(),
            };
            let page = self.send(self.client.get(format!("{}/api/v1{path}", self.base))).await;
            ids.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return ids,
            }
        }
    }
}

/// A fresh database with `load.senders` Twilio inboxes, each paced at
/// `load.rate`, each with one customer who texted in, and `load.per_sender`
/// replies queued to each customer. Nothing is sent yet: the in-process
/// textdesk that queued them runs no dispatcher.
async fn queue_replies(database_url: &str, data_dir: &std::path::Path, fake: &FakeTwilio, load: &Load) {
    let config = Config {
        database_url: database_url.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        account_name: "Bench Dental".into(),
        secret_key: Some(SECRET_KEY.into()),
        ..Config::default()
    };
    let app = Application::build(config, Options { workers: false, ..Options::default() }).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let services = app.services.clone();
    tokio::spawn(app.run());
    let token = common::admin_token(&services).await;
    let api = Api { client: reqwest::Client::new(), base, token };

    for i in 0..load.senders {
        let inbox = api
            .post(
                "/inboxes",
                json!({ "name": format!("Line {i}"), "channel_kind": "twilio", "sender": sender(i),
                        "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } }),
            )
            .await;
        let id = inbox["id"].as_i64().unwrap();
        api.patch(
            &format!("/inboxes/{id}"),
            json!({ "settings": { "rate_limit": { "segments_per_second": load.rate } } }),
        )
        .await;
        let url = inbox["webhook_urls"]["inbound"].as_str().unwrap();
        let customer = format!("+1415{:07}", 4_000_000 + i);
        let params = fake.inbound_params(&customer, &sender(i), "Hi, can I move my appointment?");
        let r = fake.post_inbound(url, &params).await.unwrap();
        assert_eq!(r.status(), 200, "the customer's text is acknowledged");
    }
    let conversations = api.conversations().await;
    assert_eq!(conversations.len(), load.senders);
    // Round the conversations, so every sender's queue fills at the same pace.
    let replies: Vec<(i64, usize)> =
        (0..load.per_sender).flat_map(|k| conversations.iter().map(move |c| (*c, k))).collect();
    futures_util::stream::iter(replies)
        .for_each_concurrent(16, |(conv, k)| {
            let api = &api;
            async move {
                let body = json!({ "body": format!("Reply {k}: yes, we can move it to Thursday.") });
                api.post(&format!("/conversations/{conv}/messages"), body).await;
            }
        })
        .await;
}

/// `textdesk serve` processes, killed when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `n` nodes on the database at once and waits until each answers its health check.
async fn start_nodes(n: usize, database_url: &str, data_dir: &std::path::Path) -> Nodes {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let mut nodes = Nodes(Vec::new());
    for (i, port) in ports.iter().enumerate() {
        let log = std::fs::File::create(data_dir.join(format!("node-{i}.log"))).unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .env_remove("TEXTDESK_CONFIG")
            .env("TEXTDESK_DATABASE_URL", database_url)
            .env("TEXTDESK_DATA_DIR", data_dir)
            .env("TEXTDESK_LISTEN", format!("127.0.0.1:{port}"))
            .env("TEXTDESK_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("TEXTDESK_SECRET_KEY", SECRET_KEY)
            .env("TEXTDESK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        nodes.0.push(child);
    }
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for port in ports {
        while !client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "a node did not become healthy; see its log in {}", data_dir.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    nodes
}

/// What arrived at the fake, per sender.
struct Measured {
    name: String,
    messages: usize,
    /// From the first arrival to the last, plus the second a sender may run
    /// ahead (see `measure`); for the bare client, the time it took.
    elapsed: Duration,
    /// Each sender's rate over its sends, as a fraction of the configured rate, minus one.
    worst_deviation: f64,
    /// The most messages of one sender in any one-second window, per configured rate.
    peak_second: f64,
    /// The longest any sender went between two sends beyond its pace (1/R):
    /// a step of the dispatcher that came late.
    longest_late: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }
}

/// Measures from the arrival times. A sender at rate R may run one second
/// ahead of its schedule (`pacing::Rate`: a burst of about R, then one every
/// 1/R), so n messages sent exactly at pace arrive over n/R - 1 seconds; a
/// sender's rate is taken as n over (first to last arrival + 1 s), which is R
/// when it holds its pace exactly, more when it runs faster.
fn measure(name: &str, arrivals: &[(String, Timestamp)], rate: f64) -> Measured {
    let mut by_sender: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
    for (from, at) in arrivals {
        by_sender.entry(from.as_str()).or_default().push(*at);
    }
    let mut worst_deviation: f64 = 0.0;
    let mut peak_second: f64 = 0.0;
    let mut longest_late = Duration::ZERO;
    for (sender, times) in by_sender.iter_mut() {
        times.sort();
        for pair in times.windows(2) {
            let late = pair[1].duration_since(pair[0]).as_secs_f64() - 1.0 / rate;
            longest_late = longest_late.max(Duration::from_secs_f64(late.max(0.0)));
        }
        if std::env::var_os("REPLIES_BENCH_TRACE").is_some() {
            let offsets: Vec<String> =
                times.iter().map(|t| format!("{:.0}", t.duration_since(times[0]).as_secs_f64() * 1000.0)).collect();
            eprintln!("{name} {sender}: {}", offsets.join(" "));
        }
        let span = times[times.len() - 1].duration_since(times[0]).as_secs_f64();
        let deviation = times.len() as f64 / (span + 1.0) / rate - 1.0;
        if deviation.abs() > worst_deviation.abs() {
            worst_deviation = deviation;
        }
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]).as_secs_f64() >= 1.0 {
                start += 1;
            }
            peak_second = peak_second.max((end - start + 1) as f64 / rate);
        }
    }
    let first = arrivals.iter().map(|(_, t)| *t).min().unwrap();
    let last = arrivals.iter().map(|(_, t)| *t).max().unwrap();
    Measured {
        name: name.to_owned(),
        messages: arrivals.len(),
        elapsed: last.duration_since(first).unsigned_abs() + Duration::from_secs(1),
        worst_deviation,
        peak_second,
        longest_late,
    }
}

/// Queues the replies on `database_url`, starts `nodes` nodes, and waits
/// until the fake has every reply.
async fn run(name: &str, database_url: &str, nodes: usize, load: &Load) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTwilio::start().await.unwrap();
    queue_replies(database_url, dir.path(), &fake, load).await;
    let replies = |fake: &FakeTwilio| {
        fake.sent_with_times()
            .into_iter()
            .filter(|(s, _)| s.body.starts_with("Reply "))
            .map(|(s, at)| (s.from, at))
            .collect::<Vec<_>>()
    };
    let _nodes = start_nodes(nodes, database_url, dir.path()).await;
    // Paced, the run takes per_sender / rate seconds; allow for a slow machine.
    let deadline = Instant::now() + Duration::from_secs_f64(load.per_sender as f64 / load.rate * 4.0 + 60.0);
    loop {
        let sent = replies(&fake).len();
        if sent >= load.total() {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: only {sent} of {} replies reached the fake", load.total());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment for anything sent twice to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrivals = replies(&fake);
    assert_eq!(arrivals.len(), load.total(), "{name}: every reply reaches the fake once");
    measure(name, &arrivals, load.rate)
}

/// Baseline: a bare client posts the same number of messages to a fresh
/// fake, with one request in flight per sender.
async fn bare_client(load: &Load) -> Measured {
    let fake = FakeTwilio::start().await.unwrap();
    let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", fake.base_url(), fake.account_sid());
    let client = reqwest::Client::builder().pool_max_idle_per_host(load.senders).build().unwrap();
    let start = Instant::now();
    futures_util::stream::iter(0..load.total())
        .for_each_concurrent(load.senders, |i| {
            let (client, url, fake) = (&client, &url, &fake);
            async move {
                let form = [
                    ("From", sender(i % load.senders)),
                    ("To", format!("+1415{:07}", 4_000_000 + i % load.senders)),
                    ("Body", format!("Reply {i}: yes, we can move it to Thursday.")),
                ];
                let r = client
                    .post(url)
                    .basic_auth(fake.account_sid(), Some(fake.auth_token()))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                r.bytes().await.unwrap();
            }
        })
        .await;
    let elapsed = start.elapsed();
    Measured {
        name: "bare client".into(),
        messages: load.total(),
        elapsed,
        worst_deviation: f64::NAN,
        peak_second: f64::NAN,
        longest_late: Duration::ZERO,
    }
}

#[tokio::main]
async fn main() {
    textdesk_channels::ensure_tls_provider();
    let load = Load {
        senders: env_or("REPLIES_BENCH_SENDERS", 100).max(1),
        per_sender: env_or("REPLIES_BENCH_PER_SENDER", 20).max(2),
        rate: env_or("REPLIES_BENCH_RATE", 2).max(1) as f64,
    };
    let many = env_or("REPLIES_BENCH_NODES", 3).max(2);
    let postgres = std::env::var("REPLIES_BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    println!(
        "replies: {} senders x {} replies, each sender paced at {} segments/s (together {} /s); nodes: 1{}",
        load.senders,
        load.per_sender,
        load.rate,
        load.rate * load.senders as f64,
        if postgres.is_some() { format!(", and {many} on PostgreSQL") } else { String::new() }
    );

    let mut results = Vec::new();
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", sqlite_dir.path().join("textdesk.db").display());
    results.push(run("SQLite 1 node", &sqlite_url, 1, &load).await);
    if let Some(admin) = &postgres {
        for nodes in [1, many] {
            let name = format!("textdesk_replies_{}_{nodes}", std::process::id());
            let url = common::postgres_database(admin, &name).await;
            let label = format!("PostgreSQL {nodes} node{}", if nodes == 1 { "" } else { "s" });
            results.push(run(&label, &url, nodes, &load).await);
            common::drop_postgres_database(admin, &name).await;
        }
    }
    let bare = bare_client(&load).await;

    println!(
        "{:<22} {:>9} {:>10} {:>22} {:>22} {:>18}",
        "run", "messages", "msgs/s", "worst sender vs rate", "peak second / rate", "longest late"
    );
    for m in &results {
        println!(
            "{:<22} {:>9} {:>10.0} {:>21.1}% {:>21.2}x {:>15.0} ms",
            m.name,
            m.messages,
            m.per_second(),
            m.worst_deviation * 100.0,
            m.peak_second,
            m.longest_late.as_secs_f64() * 1000.0
        );
    }
    println!("{:<22} {:>9} {:>10.0}", bare.name, bare.messages, bare.per_second());
    let configured = load.rate * load.senders as f64;
    for m in &results {
        let senders = load.senders;
        println!(
            "bench-row\treplies\t{} {senders} senders messages/s\t{:.0}\t/s\tfake Twilio, bare client\t{:.0}\t{:.3}",
            m.name,
            m.per_second(),
            bare.per_second(),
            m.per_second() / bare.per_second()
        );
        println!(
            "bench-row\treplies\t{} {senders} senders messages/s\t{:.0}\t/s\tconfigured rates summed\t{configured:.0}\t{:.3}",
            m.name,
            m.per_second(),
            m.per_second() / configured
        );
        println!(
            "bench-row\treplies\t{} worst sender's deviation from its rate\t{:+.1}\t%\t-\t-\t-",
            m.name,
            m.worst_deviation * 100.0
        );
        println!(
            "bench-row\treplies\t{} peak second of one sender (pacing allows up to 2)\t{:.2}\tx rate\t-\t-\t-",
            m.name, m.peak_second
        );
        println!(
            "bench-row\treplies\t{} longest a sender waited past its pace\t{:.0}\tms\t-\t-\t-",
            m.name,
            m.longest_late.as_secs_f64() * 1000.0
        );
    }
}
