//! Search at scale, on both backends over real HTTP: accents folded, digits
//! found anywhere in a number, a common word listing the conversations of its
//! newest matches (sorted and paged like any list), and a rare label filter.

use crate::common;

use common::{Db, TestApp, app, json};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn page(t: &TestApp, token: &str, q: &str) -> Value {
    let r = t.get(token, &format!("/api/v1/conversations?{q}")).await;
    assert_eq!(r.status(), 200, "GET ?{q}");
    json(r).await
}

fn ids_of(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn ids(t: &TestApp, token: &str, q: &str) -> Vec<i64> {
    ids_of(&page(t, token, q).await)
}

async fn conversation(t: &TestApp, from: &str, body: &str) -> i64 {
    let inbox = t.simulator_inbox().await;
    json(t.text_in(inbox, from, body, None).await).await["conversation_id"].as_i64().unwrap()
}

async fn sql(t: &TestApp, statement: String) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn accents_are_folded_both_ways(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let creme = conversation(&t, "+14155550961", "Un café crème, s'il vous plaît").await;
    let cafe = conversation(&t, "+14155550962", "Is the CAFE open on Sunday?").await;
    let contact = json(t.get(&token, &format!("/api/v1/conversations/{cafe}")).await).await["contact_id"].clone();
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/contacts/{contact}")))
        .bearer_auth(&token)
        .json(&json!({ "name": "Zoë Martínez" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    for (q, want) in [
        ("cafe", vec![cafe, creme]),
        ("café", vec![cafe, creme]),
        ("CREME", vec![creme]),
        ("plait", vec![creme]),
        ("zoe", vec![cafe]),
        ("martinez", vec![cafe]),
        ("Zoë MARTÍN", vec![cafe]),
    ] {
        assert_eq!(ids(&t, &token, &format!("q={}", crate::list::urlencode(q))).await, want, "search {q:?}");
    }
    // The snippet marks the word as written, accents and all.
    let browser = t.browser("dana@example.com").await;
    let list = browser.get(t.url("/inbox?q=cafe")).send().await.unwrap().text().await.unwrap();
    let row = crate::list::row_html(&list, creme);
    assert!(row.contains("<mark>café</mark> crème"), "{row}");
}
both_backends!(accents_are_folded_both_ways);

async fn seven_digits_find_a_number_wherever_they_are(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let sf = conversation(&t, "+14155550937", "Hello").await;
    let ny = conversation(&t, "+12125550937", "Hello").await;
    for (q, want) in [
        ("1415555", vec![sf]),
        ("4155550", vec![sf]),
        ("1555509", vec![sf]),
        ("5550937", vec![ny, sf]),
        ("212 555 0", vec![ny]),
        ("(212) 555-0937", vec![ny]),
        ("2125550938", vec![]),
        ("9999999", vec![]),
    ] {
        assert_eq!(ids(&t, &token, &format!("q={}", crate::list::urlencode(q))).await, want, "search {q:?}");
    }
}
both_backends!(seven_digits_find_a_number_wherever_they_are);

/// 300 conversations, one message each holding "the", written straight into
/// the tables (as the benchmark does; the search indexes follow by trigger or
/// generated column). Message `i` is newer as `i` grows, while the
/// conversations' activity is shuffled, so the list's order is not the
/// matches' order.
async fn a_common_word_lists_the_conversations_of_its_newest_matches(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let account = t.account_id;
    let n = 300i64;
    let id = |i: i64| 10_000 + i;
    let activity = |i: i64| 1_700_000_000_000 + (i * 7919) % 1000 * 60_000;
    let rows = |f: &dyn Fn(i64) -> String| (1..=n).map(f).collect::<Vec<_>>().join(", ");
    // The oldest conversation's contact is Theo: a name begins with "the" too.
    sql(
        &t,
        format!(
            "INSERT INTO contacts (id, account_id, name, created_at, updated_at) VALUES {}",
            rows(&|i: i64| format!("({}, {account}, '{}', 0, 0)", id(i), if i == 1 { "Theo Walsh" } else { "Pat" }))
        ),
    )
    .await;
    sql(
        &t,
        format!(
            "INSERT INTO contact_identities (id, account_id, contact_id, namespace, address, created_at) VALUES {}",
            rows(&|i: i64| format!("({}, {account}, {}, 'phone', '+1415666{i:04}', 0)", id(i), id(i)))
        ),
    )
    .await;
    sql(&t, format!("INSERT INTO conversations (id, account_id, inbox_id, contact_id, identity_id, status, last_activity_at, created_at) VALUES {}",
        rows(&|i: i64| format!("({}, {account}, {inbox}, {}, {}, 'resolved', {}, 0)", id(i), id(i), id(i), activity(i))))).await;
    sql(&t, format!("INSERT INTO messages (id, conversation_id, inbox_id, direction, body, status, created_at, updated_at) VALUES {}",
        rows(&|i: i64| format!("({}, {}, {inbox}, 'inbound', 'Is the dentist in on the {i}th?', 'received', 0, 0)", id(i), id(i))))).await;

    // The conversations of the newest 250 matching messages, and Theo's by name,
    // in the list's order (last activity, then id, newest first).
    let mut want: Vec<i64> = (n - 249..=n).chain([1]).collect();
    want.sort_by_key(|&i| std::cmp::Reverse((activity(i), id(i))));
    let want: Vec<i64> = want.into_iter().map(id).collect();

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let p = page(&t, &token, &format!("q=the&limit=50{cursor}")).await;
        let got = ids_of(&p);
        assert!(got.len() <= 50);
        seen.extend(got);
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, want, "every page in order, each conversation once, none past the cut");
    assert_eq!(ids(&t, &token, "q=the&limit=50").await, want[..50], "the first page is the newest 50");
    // A word in a few of them is found in full, through the index.
    assert_eq!(ids(&t, &token, "q=dentist%2012th").await, vec![id(12)]);
    // The cut counts matches before the filters: none of them is open.
    assert_eq!(ids(&t, &token, "q=the&status=open").await, Vec::<i64>::new());
}
both_backends!(a_common_word_lists_the_conversations_of_its_newest_matches);

async fn a_rare_label_filter_lists_exactly_its_conversations(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    for name in ["legal", "billing"] {
        assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": name })).await.status(), 201);
    }
    let mut c = Vec::new();
    for i in 0..6 {
        c.push(conversation(&t, &format!("+1415555097{i}"), "Hello").await);
    }
    let label = |conv: i64, labels: Vec<&'static str>| {
        let t = &t;
        let token = token.clone();
        async move {
            let r = t
                .client
                .put(t.url(&format!("/api/v1/conversations/{conv}/labels")))
                .bearer_auth(&token)
                .json(&json!({ "labels": labels }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    label(c[1], vec!["legal", "billing"]).await;
    label(c[3], vec!["legal"]).await;
    label(c[4], vec!["billing"]).await;
    let r = t.post(&token, &format!("/api/v1/conversations/{}/status", c[3]), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);

    assert_eq!(ids(&t, &token, "label=legal").await, vec![c[3], c[1]]);
    assert_eq!(ids(&t, &token, "label=legal&status=open").await, vec![c[1]]);
    assert_eq!(ids(&t, &token, "label=legal&status=resolved").await, vec![c[3]]);
    assert_eq!(ids(&t, &token, "label=billing&status=open").await, vec![c[4], c[1]]);
    assert_eq!(ids(&t, &token, "label=legal&status=pending").await, Vec::<i64>::new());
}
both_backends!(a_rare_label_filter_lists_exactly_its_conversations);
