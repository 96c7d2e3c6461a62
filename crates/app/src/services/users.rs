//! People and teams as an admin manages them: invitations with one-time
//! sign-in links, roles, deactivation (history kept; sessions and tokens stop
//! working at once), and team membership.

use jiff::{SignedDuration, Timestamp};
use textdesk_core::{Email, Password, Role};
use textdesk_store::{InviteState, NewUser, Team, User};

use crate::services::Services;
use crate::services::auth::{hash_password, hash_secret, new_secret};
use crate::services::error::{ServiceError, ServiceResult};

/// Who keeps the account's shared catalogues (canned responses, labels):
/// supervisors and admins; agents use them.
pub fn curates(user: &User) -> bool {
    user.role.at_least(Role::Supervisor)
}

/// How long a sign-in link works.
pub const INVITE_DAYS: i64 = 7;

/// A password hash no password matches: an invited user signs in only through their link.
pub(crate) const NO_PASSWORD: &str = "!invited";

/// A sign-in link, shown once to the admin who made it.
pub struct Invitation {
    pub user: User,
    pub url: String,
    pub expires_at: Timestamp,
}

/// A person's name as every door takes it (the API, the people page, the
/// command line): trimmed, at most 100 characters, and the e-mail's local
/// part when left empty.
pub fn user_name(name: &str, email: &Email) -> ServiceResult<String> {
    match name.trim() {
        "" => Ok(email.as_str().split('@').next().unwrap_or("").to_owned()),
        n if n.chars().count() > 100 => Err(ServiceError::Invalid("a name is at most 100 characters".into())),
        n => Ok(n.to_owned()),
    }
}

fn require_admin(user: &User) -> ServiceResult<()> {
    if user.role.at_least(Role::Admin) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("managing people and teams needs the admin role".into()))
    }
}

/// The people page's facts: everyone, their invitations, and each team with its members' ids.
pub struct People {
    pub users: Vec<User>,
    pub invites: Vec<InviteState>,
    pub teams: Vec<(Team, Vec<i64>)>,
}

impl Services {
    pub async fn users(&self, account_id: i64) -> ServiceResult<Vec<User>> {
        Ok(self.store.users(account_id).await?)
    }

    pub async fn teams(&self, account_id: i64) -> ServiceResult<Vec<Team>> {
        Ok(self.store.teams(account_id).await?)
    }

    /// The members of a team of the account (404 for any other team).
    pub async fn team_members(&self, account_id: i64, team_id: i64) -> ServiceResult<Vec<User>> {
        self.store.team(account_id, team_id).await?;
        Ok(self.store.team_members(team_id).await?)
    }

    pub async fn people(&self, account_id: i64) -> ServiceResult<People> {
        let users = self.store.users(account_id).await?;
        let invites = self.store.invite_states(account_id).await?;
        let mut teams = Vec::new();
        for t in self.store.teams(account_id).await? {
            let ids = self.store.team_member_ids(t.id).await?;
            teams.push((t, ids));
        }
        Ok(People { users, invites, teams })
    }

    /// Creates a user who has no password yet, with a link to set one.
    pub async fn invite_user(&self, admin: &User, email: &str, name: &str, role: &str) -> ServiceResult<Invitation> {
        require_admin(admin)?;
        let email = Email::parse(email)?;
        let role = Role::parse(role)?;
        let name = user_name(name, &email)?;
        let user = self
            .store
            .create_user(NewUser { account_id: admin.account_id, email, name, role, password_hash: NO_PASSWORD.into() })
            .await?;
        self.new_sign_in_link(admin, user).await
    }

