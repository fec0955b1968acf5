//! API tokens: a member's personal tokens and the keys of service accounts,
//! made, listed and revoked under the policy, and looked up for the token
//! check. Every change is an audit event; no secret is ever in one.
//!
//! - `create`, `list`, `revoke`, `restrict`: what the console, the API and the command
//!   line do with tokens.
//! - `grant`: what a token may do now, read from the database; `live`: the
//!   token check's answer, kept in memory and forgotten on any change.

mod create;
mod grant;
mod holder;
mod list;
mod live;
mod restrict;
mod revoke;

pub(crate) use create::{Holder, insert};
pub use create::{IssuedToken, TokenRequest, create_personal};
pub use grant::{TokenGrant, Use, grant, record_uses};
pub use list::{TokenStatus, TokenView, list, sees_all};
pub use live::{Checked, ClientLookup, GrantLookup, LiveTokens, Watcher};
pub use restrict::restrict;
pub use revoke::revoke;
pub(crate) use revoke::revoke_all_of_member;
