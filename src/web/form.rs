//! The one way a state-changing request's body is read: a size limit, URL
//! encoding, and the CSRF check, before any handler runs.

use std::fmt;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::{Deserialize, Deserializer, forward_to_deserialize_any};

use super::session::SessionState;
use crate::domain::text::{has_control, has_control_beyond_lines};
use crate::error::Error;
use crate::services::submissions::{self, OnceValue};

/// Bodies above this are refused with 413: enough for 2,000 invitation rows.
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// The form field and the header (set by htmx) that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A posted form whose CSRF token matched the session's.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first value of a field.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the form has a field: which of a page's forms this is.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The one-time value the form carries, if any (see
    /// [`crate::services::submissions`]); one this server cannot have made
    /// is refused.
    pub fn once_value(&self) -> Result<Option<OnceValue>, Error> {
        self.get(submissions::FIELD)
            .map(|text| OnceValue::parse(text, crate::services::now()))
            .transpose()
    }

    /// The form as the struct a page declares for it, in one call. The
    /// struct denies unknown fields; a field it does not hold as optional
    /// must be there, one it does not hold as a list must be there once.
    /// The CSRF token and the one-time value are the extractor's and
    /// [`Form::once_value`]'s, and never the struct's.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut grouped: Vec<(&str, Values<'_>)> = Vec::new();
        for (key, value) in &self.fields {
            if key == CSRF_FIELD || key == submissions::FIELD {
                continue;
            }
            match grouped.iter_mut().find(|(name, _)| name == key) {
                Some((_, values)) => values.texts.push(value),
                None => grouped.push((
                    key,
                    Values {
                        name: key,
                        texts: vec![value],
                    },
                )),
            }
        }
        T::deserialize(MapDeserializer::new(grouped.into_iter()))
            .map_err(|FormRefusal(words)| Error::Invalid(words))
    }
}

/// A field as it was typed and as it parses: a page that refuses the value
/// shows the text again beside the reason, and one that does not asks for
/// [`Typed::value`].
#[derive(Debug)]
pub struct Typed<T: FromStr> {
    pub text: String,
    pub parsed: Result<T, T::Err>,
}

impl<T: FromStr> Typed<T>
where
    Error: From<T::Err>,
{
    /// The value, or the domain's refusal as the application's error.
    pub fn value(self) -> Result<T, Error> {
        self.parsed.map_err(Error::from)
    }
}

impl<'de, T: FromStr> Deserialize<'de> for Typed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self {
            parsed: text.parse(),
            text,
        })
    }
}

/// Why a form does not fit its page's struct: not what anyone types, but
/// a form this page did not make (an old tab, a hand-made request).
#[derive(Debug)]
struct FormRefusal(String);

impl fmt::Display for FormRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormRefusal {}

impl de::Error for FormRefusal {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self(format!(
            "The form could not be read ({message}). Reload the page and try again."
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        Self(format!(
            "The form has no “{field}” field. Reload the page and try again."
        ))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self(format!(
            "The form has a field “{}” that this page does not send. Reload the page and try again.",
            field.chars().take(40).collect::<String>()
        ))
    }
}

/// Every value a form gives one field, in order.
struct Values<'a> {
    name: &'a str,
    texts: Vec<&'a str>,
}

