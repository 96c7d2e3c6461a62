//! Contacts CSV through the real `textdesk contacts import|export` commands:
//! a dry run names each bad row and writes nothing; an import merges known
//! numbers, puts consent evidence in the ledger as imported; an export
//! imports back cleanly.

use crate::common;

use common::binary::Env;
use common::{Db, app, json};
use serde_json::Value;
use textdesk_core::Role;

const HEADER: &str =
    "name,phone,email,time_zone,consent_state,consent_source,consent_evidence,consent_recorded_at,plan";

fn env_of(t: &common::TestApp) -> (Env, std::path::PathBuf) {
    let data_dir = t.services.media.dir.parent().unwrap().to_owned();
    (Env::new(&t.database_url, &data_dir).set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY), data_dir)
}

/// Runs the command; (succeeded, stdout, stderr).
fn run(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = env.command(args).stdin(std::process::Stdio::null()).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

async fn contacts(t: &common::TestApp, token: &str) -> Vec<Value> {
    json(t.get(token, "/api/v1/contacts?limit=200").await).await.as_array().unwrap().clone()
}

async fn import_dry_run_names_each_bad_row(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let (env, dir) = env_of(&t);
    let file = dir.join("contacts.csv");
    let text = [
        format!("\u{feff}{HEADER}"),
        "\"Ruiz, Ana\",+14155550111,ana@example.com,America/Chicago,opted_in,web_form,\"signup form, page 2\",2026-03-01,pro".into(),
        "Ben,12,,,,,,,".into(),
        "Cara,+14155550133,,,maybe,paper,,2026-03-01,".into(),
        "Dev,+14155550144,,,opted_out,paper,,yesterday,".into(),
        "Eve,+14155550155,".into(),
        "Fay,+14155550166,,,opted_in,phone,\"said yes\non the phone\",2026-03-02T10:00:00Z,basic".into(),
        "Gus,+14155550177,not-an-email,Mars/Base,,,,,".into(),
    ]
    .join("\r\n");
    std::fs::write(&file, text).unwrap();
    let (ok, out, err) = run(&env, &["contacts", "import", file.to_str().unwrap(), "--dry-run"]);
    assert!(!ok, "bad rows make the command fail: {out}");
    for expected in [
        "line 3, column phone:",
        "line 4, column consent_state: \"maybe\" is not a consent state",
        "line 5, column consent_recorded_at: \"yesterday\" is not a date",
        "line 6: it has 3 columns where the header has 9",
        "line 9, column email:",
        "line 9, column time_zone:",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    assert!(!out.contains("line 2") && !out.contains("line 7"), "the good rows are not named:\n{out}");
    assert!(out.contains("7 rows read: 2 new contacts would be created"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(err.contains("checking rows:"), "progress on stderr: {err}");
    assert!(contacts(&t, &admin).await.is_empty(), "a dry run writes nothing");
}
both_backends!(import_dry_run_names_each_bad_row);

async fn import_keeps_evidence_and_exports_round_trip(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    // Ana texted already; Cara said STOP today.
    t.text_in(inbox, "+14155550111", "Hi", None).await;
    t.text_in(inbox, "+14155550133", "STOP", None).await;
    let (env, dir) = env_of(&t);
    let file = dir.join("contacts.csv");
    let text = [
        HEADER.to_owned(),
        "Ana Ruiz,+14155550111,ana@example.com,America/Chicago,opted_in,web_form,\"signup form, page 2\",2026-03-01,pro".into(),
        "Ben,(415) 555-0122,,,opted_out,paper,unsubscribe slip,2026-02-01T09:30:00Z,".into(),
        "Ben Ode,+14155550122,,,,,,,basic".into(),
        "Cara,+14155550133,,,opted_in,web_form,old list,2026-01-01,".into(),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let (ok, out, err) = run(&env, &["contacts", "import", file.to_str().unwrap(), "--region", "US"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("4 rows read: 1 new contacts were created, 3 were merged"), "{out}");
    assert!(out.contains("2 consent records were added"), "Cara's old opt-in does not undo today's STOP: {out}");

    let all = contacts(&t, &admin).await;
    assert_eq!(all.len(), 3, "duplicates by phone merged: {all:?}");
    let by_phone = |p: &str| all.iter().find(|c| c["identities"][0]["address"] == p).unwrap().clone();
    let ana = by_phone("+14155550111");
    assert_eq!(ana["name"], "Ana Ruiz");
    assert_eq!(ana["attributes"]["email"], "ana@example.com");
    assert_eq!(ana["attributes"]["plan"], "pro");
    assert_eq!(ana["consent"], "opted_in");
    let ledger = json(t.get(&admin, &format!("/api/v1/contacts/{}/consent", ana["id"])).await).await;
    assert_eq!(ledger[0]["source"], "imported");
    assert_eq!(ledger[0]["scope"], "account");
    assert_eq!(
        ledger[0]["evidence"],
        "web_form: signup form, page 2 (recorded 2026-03-01T00:00:00Z; imported from contacts.csv, line 2)"
    );
    let ben = by_phone("+14155550122");
    assert_eq!((ben["name"].as_str(), ben["attributes"]["plan"].as_str()), (Some("Ben Ode"), Some("basic")));
    assert_eq!(ben["consent"], "opted_out");
    let cara = by_phone("+14155550133");
    let ledger = json(t.get(&admin, &format!("/api/v1/contacts/{}/consent", cara["id"])).await).await;
    assert_eq!(ledger.as_array().unwrap().len(), 1, "{ledger}");
    assert_eq!(ledger[0]["source"], "keyword");

    // Export, then the export imports back without a fault.
    let out_file = dir.join("export.csv");
    let (ok, _, err) = run(&env, &["contacts", "export", "--to", out_file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let exported = std::fs::read_to_string(&out_file).unwrap();
    let mut lines = exported.lines();
    assert_eq!(
        lines.next().unwrap(),
        "name,phone,email,time_zone,consent_state,consent_source,consent_evidence,consent_recorded_at,plan"
    );
    assert!(
        exported.contains("Ana Ruiz,+14155550111,ana@example.com,America/Chicago,opted_in,imported,"),
        "{exported}"
    );
    let (ok, out, err) = run(&env, &["contacts", "import", out_file.to_str().unwrap(), "--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 rows read: 0 new contacts would be created, 3 would be merged"), "{out}");
    assert!(out.contains("0 bad rows"), "{out}");
    let audit = t.services.store.audit_entries(t.account_id, None, 50).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "contacts.imported"));
    assert!(audit.iter().any(|e| e.action == "contacts.exported" && e.detail.starts_with("3 contacts")));
}
both_backends!(import_keeps_evidence_and_exports_round_trip);

async fn the_contacts_page_checks_an_upload_and_streams_the_export(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("ada@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let admin = t.browser("ada@example.com").await;
    let html = admin.get(t.url("/contacts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Import from a CSV file") && html.contains("/contacts/export.csv"), "{html}");
    let csrf = common::csrf_of(&html);
    let file = format!("{HEADER}\nAna,+14155550111,,,,,,,pro\nBen,555,,,,,,,\n");
    let (ct, body) =
        common::multipart(&[("csrf", &csrf), ("dry_run", "1")], &[("file", "c.csv", "text/csv", file.as_bytes())]);
    let r = admin.post(t.url("/contacts/import")).header("content-type", ct).body(body).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Dry run: nothing was written") && page.contains("line 3, column phone"), "{page}");
    assert!(contacts(&t, &token).await.is_empty());

    // Without the dry run the good row is imported and the bad one named.
    let (ct, body) = common::multipart(&[("csrf", &csrf)], &[("file", "c.csv", "text/csv", file.as_bytes())]);
    let r = admin.post(t.url("/contacts/import")).header("content-type", ct).body(body).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("1 new contacts were created"));
    let r = admin.get(t.url("/contacts/export.csv")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.contains("\nAna,+14155550111,,,,,,,pro\n"), "{csv}");

    // Agents find contacts but neither import nor export.
    let agent = t.browser("dana@example.com").await;
    let html = agent.get(t.url("/contacts")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Ana") && !html.contains("Import from a CSV file"));
    assert_eq!(agent.get(t.url("/contacts/export.csv")).send().await.unwrap().status(), 403);
}
both_backends!(the_contacts_page_checks_an_upload_and_streams_the_export);

/// The contact a number belongs to, straight from the store.
async fn contact_of(t: &common::TestApp, phone: &str) -> textdesk_store::Contact {
    let address = textdesk_core::Address::parse(textdesk_core::Medium::Sms, phone).unwrap();
    t.services.store.contact_by_address(t.account_id, &address).await.unwrap().unwrap_or_else(|| panic!("{phone}"))
}

/// A file longer than one write (200 rows) behaves as if its rows were
/// written one after another: a number seen earlier in the same batch or an
/// earlier one merges, the ledger is read as the earlier rows left it, an
/// opt-out carried from an erased contact holds, and an imported opt-out
/// stops a known customer's waiting conversation and its queued automatic reply.
async fn an_import_over_several_batches_reads_as_one_row_after_another(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    // Bo said STOP, then asked to be erased.
    let bo = json(t.text_in(inbox, "+12125550199", "STOP", None).await).await["conversation_id"].as_i64().unwrap();
    let bo = json(t.get(&admin, &format!("/api/v1/conversations/{bo}")).await).await["contact_id"].as_i64().unwrap();
    assert_eq!(t.post(&admin, &format!("/api/v1/contacts/{bo}/erasure"), serde_json::json!({})).await.status(), 200);
    // Ana writes while the inbox is closed: the off-hours reply waits in the outbox.
    let (zone, _) = common::zone_at_hour(2);
    let days: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), serde_json::json!(["09:00-17:00"])))
        .collect();
    let hours = serde_json::json!({ "settings": { "hours": { "zone": zone, "weekly": days } } });
    let r = t.client.patch(t.url(&format!("/api/v1/inboxes/{inbox}"))).bearer_auth(&admin).json(&hours).send().await;
    assert_eq!(r.unwrap().status(), 200);
    let ana_conv =
        json(t.text_in(inbox, "+12125550111", "Can I move my appointment?", None).await).await["conversation_id"]
            .as_i64()
            .unwrap();
    t.services.run_automations().await.unwrap();
    let automatic = |msgs: Value| {
        msgs.as_array().unwrap().iter().filter(|m| m["direction"] == "outbound" && m["author_id"].is_null()).count()
    };
    let thread = format!("/api/v1/conversations/{ana_conv}/messages");
    assert_eq!(automatic(json(t.get(&admin, &thread).await).await), 1, "the off-hours reply is queued");

    let zed = "+13125550100";
    let mut lines = vec![
        "name,phone,consent_state,consent_source,consent_evidence,consent_recorded_at,plan,customer_no".to_owned(),
        "Ana Ruiz,+12125550111,opted_out,paper,unsubscribe slip,2026-02-01,,".into(),
        "Bo Back,+12125550199,opted_in,web_form,old list,2026-03-01,,".into(),
        format!("Zed,{zed},opted_in,web_form,signup,2026-03-01,basic,"),
        format!(",{zed},,,,,,C7"),
    ];
    for i in 4..450 {
        if i == 300 {
            lines.push(format!("Zed Last,{zed},opted_out,phone,asked on a call,2026-04-01,,"));
        } else {
            lines.push(format!("Customer {i},+1312234{i:04},,,,,pro,"));
        }
    }
    let (env, dir) = env_of(&t);
    let file = dir.join("many.csv");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (ok, out, err) = run(&env, &["contacts", "import", file.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("450 rows read: 447 new contacts were created, 3 were merged"), "{out}");
    assert!(out.contains("3 consent records were added"), "{out}");

    let z = contact_of(&t, zed).await;
    assert_eq!((z.name.as_str(), z.consent), ("Zed Last", textdesk_core::ConsentState::OptedOut));
    assert_eq!((z.attributes["plan"].as_str(), z.attributes["customer_no"].as_str()), (Some("basic"), Some("C7")));
    let ledger = t.services.store.consent_history(z.id).await.unwrap();
    let kinds: Vec<(&str, &str)> = ledger.iter().map(|e| (e.kind.as_str(), e.source.as_str())).collect();
    assert_eq!(kinds, [("opt_in", "imported"), ("opt_out", "imported")]);
    assert!(ledger[1].evidence.ends_with("imported from many.csv, line 302)"), "{}", ledger[1].evidence);

    let back = contact_of(&t, "+12125550199").await;
    assert_ne!(back.id, bo, "a new contact for the erased one's number");
    assert_eq!((back.name.as_str(), back.consent), ("Bo Back", textdesk_core::ConsentState::OptedOut));
    let ledger = t.services.store.consent_history(back.id).await.unwrap();
    let kinds: Vec<&str> = ledger.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(kinds, ["erasure"], "an old opt-in does not undo the opt-out kept from before the erasure");

    let ana = contact_of(&t, "+12125550111").await;
    assert_eq!((ana.name.as_str(), ana.consent), ("Ana Ruiz", textdesk_core::ConsentState::OptedOut));
    assert_eq!(automatic(json(t.get(&admin, &thread).await).await), 0, "the queued automatic reply is withdrawn");
    let c = json(t.get(&admin, &format!("/api/v1/conversations/{ana_conv}")).await).await;
    assert!(c["waiting_since"].is_null(), "nobody may answer her now: {c}");
    assert_eq!(t.dispatch_all().await, 0);
    let last = contact_of(&t, "+13122340449").await;
    assert_eq!((last.name.as_str(), last.attributes["plan"].as_str()), ("Customer 449", Some("pro")));
}
both_backends!(an_import_over_several_batches_reads_as_one_row_after_another);
