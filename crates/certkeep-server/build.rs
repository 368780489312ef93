//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the migration files,
//! but cargo does not otherwise know that the crate depends on them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
