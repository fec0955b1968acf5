//! What the Settings tab shows.

use super::domains::allowed_domains;
use super::ownership::{PendingTransfer, pending_transfer};
use crate::db::DbConnection;
use crate::domain::policy::{self, Action};
use crate::domain::{EmailDomain, Role};
use crate::error::Error;
use crate::services::members::{self};

/// What the Settings tab shows: the allowed domains and the waiting transfer.
#[derive(Debug, Clone)]
pub struct Overview {
    pub domains: Vec<EmailDomain>,
    pub transfer: Option<PendingTransfer>,
}

/// The organization's settings as a member sees them (every member may).
pub fn overview(
    conn: &mut DbConnection,
    viewer: &crate::services::access::Viewer,
) -> Result<Overview, Error> {
    policy::authorize(viewer.role, Action::ViewSettings)?;
    let transfer = match pending_transfer(conn, &viewer.org.id)? {
        // Void once its owner is no longer one or its member has left; a
        // new request replaces it.
        Some(transfer)
            if members::role(conn, &viewer.org, &transfer.from.user_id)? == Some(Role::OWNER)
                && members::role(conn, &viewer.org, &transfer.to.user_id)?.is_some() =>
        {
            Some(transfer)
        }
        _ => None,
    };
    Ok(Overview {
        domains: allowed_domains(conn, &viewer.org.id)?,
        transfer,
    })
}
