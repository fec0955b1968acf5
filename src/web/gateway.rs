//! The gateway's check (`/gateway/check`, any method), for a proxy in front
//! of the platform: nginx `auth_request`, Caddy `forward_auth`, Traefik
//! `forwardAuth`. The proxy sends a copy of the caller's request (its
//! headers, no body) with the original method and path in
//! `X-Forwarded-Method`/`X-Forwarded-Uri` or `X-Original-Method`/
//! `X-Original-URI`, and its own introspection client's secret in
//! `X-Rollcall-Client`; it acts on the status: 200 lets the request through
//! (with who the caller is in `X-Rollcall-*` headers for the upstream), 401
//! and 403 refuse it. What the request needs is the operator's route rules
//! (the policy file's `[[routes]]`); a request no rule matches is refused.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::ApiSecret;
use crate::domain::policy::{self, Owner};
use crate::error::Error;
use crate::services::tokens::Checked;
use crate::web::state::AppState;

/// Where the proxy puts its introspection client's secret: `Authorization`
/// is the caller's.
const CLIENT_HEADER: &str = "X-Rollcall-Client";

/// The header the caller's token may come in instead of
/// `Authorization: Bearer` (`ROLLCALL_GATEWAY_TOKEN_HEADER`, `X-Api-Key`).
#[derive(Debug, Clone, Default)]
pub struct GatewayTokenHeader(pub Option<HeaderName>);

fn header<'a>(req: &'a HttpRequest, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| req.headers().get(*name))
        .and_then(|value| value.to_str().ok())
}

fn answer(status: StatusCode, words: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall\""));
    }
    response
        .content_type("text/plain; charset=utf-8")
        .body(format!("{words}\n"))
}

/// The check. See the module's documentation for what it reads and answers.
pub async fn check(
    state: web::Data<AppState>,
    token_header: web::Data<GatewayTokenHeader>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (outcome, response) = decide(&state, &token_header, &req).await?;
    metrics::counter!(crate::telemetry::GATEWAY_CHECKS, "outcome" => outcome).increment(1);
    Ok(response)
}

/// The answer, and what it was for the metrics.
async fn decide(
    state: &AppState,
    token_header: &GatewayTokenHeader,
    req: &HttpRequest,
) -> Result<(&'static str, HttpResponse), Error> {
    let client = header(req, &[CLIENT_HEADER]).and_then(|text| ApiSecret::parse(text).ok());
    let known = match client {
        Some(client) => state.is_client(client).await?,
        None => false,
    };
    if !known {
        // Not the caller's fault: the proxy is not set up. A proxy takes any
        // answer but 2xx, 401 and 403 for an error, and lets nobody through.
        return Ok((
            "proxy_not_set_up",
            answer(
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                "The proxy must send an introspection client's secret in X-Rollcall-Client.",
            ),
        ));
    }
    let Some(uri) = header(req, &["X-Forwarded-Uri", "X-Original-URI"]) else {
        return Ok((
            "no_path",
            answer(
                StatusCode::BAD_REQUEST,
                "The proxy must send the original path in X-Forwarded-Uri or X-Original-URI.",
            ),
        ));
    };
    let method = header(req, &["X-Forwarded-Method", "X-Original-Method"]).unwrap_or(req.method().as_str());
    let path = uri.split(['?', '#']).next().unwrap_or_default();

    let presented = match &token_header.0 {
        Some(name) => req.headers().get(name).and_then(|value| value.to_str().ok()),
        None => None,
    }
    .or_else(|| super::credentials::bearer(req));
    let Some(presented) = presented else {
        return Ok((
            "no_token",
            answer(StatusCode::UNAUTHORIZED, "This call needs an API token."),
        ));
    };
    // A mistyped token fails its checksum here, without a database read.
    let Ok(secret) = ApiSecret::parse(presented) else {
        return Ok((
            "not_a_token",
            answer(StatusCode::UNAUTHORIZED, "This is not a Rollcall API token."),
        ));
    };
    // The caller's address as the proxy forwards it; never the proxy's own.
    let client_ip = crate::web::context::proxied_client(req);
    let grant = match state.live_token(secret, client_ip).await? {
        Checked::Live(grant) => grant,
        Checked::Inactive => {
            return Ok((
                "inactive",
                answer(
                    StatusCode::UNAUTHORIZED,
                    "The token is not active: it is unknown, expired or revoked, or its holder is gone.",
                ),
            ));
        }
        Checked::OutsideNetworks(_) => {
            return Ok((
                "outside_networks",
                answer(StatusCode::FORBIDDEN, &outside_networks(client_ip)),
            ));
        }
        Checked::RateSpent { retry_after, .. } => {
            let seconds = crate::web::limits::retry_after(retry_after);
            let mut response = answer(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("This key's rate is spent. Try again in {seconds} seconds."),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            return Ok(("rate_spent", response));
        }
    };
    let Some(matched) = policy::current().route(method, path) else {
        let words = format!(
            "No route rule lets anyone {} {}.",
            method.chars().take(16).collect::<String>(),
            path.chars().take(200).collect::<String>()
        );
        return Ok(("no_route", answer(StatusCode::FORBIDDEN, &words)));
    };
    let owner = match matched.owner {
        Some(owner) if !grant.subject.is(owner) => Owner::Other,
        _ => Owner::Caller,
    };
    match grant.powers().may(matched.rule.permission, owner) {
        Ok(permission) => Ok((
            "allowed",
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header(("X-Rollcall-Org", &*grant.org_slug))
                .insert_header(("X-Rollcall-Subject", grant.subject.to_string()))
                .insert_header(("X-Rollcall-Kind", grant.kind.as_str()))
                .insert_header(("X-Rollcall-Role", grant.role.as_str()))
                .insert_header(("X-Rollcall-Token", grant.token_id.to_string()))
                .insert_header(("X-Rollcall-Permission", permission.name()))
                .finish(),
        )),
        Err(denied) => Ok(("forbidden", answer(StatusCode::FORBIDDEN, &denied.to_string()))),
    }
}

/// Why a live token is refused from where it was used.
pub fn outside_networks(client_ip: Option<std::net::IpAddr>) -> String {
    match client_ip {
        Some(ip) => {
            format!("This token may not be used from {ip}: it works only from the networks set on it.")
        }
        None => "This token works only from the networks set on it, and the caller's address is not known."
            .to_owned(),
    }
}
