//! The OpenAPI document, generated from the handlers' annotations and served
//! at `/api/v1/openapi.json`; a copy is committed in `docs/openapi.json`.

use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use crate::http::inboxes::api::ProviderSetups;

#[derive(OpenApi)]
#[openapi(
    info(title = "textdesk API", version = "1", description = "The REST API of textdesk, a self-hosted help desk for text messaging. Authenticate with `Authorization: Bearer <token>` (create one with `textdesk token create`). Errors are RFC 9457 problem details."),
    paths(
        crate::http::preferences::me,
        crate::http::preferences::update_me,
        crate::http::routing::get_presence,
        crate::http::routing::put_presence,
        crate::http::routing::list_team_routing,
        crate::http::routing::put_team_routing,
        crate::http::inboxes::api::list_inboxes,
        crate::http::inboxes::api::get_inbox,
        crate::http::inboxes::api::create_inbox,
        crate::http::inboxes::api::update_inbox,
        crate::http::templates::list_templates,
        crate::http::templates::sync_templates,
        crate::http::inboxes::registration::register_webhook,
        crate::http::contacts::api::list_contacts,
        crate::http::contacts::api::create_contact,
        crate::http::contacts::api::get_contact,
        crate::http::contacts::api::update_contact,
        crate::http::contacts::consent::consent_history,
        crate::http::contacts::consent::record_consent,
        crate::http::contacts::consent::export_consent,
        crate::http::contacts::api::add_identity,
        crate::http::contacts::merge::merge_preview,
        crate::http::contacts::merge::merge_contacts,
        crate::http::contacts::merge::undo_merge,
        crate::http::people::teams::list_teams,
        crate::http::people::teams::create_team,
        crate::http::people::teams::add_team_member,
        crate::http::messages::api::compose_preview,
        crate::http::conversations::api::list_conversations,
        crate::http::conversations::api::get_conversation,
        crate::http::conversations::api::assign_conversation,
        crate::http::conversations::api::set_status,
        crate::http::conversations::api::mark_read,
        crate::http::conversations::api::mark_unread,
        crate::http::conversations::api::set_priority,
        crate::http::conversations::api::set_labels,
        crate::http::conversations::api::timeline,
        crate::http::conversations::transcript::transcript,
        crate::http::conversations::escalations::create_escalation,
        crate::http::conversations::escalations::list_escalations,
        crate::http::conversations::surveys::list_surveys,
        crate::http::conversations::channels::list_channels,
        crate::http::voice::list_callbacks,
        crate::http::voice::take_callback,
        crate::http::voice::call_callback,
        crate::http::messages::api::list_messages,
        crate::http::messages::api::create_message,
        crate::http::notifications::api::create_notification,
        crate::http::messages::api::list_scheduled,
        crate::http::messages::api::edit_waiting_message,
        crate::http::messages::api::send_now,
        crate::http::messages::api::retry_message,
        crate::http::messages::api::cancel_message,
        crate::http::media::upload,
        crate::http::people::users::list_users,
        crate::http::people::users::create_user,
        crate::http::people::users::update_user,
        crate::http::people::tokens::list_tokens,
        crate::http::people::tokens::create_token,
        crate::http::people::tokens::revoke_token,
        crate::http::live::events,
        crate::http::labels::list_labels,
        crate::http::labels::create_label,
        crate::http::labels::get_label,
        crate::http::labels::update_label,
        crate::http::labels::delete_label,
        crate::http::canned::list_canned,
        crate::http::canned::create_canned,
        crate::http::canned::get_canned,
        crate::http::canned::update_canned,
        crate::http::canned::delete_canned,
        crate::http::canned::render_canned,
        crate::http::account::get_account,
        crate::http::account::update_account,
        crate::http::people::invites::create_invite,
        crate::http::people::invites::reissue_invite,
        crate::http::people::teams::list_members,
        crate::http::people::teams::remove_member,
        crate::http::contacts::api::list_notes,
        crate::http::contacts::api::create_note,
        crate::http::contacts::api::delete_note,
        crate::http::automations::list_rules,
        crate::http::automations::create_rule,
        crate::http::automations::get_rule,
        crate::http::automations::replace_rule,
        crate::http::automations::patch_rule,
        crate::http::automations::delete_rule,
        crate::http::flows::list_flows,
        crate::http::flows::create_flow,
        crate::http::flows::get_flow,
        crate::http::flows::replace_flow,
        crate::http::flows::delete_flow,
        crate::http::flows::export_flow,
        crate::http::flows::import_flow,
        crate::http::privacy::export_contact,
        crate::http::privacy::erasure_preview,
        crate::http::privacy::erase_contact,
        crate::http::retention::get_retention,
        crate::http::retention::put_retention,
        crate::http::retention::delete_retention,
        crate::http::retention::dry_run,
        crate::http::outgoing::api::list_webhooks,
        crate::http::outgoing::api::create_webhook,
        crate::http::outgoing::api::get_webhook,
        crate::http::outgoing::api::update_webhook,
        crate::http::outgoing::api::delete_webhook,
        crate::http::outgoing::api::rotate_secret,
        crate::http::outgoing::api::list_deliveries,
        crate::http::outgoing::api::resend_delivery,
        crate::http::reviews::api::list_reviews,
        crate::http::reviews::api::my_reviews,
        crate::http::reviews::api::get_review,
        crate::http::reviews::api::score_review,
        crate::http::reviews::api::get_review_settings,
        crate::http::reviews::api::put_review_settings,
        crate::http::audit::export_audit,
        crate::http::reports::api::get_report,
        crate::http::reports::api::get_report_csv,
        crate::http::operator::list_accounts,
        crate::http::operator::create_account
    ),
    modifiers(&BearerAuth, &ProviderSetups, &ErrorResponses)
)]
pub struct ApiDoc;

