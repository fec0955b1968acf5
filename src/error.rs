//! The one error type of the application.
//!
//! Services return it; the web layer turns it into a status code and a page or
//! fragment, the command line into one line on stderr. Refusals a person can act
//! on carry the words to show them; failures of the machinery carry their cause
//! for the log and show a generic apology.

use crate::domain::policy::{Denied, UnknownPermission};
use crate::domain::{
    InvalidAccessLevel, InvalidDescription, InvalidDomain, InvalidEmail, InvalidLifetime,
    InvalidMembershipEnd, InvalidName, InvalidNetworks, InvalidRate, InvalidRole, InvalidSlug,
    RateOnKeysOnly,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input was understood but is not acceptable (a bad address, an empty name).
    #[error("{0}")]
    Invalid(String),

    /// The actor may not do this. Nothing was changed.
    #[error("{0}")]
    Forbidden(#[from] Denied),

    /// The actor is not a member of the organization (any more).
    #[error("You are not a member of {org}. Ask one of its owners or admins to invite you.")]
    NotMember { org: String },

    /// The actor was a member, and was removed or left.
    #[error("You are no longer a member of {org}. Ask one of its owners or admins if you need access again.")]
    NoLongerMember { org: String },

    /// The change would leave an organization without an owner.
    #[error("{org} must keep at least one owner: make another member an owner first.")]
    LastOwner { org: String },

    /// The thing named does not exist (or is not visible to the actor).
    #[error("{0}")]
    NotFound(String),

    /// The change lost a race with another one; trying again will work or explain.
    #[error("{0}")]
    Conflict(String),

    /// The request needs a signed-in user; `next` is where to return after.
    #[error("Sign in to continue.")]
    SignInRequired { next: String },

    /// A sign-in with a provider did not complete; the words say why.
    #[error("{0}")]
    SignInFailed(String),

    /// An invitation that can no longer be answered (expired, revoked, used…).
    #[error("{0}")]
    Gone(String),

    /// The organization was deleted; its owners may restore it until `restorable_until`.
    #[error("{name} was deleted on {} by {by}. Its owners can restore it from their profile until {}; after that it is gone for good.", crate::error::day_and_time(*.at), crate::error::day_and_time(*.restorable_until))]
    OrganizationDeleted {
        name: String,
        at: chrono::NaiveDateTime,
        by: String,
        restorable_until: chrono::NaiveDateTime,
    },

    /// The organization was renamed: it answers at `slug` now.
    #[error("This organization moved to /orgs/{slug}.")]
    Moved { slug: String },

    /// The signed-in account is not the one an invitation is addressed to.
    #[error("{0}")]
    WrongAccount(String),

    /// A call to the JSON API without a usable token; the words say why.
    #[error("{0}")]
    Unauthenticated(String),

    /// A state-changing request without the session's CSRF token.
    #[error("This form has expired or did not come from this page. Reload the page and try again.")]
    CsrfRejected,

    #[error("The request is too large. Send fewer addresses at a time (at most {limit}).")]
    TooLarge { limit: &'static str },

    /// Some rows of a batch cannot be done as asked, so none was done.
    #[error("{} of the rows cannot be done as asked, so nothing was done. Fix the rows listed and send them all again.", .0.len())]
    Rows(Vec<RowProblem>),

    /// Too many requests from one client (an address or a token).
    #[error("Too many requests. Please wait {retry_after} seconds and try again.")]
    RateLimited { retry_after: u64 },

    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),

    #[error("the database schema could not be brought up to date: {0}")]
    Migration(String),

    #[error("database error: {0}")]
    Database(#[source] diesel::result::Error),

    #[error("could not render {what}: {source}")]
    Template {
        what: &'static str,
        #[source]
        source: askama::Error,
    },
}

/// What is wrong with one row of a batch: its position (from 0), a stable
/// kind (`invalid-email`, `already-a-member`, …) and the words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub index: usize,
    pub kind: &'static str,
    pub detail: String,
}

/// The one conversion of each refusal of a domain type: its own words, as a
/// sentence, answered 422 (or shown beside the form field).
macro_rules! refused_input {
    ($($refusal:ty),* $(,)?) => {
        $(impl From<$refusal> for Error {
            fn from(refusal: $refusal) -> Self {
                Error::Invalid(sentence(refusal.to_string()))
            }
        })*
    };
}

refused_input!(
    InvalidAccessLevel,
    InvalidDescription,
    InvalidDomain,
    InvalidEmail,
    InvalidLifetime,
    InvalidMembershipEnd,
    InvalidName,
    InvalidNetworks,
    InvalidRate,
    InvalidRole,
    RateOnKeysOnly,
    InvalidSlug,
    UnknownPermission,
);

/// `words` ending in a full stop, as the domain's refusals are written
/// without one.
fn sentence(mut words: String) -> String {
    if !words.ends_with(['.', '?', '!']) {
        words.push('.');
    }
    words
}

impl From<diesel::result::Error> for Error {
    fn from(source: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};
        match source {
            Diesel::NotFound => Error::NotFound("The record was not found.".into()),
            // Two changes that waited for each other: the database undid one
            // of them whole. Nothing was changed, and trying again works.
            Diesel::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Error::Conflict(RETRY.to_owned())
            }
            // The database went away (a restart, a failover) or another
            // process held SQLite's lock past the busy timeout: nothing was
            // changed, and the same request works once it is back.
            Diesel::DatabaseError(DatabaseErrorKind::ClosedConnection, ref info) => {
                Error::DatabaseUnavailable(info.message().to_owned())
            }
            // A statement that waited for a lock, or ran, past its bound:
            // undone, and the connection is as good as before.
            Diesel::DatabaseError(_, ref info) if is_timeout(info.message()) => {
                Error::DatabaseUnavailable(info.message().to_owned())
            }
            Diesel::DatabaseError(_, ref info) if is_unavailable(info.message()) => {
                Error::DatabaseUnavailable(info.message().to_owned())
            }
            Diesel::DatabaseError(_, ref info) if info.message().contains("deadlock detected") => {
                tracing::warn!(error = %source, "a change was undone by the database to end a deadlock");
                Error::Conflict(RETRY.to_owned())
            }
            other => Error::Database(other),
        }
    }
}

