//! Text that comes from outside (a form, a query string, a path, a provider's
//! profile) and the rules every piece of it follows: no NUL or other control
//! characters reach the database or a header, and lengths are bounded.

use std::fmt;

/// Whether `text` holds a character that must not reach the database, a
/// header or a cursor: NUL, the other C0 and C1 controls, DEL, and the marks
/// that reorder the text around them. What people name things with follows
/// the stricter [`fits_one_line`].
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

/// What a name (of a person, an organization, a token, a service account,
/// a client) or a description must be, in the words every refusal uses.
pub const ONE_LINE_RULE: &str = "one line of visible text, without line or paragraph breaks, \
     control characters, text-direction marks or invisible formatting characters";

/// The one-line rule for what people name things with: no character that
/// breaks the line for someone ([`is_unprintable`]: a JSON Lines reader
/// that honours U+2028 cuts an event in two), reorders the text, or shows
/// nothing, so that two names that look alike are alike. A joiner stays
/// where it can join something ([`joiner_fits`]).
pub fn fits_one_line(text: &str) -> bool {
    let mut before = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let fits = if is_joiner(c) {
            joiner_fits(before, chars.peek().copied())
        } else {
            !is_unprintable(c)
        };
        if !fits {
            return false;
        }
        before = Some(c);
    }
    true
}

/// A character that does not show as itself in one line of text: a
/// control character (C0, DEL, C1 with U+0085 NEXT LINE), the line and
/// paragraph separators (U+2028, U+2029), and the format characters
/// (general category Cf: bidirectional marks, embeddings, overrides and
/// isolates, zero-width space, word joiner, U+FEFF, soft hyphen, tags, the
/// joiners U+200C and U+200D, …). Writers of JSON Lines, CSV and terminal
/// lines escape every one of them, joiners included, whatever a row holds.
pub fn is_unprintable(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_format(c)
}

/// General category Cf, every code point of it in Unicode 16.0
/// (`DerivedGeneralCategory.txt`: 170 code points in 21 ranges), written
/// out rather than taken from a crate: no crate in the build has the
/// categories, and the list changes rarely (a new Unicode version adds a few).
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The zero-width joiner (U+200D) and non-joiner (U+200C): format
/// characters that names need in emoji sequences ("👩‍💻"), Indic conjuncts
/// and Persian words, between two characters they join or keep apart.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// A joiner fits between two characters that it can join or keep apart:
/// visible, not whitespace, not ASCII (where it joins nothing and only
/// makes "ab" differ from "ab"), and not another joiner. Anywhere else
/// (first, last, beside a space or another invisible character) it shows
/// nothing and is refused.
fn joiner_fits(before: Option<char>, after: Option<char>) -> bool {
    before.is_some_and(joinable) && after.is_some_and(joinable)
}

fn joinable(c: char) -> bool {
    !c.is_ascii() && !c.is_whitespace() && !is_unprintable(c)
}

/// One line of text from elsewhere made to fit [`fits_one_line`]: line
/// breaks, controls and other whitespace become spaces, runs of spaces one,
/// invisible characters (and joiners with nothing to join) go, and it is cut
/// to `max_chars`. For what a provider sends, which a person cannot be asked
/// to correct.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    let mut joiner = None;
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() || matches!(c, '\u{2028}' | '\u{2029}') {
            ' '
        } else if is_joiner(c) {
            // Kept only if the next character kept can be joined to the last.
            joiner = joiner
                .or(Some(c))
                .filter(|_| line.chars().next_back().is_some_and(joinable));
            continue;
        } else if is_unprintable(c) {
            continue;
        } else {
            c
        };
        if let Some(joiner) = joiner.take()
            && joinable(c)
            && count + 2 <= max_chars
        {
            line.push(joiner);
            count += 1;
        }
        if c == ' ' && line.ends_with(' ') {
            continue;
        }
        if count == max_chars {
            break;
        }
        line.push(c);
        count += 1;
    }
    line.trim().to_owned()
}

