//! The outbox worker: delivers queued emails, at least once, with retries and
//! backoff. Every server process runs one; claims keep them out of each
//! other's way. Once a minute it also forgets expired idempotent answers.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::transport::Mailer;
use crate::db::DbPool;
use crate::error::Error;
use crate::services::{idempotency, outbox};

const BATCH: i64 = 50;
const IDLE: Duration = Duration::from_millis(500);
/// How long claimed emails stay this worker's.
const LEASE: Duration = Duration::from_secs(120);
/// Time kept in hand at the end of a lease for recording the last delivery.
const MARGIN: Duration = Duration::from_secs(10);
/// How often the worker also forgets what no longer needs keeping.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts the worker on the current actix runtime. Stop it with the handle
/// (abort, then await) before the runtime ends: the SMTP connection pool
/// must be dropped while the runtime still runs.
pub fn spawn(pool: DbPool, mailer: Mailer) -> actix_web::rt::task::JoinHandle<()> {
    let mailer = Arc::new(mailer);
    actix_web::rt::spawn(async move {
        let mut pruned_at = std::time::Instant::now();
        loop {
            if pruned_at.elapsed() >= PRUNE_EVERY {
                pruned_at = std::time::Instant::now();
                if let Err(error) = db(&pool, idempotency::prune).await {
                    tracing::warn!(%error, "could not forget old idempotent answers");
                }
            }
            match deliver_due(&pool, &mailer).await {
                Ok(0) => actix_web::rt::time::sleep(IDLE).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the outbox worker could not read the outbox");
                    actix_web::rt::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    })
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

/// Sends what is due; returns how many emails were claimed. Each send is
/// bounded ([`crate::mail::transport::SEND_TIMEOUT`]), and the batch stops
/// while the lease still covers a whole send: past the lease another worker
/// may claim the same emails and send them twice. What is left is released.
async fn deliver_due(pool: &DbPool, mailer: &Mailer) -> Result<usize, Error> {
    let claimed_at = std::time::Instant::now();
    let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2));
    let claimed = db(pool, move |conn| outbox::claim_due(conn, BATCH, lease)).await?;
    let count = claimed.len();
    let mut queue = claimed.into_iter();
    while let Some(email) = queue.next() {
        if claimed_at.elapsed() + super::transport::SEND_TIMEOUT + MARGIN >= LEASE {
            let rest: Vec<String> = std::iter::once(email)
                .chain(queue)
                .map(|email| email.id)
                .collect();
            db(pool, move |conn| outbox::release(conn, &rest)).await?;
            break;
        }
        match mailer.send(&email).await {
            Ok(()) => db(pool, move |conn| outbox::mark_sent(conn, &email)).await?,
            Err(failure) => {
                tracing::warn!(to = %email.recipient, attempt = email.attempts + 1, error = %failure.reason, permanent = failure.permanent, "email not delivered");
                db(pool, move |conn| outbox::mark_failed(conn, &email, &failure)).await?
            }
        }
    }
    Ok(count)
}
