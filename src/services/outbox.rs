//! The email outbox: every email is a row written in the transaction of the
//! change that causes it, so an invitation and its email exist together or not
//! at all. A row holds whom to write to and what to tell them (a
//! [`Message`], as JSON); the mail layer's worker puts it into words and
//! delivers it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::email_outbox;
use crate::db::{DbConnection, literal};
use crate::domain::{EmailAddress, Message};
use crate::error::Error;
use crate::services::shared::{new_id, now};

#[derive(Insertable)]
#[diesel(table_name = email_outbox, treat_none_as_null = true)]
struct NewOutboxRow<'a> {
    id: String,
    invitation_id: Option<&'a str>,
    recipient: &'a str,
    message: String,
    state: &'static str,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
}

/// A message to queue, to whom, and the invitation whose delivery state it drives.
pub(crate) struct Queued<'a> {
    pub to: &'a EmailAddress,
    pub message: &'a Message,
    pub invitation_id: Option<&'a str>,
}

pub(crate) fn enqueue_all<'a>(
    conn: &mut DbConnection,
    emails: impl IntoIterator<Item = Queued<'a>>,
) -> Result<(), Error> {
    let at = now();
    let rows = emails
        .into_iter()
        .map(|queued| {
            let message = serde_json::to_string(queued.message).map_err(|error| {
                Error::Database(diesel::result::Error::SerializationError(Box::new(error)))
            })?;
            Ok(NewOutboxRow {
                id: new_id(),
                invitation_id: queued.invitation_id,
                recipient: queued.to.as_str(),
                message,
                state: literal::Queued::TEXT,
                attempts: 0,
                next_attempt_at: at,
                created_at: at,
            })
        })
        .collect::<Result<Vec<NewOutboxRow>, Error>>()?;
    for chunk in rows.chunks(crate::services::shared::INSERT_CHUNK) {
        crate::db::insert_all!(conn, email_outbox::table, chunk)?;
    }
    Ok(())
}

/// Cancels the queued emails of an invitation whose link just stopped working
/// (resent or revoked): a stale link must not go out after the fact.
pub(crate) fn cancel_for_invitation(conn: &mut DbConnection, invitation_id: &str) -> Result<(), Error> {
    diesel::update(
        email_outbox::table
            .filter(email_outbox::invitation_id.eq(invitation_id))
            .filter(email_outbox::state.eq(literal::Queued)),
    )
    .set(email_outbox::state.eq("cancelled"))
    .execute(conn)?;
    Ok(())
}

/// What a row holds to send, as stored: a message, or the words of an email
/// queued before messages were (which then has no message).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct StoredContent {
    message: Option<String>,
    subject: Option<String>,
    body_text: Option<String>,
    body_html: Option<String>,
}

/// What to send, read from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Facts for the mail layer to put into words.
    Message(Message),
    /// An email queued in words, before messages were stored; also what is
    /// left of any email once sent: its subject, the bodies erased.
    Written {
        subject: String,
        text: String,
        html: String,
    },
}

impl StoredContent {
    /// The message, or the words stored; the error says why the stored
    /// message cannot be read (a later version's, say).
    pub fn read(&self) -> Result<Content, String> {
        match &self.message {
            Some(json) => serde_json::from_str(json)
                .map(Content::Message)
                .map_err(|error| format!("the queued message cannot be read: {error}")),
            None => Ok(Content::Written {
                subject: self.subject.clone().unwrap_or_default(),
                text: self.body_text.clone().unwrap_or_default(),
                html: self.body_html.clone().unwrap_or_default(),
            }),
        }
    }
}

/// An email in the outbox, queued, sent, given up or cancelled.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxEmail {
    pub id: String,
    pub invitation_id: Option<String>,
    pub recipient: String,
    #[diesel(embed)]
    pub content: StoredContent,
    pub state: String,
    pub attempts: i32,
}

