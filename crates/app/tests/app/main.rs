//! The app's integration tests, as one binary so the application is linked
//! once: every module starts the real server (see `common`) and talks to it
//! over HTTP. `cargo test -p textdesk --test app NAME` runs the tests whose
//! path contains NAME, e.g. `browser` or `crash::`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A broken setup may panic here.

#[macro_use]
mod common;

mod api;
mod audit_trail;
mod authz;
mod automation_actions;
mod automations;
mod automations_page;
mod browser;
mod canned;
mod channels;
mod cli;
mod consent;
mod consumer_turns;
mod contact;
mod contacts_csv;
mod convo;
mod crash;
mod dispatcher;
mod escalations;
mod event_crash;
mod event_log;
mod flood;
mod flows;
mod flows_page;
mod footprint;
mod fuzz_doors;
mod group_chats;
mod group_commit;
mod hours;
mod http_doors;
mod http_layout;
mod inbox_cache;
mod ingest;
mod limits;
mod line;
mod list;
mod live;
mod media;
mod merge;
mod messenger;
mod nodes;
mod notifications;
mod openapi_peers;
mod pacing_nodes;
mod page_reads;
mod privacy;
mod profile_names;
mod providers;
mod quiet_hours;
mod reach;
mod reports;
mod reports_property;
mod retention;
mod reviews;
mod routing;
mod schedule;
mod scopes;
mod search;
mod secret_logs;
mod settings;
mod shutdown;
mod signin;
mod sla_sweep;
mod story;
mod surveys;
mod telegram;
mod tenants;
mod timeouts;
mod timing;
mod transcript;
mod typed_numbers;
mod ui;
mod vault;
mod voice;
mod wal;
mod webchat;
mod webchat_codes;
mod webhooks;
mod wechat;
mod whatsapp;
mod whatsapp_templates;
