//! What every handler shares, and how a request's database work runs: off
//! the async workers, under one deadline.

use actix_web::web;

use super::fragments;
use crate::config::Config;
use crate::db::{self, DatabaseUrl, DbConnection, DbPool};
use crate::error::Error;
use crate::services::Settings;

/// Everything the handlers share.
pub struct AppState {
    pub pool: DbPool,
    pub database: DatabaseUrl,
    /// How long a request may wait for the database before it is answered 503.
    pub database_timeout: std::time::Duration,
    pub settings: Settings,
    pub dev_login: bool,
    pub providers: crate::auth::Providers,
    /// Rendered fragments of the Members page, kept while they are current.
    pub fragments: fragments::Fragments,
    /// What this server keeps of the token check's answers.
    pub tokens: std::sync::Arc<crate::services::tokens::LiveTokens>,
    /// Requests waiting for a database connection now.
    pub(super) waiting: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl AppState {
    /// Runs blocking database work off the async workers, answered within
    /// `ROLLCALL_DATABASE_TIMEOUT` (503 past it).
    pub async fn db<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    {
        self.db_within(self.database_timeout, work).await
    }

    /// Runs blocking database work off the async workers, and answers within
    /// `within` whatever the database does: the wait for a connection, every
    /// statement and the commit are bounded by the same deadline, and work
    /// that could not start before it never starts (see [`db::watchdog`]).
    /// A change that commits makes this server forget the token check's kept
    /// answers before it is answered.
    pub async fn db_within<T, F>(&self, within: std::time::Duration, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    {
        let deadline = std::time::Instant::now() + within;
        let late = move || {
            Error::DatabaseUnavailable(format!("no answer within {}", humantime::format_duration(within)))
        };
        let pool = self.pool.clone();
        let tokens = std::sync::Arc::clone(&self.tokens);
        let waiting = WaitingForDatabase::start(self);
        let job = web::block(move || {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(late());
            }
            db::watchdog::until(deadline, || {
                // Checking a connection out may ask the database (in the minute
                // after an outage): bounded by the same deadline.
                let conn = pool.get_timeout(left);
                drop(waiting);
                let mut conn = conn?;
                if std::time::Instant::now() >= deadline {
                    return Err(late());
                }
                // What other work on this thread committed is not this request's.
                db::take_committed();
                let done = work(&mut conn);
                if db::take_committed() {
                    tokens.forget_all();
                }
                done
            })
        });
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match actix_web::rt::time::timeout(left, job).await {
            Ok(joined) => joined.map_err(|error| Error::DatabaseUnavailable(error.to_string()))?,
            Err(_) => Err(late()),
        }
    }

    /// How many requests wait for a database connection now.
    pub fn waiting_for_database(&self) -> i64 {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs database work that only reads. On SQLite it runs right here on
    /// the worker, on the worker's own read-only connection, which never
    /// waits (see [`db::read_here`]); a locked file, and Postgres, which
    /// answers over a connection that can stall, go to the blocking threads
    /// like [`Self::db`], so that a worker never waits on the database.
    pub async fn read<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    {
        self.read_within(self.database_timeout, work).await
    }

    /// The kept or freshly read grant of a live token (the token check, the
    /// authorize call, the gateway's check), its use noted from `client_ip`.
    pub async fn live_token(
        &self,
        secret: crate::domain::ApiSecret,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<crate::services::tokens::Checked, Error> {
        self.tokens
            .live(secret, client_ip, async |lookup| {
                self.read(move |conn| lookup.run(conn)).await
            })
            .await
    }

    /// Whether `secret` is a live introspection client's (the gateway's).
    pub async fn is_client(&self, secret: crate::domain::ApiSecret) -> Result<bool, Error> {
        self.tokens
            .is_client(secret, async |lookup| {
                self.read(move |conn| lookup.run(conn)).await
            })
            .await
    }

    /// [`Self::read`], answered within `within`.
    pub async fn read_within<T, F>(&self, within: std::time::Duration, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    {
        let DatabaseUrl::Sqlite(path) = &self.database else {
            return self.db_within(within, work).await;
        };
        match db::read_here(path, work) {
            db::ReadHere::Done(result) => result,
            db::ReadHere::Locked(work) => self.db_within(within, work).await,
        }
    }
}

/// One request counted as waiting for a connection while it lives.
struct WaitingForDatabase(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl WaitingForDatabase {
    fn start(state: &AppState) -> Self {
        state.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(std::sync::Arc::clone(&state.waiting))
    }
}

impl Drop for WaitingForDatabase {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether the development sign-in is offered: as configured, or by default
/// only when no provider is configured and the server listens on loopback.
pub fn dev_login_enabled(config: &Config) -> bool {
    let providers = config.google_client_id.is_some() || config.github_client_id.is_some();
    config
        .dev_login
        .unwrap_or(!providers && config.bind.ip().is_loopback())
}
