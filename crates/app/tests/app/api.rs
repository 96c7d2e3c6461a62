//! The REST API's edges: authentication, roles, and problem-details errors.

use crate::common;

use common::{Db, app, json};
use serde_json::json;
use textdesk_core::Role;

async fn assert_problem(r: reqwest::Response, status: u16, kind: &str) -> serde_json::Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p = json(r).await;
    assert_eq!(p["type"], format!("urn:textdesk:problem:{kind}"), "{p}");
    assert_eq!(p["status"], status);
    assert!(!p["detail"].as_str().unwrap().is_empty());
    p
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let t = app(Db::Sqlite).start().await;
    let r = t.client.get(t.url("/api/v1/conversations")).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_problem(r, 401, "unauthorized").await;
    let r = t.get("td_not-a-real-token", "/api/v1/conversations").await;
    assert_problem(r, 401, "unauthorized").await;
    let r = t.client.get(t.url("/api/v1/conversations")).header("authorization", "Basic abc").send().await.unwrap();
    assert_problem(r, 401, "unauthorized").await;

    let token = t.token_for("dana@example.com", Role::Agent).await;
    assert_eq!(t.get(&token, "/api/v1/conversations").await.status(), 200);

    // Its last use is kept to the minute: set by the first request, not
    // rewritten by the next ones within a minute.
    let tokens = json(t.get(&token, "/api/v1/tokens").await).await;
    let first_use = tokens[0]["last_used_at"].as_str().expect("the token's first use is recorded").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let tokens = json(t.get(&token, "/api/v1/tokens").await).await;
    assert_eq!(tokens[0]["last_used_at"].as_str(), Some(first_use.as_str()));

    // A revoked token stops working at once.
    let id = tokens[0]["id"].as_i64().unwrap();
    let r = t.client.delete(t.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_problem(t.get(&token, "/api/v1/me").await, 401, "unauthorized").await;
}

