//! The schemas the handlers' types point to, computed from the rules the
//! handlers apply: a pattern here is the domain's own rule, not a copy.

use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::policy;
use crate::domain::text::{MAX_SEARCH_CHARS, has_control};
use crate::domain::{MAX_NETWORKS, PersonName, Role};
use crate::services::members;

/// The API's role names, exactly: what `Role` reads from JSON and a query.
impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Role::all().into_iter().map(Role::as_str)))
            .into()
    }
}

impl ToSchema for Role {}

/// A search of the member list, as `SearchText` takes it.
pub fn search_text() -> Object {
    let mut search = one_line_text(MAX_SEARCH_CHARS);
    search.description = Some("Members whose name or email starts with this text (any case).".to_owned());
    search
}

/// An invitee's name, as `PersonName` takes it; blank or null: no name.
pub fn person_name() -> Object {
    let mut name = one_line_text(PersonName::MAX_CHARS);
    name.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    name
}

/// The networks a token works from: each in CIDR form (`10.0.0.0/8`,
/// `2001:db8::/32`) or a single address, at most [`MAX_NETWORKS`]; whether
/// an address's numbers are in range is for the server to say (422).
pub fn networks() -> Array {
    let network = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[0-9a-fA-F:.]{2,45}(/[0-9]{1,3})?$"));
    ArrayBuilder::new()
        .description(Some("The networks it works from; an empty list: anywhere."))
        .items(network)
        .max_items(Some(MAX_NETWORKS))
        .build()
}

/// A token's name, as `LabelName` takes it: [`one_line_text`] that is not
/// blank (a character that is neither refused nor white space, then at most
/// `max_chars - 1` more).
pub fn label_name() -> Object {
    let refused = character_class(|c| has_control(c.encode_utf8(&mut [0; 4])));
    let space = character_class(char::is_whitespace);
    let more = PersonName::MAX_CHARS - 1;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{space}]*[^{refused}{space}][^{refused}]{{0,{more}}}[{space}]*$"
        )))
        .build()
}

/// The names of the policy's permissions, any of them: whether the caller's
/// role holds one is for the server to say (403).
pub fn permission_names() -> Array {
    let names = policy::current()
        .permissions()
        .iter()
        .map(|row| row.name.clone())
        .collect::<Vec<_>>();
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .min_items(Some(1))
        .build()
}

/// Text that, trimmed, is at most `max_chars` characters without any that
/// [`has_control`] refuses: what the domain's one-line texts take. The
/// pattern says it exactly (leading and trailing white space, then the
/// text), and both character classes are read from the rules themselves
/// (`char::is_whitespace`, which `str::trim` follows, and [`has_control`]),
/// so the document follows them when they change.
fn one_line_text(max_chars: usize) -> Object {
    let refused = character_class(|c| has_control(c.encode_utf8(&mut [0; 4])));
    let space = character_class(char::is_whitespace);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{space}]*[^{refused}]{{0,{max_chars}}}[{space}]*$"
        )))
        .build()
}

/// The characters for which `wanted` holds, as the inside of a regular
/// expression's character class: runs as ranges, the characters themselves
/// (none of them is special inside a class).
fn character_class(wanted: impl Fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(char, char)> = None;
    let close = |run: Option<(char, char)>, class: &mut String| {
        if let Some((first, last)) = run {
            class.push(first);
            if last != first {
                class.push('-');
                class.push(last);
            }
        }
    };
    for c in (char::MIN..=char::MAX).filter(|c| wanted(*c)) {
        run = match run {
            Some((first, last)) if u32::from(last) + 1 == u32::from(c) => Some((first, c)),
            done => {
                close(done, &mut class);
                Some((c, c))
            }
        };
    }
    close(run, &mut class);
    class
}

/// A member list's `cursor`: a previous page's `next_cursor`.
pub fn cursor() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Where to go on: a previous page's `next_cursor`, with the same sort and order.",
        ))
        .min_length(Some(1))
        .max_length(Some(members::MAX_CURSOR_CHARS))
        .pattern(Some("^[A-Za-z0-9_-]+$"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::character_class;

    #[test]
    fn character_classes_are_runs_of_the_characters_wanted() {
        assert_eq!(character_class(|c| c.is_ascii_digit()), "0-9");
        assert_eq!(
            character_class(|c| matches!(c, 'a' | 'c'..='e' | '\u{202A}')),
            "ac-e\u{202A}"
        );
        let controls = character_class(|c| c.is_control());
        assert_eq!(controls, "\u{0}-\u{1F}\u{7F}-\u{9F}");
    }
}
