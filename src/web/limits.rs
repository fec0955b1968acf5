//! Rate limits: on the JSON API per token, and per client address on what
//! anyone can reach without signing in (sign-in, the development sign-in,
//! invitation pages, the token check). Each server counts for itself, in
//! memory (GCRA, from `governor`).
//!
//! Every answer on a limited route says where its client stands
//! (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, in requests
//! and seconds); one past the limit is 429 with `Retry-After`, a page for a
//! person and a problem document for the API.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};

use super::credentials;
use crate::config::RateLimit;
use crate::error::Error;

/// Who a limit counts: a client address, or the credential presented.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Address(IpAddr),
    Credential([u8; 32]),
}

type Limiter = DefaultKeyedRateLimiter<Client, StateInformationMiddleware>;

/// One class of routes with its limit.
struct Bucket {
    limiter: Limiter,
    requests: u32,
    /// How long one request takes to be forgiven.
    replenish: Duration,
    /// Checks since the limiter last forgot idle clients.
    checks: AtomicU32,
}

/// Clients that stayed away long enough are forgotten every this many checks.
const FORGET_EVERY: u32 = 1 << 16;

impl Bucket {
    fn new(limit: RateLimit) -> Option<Self> {
        let RateLimit::Every { requests, per } = limit else {
            return None;
        };
        let replenish = (per / requests.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(replenish)?.allow_burst(requests);
        Some(Self {
            limiter: governor::RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            requests: requests.get(),
            replenish,
            checks: AtomicU32::new(0),
        })
    }

    /// Counts one request from `client`: the headers to send, or the refusal.
    fn check(&self, client: &Client) -> Result<Standing, (Standing, u64)> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(client) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(Standing {
                    limit: self.requests,
                    remaining,
                    reset: self.seconds(self.requests.saturating_sub(remaining)),
                })
            }
            Err(not_until) => {
                let retry_after = retry_after(not_until.wait_time_from(DefaultClock::default().now()));
                let standing = Standing {
                    limit: self.requests,
                    remaining: 0,
                    reset: self.seconds(self.requests),
                };
                Err((standing, retry_after))
            }
        }
    }

    /// Whole seconds (rounded up) for `requests` to be forgiven.
    fn seconds(&self, requests: u32) -> u64 {
        let wait = self.replenish.saturating_mul(requests);
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }
}

/// Where a client stands against its limit, as the headers say it.
struct Standing {
    limit: u32,
    remaining: u32,
    reset: u64,
}

