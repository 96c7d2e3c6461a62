//! Crash safety end to end: the real `textdesk serve` binary is killed with
//! SIGKILL while its dispatcher is part way through a batch of Twilio sends,
//! then started again on the same database. Every inbound text the server
//! acknowledged is stored, once; every queued reply reaches Twilio, once.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Db;
use common::binary::{Env, Server};
use serde_json::{Value, json};
use textdesk_channels::twilio::FakeTwilio;

pub(crate) const SENDER: &str = "+14155550100";
const CUSTOMERS: usize = 30;
const REPLIES: usize = 30;
/// Each send takes this long at the fake, so a batch of replies is in flight for seconds.
const SEND_LATENCY: Duration = Duration::from_millis(150);

fn customer(k: usize) -> String {
    format!("+141555501{:02}", k % CUSTOMERS + 1)
}

/// Twilio posting inbound texts: each has a unique body; the ones answered
/// 200 are acknowledged, the others are kept to be posted again (as Twilio
/// retries, with the same MessageSid).
pub(crate) struct Flood {
    fake: Arc<FakeTwilio>,
    pub(crate) url: String,
    next: AtomicUsize,
    pub(crate) acked: Mutex<Vec<String>>,
    pub(crate) unacked: Mutex<Vec<Vec<(String, String)>>>,
}

impl Flood {
    async fn post_new(&self) {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let from = customer(i);
        let params = self.fake.inbound_params(&from, SENDER, &format!("inbound #{i} from {from}"));
        self.deliver(params).await;
    }

    pub(crate) async fn deliver(&self, params: Vec<(String, String)>) -> bool {
        let body = params.iter().find(|(k, _)| k == "Body").unwrap().1.clone();
        match self.fake.post_inbound(&self.url, &params).await {
            Ok(r) if r.status() == 200 => {
                self.acked.lock().unwrap().push(body);
                true
            }
            _ => {
                self.unacked.lock().unwrap().push(params);
                false
            }
        }
    }

    async fn burst(&self, n: usize) {
        futures_util::future::join_all((0..n).map(|_| self.post_new())).await;
    }
}

/// Twilio's API as it behaves when a client vanishes mid-request: a request
/// that arrived is carried out anyway. The fake, like any axum service, drops
/// a request whose client disconnected, so this front passes each request on
/// to it from a task of its own that outlives the caller.
/// Sends (POSTs) take `send_latency` there; listing answers at once.
async fn twilio_front(fake_base: String, send_latency: Duration) -> String {
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, fake_base) = (client.clone(), fake_base.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let delay = if parts.method == axum::http::Method::POST { send_latency } else { Duration::ZERO };
            let mut forward = client.request(parts.method, format!("{fake_base}{path}")).body(body);
            for name in [AUTHORIZATION, CONTENT_TYPE] {
                if let Some(v) = parts.headers.get(&name) {
                    forward = forward.header(name, v);
                }
            }
            let answer = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let resp = forward.send().await?;
                let (status, headers) = (resp.status(), resp.headers().clone());
                Ok::<_, reqwest::Error>((status, headers.get(CONTENT_TYPE).cloned(), resp.bytes().await?))
            });
            match answer.await {
                Ok(Ok((status, content_type, bytes))) => {
                    let mut r = (status, bytes).into_response();
                    if let Some(ct) = content_type {
                        r.headers_mut().insert(CONTENT_TYPE, ct);
                    }
                    r
                }
                _ => axum::http::StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Api {
    async fn send(&self, r: reqwest::RequestBuilder) -> Value {
        let r = r.bearer_auth(&self.token).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        self.send(self.client.get(format!("{}/api/v1{path}", self.base))).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        self.send(self.client.post(format!("{}/api/v1{path}", self.base)).json(&body)).await
    }

    async fn conversations(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/conversations?limit=200&cursor={c}"),
                None => "/conversations?limit=200".to_owned(),
            };
            let page = self.get(&path).await;
            ids.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return ids,
            }
        }
    }

    /// Every message of every conversation.
    pub(crate) async fn messages(&self) -> Vec<Value> {
        let mut all = Vec::new();
        for conv in self.conversations().await {
            let list = self.get(&format!("/conversations/{conv}/messages?limit=1000")).await;
            all.extend(list.as_array().unwrap().iter().cloned());
        }
        all
    }
}

pub(crate) fn reply_bodies_sent(fake: &FakeTwilio) -> Vec<String> {
    fake.sent().into_iter().map(|s| s.body).filter(|b| b.starts_with("reply #")).collect()
}

