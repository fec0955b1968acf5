//! The database: one connection type over SQLite and Postgres, chosen at run
//! time from `DATABASE_URL`, a pool, embedded migrations and write transactions.

pub mod literal;
pub mod schema;
pub mod timestamp;
pub mod written;

use std::cell::{Cell, RefCell};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::Error;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// Where the database is, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A `postgres://` or `postgresql://` URL, passed to libpq as it is.
    Postgres(String),
    /// The path of an SQLite file: `sqlite://rollcall.db` is `rollcall.db`,
    /// `sqlite:///var/lib/rollcall.db` is `/var/lib/rollcall.db`.
    Sqlite(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DATABASE_URL “{0}” is not supported: use sqlite://FILE, sqlite:///ABSOLUTE/FILE or postgres://…")]
pub struct InvalidDatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, InvalidDatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) if !path.is_empty() && !path.contains('?') => Ok(Self::Sqlite(path.to_owned())),
            _ => Err(InvalidDatabaseUrl(url.to_owned())),
        }
    }
}

impl DatabaseUrl {
    /// Whether the database is on this machine: an SQLite file, or Postgres
    /// over a Unix socket or loopback. Such a database answers a query in less
    /// time than it takes to hand the query to another thread and back.
    pub fn is_local(&self) -> bool {
        let Self::Postgres(url) = self else {
            return true;
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        // A `host` parameter overrides the URL's host; a path there is a socket.
        if let Some((_, host)) = parsed.query_pairs().find(|(key, _)| key == "host") {
            return host.starts_with('/') || is_loopback(&host);
        }
        match parsed.host() {
            None => true,
            Some(url::Host::Domain(name)) => name.is_empty() || is_loopback(name),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

thread_local! {
    /// Whether a statement on this thread found the database gone.
    static UNAVAILABLE: Cell<bool> = const { Cell::new(false) };
}

/// Notes that a statement on this thread found the database gone, so that
/// the connection it ran on is not pooled again.
pub(crate) fn note_unavailable() {
    UNAVAILABLE.set(true);
}

/// For this long after the database was found gone, every connection is
/// tried before it is handed out: the others in the pool are likely dead too.
const SUSPECT_FOR_SECONDS: u64 = 60;

fn unix_seconds() -> u64 {
    std::time::UNIX_EPOCH.elapsed().map_or(0, |since| since.as_secs())
}

/// Makes pooled connections and sets each one up for how Rollcall uses it.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// How long to wait for Postgres to connect, or for SQLite's write lock.
    timeout: Duration,
    /// When a statement on one of these connections last found the database
    /// gone, in seconds since 1970.
    last_outage: std::sync::atomic::AtomicU64,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => open_postgres(url, false, self.timeout),
            DatabaseUrl::Sqlite(path) => open_sqlite(path, self.timeout, ""),
        }
    }

    /// Free while the database has been well; a round trip in the minute
    /// after it was found gone, so that dead connections are dropped rather
    /// than each failing one request.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        let since_outage =
            unix_seconds().saturating_sub(self.last_outage.load(std::sync::atomic::Ordering::Relaxed));
        if since_outage > SUSPECT_FOR_SECONDS {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// A connection the server closed (a restart, a failover) is dropped
    /// rather than handed out again: the statement that found it out was on
    /// this thread, with this connection.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        if UNAVAILABLE.replace(false) {
            self.last_outage
                .store(unix_seconds(), std::sync::atomic::Ordering::Relaxed);
            return true;
        }
        match conn {
            DbConnection::Postgres(conn) => conn.is_broken(),
            DbConnection::Sqlite(conn) => conn.is_broken(),
        }
    }
}

