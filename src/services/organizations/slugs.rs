//! Slugs: claiming one, and the 90 days a given-up slug stays reserved.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::organization_slugs;
use crate::db::{self, DbConnection};
use crate::domain::Slug;
use crate::error::Error;
use crate::services::shared::now;

/// How long a slug an organization gave up still answers for it (301) and
/// cannot be taken by another.
pub const SLUG_RESERVATION_DAYS: i64 = 90;

pub(super) fn reservation_start() -> NaiveDateTime {
    now() - chrono::Duration::days(SLUG_RESERVATION_DAYS)
}

/// Makes `slug` the organization's own in `organization_slugs`, whose
/// primary key covers the slugs in use and the reserved ones: a slug still
/// reserved by another organization, or taken a moment ago, is refused.
/// A reservation that has run out, or the organization's own, gives way.
pub(crate) fn claim_slug(conn: &mut DbConnection, org_id: &str, slug: &Slug) -> Result<(), Error> {
    diesel::delete(
        organization_slugs::table
            .filter(organization_slugs::slug.eq(slug.as_str()))
            .filter(
                organization_slugs::org_id
                    .eq(org_id)
                    .or(organization_slugs::retired_at.lt(reservation_start())),
            ),
    )
    .execute(conn)?;
    diesel::insert_into(organization_slugs::table)
        .values((
            organization_slugs::slug.eq(slug.as_str()),
            organization_slugs::org_id.eq(org_id),
            organization_slugs::retired_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                slug_taken(slug)
            } else {
                error.into()
            }
        })?;
    Ok(())
}

pub(crate) fn slug_taken(slug: &Slug) -> Error {
    Error::Conflict(format!(
        "The address /orgs/{slug} is taken or still reserved by another organization; choose another."
    ))
}

/// The slug itself if free, else the first free "slug-2", "slug-3", …
/// (a slug another organization gave up less than 90 days ago is not free).
pub(super) fn free_slug(conn: &mut DbConnection, wanted: &Slug) -> Result<Slug, Error> {
    let taken: Vec<String> = organization_slugs::table
        .filter(
            organization_slugs::slug
                .eq(wanted.as_str())
                .or(organization_slugs::slug.like(format!("{}%", wanted.suffix_base()))),
        )
        .filter(
            organization_slugs::retired_at
                .is_null()
                .or(organization_slugs::retired_at.ge(reservation_start())),
        )
        .select(organization_slugs::slug)
        .load(conn)?;
    let candidates = std::iter::once(wanted.clone()).chain((2..).map(|n| wanted.with_suffix(n)));
    Ok(candidates
        .into_iter()
        .find(|candidate| !taken.iter().any(|t| t == candidate.as_str()))
        .unwrap_or_else(|| wanted.clone()))
}
