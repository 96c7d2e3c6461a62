//! Every address the app answers, in one place: the agents' pages, the API
//! (under `/api/v1`), providers' webhooks, media links, the operator's probes
//! and the simulator. Handlers live by resource; this file only says which
//! path and method reaches which.

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::http::contacts::{
    api as contacts_api, consent, list_page as contacts_page, merge as contact_merge, merge_page, page as contact_page,
};
use crate::http::conversations::{
    actions, api as conversations_api, channels, escalations, list, surveys, thread, transcript,
};
use crate::http::inboxes::{
    api as inboxes_api, list as inbox_list, registration as inbox_registration, settings as inbox_settings, widget_form,
};
use crate::http::messages::{api as messages_api, page as composer};
use crate::http::notifications::{api as notifications_api, page as new_conversation};
use crate::http::outgoing::{api as hooks_api, page as hooks_page};
use crate::http::people::{invites, page as people, teams, tokens, users};
use crate::http::problem::Problem;
use crate::http::reviews::{api as reviews_api, page as reviews_page, settings as reviews_settings};
use crate::http::state::AppState;
use crate::http::{
    account, audit, automations, canned, flows, labels, layout, live, media, openapi, operator, ops, preferences,
    privacy, reports, retention, routing, session, setup, simulator, templates, text_us, voice, webhooks, widget,
};

/// Every response's policy unless it sets its own (`/media` does): our own
/// scripts and styles only, never inline ones, so injected markup cannot run.
/// Pictures may be `blob:` (the composer's previews of files being attached).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let upload_limit = state.config.media_max_bytes as usize;
    // Pages answer a browser's errors with pages; the API keeps problem details.
    // A fault in one request answers it with an error (a page for a browser)
    // instead of dropping the connection; nothing is known to panic.
    let pages = pages(upload_limit)
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(middleware::from_fn_with_state(state.clone(), layout::html_errors));
    let mut app = Router::new()
        .merge(pages)
        .nest("/api/v1", api(upload_limit))
        .merge(outside(state.config.media_max_bytes, upload_limit));
    if state.config.simulator {
        app = app.merge(simulator_routes());
    }
    app.fallback(layout::not_found)
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // Paths only: query strings and bodies can hold customer data.
        // The route, not the path: paths carry secrets (an invitation's token, the inbound-email
        // webhook's secret) and customers' numbers (the simulator's), and logs must hold none.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let route = req.extensions().get::<MatchedPath>().map_or("(no route)", MatchedPath::as_str);
            tracing::info_span!("http", method = %req.method(), route = %route)
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .with_state(state)
}

/// A handler's panic as a 500. Its message is not logged here: it may hold a
/// customer's words (the request's span says which route failed).
fn answer_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request's handler panicked; it was answered 500");
    Problem::internal().into_response()
}

