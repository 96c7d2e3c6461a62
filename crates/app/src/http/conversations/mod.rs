//! Conversations: the inbox list, a conversation's page and its actions, and
//! the same over the API.

pub mod actions;
pub mod api;
pub mod channels;
pub mod escalations;
pub mod list;
pub mod surveys;
pub mod thread;
pub mod timeline_words;
pub mod transcript;