/// `text` with every [`is_unprintable`] character but the joiners written
/// as `\u{…}`: for a CSV cell or a terminal line, which have no escapes of
/// their own, from rows kept before the one-line rule (or anyone's database
/// edit). Joiners stay, as they neither break nor reorder a line.
pub fn escape_unprintable(text: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| is_unprintable(c) && !is_joiner(c);
    if !text.chars().any(escaped) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
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

/// The longest search, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

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
    fn one_line_means_no_break_no_reordering_and_nothing_invisible() {
        for hidden in [
            '\u{0}',
            '\u{1B}',
            '\u{7F}',
            '\u{85}',
            '\u{2028}',
            '\u{2029}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200E}',
            '\u{200F}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{2060}',
            '\u{61C}',
            '\u{180E}',
            '\u{E0001}',
            '\u{E007F}',
        ] {
            assert!(is_unprintable(hidden), "{hidden:?}");
            assert!(!fits_one_line(&format!("Ada{hidden}Lovelace")), "{hidden:?}");
            assert!(!fits_one_line(&format!("アダ{hidden}ラブレス")), "{hidden:?}");
        }
        for name in [
            "Ada Lovelace",
            "Zoë",
            "אדה לאבלייס",
            "👩\u{200D}💻",
            "👩🏽\u{200D}💻",
            "❤\u{FE0F}\u{200D}🔥",
            "क्\u{200D}ष",
            "می\u{200C}خواهم",
        ] {
            assert!(fits_one_line(name), "{name:?}");
        }
        // A joiner with nothing to join.
        for loose in [
            "a\u{200D}b",
            "\u{200D}é",
            "é\u{200D}",
            "é \u{200D}é",
            "é\u{200D}\u{200D}é",
            "é\u{200C}",
            "é\u{200D}\u{200B}é",
        ] {
            assert!(!fits_one_line(loose), "{loose:?}");
        }
    }

    #[test]
    fn the_format_characters_are_unicode_16s_category_cf() {
        let cf: Vec<u32> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| is_format(c))
            .map(u32::from)
            .collect();
        assert_eq!(cf.len(), 170);
        let ranges = 1 + cf.windows(2).filter(|pair| pair[1] != pair[0] + 1).count();
        assert_eq!(ranges, 21);
    }

    #[test]
    fn what_a_provider_sends_is_made_to_fit_one_line() {
        for text in [
            "\u{202E}Ada\u{2028}Lovelace",
            "\u{200D}é\u{200D}\u{200D}é\u{200D}",
            "a\u{200D}b",
            "é\u{200D}",
            "  \u{FEFF} ",
            "\u{200B}\u{200D}👩\u{200D}💻\u{200D}",
            "é\u{200D} é",
            "\u{85}\u{2029}x\u{E0041}",
        ] {
            let line = one_line(text, 100);
            assert!(fits_one_line(&line), "{text:?} became {line:?}");
        }
        assert_eq!(one_line("Love\u{AD}lace\u{2029}Ada", 100), "Lovelace Ada");
        assert_eq!(one_line("👩\u{200D}💻👩\u{200D}💻", 3), "👩\u{200D}💻");
        assert_eq!(one_line("é\u{200D}é", 2), "éé");
    }

    #[test]
    fn escapes_show_what_a_row_holds_without_breaking_the_line() {
        assert_eq!(
            escape_unprintable("Ada\u{2028}\u{202E}\t👩\u{200D}💻"),
            "Ada\\u{2028}\\u{202e}\\u{9}👩\u{200D}💻"
        );
        assert!(matches!(
            escape_unprintable("Ada"),
            std::borrow::Cow::Borrowed("Ada")
        ));
    }

    #[test]
    fn provider_text_becomes_one_bounded_line() {
        assert_eq!(one_line("  Ada\r\n\tLovelace\u{0}  ", 100), "Ada Lovelace");
        assert_eq!(one_line(&"é".repeat(300_000), 100).chars().count(), 100);
        assert!(!has_control(&one_line("a\u{7f}\u{85}b", 10)));
    }
}
