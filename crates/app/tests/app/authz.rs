//! The authorization matrix: every API operation (read from docs/openapi.json,
//! so a new one cannot be forgotten) and every page (the routes found in
//! src/http) × anonymous, agent, supervisor, admin and an admin of another
//! account served by the same server (made with `textdesk account add`), who
//! must get 404 for every record of the first account's, against the table in
//! docs/security.md. Real HTTP against the real app; each role acts on
//! records of its own, so one role's delete does not change another's answer.
//! A role refused an operation is refused with a malformed body too: the role
//! is checked before the body is read.
//! `TEXTDESK_AUTHZ_PRINT=1` prints the table as observed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::binary::Env;
use crate::common::{self, Db, TestApp, json};

const WHO: [&str; 5] = ["anonymous", "agent", "supervisor", "admin", "other account"];

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Yes,
    No,
    /// A signature, not a caller, opens it: unsigned, everyone is refused alike.
    Signed,
    /// Exactly 404: another account's record does not exist for this caller.
    Hidden,
}

/// (method, path) → the five answers, from docs/security.md.
fn table() -> BTreeMap<(String, String), Vec<Cell>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md")).unwrap();
    let start = doc.find("## Authorization matrix").expect("docs/security.md has the matrix");
    let mut rows = BTreeMap::new();
    for line in doc[start..].lines().skip(1).take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 7 || cells[0] == "method" || cells[0].starts_with('-') {
            continue;
        }
        let path = cells[1].trim_matches('`').to_owned();
        let allowed = cells[2..]
            .iter()
            .map(|c| match *c {
                "yes" => Cell::Yes,
                "no" => Cell::No,
                "signed" => Cell::Signed,
                "hidden" => Cell::Hidden,
                other => panic!("{path}: {other:?} is not yes, no, signed or hidden"),
            })
            .collect();
        assert!(rows.insert((cells[0].to_owned(), path.clone()), allowed).is_none(), "{path} twice");
    }
    rows
}

fn api_operations() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap(),
    )
    .unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// Every path the one router file names (`.route("/…"`), with /api/v1 for the API's.
fn routed_paths() -> BTreeSet<String> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/routes.rs");
    let source = std::fs::read_to_string(file).unwrap();
    let mut paths = BTreeSet::new();
    for piece in source.split(".route(").skip(1) {
        let piece = piece.trim_start();
        if let Some(rest) = piece.strip_prefix('"') {
            paths.insert(rest.split('"').next().unwrap().to_owned());
        }
    }
    assert!(paths.len() > 50, "the routes were read from {file}");
    paths
}

/// Records one role acts on.
struct Seeds {
    conv: i64,
    callback: i64,
    contact: i64,
    message: i64,
    canned: i64,
    label: i64,
    team: i64,
    member: i64,
    note: i64,
    token: i64,
    user: i64,
    inbox: i64,
    rule: i64,
    webhook: i64,
    flow: i64,
    /// A scored review of `conv` whose agent is the role's own user.
    review: i64,
}

