//! Use cases. Each public function is one transaction on a connection it is
//! given, checks the policy, writes its audit events and queues its emails in
//! that same transaction, and returns a domain result. The web console and the
//! command line both call these, so no rule can be bypassed through a side door.

mod access;
pub mod audit;
pub mod idempotency;
mod identity;
pub mod introspection;
pub mod invitations;
pub mod members;
pub(crate) mod notices;
pub mod organizations;
pub mod outbox;
pub mod roles_in_use;
pub mod seed;
pub mod service_accounts;
pub mod settings;
mod shared;
pub mod submissions;
pub mod tokens;
pub mod users;

pub use access::Viewer;
pub(crate) use shared::now;
pub use shared::{
    Actor, Credential, ListStamps, MemberCounts, Organization, Person, Principal, Settings, page_count,
};
