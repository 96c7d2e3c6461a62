//! One person's data exported and erased (F14), over the API, the contact's
//! privacy page and the CLI, on both backends.

use std::io::Read;

use serde_json::{Value, json};
use sqlx::Row;
use textdesk_core::Role;

use crate::common::binary::Env;
use crate::common::{self, Db, PNG, TestApp, app, json};

const NUMBER: &str = "+14155550177";
const DIGITS: &str = "4155550177";
const WORDS: &str = "biopsy results";
const NOTE: &str = "Prefers mornings; husband is Carl";

/// A customer with everything a person leaves behind: their text (naming
/// their number), an agent's reply still queued, a staff note with a picture,
/// a note about them, a name and an attribute, and an opt-out recorded by an
/// agent whose evidence names the number. Returns (contact, conversation).
async fn customer(t: &TestApp, admin: &str) -> (i64, i64) {
    let inbox = t.simulator_inbox().await;
    let first = format!("Any news on my {WORDS}? Call me on 415 555 0177");
    let conv = json(t.text_in(inbox, NUMBER, &first, None).await).await["conversation_id"].as_i64().unwrap();
    let contact =
        json(t.get(admin, &format!("/api/v1/conversations/{conv}")).await).await["contact_id"].as_i64().unwrap();
    let messages = format!("/api/v1/conversations/{conv}/messages");
    assert_eq!(t.post(admin, &messages, json!({ "body": "Your biopsy results are fine" })).await.status(), 201);
    let r = t.client.post(t.url("/api/v1/media")).bearer_auth(admin).header("content-type", "image/png");
    let media = json(r.body(PNG.to_vec()).send().await.unwrap()).await["id"].as_i64().unwrap();
    let r = t.post(admin, &messages, json!({ "body": "scan attached", "private": true, "media_ids": [media] })).await;
    assert_eq!(r.status(), 201);
    let r = t.post(admin, &format!("/api/v1/contacts/{contact}/notes"), json!({ "body": NOTE })).await;
    assert_eq!(r.status(), 201);
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/contacts/{contact}")))
        .bearer_auth(admin)
        .json(&json!({ "name": "Maria Lopez", "attributes": { "plan": "gold" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let consent = json!({ "state": "opted_out", "scope": "account", "source": "verbal", "evidence": "asked on a call from +1 415-555-0177 to stop" });
    let r = t.post(admin, &format!("/api/v1/contacts/{contact}/consent"), consent).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    (contact, conv)
}

fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.insert(f.name().unwrap().into_owned(), buf);
    }
    out
}

fn parsed(files: &std::collections::BTreeMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(files.get(name).unwrap_or_else(|| panic!("{name} in the export"))).unwrap()
}

async fn export_holds_everything_about_them(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (contact, _) = customer(&t, &admin).await;

    let path = format!("/api/v1/contacts/{contact}/export");
    assert_eq!(t.get(&agent, &path).await.status(), 403, "agents may not export");
    assert_eq!(t.get(&admin, "/api/v1/contacts/99999/export").await.status(), 404);
    let r = t.get(&admin, &path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&format!("contact-{contact}.zip")));
    let files = unzip(&r.bytes().await.unwrap());

    let c = parsed(&files, "contact.json");
    assert_eq!(c["contact"]["name"], "Maria Lopez");
    assert_eq!(c["contact"]["attributes"]["plan"], "gold");
    assert_eq!(c["contact"]["identities"][0]["address"], NUMBER);
    let convs = parsed(&files, "conversations.json");
    let bodies: Vec<&str> =
        convs[0]["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert!(
        bodies[0].contains(WORDS)
            && bodies.contains(&"Your biopsy results are fine")
            && bodies.contains(&"scan attached")
    );
    assert_eq!(parsed(&files, "notes.json")[0]["body"], NOTE);
    let consent = parsed(&files, "consent.json");
    assert_eq!(consent[0]["kind"], "opt_out");
    let events = parsed(&files, "events.json");
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "message_received"), "{events}");
    let media = parsed(&files, "media.json");
    let file = media[0]["file"].as_str().unwrap();
    assert_eq!(files[file], PNG, "the picture itself is in the export");
    assert!(files.contains_key("README.txt"));
    // The download was written to disk, not memory, and nothing of it stays there.
    let left = std::fs::read_dir(t.services.media.dir.join(".exports")).unwrap().count();
    assert_eq!(left, 0, "the export's file is gone once sent");

    let audit = t.services.store.audit_entries(t.account_id, None, 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "contact.exported" && a.subject == format!("contact:{contact}")));
}
both_backends!(export_holds_everything_about_them);

