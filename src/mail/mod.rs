//! Email: the messages Rollcall sends, rendered from the templates under
//! `templates/emails/<name>/`, and queued in the outbox by the services.

mod messages;

pub use messages::{InvitationEmail, InvitationsSentEmail, OutgoingEmail, SentInvitation};
