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
//! database, named at the end) for EXPLAIN afterwards.
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
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor, Row};
use textdesk::{Application, Config, Options};
use textdesk_core::{Email, Password, Role, segments};

const PASSWORD: &str = "a bench password";
const AGENTS: usize = 20;
const LABELS: &[&str] = &["billing", "booking", "insurance", "feedback", "new-patient", "follow-up", "vip", "x-ray"];
const FIRST: &[&str] = &[
    "Maria", "James", "Aiko", "Liam", "Sofia", "Noah", "Fatima", "Lucas", "Chloe", "Mateo", "Priya", "Ethan", "Zoe",
    "Omar", "Emma", "Diego", "Hana", "Oliver", "Amara", "Jack", "Nina", "Leo", "Grace", "Ivan", "Ruth", "Samir",
];
const LAST: &[&str] = &[
    "Lopez", "Smith", "Tanaka", "Nguyen", "Garcia", "Brown", "Khan", "Silva", "Martin", "Rossi", "Patel", "Walker",
    "Kim", "Haddad", "Schmidt", "Reyes", "Okafor", "Novak", "Cohen", "Murphy", "Larsen", "Costa", "Ali", "Young",
];
const AREAS: &[&str] = &["415", "212", "305", "512", "617", "206", "312", "702", "808", "503", "404", "713"];
const INBOUND: &[&str] = &[
    "Hi, is my {t} appointment still on for tomorrow?",
    "Can I move the {t} visit to next week please",
    "Thanks! See you then",
    "How much is a {t} cleaning without insurance?",
    "My tooth hurts since the {t} filling, what should I do?",
    "Do you take {t} insurance?",
    "Running 10 minutes late, sorry!",
    "yes",
    "Could you send me the {t} form again? I lost it 😅",
    "Is parking free at the {t} office?",
];
const OUTBOUND: &[&str] = &[
    "Hi! Yes, your {t} appointment is confirmed for 9:30.",
    "Of course, we have Tuesday at 2pm or Thursday at 10am for the {t} visit.",
    "A {t} cleaning is $120 without insurance.",
    "Sorry to hear that. Please call us at 555-0100 so the {t} team can help.",
    "We do accept {t}. Bring your card to the visit.",
    "No problem, see you soon!",
    "Here is the {t} form: https://example.com/forms/new",
];
const NOTES: &[&str] = &["Called back about {t}, left a voicemail.", "Check the {t} claim before replying."];
/// A made-up word put in exactly three messages: the rare search.
const RARE: &str = "quokkaberry";
/// A word in about half the messages: the common search.
const COMMON: &str = "the";
/// A label on one conversation in a thousand (beside the others' one in forty).
const RARE_LABEL: &str = "legal";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// SplitMix64: deterministic, so every run seeds the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True `per_mille` times in a thousand.
    fn chance(&mut self, per_mille: usize) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

/// 8,000 made-up six-letter words: one in each message, so a given word is in
/// about 1M / 8,000 = 125 messages.
fn topic_word(i: usize) -> String {
    const SYL: &[&str] = &[
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "fi", "gu", "ha", "je", "bo", "cu", "ly",
        "wa", "xo",
    ];
    format!("{}{}{}", SYL[i % 20], SYL[(i / 20) % 20], SYL[(i / 400) % 20])
}
const TOPICS: usize = 8000;

/// A value for a multi-row INSERT.
enum V {
    I(i64),
    NullI,
    S(String),
    NullS,
}

/// Inserts `rows` in statements of as many rows as the bind limit allows
/// (the same text each time, so each connection prepares it once).
async fn insert_rows(conn: &mut AnyConnection, table: &str, cols: &[&str], rows: Vec<Vec<V>>) {
    // Binding gets slower per value as a statement's values grow (on SQLite
    // through sqlx), so statements stay at about a thousand values.
    let per = (1000 / cols.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<V>> = rows.by_ref().take(per).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (r, _) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    V::I(i) => q.bind(i),
                    V::NullI => q.bind(None::<i64>),
                    V::S(s) => q.bind(s),
                    V::NullS => q.bind(None::<String>),
                };
            }
        }
        q.execute(&mut *conn).await.unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
}

