//! The token check for the platform's gateway: `POST /api/v1/tokens/introspect`
//! in the shape of RFC 7662. It sits in front of every inference call, so
//! answers are kept in memory; every server watches the database's record of
//! changes (`auth_changes`) a few times a second and forgets what it keeps
//! when one appears, so a revocation on any server holds on every server
//! within a second.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::db::DbPool;
use crate::domain::{AccessLevel, ApiSecret};
use crate::error::Error;
use crate::services::tokens::{self, TokenGrant, Use};
use crate::services::{introspection, now};
use crate::web::state::AppState;

/// How often each server looks for changes.
const WATCH_EVERY: Duration = Duration::from_millis(200);
/// How many of the newest change ids are compared on each look: a change
/// that commits after newer ones is still seen.
const WATCH_WINDOW: i64 = 500;
/// How many changes the table keeps.
const CHANGES_KEPT: i64 = 10_000;
/// How often the uses noted since are written.
const RECORD_USES_EVERY: Duration = Duration::from_secs(1);
/// Every how many writes of uses the record of changes is pruned (a minute).
const PRUNE_EVERY: u64 = 60;
/// How often the last use of a token is written, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// The most answers kept; past it they are all forgotten and read again.
const MAX_KEPT: usize = 200_000;
/// How long kept answers are used after the last look that read the
/// changes: a change made on another server holds here within this, even
/// while the database is too slow to answer the looks.
const TRUST_FOR: Duration = Duration::from_secs(1);

struct Kept {
    grant: Arc<TokenGrant>,
    /// When this server last noted a use, in seconds since it started (0:
    /// never); an atomic, so that a kept answer is read under a shared lock.
    noted: AtomicU64,
}

/// What this server keeps of the token check's answers, keyed by the
/// SHA-256 of the secret.
#[derive(Default)]
pub struct TokenCache {
    grants: RwLock<HashMap<[u8; 32], Kept>>,
    clients: RwLock<HashSet<[u8; 32]>>,
    /// Uses not yet written, by token id: the watcher writes them together.
    uses: Mutex<HashMap<String, Use>>,
    /// When the watcher last read the changes, in milliseconds since the
    /// server started (0: not yet, or it could not). Kept answers are used
    /// for [`TRUST_FOR`] after it.
    looked_at: AtomicU64,
    /// How many times kept answers were forgotten: an answer read from the
    /// database while they were is not kept, since it may predate the change.
    forgotten: AtomicU64,
    started: Started,
}

/// When the server started: the clock of the uses it notes.
struct Started(Instant);

