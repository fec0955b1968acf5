//! Rollcall's integration tests: one binary, every test on a fresh database.
//! `cargo test` runs them on SQLite; with TEST_DATABASE_URL=postgres://… they
//! run, unchanged, on Postgres.

mod api_document;
mod audit;
mod browser;
mod cli;
mod concurrency;
mod console;
mod fakes;
mod fragments;
mod fuzz;
mod helpers;
mod http;
mod invitations;
mod json_api;
mod members;
mod metrics;
mod operations;
mod org_settings;
mod permissions;
mod races;
mod sessions;
mod settings;
mod signin;
mod tokens;
mod users;