/// Every row of every table of the database as text (PostgreSQL: the row's
/// text form; SQLite: each column quoted), FTS index tables left out (their
/// words are checked by searching).
pub(crate) async fn every_row(t: &TestApp) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let postgres = t.database_url.starts_with("postgres");
    let tables_sql = if postgres {
        "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%' AND name NOT LIKE 'sqlite_%'"
    };
    let tables: Vec<String> =
        sqlx::query(tables_sql).fetch_all(&pool).await.unwrap().iter().map(|r| r.get::<String, _>(0)).collect();
    let mut out = Vec::new();
    for table in tables {
        let sql = if postgres {
            format!("SELECT CAST(t AS TEXT) FROM {table} t")
        } else {
            let cols: Vec<String> =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| format!("COALESCE(quote(\"{}\"), '')", r.get::<String, _>(0)))
                    .collect();
            format!("SELECT {} FROM {table}", cols.join(" || ',' || "))
        };
        for r in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&pool).await.unwrap() {
            out.push((table.clone(), r.get::<String, _>(0)));
        }
    }
    pool.close().await;
    out
}

fn media_files(t: &TestApp) -> usize {
    std::fs::read_dir(&t.services.media.dir).map(|d| d.count()).unwrap_or(0)
}

/// What quality control wrote about the conversation: the poll's answer with
/// the customer's comment, and a supervisor's scorecard whose comment quotes
/// them. Returns the review's id.
async fn poll_and_review(t: &TestApp, admin: &str, (contact, conv): (i64, i64)) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let inbox = t.services.store.inboxes(t.account_id).await.unwrap()[0].id;
    sqlx::query(
        "INSERT INTO surveys (account_id, conversation_id, contact_id, inbox_id, kind, state, score, comment,
                              created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'csat', 'commented', 2, $5, 0, 0)",
    )
    .bind(t.account_id)
    .bind(conv)
    .bind(contact)
    .bind(inbox)
    .bind(format!("The {WORDS} took three weeks"))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let why = textdesk_core::review::ReviewReason::LowScore;
    let id = t.services.queue_for_review(t.account_id, conv, why).await.unwrap().unwrap();
    let card =
        json!({ "scores": [4, 4, 4, 4, 4], "comment": format!("She was upset about her {WORDS}; answered kindly") });
    let r = t.client.put(t.url(&format!("/api/v1/reviews/{id}/scorecard"))).bearer_auth(admin).json(&card);
    assert_eq!(r.send().await.unwrap().status(), 200);
    id
}

