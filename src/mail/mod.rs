//! Email: the messages the services queue in the outbox, put into words from
//! the templates under `templates/emails/<name>/` when they are sent; the
//! transports; and the worker that delivers the outbox.

mod messages;
mod queued;
mod templates;
mod transport;
pub mod worker;

pub use crate::domain::format_day;
pub use messages::render;
pub use queued::{QueuedEmail, queued};
pub use templates::Words;
pub use transport::Mailer;
