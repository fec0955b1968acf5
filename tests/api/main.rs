//! Rollcall's integration tests: one binary, every test on a fresh database.
//! `cargo test` runs them on SQLite; with TEST_DATABASE_URL=postgres://… they
//! run, unchanged, on Postgres. The harness is ours (harness.rs): a test that
//! this machine or this database cannot run is reported ignored, with why.

mod api_document;
mod audit;
mod authorize;
mod browser;
mod cli;
mod concurrency;
mod console;
mod fakes;
mod fragments;
mod fuzz;
mod gateway;
mod harness;
mod helpers;
mod http;
mod invitations;
mod json_api;
mod members;
mod metrics;
mod operations;
mod org_settings;
mod permissions;
mod policy_file;
mod races;
mod sessions;
mod settings;
mod signin;
mod token_limits;
mod tokens;
mod users;

fn main() -> std::process::ExitCode {
    harness::main([
        api_document::tests(),
        audit::tests(),
        authorize::tests(),
        browser::tests(),
        cli::tests(),
        concurrency::tests(),
        console::tests(),
        fragments::tests(),
        fuzz::tests(),
        gateway::tests(),
        invitations::tests(),
        json_api::tests(),
        members::tests(),
        metrics::tests(),
        operations::tests(),
        org_settings::tests(),
        permissions::tests(),
        policy_file::tests(),
        races::tests(),
        sessions::tests(),
        settings::tests(),
        signin::tests(),
        token_limits::tests(),
        tokens::tests(),
        users::tests(),
    ])
}
