//! A sign-in flood against the real `textdesk serve` binary: 300 attempts,
//! 100 at once, first from one address, then from 300 (through a trusted
//! proxy's X-Forwarded-For, as behind a load balancer). Most are refused at
//! once, the server's memory stays near where it started, a customer's text is
//! still answered quickly, the right password works once the address's window
//! has passed, and an admin finds the lockout in the audit trail. Then the
//! server shuts down gracefully on SIGTERM.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::binary::Env;
use common::{Db, csrf_of};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// The flooding address's window: short, so the test can wait it out.
const WINDOW_SECS: u64 = 6;

/// The process's resident memory, in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib / 1024
}

/// The login form as a browser gets it: its token and the cookie carrying it.
async fn login_form(c: &reqwest::Client, base: &str) -> (String, String) {
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    (csrf_of(&page.text().await.unwrap()), cookie)
}

struct Attempt {
    status: u16,
    took: Duration,
    retry_after: Option<u64>,
}

async fn attempt(
    c: &reqwest::Client,
    base: &str,
    form: &(String, String),
    from: &str,
    email: &str,
    pw: &str,
) -> Attempt {
    let started = Instant::now();
    let r = c
        .post(format!("{base}/login"))
        .header("cookie", &form.1)
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("password", pw), ("csrf", form.0.as_str())])
        .send()
        .await
        .unwrap();
    let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    Attempt { status: r.status().as_u16(), took: started.elapsed(), retry_after }
}

/// `total` attempts with unknown e-mails, `parallel` at once, from `address(i)`.
async fn flood(
    c: &reqwest::Client,
    base: &str,
    form: &(String, String),
    address: impl Fn(usize) -> String,
) -> Vec<Attempt> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..300)
        .map(|i| {
            let from = address(i);
            async move { attempt(c, base, form, &from, &format!("nobody{i}@example.com"), "guess").await }
        })
        .buffer_unordered(100)
        .collect()
        .await
}

/// How long a customer's text takes to be accepted through the simulator.
async fn text_in(c: &reqwest::Client, base: &str, inbox: i64, body: &str) -> Duration {
    let started = Instant::now();
    let r = c
        .post(format!("{base}/simulator/api/inboxes/{inbox}/messages"))
        .json(&json!({ "from": "+14155550123", "body": body }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    started.elapsed()
}

pub(crate) async fn new_database(db: Db, dir: &Path) -> (String, Option<(String, String)>) {
    match db {
        Db::Sqlite => (format!("sqlite://{}", dir.join("textdesk.db").display()), None),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = common::postgres_url().unwrap();
            let name = format!("textdesk_flood_{:016x}", rand::random::<u64>());
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
            (format!("{base}/{name}"), Some((admin, name)))
        }
    }
}

pub(crate) async fn drop_database(pg: Option<(String, String)>) {
    use sqlx::Connection;
    if let Some((admin, name)) = pg
        && let Ok(mut c) = sqlx::PgConnection::connect(&admin).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut c)
            .await;
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d.get(d.len() / 2).copied().unwrap_or_default()
}

