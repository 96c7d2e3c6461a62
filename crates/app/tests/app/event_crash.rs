//! The real `textdesk serve` binary is SIGKILLed after a change committed and
//! before a connected screen was told of it. The screen, reconnecting to the
//! restarted server with its `Last-Event-ID`, still gets the event, and the
//! timeline is complete: the event was written in the change's transaction.
//!
//! The window is held open by the test-only `TEXTDESK_HOLD_DELIVERY_MS`: after
//! every commit the server waits that long before going on (standing in for
//! whatever code follows a commit, as an announcement written after it would),
//! and live screens get no event younger than that. Were the event written
//! after the commit, the kill would land before it and the test would fail.

use crate::common;

use std::time::{Duration, Instant};

use common::binary::{Env, free_port};
use common::{Db, app, json};
use serde_json::Value;
use textdesk_core::Role;

const HOLD_MS: u64 = 4000;

/// An SSE stream's frames as (id, event, data).
struct Frames {
    resp: reqwest::Response,
    buf: String,
}

impl Frames {
    async fn open(base: &str, token: &str, after: Option<i64>) -> Frames {
        let mut req = reqwest::Client::new().get(format!("{base}/api/v1/events")).bearer_auth(token);
        if let Some(id) = after {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        Frames { resp, buf: String::new() }
    }

    /// The next event frame within `wait`; None if none came (or the stream ended).
    async fn next(&mut self, wait: Duration) -> Option<(i64, String, Value)> {
        let read = async {
            loop {
                if let Some(pos) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..pos + 2).collect();
                    let field = |name: &str| {
                        block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_owned())
                    };
                    let Some(kind) = field("event:") else { continue };
                    let id = field("id:").and_then(|v| v.parse().ok()).unwrap_or(-1);
                    let data = serde_json::from_str(&field("data:").unwrap_or_default()).unwrap_or(Value::Null);
                    return Some((id, kind, data));
                }
                match self.resp.chunk().await {
                    Ok(Some(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        };
        tokio::time::timeout(wait, read).await.ok().flatten()
    }
}

async fn killed_between_a_change_and_its_delivery(db: Db) {
    // The in-process app makes the database (and, on PostgreSQL, drops it at
    // the end), the inbox and the token; the binary serves the same database.
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let node = |hold_ms: u64| {
        Env { port, ..Env::new(&t.database_url, dir.path()) }
            .set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY)
            .set("TEXTDESK_SIMULATOR", 1)
            .set("TEXTDESK_HOLD_DELIVERY_MS", hold_ms)
    };
    let base = node(0).base();

    let held = node(HOLD_MS).serve(&dir.path().join("serve-held.log")).await;
    let mut screen = Frames::open(&base, &token, None).await;
    let (ready, kind, _) = screen.next(Duration::from_secs(5)).await.expect("ready");
    assert_eq!(kind, "ready");

    // The customer's text: stored (and committed) at once; the request then
    // waits out the hold, and the screen hears nothing yet.
    let url = format!("{base}/simulator/api/inboxes/{inbox}/messages");
    let body = serde_json::json!({ "from": "+14155550170", "body": "Is my order ready?" });
    let texting = tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await });
    let started = Instant::now();
    let conv = loop {
        let page = t.services.store.list_conversations(t.account_id, &Default::default(), None, 5).await.unwrap();
        if let Some(c) = page.items.first() {
            break c.conversation.id;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "the text was never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let early = screen.next(Duration::from_millis(800)).await;
    assert!(early.is_none(), "delivered before the kill, so the window was missed: {early:?}");
    assert!(started.elapsed() < Duration::from_millis(HOLD_MS - 1000), "still inside the held window");
    drop(held); // SIGKILL
    assert!(texting.await.unwrap().is_err(), "the request was still waiting out the hold when the server died");

    let _restarted = node(0).serve(&dir.path().join("serve-restarted.log")).await;
    let mut back = Frames::open(&base, &token, Some(ready)).await;
    let (start, kind, _) = back.next(Duration::from_secs(5)).await.expect("ready after restart");
    assert_eq!((kind.as_str(), start), ("ready", ready), "resumes where the screen was");
    let (id, kind, data) = back.next(Duration::from_secs(5)).await.expect("the missed event");
    assert_eq!(kind, "message.created");
    assert_eq!((data["conversation_id"].as_i64(), data["inbound"].as_bool()), (Some(conv), Some(true)));
    assert!(id > ready);

    // The timeline rendered after the restart is complete.
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/conversations/{conv}/timeline"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let timeline = json(r).await;
    let kinds: Vec<&str> = timeline.as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["created"]);
}
both_backends!(killed_between_a_change_and_its_delivery);
