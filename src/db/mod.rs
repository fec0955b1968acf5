//! The database: one connection type over SQLite and Postgres, chosen at run
//! time from `DATABASE_URL`, a pool, embedded migrations and write transactions.

pub mod literal;
pub mod schema;
pub mod timestamp;
pub mod watchdog;
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

thread_local! {
    /// Whether a statement on this thread found the database gone.
    static UNAVAILABLE: Cell<bool> = const { Cell::new(false) };
}

/// Notes that a statement on this thread found the database gone, so that
/// the connection it ran on is not pooled again.
fn note_unavailable() {
    UNAVAILABLE.set(true);
}

/// Notes the database gone if a statement's `error` says so. Every
/// connection reports each statement's end here ([`OutageWatch`], or the
/// watchdog's own instrumentation), so no caller has to remember to.
fn note_if_unusable(error: Option<&diesel::result::Error>) {
    if error.is_some_and(crate::error::leaves_connection_unusable) {
        note_unavailable();
    }
}

/// The instrumentation of a connection without a watchdog: it only notes
/// statements that found the database gone.
struct OutageWatch;

impl diesel::connection::Instrumentation for OutageWatch {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::FinishQuery { error, .. } = event {
            note_if_unusable(error);
        }
    }
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
            DatabaseUrl::Postgres(url) => open_postgres(url, self.timeout),
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
    conn.set_instrumentation(OutageWatch);
    Ok(DbConnection::Sqlite(conn))
}

/// Connects to Postgres and sets the session up so that no wait on it is
/// longer than `timeout`: for a lock, for a statement, or for a network that
/// has stopped answering (see [`watchdog`]).
fn open_postgres(url: &str, timeout: Duration) -> Result<DbConnection, r2d2::Error> {
    let destination = postgres_destination(url);
    let url = with_network_bounds(url, timeout);
    // libpq's connect_timeout, then what diesel sends once connected.
    let within = timeout.max(Duration::from_secs(2)) + timeout;
    let (established, socket) = watchdog::opening(&destination, within, || PgConnection::establish(&url));
    let mut conn = established.map_err(r2d2::Error::ConnectionError)?;
    match socket {
        Some(socket) => conn.set_instrumentation(watchdog::StatementWatch::new(socket, timeout)),
        None => {
            conn.set_instrumentation(OutageWatch);
            tracing::warn!(
                "could not tell this database connection's socket: a network that stops answering \
                 is bounded only by TCP's own timeouts on it"
            );
        }
    }
    let millis = timeout.as_millis().max(1);
    // Every statement Rollcall sends is prepared once and keyed by an indexed
    // organization, and its generic plan is the plan it needs. Left to choose,
    // Postgres plans statements with `LIMIT $n` again on every run (their
    // generic plan's estimate looks dearer), which cost a Members page more
    // than running its queries did (BENCHMARKS.md).
    // A transaction left open by a server that lost its way to the database
    // must not hold its locks for long either.
    conn.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan;
         SET statement_timeout = {millis};
         SET lock_timeout = {millis};
         SET idle_in_transaction_session_timeout = {}",
        millis * 2
    ))
    .map_err(r2d2::Error::QueryError)?;
    Ok(DbConnection::Postgres(conn))
}