async fn a_login_flood_is_refused_cheaply(db: Db) {
    textdesk_channels::ensure_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = new_database(db, dir.path()).await;
    let env = Env::new(&database_url, dir.path())
        .set("TEXTDESK_SIMULATOR", 1)
        .set("TEXTDESK_TRUSTED_PROXIES", "127.0.0.1")
        .set("TEXTDESK_LOGIN_IP_ATTEMPTS", 20)
        .set("TEXTDESK_LOGIN_IP_WINDOW_SECS", WINDOW_SECS)
        .set("TEXTDESK_LOGIN_ACCOUNT_ATTEMPTS", 5)
        .set("TEXTDESK_LOG", "warn");
    env.run(&["migrate"], None);
    let pw = format!("{PASSWORD}\n");
    env.run(&["user", "add", "--email", "admin@example.com", "--role", "admin", "--password-stdin"], Some(&pw));
    env.run(&["user", "add", "--email", "agent@example.com", "--role", "agent", "--password-stdin"], Some(&pw));
    env.run(&["inbox", "add", "--kind", "simulator", "--name", "SMS", "--number", "+14155550100"], None);
    let server = env.serve(&dir.path().join("server.log")).await;
    let pid = server.0.id();
    let base = env.base();
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let inboxes: Value = c.get(format!("{base}/simulator/api/inboxes")).send().await.unwrap().json().await.unwrap();
    let inbox = inboxes[0]["id"].as_i64().unwrap();
    let form = login_form(&c, &base).await;

    // Warm up: a text and a real sign-in, so the baseline has done both once.
    text_in(&c, &base, inbox, "hello").await;
    assert_eq!(attempt(&c, &base, &form, "192.0.2.1", "admin@example.com", PASSWORD).await.status, 303);
    let baseline = rss_mib(pid);

    // Someone guesses the agent's password: the fifth failure locks the e-mail.
    for _ in 0..5 {
        assert_eq!(attempt(&c, &base, &form, "192.0.2.2", "agent@example.com", "guess").await.status, 401);
    }
    let locked = attempt(&c, &base, &form, "192.0.2.3", "agent@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429, "locked for every address, the right password too");

    // Memory is sampled all along.
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_mib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // One address, 300 attempts, 100 at once: all but its first 20 get 429 at once.
    let started = Instant::now();
    let one = flood(&c, &base, &form, |_| "203.0.113.7".into()).await;
    let one_took = started.elapsed();
    let refused: Vec<&Attempt> = one.iter().filter(|a| a.status == 429).collect();
    assert!(refused.len() >= 270, "{} of 300 refused with 429", refused.len());
    assert!(refused.iter().all(|a| a.retry_after.is_some_and(|s| (1..=WINDOW_SECS).contains(&s))));
    assert!(one.iter().all(|a| [401, 429, 503].contains(&a.status)));
    let one_median = median(refused.iter().map(|a| a.took).collect());

    // 300 addresses, 100 at once, with a customer texting meanwhile: the cap on
    // password checks refuses most (503, "try again in a second") at once.
    let texting = {
        let (c, base) = (c.clone(), base.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            text_in(&c, &base, inbox, "Is my appointment still at 3?").await
        })
    };
    let many = flood(&c, &base, &form, |i| format!("10.9.{}.{}", i / 250, i % 250)).await;
    let text_took = texting.await.unwrap();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    let busy = many.iter().filter(|a| a.status == 503).count();
    let checked = many.iter().filter(|a| a.status == 401).count();
    assert_eq!(busy + checked, 300, "no address was over its limit");
    assert!(busy >= 150, "{busy} of 300 refused as busy, {checked} checked");
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "flood: baseline {baseline} MiB, peak {peak} MiB; one address: 300 in {one_took:?}, median refusal {one_median:?}; \
         300 addresses: {busy} busy, {checked} checked; a customer's text took {text_took:?}"
    );
    assert!(peak < baseline + 150, "memory went from {baseline} MiB to {peak} MiB");
    assert!(one_median < Duration::from_millis(500), "refusals took {one_median:?}");
    assert!(text_took < Duration::from_secs(1), "a customer's text took {text_took:?} during the flood");

    // The flooding address's window passes; the right password works from it again.
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS)).await;
    assert_eq!(attempt(&c, &base, &form, "203.0.113.7", "admin@example.com", PASSWORD).await.status, 303);

    // The admin finds the agent's lockout in the audit trail.
    let admin =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = login_form(&admin, &base).await;
    let r = admin
        .post(format!("{base}/login"))
        .form(&[("email", "admin@example.com"), ("password", PASSWORD), ("csrf", form.0.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = admin.get(format!("{base}/settings/audit")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Sign-in locked") && html.contains("agent@example.com"), "{html}");
    assert!(html.contains("192.0.2.2"), "the address the failures came from: {html}");

    // SIGTERM: the server stops accepting and exits, although a client keeps a connection open.
    let idle = tokio::net::TcpStream::connect(format!("127.0.0.1:{}", env.port)).await.unwrap();
    let mut server = server;
    let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    drop(idle);
    drop(server);
    drop_database(pg).await;
}
both_backends!(a_login_flood_is_refused_cheaply);
