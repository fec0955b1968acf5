//! The pool of connections, and how each is opened and set up so that no
//! wait on the database is unbounded.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};

use super::connection::{DatabaseUrl, DbConnection};
#[cfg(test)]
use super::migrations::migrate;
use super::outage::{self, OutageWatch};
use super::watchdog;
use crate::error::Error;

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

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
        let checked = conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError);
        // The pool drops a connection that fails this itself: the mark its
        // statement left must not fall on the next, healthy one returned.
        outage::take_unavailable();
        checked
    }

    /// A connection the server closed (a restart, a failover) is dropped
    /// rather than handed out again: the statement that found it out was on
    /// this thread, with this connection.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        if outage::take_unavailable() {
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
pub(crate) fn open_sqlite(path: &str, busy: Duration, extra: &str) -> Result<DbConnection, r2d2::Error> {
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
pub(crate) const TEST_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A migrated database in memory, for the services' own tests.
#[cfg(test)]
pub(crate) fn in_memory() -> DbConnection {
    let mut conn = open_sqlite(":memory:", TEST_BUSY_TIMEOUT, "").expect("an in-memory database");
    migrate(&mut conn).expect("its tables");
    conn
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
