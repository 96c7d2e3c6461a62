//! The account's own quiet hours: an admin narrows the window (API or the
//! settings page) and every send follows it — a new reply, the composer's
//! warning, and a message already waiting when the dispatcher looks again. A
//! window that does not read is refused with the reason, and the old one kept.

use crate::common;

use common::{Db, app, csrf_of, json};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

/// A zone where it is now between 09:00 and 10:00, and its 10:00 today.
fn a_zone_at_nine() -> (String, Timestamp) {
    let (name, tz) = common::zone_at_hour(9);
    let ten = Timestamp::now().to_zoned(tz.clone()).date().at(10, 0, 0, 0).to_zoned(tz).unwrap().timestamp();
    (name, ten)
}

async fn patch_account(t: &common::TestApp, token: &str, settings: Value) -> reqwest::Response {
    t.client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(token)
        .json(&json!({ "settings": settings }))
        .send()
        .await
        .unwrap()
}

async fn quiet_hours_of(t: &common::TestApp, token: &str) -> String {
    let a = json(t.get(token, "/api/v1/account").await).await;
    a["settings"]["quiet_hours"].as_str().unwrap_or_else(|| panic!("no quiet hours in {a}")).to_owned()
}

async fn a_narrower_window_moves_replies_to_its_start(db: Db) {
    let t = app(db).config(|c| c.live_exchange_minutes = 0).start().await;
    let inbox = t.simulator_inbox().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Can I come in today?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let (zone, ten) = a_zone_at_nine();
    t.move_contact_to(&agent, conv, &zone).await;
    let messages = format!("/api/v1/conversations/{conv}/messages");

    // Under the server's 08:00-21:00, 09:xx is fine: a reply queued now.
    assert_eq!(quiet_hours_of(&t, &agent).await, "08:00-21:00");
    let early = json(t.post(&agent, &messages, json!({ "body": "Let me check." })).await).await;
    assert_eq!(early["status"], "queued");

    let r = patch_account(&t, &admin, json!({ "quiet_hours": "10:00-18:00" })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["settings"]["quiet_hours"], "10:00-18:00");
    assert_eq!(quiet_hours_of(&t, &agent).await, "10:00-18:00");

    // A new reply waits for the customer's 10:00, and the composer says so.
    let m = json(t.post(&agent, &messages, json!({ "body": "Yes, at 11?" })).await).await;
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), ten);
    let preview =
        json(t.post(&agent, "/api/v1/compose/preview", json!({ "body": "See you", "conversation_id": conv })).await)
            .await;
    assert_eq!(preview["verdict"]["decision"], "defer", "{preview}");
    assert_eq!(preview["verdict"]["until"].as_str().unwrap().parse::<Timestamp>().unwrap(), ten);

    // The reply queued before the change is held by the dispatcher's second look.
    let r = t.services.dispatch_at("test", 10, Timestamp::now()).await.unwrap();
    assert_eq!((r.claimed, r.sent, r.deferred), (1, 0, 1));
    let list = json(t.get(&agent, &messages).await).await;
    let held = list.as_array().unwrap().iter().find(|x| x["id"] == early["id"]).unwrap();
    assert_eq!(held["status"], "scheduled");
    assert_eq!(held["send_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), ten);

    // Nothing a minute before 10:00; both at 10:00.
    let r = t.services.dispatch_at("test", 10, ten - SignedDuration::from_mins(1)).await.unwrap();
    assert_eq!(r.claimed, 0);
    let r = t.services.dispatch_at("test", 10, ten).await.unwrap();
    assert_eq!((r.claimed, r.sent), (2, 2));

    // `null` gives the account the server's window again.
    let r = patch_account(&t, &admin, json!({ "quiet_hours": null })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(quiet_hours_of(&t, &agent).await, "08:00-21:00");
    let m = json(t.post(&agent, &messages, json!({ "body": "Done." })).await).await;
    assert_eq!(m["status"], "queued");
}
both_backends!(a_narrower_window_moves_replies_to_its_start);

async fn a_window_that_does_not_read_is_refused_and_the_old_one_kept(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    assert_eq!(patch_account(&t, &admin, json!({ "quiet_hours": "10:00-18:00" })).await.status(), 200);
    let compose = json(t.get(&admin, "/api/v1/account").await).await["settings"]["compose"].clone();

    for (bad, says) in [
        (json!("25:00-08:00"), "\"25:00-08:00\" is not a window like 08:00-21:00"),
        (json!("21:00-08:00"), "must start before it ends"),
        (json!("9 to 5"), "is not a window"),
        (json!(9), "must be text"),
    ] {
        let r = patch_account(&t, &admin, json!({ "quiet_hours": bad })).await;
        assert_eq!(r.status(), 422, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p = json(r).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains("quiet hours") && detail.contains(says), "{bad}: {detail}");
    }
    // An agent may read the window, not change it.
    let r = patch_account(&t, &agent, json!({ "quiet_hours": "08:00-20:00" })).await;
    assert_eq!(r.status(), 403);

    let a = json(t.get(&agent, "/api/v1/account").await).await;
    assert_eq!(a["settings"]["quiet_hours"], "10:00-18:00");
    assert_eq!(a["settings"]["compose"], compose, "the other settings are untouched");
}
both_backends!(a_window_that_does_not_read_is_refused_and_the_old_one_kept);

async fn admins_set_quiet_hours_on_the_account_page(db: Db) {
    let t = app(db).start().await;
    t.user("ada@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let admin = t.browser("ada@example.com").await;
    let page = |c: reqwest::Client| {
        let url = t.url("/settings/account");
        async move { c.get(url).send().await.unwrap() }
    };
    let r = page(admin.clone()).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Quiet hours") && html.contains("placeholder=\"08:00-21:00\""), "{html}");
    let csrf = csrf_of(&html);
    let save = |c: &reqwest::Client, csrf: &str, value: &str| {
        c.post(t.url("/settings/account/quiet-hours")).form(&[("csrf", csrf), ("quiet_hours", value)]).send()
    };

    // Refused: the page comes back with the reason and the text as typed.
    let r = save(&admin, &csrf, "25:00-08:00").await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("is not a window like 08:00-21:00"), "{html}");
    assert!(html.contains("value=\"25:00-08:00\""));

    let r = save(&admin, &csrf, " 09:30-17:00 ").await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings/account?saved=quiet-hours#quiet-hours");
    let html = admin.get(t.url("/settings/account?saved=quiet-hours")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Quiet hours saved.") && html.contains("value=\"09:30-17:00\""), "{html}");
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().quiet_hours.to_string(), "09:30-17:00");

    // A form without the session's token changes nothing; nor may an agent.
    let r = save(&admin, "forged", "08:00-20:00").await.unwrap();
    assert_eq!(r.status(), 403);
    let agent = t.browser("dana@example.com").await;
    assert_eq!(page(agent.clone()).await.status(), 403);
    let agent_csrf = {
        let html = agent.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
        csrf_of(&html)
    };
    assert_eq!(save(&agent, &agent_csrf, "08:00-20:00").await.unwrap().status(), 403);
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().quiet_hours.to_string(), "09:30-17:00");

    // Empty goes back to the server's window.
    let r = save(&admin, &csrf, "").await.unwrap();
    assert_eq!(r.status(), 303);
    let settings = t.services.account_settings(t.account_id).await.unwrap();
    assert_eq!((settings.quiet_hours.to_string(), settings.own_quiet_hours()), ("08:00-21:00".into(), None));

    // The first-response target, on the same page: refused values keep the old one.
    let target = |c: &reqwest::Client, csrf: &str, value: &str| {
        c.post(t.url("/settings/account/targets")).form(&[("csrf", csrf), ("first_response_minutes", value)]).send()
    };
    for bad in ["0", "abc", "1441"] {
        let r = target(&admin, &csrf, bad).await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"targets-error\"") && html.contains(&format!("value=\"{bad}\"")), "{html}");
    }
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().targets.first_response_minutes, 15);
    let r = target(&admin, &csrf, "5").await.unwrap();
    assert_eq!(r.headers()["location"], "/settings/account?saved=targets#targets");
    let html = admin.get(t.url("/settings/account?saved=targets")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Targets saved.") && !html.contains("Quiet hours saved."), "{html}");
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().targets.first_response_minutes, 5);
    assert_eq!(target(&agent, &agent_csrf, "60").await.unwrap().status(), 403);
}
both_backends!(admins_set_quiet_hours_on_the_account_page);