async fn seed(t: &TestApp, admin: &str, actor_id: i64, n: usize) -> Seeds {
    let store = &t.services.store;
    let inbox = t.inbox_with(&format!("SMS {n}"), &format!("+1415555{:04}", 100 + n), json!({})).await;
    let phone = format!("+1415555{:04}", 2000 + n);
    let conv = json(t.text_in(inbox, &phone, "hello", None).await).await["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(admin, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    let reply =
        json(t.post(admin, &format!("/api/v1/conversations/{conv}/messages"), json!({ "body": "Hi there" })).await)
            .await;
    let message = reply["id"].as_i64().unwrap_or_else(|| panic!("a reply: {reply}"));
    let canned = json(
        t.post(admin, "/api/v1/canned-responses", json!({ "shortcut": format!("c{n}"), "title": "T", "body": "B" }))
            .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let label = json(t.post(admin, "/api/v1/labels", json!({ "name": format!("label{n}") })).await).await["id"]
        .as_i64()
        .unwrap();
    let user = t.user(&format!("target{n}@example.com"), Role::Agent).await.id;
    let team = store.create_team(t.account_id, &format!("Team {n}")).await.unwrap().id;
    store.add_team_member(team, user).await.unwrap();
    let note = json(t.post(admin, &format!("/api/v1/contacts/{contact}/notes"), json!({ "body": "a note" })).await)
        .await["id"]
        .as_i64()
        .unwrap();
    let token = textdesk::services::auth::create_token(store, actor_id, "spare").await.unwrap().0.id;
    let rule = json(t.post(admin, "/api/v1/automations", a_rule(n)).await).await["id"].as_i64().unwrap();
    let webhook = json(t.post(admin, "/api/v1/webhooks", a_webhook()).await).await["id"].as_i64().unwrap();
    let flow = json(t.post(admin, "/api/v1/flows", a_flow(&format!("Flow {n}"))).await).await["id"].as_i64().unwrap();
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 + n as i64);
    let ask = json!({ "to": "callback", "at": at.to_string() });
    assert_eq!(t.post(admin, &format!("/api/v1/conversations/{conv}/escalations"), ask).await.status(), 201);
    let queue = json(t.get(admin, "/api/v1/callbacks").await).await;
    let callback =
        queue.as_array().unwrap().iter().find(|c| c["conversation_id"] == conv).unwrap()["id"].as_i64().unwrap();
    let why = textdesk_core::review::ReviewReason::Escalated;
    let review = store.queue_review((t.account_id, conv), why, Some(actor_id), jiff::Timestamp::now()).await.unwrap();
    let review = review.expect("a new review");
    let scored = t
        .client
        .put(t.url(&format!("/api/v1/reviews/{review}/scorecard")))
        .bearer_auth(admin)
        .json(&a_scorecard())
        .send()
        .await
        .unwrap();
    assert_eq!(scored.status(), 200);
    Seeds {
        conv,
        callback,
        contact,
        message,
        canned,
        label,
        team,
        member: user,
        note,
        token,
        user,
        inbox,
        rule,
        webhook,
        flow,
        review,
    }
}

fn a_scorecard() -> Value {
    json!({ "scores": [5, 4, 4, null, 5], "comment": "Clear and kind." })
}

fn a_webhook() -> Value {
    json!({ "url": "https://hooks.example.com/in", "events": ["message.received"] })
}

fn a_flow(name: &str) -> Value {
    json!({ "name": name, "steps": [{ "name": "start", "text": "Hi", "options": [{ "key": "0", "label": "A person", "handoff": {} }] }] })
}

fn a_rule(n: usize) -> Value {
    json!({ "name": format!("Rule {n}"), "trigger": { "on": "conversation_created" }, "actions": [{ "do": "set_priority", "priority": "high" }] })
}

/// A body that passes validation where the operation needs one, so that the
/// callers who may call it reach the operation itself (those who may not are
/// also sent a malformed body, which must not change their 403).
fn body_for(method: &str, path: &str, n: usize, s: &Seeds) -> Value {
    match (method, path) {
        ("POST", "/api/v1/canned-responses") => json!({ "shortcut": format!("m{n}"), "title": "T", "body": "B" }),
        ("POST", "/api/v1/inboxes") => {
            json!({ "name": format!("Inbox m{n}"), "channel_kind": "simulator", "sender": format!("+1415555{:04}", 6000 + n) })
        }
        ("POST", "/api/v1/invites") => json!({ "email": format!("inv{n}@example.com"), "role": "agent" }),
        ("POST", "/api/v1/labels") => json!({ "name": format!("m{n}") }),
        ("POST", "/api/v1/teams") => json!({ "name": format!("M{n}") }),
        ("POST", "/api/v1/teams/{id}/members") => json!({ "user_id": s.user }),
        ("POST", "/api/v1/users") => {
            json!({ "email": format!("new{n}@example.com"), "role": "agent", "password": common::PASSWORD })
        }
        ("PATCH", "/api/v1/account") => json!({ "settings": {} }),
        ("POST", "/api/v1/automations") | ("PUT", "/api/v1/automations/{id}") => a_rule(n),
        ("PATCH", "/api/v1/automations/{id}") => json!({ "enabled": true }),
        ("POST", "/api/v1/webhooks") => a_webhook(),
        ("PUT", "/api/v1/reviews/{id}/scorecard") => a_scorecard(),
        ("PUT", "/api/v1/reviews/settings") => {
            // The default rubric again: later roles' seeds score against it.
            json!({ "sample_size": 2, "criteria": textdesk_core::review::Rubric::default_rubric().criteria })
        }
        // Bodies that act, so another account's caller reaches the record (and its 404).
        ("POST", "/api/v1/conversations/{id}/messages") => json!({ "body": "Checking in" }),
        ("POST", "/api/v1/conversations/{id}/priority") => json!({ "priority": "high" }),
        ("POST", "/api/v1/conversations/{id}/status") => json!({ "status": "pending" }),
        ("PUT", "/api/v1/conversations/{id}/labels") => json!({ "labels": [] }),
        ("POST", "/api/v1/contacts/{id}/notes") => json!({ "body": "another note" }),
        // No such other contact: reaching the 404 is being let in (another account's caller is stopped first).
        ("POST", "/api/v1/contacts/{id}/merge") | ("POST", "/api/v1/contacts/{id}/merge/preview") => {
            json!({ "other_id": s.contact + 1_000_000 })
        }
        ("POST", "/api/v1/flows") | ("PUT", "/api/v1/flows/{id}") => a_flow(&format!("Flow m{n}")),
        ("POST", "/api/v1/flows/import") => {
            let mut file = a_flow(&format!("Flow i{n}"));
            file["version"] = json!(1);
            file
        }
        ("PUT", "/api/v1/retention") | ("POST", "/api/v1/retention/dry-run") => {
            json!({ "months": 24, "action": "redact" })
        }
        _ => json!({}),
    }
}

/// A path with its parameters filled from `s`, each `{id}` by the segment before it.
fn fill(path: &str, s: &Seeds) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let before = if i > 0 { segments[i - 1] } else { "" };
        let v = match *seg {
            "{id}" => match before {
                "conversations" => s.conv,
                "contacts" => s.contact,
                "canned-responses" | "canned" => s.canned,
                "labels" => s.label,
                "inboxes" => s.inbox,
                "messages" => s.message,
                "teams" => s.team,
                "users" => s.user,
                "tokens" => s.token,
                "automations" => s.rule,
                "webhooks" => s.webhook,
                "flows" => s.flow,
                "callbacks" => s.callback,
                "reviews" => s.review,
                "media" => 1,
                // No merge is made in the seeds: every caller reaches the 404.
                "contact-merges" => 1,
                other => panic!("{path}: no record for {{id}} after {other:?}"),
            }
            .to_string(),
            "{cid}" => s.canned.to_string(),
            "{note_id}" => s.note.to_string(),
            "{user_id}" => s.member.to_string(),
            "{message_id}" => s.message.to_string(),
            // No delivery is made in the seeds: an admin reaches the 404.
            "{delivery_id}" => "1".into(),
            "{inbox}" => s.inbox.to_string(),
            "{section}" => "hours".into(),
            "{n}" => "1".into(),
            "{number}" => "+14155552671".into(),
            "{token}" => "not-an-invitation".into(),
            "{provider}" => "twilio".into(),
            "{hook}" => "status".into(),
            // No call is placed in the seeds: the provider's requests reach the 404.
            "{call_id}" => "1".into(),
            other => other.into(),
        };
        out.push(v);
    }
    out.join("/")
}