fn counts<'a>(items: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// A database (a fresh PostgreSQL one, or a SQLite file), an admin token made
/// with the CLI, `textdesk serve` running, and a Twilio inbox pointed at a
/// fake Twilio whose sends take SEND_LATENCY; every customer has texted in.
pub(crate) struct Harness {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) env: Env,
    pub(crate) fake: Arc<FakeTwilio>,
    pub(crate) api: Api,
    pub(crate) flood: Arc<Flood>,
    pub(crate) conversations: Vec<i64>,
    // Dropped last: on PostgreSQL it drops the database.
    _pg: Option<common::TestApp>,
}

pub(crate) async fn harness(db: Db) -> (Harness, Server) {
    textdesk_channels::ensure_tls_provider();
    // On PostgreSQL the harness's test app is used only for the fresh
    // database it creates (and drops at the end); its own server is idle.
    let pg = match db {
        Db::Postgres => Some(common::app(Db::Postgres).start().await),
        Db::Sqlite => None,
    };
    let dir = tempfile::tempdir().unwrap();
    let database_url = match &pg {
        Some(t) => t.database_url.clone(),
        None => format!("sqlite://{}", dir.path().join("textdesk.db").display()),
    };
    let env = Env::new(&database_url, &dir.path().join("data"))
        // The harness's app (PostgreSQL) sealed the database's secrets with its key.
        .set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY)
        .set("TEXTDESK_CLAIM_LEASE_SECS", 2)
        .set("TEXTDESK_LOG", "info,sqlx=warn,tower_http=warn");
    env.run(&["migrate"], None);
    env.run(
        &["user", "add", "--email", "admin@example.com", "--role", "admin", "--password-stdin"],
        Some("a strong password\n"),
    );
    let token = env.run(&["token", "create", "--user", "admin@example.com"], None).trim().to_owned();

    let fake = Arc::new(FakeTwilio::start().await.unwrap());
    let api_base = twilio_front(fake.base_url().to_owned(), SEND_LATENCY).await;
    let server = env.serve(&dir.path().join("serve-1.log")).await;
    let api = Api { client: reqwest::Client::new(), base: env.base(), token };

    let inbox = api
        .post(
            "/inboxes",
            json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
                    "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": api_base } }),
        )
        .await;
    let id = inbox["id"].as_i64().unwrap();
    api.send(
        api.client
            .patch(format!("{}/api/v1/inboxes/{id}", api.base))
            .json(&json!({ "settings": { "rate_limit": { "segments_per_second": 100 } } })),
    )
    .await;
    let url = inbox["webhook_urls"]["inbound"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&env.base()), "{url}");

    // Every customer texts in (so there is someone to answer), all at once.
    let flood = Arc::new(Flood {
        fake: fake.clone(),
        url,
        next: AtomicUsize::new(0),
        acked: Mutex::new(Vec::new()),
        unacked: Mutex::new(Vec::new()),
    });
    flood.burst(2 * CUSTOMERS).await;
    assert!(flood.unacked.lock().unwrap().is_empty(), "a live server acknowledges every signed text");
    let conversations = api.conversations().await;
    assert_eq!(conversations.len(), CUSTOMERS);
    (Harness { _pg: pg, dir, env, fake, api, flood, conversations }, server)
}

impl Harness {
    /// Queues `n` replies with unique bodies, round the conversations.
    pub(crate) async fn queue_replies(&self, n: usize) {
        for k in 0..n {
            let conv = self.conversations[k % self.conversations.len()];
            self.api
                .post(&format!("/conversations/{conv}/messages"), json!({ "body": format!("reply #{k} to {conv}") }))
                .await;
        }
    }

