//! The audit trail: who did what to whom, with which credential, and the
//! state before and after. Events are written in the transaction of the change
//! they record, never changed afterwards (the database refuses an UPDATE), and
//! deleted only by retention ([`prune`]).

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Nullable, Text, Timestamp};
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::db::written::{Shape, Shaped};
use crate::db::{DbConnection, MultiBackend};
pub use crate::domain::audit::{ActorKind, AuditAction, TargetKind};
use crate::domain::policy::{self, Action};
use crate::domain::{EmailAddress, Role, text};
use crate::error::Error;
use crate::services::access::Viewer;
use crate::services::identity::Identified;
use crate::services::shared::{new_id, now};

/// Who did it, for the record.
pub(crate) struct AuditActor<'a> {
    pub kind: ActorKind,
    pub id: Option<&'a str>,
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// What the actor filter matches.
    pub key: &'a str,
    pub credential: &'a str,
    pub client_ip: Option<IpAddr>,
}

impl<'a> From<&'a Identified> for AuditActor<'a> {
    fn from(who: &'a Identified) -> Self {
        Self {
            kind: who.kind,
            id: who.actor_id.as_deref(),
            name: &who.name,
            email: who.email.as_ref().map(EmailAddress::as_str),
            key: &who.audit_label,
            credential: &who.credential,
            client_ip: who.client_ip,
        }
    }
}

/// What it was done to, with its name and address as they were then.
pub(crate) struct AuditTarget<'a> {
    pub kind: TargetKind,
    pub id: Option<&'a str>,
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// What the target filter matches: the address of the person concerned,
    /// else a name.
    pub key: &'a str,
}

impl<'a> AuditTarget<'a> {
    /// A person, or something that is theirs: found by their address.
    pub fn person(kind: TargetKind, id: Option<&'a str>, name: &'a str, email: &'a str) -> Self {
        Self {
            kind,
            id,
            name,
            email: Some(email),
            key: email,
        }
    }

    /// Something with a name and no address: found by the name.
    pub fn named(kind: TargetKind, id: Option<&'a str>, name: &'a str) -> Self {
        Self {
            kind,
            id,
            name,
            email: None,
            key: name,
        }
    }
}

/// Deletes every event of an organization being purged (retention is the
/// only other DELETE; nothing updates an event).
pub(crate) fn purge_organization(conn: &mut DbConnection, org_id: &str) -> Result<usize, Error> {
    Ok(diesel::delete(audit_events::table.filter(audit_events::org_id.eq(org_id))).execute(conn)?)
}

/// One event to record.
pub(crate) struct AuditEvent<'a> {
    pub org_id: Option<&'a str>,
    pub actor: AuditActor<'a>,
    pub action: AuditAction,
    pub target: AuditTarget<'a>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_null = true)]
struct NewAuditEvent<'a> {
    id: String,
    org_id: Option<&'a str>,
    actor_kind: &'static str,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    actor_email: Option<&'a str>,
    actor_label: String,
    credential: &'a str,
    action: &'static str,
    target_kind: &'static str,
    target_id: Option<&'a str>,
    target_name: &'a str,
    target_email: Option<&'a str>,
    target: String,
    before_state: Option<String>,
    after_state: Option<String>,
    client_ip: Option<String>,
    created_at: NaiveDateTime,
}

/// One event's INSERT, written out with every column bound: diesel prepares
/// no INSERT of optional values a second time, so each action's event was
/// parsed and planned again. One text, so each connection prepares it once.
struct OneEvent<'r, 'a>(&'r NewAuditEvent<'a>);

