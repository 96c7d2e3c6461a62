//! The contact panel's data over the API and the UI: name, zone and attributes,
//! notes about the person, earlier conversations, the Enter-to-send
//! preference, and the composer's attachments (uploaded, or sent with the form).

use crate::common;

use common::{Db, PNG, app, csrf_of, json, multipart};
use serde_json::{Value, json};
use textdesk_core::Role;

async fn patch(t: &common::TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.patch(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn delete(t: &common::TestApp, token: &str, path: &str) -> reqwest::Response {
    t.client.delete(t.url(path)).bearer_auth(token).send().await.unwrap()
}

/// Asserts a problem response and returns its detail.
async fn problem(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    let p = json(r).await;
    assert_eq!(p["status"], status, "{p}");
    p["detail"].as_str().unwrap().to_owned()
}

async fn contact_of(t: &common::TestApp, token: &str, conv: i64) -> i64 {
    json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap()
}

/// (account, contact) of a second account sharing the database.
async fn another_accounts_contact(t: &common::TestApp) -> (i64, i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let other: i64 = sqlx::query_scalar("INSERT INTO accounts (name, created_at) VALUES ('Elsewhere', 0) RETURNING id")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let address = textdesk_core::Address::parse(textdesk_core::Medium::Sms, "+14155550999").unwrap();
    (other, t.services.store.create_contact(other, "Theirs", &address, None).await.unwrap().id)
}

async fn name_zone_and_attributes(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550111", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let id = contact_of(&t, &dana, conv).await;
    let path = format!("/api/v1/contacts/{id}");

    let c = json(
        patch(&t, &dana, &path, json!({ "name": "  Ana Ruiz ", "time_zone": "America/Chicago", "attributes": { "plan": "pro", "order-id": "A-17" } }))
            .await,
    )
    .await;
    assert_eq!(c["name"], "Ana Ruiz");
    assert_eq!(c["time_zone"], "America/Chicago");
    assert_eq!(c["attributes"], json!({ "plan": "pro", "order-id": "A-17" }));
    assert_eq!(c["identities"][0]["namespace"], "phone");

    // Keys named are set or removed; the others are kept.
    let c = json(
        patch(&t, &dana, &path, json!({ "attributes": { "plan": "basic", "order-id": null, "city": "Austin" } })).await,
    )
    .await;
    assert_eq!(c["attributes"], json!({ "plan": "basic", "city": "Austin" }));
    assert_eq!(c["name"], "Ana Ruiz", "untouched");

    // Bad input is refused with a reason, and nothing stored changes.
    for (body, says) in [
        (json!({ "attributes": { "has space": "x" } }), "attribute name"),
        (json!({ "attributes": { "": "x" } }), "needs a name"),
        (json!({ "attributes": { "k".repeat(41): "x" } }), "1 to 40"),
        (json!({ "attributes": { "plan": "v".repeat(501) } }), "500"),
        (json!({ "attributes": { "plan": 5 } }), "a value is a string"),
        (json!({ "time_zone": "Mars/Olympus" }), "not a time zone"),
        (json!({ "name": "n".repeat(101) }), "100"),
    ] {
        let detail = problem(patch(&t, &dana, &path, body.clone()).await, 422).await;
        assert!(detail.contains(says), "{body}: {detail}");
    }
    let many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert!(problem(patch(&t, &dana, &path, json!({ "attributes": many })).await, 422).await.contains("at most 50"));
    let c = json(t.get(&dana, &path).await).await;
    assert_eq!(c["attributes"], json!({ "plan": "basic", "city": "Austin" }));
    assert_eq!(c["time_zone"], "America/Chicago");

    // An empty name shows the contact by number; null zone goes back to the number's.
    let c = json(patch(&t, &dana, &path, json!({ "name": "", "time_zone": null })).await).await;
    assert_eq!(c["name"], "");
    assert!(c["time_zone"].is_null());

    problem(patch(&t, &dana, "/api/v1/contacts/999999", json!({ "name": "x" })).await, 404).await;
    let (other, theirs) = another_accounts_contact(&t).await;
    problem(patch(&t, &dana, &format!("/api/v1/contacts/{theirs}"), json!({ "name": "Mine" })).await, 404).await;
    problem(t.get(&dana, &format!("/api/v1/contacts/{theirs}/notes")).await, 404).await;
    assert_eq!(t.services.store.contact(other, theirs).await.unwrap().name, "Theirs");
}
both_backends!(name_zone_and_attributes);

async fn notes_about_the_person(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let dana = t.token_for("dana@example.com", Role::Agent).await;
    let lee = t.token_for("lee@example.com", Role::Agent).await;
    let alex = t.token_for("alex@example.com", Role::Admin).await;
    let conv = json(t.text_in(inbox, "+14155550112", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let id = contact_of(&t, &dana, conv).await;
    let notes = format!("/api/v1/contacts/{id}/notes");

    let r = t.post(&dana, &notes, json!({ "body": "Prefers texts after 5pm" })).await;
    assert_eq!(r.status(), 201);
    let first = json(r).await;
    assert_eq!(first["body"], "Prefers texts after 5pm");
    let second = json(t.post(&lee, &notes, json!({ "body": "Allergic to latex" })).await).await;
    let list = json(t.get(&dana, &notes).await).await;
    let bodies: Vec<&str> = list.as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Allergic to latex", "Prefers texts after 5pm"], "newest first");

    assert!(problem(t.post(&dana, &notes, json!({ "body": "   " })).await, 422).await.contains("empty"));
    assert!(problem(t.post(&dana, &notes, json!({ "body": "n".repeat(2001) })).await, 422).await.contains("2000"));
    problem(t.post(&dana, "/api/v1/contacts/999999/notes", json!({ "body": "x" })).await, 404).await;

    // Someone else's note cannot be deleted; one's own can; an admin may delete any.
    let lees = format!("{notes}/{}", second["id"]);
    problem(delete(&t, &dana, &lees).await, 403).await;
    assert_eq!(json(t.get(&dana, &notes).await).await.as_array().unwrap().len(), 2, "nothing lost");
    assert_eq!(delete(&t, &dana, &format!("{notes}/{}", first["id"])).await.status(), 204);
    problem(delete(&t, &dana, &format!("{notes}/{}", first["id"])).await, 404).await;
    assert_eq!(delete(&t, &alex, &lees).await.status(), 204);
    assert!(json(t.get(&dana, &notes).await).await.as_array().unwrap().is_empty());
}
both_backends!(notes_about_the_person);

async fn previous_conversations_and_the_panel(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    let dana = t.token_for("lee@example.com", Role::Agent).await;
    let old =
        json(t.text_in(inbox, "+14155550113", "my first order", None).await).await["conversation_id"].as_i64().unwrap();
    let r = t.post(&dana, &format!("/api/v1/conversations/{old}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    // Resolved long ago: the next text starts a new conversation.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    sqlx::query("UPDATE conversations SET resolved_at = 0 WHERE id = $1").bind(old).execute(&pool).await.unwrap();
    pool.close().await;
    let new =
        json(t.text_in(inbox, "+14155550113", "second order", None).await).await["conversation_id"].as_i64().unwrap();
    assert_ne!(old, new);
    let id = contact_of(&t, &dana, new).await;

    // The API's one way: the conversations list filtered by contact, newest first.
    let list = json(t.get(&dana, &format!("/api/v1/conversations?contact_id={id}")).await).await;
    let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [new, old]);
    assert_eq!(list["items"][1]["status"], "resolved");

    // The panel shows the other conversation with a link, and the identities per channel.
    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{new}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("href=\"/conversations/{old}\"")), "previous conversation linked");
    assert!(!html.contains(&format!("href=\"/conversations/{new}\">")), "not itself");
    assert!(html.contains("<span class=\"badge channel\">SMS</span> +14155550113"));
    assert!(html.contains("inferred from the number"));
}
both_backends!(previous_conversations_and_the_panel);

async fn panel_forms_edit_the_contact(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    t.user("dana@example.com", Role::Agent).await;
    t.user("lee@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550114", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let page = t.url(&format!("/conversations/{conv}"));
    let csrf = csrf_of(&browser.get(&page).send().await.unwrap().text().await.unwrap());
    let post = |path: &str, form: Vec<(&str, String)>| {
        let mut form = form;
        form.push(("csrf", csrf.clone()));
        browser.post(t.url(&format!("/conversations/{conv}{path}"))).form(&form).send()
    };
    let mut live = t.services.store.events().subscribe();

    let r = post("/contact", vec![("name", "Ana Ruiz".into()), ("time_zone", "Europe/Oslo".into())]).await.unwrap();
    assert_eq!(r.status(), 303);
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv()).await.unwrap().unwrap();
    assert_eq!((ev.kind.as_str(), ev.conversation_id), ("conversation.updated", conv), "other tabs refresh");
    let r = post("/contact/attributes", vec![("key", "plan".into()), ("value", "pro".into())]).await.unwrap();
    assert_eq!(r.status(), 303);
    let r = post("/contact/notes", vec![("body", "Call before noon".into())]).await.unwrap();
    assert_eq!(r.status(), 303);
    let html = browser.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("value=\"Ana Ruiz\"") && html.contains("value=\"Europe/Oslo\""));
    assert!(html.contains("<label for=\"attr-1\">plan</label>") && html.contains("value=\"pro\""));
    assert!(html.contains("Call before noon"));

    // A bad key is refused in the panel, with the reason, and nothing changes.
    let r = post("/contact/attributes", vec![("key", "no spaces please".into()), ("value", "x".into())]).await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"panel-error\"") && html.contains("letters, digits"), "shown in the panel");
    let r = post("/contact", vec![("name", "Ana".into()), ("time_zone", "Nowhere/Land".into())]).await.unwrap();
    assert_eq!(r.status(), 422);
    let contact = t
        .services
        .store
        .contact(t.account_id, t.services.store.conversation(t.account_id, conv).await.unwrap().contact_id)
        .await
        .unwrap();
    assert_eq!((contact.name.as_str(), contact.time_zone.as_deref()), ("Ana Ruiz", Some("Europe/Oslo")));

    // Removing an attribute, and another agent cannot delete Dana's note.
    let r = post("/contact/attributes", vec![("key", "plan".into()), ("action", "remove".into())]).await.unwrap();
    assert_eq!(r.status(), 303);
    let note = t.services.store.contact_notes(t.account_id, contact.id).await.unwrap()[0].id;
    let lee = t.browser("lee@example.com").await;
    let lee_csrf = csrf_of(&lee.get(&page).send().await.unwrap().text().await.unwrap());
    let r = lee
        .post(t.url(&format!("/conversations/{conv}/contact/notes/{note}/delete")))
        .form(&[("csrf", lee_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(&format!("/contact/notes/{note}/delete"), vec![]).await.unwrap();
    assert_eq!(r.status(), 303);
    let contact = t.services.store.contact(t.account_id, contact.id).await.unwrap();
    assert!(contact.attributes.as_object().unwrap().is_empty());
    assert!(t.services.store.contact_notes(t.account_id, contact.id).await.unwrap().is_empty());

    // A forged form changes nothing.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/contact")))
        .form(&[("csrf", "forged"), ("name", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(t.services.store.contact(t.account_id, contact.id).await.unwrap().name, "Ana Ruiz");
}
both_backends!(panel_forms_edit_the_contact);

async fn enter_to_send_preference(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let me = json(t.get(&token, "/api/v1/me").await).await;
    assert_eq!(me["email"], "dana@example.com");
    assert!(me["preferences"]["enter_sends"].is_null(), "not chosen yet: {me}");

    let r = patch(&t, &token, "/api/v1/me", json!({ "preferences": { "enter_sends": false } })).await;
    assert_eq!(json(r).await["preferences"]["enter_sends"], false);
    let conv = json(t.text_in(inbox, "+14155550115", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let page = t.url(&format!("/conversations/{conv}"));
    let html = browser.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-enter-sends=\"off\"") && html.contains(">Ctrl+Enter to send · Enter for a new line<"));

    // The composer's toggle (a form of its own) turns it back on.
    let csrf = csrf_of(&html);
    let r = browser
        .post(t.url("/preferences"))
        .form(&[("csrf", csrf.as_str()), ("enter_sends", "on"), ("next", &format!("/conversations/{conv}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/conversations/{conv}"));
    let html = browser.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-enter-sends=\"on\"") && html.contains(">Enter to send · Shift+Enter for a new line<"));
    assert_eq!(json(t.get(&token, "/api/v1/me").await).await["preferences"]["enter_sends"], true);

    let r = patch(&t, &token, "/api/v1/me", json!({ "preferences": { "enter_sends": null } })).await;
    assert!(json(r).await["preferences"]["enter_sends"].is_null());
    problem(patch(&t, &token, "/api/v1/me", json!({ "preferences": { "enter_sends": "yes" } })).await, 400).await;
    problem(patch(&t, &token, "/api/v1/me", json!({ "theme": "dark" })).await, 400).await;
}
both_backends!(enter_to_send_preference);

async fn composer_attachments(db: Db) {
    let t = app(db).config(|c| c.media_max_bytes = 4096).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550116", "send me the form", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let browser = t.browser("dana@example.com").await;
    let page = t.url(&format!("/conversations/{conv}"));
    let html = browser.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("type=\"file\" name=\"files\" multiple"));
    let csrf = csrf_of(&html);
    let send = |path: String, ct: String, body: Vec<u8>| {
        browser.post(t.url(&path)).header("content-type", ct).body(body).send()
    };

    // Without script: the files go with the reply form and are sent with it.
    let (ct, body) = multipart(
        &[("csrf", &csrf), ("body", "Here it is"), ("media_ids", "")],
        &[("files", "pixel.png", "image/png", PNG), ("files", "form.pdf", "application/pdf", b"%PDF-1.4 test")],
    );
    let r = send(format!("/conversations/{conv}/reply"), ct, body).await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let messages = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let sent = messages.as_array().unwrap().last().unwrap().clone();
    assert_eq!(sent["body"], "Here it is");
    let kinds: Vec<&str> =
        sent["media"].as_array().unwrap().iter().map(|m| m["content_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["image/png", "application/pdf"]);
    let html = browser.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("alt=\"Picture from the conversation\""), "the picture inline");
    assert!(html.contains("Download application/pdf"), "the file as a download link");

    // With script: upload first (the chips), then a picture alone.
    let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "pixel.png", "image/png", PNG)]);
    let r = send(format!("/conversations/{conv}/attachments"), ct, body).await.unwrap();
    assert_eq!(r.status(), 201);
    let up = json(r).await;
    let media_id = up[0]["id"].as_i64().unwrap();
    assert!(up[0]["url"].as_str().unwrap().contains("/media/"), "a link for the thumbnail");
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/reply")))
        .form(&[("csrf", csrf.as_str()), ("body", ""), ("media_ids", &media_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let messages = json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await;
    let alone = messages.as_array().unwrap().last().unwrap().clone();
    assert_eq!((alone["body"].as_str(), alone["media"][0]["id"].as_i64()), (Some(""), Some(media_id)));
    // Nothing at all is still refused.
    let r = browser
        .post(t.url(&format!("/conversations/{conv}/reply")))
        .form(&[("csrf", csrf.as_str()), ("body", " ")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Refused with a clear reason: SVG, a file over the limit, far over it, no CSRF.
    let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "x.svg", "image/svg+xml", b"<svg/>")]);
    let detail = problem(send(format!("/conversations/{conv}/attachments"), ct, body).await.unwrap(), 422).await;
    assert!(detail.contains("image/svg+xml") && detail.contains("not kept"), "{detail}");
    let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "big.png", "image/png", &[0u8; 5000])]);
    let detail = problem(send(format!("/conversations/{conv}/attachments"), ct, body).await.unwrap(), 422).await;
    assert!(detail.contains("larger than 4 KB"), "{detail}");
    // Just past the form's limit (4 KB of media and 64 KiB for the form around it): a body far past it would still
    // be on its way when the server answers and closes, and the client would see a broken pipe, not the 413.
    let huge = vec![0u8; 4 * 1024 + 64 * 1024 + 1];
    let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "huge.png", "image/png", &huge)]);
    let detail = problem(send(format!("/conversations/{conv}/attachments"), ct, body).await.unwrap(), 413).await;
    assert!(detail.contains("at most 4 KB"), "{detail}");
    let (ct, body) = multipart(&[("csrf", "forged")], &[("files", "pixel.png", "image/png", PNG)]);
    assert_eq!(send(format!("/conversations/{conv}/attachments"), ct, body).await.unwrap().status(), 403);
    let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "pixel.png", "image/png", PNG)]);
    problem(send("/conversations/999999/attachments".into(), ct, body).await.unwrap(), 404).await;
    // A reply whose file is refused keeps the draft and sends nothing.
    let before =
        json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().len();
    let (ct, body) =
        multipart(&[("csrf", &csrf), ("body", "keep me")], &[("files", "x.svg", "image/svg+xml", b"<svg/>")]);
    let r = send(format!("/conversations/{conv}/reply"), ct, body).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains(">keep me</textarea>"));
    let after =
        json(t.get(&token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().len();
    assert_eq!(before, after);
}
both_backends!(composer_attachments);

async fn attachments_over_the_api(db: Db) {
    let t = app(db).start().await;
    let inbox = t.simulator_inbox().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let conv = json(t.text_in(inbox, "+14155550117", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    let upload = || async {
        let r = t
            .client
            .post(t.url("/api/v1/media"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        json(r).await["id"].as_i64().unwrap()
    };
    // A picture alone, and a private note with a file (kept with the note, never sent).
    let messages = format!("/api/v1/conversations/{conv}/messages");
    let r = t.post(&token, &messages, json!({ "body": "", "media_ids": [upload().await] })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["status"], "queued");
    let r = t.post(&token, &messages, json!({ "body": "", "private": true, "media_ids": [upload().await] })).await;
    assert_eq!(r.status(), 201);
    let note = json(r).await;
    assert_eq!((note["private"].as_bool(), note["media"].as_array().unwrap().len()), (Some(true), 1));
    assert!(problem(t.post(&token, &messages, json!({ "body": "" })).await, 422).await.contains("empty"));

    // SMPP carries text only: attachments are refused with the reason, nothing is stored.
    let smpp = t
        .services
        .store
        .create_inbox(textdesk_store::NewInbox {
            account_id: t.account_id,
            name: "SMSC".into(),
            provider: "smpp".into(),
            medium: textdesk_core::Medium::Sms,
            sender: "+14155550180".into(),
            settings: json!({}),
            secrets: json!({}),
        })
        .await
        .unwrap()
        .id;
    let from = textdesk_core::Address::parse(textdesk_core::Medium::Sms, "+14155550118").unwrap();
    let event = textdesk_channels::InboundEvent::Message {
        from,
        provider_id: "smsc-1".into(),
        body: "hello".into(),
        media: Vec::new(),
        received_at: jiff::Timestamp::now(),
        consent_signal: None,
    };
    let smpp_conv = match t.services.ingest(smpp, event).await.unwrap() {
        textdesk::services::ingest::Ingested::Message(textdesk_store::IngestOutcome::Stored {
            conversation_id,
            ..
        }) => conversation_id,
        _ => panic!("the SMSC's text was not stored"),
    };
    let path = format!("/api/v1/conversations/{smpp_conv}/messages");
    let body = json!({ "body": "see picture", "media_ids": [upload().await] });
    let detail = problem(t.post(&token, &path, body).await, 422).await;
    assert!(detail.contains("cannot carry attachments"), "{detail}");
    assert_eq!(json(t.get(&token, &path).await).await.as_array().unwrap().len(), 1, "only the customer's text");
}
both_backends!(attachments_over_the_api);
