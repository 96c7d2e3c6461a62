//! Outgoing webhooks over HTTP: the API (`api`) and the admins' settings
//! pages (`page`). What providers post to us is `http::webhooks`.

pub mod api;
pub mod page;
