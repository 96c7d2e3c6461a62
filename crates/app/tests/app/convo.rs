//! What an agent does to a conversation, over real HTTP on both backends:
//! mark unread/read, snooze presets read on a zone's clock, priority, the
//! label catalogue (CRUD, validation, rename and delete carried over), team
//! assignment in the timeline, and "next conversation" after resolving.

use crate::common;

use common::{Db, PASSWORD, TestApp, app, csrf_of, json};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::{Email, Password, Role, SnoozePreset};

/// A user with a display name (the timeline names the actor) and an API token.
async fn named(t: &TestApp, email: &str, name: &str, role: Role) -> String {
    let store = &t.services.store;
    let pw = Password::parse(PASSWORD).unwrap();
    let u = textdesk::services::auth::create_user(store, t.account_id, Email::parse(email).unwrap(), name, role, &pw)
        .await
        .unwrap();
    textdesk::services::auth::create_token(store, u.id, "test").await.unwrap().1
}

async fn conversation_from(t: &TestApp, inbox: i64, number: &str, body: &str) -> i64 {
    json(t.text_in(inbox, number, body, None).await).await["conversation_id"].as_i64().unwrap()
}

async fn put(t: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.put(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn patch(t: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.patch(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn delete(t: &TestApp, token: &str, path: &str) -> reqwest::Response {
    t.client.delete(t.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn problem(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    let p = json(r).await;
    p["detail"].as_str().unwrap_or_default().to_owned()
}

async fn page(c: &reqwest::Client, t: &TestApp, path: &str) -> String {
    let r = c.get(t.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// Posts a thread form as the browser does; returns the status and where it redirects.
async fn form(c: &reqwest::Client, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let r = c.post(t.url(path)).header("origin", t.base.as_str()).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, location, r.text().await.unwrap())
}

both_backends!(mark_unread_and_read);
async fn mark_unread_and_read(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let conv = conversation_from(&t, inbox, "+14155550101", "Hi, is my crown ready?").await;
    let get = |path: String| {
        let (t, token) = (&t, &token);
        async move { json(t.get(token, &path).await).await }
    };
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 1);

    let r = json(t.post(&token, &format!("/api/v1/conversations/{conv}/read"), json!({})).await).await;
    assert_eq!(r["unread"], 0);
    let r = json(t.post(&token, &format!("/api/v1/conversations/{conv}/unread"), json!({})).await).await;
    assert_eq!(r["unread"], 1);
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 1);
    // Marking unread is a note to oneself, not a timeline entry.
    let kinds: Vec<Value> = get(format!("/api/v1/conversations/{conv}/timeline"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert!(!kinds.iter().any(|k| k.as_str().is_some_and(|k| k.contains("read"))), "{kinds:?}");
    problem(t.post(&token, "/api/v1/conversations/424242/unread", json!({})).await, 404).await;

    // In the browser: opening reads it; "Mark unread" goes back to the list, where it is bold.
    let c = t.browser("dana@example.com").await;
    let html = page(&c, &t, &format!("/conversations/{conv}?view=all&status=open")).await;
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 0, "opening it read it");
    let csrf = csrf_of(&html);
    let (status, location, _) =
        form(&c, &t, &format!("/conversations/{conv}/unread?view=all&status=open"), &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/inbox?view=all&status=open"));
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 1);
    let list = page(&c, &t, "/inbox?view=all&status=open").await;
    assert!(list.contains("row unread"), "the list shows it unread");
    // The list's live refresh does not read it; opening it again does. It
    // asks for the rows only, leaving the agent's filter bar as it is.
    let rows = page(&c, &t, "/inbox/list?view=all&status=open&rows=1").await;
    assert!(
        rows.contains("row unread") && rows.contains("Older conversations") == list.contains("Older conversations")
    );
    assert!(!rows.contains("list-head") && !rows.contains("f-inbox"), "{rows}");
    assert!(page(&c, &t, "/inbox/list?view=all&status=open").await.contains("f-inbox"), "without rows=1, the head too");
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 1);
    page(&c, &t, &format!("/conversations/{conv}/thread")).await;
    assert_eq!(get(format!("/api/v1/conversations/{conv}")).await["unread"], 0);
    let (status, _, _) = form(&c, &t, "/conversations/424242/unread", &[("csrf", &csrf)]).await;
    assert_eq!(status, 404);
}

fn until_of(c: &Value) -> Timestamp {
    c["snoozed_until"].as_str().expect("snoozed_until").parse().unwrap()
}

both_backends!(snooze_presets_in_a_zone);
async fn snooze_presets_in_a_zone(db: Db) {
    let t = app(db).config(|c| c.time_zone = "America/New_York".into()).start().await;
    let inbox = t.simulator_inbox().await;
    let token = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let conv = conversation_from(&t, inbox, "+14155550102", "Call me back later").await;
    let path = format!("/api/v1/conversations/{conv}/status");
    let snooze = |body: Value| {
        let (t, token, path) = (&t, &token, &path);
        async move {
            let before = Timestamp::now();
            let r = t.post(token, path, body).await;
            let after = Timestamp::now();
            (r, before, after)
        }
    };

    for (preset, zone) in [
        (SnoozePreset::Tomorrow, "Asia/Tokyo"),
        (SnoozePreset::NextWeek, "Europe/Berlin"),
        (SnoozePreset::InAnHour, "Asia/Kolkata"),
    ] {
        let (r, before, after) = snooze(json!({ "status": "snoozed", "snooze": preset.as_str(), "zone": zone })).await;
        assert_eq!(r.status(), 200);
        let c = json(r).await;
        assert_eq!(c["status"], "snoozed");
        let tz = TimeZone::get(zone).unwrap();
        let got = until_of(&c);
        let (lo, hi) = (preset.until(before, &tz), preset.until(after, &tz));
        // Stored to the millisecond.
        let lo = lo - SignedDuration::from_millis(1);
        assert!(lo <= got && got <= hi, "{preset:?} in {zone}: {got} not within {lo}..{hi}");
        if preset != SnoozePreset::InAnHour {
            let local = got.to_zoned(tz.clone());
            assert_eq!((local.hour(), local.minute()), (9, 0), "{preset:?} is 9:00 in {zone}");
        }
    }

    // Without a zone, the business's clock.
    let (r, before, _) = snooze(json!({ "status": "snoozed", "snooze": "tomorrow" })).await;
    let ny = TimeZone::get("America/New_York").unwrap();
    let got = until_of(&json(r).await);
    assert_eq!(got.to_zoned(ny.clone()).hour(), 9);
    assert_eq!(got.to_zoned(ny.clone()).date(), before.to_zoned(ny.clone()).date().tomorrow().unwrap());

    // An explicit time: an instant as before, or a local time read in the zone.
    let at = (Timestamp::now() + SignedDuration::from_hours(50)).round(jiff::Unit::Second).unwrap();
    let (r, _, _) = snooze(json!({ "status": "snoozed", "snoozed_until": at.to_string() })).await;
    assert_eq!(until_of(&json(r).await), at);
    let local = at.to_zoned(TimeZone::get("Asia/Tokyo").unwrap()).datetime().strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let (r, _, _) = snooze(json!({ "status": "snoozed", "snoozed_until": local.clone(), "zone": "Asia/Tokyo" })).await;
    assert_eq!(until_of(&json(r).await), at);

    // Bad requests are refused and change nothing.
    let before = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    for (body, words) in [
        (json!({ "status": "snoozed", "snooze": "forever" }), "1h, tomorrow, next_week"),
        (json!({ "status": "snoozed", "snooze": "1h", "zone": "Mars/Olympus" }), "not a time zone"),
        (json!({ "status": "snoozed", "snooze": "1h", "snoozed_until": at.to_string() }), "not both"),
        (json!({ "status": "snoozed" }), "snoozing needs"),
        (json!({ "status": "snoozed", "snoozed_until": "2001-01-01T00:00:00Z" }), "future"),
        (json!({ "status": "snoozed", "snoozed_until": "2999-01-01T00:00:00Z" }), "a year"),
        (json!({ "status": "snoozed", "snoozed_until": "next tuesday" }), "is not a time"),
    ] {
        let detail = problem(t.post(&token, &path, body.clone()).await, 422).await;
        assert!(detail.contains(words), "{body}: {detail}");
    }
    assert_eq!(json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await, before);

    // The browser's form: "tomorrow 9:00" on the agent's own clock, shown in the thread and the timeline.
    let c = t.browser("dana@example.com").await;
    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    let csrf = csrf_of(&html);
    let (status, location, _) = form(
        &c,
        &t,
        &format!("/conversations/{conv}/status"),
        &[("csrf", &csrf), ("status", "snoozed"), ("snooze", "tomorrow"), ("zone", "America/New_York")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, format!("/conversations/{conv}").as_str()));
    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    let c_now = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    let shown = until_of(&c_now).to_zoned(ny).strftime("%a 9:00 AM").to_string();
    assert!(html.contains(&format!("data-local-time>{shown}</time>")), "the thread says when: {shown}");
    assert!(html.contains(&format!("Dana Reyes snoozed this until {shown}")), "the timeline says when");
    // "Until…" a local time, read in the agent's zone.
    let (status, _, _) = form(
        &c,
        &t,
        &format!("/conversations/{conv}/status"),
        &[("csrf", &csrf), ("status", "snoozed"), ("snooze", "until"), ("until", &local), ("zone", "Asia/Tokyo")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(until_of(&json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await), at);
    // "Until…" without a time is a visible error.
    let (status, _, body) = form(
        &c,
        &t,
        &format!("/conversations/{conv}/status"),
        &[("csrf", &csrf), ("status", "snoozed"), ("snooze", "until"), ("until", "")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("choose the date and time to snooze until"));
}

both_backends!(priority_is_set_and_shown);
async fn priority_is_set_and_shown(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let conv = conversation_from(&t, inbox, "+14155550103", "Tooth hurts a lot").await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/priority"), json!({ "priority": "high" })).await;
    assert_eq!(json(r).await["priority"], "high");
    let detail = problem(
        t.post(&token, &format!("/api/v1/conversations/{conv}/priority"), json!({ "priority": "asap" })).await,
        422,
    )
    .await;
    assert!(detail.contains("none, low, medium, high, urgent"), "{detail}");

    let c = t.browser("dana@example.com").await;
    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    let (status, _, _) =
        form(&c, &t, &format!("/conversations/{conv}/priority"), &[("csrf", &csrf_of(&html)), ("priority", "urgent")])
            .await;
    assert_eq!(status, 303);
    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    assert!(html.contains(r#"<span class="badge prio prio-urgent">urgent</span>"#));
    assert!(html.contains(r#"<option value="urgent" selected>"#));
    assert!(html.contains("Dana Reyes set priority to high"));
    assert!(html.contains("Dana Reyes set priority to urgent"));
    let (status, _, body) =
        form(&c, &t, &format!("/conversations/{conv}/priority"), &[("csrf", &csrf_of(&html)), ("priority", "asap")])
            .await;
    assert_eq!(status, 422);
    assert!(body.contains("priority must be one of"), "the page says why");
}

both_backends!(label_catalogue);
async fn label_catalogue(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let agent = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let lead = named(&t, "lee@example.com", "Lee Park", Role::Supervisor).await;
    let conv = conversation_from(&t, inbox, "+14155550104", "Question about my invoice").await;
    let other = conversation_from(&t, inbox, "+14155550105", "Hello").await;

    // Agents apply labels; supervisors manage them.
    problem(t.post(&agent, "/api/v1/labels", json!({ "name": "Billing" })).await, 403).await;
    let r = t
        .post(&lead, "/api/v1/labels", json!({ "name": "Billing", "color": "#A16207", "description": "Invoices" }))
        .await;
    assert_eq!(r.status(), 201);
    let billing = json(r).await;
    assert_eq!((billing["name"].as_str(), billing["color"].as_str()), (Some("Billing"), Some("#a16207")));
    let id = billing["id"].as_i64().unwrap();
    let vip = json(t.post(&lead, "/api/v1/labels", json!({ "name": "vip" })).await).await;
    assert_eq!(vip["color"], "#1d4ed8", "blue unless chosen");

    // Validation, each with its reason.
    let detail = problem(t.post(&lead, "/api/v1/labels", json!({ "name": "BILLING" })).await, 409).await;
    assert!(detail.contains("already a label named BILLING"), "{detail}");
    let detail = problem(t.post(&lead, "/api/v1/labels", json!({ "name": "two words" })).await, 422).await;
    assert!(detail.contains("no spaces"), "{detail}");
    problem(t.post(&lead, "/api/v1/labels", json!({ "name": "x".repeat(51) })).await, 422).await;
    let detail =
        problem(t.post(&lead, "/api/v1/labels", json!({ "name": "yellow", "color": "#ffff00" })).await, 422).await;
    assert!(detail.contains("palette"), "{detail}");
    problem(t.post(&lead, "/api/v1/labels", json!({ "name": "long", "description": "d".repeat(201) })).await, 422)
        .await;
    let labels = json(t.get(&agent, "/api/v1/labels").await).await;
    assert_eq!(labels.as_array().unwrap().len(), 2, "nothing refused was stored");

    // Only catalogue labels go on a conversation; an unknown one is named.
    let detail = problem(
        put(&t, &agent, &format!("/api/v1/conversations/{conv}/labels"), json!({ "labels": ["billing", "nope"] }))
            .await,
        422,
    )
    .await;
    assert!(detail.contains("\"nope\""), "{detail}");
    assert_eq!(json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["labels"], json!([]));
    let r =
        put(&t, &agent, &format!("/api/v1/conversations/{conv}/labels"), json!({ "labels": ["billing", "VIP"] })).await;
    assert_eq!(json(r).await["labels"], json!(["Billing", "vip"]), "the catalogue's spelling");
    put(&t, &agent, &format!("/api/v1/conversations/{other}/labels"), json!({ "labels": ["Billing"] })).await;
    assert_eq!(json(t.get(&agent, &format!("/api/v1/labels/{id}")).await).await["conversations"], 2);

    // Renaming carries over to the conversations (and the list's filter).
    problem(patch(&t, &agent, &format!("/api/v1/labels/{id}"), json!({ "name": "Invoices" })).await, 403).await;
    problem(patch(&t, &lead, &format!("/api/v1/labels/{id}"), json!({ "name": "VIP" })).await, 409).await;
    let r = patch(&t, &lead, &format!("/api/v1/labels/{id}"), json!({ "name": "Invoices", "color": "#15803d" })).await;
    assert_eq!(r.status(), 200);
    let renamed = json(r).await;
    assert_eq!((renamed["name"].as_str(), renamed["color"].as_str()), (Some("Invoices"), Some("#15803d")));
    assert_eq!(renamed["description"], "Invoices", "what was not patched stays");
    assert_eq!(
        json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["labels"],
        json!(["Invoices", "vip"])
    );
    let listed = json(t.get(&agent, "/api/v1/conversations?label=Invoices").await).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert_eq!(json(t.get(&agent, "/api/v1/conversations?label=Billing").await).await["items"], json!([]));

    // Deleting takes it off every conversation; the timeline keeps its words.
    assert_eq!(delete(&t, &lead, &format!("/api/v1/labels/{id}")).await.status(), 204);
    assert_eq!(json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["labels"], json!(["vip"]));
    assert_eq!(json(t.get(&agent, &format!("/api/v1/conversations/{other}")).await).await["labels"], json!([]));
    problem(t.get(&agent, &format!("/api/v1/labels/{id}")).await, 404).await;
    problem(delete(&t, &lead, &format!("/api/v1/labels/{id}")).await, 404).await;
    let timeline = json(t.get(&agent, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert!(timeline.as_array().unwrap().iter().any(|e| e["data"]["labels"] == json!(["Billing", "vip"])));

    // The settings page: errors shown with what was typed, agents cannot manage.
    let c = t.browser("lee@example.com").await;
    let html = page(&c, &t, "/settings/labels").await;
    assert!(html.contains(r##"<span class="badge label" data-color="#1d4ed8">vip</span>"##));
    let csrf = csrf_of(&html);
    let (status, _, body) =
        form(&c, &t, "/settings/labels", &[("csrf", &csrf), ("name", "new label"), ("color", "#0f766e")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("no spaces") && body.contains(r#"value="new label""#), "the form comes back as typed");
    let (status, location, _) =
        form(&c, &t, "/settings/labels", &[("csrf", &csrf), ("name", "follow-up"), ("color", "#0f766e")]).await;
    assert_eq!((status, location.as_str()), (303, "/settings/labels"));
    let a = t.browser("dana@example.com").await;
    let html = page(&a, &t, "/settings/labels").await;
    assert!(html.contains("follow-up") && !html.contains("Add a label"), "agents see the labels, not the form");
    let (status, _, _) =
        form(&a, &t, "/settings/labels", &[("csrf", &csrf_of(&html)), ("name", "sneaky"), ("color", "")]).await;
    assert_eq!(status, 403);

    // The thread's picker: checkboxes, posted without JavaScript.
    let html = page(&a, &t, &format!("/conversations/{other}")).await;
    assert!(html.contains(r#"name="label" value="follow-up""#));
    let csrf = csrf_of(&html);
    let (status, _, _) = form(
        &a,
        &t,
        &format!("/conversations/{other}/labels"),
        &[("csrf", &csrf), ("label", "follow-up"), ("label", "vip")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        json(t.get(&agent, &format!("/api/v1/conversations/{other}")).await).await["labels"],
        json!(["follow-up", "vip"])
    );
    let html = page(&a, &t, &format!("/conversations/{other}")).await;
    assert!(
        html.contains(r##"<span class="badge label" data-color="#0f766e">follow-up</span>"##),
        "the badge has its colour"
    );
    assert!(html.contains("Dana Reyes set the labels: follow-up, vip"));
    let (status, _, body) =
        form(&a, &t, &format!("/conversations/{other}/labels"), &[("csrf", &csrf), ("label", "ghost")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("no label named") && body.contains("ghost"), "the page names it");
}

both_backends!(team_assignment_in_the_timeline);
async fn team_assignment_in_the_timeline(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let admin = named(&t, "ana@example.com", "Ana Admin", Role::Admin).await;
    named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await["id"].as_i64().unwrap();
    let conv = conversation_from(&t, inbox, "+14155550106", "Wrong charge on my card").await;

    let c = t.browser("dana@example.com").await;
    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    assert!(html.contains(&format!(r#"<option value="{team}" >Billing</option>"#)), "the team menu lists it");
    let csrf = csrf_of(&html);
    let (status, _, _) =
        form(&c, &t, &format!("/conversations/{conv}/team"), &[("csrf", &csrf), ("team", &team.to_string())]).await;
    assert_eq!(status, 303);
    let c_api = json(t.get(&admin, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c_api["team_id"], team);
    // The same team again is no new entry.
    form(&c, &t, &format!("/conversations/{conv}/team"), &[("csrf", &csrf), ("team", &team.to_string())]).await;
    let (status, _, _) =
        form(&c, &t, &format!("/conversations/{conv}/team"), &[("csrf", &csrf), ("team", "9999")]).await;
    assert_eq!(status, 404);
    let (status, _, _) =
        form(&c, &t, &format!("/conversations/{conv}/team"), &[("csrf", &csrf), ("team", "none")]).await;
    assert_eq!(status, 303);

    let html = page(&c, &t, &format!("/conversations/{conv}")).await;
    assert_eq!(html.matches("Dana Reyes moved this to Billing").count(), 1);
    assert!(html.contains("Dana Reyes took this off its team"));
    let timeline = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    let moved = timeline.as_array().unwrap().iter().find(|e| e["kind"] == "team_changed").unwrap().clone();
    assert_eq!(moved["data"]["team_name"], "Billing");
    // Through the API too.
    let r = t
        .post(&admin, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": null, "team_id": team }))
        .await;
    assert_eq!(json(r).await["team_id"], team);
}

both_backends!(resolve_goes_to_the_next_conversation);
async fn resolve_goes_to_the_next_conversation(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let a = conversation_from(&t, inbox, "+14155550107", "first").await;
    let b = conversation_from(&t, inbox, "+14155550108", "second").await;
    let c_id = conversation_from(&t, inbox, "+14155550109", "third").await;
    // The list shows the newest first: c, b, a.
    let c = t.browser("dana@example.com").await;
    let q = "view=all&status=open";
    let html = page(&c, &t, &format!("/conversations/{b}?{q}")).await;
    let csrf = csrf_of(&html);
    let in_html = q.replace('&', "&#38;");
    assert!(html.contains(&format!(r#"action="/conversations/{b}/status?{in_html}""#)), "the actions carry the list");
    let resolve = |id: i64| {
        let (c, t, csrf) = (&c, &t, &csrf);
        async move {
            let (status, location, _) =
                form(c, t, &format!("/conversations/{id}/status?{q}"), &[("csrf", csrf), ("status", "resolved")]).await;
            assert_eq!(status, 303);
            location
        }
    };
    assert_eq!(resolve(b).await, format!("/conversations/{a}?{q}"), "the row after b");
    assert_eq!(resolve(a).await, format!("/inbox?{q}"), "a was the last row");
    // Without the list's query: the default list, where c is the only one left.
    let (_, location, _) =
        form(&c, &t, &format!("/conversations/{c_id}/status"), &[("csrf", &csrf), ("status", "resolved")]).await;
    assert_eq!(location, "/inbox");
    // A search narrows the list the agent works from.
    let d = conversation_from(&t, inbox, "+14155550110", "invoice please").await;
    let e = conversation_from(&t, inbox, "+14155550111", "invoice again").await;
    conversation_from(&t, inbox, "+14155550112", "something else").await;
    let (_, location, _) = form(
        &c,
        &t,
        &format!("/conversations/{e}/status?view=all&status=open&q=invoice"),
        &[("csrf", &csrf), ("status", "resolved")],
    )
    .await;
    assert_eq!(location, format!("/conversations/{d}?view=all&status=open&q=invoice"), "e={e}");
}

both_backends!(free_text_labels_migrate_into_the_catalogue);
/// Migration 0010 run again over labels typed before the catalogue existed:
/// every one in use becomes a catalogue entry and no conversation loses one.
async fn free_text_labels_migrate_into_the_catalogue(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let one = conversation_from(&t, inbox, "+14155550120", "one").await;
    let two = conversation_from(&t, inbox, "+14155550121", "two").await;

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    for sql in
        ["DROP INDEX labels_account_name", "DROP TABLE labels", "DELETE FROM _sqlx_migrations WHERE version = 10"]
    {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    for (conversation, label) in [(one, "billing"), (one, "VIP"), (two, "vip"), (two, "Vip")] {
        sqlx::query("INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2)")
            .bind(conversation)
            .bind(label)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    t.services.store.migrate().await.unwrap();

    let labels = json(t.get(&token, "/api/v1/labels").await).await;
    let names: Vec<&str> = labels.as_array().unwrap().iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(names, ["billing", "vip"]);
    assert!(labels.as_array().unwrap().iter().all(|l| l["color"] == "#4b5563"));
    assert_eq!(
        json(t.get(&token, &format!("/api/v1/conversations/{one}")).await).await["labels"],
        json!(["billing", "vip"])
    );
    assert_eq!(json(t.get(&token, &format!("/api/v1/conversations/{two}")).await).await["labels"], json!(["vip"]));
}
