use std::fmt;
use std::str::FromStr;

/// An email address as we store and compare it: trimmed, lower-cased and valid.
///
/// Lower-casing the local part is not what RFC 5321 says, but it is what every
/// mail provider people use does, and it is what makes "Ada@Example.com" and
/// "ada@example.com" one invitee instead of two.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

/// Why a piece of text is not an email address we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{input}” is not a valid email address")]
pub struct InvalidEmail {
    /// The text as it was given, for the message shown back to the person.
    pub input: String,
}

/// The longest address SMTP can carry (RFC 5321, 4.5.3.1.3).
const MAX_LEN: usize = 254;

impl EmailAddress {
    /// Parses one address. Display-name forms ("Ada <ada@x>") are refused: an
    /// address list is addresses only, and a name has its own field.
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let normalized = input.trim().to_lowercase();
        let invalid = || InvalidEmail {
            input: input.trim().to_owned(),
        };
        // One line in every sense, as names are: lettre lets format
        // characters through in the domain (IDNA would drop them), and the
        // address is kept as typed.
        if normalized.len() > MAX_LEN || !super::text::fits_one_line(&normalized) {
            return Err(invalid());
        }
        let address = lettre::Address::from_str(&normalized).map_err(|_| invalid())?;
        // lettre accepts domain literals and dotless hosts; an invitation to
        // "ada@localhost" or "ada@[127.0.0.1]" is a typo far more often than not.
        if !address.domain().contains('.') || address.domain().starts_with('[') {
            return Err(invalid());
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// Whether an organization that allows only `allowed` may have this
    /// address: an empty list allows every address; otherwise the domain
    /// must be one of the list exactly (a subdomain is a domain of its own).
    pub fn is_allowed_by(&self, allowed: &[EmailDomain]) -> bool {
        allowed.is_empty() || allowed.iter().any(|domain| domain.as_str() == self.domain())
    }

    /// The address with most of the local part hidden ("a…@example.com"), for
    /// telling a signed-in person which account an invitation is for without
    /// disclosing the whole address.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}…@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidEmail;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits a pasted list of addresses (separated by commas, semicolons, spaces or
/// new lines) and parses each one, keeping the order and the bad entries so that
/// each can be reported next to what was typed.
pub fn parse_address_list(text: &str) -> Vec<Result<EmailAddress, InvalidEmail>> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(EmailAddress::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        let address = EmailAddress::parse("  Ada.Lovelace@Example.COM \n").unwrap();
        assert_eq!(address.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for input in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "Ada <ada@example.com>",
            "ada@exa mple.com",
            "<script>@example.com",
            "ada@exa\u{AD}mple.com",
            "ada\u{200B}@example.com",
            "ada@example.com\u{2028}x",
            "ada@\u{202E}moc.elpmaxe",
        ] {
            assert!(EmailAddress::parse(input).is_err(), "accepted {input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn splits_lists_on_any_separator() {
        let parsed = parse_address_list("a@x.io, b@x.io;c@x.io\n\nd@x.io  nope");
        let good: Vec<_> = parsed.iter().flatten().map(|a| a.as_str()).collect();
        assert_eq!(good, ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]);
        assert_eq!(parsed[4], Err(InvalidEmail { input: "nope".into() }));
    }

    #[test]
    fn masks_the_local_part() {
        let address = EmailAddress::parse("bob@example.com").unwrap();
        assert_eq!(address.masked(), "b…@example.com");
    }
}

/// A domain that an organization's invitations may go to: `acme.com`.
/// Lower-cased; at least two labels of letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailDomain(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not an email domain: write it as it comes after the @, like example.com")]
pub struct InvalidDomain(pub String);

impl EmailDomain {
    pub fn parse(input: &str) -> Result<Self, InvalidDomain> {
        let trimmed = input.trim();
        let normalized = trimmed.trim_start_matches('@').to_lowercase();
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let labels: Vec<&str> = normalized.split('.').collect();
        // A top-level domain has a letter: "1.2.3.4" is an address, not a domain.
        let tld_ok = labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()));
        if normalized.len() <= 253
            && labels.len() >= 2
            && tld_ok
            && labels.iter().all(|label| label_ok(label))
        {
            Ok(Self(normalized))
        } else {
            Err(InvalidDomain(trimmed.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most domains one organization may list.
pub const MAX_ALLOWED_DOMAINS: usize = 100;

/// A typed list of domains (separated by commas, spaces or new lines), sorted
/// and without repeats; the first bad entry refuses the whole list.
pub fn parse_domain_list(text: &str) -> Result<Vec<EmailDomain>, InvalidDomain> {
    let mut domains = text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(EmailDomain::parse)
        .collect::<Result<Vec<_>, _>>()?;
    domains.sort();
    domains.dedup();
    Ok(domains)
}

/// A list of domains as one field holds it: see [`parse_domain_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainList(pub Vec<EmailDomain>);

impl FromStr for DomainList {
    type Err = InvalidDomain;

    fn from_str(text: &str) -> Result<Self, InvalidDomain> {
        parse_domain_list(text).map(Self)
    }
}

#[cfg(test)]
mod domain_tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(EmailDomain::parse(" @Acme.COM ").unwrap().as_str(), "acme.com");
        for bad in [
            "acme",
            "-acme.com",
            "acme..com",
            "ac me.com",
            "acme.com/",
            "[1.2.3.4]",
            "",
        ] {
            assert!(EmailDomain::parse(bad).is_err(), "{bad}");
        }
        let list = parse_domain_list("b.io, a.io\na.io").unwrap();
        assert_eq!(
            list,
            [
                EmailDomain::parse("a.io").unwrap(),
                EmailDomain::parse("b.io").unwrap()
            ]
        );
        assert!(parse_domain_list("a.io nope").is_err());
    }

    #[test]
    fn only_listed_domains_are_allowed() {
        let ada = EmailAddress::parse("ada@acme.com").unwrap();
        let sub = EmailAddress::parse("ada@eu.acme.com").unwrap();
        let list = [EmailDomain::parse("acme.com").unwrap()];
        assert!(ada.is_allowed_by(&[]));
        assert!(ada.is_allowed_by(&list));
        assert!(!sub.is_allowed_by(&list));
    }
}
