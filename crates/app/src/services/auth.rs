//! Passwords, sessions and API tokens. Secrets are random 32-byte values shown
//! once; only their SHA-256 is stored. Password hashing (argon2) runs on the
//! blocking pool so a login never stalls the server, and only under one of the
//! few permits `limits::LoginLimits` hands out, so a flood cannot pile them up.

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use textdesk_core::{Email, HostName, Password, Role};
use textdesk_store::{LockoutRule, NewAudit, NewUser, Store, User};

use crate::services::error::{ServiceError, ServiceResult};
use crate::services::limits::{HashSlot, LoginLimits, Refusal, describe_wait};

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

/// Stands in for a missing user's hash: the same algorithm and cost as
/// `Argon2::default()`, so checking against it takes as long as a real check.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q8Xb6gXnM5mZ5QkQ9vYwI4dJmOq4nYq3m0cX0mZt3Ik";

/// Checks a password in `slot`'s memory; a user who does not exist costs the
/// same time, so timing does not reveal which e-mails have accounts.
pub async fn verify_password(hash: Option<String>, candidate: String, mut slot: HashSlot) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY.to_owned());
    tokio::task::spawn_blocking(move || verify_in(&mut slot.memory, &hash, candidate.as_bytes()) && known)
        .await
        .unwrap_or(false)
}

/// Checks a password against each hash in turn, in one slot's memory (one
/// permit, so the checks at once stay bounded). With no hash at all it costs
/// one check against the stand-in, like an unknown e-mail.
pub async fn verify_each(hashes: Vec<String>, candidate: String, mut slot: HashSlot) -> Vec<bool> {
    let n = hashes.len();
    tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            verify_in(&mut slot.memory, DUMMY, candidate.as_bytes());
            return Vec::new();
        }
        hashes.iter().map(|h| verify_in(&mut slot.memory, h, candidate.as_bytes())).collect()
    })
    .await
    .unwrap_or_else(|_| vec![false; n])
}

/// Argon2 over the hash's own algorithm, version, cost and salt, in `memory`
/// (grown to the cost once, then reused), compared in constant time. A hash
/// no password can match (an invited user's `NO_PASSWORD`, a damaged row)
/// still costs a check against the stand-in: answering at once would tell
/// anyone timing the sign-in form that the e-mail belongs to an invited user.
fn verify_in(memory: &mut Vec<Block>, hash: &str, candidate: &[u8]) -> bool {
    match argon2_check(memory, hash, candidate) {
        Some(matched) => matched,
        None => {
            let _ = argon2_check(memory, DUMMY, candidate);
            false
        }
    }
}

/// The check itself; None when `hash` is not an argon2 hash this can run.
fn argon2_check(memory: &mut Vec<Block>, hash: &str, candidate: &[u8]) -> Option<bool> {
    let h = PasswordHash::new(hash).ok()?;
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else { return None };
    let algorithm = Algorithm::try_from(h.algorithm.as_str()).ok()?;
    let params = Params::try_from(&h).ok()?;
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(v) => v.ok()?,
    };
    let mut out = vec![0u8; expected.len()];
    memory.resize(params.block_count(), Block::default());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(candidate, salt.as_ref(), &mut out, &mut memory[..])
        .ok()?;
    Some(bool::from(out.ct_eq(expected.as_bytes())))
}

pub async fn create_user(
    store: &Store,
    account_id: i64,
    email: Email,
    name: &str,
    role: Role,
    password: &Password,
) -> ServiceResult<User> {
    let name = crate::services::users::user_name(name, &email)?;
    let hash = hash_password(password).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(store.create_user(NewUser { account_id, email, name, role, password_hash: hash }).await?)
}

/// The longest account name: it heads every page and e-mail.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 100;

/// A new business served by this server, with its first admin and the host
/// names it is reached at (`textdesk account add`, `POST
/// /api/v1/operator/accounts`). Without a password the admin gets an
/// invitation link instead (`Services::invite_user`).
pub async fn create_account(
    store: &Store,
    name: &str,
    admin_email: Email,
    admin_name: &str,
    password: Option<&Password>,
    hosts: &[HostName],
) -> ServiceResult<(textdesk_store::Account, User)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ACCOUNT_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(textdesk_core::Invalid::new(format!(
            "an account's name is 1 to {MAX_ACCOUNT_NAME_CHARS} characters on one line"
        ))
        .into());
    }
    let admin_name = crate::services::users::user_name(admin_name, &admin_email)?;
    let hash = match password {
        Some(p) => hash_password(p).await.map_err(|e| ServiceError::Internal(e.to_string()))?,
        None => crate::services::users::NO_PASSWORD.to_owned(),
    };
    let admin = NewUser { account_id: 0, email: admin_email, name: admin_name, role: Role::Admin, password_hash: hash };
    Ok(store.create_account(name, admin, hosts).await?)
}