/// The agents' web UI: pages, their forms, fragments and live events.
fn pages(upload_limit: usize) -> Router<AppState> {
    // The composer's uploads and its reply (a multipart form when the browser
    // runs no script): room for a file and the form around it.
    let uploads = DefaultBodyLimit::max(upload_limit.saturating_add(crate::http::extract::FORM_SLACK));
    Router::new()
        // Signing in and out
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/invite/{token}", get(invites::invite_page).post(invites::accept_invite))
        .route("/preferences", post(preferences::save))
        .route("/profile", get(voice::profile_page).post(voice::save_profile))
        .route("/callbacks", get(voice::callbacks_page))
        .route("/callbacks/{id}/take", post(voice::take_form))
        .route("/callbacks/{id}/call", post(voice::call_form))
        // Conversations
        .route("/inbox", get(list::inbox_page))
        .route("/inbox/list", get(list::inbox_list))
        .route(
            "/conversations/new",
            get(new_conversation::new_conversation_page).post(new_conversation::start_conversation),
        )
        .route("/conversations/{id}", get(thread::conversation_page))
        .route("/conversations/{id}/transcript", get(transcript::transcript_page))
        .route("/conversations/{id}/thread", get(thread::thread_fragment))
        .route("/conversations/{id}/assign", post(actions::assign))
        .route("/conversations/{id}/status", post(actions::set_status))
        .route("/conversations/{id}/priority", post(actions::set_priority))
        .route("/conversations/{id}/team", post(actions::set_team))
        .route("/conversations/{id}/labels", post(actions::set_labels))
        .route("/conversations/{id}/unread", post(actions::mark_unread))
        .route("/conversations/{id}/escalate", post(escalations::escalate_form))
        // Messages
        .route("/conversations/{id}/reply", post(composer::reply).layer(uploads))
        .route("/conversations/{id}/template", post(templates::send_form))
        .route("/conversations/{id}/attachments", post(media::ui_upload).layer(uploads))
        .route("/conversations/{id}/preview", post(composer::preview))
        .route("/conversations/{id}/waiting/{message_id}", post(composer::waiting_action))
        .route("/canned", get(canned::picker_list))
        .route("/conversations/{id}/canned/{cid}", post(canned::picker_render))
        // Contacts
        .route("/conversations/{id}/consent", post(consent::record_consent_form))
        .route("/contacts/{id}/consent.csv", get(consent::contact_consent_csv))
        .route("/conversations/{id}/contact", post(contact_page::ui_edit_contact))
        .route("/conversations/{id}/contact/attributes", post(contact_page::ui_attribute))
        .route("/conversations/{id}/contact/notes", post(contact_page::ui_add_note))
        .route("/conversations/{id}/contact/notes/{note_id}/delete", post(contact_page::ui_delete_note))
        .route("/contacts", get(contacts_page::contacts_page))
        .route("/contacts/import", post(contacts_page::import_form).layer(uploads))
        .route("/contacts/export.csv", get(contacts_page::export_csv))
        .route("/contacts/{id}/merge", get(merge_page::merge_page).post(merge_page::merge_form))
        .route("/contact-merges/{id}/undo", post(merge_page::undo_form))
        // Live updates
        .route("/events", get(live::ui_events))
        .route("/conversations/{id}/notice", get(live::notice))
        // Settings: inboxes
        .route("/settings", get(|| async { Redirect::to("/settings/inboxes") }))
        .route("/settings/inboxes", get(inbox_list::inboxes_page).post(inbox_list::add_inbox))
        .route("/settings/inboxes/{id}", get(inbox_settings::inbox_page))
        .route("/settings/inboxes/{id}/widget", post(widget_form::save_widget))
        .route("/settings/inboxes/{id}/{section}", post(inbox_settings::save_inbox_section))
        .route("/settings/inboxes/{id}/away-preview", post(setup::away_preview))
        .route("/settings/inboxes/{id}/templates/sync", post(templates::sync_form))
        .route("/settings/inboxes/{id}/webhook/register", post(inbox_registration::register_webhook_form))
        .route("/setup/dismiss", post(setup::dismiss))
        // Settings: people
        .route("/settings/users", get(people::users_page).post(invites::invite))
        .route("/settings/users/{id}", post(users::change_user))
        .route("/settings/users/{id}/invite", post(invites::reinvite))
        .route("/settings/teams", post(teams::create_team_form))
        .route("/settings/teams/{id}/members", post(teams::team_member))
        .route("/settings/teams/{id}/routing", post(routing::team_routing_form))
        .route("/presence", post(routing::presence_form))
        // Settings: account, canned responses, labels, audit
        .route("/settings/account", get(account::account_page))
        .route("/settings/account/quiet-hours", post(account::save_quiet_hours))
        .route("/settings/account/targets", post(account::save_targets))
        .route("/settings/account/video", post(account::save_video))
        .route("/settings/account/time-zone", post(account::save_time_zone))
        .route("/settings/account/routing", post(account::save_routing))
        .route("/settings/canned", get(canned::settings_page).post(canned::create_form))
        .route("/settings/canned/{id}", post(canned::update_form))
        .route("/settings/canned/{id}/delete", post(canned::delete_form))
        .route("/settings/labels", get(labels::settings_page).post(labels::create_form))
        .route("/settings/labels/{id}", post(labels::update_form))
        .route("/settings/labels/{id}/delete", post(labels::delete_form))
        // Settings: automations (supervisors read, admins change)
        .route("/settings/automations", get(automations::automations_page).post(automations::create_rule_form))
        .route("/settings/automations/new", get(automations::new_rule_page))
        .route("/settings/automations/{id}", get(automations::edit_rule_page).post(automations::update_rule_form))
        .route("/settings/automations/{id}/switch", post(automations::switch_rule_form))
        .route("/settings/automations/{id}/move", post(automations::move_rule_form))
        .route("/settings/automations/{id}/delete", post(automations::delete_rule_form))
        // One person's data, and the account's retention policy (admins)
        .route("/contacts/{id}/privacy", get(privacy::privacy_page).post(privacy::erase_form))
        .route("/contacts/{id}/export.zip", get(privacy::ui_export))
        .route("/settings/retention", get(retention::retention_page).post(retention::save_form))
        // Outgoing webhooks (admins)
        // Settings: self-service flows (admins)
        .route("/settings/flows", get(flows::flows_page).post(flows::create_flow_form))
        .route("/settings/flows/import", post(flows::import_flow_form))
        .route("/settings/flows/{id}", get(flows::flow_page).post(flows::settings_form))
        .route("/settings/flows/{id}/export", get(flows::export_file))
        .route("/settings/flows/{id}/steps", post(flows::add_step_form))
        .route("/settings/flows/{id}/steps/{n}", post(flows::step_form))
        .route("/settings/flows/{id}/steps/{n}/delete", post(flows::delete_step_form))
        .route("/settings/flows/{id}/answers", post(flows::answers_form))
        .route("/settings/flows/{id}/delete", post(flows::delete_flow_form))
        .route("/settings/webhooks", get(hooks_page::list_page).post(hooks_page::create_form))
        .route("/settings/webhooks/{id}", get(hooks_page::detail_page).post(hooks_page::update_form))
        .route("/settings/webhooks/{id}/delete", post(hooks_page::delete_form))
        .route("/settings/webhooks/{id}/secret", post(hooks_page::rotate_form))
        .route("/settings/webhooks/{id}/deliveries/{delivery_id}/resend", post(hooks_page::resend_form))
        .route("/settings/audit", get(audit::audit_page))
        .route("/settings/audit/export", get(audit::export_page))
        .route("/settings/reviews", get(reviews_settings::settings_page).post(reviews_settings::save_form))
        // Quality review: the queue (supervisors and admins), scorecards, one's own
        .route("/reviews", get(reviews_page::queue_page))
        .route("/reviews/mine", get(reviews_page::mine_page))
        .route("/reviews/{id}", get(reviews_page::review_page).post(reviews_page::score_form))
        // Reports: supervisors and admins
        .route("/reports", get(reports::reports_page))
        .route("/reports.csv", get(reports::reports_csv))
        // Our own scripts and styles
        .route("/static/app.css", get(|| async { static_file("text/css", include_str!("../../static/app.css")) }))
        .route("/static/app.js", get(|| async { static_file("text/javascript", include_str!("../../static/app.js")) }))
        .route(
            "/static/icon.svg",
            get(|| async { static_file("image/svg+xml", include_str!("../../static/icon.svg")) }),
        )
        // The web chat widget's page (in its iframe) and the printable "text us" page, both public
        .route("/widget/{inbox}/frame", get(widget::frame))
        .route("/text-us/{inbox}", get(text_us::page))
        .route(
            "/static/widget.js",
            get(|| async { static_file("text/javascript", include_str!("../../static/widget.js")) }),
        )
        .route("/static/widget.css", get(|| async { static_file("text/css", include_str!("../../static/widget.css")) }))
        .route(
            "/static/simulator.js",
            get(|| async { static_file("text/javascript", include_str!("../../static/simulator.js")) }),
        )
}

