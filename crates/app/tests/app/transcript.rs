//! A conversation's transcript (F12) over real HTTP on both backends: every
//! message and timeline entry in the order they happened, the page a
//! supervisor prints with its clock named, the JSON an integrator keeps, and
//! an audit entry for each reading.

use crate::common;

use common::{Db, app, json};
use serde_json::json;
use textdesk_core::Role;

async fn a_whole_conversation_in_order_as_a_page_and_as_json(db: Db) {
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let first = json(t.text_in(inbox, "+14155550142", "My crown came loose", None).await).await;
    let conv = first["conversation_id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conv}/messages");
    assert_eq!(t.post(&agent, &path, json!({ "body": "Sorry! Can you come at 3?" })).await.status(), 201);
    let note = json!({ "body": "Dr. Lee has a gap at 3", "private": true });
    assert_eq!(t.post(&agent, &path, note).await.status(), 201);
    assert!(t.text_in(inbox, "+14155550142", "Yes, see you at 3", None).await.status().is_success());
    let status = json!({ "status": "resolved" });
    assert_eq!(t.post(&agent, &format!("/api/v1/conversations/{conv}/status"), status).await.status(), 200);

    let got = t.get(&agent, &format!("/api/v1/conversations/{conv}/transcript")).await;
    assert_eq!(got.status(), 200);
    let doc = json(got).await;
    let entries = doc["entries"].as_array().unwrap();
    let said: Vec<&str> = entries.iter().filter_map(|e| e["message"]["body"].as_str()).collect();
    assert_eq!(
        said,
        ["My crown came loose", "Sorry! Can you come at 3?", "Dr. Lee has a gap at 3", "Yes, see you at 3"]
    );
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"event"), "the conversation's start comes first: {kinds:?}");
    assert_eq!(entries[0]["text"], "Conversation started");
    let last = entries.last().unwrap();
    assert!(last["text"].as_str().unwrap().ends_with("resolved this"), "{last}");
    let times: Vec<jiff::Timestamp> = entries.iter().map(|e| e["at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order: {times:?}");
    assert_eq!(doc["conversation"]["status"], "resolved");
    assert_eq!((doc["contact_address"].as_str(), doc["cut"].as_bool()), (Some("+14155550142"), Some(false)));
    assert!(!doc["time_zone"].as_str().unwrap().is_empty());

    // The page: who said what, the private note marked, the clock named, nothing of the app's chrome printed.
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}/transcript"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s:?} on the page"));
    assert!(at("My crown came loose") < at("Sorry! Can you come at 3?"));
    assert!(at("Sorry! Can you come at 3?") < at("Yes, see you at 3"));
    assert!(page.contains("(private note)") && page.contains("time (the business's clock)"), "{page}");
    assert!(page.contains("data-print") && page.contains(r#"class="no-print""#));
    // The conversation's page offers it.
    let convo = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(convo.contains(&format!(r#"href="/conversations/{conv}/transcript""#)));

    // Each reading is in the audit trail; an unknown conversation is a 404, on the API and as a page.
    let audit = t.services.store.audit_entries(t.account_id, None, 10).await.unwrap();
    let read =
        audit.iter().filter(|a| a.action == "conversation.transcript" && a.subject == format!("conversation:{conv}"));
    assert_eq!(read.count(), 2);
    assert_eq!(t.get(&agent, "/api/v1/conversations/999999/transcript").await.status(), 404);
    let missing = browser.get(t.url("/conversations/999999/transcript")).header("accept", "text/html,*/*;q=0.8");
    let missing = missing.send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}
both_backends!(a_whole_conversation_in_order_as_a_page_and_as_json);
