//! Every kind of secret the product holds, used once through the real binary
//! logging at debug level, then looked for in its whole log: the chat apps'
//! credentials (WhatsApp, Messenger, Telegram, LINE, WeChat in safe mode, each
//! with a message in and a reply out against its fake), the SMTP password, an
//! outgoing webhook's signing secrets (made and rotated, a delivery signed),
//! the inbound-email address's secret, an invitation link, the operator token,
//! a web chat visitor's token, the agent's own phone and the customers' ids
//! and words. `vault::secrets_never_show` does the same for Twilio and SMPP.

use crate::common;
use crate::flood::{drop_database, new_database};

use std::time::{Duration, Instant};

use common::binary::Env;
use common::{Db, PASSWORD};
use serde_json::{Value, json};
use textdesk_channels::line::FakeLine;
use textdesk_channels::messenger::FakeMessenger;
use textdesk_channels::telegram::{FakeTelegram, webhook_secret};
use textdesk_channels::wechat::FakeWechat;
use textdesk_channels::whatsapp::FakeWhatsApp;

const OPERATOR_TOKEN: &str = "op-7f3c9a1e5b2d4c6e8f0a";
const SMTP_PASSWORD: &str = "smtp-Kq8vX2rLw9";
const AGENT_PHONE: &str = "+14155550177";
const WA_ID: &str = "16315551181";
const PSID: &str = "6723950281032171";
const LINE_USER: &str = "U4af4980629e6f5c7d1e4b8f7a2c3d9e1";
const TG_USER: i64 = 5_551_234_567;
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body);
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.send(reqwest::Method::POST, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }
    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }
    /// Adds an inbox; returns its id and inbound webhook address.
    async fn inbox(&self, body: Value) -> (i64, String) {
        let v = self.post("/api/v1/inboxes", body).await;
        (v["id"].as_i64().unwrap(), v["webhook_urls"]["inbound"].as_str().unwrap_or_default().to_owned())
    }
    /// Replies in the inbox's one conversation.
    async fn reply(&self, inbox: i64, body: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let conv = loop {
            let list = self.get(&format!("/api/v1/conversations?inbox_id={inbox}")).await;
            if let Some(id) = list["items"][0]["id"].as_i64() {
                break id;
            }
            assert!(Instant::now() < deadline, "no conversation in inbox {inbox}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        self.post(&format!("/api/v1/conversations/{conv}/messages"), json!({ "body": body })).await;
    }
}

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn no_secret_in_the_debug_log(db: Db) {
    textdesk_channels::ensure_tls_provider();
    let wa = FakeWhatsApp::start().await.unwrap();
    let ms = FakeMessenger::start().await.unwrap();
    let tg = FakeTelegram::start().await.unwrap();
    let line = FakeLine::start().await.unwrap();
    let wx = FakeWechat::start().await.unwrap();
    let (received, hook_port) = common::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = new_database(db, dir.path()).await;
    let private: Vec<String> =
        [wa.private_hosts(), ms.private_hosts(), tg.private_hosts(), line.private_hosts()].concat();
    let env = Env::new(&database_url, dir.path())
        .set("TEXTDESK_LOG", "debug")
        .set("RUST_LOG", "debug")
        .set("TEXTDESK_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .set("TEXTDESK_MEDIA_ALLOW_PRIVATE_HOSTS", private.join(","))
        .set("TEXTDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS", "127.0.0.1");
    env.run(&["migrate"], None);
    let pw = format!("{PASSWORD}\n");
    env.run(&["user", "add", "--email", "owner@example.com", "--role", "admin", "--password-stdin"], Some(&pw));
    let token = env.run(&["token", "create", "--user", "owner@example.com"], None).trim().to_owned();
    let log = dir.path().join("server.log");
    let server = env.serve(&log).await;
    let base = env.base();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let api = Api { http: http.clone(), base: base.clone(), token: token.clone() };
    let mut words = vec![];

    // WhatsApp: the handshake with its verify token, a message in, a reply out.
    let (wa_inbox, wa_url) = api
        .inbox(json!({ "name": "WhatsApp", "channel_kind": "whatsapp", "sender": "+14155550191",
            "whatsapp": { "phone_number_id": wa.phone_number_id(), "waba_id": wa.waba_id(),
                "access_token": wa.access_token(), "app_secret": wa.app_secret(),
                "verify_token": wa.verify_token(), "graph_base": wa.base_url() } }))
        .await;
    let challenge = format!("{wa_url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=42", wa.verify_token());
    assert_eq!(http.get(&challenge).send().await.unwrap().text().await.unwrap(), "42");
    let said = FakeWhatsApp::message(WA_ID, "text", json!({ "body": "Is my whitening kit shipped?" }));
    assert_eq!(wa.post_webhook(&wa_url, &wa.messages_payload(WA_ID, "Kerry", vec![said])).await.unwrap().status(), 200);
    words.push("Is my whitening kit shipped?");

    // Messenger: the same, with the page's token.
    let (ms_inbox, ms_url) = api
        .inbox(json!({ "name": "Page", "channel_kind": "messenger",
            "messenger": { "page_id": ms.page_id(), "page_access_token": ms.page_token(),
                "app_secret": ms.app_secret(), "verify_token": ms.verify_token(), "graph_base": ms.base_url() } }))
        .await;
    let challenge = format!("{ms_url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=43", ms.verify_token());
    assert_eq!(http.get(&challenge).send().await.unwrap().text().await.unwrap(), "43");
    let said = ms.event(PSID, json!({ "message": { "mid": FakeMessenger::mid(), "text": "Where is my parcel?" } }));
    assert_eq!(ms.post_webhook(&ms_url, &ms.payload(vec![said])).await.unwrap().status(), 200);
    words.push("Where is my parcel?");

    // Telegram: the bot token is in every Bot API address.
    let (tg_inbox, tg_url) = api
        .inbox(json!({ "name": "Telegram", "channel_kind": "telegram", "sender": "@test_dental_bot",
            "telegram": { "bot_token": tg.token(), "api_base": tg.base_url() } }))
        .await;
    let tg_secret = webhook_secret(tg.token(), tg_inbox);
    let update = FakeTelegram::message_update(TG_USER, "Kerry", json!({ "text": "Can I bring my dog?" }));
    let r = tg.post_update(&tg_url, serde_json::to_vec(&update).unwrap(), Some(&tg_secret)).await.unwrap();
    assert_eq!(r.status(), 200);
    words.push("Can I bring my dog?");

    // LINE: the channel secret signs, the access token sends.
    let (line_inbox, line_url) = api
        .inbox(json!({ "name": "LINE", "channel_kind": "line", "sender": "@123abcde",
            "line": { "channel_secret": line.channel_secret(), "channel_access_token": line.access_token(),
                "api_base": line.api_url(), "data_base": line.data_url() } }))
        .await;
    let said = line.message_event(LINE_USER, json!({ "type": "text", "text": "Is parking free?" }));
    assert_eq!(line.post_webhook(&line_url, &FakeLine::payload(vec![said])).await.unwrap().status(), 200);
    words.push("Is parking free?");

    // WeChat in safe mode: the AppSecret fetches access tokens, the Token signs, the AES key encrypts.
    let (wx_inbox, wx_url) = api
        .inbox(json!({ "name": "WeChat", "channel_kind": "wechat",
            "wechat": { "app_id": wx.app_id(), "app_secret": wx.app_secret(), "token": wx.token(),
                "encoding_aes_key": wx.aes_key(), "api_base": wx.base_url() } }))
        .await;
    let xml = wx.xml(OPENID, "text", &[("Content", "Do you open on Sunday?")]);
    assert_eq!(wx.post_safe(&wx_url, &xml, wx.aes_key(), wx.app_id()).await.unwrap().status(), 200);
    words.push("Do you open on Sunday?");

    // An outgoing webhook: its secret shown once, rotated, and deliveries signed with it.
    let hook = api
        .post("/api/v1/webhooks", json!({ "url": format!("http://127.0.0.1:{hook_port}/hook"), "events": ["message.received", "message.sent"] }))
        .await;
    let first_secret = hook["secret"].as_str().unwrap().to_owned();
    let rotated = api.post(&format!("/api/v1/webhooks/{}/secret", hook["id"]), json!({})).await;
    let second_secret = rotated["secret"].as_str().unwrap().to_owned();

    // Replies through every chat app, then the deliveries of what happened.
    for (inbox, body) in [(wa_inbox, "Shipped today."), (ms_inbox, "On its way."), (tg_inbox, "Of course!")] {
        api.reply(inbox, body).await;
        words.push(body);
    }
    for (inbox, body) in [(line_inbox, "Yes, it is free."), (wx_inbox, "Not on Sundays.")] {
        api.reply(inbox, body).await;
        words.push(body);
    }
    until("a WhatsApp reply", || !wa.sent().is_empty()).await;
    until("a Messenger reply", || !ms.sent().is_empty()).await;
    until("a Telegram reply", || !tg.sent().is_empty()).await;
    until("a LINE reply", || !line.sent().is_empty()).await;
    until("a WeChat reply", || !wx.sent().is_empty()).await;
    until("webhook deliveries", || received.lock().unwrap().len() >= 2).await;

    // The SMTP password, the agent's own phone, an invitation, the operator's list.
    let email = json!({ "email": { "host": "127.0.0.1", "port": 2525, "tls": "none", "from": "help@clinic.example",
        "reply_domain": "reply.clinic.example", "password": SMTP_PASSWORD } });
    let (status, _) = api.send(reqwest::Method::PATCH, "/api/v1/account", json!({ "settings": email })).await;
    assert_eq!(status, 200);
    let (status, _) = api.send(reqwest::Method::PATCH, "/api/v1/me", json!({ "phone": AGENT_PHONE })).await;
    assert_eq!(status, 200);
    let invite = api.post("/api/v1/invites", json!({ "email": "sam@example.com", "role": "agent" })).await;
    let invite_url = invite["url"].as_str().unwrap().to_owned();
    assert_eq!(http.get(&invite_url).send().await.unwrap().status(), 200);
    let r = http.get(format!("{base}/api/v1/operator/accounts")).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The inbound-email address, whose path holds its secret.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    common::sign_in(&browser, &base, "owner@example.com", PASSWORD).await;
    let page = browser.get(format!("{base}/settings/account")).send().await.unwrap().text().await.unwrap();
    let start = page.find("/webhooks/email/").expect("the inbound address on the account page");
    let email_hook: String = page[start..].chars().take_while(|c| *c != '<' && *c != '"').collect();
    let email_secret = email_hook.rsplit('/').next().unwrap().to_owned();
    assert!(email_secret.len() >= 32, "{email_hook}");
    let fields = [("from", "Jo <jo@example.net>"), ("to", "reply+00aa@reply.clinic.example"), ("text", "Hello")];
    let (ctype, body) = common::multipart(&fields, &[]);
    let r = http.post(format!("{base}{email_hook}")).header("content-type", ctype).body(body).send().await.unwrap();
    assert_eq!(r.status(), 404, "an unknown reply address, after the secret was checked");

    // A web chat visitor's token.
    let (chat, _) = api.inbox(json!({ "name": "Chat", "channel_kind": "webchat", "sender": "Test Dental" })).await;
    let r = http.post(format!("{base}/widget/{chat}/visitors")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let visitor: Value = r.json().await.unwrap();
    let visitor = visitor["token"].as_str().unwrap().to_owned();
    let say = json!({ "body": "Are you hiring?", "client_id": "v1" });
    let r = http.post(format!("{base}/widget/{chat}/messages")).bearer_auth(&visitor).json(&say).send().await.unwrap();
    assert_eq!(r.status(), 201);
    words.push("Are you hiring?");
    server.kill();

    let mut logs = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    logs.push_str(&String::from_utf8_lossy(&std::fs::read(log.with_extension("out")).unwrap()));
    assert!(logs.contains("DEBUG"), "the server logged at debug level");
    let key = std::fs::read_to_string(dir.path().join("secret.key")).unwrap().trim().to_owned();
    let invite_token = invite_url.rsplit('/').next().unwrap().to_owned();
    let tg_user = TG_USER.to_string();
    let secrets = [
        ("the vault key", key.as_str()),
        ("the API token", token.as_str()),
        ("the password", PASSWORD),
        ("WhatsApp's access token", wa.access_token()),
        ("WhatsApp's app secret", wa.app_secret()),
        ("WhatsApp's verify token", wa.verify_token()),
        ("Messenger's page token", ms.page_token()),
        ("Messenger's app secret", ms.app_secret()),
        ("Messenger's verify token", ms.verify_token()),
        ("the Telegram bot token", tg.token()),
        ("the Telegram webhook secret", tg_secret.as_str()),
        ("LINE's channel secret", line.channel_secret()),
        ("LINE's access token", line.access_token()),
        ("WeChat's AppSecret", wx.app_secret()),
        ("WeChat's Token", wx.token()),
        ("WeChat's AES key", wx.aes_key()),
        ("the first webhook secret", first_secret.as_str()),
        ("the rotated webhook secret", second_secret.as_str()),
        ("the SMTP password", SMTP_PASSWORD),
        ("the inbound-email secret", email_secret.as_str()),
        ("the invitation token", invite_token.as_str()),
        ("the operator token", OPERATOR_TOKEN),
        ("the visitor's token", visitor.as_str()),
        ("the agent's phone", AGENT_PHONE),
        ("the agent's phone", "4155550177"),
        ("a WhatsApp number", WA_ID),
        ("a Messenger PSID", PSID),
        ("a LINE user", LINE_USER),
        ("a Telegram user", tg_user.as_str()),
        ("a WeChat OpenID", OPENID),
    ];
    let mut found: Vec<String> = secrets
        .iter()
        .filter(|(_, s)| logs.contains(s))
        .map(|(what, s)| {
            let at = logs.find(s).unwrap();
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let line = logs[line_start..].lines().next().unwrap_or_default();
            format!("{what} in: {line}")
        })
        .collect();
    found.extend(words.iter().filter(|w| logs.contains(*w)).map(|w| format!("a message's words: {w}")));
    assert!(found.is_empty(), "secrets or customer data in the server's log:\n{}", found.join("\n"));
    drop_database(pg).await;
}

both_backends!(no_secret_in_the_debug_log);
