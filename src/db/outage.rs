//! Noticing that the database went away: a statement that found it gone
//! marks its connection, which the pool then drops instead of handing out.

use std::cell::Cell;

thread_local! {
    /// Whether a statement on this thread found the database gone.
    static UNAVAILABLE: Cell<bool> = const { Cell::new(false) };
}

/// Notes that a statement on this thread found the database gone, so that
/// the connection it ran on is not pooled again.
pub(super) fn note_unavailable() {
    UNAVAILABLE.set(true);
}

/// Notes the database gone if a statement's `error` says so. Every
/// connection reports each statement's end here ([`OutageWatch`], or the
/// watchdog's own instrumentation), so no caller has to remember to.
pub(super) fn note_if_unusable(error: Option<&diesel::result::Error>) {
    if error.is_some_and(crate::error::leaves_connection_unusable) {
        note_unavailable();
    }
}

/// The instrumentation of a connection without a watchdog: it only notes
/// statements that found the database gone.
pub(super) struct OutageWatch;

impl diesel::connection::Instrumentation for OutageWatch {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::FinishQuery { error, .. } = event {
            note_if_unusable(error);
        }
    }
}

/// Whether a statement on this thread found the database gone since the
/// last ask; the answer is forgotten once given.
pub(super) fn take_unavailable() -> bool {
    UNAVAILABLE.replace(false)
}
