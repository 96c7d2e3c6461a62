//! The agent's inbox at size: loads 100k conversations and 1M messages into an
//! in-process textdesk (a temporary SQLite file, or PostgreSQL), then measures
//! over keep-alive HTTP, one request at a time, what an agent waits for: the
//! conversation list (UI fragment and API, first page, mine, a deep page), a
//! search, opening a 5,000-message conversation, and the time from a customer's
//! text (simulator API) to its `message.created` on a connected SSE stream.
//! Beside them, with the same client: a bare axum handler, and one reading a
//! 50-row page by primary key from the same seeded database.
//!
//! Run with `cargo bench -p textdesk --bench inbox`. INBOX_BENCH_CONVERSATIONS,
//! INBOX_BENCH_MESSAGES and INBOX_BENCH_SAMPLES shrink it (defaults 100000,
//! 1000000, 200); INBOX_BENCH_BUDGET_SECS caps the time spent on one figure
//! (default 20, at least 10 samples are taken); INBOX_BENCH_POSTGRES_URL (a
//! role that may create databases) runs it on a new PostgreSQL database.
//! INBOX_BENCH_KEEP=1 keeps the seeded database (SQLite file or PostgreSQL
//! database and the data folder with its secret key, named at the end) for
//! EXPLAIN, or a `textdesk serve` on it, afterwards.
//!
//! The rows are written with plain multi-row INSERTs into the real tables, with
//! the columns the app itself writes (see `store::ingest` and
//! `store::messages::insert_outbound`), so triggers that keep derived search
//! data fire as they would in use; ANALYZE runs afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor, Row};
use textdesk::{Application, Config, Options};
use textdesk_core::{Email, Password, Role};

const PASSWORD: &str = "a bench password";

#[path = "inbox/seed.rs"]
mod seed;
use seed::{AGENTS, COMMON, FIRST, LAST, RARE, RARE_LABEL, Setup, seed};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Stats {
    name: String,
    latencies: Vec<Duration>,
    bytes: usize,
}