impl Default for Started {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Started {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl TokenCache {
    /// Forgets every kept answer: the change just made on this server is
    /// seen here at once (the others see it within a second).
    pub(crate) fn forget_all(&self) {
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        self.grants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.clients
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn trusted(&self) -> bool {
        let looked_at = self.looked_at.load(Ordering::Acquire);
        looked_at != 0 && self.started.millis().saturating_sub(looked_at) <= TRUST_FOR.as_millis() as u64
    }

    /// Notes a look at the changes that began at `began` (milliseconds
    /// since the server started) and succeeded.
    fn looked(&self, began: u64) {
        self.looked_at.store(began.max(1), Ordering::Release);
    }

    fn distrust(&self) {
        self.looked_at.store(0, Ordering::Release);
        self.forget_all();
    }

    /// Where forgetting stands now: to be handed back to [`Self::keep_grant`]
    /// or [`Self::keep_client`] with what was read after it.
    fn generation(&self) -> u64 {
        self.forgotten.load(Ordering::Acquire)
    }

    /// The kept answer for a secret, and whether this use is to be written
    /// as the token's last: once a minute per token on this server (the
    /// database write is conditional too, so several servers write it at
    /// most once a minute between them).
    fn grant(&self, hash: &[u8; 32]) -> Option<(Arc<TokenGrant>, bool)> {
        if !self.trusted() {
            return None;
        }
        let grants = self.grants.read().unwrap_or_else(PoisonError::into_inner);
        let kept = grants.get(hash)?;
        let at = self.started.elapsed().as_secs().max(1);
        let noted = kept.noted.load(Ordering::Relaxed);
        let due = (noted == 0 || at.saturating_sub(noted) >= TOUCH_EVERY.as_secs())
            && kept
                .noted
                .compare_exchange(noted, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        Some((Arc::clone(&kept.grant), due))
    }

    /// Keeps an answer read since `generation`, unless kept answers were
    /// forgotten meanwhile; its use is noted with it.
    fn keep_grant(&self, hash: [u8; 32], grant: Arc<TokenGrant>, generation: u64) {
        if !self.trusted() {
            return;
        }
        let at = self.started.elapsed().as_secs().max(1);
        let mut grants = self.grants.write().unwrap_or_else(PoisonError::into_inner);
        // Under the lock that forgetting takes after counting: an answer
        // kept before a change is forgotten with the others, one read
        // before it and kept after is not kept at all.
        if self.generation() != generation {
            return;
        }
        if grants.len() >= MAX_KEPT {
            grants.clear();
        }
        grants.entry(hash).or_insert(Kept {
            grant,
            noted: AtomicU64::new(at),
        });
    }

    /// Notes a use, to be written with others within a second.
    pub(super) fn note_use(&self, used: Use) {
        self.uses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(used.token_id.clone(), used);
    }

    fn take_uses(&self) -> Vec<Use> {
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        uses.drain().map(|(_, used)| used).collect()
    }

    fn knows_client(&self, hash: &[u8; 32]) -> bool {
        self.trusted()
            && self
                .clients
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(hash)
    }

    fn keep_client(&self, hash: [u8; 32], generation: u64) {
        if !self.trusted() {
            return;
        }
        let mut clients = self.clients.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation() == generation {
            clients.insert(hash);
        }
    }
}

/// Watches `auth_changes` until aborted, forgetting kept answers on every
/// change; and, apart, writes the tokens' last uses once a second and prunes
/// the changes: a write that waits (for a locked table) must not hold up
/// the look that keeps the kept answers trusted.
///
/// The look has a connection of its own (`watching`): requests that hold every
/// pooled connection while they wait for a locked table must not keep it
/// from confirming that nothing changed.
pub fn spawn_watcher(
    pool: DbPool,
    watching: DbPool,
    cache: Arc<TokenCache>,
) -> actix_web::rt::task::JoinHandle<()> {
    let looking = watch_changes(watching, Arc::clone(&cache));
    let recording = record_uses(pool, cache);
    actix_web::rt::spawn(async move {
        futures_util::future::join(looking, recording).await;
    })
}

async fn watch_changes(pool: DbPool, cache: Arc<TokenCache>) {
    let mut seen: Option<BTreeSet<i64>> = None;
    loop {
        let after = seen
            .as_ref()
            .and_then(|ids| ids.last())
            .map_or(0, |newest| newest - WATCH_WINDOW);
        // Answers kept are trusted from when the look began: what it read is
        // as of then, however long it took.
        let began = cache.started.millis();
        let read = pool.clone();
        let found = web::block(move || introspection::changes_after(&mut *read.get()?, after))
            .await
            .map_err(|error| Error::DatabaseUnavailable(error.to_string()))
            .and_then(|found| found);
        match found {
            Ok(ids) => {
                let ids: BTreeSet<i64> = ids.into_iter().collect();
                let changed = match &seen {
                    Some(known) => ids.iter().any(|id| !known.contains(id)),
                    None => true,
                };
                if changed {
                    cache.forget_all();
                }
                seen = Some(ids);
                cache.looked(began);
            }
            Err(error) => {
                if cache.trusted() {
                    tracing::warn!(%error, "cannot watch token changes; token checks read the database until it can");
                }
                cache.distrust();
                seen = None;
            }
        }
        actix_web::rt::time::sleep(WATCH_EVERY).await;
    }
}

async fn record_uses(pool: DbPool, cache: Arc<TokenCache>) {
    let mut rounds: u64 = 0;
    loop {
        actix_web::rt::time::sleep(RECORD_USES_EVERY).await;
        let uses = cache.take_uses();
        let prune = rounds.is_multiple_of(PRUNE_EVERY);
        let write = pool.clone();
        let written = web::block(move || -> Result<(), Error> {
            let mut conn = write.get()?;
            if let Err(error) = tokens::record_uses(&mut conn, &uses) {
                tracing::warn!(%error, tokens = uses.len(), "could not record tokens' last uses");
            }
            if prune {
                introspection::prune_changes(&mut conn, CHANGES_KEPT)?;
            }
            Ok(())
        })
        .await;
        if let Ok(Err(error)) = written {
            tracing::warn!(%error, "could not prune the record of token changes");
        }
        rounds += 1;
    }
}

/// What the token with this secret may do now, if it is live: from what this
/// server keeps, else from the database. Its use (from `client_ip`) is noted
/// and written with others within a second, not before the answer.
pub async fn live_grant(
    state: &AppState,
    secret: ApiSecret,
    client_ip: Option<IpAddr>,
) -> Result<Option<Arc<TokenGrant>>, Error> {
    let hash = secret.digest();
    let (grant, due) = match state.tokens.grant(&hash) {
        Some(kept) => kept,
        None => {
            let generation = state.tokens.generation();
            let Some(grant) = state.read(move |conn| tokens::grant(conn, &secret)).await? else {
                return Ok(None);
            };
            let grant = Arc::new(grant);
            state.tokens.keep_grant(hash, Arc::clone(&grant), generation);
            (grant, true)
        }
    };
    if !grant.is_active(now()) {
        return Ok(None);
    }
    if due {
        state.tokens.note_use(Use {
            token_id: grant.token_id.clone(),
            at: now(),
            client_ip: client_ip.map(|ip| ip.to_string()),
        });
    }
    Ok(Some(grant))
}

fn inactive() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "active": false }))
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "invalid_client",
            "error_description": "Send an introspection client's secret as Authorization: Bearer <secret>."
        }))
}

