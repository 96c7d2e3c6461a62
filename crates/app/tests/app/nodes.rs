//! Three `textdesk serve` nodes on one PostgreSQL database, as behind a load
//! balancer: texts come in through all of them and agents reply through all
//! of them while one node is killed with SIGKILL and started again. No text
//! acknowledged is lost or stored twice, no reply is lost or sent twice, and
//! an agent connected to a node that stayed up hears of every text.

use crate::common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Db;
use serde_json::{Value, json};

use crate::crash::{Api, SENDER, harness};

/// What one agent's live stream heard: (event id, kind, message id).
type Heard = Arc<Mutex<Vec<(i64, String, Option<i64>)>>>;

/// Follows a node's live stream in the background, as an agent's screen does.
async fn listen(base: &str, token: &str) -> Heard {
    let heard: Heard = Arc::default();
    let mut resp = reqwest::Client::new().get(format!("{base}/api/v1/events")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let out = heard.clone();
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
                let (Some(id), Some(kind)) = (field("id:"), field("event:")) else { continue };
                let data: Value = field("data:").and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(Value::Null);
                out.lock().unwrap().push((id.parse().unwrap(), kind, data["message_id"].as_i64()));
            }
        }
    });
    heard
}

fn node_url(url: &str, base: &str) -> String {
    let path = &url[url.find("/webhooks/").unwrap()..];
    format!("{base}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_one_killed_mid_stream() {
    if std::env::var("TEXTDESK_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: three nodes share one PostgreSQL database (set TEXTDESK_TEST_POSTGRES_URL)");
        return;
    }
    let (h, _one) = harness(Db::Postgres).await;
    let env2 = h.env.another_node();
    let env3 = h.env.another_node();
    let two = env2.serve(&h.dir.path().join("node-2.log")).await;
    let _three = env3.serve(&h.dir.path().join("node-3.log")).await;
    let bases = [h.env.base(), env2.base(), env3.base()];
    let token = h.api.token.clone();
    let api = |i: usize| Api { client: reqwest::Client::new(), base: bases[i].clone(), token: token.clone() };

    // An agent on each node; the one on node 2 loses its connection when the node dies.
    let on_one = listen(&bases[0], &token).await;
    let on_three = listen(&bases[2], &token).await;
    let _on_two = listen(&bases[1], &token).await;

    // Texts and replies round the three nodes; node 2 is killed part way and comes back.
    let mut two = Some(two);
    let mut acked = Vec::new();
    let mut unacked = Vec::new();
    let mut replies = 0;
    for i in 0..90usize {
        let node = i % 3;
        let from = format!("+141555502{:02}", i % 20);
        let body = format!("text #{i} via node {}", node + 1);
        let params = h.fake.inbound_params(&from, SENDER, &body);
        match h.fake.post_inbound(&node_url(&h.flood.url, &bases[node]), &params).await {
            Ok(r) if r.status() == 200 => acked.push(body),
            _ => unacked.push((body, params)),
        }
        if i % 2 == 0 {
            let conv = h.conversations[i % h.conversations.len()];
            let path = format!("/conversations/{conv}/messages");
            let reply = json!({ "body": format!("reply #{replies} to {conv}") });
            // A reply through the dead node would be refused: the load balancer sends it elsewhere.
            let via = if node == 1 && two.is_none() { 0 } else { node };
            api(via).post(&path, reply).await;
            replies += 1;
        }
        if i == 30 {
            two.take().unwrap().kill();
        }
        if i == 60 {
            two = Some(env2.serve(&h.dir.path().join("node-2-again.log")).await);
        }
    }
    assert!(!unacked.is_empty(), "some texts reached node 2 while it was down");
    // Twilio retries what was not acknowledged, with the same MessageSid; the balancer picks a live node.
    for (body, params) in unacked {
        let r = h.fake.post_inbound(&node_url(&h.flood.url, &bases[2]), &params).await.unwrap();
        assert_eq!(r.status(), 200);
        acked.push(body);
    }

    // Every reply sent, once.
    let sent = h.all_replies_sent(replies).await;
    h.assert_sent_once(&sent, replies);

    // Every acknowledged text stored once.
    let messages = h.api.messages().await;
    let inbound: Vec<&Value> = messages
        .iter()
        .filter(|m| m["direction"] == "inbound" && m["body"].as_str().is_some_and(|b| b.starts_with("text #")))
        .collect();
    let texts: Vec<&str> = inbound.iter().filter_map(|m| m["body"].as_str()).collect();
    for body in &acked {
        assert_eq!(texts.iter().filter(|t| *t == body).count(), 1, "{body:?} is stored once");
    }
    assert_eq!(texts.len(), acked.len());

    // The agents on the nodes that stayed up heard of every one of these texts, in order, none twice.
    let wanted: BTreeSet<i64> = inbound.iter().filter_map(|m| m["id"].as_i64()).collect();
    for (name, heard) in [("node 1", &on_one), ("node 3", &on_three)] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: BTreeSet<i64> = heard
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, kind, _)| kind == "message.created")
                .filter_map(|(_, _, m)| *m)
                .collect();
            let missing: Vec<_> = wanted.difference(&got).collect();
            if missing.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{name}'s agent never heard of {missing:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ids: Vec<i64> = heard.lock().unwrap().iter().map(|(id, _, _)| *id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{name}: events in order, none twice: {ids:?}");
    }
}
