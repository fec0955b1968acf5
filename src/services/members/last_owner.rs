//! The last-owner rule, as the database holds it: an organization always keeps
//! an owner.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::domain::Role;
use crate::error::Error;
use crate::services::shared::Organization;

/// Refuses a change that would leave `org` with no owner. Call it after
/// [`db::lock_organization`] in the same transaction.
pub(super) fn ensure_another_owner(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<(), Error> {
    let other_owners: i64 = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .filter(memberships::role.eq(Role::OWNER.as_str()))
        .filter(memberships::user_id.ne(user_id))
        .count()
        .get_result(conn)?;
    if other_owners == 0 {
        Err(Error::LastOwner {
            org: org.name.clone(),
        })
    } else {
        Ok(())
    }
}
