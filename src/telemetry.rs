//! Logs to stderr, filtered by RUST_LOG (default `info`), as text or as one
//! JSON object a line (`ROLLCALL_LOG_FORMAT=json`, for log shippers); and the
//! metrics recorder whose numbers `/metrics` renders.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests start several servers in one process) keeps the first.
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
}

/// Request latencies, in seconds: from a fraction of a millisecond to the
/// longest a request may take.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Whether metrics are being recorded (a server with `ROLLCALL_METRICS_BIND`
/// installed the recorder): without, there is no need to name what happened.
pub fn metrics_on() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

/// The process's metrics recorder, installed on first use. Until then (the
/// command line) every metric is a no-op.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics are off: the recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

/// `rollcall_http_requests_total{route,method,status}`: requests answered.
pub const HTTP_REQUESTS: &str = "rollcall_http_requests_total";
/// `rollcall_http_request_duration_seconds{route,method}`.
pub const HTTP_REQUEST_DURATION: &str = "rollcall_http_request_duration_seconds";
/// `rollcall_db_connections{state="in_use|idle"}`.
pub const DB_CONNECTIONS: &str = "rollcall_db_connections";
pub const DB_WAITING: &str = "rollcall_db_waiting";
pub const DATABASE_UP: &str = "rollcall_database_up";
/// `rollcall_outbox_emails{state="queued|retrying|failed"}`.
pub const OUTBOX_EMAILS: &str = "rollcall_outbox_emails";
pub const OUTBOX_OLDEST_WAITING: &str = "rollcall_outbox_oldest_waiting_seconds";
pub const INVITATIONS_CREATED: &str = "rollcall_invitations_created_total";
pub const INVITATIONS_ACCEPTED: &str = "rollcall_invitations_accepted_total";
/// `rollcall_sign_ins_total{provider,outcome}`.
pub const SIGN_INS: &str = "rollcall_sign_ins_total";
/// `rollcall_gateway_checks_total{outcome}`: the gateway's checks, by what
/// they answered (`allowed`, `no_token`, `not_a_token`, `inactive`,
/// `forbidden`, `no_route`, `proxy_not_set_up`, `no_path`).
pub const GATEWAY_CHECKS: &str = "rollcall_gateway_checks_total";

/// Gives every family its help text (Prometheus's checker, and whoever reads
/// a scrape, want one), and makes the counters without labels exist at zero:
/// a counter that appears only with its first increment makes `rate()` and
/// `increase()` miss that increment, and an alert on it see nothing at all.
/// The labelled counters appear with their first label set, which cannot be
/// known before (route templates by status, sign-in outcomes).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};

    describe_counter!(
        HTTP_REQUESTS,
        "Requests answered, by route template, method and status class."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "How long requests took to answer, by route template and method."
    );
    describe_gauge!(
        DB_CONNECTIONS,
        "Database connections of the pool, in use or idle, at the scrape."
    );
    describe_gauge!(
        DB_WAITING,
        "Requests waiting for a database connection at the scrape."
    );
    describe_gauge!(
        DATABASE_UP,
        "1 if the database answered the scrape's query, 0 if it did not."
    );
    describe_gauge!(
        OUTBOX_EMAILS,
        "Emails in the outbox not yet delivered: queued, retrying or failed."
    );
    describe_gauge!(
        OUTBOX_OLDEST_WAITING,
        metrics::Unit::Seconds,
        "How long the oldest email still to be delivered has waited."
    );
    describe_counter!(INVITATIONS_CREATED, "Invitations created, by any path.");
    describe_counter!(INVITATIONS_ACCEPTED, "Invitations accepted.");
    describe_counter!(SIGN_INS, "Sign-ins, by provider and outcome.");
    describe_counter!(
        GATEWAY_CHECKS,
        "The gateway's checks, by outcome: allowed, or why the request was refused."
    );
    for counter in [INVITATIONS_CREATED, INVITATIONS_ACCEPTED] {
        metrics::counter!(counter).absolute(0);
    }
}
