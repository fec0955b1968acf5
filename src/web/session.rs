//! What Rollcall keeps in the (encrypted, signed) session cookie: the signed-in
//! user's id, the CSRF token and one-time notices. Never roles or permissions:
//! those are read from the database on every request.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const USER_ID: &str = "uid";
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

/// A typed view of the session.
pub struct SessionState(Session);

impl FromRequest for SessionState {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}

impl SessionState {
    pub fn from_http(req: &HttpRequest) -> Self {
        Self(req.get_session())
    }

    pub fn user_id(&self) -> Option<String> {
        self.0.get(USER_ID).ok().flatten()
    }

    /// Starts a signed-in session under a new id (no fixation), with a new CSRF token.
    pub fn sign_in(&self, user_id: &str) {
        self.0.renew();
        self.0.remove(CSRF);
        // Inserting a String cannot fail to serialize.
        let _ = self.0.insert(USER_ID, user_id);
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// Signs out but keeps the invitation being answered, to sign in with
    /// another account.
    pub fn switch_account(&self) {
        self.0.remove(USER_ID);
        self.0.remove(CSRF);
        self.0.renew();
    }

    pub fn begin_sign_in(&self, pending: &PendingSignIn) {
        let _ = self.0.insert(OAUTH, pending);
    }

    /// The sign-in in progress, removed: a state is checked once.
    pub fn take_sign_in(&self) -> Option<PendingSignIn> {
        self.take(OAUTH)
    }

    /// Remembers the invitation being answered, so that it survives the
    /// round trip through a provider's sign-in on the server side.
    pub fn set_invitation(&self, token: &str) {
        let _ = self.0.insert(INVITATION, token);
    }

    pub fn invitation(&self) -> Option<String> {
        self.0.get(INVITATION).ok().flatten()
    }

    pub fn clear_invitation(&self) {
        self.take::<String>(INVITATION);
    }

    /// The session's CSRF token, made on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(token) = self.0.get::<String>(CSRF).ok().flatten() {
            return token;
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let _ = self.0.insert(CSRF, &token);
        token
    }

    /// Whether `candidate` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        match self.0.get::<String>(CSRF).ok().flatten() {
            Some(expected) => constant_time_eq(expected.as_bytes(), candidate.as_bytes()),
            None => false,
        }
    }

    /// Compares secrets without leaking where they differ through timing.
    pub fn secrets_match(expected: &str, candidate: &str) -> bool {
        constant_time_eq(expected.as_bytes(), candidate.as_bytes())
    }

    pub fn push_flash(&self, flash: Flash) {
        let mut flashes: Vec<Flash> = self.0.get(FLASH).ok().flatten().unwrap_or_default();
        flashes.push(flash);
        let _ = self.0.insert(FLASH, flashes);
    }

    pub fn take_flashes(&self) -> Vec<Flash> {
        self.take(FLASH).unwrap_or_default()
    }

    /// Removes and returns a value. Only a key that is there is removed: any
    /// removal marks the session changed, and a changed session is encrypted
    /// and sent again with the response.
    fn take<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        if !self.0.contains_key(key) {
            return None;
        }
        self.0.remove_as::<T>(key).and_then(Result::ok)
    }
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
