//! Contacts: the panel beside a conversation and its forms, consent, and the
//! same over the API.

pub mod api;
pub mod consent;
pub mod list_page;
pub mod merge;
pub mod merge_page;
pub mod page;
pub mod panel;
