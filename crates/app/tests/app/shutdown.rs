//! A node stopped with SIGTERM (a deploy, a scale-down) on the real
//! `textdesk serve`: a request under way when the signal comes is answered,
//! sends under way finish, live streams end with a hint to reconnect, the
//! process exits cleanly, and what it had claimed but not sent goes from
//! another node at once, not after the claim's lease.

use crate::common;

use std::time::{Duration, Instant};

use common::Db;
use common::binary::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::crash::{SENDER, harness, reply_bodies_sent};

const REPLIES: usize = 30;

fn sigterm(server: &Server) {
    let status = std::process::Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// The server's exit status, waiting at most `limit`.
async fn exited(server: &mut Server, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server was still running {limit:?} after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sigterm_finishes_what_is_under_way(db: Db) {
    let (mut h, mut server) = harness(db).await;

    // An agent's live stream on the node.
    let mut stream =
        h.api.client.get(format!("{}/api/v1/events", h.api.base)).bearer_auth(&h.api.token).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    // Twilio is part way through posting a text when the signal comes: its
    // headers and half its body are in.
    let params = h.fake.inbound_params("+14155550199", SENDER, "a text that arrives across the shutdown");
    let signature = textdesk_channels::twilio::compute_signature(h.fake.auth_token(), &h.flood.url, &params);
    let built = reqwest::Client::new().post(&h.flood.url).form(&params).build().unwrap();
    let body = built.body().and_then(|b| b.as_bytes()).unwrap().to_vec();
    let url = reqwest::Url::parse(&h.flood.url).unwrap();
    let mut conn = tokio::net::TcpStream::connect(format!("127.0.0.1:{}", h.env.port)).await.unwrap();
    let head = format!(
        "POST {}?{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\nContent-Length: {}\r\n\r\n",
        url.path(),
        url.query().unwrap_or(""),
        url.authority(),
        body.len()
    );
    let head = head.replace("?&", "").replace("? ", " ");
    conn.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first).await.unwrap();

    // Replies all due at one instant, so the dispatcher claims them in one
    // batch; each send takes a while at Twilio. A few are through: stop the node.
    let due = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3)).to_string();
    for k in 0..REPLIES {
        let conv = h.conversations[k % h.conversations.len()];
        let body = serde_json::json!({ "body": format!("reply #{k} to {conv}"), "send_at": due });
        h.api.post(&format!("/conversations/{conv}/messages"), body).await;
    }
    h.until_sent(5).await;
    sigterm(&server);
    let at_signal = reply_bodies_sent(&h.fake).len();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New connections are refused at once.
    let refused = reqwest::Client::new().get(format!("{}/healthz", h.env.base())).send().await;
    assert!(refused.is_err(), "a stopping node takes no new connection");

    // The request under way is answered, and its text is kept.
    conn.write_all(rest).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The live stream ends with a hint to come back in a second or three.
    let mut seen = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap_or(None) {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream was still open: {seen}");
    let bye = seen.split("\n\n").find(|block| block.contains("event: bye")).unwrap_or_else(|| panic!("{seen}"));
    let retry: u64 = bye.lines().find_map(|l| l.strip_prefix("retry:")).unwrap().trim().parse().unwrap();
    assert!((1000..3000).contains(&retry), "{bye}");

    // It exits by itself, cleanly, with the sends under way finished.
    let status = exited(&mut server, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}: {}", h.log_warnings());
    // The send under way at the signal finished; the rest of the batch was handed back, not sent.
    let sent_by_the_first = reply_bodies_sent(&h.fake).len();
    assert!(sent_by_the_first <= at_signal + 1, "{at_signal} sent at the signal, {sent_by_the_first} at exit");
    let log = std::fs::read_to_string(h.dir.path().join("serve-1.log")).unwrap();
    assert!(log.contains("stopping: finishing requests and sends under way") && log.contains("stopped"), "{log}");

    // Another node, whose lease would not settle anything for ten minutes,
    // sends the rest at once: what was claimed was handed back, not left.
    let env = h.env.another_node().set("TEXTDESK_CLAIM_LEASE_SECS", 600);
    let _next = env.serve(&h.dir.path().join("serve-2.log")).await;
    h.api.base = env.base();
    let replies = h.all_replies_sent(REPLIES).await;
    h.assert_sent_once(&replies, REPLIES);
    let kept = h.api.messages().await;
    assert!(kept.iter().any(|m| m["body"] == "a text that arrives across the shutdown"));
    let next_log = std::fs::read_to_string(h.dir.path().join("serve-2.log")).unwrap();
    assert!(!next_log.contains("settled outbound messages interrupted"), "nothing was left mid-send: {next_log}");
}
both_backends!(sigterm_finishes_what_is_under_way);
