//! Reading the audit log: filtered pages, walks for downloads, and the event
//! a download itself records.

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use serde_json::Value;

use super::record::{AuditEvent, AuditTarget, filter_key, record};
use crate::db::DbConnection;
use crate::db::schema::audit_events;
use crate::db::written::{Shape, Shaped};
use crate::domain::audit::{AuditAction, TargetKind};
use crate::domain::policy::{self, Action};
use crate::error::Error;
use crate::services::access::Viewer;

/// A recorded event, as the audit log shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct RecordedEvent {
    pub id: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub actor_email: Option<String>,
    pub credential: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub target_name: String,
    pub target_email: Option<String>,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub client_ip: Option<String>,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    pub created_at: NaiveDateTime,
}

/// Which events to show; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// An actor's address, service account name, or "command line".
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// A member's or invitee's address, or a service account's, token's or
    /// organization's name.
    pub target: Option<String>,
    /// From this moment on (inclusive).
    pub since: Option<NaiveDateTime>,
    /// Before this moment.
    pub until: Option<NaiveDateTime>,
}

impl AuditFilter {
    /// Reads the filter's text fields (`actor`, `target`: one line of up to
    /// 254 characters, matched whole and without regard to case; `action`:
    /// one of [`AuditAction`]). Moments run from 1970 to the end of 9999;
    /// an end past that is no end.
    pub fn new(
        actor: &str,
        action: &str,
        target: &str,
        since: Option<NaiveDateTime>,
        until: Option<NaiveDateTime>,
    ) -> Result<Self, Error> {
        for (name, text) in [("Actor", actor), ("Target", target)] {
            if !crate::domain::text::fits_one_line(text) || text.trim().chars().count() > MAX_KEY_CHARS {
                return Err(Error::Invalid(format!(
                    "{name}: an email address or a name, on one line and at most {MAX_KEY_CHARS} characters."
                )));
            }
        }
        let until = until.filter(|until| until.year() <= 9999);
        for at in [since, until].into_iter().flatten() {
            if !in_range(at) {
                return Err(Error::Invalid(
                    "Dates run from 1970-01-01 to 9999-12-31.".to_owned(),
                ));
            }
        }
        let key = |text: &str| Some(filter_key(text)).filter(|key| !key.is_empty());
        let action = match action.trim() {
            "" => None,
            text => Some(AuditAction::parse(text).ok_or_else(|| {
                Error::Invalid(format!(
                    "“{}” is not an action the audit log records.",
                    text.chars().take(60).collect::<String>()
                ))
            })?),
        };
        if let (Some(since), Some(until)) = (since, until)
            && until <= since
        {
            return Err(Error::Invalid(
                "The end of the date range must come after its start.".to_owned(),
            ));
        }
        Ok(Self {
            actor: key(actor),
            action,
            target: key(target),
            since,
            until,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Refuses an action that cannot be in the log asked for: an
    /// organization's, or (`instance`) the one of no organization.
    fn check_scope(&self, instance: bool) -> Result<(), Error> {
        match self.action {
            Some(action) if action.is_instance() != instance => Err(Error::Invalid(format!(
                "“{}” is not recorded in {}.",
                action.as_str(),
                if instance {
                    "the events of no organization; use --org"
                } else {
                    "an organization's audit log"
                }
            ))),
            _ => Ok(()),
        }
    }

    /// The filter as the download's audit event keeps it.
    fn as_json(&self) -> Value {
        let mut filter = serde_json::Map::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                filter.insert(name.to_owned(), Value::String(value));
            }
        };
        put("actor", self.actor.clone());
        put("action", self.action.map(|action| action.as_str().to_owned()));
        put("target", self.target.clone());
        put("since", self.since.map(|at| at.and_utc().to_rfc3339()));
        put("until", self.until.map(|at| at.and_utc().to_rfc3339()));
        Value::Object(filter)
    }
}

/// Where a page of the log starts: just past an event, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    at: NaiveDateTime,
    id: String,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// The longest actor or target a filter matches: an email address's limit.
const MAX_KEY_CHARS: usize = 254;

/// Whether both backends store and compare `at` alike (SQLite compares text,
/// and a year before 1000 or after 9999 is not written in four digits).
fn in_range(at: NaiveDateTime) -> bool {
    (1970..=9999).contains(&at.year())
}

impl AuditCursor {
    fn past(event: &RecordedEvent) -> Self {
        Self {
            at: event.created_at,
            id: event.id.clone(),
        }
    }

