//! The token check's answers, kept in memory: every server watches the
//! database's record of changes (`auth_changes`) a few times a second and
//! forgets what it keeps when one appears, so a revocation on any server
//! holds on every server within a second. The uses it notes are written
//! together, at most once a minute per token.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::grant::{self as tokens_grant, StoredId, TokenGrant, Use, grant};
use crate::db::{DbConnection, DbPool};
use crate::domain::{ApiSecret, KeyRate, SecretKind};
use crate::error::Error;
use crate::services::introspection;
use crate::services::shared::now;

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

/// A kept answer's key: the first half of the SHA-256 of its secret. Half
/// keeps the table at 24 bytes an entry; finding another secret whose
/// digest begins with the same 128 bits is as hard as breaking the hash.
type KeptKey = u128;

fn kept_key(digest: &[u8; 32]) -> KeptKey {
    let mut half = [0_u8; 16];
    half.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(half)
}

/// What this server keeps of the token check's answers, keyed by the
/// SHA-256 of the secret, and the uses it has yet to write.
#[derive(Default)]
pub struct LiveTokens {
    grants: RwLock<HashMap<KeptKey, Arc<TokenGrant>>>,
    clients: RwLock<HashSet<[u8; 32]>>,
    /// Uses not yet written, by token id: the watcher writes them together.
    uses: Mutex<HashMap<StoredId, Use>>,
    /// When the watcher last read the changes, in milliseconds since the
    /// server started (0: not yet, or it could not). Kept answers are used
    /// for [`TRUST_FOR`] after it.
    looked_at: AtomicU64,
    /// How many times kept answers were forgotten: an answer read from the
    /// database while they were is not kept, since it may predate the change.
    forgotten: AtomicU64,
    started: Started,
    /// The spent part of each rated key's rate, by token id: counted on
    /// this server only, as the console's limits are.
    rates: Mutex<HashMap<StoredId, KeptRate>>,
    /// The organizations' slugs, one copy each, which kept answers share.
    slugs: Mutex<HashSet<Arc<str>>>,
}

/// A key's rate and what is spent of it.
struct KeptRate {
    rate: KeyRate,
    limiter: DefaultDirectRateLimiter,
}

/// The most keys whose spent rates are kept; past it they are all forgotten
/// (each starts afresh, which errs towards letting calls through).
const MAX_RATED: usize = 100_000;

