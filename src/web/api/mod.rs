//! The JSON API under `/api/v1`, for the operators who script the platform:
//! authenticated by an API token with operations access, answering errors as
//! problem documents (see `errors::problem_adapter`), calling the same
//! services as the console and the command line.

mod authorize;
mod caller;
mod invitations;
mod json;
mod me;
mod members;
mod openapi;
mod roles;
pub(crate) mod schemas;
mod tokens;

pub use authorize::authorize;
pub use caller::{Caller, caller};
pub use invitations::{create_invitations, invitations, resend_invitation, revoke_invitation};
pub use json::{MAX_JSON_BYTES, Object, json_body, query};
pub use me::{Me, me};
pub use members::{change_member, members, remove_member};
pub use openapi::{ApiDoc, document};
pub use roles::{PolicyRow, Roles, roles};
pub use tokens::{change_token, create_token, tokens};
