//! What every handler is given: the services and the configuration. The
//! account is the caller's (their session's or token's), never the server's.

use std::sync::Arc;

use crate::Services;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    /// Shared, not copied: axum clones the state for every request.
    pub services: Arc<Services>,
    pub config: Arc<Config>,
    /// The first account: the one public pages (the simulator, the sign-in
    /// page's lockout record) belong to at a host name no account claims.
    pub default_account: i64,
}
