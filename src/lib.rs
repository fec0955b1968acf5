//! Rollcall: a self-hosted console to manage who is in an organization and what
//! each member may do.

#[cfg(test)]
mod architecture;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod mail;
pub mod services;
pub mod telemetry;
pub mod web;
