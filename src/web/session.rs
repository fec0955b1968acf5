//! What Rollcall keeps in the (encrypted, signed) session cookie: the signed-in
//! user's id, the session's own id and when it began and was last used, the
//! CSRF token and a few short one-time notices. Never roles or permissions:
//! those are read from the database on every request.
//!
//! A cookie alone cannot be taken back, so a session ends in three ways that
//! every server sees: it grows older than the lifetime or goes unused longer
//! than the idle timeout (both read from the cookie), it was signed out (its
//! id is in `ended_sessions`), or its user signed out of every session after
//! it began (`users.sessions_ended_at`). The last two are checked by the
//! services with the user's row, on every request (see `users::session_user`).

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDateTime};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::services::now;
pub use crate::services::users::SessionUser;

const USER_ID: &str = "uid";
const SESSION_ID: &str = "sid";
const ISSUED_AT: &str = "iat";
const LAST_SEEN: &str = "seen";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
const OAUTH: &str = "oauth";
const INVITATION: &str = "invitation";

/// A sign-in in progress with a provider: what the callback must match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub provider: String,
    pub state: String,
    pub verifier: String,
    pub next: String,
}

/// The most notices the cookie keeps for the next page, and their length.
const MAX_FLASHES: usize = 3;
const MAX_FLASH_CHARS: usize = 300;

/// A notice shown once, on the next page: "Invited 3 people", with the links
/// to share when the invitations were few enough to fit in the cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
    #[serde(default)]
    pub links: Vec<SharedLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashKind {
    Ok,
    Error,
}

impl FlashKind {
    pub fn css(self) -> &'static str {
        match self {
            FlashKind::Ok => "notice notice-ok",
            FlashKind::Error => "notice notice-error",
        }
    }
}

/// An invitation link shown once to the inviter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedLink {
    pub email: String,
    pub link: String,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Ok,
            message: message.into(),
            links: Vec::new(),
        }
    }
}

/// How long sessions last (`ROLLCALL_SESSION_LIFETIME`, `ROLLCALL_SESSION_IDLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub lifetime: Duration,
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::days(7),
            idle: Duration::hours(12),
        }
    }
}

/// How stale the "last used" time may get before the cookie is sent again:
/// refreshing it on every request would re-encrypt and resend the cookie each time.
const SEEN_RESOLUTION: Duration = Duration::minutes(1);

/// A typed view of the session.
pub struct SessionState {
    session: Session,
    policy: SessionPolicy,
}

impl FromRequest for SessionState {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_http(req)))
    }
}

impl SessionState {
    pub fn from_http(req: &HttpRequest) -> Self {
        let policy = req.app_data::<SessionPolicy>().copied().unwrap_or_default();
        Self {
            session: req.get_session(),
            policy,
        }
    }

    /// The signed-in session, if the cookie holds one that has not run out.
    /// One that has is ended here (the invitation being answered is kept).
    pub fn signed_in(&self) -> Option<SessionUser> {
        let user_id: String = self.session.get(USER_ID).ok().flatten()?;
        let at = now();
        let found = self.session_parts(user_id);
        let current = found.as_ref().is_some_and(|(user, seen)| {
            at - user.issued_at <= self.policy.lifetime && at - *seen <= self.policy.idle
        });
        let Some((user, seen)) = found.filter(|_| current) else {
            self.forget_user();
            return None;
        };
        if at - seen >= SEEN_RESOLUTION {
            let _ = self.session.insert(LAST_SEEN, micros(at));
        }
        Some(user)
    }

    fn session_parts(&self, user_id: String) -> Option<(SessionUser, NaiveDateTime)> {
        let session_id: String = self.session.get(SESSION_ID).ok().flatten()?;
        let issued_at = from_micros(self.session.get(ISSUED_AT).ok().flatten()?)?;
        let seen = self
            .session
            .get(LAST_SEEN)
            .ok()
            .flatten()
            .and_then(from_micros)
            .unwrap_or(issued_at);
        Some((
            SessionUser {
                user_id,
                session_id,
                issued_at,
            },
            seen,
        ))
    }

