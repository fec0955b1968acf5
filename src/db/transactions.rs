//! Reads on the worker's own SQLite connection, write transactions (one
//! SQLite writer at a time, none committed past its request's deadline),
//! row locks and multi-row inserts.

use std::cell::{Cell, RefCell};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::connection::DbConnection;
use super::outage::{self};
use super::pool::open_sqlite;
use super::schema;
use super::watchdog;
use crate::error::Error;

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
        outage::take_unavailable();
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

/// [`lock_organization`] for the organization named `slug`, taken before
/// anything of it is read, so that everything is read under the lock. No
/// organization by that name, nothing is locked (what reads it says so).
pub fn lock_organization_named(conn: &mut DbConnection, slug: &str) -> Result<(), Error> {
    if let DbConnection::Postgres(pg) = conn {
        schema::organizations::table
            .filter(schema::organizations::slug.eq(slug))
            .select(schema::organizations::id)
            .for_no_key_update()
            .load::<String>(pg)?;
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
    use crate::db::pool::TEST_BUSY_TIMEOUT;

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
