//! HTTP: the server, its routes, and how answers are shaped (a full page, or
//! for htmx the fragment to swap).

pub mod api;
mod assets;
mod context;
mod credentials;
mod edge;
mod errors;
pub(crate) mod escape;
mod form;
mod fragments;
mod gateway;
mod introspection;
pub mod limits;
mod operations;
mod pages;
mod requests;
mod respond;
mod session;
mod state;
mod views;

use std::net::TcpListener;

use actix_session::SessionMiddleware;
use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::header::{self};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Config;
use crate::db::{self};
use crate::error::Error;
use crate::services::settings;

pub use form::MAX_FORM_BYTES;
pub use state::{AppState, dev_login_enabled};

/// Threads per worker for blocking database work (see [`AppState::db`]).
const BLOCKING_THREADS_PER_WORKER: usize = 4;

/// A configured server bound to its listener, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    outbox_worker: crate::mail::worker::OutboxWorker,
    token_watcher: crate::services::tokens::Watcher,
    metrics_server: Option<Server>,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener
    /// (port 0 picks a free port, which tests use).
    pub fn build(config: Config) -> Result<Self, Error> {
        config.install_policy()?;
        // On Postgres, enough for every blocking thread of two workers; more
        // connections than cores doing work only add switching. SQLite
        // writes one at a time anyway, and in WAL mode a connection drops its
        // whole page cache whenever another one has written: one connection
        // keeps its cache warm (pages are read on each worker's own reader;
        // see BENCHMARKS.md).
        let pool_size = match config.database_url {
            db::DatabaseUrl::Sqlite(_) => 1,
            db::DatabaseUrl::Postgres(_) => 8,
        };
        let pool = db::connect(&config.database_url, pool_size, config.database_timeout)?;
        let mut conn = pool.get()?;
        db::migrate(&mut conn)?;
        let undeclared = crate::services::roles_in_use::undeclared_roles(&mut conn)?;
        if !undeclared.is_empty() {
            return Err(Error::Invalid(format!(
                "The database holds roles the policy in force does not declare: {}. Declare them in ROLLCALL_POLICY_FILE, or give those members, invitations and service accounts a declared role first.",
                crate::services::roles_in_use::in_words(&undeclared)
            )));
        }
        let (key, source) = settings::session_key(&mut conn, config.session_key.as_deref())?;
        drop(conn);
        match source {
            settings::KeySource::Generated => tracing::warn!(
                "ROLLCALL_SESSION_KEY is not set: generated a session key and kept it in the database"
            ),
            settings::KeySource::Stored => {
                tracing::warn!("ROLLCALL_SESSION_KEY is not set: using the session key kept in the database")
            }
            settings::KeySource::Configured => {}
        }
        let dev_login = dev_login_enabled(&config);
        if dev_login {
            tracing::warn!("development sign-in is on: anyone who reaches this server can sign in as anyone");
        }
        let providers = crate::auth::Providers::from_config(&config)?;
        let mailer = crate::mail::Mailer::from_config(&config)?;
        tracing::info!(to = %mailer.describe(), "emails are delivered");
        let outbox_worker = crate::mail::worker::spawn(
            pool.clone(),
            mailer,
            config.audit_retention,
            config.service_settings(),
        );
        let listener = TcpListener::bind(config.bind)
            .map_err(|error| Error::Invalid(format!("cannot listen on {}: {error}", config.bind)))?;
        let port = listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or(config.bind.port());
        let tokens = std::sync::Arc::new(crate::services::tokens::LiveTokens::default());
        let watching = db::connect(&config.database_url, 1, config.database_timeout)?;
        let token_watcher = tokens.watch(pool.clone(), watching);
        let state = web::Data::new(AppState {
            pool,
            database: config.database_url.clone(),
            database_timeout: config.database_timeout,
            settings: config.service_settings(),
            dev_login,
            providers,
            fragments: fragments::Fragments::new(config.fragment_cache_bytes()),
            tokens,
            waiting: Default::default(),
        });
        // Apart from the state: what the middleware needs, so that it does
        // not depend on everything the handlers share.
        let session_policy = session::SessionPolicy {
            lifetime: chrono_duration(config.session_lifetime),
            idle: chrono_duration(config.session_idle),
        };
        let limits = web::Data::new(limits::RateLimits::new(
            config.rate_limit_api,
            config.rate_limit_sign_in,
            config.rate_limit_introspection,
        ));
        let proxies = context::TrustedProxies(config.trusted_proxies.clone());
        let gateway_token_header =
            web::Data::new(gateway::GatewayTokenHeader(config.gateway_token_header.clone()));
        let metrics_server = match config.metrics_bind {
            Some(bind) => {
                crate::telemetry::metrics();
                let server = operations::metrics_server(state.clone(), bind)?;
                tracing::info!(%bind, "metrics are served at /metrics");
                Some(server)
            }
            None => None,
        };
        let secure_cookies = config.public_url.starts_with("https://");
        let key = Key::from(&key);
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name("rollcall".to_owned())
                .cookie_secure(secure_cookies)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_content_security(CookieContentSecurity::Private)
                .build();
            App::new()
                .app_data(state.clone())
                .app_data(limits.clone())
                .app_data(session_policy)
                .app_data(proxies.clone())
                .app_data(gateway_token_header.clone())
                // Bodies read whole (the token check's): small.
                .app_data(web::PayloadConfig::new(16 * 1024))
                .wrap(from_fn(errors::htmx_adapter))
                .wrap(from_fn(errors::follow_renames))
                .wrap(from_fn(errors::signed_in_header))
                .wrap(sessions)
                .wrap(from_fn(edge::refuse_unusable_paths))
                .wrap(from_fn(limits::limit_rates))
                // Outside the edge and the limits, so that what they refuse
                // is logged, counted and a problem document too.
                .wrap(from_fn(requests::observe))
                .wrap(from_fn(errors::problem_adapter))
                .wrap(security_headers())
                .configure(routes)
                .default_service(web::to(errors::not_found))
        })
        // Database work, and a sign-in's calls to its provider, run on each
        // worker's blocking threads; on SQLite they queue for its one pooled
        // connection, and a provider's answer must not wait behind them.
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .listen(listener)
        .map_err(|error| Error::Invalid(format!("cannot serve: {error}")))?
        .run();
        Ok(Self {
            port,
            server,
            outbox_worker,
            token_watcher,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server as a signal would (tests stop theirs this way).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until a signal (SIGTERM, SIGINT) stops the server: it stops
    /// accepting, finishes the requests in flight (for up to 30 seconds),
    /// then the outbox worker finishes its send and releases the rest of its
    /// batch, while the runtime still runs.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|server| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(false).await;
        }
        self.outbox_worker.stop().await;
        let watcher = self.token_watcher;
        let _ = web::block(move || watcher.stop()).await;
        served
    }
}

