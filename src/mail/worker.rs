//! The outbox worker: delivers queued emails, at least once, with retries and
//! backoff. Every server process runs one; claims keep them out of each
//! other's way. Once a minute it also forgets expired idempotent answers and
//! audit events older than the retention.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::web;

use super::messages::words_of;
use super::transport::Mailer;
use crate::db::DbPool;
use crate::error::Error;
use crate::services::outbox::{ClaimedEmail, SendFailure};
use crate::services::{Settings, audit, idempotency, members, organizations, outbox, submissions};

const BATCH: i64 = 50;
const IDLE: Duration = Duration::from_millis(500);
/// How long claimed emails stay this worker's.
const LEASE: Duration = Duration::from_secs(120);
/// Time kept in hand at the end of a lease for recording the last delivery.
const MARGIN: Duration = Duration::from_secs(10);
/// How often the worker also forgets what no longer needs keeping.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Audit events deleted per statement, and statements per round.
const AUDIT_PRUNE_BATCH: i64 = 500;
const AUDIT_PRUNE_BATCHES: usize = 200;

/// The running worker: stop it with [`OutboxWorker::stop`] before the
/// runtime ends (the SMTP connection pool must be dropped while it runs).
pub struct OutboxWorker {
    handle: actix_web::rt::task::JoinHandle<()>,
    stopping: Arc<AtomicBool>,
    pool: DbPool,
    /// Emails claimed and not yet sent nor released.
    in_hand: Arc<Mutex<Vec<String>>>,
}

/// How long a stopping worker may take to finish the email it is sending.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

impl OutboxWorker {
    /// Lets the email being sent finish, then releases what is left of the
    /// batch so that another server sends it at once; a send that will not
    /// finish is cut off and its email released too.
    pub async fn stop(self) {
        self.stopping.store(true, Ordering::Release);
        let mut handle = self.handle;
        let finished = actix_web::rt::time::timeout(FINISH_WITHIN, &mut handle)
            .await
            .is_ok();
        if !finished {
            handle.abort();
            let _ = handle.await;
        }
        let left: Vec<String> =
            std::mem::take(&mut *self.in_hand.lock().unwrap_or_else(PoisonError::into_inner));
        if !left.is_empty() {
            let count = left.len();
            match db(&self.pool, move |conn| outbox::release(conn, &left)).await {
                Ok(()) => tracing::info!(count, "released claimed emails for another server"),
                Err(error) => {
                    tracing::warn!(%error, count, "could not release claimed emails; their claim expires")
                }
            }
        }
    }
}

/// Starts the worker on the current actix runtime.
pub fn spawn(pool: DbPool, mailer: Mailer, audit_retention: Duration, settings: Settings) -> OutboxWorker {
    let mailer = Arc::new(mailer);
    let stopping = Arc::new(AtomicBool::new(false));
    let in_hand = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker {
        pool: pool.clone(),
        mailer,
        audit_retention,
        settings,
        stopping: Arc::clone(&stopping),
        in_hand: Arc::clone(&in_hand),
    };
    let handle = actix_web::rt::spawn(async move { worker.run().await });
    OutboxWorker {
        handle,
        stopping,
        pool,
        in_hand,
    }
}

struct Worker {
    pool: DbPool,
    mailer: Arc<Mailer>,
    audit_retention: Duration,
    settings: Settings,
    stopping: Arc<AtomicBool>,
    in_hand: Arc<Mutex<Vec<String>>>,
}