impl QueryFragment<MultiBackend> for OneEvent<'_, '_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let event = self.0;
        out.push_sql(
            "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, actor_email, \
             actor_label, credential, action, target_kind, target_id, target_name, target_email, \
             target, before_state, after_state, client_ip, created_at) VALUES (",
        );
        out.push_bind_param::<Text, _>(&event.id)?;
        macro_rules! then_bind {
            ($sql_type:ty, $value:expr) => {
                out.push_sql(", ");
                out.push_bind_param::<$sql_type, _>($value)?;
            };
        }
        then_bind!(Nullable<Text>, &event.org_id);
        then_bind!(Text, event.actor_kind);
        then_bind!(Nullable<Text>, &event.actor_id);
        then_bind!(Text, event.actor_name);
        then_bind!(Nullable<Text>, &event.actor_email);
        then_bind!(Text, &event.actor_label);
        then_bind!(Text, event.credential);
        then_bind!(Text, event.action);
        then_bind!(Text, event.target_kind);
        then_bind!(Nullable<Text>, &event.target_id);
        then_bind!(Text, event.target_name);
        then_bind!(Nullable<Text>, &event.target_email);
        then_bind!(Text, &event.target);
        then_bind!(Nullable<Text>, &event.before_state);
        then_bind!(Nullable<Text>, &event.after_state);
        then_bind!(Nullable<Text>, &event.client_ip);
        then_bind!(Timestamp, &event.created_at);
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for OneEvent<'_, '_> {
    type QueryId = OneEvent<'static, 'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for OneEvent<'_, '_> {}

impl<'a> AuditEvent<'a> {
    fn into_row(self, at: NaiveDateTime) -> NewAuditEvent<'a> {
        NewAuditEvent {
            id: new_id(),
            org_id: self.org_id,
            actor_kind: self.actor.kind.as_str(),
            actor_id: self.actor.id,
            actor_name: self.actor.name,
            actor_email: self.actor.email,
            actor_label: filter_key(self.actor.key),
            credential: self.actor.credential,
            action: self.action.as_str(),
            target_kind: self.target.kind.as_str(),
            target_id: self.target.id,
            target_name: self.target.name,
            target_email: self.target.email,
            target: filter_key(self.target.key),
            before_state: self.before.map(|v| v.to_string()),
            after_state: self.after.map(|v| v.to_string()),
            client_ip: self.actor.client_ip.map(|ip| ip.to_string()),
            created_at: at,
        }
    }
}

/// How the actor and target filters compare: trimmed, lower-cased.
fn filter_key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Records events in the caller's transaction.
pub(crate) fn record_all<'a>(
    conn: &mut DbConnection,
    events: impl IntoIterator<Item = AuditEvent<'a>>,
) -> Result<(), Error> {
    let at = now();
    record_at(conn, events.into_iter().map(|event| (event, at)))
}

/// Records events that happened at the times given (synthetic history).
pub(crate) fn record_at<'a>(
    conn: &mut DbConnection,
    events: impl IntoIterator<Item = (AuditEvent<'a>, NaiveDateTime)>,
) -> Result<(), Error> {
    let rows: Vec<NewAuditEvent> = events.into_iter().map(|(event, at)| event.into_row(at)).collect();
    // Nearly every action records one event.
    if let [row] = rows.as_slice() {
        OneEvent(row).execute(conn)?;
        return Ok(());
    }
    for chunk in rows.chunks(crate::services::shared::INSERT_CHUNK) {
        crate::db::insert_all!(conn, audit_events::table, chunk)?;
    }
    Ok(())
}

pub(crate) fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> Result<(), Error> {
    record_all(conn, [event])
}

/// Records an instance event by the operator at a shell (an introspection
/// client made or revoked), in the caller's transaction.
pub(crate) fn record_by_command_line(
    conn: &mut DbConnection,
    action: AuditAction,
    target: AuditTarget<'_>,
    after: Value,
) -> Result<(), Error> {
    let who = crate::services::identity::identify(conn, &crate::services::shared::Actor::command_line())?;
    record(
        conn,
        AuditEvent {
            org_id: None,
            actor: (&who).into(),
            action,
            target,
            before: None,
            after: Some(after),
        },
    )
}

