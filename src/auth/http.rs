//! The HTTP client for token exchanges and profile calls: ureq, blocking,
//! never following redirects (a redirect from a token endpoint is an attack
//! or a misconfiguration, not something to follow with a code in hand).

use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .user_agent("Rollcall")
        .build()
        .into()
}

/// Runs an oauth2 request through ureq.
pub fn send(agent: &ureq::Agent, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let response = agent.run(request).map_err(|error| HttpError(error.to_string()))?;
    let (parts, mut body) = response.into_parts();
    let bytes = body
        .read_to_vec()
        .map_err(|error| HttpError(format!("could not read the answer: {error}")))?;
    Ok(HttpResponse::from_parts(parts, bytes))
}

/// GETs a JSON document with a bearer token.
pub fn get_json(agent: &ureq::Agent, url: &str, token: &str) -> Result<serde_json::Value, HttpError> {
    let mut response = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/json")
        .call()
        .map_err(|error| HttpError(error.to_string()))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|error| HttpError(format!("could not read the answer: {error}")))?;
    if !status.is_success() {
        return Err(HttpError(format!("{url} answered {status}")));
    }
    serde_json::from_str(&text).map_err(|error| HttpError(format!("{url} did not answer JSON: {error}")))
}
