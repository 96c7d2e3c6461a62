//! One person's data, exported or erased (F14), for admins: the contact's
//! privacy page (what an erasure takes, named before it is confirmed), the ZIP
//! download, and the same over the API. Handlers call `services::privacy`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::Role;
use textdesk_store::{ErasureSummary, User};
use utoipa::ToSchema;

use crate::http::extract::{ApiAdmin, ClientIp, CsrfForm, Json, Path, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::error::ServiceError;
use crate::services::privacy::Requester;

/// The export as a download, read from its (already unlinked) file as it is sent.
fn zip_response(contact_id: i64, (file, len): (tokio::fs::File, u64)) -> Response {
    use tokio::io::AsyncReadExt;
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0; 64 * 1024];
        let n = file.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then_some((buf, file)))
    });
    let mut res = axum::body::Body::from_stream(chunks).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"contact-{contact_id}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

const ADMINS_ONLY: &str = "exporting and erasing a person's data is for admins";

/// 403 with `why` unless `u` is an admin.
fn require_admin(u: &User, why: &str) -> Result<(), Problem> {
    if u.role.at_least(Role::Admin) { Ok(()) } else { Err(Problem::forbidden(why)) }
}

// ---------- the page ----------

#[derive(Template, WebTemplate)]
#[template(path = "contact_privacy.html")]
struct PrivacyPage {
    chrome: Chrome,
    contact_id: i64,
    /// The contact's name or first number, as agents know them.
    who: String,
    summary: ErasureSummary,
    /// Set once erased: when, in the business's zone.
    erased: Option<String>,
    /// What the page says instead (not an admin, a refused form).
    notice: Option<String>,
    /// What the erasure just did, in plain words.
    done: Option<String>,
    zone: String,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl PrivacyPage {
    fn takes(&self) -> Vec<String> {
        let s = self.summary;
        vec![
            plural(
                s.conversations,
                "conversation (kept, its words removed)",
                "conversations (kept, their words removed)",
            ),
            plural(s.messages, "message", "messages"),
            plural(s.files, "file", "files"),
            plural(s.notes, "note about them", "notes about them"),
            plural(s.identities, "phone number or address", "phone numbers or addresses"),
        ]
    }
}

/// The page, or (with `notice`) the page saying why nothing happened, with `status`.
async fn page(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    status: StatusCode,
    notice: Option<String>,
    done: Option<String>,
) -> Response {
    let result = async {
        let contact = s.services.contact(ui.user.account_id, id).await?;
        let summary = s.services.erasure_summary(ui.user.account_id, id).await?;
        let erased = s.services.erased_at(ui.user.account_id, id).await?;
        Ok::<_, ServiceError>((contact, summary, erased))
    }
    .await;
    let (contact, summary, erased) = match result {
        Ok(r) => r,
        Err(e) => return Problem::from(e).into_response(),
    };
    let erased = erased.map(|t| t.to_zoned(ui.zone.clone()).strftime("%b %-d, %Y %-I:%M %p").to_string());
    let who = if erased.is_some() { format!("Contact {id}") } else { contact.display_name() };
    let p =
        PrivacyPage { chrome: chrome(s, ui), contact_id: id, who, summary, erased, notice, done, zone: ui.zone_name() };
    (status, p).into_response()
}

pub async fn privacy_page(State(s): State<AppState>, ui: UiUser, Path(id): Path<i64>) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        let why = format!("Only admins can see this page: {ADMINS_ONLY}.");
        return page(&s, &ui, id, StatusCode::FORBIDDEN, Some(why), None).await;
    }
    page(&s, &ui, id, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct EraseForm {
    /// The confirmation box: "yes" when ticked.
    #[serde(default)]
    confirm: String,
}

pub async fn erase_form(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<EraseForm>,
) -> Response {
    if !ui.user.role.at_least(Role::Admin) {
        let why = format!("Nothing was erased: {ADMINS_ONLY}.");
        return page(&s, &ui, id, StatusCode::FORBIDDEN, Some(why), None).await;
    }
    if f.confirm != "yes" {
        let why = "Nothing was erased: tick the box to confirm first.".to_owned();
        return page(&s, &ui, id, StatusCode::UNPROCESSABLE_ENTITY, Some(why), None).await;
    }
    let ip = ip.to_string();
    let by = Requester { user_id: Some(ui.user.id), ip: Some(&ip) };
    match s.services.erase_contact(ui.user.account_id, id, by, &mut |_| {}).await {
        Ok(e) => {
            let t = e.summary;
            let done = format!(
                "Erased {}, {}, {} and {}; {} waiting to go cancelled. Their consent history is kept with the numbers hashed.",
                plural(t.messages, "message", "messages"),
                plural(t.files, "file", "files"),
                plural(t.notes, "note", "notes"),
                plural(t.identities, "number", "numbers"),
                plural(e.cancelled, "message", "messages"),
            );
            page(&s, &ui, id, StatusCode::OK, None, Some(done)).await
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

pub async fn ui_export(
    State(s): State<AppState>,
    ui: UiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    require_admin(&ui.user, ADMINS_ONLY)?;
    let ip = ip.to_string();
    let by = Requester { user_id: Some(ui.user.id), ip: Some(&ip) };
    Ok(zip_response(id, s.services.export_contact_file((ui.user.account_id, id), by).await?))
}

// ---------- the API ----------

/// What an erasure takes (or took).
#[derive(Serialize, ToSchema)]
pub struct ErasureOut {
    /// Conversations kept with their words removed.
    pub conversations: i64,
    pub messages: i64,
    pub files: i64,
    pub notes: i64,
    /// Phone numbers and other addresses (kept only as hashes for the consent ledger).
    pub identities: i64,
    /// Queued messages to them that will not go (0 for a preview).
    pub cancelled: i64,
}

impl ErasureOut {
    fn of(s: ErasureSummary, cancelled: i64) -> Self {
        ErasureOut {
            conversations: s.conversations,
            messages: s.messages,
            files: s.files,
            notes: s.notes,
            identities: s.identities,
            cancelled,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/export", tag = "privacy", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/zip",
        description = "A ZIP: README.txt, contact.json, conversations.json, notes.json, consent.json, events.json, media.json and media/<id>.<type> files"),
        (status = 403, body = ProblemOut, description = "Not an admin"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn export_contact(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let ip = ip.to_string();
    let by = Requester { user_id: Some(u.id), ip: Some(&ip) };
    Ok(zip_response(id, s.services.export_contact_file((u.account_id, id), by).await?))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/erasure", tag = "privacy", params(("id" = i64, Path)),
    responses((status = 200, body = ErasureOut, description = "What an erasure would take now"),
        (status = 403, body = ProblemOut, description = "Not an admin"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn erasure_preview(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<Json<ErasureOut>, Problem> {
    Ok(Json(ErasureOut::of(s.services.erasure_summary(u.account_id, id).await?, 0)))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/erasure", tag = "privacy", params(("id" = i64, Path)),
    responses((status = 200, body = ErasureOut, description = "Erased: messages redacted, files, notes and numbers deleted, the consent ledger kept with numbers hashed"),
        (status = 403, body = ProblemOut, description = "Not an admin"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn erase_contact(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Json<ErasureOut>, Problem> {
    let ip = ip.to_string();
    let by = Requester { user_id: Some(u.id), ip: Some(&ip) };
    let e = s.services.erase_contact(u.account_id, id, by, &mut |_| {}).await?;
    Ok(Json(ErasureOut::of(e.summary, e.cancelled)))
}