/// Whether the body is a form (RFC 7662's only encoding), as it says or as
/// a request that says nothing is taken to be.
fn is_form(req: &HttpRequest) -> bool {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    content_type
        .to_str()
        .ok()
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A body in another encoding (JSON, say) is refused rather than read as an
/// empty form: that would answer `active: false` for a live token.
fn not_a_form() -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "invalid_request",
            "error_description": "Send the token as a form (Content-Type: application/x-www-form-urlencoded): token=…"
        }))
}

/// The scope a token acts with (RFC 7662: space-separated): operations
/// tokens reach the inference endpoints too.
fn scope(access: AccessLevel) -> &'static str {
    match access {
        AccessLevel::Operations => "operations inference",
        AccessLevel::Inference => "inference",
    }
}

/// The token check (RFC 7662), for the platform's gateway: authenticated by
/// an introspection client's secret as the bearer. Anything that is not a
/// live token is `{"active": false}`, with no reason given.
#[utoipa::path(post, path = "/api/v1/tokens/introspect", tag = "tokens",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "`token=…`: the token the gateway was given; optionally `client_ip=…`, its caller's address, recorded as the token's last use"),
    responses(
        (status = 200, description = "For a live token; only `active: false` otherwise", body = IntrospectionAnswer),
        (status = 400, description = "A body that is not a form (`invalid_request`)", body = OAuthError),
        (status = 401, description = "No introspection client's secret (`invalid_client`)", body = OAuthError,
            headers(("WWW-Authenticate" = String))),
    ),
    security(("introspection_client" = [])))]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let Some(client) = super::credentials::client_secret(&req) else {
        return Ok(unauthorized());
    };
    let client_hash = client.digest();
    if !state.tokens.knows_client(&client_hash) {
        let generation = state.tokens.generation();
        let known = state
            .read(move |conn| introspection::is_client(conn, &client))
            .await?;
        if !known {
            return Ok(unauthorized());
        }
        state.tokens.keep_client(client_hash, generation);
    }
    super::credentials::mark_authenticated(&req);
    if !is_form(&req) {
        return Ok(not_a_form());
    }
    let mut presented = None;
    let mut client_ip = None;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "token" => presented = Some(value.into_owned()),
            "client_ip" => client_ip = value.parse::<IpAddr>().ok(),
            _ => {}
        }
    }
    let Some(secret) = presented.and_then(|text| ApiSecret::parse(&text).ok()) else {
        return Ok(inactive());
    };
    let client_ip = client_ip.or_else(|| super::context::client_ip(&req));
    let Some(grant) = live_grant(&state, secret, client_ip).await? else {
        return Ok(inactive());
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Active {
            active: true,
            org: &grant.org_slug,
            sub: &grant.subject,
            kind: grant.kind.as_str(),
            role: grant.role.as_str(),
            scope: scope(grant.access),
            exp: grant.expires_at.and_utc().timestamp(),
        }))
}

/// The answer for a live token (RFC 7662's members, and Rollcall's `org`,
/// `kind` and `role`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Active<'a> {
    active: bool,
    /// The organization's slug.
    org: &'a str,
    /// The person's user id, or the service account's id.
    sub: &'a str,
    /// `personal` or `service_account`.
    kind: &'static str,
    /// The holder's role now.
    role: &'static str,
    /// `operations inference` or `inference`.
    scope: &'static str,
    /// When the token expires, in seconds since 1970.
    exp: i64,
}

/// The token check's answer: a live token's ([`Active`]), or only
/// `{"active": false}`. A schema, never a value: the handler writes both.
///
/// [`Active`]: Active
pub enum IntrospectionAnswer {}

impl PartialSchema for IntrospectionAnswer {
    fn schema() -> RefOr<Schema> {
        let inactive = ObjectBuilder::new()
            .property(
                "active",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            )
            .required("active")
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        OneOfBuilder::new()
            .item(Ref::from_schema_name("Active"))
            .item(inactive)
            .into()
    }
}

impl ToSchema for IntrospectionAnswer {}

/// The token check's refusals, in RFC 6749's error shape, which gateways
/// expect: `invalid_client` (401) for a caller that is not an introspection
/// client, `invalid_request` (400) for a body that is not a form. A schema,
/// never a value: the handler writes them.
pub enum OAuthError {}

impl PartialSchema for OAuthError {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["invalid_client", "invalid_request"])),
            )
            .property("error_description", String::schema())
            .required("error")
            .required("error_description")
            .into()
    }
}

impl ToSchema for OAuthError {}
