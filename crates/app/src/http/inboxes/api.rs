//! `/api/v1/inboxes`: list, read, change settings, and add one. Adding reads
//! the provider's setup from the object named after it (`"twilio": {…}`),
//! through the provider's own description of its fields; the OpenAPI schema
//! of that body is made from the same descriptions (`ProviderSetups`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use textdesk_channels::provider::FieldKind;
use textdesk_channels::{Provider, registry};
use textdesk_core::Medium;
use textdesk_store::Inbox;
use utoipa::ToSchema;

use crate::http::extract::double_option;
use crate::http::extract::{ApiAdmin, ApiUser, Json, Path};
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::channels;
use crate::services::channels::NewChannel;

#[derive(Serialize, ToSchema)]
pub struct InboxOut {
    id: i64,
    name: String,
    /// The provider: simulator, twilio or smpp.
    channel_kind: String,
    /// What it carries to customers: sms, whatsapp, …
    medium: String,
    /// The business's address on the channel.
    sender: String,
    /// Consent keywords and replies, business hours, automatic replies, price per segment,
    /// pacing, and the provider connection (credentials are never shown).
    #[schema(value_type = Object)]
    settings: Value,
    /// The addresses to paste into the provider's console, by name (Twilio: `inbound`, `status`).
    webhook_urls: Option<BTreeMap<String, String>>,
    /// connecting, bound, down or stopped (providers that keep a connection, such as SMPP).
    link_state: Option<String>,
    created_at: String,
}

impl InboxOut {
    pub fn of(i: Inbox, services: &crate::Services) -> Self {
        let urls: BTreeMap<String, String> =
            services.webhook_urls(&i).into_iter().map(|(h, url)| (h.name.to_owned(), url)).collect();
        InboxOut {
            id: i.id,
            link_state: services.link_state(&i),
            webhook_urls: (!urls.is_empty()).then_some(urls),
            name: i.name,
            channel_kind: i.provider,
            medium: i.medium.as_str().into(),
            sender: i.sender,
            settings: i.settings,
            created_at: i.created_at.to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxPatchIn {
    name: Option<String>,
    /// The consent scope this inbox's sender shares with others (a messaging service's
    /// pool, e.g. `pool:main`); null goes back to its own (`inbox:<id>`).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    consent_scope: Option<Option<String>>,
    /// Top-level keys given replace the stored ones (null removes one); others are kept:
    /// `consent`, `hours`, `off_hours_reply`, `acknowledge`, `price_per_segment`, `currency`, `survey` (the
    /// satisfaction poll: `enabled`, `kind` csat/nps/yes_no, `delay_minutes`, `question` and `followup` by language
    /// code, `suppress_days`, `expire_days`).
    #[schema(value_type = Option<Object>)]
    settings: Option<serde_json::Map<String, Value>>,
    /// The provider connection's fields to change, named as when the inbox was added (a Twilio inbox:
    /// `auth_token`, `account_sid`…); the others are kept. For a rotated credential: every node checks the
    /// inbox's next webhook against the new one. Not for SMPP (add a new inbox).
    #[schema(value_type = Option<Object>)]
    connection: Option<serde_json::Map<String, Value>>,
    /// Check a changed connection with the provider before saving (default true).
    check: Option<bool>,
}

/// A new inbox. Its provider's setup goes in an object named after the
/// provider (`"twilio": {"account_sid": …, "auth_token": …}`); see the
/// properties for each provider.
#[derive(Deserialize, ToSchema)]
pub struct NewInboxIn {
    name: String,
    /// The provider: simulator, twilio, smpp, whatsapp, messenger or wechat.
    channel_kind: String,
    /// What it carries (default: the provider's first, sms for all of today's).
    medium: Option<String>,
    /// The number customers text, as typed ("+14155550199", or "(415) 555-0199" read in the account's
    /// country), or for SMPP with source_ton 5 an alphanumeric sender.
    /// Messenger and WeChat may leave it out: the Page ID or the AppID is used.
    #[serde(default)]
    sender: String,
    /// Check the credentials with the provider before saving (default true).
    check: Option<bool>,
    /// The provider's setup, under its key; nothing else may be here.
    #[serde(flatten)]
    #[schema(ignore)]
    setup: serde_json::Map<String, Value>,
}

#[utoipa::path(get, path = "/api/v1/inboxes", tag = "inboxes", responses((status = 200, body = [InboxOut])), security(("bearer" = [])))]
pub async fn list_inboxes(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<InboxOut>>> {
    Ok(Json(s.services.inboxes(u.account_id).await?.into_iter().map(|i| InboxOut::of(i, &s.services)).collect()))
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}", tag = "inboxes", params(("id" = i64, Path)), responses((status = 200, body = InboxOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_inbox(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<InboxOut>> {
    Ok(Json(InboxOut::of(s.services.inbox(u.account_id, id).await?, &s.services)))
}

#[utoipa::path(patch, path = "/api/v1/inboxes/{id}", tag = "inboxes", params(("id" = i64, Path)), request_body = InboxPatchIn,
    responses((status = 200, body = InboxOut), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut, description = "A setting is not valid; the detail names it")),
    security(("bearer" = [])))]
