//! The agent UI in a real browser: Chromium, driven by Playwright scripts in
//! `e2e/`, against the real application with its workers on SQLite. This test
//! starts the server, seeds the users (agents, a supervisor, an admin), the
//! simulator inbox, a Twilio inbox and a canned response, then runs `node e2e/run.mjs` and asserts it passed. Screenshots
//! land in `target/screenshots/`.
//!
//! Chromium and playwright-core are installed by `scripts/test-deps`. Without
//! them the test says it was skipped, unless TEXTDESK_REQUIRE_PEERS=1 (as in
//! CI), where it fails.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Db, PASSWORD, TestApp, app, json, zone_at_hour};
use serde_json::json;
use textdesk_core::{Email, Password, Role};

const CHROMIUM: &str = "/usr/bin/chromium";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

/// What is missing to run the browser tests, if anything.
fn missing_peers(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (Debian's chromium package)"));
    }
    if !root.join("e2e/node_modules/playwright-core/package.json").exists() {
        missing.push("e2e/node_modules/playwright-core (npm ci in e2e/)".into());
    }
    if std::process::Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Node.js 18 or later)".into());
    }
    missing
}

async fn named_user(t: &TestApp, email: &str, name: &str, role: Role) -> String {
    let store = &t.services.store;
    let pw = Password::parse(PASSWORD).unwrap();
    let u = textdesk::services::auth::create_user(store, t.account_id, Email::parse(email).unwrap(), name, role, &pw)
        .await
        .unwrap();
    textdesk::services::auth::create_token(store, u.id, "browser test").await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_ui_in_chromium() {
    let root = repo_root();
    let missing = missing_peers(&root);
    if !missing.is_empty() {
        let what = missing.join(", ");
        if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("TEXTDESK_REQUIRE_PEERS=1 but the browser tests cannot run: missing {what}; run scripts/test-deps");
        }
        eprintln!("skipped: Chromium/Playwright not installed (run scripts/test-deps); missing {what}");
        return;
    }

    // The carrier reports delivery after 400 ms, as in `textdesk demo`: a report
    // that overtakes the dispatcher's record of the provider id is dropped, and
    // 20 ms (the harness's default) makes that race likely on a busy machine.
    // e2e/scenarios/webhooks.mjs runs its webhook receiver on 127.0.0.1.
    let t = app(Db::Sqlite)
        .workers()
        .delivery_delay(Duration::from_millis(400))
        .config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()])
        .start()
        .await;
    let inbox = t.simulator_inbox().await;
    named_user(&t, "dana@example.com", "Dana Reyes", Role::Agent).await;
    named_user(&t, "sam@example.com", "Sam Okafor", Role::Agent).await;
    let lead = named_user(&t, "lee@example.com", "Lee Park", Role::Supervisor).await;
    let r = t
        .post(
            &lead,
            "/api/v1/canned-responses",
            json!({
                "shortcut": "hours",
                "title": "Opening hours",
                "body": "Hi {contact.first_name|there}, we are open 8 to 5, Monday to Friday. – {agent.first_name}",
            }),
        )
        .await;
    assert_eq!(r.status(), 201, "seeding a canned response");
    // An urgent conversation for the list's priority filter (e2e/scenarios/list.mjs).
    let urgent_number = "+14155559001";
    let urgent = json(t.text_in(inbox, urgent_number, "My order never came", None).await).await;
    let r = t
        .post(
            &lead,
            &format!("/api/v1/conversations/{}/priority", urgent["conversation_id"]),
            json!({ "priority": "urgent" }),
        )
        .await;
    assert_eq!(r.status(), 200, "seeding an urgent conversation");
    // An admin, and a Twilio inbox (no provider behind it: the settings page only shows its webhook addresses).
    let admin = named_user(&t, "alex@example.com", "Alex Admin", Role::Admin).await;
    // Someone who works for two businesses on this server (e2e/scenarios/tenants.mjs picks one when signing in).
    named_user(&t, "pat@example.com", "Pat Two-Jobs", Role::Agent).await;
    textdesk::services::auth::create_account(
        &t.services.store,
        "Harbor Vets",
        Email::parse("pat@example.com").unwrap(),
        "Pat Two-Jobs",
        Some(&Password::parse(PASSWORD).unwrap()),
        &[],
    )
    .await
    .expect("seeding a second account");
    let twilio = t
        .services
        .store
        .create_inbox(textdesk_store::NewInbox {
            account_id: t.account_id,
            name: "Main line".into(),
            provider: "twilio".into(),
            medium: textdesk_core::Medium::Sms,
            sender: "+14155550190".into(),
            settings: json!({ "twilio": { "account_sid": "AC00000000000000000000000000000000", "api_base": "http://127.0.0.1:9" } }),
            secrets: json!({ "auth_token": "not-a-real-token-0000000000000000" }),
        })
        .await
        .expect("seeding a Twilio inbox");
    let twilio_inbound_url = t.services.webhook_url(&twilio, "inbound").expect("Twilio's inbound webhook");
    let twilio = twilio.id;

    // A returning customer for e2e/scenarios/contact.mjs: an earlier conversation,
    // resolved long ago, so their next text starts a new one beside it.
    let old = t.text_in(inbox, "+14155559901", "Do you sell gift cards?", None).await;
    let old = common::json(old).await["conversation_id"].as_i64().expect("seeding an old conversation");
    let r = t.post(&lead, &format!("/api/v1/conversations/{old}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200, "resolving the old conversation");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.expect("the test database");
    sqlx::query("UPDATE conversations SET resolved_at = 0, last_activity_at = 0 WHERE id = $1")
        .bind(old)
        .execute(&pool)
        .await
        .expect("ageing the old conversation");
    pool.close().await;

    // A WhatsApp conversation whose window has closed, with templates synced (e2e/scenarios/whatsapp.mjs).
    let whatsapp = textdesk_channels::whatsapp::FakeWhatsApp::start().await.expect("the fake Graph API");
    let (wa_inbox, wa_conversation) = seed_whatsapp(&t, &admin, &whatsapp).await;
    // A customer on SMS and WhatsApp, answered on either (e2e/scenarios/reach.mjs).
    let reach_conversation = seed_reach(&t, &admin, &whatsapp, inbox, wa_inbox).await;
    // A Telegram and a LINE inbox against their fakes (e2e/scenarios/chatapps.mjs).
    let telegram = textdesk_channels::telegram::FakeTelegram::start().await.expect("the fake Bot API");
    let line = textdesk_channels::line::FakeLine::start().await.expect("the fake Messaging API");
    let (tg_inbox, line_inbox) = seed_chatapps(&t, &admin, &telegram, &line).await;
    // A Messenger customer who wrote 30 hours ago, and a WeChat inbox (e2e/scenarios/metaapps.mjs).
    let messenger = textdesk_channels::messenger::FakeMessenger::start().await.expect("the fake Send API");
    let wechat = textdesk_channels::wechat::FakeWechat::start().await.expect("the fake WeChat API");
    let (ms_inbox, ms_conversation, wx_inbox) = seed_metaapps(&t, &admin, &messenger, &wechat).await;

    // A web chat with no site allowed yet (e2e/scenarios/webchat.mjs allows its test page's).
    let r = t
        .post(
            &admin,
            "/api/v1/inboxes",
            json!({ "name": "Web chat", "channel_kind": "webchat", "sender": "Test Dental" }),
        )
        .await;
    assert_eq!(r.status(), 201, "seeding a web chat inbox");
    let webchat = json(r).await["id"].as_i64().expect("the web chat inbox");

    let screenshots = root.join("target/screenshots");
    std::fs::create_dir_all(&screenshots).expect("target/screenshots");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("run.mjs")
        .current_dir(root.join("e2e"))
        .env("TEXTDESK_BASE_URL", &t.base)
        .env("TEXTDESK_AGENT_EMAIL", "dana@example.com")
        .env("TEXTDESK_AGENT_NAME", "Dana Reyes")
        .env("TEXTDESK_AGENT2_EMAIL", "sam@example.com")
        .env("TEXTDESK_AGENT2_NAME", "Sam Okafor")
        .env("TEXTDESK_PASSWORD", PASSWORD)
        .env("TEXTDESK_SIM_INBOX", inbox.to_string())
        .env("TEXTDESK_ADMIN_EMAIL", "alex@example.com")
        .env("TEXTDESK_SUPERVISOR_EMAIL", "lee@example.com")
        .env("TEXTDESK_SUPERVISOR_NAME", "Lee Park")
        .env("TEXTDESK_SHARED_EMAIL", "pat@example.com")
        .env("TEXTDESK_TWILIO_INBOX", twilio.to_string())
        .env("TEXTDESK_TWILIO_INBOUND_URL", twilio_inbound_url)
        .env("TEXTDESK_CHROMIUM", CHROMIUM)
        .env("TEXTDESK_SCREENSHOTS", &screenshots)
        .env("TEXTDESK_LIST_URGENT_NUMBER", urgent_number)
        .env("TEXTDESK_WA_CONVERSATION", wa_conversation.to_string())
        .env("TEXTDESK_WA_INBOX", wa_inbox.to_string())
        .env("TEXTDESK_REACH_CONVERSATION", reach_conversation.to_string())
        .env("TEXTDESK_TG_INBOX", tg_inbox.to_string())
        .env("TEXTDESK_LINE_INBOX", line_inbox.to_string())
        .env("TEXTDESK_MS_CONVERSATION", ms_conversation.to_string())
        .env("TEXTDESK_MS_INBOX", ms_inbox.to_string())
        .env("TEXTDESK_WX_INBOX", wx_inbox.to_string())
        .env("TEXTDESK_WEBCHAT_INBOX", webchat.to_string())
        // The scripts' output goes straight to the terminal, as it happens.
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("node starts");
    // A guard against a hung browser, not a speed target: the scenarios share
    // two cores with the rest of the suite and took over 5 minutes under load.
    let status = tokio::time::timeout(Duration::from_secs(900), child.wait())
        .await
        .expect("the browser tests finish within 15 minutes")
        .expect("node runs");
    assert!(status.success(), "the browser tests failed ({status}); their output is above");
}

/// A Telegram inbox and a LINE inbox against their fakes; returns their ids.
async fn seed_chatapps(
    t: &TestApp,
    admin: &str,
    telegram: &textdesk_channels::telegram::FakeTelegram,
    line: &textdesk_channels::line::FakeLine,
) -> (i64, i64) {
    let tg = json!({ "name": "Telegram", "channel_kind": "telegram", "sender": "@test_dental_bot",
                     "telegram": { "bot_token": telegram.token(), "api_base": telegram.base_url() } });
    let r = t.post(admin, "/api/v1/inboxes", tg).await;
    assert_eq!(r.status(), 201, "seeding a Telegram inbox");
    let tg_inbox = json(r).await["id"].as_i64().unwrap();
    let ln = json!({ "name": "LINE", "channel_kind": "line", "sender": "@123abcde",
                     "line": { "channel_secret": line.channel_secret(), "channel_access_token": line.access_token(),
                               "api_base": line.api_url(), "data_base": line.data_url() } });
    let r = t.post(admin, "/api/v1/inboxes", ln).await;
    assert_eq!(r.status(), 201, "seeding a LINE inbox");
    (tg_inbox, json(r).await["id"].as_i64().unwrap())
}

/// A WhatsApp inbox against `fake`, a customer who last wrote 25 hours ago, and
/// the account's templates synced; returns the inbox and the conversation.
async fn seed_whatsapp(t: &TestApp, admin: &str, fake: &textdesk_channels::whatsapp::FakeWhatsApp) -> (i64, i64) {
    use textdesk_channels::whatsapp::FakeWhatsApp;
    let r = t
        .post(
            admin,
            "/api/v1/inboxes",
            json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": "+14155550191",
                    "whatsapp": { "phone_number_id": fake.phone_number_id(), "waba_id": fake.waba_id(),
                                  "access_token": fake.access_token(), "app_secret": fake.app_secret(),
                                  "verify_token": fake.verify_token(), "graph_base": fake.base_url() } }),
        )
        .await;
    assert_eq!(r.status(), 201, "seeding a WhatsApp inbox");
    let inbox = json(r).await;
    let url = inbox["webhook_urls"]["inbound"].as_str().expect("its webhook").to_owned();
    let mut old = FakeWhatsApp::message("16315551181", "text", json!({ "body": "Can I move my cleaning?" }));
    let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25);
    old["timestamp"] = json!(yesterday.as_second().to_string());
    let r = fake.post_webhook(&url, &fake.messages_payload("16315551181", "Kerry Fisher", vec![old])).await.unwrap();
    assert_eq!(r.status(), 200, "seeding a WhatsApp message");
    fake.add_template(
        "visit_reminder",
        "en_US",
        "APPROVED",
        "UTILITY",
        "Hi {{1}}, your visit is on {{2}}. Reply to change it.",
    );
    fake.add_template("spring_sale", "en_US", "REJECTED", "MARKETING", "20% off whitening this spring");
    // A header file and button values to fill in (the picker on a phone).
    fake.add_template_with(
        "order_ready",
        "en_US",
        json!([
            { "type": "HEADER", "format": "DOCUMENT", "example": { "header_handle": ["4::YXBwbGljYXRpb24vcGRm"] } },
            { "type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.", "example": { "body_text": [["Kerry", "A-17"]] } },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Pick up today" },
                { "type": "URL", "text": "Track your parcel", "url": "https://shop.example.com/orders/track-your-parcel-online/{{1}}",
                  "example": ["https://shop.example.com/orders/track-your-parcel-online/A-17"] } ] }
        ]),
    );
    let r = t.post(admin, &format!("/api/v1/inboxes/{}/templates/sync", inbox["id"]), json!({})).await;
    assert_eq!(r.status(), 200, "syncing the templates");
    let list = json(t.get(admin, &format!("/api/v1/conversations?inbox_id={}", inbox["id"])).await).await;
    let conv = list["items"][0]["id"].as_i64().expect("the WhatsApp conversation");
    // Midday on the customer's clock whenever the suite runs, so quiet hours do not hold the template.
    t.move_contact_to(admin, conv, &zone_at_hour(12).0).await;
    (inbox["id"].as_i64().expect("the inbox"), conv)
}

