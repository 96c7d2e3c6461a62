//! The people page (Settings → Users): users, their states, teams, and the
//! forms' errors and new links shown in place.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use textdesk_store::User;

use crate::http::extract::UiUser;
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::users::People;

pub struct UserRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) role: &'static str,
    pub(crate) active: bool,
    /// "Active", "Invited", "Invitation expired", "Deactivated".
    pub(crate) state: String,
    pub(crate) me: bool,
}

pub struct TeamRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) members: Vec<(i64, String)>,
    pub(crate) others: Vec<(i64, String)>,
    /// How it hands out conversations: `manual`, `round_robin`, `least_busy`.
    pub(crate) assignment: &'static str,
    pub(crate) capacity: u32,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PeopleForm {
    pub(crate) csrf: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) active: String,
    pub(crate) user_id: String,
    pub(crate) remove: String,
}

pub struct NewLink {
    pub(crate) email: String,
    pub(crate) url: String,
    pub(crate) expires: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_users.html")]
pub(crate) struct UsersPage {
    pub(crate) chrome: Chrome,
    pub(crate) users: Vec<UserRow>,
    pub(crate) teams: Vec<TeamRow>,
    pub(crate) invite: PeopleForm,
    pub(crate) team_name: String,
    /// Which form failed ("invite", "user", "team"), and why.
    pub(crate) error: Option<(String, String)>,
    pub(crate) link: Option<NewLink>,
    pub(crate) roles: [&'static str; 3],
}

impl UsersPage {
    fn error_for(&self, form: &str) -> Option<&str> {
        self.error.as_ref().filter(|(k, _)| k == form).map(|(_, e)| e.as_str())
    }
}

pub(crate) async fn users_view(s: &AppState, ui: &UiUser) -> Result<UsersPage, Problem> {
    let account = ui.user.account_id;
    let People { users, invites, teams: stored_teams } = s.services.people(account).await?;
    let now = jiff::Timestamp::now();
    let rows = users
        .iter()
        .map(|u| {
            let invite = invites.iter().find(|i| i.user_id == u.id);
            let state = match invite {
                _ if !u.active => "Deactivated".to_owned(),
                Some(i) if !i.accepted && i.expires_at > now => {
                    format!("Invited (link works until {})", i.expires_at.to_zoned(ui.zone.clone()).strftime("%b %-d"))
                }
                Some(i) if !i.accepted => "Invitation expired".to_owned(),
                _ => "Active".to_owned(),
            };
            UserRow {
                id: u.id,
                name: u.name.clone(),
                email: u.email.clone(),
                role: u.role.as_str(),
                active: u.active,
                state,
                me: u.id == ui.user.id,
            }
        })
        .collect();
    let routing = s.services.teams_routing(&ui.user).await?;
    let mut teams = Vec::new();
    for (t, ids) in stored_teams {
        let r = routing.iter().find(|r| r.id == t.id);
        let (members, others): (Vec<&User>, Vec<&User>) = users.iter().partition(|u| ids.contains(&u.id));
        let named = |list: Vec<&User>| list.into_iter().map(|u| (u.id, u.name.clone())).collect();
        teams.push(TeamRow {
            id: t.id,
            name: t.name,
            members: named(members),
            others: named(others.into_iter().filter(|u| u.active).collect()),
            assignment: r.map(|r| r.assignment.as_str()).unwrap_or("manual"),
            capacity: r.map(|r| r.capacity.get()).unwrap_or(10),
        });
    }
    Ok(UsersPage {
        chrome: chrome(s, ui),
        users: rows,
        teams,
        invite: PeopleForm { role: "agent".into(), ..Default::default() },
        team_name: String::new(),
        error: None,
        link: None,
        roles: ["agent", "supervisor", "admin"],
    })
}

pub(crate) async fn users_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page_or_problem(StatusCode::OK, users_view(&s, &ui).await)
}

/// The people page again: with a failed form's reason, or a new link to hand over.
pub(crate) async fn users_again(
    s: &AppState,
    ui: &UiUser,
    status: StatusCode,
    edit: impl FnOnce(&mut UsersPage),
) -> Response {
    let page = users_view(s, ui).await.map(|mut p| {
        edit(&mut p);
        p
    });
    page_or_problem(status, page)
}

pub(crate) fn link_view(ui: &UiUser, inv: crate::services::users::Invitation) -> NewLink {
    NewLink {
        email: inv.user.email,
        url: inv.url,
        expires: inv.expires_at.to_zoned(ui.zone.clone()).strftime("%b %-d, %-I:%M %p").to_string(),
    }
}