pub async fn update_inbox(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<InboxPatchIn>,
) -> ApiResult<Json<InboxOut>> {
    if let Some(scope) = &b.consent_scope {
        s.services.set_consent_scope(&u, id, scope.as_deref()).await?;
    }
    if let Some(connection) = &b.connection {
        s.services.update_inbox_connection(&u, id, connection, b.check.unwrap_or(true)).await?;
    }
    let inbox = s.services.update_inbox(&u, id, b.name.as_deref(), b.settings.as_ref()).await?;
    Ok(Json(InboxOut::of(inbox, &s.services)))
}

#[utoipa::path(post, path = "/api/v1/inboxes", tag = "inboxes", request_body = NewInboxIn,
    responses((status = 201, body = InboxOut), (status = 403, body = ProblemOut),
        (status = 422, body = ProblemOut, description = "A field is not valid (the detail names it, as `twilio.account_sid`), or the provider did not accept the credentials (type `credentials`)")),
    security(("bearer" = [])))]
pub async fn create_inbox(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<NewInboxIn>,
) -> ApiResult<Response> {
    let provider = channels::provider(&b.channel_kind)?;
    if let Some(other) = b.setup.keys().find(|k| k.as_str() != provider.key()) {
        return Err(Problem::invalid(format!("unknown field {other:?} for a {} inbox", provider.key())));
    }
    let given = match b.setup.get(provider.key()) {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(Problem::invalid(format!("{:?} is an object of its settings", provider.key()))),
    };
    let new = NewChannel {
        name: b.name,
        sender: b.sender,
        provider,
        medium: b.medium.as_deref().map(Medium::parse).transpose()?,
        setup: channels::read_json_setup(provider, &given)?,
        check: b.check.unwrap_or(true),
    };
    let inbox = s.services.add_inbox(u.account_id, new).await?;
    Ok((StatusCode::CREATED, Json(InboxOut::of(inbox, &s.services))).into_response())
}

/// Adds each provider's setup object to `NewInboxIn`'s schema, from the
/// providers' field descriptions.
pub struct ProviderSetups;

pub(crate) fn field_schema(f: &textdesk_channels::provider::SetupField) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let ty = match f.kind {
        FieldKind::Text => Type::String,
        FieldKind::Whole { .. } => Type::Integer,
        FieldKind::Decimal => Type::Number,
        FieldKind::Flag => Type::Boolean,
    };
    let mut words = f.help.to_owned();
    if f.secret {
        words.push_str(" Write-only: stored apart from settings, never shown again.");
    }
    if let Some(d) = f.default {
        words.push_str(&format!(" Default: {d}."));
    }
    let mut b = ObjectBuilder::new().schema_type(ty).description(Some(words));
    if f.secret {
        b = b.write_only(true);
    }
    if let FieldKind::Whole { min, max } = f.kind {
        b = b.minimum(Some(min)).maximum(Some(max));
    }
    b.build().into()
}

pub(crate) fn provider_schema(p: &dyn Provider) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut b = ObjectBuilder::new().schema_type(Type::Object).description(Some(format!(
        "For {} inboxes ({}).",
        p.key(),
        p.label()
    )));
    for f in p.setup() {
        b = b.property(f.name, field_schema(f));
        if f.required {
            b = b.required(f.name);
        }
    }
    b.build().into()
}

impl utoipa::Modify for ProviderSetups {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("NewInboxIn") else { return };
        for p in registry::all().iter().filter(|p| !p.setup().is_empty()) {
            body.properties.insert(p.key().to_owned(), provider_schema(*p).into());
        }
    }
}
