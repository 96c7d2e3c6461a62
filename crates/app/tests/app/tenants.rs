//! Every account served by one server: two businesses side by side (sign-in,
//! texts on each one's inbox, lists, live streams, search, pages), signing in
//! with an e-mail several accounts have, host names, the operator's API and
//! `textdesk account add --host`. Real HTTP, both backends.

use std::time::Duration;

use serde_json::{Value, json};
use textdesk_core::{Email, HostName, Password, Role};

use crate::common::binary::Env;
use crate::common::{self, Db, PASSWORD, TestApp, csrf_of, json};

/// A second business on the test's server, with its admin, a host name and a
/// simulator inbox.
struct Second {
    account_id: i64,
    admin_token: String,
    inbox: i64,
}

async fn second_account(t: &TestApp, admin_email: &str) -> Second {
    let store = &t.services.store;
    let host = HostName::parse("harbor.example").unwrap();
    let (account, admin) = textdesk::services::auth::create_account(
        store,
        "Harbor Vets",
        Email::parse(admin_email).unwrap(),
        "Bo",
        Some(&Password::parse(PASSWORD).unwrap()),
        &[host],
    )
    .await
    .unwrap();
    store.add_account_host(t.account_id, &HostName::parse("dental.example").unwrap()).await.unwrap();
    let admin_token = textdesk::services::auth::create_token(store, admin.id, "test").await.unwrap().1;
    let inbox = store
        .create_inbox(textdesk_store::NewInbox {
            account_id: account.id,
            name: "Front desk".into(),
            provider: "simulator".into(),
            medium: textdesk_core::Medium::Sms,
            sender: "+14155550200".into(),
            settings: json!({}),
            secrets: json!({}),
        })
        .await
        .unwrap()
        .id;
    Second { account_id: account.id, admin_token, inbox }
}

/// A customer texts an inbox through the simulator reached at `host`.
async fn text_at(t: &TestApp, host: &str, inbox: i64, from: &str, body: &str) -> reqwest::Response {
    t.client
        .post(t.url(&format!("/simulator/api/inboxes/{inbox}/messages")))
        .header("host", host)
        .json(&json!({ "from": from, "body": body }))
        .send()
        .await
        .unwrap()
}