    /// The text a link carries.
    pub fn encode(&self) -> String {
        crate::services::shared::encode_cursor(&format!("{}\n{}", self.at.format(CURSOR_TIME), self.id))
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        let unusable = || {
            Error::Invalid(
                "This link's place in the audit log is not one this server gave out. Start again from the newest events."
                    .to_owned(),
            )
        };
        let plain = crate::services::shared::decode_cursor(text, 256).ok_or_else(unusable)?;
        let (at, id) = plain.split_once('\n').ok_or_else(unusable)?;
        let at = NaiveDateTime::parse_from_str(at, CURSOR_TIME)
            .ok()
            .filter(|at| in_range(*at))
            .ok_or_else(unusable)?;
        if id.is_empty() || id.len() > 64 || crate::domain::text::has_control(id) {
            return Err(unusable());
        }
        Ok(Self {
            at,
            id: id.to_owned(),
        })
    }
}

/// Which page: the newest events, those older than a cursor, or those newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditPlace {
    Newest,
    Older(AuditCursor),
    Newer(AuditCursor),
}

/// A page of events, newest first, and the cursors of the pages beside it.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<RecordedEvent>,
    pub older: Option<AuditCursor>,
    pub newer: Option<AuditCursor>,
}

pub const PER_PAGE: u32 = 50;

type EventFilter<'a> = diesel::dsl::IntoBoxed<'a, audit_events::table, crate::db::MultiBackend>;

/// The events of one organization (or, with `None`, of no organization: the
/// sign-ins) that match the filter.
fn matching<'a>(org_id: Option<&'a str>, filter: &'a AuditFilter) -> (EventFilter<'a>, u64) {
    let mut selection = match org_id {
        Some(org_id) => audit_events::table
            .filter(audit_events::org_id.eq(org_id))
            .into_boxed(),
        None => audit_events::table
            .filter(audit_events::org_id.is_null())
            .into_boxed(),
    };
    let mut choices = u64::from(org_id.is_some());
    if let Some(actor) = &filter.actor {
        selection = selection.filter(audit_events::actor_label.eq(actor));
        choices |= 1 << 1;
    }
    if let Some(action) = filter.action {
        selection = selection.filter(audit_events::action.eq(action.as_str()));
        choices |= 1 << 2;
    }
    if let Some(target) = &filter.target {
        selection = selection.filter(audit_events::target.eq(target));
        choices |= 1 << 3;
    }
    if let Some(since) = filter.since {
        selection = selection.filter(audit_events::created_at.ge(since));
        choices |= 1 << 4;
    }
    if let Some(until) = filter.until {
        selection = selection.filter(audit_events::created_at.lt(until));
        choices |= 1 << 5;
    }
    (selection, choices)
}

/// Up to `limit` events past `place`, in the order that walks away from it:
/// newest first, except for [`AuditPlace::Newer`], which reads oldest first.
fn read_past(
    conn: &mut DbConnection,
    org_id: Option<&str>,
    filter: &AuditFilter,
    place: &AuditPlace,
    limit: i64,
) -> Result<Vec<RecordedEvent>, Error> {
    let (mut selection, mut choices) = matching(org_id, filter);
    // The time range first, then the tie on the id: both backends walk the
    // index from the cursor rather than from the newest event.
    selection = match place {
        AuditPlace::Newest => selection.order((audit_events::created_at.desc(), audit_events::id.desc())),
        AuditPlace::Older(cursor) => {
            choices |= 1 << 6;
            selection
                .filter(audit_events::created_at.le(cursor.at))
                .filter(
                    audit_events::created_at
                        .lt(cursor.at)
                        .or(audit_events::id.lt(cursor.id.clone())),
                )
                .order((audit_events::created_at.desc(), audit_events::id.desc()))
        }
        AuditPlace::Newer(cursor) => {
            choices |= 1 << 7;
            selection
                .filter(audit_events::created_at.ge(cursor.at))
                .filter(
                    audit_events::created_at
                        .gt(cursor.at)
                        .or(audit_events::id.gt(cursor.id.clone())),
                )
                .order((audit_events::created_at.asc(), audit_events::id.asc()))
        }
    };
    Ok(Shaped {
        shape: Shape {
            statement: "audit::page",
            choices,
        },
        query: selection.select(RecordedEvent::as_select()).limit(limit),
    }
    .load(conn)?)
}

