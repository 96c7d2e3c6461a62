//! The signed-in person's own preferences, set from the composer (the same
//! setting as `PATCH /api/v1/me`).

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::extract::UiUser;
use crate::http::problem::Problem;

pub fn ui_routes() -> Router<AppState> {
    Router::new().route("/preferences", post(save))
}

#[derive(Deserialize)]
struct PreferencesForm {
    csrf: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    enter_sends: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

async fn save(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<PreferencesForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    match s.services.store.set_enter_sends(ui.user.id, Some(f.enter_sends.is_some())).await {
        Ok(_) => Redirect::to(&crate::http::ui::safe_next(f.next)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
