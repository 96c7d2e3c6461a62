//! Automation rules over HTTP: the REST API (`api`) and the settings screen
//! `/settings/automations` (`page`, with the rule form in `form`), where admins
//! read every rule in words, switch rules on and off, order, edit and add them,
//! and see the consent keywords as the fixed rules they are.

mod api;
mod form;
mod page;

pub use api::*;
pub(crate) use page::*;
