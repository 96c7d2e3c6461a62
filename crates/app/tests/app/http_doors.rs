//! One door per thing: pages answer errors with pages (403, 404) while the API
//! keeps problem details; every state-changing form is checked for its CSRF
//! token the same way; consent, people and teams, and new contacts are
//! checked by one rule whichever door they come through.

use crate::common;

use common::{Db, TestApp, app, csrf_of, json};
use serde_json::json;
use textdesk_core::Role;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A page as a browser asks for it: (status, content type, body).
async fn visit(c: &reqwest::Client, t: &TestApp, path: &str) -> (u16, String, String) {
    let r = c.get(t.url(path)).header("accept", HTML).send().await.unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r.status().as_u16(), ct, r.text().await.unwrap())
}

async fn settings_tell_a_supervisor_what_they_cannot_do_and_why(db: Db) {
    let t = app(db).start().await;
    t.user("lee@example.com", Role::Supervisor).await;
    t.user("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let lee = t.browser("lee@example.com").await;
    for path in ["/settings/inboxes", &format!("/settings/inboxes/{inbox}"), "/settings/users", "/settings/account"] {
        let (status, ct, html) = visit(&lee, &t, path).await;
        assert_eq!((status, ct.as_str()), (403, "text/html; charset=utf-8"), "{path}");
        assert!(html.contains("The settings are for admins"), "what and why: {html}");
        assert!(html.contains("as a supervisor you cannot change inboxes"), "{html}");
        assert!(html.contains("You are signed in as") && html.contains("(supervisor)"), "{html}");
        assert!(html.contains("class=\"topbar\"") && html.contains("Sign out"), "the app's frame: {html}");
        assert!(html.contains("href=\"/inbox\"") && html.contains("Back to the inbox"), "a way back: {html}");
        assert!(!html.contains("urn:textdesk:problem"), "no raw JSON: {html}");
    }
    let dana = t.browser("dana@example.com").await;
    let (status, _, html) = visit(&dana, &t, "/settings/users").await;
    assert_eq!(status, 403);
    assert!(html.contains("as an agent you cannot change"), "{html}");
    // A script (no text/html in Accept) still reads problem details.
    let r = lee.get(t.url("/settings/users")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // The API answers a supervisor's admin-only call with problem details, whatever it accepts.
    let token = t.token_for("sam@example.com", Role::Supervisor).await;
    let r = t
        .client
        .post(t.url("/api/v1/teams"))
        .bearer_auth(&token)
        .header("accept", HTML)
        .json(&json!({ "name": "Night" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
both_backends!(settings_tell_a_supervisor_what_they_cannot_do_and_why);

#[tokio::test]
async fn an_unknown_address_gets_a_real_404_page() {
    let t = app(Db::Sqlite).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let dana = t.browser("dana@example.com").await;
    let (status, ct, html) = visit(&dana, &t, "/inbx").await;
    assert_eq!((status, ct.as_str()), (404, "text/html; charset=utf-8"));
    assert!(html.contains("Page not found") && html.contains("There is no page at this address"), "{html}");
    assert!(html.contains("class=\"topbar\"") && html.contains("Back to the inbox"), "{html}");
    // Someone not signed in gets the page without the frame, and the way to sign in.
    let anon = reqwest::Client::new();
    let (status, _, html) = visit(&anon, &t, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found") && html.contains("href=\"/login\""), "{html}");
    assert!(!html.contains("class=\"topbar\""), "no one's name or menu: {html}");
    // A conversation that is not there: a page too, saying what is missing.
    let (status, _, html) = visit(&dana, &t, "/conversations/987654").await;
    assert_eq!(status, 404);
    assert!(html.contains("Conversation not found."), "{html}");
    // The API keeps problem details, under /api/v1 and beside it.
    for path in ["/api/v1/nothing-here", "/api/v2/conversations"] {
        let r = anon.get(t.url(path)).header("accept", HTML).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    }
}

/// The forms that may carry files (the composer's reply and its "Attach") are
/// checked through the same door as the others: no token, a wrong one or
/// another site's page gets the 403 page and nothing is kept or sent.
async fn multipart_forms_need_the_sessions_token(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hello", None).await).await["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let (_, _, html) = visit(&browser, &t, &format!("/conversations/{conv}")).await;
    let csrf = csrf_of(&html);
    let files_kept = || std::fs::read_dir(&t.services.media.dir).map(|d| d.count()).unwrap_or(0);
    let post = |path: &str, fields: &[(&str, &str)], origin: Option<&str>| {
        let (ct, body) = common::multipart(fields, &[("files", "dot.png", "image/png", common::PNG)]);
        let mut r = browser.post(t.url(path)).header("accept", HTML).header("content-type", ct).body(body);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let reply = format!("/conversations/{conv}/reply");
    let attach = format!("/conversations/{conv}/attachments");
    for path in [&reply, &attach] {
        for (token, origin) in
            [(None, None), (Some("not-the-token"), None), (Some(csrf.as_str()), Some("https://evil.example"))]
        {
            let mut fields = vec![("body", "Here is the picture")];
            if let Some(tok) = token {
                fields.push(("csrf", tok));
            }
            let r = post(path, &fields, origin).await.unwrap();
            assert_eq!(r.status(), 403, "{path} with {token:?} from {origin:?}");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}: a page");
            let html = r.text().await.unwrap();
            assert!(html.contains("did not come from this site"), "{path}: {html}");
        }
    }
    assert_eq!(files_kept(), 0, "nothing refused is kept");
    let messages = t.services.store.messages(t.account_id, conv, textdesk_store::MessagePage::After(None), 50);
    assert_eq!(messages.await.unwrap().len(), 1, "nothing refused is sent");

    // With the session's token both work: the file is kept, the reply goes with its picture.
    let r = post(&attach, &[("csrf", csrf.as_str())], None).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await.as_array().map(Vec::len), Some(1));
    let r = post(&reply, &[("csrf", csrf.as_str()), ("body", "Here is the picture")], None).await.unwrap();
    assert_eq!(r.status(), 303);
    let messages = t.services.store.messages(t.account_id, conv, textdesk_store::MessagePage::After(None), 50);
    let sent = messages.await.unwrap().pop().unwrap();
    assert_eq!((sent.body.as_str(), sent.media.len()), ("Here is the picture", 1));
}
both_backends!(multipart_forms_need_the_sessions_token);

#[tokio::test]
async fn every_state_changing_form_needs_the_sessions_token() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let dana = t.user("dana@example.com", Role::Admin).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hello", None).await).await["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let (_, _, html) = visit(&browser, &t, &format!("/conversations/{conv}")).await;
    let csrf = csrf_of(&html);
    let forged: [(&str, Vec<(&str, &str)>); 7] = [
        ("/conversations/{c}/assign", vec![("assignee", "me")]),
        ("/conversations/{c}/priority", vec![("priority", "urgent")]),
        ("/conversations/{c}/labels", vec![("label", "billing")]),
        ("/conversations/{c}/status", vec![("status", "resolved")]),
        ("/conversations/{c}/consent", vec![("state", "opted_out")]),
        ("/settings/teams", vec![("name", "Night")]),
        ("/logout", vec![]),
    ];
    for (path, fields) in &forged {
        let path = path.replace("{c}", &conv.to_string());
        for token in [None, Some("not-the-token")] {
            let mut form = fields.clone();
            if let Some(tok) = token {
                form.push(("csrf", tok));
            }
            let r = browser.post(t.url(&path)).header("accept", HTML).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 403, "{path} with {token:?}");
            let html = r.text().await.unwrap();
            assert!(html.contains("did not come from this site"), "{path}: {html}");
        }
    }
    // Nothing changed, and the session still works.
    let c = t.services.store.conversation_summary(t.account_id, conv).await.unwrap();
    assert_eq!((c.conversation.assignee_id, c.conversation.status.as_str()), (None, "open"));
    assert!(t.services.store.teams(t.account_id).await.unwrap().is_empty());
    // Another site's page posting with the right token is refused too.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/assign")))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("assignee", "me")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The real form works.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/assign")))
        .form(&[("csrf", csrf.as_str()), ("assignee", "me")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let c = t.services.store.conversation_summary(t.account_id, conv).await.unwrap();
    assert_eq!(c.conversation.assignee_id, Some(dana.id));
}

async fn the_two_consent_doors_agree(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("ops@example.com", Role::Agent).await;
    t.user("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let (_, _, html) = visit(&browser, &t, &format!("/conversations/{conv}")).await;
    let csrf = csrf_of(&html);
    let path = format!("/api/v1/contacts/{contact}/consent");
    let api = |state: &'static str, evidence: String| {
        let body = json!({ "state": state, "source": "agent", "evidence": evidence });
        t.client.post(t.url(&path)).bearer_auth(&token).json(&body).send()
    };
    let form_path = t.url(&format!("/conversations/{conv}/consent"));
    let page = |state: &'static str, evidence: String| {
        let form = vec![("csrf", csrf.clone()), ("state", state.to_owned()), ("evidence", evidence)];
        browser.post(&form_path).form(&form).send()
    };
    let too_long = "y".repeat(501);
    // Evidence longer than kept is refused by both (the page used to cut it silently).
    let r = api("opted_in", too_long.clone()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("evidence is at most 500 characters"));
    let r = page("opted_in", too_long.clone()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("evidence is at most 500 characters"));
    // A state that is not a decision is refused by both.
    assert_eq!(api("unknown", "x".into()).await.unwrap().status(), 422);
    assert_eq!(page("unknown", "x".into()).await.unwrap().status(), 422);
    assert!(t.services.store.consent_history(contact).await.unwrap().is_empty(), "nothing was recorded");
    // Exactly 500 characters are kept whole, by both.
    let full = "z".repeat(500);
    assert_eq!(api("opted_in", full.clone()).await.unwrap().status(), 201);
    assert_eq!(page("opted_out", format!("  {full}  ")).await.unwrap().status(), 303);
    let history = t.services.store.consent_history(contact).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e.evidence == full && e.source == "agent"), "{history:?}");
}
both_backends!(the_two_consent_doors_agree);

async fn people_and_teams_follow_one_rule_through_both_doors(db: Db) {
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let token = t.token_for("ops@example.com", Role::Admin).await;
    let admin = t.browser("alex@example.com").await;
    let (_, _, html) = visit(&admin, &t, "/settings/users").await;
    let csrf = csrf_of(&html);
    // A team name counts characters, not bytes: 100 accented letters are a name, 101 are not.
    let hundred = "é".repeat(100);
    let r = t.post(&token, "/api/v1/teams", json!({ "name": hundred })).await;
    assert_eq!(r.status(), 201, "the API took only 50 of these before");
    let r = t.post(&token, "/api/v1/teams", json!({ "name": format!("{hundred}é") })).await;
    assert_eq!(r.status(), 422);
    let r = admin
        .post(t.url("/settings/teams"))
        .form(&[("csrf", csrf.as_str()), ("name", &format!("{hundred}é"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = admin
        .post(t.url("/settings/teams"))
        .form(&[("csrf", csrf.as_str()), ("name", "Front desk")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(t.services.store.teams(t.account_id).await.unwrap().len(), 2);
    // A person's name: at most 100 characters through the API as through the people page.
    let long = "n".repeat(101);
    let body = json!({ "email": "kim@example.com", "name": long, "role": "agent", "password": "a long secret" });
    let r = t.post(&token, "/api/v1/users", body).await;
    assert_eq!(r.status(), 422, "the API let any length through before");
    assert!(json(r).await["detail"].as_str().unwrap().contains("at most 100 characters"));
    let r = admin
        .post(t.url("/settings/users"))
        .form(&[("csrf", csrf.as_str()), ("email", "kim@example.com"), ("name", long.as_str()), ("role", "agent")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("at most 100 characters"));
    assert_eq!(t.services.store.users(t.account_id).await.unwrap().len(), 2, "nobody was added");
    // Demoting oneself is refused the same way by both.
    let me = json(t.get(&token, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/users/{me}")))
        .bearer_auth(&token)
        .json(&json!({ "role": "agent" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("you cannot demote or deactivate yourself"));
}
both_backends!(people_and_teams_follow_one_rule_through_both_doors);

async fn a_new_contacts_name_is_checked_as_an_edit_is(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("ops@example.com", Role::Agent).await;
    let ok = t.post(&token, "/api/v1/contacts", json!({ "name": "  Rosa Diaz ", "address": "+14155550123" })).await;
    assert_eq!(ok.status(), 201);
    let id = json(ok).await["id"].as_i64().unwrap();
    for bad in ["x".repeat(101), "Rosa\nDiaz".to_owned()] {
        let r = t.post(&token, "/api/v1/contacts", json!({ "name": bad, "address": "+14155550124" })).await;
        assert_eq!(r.status(), 422, "{bad:?} when creating");
        let created = json(r).await["detail"].as_str().unwrap().to_owned();
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/contacts/{id}")))
            .bearer_auth(&token)
            .json(&json!({ "name": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad:?} when editing");
        assert_eq!(json(r).await["detail"].as_str().unwrap(), created, "the same words for the same mistake");
    }
    let list = json(t.get(&token, "/api/v1/contacts").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "no contact was made from a bad name: {list}");
    assert_eq!(list[0]["name"], "Rosa Diaz");
}
both_backends!(a_new_contacts_name_is_checked_as_an_edit_is);

/// A fault inside one request (the store's test hook panics on a search for
/// one word) answers that request with an error, a page for a browser and
/// problem details for a script, and the node goes on serving: the connection
/// is not dropped without an answer.
async fn a_fault_in_one_request_is_answered_and_the_node_goes_on(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550123", "where is my kaboom order", None).await;
    t.user("dana@example.com", Role::Agent).await;
    t.services.store.panic_on_search("kaboom");

    let token = t.token_for("sam@example.com", Role::Agent).await;
    let r = t.get(&token, "/api/v1/conversations?q=kaboom").await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(json(r).await["type"], "urn:textdesk:problem:internal");

    let dana = t.browser("dana@example.com").await;
    let (status, ct, html) = visit(&dana, &t, "/inbox?q=kaboom").await;
    assert_eq!((status, ct.as_str()), (500, "text/html; charset=utf-8"), "{html}");
    assert!(html.contains("Sign out") && !html.contains("urn:textdesk:problem"), "a page in the app's frame: {html}");

    // The same node answers the next requests, the same search without the fault's word included.
    let list = json(t.get(&token, "/api/v1/conversations?q=order").await).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (status, _, _) = visit(&dana, &t, "/inbox").await;
    assert_eq!(status, 200);
}
both_backends!(a_fault_in_one_request_is_answered_and_the_node_goes_on);
