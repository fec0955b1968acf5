//! A bound on every wait for Postgres that holds even when Postgres cannot
//! say so itself.
//!
//! Postgres ends a statement that runs or waits for a lock too long
//! (`statement_timeout`, `lock_timeout`, set on every connection), but only
//! if its answer can reach us: on a network path that swallows packets
//! without closing the connection, libpq waits for an answer forever, and
//! the thread waiting with it. So each connection remembers its socket, each
//! statement notes when it must have finished, and one thread shuts down the
//! socket of any statement past that: libpq's wait ends at once with "server
//! closed the connection", the request is answered 503, and the pool drops
//! the connection.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// How long past its bound a statement may go on before its connection is
/// cut: Postgres's own timeout, or the request's answer, comes first.
const GRACE: Duration = Duration::from_millis(500);

/// How often the watching thread looks.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// The bound the work on this thread has, if any.
#[derive(Clone, Copy)]
enum Bound {
    /// Each statement may take the connection's own timeout.
    PerStatement,
    /// Everything must be done by then (a request's answer is due).
    Until(Instant),
    /// No bound: migrations, which may rightly take long.
    None,
}

thread_local! {
    static BOUND: Cell<Bound> = const { Cell::new(Bound::PerStatement) };
}

/// Runs `work` with everything it asks of the database due by `deadline`:
/// a statement still running then is cut, and a transaction that would
/// commit after it is undone instead (see [`past_deadline`]).
pub fn until<T>(deadline: Instant, work: impl FnOnce() -> T) -> T {
    with_bound(Bound::Until(deadline), work)
}

/// Runs `work` with no bound on its statements.
pub fn unbounded<T>(work: impl FnOnce() -> T) -> T {
    with_bound(Bound::None, work)
}

fn with_bound<T>(bound: Bound, work: impl FnOnce() -> T) -> T {
    struct Restore(Bound);
    impl Drop for Restore {
        fn drop(&mut self) {
            BOUND.set(self.0);
        }
    }
    let _restore = Restore(BOUND.replace(bound));
    work()
}

/// Whether the work on this thread is past its deadline: its answer has gone
/// out already (503), so it must change nothing.
pub fn past_deadline() -> bool {
    matches!(BOUND.get(), Bound::Until(deadline) if Instant::now() >= deadline)
}

/// A statement running now, and when its connection is to be cut.
struct Running {
    socket: RawFd,
    cut_at: Instant,
}

static RUNNING: Mutex<Option<HashMap<u64, Running>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static WATCHER: Once = Once::new();

fn running() -> MutexGuard<'static, Option<HashMap<u64, Running>>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Watches one connection's statements (diesel's instrumentation).
pub struct StatementWatch {
    id: u64,
    socket: RawFd,
    /// The connection's own statement timeout.
    timeout: Duration,
}

impl StatementWatch {
    pub fn new(socket: RawFd, timeout: Duration) -> Self {
        WATCHER.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("rollcall-db-watchdog".to_owned())
                .spawn(watch);
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start the database watchdog");
            }
        });
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            socket,
            timeout,
        }
    }

    fn started(&self) {
        let own = Instant::now() + self.timeout;
        let due = match BOUND.get() {
            Bound::PerStatement => own,
            Bound::Until(deadline) => deadline.min(own),
            Bound::None => return,
        };
        running().get_or_insert_with(HashMap::new).insert(
            self.id,
            Running {
                socket: self.socket,
                cut_at: due + GRACE,
            },
        );
    }

    fn finished(&self) {
        if let Some(running) = running().as_mut() {
            running.remove(&self.id);
        }
    }
}

impl Instrumentation for StatementWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started(),
            InstrumentationEvent::FinishQuery { .. } => self.finished(),
            _ => {}
        }
    }
}

impl Drop for StatementWatch {
    fn drop(&mut self) {
        self.finished();
    }
}

/// Cuts the connection of every statement past its bound, for as long as
/// the process runs.
fn watch() {
    loop {
        std::thread::sleep(LOOK_EVERY);
        let now = Instant::now();
        let mut running = running();
        let Some(running) = running.as_mut() else {
            continue;
        };
        running.retain(|_, statement| {
            if statement.cut_at > now {
                return true;
            }
            // Under the lock: the statement has not finished, so its
            // connection (and so its socket) is still open and still its own.
            // SAFETY: shutdown takes any descriptor and changes no memory.
            unsafe { libc::shutdown(statement.socket, libc::SHUT_RDWR) };
            tracing::warn!("a database statement got no answer in time; its connection was cut");
            false
        });
    }
}

/// Serializes opening connections, so that the socket a connection opened
/// can be told from the others.
static OPENING: Mutex<()> = Mutex::new(());

/// Runs `open`, which opens one connection to Postgres at `port` (or over a
/// Unix socket), and finds the socket it opened.
pub fn opening<T>(port: u16, open: impl FnOnce() -> T) -> (T, Option<RawFd>) {
    let _one_at_a_time = OPENING.lock().unwrap_or_else(PoisonError::into_inner);
    let before = sockets();
    let opened = open();
    let socket = sockets()
        .into_iter()
        .filter(|socket| !before.contains(socket))
        .map(|(fd, _)| fd)
        .find(|&fd| is_database_socket(fd, port));
    (opened, socket)
}

/// This process's open sockets: descriptor and inode (a descriptor's number
/// may be closed and given to another socket meanwhile; the inode tells).
fn sockets() -> Vec<(RawFd, String)> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse::<RawFd>().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            let target = target.to_str()?;
            target.starts_with("socket:").then(|| (fd, target.to_owned()))
        })
        .collect()
}

/// Whether `fd` is a connected socket to Postgres: TCP to `port`, or Unix.
fn is_database_socket(fd: RawFd, port: u16) -> bool {
    // SAFETY: getpeername writes at most `length` bytes into `address`,
    // which is a zeroed sockaddr_storage on this stack frame.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let found = unsafe { libc::getpeername(fd, (&raw mut address).cast(), &mut length) };
    if found != 0 {
        return false;
    }
    match i32::from(address.ss_family) {
        libc::AF_UNIX => true,
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in>() };
            u16::from_be(v4.sin_port) == port
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in6>() };
            u16::from_be(v6.sin6_port) == port
        }
        _ => false,
    }
}
