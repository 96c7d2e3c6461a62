//! What the benches that start their own textdesk share (included with
//! `#[path]`, so cargo does not take it for a bench of its own).

use sqlx::Connection;
use textdesk::services::Services;
use textdesk_core::{Email, Password, Role};

/// The allocator the `textdesk` binary ships with (`main.rs`), so a bench that
/// runs the server in its own process measures what an installation pays:
/// on glibc's malloc a sixth of a flood's CPU went to the allocator.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// An admin in the first account, and an API token for them.
pub async fn admin_token(services: &Services) -> String {
    let account = services.store.first_account().await.unwrap().unwrap().id;
    let admin = textdesk::services::auth::create_user(
        &services.store,
        account,
        Email::parse("bench@example.com").unwrap(),
        "",
        Role::Admin,
        &Password::parse("a bench password").unwrap(),
    )
    .await
    .unwrap();
    textdesk::services::auth::create_token(&services.store, admin.id, "bench").await.unwrap().1
}

/// A new PostgreSQL database named `name` on the server `admin` names; its URL.
pub async fn postgres_database(admin: &str, name: &str) -> String {
    let mut c = sqlx::PgConnection::connect(admin).await.expect("connect to the PostgreSQL server given");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.expect("create database");
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

pub async fn drop_postgres_database(admin: &str, name: &str) {
    if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await {
            eprintln!("could not drop the bench database {name}: {e}");
        }
    }
}