/// Opens the SQLite file at `path` and sets the connection up, then runs `extra` pragmas.
fn open_sqlite(path: &str, busy: Duration, extra: &str) -> Result<DbConnection, r2d2::Error> {
    let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
    // WAL lets readers go on while one writer writes; the busy timeout
    // makes a writer wait its turn behind another process (a backup, a
    // second server) instead of failing, up to a bound.
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = {};",
        busy.as_millis()
    ))
    .and_then(|()| conn.batch_execute(extra))
    .map_err(r2d2::Error::QueryError)?;
    Ok(DbConnection::Sqlite(conn))
}

/// Connects to Postgres and sets the session up; a reader's refuses to write.
fn open_postgres(url: &str, read_only: bool, timeout: Duration) -> Result<DbConnection, r2d2::Error> {
    let url = with_connect_timeout(url, timeout);
    let mut conn = PgConnection::establish(&url).map_err(r2d2::Error::ConnectionError)?;
    // Every statement Rollcall sends is prepared once and keyed by an indexed
    // organization, and its generic plan is the plan it needs. Left to choose,
    // Postgres plans statements with `LIMIT $n` again on every run (their
    // generic plan's estimate looks dearer), which cost a Members page more
    // than running its queries did (BENCHMARKS.md).
    let mut setup = "SET plan_cache_mode = force_generic_plan".to_owned();
    if read_only {
        setup.push_str("; SET default_transaction_read_only = on");
    }
    conn.batch_execute(&setup).map_err(r2d2::Error::QueryError)?;
    Ok(DbConnection::Postgres(conn))
}

/// The URL with libpq's `connect_timeout` (whole seconds, at least 2, as
/// libpq counts it), unless the URL sets its own: a database that does not
/// answer fails the connection instead of holding the request.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={}", timeout.as_secs().max(2))
}

/// How long a web worker's reader waits on SQLite (it rarely must: WAL) or
/// for Postgres to connect.
const READER_TIMEOUT: Duration = Duration::from_secs(5);

/// A migrated database in memory, for the services' own tests.
#[cfg(test)]
pub(crate) fn in_memory() -> DbConnection {
    let mut conn = open_sqlite(":memory:", READER_TIMEOUT, "").expect("an in-memory database");
    migrate(&mut conn).expect("its tables");
    conn
}

thread_local! {
    /// This thread's read-only connection, and the database it is to.
    static READER: RefCell<Option<(DatabaseUrl, DbConnection)>> = const { RefCell::new(None) };
}

/// Opens a connection that refuses to write.
fn open_reader(url: &DatabaseUrl) -> Result<DbConnection, Error> {
    let opened = match url {
        DatabaseUrl::Sqlite(path) => open_sqlite(path, READER_TIMEOUT, "PRAGMA query_only = ON;"),
        DatabaseUrl::Postgres(url) => open_postgres(url, true, READER_TIMEOUT),
    };
    opened.map_err(|source| Error::DatabaseUnavailable(source.to_string()))
}

/// Runs `work` on this thread's own read-only connection to `url`, opened on
/// first use.
///
/// This is how the web workers read: a page's reads take less time than
/// handing them to another thread and back. On SQLite, in WAL mode, a reader
/// never waits for a lock, and the reads run in one transaction: one snapshot,
/// and the file's shared lock taken once rather than once per statement. The
/// connection refuses writes, so nothing can write outside [`write`]'s queue.
pub fn read_here<T>(
    url: &DatabaseUrl,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    READER.with(|reader| {
        let mut reader = reader
            .try_borrow_mut()
            .map_err(|_| Error::DatabaseUnavailable("a read started inside another read".to_owned()))?;
        if !matches!(&*reader, Some((open, _)) if open == url) {
            *reader = Some((url.clone(), open_reader(url)?));
        }
        let Some((_, conn)) = reader.as_mut() else {
            return Err(Error::DatabaseUnavailable("no connection".to_owned()));
        };
        let result = match conn {
            DbConnection::Sqlite(_) => conn.transaction(work),
            DbConnection::Postgres(_) => work(conn),
        };
        // Refusals (not found, not a member) leave the connection as it was;
        // after a database error (or a database gone away), the next read
        // starts on a fresh one.
        if matches!(result, Err(Error::Database(_) | Error::DatabaseUnavailable(_))) {
            *reader = None;
            // Noted for pooled connections; this one is gone already.
            UNAVAILABLE.set(false);
        }
        result
    })
}

