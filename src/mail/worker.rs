//! The outbox worker: delivers queued emails, at least once, with retries and
//! backoff. Every server process runs one; claims keep them out of each
//! other's way.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::transport::Mailer;
use crate::db::DbPool;
use crate::error::Error;
use crate::services::outbox;

const BATCH: i64 = 50;
const IDLE: Duration = Duration::from_millis(500);

/// Starts the worker on the current actix runtime.
pub fn spawn(pool: DbPool, mailer: Mailer) {
    let mailer = Arc::new(mailer);
    actix_web::rt::spawn(async move {
        loop {
            match deliver_due(&pool, &mailer).await {
                Ok(0) => actix_web::rt::time::sleep(IDLE).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the outbox worker could not read the outbox");
                    actix_web::rt::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    });
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

/// Sends what is due; returns how many emails were attempted.
async fn deliver_due(pool: &DbPool, mailer: &Mailer) -> Result<usize, Error> {
    let claimed = db(pool, |conn| {
        outbox::claim_due(conn, BATCH, chrono::Duration::minutes(2))
    })
    .await?;
    let count = claimed.len();
    for email in claimed {
        match mailer.send(&email).await {
            Ok(()) => db(pool, move |conn| outbox::mark_sent(conn, &email)).await?,
            Err(error) => {
                tracing::warn!(to = %email.recipient, attempt = email.attempts + 1, %error, "email not delivered; will retry");
                db(pool, move |conn| outbox::mark_failed(conn, &email, &error)).await?
            }
        }
    }
    Ok(count)
}
