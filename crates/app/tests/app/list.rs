//! The conversation list over real HTTP on both backends: views (mine,
//! unassigned, team, mentions, all), filters, both sorts paged by cursor,
//! full-text search, and the waiting badge past the first-response target.

use crate::common;

use common::{Db, TestApp, app, json};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn ids(t: &TestApp, token: &str, q: &str) -> Vec<i64> {
    let r = t.get(token, &format!("/api/v1/conversations?{q}")).await;
    assert_eq!(r.status(), 200, "GET ?{q}");
    json(r).await["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn problem(t: &TestApp, token: &str, q: &str) -> (u16, Value) {
    let r = t.get(token, &format!("/api/v1/conversations?{q}")).await;
    let status = r.status().as_u16();
    (status, json(r).await)
}

/// Every page of `q` (limit 2), checking that no row comes twice.
async fn walk(t: &TestApp, token: &str, q: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?{q}&limit=2&cursor={c}"),
            None => format!("/api/v1/conversations?{q}&limit=2"),
        };
        let page = json(t.get(token, &path).await).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a row came twice walking {q}: {seen:?}");
    seen
}

async fn sql_id(t: &TestApp, statement: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement.to_owned())).fetch_one(&pool).await.unwrap();
    pool.close().await;
    id
}

async fn sql(t: &TestApp, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn views_filters_and_mentions(db: Db) {
    let t = app(db).start().await;
    let sms = t.simulator_inbox().await;
    let other_inbox = t.inbox_with("Shop", "+14155550199", json!({})).await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let sam = t.token_for("sam.lee@example.com", Role::Agent).await;
    let admin = t.token_for("boss@example.com", Role::Admin).await;
    let dana_id = json(t.get(&dana, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let sam_id = json(t.get(&sam, "/api/v1/me").await).await["id"].as_i64().unwrap();

    let mut c = Vec::new();
    for i in 0..6 {
        let inbox = if i == 5 { other_inbox } else { sms };
        let r = json(t.text_in(inbox, &format!("+1415555{:04}", 700 + i), "hello there", None).await).await;
        c.push(r["conversation_id"].as_i64().unwrap());
    }
    t.post(&dana, &format!("/api/v1/conversations/{}/assign", c[0]), json!({ "assignee_id": dana_id })).await;
    t.post(&dana, &format!("/api/v1/conversations/{}/assign", c[1]), json!({ "assignee_id": sam_id })).await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await;
    let r = t.post(&admin, &format!("/api/v1/teams/{}/members", team["id"]), json!({ "user_id": dana_id })).await;
    assert_eq!(r.status(), 204);
    t.post(
        &dana,
        &format!("/api/v1/conversations/{}/assign", c[2]),
        json!({ "assignee_id": null, "team_id": team["id"] }),
    )
    .await;
    let r = t.post(&dana, &format!("/api/v1/conversations/{}/priority", c[3]), json!({ "priority": "urgent" })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": "refund" })).await.status(), 201);
    let r = t
        .client
        .put(t.url(&format!("/api/v1/conversations/{}/labels", c[4])))
        .bearer_auth(&dana)
        .json(&json!({ "labels": ["refund"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let set = |mut v: Vec<i64>| {
        v.sort();
        v
    };
    assert_eq!(ids(&t, &dana, "view=mine").await, vec![c[0]]);
    assert_eq!(set(ids(&t, &dana, "view=unassigned").await), set(vec![c[2], c[3], c[4], c[5]]));
    assert_eq!(ids(&t, &dana, "view=team").await, vec![c[2]]);
    assert!(ids(&t, &sam, "view=team").await.is_empty(), "sam is in no team");
    assert_eq!(ids(&t, &dana, "view=all").await.len(), 6);
    assert_eq!(ids(&t, &dana, &format!("assignee={sam_id}")).await, vec![c[1]]);
    assert_eq!(ids(&t, &dana, "priority=urgent").await, vec![c[3]]);
    assert_eq!(ids(&t, &dana, "label=refund").await, vec![c[4]]);
    assert_eq!(ids(&t, &dana, &format!("inbox_id={other_inbox}")).await, vec![c[5]]);
    assert_eq!(ids(&t, &dana, &format!("view=unassigned&inbox_id={sms}&priority=urgent")).await, vec![c[3]]);
    assert!(ids(&t, &dana, "label=refund&priority=urgent").await.is_empty(), "filters combine with AND");

    // Mentions: Sam's note names Dana by first name (the user's name is their
    // email's local part here) and Sam himself, who is never recorded.
    assert!(ids(&t, &dana, "view=mentions").await.is_empty());
    let note = |conv: i64, body: &'static str| {
        let (t, sam) = (&t, &sam);
        async move {
            let r = t
                .post(sam, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": body, "private": true }))
                .await;
            assert_eq!(r.status(), 201);
        }
    };
    note(c[3], "@DANA can you take this? cc @sam.lee").await;
    note(c[1], "not a mention: dana@example.com").await;
    note(c[4], "@dana. refund policy?").await;
    assert_eq!(ids(&t, &dana, "view=mentions").await, vec![c[4], c[3]], "newest mention first");
    assert!(ids(&t, &sam, "view=mentions").await.is_empty(), "writing @yourself mentions nobody");
    assert_eq!(ids(&t, &dana, "view=mentions&priority=urgent").await, vec![c[3]]);
    assert_eq!(ids(&t, &dana, "view=mentions&sort=activity").await.len(), 2);
    assert_eq!(walk(&t, &dana, "view=mentions").await, vec![c[4], c[3]]);

    // A first name two colleagues share mentions both of them.
    let mut alexes = Vec::new();
    for (email, name) in [("alex.one@example.com", "Alex One"), ("alex.two@example.com", "Alex Two")] {
        let u = textdesk::services::auth::create_user(
            &t.services.store,
            t.account_id,
            textdesk_core::Email::parse(email).unwrap(),
            name,
            Role::Agent,
            &textdesk_core::Password::parse(common::PASSWORD).unwrap(),
        )
        .await
        .unwrap();
        alexes.push(textdesk::services::auth::create_token(&t.services.store, u.id, "test").await.unwrap().1);
    }
    note(c[5], "@alex please call them back").await;
    for token in &alexes {
        assert_eq!(ids(&t, token, "view=mentions").await, vec![c[5]], "an ambiguous handle mentions everyone it names");
    }
    assert_eq!(ids(&t, &dana, "view=mentions").await, vec![c[4], c[3]]);

    // Bad input: a clear Problem, nothing else changes.
    for (q, status, needle) in [
        ("view=everything", 422, "view must be one of"),
        ("status=closed", 422, "status"),
        ("priority=asap", 422, "priority must be one of"),
        ("sort=oldest", 422, "sort must be"),
        ("sort=mentioned", 422, "view=mentions only"),
        ("inbox_id=99999", 422, "no inbox 99999"),
        ("inbox_id=abc", 400, ""),
        ("assignee=99999", 422, "no user 99999"),
        ("assignee=someone", 422, "assignee is me, none or a user id"),
        ("view=mine&assignee=none", 422, "view already chooses the assignee"),
        ("cursor=garbage", 422, "cursor"),
        ("colour=red", 400, ""),
    ] {
        let (got, body) = problem(&t, &dana, q).await;
        assert_eq!(got, status, "?{q}: {body}");
        assert!(body["detail"].as_str().unwrap_or("").contains(needle), "?{q}: {body}");
    }
    let activity_cursor = json(t.get(&dana, "/api/v1/conversations?limit=1").await).await["next_cursor"].clone();
    let (got, body) = problem(&t, &dana, &format!("sort=waiting&cursor={}", activity_cursor.as_str().unwrap())).await;
    assert_eq!(got, 422);
    assert!(body["detail"].as_str().unwrap().contains("continues the activity sort"), "{body}");
}
both_backends!(views_filters_and_mentions);

async fn sorts_page_by_cursor(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let mut c = Vec::new();
    for i in 0..7 {
        let r = json(t.text_in(inbox, &format!("+1415555{:04}", 800 + i), "hi", None).await).await;
        c.push(r["conversation_id"].as_i64().unwrap());
    }
    // Waits begin at known times, two share one (the id breaks the tie); two are answered.
    for (i, minutes_ago) in [(0, 10), (1, 50), (2, 30), (3, 30), (4, 5)] {
        sql(
            &t,
            &format!(
                "UPDATE conversations SET waiting_since = {} WHERE id = {}",
                now_ms() - minutes_ago * 60_000,
                c[i]
            ),
        )
        .await;
    }
    for i in [5, 6] {
        let r = t.post(&token, &format!("/api/v1/conversations/{}/messages", c[i]), json!({ "body": "On it!" })).await;
        assert_eq!(r.status(), 201);
    }
    let waiting = walk(&t, &token, "sort=waiting").await;
    assert_eq!(&waiting[..5], &[c[1], c[2], c[3], c[0], c[4]], "longest waiting first");
    let mut rest = waiting[5..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![c[5], c[6]], "nobody waiting: after everyone who is");
    let activity = walk(&t, &token, "sort=activity").await;
    assert_eq!(activity.len(), 7);
    assert_eq!(&activity[..2], &[c[6], c[5]], "the answered ones were active last");
    assert_eq!(walk(&t, &token, "status=open&sort=waiting").await, waiting);
}
both_backends!(sorts_page_by_cursor);

/// A label on more conversations than are listed by id (over a thousand) is
/// found by walking the sorted list: the same rows, in order, page after page,
/// with the status filter and without, and a rare label beside it still by id.
async fn a_common_label_lists_like_a_rare_one(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let newest = json(t.text_in(inbox, "+14155550990", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    for name in ["vip", "legal"] {
        assert_eq!(t.post(&admin, "/api/v1/labels", json!({ "name": name })).await.status(), 201);
    }
    // 2,400 older conversations of the same contact, one minute apart, every
    // tenth open; every other one labelled vip (1,200: past the id list), every
    // hundredth legal (24).
    let base = now_ms() - 86_400_000;
    sql(
        &t,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2400)
             INSERT INTO conversations (account_id, inbox_id, contact_id, identity_id, status, last_activity_at, created_at)
             SELECT c.account_id, c.inbox_id, c.contact_id, c.identity_id,
                    CASE WHEN n.i % 10 = 0 THEN 'open' ELSE 'resolved' END, {base} - n.i * 60000, {base} - n.i * 60000
             FROM n, conversations c WHERE c.id = {newest}"
        ),
    )
    .await;
    let labelled = |label: &str, every: i64| {
        format!(
            "INSERT INTO conversation_labels (conversation_id, label)
             SELECT id, '{label}' FROM conversations WHERE id <> {newest} AND ({base} - last_activity_at) / 60000 % {every} = 0"
        )
    };
    sql(&t, &labelled("vip", 2)).await;
    sql(&t, &labelled("legal", 100)).await;
    // Newest first: the expected ids from the minutes ago.
    let expected = |every: i64, open_only: bool| -> Vec<i64> {
        (1..=2400).filter(|i| i % every == 0 && (!open_only || i % 10 == 0)).map(|i| base - i * 60000).collect()
    };
    let walk_all = |q: &'static str| {
        let (t, token) = (&t, &token);
        async move {
            let (mut at, mut cursor) = (Vec::new(), None::<String>);
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/v1/conversations?{q}&limit=200&cursor={c}"),
                    None => format!("/api/v1/conversations?{q}&limit=200"),
                };
                let page = json(t.get(token, &path).await).await;
                for c in page["items"].as_array().unwrap() {
                    assert!(c["labels"].as_array().unwrap().iter().any(|l| q.contains(l.as_str().unwrap())), "{c}");
                    at.push(
                        c["last_activity_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond(),
                    );
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => return at,
                }
            }
        }
    };
    assert_eq!(walk_all("label=vip").await, expected(2, false), "every vip conversation, newest first");
    assert_eq!(walk_all("label=vip&status=open").await, expected(2, true), "only the open ones");
    assert_eq!(walk_all("label=legal").await, expected(100, false), "a rare label, listed by id");
    assert_eq!(walk_all("label=legal&status=open").await, expected(100, true));
    assert!(ids(&t, &token, "label=vip&priority=urgent").await.is_empty(), "filters combine with AND");
}
both_backends!(a_common_label_lists_like_a_rare_one);

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn search_words_prefixes_digits_and_accounts(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let refund =
        json(t.text_in(inbox, "+14155550901", "Can I get my Refunds? Order #4417", None).await).await["conversation_id"]
            .as_i64()
            .unwrap();
    let other = json(t.text_in(inbox, "+14155550902", "Where is the shop?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let r = t
        .client
        .patch(t.url(&format!(
            "/api/v1/contacts/{}",
            json(t.get(&token, &format!("/api/v1/conversations/{other}")).await).await["contact_id"]
        )))
        .bearer_auth(&token)
        .json(&json!({ "name": "Zoë Martínez" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Another account with the same words and number must never show.
    let other = sql_id(&t, "INSERT INTO accounts (name, created_at) VALUES ('Elsewhere', 0) RETURNING id").await;
    let foreign = t
        .services
        .store
        .create_inbox(textdesk_store::NewInbox {
            account_id: other,
            name: "Theirs".into(),
            provider: "simulator".into(),
            medium: textdesk_core::Medium::Sms,
            sender: "+14155550300".into(),
            settings: json!({}),
            secrets: json!({}),
        })
        .await
        .unwrap()
        .id;
    let contact = sql_id(&t, &format!("INSERT INTO contacts (account_id, name, created_at, updated_at) VALUES ({other}, 'Zoe Refund', 0, 0) RETURNING id")).await;
    let identity = sql_id(&t, &format!("INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ({other}, {contact}, 'phone', '+14155550902', 0) RETURNING id")).await;
    let conv = sql_id(&t, &format!("INSERT INTO conversations (account_id, inbox_id, contact_id, identity_id, status, last_activity_at, created_at) VALUES ({other}, {foreign}, {contact}, {identity}, 'open', 0, 0) RETURNING id")).await;
    sql_id(&t, &format!("INSERT INTO messages (conversation_id, inbox_id, direction, body, status, created_at, updated_at) VALUES ({conv}, {foreign}, 'inbound', 'refund please, shop order 4417', 'received', 0, 0) RETURNING id")).await;

    for (q, want) in [
        ("refund", vec![refund]),
        ("REFUNDS", vec![refund]),
        ("ref", vec![refund]),
        ("refund order", vec![refund]),
        ("refund shop", Vec::<i64>::new()),
        ("4417", vec![refund]),
        ("Zoë", vec![other]),
        ("martínez", vec![other]),
        ("5550902", vec![other]),
        ("(415) 555-0902", vec![other]),
        ("+1 415 555 0901", vec![refund]),
        ("shop", vec![other]),
    ] {
        let path = format!("q={}", urlencode(q));
        assert_eq!(ids(&t, &token, &path).await, want, "search {q:?}");
    }
    // Accents are folded on both backends (migration 0042 on PostgreSQL).
    assert_eq!(ids(&t, &token, "q=zoe").await, vec![other], "search \"zoe\" finds Zoë");
    assert_eq!(ids(&t, &token, "q=martinez").await, vec![other]);
    for hostile in ["\"", "AND (", "refund\"*", "'", "NEAR(a b)", "*", "-", "a:*|b", "%", "_", "\\"] {
        let r = t.get(&token, &format!("/api/v1/conversations?q={}", urlencode(hostile))).await;
        assert_eq!(r.status(), 200, "search {hostile:?} must not fail");
    }
    assert_eq!(
        ids(&t, &token, &format!("q={}", urlencode("refund\" OR \"shop"))).await,
        Vec::<i64>::new(),
        "quotes are not syntax"
    );
    assert_eq!(
        ids(&t, &token, "q=refund&status=resolved").await,
        Vec::<i64>::new(),
        "search combines with the filters"
    );

    // New messages are found as soon as they are stored.
    let r = t
        .post(
            &token,
            &format!("/api/v1/conversations/{other}/messages"),
            json!({ "body": "Parcel tracking link sent", "private": true }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(ids(&t, &token, "q=parcel").await, vec![other]);
}
both_backends!(search_words_prefixes_digits_and_accounts);

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn waiting_badge_turns_late_past_the_target(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let admin = t.token_for("boss@example.com", Role::Admin).await;
    let fresh = json(t.text_in(inbox, "+14155550951", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let old = json(t.text_in(inbox, "+14155550952", "hello?", None).await).await["conversation_id"].as_i64().unwrap();
    sql(&t, &format!("UPDATE conversations SET waiting_since = {} WHERE id = {old}", now_ms() - 20 * 60_000)).await;

    let account = json(t.get(&admin, "/api/v1/account").await).await;
    assert_eq!(account["settings"]["targets"]["first_response_minutes"], 15);
    let bad = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(&admin)
        .json(&json!({ "settings": { "targets": { "first_response_minutes": 0 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(json(bad).await["detail"].as_str().unwrap().contains("first_response_minutes"));

    let browser = t.browser("boss@example.com").await;
    let page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let badge = |page: &str, id: i64| -> String {
        let row = page.split(&format!("data-id=\"{id}\"")).nth(1).unwrap().split("</li>").next().unwrap().to_owned();
        row.split("class=\"badge waiting")
            .nth(1)
            .map(|b| b.split("</span>").next().unwrap().to_owned())
            .unwrap_or_default()
    };
    let old_badge = badge(&page, old);
    assert!(old_badge.starts_with(" late\""), "20 min > 15 min target: {old_badge}");
    assert!(old_badge.contains("waiting 20 min · late"), "{old_badge}");
    let fresh_badge = badge(&page, fresh);
    assert!(fresh_badge.starts_with('"') && fresh_badge.contains("waiting 0 min"), "{fresh_badge}");
    assert!(!fresh_badge.contains("late"));

    let r = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(&admin)
        .json(&json!({ "settings": { "targets": { "first_response_minutes": 30 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(!badge(&page, old).contains("late"), "within a 30 min target");
    assert!(page.contains("data-target-minutes=\"30\""));
}
both_backends!(waiting_badge_turns_late_past_the_target);

async fn ui_filters_keep_their_choices_across_pages(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    for i in 0..55 {
        let r = json(t.text_in(inbox, &format!("+1415556{:04}", i), "hi", None).await).await;
        let id = r["conversation_id"].as_i64().unwrap();
        t.post(&token, &format!("/api/v1/conversations/{id}/priority"), json!({ "priority": "high" })).await;
    }
    let browser = t.browser("dana@example.com").await;
    let page =
        browser.get(t.url("/inbox?view=all&priority=high&sort=waiting")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<option value=\"high\" selected>"), "the chosen priority is shown");
    assert!(page.contains("<option value=\"waiting\" selected>"));
    let more = page
        .split("class=\"more\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        more.contains("priority=high") && more.contains("sort=waiting") && more.contains("cursor=waiting."),
        "{more}"
    );
    let next = browser.get(t.url(&more)).send().await.unwrap();
    assert_eq!(next.status(), 200);
    let next = next.text().await.unwrap();
    assert_eq!(next.matches("<li class=\"row").count(), 5, "the second page holds the rest");

    let bad = browser.get(t.url("/inbox?priority=asap")).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("priority must be one of"));
}
both_backends!(ui_filters_keep_their_choices_across_pages);

/// The row of conversation `id` in an inbox page's HTML.
pub(crate) fn row_html(page: &str, id: i64) -> String {
    page.split(&format!("data-id=\"{id}\"")).nth(1).unwrap_or_default().split("</li>").next().unwrap().to_owned()
}

/// The preview the API gives for conversation `conv`.
async fn api_preview(t: &TestApp, token: &str, conv: i64) -> String {
    let page = json(t.get(token, "/api/v1/conversations?status=any").await).await;
    let row = page["items"].as_array().unwrap().iter().find(|c| c["id"] == conv).unwrap().clone();
    row["preview"].as_str().unwrap().to_owned()
}

async fn preview_is_the_last_message_exchanged(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550961", "Can I book a cleaning?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    // A message for tomorrow has not been sent: the customer's question stays the preview.
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(26);
    let path = format!("/api/v1/conversations/{conv}/messages");
    let m =
        t.post(&token, &path, json!({ "body": "Reminder: cleaning tomorrow", "send_at": tomorrow.to_string() })).await;
    assert_eq!(m.status(), 201);
    let scheduled = json(m).await["id"].as_i64().unwrap();
    assert_eq!(api_preview(&t, &token, conv).await, "Can I book a cleaning?", "a scheduled message is not the preview");
    // Nor a private note; and once cancelled, the scheduled one is gone for good.
    t.post(&token, &path, json!({ "body": "checking the calendar", "private": true })).await;
    let r = t.client.delete(t.url(&format!("/api/v1/messages/{scheduled}"))).bearer_auth(&token).send().await.unwrap();
    assert!(r.status().is_success(), "cancel: {}", r.status());
    assert_eq!(api_preview(&t, &token, conv).await, "Can I book a cleaning?", "a cancelled message is not the preview");

    // Our reply is the preview; the row still shows what the customer asked.
    let r = t.post(&token, &path, json!({ "body": "Yes: Tuesday at 10?" })).await;
    assert_eq!(r.status(), 201);
    assert!(
        api_preview(&t, &token, conv).await.ends_with(": Yes: Tuesday at 10?"),
        "{}",
        api_preview(&t, &token, conv).await
    );
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let row = row_html(&page, conv);
    assert!(row.contains("Yes: Tuesday at 10?"), "{row}");
    assert!(row.contains("Customer: Can I book a cleaning?"), "the customer's words are in the row: {row}");
    // When the customer has the last word, it is said once.
    t.text_in(inbox, "+14155550961", "Tuesday works", None).await;
    let page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let row = row_html(&page, conv);
    assert!(row.contains("Tuesday works") && !row.contains("Customer:"), "{row}");
}
both_backends!(preview_is_the_last_message_exchanged);

async fn opted_out_contacts_are_not_waiting(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let stopped = json(t.text_in(inbox, "+14155550971", "where is my order", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let waiting =
        json(t.text_in(inbox, "+14155550972", "hello?", None).await).await["conversation_id"].as_i64().unwrap();
    sql(&t, &format!("UPDATE conversations SET waiting_since = {} WHERE id = {stopped}", now_ms() - 40 * 60_000)).await;
    sql(&t, &format!("UPDATE conversations SET waiting_since = {} WHERE id = {waiting}", now_ms() - 5 * 60_000)).await;
    let r = t.text_in(inbox, "+14155550971", "STOP", None).await;
    assert!(r.status().is_success());

    // Still open, but nobody may text them: not late, and not ahead of a customer who waits.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let row = row_html(&page, stopped);
    assert!(row.contains("opted out"), "{row}");
    assert!(!row.contains("badge waiting"), "an opted-out contact is not shown waiting or late: {row}");
    assert!(row_html(&page, waiting).contains("waiting 5 min"));
    assert_eq!(&ids(&t, &token, "status=open&sort=waiting").await, &[waiting, stopped], "the waiting one first");
}
both_backends!(opted_out_contacts_are_not_waiting);

async fn search_looks_in_every_status_and_shows_the_match(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let body = "Hi! Is <b>descaling</b> & polishing included in the Saturday appointment, or extra?";
    let conv = json(t.text_in(inbox, "+14155550981", body, None).await).await["conversation_id"].as_i64().unwrap();
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    let browser = t.browser("dana@example.com").await;

    // The list opens on Open, but a search there looks in every status.
    let page = browser.get(t.url("/inbox?q=descal")).send().await.unwrap().text().await.unwrap();
    let row = row_html(&page, conv);
    assert!(row.contains("status-resolved"), "the resolved conversation is found: {page}");
    assert!(page.contains("Searching conversations of every status."), "{page}");
    assert!(row.contains("<mark>descaling</mark>"), "the match is marked: {row}");
    let escaped = |html: &str| html.contains("&#60;b&#62;") || html.contains("&lt;b&gt;");
    assert!(escaped(&row) && !row.contains("<b>"), "the customer's text is escaped: {row}");
    assert!(row.contains("polishing"), "with the words around it: {row}");
    // Its status picker sends nothing for the default, so searching again keeps every status.
    assert!(page.contains("<option value=\"\" selected>Any status</option>"), "{page}");

    // A status chosen narrows the search, and the empty list says how to widen it.
    let page = browser.get(t.url("/inbox?q=descal&status=open")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(&format!("data-id=\"{conv}\"")));
    assert!(page.contains("Nothing open matches “descal”.") && page.contains("Search every status</a>"), "{page}");
    assert!(page.contains("Searching open conversations only."), "{page}");
}
both_backends!(search_looks_in_every_status_and_shows_the_match);
