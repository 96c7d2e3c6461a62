//! Live events for agents' screens. Within a node, a broadcast channel; across
//! PostgreSQL nodes, LISTEN/NOTIFY carries the same JSON to every node, each of
//! which rebroadcasts locally (so a node hears its own events the same way).

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{Backend, Result};

const CHANNEL: &str = "textdesk_live";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveEvent {
    pub account_id: i64,
    /// `message.created`, `message.updated`, `conversation.updated`.
    pub kind: String,
    pub conversation_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
}

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<LiveEvent>,
    pg: Option<sqlx::PgPool>,
}

impl EventBus {
    pub(crate) async fn start(backend: Backend, url: &str) -> Result<Self> {
        let (local, _) = broadcast::channel(1024);
        if backend == Backend::Sqlite {
            return Ok(EventBus { local, pg: None });
        }
        let pg = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(url).await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pg).await?;
        listener.listen(CHANNEL).await?;
        let tx = local.clone();
        tokio::spawn(async move {
            loop {
                // PgListener reconnects by itself; an error here is a notification
                // lost while the connection was down, which clients recover from by
                // reloading.
                match listener.recv().await {
                    Ok(n) => {
                        if let Ok(ev) = serde_json::from_str::<LiveEvent>(n.payload()) {
                            let _ = tx.send(ev);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live event listener interrupted");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(EventBus { local, pg: Some(pg) })
    }

    pub async fn publish(&self, ev: LiveEvent) {
        match &self.pg {
            None => {
                let _ = self.local.send(ev);
            }
            Some(pg) => {
                let payload = match serde_json::to_string(&ev) {
                    Ok(p) => p,
                    Err(_) => return,
                };
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pg).await {
                    tracing::warn!(error = %e, "could not publish a live event");
                }
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.local.subscribe()
    }
}
