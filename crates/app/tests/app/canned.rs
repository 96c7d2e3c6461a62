//! Canned responses over real HTTP: managing them (API and settings page),
//! filling them in for a conversation, and the account's tone rules.

use crate::common;

use common::{Db, PASSWORD, TestApp, app, csrf_of, json};
use serde_json::{Value, json};
use textdesk_core::{Email, Password, Role};

/// A user with a name (the harness's users have none) and an API token.
async fn named(t: &TestApp, email: &str, name: &str, role: Role) -> String {
    let store = &t.services.store;
    let pw = Password::parse(PASSWORD).unwrap();
    let u = textdesk::services::auth::create_user(store, t.account_id, Email::parse(email).unwrap(), name, role, &pw)
        .await
        .unwrap();
    textdesk::services::auth::create_token(store, u.id, "test").await.unwrap().1
}

async fn patch(t: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.patch(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn delete(t: &TestApp, token: &str, path: &str) -> reqwest::Response {
    t.client.delete(t.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn problem(r: reqwest::Response, status: u16, kind: &str) -> String {
    assert_eq!(r.status(), status);
    let p = json(r).await;
    assert_eq!(p["type"], format!("urn:textdesk:problem:{kind}"), "{p}");
    p["detail"].as_str().unwrap().to_owned()
}

fn confirm() -> Value {
    json!({ "shortcut": "confirm", "title": "Confirm a visit", "body": "Hi {contact.first_name|there}, you're confirmed. – {agent.first_name}" })
}

async fn supervisors_manage_and_agents_use(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let lead = t.token_for("lee@example.com", Role::Supervisor).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;

    let detail = problem(t.post(&agent, "/api/v1/canned-responses", confirm()).await, 403, "forbidden").await;
    assert!(detail.contains("supervisor"), "{detail}");
    let r = t.post(&lead, "/api/v1/canned-responses", confirm()).await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["shortcut"], "confirm");
    assert_eq!(created["body"], confirm()["body"]);

    // One shortcut per account; a template must name real variables.
    let detail = problem(t.post(&admin, "/api/v1/canned-responses", confirm()).await, 409, "conflict").await;
    assert!(detail.contains("/confirm"), "{detail}");
    let bad = json!({ "shortcut": "age", "title": "Age", "body": "You are {contact.age} years old" });
    let detail = problem(t.post(&admin, "/api/v1/canned-responses", bad).await, 422, "invalid").await;
    assert!(detail.contains("{contact.age}") && detail.contains("{contact.first_name}"), "{detail}");
    let bad = json!({ "shortcut": "Has Spaces", "title": "x", "body": "x" });
    problem(t.post(&admin, "/api/v1/canned-responses", bad).await, 422, "invalid").await;
    let bad = json!({ "shortcut": "open", "title": "x", "body": "Open {next_open" });
    let detail = problem(t.post(&admin, "/api/v1/canned-responses", bad).await, 422, "invalid").await;
    assert!(detail.contains("not closed"), "{detail}");
    let hours = json!({ "shortcut": "/hours", "title": "Office hours", "body": "We open {next_open|soon}." });
    assert_eq!(t.post(&admin, "/api/v1/canned-responses", hours).await.status(), 201);

    // Everyone lists them, by shortcut, and can search.
    let list = json(t.get(&agent, "/api/v1/canned-responses").await).await;
    let shortcuts: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["shortcut"].as_str().unwrap()).collect();
    assert_eq!(shortcuts, ["confirm", "hours"]);
    let found = json(t.get(&agent, "/api/v1/canned-responses?q=off").await).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "title prefix");
    assert_eq!(found[0]["shortcut"], "hours");
    let found = json(t.get(&agent, "/api/v1/canned-responses?q=%2Fcon").await).await;
    assert_eq!(found[0]["shortcut"], "confirm");
    assert_eq!(json(t.get(&agent, "/api/v1/canned-responses?q=visit").await).await[0]["shortcut"], "confirm");
    assert!(json(t.get(&agent, "/api/v1/canned-responses?q=%25").await).await.as_array().unwrap().is_empty());
    assert_eq!(json(t.get(&agent, &format!("/api/v1/canned-responses/{id}")).await).await["title"], "Confirm a visit");

    // Changes: managers only.
    let path = format!("/api/v1/canned-responses/{id}");
    problem(patch(&t, &agent, &path, json!({ "title": "Mine" })).await, 403, "forbidden").await;
    let r = patch(&t, &admin, &path, json!({ "title": "Confirm an appointment" })).await;
    assert_eq!(r.status(), 200);
    let changed = json(r).await;
    assert_eq!(changed["title"], "Confirm an appointment");
    assert_eq!(changed["shortcut"], "confirm");
    problem(patch(&t, &admin, &path, json!({ "shortcut": "hours" })).await, 409, "conflict").await;
    problem(patch(&t, &admin, &path, json!({ "body": "Hi {agent}" })).await, 422, "invalid").await;
    problem(patch(&t, &admin, &path, json!({ "colour": "red" })).await, 400, "malformed").await;
    problem(delete(&t, &agent, &path).await, 403, "forbidden").await;
    assert_eq!(delete(&t, &lead, &path).await.status(), 204);
    problem(t.get(&agent, &path).await, 404, "not-found").await;
    problem(delete(&t, &admin, &path).await, 404, "not-found").await;
    problem(t.get(&agent, "/api/v1/canned-responses/abc").await, 404, "not-found").await;
}
both_backends!(supervisors_manage_and_agents_use);

async fn rendering_fills_in_the_conversation(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let dana = named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let body =
        "Hi {contact.first_name}, this is {agent.first_name} ({agent.name}) at {business.name}. We open {next_open}.";
    let c = json(
        t.post(&admin, "/api/v1/canned-responses", json!({ "shortcut": "hi", "title": "Hello", "body": body })).await,
    )
    .await;
    let thanks = json(t.post(&admin, "/api/v1/canned-responses", confirm()).await).await["id"].as_i64().unwrap();
    let cid = c["id"].as_i64().unwrap();

    let karen = json(t.text_in(inbox, "+14155550111", "Hello?", None).await).await["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(&dana, &format!("/api/v1/conversations/{karen}")).await).await["contact_id"].as_i64().unwrap();
    patch(&t, &dana, &format!("/api/v1/contacts/{contact}"), json!({ "name": "Karen Whitfield" })).await;

    let r = t.post(&dana, &format!("/api/v1/conversations/{karen}/canned-responses/{cid}/render"), json!({})).await;
    assert_eq!(r.status(), 200);
    let out = json(r).await;
    // Business hours are not wired yet: {next_open} has no value, and the gap closes.
    assert_eq!(out["text"], "Hi Karen, this is Dana (Dana Reyes) at Test Dental. We open.");
    assert_eq!(out["missing"], json!(["next_open"]));

    // A contact with no name: the fallback, or nothing with the gap tidied.
    let anon = json(t.text_in(inbox, "+14155550122", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let out =
        json(t.post(&dana, &format!("/api/v1/conversations/{anon}/canned-responses/{thanks}/render"), json!({})).await)
            .await;
    assert_eq!(out["text"], "Hi there, you're confirmed. – Dana");
    assert_eq!(out["missing"], json!([]));
    let out =
        json(t.post(&dana, &format!("/api/v1/conversations/{anon}/canned-responses/{cid}/render"), json!({})).await)
            .await;
    assert_eq!(out["text"], "Hi, this is Dana (Dana Reyes) at Test Dental. We open.");
    assert_eq!(out["missing"], json!(["contact.first_name", "next_open"]));

    // Unknown ids, and ids that belong to another account, are not found.
    problem(
        t.post(&dana, &format!("/api/v1/conversations/{karen}/canned-responses/9999/render"), json!({})).await,
        404,
        "not-found",
    )
    .await;
    problem(
        t.post(&dana, &format!("/api/v1/conversations/9999/canned-responses/{cid}/render"), json!({})).await,
        404,
        "not-found",
    )
    .await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let other: i64 = sqlx::query_scalar("INSERT INTO accounts (name, created_at) VALUES ('Elsewhere', 0) RETURNING id")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let fields = textdesk_store::CannedFields {
        shortcut: textdesk_core::template::Shortcut::parse("secret").unwrap(),
        title: "Theirs".into(),
        body: textdesk_core::template::Template::parse("Not yours").unwrap(),
    };
    let me = t.services.store.users(t.account_id).await.unwrap()[0].id;
    let theirs = t.services.store.create_canned(other, &fields, me).await.unwrap().id;
    let path = format!("/api/v1/canned-responses/{theirs}");
    problem(t.get(&admin, &path).await, 404, "not-found").await;
    problem(patch(&t, &admin, &path, json!({ "title": "Mine now" })).await, 404, "not-found").await;
    problem(delete(&t, &admin, &path).await, 404, "not-found").await;
    problem(
        t.post(&dana, &format!("/api/v1/conversations/{karen}/canned-responses/{theirs}/render"), json!({})).await,
        404,
        "not-found",
    )
    .await;
    let list = json(t.get(&dana, "/api/v1/canned-responses").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "only this account's");
}
both_backends!(rendering_fills_in_the_conversation);

async fn the_settings_page_manages_them(db: Db) {
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let admin = t.browser("alex@example.com").await;
    let page = admin.get(t.url("/settings/canned")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("No canned responses yet") && html.contains("Add a response"), "{html}");
    assert!(html.contains("href=\"/settings/canned\""), "linked from the chrome");
    let csrf = csrf_of(&html);

    // A bad template: the page again, with the reason and what was typed.
    let form =
        [("csrf", csrf.as_str()), ("shortcut", "thanks"), ("title", "Thanks"), ("body", "Thanks {contact.nickname}!")];
    let r = admin.post(t.url("/settings/canned")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("unknown variable {contact.nickname}"), "{html}");
    assert!(html.contains("Thanks {contact.nickname}!</textarea>"), "the draft is kept");

    // Without the token nothing is created.
    let form = [
        ("csrf", "forged"),
        ("shortcut", "thanks"),
        ("title", "Thanks"),
        ("body", "Thanks {contact.first_name|there}!"),
    ];
    assert_eq!(admin.post(t.url("/settings/canned")).form(&form).send().await.unwrap().status(), 403);
    let form = [
        ("csrf", csrf.as_str()),
        ("shortcut", "thanks"),
        ("title", "Thanks"),
        ("body", "Thanks {contact.first_name|there}!"),
    ];
    let r = admin.post(t.url("/settings/canned")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings/canned");
    let html = admin.get(t.url("/settings/canned")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<code>/thanks</code>"), "{html}");
    let id = t.services.store.canned_list(t.account_id, None).await.unwrap()[0].id;

    // A duplicate is refused in words; an edit saves; delete removes.
    let r = admin.post(t.url("/settings/canned")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("already taken"));
    let edit = admin.get(t.url(&format!("/settings/canned?edit={id}"))).send().await.unwrap().text().await.unwrap();
    assert!(edit.contains(&format!("action=\"/settings/canned/{id}\"")), "{edit}");
    let form = [("csrf", csrf.as_str()), ("shortcut", "thanks"), ("title", "Say thanks"), ("body", "Thank you!")];
    let r = admin.post(t.url(&format!("/settings/canned/{id}"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.services.store.canned(t.account_id, id).await.unwrap().title, "Say thanks");

    // Agents read the list but get no forms, and cannot post them.
    let agent = t.browser("dana@example.com").await;
    let html = agent.get(t.url("/settings/canned")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/thanks") && !html.contains("canned-form"), "{html}");
    let agent_csrf = csrf_of(&html);
    let r = agent
        .post(t.url(&format!("/settings/canned/{id}/delete")))
        .form(&[("csrf", agent_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = admin
        .post(t.url(&format!("/settings/canned/{id}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(t.services.store.canned_list(t.account_id, None).await.unwrap().is_empty());
}
both_backends!(the_settings_page_manages_them);

async fn the_composer_picks_and_fills_in(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    named(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    let cid = json(t.post(&admin, "/api/v1/canned-responses", confirm()).await).await["id"].as_i64().unwrap();
    let conv =
        json(t.text_in(inbox, "+14155550111", "Am I booked?", None).await).await["conversation_id"].as_i64().unwrap();

    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("role=\"listbox\"") && html.contains(&format!("/conversations/{conv}/canned/")), "{html}");
    let csrf = csrf_of(&html);
    let list = json(browser.get(t.url("/canned")).send().await.unwrap()).await;
    assert_eq!(list[0]["shortcut"], "confirm");
    assert_eq!(list[0]["id"], cid);

    let url = t.url(&format!("/conversations/{conv}/canned/{cid}"));
    let r = browser.post(&url).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let out = json(r).await;
    assert_eq!(out["text"], "Hi there, you're confirmed. – Dana");
    assert_eq!(out["missing"], json!([]));
    assert_eq!(browser.post(&url).form(&[("csrf", "forged")]).send().await.unwrap().status(), 403);
    let missing = t.url(&format!("/conversations/{conv}/canned/9999"));
    assert_eq!(browser.post(&missing).form(&[("csrf", csrf.as_str())]).send().await.unwrap().status(), 404);
}
both_backends!(the_composer_picks_and_fills_in);

async fn preview_warnings(t: &TestApp, token: &str, body: &str) -> Vec<Value> {
    let p = json(t.post(token, "/api/v1/compose/preview", json!({ "body": body })).await).await;
    p["warnings"].as_array().unwrap().clone()
}

async fn admins_tune_the_tone_check(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;

    let account = json(t.get(&agent, "/api/v1/account").await).await;
    assert_eq!(account["name"], "Test Dental");
    assert_eq!(account["settings"]["compose"]["tone_check"], true);
    assert_eq!(account["settings"]["compose"]["checks"]["slang"], true);
    assert_eq!(account["settings"]["compose"]["max_segments"], 3);

    // By default, text-speak is named.
    let w = preview_warnings(&t, &agent, "thx, see u soon").await;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["code"], "slang");

    let off = json!({ "settings": { "compose": { "checks": { "slang": false } } } });
    problem(patch(&t, &agent, "/api/v1/account", off.clone()).await, 403, "forbidden").await;
    let r = patch(&t, &admin, "/api/v1/account", off).await;
    assert_eq!(r.status(), 200);
    let account = json(r).await;
    assert_eq!(account["settings"]["compose"]["checks"]["slang"], false);
    assert_eq!(account["settings"]["compose"]["checks"]["emoji"], true, "the rest stays");
    assert!(preview_warnings(&t, &agent, "thx, see u soon").await.is_empty());
    assert_eq!(preview_warnings(&t, &agent, "See you soon!!").await[0]["code"], "exclamation");

    // The account's own words.
    let extra =
        json!({ "settings": { "compose": { "checks": { "slang": true }, "extra_slang": [["yall", "you all"]] } } });
    assert_eq!(patch(&t, &admin, "/api/v1/account", extra).await.status(), 200);
    let w = preview_warnings(&t, &agent, "Thanks, yall").await;
    assert_eq!(w[0]["code"], "slang");
    assert!(w[0]["message"].as_str().unwrap().contains("you all"), "{w:?}");

    // Settings that do not read are refused and change nothing.
    let bad = json!({ "settings": { "compose": { "max_segments": 0 } } });
    problem(patch(&t, &admin, "/api/v1/account", bad).await, 422, "invalid").await;
    let bad = json!({ "settings": { "compose": { "checks": { "slangs": false } } } });
    problem(patch(&t, &admin, "/api/v1/account", bad).await, 422, "invalid").await;
    let bad = json!({ "settings": { "colour": "blue" } });
    let detail = problem(patch(&t, &admin, "/api/v1/account", bad).await, 422, "invalid").await;
    assert!(detail.contains("compose"), "{detail}");
    let account = json(t.get(&agent, "/api/v1/account").await).await;
    assert_eq!(account["settings"]["compose"]["extra_slang"], json!([["yall", "you all"]]));

    // null resets to the default; the master switch turns all tone advice off.
    let reset = json!({ "settings": { "compose": { "extra_slang": null, "tone_check": false } } });
    let account = json(patch(&t, &admin, "/api/v1/account", reset).await).await;
    assert_eq!(account["settings"]["compose"]["extra_slang"], json!([]));
    assert!(preview_warnings(&t, &agent, "THX U ROCK!! 🎉").await.is_empty());
}
both_backends!(admins_tune_the_tone_check);
