//! The inbox benchmark's data: 100k conversations and 1M messages written
//! with plain multi-row INSERTs into the real tables (see `inbox.rs`).

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use textdesk_core::segments;

const LABELS: &[&str] = &["billing", "booking", "insurance", "feedback", "new-patient", "follow-up", "vip", "x-ray"];
pub(crate) const AGENTS: usize = 20;
pub(crate) const FIRST: &[&str] = &[
    "Maria", "James", "Aiko", "Liam", "Sofia", "Noah", "Fatima", "Lucas", "Chloe", "Mateo", "Priya", "Ethan", "Zoe",
    "Omar", "Emma", "Diego", "Hana", "Oliver", "Amara", "Jack", "Nina", "Leo", "Grace", "Ivan", "Ruth", "Samir",
];
pub(crate) const LAST: &[&str] = &[
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
pub(crate) const RARE: &str = "quokkaberry";
/// A word in about half the messages: the common search.
pub(crate) const COMMON: &str = "the";
/// A label on one conversation in a thousand (beside the others' one in forty).
pub(crate) const RARE_LABEL: &str = "legal";

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

pub(crate) struct Seeded {
    pub(crate) long_conversation: i64,
    pub(crate) long_messages: usize,
    pub(crate) conversations: usize,
    pub(crate) messages: usize,
    pub(crate) open: usize,
    /// A topic word and how many messages hold it.
    pub(crate) word: (String, usize),
    /// Seven digits of one contact's number.
    pub(crate) phone_fragment: String,
    /// Numbers of contacts with open conversations, for the live test.
    pub(crate) open_numbers: Vec<String>,
}

pub(crate) struct Setup {
    pub(crate) account: i64,
    pub(crate) inboxes: [i64; 2],
    pub(crate) agents: Vec<(i64, String)>,
}

/// Writes the conversations, with their contacts, messages, labels, events and
/// outbox rows, `rows_per_tx` messages to a transaction.
pub(crate) async fn seed(pool: &AnyPool, sqlite: bool, setup: &Setup, conversations: usize, messages: usize) -> Seeded {
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
    caught_up(pool).await;
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

/// Waits until the server's event consumers (report rollups, automations,
/// webhooks, polls, reviews) have passed every seeded event: the figures are
/// of a server at rest, not of one working through a million events of
/// history beside the requests. A consumer's cursor row appears with its
/// first batch, so "at rest" is every cursor at the end twice in a row.
async fn caught_up(pool: &AnyPool) {
    let t = Instant::now();
    let mut at_rest = 0;
    while at_rest < 2 && t.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let behind: i64 = sqlx::query(
            "SELECT COUNT(*) FROM event_cursors WHERE position < (SELECT COALESCE(MAX(id), 0) FROM event_log)",
        )
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        at_rest = if behind == 0 { at_rest + 1 } else { 0 };
    }
    println!("the server's event consumers passed the seeded events in {:.1} s", t.elapsed().as_secs_f64());
}