async fn erasure_leaves_nothing_but_the_hashed_ledger(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let (contact, conv) = customer(&t, &admin).await;
    let review = poll_and_review(&t, &admin, (contact, conv)).await;
    assert_eq!(media_files(&t), 1);
    let before = every_row(&t).await;
    assert!(before.iter().any(|(_, r)| r.contains(DIGITS)), "the number is held before");

    let path = format!("/api/v1/contacts/{contact}/erasure");
    let preview = json(t.get(&admin, &path).await).await;
    assert_eq!(
        (&preview["conversations"], &preview["messages"], &preview["files"], &preview["notes"], &preview["identities"]),
        (&json!(1), &json!(3), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!(t.post(&agent, &path, json!({})).await.status(), 403, "agents may not erase");
    assert_eq!(json(t.get(&admin, &path).await).await, preview, "a refused erasure took nothing");

    let done = json(t.post(&admin, &path, json!({})).await).await;
    assert_eq!(done["messages"], 3);
    assert_eq!(done["cancelled"], 1, "the queued reply will not go");

    // Nothing of theirs is left in any table but the ledger, whose evidence lost the number.
    for (table, row) in every_row(&t).await {
        for needle in [DIGITS, "415-555-0177", "415 555 0177", WORDS, "scan attached", "Maria", "gold", "Carl"] {
            assert!(!row.contains(needle), "{table} still holds {needle:?}: {row}");
        }
    }
    assert_eq!(media_files(&t), 0, "their picture is deleted from disk");
    let ledger = json(t.get(&admin, &format!("/api/v1/contacts/{contact}/consent")).await).await;
    assert_eq!(ledger[0]["kind"], "opt_out");
    assert_eq!(ledger[0]["evidence"], "asked on a call from [number] to stop");
    let found = json(t.get(&admin, "/api/v1/conversations?q=biopsy").await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "search finds none of their words");
    let audit = t.services.store.audit_entries(t.account_id, None, 10).await.unwrap();
    let entry = audit.iter().find(|a| a.action == "contact.erased").expect("audit entry");
    assert!(entry.detail.contains("3 messages") && !entry.detail.contains(DIGITS), "{}", entry.detail);
    // Quality control keeps its figures without their words: the poll's score, the scorecard's.
    let r = json(t.get(&admin, &format!("/api/v1/reviews/{review}")).await).await;
    assert_eq!((r["overall"].as_i64(), r["comment"].as_str()), (Some(75), Some("[erased]")), "{r}");
    let polls = t.services.store.surveys_of(t.account_id, conv).await.unwrap();
    assert_eq!((polls[0].score, polls[0].comment.as_deref()), (Some(2), None));
    // Their conversation still opens, with the words gone.
    let browser = t.browser("ada@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("[erased]"));

    // The same number texts again: a new contact, and the opt-out still holds.
    let inbox = t.services.store.inboxes(t.account_id).await.unwrap()[0].id;
    let again = json(t.text_in(inbox, NUMBER, "hello?", None).await).await["conversation_id"].as_i64().unwrap();
    let c = json(t.get(&admin, &format!("/api/v1/conversations/{again}")).await).await;
    assert_ne!(c["contact_id"].as_i64().unwrap(), contact);
    let r = t.post(&admin, &format!("/api/v1/conversations/{again}/messages"), json!({ "body": "Hi!" })).await;
    assert_eq!(r.status(), 409, "a reply to a number that opted out before its erasure is blocked");
    assert_eq!(json(r).await["reason"], "opted_out");
    // And a STOP from it is honoured as ever (nothing more to confirm: already out).
    t.text_in(inbox, NUMBER, "STOP", None).await;
    let c = json(t.get(&admin, &format!("/api/v1/contacts/{}", c["contact_id"])).await).await;
    assert_eq!(c["consent"], "opted_out");

    // Erasing again finds nothing more.
    let again = json(t.post(&admin, &path, json!({})).await).await;
    assert_eq!((again["messages"].as_i64(), again["files"].as_i64()), (Some(0), Some(0)));
}
both_backends!(erasure_leaves_nothing_but_the_hashed_ledger);

async fn the_privacy_page_names_what_goes_and_asks_first(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let (contact, conv) = customer(&t, &admin).await;
    let path = t.url(&format!("/contacts/{contact}/privacy"));

    // The contact panel links to it.
    let browser = t.browser("ada@example.com").await;
    let thread = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(thread.contains(&format!("/contacts/{contact}/privacy")));

    // An agent is not offered a link that would only refuse them.
    let agent = t.browser("dana@example.com").await;
    let thread = agent.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(thread.contains("Customer since") && !thread.contains("/privacy\""), "{thread}");
    let r = agent.get(&path).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("Only admins") && !html.contains("privacy-erase"), "{html}");
    let r = agent.get(t.url(&format!("/contacts/{contact}/export.zip"))).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let html = browser.get(&path).send().await.unwrap().text().await.unwrap();
    for words in
        ["1 conversation", "3 messages", "1 file", "1 note about them", "1 phone number or address", "Maria Lopez"]
    {
        assert!(html.contains(words), "the page names {words:?}: {html}");
    }
    let csrf = common::csrf_of(&html);
    // Not ticked: nothing goes.
    let r = browser.post(&path).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("tick the box"));
    assert_eq!(t.services.erasure_summary(t.account_id, contact).await.unwrap().messages, 3);
    // A foreign form: refused.
    let r = browser.post(&path).form(&[("csrf", "forged"), ("confirm", "yes")]).send().await.unwrap();
    assert_ne!(r.status(), 200);
    assert_eq!(t.services.erasure_summary(t.account_id, contact).await.unwrap().messages, 3);

    let r = browser.post(&path).form(&[("csrf", csrf.as_str()), ("confirm", "yes")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Erased 3 messages, 1 file, 1 note and 1 number"), "{html}");
    assert!(html.contains("Nothing about them is left to erase"));
    let zip = browser.get(t.url(&format!("/contacts/{contact}/export.zip"))).send().await.unwrap();
    assert_eq!(zip.status(), 200);
    let files = unzip(&zip.bytes().await.unwrap());
    assert!(parsed(&files, "contact.json")["erased_at"].is_string());
}
both_backends!(the_privacy_page_names_what_goes_and_asks_first);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exports_and_erases_with_plain_progress_lines() {
    let t = app(Db::Sqlite).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let (contact, _) = customer(&t, &admin).await;
    let data_dir = t.services.media.dir.parent().unwrap().to_owned();
    let env = Env::new(&t.database_url, &data_dir).set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY);
    let to = data_dir.join("export.zip");
    let id = contact.to_string();
    let out = env.run(&["contact", "export", "--id", &id, "--to", to.to_str().unwrap()], None);
    assert!(out.contains("exported contact"), "{out}");
    let files = unzip(&std::fs::read(&to).unwrap());
    assert_eq!(parsed(&files, "notes.json")[0]["body"], NOTE);

    // Without --yes and without a terminal: refused, nothing erased.
    let refused = env.command(&["contact", "erase", "--id", &id]).stdin(std::process::Stdio::null()).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(t.services.erasure_summary(t.account_id, contact).await.unwrap().messages, 3);

    let out = env.command(&["contact", "erase", "--id", &id, "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("erased contact") && stdout.contains("3 messages"), "{stdout}");
    assert!(stderr.contains("deleting their files: 2/2") && !stderr.contains('\r'), "plain lines, no bar: {stderr}");
    assert_eq!(t.services.erasure_summary(t.account_id, contact).await.unwrap().messages, 0);
}
