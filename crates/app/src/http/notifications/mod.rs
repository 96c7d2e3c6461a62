//! Starting an exchange: notifications over the API, and an agent's "New
//! conversation" page.

pub mod api;
pub mod page;
