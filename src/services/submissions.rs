//! Console forms whose answer is a page rather than a redirect (a token's
//! secret, invitation links: shown once, in that answer) cannot be reloaded
//! safely: a reload sends the form again. Each such form carries a one-time
//! value; the first submission records it in the transaction of what it
//! makes, and any later submission of the same form with the same value
//! (a reload, a double click, the same request racing on another server)
//! makes nothing and gets back what the first one made, never its secret.
//!
//! The value is made when the page is rendered and stored nowhere until it is
//! used, so a page view writes nothing. It carries the time it was made: a
//! value older than [`KEPT_FOR`] is refused, so that forgetting used values
//! after that long never lets an old form through twice.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::schema::form_submissions;
use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::services::shared::now;

/// The form field that carries the value.
pub const FIELD: &str = "once";

/// How long a value may be used, and a used one is remembered.
pub const KEPT_FOR: Duration = Duration::hours(24);

/// How far ahead of this server's clock a value may say it was made (the
/// clocks of two servers behind one balancer differ a little).
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A form's one-time value: when it was made (Unix seconds), a dot, and 128
/// random bits in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceValue(String);

impl OnceValue {
    /// A new value, for a form about to be rendered.
    pub fn issue() -> Self {
        let bytes = crate::domain::random_bytes::<16>();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut value = now().and_utc().timestamp().to_string();
        value.push('.');
        for byte in bytes {
            value.push(char::from(HEX[usize::from(byte >> 4)]));
            value.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Self(value)
    }

    /// Reads a value a form sent back, `at` the time it arrived. One this
    /// server cannot have made, or made too long ago, is refused: nothing is
    /// done for it, and the form is shown again with a fresh value.
    pub fn parse(text: &str, at: NaiveDateTime) -> Result<Self, Error> {
        let malformed = || {
            Error::Invalid(
                "This form did not come from this page unchanged (its one-time value is not one Rollcall made), so nothing was done. Press the button again."
                    .to_owned(),
            )
        };
        let (made, random) = text.split_once('.').ok_or_else(malformed)?;
        let well_formed = (1..=12).contains(&made.len())
            && made.bytes().all(|byte| byte.is_ascii_digit())
            && random.len() == 32
            && random
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            return Err(malformed());
        }
        let made = made
            .parse::<i64>()
            .ok()
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
            .map(|made| made.naive_utc())
            .ok_or_else(malformed)?;
        if made > at + CLOCK_SKEW {
            return Err(malformed());
        }
        if made <= at - KEPT_FOR {
            return Err(Error::Invalid(
                "This form was loaded more than a day ago, so nothing was done. Check the page as it is now, and press the button again if it is still needed."
                    .to_owned(),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which form a value was sent with: its kind and what it acts on. A value
/// is used once per purpose, so the forms of one page may share one value
/// (a Resend button inside the invite dialog's form sends the dialog's).
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    PersonalToken { org_id: &'a str },
    ServiceAccountKey { org_id: &'a str, account: &'a str },
    Invitations { org_id: &'a str },
    Resend { org_id: &'a str, invitation_id: &'a str },
}

impl Purpose<'_> {
    fn key(&self) -> String {
        match self {
            Self::PersonalToken { org_id } => format!("personal-token {org_id}"),
            Self::ServiceAccountKey { org_id, account } => {
                format!("service-account-key {org_id} {account}")
            }
            Self::Invitations { org_id } => format!("invitations {org_id}"),
            Self::Resend {
                org_id,
                invitation_id,
            } => format!("resend {org_id} {invitation_id}"),
        }
    }
}

/// One submission of a form by a signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub user_id: &'a str,
    /// `None` when the form sent no value (a script, not our page): the
    /// work is done, as the JSON API does a request without an
    /// `Idempotency-Key`.
    pub once: Option<&'a OnceValue>,
    pub purpose: Purpose<'a>,
}

/// Whether the work was done now, or by an earlier submission of the form;
/// `M` is what is kept of it to answer again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted<T, M> {
    Now(T),
    Before(M),
}

/// Does `work` once per submitted value and purpose, in one transaction that
/// also records the value and `M`, what `work` says it made (never a
/// secret). A repeat gets that `M` back and `work` does not run. The value is
/// claimed first in the transaction, so that a racing repeat waits for it
/// and then finds it; work that is refused leaves no claim, and the form may
/// be sent again with the same value.
pub fn once<T, M>(
    conn: &mut DbConnection,
    submission: &Submission<'_>,
    work: impl FnOnce(&mut DbConnection) -> Result<(T, M), Error>,
) -> Result<Submitted<T, M>, Error>
where
    M: Serialize + DeserializeOwned,
{
    let Some(value) = submission.once else {
        return db::write(conn, work).map(|(done, _)| Submitted::Now(done));
    };
    if let Some(made) = made_before(conn, submission)? {
        return Ok(Submitted::Before(made));
    }
    let purpose = submission.purpose.key();
    let done = db::write(conn, |conn| {
        claim(conn, submission.user_id, value, &purpose)?;
        let (done, made) = work(conn)?;
        let outcome = serde_json::to_string(&made)
            .map_err(|error| Error::Invalid(format!("what the form made cannot be kept: {error}")))?;
        diesel::update(form_submissions::table.find((value.as_str(), &purpose)))
            .set(form_submissions::outcome.eq(outcome))
            .execute(conn)?;
        Ok(done)
    });
    match done {
        Err(Error::Conflict(reason)) => match recorded(conn, submission.user_id, value, &purpose)? {
            Some(made) => Ok(Submitted::Before(made)),
            None => Err(Error::Conflict(reason)),
        },
        done => done.map(Submitted::Now),
    }
}

/// What an earlier submission of this form made, if there was one. [`once`]
/// asks first; a handler asks itself when its checks before the work would
/// refuse a repeat (the invite dialog's rows are all invited by then).
pub fn made_before<M: DeserializeOwned>(
    conn: &mut DbConnection,
    submission: &Submission<'_>,
) -> Result<Option<M>, Error> {
    match submission.once {
        Some(value) => recorded(conn, submission.user_id, value, &submission.purpose.key()),
        None => Ok(None),
    }
}

fn claim(conn: &mut DbConnection, user_id: &str, value: &OnceValue, purpose: &str) -> Result<(), Error> {
    diesel::insert_into(form_submissions::table)
        .values((
            form_submissions::once_value.eq(value.as_str()),
            form_submissions::purpose.eq(purpose),
            form_submissions::user_id.eq(user_id),
            form_submissions::outcome.eq(""),
            form_submissions::created_at.eq(now()),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                Error::Conflict("This form was sent a moment ago; nothing was done twice.".to_owned())
            } else {
                error.into()
            }
        })?;
    Ok(())
}

/// What the first submission of this value made, if one was made. A value
/// used by someone else is refused without saying what it made: it came to
/// this user from a page that was not theirs.
fn recorded<M: DeserializeOwned>(
    conn: &mut DbConnection,
    user_id: &str,
    value: &OnceValue,
    purpose: &str,
) -> Result<Option<M>, Error> {
    let found: Option<(String, String)> = form_submissions::table
        .find((value.as_str(), purpose))
        .select((form_submissions::user_id, form_submissions::outcome))
        .first(conn)
        .optional()?;
    let Some((by, outcome)) = found else {
        return Ok(None);
    };
    if by != user_id {
        return Err(Error::Conflict(
            "This form was already sent from another account, so nothing was done. Reload the page and try again."
                .to_owned(),
        ));
    }
    serde_json::from_str(&outcome)
        .map(Some)
        .map_err(|error| Error::Invalid(format!("a kept form outcome cannot be read: {error}")))
}

/// Forgets used values older than [`KEPT_FOR`], a batch at a time (a form
/// that old is refused anyway); returns how many went.
pub fn prune(conn: &mut DbConnection) -> Result<usize, Error> {
    let cutoff = now() - KEPT_FOR;
    let old: Vec<(String, String)> = form_submissions::table
        .filter(form_submissions::created_at.lt(cutoff))
        .select((form_submissions::once_value, form_submissions::purpose))
        .limit(500)
        .load(conn)?;
    let mut pruned = 0;
    for key in old {
        pruned += diesel::delete(form_submissions::table.find(key)).execute(conn)?;
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::{KEPT_FOR, OnceValue};

    #[test]
    fn a_value_is_read_back_while_fresh_and_refused_when_old_forged_or_malformed() {
        let issued = OnceValue::issue();
        let at = crate::services::shared::now();
        assert_eq!(OnceValue::parse(issued.as_str(), at).ok(), Some(issued.clone()));
        assert_ne!(OnceValue::issue(), issued, "values differ");
        let tomorrow = at + KEPT_FOR + chrono::Duration::seconds(1);
        assert!(OnceValue::parse(issued.as_str(), tomorrow).is_err(), "too old");
        let made = at.and_utc().timestamp();
        let random = "0123456789abcdef0123456789abcdef";
        for bad in [
            String::new(),
            "x".to_owned(),
            format!("{made}"),
            format!("{made}.{}", &random[1..]),
            format!("{made}.{}", random.to_uppercase()),
            format!("{made}.{random}0"),
            format!("-{made}.{random}"),
            format!("{}.{random}", made + 3600),
            format!("99999999999999.{random}"),
        ] {
            assert!(OnceValue::parse(&bad, at).is_err(), "{bad:?}");
        }
        assert!(OnceValue::parse(&format!("{made}.{random}"), at).is_ok());
    }
}
