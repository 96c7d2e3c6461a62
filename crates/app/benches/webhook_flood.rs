//! Floods the Twilio inbound webhook with signed texts and reports throughput
//! and latency, beside baselines measured in the same run with the same
//! client and concurrency: a bare axum handler answering empty TwiML, and one
//! that inserts a row per request into the same database engine textdesk
//! runs on (SQLite; PostgreSQL too when WEBHOOK_FLOOD_POSTGRES_URL is set).
//! Each textdesk run is two: texts from new numbers (a contact and a
//! conversation made for each), then the same numbers texting once more
//! (known senders: their conversation found and updated). Every run, the
//! baselines' too, starts once each textdesk's event consumers have caught
//! up with what the runs before left them; how long the automations engine
//! (automatic replies) took after each textdesk run is a figure of its own.
//! Beside the process's CPU a request ("cpu") it prints the whole machine's
//! ("box": the database server's work too, when it runs here): where client,
//! server and database share the cores, throughput can be no better than
//! the cores over that figure.
//!
//! Run with `cargo bench -p textdesk --bench webhook_flood`
//! (WEBHOOK_FLOOD_REQUESTS changes the load, WEBHOOK_FLOOD_CONCURRENCY the
//! connections in flight: a comma-separated list, 32 and 256 by default;
//! WEBHOOK_FLOOD_POSTGRES_URL names a server where a database is made for
//! the run and dropped after it; WEBHOOK_FLOOD_STATEMENTS=1 also counts the
//! SQL statements each run cost, its consumers' catch-up included, a text:
//! sqlx then writes each statement's log line, so the timings of such a run
//! are not comparable with a plain run's; sqlx logs no BEGIN, COMMIT or
//! ROLLBACK on SQLite, so SQLite's counts leave those out).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use textdesk::services::Services;
use textdesk::services::automations::engine::ENGINE;
use textdesk::{Application, Config, Options};
use textdesk_channels::twilio::{EMPTY_TWIML, FakeTwilio, SIGNATURE_HEADER, TWIML_CONTENT_TYPE, compute_signature};

const SENDER: &str = "+14155550100";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One request, signed for the URL it goes to.
struct Signed {
    url: String,
    signature: String,
    body: String,
}

/// `n` inbound texts, each its own MessageSid, from the numbers numbered
/// `first` on (one each), signed for `url`. New numbers make new contacts and
/// conversations; numbers of an earlier batch are known senders texting again.
fn signed_texts(fake: &FakeTwilio, url: &str, first: usize, n: usize) -> Vec<Signed> {
    (first..first + n)
        .map(|i| {
            let from = format!("+1415{:07}", 2_000_000 + i);
            let params = fake.inbound_params(&from, SENDER, &format!("Flood text number {i}: is my order ready?"));
            let signature = compute_signature(fake.auth_token(), url, &params);
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            Signed { url: url.to_owned(), signature, body }
        })
        .collect()
}

/// The same requests, aimed elsewhere (the baselines do not check signatures).
fn retarget(requests: &[Signed], url: &str) -> Vec<Signed> {
    requests
        .iter()
        .map(|r| Signed { url: url.to_owned(), signature: r.signature.clone(), body: r.body.clone() })
        .collect()
}

/// The run whose texts come from numbers the run before made known.
const KNOWN: &str = "textdesk, known";

struct Measured {
    name: String,
    requests: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// CPU time the whole process (client and server) spent on the run.
    cpu: Duration,
    /// CPU time the whole machine spent on the run: the process and, when it
    /// runs here, the database server.
    machine_cpu: Duration,
    /// How long after the last answer the automations engine had handled the run's events.
    catch_up: Duration,
    /// SQL statements run from the run's start until every consumer had caught up (when counted).
    statements: u64,
}