    /// Waits until Twilio has at least `n` replies.
    pub(crate) async fn until_sent(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while reply_bodies_sent(&self.fake).len() < n {
            assert!(Instant::now() < deadline, "the dispatcher did not send {n} replies");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) until all `n` replies show as sent; none may fail.
    pub(crate) async fn all_replies_sent(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let replies: Vec<Value> = self
                .api
                .messages()
                .await
                .into_iter()
                .filter(|m| {
                    m["direction"] == "outbound" && m["body"].as_str().is_some_and(|b| b.starts_with("reply #"))
                })
                .collect();
            let done = replies.iter().filter(|m| m["status"] == "sent" || m["status"] == "delivered").count();
            if done == n {
                return replies;
            }
            let stuck: Vec<_> = replies.iter().filter(|m| m["status"] == "failed").collect();
            assert!(stuck.is_empty(), "no reply may fail or be left for a person to decide: {stuck:?}");
            assert!(
                Instant::now() < deadline,
                "only {done} of {n} replies sent: {:?}",
                replies.iter().map(|m| (&m["body"], &m["status"])).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The servers' warnings and errors, for a failure's message.
    pub(crate) fn log_warnings(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push_str(&format!("--- {}\n", path.display()));
                for line in text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Each reply reached Twilio exactly once, and its sid is the one recorded.
    pub(crate) fn assert_sent_once(&self, replies: &[Value], n: usize) {
        assert_eq!(replies.len(), n);
        let sent = self.fake.sent();
        let to_twilio = counts(sent.iter().map(|s| s.body.as_str()).filter(|b| b.starts_with("reply #")));
        let twice: Vec<_> = to_twilio.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "sent more than once: {twice:?}\n{}", self.log_warnings());
        assert_eq!(to_twilio.len(), n, "{to_twilio:?}");
        for m in replies {
            let s = sent.iter().find(|s| s.body == m["body"].as_str().unwrap()).unwrap();
            assert_eq!(m["provider_id"].as_str(), Some(s.sid.as_str()), "{m}");
        }
    }
}

async fn killed_mid_batch(db: Db) {
    let (h, server) = harness(db).await;
    let Harness { env, fake, api, flood, dir, .. } = &h;

    // From now on texts keep arriving, through the crash and the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = tokio::spawn({
        let (flood, stop) = (flood.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                flood.burst(4).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    // Replies are queued; each send takes SEND_LATENCY at Twilio.
    h.queue_replies(REPLIES).await;
    // A few are through, the rest are claimed or waiting: kill the server.
    h.until_sent(5).await;
    server.kill();
    let at_kill = reply_bodies_sent(fake).len();
    assert!(at_kill < REPLIES, "the kill came after the whole batch ({at_kill} sent); nothing was interrupted");

    // Down for a moment (texts meanwhile are refused), then up on the same database.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_kill = reply_bodies_sent(fake).len();
    let _server = env.serve(&dir.path().join("serve-2.log")).await;
    // Twilio retries what was not acknowledged, with the same MessageSid.
    let retry: Vec<_> = std::mem::take(&mut *flood.unacked.lock().unwrap());
    let refused = retry.len();
    for params in retry {
        assert!(flood.deliver(params).await, "a retried text is acknowledged by the restarted server");
    }

    // Every reply ends sent: interrupted sends settled by asking Twilio, the rest sent again.
    let replies = h.all_replies_sent(REPLIES).await;
    stop.store(true, Ordering::SeqCst);
    flooding.await.unwrap();
    let retry: Vec<_> = std::mem::take(&mut *flood.unacked.lock().unwrap());
    let refused = refused + retry.len();
    for params in retry {
        assert!(flood.deliver(params).await, "a retried text is acknowledged by the restarted server");
    }

    // None twice.
    h.assert_sent_once(&replies, REPLIES);

    // Every acknowledged text is stored, once; nothing is stored twice.
    let messages = api.messages().await;
    let stored = counts(messages.iter().filter(|m| m["direction"] == "inbound").map(|m| m["body"].as_str().unwrap()));
    let acked = flood.acked.lock().unwrap().clone();
    for body in &acked {
        assert_eq!(stored.get(body.as_str()), Some(&1), "acknowledged text {body:?} is stored once");
    }
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(stored.len(), acked.len(), "every stored text was one Twilio posted and saw acknowledged");
    eprintln!(
        "{db:?}: {} texts acknowledged ({refused} refused while down, then retried); replies sent before the kill: \
         {at_kill}, completed by Twilio after it: {}, after the restart: {}",
        acked.len(),
        after_kill - at_kill,
        REPLIES - after_kill,
    );
}
both_backends!(killed_mid_batch);

/// A rolling restart: a second server starts on the same database while the
/// first is part way through a batch that outlasts the claim lease. The new
/// server settles rows it finds stale, the old one keeps sending its batch;
/// still no reply goes twice.
async fn overlapping_servers(db: Db) {
    let (h, _old) = harness(db).await;
    let n = 50;
    h.queue_replies(n).await;
    // By now the batch has outlived the lease (2 s): the new server finds its rows stale.
    h.until_sent(20).await;
    let env = h.env.another_node();
    let _new = env.serve(&h.dir.path().join("serve-new.log")).await;
    let replies = h.all_replies_sent(n).await;
    // One more settling round of each server, to be sure nothing is still on its way.
    tokio::time::sleep(Duration::from_secs(6)).await;
    h.assert_sent_once(&replies, n);
    assert_eq!(reply_bodies_sent(&h.fake).len(), n);
}
both_backends!(overlapping_servers);
