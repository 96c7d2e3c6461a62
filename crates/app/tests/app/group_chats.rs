//! Group chats are refused by design (docs/decisions.md, "Group chats"): a
//! bot or account added to a Telegram group or supergroup, or to a LINE group
//! or room, is posted what everyone there says; none of it is one customer's
//! conversation. Posted in the providers' published shapes, on both
//! backends: each is acknowledged (the provider would otherwise retry),
//! nothing is stored, and the one-to-one chat beside it still is.

use crate::common;

use common::*;
use serde_json::json;
use textdesk_channels::line::FakeLine;
use textdesk_channels::telegram::{FakeTelegram, webhook_secret};
use textdesk_core::Role;

const LINE_USER: &str = "U4af4980629c8f5d8a2e0e1f3b6c0d9a1";
const TELEGRAM_USER: i64 = 5_551_234_567;

async fn line_groups_and_rooms_are_not_conversations(db: Db) {
    let fake = FakeLine::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = crate::line::line_inbox(&t, &fake).await;
    // The Messaging API reference's group and room sources.
    let group = json!({ "type": "group", "groupId": "Ca56f94637c2e6a2bd6d08d9a4f4f8d2e", "userId": LINE_USER });
    let room = json!({ "type": "room", "roomId": "Ra8dbf4673c4c812cd491258042226c14", "userId": LINE_USER });
    let mut events = Vec::new();
    for source in [&group, &room] {
        let mut said = fake.message_event(LINE_USER, json!({ "type": "text", "text": "Who's bringing cake?" }));
        said["source"] = source.clone();
        let mut joined = fake.event(LINE_USER, "join", json!({}));
        joined["source"] = source.clone();
        events.extend([joined, said]);
    }
    let mut member = fake.event(
        LINE_USER,
        "memberJoined",
        json!({ "joined": { "members": [{ "type": "user", "userId": LINE_USER }] } }),
    );
    member["source"] = group.clone();
    events.push(member);
    assert_eq!(fake.post_webhook(&url, &FakeLine::payload(events)).await.unwrap().status(), 200);
    assert!(conversations_of(&t, &agent, inbox).await.is_empty(), "nothing from a group or room is kept");
    // The same person writing to the account directly is a conversation.
    let direct = fake.message_event(LINE_USER, json!({ "type": "text", "text": "Can I book for Friday?" }));
    assert_eq!(fake.post_webhook(&url, &FakeLine::payload(vec![direct])).await.unwrap().status(), 200);
    let convs = conversations_of(&t, &agent, inbox).await;
    assert_eq!(convs.len(), 1);
    let bodies: Vec<_> = messages_in(&t, &agent, convs[0]["id"].as_i64().unwrap())
        .await
        .into_iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, [json!("Can I book for Friday?")]);
    assert!(fake.sent().is_empty(), "nothing is said to a group");
}
both_backends!(line_groups_and_rooms_are_not_conversations);

async fn telegram_groups_and_channels_are_not_conversations(db: Db) {
    let fake = FakeTelegram::start().await.unwrap();
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (inbox, url) = crate::telegram::telegram_inbox(&t, &fake).await;
    let secret = webhook_secret(fake.token(), inbox);
    let post = |update: serde_json::Value| fake.post_update(&url, serde_json::to_vec(&update).unwrap(), Some(&secret));
    // The Bot API's Chat types: a group, a supergroup, and a channel's post.
    for chat in [
        json!({ "id": -4_012_345_678_i64, "type": "group", "title": "Patients" }),
        json!({ "id": -1_001_234_567_890_i64, "type": "supergroup", "title": "Patients", "is_forum": false }),
    ] {
        let mut said = FakeTelegram::message_update(TELEGRAM_USER, "Kerry", json!({ "text": "hi all" }));
        said["message"]["chat"] = chat.clone();
        assert_eq!(post(said).await.unwrap().status(), 200);
        // The bot being added to it.
        let added = json!({ "update_id": 10_001, "my_chat_member": { "chat": chat, "date": jiff::Timestamp::now().as_second(),
            "from": { "id": TELEGRAM_USER, "is_bot": false, "first_name": "Kerry" },
            "old_chat_member": { "user": { "id": fake.bot_id(), "is_bot": true, "first_name": "Test Dental" }, "status": "left" },
            "new_chat_member": { "user": { "id": fake.bot_id(), "is_bot": true, "first_name": "Test Dental" }, "status": "member" } } });
        assert_eq!(post(added).await.unwrap().status(), 200);
    }
    let channel_post = json!({ "update_id": 10_002, "channel_post": { "message_id": 7, "date": jiff::Timestamp::now().as_second(),
        "chat": { "id": -1_009_876_543_210_i64, "type": "channel", "title": "Clinic news" }, "text": "Open Saturday" } });
    assert_eq!(post(channel_post).await.unwrap().status(), 200);
    assert!(conversations_of(&t, &agent, inbox).await.is_empty(), "nothing from a group or channel is kept");
    let direct = FakeTelegram::message_update(TELEGRAM_USER, "Kerry", json!({ "text": "Can I book for Friday?" }));
    assert_eq!(post(direct).await.unwrap().status(), 200);
    assert_eq!(conversations_of(&t, &agent, inbox).await.len(), 1);
    assert!(fake.sent().is_empty());
}
both_backends!(telegram_groups_and_channels_are_not_conversations);
