//! Sign-in under attack, in process over real HTTP: the login form's CSRF
//! token and Origin check, sessions' idle and absolute expiry, the lockout of
//! one e-mail (shared through the database) and its audit entry, bad API tokens
//! and invitation links limited per address, and the Content-Security-Policy
//! on every page. The flood itself, against the real binary, is in `flood.rs`.

use crate::common;

use common::{Db, PASSWORD, TestApp, app, csrf_of, sign_in};
use serde_json::json;
use textdesk_core::Role;

fn plain() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The login page's token and the cookie that carries it.
async fn login_form(c: &reqwest::Client, t: &TestApp) -> (String, String) {
    let page = c.get(t.url("/login")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    (csrf_of(&page.text().await.unwrap()), cookie)
}

async fn post_login(c: &reqwest::Client, t: &TestApp, cookie: Option<&str>, origin: Option<&str>, csrf: &str) -> u16 {
    let mut r = c.post(t.url("/login"));
    if let Some(cookie) = cookie {
        r = r.header("cookie", cookie);
    }
    if let Some(origin) = origin {
        r = r.header("origin", origin);
    }
    let r = r.form(&[("email", "dana@example.com"), ("password", PASSWORD), ("csrf", csrf)]).send().await.unwrap();
    r.status().as_u16()
}

async fn login_needs_its_csrf_token_and_our_origin(db: Db) {
    let t = app(db).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let c = plain();
    let (csrf, cookie) = login_form(&c, &t).await;
    assert!(csrf.len() == 64, "{csrf}");
    // Another site posting the form has neither the cookie nor, with it, our Origin.
    assert_eq!(post_login(&c, &t, None, Some("https://evil.example"), "").await, 403);
    assert_eq!(post_login(&c, &t, None, None, &csrf).await, 403, "a token without its cookie");
    assert_eq!(post_login(&c, &t, Some(&cookie), None, "0".repeat(64).as_str()).await, 403, "a wrong token");
    assert_eq!(post_login(&c, &t, Some(&cookie), Some("https://evil.example"), &csrf).await, 403, "foreign Origin");
    let r =
        c.post(t.url("/login")).form(&[("email", "dana@example.com"), ("password", PASSWORD)]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("did not come from this site") && html.contains("name=\"csrf\""), "a page again: {html}");
    // The page itself, from our origin, signs in.
    assert_eq!(post_login(&c, &t, Some(&cookie), Some(&t.base), &csrf).await, 303);
}
both_backends!(login_needs_its_csrf_token_and_our_origin);

async fn sql(t: &TestApp, statement: &str, at: i64) {
    use sqlx::Connection;
    let mut c = sqlx::AnyConnection::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).bind(at).execute(&mut c).await.unwrap();
}

async fn count(t: &TestApp, query: &str, at: i64) -> i64 {
    use sqlx::{Connection, Row};
    let mut c = sqlx::AnyConnection::connect(&t.database_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(query.to_owned())).bind(at).fetch_one(&mut c).await.unwrap().get::<i64, _>(0)
}