/// Records a refused sign-in, with the reason the person was shown.
pub fn record_sign_in_refused(
    conn: &mut DbConnection,
    provider: &str,
    reason: &str,
    client_ip: Option<IpAddr>,
) -> Result<(), Error> {
    let credential = format!("sign-in with {provider}");
    // The reason can carry what the provider's redirect said: kept to one
    // short line, so that nobody can write log lines of their own.
    let reason = crate::domain::text::one_line(reason, 300);
    record(
        conn,
        AuditEvent {
            org_id: None,
            actor: AuditActor {
                kind: ActorKind::Visitor,
                id: None,
                name: "",
                email: None,
                key: "",
                credential: &credential,
                client_ip,
            },
            action: AuditAction::SignInRefused,
            target: AuditTarget::named(TargetKind::Session, None, provider),
            before: None,
            after: Some(serde_json::json!({ "reason": reason })),
        },
    )
}

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

/// Deletes up to `batch` events recorded before `cutoff`; returns how many.
/// Retention calls it until it returns less than a batch, one short
/// statement at a time, so that writers never wait long behind it. It walks
/// each organization's oldest events (and the sign-ins') by the index the
/// log is read by.
pub fn prune(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let orgs: Vec<String> = organizations::table.select(organizations::id).load(conn)?;
    let mut old: Vec<String> = audit_events::table
        .filter(audit_events::org_id.is_null())
        .filter(audit_events::created_at.lt(cutoff))
        .order(audit_events::created_at.asc())
        .select(audit_events::id)
        .limit(batch)
        .load(conn)?;
    for org_id in &orgs {
        let room = batch - i64::try_from(old.len()).unwrap_or(batch);
        if room <= 0 {
            break;
        }
        old.extend(
            audit_events::table
                .filter(audit_events::org_id.eq(org_id))
                .filter(audit_events::created_at.lt(cutoff))
                .order(audit_events::created_at.asc())
                .select(audit_events::id)
                .limit(room)
                .load::<String>(conn)?,
        );
    }
    if old.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&old))).execute(conn)?)
}

impl RecordedEvent {
    fn before(&self) -> Value {
        parse_state(self.before_state.as_deref())
    }

    fn after(&self) -> Value {
        parse_state(self.after_state.as_deref())
    }

    /// Writes the event as one line of JSON Lines, as the download and
    /// `rollcall audit list --json` write it: every character a reader could
    /// take for a line break or that hides in the text (U+2028, U+2029, the
    /// C1 controls, format characters) is a `\u` escape, which JSON readers
    /// turn back into it, so that a name kept from before the one-line rule
    /// cannot cut an event in two for a reader that splits on Unicode lines.
    pub fn write_json_line(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        use serde::Serialize as _;
        let mut serializer = serde_json::Serializer::with_formatter(&mut *out, EscapeUnprintable);
        self.to_json().serialize(&mut serializer)?;
        out.write_all(b"\n")
    }

