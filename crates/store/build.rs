// `sqlx::migrate!` embeds the migration files when this crate compiles; without
// this, a new migration file alone did not rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
