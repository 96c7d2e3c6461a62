//! Self-service flows over HTTP: the REST API (`api`) and the settings screen
//! `/settings/flows` (`page`, with the step forms read in `form`), where
//! admins build menus with forms and move flows as files.

mod api;
mod form;
mod page;

pub use api::*;
pub(crate) use page::*;
