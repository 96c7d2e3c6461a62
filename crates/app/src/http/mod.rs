//! The HTTP surface: `api` (JSON, bearer tokens), `ui` (server-rendered pages,
//! sessions), `simulator`, and `ops` (health, metrics). Handlers stay thin:
//! parse, call a service, render.

pub mod account;
pub mod admin;
pub mod api;
pub mod audit;
pub mod canned;
pub mod contacts;
pub mod extract;
pub mod hours_form;
pub mod inboxes;
pub mod labels;
pub mod live;
pub mod media;
pub mod ops;
pub mod preferences;
pub mod privacy;
pub mod problem;
pub mod retention;
pub mod settings;
pub mod settings_inboxes;
pub mod setup;
pub mod simulator;
pub mod ui;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

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

/// Every response's policy unless it sets its own (`/media` does): our own
/// scripts and styles only, never inline ones, so injected markup cannot run.
/// Pictures may be `blob:` (the composer's previews of files being attached).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .merge(ui::routes())
        .merge(media::ui_routes(state.config.media_max_bytes as usize))
        .nest("/api/v1", api::routes().merge(media::api_routes(state.config.media_max_bytes as usize)))
        .merge(ops::routes())
        .merge(webhooks::routes())
        .merge(media::routes())
        .merge(privacy::ui_routes().nest("/api/v1", privacy::api_routes()))
        .merge(retention::ui_routes().nest("/api/v1", retention::api_routes()));
    if state.config.simulator {
        app = app.merge(simulator::routes());
    }
    app.layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // Paths only: query strings and bodies can hold customer data.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .with_state(state)
}
