//! Each sender's pace holds for the sum of all nodes: three `textdesk serve`
//! nodes on one PostgreSQL database send the replies of many senders, each
//! paced at one segment a second, and the provider never sees one sender send
//! more than its second's allowance in any second (one message, and one more
//! for the send path's jitter). A node used to claim every sender before it
//! sent any row, so a row waited for the other senders' claims; the next row,
//! claimed by a node that waited less, arrived right behind it, and three
//! nodes delivered three of one sender's messages in one second.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::binary::Env;
use common::{Db, json};
use serde_json::json;
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

const SENDERS: usize = 100;
const REPLIES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_keep_each_senders_pace() {
    if std::env::var("TEXTDESK_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: the nodes share one PostgreSQL database (set TEXTDESK_TEST_POSTGRES_URL)");
        return;
    }
    textdesk_channels::ensure_tls_provider();
    // The test app only queues (it runs no dispatcher); the nodes send.
    let t = common::app(Db::Postgres).start().await;
    let token = t.token_for("admin@example.com", Role::Admin).await;
    let fake = FakeTwilio::start().await.unwrap();
    for i in 0..SENDERS {
        let sender = format!("+1415{:07}", 3_000_000 + i);
        t.paced_twilio_inbox(&token, &fake, &sender, 1, &format!("+1415{:07}", 4_000_000 + i)).await;
    }
    let list = json(t.get(&token, "/api/v1/conversations?limit=200").await).await;
    let conversations: Vec<i64> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(conversations.len(), SENDERS);
    for k in 0..REPLIES {
        for conv in &conversations {
            let body = json!({ "body": format!("Reply {k}: yes, come at ten.") });
            assert_eq!(t.post(&token, &format!("/api/v1/conversations/{conv}/messages"), body).await.status(), 201);
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(&t.database_url, &dir.path().join("data"))
        .set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY)
        .set("TEXTDESK_LOG", "warn");
    let env2 = env.another_node();
    let env3 = env.another_node();
    let _nodes = [
        env.serve(&dir.path().join("node-1.log")).await,
        env2.serve(&dir.path().join("node-2.log")).await,
        env3.serve(&dir.path().join("node-3.log")).await,
    ];

    let replies = || -> Vec<(String, jiff::Timestamp)> {
        fake.sent_with_times()
            .into_iter()
            .filter(|(s, _)| s.body.starts_with("Reply "))
            .map(|(s, at)| (s.from, at))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while replies().len() < SENDERS * REPLIES {
        assert!(Instant::now() < deadline, "only {} of {} replies sent", replies().len(), SENDERS * REPLIES);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut by_sender: BTreeMap<String, Vec<jiff::Timestamp>> = BTreeMap::new();
    for (from, at) in replies() {
        by_sender.entry(from).or_default().push(at);
    }
    for (sender, mut times) in by_sender {
        assert_eq!(times.len(), REPLIES, "{sender}: each reply once");
        times.sort();
        // Within any one second: at most two of this sender's messages.
        for w in times.windows(3) {
            let spread = w[2].duration_since(w[0]);
            assert!(
                spread >= jiff::SignedDuration::from_secs(1),
                "{sender} sent three messages within {spread:#} at one a second: {times:?}"
            );
        }
    }
}