/// A page of the organization's log, for a viewer the policy lets read it.
pub fn page(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &AuditFilter,
    place: &AuditPlace,
) -> Result<AuditPage, Error> {
    policy::authorize(viewer.role, Action::ViewAuditLog)?;
    filter.check_scope(false)?;
    page_of(conn, Some(&viewer.org.id), filter, place, PER_PAGE)
}

fn page_of(
    conn: &mut DbConnection,
    org_id: Option<&str>,
    filter: &AuditFilter,
    place: &AuditPlace,
    per_page: u32,
) -> Result<AuditPage, Error> {
    let limit = usize::try_from(per_page).unwrap_or(usize::MAX);
    let mut events = read_past(conn, org_id, filter, place, i64::from(per_page) + 1)?;
    let more = events.len() > limit;
    events.truncate(limit);
    if matches!(place, AuditPlace::Newer(_)) {
        events.reverse();
    }
    let (first, last) = (events.first(), events.last());
    let (older, newer) = match place {
        AuditPlace::Newest => (last.filter(|_| more), None),
        AuditPlace::Older(_) => (last.filter(|_| more), first),
        AuditPlace::Newer(_) => (last, first.filter(|_| more)),
    };
    let (older, newer) = (older.map(AuditCursor::past), newer.map(AuditCursor::past));
    // Walking back past the newest event leaves an empty page: show the newest.
    if events.is_empty() && matches!(place, AuditPlace::Newer(_)) {
        return page_of(conn, org_id, filter, &AuditPlace::Newest, per_page);
    }
    Ok(AuditPage { events, older, newer })
}

/// The organization's events for the command line, newest first, read
/// `batch` at a time and handed to `each` in order until it returns false or
/// none are left.
pub fn walk(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &AuditFilter,
    each: impl FnMut(&RecordedEvent) -> Result<bool, Error>,
) -> Result<(), Error> {
    policy::authorize(viewer.role, Action::ViewAuditLog)?;
    filter.check_scope(false)?;
    walk_from(conn, Some(&viewer.org.id), filter, each)
}

/// The events that belong to no organization (sign-ins, refused sign-ins,
/// sessions ended, introspection clients): for the operator at a shell.
pub fn walk_instance(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    each: impl FnMut(&RecordedEvent) -> Result<bool, Error>,
) -> Result<(), Error> {
    filter.check_scope(true)?;
    walk_from(conn, None, filter, each)
}

fn walk_from(
    conn: &mut DbConnection,
    org_id: Option<&str>,
    filter: &AuditFilter,
    mut each: impl FnMut(&RecordedEvent) -> Result<bool, Error>,
) -> Result<(), Error> {
    let mut place = AuditPlace::Newest;
    loop {
        let page = page_of(conn, org_id, filter, &place, 500)?;
        for event in &page.events {
            if !each(event)? {
                return Ok(());
            }
        }
        match page.older {
            Some(cursor) => place = AuditPlace::Older(cursor),
            None => return Ok(()),
        }
    }
}

/// The next batch of a download: up to `batch` events older than `after`
/// (from the newest when `None`). Each batch is its own short read, so that a
/// long download holds no connection or snapshot between batches.
pub fn batch(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &AuditFilter,
    after: Option<&AuditCursor>,
    batch: u32,
) -> Result<(Vec<RecordedEvent>, Option<AuditCursor>), Error> {
    policy::authorize(viewer.role, Action::ViewAuditLog)?;
    let place = after.cloned().map_or(AuditPlace::Newest, AuditPlace::Older);
    let page = page_of(conn, Some(&viewer.org.id), filter, &place, batch)?;
    Ok((page.events, page.older))
}

/// The format of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }
}

/// Records that `who` is downloading the log with this filter: before the
/// first byte goes out, and only for a viewer the policy lets read it.
pub fn record_download(
    conn: &mut DbConnection,
    actor: &crate::services::shared::Actor,
    viewer: &Viewer,
    filter: &AuditFilter,
    format: ExportFormat,
) -> Result<(), Error> {
    policy::authorize(viewer.role, Action::ViewAuditLog)?;
    filter.check_scope(false)?;
    let who = crate::services::identity::identify(conn, actor)?;
    record(
        conn,
        AuditEvent {
            org_id: Some(&viewer.org.id),
            actor: (&who).into(),
            action: AuditAction::AuditDownloaded,
            target: AuditTarget::named(TargetKind::AuditLog, Some(&viewer.org.id), &viewer.org.slug),
            before: None,
            after: Some(serde_json::json!({ "format": format.as_str(), "filter": filter.as_json() })),
        },
    )
}