/// How one role is sent: its bearer token (API) and its session (pages).
#[derive(Default, Clone)]
struct Creds {
    token: Option<String>,
    cookie: Option<String>,
    csrf: String,
}

/// Whether the request got past authorization: not 401/403 and not sent to sign in.
async fn allowed(t: &TestApp, method: &str, path: &str, body: Value, c: &Creds) -> (Cell, u16) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = t.client.request(m, t.url(path));
    if path.starts_with("/api/") {
        if let Some(tok) = &c.token {
            req = req.bearer_auth(tok);
        }
        if method != "GET" && method != "DELETE" {
            req = req.json(&body);
        }
    } else {
        if let Some(cookie) = &c.cookie {
            req = req.header("cookie", format!("{}={cookie}", textdesk::http::extract::SESSION_COOKIE));
        }
        if method == "POST" {
            req = req.form(&[("csrf", c.csrf.as_str())]);
        }
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let to_login = r.headers().get("location").and_then(|l| l.to_str().ok()).is_some_and(|l| l.starts_with("/login"));
    // Live streams never end: only an error's body is read.
    let text = if status == 403 || status >= 500 { r.text().await.unwrap_or_default() } else { String::new() };
    assert!(status < 500, "{method} {path}: {status} {text}");
    assert_ne!(status, 429, "{method} {path}: rate limited; raise the test's limits");
    // The sign-in forms' own token (not a session's) is what they check first:
    // reaching that check is reaching the form, which anyone may.
    let sign_in_form = status == 403
        && text.starts_with("This form has expired")
        && (path == "/login" || path.starts_with("/invite/"));
    // Signing out ends at the sign-in page: that is its success, not a refusal.
    let to_login = to_login && path != "/logout";
    let cell = if sign_in_form || !(status == 401 || status == 403 || to_login) { Cell::Yes } else { Cell::No };
    (cell, status)
}

