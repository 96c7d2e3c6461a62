//! Messages: the composer and the outbox on a conversation's page, and the
//! same over the API.

pub mod api;
pub mod page;