    /// The event as JSON, as [`RecordedEvent::write_json_line`] writes it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "time": self.created_at.and_utc().to_rfc3339(),
            "action": self.action,
            "actor": {
                "kind": self.actor_kind,
                "id": self.actor_id,
                "name": self.actor_name,
                "email": self.actor_email,
            },
            "credential": self.credential,
            "target": {
                "kind": self.target_kind,
                "id": self.target_id,
                "name": self.target_name,
                "email": self.target_email,
            },
            "summary": self.summary(),
            "before": self.before(),
            "after": self.after(),
            "client_ip": self.client_ip,
        })
    }

    /// Who acted, in words: "Ada Lovelace", "the command line", "deployer (service account)".
    pub fn actor(&self) -> String {
        match self.actor_kind.as_str() {
            "command_line" => "The command line".to_owned(),
            "service_account" => format!("{} (service account)", self.actor_name),
            "visitor" => "Someone".to_owned(),
            _ if self.actor_name.is_empty() => self.actor_email.clone().unwrap_or_default(),
            _ => self.actor_name.clone(),
        }
    }

    /// The target, named for a sentence: the person's name, else the address.
    fn target(&self) -> &str {
        if self.target_name.is_empty() {
            self.target_email.as_deref().unwrap_or("")
        } else {
            &self.target_name
        }
    }

    /// An invitee: the address, after the name the invitation greets them by.
    fn invitee(&self) -> String {
        let email = self.target_email.as_deref().unwrap_or("");
        if self.target_name.is_empty() {
            email.to_owned()
        } else {
            format!("{} ({email})", self.target_name)
        }
    }

    /// What happened, in words, without the actor: "changed Bob Kahn's role
    /// from Developer to Admin".
    pub fn summary(&self) -> String {
        let (before, after) = (self.before(), self.after());
        let role = |state: &Value| role_label(state.get("role"));
        let target = self.target();
        let Some(action) = AuditAction::parse(&self.action) else {
            return self.action.clone();
        };
        match action {
            AuditAction::OrganizationCreated => format!("created the organization {}", text(&after, "name")),
            AuditAction::InvitationCreated => format!("invited {} as {}", self.invitee(), role(&after)),
            AuditAction::InvitationResent => format!("resent the invitation to {}", self.invitee()),
            AuditAction::InvitationRevoked => {
                format!(
                    "revoked the invitation of {} as {}",
                    self.invitee(),
                    role(&before)
                )
            }
            AuditAction::InvitationAccepted => {
                format!("accepted the invitation and joined as {}", role(&after))
            }
            AuditAction::InvitationDeclined => "declined the invitation".to_owned(),
            AuditAction::MemberAdded => format!("added {target} as {}", role(&after)),
            AuditAction::RoleChanged => {
                format!(
                    "changed {target}’s role from {} to {}",
                    role(&before),
                    role(&after)
                )
            }
            AuditAction::MemberRemoved => {
                let mut said = format!("removed {target} ({})", role(&before));
                tokens_revoked(&mut said, &after);
                said
            }
            AuditAction::MemberLeft => {
                let mut said = format!("left the organization ({})", role(&before));
                tokens_revoked(&mut said, &after);
                said
            }
            AuditAction::TokenCreated => {
                let holder = text(&after, "holder");
                let access = text(&after, "access");
                if holder.is_empty() || Some(holder) == Some(self.actor_name.as_str()) {
                    format!("created the API token “{target}” ({access} access)")
                } else {
                    format!("created the API token “{target}” ({access} access) for {holder}")
                }
            }
            AuditAction::TokenRevoked => match text(&before, "holder") {
                "" => format!("revoked the API token “{target}”"),
                holder if holder == self.actor_name => format!("revoked the API token “{target}”"),
                holder => format!("revoked the API token “{target}” of {holder}"),
            },
            AuditAction::ServiceAccountCreated => {
                format!("created the service account {target} as {}", role(&after))
            }
            AuditAction::ServiceAccountDisabled => format!("disabled the service account {target}"),
            AuditAction::ServiceAccountDeleted => format!("deleted the service account {target}"),
            AuditAction::ServiceAccountKeyCreated => format!(
                "created the key “{}” for the service account {target}",
                text(&after, "name")
            ),
            AuditAction::AuditDownloaded => {
                let format = match text(&after, "format") {
                    "jsonl" => "JSON Lines",
                    _ => "CSV",
                };
                let filtered = after
                    .get("filter")
                    .and_then(Value::as_object)
                    .is_some_and(|f| !f.is_empty());
                if filtered {
                    format!("downloaded filtered audit events as {format}")
                } else {
                    format!("downloaded the audit log as {format}")
                }
            }
            AuditAction::SignedIn => format!("signed in with {}", text(&after, "provider")),
            AuditAction::SignInRefused => {
                format!("could not sign in with {target}: {}", text(&after, "reason"))
            }
            AuditAction::SessionsEnded => "signed out of every session".to_owned(),
            AuditAction::IntrospectionClientCreated => format!("created the introspection client {target}"),
            AuditAction::IntrospectionClientRevoked => format!("revoked the introspection client {target}"),
            AuditAction::OrganizationRenamed => {
                let (from, to) = (text(&before, "slug"), text(&after, "slug"));
                let mut said = format!(
                    "renamed the organization from {} to {}",
                    text(&before, "name"),
                    text(&after, "name")
                );
                if from != to {
                    let _ = write!(said, " (its address moved from /orgs/{from} to /orgs/{to})");
                }
                said
            }
            AuditAction::OrganizationDeleted => format!(
                "deleted the organization; it can be restored until {}",
                text(&after, "restorable_until")
            ),
            AuditAction::OrganizationRestored => "restored the organization".to_owned(),
            AuditAction::OrganizationPurged => format!("purged the deleted organization {target}"),
            AuditAction::DomainsChanged => match after.get("domains").and_then(Value::as_array) {
                Some(domains) if !domains.is_empty() => {
                    let listed: Vec<&str> = domains.iter().filter_map(Value::as_str).collect();
                    format!("allowed invitations only to addresses at {}", listed.join(", "))
                }
                _ => "allowed invitations to addresses at any domain".to_owned(),
            },
            AuditAction::TransferRequested => format!("asked {target} to take over ownership"),
            AuditAction::TransferCancelled => match text(&after, "by") {
                "declined" => "declined to take over ownership".to_owned(),
                _ => format!("cancelled the ownership transfer to {target}"),
            },
            AuditAction::OwnershipTransferred => match after.get("former_owner_role").and_then(Value::as_str)
            {
                Some(role) => format!(
                    "took over ownership from {target}, who stays as {}",
                    role_label(Some(&Value::from(role)))
                ),
                None => format!("took over ownership from {target}, who left"),
            },
            AuditAction::MembershipEndChanged => match text(&after, "ends_after") {
                "" => format!("removed the end date of {target}’s access"),
                day => format!("set {target}’s access to end after {day}"),
            },
            AuditAction::MemberExpired => {
                let mut said = format!(
                    "removed {target} ({}): their access ended after {}",
                    role(&before),
                    text(&before, "ends_after")
                );
                tokens_revoked(&mut said, &after);
                said
            }
        }
    }
}

