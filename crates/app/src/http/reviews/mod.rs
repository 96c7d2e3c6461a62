//! Quality review (F12): the supervisors' queue, scorecards and the rubric,
//! as pages (`page.rs`, `settings.rs`) and over the API (`api.rs`).

pub mod api;
pub mod page;
pub mod settings;
