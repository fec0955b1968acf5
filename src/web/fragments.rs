//! Fragments of the Members page as rendered (the member table, the newest
//! pending invitations), kept while nothing they show has changed.
//!
//! A member table depends on the organization's memberships, on the query
//! (search, role, sort, page) and on who is looking (their own row, and which
//! actions their role offers); the pending invitations on the organization's
//! invitations, the viewer's role, the session's CSRF token (in the Resend and
//! Revoke forms) and the clock (an invitation expires). The database raises a
//! version of each list in every transaction that changes it, and the page
//! reads both versions with the viewer's role (`ListStamps`), so a fragment
//! kept at the versions just read, and not past its expiry, is exactly the
//! fragment the page would render. A kept list of pending invitations shows
//! the same one-time values in its Resend forms again (see
//! `services::submissions`); that is sound because a Resend that uses one
//! changes the invitation, and so the version, and the next page renders
//! fresh values. Each server keeps its own fragments and asks the database
//! on every request, so several servers behind a load balancer never show an
//! old list.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::NaiveDateTime;

use crate::domain::Role;
use crate::error::Error;
use crate::services::Viewer;
use crate::services::members::MemberQuery;

/// What a kept fragment depends on, besides its version and the clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FragmentKey {
    MemberTable {
        org_id: String,
        /// Its links name the organization by slug, which a rename changes.
        org_slug: String,
        viewer_id: String,
        viewer_role: Role,
        query: MemberQuery,
    },
    NewestPending {
        org_id: String,
        org_slug: String,
        viewer_role: Role,
        csrf: String,
    },
}

/// A fragment as rendered, and until when it is current by the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    /// When something it shows changes with time alone (an invitation
    /// expires); `None` when nothing does.
    pub until: Option<NaiveDateTime>,
}

struct Kept {
    version: i64,
    until: Option<NaiveDateTime>,
    html: Arc<str>,
}

impl Kept {
    fn is_current(&self, version: i64, now: NaiveDateTime) -> bool {
        self.version == version && self.until.is_none_or(|until| now < until)
    }
}

#[derive(Default)]
struct Store {
    kept: HashMap<FragmentKey, Kept>,
    /// Keys in the order they were first kept: the oldest go first.
    order: VecDeque<FragmentKey>,
    bytes: usize,
}

/// Rendered fragments, up to a number of bytes of HTML.
pub struct Fragments {
    store: Mutex<Store>,
    capacity: usize,
}

