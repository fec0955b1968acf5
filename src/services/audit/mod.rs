//! The audit trail: who did what to whom, with which credential, and the
//! state before and after. Events are written in the transaction of the change
//! they record, never changed afterwards (the database refuses an UPDATE), and
//! deleted only by retention ([`prune`]).
//!
//! - `record`: writing events (the ground floor other services import
//!   directly) and retention; `read`: the log's pages, walks and downloads;
//!   `words`: an event told in words, as the page and the downloads show it.
//!   The vocabulary (actions, actor and target kinds) is `domain::audit`.

mod read;
pub(crate) mod record;
mod words;

pub use crate::domain::audit::{ActorKind, AuditAction, TargetKind};
pub use read::{
    AuditCursor, AuditFilter, AuditPage, AuditPlace, ExportFormat, PER_PAGE, RecordedEvent, batch, page,
    record_download, walk, walk_instance,
};
pub(crate) use record::{
    AuditActor, AuditEvent, AuditTarget, purge_organization, record, record_all, record_at,
    record_by_command_line,
};
pub use record::{prune, record_sign_in_refused};