impl Stats {
    fn pct_ms(&self, p: usize) -> f64 {
        let i = (self.latencies.len() * p / 100).min(self.latencies.len().saturating_sub(1));
        self.latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
    fn max_ms(&self) -> f64 {
        self.latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Up to `samples` sequential GETs of `urls` (cycled), stopping early after
/// `budget` once ten are in; every answer must be 200 and is read to the end.
async fn measure(
    name: &str,
    req: impl Fn(&str) -> reqwest::RequestBuilder,
    urls: &[String],
    samples: usize,
    budget: Duration,
) -> Stats {
    // Two to warm caches and the connection.
    for u in urls.iter().take(2) {
        if let Ok(r) = req(u).send().await {
            let _ = r.bytes().await;
        }
    }
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(samples);
    let mut bytes = 0;
    for i in 0..samples {
        let url = &urls[i % urls.len()];
        let t = Instant::now();
        let r = req(url).send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = r.status();
        let body = r.bytes().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        latencies.push(t.elapsed());
        assert!(status.is_success(), "{name}: {url} answered {status}: {}", String::from_utf8_lossy(&body));
        bytes = body.len();
        if i >= 9 && started.elapsed() > budget {
            break;
        }
    }
    latencies.sort();
    Stats { name: name.to_owned(), latencies, bytes }
}

fn print_header() {
    println!("{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}", "request", "n", "p50 ms", "p99 ms", "max ms", "bytes");
}
fn print_row(s: &Stats) {
    println!(
        "{:<44} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9}",
        s.name,
        s.latencies.len(),
        s.pct_ms(50),
        s.pct_ms(99),
        s.max_ms(),
        s.bytes
    );
}

/// The baselines: a bare handler, and a 50-row page by primary key from the
/// seeded database (its own pool, as the store's: 8 connections, WAL).
async fn start_baselines(pool: AnyPool) -> String {
    async fn page(State(pool): State<AnyPool>, Query(q): Query<HashMap<String, i64>>) -> axum::Json<Value> {
        let after = q.get("after").copied().unwrap_or(0);
        let rows = sqlx::query(
            "SELECT id, status, last_activity_at, preview FROM conversations WHERE id > $1 ORDER BY id LIMIT 50",
        )
        .bind(after)
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({ "id": r.try_get::<i64, _>("id").unwrap_or(0), "status": r.try_get::<String, _>("status").unwrap_or_default(),
                        "last_activity_at": r.try_get::<i64, _>("last_activity_at").unwrap_or(0),
                        "preview": r.try_get::<String, _>("preview").unwrap_or_default() })
            })
            .collect();
        axum::Json(json!({ "items": items }))
    }
    let app = Router::new().route("/bare", get(|| async { "ok" })).route("/page", get(page)).with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn any_pool(url: &str, sqlite: bool) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// A new PostgreSQL database for this run, dropped at the end.
async fn postgres_database(admin: &str) -> (String, String) {
    let name = format!("textdesk_bench_{}", std::process::id());
    let mut c = sqlx::PgConnection::connect(admin).await.expect("connect to INBOX_BENCH_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.expect("create database");
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    (format!("{base}/{name}"), name)
}

/// From a customer's text (simulator API) to its `message.created` on an
/// agent's SSE stream, one text at a time.
/// Also the part of it until the simulator's answer (the text stored): the
/// rest is the relay's and the stream's.
async fn sse_latency(base: &str, token: &str, inbox: i64, numbers: &[String], samples: usize) -> (Stats, Stats) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let stream_client = reqwest::Client::new();
    let mut resp = stream_client
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let at = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let data = event.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or("");
                if let Ok(v) = serde_json::from_str::<Value>(data)
                    && v["kind"] == "message.created"
                    && let Some(id) = v["message_id"].as_i64()
                {
                    let _ = tx.send((id, at));
                }
            }
        }
    });
    let client = reqwest::Client::new();
    let url = format!("{base}/simulator/api/inboxes/{inbox}/messages");
    let mut seen: HashMap<i64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(samples);
    let mut answers = Vec::with_capacity(samples);
    // The stream is live once an event comes through: send one first.
    for i in 0..samples + 1 {
        let from = &numbers[i % numbers.len()];
        let t = Instant::now();
        let r: Value = client
            .post(&url)
            .json(&json!({ "from": from, "body": format!("Live text {i}: are you open now?") }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let answered = t.elapsed();
        let id = r["message_id"].as_i64().expect("simulator answers with the message id");
        let arrived = loop {
            if let Some(at) = seen.remove(&id) {
                break at;
            }
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some((mid, at))) => {
                    seen.insert(mid, at);
                }
                _ => panic!("no message.created for message {id} within 10 s"),
            }
        };
        if i > 0 {
            latencies.push(arrived.saturating_duration_since(t));
            answers.push(answered);
        }
    }
    latencies.sort();
    answers.sort();
    (
        Stats { name: "simulator text -> SSE message.created".into(), latencies, bytes: 0 },
        Stats { name: "simulator text -> its answer (stored)".into(), latencies: answers, bytes: 0 },
    )
}

