//! What a page reads, over real HTTP: a conversation's page reads the label
//! catalogue once (its thread and the list's filter bar share it), and the
//! list's live refresh is its rows only, its filter bar not drawn again. The
//! reads are counted on PostgreSQL from the table statistics of the test's
//! own database; on both backends the pages still show what they did.

use crate::common;

use std::time::Duration;

use common::{Db, TestApp, app, json};
use sqlx::Connection;
use textdesk_core::Role;

async fn page(c: &reqwest::Client, t: &TestApp, path: &str) -> String {
    let r = c.get(t.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// How often `table` has been scanned in this test's database, once the
/// server's connections have reported their counts (an idle connection
/// reports within 10 s).
async fn scans(t: &TestApp, table: &str) -> i64 {
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut c = sqlx::PgConnection::connect(&t.database_url).await.unwrap();
    sqlx::query_scalar(
        "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(&mut c)
    .await
    .unwrap()
}

both_backends!(a_conversation_page_reads_the_label_catalogue_once);
async fn a_conversation_page_reads_the_label_catalogue_once(db: Db) {
    let t = app(db).start().await;
    t.user("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, "+14155550123", "Is my crown ready?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    let c = t.browser("dana@example.com").await;
    let path = format!("/conversations/{conv}?view=all");
    let html = page(&c, &t, &path).await;
    // The filter bar is there, with its inbox and label choices.
    assert!(html.contains("f-inbox") && html.contains("f-label"), "{html}");

    let rows = "/inbox/list?view=all&rows=1";
    assert!(!page(&c, &t, rows).await.contains("f-inbox"), "a live refresh draws no filter bar");
    if db == Db::Postgres {
        let before = scans(&t, "labels").await;
        page(&c, &t, &path).await;
        let after = scans(&t, "labels").await;
        assert_eq!(after - before, 1, "the conversation's page read the label catalogue {} times", after - before);
    }
}
