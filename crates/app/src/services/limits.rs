//! What keeps a flood of sign-in attempts from hurting the server: a per-address
//! count of failures on this node, a lockout per e-mail shared by every node
//! (in the database, see `auth::sign_in`), and a small fixed number of password
//! checks at once, where one more is refused at once instead of queued. Memory
//! stays flat: the address table has a fixed cap, and each permit comes with
//! argon2's working memory (19 MiB), allocated once and reused; left to argon2,
//! every check allocates it afresh and the allocator keeps what it freed, per
//! thread, which is how a flood grew the server to gigabytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Block;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;

/// Addresses remembered at most; past it a new address is refused until
/// windows expire (see docs/decisions.md).
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// Why an attempt was not even checked, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures from this address.
    Address { retry_after: Duration },
    /// Too many failures for this e-mail: locked for a while.
    Locked { retry_after: Duration },
    /// As many password checks as allowed are already running.
    Busy,
    /// Too many messages from one web chat visitor or network (`services::webchat`).
    TooMany { retry_after: Duration },
    /// Too many codes asked for to prove a phone number (`services::phone_check`).
    Codes { retry_after: Duration, by: CodeLimit },
}

/// Whose limit on codes was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLimit {
    /// The number had its codes for the hour.
    Number,
    /// The visitor had theirs.
    Visitor,
    /// Many visitors on one network asked at once.
    Network,
}

impl Refusal {
    pub fn retry_after(&self) -> Duration {
        match self {
            Refusal::Address { retry_after }
            | Refusal::Locked { retry_after }
            | Refusal::TooMany { retry_after }
            | Refusal::Codes { retry_after, .. } => *retry_after,
            Refusal::Busy => Duration::from_secs(1),
        }
    }

    /// Whole seconds for `Retry-After`, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after().as_secs_f64().ceil().max(1.0) as u64
    }

    /// A plain sentence for the person (or program) that was refused.
    pub fn explain(&self) -> String {
        let wait = describe_wait(self.retry_after_secs());
        match self {
            Refusal::Address { .. } => format!("Too many failed attempts from your network. Try again in {wait}."),
            Refusal::Locked { .. } => {
                format!("Too many failed sign-ins for this e-mail, so it is locked for now. Try again in {wait}.")
            }
            Refusal::Busy => "The server is checking many sign-ins right now. Try again in a second.".into(),
            Refusal::TooMany { .. } => format!("That is a lot of messages at once. Try again in {wait}."),
            Refusal::Codes { by: CodeLimit::Number, .. } => {
                format!("That number has been sent 3 codes in the last hour, the most we send. Try again in {wait}.")
            }
            Refusal::Codes { by: CodeLimit::Visitor, .. } => {
                format!("You have asked for 3 codes in the last hour, the most we send. Try again in {wait}.")
            }
            Refusal::Codes { by: CodeLimit::Network, .. } => {
                format!("Many codes were asked for from your network just now. Try again in {wait}.")
            }
        }
    }
}