async fn sessions_end_when_idle_and_at_their_absolute_expiry(db: Db) {
    let t = app(db).config(|c| c.session_idle_minutes = 60).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let now = jiff::Timestamp::now().as_millisecond();
    let minutes = |m: i64| m * 60_000;

    // Used 50 minutes ago: still signed in, and using it counts as activity.
    let browser = t.browser("dana@example.com").await;
    sql(&t, "UPDATE sessions SET created_at = $1, last_seen_at = $1", now - minutes(50)).await;
    assert_eq!(browser.get(t.url("/inbox")).send().await.unwrap().status(), 200);
    let seen = count(&t, "SELECT COUNT(*) FROM sessions WHERE last_seen_at > $1", now - minutes(1)).await;
    assert_eq!(seen, 1, "the visit moved last_seen_at forward");

    // Nothing for 61 minutes: signed out, although the 12-hour limit is far off.
    sql(&t, "UPDATE sessions SET last_seen_at = $1", now - minutes(61)).await;
    let r = browser.get(t.url("/inbox")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"));

    // Busy all along, but past the absolute expiry: signed out too.
    let browser = t.browser("dana@example.com").await;
    assert_eq!(browser.get(t.url("/inbox")).send().await.unwrap().status(), 200);
    sql(&t, "UPDATE sessions SET expires_at = $1", now - 1000).await;
    assert_eq!(browser.get(t.url("/inbox")).send().await.unwrap().status(), 303);
}
both_backends!(sessions_end_when_idle_and_at_their_absolute_expiry);

/// The `Set-Cookie` header that sets `name`, if any.
fn cookie_header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    // Behind a TLS proxy: the browser must never send the session over plain http.
    let t = app(Db::Sqlite).config(|c| c.public_url = "https://desk.example.com".into()).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let c = plain();
    let form = c.get(t.url("/login")).send().await.unwrap();
    let csrf = cookie_header(&form, "textdesk_signin_csrf").expect("the sign-in form's cookie");
    assert!(csrf.contains("; Secure"), "{csrf}");
    let r = sign_in(&c, &t.base, "dana@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let session = cookie_header(&r, "textdesk_session").expect("a session cookie");
    assert!(session.contains("; Secure") && session.contains("; HttpOnly"), "{session}");

    // Served on plain http (a laptop, the demo), the flag would keep the cookie from ever coming back.
    let t = app(Db::Sqlite).config(|c| c.public_url = "http://127.0.0.1:8080".into()).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let r = sign_in(&c, &t.base, "dana@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let session = cookie_header(&r, "textdesk_session").expect("a session cookie");
    assert!(!session.contains("Secure"), "{session}");
}

async fn repeated_failures_lock_an_email_and_admins_see_it(db: Db) {
    let t = app(db)
        .config(|c| {
            c.login_account_attempts = 3;
            c.login_ip_attempts = 100;
        })
        .start()
        .await;
    t.user("alex@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    t.user("lee@example.com", Role::Agent).await;
    let c = plain();
    for _ in 0..3 {
        assert_eq!(sign_in(&c, &t.base, "dana@example.com", "wrong password").await.status(), 401);
    }
    // Locked: even the right password waits, and the page says how long.
    let r = sign_in(&c, &t.base, "dana@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
    let html = r.text().await.unwrap();
    assert!(html.contains("Try again in 15 minutes"), "{html}");
    // An e-mail nobody has locks the same way: a lock says nothing about who has an account.
    for _ in 0..3 {
        assert_eq!(sign_in(&c, &t.base, "nobody@example.com", "wrong password").await.status(), 401);
    }
    assert_eq!(sign_in(&c, &t.base, "nobody@example.com", "wrong password").await.status(), 429);
    // Another person is not affected.
    let admin = t.browser("alex@example.com").await;
    let page = admin.get(t.url("/settings/audit")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign-in locked") && html.contains("dana@example.com"), "{html}");
    assert!(html.contains("127.0.0.1") && html.contains("after 3 failed attempts"), "{html}");
    assert!(html.contains("When (UTC)"), "times say whose clock: {html}");
    // The audit trail is for admins only.
    let agent = t.browser("lee@example.com").await;
    assert_eq!(agent.get(t.url("/settings/audit")).send().await.unwrap().status(), 403);
}
both_backends!(repeated_failures_lock_an_email_and_admins_see_it);

async fn bad_api_tokens_and_invitation_links_are_limited_per_address(db: Db) {
    let t = app(db).config(|c| c.login_ip_attempts = 5).start().await;
    let good = t.token_for("alex@example.com", Role::Admin).await;
    let c = plain();
    for _ in 0..5 {
        let r = c.get(t.url("/api/v1/me")).bearer_auth("td_guess").send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = c.get(t.url("/api/v1/me")).bearer_auth("td_guess").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["type"], "urn:textdesk:problem:too-many-attempts");
    assert!(body["detail"].as_str().unwrap().contains("Try again in"), "{body}");
    // Even a good token waits: the address is refused before any token is looked at.
    assert_eq!(c.get(t.url("/api/v1/me")).bearer_auth(&good).send().await.unwrap().status(), 429);
    // Invitation links count against the same address, and say so on a page.
    let r = c.get(t.url("/invite/guess")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many failed attempts from your network"));
    let r = c.post(t.url("/invite/guess")).form(&json!({"password": "x", "confirm": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 429);
}
both_backends!(bad_api_tokens_and_invitation_links_are_limited_per_address);

/// A strict policy: our own scripts and styles only, nothing inline.
fn assert_strict_csp(path: &str, r: &reqwest::Response) {
    let csp =
        r.headers().get("content-security-policy").unwrap_or_else(|| panic!("{path} has no CSP")).to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "{path}: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{path}: {csp}");
}

#[tokio::test]
async fn every_page_sends_a_strict_content_security_policy() {
    let t = app(Db::Sqlite).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550123", "Hello there", None).await;
    let conv = count(&t, "SELECT MAX(id) FROM conversations WHERE account_id = $1", t.account_id).await;
    let admin = t.browser("alex@example.com").await;
    let anon = plain();
    for path in ["/login", "/invite/nonsense", "/simulator", "/healthz"] {
        let r = anon.get(t.url(path)).send().await.unwrap();
        assert_strict_csp(path, &r);
        let html = r.text().await.unwrap();
        assert!(!html.contains(" onchange=") && !html.contains(" onclick="), "{path} has an inline handler");
    }
    let contact = count(&t, "SELECT contact_id FROM conversations WHERE id = $1", conv).await;
    // The public "text us" page is the business's, shown to anyone.
    let text_us = format!("/text-us/{inbox}");
    let r = anon.get(t.url(&text_us)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{text_us}");
    assert_strict_csp(&text_us, &r);
    let conversation = format!("/conversations/{conv}");
    let privacy = format!("/contacts/{contact}/privacy");
    let pages = [
        "/inbox",
        "/inbox/list",
        conversation.as_str(),
        "/contacts",
        privacy.as_str(),
        "/reports",
        "/reviews",
        "/settings/inboxes",
        "/settings/users",
        "/settings/canned",
        "/settings/labels",
        "/settings/account",
        "/settings/audit",
        "/settings/automations",
        "/settings/flows",
        "/settings/retention",
        "/settings/webhooks",
    ];
    for path in pages {
        let r = admin.get(t.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_strict_csp(path, &r);
        let html = r.text().await.unwrap();
        for inline in [" onchange=", " onclick=", " onsubmit=", " style=", "<script>"] {
            assert!(!html.contains(inline), "{path} has {inline}");
        }
    }
    // Errors are pages too, and carry it as well.
    let r = admin.get(t.url("/conversations/999999")).send().await.unwrap();
    assert_strict_csp("a missing conversation", &r);
}
