//! python-telegram-bot (PyPI, installed by scripts/test-deps.d/72-python-telegram-bot.sh)
//! as an independent peer of the Telegram channel: updates of every kind
//! built with its own models read as we expect, and its Bot and our client
//! send the same requests to our fake Bot API. Skipped when the peer is not
//! installed, unless TEXTDESK_REQUIRE_PEERS=1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
#![cfg(feature = "fake")]

mod peers;

use std::path::PathBuf;

use serde_json::{Value, json};
use textdesk_channels::telegram::{FakeTelegram, TelegramClient, parse_update};
use textdesk_channels::{InboundEvent, Outgoing};

const USER: i64 = 5_551_234_567;

fn peer_python() -> Option<PathBuf> {
    peers::python("telegram", "telegram", "python-telegram-bot")
}

async fn ask(python: PathBuf, request: Value) -> Value {
    peers::ask(python, "telegram/peer.py", request).await
}

#[tokio::test]
async fn updates_built_by_python_telegram_bot_read_as_we_expect() {
    let Some(python) = peer_python() else { return };
    let built = ask(python, json!({ "op": "build", "user_id": USER, "first_name": "Kerry" })).await;
    let api = "https://api.telegram.org";
    let now = jiff::Timestamp::now();
    let read = |name: &str| parse_update(&serde_json::to_vec(&built[name]).unwrap(), api, now).unwrap().events;
    let message = |events: &[InboundEvent]| match &events[0] {
        InboundEvent::Message { from, provider_id, body, media, .. } => {
            assert_eq!(from.value(), USER.to_string());
            (provider_id.clone(), body.clone(), media.iter().map(|m| m.url.clone()).collect::<Vec<_>>())
        }
        other => panic!("{other:?}"),
    };
    let text = read("text");
    assert_eq!(message(&text), (format!("{USER}:100"), "Does the crown come in another shade?".into(), vec![]));
    assert!(matches!(&text[1], InboundEvent::Profile { name, .. } if name == "Kerry Fisher"));
    let photo = message(&read("photo"));
    assert_eq!(
        (photo.1.as_str(), photo.2.as_slice()),
        ("This tooth", [format!("{api}/getFile?file_id=AgAClarge")].as_slice())
    );
    assert_eq!(message(&read("document")).1, "invoice.pdf");
    assert_eq!(message(&read("voice")).2, [format!("{api}/getFile?file_id=AwACvoice")]);
    assert!(
        message(&read("location")).1.starts_with("Shared a location — https://www.openstreetmap.org/?mlat=37.483307")
    );
    let own = read("own_contact");
    assert!(
        matches!(own.last(), Some(InboundEvent::PhoneShared { phone, .. }) if phone.as_str() == "+14155550123"),
        "{own:?}"
    );
    let other = read("other_contact");
    assert!(!other.iter().any(|e| matches!(e, InboundEvent::PhoneShared { .. })), "someone else's card links nothing");
}

#[tokio::test]
async fn python_telegram_bot_and_our_client_send_the_same_requests() {
    let Some(python) = peer_python() else { return };
    let fake = FakeTelegram::start().await.unwrap();
    let photo = "https://desk.example.com/media/7?exp=1&sig=x";
    let theirs = ask(
        python,
        json!({ "op": "send", "base": fake.base_url(), "token": fake.token(), "chat_id": USER,
                "text": "Your crown is ready.", "photo": photo, "caption": "Like this one" }),
    )
    .await;
    assert!(theirs["text"].as_i64().is_some(), "the fake answered the peer as Telegram does: {theirs}");
    let client = TelegramClient::new(fake.config()).unwrap();
    let to = USER.to_string();
    let text = Outgoing { to: to.clone(), body: "Your crown is ready.".into(), ..Default::default() };
    client.send(&text).await.unwrap();
    let with_photo = Outgoing {
        to,
        body: "Like this one".into(),
        media_urls: vec![photo.into()],
        media_types: vec!["image/jpeg".into()],
        ..Default::default()
    };
    client.send(&with_photo).await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), &sent[0].1), (sent[2].0.as_str(), &sent[2].1), "sendMessage");
    assert_eq!((sent[1].0.as_str(), &sent[1].1), (sent[3].0.as_str(), &sent[3].1), "sendPhoto");
}
