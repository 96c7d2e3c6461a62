//! The audit trail (F12) over real HTTP on both backends: an entry for each
//! act an admin must be able to account for (sign-ins and failures, settings
//! changes, consent recorded by hand, exports, deletions, role changes), the
//! page's filters, the export as CSV and JSON (itself audited), and the
//! database refusing to change or remove an entry.

use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, TestApp, json};

/// The trail as the API exports it (JSON), newest first.
async fn trail(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = t.get(token, &format!("/api/v1/audit?format=json{query}")).await;
    assert_eq!(r.status(), 200, "{query}");
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    body.as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

async fn each_act_is_audited(db: Db) {
    let t = common::app(db).start().await;
    let admin_user = t.user("admin@example.com", Role::Admin).await;
    let admin = textdesk::services::auth::create_token(&t.services.store, admin_user.id, "t").await.unwrap().1;
    let agent_user = t.user("agent@example.com", Role::Agent).await;
    let agent = textdesk::services::auth::create_token(&t.services.store, agent_user.id, "t").await.unwrap().1;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550111", "Hi", None).await).await["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(&agent, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();

    // Sign-ins: a success and a failure (the typed e-mail, the address).
    t.browser("agent@example.com").await;
    let r = common::sign_in(&t.client, &t.base, "agent@example.com", "not the password").await;
    assert_eq!(r.status(), 401);
    // Settings: the account's and an inbox's.
    let r = t.client.patch(t.url("/api/v1/account")).bearer_auth(&admin);
    let r = r.json(&json!({ "settings": { "quiet_hours": "09:00-20:00" } })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.client.patch(t.url(&format!("/api/v1/inboxes/{inbox}"))).bearer_auth(&admin);
    assert_eq!(r.json(&json!({ "name": "Front desk" })).send().await.unwrap().status(), 200);
    // Consent an agent recorded, and the ledger exported.
    let body = json!({ "state": "opted_in", "source": "verbal", "evidence": "Asked at the desk" });
    assert_eq!(t.post(&agent, &format!("/api/v1/contacts/{contact}/consent"), body).await.status(), 201);
    assert_eq!(t.get(&admin, "/api/v1/consent/export").await.status(), 200);
    // A contact's data exported; a label deleted; a role changed.
    assert_eq!(t.get(&admin, &format!("/api/v1/contacts/{contact}/export")).await.status(), 200);
    let label =
        json(t.post(&admin, "/api/v1/labels", json!({ "name": "billing" })).await).await["id"].as_i64().unwrap();
    let r = t.client.delete(t.url(&format!("/api/v1/labels/{label}"))).bearer_auth(&admin).send().await.unwrap();
    assert!(r.status().is_success());
    let r = t.client.patch(t.url(&format!("/api/v1/users/{}", agent_user.id))).bearer_auth(&admin);
    assert_eq!(r.json(&json!({ "role": "supervisor" })).send().await.unwrap().status(), 200);

    let all = trail(&t, &admin, "").await;
    let got = actions(&all);
    for want in [
        "sign_in.succeeded",
        "sign_in.failed",
        "settings.account",
        "settings.inbox",
        "consent.recorded",
        "consent.exported",
        "contact.exported",
        "label.deleted",
        "user.role_changed",
    ] {
        assert!(got.contains(&want), "{want} is not in the trail: {got:?}");
    }
    let by = |action: &str| all.iter().find(|e| e["action"] == action).unwrap().clone();
    assert_eq!(by("sign_in.succeeded")["actor_user_id"].as_i64(), Some(agent_user.id));
    assert_eq!(by("sign_in.failed")["subject"], "agent@example.com");
    assert!(by("sign_in.failed")["ip"].as_str().is_some_and(|ip| ip.starts_with("127.")));
    assert_eq!(by("consent.recorded")["actor_user_id"].as_i64(), Some(agent_user.id));
    assert_eq!(by("consent.recorded")["subject"], format!("contact:{contact}"));
    assert_eq!(by("user.role_changed")["detail"], "agent → supervisor.");
    assert_eq!(by("settings.account")["detail"], "Changed: quiet_hours.", "sections named, values never");
    // The export is in the trail it exported, newest first.
    assert_eq!(trail(&t, &admin, "").await[0]["action"], "audit.exported");

    // Filters: what (an action or its family), who, when.
    let sign_ins = trail(&t, &admin, "&what=sign_in").await;
    assert!(!sign_ins.is_empty() && actions(&sign_ins).iter().all(|a| a.starts_with("sign_in.")), "{sign_ins:?}");
    let failed = trail(&t, &admin, "&what=sign_in.failed").await;
    assert_eq!(actions(&failed), vec!["sign_in.failed"]);
    let agents = trail(&t, &admin, &format!("&who={}", agent_user.id)).await;
    assert!(agents.iter().all(|e| e["actor_user_id"].as_i64() == Some(agent_user.id)) && agents.len() >= 2);
    assert!(trail(&t, &admin, "&to=2020-01-31").await.is_empty());
    assert!(!trail(&t, &admin, "&from=2020-01-31").await.is_empty());
    assert_eq!(t.get(&admin, "/api/v1/audit?from=yesterday").await.status(), 422);
    assert_eq!(t.get(&admin, "/api/v1/audit?format=xml").await.status(), 422);
    assert_eq!(t.get(&agent, "/api/v1/audit").await.status(), 403);

    // CSV: a header and a line per entry, quoted where needed.
    let r = t.get(&admin, "/api/v1/audit?format=csv&what=consent.recorded").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("audit-trail.csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,at,actor_user_id,actor_name,action,subject,ip,detail");
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("consent.recorded") && lines[1].contains(&format!("contact:{contact}")), "{csv}");

    // The page: filtered, with the export links carrying the filter.
    let browser = t.browser("admin@example.com").await;
    let page = browser.get(t.url("/settings/audit?what=sign_in.failed")).send().await.unwrap().text().await.unwrap();
    let table = &page[page.find("id=\"audit\"").expect("the entries' table")..];
    assert!(table.contains("Sign-in failed") && !table.contains("Role changed"), "{page}");
    assert!(
        page.contains("<option value=\"user.role_changed\">Role changed</option>"),
        "the filter offers every action"
    );
    assert!(page.contains("/settings/audit/export?format=csv&amp;what=sign_in.failed"), "{page}");
    let r = browser.get(t.url("/settings/audit/export?format=csv&what=sign_in.failed")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().lines().count(), 2);
    // The form as a browser sends it, "Anyone" and no dates included.
    let all = browser.get(t.url("/settings/audit?who=&what=consent.recorded&from=&to=")).send().await.unwrap();
    assert_eq!(all.status(), 200);
    assert!(all.text().await.unwrap().contains("Consent recorded by hand"));
    let bad = browser.get(t.url("/settings/audit?from=31/01/2026")).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    let agent_b = t.browser("agent@example.com").await;
    assert_eq!(agent_b.get(t.url("/settings/audit/export")).send().await.unwrap().status(), 403);
}

both_backends!(each_act_is_audited);

/// The database itself refuses to change or remove an entry (on PostgreSQL and SQLite).
async fn the_trail_is_append_only(db: Db) {
    let t = common::app(db).start().await;
    t.user("admin@example.com", Role::Admin).await;
    let r = common::sign_in(&t.client, &t.base, "admin@example.com", "wrong password here").await;
    assert_eq!(r.status(), 401);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let count = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&pool).await.unwrap();
        n
    };
    let before = count().await;
    assert!(before >= 1);
    for sql in ["UPDATE audit_log SET detail = 'nothing happened'", "DELETE FROM audit_log"] {
        let e = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(count().await, before);
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log").fetch_all(&pool).await.unwrap();
    assert!(details.iter().all(|d| d != "nothing happened"));
    pool.close().await;
}

both_backends!(the_trail_is_append_only);