/// Everything a password sign-in needs besides the e-mail and password.
pub struct SignInGuard<'a> {
    pub store: &'a Store,
    pub limits: &'a LoginLimits,
    pub rule: LockoutRule,
    /// Where a lockout of an e-mail no account holds is written down: the
    /// account of the host the form was opened at, else the first account.
    pub fallback_account: i64,
    pub ip: IpAddr,
}

/// Who is signing in, and where.
pub struct SignInAsk<'a> {
    /// The account of the host name the request came to: only its users may sign in there.
    pub host_account: Option<i64>,
    /// The business picked on the form when the e-mail and password fit several.
    pub chosen: Option<i64>,
    pub email: &'a str,
    pub password: &'a str,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum SignedIn {
    User(User),
    /// The e-mail and password fit a user in each of these accounts: the
    /// person picks one (only shown once the password is proven).
    Choose(Vec<textdesk_store::Account>),
}

/// How many accounts' users one sign-in checks the password of, at most: a
/// person in more businesses than this signs in at one's host name.
pub const MAX_ACCOUNTS_PER_SIGN_IN: usize = 5;

/// The key failures are counted under: the typed e-mail, normalised, hashed
/// (an unknown e-mail locks just like a known one, so a lock reveals nothing).
fn email_key(email: &str) -> String {
    let normal = Email::parse(email).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| email.trim().to_lowercase());
    hash_secret(&normal)
}

/// Signs in: the user when the password matches an active user of the
/// request's account (its host name's), or, at a host no account claims, of
/// the accounts that have the e-mail, unless the address or the e-mail has
/// failed too often, or too many checks are running already. Every refusal
/// and failure costs the same whether the e-mail exists or not; an e-mail in
/// several accounts costs one check per account (at most
/// `MAX_ACCOUNTS_PER_SIGN_IN`).
pub async fn sign_in(g: &SignInGuard<'_>, ask: SignInAsk<'_>) -> ServiceResult<SignedIn> {
    let now = std::time::Instant::now();
    g.limits.charge(g.ip, now).map_err(ServiceError::Refused)?;
    let key = email_key(ask.email);
    let at = Timestamp::now();
    if let Some(until) = g.store.login_locked_until(&key, at).await? {
        let retry_after = until.duration_since(at).unsigned_abs();
        return Err(ServiceError::Refused(Refusal::Locked { retry_after }));
    }
    let slot = g.limits.hash_permit().map_err(ServiceError::Refused)?;
    let holders = match Email::parse(ask.email) {
        Ok(e) => g.store.users_by_email(&e).await?,
        Err(_) => Vec::new(),
    };
    let mut candidates: Vec<User> = holders
        .iter()
        .filter(|u| u.active)
        .filter(|u| ask.host_account.is_none_or(|a| u.account_id == a))
        .filter(|u| ask.chosen.is_none_or(|a| u.account_id == a))
        .cloned()
        .collect();
    candidates.truncate(MAX_ACCOUNTS_PER_SIGN_IN);
    let hashes = candidates.iter().map(|u| u.password_hash.clone()).collect();
    let matched = verify_each(hashes, ask.password.to_owned(), slot).await;
    let mut fits: Vec<User> = candidates.into_iter().zip(matched).filter_map(|(u, ok)| ok.then_some(u)).collect();
    if fits.is_empty() {
        let mut audited: Vec<i64> = holders.iter().map(|u| u.account_id).collect();
        if audited.is_empty() {
            audited.push(ask.host_account.unwrap_or(g.fallback_account));
        }
        audited.sort_unstable();
        audited.dedup();
        let ip = g.ip.to_string();
        // What was typed, as the lock's entry names it (cut: it is anyone's input).
        let subject: String = ask.email.trim().to_lowercase().chars().take(254).collect();
        for &account_id in &audited {
            let entry = NewAudit {
                account_id,
                action: "sign_in.failed",
                subject: &subject,
                ip: Some(&ip),
                detail: "Wrong e-mail or password.",
                ..NewAudit::default()
            };
            g.store.record_audit(entry, at).await?;
        }
        record_failure(g, &key, ask.email, &audited, at).await?;
        return Err(ServiceError::NoMatch);
    }
    g.limits.refund(g.ip);
    g.store.clear_login_failures(&key).await?;
    if fits.len() == 1 {
        let user = fits.remove(0);
        let ip = g.ip.to_string();
        let entry = NewAudit {
            account_id: user.account_id,
            actor_user_id: Some(user.id),
            action: "sign_in.succeeded",
            subject: &user.email,
            ip: Some(&ip),
            detail: "",
        };
        g.store.record_audit(entry, at).await?;
        return Ok(SignedIn::User(user));
    }
    let mut accounts = Vec::with_capacity(fits.len());
    for u in &fits {
        accounts.push(g.store.account(u.account_id).await?);
    }
    Ok(SignedIn::Choose(accounts))
}

