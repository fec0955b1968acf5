use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;

/// The secret in an invitation link. 256 random bits, written as 43 URL-safe
/// base64 characters. Only its [`TokenHash`] is ever stored; the token itself
/// exists in the email, in the link shown once to the inviter, and in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken(String);

/// The SHA-256 of a token, hex-encoded: what the database keeps and looks up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this invitation link is malformed; check that it was copied completely")]
pub struct InvalidToken;

const TOKEN_BYTES: usize = 32;
const ENCODED_LEN: usize = 43;

impl InviteToken {
    /// A fresh token from the operating system's random number generator.
    pub fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>()))
    }

    /// Parses a token taken from a URL. Anything that could not have been made
    /// by [`InviteToken::generate`] is refused before touching the database.
    pub fn parse(input: &str) -> Result<Self, InvalidToken> {
        let decodes = input.len() == ENCODED_LEN
            && URL_SAFE_NO_PAD
                .decode(input)
                .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES);
        if decodes {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidToken)
        }
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The secret itself, for building the link. Deliberately not `Display`,
    /// so that it cannot end up in a log line by accident.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteToken(…)")
    }
}

impl TokenHash {
    pub(crate) fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `N` bytes from the operating system's random number generator, for the
/// secrets and one-time values Rollcall makes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing leaves no safe way to make a secret.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = InviteToken::generate();
        let b = InviteToken::generate();
        assert_ne!(a, b);
        assert_eq!(InviteToken::parse(a.expose()), Ok(a.clone()));
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().as_str().len(), 64);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn refuses_malformed_tokens() {
        let good = InviteToken::generate();
        let truncated = &good.expose()[..42];
        for bad in ["", "short", truncated, &"!".repeat(43), &"A".repeat(44)] {
            assert_eq!(InviteToken::parse(bad), Err(InvalidToken), "accepted {bad:?}");
        }
    }

    #[test]
    fn debug_does_not_reveal_the_secret() {
        let token = InviteToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