#[tokio::test]
async fn roles_limit_what_a_token_may_do() {
    let t = app(Db::Sqlite).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let new_user = json!({ "email": "sam@example.com", "role": "agent", "password": "a long password" });

    let p = assert_problem(t.post(&agent, "/api/v1/users", new_user.clone()).await, 403, "forbidden").await;
    assert!(p["detail"].as_str().unwrap().contains("admin"));
    let inbox = json!({ "name": "Second line", "channel_kind": "simulator", "sender": "+14155550199" });
    assert_problem(t.post(&agent, "/api/v1/inboxes", inbox.clone()).await, 403, "forbidden").await;

    let r = t.post(&admin, "/api/v1/users", new_user.clone()).await;
    assert_eq!(r.status(), 201);
    let sam = json(r).await;
    assert_eq!(sam["role"], "agent");
    assert!(sam.get("password_hash").is_none());
    assert_problem(t.post(&admin, "/api/v1/users", new_user).await, 409, "conflict").await;
    assert_eq!(t.post(&admin, "/api/v1/inboxes", inbox).await.status(), 201);

    // A deactivated user's tokens stop working.
    let sam_token =
        textdesk::services::auth::create_token(&t.services.store, sam["id"].as_i64().unwrap(), "t").await.unwrap().1;
    assert_eq!(t.get(&sam_token, "/api/v1/me").await.status(), 200);
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/users/{}", sam["id"])))
        .bearer_auth(&admin)
        .json(&json!({ "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_problem(t.get(&sam_token, "/api/v1/me").await, 401, "unauthorized").await;
}

#[tokio::test]
async fn bad_requests_get_clear_problems_and_change_nothing() {
    let t = app(Db::Sqlite).config(|c| c.max_body_bytes = 64 * 1024).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/messages");

    let malformed = t
        .client
        .post(t.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"body\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed").await;
    let wrong_field = t.post(&token, &path, json!({ "text": "hello" })).await;
    assert_problem(wrong_field, 400, "malformed").await;
    let not_json = t.client.post(t.url(&path)).bearer_auth(&token).body("body=hello").send().await.unwrap();
    assert_problem(not_json, 415, "unsupported-media-type").await;
    let huge = t.post(&token, &path, json!({ "body": "x".repeat(100 * 1024) })).await;
    assert_problem(huge, 413, "too-large").await;
    let too_long = t.post(&token, &path, json!({ "body": "x".repeat(1601) })).await;
    assert_problem(too_long, 422, "invalid").await;
    let empty = t.post(&token, &path, json!({ "body": "   " })).await;
    assert_problem(empty, 422, "invalid").await;

    assert_problem(t.get(&token, "/api/v1/conversations/999999").await, 404, "not-found").await;
    assert_problem(t.get(&token, "/api/v1/conversations/not-a-number").await, 404, "not-found").await;
    assert_problem(
        t.post(&token, "/api/v1/conversations/999999/messages", json!({ "body": "hi" })).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(t.get(&token, "/api/v1/nothing-here").await, 404, "not-found").await;
    assert_problem(t.get(&token, "/api/v1/conversations?status=closed").await, 422, "invalid").await;
    assert_problem(t.get(&token, "/api/v1/conversations?cursor=garbage").await, 422, "invalid").await;
    assert_problem(t.get(&token, "/api/v1/conversations?limit=abc").await, 400, "malformed").await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "snoozed" })).await;
    assert_problem(r, 422, "invalid").await;
    let r = t.post(&token, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": 424242 })).await;
    assert_problem(r, 404, "not-found").await;
    let r = t.post(&token, "/api/v1/contacts", json!({ "address": "12" })).await;
    assert_problem(r, 422, "invalid").await;
    let r = t
        .client
        .patch(t.url("/api/v1/contacts/1"))
        .bearer_auth(&token)
        .json(&json!({ "time_zone": "Mars/Olympus" }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "invalid").await;
    // serde would read `[preferences, phone]` as the struct's fields in order; the API takes objects only.
    for body in [json!([]), json!([null, "+14155550100"]), json!("+14155550100"), json!(null)] {
        let r = t.client.patch(t.url("/api/v1/me")).bearer_auth(&token).json(&body).send().await.unwrap();
        let p = assert_problem(r, 400, "malformed").await;
        assert!(p["detail"].as_str().unwrap().contains("must be a JSON object"), "{body}: {p}");
    }
    assert_eq!(json(t.get(&token, "/api/v1/me").await).await["phone"], serde_json::Value::Null, "no phone was set");

    // Nothing of that reached the conversation.
    let msgs = json(t.get(&token, &path).await).await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conversations_filter_and_page() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let me = json(t.get(&token, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let body = if i == 3 { "Question about my invoice" } else { "hello" };
        let r = json(t.text_in(inbox, &format!("+1415555{:04}", 400 + i), body, None).await).await;
        ids.push(r["conversation_id"].as_i64().unwrap());
    }
    t.post(&token, &format!("/api/v1/conversations/{}/assign", ids[0]), json!({ "assignee_id": me })).await;
    let lead = t.token_for("lee@example.com", Role::Supervisor).await;
    t.post(&lead, "/api/v1/labels", json!({ "name": "billing" })).await;
    let r = t
        .client
        .put(t.url(&format!("/api/v1/conversations/{}/labels", ids[1])))
        .bearer_auth(&token)
        .json(&json!({ "labels": ["billing", "Billing"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["labels"], json!(["billing"]));
    t.post(&token, &format!("/api/v1/conversations/{}/status", ids[2]), json!({ "status": "pending" })).await;

    let count = |q: &'static str| {
        let t = &t;
        let token = &token;
        async move {
            json(t.get(token, &format!("/api/v1/conversations?{q}")).await).await["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("assignee=me").await, 1);
    assert_eq!(count("assignee=none").await, 6);
    assert_eq!(count("label=billing").await, 1);
    assert_eq!(count("status=pending").await, 1);
    assert_eq!(count("status=open").await, 6);
    assert_eq!(count("q=INVOICE").await, 1);
    assert_eq!(count("q=5550403").await, 1);

    // Cursor pagination walks every conversation once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/conversations?limit=3&cursor={c}"),
            None => "/api/v1/conversations?limit=3".to_owned(),
        };
        let page = json(t.get(&token, &q).await).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "no conversation twice");
    // Assigning, labelling and changing status do not reorder by activity.
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn health_metrics_and_the_openapi_document() {
    let t = app(Db::Sqlite).start().await;
    let r = t.client.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ok");
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550111", "hi", None).await;
    let metrics = t.client.get(t.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("textdesk_inbound_messages_total 1"), "{metrics}");
    assert!(metrics.contains("textdesk_outbox_rows{state=\"queued\"} 0"));
    let doc = t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap().text().await.unwrap();
    let committed = include_str!("../../../../docs/openapi.json");
    assert_eq!(doc, committed, "docs/openapi.json is stale: regenerate it with `textdesk openapi`");
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert!(v["paths"]["/api/v1/conversations/{id}/messages"]["post"].is_object());
}

#[tokio::test]
async fn contacts_teams_and_identities() {
    let t = app(Db::Sqlite).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let r = t
        .post(
            &agent,
            "/api/v1/contacts",
            json!({ "name": "Karen", "address": "+1 415 555 0111", "time_zone": "America/New_York" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let karen = json(r).await;
    assert_eq!(karen["identities"][0]["address"], "+14155550111");
    assert_eq!(karen["identities"][0]["namespace"], "phone");
    let id = karen["id"].as_i64().unwrap();
    let r = t
        .post(
            &agent,
            &format!("/api/v1/contacts/{id}/identities"),
            json!({ "channel_kind": "telegram", "address": "karen_w" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["identities"].as_array().unwrap().len(), 2);
    // The same number cannot belong to two contacts.
    let r = t.post(&agent, "/api/v1/contacts", json!({ "address": "+14155550111" })).await;
    assert_problem(r, 409, "conflict").await;
    // Texting in from a known number lands on the known contact.
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await;
    let c = json(t.get(&agent, &format!("/api/v1/conversations/{}", conv["conversation_id"])).await).await;
    assert_eq!(c["contact_id"], id);
    assert_eq!(c["contact_name"], "Karen");
    let found = json(t.get(&agent, "/api/v1/contacts?q=karen").await).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/contacts/{id}")))
        .bearer_auth(&agent)
        .json(&json!({ "time_zone": null, "attributes": { "plan": "gold" } }))
        .send()
        .await
        .unwrap();
    let patched = json(r).await;
    assert!(patched["time_zone"].is_null());
    assert_eq!(patched["attributes"]["plan"], "gold");
    assert_eq!(patched["name"], "Karen", "fields not sent are kept");

    assert_problem(t.post(&agent, "/api/v1/teams", json!({ "name": "Billing" })).await, 403, "forbidden").await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await;
    let me = json(t.get(&agent, "/api/v1/me").await).await;
    let r = t.post(&admin, &format!("/api/v1/teams/{}/members", team["id"]), json!({ "user_id": me["id"] })).await;
    assert_eq!(r.status(), 204);
    let r = t
        .post(
            &agent,
            &format!("/api/v1/conversations/{}/assign", conv["conversation_id"]),
            json!({ "assignee_id": me["id"], "team_id": team["id"] }),
        )
        .await;
    assert_eq!(json(r).await["team_id"], team["id"]);
    let list = json(t.get(&agent, &format!("/api/v1/conversations?team_id={}", team["id"])).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_composer_preview_counts_advises_and_predicts() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.inbox_with("Priced", "+14155550100", json!({ "price_per_segment": 0.0079, "currency": "USD" })).await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();

    let p = json(
        t.post(&token, "/api/v1/compose/preview", json!({ "body": "a".repeat(161), "conversation_id": conv })).await,
    )
    .await;
    assert_eq!(
        (p["characters"].as_i64(), p["segments"].as_i64(), p["encoding"].as_str()),
        (Some(161), Some(2), Some("gsm7"))
    );
    assert!((p["cost"]["total"].as_f64().unwrap() - 0.0158).abs() < 1e-9);
    assert_eq!(p["verdict"]["decision"], "allow", "the customer just wrote");

    let p = json(t.post(&token, "/api/v1/compose/preview", json!({ "body": "See you soon 😀" })).await).await;
    assert_eq!(p["encoding"], "ucs2");
    assert_eq!(p["segments"], 1);
    assert!(p["verdict"].is_null() && p["cost"].is_null());
    let codes: Vec<&str> = p["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["emoji"]);

    let p =
        json(t.post(&token, "/api/v1/compose/preview", json!({ "body": "It\u{2019}s booked \u{2014} thx!!" })).await)
            .await;
    let fixes: Vec<(&str, &str)> = p["ucs2_characters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["character"].as_str().unwrap(), c["replacement"].as_str().unwrap()))
        .collect();
    assert_eq!(fixes, [("\u{2019}", "'"), ("\u{2014}", "-")]);
    let codes: Vec<&str> = p["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["ucs2", "slang", "exclamation"]);

    // The verdict for an opted-out contact.
    t.text_in(inbox, "+14155550111", "STOP", None).await;
    let p = json(t.post(&token, "/api/v1/compose/preview", json!({ "body": "Hello", "conversation_id": conv })).await)
        .await;
    assert_eq!(p["verdict"]["decision"], "block");
    assert_eq!(p["verdict"]["reason"], "opted_out");
    assert_problem(
        t.post(&token, "/api/v1/compose/preview", json!({ "body": "x", "conversation_id": 999 })).await,
        404,
        "not-found",
    )
    .await;

    // The web composer asks the same thing with its session.
    t.user("sam@example.com", Role::Agent).await;
    let browser = t.browser("sam@example.com").await;
    let r =
        browser.post(t.url(&format!("/conversations/{conv}/preview"))).form(&[("body", "😀")]).send().await.unwrap();
    assert_eq!(json(r).await["encoding"], "ucs2");
    let anon =
        t.client.post(t.url(&format!("/conversations/{conv}/preview"))).form(&[("body", "x")]).send().await.unwrap();
    assert_eq!(anon.status(), 303, "signed-out callers are sent to the login");
}

/// Every integer a client may send in a JSON body or a query whose Rust type
/// is narrower than 64 bits says its range in the API document: without it a
/// schema-valid number too large for the field is refused as malformed (400),
/// where a client reading the document was promised at most a 422.
#[test]
fn every_narrow_number_a_client_sends_states_its_range() {
    use serde_json::Value;
    let doc: Value = serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
    let schemas = &doc["components"]["schemas"];
    fn walk(s: &Value, schemas: &Value, at: String, seen: &mut Vec<String>, unbounded: &mut Vec<String>) {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or_default().to_owned();
            if !seen.contains(&name) {
                seen.push(name.clone());
                walk(&schemas[&name], schemas, format!("{at} > {name}"), seen, unbounded);
            }
            return;
        }
        let integer = s["type"] == "integer" || s["type"].as_array().is_some_and(|t| t.contains(&"integer".into()));
        if integer && s["format"] != "int64" && (s["minimum"].is_null() || s["maximum"].is_null()) {
            unbounded.push(at.clone());
        }
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            walk(v, schemas, format!("{at}.{k}"), seen, unbounded);
        }
        for k in ["items", "additionalProperties"] {
            if s[k].is_object() {
                walk(&s[k], schemas, format!("{at}[]"), seen, unbounded);
            }
        }
        for k in ["allOf", "oneOf", "anyOf"] {
            for v in s[k].as_array().into_iter().flatten() {
                walk(v, schemas, at.clone(), seen, unbounded);
            }
        }
    }
    let mut unbounded = Vec::new();
    let mut bodies = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let at = format!("{method} {path} ?{}", p["name"]);
                walk(&p["schema"], schemas, at, &mut Vec::new(), &mut unbounded);
            }
            if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
                bodies += 1;
                walk(
                    &Value::Object(body.clone()),
                    schemas,
                    format!("{method} {path}"),
                    &mut Vec::new(),
                    &mut unbounded,
                );
            }
        }
    }
    assert!(bodies > 30, "the document's JSON request bodies were not found ({bodies})");
    assert!(unbounded.is_empty(), "numbers without a stated range:\n{}", unbounded.join("\n"));
}

/// The document lists each operation's query parameters and nothing else; a
/// parameter it does not name (a misspelt filter, most often) is refused with
/// a problem that names it, never silently ignored: `stauts=open` would
/// otherwise answer every status as if it were the filter asked for.
#[tokio::test]
async fn every_query_refuses_a_parameter_the_document_does_not_name() {
    let t = app(Db::Sqlite).start().await;
    let token = t.token_for("ada@example.com", Role::Admin).await;
    let doc = json(t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    let (mut checked, mut wrong) = (0, Vec::new());
    for (path, ops) in doc["paths"].as_object().unwrap() {
        // The operator's API exists only where an operator token is configured.
        if path.starts_with("/api/v1/operator") {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if !params.iter().any(|p| p["in"] == "query") {
                continue;
            }
            let concrete = path.split('/').map(|s| if s.starts_with('{') { "1" } else { s }).collect::<Vec<_>>();
            let url = t.url(&format!("{}?no_such_filter=1", concrete.join("/")));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = t.client.request(m, &url).bearer_auth(&token).send().await.unwrap();
            let status = r.status().as_u16();
            let p: serde_json::Value = r.json().await.unwrap_or_default();
            let named = p["detail"].as_str().is_some_and(|d| d.contains("no_such_filter"));
            if (status, &p["type"], named) != (400, &json!("urn:textdesk:problem:malformed"), true) {
                wrong.push(format!("{method} {path}: {status} {p}"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "the operations with a query were not found ({checked})");
    assert!(wrong.is_empty(), "an unknown parameter was not refused:\n{}", wrong.join("\n"));
}