/// CPU time this process has used (user + system), from /proc/self/stat;
/// zero where there is none. Clock ticks of 10 ms: enough over a run.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time this machine has spent busy (user, nice, system, interrupts;
/// not idle, waiting for the disk or stolen by the host), from /proc/stat;
/// zero where there is none.
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or_default();
    // cpu  user nice system idle iowait irq softirq steal …
    let fields: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let busy: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| fields.get(i)).sum();
    Duration::from_millis(busy * 10)
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    /// Process CPU per request, in microseconds.
    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
    /// The machine's CPU per request, in microseconds.
    fn machine_cpu_us(&self) -> f64 {
        self.machine_cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
    fn statements_each(&self) -> f64 {
        self.statements as f64 / self.requests as f64
    }
    fn percentile_ms(&self, p: usize) -> f64 {
        let i = (self.latencies.len() * p / 100).min(self.latencies.len().saturating_sub(1));
        self.latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// SQL statements this process has run, counted from sqlx's log events
/// (`sqlx::query`) while WEBHOOK_FLOOD_STATEMENTS=1.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

struct CountStatements;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountStatements {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts counting statements if WEBHOOK_FLOOD_STATEMENTS=1; whether it does.
fn count_statements() -> bool {
    use tracing_subscriber::prelude::*;
    let on = std::env::var("WEBHOOK_FLOOD_STATEMENTS").is_ok_and(|v| v == "1");
    if on {
        // Only sqlx's statement lines are enabled, and only to be counted.
        let statements = tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::DEBUG);
        tracing_subscriber::registry().with(CountStatements.with_filter(statements)).init();
    }
    on
}

/// Sends every request with `concurrency` in flight, over keep-alive connections.
async fn flood(name: &str, client: &reqwest::Client, requests: Vec<Signed>, concurrency: usize) -> Measured {
    let count = requests.len();
    let (cpu_start, machine_start) = (process_cpu(), machine_cpu());
    let start = Instant::now();
    let results: Vec<(bool, Duration)> = futures_util::stream::iter(requests)
        .map(|r| async move {
            let t = Instant::now();
            let resp = client
                .post(&r.url)
                .header(SIGNATURE_HEADER, r.signature)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(r.body)
                .send()
                .await;
            let ok = match resp {
                // Read the body to the end so the connection is reused.
                Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                Err(_) => false,
            };
            (ok, t.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_start);
    let machine_cpu = machine_cpu().saturating_sub(machine_start);
    let failures = results.iter().filter(|(ok, _)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(_, d)| d).collect();
    latencies.sort();
    Measured {
        name: name.to_owned(),
        requests: count,
        failures,
        elapsed,
        latencies,
        cpu,
        machine_cpu,
        catch_up: Duration::ZERO,
        statements: 0,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// textdesk on `database_url` (a fresh database), with a Twilio inbox;
/// returns its inbound webhook URL and its services (to see its consumers).
async fn start_textdesk(dir: &std::path::Path, database_url: String, fake: &FakeTwilio) -> (String, Services) {
    let port = free_port();
    let config = Config {
        database_url,
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        public_url: format!("http://127.0.0.1:{port}"),
        data_dir: dir.to_path_buf(),
        account_name: "Bench Dental".into(),
        ..Config::default()
    };
    let app = Application::build(config, Options::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let services = app.services.clone();
    tokio::spawn(app.run());

    let token = common::admin_token(&services).await;
    let inbox: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/inboxes"))
        .bearer_auth(token)
        .json(&json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
                       "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap_or_else(|| panic!("no webhook URL: {inbox}")).to_owned();
    (url, services)
}

/// Waits until every textdesk started has handled every event in its log
/// (automations, reports, webhooks, surveys, reviews); returns how long the
/// automations engine took (what answers customers: the others wait by
/// design, reports 2 s between passes, webhooks with no subscription 5 s).
/// Each run starts on a machine where nothing is left over from the run
/// before (a textdesk on SQLite catching up used to share the cores with the
/// runs on PostgreSQL that followed it).
///
/// Then brings a PostgreSQL database's statistics up to date, as autovacuum
/// does within a minute on a node in service: the bench's database is new,
/// and statements prepared while its tables were empty keep plans made for
/// empty tables (the log read by a sequential scan and a sort, 0.8 ms a call
/// with 2,000 rows) until an ANALYZE replaces them.
async fn settle(nodes: &[(&Services, Option<&str>)]) -> Duration {
    let start = Instant::now();
    let waited =
        || assert!(start.elapsed() < SETTLE_AT_MOST, "the consumers had not caught up after {SETTLE_AT_MOST:?}");
    for (services, _) in nodes {
        while services.store.consumer_behind(ENGINE).await.unwrap() {
            waited();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let engine = start.elapsed();
    for (services, _) in nodes {
        while services.store.consumers_behind().await.unwrap() > 0 {
            waited();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for url in nodes.iter().filter_map(|(_, postgres)| *postgres) {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect to the bench database");
        sqlx::query("ANALYZE").execute(&mut c).await.expect("analyze the bench database");
    }
    engine
}

/// Longer than any catch-up seen: past it the bench stops, naming it.
const SETTLE_AT_MOST: Duration = Duration::from_secs(900);

/// Baseline (a): parses the form and answers empty TwiML.
async fn start_minimal() -> String {
    let app = Router::new().route(
        "/twiml",
        post(|_form: axum::Form<Vec<(String, String)>>| async {
            ([("content-type", TWIML_CONTENT_TYPE)], EMPTY_TWIML)
        }),
    );
    serve(app, "/twiml").await
}

/// Baseline (b): parses the form and inserts one row into SQLite (WAL, the
/// store's pragmas and pool size), then answers empty TwiML.
async fn start_sqlite_insert(dir: &std::path::Path) -> String {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
    sqlx::query(
        "CREATE TABLE inbound (id INTEGER PRIMARY KEY, message_sid TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, body TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Router::new()
        .route(
            "/insert",
            post(
                |axum::extract::State(pool): axum::extract::State<sqlx::SqlitePool>,
                 axum::Form(form): axum::Form<Vec<(String, String)>>| async move {
                    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                    let r = sqlx::query("INSERT INTO inbound (message_sid, sender, body) VALUES (?, ?, ?)")
                        .bind(get("MessageSid"))
                        .bind(get("From"))
                        .bind(get("Body"))
                        .execute(&pool)
                        .await;
                    match r {
                        Ok(_) => (axum::http::StatusCode::OK, [("content-type", TWIML_CONTENT_TYPE)], EMPTY_TWIML),
                        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "text/plain")], ""),
                    }
                },
            ),
        )
        .with_state(pool);
    serve(app, "/insert").await
}

/// Baseline (c): the same one-row insert on PostgreSQL (the store's pool size).
async fn start_postgres_insert(url: &str) -> String {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(url).await.unwrap();
    sqlx::query("CREATE TABLE inbound (id BIGSERIAL PRIMARY KEY, message_sid TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, body TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/insert",
            post(
                |axum::extract::State(pool): axum::extract::State<sqlx::PgPool>,
                 axum::Form(form): axum::Form<Vec<(String, String)>>| async move {
                    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                    let r = sqlx::query("INSERT INTO inbound (message_sid, sender, body) VALUES ($1, $2, $3)")
                        .bind(get("MessageSid"))
                        .bind(get("From"))
                        .bind(get("Body"))
                        .execute(&pool)
                        .await;
                    match r {
                        Ok(_) => (axum::http::StatusCode::OK, [("content-type", TWIML_CONTENT_TYPE)], EMPTY_TWIML),
                        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "text/plain")], ""),
                    }
                },
            ),
        )
        .with_state(pool);
    serve(app, "/insert").await
}

async fn serve(app: Router, path: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// One database engine under test: textdesk on it and its one-row insert.
struct Backend {
    name: &'static str,
    textdesk_url: String,
    services: Services,
    /// textdesk's database on PostgreSQL (analyzed between runs).
    postgres: Option<String>,
    insert_url: String,
}

#[tokio::main]
async fn main() {
    textdesk_channels::ensure_tls_provider();
    let counting = count_statements();
    let requests = env_or("WEBHOOK_FLOOD_REQUESTS", 4000);
    let concurrencies: Vec<usize> = std::env::var("WEBHOOK_FLOOD_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![32, 256]);
    let postgres = std::env::var("WEBHOOK_FLOOD_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let warmup = 200;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTwilio::start().await.unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("textdesk.db").display());
    let (textdesk_url, services) = start_textdesk(dir.path(), sqlite_url, &fake).await;
    let mut backends = vec![Backend {
        name: "sqlite",
        textdesk_url,
        services,
        postgres: None,
        insert_url: start_sqlite_insert(dir.path()).await,
    }];
    let pg_names =
        (format!("textdesk_flood_{}", std::process::id()), format!("textdesk_flood_base_{}", std::process::id()));
    if let Some(admin) = &postgres {
        let textdesk_db = common::postgres_database(admin, &pg_names.0).await;
        let insert_db = common::postgres_database(admin, &pg_names.1).await;
        let (textdesk_url, services) = start_textdesk(dir.path(), textdesk_db.clone(), &fake).await;
        let insert_url = start_postgres_insert(&insert_db).await;
        backends.push(Backend { name: "postgres", textdesk_url, services, postgres: Some(textdesk_db), insert_url });
    }
    let minimal_url = start_minimal().await;
    let most = concurrencies.iter().copied().max().unwrap_or(32);
    let client = reqwest::Client::builder().pool_max_idle_per_host(most).build().unwrap();

    println!(
        "webhook flood: {requests} requests per run, {concurrencies:?} in flight, after {warmup} to warm up; backends: {}",
        backends.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
    );
    // Every text has its own MessageSid; `next` numbers the new senders across all runs.
    let mut next = 0;
    let mut texts = |url: &str, n: usize| {
        let t = signed_texts(&fake, url, next, n);
        next += n;
        (t, next - n)
    };
    let mut results: Vec<(usize, &'static str, Measured)> = Vec::new();
    for &concurrency in &concurrencies {
        let (baseline, _) = texts(&minimal_url, requests);
        let (warm, _) = texts(&minimal_url, warmup);
        let mut runs = vec![("-", "minimal axum", retarget(&warm, &minimal_url), retarget(&baseline, &minimal_url))];
        for b in &backends {
            runs.push((b.name, "insert", retarget(&warm, &b.insert_url), retarget(&baseline, &b.insert_url)));
            let (warm, _) = texts(&b.textdesk_url, warmup);
            let (load, first) = texts(&b.textdesk_url, requests);
            // The same senders once more, after the run above made them known:
            // their conversations are found and updated, not made.
            let again = signed_texts(&fake, &b.textdesk_url, first, requests);
            let warm_again = signed_texts(&fake, &b.textdesk_url, first, warmup);
            runs.push((b.name, "textdesk webhook", warm, load));
            runs.push((b.name, KNOWN, warm_again, again));
        }
        let nodes: Vec<(&Services, Option<&str>)> =
            backends.iter().map(|b| (&b.services, b.postgres.as_deref())).collect();
        for (backend, name, warm, load) in runs {
            settle(&nodes).await;
            flood(name, &client, warm, concurrency).await;
            settle(&nodes).await;
            let before = STATEMENTS.load(Ordering::Relaxed);
            let mut m = flood(name, &client, load, concurrency).await;
            m.catch_up = settle(&nodes).await;
            m.statements = STATEMENTS.load(Ordering::Relaxed) - before;
            assert_eq!(m.failures, 0, "{name} on {backend}: {} of {} requests failed", m.failures, m.requests);
            results.push((concurrency, backend, m));
        }
    }

    println!(
        "{:>5} {:<9} {:<18} {:>9} {:>10} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "conns",
        "backend",
        "name",
        "requests",
        "msgs/s",
        "p50 ms",
        "p99 ms",
        "cpu us/req",
        "box us/req",
        "engine s",
        "stmts/req"
    );
    for (c, backend, m) in &results {
        println!(
            "{:>5} {:<9} {:<18} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>10.0} {:>10.0} {:>10.1} {:>10}",
            c,
            backend,
            m.name,
            m.requests,
            m.per_second(),
            m.percentile_ms(50),
            m.percentile_ms(99),
            m.cpu_us(),
            m.machine_cpu_us(),
            m.catch_up.as_secs_f64(),
            if counting { format!("{:.1}", m.statements_each()) } else { "-".into() }
        );
    }
    for (c, backend, td) in results.iter().filter(|(_, _, m)| m.name == "textdesk webhook" || m.name == KNOWN) {
        let same = |b: &str, n: &str| results.iter().find(|(c2, b2, m)| c2 == c && *b2 == b && m.name == n);
        for (_, base_backend, base) in [same(backend, "insert"), same("-", "minimal axum")].into_iter().flatten() {
            println!(
                "{c:>3} conns, {:<16} on {backend:<8} vs {:<16} throughput x{:.2}, p50 x{:.1}, p99 x{:.1}",
                td.name,
                format!("{} {}", if *base_backend == "-" { "" } else { base_backend }, base.name).trim().to_owned(),
                td.per_second() / base.per_second(),
                td.percentile_ms(50) / base.percentile_ms(50),
                td.percentile_ms(99) / base.percentile_ms(99)
            );
        }
    }
    // The one-table lines (scripts/bench): each textdesk figure beside its
    // backend's one-row insert, and its throughput beside the bare handler.
    for (c, backend, td) in results.iter().filter(|(_, _, m)| m.name == "textdesk webhook" || m.name == KNOWN) {
        let engine = if *backend == "sqlite" { "SQLite" } else { "PostgreSQL" };
        let engine = if td.name == KNOWN { format!("{engine} known senders") } else { engine.to_owned() };
        let same = |b: &str, n: &str| results.iter().find(|(c2, b2, m)| c2 == c && *b2 == b && m.name == n);
        if let Some((_, _, insert)) = same(backend, "insert") {
            let rows = [
                ("texts/s", td.per_second(), insert.per_second(), "/s"),
                ("p50", td.percentile_ms(50), insert.percentile_ms(50), "ms"),
                ("p99", td.percentile_ms(99), insert.percentile_ms(99), "ms"),
                ("CPU per text", td.cpu_us(), insert.cpu_us(), "us"),
                ("machine CPU per text", td.machine_cpu_us(), insert.machine_cpu_us(), "us"),
            ];
            for (what, value, base, unit) in rows {
                println!(
                    "bench-row\tinbound\t{engine} {c} conns {what}\t{value:.1}\t{unit}\tone-row insert\t{base:.1}\t{:.3}",
                    value / base
                );
            }
        }
        // What the run left to the automations engine, beside the run's own length.
        let (caught, ran) = (td.catch_up.as_secs_f64(), td.elapsed.as_secs_f64());
        println!(
            "bench-row\tinbound\t{engine} {c} conns automations caught up after\t{caught:.2}\ts\tthe run itself\t{ran:.2}\t{:.3}",
            caught / ran
        );
        if counting && let Some((_, _, insert)) = same(backend, "insert") {
            let (mine, base) = (td.statements_each(), insert.statements_each());
            println!(
                "bench-row\tinbound\t{engine} {c} conns statements a text\t{mine:.1}\tstatements\tone-row insert\t{base:.1}\t{:.3}",
                mine / base
            );
        }
        if let Some((_, _, bare)) = same("-", "minimal axum") {
            let (v, b) = (td.per_second(), bare.per_second());
            println!("bench-row\tinbound\t{engine} {c} conns texts/s\t{v:.0}\t/s\tminimal axum\t{b:.0}\t{:.3}", v / b);
        }
    }
    if let Some(admin) = &postgres {
        common::drop_postgres_database(admin, &pg_names.0).await;
        common::drop_postgres_database(admin, &pg_names.1).await;
    }
}