pub(crate) struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // The installation operator's token (`TEXTDESK_OPERATOR_TOKEN`): `/api/v1/operator/…` only.
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The installation operator's token (TEXTDESK_OPERATOR_TOKEN); it opens /api/v1/operator/… and nothing else",
                    ))
                    .build(),
            ),
        );
    }
}

/// The answers every operation can give besides its own, written once here
/// rather than on each handler: problem details under their own media type,
/// 401 and 429 where a token is needed, 400/413/415/422 where a JSON body or a query
/// string is read, 404 where the path names something.
pub(crate) struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |description: &str| -> RefOr<utoipa::openapi::Response> {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemOut"))).build();
            ResponseBuilder::new().description(description).content("application/problem+json", content).build().into()
        };
        let is_problem = |c: &RefOr<utoipa::openapi::Content>| matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ProblemOut")));
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                for (code, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(r) = response else { continue };
                    // OpenAPI requires one; generated clients refuse a document without.
                    if r.description.is_empty() {
                        let reason = code.parse().ok().and_then(|c| axum::http::StatusCode::from_u16(c).ok());
                        r.description = reason.and_then(|c| c.canonical_reason()).unwrap_or("Answer").to_owned();
                    }
                    if r.content.get("application/json").is_some_and(is_problem)
                        && let Some(c) = r.content.shift_remove("application/json")
                    {
                        r.content.insert("application/problem+json".into(), c);
                    }
                }
                let params = op.parameters.iter().flatten();
                let located =
                    |place: ParameterIn| params.clone().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place));
                let (query, path) = (located(ParameterIn::Query), located(ParameterIn::Path));
                let json_body =
                    matches!(&op.request_body, Some(RefOr::T(b)) if b.content.contains_key("application/json"));
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |code: &str, description: &str, when: bool| {
                    if when {
                        op.responses.responses.entry(code.into()).or_insert_with(|| problem(description));
                    }
                };
                add("400", "The JSON body or the query string could not be read", json_body || query);
                add("401", "No API token, or one that is not valid", secured);
                add("404", "Nothing with that id in the account", path);
                add("413", "The body is larger than the server accepts", json_body);
                add("415", "The body is not sent as application/json", json_body);
                add("422", "Well-formed, but a value is not valid (the detail names it)", json_body || query);
                // Bad tokens count against the caller's address, as failed sign-ins do.
                add("429", "Too many failed attempts from this address; Retry-After says when to try again", secured);
            }
        }
    }
}

/// The OpenAPI document, pretty-printed (the committed copy is this text).
pub fn openapi_document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

pub(crate) async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi_document()).into_response()
}
