//! Invitations: an admin invites someone (a one-time sign-in link, from the
//! people page or the API); the invitee sets a password and is signed in.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::User;
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::{ApiAdmin, ClientIp, Json, Path, check_sign_in_csrf};
use crate::http::layout::admin_only;
use crate::http::people::page::{PeopleForm, link_view, users_again};
use crate::http::people::users::UserOut;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::error::ServiceError;
use crate::services::limits::Refusal;
use crate::services::users::Invitation;

pub(crate) async fn invite(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<PeopleForm>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.invite_user(&ui.user, &f.email, &f.name, &f.role).await {
        Ok(inv) => {
            let link = link_view(&ui, inv);
            users_again(&s, &ui, StatusCode::CREATED, |p| p.link = Some(link)).await
        }
        Err(e) => {
            let p = Problem::from(e);
            users_again(&s, &ui, p.status, |page| {
                page.invite = PeopleForm { csrf: String::new(), ..f };
                page.error = Some(("invite".into(), p.detail));
            })
            .await
        }
    }
}

pub(crate) async fn reinvite(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, _): CsrfForm<PeopleForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.reissue_invite(&ui.user, id).await {
        Ok(inv) => {
            let link = link_view(&ui, inv);
            users_again(&s, &ui, StatusCode::CREATED, |p| p.link = Some(link)).await
        }
        Err(e) => {
            let p = Problem::from(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("user".into(), p.detail))).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invite.html")]
pub(crate) struct InvitePage {
    pub(crate) token: String,
    pub(crate) user: Option<(String, String)>,
    pub(crate) error: Option<String>,
    pub(crate) business: String,
    pub(crate) csrf: String,
}

pub(crate) const LINK_GONE: &str = "This link has been used, has expired, or was replaced by a newer one.";

/// The invitation's page (its form carries a sign-in CSRF token, like the login's).
pub(crate) fn invite_form(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    user: Option<(User, String)>,
    error: Option<String>,
) -> Response {
    // The business the invitation is to: the invitee's account's name.
    let (user, business) = match user {
        Some((u, business)) => (Some((u.name, u.email)), business),
        None => (None, String::new()),
    };
    crate::http::session::with_sign_in_csrf(s, headers, status, |csrf| InvitePage {
        token: token.to_owned(),
        user,
        error,
        business,
        csrf,
    })
}

/// The person a link is for; a wrong link counts against the address like a
/// wrong password, so links cannot be guessed at speed. A refused address
/// gets the page with the wait.
pub(crate) async fn invitee(
    s: &AppState,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    token: &str,
) -> Result<Option<(User, String)>, Response> {
    let refused = |r: Refusal| {
        let mut res = invite_form(s, headers, Problem::refused(r).status, token, None, Some(r.explain()));
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(r.retry_after_secs()));
        res
    };
    let now = std::time::Instant::now();
    s.services.limits.check(ip, now).map_err(refused)?;
    match s.services.invitation_for(token).await {
        // A link names its person, and so its account, whichever host it is opened at.
        Ok(Some(u)) => match s.services.business_name_of(u.account_id).await {
            Ok(business) => Ok(Some((u, business))),
            Err(e) => Err(Problem::from(e).into_response()),
        },
        Ok(_) => {
            s.services.limits.charge(ip, now).map_err(refused)?;
            Ok(None)
        }
        Err(e) => Err(Problem::from(e).into_response()),
    }
}

pub(crate) async fn invite_page(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match invitee(&s, &headers, ip, &token).await {
        Ok(Some(user)) => invite_form(&s, &headers, StatusCode::OK, &token, Some(user), None),
        Ok(None) => invite_form(&s, &headers, StatusCode::NOT_FOUND, &token, None, None),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(crate) struct AcceptForm {
    pub(crate) password: String,
    pub(crate) confirm: String,
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) async fn accept_invite(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(f): axum::Form<AcceptForm>,
) -> Response {
    let (user, business) = match invitee(&s, &headers, ip, &token).await {
        Ok(Some(u)) => u,
        Ok(None) => return invite_form(&s, &headers, StatusCode::NOT_FOUND, &token, None, Some(LINK_GONE.into())),
        Err(r) => return r,
    };
    let again = |status: StatusCode, user: Option<User>, error: String| {
        let status = if user.is_some() { status } else { StatusCode::NOT_FOUND };
        invite_form(&s, &headers, status, &token, user.map(|u| (u, business.clone())), Some(error))
    };
    if check_sign_in_csrf(&headers, &f.csrf, &s.config.public_url).is_err() {
        let error = "This form expired or did not come from this site. Please enter your new password again.";
        return again(StatusCode::FORBIDDEN, Some(user), error.into());
    }
    if f.password != f.confirm {
        return again(StatusCode::UNPROCESSABLE_ENTITY, Some(user), "The two passwords are not the same.".into());
    }
    let user = match s.services.accept_invite(&token, &f.password).await {
        Ok(u) => u,
        Err(ServiceError::Invalid(d)) => return again(StatusCode::UNPROCESSABLE_ENTITY, Some(user), d),
        Err(ServiceError::NotFound(_)) => return again(StatusCode::NOT_FOUND, None, LINK_GONE.into()),
        Err(ServiceError::Refused(r)) => {
            let mut res = again(Problem::refused(r).status, Some(user), r.explain());
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(r.retry_after_secs()));
            return res;
        }
        Err(e) => return Problem::from(e).into_response(),
    };
    crate::http::session::sign_in(&s, user.id, "/inbox").await
}

// ---------- the account ----------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIn {
    pub(crate) email: String,
    /// Shown to colleagues; the part of the e-mail before @ when empty.
    #[serde(default)]
    pub(crate) name: String,
    /// agent, supervisor or admin.
    pub(crate) role: String,
}

#[derive(Serialize, ToSchema)]
pub struct InviteOut {
    pub(crate) user: UserOut,
    /// The one-time sign-in link: shown once, never stored (only its hash is). Hand it to the person;
    /// they open it, choose a password and are signed in.
    pub(crate) url: String,
    pub(crate) expires_at: String,
}

impl From<Invitation> for InviteOut {
    fn from(i: Invitation) -> Self {
        InviteOut { user: i.user.into(), url: i.url, expires_at: i.expires_at.to_string() }
    }
}

#[utoipa::path(post, path = "/api/v1/invites", tag = "users", request_body = InviteIn,
    responses((status = 201, body = InviteOut, description = "The user (without a password) and their sign-in link, valid for 7 days, once"), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut, description = "The e-mail has an account"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn create_invite(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<InviteIn>,
) -> Result<Response, Problem> {
    let inv = s.services.invite_user(&u, &b.email, &b.name, &b.role).await?;
    Ok((StatusCode::CREATED, Json(InviteOut::from(inv))).into_response())
}

#[utoipa::path(post, path = "/api/v1/users/{id}/invite", tag = "users", params(("id" = i64, Path)),
    responses((status = 201, body = InviteOut, description = "A new sign-in link (to set a password); the person's earlier unused link stops working"), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut, description = "The user is deactivated")),
    security(("bearer" = [])))]
pub async fn reissue_invite(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let inv = s.services.reissue_invite(&u, id).await?;
    Ok((StatusCode::CREATED, Json(InviteOut::from(inv))).into_response())
}
