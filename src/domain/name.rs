use std::fmt;

/// A person's display name as typed into an invitation: trimmed, one line
/// ([`super::text::fits_one_line`]), at most 100 characters, never empty.
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

/// What a service account is for, as typed: trimmed, one line
/// ([`super::text::fits_one_line`]), at most 500 characters; blank is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDescription {
    #[error("a description can have at most {} characters", Description::MAX_CHARS)]
    TooLong,
    #[error("a description must be {}", super::text::ONE_LINE_RULE)]
    NotOneLine,
}

impl Description {
    /// The most characters a description has.
    pub const MAX_CHARS: usize = 500;

    pub fn parse(input: &str) -> Result<Self, InvalidDescription> {
        let trimmed = input.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            Err(InvalidDescription::TooLong)
        } else if !super::text::fits_one_line(trimmed) {
            Err(InvalidDescription::NotOneLine)
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name can have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("a name must be {}", super::text::ONE_LINE_RULE)]
    NotOneLine,
}

const MAX_CHARS: usize = PersonName::MAX_CHARS;

fn parse_line(input: &str) -> Result<String, InvalidName> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        Err(InvalidName::Empty)
    } else if trimmed.chars().count() > MAX_CHARS {
        Err(InvalidName::TooLong)
    } else if !super::text::fits_one_line(trimmed) {
        Err(InvalidName::NotOneLine)
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
            assert_eq!(OrganizationName::parse(spoof), Err(InvalidName::NotOneLine));
            assert_eq!(PersonName::parse(spoof), Err(InvalidName::NotOneLine));
        }
        // Right-to-left scripts themselves are names like any other.
        assert!(PersonName::parse("אדה לאבלייס").is_ok());
        assert_eq!(crate::domain::text::one_line("Ada\u{202E}x", 50), "Adax");
    }

    #[test]
    fn names_are_one_line_in_every_sense() {
        for hidden in [
            "Ada\u{2028}Lovelace",
            "Ada\u{2029}Lovelace",
            "Ada\u{85}Lovelace",
            "A\u{200B}da",
            "\u{FEFF}Ada",
            "Love\u{AD}lace",
            "Ada\u{2060}",
            "Ada\u{E0041}",
            "Ada\u{200D}Lovelace",
            "\u{200D}👩",
        ] {
            assert_eq!(
                PersonName::parse(hidden),
                Err(InvalidName::NotOneLine),
                "{hidden:?}"
            );
            assert_eq!(OrganizationName::parse(hidden), Err(InvalidName::NotOneLine));
            assert_eq!(LabelName::parse(hidden), Err(InvalidName::NotOneLine));
            assert_eq!(Description::parse(hidden), Err(InvalidDescription::NotOneLine));
        }
        // Line breaks at either end go with the surrounding whitespace.
        assert_eq!(PersonName::parse("\u{2028}Ada\u{2029}").unwrap().as_str(), "Ada");
        // Joiners where they join: an emoji sequence, a Persian word.
        assert!(PersonName::parse("Ada 👩‍💻").is_ok());
        assert!(PersonName::parse("می‌خواهم").is_ok());
        assert!(
            InvalidName::NotOneLine
                .to_string()
                .contains("line or paragraph breaks")
        );
    }

    #[test]
    fn descriptions_are_optional_bounded_lines() {
        assert_eq!(
            Description::parse("  ").map(|d| d.as_str().to_owned()),
            Ok(String::new())
        );
        assert_eq!(Description::parse(" Deploys ").unwrap().as_str(), "Deploys");
        assert_eq!(
            Description::parse(&"x".repeat(501)),
            Err(InvalidDescription::TooLong)
        );
        assert_eq!(Description::parse("a\nb"), Err(InvalidDescription::NotOneLine));
    }

    #[test]
    fn names_are_trimmed_single_lines() {
        assert_eq!(PersonName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(PersonName::parse_optional("   "), Ok(None));
        assert_eq!(PersonName::parse("a\nb"), Err(InvalidName::NotOneLine));
        assert_eq!(
            OrganizationName::parse(&"x".repeat(101)),
            Err(InvalidName::TooLong)
        );
        assert_eq!(OrganizationName::parse(""), Err(InvalidName::Empty));
    }
}