/// Every email in the outbox, oldest first.
pub fn all(conn: &mut DbConnection) -> Result<Vec<OutboxEmail>, Error> {
    Ok(email_outbox::table
        .order((email_outbox::created_at, email_outbox::id))
        .select(OutboxEmail::as_select())
        .load(conn)?)
}

/// An email claimed for delivery by one worker.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct ClaimedEmail {
    pub id: String,
    pub invitation_id: Option<String>,
    pub recipient: String,
    #[diesel(embed)]
    pub content: StoredContent,
    pub attempts: i32,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    pub created_at: chrono::NaiveDateTime,
}

/// Claims up to `limit` due emails for `lease`: other workers (in this
/// process or another) skip them until it runs out, so a worker that dies
/// mid-send only delays an email, and delivery stays at least once.
pub fn claim_due(
    conn: &mut DbConnection,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<ClaimedEmail>, Error> {
    crate::db::write(conn, |conn| {
        let at = now();
        let due = || {
            email_outbox::table
                .filter(email_outbox::state.eq(literal::Queued))
                .filter(email_outbox::next_attempt_at.le(at))
                .order(email_outbox::next_attempt_at)
                .limit(limit)
        };
        let claimed: Vec<ClaimedEmail> = match conn {
            // Rows another server is claiming right now are skipped, not waited for.
            DbConnection::Postgres(pg) => due()
                .for_update()
                .skip_locked()
                .select(ClaimedEmail::as_select())
                .load(pg)?,
            // SQLite has one writer at a time: the write lock is the claim.
            DbConnection::Sqlite(sqlite) => due().select(ClaimedEmail::as_select()).load(sqlite)?,
        };
        if claimed.is_empty() {
            return Ok(claimed);
        }
        let ids: Vec<&str> = claimed.iter().map(|email| email.id.as_str()).collect();
        diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(&ids)))
            .set(email_outbox::next_attempt_at.eq(at + lease))
            .execute(conn)?;
        Ok(claimed)
    })
}

/// Records a delivery and the subject it went with. The message and the
/// bodies, which carry the invitation link, are erased: once sent, the
/// database no longer holds the secret; the subject shows what was sent.
pub fn mark_sent(conn: &mut DbConnection, email: &ClaimedEmail, subject: &str) -> Result<(), Error> {
    crate::db::write(conn, |conn| {
        lock_invitation_of(conn, email)?;
        let updated = diesel::update(
            email_outbox::table
                .filter(email_outbox::id.eq(&email.id))
                .filter(email_outbox::state.eq(literal::Queued)),
        )
        .set((
            email_outbox::state.eq("sent"),
            email_outbox::sent_at.eq(now()),
            email_outbox::attempts.eq(email.attempts + 1),
            email_outbox::subject.eq(subject),
            email_outbox::message.eq(None::<String>),
            email_outbox::body_text.eq(""),
            email_outbox::body_html.eq(""),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
        if updated == 1 {
            set_delivery(conn, email, "sent")?;
        }
        Ok(())
    })
}

/// Attempts after which an invitation shows "delivery failed" (it is still retried).
const FAILED_AFTER: i32 = 5;

/// How long an email is retried before it is given up for good: long enough
/// for a mail server to come back after a weekend.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);

/// Why an attempt to send an email did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub reason: String,
    /// The mail server refused the message itself (an unknown mailbox, a
    /// malformed address): sending it again cannot work.
    pub permanent: bool,
}

/// The wait before the next attempt after `attempts` failed ones: 2 s, 4 s,
/// 8 s … up to 10 minutes.
fn retry_delay(attempts: i32) -> chrono::Duration {
    chrono::Duration::seconds((2_i64 << (attempts - 1).clamp(0, 9)).min(600))
}

/// Records a failed attempt and when to try again, or that the email is given
/// up: a permanent refusal, or still failing after [`GIVE_UP_AFTER`].
pub fn mark_failed(
    conn: &mut DbConnection,
    email: &ClaimedEmail,
    failure: &SendFailure,
) -> Result<(), Error> {
    crate::db::write(conn, |conn| {
        lock_invitation_of(conn, email)?;
        let attempts = email.attempts + 1;
        let at = now();
        let give_up = failure.permanent || at - email.created_at >= GIVE_UP_AFTER;
        let state = if give_up { "failed" } else { literal::Queued::TEXT };
        let updated = diesel::update(
            email_outbox::table
                .filter(email_outbox::id.eq(&email.id))
                .filter(email_outbox::state.eq(literal::Queued)),
        )
        .set((
            email_outbox::state.eq(state),
            email_outbox::attempts.eq(attempts),
            email_outbox::next_attempt_at.eq(at + retry_delay(attempts)),
            email_outbox::last_error.eq(failure.reason.chars().take(500).collect::<String>()),
        ))
        .execute(conn)?;
        if updated == 1 {
            let delivery = if give_up || attempts >= FAILED_AFTER {
                "failed"
            } else {
                "retrying"
            };
            set_delivery(conn, email, delivery)?;
        }
        Ok(())
    })
}

/// Hands claimed emails back, due now: a worker that stops before sending
/// them (its lease running short, or the server shutting down) lets any
/// worker send them at once rather than after the lease.
pub fn release(conn: &mut DbConnection, ids: &[String]) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    crate::db::write(conn, |conn| {
        diesel::update(
            email_outbox::table
                .filter(email_outbox::id.eq_any(ids))
                .filter(email_outbox::state.eq(literal::Queued)),
        )
        .set(email_outbox::next_attempt_at.eq(now()))
        .execute(conn)?;
        Ok(())
    })
}

