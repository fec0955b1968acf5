//! API tokens: the bearer secrets of people, service accounts and the
//! platform's gateway, what they may reach, and how long they live.
//!
//! A secret reads `rc` + a letter for its kind + `_`, then 32 base62
//! characters of randomness (190 bits), then 6 base62 characters of CRC32
//! over everything before them: `rcp_…` for a person's token, `rcs_…` for a
//! service account's key, `rci_…` for an introspection client. The fixed
//! prefix lets secret scanners find leaked tokens; the checksum lets them, and
//! Rollcall, tell a real token from a mistyped one without a database. Only
//! the SHA-256 of a secret is stored.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::token::{TokenHash, random_bytes};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
const PREFIX_LEN: usize = 4;
const SECRET_LEN: usize = PREFIX_LEN + RANDOM_CHARS + CHECKSUM_CHARS;

/// Whose secret it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// A member's personal API token.
    Personal,
    /// A key of a service account.
    ServiceAccount,
    /// The platform's gateway, asking whether tokens are good.
    Introspection,
}

impl SecretKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            SecretKind::Personal => "rcp_",
            SecretKind::ServiceAccount => "rcs_",
            SecretKind::Introspection => "rci_",
        }
    }

    /// How it is stored and named in the API and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecretKind::Personal => "personal",
            SecretKind::ServiceAccount => "service_account",
            SecretKind::Introspection => "introspection",
        }
    }

    pub fn parse_stored(text: &str) -> Option<Self> {
        [
            SecretKind::Personal,
            SecretKind::ServiceAccount,
            SecretKind::Introspection,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        [
            SecretKind::Personal,
            SecretKind::ServiceAccount,
            SecretKind::Introspection,
        ]
        .into_iter()
        .find(|kind| kind.prefix() == prefix)
    }
}

/// A token's secret, in memory only: shown once when made, then only its hash
/// is kept. Deliberately neither `Display` nor a revealing `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiSecret {
    kind: SecretKind,
    text: String,
}

/// Why a presented secret cannot be a Rollcall token (not shown to callers
/// of the token check, which answer only "inactive").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this is not a Rollcall token; check that it was copied completely")]
pub struct InvalidSecret;

impl ApiSecret {
    /// A fresh secret from the operating system's random number generator.
    pub fn generate(kind: SecretKind) -> Self {
        let mut text = String::with_capacity(SECRET_LEN);
        text.push_str(kind.prefix());
        // Rejection sampling keeps every character uniformly likely.
        while text.len() < PREFIX_LEN + RANDOM_CHARS {
            for byte in random_bytes::<64>() {
                if usize::from(byte) < 248 && text.len() < PREFIX_LEN + RANDOM_CHARS {
                    text.push(char::from(ALPHABET[usize::from(byte) % 62]));
                }
            }
        }
        let checksum = checksum(&text);
        text.push_str(&checksum);
        Self { kind, text }
    }

    /// Parses a presented secret: the right length, a known prefix, base62,
    /// and a checksum that matches. No database is asked.
    pub fn parse(input: &str) -> Result<Self, InvalidSecret> {
        if input.len() != SECRET_LEN || !input.is_ascii() {
            return Err(InvalidSecret);
        }
        let (prefix, rest) = input.split_at(PREFIX_LEN);
        let kind = SecretKind::from_prefix(prefix).ok_or(InvalidSecret)?;
        if !rest.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(InvalidSecret);
        }
        let (body, sum) = input.split_at(SECRET_LEN - CHECKSUM_CHARS);
        if checksum(body) != sum {
            return Err(InvalidSecret);
        }
        Ok(Self {
            kind,
            text: input.to_owned(),
        })
    }

    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.text)
    }

    /// The SHA-256 itself, as bytes: a compact key for answers kept in memory.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }

    /// The last four characters, by which a person tells their tokens apart.
    pub fn last_four(&self) -> &str {
        &self.text[SECRET_LEN - 4..]
    }

    /// The secret itself, to show once.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiSecret({}…)", self.kind.prefix())
    }
}

