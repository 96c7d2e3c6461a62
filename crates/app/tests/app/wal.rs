//! SQLite's write-ahead log while texts keep coming. No connection copies
//! the log into the database as it commits (the inbound writer's commit
//! would wait for it); the store's own checkpoints do it shortly after each
//! burst of writes, so the log starts over instead of growing with every
//! text the business has ever received.

use crate::common;

use std::time::Duration;

use common::{Db, app};
use futures_util::future::join_all;
use serde_json::json;

#[tokio::test]
async fn the_write_ahead_log_starts_over_after_each_burst_of_texts() {
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    let db = t.database_url.strip_prefix("sqlite://").expect("a SQLite file");
    let wal = format!("{db}-wal");
    let wal_size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);

    let mut sizes = Vec::new();
    for burst in 0..6 {
        let sends = (0..30).map(|i| {
            let t = &t;
            async move {
                t.client
                    .post(t.url(&format!("/simulator/api/inboxes/{inbox}/messages")))
                    .json(&json!({ "from": format!("+1415556{burst}{i:03}"), "body": "hello", "id": format!("SM-wal-{burst}-{i}") }))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
        assert!(join_all(sends).await.iter().all(|&s| s == 201), "burst {burst} stored");
        // The background work the texts started, then the checkpoint after it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sizes.push(wal_size());
    }
    assert!(sizes[0] > 0, "the texts went through the log");
    // Copied and started over: each burst writes over the frames of the one
    // before. Never copied, the log grows by every burst (about 0.4 MB each).
    assert!(sizes[5] <= sizes[1], "the log grew burst after burst: {sizes:?} bytes");
}
