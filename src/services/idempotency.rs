//! Requests that are safe to retry: a change sent with an `Idempotency-Key`
//! is done once, and every retry with the same key (on any server, for a
//! day) gets the first answer back.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotent_requests;
use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::services::shared::now;

/// How long an answer is kept for retries.
pub const KEPT_FOR: Duration = Duration::hours(24);

/// A client's key for one request: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let fits = (1..=255).contains(&input.len()) && input.bytes().all(|byte| byte.is_ascii_graphic());
        if fits {
            Ok(Self(input.to_owned()))
        } else {
            Err(Error::Invalid(
                "An Idempotency-Key is 1 to 255 visible ASCII characters (a UUID, for example).".to_owned(),
            ))
        }
    }
}

/// One keyed request: whose it is (the credential that sent it), its key,
/// and a digest of what it asked, so a key reused for another request is
/// refused rather than answered with the wrong answer.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub credential_id: String,
    pub key: IdempotencyKey,
    request_hash: String,
}

impl KeyedRequest {
    /// A request to do `operation` (its name, such as `invitations.create`)
    /// to the organization `org_id` with `body`. What the request means,
    /// not where it was sent: a retry that followed a rename's redirect to
    /// the organization's new address is still the same request.
    pub fn new(credential_id: &str, key: IdempotencyKey, operation: &str, org_id: &str, body: &[u8]) -> Self {
        let mut digest = Sha256::new();
        for part in [operation.as_bytes(), org_id.as_bytes(), body] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        let request_hash = digest
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            credential_id: credential_id.to_owned(),
            key,
            request_hash,
        }
    }
}

/// An answer as it was first given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Whether an answer came from doing the work or from an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Now(Answer),
    Before(Answer),
}

/// Does `work` once per keyed request: a retry gets the first answer and
/// `work` does not run again. The key is claimed first in the transaction
/// of the work, so that a racing retry waits for it and then finds it; work
/// that fails leaves no claim, and may be retried with the same key.
pub fn once(
    conn: &mut DbConnection,
    request: Option<&KeyedRequest>,
    work: impl FnOnce(&mut DbConnection) -> Result<Answer, Error>,
) -> Result<Answered, Error> {
    let Some(request) = request else {
        return work(conn).map(Answered::Now);
    };
    if let Some(answer) = recorded(conn, request)? {
        return Ok(Answered::Before(answer));
    }
    let done = db::write(conn, |conn| {
        claim(conn, request)?;
        let answer = work(conn)?;
        diesel::update(idempotent_requests::table.find((&request.credential_id, &request.key.0)))
            .set((
                idempotent_requests::status.eq(i32::from(answer.status)),
                idempotent_requests::body.eq(&answer.body),
            ))
            .execute(conn)?;
        Ok(answer)
    });
    match done {
        Err(Error::Conflict(reason)) => match recorded(conn, request)? {
            Some(answer) => Ok(Answered::Before(answer)),
            None => Err(Error::Conflict(reason)),
        },
        done => done.map(Answered::Now),
    }
}

fn claim(conn: &mut DbConnection, request: &KeyedRequest) -> Result<(), Error> {
    // An answer past keeping is forgotten here, not only when pruned.
    diesel::delete(
        idempotent_requests::table
            .find((&request.credential_id, &request.key.0))
            .filter(idempotent_requests::created_at.le(now() - KEPT_FOR)),
    )
    .execute(conn)?;
    diesel::insert_into(idempotent_requests::table)
        .values((
            idempotent_requests::credential_id.eq(&request.credential_id),
            idempotent_requests::idempotency_key.eq(&request.key.0),
            idempotent_requests::request_hash.eq(&request.request_hash),
            idempotent_requests::status.eq(0),
            idempotent_requests::body.eq(""),
            idempotent_requests::created_at.eq(now()),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                Error::Conflict("A request with this Idempotency-Key was answered a moment ago.".to_owned())
            } else {
                error.into()
            }
        })?;
    Ok(())
}

/// The kept answer to this key, if it is still kept.
fn recorded(conn: &mut DbConnection, request: &KeyedRequest) -> Result<Option<Answer>, Error> {
    let found: Option<(String, i32, String, NaiveDateTime)> = idempotent_requests::table
        .find((&request.credential_id, &request.key.0))
        .select((
            idempotent_requests::request_hash,
            idempotent_requests::status,
            idempotent_requests::body,
            idempotent_requests::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((hash, status, body, created_at)) = found else {
        return Ok(None);
    };
    if created_at <= now() - KEPT_FOR {
        return Ok(None);
    }
    if hash != request.request_hash {
        return Err(Error::Invalid(
            "This Idempotency-Key was already used for a different request. Use a new key for each new request."
                .to_owned(),
        ));
    }
    Ok(Some(Answer {
        status: u16::try_from(status).unwrap_or(500),
        body,
    }))
}

/// Forgets answers older than [`KEPT_FOR`], a batch at a time; returns how
/// many went.
pub fn prune(conn: &mut DbConnection) -> Result<usize, Error> {
    let cutoff = now() - KEPT_FOR;
    let old: Vec<(String, String)> = idempotent_requests::table
        .filter(idempotent_requests::created_at.lt(cutoff))
        .select((
            idempotent_requests::credential_id,
            idempotent_requests::idempotency_key,
        ))
        .limit(500)
        .load(conn)?;
    let mut pruned = 0;
    for (credential_id, key) in old {
        pruned += diesel::delete(idempotent_requests::table.find((credential_id, key))).execute(conn)?;
    }
    Ok(pruned)
}