/// REST API v1, mounted under `/api/v1`: JSON, bearer tokens, problem details.
fn api(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/me", get(preferences::me).patch(preferences::update_me))
        .route("/me/presence", get(routing::get_presence).put(routing::put_presence))
        .route("/callbacks", get(voice::list_callbacks))
        .route("/callbacks/{id}/take", post(voice::take_callback))
        .route("/callbacks/{id}/call", post(voice::call_callback))
        .route("/account", get(account::get_account).patch(account::update_account))
        .route("/reports", get(reports::api::get_report))
        .route("/reports/csv", get(reports::api::get_report_csv))
        // Conversations
        .route("/conversations", get(conversations_api::list_conversations))
        .route("/conversations/{id}", get(conversations_api::get_conversation))
        .route("/conversations/{id}/assign", post(conversations_api::assign_conversation))
        .route("/conversations/{id}/status", post(conversations_api::set_status))
        .route("/conversations/{id}/priority", post(conversations_api::set_priority))
        .route("/conversations/{id}/read", post(conversations_api::mark_read))
        .route("/conversations/{id}/unread", post(conversations_api::mark_unread))
        .route("/conversations/{id}/labels", put(conversations_api::set_labels))
        .route("/conversations/{id}/timeline", get(conversations_api::timeline))
        .route("/conversations/{id}/transcript", get(transcript::transcript))
        .route(
            "/conversations/{id}/escalations",
            get(escalations::list_escalations).post(escalations::create_escalation),
        )
        .route("/conversations/{id}/surveys", get(surveys::list_surveys))
        .route("/conversations/{id}/channels", get(channels::list_channels))
        // Messages
        .route("/conversations/{id}/messages", get(messages_api::list_messages).post(messages_api::create_message))
        .route("/conversations/{id}/scheduled", get(messages_api::list_scheduled))
        .route("/messages/{id}", patch(messages_api::edit_waiting_message).delete(messages_api::cancel_message))
        .route("/messages/{id}/send-now", post(messages_api::send_now))
        .route("/messages/{id}/retry", post(messages_api::retry_message))
        .route("/compose/preview", post(messages_api::compose_preview))
        .route("/notifications", post(notifications_api::create_notification))
        .route("/media", post(media::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/canned-responses", get(canned::list_canned).post(canned::create_canned))
        .route(
            "/canned-responses/{id}",
            get(canned::get_canned).patch(canned::update_canned).delete(canned::delete_canned),
        )
        .route("/conversations/{id}/canned-responses/{cid}/render", post(canned::render_canned))
        // Contacts
        .route("/contacts", get(contacts_api::list_contacts).post(contacts_api::create_contact))
        .route("/contacts/{id}", get(contacts_api::get_contact).patch(contacts_api::update_contact))
        .route("/contacts/{id}/identities", post(contacts_api::add_identity))
        .route("/contacts/{id}/merge/preview", post(contact_merge::merge_preview))
        .route("/contacts/{id}/merge", post(contact_merge::merge_contacts))
        .route("/contact-merges/{id}/undo", post(contact_merge::undo_merge))
        .route("/contacts/{id}/notes", get(contacts_api::list_notes).post(contacts_api::create_note))
        .route("/contacts/{id}/notes/{note_id}", delete(contacts_api::delete_note))
        .route("/contacts/{id}/consent", get(consent::consent_history).post(consent::record_consent))
        .route("/consent/export", get(consent::export_consent))
        // Inboxes and labels
        .route("/inboxes", get(inboxes_api::list_inboxes).post(inboxes_api::create_inbox))
        .route("/inboxes/{id}", get(inboxes_api::get_inbox).patch(inboxes_api::update_inbox))
        .route("/inboxes/{id}/templates", get(templates::list_templates))
        .route("/inboxes/{id}/templates/sync", post(templates::sync_templates))
        .route("/inboxes/{id}/webhook-registration", post(inbox_registration::register_webhook))
        .route("/labels", get(labels::list_labels).post(labels::create_label))
        .route("/labels/{id}", get(labels::get_label).patch(labels::update_label).delete(labels::delete_label))
        .route("/contacts/{id}/export", get(privacy::export_contact))
        .route("/contacts/{id}/erasure", get(privacy::erasure_preview).post(privacy::erase_contact))
        .route(
            "/retention",
            get(retention::get_retention).put(retention::put_retention).delete(retention::delete_retention),
        )
        .route("/retention/dry-run", post(retention::dry_run))
        .route("/automations", get(automations::list_rules).post(automations::create_rule))
        .route(
            "/automations/{id}",
            get(automations::get_rule)
                .put(automations::replace_rule)
                .patch(automations::patch_rule)
                .delete(automations::delete_rule),
        )
        // Self-service flows (supervisors read, admins change)
        .route("/flows", get(flows::list_flows).post(flows::create_flow))
        .route("/flows/import", post(flows::import_flow))
        .route("/flows/{id}", get(flows::get_flow).put(flows::replace_flow).delete(flows::delete_flow))
        .route("/flows/{id}/export", get(flows::export_flow))
        // Outgoing webhooks
        .route("/webhooks", get(hooks_api::list_webhooks).post(hooks_api::create_webhook))
        .route(
            "/webhooks/{id}",
            get(hooks_api::get_webhook).patch(hooks_api::update_webhook).delete(hooks_api::delete_webhook),
        )
        .route("/webhooks/{id}/secret", post(hooks_api::rotate_secret))
        .route("/webhooks/{id}/deliveries", get(hooks_api::list_deliveries))
        .route("/webhooks/{id}/deliveries/{delivery_id}/resend", post(hooks_api::resend_delivery))
        // People
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", patch(users::update_user))
        .route("/users/{id}/invite", post(invites::reissue_invite))
        .route("/invites", post(invites::create_invite))
        .route("/teams", get(teams::list_teams).post(teams::create_team))
        .route("/teams/routing", get(routing::list_team_routing))
        .route("/teams/{id}/routing", put(routing::put_team_routing))
        .route("/teams/{id}/members", get(teams::list_members).post(teams::add_team_member))
        .route("/teams/{id}/members/{user_id}", delete(teams::remove_member))
        .route("/tokens", get(tokens::list_tokens).post(tokens::create_token))
        .route("/tokens/{id}", delete(tokens::revoke_token))
        // Quality review and the audit trail
        .route("/reviews", get(reviews_api::list_reviews))
        .route("/reviews/mine", get(reviews_api::my_reviews))
        .route("/reviews/settings", get(reviews_api::get_review_settings).put(reviews_api::put_review_settings))
        .route("/reviews/{id}", get(reviews_api::get_review))
        .route("/reviews/{id}/scorecard", put(reviews_api::score_review))
        .route("/audit", get(audit::export_audit))
        // Live updates
        .route("/events", get(live::events))
        // The installation's operator (their own token; 404 when none is configured)
        .route("/operator/accounts", get(operator::list_accounts).post(operator::create_account))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such API endpoint") })
}

/// What the outside world calls: providers' webhooks, signed media links, and
/// the operator's probes.
fn outside(media_max_bytes: u64, upload_limit: usize) -> Router<AppState> {
    let email_limit = escalations::email_body_limit(media_max_bytes);
    Router::new()
        .route("/webhooks/{provider}/{inbox}", post(webhooks::main_hook).get(webhooks::main_hook_get))
        .route("/webhooks/{provider}/{inbox}/{hook}", post(webhooks::named_hook).get(webhooks::named_hook_get))
        .route(
            "/webhooks/email/{account_id}/{secret}",
            post(escalations::inbound_email).layer(DefaultBodyLimit::max(email_limit)),
        )
        .route("/webhooks/calls/{call_id}/answer", post(voice::answer))
        .route("/webhooks/calls/{call_id}/status", post(voice::status))
        .route("/media/{id}", get(media::serve))
        // The web chat widget: its loader, colour, and the visitor's calls (their token, their chat only)
        .route("/widget/{file}", get(widget::loader))
        .route("/widget/{inbox}/style.css", get(widget::style))
        .route("/widget/{inbox}/visitors", post(widget::new_visitor))
        .route("/widget/{inbox}/state", get(widget::state))
        .route("/widget/{inbox}/messages", get(widget::messages).post(widget::send))
        .route("/widget/{inbox}/attachments", post(widget::attach).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/widget/{inbox}/continue-by-text", post(widget::continue_by_text))
        .route("/widget/{inbox}/continue-by-text/confirm", post(widget::confirm_code))
        .route("/widget/{inbox}/events", get(widget::events))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
}

/// The pretend phone network, when the server runs with `simulator = true`.
fn simulator_routes() -> Router<AppState> {
    Router::new()
        .route("/simulator", get(simulator::page))
        .route("/simulator/api/inboxes", get(simulator::inboxes))
        .route("/simulator/api/inboxes/{inbox}/messages", post(simulator::text_in))
        .route("/simulator/api/inboxes/{inbox}/phones/{number}/messages", get(simulator::phone_messages))
        .route("/simulator/api/inboxes/{inbox}/phones/{number}/calls", get(simulator::phone_calls))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