impl Fragments {
    /// Keeps up to `capacity` bytes of fragments; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            store: Mutex::new(Store::default()),
            capacity,
        }
    }

    /// The member table `viewer_id` sees for `query`: the one kept at the
    /// members version read with `viewer`, or else the one `render` writes,
    /// kept for next time.
    pub fn member_table(
        &self,
        viewer: &Viewer,
        viewer_id: &str,
        query: &MemberQuery,
        render: impl FnOnce() -> Result<String, Error>,
    ) -> Result<Arc<str>, Error> {
        let key = FragmentKey::MemberTable {
            org_id: viewer.org.id.clone(),
            org_slug: viewer.org.slug.clone(),
            viewer_id: viewer_id.to_owned(),
            viewer_role: viewer.role,
            query: query.clone(),
        };
        let version = viewer.stamps.map(|stamps| stamps.members_version);
        // Nothing in a member table changes with time alone.
        self.get_or_render(key, version, NaiveDateTime::MIN, || {
            render().map(|html| Rendered { html, until: None })
        })
    }

    /// The newest pending invitations as the session with `csrf` sees them
    /// `now`: kept at the invitations version read with `viewer`, or rendered.
    pub fn newest_pending(
        &self,
        viewer: &Viewer,
        csrf: &str,
        now: NaiveDateTime,
        render: impl FnOnce() -> Result<Rendered, Error>,
    ) -> Result<Arc<str>, Error> {
        let key = FragmentKey::NewestPending {
            org_id: viewer.org.id.clone(),
            org_slug: viewer.org.slug.clone(),
            viewer_role: viewer.role,
            csrf: csrf.to_owned(),
        };
        let version = viewer.stamps.map(|stamps| stamps.invitations_version);
        self.get_or_render(key, version, now, render)
    }

    /// A viewer read without the versions is always rendered afresh.
    fn get_or_render(
        &self,
        key: FragmentKey,
        version: Option<i64>,
        now: NaiveDateTime,
        render: impl FnOnce() -> Result<Rendered, Error>,
    ) -> Result<Arc<str>, Error> {
        let Some(version) = version.filter(|_| self.capacity > 0) else {
            return render().map(|rendered| Arc::from(rendered.html));
        };
        if let Some(kept) = self
            .lock()
            .kept
            .get(&key)
            .filter(|kept| kept.is_current(version, now))
        {
            return Ok(Arc::clone(&kept.html));
        }
        let rendered = render()?;
        let html: Arc<str> = Arc::from(rendered.html);
        self.keep(
            key,
            Kept {
                version,
                until: rendered.until,
                html: Arc::clone(&html),
            },
        );
        Ok(html)
    }

    fn keep(&self, key: FragmentKey, fresh: Kept) {
        let size = fresh.html.len();
        if size > self.capacity {
            return;
        }
        let mut store = self.lock();
        let store = &mut *store;
        match store.kept.get_mut(&key) {
            // A newer fragment for the same view replaces the old one in place.
            Some(kept) if kept.version <= fresh.version => {
                store.bytes = store.bytes - kept.html.len() + size;
                *kept = fresh;
            }
            Some(_) => return,
            None => {
                store.bytes += size;
                store.order.push_back(key.clone());
                store.kept.insert(key, fresh);
            }
        }
        while store.bytes > self.capacity {
            let Some(oldest) = store.order.pop_front() else {
                break;
            };
            if let Some(gone) = store.kept.remove(&oldest) {
                store.bytes -= gone.html.len();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // Every change to the store leaves it whole, so a panic elsewhere
        // while it was held does not spoil it.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{ListStamps, Organization};

    fn viewer(version: Option<i64>) -> Viewer {
        Viewer {
            org: Organization {
                id: "org".into(),
                name: "Acme".into(),
                slug: "acme".into(),
                created_at: chrono::NaiveDateTime::default(),
                deleted_at: None,
                deleted_by: None,
                purge_after: None,
            },
            role: Role::ADMIN,
            stamps: version.map(|version| ListStamps {
                members_version: version,
                invitations_version: version,
                pending_invitations: 0,
                members: Default::default(),
            }),
        }
    }

    fn table(tables: &Fragments, viewer: &Viewer, query: &MemberQuery, html: &str) -> String {
        tables
            .member_table(viewer, "ada", query, || Ok(html.to_owned()))
            .expect("rendered")
            .to_string()
    }

    #[test]
    fn a_table_is_kept_until_the_version_changes() {
        let tables = Fragments::new(1 << 20);
        let query = MemberQuery::default();
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "first"), "first");
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "second"), "first");
        assert_eq!(table(&tables, &viewer(Some(2)), &query, "third"), "third");
        assert_eq!(table(&tables, &viewer(Some(2)), &query, "fourth"), "third");
    }

    #[test]
    fn each_view_has_its_own_table() {
        let tables = Fragments::new(1 << 20);
        let query = MemberQuery::default();
        let searched = MemberQuery {
            search: crate::domain::SearchText::parse("grace").expect("a search"),
            ..MemberQuery::default()
        };
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "all"), "all");
        assert_eq!(table(&tables, &viewer(Some(1)), &searched, "grace"), "grace");
        let other = tables
            .member_table(&viewer(Some(1)), "grace", &query, || Ok("grace's".to_owned()))
            .expect("rendered");
        assert_eq!(&*other, "grace's");
        let mut owner = viewer(Some(1));
        owner.role = Role::OWNER;
        assert_eq!(table(&tables, &owner, &query, "owner's"), "owner's");
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "again"), "all");
    }

    #[test]
    fn without_a_version_or_room_nothing_is_kept() {
        let unversioned = Fragments::new(1 << 20);
        let query = MemberQuery::default();
        assert_eq!(table(&unversioned, &viewer(None), &query, "first"), "first");
        assert_eq!(table(&unversioned, &viewer(None), &query, "second"), "second");
        let off = Fragments::new(0);
        assert_eq!(table(&off, &viewer(Some(1)), &query, "first"), "first");
        assert_eq!(table(&off, &viewer(Some(1)), &query, "second"), "second");
    }

    #[test]
    fn the_oldest_tables_go_first_when_full() {
        let tables = Fragments::new(10);
        let page = |page| MemberQuery {
            page,
            ..MemberQuery::default()
        };
        assert_eq!(table(&tables, &viewer(Some(1)), &page(1), "aaaaa"), "aaaaa");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(2), "bbbbb"), "bbbbb");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(3), "ccccc"), "ccccc");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(1), "fresh"), "fresh");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(3), "other"), "ccccc");
        assert!(tables.lock().bytes <= 10);
    }

    #[test]
    fn a_failed_render_keeps_nothing() {
        let tables = Fragments::new(1 << 20);
        let query = MemberQuery::default();
        let failed = tables.member_table(&viewer(Some(1)), "ada", &query, || {
            Err(Error::Invalid("no".into()))
        });
        assert!(failed.is_err());
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "rendered"), "rendered");
    }

    #[test]
    fn pending_invitations_are_kept_per_session_until_one_expires() {
        let tables = Fragments::new(1 << 20);
        let at = |hour| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
                .and_then(|day| day.and_hms_opt(hour, 0, 0))
                .expect("a time")
        };
        let pending = |csrf: &str, now, html: &str| {
            tables
                .newest_pending(&viewer(Some(1)), csrf, now, || {
                    Ok(Rendered {
                        html: html.to_owned(),
                        until: Some(at(12)),
                    })
                })
                .expect("rendered")
                .to_string()
        };
        assert_eq!(pending("one", at(10), "first"), "first");
        assert_eq!(pending("one", at(11), "second"), "first");
        assert_eq!(pending("two", at(11), "other session"), "other session");
        assert_eq!(pending("one", at(12), "expired"), "expired");
    }
}
