//! What every handler is given: the services, the configuration, the account.

use std::sync::Arc;

use crate::Services;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<Config>,
    pub account_id: i64,
    /// The business's zone, for times shown to agents.
    pub business_tz: jiff::tz::TimeZone,
}