    pub fn user_id(&self) -> Option<String> {
        self.signed_in().map(|user| user.user_id)
    }

    /// Starts a signed-in session under a new id (no fixation), with a new CSRF token.
    pub fn sign_in(&self, user_id: &str) {
        self.session.renew();
        self.session.remove(CSRF);
        let at = micros(now());
        // Strings and integers cannot fail to serialize.
        let _ = self.session.insert(USER_ID, user_id);
        let _ = self.session.insert(SESSION_ID, random_token());
        let _ = self.session.insert(ISSUED_AT, at);
        let _ = self.session.insert(LAST_SEEN, at);
    }

    /// When a session that began now would expire at the latest.
    pub fn expires_at(&self, session: &SessionUser) -> NaiveDateTime {
        session.issued_at + self.policy.lifetime
    }

    pub fn sign_out(&self) {
        self.session.purge();
    }

    /// Signs out but keeps the invitation being answered, to sign in with
    /// another account.
    pub fn switch_account(&self) {
        self.forget_user();
        self.session.renew();
    }

    fn forget_user(&self) {
        for key in [USER_ID, SESSION_ID, ISSUED_AT, LAST_SEEN, CSRF] {
            if self.session.contains_key(key) {
                self.session.remove(key);
            }
        }
    }

    pub fn begin_sign_in(&self, pending: &PendingSignIn) {
        let _ = self.session.insert(OAUTH, pending);
    }

    /// The sign-in in progress, removed: a state is checked once.
    pub fn take_sign_in(&self) -> Option<PendingSignIn> {
        self.take(OAUTH)
    }

    /// Remembers the invitation being answered, so that it survives the
    /// round trip through a provider's sign-in on the server side.
    pub fn set_invitation(&self, token: &str) {
        let _ = self.session.insert(INVITATION, token);
    }

    pub fn invitation(&self) -> Option<String> {
        self.session.get(INVITATION).ok().flatten()
    }

    pub fn clear_invitation(&self) {
        self.take::<String>(INVITATION);
    }

    /// The session's CSRF token, made on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(token) = self.session.get::<String>(CSRF).ok().flatten() {
            return token;
        }
        let token = random_token();
        let _ = self.session.insert(CSRF, &token);
        token
    }

    /// Whether `candidate` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        match self.session.get::<String>(CSRF).ok().flatten() {
            Some(expected) => constant_time_eq(expected.as_bytes(), candidate.as_bytes()),
            None => false,
        }
    }

    /// Compares secrets without leaking where they differ through timing.
    pub fn secrets_match(expected: &str, candidate: &str) -> bool {
        constant_time_eq(expected.as_bytes(), candidate.as_bytes())
    }

    /// Keeps a notice for the next page. The cookie must stay small (browsers
    /// drop one over 4 KB without a word), so only the newest few notices are
    /// kept, each cut short, and never links: a page that shows invitation
    /// links shows them in the answer to the request that made them.
    pub fn push_flash(&self, mut flash: Flash) {
        let mut flashes: Vec<Flash> = self.session.get(FLASH).ok().flatten().unwrap_or_default();
        flash.links.clear();
        if flash.message.chars().count() > MAX_FLASH_CHARS {
            flash.message = flash
                .message
                .chars()
                .take(MAX_FLASH_CHARS - 1)
                .collect::<String>()
                + "…";
        }
        flashes.push(flash);
        let excess = flashes.len().saturating_sub(MAX_FLASHES);
        flashes.drain(..excess);
        let _ = self.session.insert(FLASH, flashes);
    }

    pub fn take_flashes(&self) -> Vec<Flash> {
        self.take(FLASH).unwrap_or_default()
    }

    /// Removes and returns a value. Only a key that is there is removed: any
    /// removal marks the session changed, and a changed session is encrypted
    /// and sent again with the response.
    fn take<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        if !self.session.contains_key(key) {
            return None;
        }
        self.session.remove_as::<T>(key).and_then(Result::ok)
    }
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(crate::domain::random_bytes::<32>())
}

fn micros(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp_micros()
}

fn from_micros(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|at| at.naive_utc())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