/// Every change that touches an invitation and its emails locks the
/// invitation first (resend and revoke do, see `invitations`), then the email
/// rows: taken the other way round, two such changes wait for each other.
fn lock_invitation_of(conn: &mut DbConnection, email: &ClaimedEmail) -> Result<(), Error> {
    match &email.invitation_id {
        Some(invitation_id) => crate::db::lock_invitation(conn, invitation_id),
        None => Ok(()),
    }
}

fn set_delivery(conn: &mut DbConnection, email: &ClaimedEmail, state: &'static str) -> Result<(), Error> {
    use crate::db::schema::invitations;
    if let Some(invitation_id) = &email.invitation_id {
        diesel::update(
            invitations::table
                .filter(invitations::id.eq(invitation_id))
                .filter(invitations::state.eq(literal::Pending)),
        )
        .set(invitations::delivery.eq(state))
        .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_wait_two_seconds_first_then_twice_as_long_up_to_ten_minutes() {
        let waits: Vec<i64> = (1..=12).map(|n| retry_delay(n).num_seconds()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]);
    }
}

/// The outbox as the metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Waiting for a first attempt.
    pub queued: i64,
    /// Waiting for another attempt after a failed one.
    pub retrying: i64,
    /// Given up.
    pub failed: i64,
    /// How long the oldest email still waiting has waited.
    pub oldest_waiting_seconds: i64,
}

pub fn stats(conn: &mut DbConnection) -> Result<OutboxStats, Error> {
    let waiting = || email_outbox::table.filter(email_outbox::state.eq(literal::Queued));
    let queued: i64 = waiting()
        .filter(email_outbox::attempts.eq(0))
        .count()
        .get_result(conn)?;
    let retrying: i64 = waiting()
        .filter(email_outbox::attempts.gt(0))
        .count()
        .get_result(conn)?;
    let oldest: Option<NaiveDateTime> = waiting()
        .select(diesel::dsl::min(email_outbox::created_at))
        .get_result(conn)?;
    let failed: i64 = email_outbox::table
        .filter(email_outbox::state.eq("failed"))
        .count()
        .get_result(conn)?;
    Ok(OutboxStats {
        queued,
        retrying,
        failed,
        oldest_waiting_seconds: oldest.map_or(0, |at| (now() - at).num_seconds().max(0)),
    })
}