/// Where a Postgres URL connects: its host's addresses and its port (or,
/// for a Unix socket, several hosts or a service file, the port alone).
fn postgres_destination(url: &str) -> watchdog::Destination {
    let Ok(parsed) = url::Url::parse(url) else {
        return watchdog::Destination {
            peers: Vec::new(),
            port: 5432,
        };
    };
    let parameter = |name: &str| {
        parsed
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let port = parameter("port")
        .and_then(|port| port.parse().ok())
        .or(parsed.port())
        .or_else(|| std::env::var("PGPORT").ok().and_then(|port| port.parse().ok()))
        .unwrap_or(5432);
    let host = parameter("host").or_else(|| parsed.host_str().map(str::to_owned));
    let peers = match host {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !host.contains(',') => {
            use std::net::ToSocketAddrs;
            (host.trim_matches(|c| c == '[' || c == ']'), port)
                .to_socket_addrs()
                .map(Iterator::collect)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    watchdog::Destination { peers, port }
}

/// The URL with libpq's bounds on the network, each unless the URL sets its
/// own: `connect_timeout` (whole seconds, at least 2, as libpq counts it),
/// `tcp_user_timeout` (sent data unacknowledged) and keepalives (an idle
/// connection whose peer has gone), so that a database that does not answer
/// fails the request instead of holding it.
fn with_network_bounds(url: &str, timeout: Duration) -> String {
    let seconds = timeout.as_secs().max(2);
    let bounds = [
        ("connect_timeout", seconds.to_string()),
        ("tcp_user_timeout", timeout.as_millis().max(1000).to_string()),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", seconds.to_string()),
        ("keepalives_interval", "1".to_owned()),
        ("keepalives_count", "3".to_owned()),
    ];
    let mut bounded = url.to_owned();
    for (key, value) in bounds {
        if bounded.contains(&format!("{key}=")) {
            continue;
        }
        bounded.push(if bounded.contains('?') { '&' } else { '?' });
        bounded.push_str(&format!("{key}={value}"));
    }
    bounded
}

/// How long the services' own tests wait for SQLite's lock.
#[cfg(test)]
const TEST_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A migrated database in memory, for the services' own tests.
#[cfg(test)]
pub(crate) fn in_memory() -> DbConnection {
    let mut conn = open_sqlite(":memory:", TEST_BUSY_TIMEOUT, "").expect("an in-memory database");
    migrate(&mut conn).expect("its tables");
    conn
}

thread_local! {
    /// This thread's read-only connection, and the SQLite file it is to.
    static READER: RefCell<Option<(String, DbConnection)>> = const { RefCell::new(None) };
}

/// What a read on the worker came to.
pub enum ReadHere<T, F> {
    Done(Result<T, Error>),
    /// Another process holds a lock that readers wait for (an exclusive
    /// locking mode, a recovery): `work` was not run, and is to be run where
    /// waiting holds up no one else.
    Locked(F),
}

/// Runs `work` on this thread's own read-only connection to the SQLite file
/// at `path`, opened on first use.
///
/// This is how the web workers read: a page's reads take less time than
/// handing them to another thread and back. In WAL mode a reader does not
/// wait for a lock, and the reads run in one transaction: one snapshot, and
/// the file's shared lock taken once rather than once per statement. The
/// connection refuses writes, so nothing can write outside [`write`]'s
/// queue, and it never waits: a worker that waited would hold up every
/// request it serves, those that need no database too.
pub fn read_here<T, F>(path: &str, work: F) -> ReadHere<T, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, Error>,
{
    READER.with(|reader| {
        let Ok(mut reader) = reader.try_borrow_mut() else {
            return ReadHere::Done(Err(Error::DatabaseUnavailable(
                "a read started inside another read".to_owned(),
            )));
        };
        if !matches!(&*reader, Some((open, _)) if open == path) {
            match open_sqlite(path, Duration::ZERO, "PRAGMA query_only = ON;") {
                Ok(conn) => *reader = Some((path.to_owned(), conn)),
                // Opening sets the journal mode, which waits for a lock too.
                Err(_) => return ReadHere::Locked(work),
            }
        }
        let Some((_, conn)) = reader.as_mut() else {
            return ReadHere::Done(Err(Error::DatabaseUnavailable("no connection".to_owned())));
        };
        let mut pending = Some(work);
        let result = conn.transaction(|conn| {
            // The snapshot is taken here: if this waits, nothing has run yet.
            conn.batch_execute("SELECT generation FROM write_lock")?;
            match pending.take() {
                Some(work) => work(conn),
                None => Err(Error::DatabaseUnavailable("the read ran already".to_owned())),
            }
        });
        // Not marked for pooled connections: this one is not pooled.
        UNAVAILABLE.set(false);
        if let Some(work) = pending {
            *reader = None;
            return ReadHere::Locked(work);
        }
        // Refusals (not found, not a member) leave the connection as it was;
        // after a database error, the next read starts on a fresh one.
        if matches!(result, Err(Error::Database(_) | Error::DatabaseUnavailable(_))) {
            *reader = None;
        }
        ReadHere::Done(result)
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
    if watchdog::past_deadline() {
        return Err(late_change());
    }
    let written = conn.transaction(|conn| {
        if let DbConnection::Sqlite(sqlite) = conn {
            sqlite.batch_execute("UPDATE write_lock SET generation = generation + 1")?;
        }
        let done = f(conn)?;
        // The request was answered 503 already: it must have changed nothing.
        if watchdog::past_deadline() {
            return Err(late_change());
        }
        Ok(done)
    });
    if written.is_ok() {
        COMMITTED.set(true);
    }
    written
}

/// A change whose request was answered 503 already (it waited past its
/// deadline): it must change nothing.
fn late_change() -> Error {
    Error::DatabaseUnavailable("the change took longer than its request may wait".to_owned())
}

thread_local! {
    /// Whether a [`write`] on this thread committed since [`take_committed`].
    static COMMITTED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a [`write`] on this thread committed since the last time this was
/// asked: what this server keeps of access (the token check's answers) is
/// then to be forgotten before the change is answered.
pub fn take_committed() -> bool {
    COMMITTED.replace(false)
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

    fn finished<T, F>(read: ReadHere<T, F>) -> Result<T, Error> {
        match read {
            ReadHere::Done(result) => result,
            ReadHere::Locked(_) => panic!("the reader found the database locked"),
        }
    }

    #[test]
    fn the_worker_reader_sees_writes_refuses_to_write_and_never_waits() {
        let path = std::env::temp_dir().join(format!("rollcall-reader-{}.db", std::process::id()));
        let path = path.to_string_lossy().into_owned();
        let mut writer = open_sqlite(
            &path,
            TEST_BUSY_TIMEOUT,
            "CREATE TABLE write_lock (generation INTEGER); CREATE TABLE notes (body TEXT NOT NULL);",
        )
        .expect("open");
        let count = |conn: &mut DbConnection| -> Result<i64, Error> {
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT COUNT(*) FROM notes)",
            ))
            .get_result(conn)?)
        };
        assert_eq!(finished(read_here(&path, count)).expect("read"), 0);
        writer
            .batch_execute("INSERT INTO notes VALUES ('one')")
            .expect("insert");
        assert_eq!(finished(read_here(&path, count)).expect("read"), 1);
        let refused = finished(read_here(&path, |conn| {
            Ok(conn.batch_execute("INSERT INTO notes VALUES ('two')")?)
        }));
        assert!(refused.is_err(), "the reader wrote");
        assert_eq!(
            finished(read_here(&path, count)).expect("read after a refusal"),
            1
        );

        drop(writer);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }

        // Another process that keeps a file to itself: the read is handed
        // back unrun, at once, instead of waiting on the worker.
        let path = format!("{path}-kept");
        let mut keeper = open_sqlite(
            &path,
            TEST_BUSY_TIMEOUT,
            "PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE write_lock (generation INTEGER);
             CREATE TABLE notes (body TEXT NOT NULL);
             INSERT INTO notes VALUES ('kept');",
        )
        .expect("keep a file");
        let started = std::time::Instant::now();
        assert!(matches!(read_here(&path, count), ReadHere::Locked(_)));
        assert!(
            started.elapsed() < TEST_BUSY_TIMEOUT,
            "the reader waited for the lock"
        );
        keeper.batch_execute("SELECT 1").expect("still open");
        drop(keeper);
        assert_eq!(finished(read_here(&path, count)).expect("read once let go"), 1);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
