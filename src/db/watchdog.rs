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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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

/// How long before its deadline a change stops being committed: a commit
/// under way when the request is answered 503 could still land.
const COMMIT_MARGIN: Duration = Duration::from_millis(100);

/// Whether the work on this thread is too near its deadline to commit: its
/// answer is going out (503), so it must change nothing.
pub fn past_deadline() -> bool {
    matches!(BOUND.get(), Bound::Until(deadline) if Instant::now() + COMMIT_MARGIN >= deadline)
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
    /// A duplicate of the connection's socket: shutting it down ends the
    /// connection's waits, and while it is held its number cannot be given
    /// to another file, even after libpq has closed its own.
    socket: OwnedFd,
    /// The connection's own statement timeout.
    timeout: Duration,
}

impl StatementWatch {
    pub fn new(socket: OwnedFd, timeout: Duration) -> Self {
        start_watching();
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
                socket: self.socket.as_raw_fd(),
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
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.finished();
                super::outage::note_if_unusable(error);
            }
            _ => {}
        }
    }
}

impl Drop for StatementWatch {
    fn drop(&mut self) {
        self.finished();
    }
}

fn start_watching() {
    WATCHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("rollcall-db-watchdog".to_owned())
            .spawn(watch);
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the database watchdog");
        }
    });
}

/// Cuts the connection of every statement past its bound, and the one being
/// opened if it takes too long, for as long as the process runs.
fn watch() {
    loop {
        std::thread::sleep(LOOK_EVERY);
        let now = Instant::now();
        cut_opening_if_late(now);
        let mut running = running();
        let Some(running) = running.as_mut() else {
            continue;
        };
        running.retain(|_, statement| {
            if statement.cut_at > now {
                return true;
            }
            // Under the lock: the statement's watch (which holds this
            // descriptor) has not been dropped, so it is still the socket's.
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

/// The connection being opened, while one is: what was open before, whom it
/// connects to, and when to cut it.
struct Opening {
    before: Vec<(RawFd, String)>,
    peers: Vec<std::net::SocketAddr>,
    port: u16,
    cut_at: Instant,
}

static OPENING_NOW: Mutex<Option<Opening>> = Mutex::new(None);

fn opening_now() -> MutexGuard<'static, Option<Opening>> {
    OPENING_NOW.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a connection goes: the database's addresses (empty when libpq is
/// to find them itself: several hosts, a service file) and its port.
pub struct Destination {
    pub peers: Vec<std::net::SocketAddr>,
    pub port: u16,
}

/// Runs `open`, which opens one connection to Postgres at `to`, and finds
/// the socket it opened (a duplicate of it, see [`StatementWatch`]). Opening
/// is bounded by `within`: past it, the watching thread cuts the new socket
/// (libpq's `connect_timeout` does not cover what diesel sends once
/// connected, and a lock held across a wait without end would stop every
/// later connection).
pub fn opening<T>(to: &Destination, within: Duration, open: impl FnOnce() -> T) -> (T, Option<OwnedFd>) {
    let _one_at_a_time = OPENING.lock().unwrap_or_else(PoisonError::into_inner);
    start_watching();
    let before = sockets();
    *opening_now() = Some(Opening {
        before: before.clone(),
        peers: to.peers.clone(),
        port: to.port,
        cut_at: Instant::now() + within + GRACE,
    });
    let opened = open();
    *opening_now() = None;
    let socket = new_database_sockets(&before, &to.peers, to.port)
        .into_iter()
        .next()
        // SAFETY: dup returns a new descriptor, owned by nobody else, or -1.
        .and_then(|fd| match unsafe { libc::dup(fd) } {
            -1 => None,
            copy => Some(unsafe { OwnedFd::from_raw_fd(copy) }),
        });
    (opened, socket)
}

fn cut_opening_if_late(now: Instant) {
    let mut opening = opening_now();
    let Some(late) = opening.as_ref().filter(|opening| opening.cut_at <= now) else {
        return;
    };
    for fd in new_database_sockets(&late.before, &late.peers, late.port) {
        // Under the lock: opening has not returned, so the socket is its own.
        // SAFETY: shutdown takes any descriptor and changes no memory.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
    tracing::warn!("a database connection did not finish opening in time; it was cut");
    *opening = None;
}

/// The sockets opened since `before` that are connected to the database.
fn new_database_sockets(before: &[(RawFd, String)], peers: &[std::net::SocketAddr], port: u16) -> Vec<RawFd> {
    sockets()
        .into_iter()
        .filter(|socket| !before.contains(socket))
        .map(|(fd, _)| fd)
        .filter(|&fd| is_database_socket(fd, peers, port))
        .collect()
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

/// Whether `fd` is a socket connected to Postgres: over TCP to one of
/// `peers` (or, when libpq finds the addresses itself, to `port`), or over
/// Postgres's Unix socket (`.s.PGSQL.PORT`).
fn is_database_socket(fd: RawFd, peers: &[std::net::SocketAddr], port: u16) -> bool {
    // SAFETY: getpeername writes at most `length` bytes into `address`,
    // which is a zeroed sockaddr_storage on this stack frame.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let found = unsafe { libc::getpeername(fd, (&raw mut address).cast(), &mut length) };
    if found != 0 {
        return false;
    }
    let peer = match i32::from(address.ss_family) {
        libc::AF_UNIX => {
            // SAFETY: the family says the storage holds a sockaddr_un.
            let unix = unsafe { &*(&raw const address).cast::<libc::sockaddr_un>() };
            let path: Vec<u8> = unix
                .sun_path
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            return path.ends_with(format!(".s.PGSQL.{port}").as_bytes());
        }
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in>() };
            std::net::SocketAddr::from((
                std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in6>() };
            std::net::SocketAddr::from((
                std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
            ))
        }
        _ => return false,
    };
    if peers.is_empty() {
        peer.port() == port
    } else {
        peers.contains(&peer)
    }
}