fn parse_state(state: Option<&str>) -> Value {
    state
        .and_then(|state| serde_json::from_str(state).ok())
        .unwrap_or(Value::Null)
}

fn text<'v>(state: &'v Value, field: &str) -> &'v str {
    state.get(field).and_then(Value::as_str).unwrap_or("")
}

fn role_label(role: Option<&Value>) -> &'static str {
    role.and_then(Value::as_str)
        .and_then(|role| role.parse::<Role>().ok())
        .map_or("an unknown role", Role::label)
}

fn tokens_revoked(said: &mut String, after: &Value) {
    match after.get("tokens_revoked").and_then(Value::as_u64) {
        None | Some(0) => {}
        Some(1) => said.push_str("; 1 API token revoked"),
        Some(n) => {
            let _ = write!(said, "; {n} API tokens revoked");
        }
    }
}

/// serde_json's compact output, with every [`text::is_unprintable`]
/// character in a string escaped as `\uXXXX` (two, for one beyond the
/// Basic Multilingual Plane); serde_json escapes only the C0 controls.
struct EscapeUnprintable;

impl serde_json::ser::Formatter for EscapeUnprintable {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut plain_from = 0;
        for (at, c) in fragment.char_indices() {
            if text::is_unprintable(c) {
                writer.write_all(&fragment.as_bytes()[plain_from..at])?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                plain_from = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[plain_from..])
    }
}

#[cfg(test)]
mod tests {
    use super::EscapeUnprintable;
    use serde::Serialize as _;

    fn written(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        value
            .serialize(&mut serde_json::Serializer::with_formatter(
                &mut out,
                EscapeUnprintable,
            ))
            .expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn json_lines_escape_what_a_reader_could_take_for_a_line_break() {
        let name = "Ada\u{2028}\u{2029}\u{85}\u{202E}\u{200B}x\u{E0041}\n👩‍💻 é";
        let line = written(&serde_json::json!({ "name": name }));
        assert_eq!(
            line,
            r#"{"name":"Ada\u2028\u2029\u0085\u202e\u200bx\udb40\udc41\n👩\u200d💻 é"}"#
        );
        assert!(
            !line
                .chars()
                .any(|c| c != ' ' && (c.is_whitespace() || c.is_control()))
        );
        let read: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(read["name"], name);
    }
}
