//! What the people who run Rollcall ask of it: `/readyz` for the load
//! balancer, and `/metrics` for Prometheus, on its own listen address.

use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::db;
use crate::error::Error;
use crate::services::outbox;
use crate::telemetry::{DATABASE_UP, DB_CONNECTIONS, DB_WAITING, OUTBOX_EMAILS, OUTBOX_OLDEST_WAITING};
use crate::web::state::AppState;

/// How long readiness waits for a connection: a probe must answer quickly.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// Ready: the database answers and has every migration this binary carries.
/// Otherwise 503 with `Retry-After`, so that a load balancer sends the
/// traffic elsewhere and asks again.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let checked = state.read_within(READY_WITHIN, db::is_migrated).await;
    let (ready, why) = match checked {
        Ok(true) => (true, "ready"),
        Ok(false) => (false, "the database lacks migrations this server needs"),
        Err(_) => (false, "the database is not answering"),
    };
    let mut answer = if ready {
        HttpResponse::Ok()
    } else {
        let mut unavailable = HttpResponse::ServiceUnavailable();
        unavailable.insert_header((
            header::RETRY_AFTER,
            super::errors::DATABASE_RETRY_SECONDS.to_string(),
        ));
        unavailable
    };
    answer
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

/// Serves `/metrics` on `bind`, apart from the console.
pub fn metrics_server(state: web::Data<AppState>, bind: std::net::SocketAddr) -> Result<Server, Error> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    // The console's server answers the signals and stops this one.
    .disable_signals()
    .bind(bind)
    .map_err(|error| Error::Invalid(format!("cannot serve metrics on {bind}: {error}")))?
    .run();
    Ok(server)
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let Some(handle) = crate::telemetry::metrics() else {
        return HttpResponse::ServiceUnavailable().body("metrics are off\n");
    };
    let pool = state.pool.state();
    metrics::gauge!(DB_CONNECTIONS, "state" => "in_use")
        .set(f64::from(pool.connections - pool.idle_connections));
    metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle_connections));
    metrics::gauge!(DB_WAITING).set(state.waiting_for_database() as f64);
    match state.db(outbox::stats).await {
        Ok(stats) => {
            for (state, count) in [
                ("queued", stats.queued),
                ("retrying", stats.retrying),
                ("failed", stats.failed),
            ] {
                metrics::gauge!(OUTBOX_EMAILS, "state" => state).set(count as f64);
            }
            metrics::gauge!(OUTBOX_OLDEST_WAITING).set(stats.oldest_waiting_seconds as f64);
            metrics::gauge!(DATABASE_UP).set(1.0);
        }
        Err(_) => metrics::gauge!(DATABASE_UP).set(0.0),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
