//! The account's event log as open screens follow it (the SSE relay).

use futures_util::Stream;
use textdesk_store::Live;

use crate::services::Services;

impl Services {
    /// The account's events after `after` and then as they happen, with the
    /// id the stream starts after (for a client to resume from).
    pub async fn follow_events(
        &self,
        account_id: i64,
        after: Option<i64>,
    ) -> (i64, impl Stream<Item = Live> + Send + use<>) {
        self.store.events().follow(account_id, after).await
    }
}