async fn db<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut crate::db::DbConnection) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let pool = pool.clone();
    web::block(move || work(&mut *pool.get()?))
        .await
        .map_err(|error| Error::DatabaseUnavailable(error.to_string()))?
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    async fn run(self) {
        let pool = &self.pool;
        // The first round at start, then one a minute.
        let mut pruned_at: Option<std::time::Instant> = None;
        while !self.stopping() {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                if let Err(error) = db(pool, idempotency::prune).await {
                    tracing::warn!(%error, "could not forget old idempotent answers");
                }
                if let Err(error) = db(pool, submissions::prune).await {
                    tracing::warn!(%error, "could not forget old one-time form values");
                }
                if let Err(error) = self.prune_audit_events().await {
                    tracing::warn!(%error, "could not delete audit events past their retention");
                }
                self.keep_memberships_and_organizations().await;
            }
            match self.deliver_due().await {
                Ok(0) => actix_web::rt::time::sleep(IDLE).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the outbox worker could not read the outbox");
                    actix_web::rt::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }

    /// Reminds members whose membership ends within a week (and the
    /// owners), removes those whose membership has ended (never an
    /// organization's last owner), and purges organizations deleted past
    /// their restore window. Each step is a few short transactions.
    async fn keep_memberships_and_organizations(&self) {
        let settings = self.settings.clone();
        match db(&self.pool, move |conn| members::expire_due(conn, &settings)).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed members whose membership ended"),
            Err(error) => tracing::warn!(%error, "could not end memberships"),
        }
        let settings = self.settings.clone();
        match db(&self.pool, move |conn| members::remind_ending(conn, &settings)).await {
            Ok(0) => {}
            Ok(reminded) => tracing::info!(reminded, "reminded members whose membership ends soon"),
            Err(error) => tracing::warn!(%error, "could not send membership reminders"),
        }
        match db(&self.pool, organizations::purge_due).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged organizations deleted past their restore window"),
            Err(error) => tracing::warn!(%error, "could not purge deleted organizations"),
        }
    }

    /// Deletes events older than the retention, a small batch per statement
    /// (each its own short transaction), at most [`AUDIT_PRUNE_BATCHES`] a
    /// round: a backlog goes over the next minutes, never in one long lock.
    async fn prune_audit_events(&self) -> Result<(), Error> {
        let kept = chrono::Duration::from_std(self.audit_retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = crate::services::now()
            .checked_sub_signed(kept)
            .unwrap_or(chrono::NaiveDateTime::MIN);
        let mut pruned = 0;
        for _ in 0..AUDIT_PRUNE_BATCHES {
            if self.stopping() {
                break;
            }
            let deleted = db(&self.pool, move |conn| {
                audit::prune(conn, cutoff, AUDIT_PRUNE_BATCH)
            })
            .await?;
            pruned += deleted;
            if deleted < AUDIT_PRUNE_BATCH as usize {
                break;
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "deleted audit events past their retention");
        }
        Ok(())
    }

    /// Sends what is due; returns how many emails were claimed. Each send is
    /// bounded ([`crate::mail::transport::SEND_TIMEOUT`]), and the batch stops
    /// while the lease still covers a whole send: past the lease another worker
    /// may claim the same emails and send them twice. What is left is released.
    async fn deliver_due(&self) -> Result<usize, Error> {
        let (pool, mailer) = (&self.pool, &self.mailer);
        let claimed_at = std::time::Instant::now();
        let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2));
        let claimed = db(pool, move |conn| outbox::claim_due(conn, BATCH, lease)).await?;
        *self.in_hand.lock().unwrap_or_else(PoisonError::into_inner) =
            claimed.iter().map(|email| email.id.clone()).collect();
        let count = claimed.len();
        let mut queue = claimed.into_iter();
        while let Some(email) = queue.next() {
            if self.stopping() || claimed_at.elapsed() + super::transport::SEND_TIMEOUT + MARGIN >= LEASE {
                let rest: Vec<String> = std::iter::once(email)
                    .chain(queue)
                    .map(|email| email.id)
                    .collect();
                db(pool, move |conn| outbox::release(conn, &rest)).await?;
                self.in_hand
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                break;
            }
            let id = email.id.clone();
            if let Err(reason) = email.content.read() {
                // Queued by a newer version during a rolling upgrade: left
                // for a server that can read it, once this lease runs out.
                tracing::warn!(to = %email.recipient, error = %reason, "email left for a newer server");
                continue;
            }
            match send(mailer, &email).await {
                Ok(subject) => db(pool, move |conn| outbox::mark_sent(conn, &email, &subject)).await?,
                Err(failure) => {
                    tracing::warn!(to = %email.recipient, attempt = email.attempts + 1, error = %failure.reason, permanent = failure.permanent, "email not delivered");
                    db(pool, move |conn| outbox::mark_failed(conn, &email, &failure)).await?
                }
            }
            self.in_hand
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|held| *held != id);
        }
        Ok(count)
    }
}

/// Puts a claimed email into words and sends it; returns the subject it went
/// with. Words that cannot be made (a template that fails) will not come by
/// trying again.
async fn send(mailer: &Mailer, email: &ClaimedEmail) -> Result<String, SendFailure> {
    let words = email
        .content
        .read()
        .and_then(|content| words_of(&content))
        .map_err(|reason| SendFailure {
            reason,
            permanent: true,
        })?;
    mailer.send(&email.recipient, &words).await?;
    Ok(words.subject)
}
