use std::fmt;

/// The URL-safe name of an organization: `acme-ai` in `/orgs/acme-ai/members`.
/// Lower-case ASCII letters, digits and single hyphens, 2 to 48 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a valid organization slug: use 2 to 48 lower-case letters, digits and hyphens")]
pub struct InvalidSlug(pub String);

const MIN_LEN: usize = 2;
const MAX_LEN: usize = 48;

/// A slug typed in a field: the spaces around it are not part of it.
impl std::str::FromStr for Slug {
    type Err = InvalidSlug;

    fn from_str(text: &str) -> Result<Self, InvalidSlug> {
        Self::parse(text.trim())
    }
}

impl Slug {
    pub fn parse(input: &str) -> Result<Self, InvalidSlug> {
        let valid = (MIN_LEN..=MAX_LEN).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-')
            && !input.ends_with('-')
            && !input.contains("--");
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidSlug(input.to_owned()))
        }
    }

    /// Derives a slug from an organization's name ("Acme AI" → "acme-ai").
    /// Names with too few ASCII letters or digits get "org" so that a slug
    /// always exists; uniqueness is the caller's business.
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(MAX_LEN - 4);
        let trimmed = slug.trim_end_matches('-');
        if trimmed.len() < MIN_LEN {
            Self("org".to_owned())
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// The slug with a numeric suffix, for when the plain one is taken; the
    /// slug is cut to make room, so that the result is always a valid slug.
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        Self(format!("{}{suffix}", self.base(MAX_LEN - suffix.len())))
    }

    /// What every slug made by [`Slug::with_suffix`] from this one begins
    /// with, whatever the number.
    pub fn suffix_base(&self) -> &str {
        self.base(MAX_LEN - "-4294967295".len())
    }

    fn base(&self, max_len: usize) -> &str {
        self.0[..self.0.len().min(max_len)].trim_end_matches('-')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_from_names() {
        assert_eq!(Slug::from_name("Acme AI").as_str(), "acme-ai");
        assert_eq!(Slug::from_name("  Ünïcode & Co.  ").as_str(), "n-code-co");
        assert_eq!(Slug::from_name("日本").as_str(), "org");
        assert!(Slug::parse(Slug::from_name(&"x".repeat(100)).as_str()).is_ok());
        let long = Slug::parse(&"a".repeat(MAX_LEN)).unwrap();
        for n in [2, 999, 1000, 123_456, u32::MAX] {
            let suffixed = long.with_suffix(n);
            assert!(Slug::parse(suffixed.as_str()).is_ok(), "{suffixed}");
            assert!(suffixed.as_str().starts_with(long.suffix_base()));
        }
    }

    #[test]
    fn parses_only_url_safe_slugs() {
        assert!(Slug::parse("acme-ai").is_ok());
        for bad in [
            "", "a", "Acme", "acme_ai", "-acme", "acme-", "ac--me", "a/b", "../x",
        ] {
            assert!(Slug::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