#[tokio::main]
async fn main() {
    textdesk_channels::ensure_tls_provider();
    let conversations = env_or("INBOX_BENCH_CONVERSATIONS", 100_000).max(10);
    let messages = env_or("INBOX_BENCH_MESSAGES", 1_000_000).max(conversations);
    let samples = env_or("INBOX_BENCH_SAMPLES", 200).max(10);
    let budget = Duration::from_secs(env_or("INBOX_BENCH_BUDGET_SECS", 20) as u64);
    let dir = tempfile::tempdir().unwrap();
    let pg_admin = std::env::var("INBOX_BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let (database_url, pg_name) = match &pg_admin {
        Some(admin) => {
            let (url, name) = postgres_database(admin).await;
            (url, Some(name))
        }
        None => (format!("sqlite://{}", dir.path().join("inbox.db").display()), None),
    };
    let sqlite = pg_name.is_none();
    println!(
        "inbox bench on {}: {conversations} conversations, {messages} messages, up to {samples} samples per figure",
        if sqlite { "SQLite" } else { "PostgreSQL" }
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = Config {
        database_url: database_url.clone(),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        public_url: format!("http://127.0.0.1:{port}"),
        data_dir: dir.path().to_path_buf(),
        account_name: "Bench Dental".into(),
        simulator: true,
        ..Config::default()
    };
    let app = Application::build(config, Options::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let services = app.services.clone();
    tokio::spawn(app.run());
    let store = &services.store;
    let account = store.first_account().await.unwrap().unwrap().id;
    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let name = format!("{} {}", FIRST[n % FIRST.len()], LAST[(n * 7) % LAST.len()]);
        let email = Email::parse(&format!("agent{n}@bench.example")).unwrap();
        let role = if n == 0 { Role::Admin } else { Role::Agent };
        let u = textdesk::services::auth::create_user(
            store,
            account,
            email,
            &name,
            role,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
        agents.push((u.id, name));
    }
    let token = textdesk::services::auth::create_token(store, agents[1].0, "bench").await.unwrap().1;
    let mut inboxes = [0; 2];
    for (i, (name, sender)) in [("Front desk", "+14155550100"), ("Billing", "+14155550101")].into_iter().enumerate() {
        inboxes[i] = store
            .create_inbox(textdesk_store::NewInbox {
                account_id: account,
                name: name.into(),
                provider: "simulator".into(),
                medium: textdesk_core::Medium::Sms,
                sender: sender.into(),
                settings: json!({}),
                secrets: json!({}),
            })
            .await
            .unwrap()
            .id;
    }
    let setup = Setup { account, inboxes, agents: agents.clone() };

    let pool = any_pool(&database_url, sqlite).await;
    let seeded = seed(&pool, sqlite, &setup, conversations, messages).await;
    let baseline = start_baselines(pool.clone()).await;

    // An agent signed in to the UI (the second agent: "mine" is theirs).
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The login form's CSRF token comes with the page (its cookie lands in the jar).
    let page = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned();
    let r = browser
        .post(format!("{base}/login"))
        .form(&[("email", "agent1@bench.example"), ("password", PASSWORD), ("next", "/inbox"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in");
    let api = reqwest::Client::new();
    let ui_get = |u: &str| browser.get(format!("{base}{u}"));
    let api_get = |u: &str| api.get(format!("{base}{u}")).bearer_auth(&token);
    let one = |u: &str| vec![u.to_owned()];

    // A page deep in the full list: follow the cursor 100 pages of 50.
    let mut cursor = String::new();
    for _ in 0..100 {
        let path = format!("/api/v1/conversations?limit=50{cursor}");
        let page: Value = api_get(&path).send().await.unwrap().json().await.unwrap();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let deep_cursor = cursor.clone();
    let (word, word_count) = seeded.word.clone();
    println!(
        "long conversation #{} ({} messages); search words: {word:?} in {word_count} messages, {RARE:?} in 3, number fragment {:?}",
        seeded.long_conversation, seeded.long_messages, seeded.phone_fragment
    );

    // First, so a problem there shows before the long part. It adds a text to
    // each of a few hundred open conversations: nothing next to a million.
    let (live, stored) = sse_latency(&base, &token, inboxes[0], &seeded.open_numbers, samples).await;
    let mut results: Vec<(Stats, &'static str)> = Vec::new();
    let cases: Vec<(&str, bool, String, &'static str)> = vec![
        ("UI /inbox/list all open", true, "/inbox/list?view=all&status=open".into(), "list"),
        ("UI /inbox/list mine open", true, "/inbox/list?view=mine&status=open".into(), "list"),
        ("UI /inbox/list any status, page 101", true, format!("/inbox/list?view=all&status=any{deep_cursor}"), "list"),
        ("API conversations (all statuses)", false, "/api/v1/conversations?limit=50".into(), "list"),
        ("API conversations status=open", false, "/api/v1/conversations?status=open&limit=50".into(), "list"),
        (
            "API conversations assignee=me open",
            false,
            "/api/v1/conversations?assignee=me&status=open&limit=50".into(),
            "list",
        ),
        ("API conversations, page 101", false, format!("/api/v1/conversations?limit=50{deep_cursor}"), "list"),
        ("API search ~125 messages", false, format!("/api/v1/conversations?q={word}&limit=50"), "search"),
        ("API search rare word", false, format!("/api/v1/conversations?q={RARE}&limit=50"), "search"),
        ("API search common word", false, format!("/api/v1/conversations?q={COMMON}&limit=50"), "search"),
        (
            "API search common word, open",
            false,
            format!("/api/v1/conversations?q={COMMON}&status=open&limit=50"),
            "search",
        ),
        (
            "API search number fragment",
            false,
            format!("/api/v1/conversations?q={}&limit=50", seeded.phone_fragment),
            "search",
        ),
        ("UI search ~125 messages", true, format!("/inbox/list?view=all&status=any&q={word}"), "search"),
        ("UI search common word", true, format!("/inbox/list?view=all&status=any&q={COMMON}"), "search"),
        ("API label (1 in 40)", false, "/api/v1/conversations?label=vip&limit=50".into(), "label"),
        ("API label (1 in 40), open", false, "/api/v1/conversations?label=vip&status=open&limit=50".into(), "label"),
        ("API rare label (1 in 1000)", false, format!("/api/v1/conversations?label={RARE_LABEL}&limit=50"), "label"),
        (
            "API rare label (1 in 1000), open",
            false,
            format!("/api/v1/conversations?label={RARE_LABEL}&status=open&limit=50"),
            "label",
        ),
        ("UI open long conversation", true, format!("/conversations/{}", seeded.long_conversation), "thread"),
        (
            "API long conversation's messages",
            false,
            format!("/api/v1/conversations/{}/messages", seeded.long_conversation),
            "thread",
        ),
    ];
    let mut base_cases = Vec::new();
    {
        let bare = measure(
            "baseline: bare axum handler",
            |u| api.get(format!("{baseline}{u}")),
            &one("/bare"),
            samples,
            budget,
        )
        .await;
        let pages: Vec<String> =
            (0..50).map(|i| format!("/page?after={}", (i * 7919) % seeded.conversations.max(1))).collect();
        let page =
            measure("baseline: 50 rows by primary key", |u| api.get(format!("{baseline}{u}")), &pages, samples, budget)
                .await;
        base_cases.push(bare);
        base_cases.push(page);
    }
    for (name, ui, path, group) in cases {
        let s = if ui {
            measure(name, ui_get, &one(&path), samples, budget).await
        } else {
            measure(name, api_get, &one(&path), samples, budget).await
        };
        results.push((s, group));
    }

    println!();
    println!(
        "{} conversations ({} open), {} messages; sequential requests over keep-alive HTTP on loopback",
        seeded.conversations, seeded.open, seeded.messages
    );
    print_header();
    for s in &base_cases {
        print_row(s);
    }
    let mut group = "";
    for (s, g) in &results {
        if *g != group {
            println!("-- {g}");
            group = *g;
        }
        print_row(s);
    }
    println!("-- live");
    print_row(&live);
    print_row(&stored);
    println!();
    let (bare, page) = (&base_cases[0], &base_cases[1]);
    println!("{:<44} {:>16} {:>16}", "ratio textdesk / baseline (p50)", "vs 50-row page", "vs bare handler");
    for (s, _) in &results {
        println!("{:<44} {:>15.1}x {:>15.1}x", s.name, s.pct_ms(50) / page.pct_ms(50), s.pct_ms(50) / bare.pct_ms(50));
    }
    // For the one-table command (scripts/bench).
    let db = if sqlite { "SQLite" } else { "PostgreSQL" };
    let size = format!("{}k conv.", seeded.conversations / 1000);
    for (s, group) in &results {
        for p in [50, 99] {
            let (v, b) = (s.pct_ms(p), page.pct_ms(p));
            println!(
                "bench-row\tqueries ({group})\t{db} {size} {} p{p}\t{v:.2}\tms\t50 rows by primary key p{p}\t{b:.2}\t{:.1}",
                s.name,
                v / b
            );
        }
    }
    let (v, b) = (live.pct_ms(50), bare.pct_ms(50));
    println!("bench-row\tlive\t{db} {} p50\t{v:.2}\tms\tbare axum handler p50\t{b:.2}\t{:.1}", live.name, v / b);
    let v = stored.pct_ms(50);
    println!("bench-row\tlive\t{db} {} p50\t{v:.2}\tms\tbare axum handler p50\t{b:.2}\t{:.1}", stored.name, v / b);

    services.store.close().await;
    pool.close().await;
    if std::env::var("INBOX_BENCH_KEEP").is_ok_and(|v| v == "1") {
        match &pg_name {
            // The data folder holds the secret key that opens the inboxes' secrets: `textdesk serve` on the kept database needs it.
            Some(name) => println!("kept PostgreSQL database {name} and its data folder {}", dir.keep().display()),
            None => println!("kept SQLite database {}", dir.keep().join("inbox.db").display()),
        }
        return;
    }
    if let (Some(admin), Some(name)) = (pg_admin, pg_name) {
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut c)
            .await;
    }
}
