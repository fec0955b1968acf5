//! Text that comes from outside (a form, a query string, a path, a provider's
//! profile) and the rules every piece of it follows: no NUL or other control
//! characters reach the database or a header, and lengths are bounded.

use std::fmt;

/// Whether `text` holds a character that has no place in one line of text:
/// NUL, the other C0 and C1 controls, DEL, and the marks that reorder the
/// text around them.
pub fn has_control(text: &str) -> bool {
    text.chars().any(is_control)
}

/// A control character, or a bidirectional embedding, override or isolate:
/// in a name those make "Ada" read as someone else's, on every page and in
/// every email that shows it.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` holds a control character other than the tab and line
/// breaks a multi-line field (a pasted address list) may carry.
pub fn has_control_beyond_lines(text: &str) -> bool {
    text.chars()
        .any(|c| is_control(c) && !matches!(c, '\t' | '\n' | '\r'))
}

/// One line of text from elsewhere made safe to keep: control characters
/// become spaces, runs of spaces one, and it is cut to `max_chars`. For what a
/// provider sends, which a person cannot be asked to correct.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    for c in text.trim().chars() {
        if count == max_chars {
            break;
        }
        let c = if is_control(c) || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && line.ends_with(' ') {
            continue;
        }
        line.push(c);
        count += 1;
    }
    line.trim_end().to_owned()
}

/// What the Members page is searched for: trimmed, one line, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSearch {
    #[error("a search can have at most {MAX_SEARCH_CHARS} characters")]
    TooLong,
    #[error("a search cannot contain control characters")]
    ControlCharacters,
}

const MAX_SEARCH_CHARS: usize = 200;

impl SearchText {
    /// A search as typed; blank means no search.
    pub fn parse(input: &str) -> Result<Option<Self>, InvalidSearch> {
        let trimmed = input.trim();
        if has_control(trimmed) {
            Err(InvalidSearch::ControlCharacters)
        } else if trimmed.chars().count() > MAX_SEARCH_CHARS {
            Err(InvalidSearch::TooLong)
        } else if trimmed.is_empty() {
            Ok(None)
        } else {
            Ok(Some(Self(trimmed.to_owned())))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SearchText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where to go after signing in: a path on this server, never another site.
///
/// Browsers are lenient with what they follow: they drop tabs and line breaks
/// ("/\t/evil.example" becomes "//evil.example"), read a backslash as a slash,
/// and take "//host" as another host. So the target is refused outright if it
/// holds any of those, and otherwise resolved as a URL reference against this
/// server: it must stay on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

const MAX_PATH_LEN: usize = 2048;
const HERE: &str = "http://rollcall.invalid/";

impl LocalPath {
    pub fn parse(input: &str) -> Option<Self> {
        let plain = input.starts_with('/')
            && !input.starts_with("//")
            && input.len() <= MAX_PATH_LEN
            && !input
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
        if !plain {
            return None;
        }
        let base = url::Url::parse(HERE).ok()?;
        let resolved = base.join(input).ok()?;
        let same_origin = resolved.scheme() == base.scheme()
            && resolved.host_str() == base.host_str()
            && resolved.port() == base.port()
            && resolved.username().is_empty()
            && resolved.password().is_none();
        if !same_origin {
            return None;
        }
        // Dot segments resolve away: "/.//evil.example" is "//evil.example".
        if resolved.path().starts_with("//") {
            return None;
        }
        let mut local = resolved.path().to_owned();
        if let Some(query) = resolved.query() {
            local.push('?');
            local.push_str(query);
        }
        Some(Self(local))
    }

    /// The default: the start page.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_path_on_this_server() {
        assert_eq!(
            LocalPath::parse("/orgs/acme/members?page=2").map(|p| p.0),
            Some("/orgs/acme/members?page=2".to_owned())
        );
        assert_eq!(LocalPath::parse("/a/../b").map(|p| p.0), Some("/b".to_owned()));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\u{b}/evil.example",
            "/\u{c}x",
            "/\0x",
            "/ /evil.example",
            "/\u{a0}x",
            "evil",
            "",
            "javascript:alert(1)",
            "/x\u{85}",
            "/.//evil.example",
            "/..//evil.example",
            "/%2e%2e//evil.example",
            "/profile/../..//evil.example",
            "/a/b/../..//evil.example/path",
        ] {
            assert_eq!(LocalPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(LocalPath::parse(&format!("/{}", "a".repeat(3000))), None);
    }

    #[test]
    fn searches_are_one_bounded_line() {
        assert_eq!(SearchText::parse("  ada ").unwrap().unwrap().as_str(), "ada");
        assert_eq!(SearchText::parse("   "), Ok(None));
        assert_eq!(SearchText::parse("a\0b"), Err(InvalidSearch::ControlCharacters));
        assert_eq!(SearchText::parse(&"x".repeat(201)), Err(InvalidSearch::TooLong));
    }

    #[test]
    fn provider_text_becomes_one_bounded_line() {
        assert_eq!(one_line("  Ada\r\n\tLovelace\u{0}  ", 100), "Ada Lovelace");
        assert_eq!(one_line(&"é".repeat(300_000), 100).chars().count(), 100);
        assert!(!has_control(&one_line("a\u{7f}\u{85}b", 10)));
    }
}