impl<'de> IntoDeserializer<'de, FormRefusal> for Values<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Values<'_> {
    type Error = FormRefusal;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormRefusal> {
        match self.texts.as_slice() {
            [text] => visitor.visit_str(text),
            _ => Err(FormRefusal(format!(
                "The form has the “{}” field more than once. Reload the page and try again.",
                self.name.chars().take(40).collect::<String>()
            ))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormRefusal> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormRefusal> {
        visitor.visit_seq(SeqDeserializer::new(self.texts.into_iter()))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct map
        struct enum identifier ignored_any
    }
}

impl FromRequest for Form {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<usize>().ok());
            if declared.is_some_and(|length| length > MAX_FORM_BYTES) {
                return Err(Error::TooLarge { limit: "512 KiB" });
            }
            let mut body = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| Error::Invalid("The form could not be read; try again.".to_owned()))?;
                if body.len() + chunk.len() > MAX_FORM_BYTES {
                    return Err(Error::TooLarge { limit: "512 KiB" });
                }
                body.extend_from_slice(&chunk);
            }
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_none_or(|value| value.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return Err(Error::Invalid(
                    "Send the form as application/x-www-form-urlencoded.".to_owned(),
                ));
            }
            let fields = decode_strictly(&body).ok_or_else(|| {
                Error::Invalid(
                    "The form is not valid UTF-8 text. Check what was entered and try again.".to_owned(),
                )
            })?;
            let form = Form { fields };
            let session = SessionState::from_http(&req);
            let presented = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok())
                .or_else(|| form.get(CSRF_FIELD));
            if !presented.is_some_and(|token| session.csrf_matches(token)) {
                return Err(Error::CsrfRejected);
            }
            // No field holds a control character but the line breaks of a
            // pasted list; NUL above all would reach the database.
            let unusable = form
                .fields
                .iter()
                .any(|(key, value)| has_control(key) || has_control_beyond_lines(value));
            if unusable {
                return Err(Error::Invalid(
                    "The form holds characters that cannot be used (control characters or text-direction marks). Remove them and try again."
                        .to_owned(),
                ));
            }
            Ok(form)
        })
    }
}

/// Decodes `application/x-www-form-urlencoded` like the `url` crate does,
/// but refuses bytes that are not UTF-8 instead of replacing them with U+FFFD
/// (a name of replacement characters is nobody's name).
fn decode_strictly(body: &[u8]) -> Option<Vec<(String, String)>> {
    let decode = |part: &[u8]| -> Option<String> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&byte| if byte == b'+' { b' ' } else { byte })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    body.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&byte| byte == b'=');
            let key = decode(halves.next().unwrap_or_default())?;
            let value = decode(halves.next().unwrap_or_default())?;
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::{Form, Typed, decode_strictly};
    use crate::domain::Role;
    use crate::error::Error;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Example {
        role: Typed<Role>,
        note: Option<String>,
        #[serde(default)]
        row: Vec<String>,
    }

    fn parsed(body: &str) -> Result<Example, String> {
        let form = Form {
            fields: decode_strictly(body.as_bytes()).unwrap_or_default(),
        };
        form.parse::<Example>().map_err(|error| match error {
            Error::Invalid(words) => words,
            other => format!("not refused as input: {other:?}"),
        })
    }

    #[test]
    fn a_form_is_read_into_its_struct_or_refused_whole() {
        let example = parsed("csrf_token=t&once=o&role=admin&row=a&row=b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(example.role.parsed.ok(), Some(Role::ADMIN));
        assert_eq!(
            (example.note, example.row),
            (None, vec!["a".to_owned(), "b".to_owned()])
        );

        let typed_wrong = parsed("role=emperor").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(typed_wrong.role.text, "emperor");
        assert!(typed_wrong.role.value().is_err());

        for (body, refusal) in [
            ("note=x", "The form has no “role” field."),
            (
                "role=admin&role=viewer",
                "The form has the “role” field more than once.",
            ),
            (
                "role=admin&note=a&note=b",
                "The form has the “note” field more than once.",
            ),
            (
                "role=admin&owner=1",
                "The form has a field “owner” that this page does not send.",
            ),
        ] {
            let words = parsed(body).err().unwrap_or_default();
            assert!(words.starts_with(refusal), "{body}: {words}");
        }
    }

    #[test]
    fn decodes_forms_and_refuses_what_is_not_utf8() {
        assert_eq!(
            decode_strictly(b"a=1&b=x+y%21&c=&d"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new()),
                ("d".into(), String::new())
            ])
        );
        assert_eq!(
            decode_strictly("name=%C3%A9".as_bytes()),
            Some(vec![("name".into(), "é".into())])
        );
        for bad in [&b"name=%FF"[..], b"name=%C0%80", b"name=%ED%A0%80", b"name=\xfe"] {
            assert_eq!(decode_strictly(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
