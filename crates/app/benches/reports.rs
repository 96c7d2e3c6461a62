//! Loads a year of activity into a fresh SQLite database (messages and report
//! rollups written in bulk, not through HTTP) and prints how long each report
//! view takes for a month and for the year, beside a baseline measured in the
//! same run: a plain COUNT of that period's rows of the `messages` table.
//! Then it times the consumer turning new events into rollups.
//!
//! Run with `cargo bench -p textdesk --bench reports`. The size:
//! REPORTS_BENCH_MESSAGES (default 1,000,000; conversations are a tenth of
//! it) and REPORTS_BENCH_AGENTS (default 50).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Benchmarks may panic on a broken setup.

use std::time::{Duration, Instant};

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnectOptions;
use textdesk::Config;
use textdesk::services::reports::build::ReportAsk;
use textdesk_core::event::DomainEvent;
use textdesk_core::report::{bucket_of, metric};
use textdesk_core::{Email, Medium, Password, Role};
use textdesk_store::{NewInbox, RollupRow};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const YEAR: i16 = 2026;

/// The year's rollups as the consumer would have kept them: per day and
/// agent, customers' texts over the working hours, replies, conversations
/// and resolutions, and the durations spread over their buckets.
fn year_of_rollups(messages: usize, agents: &[i64], inboxes: &[(i64, &str)]) -> Vec<RollupRow> {
    let mut rng = StdRng::seed_from_u64(15);
    let days = 365;
    let per_cell = (messages / (days * agents.len())).max(2) as i64;
    let conversations = (per_cell / 10).max(1);
    let mut rows = Vec::new();
    let mut d = date(YEAR, 1, 1);
    for _ in 0..days {
        let weekday = i64::from(d.weekday().to_monday_zero_offset());
        for (n, &agent) in agents.iter().enumerate() {
            let (inbox_id, medium) = inboxes[n % inboxes.len()];
            let team = 1 + (n as i64 % 5);
            let mut row = |metric: &str, bucket: i64, count: i64, total_ms: i64| {
                rows.push(RollupRow {
                    day: d,
                    inbox_id,
                    team_id: team,
                    agent_id: agent,
                    medium: medium.to_owned(),
                    metric: metric.to_owned(),
                    bucket,
                    count,
                    total_ms,
                })
            };
            // Half the texts are the customers', over eight working hours.
            for hour in 9..17 {
                let c = (per_cell / 16).max(1);
                row(metric::MESSAGES_IN, weekday * 24 + hour, c, 0);
                row(metric::MESSAGES_OUT, weekday * 24 + hour, c, 0);
            }
            row(metric::CONVERSATIONS, 0, conversations, 0);
            row(metric::RESOLVED, 0, conversations, 0);
            row(metric::CONTACTS_TEXTED, 0, conversations, 0);
            row(metric::CONTACTS_OPTED_IN, 0, conversations / 2, 0);
            row(metric::SURVEY_SENT, 0, conversations, 0);
            row(metric::SLA_FIRST_RESPONSE, 0, 1, 0);
            row(metric::ESCALATED, rng.random_range(0..5), 1, 0);
            for score in 1..=5 {
                row(metric::CSAT, score, rng.random_range(0..3), 0);
            }
            for (wall, business, typical) in [
                (metric::FIRST_RESPONSE, metric::FIRST_RESPONSE_BUSINESS, 8),
                (metric::REPLY, metric::REPLY_BUSINESS, 5),
                (metric::RESOLUTION, metric::RESOLUTION_BUSINESS, 180),
            ] {
                for _ in 0..12 {
                    let mins = rng.random_range(1..typical * 4);
                    let ms = mins * 60_000;
                    let b = bucket_of(SignedDuration::from_mins(mins));
                    row(wall, b, 1, ms);
                    row(business, b, 1, ms);
                }
            }
        }
        d = d.tomorrow().unwrap();
    }
    rows
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let messages = env_or("REPORTS_BENCH_MESSAGES", 1_000_000);
    let agents_n = env_or("REPORTS_BENCH_AGENTS", 50);
    let conversations = (messages / 10).max(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("textdesk.db");
    let config = Config {
        database_url: format!("sqlite://{}", db.display()),
        data_dir: dir.path().to_path_buf(),
        account_name: "Bench Dental".into(),
        ..Config::default()
    };
    let (carrier, _) = textdesk_channels::simulator::Carrier::new(Duration::ZERO);
    let (services, account) = textdesk::Services::connect(&config, carrier).await.unwrap();
    let store = &services.store;
    let mut inboxes = Vec::new();
    for (name, medium, key, sender) in
        [("SMS", Medium::Sms, "sms", "+14155550100"), ("WhatsApp", Medium::Whatsapp, "whatsapp", "+14155550101")]
    {
        let i = store
            .create_inbox(NewInbox {
                account_id: account,
                name: name.into(),
                provider: "simulator".into(),
                medium,
                sender: sender.into(),
                settings: json!({}),
                secrets: json!({}),
            })
            .await
            .unwrap();
        inboxes.push((i.id, key));
    }
    let password = Password::parse("correct horse battery").unwrap();
    let mut agents = Vec::new();
    for n in 0..agents_n {
        let email = Email::parse(&format!("agent{n}@example.com")).unwrap();
        let u =
            textdesk::services::auth::create_user(store, account, email, &format!("Agent {n}"), Role::Agent, &password)
                .await
                .unwrap();
        agents.push(u.id);
    }
    let supervisor = textdesk::services::auth::create_user(
        store,
        account,
        Email::parse("lead@example.com").unwrap(),
        "Lead",
        Role::Supervisor,
        &password,
    )
    .await
    .unwrap();

    // The year's messages, straight into the table (foreign keys off on this connection only).
    let started = Instant::now();
    let opts = SqliteConnectOptions::new().filename(&db).foreign_keys(false);
    let mut raw = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let start_ms = TimeZone::UTC.to_timestamp(date(YEAR, 1, 1).at(0, 0, 0, 0)).unwrap().as_millisecond();
    let span_ms = 365_i64 * 86_400_000;
    sqlx::query("BEGIN").execute(&mut raw).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
         INSERT INTO messages (conversation_id, inbox_id, direction, body, status, created_at, updated_at)
         SELECT 1 + i % $2, $3, CASE i % 2 WHEN 0 THEN 'inbound' ELSE 'outbound' END, 'Is my order ready?',
                'delivered', $4 + i * $5 / $1, $4 + i * $5 / $1 FROM n",
    )
    .bind(messages as i64)
    .bind(conversations as i64)
    .bind(inboxes[0].0)
    .bind(start_ms)
    .bind(span_ms)
    .execute(&mut raw)
    .await
    .unwrap();
    sqlx::query("COMMIT").execute(&mut raw).await.unwrap();
    println!("loaded {messages} messages ({conversations} conversations) in {:.1?}", started.elapsed());

    let started = Instant::now();
    let rows = year_of_rollups(messages, &agents, &inboxes);
    let n_rows = rows.len();
    for chunk in rows.chunks(20_000) {
        store.insert_rollup_rows(account, chunk).await.unwrap();
    }
    println!("loaded {n_rows} rollup rows ({agents_n} agents, 365 days) in {:.1?}", started.elapsed());
    sqlx::query("ANALYZE").execute(&mut raw).await.unwrap();

    let range_ms = |from: Date, to: Date| {
        let a = TimeZone::UTC.to_timestamp(from.at(0, 0, 0, 0)).unwrap().as_millisecond();
        let b = TimeZone::UTC.to_timestamp((to + 1.day()).at(0, 0, 0, 0)).unwrap().as_millisecond();
        (a, b)
    };
    let periods = [
        ("month 2026-11", "2026-11", date(YEAR, 11, 1), date(YEAR, 11, 30)),
        ("year 2026", "2026", date(YEAR, 1, 1), date(YEAR, 12, 31)),
    ];
    let agent = agents[agents.len() / 2].to_string();
    let views: Vec<(&str, ReportAsk)> = vec![
        ("every conversation", ReportAsk::default()),
        ("one agent", ReportAsk { agent_id: Some(agent), ..ReportAsk::default() }),
        ("one channel (whatsapp)", ReportAsk { channel: Some("whatsapp".into()), ..ReportAsk::default() }),
        (
            "one inbox + label",
            ReportAsk { inbox_id: Some(inboxes[0].0.to_string()), label: Some("vip".into()), ..ReportAsk::default() },
        ),
    ];
    println!("\n{:<16} {:<26} {:>12}", "period", "view", "median of 5");
    for (name, period, from, to) in periods {
        let (a, b) = range_ms(from, to);
        let mut base = Vec::new();
        let mut counted = 0_i64;
        for _ in 0..5 {
            let t = Instant::now();
            counted = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE created_at >= $1 AND created_at < $2")
                .bind(a)
                .bind(b)
                .fetch_one(&mut raw)
                .await
                .unwrap();
            base.push(t.elapsed());
        }
        let base = median(base);
        println!("{name:<16} {:<26} {:>12.1?}   ({counted} messages)", "baseline: COUNT(messages)", base);
        for (view, ask) in &views {
            let ask = ReportAsk { period: Some(period.into()), ..ask.clone() };
            let mut times = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let r = services.report(&supervisor, &ask).await.unwrap();
                times.push(t.elapsed());
                assert!(!r.kpis.is_empty());
            }
            let took = median(times);
            println!("{name:<16} {view:<26} {took:>12.1?}");
            let (v, b) = (took.as_secs_f64() * 1000.0, base.as_secs_f64() * 1000.0);
            println!(
                "bench-row\treports\tSQLite {messages} msgs, {name}, {view} (median of 5)\t{v:.2}\tms\tCOUNT(messages) in the period\t{b:.2}\t{:.1}",
                v / b
            );
        }
    }

    // The consumer: events in, rollups kept, per event (on real conversations, texted in through ingest).
    let events = env_or("REPORTS_BENCH_EVENTS", 2_000);
    let at = jiff::Timestamp::now();
    let mut convs = Vec::new();
    for n in 0..20 {
        let text = textdesk_channels::InboundEvent::Message {
            from: textdesk_core::Address::parse(Medium::Sms, &format!("+1415555{:04}", 2000 + n)).unwrap(),
            provider_id: format!("bench-{n}"),
            body: "Is my order ready?".into(),
            media: vec![],
            received_at: at,
            consent_signal: None,
        };
        match services.ingest(inboxes[0].0, text).await.unwrap() {
            textdesk::services::ingest::Ingested::Message(textdesk_store::IngestOutcome::Stored {
                conversation_id,
                ..
            }) => convs.push(conversation_id),
            other => panic!("not stored: {other:?}"),
        }
    }
    services.run_reports().await.unwrap();
    for i in 0..events {
        let ev = if i % 2 == 0 {
            DomainEvent::MessageReceived { message_id: 0, keyword: false }
        } else {
            DomainEvent::MessageQueued { message_id: 0, automatic: false }
        };
        let when = at + SignedDuration::from_secs(60 * i as i64);
        store.record_event_at(account, convs[i % convs.len()], &ev, None, when).await.unwrap();
    }
    let t = Instant::now();
    let passed = services.run_reports().await.unwrap();
    let took = t.elapsed();
    let today = ReportAsk {
        period: Some(at.to_zoned(TimeZone::UTC).date().strftime("%Y-%m").to_string()),
        ..ReportAsk::default()
    };
    let counted = services.report(&supervisor, &today).await.unwrap().trend.iter().map(|p| p.messages_in).sum::<i64>();
    assert!(counted >= (events / 2) as i64, "the consumer counted the texts: {counted}");
    let per_second = passed as f64 / took.as_secs_f64().max(1e-9);
    println!("\nconsumer: {passed} events into rollups in {took:.1?} ({per_second:.0} events/s)");
    println!("bench-row\treports\tconsumer, events into rollups\t{per_second:.0}\t/s\t-\t-\t-");
}