/// CRC32 of `text`, as 6 base62 digits (62⁶ > 2³²).
fn checksum(text: &str) -> String {
    let mut value = u64::from(crc32fast::hash(text.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// What a token may reach: the platform's operations (and the JSON API's
/// member operations), or only its inference endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessLevel {
    Operations,
    Inference,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not an access level: use operations or inference")]
pub struct InvalidAccessLevel(pub String);

impl AccessLevel {
    pub const ALL: [AccessLevel; 2] = [AccessLevel::Operations, AccessLevel::Inference];

    pub const fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Operations => "operations",
            AccessLevel::Inference => "inference",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            AccessLevel::Operations => "Operations",
            AccessLevel::Inference => "Inference only",
        }
    }
}

impl FromStr for AccessLevel {
    type Err = InvalidAccessLevel;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "operations" => Ok(AccessLevel::Operations),
            "inference" => Ok(AccessLevel::Inference),
            _ => Err(InvalidAccessLevel(input.chars().take(40).collect())),
        }
    }
}

/// How long a token works: a whole number of days from 7 to 366, on every
/// path (the console's choices, the command line's `--expires`). There is
/// no "never expires", and none shorter than a week: a token is for a
/// program that runs for a while, and the console offers nothing shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a lifetime: give {min} to {max} days, such as 30d", min = Lifetime::MIN_DAYS, max = Lifetime::MAX_DAYS)]
pub struct InvalidLifetime(pub String);

impl Lifetime {
    pub const DEFAULT: Lifetime = Lifetime(30);
    pub const MIN_DAYS: u16 = 7;
    pub const MAX_DAYS: u16 = 366;

    /// "30d", "30" or "90 days".
    pub fn parse(input: &str) -> Result<Self, InvalidLifetime> {
        let invalid = || InvalidLifetime(input.chars().take(40).collect());
        let trimmed = input.trim().to_ascii_lowercase();
        let digits = trimmed
            .strip_suffix("days")
            .or_else(|| trimmed.strip_suffix("day"))
            .or_else(|| trimmed.strip_suffix('d'))
            .unwrap_or(&trimmed)
            .trim();
        let days: u16 = digits.parse().map_err(|_| invalid())?;
        if (Self::MIN_DAYS..=Self::MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(invalid())
        }
    }

    pub fn days(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0) * 24 * 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_carry_their_kind_and_differ() {
        for kind in [
            SecretKind::Personal,
            SecretKind::ServiceAccount,
            SecretKind::Introspection,
        ] {
            let a = ApiSecret::generate(kind);
            let b = ApiSecret::generate(kind);
            assert_ne!(a, b);
            assert!(a.expose().starts_with(kind.prefix()));
            assert_eq!(a.expose().len(), SECRET_LEN);
            assert_eq!(ApiSecret::parse(a.expose()), Ok(a.clone()));
            assert_eq!(ApiSecret::parse(a.expose()).map(|s| s.kind()), Ok(kind));
        }
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let secret = ApiSecret::generate(SecretKind::Personal);
        let text = secret.expose();
        for at in PREFIX_LEN..SECRET_LEN {
            let mut changed = text.as_bytes().to_vec();
            changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(ApiSecret::parse(&changed), Err(InvalidSecret), "position {at}");
        }
        for bad in [
            "",
            "rcp_",
            &text[..SECRET_LEN - 1],
            &format!("{text}x"),
            &text.replace("rcp_", "rcx_"),
        ] {
            assert_eq!(ApiSecret::parse(bad), Err(InvalidSecret), "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_reveal_the_secret() {
        let secret = ApiSecret::generate(SecretKind::ServiceAccount);
        assert!(!format!("{secret:?}").contains(&secret.expose()[PREFIX_LEN..]));
    }

    #[test]
    fn lifetimes_are_seven_to_366_days() {
        assert_eq!(Lifetime::parse("30d").map(Lifetime::days), Ok(30));
        assert_eq!(Lifetime::parse(" 366 ").map(Lifetime::days), Ok(366));
        assert_eq!(Lifetime::parse("7 days").map(Lifetime::days), Ok(7));
        for bad in [
            "0d",
            "1d",
            "6d",
            "6 days",
            "367d",
            "never",
            "-1",
            "",
            "1.5d",
            "99999999d",
        ] {
            assert!(Lifetime::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Lifetime::parse("6d").unwrap_err().to_string(),
            "“6d” is not a lifetime: give 7 to 366 days, such as 30d"
        );
    }

    #[test]
    fn access_levels_parse() {
        assert_eq!("Inference".parse(), Ok(AccessLevel::Inference));
        assert_eq!("operations".parse(), Ok(AccessLevel::Operations));
        assert!("admin".parse::<AccessLevel>().is_err());
    }
}
