//! Test harness: the real application on a free port, a fresh database per
//! test (a SQLite file, or a new PostgreSQL database when
//! TEXTDESK_TEST_POSTGRES_URL is set), and real HTTP between test and app.
#![allow(dead_code)]

pub mod binary;
pub mod smtp;

use std::time::Duration;

use serde_json::{Value, json};
use textdesk::{Application, Config, Options, Services};
use textdesk_core::{Email, Password, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests, or None (the test says it was skipped).
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEXTDESK_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: TEXTDESK_TEST_POSTGRES_URL is not set, so the PostgreSQL variant did not run");
            None
        }
    }
}

/// Runs a scenario on PostgreSQL when a server is configured.
#[macro_export]
macro_rules! both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::common::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_url().is_some() {
                    super::$scenario($crate::common::Db::Postgres).await;
                }
            }
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub services: Services,
    pub account_id: i64,
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    pg_cleanup: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin, db)) = self.pg_cleanup.take() {
            // A runtime of its own: Drop cannot await, and the test's runtime is ending.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                        .execute(&mut c)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

type ConfigEdit = Box<dyn FnOnce(&mut Config)>;

pub struct Builder {
    db: Db,
    opts: Options,
    edit: Vec<ConfigEdit>,
}

pub fn app(db: Db) -> Builder {
    // Test HTTP clients share the provider-less TLS build of the Twilio client.
    textdesk_channels::ensure_tls_provider();
    Builder {
        db,
        opts: Options { workers: false, simulator_delivery_delay: Duration::from_millis(20), ..Options::default() },
        edit: Vec::new(),
    }
}

impl Builder {
    pub fn workers(mut self) -> Self {
        self.opts.workers = true;
        self.opts.dispatch_interval = Duration::from_millis(50);
        self
    }
    /// How long the simulated carrier waits before reporting delivery (20 ms unless set).
    pub fn delivery_delay(mut self, delay: Duration) -> Self {
        self.opts.simulator_delivery_delay = delay;
        self
    }
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.edit.push(Box::new(f));
        self
    }

    pub async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_cleanup) = match self.db {
            Db::Sqlite => (format!("sqlite://{}", dir.path().join("test.db").display()), None),
            Db::Postgres => {
                use sqlx::Connection;
                let admin = postgres_url().expect("postgres url");
                let name = format!("textdesk_test_{:016x}", rand::random::<u64>());
                let mut c = sqlx::PgConnection::connect(&admin).await.expect("connect to test postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .expect("create db");
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
                (format!("{base}/{name}"), Some((admin, name)))
            }
        };
        let mut cfg = Config {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            simulator: true,
            account_name: "Test Dental".into(),
            // One key for every app a test starts, as nodes of one installation share theirs.
            secret_key: Some(TEST_SECRET_KEY.into()),
            ..Config::default()
        };
        for e in self.edit {
            e(&mut cfg);
        }
        let app = Application::build(cfg, self.opts).await.expect("app builds");
        let base = format!("http://{}", app.local_addr());
        let services = app.services.clone();
        let account_id = services.store.first_account().await.unwrap().unwrap().id;
        tokio::spawn(app.run());
        TestApp {
            base,
            services,
            account_id,
            database_url,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            _dir: dir,
            pg_cleanup,
        }
    }
}

/// Two servers over one new PostgreSQL database, as two nodes behind a load
/// balancer; None (and the test says it was skipped) without PostgreSQL.
pub async fn two_postgres_nodes() -> Option<(TestApp, TestApp)> {
    postgres_url()?;
    let a = app(Db::Postgres).start().await;
    let url = a.database_url.clone();
    let b = app(Db::Postgres).config(move |c| c.database_url = url).start().await;
    Some((a, b))
}

pub const PASSWORD: &str = "correct horse battery";

