//! A web chat visitor proves the number they leave before their chat moves to
//! it: wrong codes burn the code, an expired one is refused, the hourly limits
//! per number, per visitor (counted in the database) and per network, and a
//! number that replied STOP gets no code, before or while it waits. Real HTTP,
//! both backends, the code read off the simulated phone.

use crate::common;
use crate::webchat::{Chat, SITE, VISITOR_PHONE, chat, code_on_phone, conversations, new_visitor, say, widget};

use common::*;
use serde_json::{Value, json};

async fn ask(t: &TestApp, c: &Chat, token: &str, phone: &str) -> reqwest::Response {
    let body = json!({ "phone": phone, "page": format!("{SITE}/book"), "agreed": true });
    t.client.post(widget(t, c, "/continue-by-text")).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn confirm(t: &TestApp, c: &Chat, token: &str, code: &str) -> reqwest::Response {
    let r = t.client.post(widget(t, c, "/continue-by-text/confirm")).bearer_auth(token);
    r.json(&json!({ "code": code })).send().await.unwrap()
}

/// A visitor who has written once, so there is a chat to move.
async fn chatting_visitor(t: &TestApp, c: &Chat, n: u32) -> String {
    let token = new_visitor(t, c).await;
    assert_eq!(say(t, c, &token, "Hello", &format!("m{n}")).await.status(), 201);
    token
}

async fn detail(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, json(r).await["detail"].as_str().unwrap_or_default().to_owned())
}

/// Any six digits but `code`.
fn not(code: &str) -> String {
    if code == "000000" { "111111".into() } else { "000000".into() }
}

async fn phone_texts(t: &TestApp, sms: i64, phone: &str) -> usize {
    let url = t.url(&format!("/simulator/api/inboxes/{sms}/phones/{phone}/messages"));
    let list = json(t.client.get(&url).send().await.unwrap()).await;
    list.as_array().map_or(0, |l| l.iter().filter(|m| m["direction"] == "to_phone").count())
}