#[derive(Default)]
struct Batch {
    contacts: Vec<Vec<V>>,
    identities: Vec<Vec<V>>,
    conversations: Vec<Vec<V>>,
    labels: Vec<Vec<V>>,
    events: Vec<Vec<V>>,
    messages: Vec<Vec<V>>,
    outbox: Vec<Vec<V>>,
}

impl Batch {
    async fn flush(&mut self, pool: &AnyPool, sqlite: bool) {
        let mut conn = pool.acquire().await.unwrap();
        conn.execute(if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" }).await.unwrap();
        let take = std::mem::take;
        insert_rows(
            &mut conn,
            "contacts",
            &["id", "account_id", "name", "created_at", "updated_at"],
            take(&mut self.contacts),
        )
        .await;
        insert_rows(
            &mut conn,
            "contact_identities",
            &["id", "account_id", "contact_id", "namespace", "address", "created_at"],
            take(&mut self.identities),
        )
        .await;
        insert_rows(
            &mut conn,
            "conversations",
            &[
                "id",
                "account_id",
                "inbox_id",
                "contact_id",
                "identity_id",
                "status",
                "snoozed_until",
                "assignee_id",
                "priority",
                "last_activity_at",
                "waiting_since",
                "resolved_at",
                "unread",
                "preview",
                "created_at",
            ],
            take(&mut self.conversations),
        )
        .await;
        insert_rows(&mut conn, "conversation_labels", &["conversation_id", "label"], take(&mut self.labels)).await;
        insert_rows(
            &mut conn,
            "event_log",
            &["account_id", "conversation_id", "kind", "timeline", "actor_id", "data", "created_at"],
            take(&mut self.events),
        )
        .await;
        insert_rows(
            &mut conn,
            "messages",
            &[
                "id",
                "conversation_id",
                "inbox_id",
                "direction",
                "author_id",
                "body",
                "media",
                "private",
                "provider_id",
                "status",
                "error",
                "segments",
                "encoding",
                "created_at",
                "updated_at",
            ],
            take(&mut self.messages),
        )
        .await;
        insert_rows(
            &mut conn,
            "outbox",
            &["message_id", "inbox_id", "kind", "state", "not_before", "attempts", "created_at", "updated_at"],
            take(&mut self.outbox),
        )
        .await;
        conn.execute("COMMIT").await.unwrap();
    }
}

struct Seeded {
    long_conversation: i64,
    long_messages: usize,
    conversations: usize,
    messages: usize,
    open: usize,
    /// A topic word and how many messages hold it.
    word: (String, usize),
    /// Seven digits of one contact's number.
    phone_fragment: String,
    /// Numbers of contacts with open conversations, for the live test.
    open_numbers: Vec<String>,
}

struct Setup {
    account: i64,
    inboxes: [i64; 2],
    agents: Vec<(i64, String)>,
}

/// Writes the conversations, with their contacts, messages, labels, events and
/// outbox rows, `rows_per_tx` messages to a transaction.
async fn seed(pool: &AnyPool, sqlite: bool, setup: &Setup, conversations: usize, messages: usize) -> Seeded {
    let mut rng = Rng(0x7E57_DE5C);
    let now = jiff::Timestamp::now().as_millisecond();
    let (day, minute) = (86_400_000i64, 60_000i64);
    // One very long conversation, some long ones, the rest 5-15 messages.
    let long_len = 5000.min(messages / 5).max(1);
    let mut lengths = vec![long_len];
    if messages >= 200_000 {
        lengths.extend((0..10).map(|_| 300 + rng.below(700)));
    }
    let fixed: usize = lengths.iter().sum();
    let rest = conversations.saturating_sub(lengths.len()).max(1);
    let avg = (messages.saturating_sub(fixed) as f64 / rest as f64).round() as usize;
    let (lo, hi) = (avg.saturating_sub(5).max(1), avg + 5);
    while lengths.len() < conversations {
        lengths.push(lo + rng.below(hi - lo + 1));
    }
    let total: usize = lengths.iter().sum();
    // Spread the long ones through the table rather than at its start.
    let long_index = conversations / 2;
    lengths.swap(0, long_index);

    let rare_at: Vec<usize> = vec![total / 7, total / 2 + 1, total - 2];
    let word_index = 1234 % TOPICS;
    let mut word_count = 0;
    let phone_contact = conversations * 3 / 5;
    let mut phone_fragment = String::new();
    let mut open_numbers = Vec::new();
    let mut open = 0;

    let mut batch = Batch::default();
    let mut message_id = 0i64;
    let mut provider_n = 0u64;
    let started = Instant::now();
    let mut last_print = Instant::now();
    let rows_per_tx = 50_000;
    for (i, &len) in lengths.iter().enumerate() {
        let id = i as i64 + 1;
        let number = format!("+1{}{:07}", AREAS[i % AREAS.len()], 2_000_000 + i);
        if i < 2 * AREAS.len() {
            assert!(textdesk_core::E164::parse(&number, None).is_ok(), "{number} is not a number the app takes");
        }
        if i == phone_contact {
            phone_fragment = number[number.len() - 7..].to_owned();
        }
        let name = if rng.chance(100) { String::new() } else { format!("{} {}", rng.pick(FIRST), rng.pick(LAST)) };
        let inbox = setup.inboxes[usize::from(rng.chance(200))];
        let status = if i == long_index {
            "open"
        } else {
            match rng.below(1000) {
                0..30 => "open",
                30..40 => "pending",
                40..50 => "snoozed",
                _ => "resolved",
            }
        };
        let live = status != "resolved";
        // Live conversations are recent; resolved ones spread over the year,
        // older the lower their id. Gaps between messages are 1-30 minutes
        // (the long one's about two hours, so it spans the year).
        let gap = |rng: &mut Rng| {
            if len > 1000 { 100 * minute + rng.below(40) as i64 * minute } else { (1 + rng.below(30) as i64) * minute }
        };
        let span_guess = len as i64 * if len > 1000 { 120 * minute } else { 16 * minute };
        let end = if live {
            now - rng.below(14 * 24 * 60) as i64 * minute
        } else {
            now - day - (365 * day) * (conversations - i) as i64 / conversations as i64 + rng.below(600) as i64 * minute
        };
        let mut t = (end - span_guess).max(now - 400 * day);
        let assignee = match (status, rng.below(10)) {
            ("open", 0..4) => None,
            (_, 0) => None,
            _ => Some(setup.agents[rng.below(AGENTS)].clone()),
        };
        let created_at = t;
        batch.contacts.push(vec![V::I(id), V::I(setup.account), V::S(name), V::I(created_at), V::I(created_at)]);
        batch.identities.push(vec![
            V::I(id),
            V::I(setup.account),
            V::I(id),
            V::S("phone".into()),
            V::S(number.clone()),
            V::I(created_at),
        ]);
        batch.events.push(vec![
            V::I(setup.account),
            V::I(id),
            V::S("created".into()),
            V::I(1),
            V::NullI,
            V::S(r#"{"v":1,"type":"created"}"#.into()),
            V::I(created_at),
        ]);

        let mut preview = String::new();
        let mut last_activity = t;
        let mut waiting_since: Option<i64> = None;
        let mut trailing_inbound = 0i64;
        let mut previous_inbound = false;
        for k in 0..len {
            if k > 0 {
                t += gap(&mut rng);
            }
            message_id += 1;
            let msg_no = message_id as usize - 1;
            let topic_i = rng.below(TOPICS);
            let topic = if rare_at.contains(&msg_no) { RARE.to_owned() } else { topic_word(topic_i) };
            if topic_i == word_index && topic != RARE {
                word_count += 1;
            }
            // Customers start; then replies, more texts and the odd note.
            let kind = if k == 0 {
                0
            } else {
                match rng.below(100) {
                    0..45 => 0,
                    45..95 => 1,
                    _ => 2,
                }
            };
            let template = match kind {
                0 => rng.pick(INBOUND),
                1 => rng.pick(OUTBOUND),
                _ => rng.pick(NOTES),
            };
            let body = template.replace("{t}", &topic);
            let count = segments::count(&body);
            let (segs, enc) = (count.segments as i64, count.encoding.as_str().to_owned());
            match kind {
                0 => {
                    provider_n += 1;
                    batch.messages.push(vec![
                        V::I(message_id),
                        V::I(id),
                        V::I(inbox),
                        V::S("inbound".into()),
                        V::NullI,
                        V::S(body.clone()),
                        V::S("[]".into()),
                        V::I(0),
                        V::S(format!("sim-{provider_n}")),
                        V::S("received".into()),
                        V::NullS,
                        V::I(segs),
                        V::S(enc),
                        V::I(t),
                        V::I(t),
                    ]);
                    preview = body.chars().take(140).collect();
                    last_activity = t;
                    waiting_since = waiting_since.or(Some(t));
                    trailing_inbound = if previous_inbound { trailing_inbound + 1 } else { 1 };
                    previous_inbound = true;
                }
                1 => {
                    // One in ten replies is automatic (no author).
                    let author = if rng.chance(100) {
                        None
                    } else {
                        Some(assignee.clone().unwrap_or_else(|| setup.agents[rng.below(AGENTS)].clone()))
                    };
                    let failed = rng.chance(30);
                    provider_n += 1;
                    batch.messages.push(vec![
                        V::I(message_id),
                        V::I(id),
                        V::I(inbox),
                        V::S("outbound".into()),
                        author.as_ref().map_or(V::NullI, |a| V::I(a.0)),
                        V::S(body.clone()),
                        V::S("[]".into()),
                        V::I(0),
                        V::S(format!("SM{provider_n:032x}")),
                        V::S(if failed { "failed" } else { "delivered" }.into()),
                        if failed { V::S("30003: the handset is unreachable".into()) } else { V::NullS },
                        V::I(segs),
                        V::S(enc),
                        V::I(t),
                        V::I(t + 3000),
                    ]);
                    batch.outbox.push(vec![
                        V::I(message_id),
                        V::I(inbox),
                        V::S("reply".into()),
                        V::S(if failed { "failed" } else { "sent" }.into()),
                        V::I(t),
                        V::I(1),
                        V::I(t),
                        V::I(t + 1000),
                    ]);
                    let first =
                        author.as_ref().and_then(|a| a.1.split_whitespace().next()).unwrap_or("Auto").to_owned();
                    preview = format!("{first}: {body}").chars().take(140).collect();
                    last_activity = t;
                    if author.is_some() {
                        waiting_since = None;
                    }
                    previous_inbound = false;
                    trailing_inbound = 0;
                }
                _ => {
                    // A private note: no outbox row, and the list's preview and
                    // activity stay as they were (as `insert_outbound` does).
                    let author = assignee.clone().unwrap_or_else(|| setup.agents[rng.below(AGENTS)].clone());
                    batch.messages.push(vec![
                        V::I(message_id),
                        V::I(id),
                        V::I(inbox),
                        V::S("outbound".into()),
                        V::I(author.0),
                        V::S(body),
                        V::S("[]".into()),
                        V::I(1),
                        V::NullS,
                        V::S("note".into()),
                        V::NullS,
                        V::I(segs),
                        V::S(enc),
                        V::I(t),
                        V::I(t),
                    ]);
                }
            }
        }
        let (snoozed_until, resolved_at) = match status {
            "snoozed" => (Some(now + (1 + rng.below(72) as i64) * 60 * minute), None),
            "resolved" => (None, Some(last_activity + 30 * minute)),
            _ => (None, None),
        };
        if live {
            open += usize::from(status == "open");
            if status == "open" && open_numbers.len() < 1000 && i != long_index {
                open_numbers.push(number.clone());
            }
        } else {
            batch.events.push(vec![
                V::I(setup.account),
                V::I(id),
                V::S("status_changed".into()),
                V::I(1),
                assignee.as_ref().map_or(V::NullI, |a| V::I(a.0)),
                V::S(json!({ "v": 1, "type": "status_changed", "from": "open", "to": "resolved" }).to_string()),
                V::I(resolved_at.unwrap_or(last_activity)),
            ]);
        }
        let priority = match rng.below(1000) {
            0..50 => "high",
            50..80 => "low",
            80..95 => "urgent",
            95..100 => "medium",
            _ => "none",
        };
        batch.conversations.push(vec![
            V::I(id),
            V::I(setup.account),
            V::I(inbox),
            V::I(id),
            V::I(id),
            V::S(status.into()),
            snoozed_until.map_or(V::NullI, V::I),
            assignee.as_ref().map_or(V::NullI, |a| V::I(a.0)),
            V::S(priority.into()),
            V::I(last_activity),
            waiting_since.map_or(V::NullI, V::I),
            resolved_at.map_or(V::NullI, V::I),
            V::I(if live { trailing_inbound } else { 0 }),
            V::S(preview),
            V::I(created_at),
        ]);
        // Without drawing from the generator, so the rest of the data is as before.
        if i % 1000 == 7 {
            batch.labels.push(vec![V::I(id), V::S(RARE_LABEL.into())]);
        }
        if rng.chance(250) {
            let a = rng.below(LABELS.len());
            batch.labels.push(vec![V::I(id), V::S(LABELS[a].into())]);
            if rng.chance(300) {
                batch.labels.push(vec![V::I(id), V::S(LABELS[(a + 1) % LABELS.len()].into())]);
            }
        }
        if batch.messages.len() >= rows_per_tx {
            batch.flush(pool, sqlite).await;
            if last_print.elapsed() > Duration::from_secs(5) {
                let rate = message_id as f64 / started.elapsed().as_secs_f64();
                println!("  seeded {} conversations, {message_id} messages ({rate:.0} messages/s)", i + 1);
                last_print = Instant::now();
            }
        }
    }
    batch.flush(pool, sqlite).await;
    if !sqlite {
        // Explicit ids bypass the identity sequences: move them past what is there.
        for table in ["contacts", "contact_identities", "conversations", "messages"] {
            let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
        }
    }
    let t = Instant::now();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    println!(
        "seeded {} conversations ({open} open), {total} messages in {:.1} s; ANALYZE {:.1} s",
        conversations,
        started.elapsed().as_secs_f64() - t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Seeded {
        long_conversation: long_index as i64 + 1,
        long_messages: long_len,
        conversations,
        messages: total,
        open,
        word: (topic_word(word_index), word_count),
        phone_fragment,
        open_numbers,
    }
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
async fn sse_latency(base: &str, token: &str, inbox: i64, numbers: &[String], samples: usize) -> Stats {
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
        }
    }
    latencies.sort();
    Stats { name: "simulator text -> SSE message.created".into(), latencies, bytes: 0 }
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
    let live = sse_latency(&base, &token, inboxes[0], &seeded.open_numbers, samples).await;
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
    println!();
    let (bare, page) = (&base_cases[0], &base_cases[1]);
    println!("{:<44} {:>16} {:>16}", "ratio textdesk / baseline (p50)", "vs 50-row page", "vs bare handler");
    for (s, _) in &results {
        println!("{:<44} {:>15.1}x {:>15.1}x", s.name, s.pct_ms(50) / page.pct_ms(50), s.pct_ms(50) / bare.pct_ms(50));
    }

    services.store.close().await;
    pool.close().await;
    if std::env::var("INBOX_BENCH_KEEP").is_ok_and(|v| v == "1") {
        match &pg_name {
            Some(name) => println!("kept PostgreSQL database {name}"),
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
