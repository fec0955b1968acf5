//! Every request, once: a request id (sent back as `X-Request-Id`, and on
//! a 500 page so that a user can quote it), one log line (the route's
//! template, never the path: an invitation link's token is in its path), and
//! the request's count and latency for `/metrics`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::errors;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id: this process's random prefix and a count, so that ids
/// from several servers do not collide and making one costs no system call.
fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness the time will do: it only has to tell servers apart.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = std::time::UNIX_EPOCH
                .elapsed()
                .unwrap_or_default()
                .subsec_nanos()
                .to_be_bytes();
        }
        u32::from_be_bytes(bytes)
    });
    format!("{prefix:08x}-{:x}", COUNT.fetch_add(1, Ordering::Relaxed))
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = new_request_id();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id);
    let response = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let status = response.status();
    let elapsed = started.elapsed();
    let mut response = if status.is_server_error() {
        errors::with_reference(response, &id)
    } else {
        response
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let metrics_on = crate::telemetry::metrics_on();
    if !metrics_on && !tracing::enabled!(tracing::Level::INFO) {
        return Ok(response);
    }
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if metrics_on {
        let class = match status.as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        metrics::counter!(crate::telemetry::HTTP_REQUESTS, "route" => route.clone(), "method" => method.to_string(), "status" => class)
            .increment(1);
        metrics::histogram!(crate::telemetry::HTTP_REQUEST_DURATION, "route" => route.clone(), "method" => method.to_string())
            .record(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            %method,
            %route,
            status = status.as_u16(),
            ms = elapsed.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    Ok(response)
}