async fn wrong_codes_burn_it_and_an_expired_code_is_refused(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let token = chatting_visitor(&t, &c, 1).await;
    assert_eq!(detail(confirm(&t, &c, &token, "123456").await).await.0, 422, "no code asked for yet");
    assert_eq!(ask(&t, &c, &token, VISITOR_PHONE).await.status(), 202);
    t.dispatch_all().await;
    let code = code_on_phone(&t, c.sms, VISITOR_PHONE).await;
    assert_eq!(detail(confirm(&t, &c, &token, "12345").await).await.0, 422, "not six digits: not a try");
    for left in (0..5).rev() {
        let (status, why) = detail(confirm(&t, &c, &token, &not(&code)).await).await;
        assert_eq!(status, 422);
        if left > 0 {
            assert!(why.contains("not the code we sent") && why.contains(&format!("{left} more tr")), "{why}");
        } else {
            assert!(why.contains("wrong 5 times") && why.contains("new code"), "{why}");
        }
    }
    let (status, why) = detail(confirm(&t, &c, &token, &code).await).await;
    assert_eq!(status, 422, "the right code after five wrong ones: burned");
    assert!(why.contains("no longer works"), "{why}");
    assert_eq!(conversations(&t, &c.agent).await[0]["inbox_id"], c.inbox, "nothing moved");

    // A new code; ten minutes later it is refused, even right.
    assert_eq!(ask(&t, &c, &token, VISITOR_PHONE).await.status(), 202);
    t.dispatch_all().await;
    let code = code_on_phone(&t, c.sms, VISITOR_PHONE).await;
    sql(&t, "UPDATE phone_checks SET expires_at = expires_at - 600000").await;
    let (status, why) = detail(confirm(&t, &c, &token, &code).await).await;
    assert_eq!(status, 422);
    assert!(why.contains("expired"), "{why}");
    let state = json(t.client.get(widget(&t, &c, "/state")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(state["code"], Value::Null, "the widget asks for the number again");
    assert_eq!(conversations(&t, &c.agent).await[0]["inbox_id"], c.inbox, "nothing moved");
    // A day later the codes, and the number they went to, are forgotten.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(25);
    assert_eq!(t.services.store.drop_old_phone_checks(later).await.unwrap(), 2);
    assert_eq!(detail(confirm(&t, &c, &token, &code).await).await.0, 422);
}
both_backends!(wrong_codes_burn_it_and_an_expired_code_is_refused);

async fn codes_are_limited_per_number_per_visitor_and_per_network(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let a = chatting_visitor(&t, &c, 1).await;
    for _ in 0..3 {
        assert_eq!(ask(&t, &c, &a, VISITOR_PHONE).await.status(), 202);
    }
    t.dispatch_all().await;
    assert_eq!(phone_texts(&t, c.sms, VISITOR_PHONE).await, 3, "three codes went");
    let (status, why) = detail(ask(&t, &c, &a, VISITOR_PHONE).await).await;
    assert_eq!(status, 429, "a fourth in the hour");
    assert!(why.contains("That number has been sent 3 codes") && why.contains("minutes"), "{why}");
    // Another visitor (a script with a fresh token) may not text that number either.
    let b = chatting_visitor(&t, &c, 2).await;
    assert_eq!(ask(&t, &c, &b, VISITOR_PHONE).await.status(), 429);
    t.dispatch_all().await;
    assert_eq!(phone_texts(&t, c.sms, VISITOR_PHONE).await, 3, "no fourth code reached the number");
    // Only the latest code works: earlier ones stopped when a new one was sent.
    let code = code_on_phone(&t, c.sms, VISITOR_PHONE).await;
    assert_eq!(confirm(&t, &c, &a, &code).await.status(), 200);
}
both_backends!(codes_are_limited_per_number_per_visitor_and_per_network);

async fn a_visitor_gets_three_codes_an_hour_and_a_network_five_a_minute(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    // A visitor walking through numbers: three an hour, whatever the number.
    let v = chatting_visitor(&t, &c, 1).await;
    for n in 1..=3 {
        assert_eq!(ask(&t, &c, &v, &format!("+1415555020{n}")).await.status(), 202);
    }
    let (status, why) = detail(ask(&t, &c, &v, "+14155550204").await).await;
    assert_eq!(status, 429);
    assert!(why.contains("You have asked for 3 codes in the last hour"), "{why}");
    // Many visitors on one network: the fifth request in the minute goes, the sixth does not.
    let w = chatting_visitor(&t, &c, 2).await;
    assert_eq!(ask(&t, &c, &w, "+14155550205").await.status(), 202);
    let (status, why) = detail(ask(&t, &c, &w, "+14155550206").await).await;
    assert_eq!(status, 429);
    assert!(why.contains("from your network"), "{why}");
    t.dispatch_all().await;
    assert_eq!(phone_texts(&t, c.sms, "+14155550204").await + phone_texts(&t, c.sms, "+14155550206").await, 0);
    assert_eq!(phone_texts(&t, c.sms, "+14155550205").await, 1);
}
both_backends!(a_visitor_gets_three_codes_an_hour_and_a_network_five_a_minute);

async fn a_number_that_replied_stop_gets_no_code(db: Db) {
    let t = app(db).start().await;
    let c = chat(&t).await;
    let token = chatting_visitor(&t, &c, 1).await;
    assert_eq!(t.text_in(c.sms, VISITOR_PHONE, "STOP", None).await.status(), 201);
    t.dispatch_all().await;
    // The STOP's confirmation, once the simulated carrier reports it delivered.
    let before = t
        .eventually(|| async {
            let n = phone_texts(&t, c.sms, VISITOR_PHONE).await;
            (n > 0).then_some(n)
        })
        .await;
    let (status, why) = detail(ask(&t, &c, &token, VISITOR_PHONE).await).await;
    assert_eq!(status, 422);
    assert!(why.contains("replied STOP") && why.contains("START"), "{why}");
    t.dispatch_all().await;
    assert_eq!(phone_texts(&t, c.sms, VISITOR_PHONE).await, before, "no code went");

    // A number that says STOP while its code waits: the dispatcher's gate stops the code.
    let other = "+14155550188";
    assert_eq!(ask(&t, &c, &token, other).await.status(), 202);
    assert_eq!(t.text_in(c.sms, other, "STOP", None).await.status(), 201);
    t.dispatch_all().await;
    let url = t.url(&format!("/simulator/api/inboxes/{}/phones/{other}/messages", c.sms));
    let texts = json(t.client.get(&url).send().await.unwrap()).await.to_string();
    assert!(!texts.contains(" code is "), "{texts}");
    let state = json(t.client.get(widget(&t, &c, "/state")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(state["code"]["delivery"], "failed", "{state}");
    let (status, why) = detail(confirm(&t, &c, &token, "123456").await).await;
    assert_eq!(status, 422);
    assert!(why.contains("could not text that number"), "{why}");
    assert_eq!(conversations(&t, &c.agent).await.iter().filter(|v| v["inbox_id"] == c.inbox).count(), 1);
}
both_backends!(a_number_that_replied_stop_gets_no_code);

async fn sql(t: &TestApp, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).execute(&pool).await.unwrap();
    pool.close().await;
}
