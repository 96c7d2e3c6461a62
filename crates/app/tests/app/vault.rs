//! Secrets at rest and backups, with the real `textdesk` binary: provider
//! credentials never show in its logs (at debug level), the API, the pages,
//! the CLI or the database's bytes; plain-text secrets from before the upgrade
//! are sealed at the first start; a wrong or missing key stops the start with
//! words saying what to do and changes nothing; `secrets rotate-key` re-seals;
//! and a backup taken in the middle of a flood of signed webhooks restores
//! every text acknowledged before it started, with its media.

use crate::common;
use crate::flood::{drop_database, new_database};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::binary::{Env, Server};
use common::{Db, PASSWORD, PNG};
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use textdesk_channels::twilio::FakeTwilio;

const SENDER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550111";
const SMPP_PASSWORD: &str = "pW7kq2Zx";

/// Printed words without terminal colours.
fn text(b: &[u8]) -> String {
    let mut out = String::new();
    let mut chars = String::from_utf8_lossy(b).into_owned().chars().collect::<Vec<_>>().into_iter();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

fn setup_env(database_url: &str, dir: &Path, fake: &FakeTwilio) -> Env {
    Env::new(database_url, dir)
        .set("TEXTDESK_MEDIA_ALLOW_PRIVATE_HOSTS", fake.private_hosts().join(","))
        .set("TEXTDESK_LOG", "debug")
        .set("RUST_LOG", "debug")
}

/// An admin and an API token for them, through the CLI; returns the token.
fn admin_token(env: &Env) -> String {
    let pw = format!("{PASSWORD}\n");
    env.run(&["user", "add", "--email", "owner@example.com", "--role", "admin", "--password-stdin"], Some(&pw));
    env.run(&["token", "create", "--user", "owner@example.com"], None).trim().to_owned()
}

/// A Twilio inbox on the fake, added by the CLI with its token in its
/// environment variable; returns the inbox id and what the CLI printed.
fn twilio_inbox(env: &Env, fake: &FakeTwilio) -> (i64, String) {
    let out = env
        .command(&["inbox", "add", "--kind", "twilio", "--name", "Main line", "--number", SENDER])
        .args(["--account-sid", fake.account_sid(), "--api-base", fake.base_url()])
        .env("TEXTDESK_TWILIO_AUTH_TOKEN", fake.auth_token())
        .output()
        .unwrap();
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{printed}");
    let id = printed.split("added inbox ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    (id, printed)
}

/// A fresh installation run by the binary: migrated, an admin with a token, a
/// Twilio inbox on a fake Twilio added by the CLI. The server is not started.
struct Installation {
    fake: Arc<FakeTwilio>,
    dir: tempfile::TempDir,
    database_url: String,
    pg: Option<(String, String)>,
    env: Env,
    token: String,
    inbox: i64,
    /// What `inbox add` printed.
    added: String,
}

async fn install(db: Db, log: &str) -> Installation {
    textdesk_channels::ensure_tls_provider();
    let fake = Arc::new(FakeTwilio::start().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = new_database(db, dir.path()).await;
    let env = setup_env(&database_url, dir.path(), &fake).set("TEXTDESK_LOG", log);
    env.run(&["migrate"], None);
    let token = admin_token(&env);
    let (inbox, added) = twilio_inbox(&env, &fake);
    Installation { fake, dir, database_url, pg, env, token, inbox, added }
}

/// Every stored secret, as the database holds it.
async fn stored_secrets(database_url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT secrets FROM inbox_secrets ORDER BY inbox_id",
        "SELECT value FROM server_keys ORDER BY name",
        "SELECT probe FROM secret_key_check",
    ] {
        for r in sqlx::query(sql).fetch_all(&mut c).await.unwrap() {
            out.push(r.try_get::<String, _>(0).unwrap());
        }
    }
    c.close().await.unwrap();
    out
}

async fn execute(database_url: &str, sql: &str, value: &str) {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).bind(value).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    dir.join("secret.key")
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Waits for `f` to return Some, for up to 15 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Every message of the account's conversations, oldest first per conversation.
async fn all_messages(c: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let list = get(c, &format!("{base}/api/v1/conversations?status=any&limit=100"), token).await;
    let mut out = Vec::new();
    for conv in list["items"].as_array().unwrap() {
        let id = conv["id"].as_i64().unwrap();
        let mut after = 0;
        loop {
            let url = format!("{base}/api/v1/conversations/{id}/messages?after_id={after}&limit=1000");
            let page = get(c, &url, token).await;
            let page = page.as_array().unwrap().clone();
            let Some(last) = page.last() else { break };
            after = last["id"].as_i64().unwrap();
            out.extend(page);
        }
    }
    out
}

async fn secrets_never_show(db: Db) {
    let Installation { fake, dir, database_url, pg, env, token, inbox, added } = install(db, "debug").await;
    let mut cli_output = vec![added];
    let smsc_port = common::binary::free_port().to_string();
    let out = env
        .command(&["inbox", "add", "--kind", "smpp", "--name", "Aggregator", "--number", "+14155550102"])
        .args(["--host", "127.0.0.1", "--port", &smsc_port, "--system-id", "harbor", "--no-check"])
        .env("TEXTDESK_SMPP_PASSWORD", SMPP_PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    cli_output.push(format!("{}{}", text(&out.stdout), text(&out.stderr)));
    cli_output.push(env.run(&["inbox", "list"], None));

    let log = dir.path().join("server.log");
    let server = env.serve(&log).await;
    let key = std::fs::read_to_string(key_file(dir.path())).unwrap().trim().to_owned();
    #[cfg(unix)]
    assert_eq!(mode(&key_file(dir.path())), 0o600, "the key file made at first start is the owner's alone");
    let base = env.base();
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // An inbox added through the API answers without its token; lists and pages never show one.
    let r = c
        .post(format!("{base}/api/v1/inboxes"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Second", "channel_kind": "twilio", "sender": "+14155550103", "twilio":
            { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let answered = r.text().await.unwrap();
    let mut shown = vec![answered];
    shown.push(get(&c, &format!("{base}/api/v1/inboxes"), &token).await.to_string());
    shown.push(get(&c, &format!("{base}/api/v1/inboxes/{inbox}"), &token).await.to_string());
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r = common::sign_in(&browser, &base, "owner@example.com", PASSWORD).await;
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    for page in ["/settings/inboxes".to_owned(), format!("/settings/inboxes/{inbox}")] {
        let r = browser.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        shown.push(r.text().await.unwrap());
    }
    for s in &shown {
        for secret in [fake.auth_token(), SMPP_PASSWORD, key.as_str()] {
            assert!(!s.contains(secret), "a secret was shown: {s}");
        }
    }

    // Customers text (one with a picture), an agent answers, Twilio reports delivery.
    let webhook = format!("{base}/webhooks/twilio/{inbox}");
    let bodies = ["Is my crown ready?", "Can I move to Friday?"];
    let picture = fake.host_media(PNG.to_vec(), "image/png");
    let params = fake.inbound_media_params(CUSTOMER, SENDER, bodies[0], &[(&picture, "image/png")]);
    assert_eq!(fake.post_inbound(&webhook, &params).await.unwrap().status(), 200);
    let params = fake.inbound_params("+14155550112", SENDER, bodies[1]);
    assert_eq!(fake.post_inbound(&webhook, &params).await.unwrap().status(), 200);
    let convs = get(&c, &format!("{base}/api/v1/conversations"), &token).await;
    let conv = convs["items"][0]["id"].as_i64().unwrap();
    let reply = "Yes, it is ready: come by at 3.";
    let r = c
        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(&token)
        .json(&json!({ "body": reply }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let sid = eventually("the reply at Twilio", || async { fake.sent().first().map(|s| s.sid.clone()) }).await;
    let status_url = format!("{webhook}/status");
    assert!(fake.post_status(&status_url, &sid, "delivered", None).await.unwrap().status().is_success());
    eventually("the picture stored", || async {
        let m = all_messages(&c, &base, &token).await;
        m.iter().any(|m| m["media"][0]["state"] == "stored").then_some(())
    })
    .await;
    server.kill();

    let mut logs = text(&std::fs::read(&log).unwrap());
    logs.push_str(&text(&std::fs::read(log.with_extension("out")).unwrap()));
    assert!(logs.contains("DEBUG"), "the server logged at debug level");
    let numbers = [CUSTOMER, "4155550111", "+14155550112", "4155550112"];
    for needle in [fake.auth_token(), SMPP_PASSWORD, key.as_str(), token.as_str(), PASSWORD].iter().chain(&numbers) {
        assert!(!logs.contains(needle), "{needle} is in the server's log");
    }
    for body in bodies.iter().chain([&reply]) {
        assert!(!logs.contains(body), "a message's words are in the server's log: {body}");
    }
    for out in &cli_output {
        for secret in [fake.auth_token(), SMPP_PASSWORD, key.as_str()] {
            assert!(!out.contains(secret), "the CLI printed a secret: {out}");
        }
    }

    // At rest: every secret sealed; the SQLite file's bytes hold none of them.
    let stored = stored_secrets(&database_url).await;
    assert_eq!(stored.len(), 3 + 2 + 1, "three inboxes' secrets, the media and erasure keys, the key check");
    assert!(stored.iter().all(|s| s.starts_with("sealed:v1:")), "{stored:?}");
    if db == Db::Sqlite {
        let mut bytes = Vec::new();
        for f in ["textdesk.db", "textdesk.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
        }
        assert!(bytes.len() > 10_000);
        for secret in [fake.auth_token(), SMPP_PASSWORD, key.as_str()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} is in the database file");
        }
    }
    drop_database(pg).await;
}

both_backends!(secrets_never_show);

/// Starts `serve` expecting it to refuse; returns what it said.
fn refused_start(env: &Env, extra: &[(&str, &str)]) -> String {
    let mut cmd = env.command(&["serve"]);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let said = text(&out.stderr);
    assert!(!out.status.success(), "the server started: {said}");
    assert!(!said.contains("panicked"), "{said}");
    said
}

async fn secrets_are_sealed_on_upgrade_and_keys_rotate(db: Db) {
    let Installation { fake, dir, database_url, pg, env, inbox, .. } = install(db, "info").await;
    // The database as the release before sealing left it: plain text, no key yet.
    let plain = json!({ "auth_token": fake.auth_token() }).to_string();
    execute(&database_url, "UPDATE inbox_secrets SET secrets = $1", &plain).await;
    execute(&database_url, "UPDATE server_keys SET value = $1", &"ab".repeat(32)).await;
    execute(&database_url, "DELETE FROM secret_key_check WHERE probe <> $1", "").await;
    std::fs::remove_file(key_file(dir.path())).unwrap();

    // The first start makes a key and seals both; the token still verifies Twilio's signature.
    let log = dir.path().join("upgrade.log");
    let server = env.serve(&log).await;
    let webhook = format!("{}/webhooks/twilio/{inbox}", env.base());
    let texted = fake.inbound_params(CUSTOMER, SENDER, "hello after the upgrade");
    assert_eq!(fake.post_inbound(&webhook, &texted).await.unwrap().status(), 200);
    server.kill();
    let said = text(&std::fs::read(&log).unwrap());
    // The inbox's secrets, the media key and the erasure key.
    assert!(said.contains("encrypted secrets that were stored in plain text") && said.contains("count=3"), "{said}");
    let sealed = stored_secrets(&database_url).await;
    assert!(sealed.iter().all(|s| s.starts_with("sealed:v1:")), "{sealed:?}");
    let key = std::fs::read_to_string(key_file(dir.path())).unwrap();

    // A wrong key: refused with what to do, and nothing changed.
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let said = refused_start(&env, &[("TEXTDESK_SECRET_KEY", wrong)]);
    assert!(said.contains("TEXTDESK_SECRET_KEY does not open the provider secrets"), "{said}");
    assert!(said.contains("Start with the key used before") && said.contains("Nothing was changed"), "{said}");
    let said = refused_start(&env, &[("TEXTDESK_SECRET_KEY", "too short")]);
    assert!(said.contains("32 random bytes in base64"), "{said}");
    // No key at all: the same, and no new key file is made over the lost one's place.
    std::fs::rename(key_file(dir.path()), dir.path().join("kept.key")).unwrap();
    let said = refused_start(&env, &[]);
    assert!(said.contains("no key was found") && said.contains("Put back the key file"), "{said}");
    assert!(!key_file(dir.path()).exists());
    assert_eq!(stored_secrets(&database_url).await, sealed, "nothing was overwritten");
    std::fs::rename(dir.path().join("kept.key"), key_file(dir.path())).unwrap();

    // Rotation re-seals everything under a new key file; the old key no longer opens them.
    let out = env.command(&["secrets", "rotate-key"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("re-encrypted 3 secrets with a new key, saved in"), "{said}");
    let new_key = std::fs::read_to_string(key_file(dir.path())).unwrap();
    assert_ne!(new_key, key);
    assert!(!said.contains(new_key.trim()), "the key file's key is not printed");
    #[cfg(unix)]
    assert_eq!(mode(&key_file(dir.path())), 0o600);
    assert!(!dir.path().join("secret.key.new").exists());
    let rotated = stored_secrets(&database_url).await;
    assert!(rotated.iter().zip(&sealed).all(|(a, b)| a != b && a.starts_with("sealed:v1:")));
    let said = refused_start(&env, &[("TEXTDESK_SECRET_KEY", key.trim())]);
    assert!(said.contains("does not open the provider secrets"), "{said}");
    let server = env.serve(&dir.path().join("rotated.log")).await;
    let texted = fake.inbound_params(CUSTOMER, SENDER, "hello after the rotation");
    assert_eq!(fake.post_inbound(&webhook, &texted).await.unwrap().status(), 200);
    server.kill();
    drop_database(pg).await;
}

both_backends!(secrets_are_sealed_on_upgrade_and_keys_rotate);

/// Signed texts, `workers` at once, until `stop`; each acknowledged one with when its 200 came.
fn flood(
    fake: Arc<FakeTwilio>,
    webhook: String,
    stop: Arc<AtomicBool>,
    workers: usize,
) -> Vec<tokio::task::JoinHandle<Vec<(String, Instant)>>> {
    (0..workers)
        .map(|w| {
            let (fake, webhook, stop) = (fake.clone(), webhook.clone(), stop.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let params = fake.inbound_params(CUSTOMER, SENDER, &format!("flood {w}-{n}"));
                    let sid = params.iter().find(|(k, _)| k == "MessageSid").unwrap().1.clone();
                    if let Ok(r) = fake.post_inbound(&webhook, &params).await
                        && r.status() == 200
                    {
                        acked.push((sid, Instant::now()));
                    }
                }
                acked
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_text() {
    let Installation { fake, dir, env, token, inbox, .. } = install(Db::Sqlite, "warn").await;
    let server = env.serve(&dir.path().join("server.log")).await;
    let (base, c) = (env.base(), reqwest::Client::new());
    let webhook = format!("{base}/webhooks/twilio/{inbox}");

    // A picture first, stored in the media folder.
    let picture = fake.host_media(PNG.to_vec(), "image/png");
    let params = fake.inbound_media_params(CUSTOMER, SENDER, "my x-ray", &[(&picture, "image/png")]);
    assert_eq!(fake.post_inbound(&webhook, &params).await.unwrap().status(), 200);
    eventually("the picture stored", || async {
        let m = all_messages(&c, &base, &token).await;
        m.iter().any(|m| m["media"][0]["state"] == "stored").then_some(())
    })
    .await;

    // The flood runs; the backup is taken in its middle.
    let stop = Arc::new(AtomicBool::new(false));
    let floods = flood(fake.clone(), webhook.clone(), stop.clone(), 8);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let file = dir.path().join("backup.tar");
    let backup = env.command(&["backup", "--to", file.to_str().unwrap()]);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let mut backup = backup;
        backup.output().unwrap()
    })
    .await
    .unwrap();
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for f in floods {
        acked.extend(f.await.unwrap());
    }
    server.kill();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("backed up the database") && said.contains("and 1 media files"), "{said}");
    assert!(said.contains("The secret key is not in the backup"), "{said}");
    let before: Vec<&String> = acked.iter().filter(|(_, at)| *at < started).map(|(sid, _)| sid).collect();
    let after = acked.iter().filter(|(_, at)| *at > finished).count();
    assert!(before.len() >= 50 && after > 0, "{} texts before the backup, {after} after it", before.len());
    eprintln!(
        "backup took {:?}; {} texts acknowledged before it started, {after} after it ended",
        finished - started,
        before.len()
    );

    // Restoring over a data directory in use is refused without --force.
    let out = env.command(&["restore", "--from", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already holds a database") && text(&out.stderr).contains("--force"));
    let out = env.command(&["restore", "--from", dir.path().join("server.log").to_str().unwrap()]).output();
    assert!(!out.unwrap().status.success());

    // Into a new folder, with the key kept apart from the backup.
    let elsewhere = tempfile::tempdir().unwrap();
    let restored_url = format!("sqlite://{}", elsewhere.path().join("textdesk.db").display());
    let env2 = setup_env(&restored_url, elsewhere.path(), &fake).set("TEXTDESK_LOG", "warn");
    let out = env2.command(&["restore", "--from", file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("restored the database and 1 media files"), "{}", text(&out.stdout));
    std::fs::copy(key_file(dir.path()), key_file(elsewhere.path())).unwrap();
    let server = env2.serve(&elsewhere.path().join("restored.log")).await;
    let restored = all_messages(&c, &env2.base(), &token).await;
    let sids: std::collections::HashSet<&str> = restored.iter().filter_map(|m| m["provider_id"].as_str()).collect();
    let missing: Vec<&&String> = before.iter().filter(|s| !sids.contains(s.as_str())).collect();
    assert!(missing.is_empty(), "{} acknowledged texts lost, e.g. {:?}", missing.len(), missing.first());
    // The picture is served again from the restored media folder.
    let pic = restored.iter().find(|m| m["body"] == "my x-ray").unwrap();
    let url = pic["media"][0]["url"].as_str().unwrap();
    let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", env2.base()) };
    let r = c.get(url.replace(&base, &env2.base())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    // The restored server takes new texts with the restored credentials.
    let webhook2 = format!("{}/webhooks/twilio/{inbox}", env2.base());
    let texted = fake.inbound_params(CUSTOMER, SENDER, "after the restore");
    assert_eq!(fake.post_inbound(&webhook2, &texted).await.unwrap().status(), 200);
    drop::<Server>(server);
}

#[test]
fn postgres_backups_are_pg_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new("postgres://textdesk:hunter2@db.internal:5432/textdesk", dir.path());
    for args in [&["backup", "--to", "x.tar"][..], &["restore", "--from", "x.tar"]] {
        let out = env.command(args).output().unwrap();
        let said = text(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains("postgres://textdesk@db.internal:5432/textdesk"), "{said}");
    }
    let out = env.command(&["backup", "--to", "x.tar"]).output().unwrap();
    assert!(text(&out.stderr).contains("pg_dump --format=custom"), "{}", text(&out.stderr));
}