/// The secret key of the in-process apps (32 bytes of 0x2a in base64).
pub const TEST_SECRET_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn user(&self, email: &str, role: Role) -> textdesk_store::User {
        textdesk::services::auth::create_user(
            &self.services.store,
            self.account_id,
            Email::parse(email).unwrap(),
            "",
            role,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap()
    }

    /// A user with an API token; returns the token.
    pub async fn token_for(&self, email: &str, role: Role) -> String {
        let u = self.user(email, role).await;
        textdesk::services::auth::create_token(&self.services.store, u.id, "test").await.unwrap().1
    }

    pub async fn simulator_inbox(&self) -> i64 {
        self.inbox_with("SMS", "+14155550100", json!({})).await
    }

    /// A simulator inbox with its own settings (keywords, price…).
    pub async fn inbox_with(&self, name: &str, sender: &str, settings: Value) -> i64 {
        self.services
            .store
            .create_inbox(textdesk_store::NewInbox {
                account_id: self.account_id,
                name: name.into(),
                provider: "simulator".into(),
                medium: textdesk_core::Medium::Sms,
                sender: sender.into(),
                settings,
                secrets: json!({}),
            })
            .await
            .unwrap()
            .id
    }

    /// A customer texts the business from the simulator.
    pub async fn text_in(&self, inbox: i64, from: &str, body: &str, id: Option<&str>) -> reqwest::Response {
        let mut payload = json!({ "from": from, "body": body });
        if let Some(id) = id {
            payload["id"] = json!(id);
        }
        self.client
            .post(self.url(&format!("/simulator/api/inboxes/{inbox}/messages")))
            .json(&payload)
            .send()
            .await
            .unwrap()
    }

    /// Puts the conversation's contact in `zone`, as an agent would through the API.
    pub async fn move_contact_to(&self, token: &str, conv: i64, zone: &str) {
        let c = json(self.get(token, &format!("/api/v1/conversations/{conv}")).await).await;
        let r = self
            .client
            .patch(self.url(&format!("/api/v1/contacts/{}", c["contact_id"])))
            .bearer_auth(token)
            .json(&json!({ "time_zone": zone }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// A Twilio inbox on `fake` sending from `sender` at `per_second`
    /// segments a second, created and paced through the API by an admin's
    /// `token`, with `customer`'s first text in; returns the inbox.
    pub async fn paced_twilio_inbox(
        &self,
        token: &str,
        fake: &textdesk_channels::twilio::FakeTwilio,
        sender: &str,
        per_second: u32,
        customer: &str,
    ) -> Value {
        let twilio =
            json!({ "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() });
        let r = self
            .post(
                token,
                "/api/v1/inboxes",
                json!({ "name": format!("Line {sender}"), "channel_kind": "twilio", "sender": sender, "twilio": twilio }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let inbox = json(r).await;
        let r = self
            .client
            .patch(self.url(&format!("/api/v1/inboxes/{}", inbox["id"])))
            .bearer_auth(token)
            .json(&json!({ "settings": { "rate_limit": { "segments_per_second": per_second } } }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let params = fake.inbound_params(customer, sender, "Can I come earlier?");
        let r = fake.post_inbound(inbox["webhook_urls"]["inbound"].as_str().unwrap(), &params).await.unwrap();
        assert_eq!(r.status(), 200);
        inbox
    }

    /// Runs the dispatcher until nothing is due.
    pub async fn dispatch_all(&self) -> usize {
        let mut sent = 0;
        loop {
            let r = self.services.dispatch_once("test", 50).await.unwrap();
            sent += r.sent;
            if r.claimed == 0 {
                return sent;
            }
        }
    }

    /// Polls `f` until it returns Some, for at most five seconds.
    pub async fn eventually<T, F, Fut>(&self, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "condition not met within 5 seconds");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A browser session: a client with a cookie jar, signed in.
    pub async fn browser(&self, email: &str) -> reqwest::Client {
        let c =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = sign_in(&c, &self.base, email, PASSWORD).await;
        assert_eq!(r.status(), 303, "login should redirect");
        c
    }
}

/// Posts the login form as a browser does: the page first, for the form's
/// CSRF token and its cookie (sent explicitly, so clients without a cookie
/// jar work too).
pub async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> reqwest::Response {
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("textdesk_signin_csrf=").and_then(|v| v.split(';').next()).map(str::to_owned));
    let html = page.text().await.unwrap();
    let token = csrf_of(&html);
    let cookie = cookie.unwrap_or_else(|| token.clone());
    client
        .post(format!("{base}/login"))
        .header("cookie", format!("textdesk_signin_csrf={cookie}"))
        .form(&[("email", email), ("password", password), ("next", "/inbox"), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap()
}

/// A multipart body by hand: text fields, then files as (field, file name, type, bytes).
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----textdesk-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    for (k, name, ct, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The smallest PNG: one transparent pixel.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The CSRF token embedded in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let start = html.find(key).expect("page has a csrf field") + key.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub async fn json(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

/// A fixed-offset zone where the local hour is `hour` right now, so tests about
/// night and day do not depend on when they run.
pub fn zone_at_hour(hour: i8) -> (String, jiff::tz::TimeZone) {
    let now = jiff::Timestamp::now();
    for offset in -12i32..=14 {
        // Etc/GMT-5 is five hours *ahead* of UTC (POSIX sign).
        let name = match offset {
            0 => "Etc/GMT".to_owned(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let tz = jiff::tz::TimeZone::get(&name).expect("a fixed-offset zone");
        if now.to_zoned(tz.clone()).hour() == hour {
            return (name, tz);
        }
    }
    // -12..+14 covers 27 offsets, so every hour of the day is somewhere.
    panic!("no fixed-offset zone is at hour {hour} now")
}

/// A webhook receiver that keeps the bodies it is sent.
pub async fn receiver() -> (std::sync::Arc<std::sync::Mutex<Vec<Value>>>, u16) {
    let got: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = std::sync::Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(serde_json::from_str::<Value>(&body).unwrap());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (got, port)
}

/// The frames of a live stream until one of `kind` comes (3 s at most).
pub async fn wait_for_frame(resp: &mut reqwest::Response, kind: &str) -> Value {
    let mut buf = String::new();
    let fut = async {
        loop {
            while let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                if block.lines().any(|l| l == format!("event: {kind}") || l == format!("event:{kind}")) {
                    let data = block.lines().find_map(|l| l.strip_prefix("data:")).unwrap_or_default();
                    return serde_json::from_str::<Value>(data.trim()).unwrap();
                }
            }
            let chunk = resp.chunk().await.unwrap().expect("stream open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(3), fut).await.expect("the event within 3 s")
}

/// A conversation's messages as the API lists them.
pub async fn messages_in(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// An inbox's conversations as the API lists them.
pub async fn conversations_of(t: &TestApp, token: &str, inbox: i64) -> Vec<Value> {
    let list = json(t.get(token, &format!("/api/v1/conversations?inbox_id={inbox}")).await).await;
    list["items"].as_array().or(list.as_array()).unwrap().clone()
}

/// How many messages the account holds, in every conversation: a bad request must not change it.
pub async fn stored_message_count(t: &TestApp, token: &str) -> usize {
    let list = json(t.get(token, "/api/v1/conversations").await).await;
    let mut n = 0;
    for c in list["items"].as_array().unwrap() {
        n += messages_in(t, token, c["id"].as_i64().unwrap()).await.len();
    }
    n
}
