//! The channel registry over real HTTP: every provider's setup description
//! drives the add-inbox form, the CLI's flags, the API and its OpenAPI
//! schema; webhooks reach only their provider's inboxes; credential problems
//! read as plain words; the medium is stored apart from the provider (and
//! inboxes from before keep working); the gate gets each channel's real
//! capabilities (a reply window closes sends).

use crate::common;

use common::{Db, TestApp, app, csrf_of, json};
use serde_json::{Value, json};
use textdesk_channels::registry;
use textdesk_core::Role;

async fn page(c: &reqwest::Client, t: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn add_inbox(t: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let r = t.post(token, "/api/v1/inboxes", body).await;
    (r.status().as_u16(), json(r).await)
}

/// A value a field accepts, for forms that should get past it.
fn sample(f: &textdesk_channels::provider::SetupField) -> &'static str {
    use textdesk_channels::provider::FieldKind;
    match f.kind {
        FieldKind::Flag => "on",
        FieldKind::Whole { .. } | FieldKind::Decimal => "1",
        FieldKind::Text => "sample",
    }
}

async fn every_provider_is_set_up_from_its_description(db: Db) {
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let admin = t.browser("alex@example.com").await;
    let token = t.token_for("ops@example.com", Role::Admin).await;
    let (_, html) = page(&admin, &t, "/settings/inboxes").await;
    let csrf = csrf_of(&html);
    let doc: Value =
        serde_json::from_str(&t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap().text().await.unwrap())
            .unwrap();
    let schema = &doc["components"]["schemas"]["NewInboxIn"]["properties"];
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_textdesk")).args(["inbox", "add", "--help"]).output();
    let help = String::from_utf8(help.unwrap().stdout).unwrap();
    assert!(!registry::all().is_empty());

    for p in registry::all() {
        let key = p.key();
        // The form: one per provider, with every field.
        assert!(html.contains(&format!("id=\"add-{key}\"")), "{key}'s form: {html}");
        assert!(html.contains(&format!("Add {} inbox", p.label())), "{key}'s button");
        assert!(help.contains(key), "--kind {key}: {help}");
        for f in p.setup() {
            assert!(html.contains(&format!("name=\"{}\"", f.name)), "{key}.{} on the form", f.name);
            // The CLI: a flag per field; secrets also from their environment variable.
            assert!(help.contains(&format!("--{}", f.flag_name())), "--{}: {help}", f.flag_name());
            if f.secret {
                assert!(help.contains(&f.env_var(key)), "{}: {help}", f.env_var(key));
            }
            // The API's schema: the field, write-only when secret.
            let field = &schema[key]["properties"][f.name];
            assert!(field.is_object(), "{key}.{} in the OpenAPI schema: {schema}", f.name);
            assert_eq!(field["writeOnly"].as_bool().unwrap_or(false), f.secret, "{key}.{}", f.name);
        }

        // The API reads the same description: an unknown setting is refused, naming the real ones.
        let (status, problem) = add_inbox(
            &t,
            &token,
            json!({ "name": "X", "channel_kind": key, "sender": "+14155550100", key: { "no_such_setting": 1 } }),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        for f in p.setup() {
            assert!(detail.contains(f.name), "{key}: {detail}");
        }

        // A refused form never echoes a secret; what else was typed is kept.
        let secret = "s3cr3t-never-shown";
        let mut fields: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("kind".into(), key.into()),
            ("name".into(), "Typed name".into()),
            ("sender".into(), "12".into()),
        ];
        for f in p.setup() {
            let v = if f.secret { secret } else { sample(f) };
            fields.push((f.name.into(), v.into()));
        }
        let r = admin.post(t.url("/settings/inboxes")).form(&fields).send().await.unwrap();
        assert_eq!(r.status(), 422, "{key}: a bad number is refused");
        let body = r.text().await.unwrap();
        assert!(body.contains(&format!("id=\"{key}-error\"")), "{key}: {body}");
        assert!(body.contains("value=\"Typed name\""), "{key}: the name is kept");
        assert!(!body.contains(secret), "{key}: a secret is never echoed back");
    }
    assert!(t.services.store.inboxes(t.account_id).await.unwrap().is_empty(), "nothing saved");
}
both_backends!(every_provider_is_set_up_from_its_description);

