//! The credentials a request presents, read in one place: the bearer of the
//! `Authorization` header as an API token or an introspection client's
//! secret, and the mark that says it was found live (see `limits`).

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

use crate::domain::{ApiSecret, SecretKind};
use crate::error::Error;

/// The text after `Bearer ` in the `Authorization` header, if there is one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

/// The refusal of an API call without a usable token: `why`, and what to send.
pub fn unauthenticated(why: &str) -> Error {
    Error::Unauthenticated(format!(
        "{why} Send an API token with operations access as Authorization: Bearer <token>."
    ))
}

/// The API token the request presents as its bearer (a personal token or a
/// service-account key).
pub fn api_token(req: &HttpRequest) -> Result<ApiSecret, Error> {
    let presented = bearer(req).ok_or_else(|| unauthenticated("This call needs an API token."))?;
    ApiSecret::parse(presented)
        .ok()
        .filter(|secret| matches!(secret.kind(), SecretKind::Personal | SecretKind::ServiceAccount))
        .ok_or_else(|| unauthenticated("This is not a Rollcall API token."))
}

/// The calls an introspection client (the gateway) makes, with its own
/// secret and its own rate limit.
pub const CLIENT_PATHS: [&str; 2] = ["/api/v1/tokens/introspect", "/api/v1/authorize"];

/// The introspection client's secret the request presents: as its bearer,
/// or as the password of HTTP Basic (`client id:secret`), as RFC 7662
/// gateways such as `mod_auth_openidc` and Kong send it. The secret alone
/// identifies the client; the id is the client's name, for the gateway's
/// own configuration.
pub fn client_secret(req: &HttpRequest) -> Option<ApiSecret> {
    let presented = match bearer(req) {
        Some(secret) => secret.to_owned(),
        None => basic_password(req)?,
    };
    ApiSecret::parse(&presented)
        .ok()
        .filter(|secret| secret.kind() == SecretKind::Introspection)
}

/// The password of `Authorization: Basic`, percent-decoded as RFC 6749
/// (2.3.1) has a client's credentials encoded.
fn basic_password(req: &HttpRequest) -> Option<String> {
    use base64::Engine;
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_, password) = decoded.split_once(':')?;
    percent_encoding::percent_decode_str(password)
        .decode_utf8()
        .ok()
        .map(|password| password.into_owned())
}

/// Put on a request whose credential (an API token, an introspection
/// client's secret) was found live: only such a request counts on the
/// credential's own allowance. An answer that merely is not 401 proves
/// nothing (the API's document, an unknown path, a wrong method).
#[derive(Clone, Copy)]
struct Authenticated;

/// Marks the request as made with a live credential.
pub fn mark_authenticated(req: &HttpRequest) {
    req.extensions_mut().insert(Authenticated);
}

/// Whether the request was marked as made with a live credential.
pub fn was_authenticated(req: &HttpRequest) -> bool {
    req.extensions().contains::<Authenticated>()
}