/// The status of `method path` sent by `c` with a body that is not JSON at all.
async fn with_a_malformed_body(t: &TestApp, method: &str, path: &str, c: &Creds) -> u16 {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = t.client.request(m, t.url(path)).header("content-type", "application/json").body("{\"oops\": [");
    if let Some(tok) = &c.token {
        req = req.bearer_auth(tok);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn matrix(db: Db) {
    let t = common::app(db)
        .config(|c| {
            // Every denied request of an anonymous or foreign caller counts as a bad token.
            c.login_ip_attempts = 10_000;
            // On, so that its rows are the token's refusal (401), not a missing route.
            c.operator_token = Some("operator-secret-for-the-matrix".into());
        })
        .start()
        .await;
    let table = table();

    // The rules for the table itself: every operation and route is in it, nothing more.
    let ops = api_operations();
    for op in &ops {
        assert!(table.contains_key(op), "docs/security.md has no row for {} {}", op.0, op.1);
    }
    for (m, p) in table.keys() {
        // The document itself is served beside the operations it describes.
        let documented = ops.contains(&(m.clone(), p.clone())) || p == "/api/v1/openapi.json";
        assert!(!p.starts_with("/api/") || documented, "{m} {p} is not in docs/openapi.json");
    }
    let known: BTreeSet<&str> = table.keys().map(|(_, p)| p.as_str()).collect();
    for path in routed_paths() {
        assert!(
            known.contains(path.as_str()) || known.contains(format!("/api/v1{path}").as_str()),
            "{path} is routed in src/http but has no row in docs/security.md"
        );
    }

    // The people: three roles here, and the admin of another account.
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(&t.database_url, dir.path());
    let out = env.run(
        &["account", "add", "--name", "Other Clinic", "--admin-email", "boss@other.example", "--password-stdin"],
        Some(&format!("{}\n", common::PASSWORD)),
    );
    assert!(out.starts_with("added account "), "{out}");
    let other_token = env.run(&["token", "create", "--user", "boss@other.example"], None).trim().to_owned();
    let admin_token = t.token_for("admin@example.com", Role::Admin).await;
    let mut creds: Vec<(Creds, i64)> = vec![(Creds::default(), 0)];
    for (email, role) in [("agent@example.com", Role::Agent), ("sup@example.com", Role::Supervisor)] {
        let token = t.token_for(email, role).await;
        creds.push((Creds { token: Some(token), ..Creds::default() }, 0));
    }
    creds.push((Creds { token: Some(admin_token.clone()), ..Creds::default() }, 0));
    creds.push((Creds { token: Some(other_token), ..Creds::default() }, 0));
    let emails = ["", "agent@example.com", "sup@example.com", "admin@example.com", "boss@other.example"];
    for (i, email) in emails.iter().enumerate().skip(1) {
        let found = t.services.store.users_by_email(&textdesk_core::Email::parse(email).unwrap()).await.unwrap();
        let u = found.into_iter().next().unwrap();
        if i == 4 {
            assert_ne!(u.account_id, t.account_id, "account add made another account");
        }
        let s = textdesk::services::auth::start_session(&t.services.store, u.id, 1).await.unwrap();
        creds[i].0.cookie = Some(s.cookie);
        creds[i].0.csrf = s.csrf;
        creds[i].1 = u.id;
    }

    let print = std::env::var("TEXTDESK_AUTHZ_PRINT").is_ok();
    let mut wrong = Vec::new();
    let mut seen: BTreeMap<(String, String), Vec<(Cell, u16)>> = BTreeMap::new();
    for (who, (c, user_id)) in creds.iter().enumerate() {
        let actor = if *user_id == 0 || who == 4 { creds[3].1 } else { *user_id };
        let s = seed(&t, &admin_token, actor, who).await;
        // Reads first, then changes, deletions last (the role's own token among them).
        let mut rows: Vec<&(String, String)> = table.keys().collect();
        rows.sort_by_key(|(m, p)| {
            (
                p == "/logout",
                p.contains("tokens"),
                ["GET", "POST", "PUT", "PATCH", "DELETE"].iter().position(|x| x == m),
            )
        });
        for key in rows {
            let (method, path) = key;
            let got = allowed(&t, method, &fill(path, &s), body_for(method, path, who, &s), c).await;
            seen.entry(key.clone()).or_default().push(got);
            let expected = table[key][who];
            let ok = match expected {
                Cell::Signed => (400..500).contains(&got.1),
                // A body refused before any record is read gets the admin's own
                // answer (400/422), which says nothing about the record.
                Cell::Hidden => got.1 == 404 || ([400, 422].contains(&got.1) && seen[key][3].1 == got.1),
                _ => expected == got.0,
            };
            if !ok {
                wrong.push(format!("{method} {path} as {}: table says {:?}, got {}", WHO[who], table[key][who], got.1));
            }
            // A role that may not call the operation is refused whatever the body: 403 before it is read.
            let has_body = ["POST", "PUT", "PATCH"].contains(&method.as_str());
            if (who == 1 || who == 2) && expected == Cell::No && has_body && path.starts_with("/api/") {
                let status = with_a_malformed_body(&t, method, &fill(path, &s), c).await;
                // The operator's routes know no user token at all: 401, as for every other refusal there.
                let refused = if path.starts_with("/api/v1/operator/") { 401 } else { 403 };
                if status != refused {
                    wrong.push(format!(
                        "{method} {path} as {} with a malformed body: {status}, not {refused}",
                        WHO[who]
                    ));
                }
            }
        }
    }
    if print {
        for ((m, p), got) in &seen {
            let cells: Vec<String> = got
                .iter()
                .map(|(a, s)| {
                    format!(
                        "{} ({s})",
                        if *s == 404 {
                            "404"
                        } else if *a == Cell::Yes {
                            "yes"
                        } else {
                            "no"
                        }
                    )
                })
                .collect();
            println!("| {m} | `{p}` | {} |", cells.join(" | "));
        }
    }
    assert!(wrong.is_empty(), "{} cells differ from docs/security.md:\n{}", wrong.len(), wrong.join("\n"));
}

both_backends!(matrix);
