//! The outbox as people read it: each email in the words it is, or was, sent with.

use super::messages::words_of;
use crate::db::DbConnection;
use crate::error::Error;
use crate::services::outbox;

/// An email in the outbox, queued, sent, given up or cancelled. A sent
/// email's bodies are empty: they were erased once it went.
#[derive(Debug, Clone)]
pub struct QueuedEmail {
    pub id: String,
    pub invitation_id: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub state: String,
    pub attempts: i32,
}

/// Every email in the outbox, oldest first, in words.
pub fn queued(conn: &mut DbConnection) -> Result<Vec<QueuedEmail>, Error> {
    outbox::all(conn)?
        .into_iter()
        .map(|email| {
            let content = email.content.read().map_err(Error::Invalid)?;
            let words = words_of(&content).map_err(Error::Invalid)?;
            Ok(QueuedEmail {
                id: email.id,
                invitation_id: email.invitation_id,
                recipient: email.recipient,
                subject: words.subject,
                body_text: words.text,
                body_html: words.html,
                state: email.state,
                attempts: email.attempts,
            })
        })
        .collect()
}