/// What the check of a token found.
pub enum Checked {
    /// It may be used, by what it grants.
    Live(Arc<TokenGrant>),
    /// Unknown, expired or revoked, or its holder is gone.
    Inactive,
    /// Live, but not from this address.
    OutsideNetworks(Arc<TokenGrant>),
    /// Live, but its key's rate is spent for now: it may be used again
    /// after `retry_after`.
    RateSpent {
        grant: Arc<TokenGrant>,
        retry_after: Duration,
    },
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

impl LiveTokens {
    /// Forgets every kept answer: the change just made on this server is
    /// seen here at once (the others see it within a second).
    pub fn forget_all(&self) {
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

    /// The kept answer for a secret.
    fn grant(&self, key: KeptKey) -> Option<Arc<TokenGrant>> {
        if !self.trusted() {
            return None;
        }
        let grants = self.grants.read().unwrap_or_else(PoisonError::into_inner);
        grants.get(&key).map(Arc::clone)
    }

    /// Whether this use of a token is to be written as its last: once a
    /// minute per token on this server (the database write is conditional
    /// too, so several servers write it at most once a minute between
    /// them). A fresh answer has never been noted.
    fn due(&self, grant: &TokenGrant) -> bool {
        let at = self.started.elapsed().as_secs().max(1);
        let noted = grant.noted.0.load(Ordering::Relaxed);
        (noted == 0 || at.saturating_sub(noted) >= TOUCH_EVERY.as_secs())
            && grant
                .noted
                .0
                .compare_exchange(noted, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Keeps an answer read since `generation`, unless kept answers were
    /// forgotten meanwhile.
    fn keep_grant(&self, key: KeptKey, grant: Arc<TokenGrant>, generation: u64) {
        if !self.trusted() {
            return;
        }
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
        grants.entry(key).or_insert(grant);
    }

    /// Notes a use, to be written with others within a second.
    pub fn note_use(&self, used: Use) {
        self.uses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(used.token_id.clone(), used);
    }

    fn take_uses(&self) -> Vec<Use> {
        // Taken whole rather than drained: a burst of first uses would
        // otherwise leave its table's room held for good.
        let uses = std::mem::take(&mut *self.uses.lock().unwrap_or_else(PoisonError::into_inner));
        uses.into_values().collect()
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

/// A rate as a quota: its calls spread evenly over its period, all of them
/// available at once.
fn quota(rate: KeyRate) -> Quota {
    let each = rate.period() / rate.calls().get();
    Quota::with_period(each.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(rate.calls()))
        .allow_burst(rate.calls())
}

/// The work of reading a token's answer from the database, for the caller to
/// run where its database work runs (off the async workers, under its
/// deadline): `live` hands it over only when nothing kept answers.
pub struct GrantLookup(ApiSecret);

impl GrantLookup {
    pub fn run(self, conn: &mut DbConnection) -> Result<Option<TokenGrant>, Error> {
        grant(conn, &self.0)
    }
}

/// The work of checking an introspection client's secret in the database.
pub struct ClientLookup(ApiSecret);

impl ClientLookup {
    pub fn run(self, conn: &mut DbConnection) -> Result<bool, Error> {
        introspection::is_client(conn, &self.0)
    }
}

impl LiveTokens {
    /// What the token with this secret may do now, if it is live and may be
    /// used from `client_ip` now: from what this server keeps, else from
    /// the database through `read`. Its use is noted and written with
    /// others within a second, not before the answer.
    pub async fn live(
        &self,
        secret: ApiSecret,
        client_ip: Option<IpAddr>,
        read: impl AsyncFnOnce(GrantLookup) -> Result<Option<TokenGrant>, Error>,
    ) -> Result<Checked, Error> {
        let key = kept_key(&secret.digest());
        let grant = match self.grant(key) {
            Some(kept) => kept,
            None => {
                let generation = self.generation();
                let Some(mut grant) = read(GrantLookup(secret)).await? else {
                    return Ok(Checked::Inactive);
                };
                grant.org_slug = self.shared_slug(grant.org_slug);
                let grant = Arc::new(grant);
                self.keep_grant(key, Arc::clone(&grant), generation);
                grant
            }
        };
        Ok(self.admit(grant, client_ip))
    }

    /// Whether a live token may be used from `client_ip` now, spending its
    /// rate if it has one. Only a use let through is noted as its last: a
    /// refused one neither shows as a use nor holds back the next.
    pub fn admit(&self, grant: Arc<TokenGrant>, client_ip: Option<IpAddr>) -> Checked {
        if !grant.is_active(now()) {
            return Checked::Inactive;
        }
        if !grant.limits.networks.admit(client_ip) {
            return Checked::OutsideNetworks(grant);
        }
        if let Some(retry_after) = self.spend_rate(&grant) {
            return Checked::RateSpent { grant, retry_after };
        }
        if self.due(&grant) {
            self.note_use(Use {
                token_id: grant.token_id.clone(),
                at: now(),
                client_ip,
            });
        }
        Checked::Live(grant)
    }

    /// The one copy of `slug` that kept answers share.
    fn shared_slug(&self, slug: Arc<str>) -> Arc<str> {
        let mut slugs = self.slugs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = slugs.get(&slug) {
            return Arc::clone(kept);
        }
        if slugs.len() >= MAX_KEPT {
            slugs.clear();
        }
        slugs.insert(Arc::clone(&slug));
        slug
    }

    /// Spends one call of a service account key's rate: how long to wait
    /// when it is spent.
    fn spend_rate(&self, grant: &TokenGrant) -> Option<Duration> {
        let rate = grant
            .limits
            .rate
            .filter(|_| grant.kind == SecretKind::ServiceAccount)?;
        let mut rates = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
        if rates.len() >= MAX_RATED && !rates.contains_key(&grant.token_id) {
            rates.clear();
        }
        let kept = rates.entry(grant.token_id.clone()).or_insert_with(|| KeptRate {
            rate,
            limiter: RateLimiter::direct(quota(rate)),
        });
        // A rate changed since: counted afresh from the new one.
        if kept.rate != rate {
            *kept = KeptRate {
                rate,
                limiter: RateLimiter::direct(quota(rate)),
            };
        }
        kept.limiter
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Whether `secret` is a live introspection client's: from what this
    /// server keeps, else from the database through `read`.
    pub async fn is_client(
        &self,
        secret: ApiSecret,
        read: impl AsyncFnOnce(ClientLookup) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let hash = secret.digest();
        if self.knows_client(&hash) {
            return Ok(true);
        }
        let generation = self.generation();
        let known = read(ClientLookup(secret)).await?;
        if known {
            self.keep_client(hash, generation);
        }
        Ok(known)
    }

    /// Watches `auth_changes`, forgetting kept answers on every change; and,
    /// apart, writes the tokens' last uses once a second and prunes the
    /// changes: a write that waits (for a locked table) must not hold up the
    /// look that keeps the kept answers trusted. Both run on threads of their
    /// own until the returned [`Watcher`] is stopped or dropped.
    ///
    /// The look has a connection of its own (`watching`): requests that hold
    /// every pooled connection while they wait for a locked table must not
    /// keep it from confirming that nothing changed.
    pub fn watch(self: &Arc<Self>, pool: DbPool, watching: DbPool) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let (looking, recording) = (Arc::clone(self), Arc::clone(self));
        let threads = [
            keep_doing("rollcall-token-watch", Arc::clone(&stop), WATCH_EVERY, {
                let mut seen = None;
                move || looking.look_for_changes(&watching, &mut seen)
            }),
            keep_doing("rollcall-token-uses", Arc::clone(&stop), RECORD_USES_EVERY, {
                let mut rounds: u64 = 0;
                move || {
                    recording.write_uses(&pool, rounds.is_multiple_of(PRUNE_EVERY));
                    rounds += 1;
                }
            }),
        ];
        Watcher {
            stop,
            threads: threads.into_iter().flatten().collect(),
        }
    }

    /// One look at the record of changes: kept answers are forgotten on a
    /// change, and trusted for a while after a look that succeeded.
    fn look_for_changes(&self, pool: &DbPool, seen: &mut Option<BTreeSet<i64>>) {
        let after = seen
            .as_ref()
            .and_then(|ids| ids.last())
            .map_or(0, |newest| newest - WATCH_WINDOW);
        // Answers kept are trusted from when the look began: what it read is
        // as of then, however long it took.
        let began = self.started.millis();
        let found = pool
            .get()
            .map_err(Error::from)
            .and_then(|mut conn| introspection::changes_after(&mut conn, after));
        match found {
            Ok(ids) => {
                let ids: BTreeSet<i64> = ids.into_iter().collect();
                let changed = match seen.as_ref() {
                    Some(known) => ids.iter().any(|id| !known.contains(id)),
                    None => true,
                };
                if changed {
                    self.forget_all();
                }
                *seen = Some(ids);
                self.looked(began);
            }
            Err(error) => {
                if self.trusted() {
                    tracing::warn!(%error, "cannot watch token changes; token checks read the database until it can");
                }
                self.distrust();
                *seen = None;
            }
        }
    }

    /// Writes the uses noted since the last round, and prunes the record of
    /// changes when `prune`.
    fn write_uses(&self, pool: &DbPool, prune: bool) {
        let uses = self.take_uses();
        if uses.is_empty() && !prune {
            return;
        }
        let written = pool.get().map_err(Error::from).and_then(|mut conn| {
            if let Err(error) = tokens_grant::record_uses(&mut conn, &uses) {
                tracing::warn!(%error, tokens = uses.len(), "could not record tokens' last uses");
            }
            if prune {
                introspection::prune_changes(&mut conn, CHANGES_KEPT)?;
            }
            Ok(())
        });
        if let Err(error) = written {
            tracing::warn!(%error, "could not prune the record of token changes");
        }
    }
}

/// Runs `round` on a thread named `name` at once and then every `every`
/// until `stop`, and once more after it (the last uses noted are written,
/// not lost). A round
/// that panics is reported and the next one runs, as it did when each round
/// ran on the async runtime's blocking threads.
fn keep_doing(
    name: &str,
    stop: Arc<AtomicBool>,
    every: Duration,
    mut round: impl FnMut() + Send + 'static,
) -> Option<std::thread::JoinHandle<()>> {
    let work = move || {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut round)).is_err() {
                tracing::error!("a round of the token watcher panicked; the next one runs as usual");
            }
            if stopping {
                break;
            }
            std::thread::park_timeout(every);
        }
    };
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map_err(|error| tracing::error!(%error, "cannot start the token watcher"))
        .ok()
}

/// The token watcher's threads, running until [`Watcher::stop`] or until it
/// is dropped (a server that failed to start after making it).
pub struct Watcher {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Stops both threads and waits for their last round.
    pub fn stop(mut self) {
        self.signal();
        for thread in std::mem::take(&mut self.threads) {
            let _ = thread.join();
        }
    }

    fn signal(&self) {
        self.stop.store(true, Ordering::Release);
        for thread in &self.threads {
            thread.thread().unpark();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.signal();
    }
}
