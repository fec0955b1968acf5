//! The embedded migrations of each backend.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::DbConnection;
use super::outage::note_unavailable;
use super::watchdog;
use crate::error::Error;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies the migrations this binary carries that the database lacks.
pub fn migrate(conn: &mut DbConnection) -> Result<(), Error> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgres(conn) => watchdog::unbounded(|| {
            // A migration may rightly take longer than a request's bound,
            // and so may waiting for another server's: lifted while they
            // run, then put back as they were.
            let (statement, lock): (String, String) = diesel::select((
                diesel::dsl::sql::<diesel::sql_types::Text>("current_setting('statement_timeout')"),
                diesel::dsl::sql::<diesel::sql_types::Text>("current_setting('lock_timeout')"),
            ))
            .get_result(conn)?;
            conn.batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")?;
            // Several servers may start at once; one migrates, the others wait.
            conn.batch_execute("SELECT pg_advisory_lock(7210512)")?;
            let result = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            conn.batch_execute("SELECT pg_advisory_unlock(7210512)")?;
            diesel::sql_query("SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)")
                .bind::<diesel::sql_types::Text, _>(statement)
                .bind::<diesel::sql_types::Text, _>(lock)
                .execute(conn)?;
            Ok::<_, Error>(result)
        })?,
    }
    .map_err(|source| Error::Migration(source.to_string()))?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(())
}

/// Whether the database has every migration this binary carries (and
/// answers at all: asking is a query).
pub fn is_migrated(conn: &mut DbConnection) -> Result<bool, Error> {
    let pending = match conn {
        DbConnection::Sqlite(conn) => conn.has_pending_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgres(conn) => conn.has_pending_migration(POSTGRES_MIGRATIONS),
    }
    .map_err(|source| {
        note_unavailable();
        Error::DatabaseUnavailable(source.to_string())
    })?;
    Ok(!pending)
}