/// Opens a pool on `url`. Fails at once, with the reason, if the database
/// cannot be reached.
/// A pool of at most `max_size` connections; a request waits up to
/// `timeout` for one (and for SQLite's write lock) before it is refused.
pub fn connect(url: &DatabaseUrl, max_size: u32, timeout: Duration) -> Result<DbPool, Error> {
    Pool::builder()
        .max_size(max_size)
        // A query on every checkout doubles the cost of a short request:
        // `is_valid` asks one only in the minute after an outage, and a
        // connection that broke is found by `has_broken` and dropped.
        .test_on_check_out(true)
        .connection_timeout(timeout)
        .build(ConnectionManager {
            url: url.clone(),
            timeout,
            last_outage: Default::default(),
        })
        .map_err(|source| Error::DatabaseUnavailable(source.to_string()))
}

/// Applies the migrations this binary carries that the database lacks.
pub fn migrate(conn: &mut DbConnection) -> Result<(), Error> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgres(conn) => {
            // Several servers may start at once; one migrates, the others wait.
            conn.batch_execute("SELECT pg_advisory_lock(7210512)")?;
            let result = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            conn.batch_execute("SELECT pg_advisory_unlock(7210512)")?;
            result
        }
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

/// One SQLite writer at a time in this process. SQLite allows one anyway; a
/// queue on a mutex wakes the next writer at once, where the busy timeout
/// polls with growing sleeps (hundreds of milliseconds under load).
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread holds [`SQLITE_WRITER`]: a nested [`write`] goes on.
    static HOLDS_SQLITE_WRITER: Cell<bool> = const { Cell::new(false) };
}

struct WriterTurn {
    _guard: MutexGuard<'static, ()>,
}

impl WriterTurn {
    fn take() -> Option<Self> {
        if HOLDS_SQLITE_WRITER.get() {
            return None;
        }
        let guard = SQLITE_WRITER.lock().unwrap_or_else(PoisonError::into_inner);
        HOLDS_SQLITE_WRITER.set(true);
        Some(Self { _guard: guard })
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        HOLDS_SQLITE_WRITER.set(false);
    }
}

/// Runs `f` in a transaction that may write.
///
/// On SQLite the transaction takes the write lock before anything else, so that
/// concurrent writers queue instead of failing half-way: behind each other in
/// this process, on the busy timeout against other processes.
pub fn write<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    let _turn = match conn {
        DbConnection::Sqlite(_) => WriterTurn::take(),
        DbConnection::Postgres(_) => None,
    };
    conn.transaction(|conn| {
        if let DbConnection::Sqlite(sqlite) = conn {
            sqlite.batch_execute("UPDATE write_lock SET generation = generation + 1")?;
        }
        f(conn)
    })
}