impl Standing {
    fn write(&self, headers: &mut actix_web::http::header::HeaderMap) {
        for (name, value) in [
            ("ratelimit-limit", u64::from(self.limit)),
            ("ratelimit-remaining", u64::from(self.remaining)),
            ("ratelimit-reset", self.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

/// Every limit of one server.
pub struct RateLimits {
    api: Option<Bucket>,
    public: Option<Bucket>,
    introspection: Option<Bucket>,
    /// Requests on the API and the token check without a working credential
    /// (none, a made-up one, a revoked one), per client address: apart from
    /// what credentials spend, so that nobody's allowance depends on what a
    /// neighbour behind the same address sends.
    refused: Option<Bucket>,
    /// Digests of the credentials (API tokens, introspection clients' secrets)
    /// that have worked here.
    working: RwLock<HashSet<[u8; 32]>>,
}

/// The most working credentials remembered; past it, all are learnt again.
const MAX_WORKING: usize = 100_000;

impl RateLimits {
    pub fn new(api: RateLimit, public: RateLimit, introspection: RateLimit) -> Self {
        Self {
            api: Bucket::new(api),
            public: Bucket::new(public),
            introspection: Bucket::new(introspection),
            refused: Bucket::new(public),
            working: RwLock::default(),
        }
    }

    fn has_worked(&self, digest: &[u8; 32]) -> bool {
        self.working
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(digest)
    }

    /// Remembers that a credential was found live here.
    fn remember(&self, digest: &[u8; 32]) {
        if self.has_worked(digest) {
            return;
        }
        let mut working = self.working.write().unwrap_or_else(PoisonError::into_inner);
        if working.len() >= MAX_WORKING {
            working.clear();
        }
        working.insert(*digest);
    }

    /// Forgets a credential that no longer works (revoked, expired).
    fn forget(&self, digest: &[u8; 32]) {
        if self.has_worked(digest) {
            self.working
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(digest);
        }
    }

    /// The limit on a route counted by the credential presented, and the
    /// credential's digest if one was presented at all.
    fn by_credential(&self, req: &ServiceRequest) -> Option<(Option<&Bucket>, Option<[u8; 32]>)> {
        let path = req.path();
        if credentials::CLIENT_PATHS.contains(&path) {
            let client = credentials::client_secret(req.request()).map(|secret| secret.digest());
            Some((self.introspection.as_ref(), client))
        } else if path.starts_with("/api/") {
            let token = credentials::api_token(req.request())
                .ok()
                .map(|secret| secret.digest());
            Some((self.api.as_ref(), token))
        } else {
            None
        }
    }
}

fn was_authenticated(response: &ServiceResponse<BoxBody>) -> bool {
    credentials::was_authenticated(response.request())
}

/// The routes anyone can reach without signing in, which do work (a
/// provider round trip, a database read of a link).
fn is_public(path: &str) -> bool {
    path == "/login/dev"
        || path.starts_with("/auth/")
        || path.starts_with("/invite/")
        || path.starts_with("/invitation")
}

/// Counts each request on a limited route against its client's allowance.
///
/// A credential that has worked here is counted on its own allowance before
/// its request runs. Any other request runs first: if its credential is
/// found live (the first call of a token new to this server), that call is
/// its own allowance's first; if not (no credential, a made-up or revoked
/// one), it is counted against its address's allowance for requests
/// without a working credential, and past that its answer becomes 429. So
/// a live token is never refused for what others sent from its address.
pub async fn limit_rates(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let address = super::context::client_ip(req.request()).map(Client::Address);
    let Some((bucket, credential)) = limits.by_credential(&req) else {
        let counted = match (is_public(req.path()), limits.public.as_ref(), address) {
            (true, Some(bucket), Some(address)) => Some(bucket.check(&address)),
            _ => None,
        };
        return match counted {
            Some(Err((standing, retry_after))) => Ok(refuse(req, standing, retry_after)),
            Some(Ok(standing)) => Ok(with_standing(
                next.call(req).await?.map_into_boxed_body(),
                &standing,
            )),
            None => Ok(next.call(req).await?.map_into_boxed_body()),
        };
    };
    if let (Some(bucket), Some(digest)) = (bucket, credential.filter(|digest| limits.has_worked(digest))) {
        return match bucket.check(&Client::Credential(digest)) {
            Err((standing, retry_after)) => Ok(refuse(req, standing, retry_after)),
            Ok(standing) => {
                let response = next.call(req).await?.map_into_boxed_body();
                if response.status() == StatusCode::UNAUTHORIZED {
                    limits.forget(&digest);
                }
                Ok(with_standing(response, &standing))
            }
        };
    }
    let response = next.call(req).await?.map_into_boxed_body();
    if let (true, Some(digest)) = (was_authenticated(&response), credential) {
        limits.remember(&digest);
        let Some(bucket) = bucket else {
            return Ok(response);
        };
        let standing = match bucket.check(&Client::Credential(digest)) {
            Ok(standing) | Err((standing, _)) => standing,
        };
        return Ok(with_standing(response, &standing));
    }
    let (Some(refused), Some(address)) = (limits.refused.as_ref(), address) else {
        return Ok(response);
    };
    match refused.check(&address) {
        Ok(standing) => Ok(with_standing(response, &standing)),
        Err((standing, retry_after)) => {
            let (req, _) = response.into_parts();
            let mut refusal = Error::RateLimited { retry_after }.error_response();
            standing.write(refusal.headers_mut());
            Ok(ServiceResponse::new(req, refusal))
        }
    }
}

fn with_standing(mut response: ServiceResponse<BoxBody>, standing: &Standing) -> ServiceResponse<BoxBody> {
    standing.write(response.headers_mut());
    response
}

fn refuse(req: ServiceRequest, standing: Standing, retry_after: u64) -> ServiceResponse<BoxBody> {
    let mut refusal = Error::RateLimited { retry_after }.error_response();
    standing.write(refusal.headers_mut());
    req.into_response(refusal)
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least one (a
/// proxy reads `0` as no wait at all).
pub fn retry_after(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn a_client_past_its_limit_waits_and_others_do_not() {
        let bucket = Bucket::new(RateLimit::from_str("3/min").unwrap()).unwrap();
        let one = Client::Address("192.0.2.1".parse().unwrap());
        let other = Client::Address("192.0.2.2".parse().unwrap());
        let remaining: Vec<u32> = (0..3)
            .map(|_| {
                bucket
                    .check(&one)
                    .map(|standing| standing.remaining)
                    .unwrap_or(99)
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let Err((standing, retry_after)) = bucket.check(&one) else {
            panic!("the fourth request in a minute is refused");
        };
        assert_eq!(standing.remaining, 0);
        assert!((1..=20).contains(&retry_after), "{retry_after}");
        assert!(bucket.check(&other).is_ok());
    }
}
