//! The database: one connection type over SQLite and Postgres, chosen at run
//! time from `DATABASE_URL`, a pool, embedded migrations and write transactions.

pub(crate) mod connection;
pub mod literal;
pub(crate) mod migrations;
mod outage;
pub(crate) mod pool;
pub mod schema;
pub mod timestamp;
mod transactions;
pub mod watchdog;
pub mod written;

pub use connection::{DatabaseUrl, DbConnection, InvalidDatabaseUrl, MultiBackend};
pub use migrations::{is_migrated, migrate};
#[cfg(test)]
pub(crate) use pool::in_memory;
pub use pool::{ConnectionManager, DbPool, PooledConn, connect};
pub(crate) use transactions::insert_all;
pub use transactions::{
    ReadHere, is_unique_violation, lock_invitation, lock_keys, lock_organization, lock_organization_named,
    read_here, take_committed, write,
};
