//! The installation's operator: creating and listing the accounts this server
//! serves, over HTTP, with a token configured by the installation
//! (`TEXTDESK_OPERATOR_TOKEN`). The token is above every account and opens
//! nothing of any account's: only `/api/v1/operator/…`.

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use textdesk_core::{Email, HostName};
use textdesk_store::{Account, AccountOverview};

use crate::services::Services;
use crate::services::auth::{hash_secret, new_secret};
use crate::services::error::ServiceResult;
use crate::services::users::{INVITE_DAYS, Invitation};

/// What a presented operator token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorCheck {
    /// No operator token is configured: the operator's routes do not exist.
    Off,
    Valid,
    Wrong,
}

/// A new account as the operator asks for it.
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub admin_email: &'a str,
    pub admin_name: &'a str,
    pub hosts: &'a [String],
}

/// The account made, and its first admin's one-time link to set a password.
pub struct CreatedAccount {
    pub account: Account,
    pub hosts: Vec<HostName>,
    pub invitation: Invitation,
}

impl Services {
    /// Whether the operator's routes are on.
    pub fn operator_enabled(&self) -> bool {
        self.operator_token.is_some()
    }

    /// Compares a presented token with the configured one by their SHA-256,
    /// in constant time.
    pub fn check_operator(&self, presented: &str) -> OperatorCheck {
        let Some(expected) = &self.operator_token else { return OperatorCheck::Off };
        let got: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if bool::from(got.ct_eq(expected)) { OperatorCheck::Valid } else { OperatorCheck::Wrong }
    }

    pub async fn account_overviews(&self) -> ServiceResult<Vec<AccountOverview>> {
        Ok(self.store.account_overviews().await?)
    }

    /// A new account with its first admin, who has no password yet: the answer
    /// carries their sign-in link (an invitation, `INVITE_DAYS` days), shown once.
    pub async fn create_account_by_operator(&self, ask: NewAccount<'_>) -> ServiceResult<CreatedAccount> {
        let email = Email::parse(ask.admin_email)?;
        let hosts = ask.hosts.iter().map(|h| HostName::parse(h)).collect::<Result<Vec<_>, _>>()?;
        let (account, admin) =
            crate::services::auth::create_account(&self.store, ask.name, email, ask.admin_name, None, &hosts).await?;
        self.ensure_builtin_rules(account.id).await?;
        let token = new_secret("");
        let expires_at = Timestamp::now() + SignedDuration::from_hours(24 * INVITE_DAYS);
        self.store.create_invite(account.id, admin.id, &hash_secret(&token), admin.id, expires_at).await?;
        let url = format!("{}/invite/{token}", self.public_url);
        Ok(CreatedAccount { account, hosts, invitation: Invitation { user: admin, url, expires_at } })
    }
}