/// "1 second", "40 seconds", "1 minute", "15 minutes".
pub fn describe_wait(secs: u64) -> String {
    match secs {
        0..=1 => "1 second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "1 minute".into(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

pub struct LoginLimits {
    attempts: u32,
    window: Duration,
    addresses: Mutex<HashMap<IpAddr, Window>>,
    hashes: Arc<Semaphore>,
    /// Working memory for password checks, one per permit at most.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// The right to run one password check, with the memory to run it in; both
/// go back when it is dropped.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
    pub memory: Vec<Block>,
    pool: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        if memory.capacity() > 0 {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
        }
    }
}

impl LoginLimits {
    pub fn new(attempts: u32, window: Duration, concurrent_hashes: usize) -> LoginLimits {
        LoginLimits {
            attempts: attempts.max(1),
            window,
            addresses: Mutex::new(HashMap::new()),
            hashes: Arc::new(Semaphore::new(concurrent_hashes.max(1))),
            memory: Arc::default(),
        }
    }

    pub fn from_config(c: &Config) -> LoginLimits {
        Self::new(c.login_ip_attempts, Duration::from_secs(c.login_ip_window_secs), c.login_max_concurrent_hashes)
    }

    fn with_table<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Window>) -> T) -> T {
        // A poisoned lock only means another request panicked mid-update; the counts are still usable.
        let mut table = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut table)
    }

    /// Refused when the address has used up its window.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        self.with_table(|t| match t.get(&ip) {
            Some(w) if now.duration_since(w.started) < self.window && w.count >= self.attempts => {
                Err(Refusal::Address { retry_after: self.window.saturating_sub(now.duration_since(w.started)) })
            }
            _ => Ok(()),
        })
    }

    /// Counts one attempt (a failure, or one not yet known to succeed) and
    /// refuses it if the address is over its limit.
    pub fn charge(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        self.with_table(|t| {
            if !t.contains_key(&ip) && t.len() >= MAX_TRACKED_ADDRESSES {
                t.retain(|_, w| now.duration_since(w.started) < self.window);
                if t.len() >= MAX_TRACKED_ADDRESSES {
                    return Err(Refusal::Address { retry_after: self.window });
                }
            }
            let w = t.entry(ip).or_insert(Window { started: now, count: 0 });
            if now.duration_since(w.started) >= self.window {
                *w = Window { started: now, count: 0 };
            }
            if w.count >= self.attempts {
                return Err(Refusal::Address {
                    retry_after: self.window.saturating_sub(now.duration_since(w.started)),
                });
            }
            w.count += 1;
            Ok(())
        })
    }

    /// Gives back an attempt that turned out to be a success.
    pub fn refund(&self, ip: IpAddr) {
        self.with_table(|t| {
            if let Some(w) = t.get_mut(&ip) {
                w.count = w.count.saturating_sub(1);
            }
        })
    }

    /// Forgets windows that have passed (housekeeping).
    pub fn sweep(&self, now: Instant) {
        self.with_table(|t| t.retain(|_, w| now.duration_since(w.started) < self.window))
    }

    /// A slot to run one password check in, or `Busy` at once.
    pub fn hash_permit(&self) -> Result<HashSlot, Refusal> {
        let permit = self.hashes.clone().try_acquire_owned().map_err(|_| Refusal::Busy)?;
        let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        Ok(HashSlot { _permit: permit, memory, pool: self.memory.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_past_its_window_and_forgiven_after_it() {
        let limits = LoginLimits::new(3, Duration::from_secs(60), 1);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let other: IpAddr = "198.51.100.7".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            limits.charge(ip, t0).unwrap();
        }
        let refused = limits.charge(ip, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(refused, Refusal::Address { retry_after: Duration::from_secs(40) });
        assert_eq!(refused.explain(), "Too many failed attempts from your network. Try again in 40 seconds.");
        assert!(limits.check(ip, t0 + Duration::from_secs(20)).is_err());
        assert!(limits.charge(other, t0).is_ok(), "another address has its own count");
        assert!(limits.charge(ip, t0 + Duration::from_secs(60)).is_ok(), "a new window starts");
        limits.refund(ip);
        limits.refund(ip);
        assert!(limits.check(ip, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn password_checks_beyond_the_cap_are_refused_not_queued() {
        let limits = LoginLimits::new(3, Duration::from_secs(60), 2);
        let a = limits.hash_permit().unwrap();
        let _b = limits.hash_permit().unwrap();
        assert!(matches!(limits.hash_permit(), Err(Refusal::Busy)));
        drop(a);
        assert!(limits.hash_permit().is_ok());
    }

    #[test]
    fn waits_are_worded_for_people() {
        assert_eq!(describe_wait(0), "1 second");
        assert_eq!(describe_wait(75), "1 minute");
        assert_eq!(describe_wait(900), "15 minutes");
        assert_eq!(describe_wait(601), "11 minutes");
    }
}