async fn webhooks_reach_only_their_providers_inboxes(db: Db) {
    let t = app(db).start().await;
    let simulator = t.simulator_inbox().await;
    let post = |path: String| {
        let c = t.client.clone();
        let url = t.url(&path);
        async move { c.post(url).form(&[("AccountSid", "AC1")]).send().await.unwrap().status().as_u16() }
    };
    // The simulator's texts come from its page; no other provider's address reaches its inbox.
    assert_eq!(post(format!("/webhooks/simulator/{simulator}")).await, 404);
    assert_eq!(post(format!("/webhooks/twilio/{simulator}")).await, 404);
    assert_eq!(post(format!("/webhooks/twilio/{simulator}/status")).await, 404);
    assert_eq!(post(format!("/webhooks/smpp/{simulator}")).await, 404);
    assert_eq!(post("/webhooks/fax/1".into()).await, 404);
    assert_eq!(post(format!("/webhooks/simulator/{simulator}/inbound")).await, 404);
}
both_backends!(webhooks_reach_only_their_providers_inboxes);

async fn an_unreachable_provider_is_named_in_plain_words(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("ops@example.com", Role::Admin).await;
    // Nothing listens on port 9 (discard) here.
    let (status, problem) = add_inbox(
        &t,
        &token,
        json!({ "name": "Main", "channel_kind": "twilio", "sender": "+14155550100",
                "twilio": { "account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "0123456789abcdef0123456789abcdef",
                            "api_base": "http://127.0.0.1:9" } }),
    )
    .await;
    assert_eq!(status, 422);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("Twilio could not be reached to check these credentials."), "{detail}");
    assert!(!detail.contains("error sending request") && !detail.contains("tcp"), "no chain of causes: {detail}");

    let (status, problem) = add_inbox(
        &t,
        &token,
        json!({ "name": "SMSC", "channel_kind": "smpp", "sender": "+14155550101",
                "smpp": { "host": "127.0.0.1", "port": 9, "system_id": "textdesk", "password": "pw" } }),
    )
    .await;
    assert_eq!(status, 422);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("The SMSC at 127.0.0.1:9 could not be reached."), "{detail}");
    assert!(t.services.store.inboxes(t.account_id).await.unwrap().is_empty(), "nothing saved");
}
both_backends!(an_unreachable_provider_is_named_in_plain_words);

/// Migration 0014 run again over inboxes stored before the medium had its
/// own column: every provider's inbox carries SMS, an inbox stored under a
/// medium's name keeps it, and the SMS inbox still takes texts.
async fn inboxes_from_before_media_keep_working(db: Db) {
    let t = app(db).start().await;
    let simulator = t.simulator_inbox().await;
    let token = t.token_for("ops@example.com", Role::Admin).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    for sql in ["ALTER TABLE inboxes DROP COLUMN medium", "DELETE FROM _sqlx_migrations WHERE version = 14"] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    for (kind, sender) in [("twilio", "+14155550102"), ("whatsapp", "+14155550103")] {
        sqlx::query(
            "INSERT INTO inboxes (account_id, name, channel_kind, sender, settings, created_at) VALUES ($1, $2, $3, $4, '{}', 0)",
        )
        .bind(t.account_id)
        .bind(format!("Old {kind}"))
        .bind(kind)
        .bind(sender)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    t.services.store.migrate().await.unwrap();

    let list = json(t.get(&token, "/api/v1/inboxes").await).await;
    let media: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["channel_kind"].as_str().unwrap().to_owned(), i["medium"].as_str().unwrap().to_owned()))
        .collect();
    assert!(media.contains(&("simulator".into(), "sms".into())), "{list}");
    assert!(media.contains(&("twilio".into(), "sms".into())), "{list}");
    assert!(media.contains(&("whatsapp".into(), "whatsapp".into())), "kept as its medium: {list}");
    let r = t.text_in(simulator, "+14155550111", "Still there?", None).await;
    assert_eq!(r.status(), 201, "the old inbox still takes texts");
    let conversations = json(t.get(&token, "/api/v1/conversations").await).await;
    assert_eq!(conversations["items"].as_array().unwrap().len(), 1, "{conversations}");
}
both_backends!(inboxes_from_before_media_keep_working);