/// A customer who wrote on WhatsApp an hour ago and by SMS just now: the SMS
/// conversation, at midday on their clock.
async fn seed_reach(
    t: &TestApp,
    admin: &str,
    fake: &textdesk_channels::whatsapp::FakeWhatsApp,
    sms_inbox: i64,
    wa_inbox: i64,
) -> i64 {
    use textdesk_channels::whatsapp::FakeWhatsApp;
    let url = json(t.get(admin, &format!("/api/v1/inboxes/{wa_inbox}")).await).await["webhook_urls"]["inbound"]
        .as_str()
        .expect("the WhatsApp webhook")
        .to_owned();
    let mut m = FakeWhatsApp::message("16315550188", "text", json!({ "body": "Is my crown ready?" }));
    m["timestamp"] = json!((jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).as_second().to_string());
    let r = fake.post_webhook(&url, &fake.messages_payload("16315550188", "Rosa Diaz", vec![m])).await.unwrap();
    assert_eq!(r.status(), 200, "seeding a WhatsApp message");
    let r = t.text_in(sms_inbox, "+16315550188", "Texting too: is my crown ready?", None).await;
    let conv = json(r).await["conversation_id"].as_i64().expect("the SMS conversation");
    t.move_contact_to(admin, conv, &zone_at_hour(12).0).await;
    conv
}

