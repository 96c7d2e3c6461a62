//! A node stopping on SIGTERM (a deploy, a scale-down): it stops taking new
//! work, lets what is in flight finish, and hands back what it claimed but
//! did not start, so another node carries on at once instead of after the
//! claim's lease. Live streams end with a hint to reconnect (to another node,
//! behind a load balancer) after a short random wait.

use std::time::Duration;

use tokio::sync::watch;

/// Shared by every part of one node: cheap to clone, set once.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown { tx: watch::Sender::new(false) }
    }
}

impl Shutdown {
    /// From now on the node is stopping.
    pub fn begin(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once the node is stopping (at once if it already is).
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone: nobody can stop us any more.
            if rx.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// How long a live stream's browser waits before reconnecting after its node
/// stopped: spread over a few seconds so a node's agents do not all land on
/// the next one in the same instant.
pub fn reconnect_after() -> Duration {
    Duration::from_millis(1000 + rand::random::<u64>() % 2000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_before_and_after_the_signal_both_complete() {
        let s = Shutdown::default();
        let early = tokio::spawn(s.stopping());
        assert!(!s.is_stopping());
        s.begin();
        tokio::time::timeout(Duration::from_secs(1), early).await.unwrap().unwrap();
        tokio::time::timeout(Duration::from_secs(1), s.stopping()).await.unwrap();
        assert!(s.is_stopping());
    }

    #[test]
    fn reconnects_are_spread_between_one_and_three_seconds() {
        let waits: Vec<Duration> = (0..200).map(|_| reconnect_after()).collect();
        assert!(waits.iter().all(|w| (Duration::from_secs(1)..Duration::from_secs(3)).contains(w)));
        assert!(waits.iter().any(|w| *w != waits[0]), "not all the same");
    }
}
