//! Passwords, sessions and API tokens. Secrets are random 32-byte values shown
//! once; only their SHA-256 is stored. Password hashing (argon2) runs on the
//! blocking pool so a login never stalls the server.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use textdesk_core::{Email, Password, Role};
use textdesk_store::{NewUser, Store, StoreError, User};

/// A fresh random secret, URL-safe.
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub async fn hash_password(p: &Password) -> anyhow::Result<String> {
    let p = p.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(p.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Checks a password; a user who does not exist costs the same time, so
/// timing does not reveal which e-mails have accounts.
pub async fn verify_password(hash: Option<String>, candidate: String) -> bool {
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q8Xb6gXnM5mZ5QkQ9vYwI4dJmOq4nYq3m0cX0mZt3Ik";
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY.to_owned());
    tokio::task::spawn_blocking(move || {
        let ok = PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(candidate.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && known
    })
    .await
    .unwrap_or(false)
}

pub async fn create_user(
    store: &Store,
    account_id: i64,
    email: Email,
    name: &str,
    role: Role,
    password: &Password,
) -> anyhow::Result<User> {
    let hash = hash_password(password).await?;
    let name = if name.trim().is_empty() {
        email.as_str().split('@').next().unwrap_or("").to_owned()
    } else {
        name.trim().to_owned()
    };
    Ok(store.create_user(NewUser { account_id, email, name, role, password_hash: hash }).await?)
}

/// Signs in: the user when the password matches an active account.
pub async fn authenticate(store: &Store, email: &str, password: &str) -> Result<Option<User>, StoreError> {
    let user = match Email::parse(email) {
        Ok(e) => store.user_by_email(&e).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().filter(|u| u.active).map(|u| u.password_hash.clone());
    if verify_password(hash, password.to_owned()).await { Ok(user) } else { Ok(None) }
}

pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

pub async fn start_session(store: &Store, user_id: i64, hours: i64) -> Result<NewSession, StoreError> {
    let cookie = new_secret("");
    let csrf = new_secret("");
    let expires_at = Timestamp::now() + SignedDuration::from_hours(hours);
    store.create_session(&hash_secret(&cookie), user_id, &csrf, expires_at).await?;
    Ok(NewSession { cookie, csrf, expires_at })
}

/// Creates an API token; the returned secret is shown once and never again.
pub async fn create_token(
    store: &Store,
    user_id: i64,
    name: &str,
) -> Result<(textdesk_store::ApiToken, String), StoreError> {
    let secret = new_secret("td_");
    let token = store.create_api_token(user_id, name, &hash_secret(&secret)).await?;
    Ok((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_and_unknown_users_fail() {
        let p = Password::parse("correct horse battery").unwrap();
        let h = hash_password(&p).await.unwrap();
        assert!(verify_password(Some(h.clone()), "correct horse battery".into()).await);
        assert!(!verify_password(Some(h), "wrong horse battery".into()).await);
        assert!(!verify_password(None, "correct horse battery".into()).await);
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("td_");
        assert!(a.starts_with("td_") && a.len() == 67);
        assert_ne!(a, new_secret("td_"));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
