//! People: users, teams, invitations and API tokens, over the API and on the
//! people page.

pub mod invites;
pub mod page;
pub mod teams;
pub mod tokens;
pub mod users;
