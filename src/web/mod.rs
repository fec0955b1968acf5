//! HTTP: the server, its routes and pages.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Config;
use crate::db::{self, DatabaseUrl, DbPool};
use crate::error::Error;

/// A configured server bound to its listener, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener
    /// (port 0 picks a free port, which tests use).
    pub fn build(config: Config) -> Result<Self, Error> {
        let pool_size = match config.database_url {
            DatabaseUrl::Sqlite(_) => 8,
            DatabaseUrl::Postgres(_) => 16,
        };
        let pool = db::connect(&config.database_url, pool_size)?;
        db::migrate(&mut *pool.get()?)?;
        let listener = TcpListener::bind(config.bind)
            .map_err(|error| Error::Invalid(format!("cannot listen on {}: {error}", config.bind)))?;
        let port = listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or(config.bind.port());
        let server = Self::server(listener, pool)?;
        Ok(Self { port, server })
    }

    fn server(listener: TcpListener, pool: DbPool) -> Result<Server, Error> {
        let pool = web::Data::new(pool);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(pool.clone())
                .route("/healthz", web::get().to(health))
        })
        .listen(listener)
        .map_err(|error| Error::Invalid(format!("cannot serve: {error}")))?
        .run();
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
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
        let app = Application::build(config)?;
        tracing::info!(%bind, port = app.port(), "Rollcall is listening");
        app.run_until_stopped()
            .await
            .map_err(|error| Error::Invalid(format!("the server stopped: {error}")))
    })
}
