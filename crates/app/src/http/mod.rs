//! The HTTP surface. `routes` lists every address the app answers; the
//! handlers live by resource (conversations, messages, contacts, inboxes,
//! people, …), each resource's JSON and page handlers side by side. Handlers
//! stay thin: parse, call a service, render. Modules name each other by
//! their own paths (`crate::http::state::AppState`), never through this file,
//! so their imports stay free of circles (the `http_layout` tests check).

pub mod account;
pub mod audit;
pub mod automations;
pub mod canned;
pub mod contacts;
pub mod conversations;
pub mod extract;
pub mod flows;
pub mod inboxes;
pub mod labels;
pub mod layout;
pub mod live;
pub mod media;
pub mod messages;
pub mod notifications;
pub mod openapi;
pub mod operator;
pub mod ops;
pub mod outgoing;
pub mod people;
pub mod preferences;
pub mod privacy;
pub mod problem;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod routes;
pub mod routing;
pub mod session;
pub mod setup;
pub mod simulator;
pub mod state;
pub mod template_input;
pub mod template_views;
pub mod templates;
pub mod text_us;
pub mod voice;
pub mod webhooks;
pub mod widget;

pub use routes::{CSP, router};
pub use state::AppState;