/// Counts a failure; the one that starts a lock is written in the audit trail
/// of every account that has the e-mail (or the request's, for an unknown one).
async fn record_failure(
    g: &SignInGuard<'_>,
    key: &str,
    email: &str,
    accounts: &[i64],
    at: Timestamp,
) -> ServiceResult<()> {
    let Some(until) = g.store.record_login_failure(key, at, g.rule).await? else { return Ok(()) };
    let lasts = describe_wait(until.duration_since(at).as_secs().max(1) as u64);
    let detail = format!(
        "Sign-in locked for {lasts} after {} failed attempts within {}.",
        g.rule.failures,
        describe_wait(g.rule.window.as_secs().max(1) as u64)
    );
    let ip = g.ip.to_string();
    let subject = email.trim().to_lowercase();
    let mut seen = Vec::new();
    for &account_id in accounts {
        if seen.contains(&account_id) {
            continue;
        }
        seen.push(account_id);
        let entry = NewAudit {
            account_id,
            action: "sign_in.locked",
            subject: &subject,
            ip: Some(&ip),
            detail: &detail,
            ..NewAudit::default()
        };
        g.store.record_audit(entry, at).await?;
    }
    tracing::warn!("a sign-in e-mail was locked after repeated failures (see the audit trail)");
    Ok(())
}

pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

pub async fn start_session(store: &Store, user_id: i64, hours: i64) -> ServiceResult<NewSession> {
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
) -> ServiceResult<(textdesk_store::ApiToken, String)> {
    let secret = new_secret("td_");
    let token = store.create_api_token(user_id, name, &hash_secret(&secret)).await?;
    Ok((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_and_unknown_users_fail() {
        let limits = LoginLimits::new(10, std::time::Duration::from_secs(60), 1);
        let slot = || limits.hash_permit().unwrap();
        let p = Password::parse("correct horse battery").unwrap();
        let h = hash_password(&p).await.unwrap();
        assert!(verify_password(Some(h.clone()), "correct horse battery".into(), slot()).await);
        assert!(!verify_password(Some(h.clone()), "wrong horse battery".into(), slot()).await);
        assert!(!verify_password(None, "correct horse battery".into(), slot()).await);
        // The memory is reused, and a check in it agrees with argon2's own.
        let mut reused = slot();
        let memory = &mut reused.memory;
        assert_eq!(memory.len(), 19 * 1024, "19 MiB kept for the next check");
        for candidate in ["correct horse battery", "wrong horse battery"] {
            let theirs = argon2::password_hash::PasswordVerifier::verify_password(
                &Argon2::default(),
                candidate.as_bytes(),
                &PasswordHash::new(&h).unwrap(),
            )
            .is_ok();
            assert_eq!(verify_in(memory, &h, candidate.as_bytes()), theirs);
        }
        assert!(!verify_in(memory, "not a hash", b"x"));
    }

    #[test]
    fn the_stand_in_hash_costs_what_a_real_one_does() {
        // If it did not parse, or were cheaper, an unknown e-mail would answer faster.
        let dummy = PasswordHash::new(DUMMY).unwrap();
        let real = Argon2::default().hash_password(b"anything at all").unwrap().to_string();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }

    #[test]
    fn a_hash_no_password_matches_costs_a_full_check() {
        // An invited user (no password yet) must answer as slowly as anyone else.
        let time = |hash: &str| {
            let mut memory = Vec::new();
            let started = std::time::Instant::now();
            let matched = verify_in(&mut memory, hash, b"correct horse battery");
            (matched, started.elapsed(), memory.len())
        };
        let (_, real, real_memory) = time(DUMMY);
        for hash in [crate::services::users::NO_PASSWORD, "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$"] {
            let (matched, took, memory) = time(hash);
            assert!(!matched, "{hash}");
            assert_eq!(memory, real_memory, "{hash}: argon2 ran at the real cost");
            assert!(took * 3 > real, "{hash}: {took:?} against {real:?} for a real check");
        }
    }

    #[test]
    fn failures_count_under_the_normalised_email() {
        assert_eq!(email_key(" Ann@Example.COM "), email_key("ann@example.com"));
        assert_ne!(email_key("ann@example.com"), email_key("bob@example.com"));
        assert_eq!(email_key("not an email"), email_key("NOT AN EMAIL"));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("td_");
        assert!(a.starts_with("td_") && a.len() == 67);
        assert_ne!(a, new_secret("td_"));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
