//! The `textdesk` binary as an operator uses it: subcommands acting on the same
//! data as a running server, the health check, the demo, and logs free of secrets.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::binary::{BIN, free_port};

fn textdesk(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("TEXTDESK_DATABASE_URL")
        .env_remove("TEXTDESK_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // A command that exits before reading its input closes the pipe; its
        // output (checked by the caller) says why, so a broken pipe is not the failure.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str], port: u16, log: &Path) -> Server {
    let child = Command::new(BIN)
        .args(args)
        .env("TEXTDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("TEXTDESK_DATABASE_URL")
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while textdesk(&["healthcheck", "--url", &format!("http://127.0.0.1:{port}")], None).status.code() != Some(0) {
        assert!(
            Instant::now() < deadline,
            "server did not become healthy: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[tokio::test]
async fn operators_manage_users_and_tokens_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let out = textdesk(&["migrate", "--data-dir", data], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // --data-dir before or after the subcommand's own arguments.
    let out = textdesk(
        &["--data-dir", data, "user", "add", "--email", "Alex@Example.com", "--role", "admin", "--password-stdin"],
        Some("a strong password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("alex@example.com"));

    let port = free_port();
    let log = dir.path().join("serve.log");
    let _server = start(&["serve", "--data-dir", data], port, &log);

    // With the server running, add a user and a token on the same SQLite database.
    let out = textdesk(
        &["user", "add", "--email", "dana@example.com", "--role", "agent", "--password-stdin", "--data-dir", data],
        Some("another password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = textdesk(&["token", "create", "--user", "dana@example.com", "--data-dir", data], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("td_"));

    textdesk_channels::ensure_tls_provider();
    let client = reqwest::Client::new();
    let me: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "dana@example.com");
    assert_eq!(me["role"], "agent");
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r = sign_in(&browser, &format!("http://127.0.0.1:{port}"), "dana@example.com", "another password").await;
    assert!(r.status().is_success(), "signed in and shown the inbox");

    // The server's log holds neither the token nor the passwords.
    let logs = std::fs::read_to_string(&log).unwrap();
    for secret in [token.as_str(), "another password", "a strong password"] {
        assert!(!logs.contains(secret), "secret in logs");
    }

    // Mistakes are explained, and change nothing.
    let out = textdesk(
        &["user", "add", "--email", "dana@example.com", "--role", "agent", "--password-stdin", "--data-dir", data],
        Some("another password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    let out = textdesk(
        &["user", "add", "--email", "not-an-email", "--role", "agent", "--password-stdin", "--data-dir", data],
        Some("another password\n"),
    );
    assert!(text(&out.stderr).contains("not an e-mail address"));
    let out = textdesk(
        &["user", "add", "--email", "x@example.com", "--role", "agent", "--password-stdin", "--data-dir", data],
        Some("short\n"),
    );
    assert!(text(&out.stderr).contains("at least 8"));
    let out = textdesk(&["user", "add", "--email", "x@example.com", "--role", "agent", "--data-dir", data], None);
    assert!(text(&out.stderr).contains("--password-stdin"), "no terminal: {}", text(&out.stderr));
    let out = textdesk(&["token", "create", "--user", "ghost@example.com", "--data-dir", data], None);
    assert!(text(&out.stderr).contains("no user"));
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let port = free_port();
    let out = textdesk(&["healthcheck", "--url", &format!("http://127.0.0.1:{port}")], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not healthy"));
}

#[test]
fn the_printed_default_config_is_a_working_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = textdesk(&["default-config"], None);
    assert!(out.status.success());
    let cfg = dir.path().join("textdesk.toml");
    std::fs::write(&cfg, &out.stdout).unwrap();
    let data = dir.path().join("data");
    let out = textdesk(&["migrate", "--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(data.join("textdesk.db").exists());
    std::fs::write(&cfg, "listen = \"nowhere\"\n").unwrap();
    let out = textdesk(&["migrate", "--config", cfg.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("textdesk.toml"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn the_demo_starts_seeded_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data = data.to_str().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let log = dir.path().join("demo.log");
    let server = start(&["demo", "--data-dir", data, "--listen", &listen], port, &log);
    let printed = std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(printed.contains(&format!("{base}/simulator")), "{printed}");
    assert!(printed.contains("dana@harbordental.example"));

    // No pooled connections: the server is restarted under this client.
    textdesk_channels::ensure_tls_provider();
    let browser = reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(0).build().unwrap();
    let r = sign_in(&browser, &base, "dana@harbordental.example", "textdesk-demo").await;
    assert!(r.status().is_success());
    let html = browser.get(format!("{base}/inbox?view=all&status=any")).send().await.unwrap().text().await.unwrap();
    for name in ["Karen Whitfield", "Marcus Lee", "Priya Nair", "Tom Becker", "Jordan Miles"] {
        assert!(html.contains(name), "{name} is in the demo inbox");
    }
    assert!(html.contains("opted out"));
    // A customer texts from the simulator; then the demo restarts without --fresh.
    let r = reqwest::Client::new()
        .post(format!("{base}/simulator/api/inboxes/1/messages"))
        .json(&serde_json::json!({ "from": "+14155550188", "body": "Are you open on Saturday?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(server);
    let _again = start(&["demo", "--data-dir", data, "--listen", &listen], port, &log);
    // (The list may show the off-hours reply as the latest message, so the phone's own thread is read.)
    let phone = browser
        .get(format!("{base}/simulator/api/inboxes/1/phones/+14155550188/messages"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(phone.contains("Are you open on Saturday?"), "the demo kept its data");
    let html = browser.get(format!("{base}/inbox?view=all&status=any")).send().await.unwrap().text().await.unwrap();
    assert_eq!(html.matches("Karen Whitfield").count(), 1, "and did not seed twice");
}

#[tokio::test]
async fn operators_add_provider_inboxes_from_the_command_line() {
    let fake = textdesk_channels::twilio::FakeTwilio::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let add = |token: &str, number: &str, extra: &[&str]| {
        let mut args = vec![
            "--data-dir",
            &data,
            "inbox",
            "add",
            "--kind",
            "twilio",
            "--name",
            "Main line",
            "--number",
            number,
            "--account-sid",
            fake.account_sid(),
            "--api-base",
            fake.base_url(),
            "--auth-token",
            token,
        ];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                textdesk(&refs, None)
            })
            .await
            .unwrap()
        }
    };
    // A wrong token is refused with the reason, and nothing is added.
    let out = add("0123456789abcdef0123456789abcdef", "+14155550100", &[]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Twilio did not accept these credentials"), "{}", text(&out.stderr));
    // The right one is checked with Twilio, and the URLs to paste are printed.
    let out = add(fake.auth_token(), "+14155550100", &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("added inbox 1 (twilio, +14155550100)"), "{printed}");
    assert!(printed.contains("/webhooks/twilio/1/status"), "{printed}");
    assert!(!printed.contains(fake.auth_token()) && !text(&out.stderr).contains(fake.auth_token()));
    // Offline: --no-check saves without asking (here, a wrong token is not noticed).
    let out = add("ffffffffffffffffffffffffffffffff", "+14155550101", &["--no-check"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&textdesk(&["--data-dir", &data, "inbox", "list"], None).stdout);
    assert_eq!(list.lines().count(), 2, "{list}");
    // A missing credential is named.
    let out = textdesk(
        &["--data-dir", &data, "inbox", "add", "--kind", "smpp", "--name", "X", "--number", "+14155550102"],
        None,
    );
    assert!(text(&out.stderr).contains("--host"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn operators_add_a_whatsapp_inbox_and_get_its_callback_and_verify_token() {
    let fake = textdesk_channels::whatsapp::FakeWhatsApp::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let add = |token: &str, extra: &[&str]| {
        let mut args = vec![
            "--data-dir",
            &data,
            "inbox",
            "add",
            "--kind",
            "whatsapp",
            "--name",
            "WhatsApp",
            "--number",
            "+14155550100",
            "--phone-number-id",
            fake.phone_number_id(),
            "--waba-id",
            fake.waba_id(),
            "--graph-base",
            fake.base_url(),
            "--access-token",
            token,
            "--app-secret",
            fake.app_secret(),
        ];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                textdesk(&refs, None)
            })
            .await
            .unwrap()
        }
    };
    // The token is checked with the Graph API (GET /{phone_number_id}) before anything is saved.
    let out = add("EAAGwrong", &[]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("WhatsApp did not accept the access token"), "{}", text(&out.stderr));
    // Without a verify token one is made, and printed once beside the callback URL.
    let out = add(fake.access_token(), &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("added inbox 1 (whatsapp, +14155550100)"), "{printed}");
    assert!(printed.contains("Callback URL: ") && printed.contains("/webhooks/whatsapp/1"), "{printed}");
    let made =
        printed.lines().find_map(|l| l.trim().strip_prefix("Verify token: ")).expect("the verify token is printed");
    assert_eq!(made.len(), 32, "{made}");
    // One given is kept and echoed; secrets other than it are never printed.
    let out = add(fake.access_token(), &["--verify-token", "meatyhamhock", "--no-check"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("Verify token: meatyhamhock"), "{printed}");
    assert!(!printed.contains(fake.access_token()) && !printed.contains(fake.app_secret()));
}

#[tokio::test]
async fn operators_add_telegram_and_line_inboxes_and_textdesk_registers_their_webhooks() {
    let telegram = textdesk_channels::telegram::FakeTelegram::start().await.unwrap();
    let line = textdesk_channels::line::FakeLine::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            textdesk(&refs, None)
        })
        .await
        .unwrap()
    };
    let add = |kind: &str, number: &str, extra: &[&str]| {
        let mut args = vec!["--data-dir", &data, "inbox", "add", "--kind", kind, "--name", kind, "--number", number];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    // getMe refuses a wrong token; nothing is saved or registered.
    let wrong = format!("{}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", telegram.bot_id());
    let out =
        run(add("telegram", "@test_dental_bot", &["--bot-token", &wrong, "--api-base", telegram.base_url()])).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Telegram did not accept this bot token"), "{}", text(&out.stderr));
    assert!(telegram.webhook().is_none());
    let out =
        run(add("telegram", "@test_dental_bot", &["--bot-token", telegram.token(), "--api-base", telegram.base_url()]))
            .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("added inbox 1 (telegram, @test_dental_bot)"), "{printed}");
    let url = printed.lines().find_map(|l| l.trim().strip_prefix("Webhook URL: ")).unwrap().to_owned();
    assert!(url.ends_with("/webhooks/telegram/1"), "{url}");
    let (registered, secret) = telegram.webhook().expect("setWebhook was called");
    assert_eq!(
        (registered.as_str(), secret),
        (url.as_str(), textdesk_channels::telegram::webhook_secret(telegram.token(), 1))
    );
    assert!(!printed.contains(telegram.token()), "the token is never printed");

    let out = run(add(
        "line",
        "@123abcde",
        &[
            "--channel-secret",
            line.channel_secret(),
            "--channel-access-token",
            line.access_token(),
            "--api-base",
            line.api_url(),
            "--data-base",
            line.data_url(),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("added inbox 2 (line, @123abcde)"), "{printed}");
    assert!(line.endpoint().is_some_and(|e| e.ends_with("/webhooks/line/2")), "{:?}", line.endpoint());
    // --no-check saves without asking LINE anything.
    let before = line.endpoint();
    let out =
        run(add("line", "@123abcde", &["--channel-secret", "s", "--channel-access-token", "t", "--no-check"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(line.endpoint(), before);
}

/// The login form as a browser posts it: the page first, for its CSRF token
/// (whose cookie lands in `browser`'s jar).
async fn sign_in(browser: &reqwest::Client, base: &str, email: &str, password: &str) -> reqwest::Response {
    let page = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned();
    browser
        .post(format!("{base}/login"))
        .form(&[("email", email), ("password", password), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}