/// The login form posted as a browser at `host` does (its page first, for the
/// form's token), with `extra` fields (the business picked).
async fn sign_in_at(
    c: &reqwest::Client,
    t: &TestApp,
    host: Option<&str>,
    email: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let with_host = |r: reqwest::RequestBuilder| match host {
        Some(h) => r.header("host", h),
        None => r,
    };
    let page = with_host(c.get(t.url("/login"))).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("textdesk_signin_csrf=").and_then(|v| v.split(';').next()).map(str::to_owned));
    let token = csrf_of(&page.text().await.unwrap());
    let cookie = cookie.unwrap_or_else(|| token.clone());
    let mut fields = vec![("email", email), ("password", password), ("next", "/inbox"), ("csrf", token.as_str())];
    fields.extend_from_slice(extra);
    let r = with_host(c.post(t.url("/login")))
        .header("cookie", format!("textdesk_signin_csrf={cookie}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Conversation ids of a list answer.
fn ids(list: &Value) -> Vec<i64> {
    list["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// Reads a live stream until an event names `conversation_id`; returns every
/// conversation id seen before it (and it).
async fn stream_until(resp: &mut reqwest::Response, conversation_id: i64) -> Vec<i64> {
    let mut buf = String::new();
    let mut seen = Vec::new();
    let read = async {
        loop {
            while let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else { continue };
                let v: Value = serde_json::from_str(data.trim()).unwrap();
                if let Some(c) = v["conversation_id"].as_i64() {
                    seen.push(c);
                    if c == conversation_id {
                        return;
                    }
                }
            }
            let chunk = resp.chunk().await.unwrap().expect("the stream stays open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await.expect("the event within 5 s");
    seen
}

async fn two_accounts_side_by_side(db: Db) {
    let t = common::app(db).start().await;
    let a_token = t.token_for("ann@dental.example", Role::Admin).await;
    let a_inbox = t.simulator_inbox().await;
    let b = second_account(&t, "bo@harbor.example").await;
    assert_ne!(b.account_id, t.account_id);

    // Both sign in on the same server, each at their own host name.
    let (a_ui, b_ui) = (browser(), browser());
    assert_eq!(sign_in_at(&a_ui, &t, Some("dental.example"), "ann@dental.example", PASSWORD, &[]).await.0, 303);
    assert_eq!(sign_in_at(&b_ui, &t, Some("harbor.example:8080"), "bo@harbor.example", PASSWORD, &[]).await.0, 303);
    // …and not at the other's.
    assert_eq!(sign_in_at(&browser(), &t, Some("dental.example"), "bo@harbor.example", PASSWORD, &[]).await.0, 401);

    // Each one's live stream is open before the texts arrive.
    let open = |token: &str| t.client.get(t.url("/api/v1/events")).bearer_auth(token).send();
    let mut a_live = open(&a_token).await.unwrap();
    let mut b_live = open(&b.admin_token).await.unwrap();
    assert_eq!((a_live.status().as_u16(), b_live.status().as_u16()), (200, 200));

    // A text on each business's inbox, through the simulator at its host name.
    let r = text_at(&t, "dental.example", a_inbox, "+14155551111", "My molar aches").await;
    let a_conv = json(r).await["conversation_id"].as_i64().unwrap();
    let r = text_at(&t, "harbor.example", b.inbox, "+14155552222", "Is the kennel open on Sunday?").await;
    let b_conv = json(r).await["conversation_id"].as_i64().unwrap();
    // The simulator at one business's host name does not reach the other's inbox.
    assert_eq!(text_at(&t, "dental.example", b.inbox, "+14155553333", "hello").await.status(), 404);

    // B's stream carries B's conversation and nothing of A's (A's text came first).
    let b_seen = stream_until(&mut b_live, b_conv).await;
    assert!(!b_seen.contains(&a_conv), "B's live stream carried A's event: {b_seen:?}");
    let a_seen = stream_until(&mut a_live, a_conv).await;
    assert!(!a_seen.contains(&b_conv), "A's live stream carried B's event: {a_seen:?}");

    // Lists, search and counts: each sees its own.
    let list = |token: String, q: &'static str| {
        let t = &t;
        async move { json(t.get(&token, &format!("/api/v1/conversations?status=any{q}")).await).await }
    };
    assert_eq!(ids(&list(a_token.clone(), "").await), [a_conv]);
    assert_eq!(ids(&list(b.admin_token.clone(), "").await), [b_conv]);
    assert_eq!(ids(&list(a_token.clone(), "&q=molar").await), [a_conv]);
    assert!(ids(&list(b.admin_token.clone(), "&q=molar").await).is_empty(), "B found A's words");
    assert!(ids(&list(a_token.clone(), "&q=kennel").await).is_empty(), "A found B's words");
    assert!(ids(&list(a_token.clone(), "&q=2222").await).is_empty(), "A found B's customer's number");
    for (token, own, other) in [(&a_token, "1111", "2222"), (&b.admin_token, "2222", "1111")] {
        let contacts = json(t.get(token, "/api/v1/contacts").await).await;
        assert_eq!(contacts.as_array().unwrap().len(), 1, "{contacts}");
        let found = json(t.get(token, &format!("/api/v1/contacts?q={own}")).await).await;
        assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
        let found = json(t.get(token, &format!("/api/v1/contacts?q={other}")).await).await;
        assert_eq!(found, json!([]), "the other business's customer was found");
    }

    // The inbox pages, with their counts, show each business its own customer.
    let a_page = a_ui.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let b_page = b_ui.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(a_page.contains("molar") && !a_page.contains("kennel"), "{a_page}");
    assert!(b_page.contains("kennel") && !b_page.contains("molar"), "{b_page}");
    // Each page is headed with its own business's name.
    assert!(a_page.contains("Test Dental") && !a_page.contains("Harbor Vets"), "{a_page}");
    assert!(b_page.contains("Harbor Vets") && !b_page.contains("Test Dental"), "{b_page}");

    // Each one's records do not exist for the other: 404, by API and by page.
    let r = t.get(&b.admin_token, &format!("/api/v1/conversations/{a_conv}")).await;
    assert_eq!(r.status(), 404);
    let r = t.post(&b.admin_token, &format!("/api/v1/conversations/{a_conv}/messages"), json!({"body": "hi"})).await;
    assert_eq!(r.status(), 404);
    assert_eq!(b_ui.get(t.url(&format!("/conversations/{a_conv}"))).send().await.unwrap().status(), 404);
    assert_eq!(a_ui.get(t.url(&format!("/conversations/{b_conv}"))).send().await.unwrap().status(), 404);

    // Both work: each replies to their own customer, and the message goes out.
    for (token, conv) in [(&a_token, a_conv), (&b.admin_token, b_conv)] {
        let r = t.post(token, &format!("/api/v1/conversations/{conv}/messages"), json!({"body": "We'll help"})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    assert_eq!(t.dispatch_all().await, 2);
    // B's automatic replies and confirmations name B: a STOP is confirmed in B's name.
    let r = text_at(&t, "harbor.example", b.inbox, "+14155552222", "STOP").await;
    assert_eq!(r.status(), 201);
    assert_eq!(t.dispatch_all().await, 1, "the confirmation goes out");
    let texts = t
        .eventually(|| async {
            let phone = t
                .client
                .get(t.url(&format!("/simulator/api/inboxes/{}/phones/+14155552222/messages", b.inbox)))
                .header("host", "harbor.example")
                .send()
                .await
                .unwrap();
            let texts = json(phone).await.to_string();
            texts.contains("unsubscribed").then_some(texts)
        })
        .await;
    assert!(texts.contains("Harbor Vets: You are unsubscribed"), "{texts}");
    assert!(!texts.contains("Test Dental"), "B's customer read A's name: {texts}");
}

both_backends!(two_accounts_side_by_side);

async fn one_email_in_two_accounts(db: Db) {
    let t = common::app(db).start().await;
    t.user("pat@example.com", Role::Agent).await;
    let b = second_account(&t, "pat@example.com").await;

    // At a host name no account claims, a right password for both asks which business.
    let c = browser();
    let (status, html) = sign_in_at(&c, &t, None, "pat@example.com", PASSWORD, &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"name="account""#) && html.contains("Harbor Vets") && html.contains("Test Dental"));
    // A wrong one says nothing about where the e-mail is used.
    let (status, html) = sign_in_at(&browser(), &t, None, "pat@example.com", "wrong password", &[]).await;
    assert_eq!(status, 401);
    assert!(!html.contains("Harbor Vets") && !html.contains(r#"name="account""#), "{html}");
    // Picking one signs in there: the list is that account's.
    let pick = b.account_id.to_string();
    let (status, _) = sign_in_at(&c, &t, None, "pat@example.com", PASSWORD, &[("account", &pick)]).await;
    assert_eq!(status, 303);
    text_at(&t, "harbor.example", b.inbox, "+14155552222", "Kennel question").await;
    let page = c.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Kennel question"), "signed in to Harbor Vets: {page}");

    // At a host name, only that account is asked: straight in.
    let (status, _) = sign_in_at(&browser(), &t, Some("dental.example"), "pat@example.com", PASSWORD, &[]).await;
    assert_eq!(status, 303);
    // The sign-in page names the business at its host name.
    let page = t.client.get(t.url("/login")).header("host", "harbor.example").send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Sign in to Harbor Vets"));

    // The same e-mail may be invited in each account; the first account's
    // admin is not told it exists in another.
    let admin = t.token_for("admin@dental.example", Role::Admin).await;
    let r = t.post(&admin, "/api/v1/invites", json!({ "email": "bo@harbor.example", "role": "agent" })).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

both_backends!(one_email_in_two_accounts);

const OPERATOR: &str = "op-4f1c9a7e2b";

async fn operator_api(db: Db) {
    // Without an operator token the routes do not exist.
    let off = common::app(db).start().await;
    let r = off.client.get(off.url("/api/v1/operator/accounts")).bearer_auth(OPERATOR).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = off.client.post(off.url("/api/v1/operator/accounts")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    drop(off);

    let t = common::app(db).config(|c| c.operator_token = Some(OPERATOR.into())).start().await;
    let url = t.url("/api/v1/operator/accounts");
    assert_eq!(t.client.get(&url).send().await.unwrap().status(), 401, "no token");
    assert_eq!(t.client.get(&url).bearer_auth("op-guess").send().await.unwrap().status(), 401, "wrong token");
    let admin = t.token_for("admin@dental.example", Role::Admin).await;
    assert_eq!(t.client.get(&url).bearer_auth(&admin).send().await.unwrap().status(), 401, "an admin's token");
    // The operator's token opens nothing of any account's.
    let r = t.client.get(t.url("/api/v1/conversations")).bearer_auth(OPERATOR).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let new = json!({ "name": "Corner Garage", "admin_email": "Owner@Garage.example", "admin_name": "Gus", "hosts": ["Garage.example"] });
    let r = t.client.post(&url).bearer_auth(OPERATOR).json(&new).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let made = json(r).await;
    assert_eq!(made["name"], "Corner Garage");
    assert_eq!(made["hosts"], json!(["garage.example"]));
    assert_eq!(made["admin"]["email"], "owner@garage.example");
    let link = made["invite_url"].as_str().unwrap().to_owned();
    // The host name is taken now; a nameless account is refused.
    let again = json!({ "name": "Other Garage", "admin_email": "x@garage.example", "hosts": ["garage.example"] });
    assert_eq!(t.client.post(&url).bearer_auth(OPERATOR).json(&again).send().await.unwrap().status(), 409);
    let nameless = json!({ "name": " ", "admin_email": "x@garage.example" });
    assert_eq!(t.client.post(&url).bearer_auth(OPERATOR).json(&nameless).send().await.unwrap().status(), 422);
    let list = json(t.client.get(&url).bearer_auth(OPERATOR).send().await.unwrap()).await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Test Dental", "Corner Garage"], "{list}");
    assert_eq!(list[1]["hosts"], json!(["garage.example"]));

    // The new admin follows the link, chooses a password and is signed in.
    let path = link.strip_prefix(&t.base).expect("the link is on this server").to_owned();
    let gus = browser();
    let html = gus.get(t.url(&path)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("at Corner Garage"), "the invitation names the new business: {html}");
    let csrf = csrf_of(&html);
    let form = [("password", "a long secret"), ("confirm", "a long secret"), ("csrf", csrf.as_str())];
    let r = gus.post(t.url(&path)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // They add an inbox, and a customer's text reaches it (the simulator at their host name).
    let gus_id = made["admin"]["id"].as_i64().unwrap();
    let token = textdesk::services::auth::create_token(&t.services.store, gus_id, "setup").await.unwrap().1;
    let r = t
        .post(
            &token,
            "/api/v1/inboxes",
            json!({ "name": "Garage SMS", "channel_kind": "simulator", "sender": "+14155550300" }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let inbox = json(r).await["id"].as_i64().unwrap();
    let r = text_at(&t, "garage.example", inbox, "+14155554444", "Brakes squeak").await;
    assert_eq!(r.status(), 201);
    let page = gus.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Brakes squeak"), "{page}");
    // Signing in again with the chosen password, at their host name.
    let (status, _) =
        sign_in_at(&browser(), &t, Some("garage.example"), "owner@garage.example", "a long secret", &[]).await;
    assert_eq!(status, 303);
}

both_backends!(operator_api);

/// `textdesk account add --host` makes the account, its admin and its host
/// names, or nothing at all; `account host` adds one; `account list` shows them.
async fn account_add_with_hosts(db: Db) {
    let t = common::app(db).start().await;
    t.user("taken@example.com", Role::Agent).await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(&t.database_url, dir.path());
    let pw = format!("{}\n", common::PASSWORD);
    let out = env.run(
        &[
            "account",
            "add",
            "--name",
            "  Second Shop ",
            "--admin-email",
            "Owner@Second.example",
            "--host",
            "Shop.Example",
            "--password-stdin",
        ],
        Some(&pw),
    );
    assert!(out.starts_with("added account ") && out.contains("(Second Shop)"), "{out}");
    // A host name another account has: nothing is made.
    let mut child = env
        .command(&["account", "add", "--name", "Third", "--admin-email", "x@third.example", "--host", "shop.example"])
        .arg("--password-stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), pw.as_bytes()).unwrap();
    let taken = child.wait_with_output().unwrap();
    assert!(!taken.status.success());
    let err = String::from_utf8_lossy(&taken.stderr);
    assert!(err.contains("shop.example is taken"), "{err}");
    // An e-mail the first account has is fine in another.
    let out = env.run(
        &["account", "add", "--name", "Fourth", "--admin-email", "taken@example.com", "--password-stdin"],
        Some(&pw),
    );
    assert!(out.starts_with("added account "), "{out}");
    let second = t.services.store.accounts().await.unwrap()[1].id;
    env.run(&["account", "host", "--account", &second.to_string(), "--host", "second.example"], None);
    let listed = env.run(&["account", "list"], None);
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(names, ["Test Dental", "Second Shop", "Fourth"], "no third account without its admin");
    assert_eq!(rows[1][2], "second.example,shop.example");
    let owner = t.services.store.users_by_email(&Email::parse("owner@second.example").unwrap()).await.unwrap();
    assert_eq!((owner.len(), owner[0].role, owner[0].account_id), (1, Role::Admin, second));
    // The new admin signs in on this server, at the account's host name or at none.
    let (status, _) = sign_in_at(&browser(), &t, Some("shop.example"), "owner@second.example", PASSWORD, &[]).await;
    assert_eq!(status, 303);
    let (status, _) = sign_in_at(&browser(), &t, None, "owner@second.example", PASSWORD, &[]).await;
    assert_eq!(status, 303);
    // A token for an e-mail two accounts have needs --account.
    let out = env.command(&["token", "create", "--user", "taken@example.com"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--account"), "{out:?}");
}

both_backends!(account_add_with_hosts);

/// Each business keeps its own clock: the server's `time_zone` until an admin
/// sets the account's, which the other account does not see.
async fn each_account_keeps_its_own_clock(db: Db) {
    let t = common::app(db).config(|c| c.time_zone = "America/Chicago".into()).start().await;
    t.user("ann@dental.example", Role::Admin).await;
    let b = second_account(&t, "bo@harbor.example").await;
    let patch =
        |token: &str, body: Value| t.client.patch(t.url("/api/v1/account")).bearer_auth(token).json(&body).send();
    let r = patch(&b.admin_token, json!({ "settings": { "time_zone": "Mars/Olympus" } })).await.unwrap();
    assert_eq!(r.status(), 422);
    let r = patch(&b.admin_token, json!({ "settings": { "time_zone": "Asia/Tokyo" } })).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["settings"]["time_zone"], "Asia/Tokyo");
    let (a_ui, b_ui) = (browser(), browser());
    assert_eq!(sign_in_at(&a_ui, &t, Some("dental.example"), "ann@dental.example", PASSWORD, &[]).await.0, 303);
    assert_eq!(sign_in_at(&b_ui, &t, Some("harbor.example"), "bo@harbor.example", PASSWORD, &[]).await.0, 303);
    let audit = |c: &reqwest::Client| {
        let req = c.get(t.url("/settings/audit")).send();
        async move { req.await.unwrap().text().await.unwrap() }
    };
    let (a_page, b_page) = (audit(&a_ui).await, audit(&b_ui).await);
    assert!(a_page.contains("time zone (America/Chicago)"), "{a_page}");
    assert!(b_page.contains("time zone (Asia/Tokyo)"), "{b_page}");
    // The account page sets it too: a wrong name is explained, a right one saved.
    let page = a_ui.get(t.url("/settings/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"placeholder="America/Chicago""#), "the server's zone while none is chosen");
    let csrf = csrf_of(&page);
    let save = |zone: &'static str| {
        let form = [("csrf", csrf.clone()), ("time_zone", zone.to_owned())];
        a_ui.post(t.url("/settings/account/time-zone")).form(&form).send()
    };
    let r = save("Chicago").await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("is not a time zone"));
    assert_eq!(save("Europe/Lisbon").await.unwrap().status(), 303);
    assert!(audit(&a_ui).await.contains("time zone (Europe/Lisbon)"));
    assert!(audit(&b_ui).await.contains("time zone (Asia/Tokyo)"), "the other business's clock did not move");
    // A snooze "until tomorrow" with no zone given is 9 a.m. on the business's clock.
    let r = text_at(&t, "harbor.example", b.inbox, "+14155552222", "Hello").await;
    let conv = json(r).await["conversation_id"].as_i64().unwrap();
    let r = t
        .post(
            &b.admin_token,
            &format!("/api/v1/conversations/{conv}/status"),
            json!({ "status": "snoozed", "snooze": "tomorrow" }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let until: jiff::Timestamp = json(r).await["snoozed_until"].as_str().unwrap().parse().unwrap();
    let local = until.to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
    assert_eq!((local.hour(), local.minute()), (9, 0), "{local}");
}

both_backends!(each_account_keeps_its_own_clock);

/// The per-e-mail lock holds across accounts: failures at one business's host
/// name lock the e-mail everywhere, and both businesses' audit trails say so.
async fn a_locked_email_is_locked_in_every_account(db: Db) {
    let t = common::app(db)
        .config(|c| {
            c.login_account_attempts = 3;
            c.login_ip_attempts = 1_000;
        })
        .start()
        .await;
    t.user("pat@example.com", Role::Agent).await;
    let b = second_account(&t, "pat@example.com").await;
    for _ in 0..3 {
        let (status, _) = sign_in_at(&browser(), &t, Some("harbor.example"), "pat@example.com", "guess", &[]).await;
        assert_eq!(status, 401);
    }
    // The right password, at the other business's host name: still locked.
    let (status, html) = sign_in_at(&browser(), &t, Some("dental.example"), "pat@example.com", PASSWORD, &[]).await;
    assert_eq!(status, 429, "{html}");
    let (status, _) = sign_in_at(&browser(), &t, None, "Pat@Example.com", PASSWORD, &[]).await;
    assert_eq!(status, 429);
    for account in [t.account_id, b.account_id] {
        let entries = t.services.store.audit_entries(account, None, 10).await.unwrap();
        let locks: Vec<_> = entries.iter().filter(|e| e.action == "sign_in.locked").collect();
        assert_eq!(locks.len(), 1, "account {account}: {entries:?}");
        assert_eq!(locks[0].subject, "pat@example.com");
    }
}

both_backends!(a_locked_email_is_locked_in_every_account);

/// Migration 0028 rebuilds `users` on SQLite (e-mails unique per account):
/// a database made by the version before keeps every user, session, token and
/// team membership, and the same e-mail may then join a second account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_keeps_people_sessions_and_teams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations/sqlite");
    sqlx::migrate::Migrator::new(migrations).await.unwrap().run_to(27, &pool).await.unwrap();
    for sql in [
        "INSERT INTO accounts (id, name, created_at) VALUES (1, 'Old Dental', 0)",
        "INSERT INTO users (id, account_id, email, name, role, password_hash, created_at, presence) VALUES (7, 1, 'ann@example.com', 'Ann', 'admin', 'x', 0, 'online')",
        "INSERT INTO users (id, account_id, email, name, role, password_hash, created_at) VALUES (9, 1, 'bo@example.com', 'Bo', 'agent', 'x', 0)",
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ('s', 7, 'c', 0, 99999999999999)",
        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (1, 9, 'cli', 't', 0)",
        "INSERT INTO teams (id, account_id, name) VALUES (1, 1, 'Front')",
        "INSERT INTO team_members (team_id, user_id) VALUES (1, 7), (1, 9)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;

    let store = textdesk_store::Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let ann = store.user(7).await.unwrap();
    assert_eq!((ann.email.as_str(), ann.name.as_str(), ann.role), ("ann@example.com", "Ann", Role::Admin));
    assert_eq!(ann.presence.as_str(), "online");
    assert_eq!(store.users(1).await.unwrap().len(), 2);
    assert_eq!(store.team_members(1).await.unwrap().len(), 2, "team members kept");
    assert_eq!(store.api_tokens(9).await.unwrap().len(), 1, "tokens kept");
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let sessions: i64 =
        sqlx::Row::get(&sqlx::query("SELECT COUNT(*) FROM sessions").fetch_one(&pool).await.unwrap(), 0);
    assert_eq!(sessions, 1, "sessions kept");
    let fk: Vec<_> = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.unwrap();
    assert!(fk.is_empty(), "no dangling references");
    pool.close().await;
    // The same e-mail in a second account; twice in one account is still refused.
    let (second, _) = textdesk::services::auth::create_account(
        &store,
        "New Vets",
        Email::parse("ann@example.com").unwrap(),
        "",
        Some(&Password::parse(PASSWORD).unwrap()),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(store.users_by_email(&Email::parse("ann@example.com").unwrap()).await.unwrap().len(), 2);
    let again = textdesk::services::auth::create_user(
        &store,
        second.id,
        Email::parse("ann@example.com").unwrap(),
        "",
        Role::Agent,
        &Password::parse(PASSWORD).unwrap(),
    )
    .await;
    assert!(again.is_err(), "e-mails stay unique within an account");
    store.close().await;
}
