use std::fmt;

/// A person's display name as typed into an invitation: trimmed, one line,
/// at most 100 characters, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

/// An organization's name: trimmed, one line, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

/// The name of an API token or a service account ("CI deploys"): trimmed,
/// one line, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelName(String);

impl LabelName {
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        parse_line(input).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name could be taken for a person's address or for the
    /// command line: an acting service account or client may not be named
    /// so, or the audit log's "who" would be ambiguous.
    pub fn passes_for_someone(&self) -> bool {
        self.0.contains('@') || self.0.eq_ignore_ascii_case("command line")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name can have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("a name must be one line of plain text, without control or text-direction characters")]
    ControlCharacters,
}

const MAX_CHARS: usize = PersonName::MAX_CHARS;

fn parse_line(input: &str) -> Result<String, InvalidName> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        Err(InvalidName::Empty)
    } else if trimmed.chars().count() > MAX_CHARS {
        Err(InvalidName::TooLong)
    } else if super::text::has_control(trimmed) {
        Err(InvalidName::ControlCharacters)
    } else {
        Ok(trimmed.to_owned())
    }
}

impl PersonName {
    /// The most characters a name has.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        parse_line(input).map(Self)
    }

    /// An optional name field: blank means no name.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, InvalidName> {
        match parse_line(input) {
            Ok(name) => Ok(Some(Self(name))),
            Err(InvalidName::Empty) => Ok(None),
            Err(other) => Err(other),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OrganizationName {
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        parse_line(input).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OrganizationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_reorder_themselves() {
        // "Ada" followed by a right-to-left override reads as another name.
        for spoof in ["Ada\u{202E}nimda", "\u{2066}Ada", "Acme\u{202B}AI"] {
            assert_eq!(
                OrganizationName::parse(spoof),
                Err(InvalidName::ControlCharacters)
            );
            assert_eq!(PersonName::parse(spoof), Err(InvalidName::ControlCharacters));
        }
        // Right-to-left scripts themselves are names like any other.
        assert!(PersonName::parse("אדה לאבלייס").is_ok());
        assert_eq!(crate::domain::text::one_line("Ada\u{202E}x", 50), "Ada x");
    }

    #[test]
    fn names_are_trimmed_single_lines() {
        assert_eq!(PersonName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(PersonName::parse_optional("   "), Ok(None));
        assert_eq!(PersonName::parse("a\nb"), Err(InvalidName::ControlCharacters));
        assert_eq!(
            OrganizationName::parse(&"x".repeat(101)),
            Err(InvalidName::TooLong)
        );
        assert_eq!(OrganizationName::parse(""), Err(InvalidName::Empty));
    }
}
