//! The email outbox: every email is a row written in the transaction of the
//! change that causes it, so an invitation and its email exist together or not
//! at all. A worker delivers the rows (see `crate::mail`).

use diesel::prelude::*;

use super::{new_id, now};
use crate::db::DbConnection;
use crate::db::schema::email_outbox;
use crate::error::Error;
use crate::mail::OutgoingEmail;

#[derive(Insertable)]
#[diesel(table_name = email_outbox, treat_none_as_null = true)]
struct NewOutboxRow<'a> {
    id: String,
    invitation_id: Option<&'a str>,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
    body_html: &'a str,
    state: &'static str,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
}

/// An email to queue, and the invitation whose delivery state it drives.
pub(crate) struct Queued<'a> {
    pub email: &'a OutgoingEmail,
    pub invitation_id: Option<&'a str>,
}

pub(crate) fn enqueue_all<'a>(
    conn: &mut DbConnection,
    emails: impl IntoIterator<Item = Queued<'a>>,
) -> Result<(), Error> {
    let at = now();
    let rows: Vec<NewOutboxRow> = emails
        .into_iter()
        .map(|queued| NewOutboxRow {
            id: new_id(),
            invitation_id: queued.invitation_id,
            recipient: queued.email.to.as_str(),
            subject: &queued.email.subject,
            body_text: &queued.email.text,
            body_html: &queued.email.html,
            state: "queued",
            attempts: 0,
            next_attempt_at: at,
            created_at: at,
        })
        .collect();
    for chunk in rows.chunks(super::INSERT_CHUNK) {
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
            .filter(email_outbox::state.eq("queued")),
    )
    .set(email_outbox::state.eq("cancelled"))
    .execute(conn)?;
    Ok(())
}

/// A queued or sent email, as tests and the operator see it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxEmail {
    pub id: String,
    pub invitation_id: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
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
