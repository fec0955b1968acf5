//! Email: the messages Rollcall sends, rendered from the templates under
//! `templates/emails/<name>/` and queued in the outbox by the services; the
//! transports; and the worker that delivers the outbox.

mod messages;
mod transport;
pub mod worker;

pub use messages::{
    InvitationEmail, InvitationsSentEmail, NoticeEmail, OutgoingEmail, SentInvitation, format_day,
};
pub use transport::Mailer;
