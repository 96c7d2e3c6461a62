//! Merging two contacts who are one person: the preview's values, the merge
//! moving everything in one go, consent where the two ledgers disagree, the
//! undo restoring exactly what moved, and erasing a merged person (nothing of
//! either contact left).

use crate::common;

use common::{Db, app, json};
use serde_json::{Value, json};
use textdesk_core::Role;

/// The contact of the conversation a customer started by texting `inbox` from `from`.
async fn texted(t: &common::TestApp, token: &str, inbox: i64, from: &str, body: &str) -> (i64, i64) {
    let conv = json(t.text_in(inbox, from, body, None).await).await["conversation_id"].as_i64().unwrap();
    let c = json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await;
    (c["contact_id"].as_i64().unwrap(), conv)
}

async fn patch(t: &common::TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = t.client.patch(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    json(r).await
}

async fn consent(t: &common::TestApp, token: &str, contact: i64, state: &str, scope: &str, evidence: &str) {
    let r = t
        .post(
            token,
            &format!("/api/v1/contacts/{contact}/consent"),
            json!({ "state": state, "source": "verbal", "evidence": evidence, "scope": scope }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn problem(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    json(r).await["detail"].as_str().unwrap().to_owned()
}

/// Ana texted the shop's SMS line from her own phone and its second line from
/// her work phone; the second contact has a name, a zone, attributes, a note
/// and a label.
struct Two {
    token: String,
    sms: i64,
    second: i64,
    a: i64,
    b: i64,
    conv_a: i64,
    conv_b: i64,
}

async fn two_contacts(t: &common::TestApp) -> Two {
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let sms = t.simulator_inbox().await;
    let second = t.inbox_with("Second line", "+14155550200", json!({})).await;
    let (a, conv_a) = texted(t, &token, sms, "+14155550111", "Hi, it's Ana").await;
    let (b, conv_b) = texted(t, &token, second, "+14155550122", "Ana again, from work").await;
    assert_ne!(a, b);
    patch(t, &token, &format!("/api/v1/contacts/{a}"), json!({ "name": "Ana", "attributes": { "plan": "pro" } })).await;
    patch(
        t,
        &token,
        &format!("/api/v1/contacts/{b}"),
        json!({ "name": "Ana Ruiz", "time_zone": "America/Chicago", "attributes": { "plan": "basic", "city": "Austin" } }),
    )
    .await;
    let r = t.post(&token, &format!("/api/v1/contacts/{b}/notes"), json!({ "body": "Prefers mornings" })).await;
    assert_eq!(r.status(), 201);
    let lead = t.token_for("lead@example.com", Role::Supervisor).await;
    assert_eq!(t.post(&lead, "/api/v1/labels", json!({ "name": "billing" })).await.status(), 201);
    let r = t
        .client
        .put(t.url(&format!("/api/v1/conversations/{conv_b}/labels")))
        .bearer_auth(&token)
        .json(&json!({ "labels": ["billing"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    Two { token, sms, second, a, b, conv_a, conv_b }
}

async fn merge_preview_values(db: Db) {
    let t = app(db).start().await;
    let w = two_contacts(&t).await;
    let path = format!("/api/v1/contacts/{}/merge/preview", w.a);
    let p = json(t.post(&w.token, &path, json!({ "other_id": w.b })).await).await;
    assert_eq!(p["survivor"]["contact"]["id"], w.a);
    assert_eq!(p["other"]["conversations"], json!([{ "medium": "sms", "conversations": 1 }]));
    assert_eq!(p["other"]["notes"], 1);
    let field =
        |p: &Value, name: &str| p["fields"].as_array().unwrap().iter().find(|f| f["field"] == name).unwrap().clone();
    assert_eq!(
        field(&p, "name"),
        json!({ "field": "name", "survivor": "Ana", "other": "Ana Ruiz", "keep": "survivor", "conflict": true })
    );
    assert_eq!(field(&p, "time_zone")["keep"], "other", "the survivor has no zone of its own");
    assert_eq!(field(&p, "attributes.plan")["keep"], "survivor");
    assert_eq!(field(&p, "attributes.city")["keep"], "other");

    // The agent's picks show in the preview before anything is merged.
    let picked = json(
        t.post(
            &w.token,
            &path,
            json!({ "other_id": w.b, "keep": { "name": "other", "attributes": { "plan": "other" } } }),
        )
        .await,
    )
    .await;
    assert_eq!(field(&picked, "name")["keep"], "other");
    assert_eq!(field(&picked, "attributes.plan")["keep"], "other");

    // Bad input is refused with a reason; nothing is merged by a preview.
    let detail = problem(t.post(&w.token, &path, json!({ "other_id": w.a })).await, 422).await;
    assert!(detail.contains("itself"), "{detail}");
    let detail =
        problem(t.post(&w.token, &path, json!({ "other_id": w.b, "keep": { "name": "both" } })).await, 422).await;
    assert!(detail.contains("survivor or other"), "{detail}");
    let detail = problem(
        t.post(&w.token, &path, json!({ "other_id": w.b, "keep": { "attributes": { "paln": "other" } } })).await,
        422,
    )
    .await;
    assert!(detail.contains("paln"), "{detail}");
    problem(t.post(&w.token, &path, json!({ "other_id": 999_999 })).await, 404).await;
    assert_eq!(t.post(&w.token, &path, json!({ "other": w.b })).await.status(), 400, "a malformed body");
    assert_eq!(t.get(&w.token, &format!("/api/v1/contacts/{}", w.b)).await.status(), 200);
}
both_backends!(merge_preview_values);

async fn merge_moves_everything(db: Db) {
    let t = app(db).start().await;
    let w = two_contacts(&t).await;
    let before_b = json(t.get(&w.token, &format!("/api/v1/contacts/{}", w.b)).await).await;
    let r = t
        .post(
            &w.token,
            &format!("/api/v1/contacts/{}/merge", w.a),
            json!({ "other_id": w.b, "keep": { "name": "other" } }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let m = json(r).await;
    assert_eq!(
        (m["identities_moved"].as_i64(), m["conversations_moved"].as_i64(), m["notes_moved"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    assert!(m["undone_at"].is_null());

    let a = json(t.get(&w.token, &format!("/api/v1/contacts/{}", w.a)).await).await;
    assert_eq!(a["name"], "Ana Ruiz");
    assert_eq!(a["time_zone"], "America/Chicago");
    assert_eq!(a["attributes"], json!({ "plan": "pro", "city": "Austin" }));
    let addresses: Vec<&str> =
        a["identities"].as_array().unwrap().iter().map(|i| i["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["+14155550111", "+14155550122"]);
    let conv_b = json(t.get(&w.token, &format!("/api/v1/conversations/{}", w.conv_b)).await).await;
    assert_eq!(conv_b["contact_id"], w.a, "the conversation moved");
    assert_eq!(conv_b["labels"], json!(["billing"]), "with its labels");
    let notes = json(t.get(&w.token, &format!("/api/v1/contacts/{}/notes", w.a)).await).await;
    assert_eq!(notes[0]["body"], "Prefers mornings");
    assert_eq!(t.get(&w.token, &format!("/api/v1/contacts/{}", w.b)).await.status(), 404, "merged away");
    let list = json(t.get(&w.token, "/api/v1/contacts").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A new text from the work phone lands on the merged contact.
    let (who, _) = texted(&t, &w.token, w.second, "+14155550122", "Any news?").await;
    assert_eq!(who, w.a);

    // The timeline says so, and the audit trail keeps who did it.
    let timeline = json(t.get(&w.token, &format!("/api/v1/conversations/{}/timeline", w.conv_a)).await).await;
    assert!(timeline.to_string().contains("contacts_merged"), "{timeline}");
    let audit = t.services.store.audit_entries(t.account_id, None, 50).await.unwrap();
    let entry = audit.iter().find(|e| e.action == "contact.merged").expect("an audit entry");
    assert_eq!(entry.subject, format!("contact:{}", w.a));
    assert!(entry.detail.contains("1 conversations"), "{}", entry.detail);
    assert!(!entry.detail.contains("+1415"), "no numbers in the audit trail");

    // A contact merged away cannot be merged again.
    problem(t.post(&w.token, &format!("/api/v1/contacts/{}/merge", w.a), json!({ "other_id": w.b })).await, 404).await;
    assert_eq!(before_b["identities"][0]["address"], "+14155550122");
}
both_backends!(merge_moves_everything);

async fn consent_conflicts(db: Db) {
    let t = app(db).start().await;
    let w = two_contacts(&t).await;
    let scope = format!("inbox:{}", w.sms);
    // In order: A opts out of everything, then in on the first line; later B
    // opts back in to everything, then out of the first line.
    consent(&t, &w.token, w.a, "opted_out", "account", "asked on the phone").await;
    consent(&t, &w.token, w.a, "opted_in", &scope, "signed the form").await;
    consent(&t, &w.token, w.b, "opted_in", "account", "web form").await;
    consent(&t, &w.token, w.b, "opted_out", &scope, "said stop at the counter").await;

    let p =
        json(t.post(&w.token, &format!("/api/v1/contacts/{}/merge/preview", w.a), json!({ "other_id": w.b })).await)
            .await;
    let outcome: Vec<(String, String, String, String)> = p["consent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap().to_owned();
            (f("scope"), f("survivor"), f("other"), f("result"))
        })
        .collect();
    assert_eq!(
        outcome,
        [
            ("account".into(), "opted_out".into(), "opted_in".into(), "opted_in".into()),
            (scope.clone(), "opted_in".into(), "opted_out".into(), "opted_out".into()),
        ],
        "the later word wins in each scope: an opt-out holds unless a later opt-in"
    );
    assert_eq!(p["other"]["consent_events"].as_array().unwrap().len(), 2);

    let r = t.post(&w.token, &format!("/api/v1/contacts/{}/merge", w.a), json!({ "other_id": w.b })).await;
    assert_eq!(r.status(), 201);
    let ledger = json(t.get(&w.token, &format!("/api/v1/contacts/{}/consent", w.a)).await).await;
    let evidence: Vec<&str> = ledger.as_array().unwrap().iter().map(|e| e["evidence"].as_str().unwrap()).collect();
    assert_eq!(evidence, ["asked on the phone", "signed the form", "web form", "said stop at the counter"]);

    // The gate reads the merged ledger: the first line is silenced, the second is not.
    let r =
        t.post(&w.token, &format!("/api/v1/conversations/{}/messages", w.conv_a), json!({ "body": "Hi Ana" })).await;
    assert_eq!(r.status(), 409);
    assert_eq!(json(r).await["reason"], "opted_out");
    let r =
        t.post(&w.token, &format!("/api/v1/conversations/{}/messages", w.conv_b), json!({ "body": "Hi Ana" })).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}
both_backends!(consent_conflicts);

async fn undo_restores_exactly(db: Db) {
    let t = app(db).start().await;
    let w = two_contacts(&t).await;
    consent(&t, &w.token, w.b, "opted_out", "account", "said stop").await;
    let get = |id: i64| {
        let (t, token) = (&t, w.token.clone());
        async move { json(t.get(&token, &format!("/api/v1/contacts/{id}")).await).await }
    };
    let strip = |mut c: Value| {
        c.as_object_mut().unwrap().remove("updated_at");
        c
    };
    let (a0, b0) = (strip(get(w.a).await), strip(get(w.b).await));
    let ledger = |id: i64| {
        let (t, token) = (&t, w.token.clone());
        async move { json(t.get(&token, &format!("/api/v1/contacts/{id}/consent")).await).await }
    };
    let (la0, lb0) = (ledger(w.a).await, ledger(w.b).await);
    let notes_b0 = json(t.get(&w.token, &format!("/api/v1/contacts/{}/notes", w.b)).await).await;

    let m = json(
        t.post(
            &w.token,
            &format!("/api/v1/contacts/{}/merge", w.a),
            json!({ "other_id": w.b, "keep": { "name": "other", "attributes": { "plan": "other" } } }),
        )
        .await,
    )
    .await;
    assert_eq!(get(w.a).await["consent"], "opted_out", "the merged person's list state");
    let undo = format!("/api/v1/contact-merges/{}/undo", m["id"]);
    let r = t.post(&w.token, &undo, json!({})).await;
    assert_eq!(r.status(), 200);
    assert!(json(r).await["undone_at"].is_string());

    assert_eq!(strip(get(w.a).await), a0, "the survivor as it was");
    assert_eq!(strip(get(w.b).await), b0, "the other contact as it was");
    assert_eq!((ledger(w.a).await, ledger(w.b).await), (la0, lb0));
    assert_eq!(json(t.get(&w.token, &format!("/api/v1/contacts/{}/notes", w.b)).await).await, notes_b0);
    let conv_b = json(t.get(&w.token, &format!("/api/v1/conversations/{}", w.conv_b)).await).await;
    assert_eq!(conv_b["contact_id"], w.b);
    assert_eq!(conv_b["labels"], json!(["billing"]));
    let timeline = json(t.get(&w.token, &format!("/api/v1/conversations/{}/timeline", w.conv_b)).await).await;
    assert!(timeline.to_string().contains("contacts_unmerged"), "{timeline}");
    let detail = problem(t.post(&w.token, &undo, json!({})).await, 409).await;
    assert!(detail.contains("already undone"), "{detail}");

    // Once the person writes again, the merge stays: undoing would split their new history.
    let m = json(t.post(&w.token, &format!("/api/v1/contacts/{}/merge", w.a), json!({ "other_id": w.b })).await).await;
    t.text_in(w.second, "+14155550122", "Thanks!", None).await;
    let detail =
        problem(t.post(&w.token, &format!("/api/v1/contact-merges/{}/undo", m["id"]), json!({})).await, 409).await;
    assert!(detail.contains("a message was written or received"), "{detail}");

    // And after seven days it stays whatever happened.
    let (c, _) = texted(&t, &w.token, w.sms, "+14155550133", "Hello").await;
    let (d, _) = texted(&t, &w.token, w.sms, "+14155550144", "Hello").await;
    let m = json(t.post(&w.token, &format!("/api/v1/contacts/{c}/merge"), json!({ "other_id": d })).await).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let eight_days_ago = jiff::Timestamp::now().as_millisecond() - 8 * 24 * 3600 * 1000;
    sqlx::query("UPDATE contact_merges SET created_at = $1 WHERE id = $2")
        .bind(eight_days_ago)
        .bind(m["id"].as_i64().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let detail =
        problem(t.post(&w.token, &format!("/api/v1/contact-merges/{}/undo", m["id"]), json!({})).await, 409).await;
    assert!(detail.contains("7 days"), "{detail}");
    problem(t.post(&w.token, "/api/v1/contact-merges/999999/undo", json!({})).await, 404).await;
}
both_backends!(undo_restores_exactly);

async fn erasing_the_survivor_erases_the_merged_contact_too(db: Db) {
    let t = app(db).start().await;
    let w = two_contacts(&t).await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    // A third contact merged into the second first: erasure follows merges however deep.
    let (c, _) = texted(&t, &w.token, w.sms, "+14155550155", "Ana from the gym").await;
    patch(
        &t,
        &w.token,
        &format!("/api/v1/contacts/{c}"),
        json!({ "name": "Ana G", "attributes": { "pet": "Biscuit" } }),
    )
    .await;
    let r = t.post(&w.token, &format!("/api/v1/contacts/{}/merge", w.b), json!({ "other_id": c })).await;
    assert_eq!(r.status(), 201);
    // The survivor keeps its own name: "Ana Ruiz", Austin and the rest stay behind on the merged row and in the record.
    let r = t.post(&w.token, &format!("/api/v1/contacts/{}/merge", w.a), json!({ "other_id": w.b })).await;
    assert_eq!(r.status(), 201);
    let merge = json(r).await["id"].as_i64().unwrap();
    let needles = ["4155550111", "4155550122", "4155550155", "Ana", "Austin", "Biscuit", "Prefers mornings"];
    let held = crate::privacy::every_row(&t).await;
    for needle in ["Ana Ruiz", "Austin", "Biscuit", "Ana G"] {
        assert!(held.iter().any(|(_, r)| r.contains(needle)), "{needle} is held before the erasure");
    }

    let r = t.post(&admin, &format!("/api/v1/contacts/{}/erasure", w.a), json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for (table, row) in crate::privacy::every_row(&t).await {
        for needle in needles {
            assert!(!row.contains(needle), "{table} still holds {needle:?}: {row}");
        }
    }
    // An erased person's merge is not undone (it would bring back an empty husk as if it were someone).
    let detail = problem(t.post(&w.token, &format!("/api/v1/contact-merges/{merge}/undo"), json!({})).await, 409).await;
    assert!(detail.contains("erased"), "{detail}");
    // Their numbers are gone with them: the same number texting again is someone new.
    let again = json(t.text_in(w.second, "+14155550122", "hello?", None).await).await;
    let conv = json(t.get(&w.token, &format!("/api/v1/conversations/{}", again["conversation_id"])).await).await;
    assert_ne!(conv["contact_id"].as_i64(), Some(w.a), "a new contact, not the erased one");
}
both_backends!(erasing_the_survivor_erases_the_merged_contact_too);
