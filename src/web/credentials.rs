//! The credentials a request presents, read in one place: the bearer of the
//! `Authorization` header as an API token or an introspection client's
//! secret, and the mark that says it was found live (see `limits`).

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

use crate::domain::{ApiSecret, SecretKind};
use crate::error::Error;

/// The text after `Bearer ` in the `Authorization` header, if there is one.
fn bearer(req: &HttpRequest) -> Option<&str> {
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

/// The introspection client's secret the request presents as its bearer.
pub fn client_secret(req: &HttpRequest) -> Option<ApiSecret> {
    ApiSecret::parse(bearer(req)?)
        .ok()
        .filter(|secret| secret.kind() == SecretKind::Introspection)
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
