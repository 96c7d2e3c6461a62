//! Inboxes: the API, the settings list (add one), one inbox's settings, and
//! the business-hours form.

pub mod api;
pub mod hours_form;
pub mod list;
pub mod registration;
pub mod settings;
pub mod survey_form;
pub mod widget_form;
pub mod widget_view;