fn chrono_duration(duration: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Headers on every answer. No inline script or style anywhere, so the policy
/// allows none; invitation tokens live in URLs, so no page sends a Referer.
/// Pages show members, CSRF tokens and one-time invitation links: no cache
/// keeps them (the assets, which a cache may keep, say so themselves).
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

/// Declares the routes once: the router serves them, and [`ROUTES`] lists
/// them (the fuzz tests walk every route from it, so a new route is covered
/// without editing a test).
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route the router serves (the assets aside): method and path template.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes(cfg: &mut web::ServiceConfig) {
            use pages::{
                audit, auth, invitation, invitations, members, profile, service_accounts, settings, token_limits, tokens,
            };
            cfg.service(assets::scope());
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

route_table! {
    get "/healthz" => health;
    get "/readyz" => operations::ready;
    // Early: the router tries routes in order, and the token check is the
    // hottest of them (every later route with a parameter is a pattern match).
    post "/api/v1/tokens/introspect" => introspection::introspect;
    post "/api/v1/authorize" => api::authorize;
    route "/gateway/check" => gateway::check;
    get "/api/v1/me" => api::me;
    get "/api/v1/orgs/{slug}/roles" => api::roles;
    get "/" => profile::home;
    get "/login" => auth::login_page;
    post "/login/dev" => auth::dev_sign_in;
    post "/logout" => auth::sign_out;
    get "/auth/{provider}" => auth::start;
    get "/auth/{provider}/callback" => auth::callback;
    get "/invite/{token}" => invitation::open;
    get "/invitation" => invitation::current;
    post "/invitation/accept" => invitation::accept;
    post "/invitation/decline" => invitation::decline;
    post "/invitation/switch" => invitation::switch_account;
    get "/profile" => profile::page;
    post "/profile/sessions/end" => auth::sign_out_everywhere;
    post "/profile/invitations/{id}/accept" => profile::accept;
    post "/profile/invitations/{id}/decline" => profile::decline;
    get "/switch" => profile::switch;
    post "/orgs" => profile::create_org;
    get "/orgs/{slug}" => members::org_home;
    get "/orgs/{slug}/members" => members::page;
    get "/orgs/{slug}/roles" => members::roles;
    get "/orgs/{slug}/members/{user_id}/role" => members::role_dialog;
    post "/orgs/{slug}/members/{user_id}/role" => members::change_role;
    get "/orgs/{slug}/members/{user_id}/remove" => members::remove_dialog;
    post "/orgs/{slug}/members/{user_id}/remove" => members::remove;
    get "/orgs/{slug}/leave" => members::leave_dialog;
    post "/orgs/{slug}/leave" => members::leave;
    get "/orgs/{slug}/invitations/new" => invitations::step_one;
    post "/orgs/{slug}/invitations/review" => invitations::review;
    get "/orgs/{slug}/invitations" => invitations::list;
    post "/orgs/{slug}/invitations" => invitations::send;
    post "/orgs/{slug}/invitations/{id}/resend" => invitations::resend;
    post "/orgs/{slug}/invitations/{id}/revoke" => invitations::revoke;
    get "/orgs/{slug}/tokens" => tokens::list;
    post "/orgs/{slug}/tokens" => tokens::create;
    get "/orgs/{slug}/tokens/{id}/revoke" => tokens::revoke_confirm;
    post "/orgs/{slug}/tokens/{id}/revoke" => tokens::revoke;
    get "/orgs/{slug}/tokens/{id}/limits" => token_limits::page;
    post "/orgs/{slug}/tokens/{id}/limits" => token_limits::set;
    get "/orgs/{slug}/service-accounts" => service_accounts::accounts;
    post "/orgs/{slug}/service-accounts" => service_accounts::create_account;
    post "/orgs/{slug}/service-accounts/{id}/keys" => service_accounts::create_key;
    get "/orgs/{slug}/service-accounts/{id}/{change}" => service_accounts::account_confirm;
    post "/orgs/{slug}/service-accounts/{id}/{change}" => service_accounts::change_account;
    get "/orgs/{slug}/audit" => audit::page;
    get "/orgs/{slug}/audit/download" => audit::download;
    get "/orgs/{slug}/settings" => settings::page;
    post "/orgs/{slug}/settings/rename" => settings::rename;
    post "/orgs/{slug}/settings/domains" => settings::domains;
    post "/orgs/{slug}/settings/transfer" => settings::transfer;
    post "/orgs/{slug}/settings/transfer/confirm" => settings::confirm_transfer;
    post "/orgs/{slug}/settings/transfer/cancel" => settings::cancel_transfer;
    post "/orgs/{slug}/settings/delete" => settings::delete;
    post "/orgs/{slug}/restore" => settings::restore;
    get "/api/v1/openapi.json" => api::document;
    get "/api/v1/orgs/{slug}/members" => api::members;
    patch "/api/v1/orgs/{slug}/members/{id}" => api::change_member;
    delete "/api/v1/orgs/{slug}/members/{id}" => api::remove_member;
    get "/api/v1/orgs/{slug}/invitations" => api::invitations;
    post "/api/v1/orgs/{slug}/invitations" => api::create_invitations;
    post "/api/v1/orgs/{slug}/invitations/{id}/resend" => api::resend_invitation;
    delete "/api/v1/orgs/{slug}/invitations/{id}" => api::revoke_invitation;
    get "/api/v1/orgs/{slug}/tokens" => api::tokens;
    post "/api/v1/orgs/{slug}/tokens" => api::create_token;
    patch "/api/v1/orgs/{slug}/tokens/{id}" => api::change_token;
}

/// Liveness: the process answers.
async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// `rollcall serve`: runs until interrupted.
pub fn serve(config: Config) -> Result<(), Error> {
    actix_web::rt::System::new().block_on(async move {
        let bind = config.bind;
        let public_url = config.public_url.clone();
        let app = Application::build(config)?;
        tracing::info!(%bind, port = app.port(), %public_url, "Rollcall is listening");
        app.run_until_stopped()
            .await
            .map_err(|error| Error::Invalid(format!("the server stopped: {error}")))
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::dev_login_enabled;
    use crate::cli::Cli;

    fn config(args: &[&str]) -> crate::config::Config {
        let mut all = vec!["rollcall"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("valid flags").config
    }

    #[test]
    fn development_sign_in_is_on_only_on_loopback_without_providers_unless_forced() {
        assert!(dev_login_enabled(&config(&["--bind", "127.0.0.1:8080"])));
        assert!(dev_login_enabled(&config(&["--bind", "[::1]:8080"])));
        assert!(!dev_login_enabled(&config(&["--bind", "0.0.0.0:8080"])));
        assert!(!dev_login_enabled(&config(&[
            "--bind",
            "127.0.0.1:8080",
            "--github-client-id",
            "x"
        ])));
        assert!(dev_login_enabled(&config(&[
            "--bind",
            "0.0.0.0:8080",
            "--dev-login",
            "on"
        ])));
        assert!(!dev_login_enabled(&config(&[
            "--bind",
            "127.0.0.1:8080",
            "--dev-login",
            "off"
        ])));
    }
}
