//! Who is asking: browser sessions, API tokens, sign-in, and a person's own
//! preferences. Only hashes of the secrets are stored (`auth`).

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use textdesk_store::{ApiToken, Session, User};

use crate::services::Services;
use crate::services::auth::{self, NewSession, SignInAsk, SignInGuard, SignedIn, hash_secret};
use crate::services::error::{ServiceError, ServiceResult};

impl Services {
    /// Signs in with a password, as `auth::sign_in` describes. `fallback_account`
    /// is where a lockout of an e-mail nobody has is written down.
    pub async fn sign_in(&self, ip: IpAddr, fallback_account: i64, ask: SignInAsk<'_>) -> ServiceResult<SignedIn> {
        let guard = SignInGuard { store: &self.store, limits: &self.limits, rule: self.lockout, fallback_account, ip };
        auth::sign_in(&guard, ask).await
    }

    /// The account a request's `Host` header names through its host names, if any.
    pub async fn account_at_host(&self, host: Option<&str>) -> ServiceResult<Option<i64>> {
        let Some(name) = host.and_then(textdesk_core::HostName::from_header) else { return Ok(None) };
        Ok(self.store.account_for_host(&name).await?)
    }

    pub async fn start_session(&self, user_id: i64, hours: i64) -> ServiceResult<NewSession> {
        auth::start_session(&self.store, user_id, hours).await
    }

    /// The live session a browser's cookie names, if any; using it keeps it alive.
    pub async fn session(&self, cookie: &str, idle: SignedDuration) -> ServiceResult<Option<Session>> {
        Ok(self.store.session(&hash_secret(cookie), Timestamp::now(), idle).await?)
    }

    pub async fn end_session(&self, cookie: &str) -> ServiceResult<()> {
        Ok(self.store.delete_session(&hash_secret(cookie)).await?)
    }

    /// The active user an API token belongs to, if it is valid.
    pub async fn token_user(&self, token: &str) -> ServiceResult<Option<User>> {
        Ok(self.store.user_for_token(&hash_secret(token)).await?)
    }

    pub async fn api_tokens(&self, user: &User) -> ServiceResult<Vec<ApiToken>> {
        Ok(self.store.api_tokens(user.id).await?)
    }

    /// A new API token for `user`; the secret is returned this once.
    pub async fn create_api_token(&self, user: &User, name: &str) -> ServiceResult<(ApiToken, String)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ServiceError::invalid("a token name is 1 to 100 characters"));
        }
        auth::create_token(&self.store, user.id, name).await
    }

    pub async fn revoke_api_token(&self, user: &User, id: i64) -> ServiceResult<()> {
        self.store.revoke_api_token(user.id, id).await?;
        self.audit(user, "token.revoked", &format!("token:{id}"), None, "").await
    }

    /// Whether Enter sends a reply for `user` (None: the default, Ctrl+Enter sends).
    pub async fn set_enter_sends(&self, user: &User, enter_sends: Option<bool>) -> ServiceResult<User> {
        Ok(self.store.set_enter_sends(user.id, enter_sends).await?)
    }
}