/// Whether `source` says that the connection it came from cannot be used
/// again (the server closed it, or the database went away), rather than
/// something about one statement: such a connection is not pooled again.
pub fn leaves_connection_unusable(source: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error as Diesel};
    match source {
        Diesel::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Diesel::DatabaseError(_, info) => !is_timeout(info.message()) && is_unavailable(info.message()),
        _ => false,
    }
}

const RETRY: &str = "Another change got in the way and nothing was changed. Please try again.";

/// What Postgres says when it ended a statement at `statement_timeout` or
/// `lock_timeout`.
fn is_timeout(message: &str) -> bool {
    message.starts_with("canceling statement due to statement timeout")
        || message.starts_with("canceling statement due to lock timeout")
}

/// What SQLite and libpq say when the database cannot be used now, rather
/// than of the statement.
fn is_unavailable(message: &str) -> bool {
    [
        "database is locked",
        "database table is locked",
        "server closed the connection",
        "no connection to the server",
        "terminating connection due to administrator command",
        "the database system is shutting down",
        "the database system is starting up",
        "connection to server",
        "could not connect to server",
        "SSL connection has been closed",
        "could not receive data from server",
        "could not send data to server",
        "terminating connection due to idle-in-transaction timeout",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(source: diesel::r2d2::PoolError) -> Self {
        Error::DatabaseUnavailable(source.to_string())
    }
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid(_) | Error::Rows(_) => 422,
            Error::RateLimited { .. } => 429,
            Error::SignInFailed(_) => 400,
            Error::Gone(_) | Error::OrganizationDeleted { .. } => 410,
            Error::Moved { .. } => 301,
            Error::SignInRequired { .. } | Error::Unauthenticated(_) => 401,
            Error::Forbidden(_)
            | Error::NotMember { .. }
            | Error::NoLongerMember { .. }
            | Error::CsrfRejected
            | Error::WrongAccount(_) => 403,
            Error::TooLarge { .. } => 413,
            Error::NotFound(_) => 404,
            Error::LastOwner { .. } | Error::Conflict(_) => 409,
            Error::DatabaseUnavailable(_) => 503,
            Error::Migration(_) | Error::Database(_) | Error::Template { .. } => 500,
        }
    }

    /// What kind of error this is, as a stable name: the JSON API's problem
    /// documents say it in their `type`, so that callers can switch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::Rows(_) => "invalid-rows",
            Error::RateLimited { .. } => "rate-limited",
            Error::Forbidden(_) => "forbidden",
            Error::NotMember { .. } => "not-a-member",
            Error::NoLongerMember { .. } => "no-longer-a-member",
            Error::LastOwner { .. } => "last-owner",
            Error::NotFound(_) => "not-found",
            Error::Conflict(_) => "conflict",
            Error::SignInRequired { .. } => "sign-in-required",
            Error::SignInFailed(_) => "sign-in-failed",
            Error::Gone(_) => "gone",
            Error::OrganizationDeleted { .. } => "organization-deleted",
            Error::Moved { .. } => "moved",
            Error::WrongAccount(_) => "wrong-account",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::CsrfRejected => "csrf-rejected",
            Error::TooLarge { .. } => "too-large",
            Error::DatabaseUnavailable(_) => "unavailable",
            Error::Migration(_) | Error::Database(_) | Error::Template { .. } => "internal",
        }
    }

    /// Whether the message is for the person who asked (a refusal) rather than
    /// for the operator (a failure of the machinery).
    pub fn is_refusal(&self) -> bool {
        self.status() < 500
    }
}

/// A time as refusals say it: "2026-12-04 14:05 UTC".
pub fn day_and_time(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error as Diesel};

    use super::Error;

    #[test]
    fn a_change_the_database_undid_asks_to_try_again_rather_than_failing() {
        let deadlock = Diesel::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("deadlock detected".to_owned()),
        );
        let serialization = Diesel::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new("could not serialize access".to_owned()),
        );
        for undone in [deadlock, serialization] {
            let error = Error::from(undone);
            assert_eq!(error.status(), 409, "{error:?}");
            assert!(error.is_refusal());
        }
        let other = Error::from(Diesel::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("disk full".to_owned()),
        ));
        assert_eq!(other.status(), 500);
    }
}
