//! HTML escaping for the templates (`askama.toml` names it for `.html`).
//!
//! Askama's escaper reads a value one byte at a time. Nearly every value a
//! page shows (ids, names, addresses, dates) has nothing to escape, so this
//! one first looks for the five characters HTML needs escaped, a check the
//! compiler does many bytes at a time, and writes the value as it is when
//! there are none; values that have one are escaped by askama's own escaper.

use std::fmt;

use askama::filters::Escaper;

#[derive(Debug, Clone, Copy)]
pub struct Html;

impl Escaper for Html {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        if needs_escaping(string) {
            askama::filters::Html.write_escaped_str(dest, string)
        } else {
            dest.write_str(string)
        }
    }

    fn write_escaped_char<W: fmt::Write>(&self, dest: W, c: char) -> fmt::Result {
        askama::filters::Html.write_escaped_char(dest, c)
    }
}

/// Whether any byte is one HTML needs escaped. It reads every byte, without
/// stopping early, so that the loop is done many bytes at a time.
fn needs_escaping(string: &str) -> bool {
    string.bytes().fold(false, |found, byte| {
        found | matches!(byte, b'<' | b'>' | b'&' | b'"' | b'\'')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(escaper: impl Escaper, value: &str) -> String {
        let mut out = String::new();
        escaper.write_escaped_str(&mut out, value).expect("write");
        out
    }

    #[test]
    fn escapes_exactly_as_askama_does() {
        let values = [
            "",
            "01a2092f-d94f-747b-8e83-f4a1c8a1efc0",
            "Ada Lovelace",
            "ada@example.com",
            "<script>alert('x')</script>",
            "Tom & Jerry \"T&J\"",
            "a>b",
            "Zoë Ångström — 東京",
            "trailing <",
            "&amp; is already escaped",
        ];
        for value in values {
            assert_eq!(
                escaped(Html, value),
                escaped(askama::filters::Html, value),
                "{value:?}"
            );
        }
        assert_eq!(escaped(Html, "<b>"), "&#60;b&#62;");
    }

    #[test]
    fn every_ascii_character_alone_and_inside_text() {
        for byte in 0u8..=127 {
            let c = char::from(byte);
            for value in [c.to_string(), format!("name{c}name")] {
                assert_eq!(escaped(Html, &value), escaped(askama::filters::Html, &value));
            }
        }
    }
}
