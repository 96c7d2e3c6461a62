//! The services' one error type. Every service answers with it, so a handler
//! turns any failure into the same API problem or HTML page, and a caller
//! branches on what went wrong (not found, invalid, blocked by the gate…)
//! rather than on which service said it.

use textdesk_core::Invalid;
use textdesk_core::gate::BlockReason;
use textdesk_store::StoreError;

use crate::services::limits::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; the message says how to put it right.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It clashes with what is stored (a duplicate, a stale state).
    #[error("{0}")]
    Conflict(String),
    /// The person's role does not allow it; the message says which role does.
    #[error("{0}")]
    Forbidden(String),
    /// The gate refused a send (consent, quiet hours, window).
    #[error("{}", .0.explain())]
    Blocked(BlockReason),
    /// A provider refused the credentials, or could not be reached to check them.
    #[error("{0}")]
    Credentials(String),
    /// Too many attempts, or too many running at once.
    #[error("{}", .0.explain())]
    Refused(Refusal),
    /// Sign-in failed; deliberately says nothing about which part was wrong.
    #[error("That e-mail and password do not match an active account.")]
    NoMatch,
    /// Our fault (the database, the vault, a bug): logged, never shown in detail.
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(detail: impl Into<String>) -> Self {
        ServiceError::Invalid(detail.into())
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ServiceError::Forbidden(detail.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(d) => ServiceError::Conflict(d),
            StoreError::Invalid(d) => ServiceError::Invalid(d),
            other => ServiceError::Store(other),
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e.0)
    }
}

impl From<crate::services::conversations::ActionError> for ServiceError {
    fn from(e: crate::services::conversations::ActionError) -> Self {
        use crate::services::conversations::ActionError;
        match e {
            ActionError::Store(s) => s.into(),
            ActionError::Blocked(reason) => ServiceError::Blocked(reason),
        }
    }
}
