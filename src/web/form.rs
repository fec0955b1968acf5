//! The one way a state-changing request's body is read: a size limit, URL
//! encoding, and the CSRF check, before any handler runs.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

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
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A field's value, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// The one-time value the form carries, if any (see
    /// [`crate::services::submissions`]); one this server cannot have made
    /// is refused.
    pub fn once_value(&self) -> Result<Option<OnceValue>, Error> {
        self.get(submissions::FIELD)
            .map(|text| OnceValue::parse(text, crate::services::now()))
            .transpose()
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
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
    use super::decode_strictly;

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