/// A WhatsApp inbox (stored directly: no provider offers WhatsApp in this
/// version) has Meta's 24-hour reply window, and every way out asks the gate
/// with it: a reply to a customer who wrote yesterday is blocked with the
/// reason, a reply to one who wrote just now goes.
async fn a_closed_reply_window_blocks_sends_through_every_door(db: Db) {
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t
        .services
        .store
        .create_inbox(textdesk_store::NewInbox {
            account_id: t.account_id,
            name: "WhatsApp".into(),
            provider: "twilio".into(),
            medium: textdesk_core::Medium::Whatsapp,
            sender: "+14155550100".into(),
            settings: json!({ "twilio": { "account_sid": "AC0123456789abcdef0123456789abcdef", "api_base": "http://127.0.0.1:9" } }),
            secrets: json!({ "auth_token": "0123456789abcdef0123456789abcdef" }),
        })
        .await
        .unwrap();
    let write = |number: &str, hours_ago: i64| textdesk_channels::InboundEvent::Message {
        from: textdesk_core::Address::parse(textdesk_core::Medium::Whatsapp, number).unwrap(),
        provider_id: format!("SM{number}"),
        body: "Hello".into(),
        media: vec![],
        received_at: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours_ago),
        consent_signal: None,
    };
    let conversation_of = |outcome| match outcome {
        textdesk::services::ingest::Ingested::Message(textdesk_store::IngestOutcome::Stored {
            conversation_id,
            ..
        }) => conversation_id,
        other => panic!("not stored: {other:?}"),
    };
    let yesterday = conversation_of(t.services.ingest(inbox.id, write("+14155550111", 25)).await.unwrap());
    let now = conversation_of(t.services.ingest(inbox.id, write("+14155550112", 0)).await.unwrap());

    let reply = |conv: i64| {
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (t, agent) = (&t, &agent);
        async move { t.post(agent, &path, json!({ "body": "Hi!" })).await }
    };
    let r = reply(yesterday).await;
    assert_eq!(r.status(), 409);
    let problem = json(r).await;
    assert_eq!(problem["reason"], "reply_window_closed", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("write first"), "{problem}");
    // The composer's preview says so before the agent tries.
    let preview =
        json(t.post(&agent, "/api/v1/compose/preview", json!({ "body": "Hi!", "conversation_id": yesterday })).await)
            .await;
    assert_eq!(preview["verdict"]["reason"], "reply_window_closed", "{preview}");

    let r = reply(now).await;
    assert_eq!(r.status(), 201, "inside the window a reply is queued");
}
both_backends!(a_closed_reply_window_blocks_sends_through_every_door);

/// Whatever the provider, its connection (stored under its key when the inbox
/// was added) is kept: the inbox's other settings change, the connection only
/// with a new inbox. Before, only Twilio's and SMPP's were known, so a
/// WhatsApp, Telegram… inbox could not change any setting at all.
async fn every_providers_connection_is_kept_when_settings_change(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    for p in registry::all().iter().filter(|p| p.key() != textdesk_channels::webchat::KEY) {
        let inbox = t
            .services
            .store
            .create_inbox(textdesk_store::NewInbox {
                account_id: t.account_id,
                name: p.label().into(),
                provider: p.key().into(),
                medium: p.media()[0],
                sender: "+14155550100".into(),
                settings: json!({ p.key(): { "set_up": "when added" } }),
                secrets: json!({}),
            })
            .await
            .unwrap();
        let path = format!("/api/v1/inboxes/{}", inbox.id);
        let patch = |settings: Value| {
            t.client.patch(t.url(&path)).bearer_auth(&admin).json(&json!({ "settings": settings })).send()
        };
        let r = patch(json!({ "price_per_segment": 0.01 })).await.unwrap();
        assert_eq!(r.status(), 200, "{}: {}", p.key(), r.text().await.unwrap());
        let r = patch(json!({ p.key(): { "set_up": "changed" } })).await.unwrap();
        assert_eq!(r.status(), 422, "{}", p.key());
        let detail = json(r).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("set when the inbox is added"), "{}: {detail}", p.key());
        let kept = t.services.store.inbox_by_id(inbox.id).await.unwrap();
        assert_eq!(kept.settings[p.key()], json!({ "set_up": "when added" }), "{}", p.key());
    }
}
both_backends!(every_providers_connection_is_kept_when_settings_change);