/// A Messenger inbox against `messenger` with a customer who last wrote 30
/// hours ago (at midday in their zone, so quiet hours do not hold a reply),
/// and a WeChat inbox against `wechat`; returns both inboxes and the conversation.
async fn seed_metaapps(
    t: &TestApp,
    admin: &str,
    messenger: &textdesk_channels::messenger::FakeMessenger,
    wechat: &textdesk_channels::wechat::FakeWechat,
) -> (i64, i64, i64) {
    let r = t
        .post(
            admin,
            "/api/v1/inboxes",
            json!({ "name": "Facebook Page", "channel_kind": "messenger",
                    "messenger": { "page_id": messenger.page_id(), "page_access_token": messenger.page_token(),
                                   "app_secret": messenger.app_secret(), "verify_token": messenger.verify_token(),
                                   "graph_base": messenger.base_url() } }),
        )
        .await;
    assert_eq!(r.status(), 201, "seeding a Messenger inbox");
    let inbox = json(r).await;
    let url = inbox["webhook_urls"]["inbound"].as_str().expect("its webhook").to_owned();
    let mut old = messenger.event(
        "6723950281032171",
        json!({ "message": { "mid": textdesk_channels::messenger::FakeMessenger::mid(), "text": "Is my order on its way?" } }),
    );
    old["timestamp"] = json!((jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30)).as_millisecond());
    let r = messenger.post_webhook(&url, &messenger.payload(vec![old])).await.unwrap();
    assert_eq!(r.status(), 200, "seeding a Messenger message");
    let list = json(t.get(admin, &format!("/api/v1/conversations?inbox_id={}", inbox["id"])).await).await;
    let conversation = list["items"][0]["id"].as_i64().expect("the Messenger conversation");
    t.move_contact_to(admin, conversation, &zone_at_hour(12).0).await;
    let r = t
        .post(
            admin,
            "/api/v1/inboxes",
            json!({ "name": "WeChat", "channel_kind": "wechat",
                    "wechat": { "app_id": wechat.app_id(), "app_secret": wechat.app_secret(), "token": wechat.token(),
                                "encoding_aes_key": wechat.aes_key(), "api_base": wechat.base_url() } }),
        )
        .await;
    assert_eq!(r.status(), 201, "seeding a WeChat inbox");
    let wx = json(r).await["id"].as_i64().expect("the WeChat inbox");
    (inbox["id"].as_i64().expect("the Messenger inbox"), conversation, wx)
}