    /// Creates a user who signs in with `password` at once (the API's way; the
    /// people page invites instead).
    pub async fn create_user(
        &self,
        admin: &User,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> ServiceResult<User> {
        require_admin(admin)?;
        let email = Email::parse(email)?;
        let role = Role::parse(role)?;
        let password = Password::parse(password)?;
        let _permit = self.limits.hash_permit().map_err(ServiceError::Refused)?;
        crate::services::auth::create_user(&self.store, admin.account_id, email, name, role, &password).await
    }

    /// A new one-time link for someone (an invitation that expired, a forgotten
    /// password); their earlier unused link stops working.
    pub async fn reissue_invite(&self, admin: &User, user_id: i64) -> ServiceResult<Invitation> {
        require_admin(admin)?;
        let user = self.account_user(admin, user_id).await?;
        if !user.active {
            return Err(ServiceError::Invalid(format!("{} is deactivated; reactivate them first", user.email)));
        }
        self.new_sign_in_link(admin, user).await
    }

    async fn new_sign_in_link(&self, admin: &User, user: User) -> ServiceResult<Invitation> {
        let token = new_secret("");
        let expires_at = Timestamp::now() + SignedDuration::from_hours(24 * INVITE_DAYS);
        self.store.create_invite(admin.account_id, user.id, &hash_secret(&token), admin.id, expires_at).await?;
        Ok(Invitation { user, url: format!("{}/invite/{token}", self.public_url), expires_at })
    }

    /// The person a link is for, while it still works.
    pub async fn invitation_for(&self, token: &str) -> ServiceResult<Option<User>> {
        Ok(self.store.invite_user(&hash_secret(token), Timestamp::now()).await?)
    }

    /// Uses a link: the password is set and the link spent.
    pub async fn accept_invite(&self, token: &str, password: &str) -> ServiceResult<User> {
        let password = Password::parse(password)?;
        // Under a permit like a sign-in: links must not pile up argon2 work either.
        let _permit = self.limits.hash_permit().map_err(ServiceError::Refused)?;
        let hash = hash_password(&password).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(self.store.accept_invite(&hash_secret(token), &hash, Timestamp::now()).await?)
    }

    async fn account_user(&self, admin: &User, id: i64) -> ServiceResult<User> {
        let user = self.store.user(id).await?;
        if user.account_id != admin.account_id {
            return Err(ServiceError::NotFound("user"));
        }
        Ok(user)
    }

    /// Changes someone's role and/or turns their access off or on. Admins cannot
    /// lock themselves out; deactivating ends the person's sessions and tokens.
    pub async fn change_user(
        &self,
        admin: &User,
        id: i64,
        role: Option<&str>,
        active: Option<bool>,
    ) -> ServiceResult<User> {
        require_admin(admin)?;
        let mut user = self.account_user(admin, id).await?;
        let role = role.map(Role::parse).transpose()?;
        if user.id == admin.id && (active == Some(false) || role.is_some_and(|r| r != Role::Admin)) {
            return Err(ServiceError::Invalid("you cannot demote or deactivate yourself; ask another admin".into()));
        }
        let subject = format!("user:{id} ({})", user.email);
        if let Some(r) = role
            && r != user.role
        {
            let detail = format!("{} → {r}.", user.role);
            user = self.store.set_user_role(id, r).await?;
            self.audit(admin, "user.role_changed", &subject, None, &detail).await?;
        }
        if let Some(a) = active
            && a != user.active
        {
            user = self.store.set_user_active(id, a).await?;
            let action = if a { "user.reactivated" } else { "user.deactivated" };
            self.audit(admin, action, &subject, None, "").await?;
        }
        Ok(user)
    }

    pub async fn create_team(&self, admin: &User, name: &str) -> ServiceResult<Team> {
        require_admin(admin)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::Invalid("a team name is 1 to 100 characters".into()));
        }
        Ok(self.store.create_team(admin.account_id, name).await?)
    }

    pub async fn set_team_member(&self, admin: &User, team_id: i64, user_id: i64, member: bool) -> ServiceResult<()> {
        require_admin(admin)?;
        self.store.team(admin.account_id, team_id).await?;
        let user = match self.account_user(admin, user_id).await {
            // The team is the address (404 when it is not there); the person is
            // what was asked for: one not in the account is a bad request.
            Err(ServiceError::NotFound(_)) if member => {
                return Err(ServiceError::Invalid("user_id: no one with this id works in this account".into()));
            }
            other => other?,
        };
        if member {
            self.store.add_team_member(team_id, user.id).await?;
        } else {
            self.store.remove_team_member(team_id, user.id).await?;
            let subject = format!("team:{team_id}");
            self.audit(admin, "team_member.removed", &subject, None, &format!("{} left the team.", user.email)).await?;
        }
        Ok(())
    }
}