/// Serializes changes to one organization's membership until the transaction
/// ends, so that rules over all its members (the last owner) hold under
/// concurrency. On SQLite, [`write`] already holds the database's write lock.
pub fn lock_organization(conn: &mut DbConnection, org_id: &str) -> Result<(), Error> {
    if let DbConnection::Postgres(pg) = conn {
        // NO KEY UPDATE: changes to one organization queue on each other,
        // but a row that merely refers to it (a count, an invitation, an
        // event: their foreign keys take KEY SHARE) does not wait; a change
        // that holds a member's row and then writes such a row would
        // otherwise deadlock with one that holds this lock and wants it.
        schema::organizations::table
            .find(org_id)
            .select(schema::organizations::id)
            .for_no_key_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

/// Locks one invitation's row until the transaction ends: every change to an
/// invitation (accept, decline, resend, revoke) takes it first and then reads
/// the state it changes from, so racing changes happen one after the other.
/// On SQLite, [`write`] already holds the database's write lock.
pub fn lock_invitation(conn: &mut DbConnection, invitation_id: &str) -> Result<(), Error> {
    if let DbConnection::Postgres(pg) = conn {
        schema::invitations::table
            .find(invitation_id)
            .select(schema::invitations::id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

/// Holds, until the transaction ends, a lock for each of `keys` (any text):
/// work that must not run twice at once for the same key queues instead. On
/// SQLite, [`write`] already holds the database's write lock.
pub fn lock_keys(conn: &mut DbConnection, mut keys: Vec<String>) -> Result<(), Error> {
    if let DbConnection::Postgres(pg) = conn {
        // Always in the same order, so that two holders of overlapping keys
        // cannot each wait for the other.
        keys.sort();
        keys.dedup();
        for key in keys {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
        }
    }
    Ok(())
}

/// Inserts many rows in one statement. Multi-row inserts are not available
/// through the combined backend, so this runs them on the concrete connection.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres(conn) => {
                ::diesel::RunQueryDsl::execute(::diesel::insert_into($table).values($rows), conn)
            }
            $crate::db::DbConnection::Sqlite(conn) => {
                ::diesel::RunQueryDsl::execute(::diesel::insert_into($table).values($rows), conn)
            }
        }
    };
}
pub(crate) use insert_all;

/// Whether a query failed on a unique constraint: two requests raced to create
/// the same thing.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://rollcall.db"),
            Ok(DatabaseUrl::Sqlite("rollcall.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/rollcall/rollcall.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/rollcall/rollcall.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/rollcall"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in ["", "mysql://x", "rollcall.db", "sqlite://"] {
            assert!(DatabaseUrl::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn knows_which_databases_are_on_this_machine() {
        for local in [
            "sqlite://rollcall.db",
            "postgres://postgres@127.0.0.1:5432/rollcall",
            "postgres://postgres@localhost/rollcall?sslmode=disable",
            "postgresql://[::1]:5432/rollcall",
            "postgres:///rollcall",
            "postgres://db.internal/rollcall?host=/var/run/postgresql",
        ] {
            let url = DatabaseUrl::parse(local).expect("a valid URL");
            assert!(url.is_local(), "{local} is on this machine");
        }
        for remote in [
            "postgres://postgres@db.internal:5432/rollcall",
            "postgres://10.0.0.7/rollcall",
            "postgres://localhost/rollcall?host=db.internal",
        ] {
            let url = DatabaseUrl::parse(remote).expect("a valid URL");
            assert!(!url.is_local(), "{remote} is elsewhere");
        }
    }

    #[test]
    fn the_worker_reader_sees_writes_and_refuses_to_write() {
        let path = std::env::temp_dir().join(format!("rollcall-reader-{}.db", std::process::id()));
        let path = path.to_string_lossy().into_owned();
        let url = DatabaseUrl::Sqlite(path.clone());
        let mut writer =
            open_sqlite(&path, READER_TIMEOUT, "CREATE TABLE notes (body TEXT NOT NULL);").expect("open");
        let count = |conn: &mut DbConnection| -> Result<i64, Error> {
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT COUNT(*) FROM notes)",
            ))
            .get_result(conn)?)
        };
        assert_eq!(read_here(&url, count).expect("read"), 0);
        writer
            .batch_execute("INSERT INTO notes VALUES ('one')")
            .expect("insert");
        assert_eq!(read_here(&url, count).expect("read"), 1);
        let refused = read_here(&url, |conn| {
            Ok(conn.batch_execute("INSERT INTO notes VALUES ('two')")?)
        });
        assert!(refused.is_err(), "the reader wrote");
        assert_eq!(read_here(&url, count).expect("read after a refusal"), 1);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
