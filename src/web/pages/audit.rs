//! The audit log tab (`/orgs/{slug}/audit`): the organization's events,
//! newest first, filtered and paged by keyset, and their download as CSV or
//! JSON Lines, streamed a batch at a time.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use futures_util::StreamExt;

use super::{layout, query_pairs};
use crate::domain::text;
use crate::error::Error;
use crate::services::audit::{
    self, AuditAction, AuditCursor, AuditFilter, AuditPlace, ExportFormat, RecordedEvent,
};
use crate::services::{Actor, Viewer};

use crate::web::context::{OrgSlug, SignedIn, htmx_target};
use crate::web::respond::html;
use crate::web::state::AppState;
use crate::web::views::{
    AuditEventsFragment, AuditFilterView, AuditLogPage, AuditRowView, OrgView, Tabs, render,
};

/// Events read per statement of a download.
const DOWNLOAD_BATCH: u32 = 1000;

/// What the page's query string asks for.
struct AuditRequest {
    typed: AuditFilterView,
    filter: AuditFilter,
    place: AuditPlace,
    format: Option<ExportFormat>,
}

/// A `from` or `to` date: a day, as `<input type=date>` sends it.
fn day(name: &str, text: &str) -> Result<Option<NaiveDate>, Error> {
    match text.trim() {
        "" => Ok(None),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                Error::Invalid(format!(
                    "{name}: “{}” is not a date like 2026-12-31.",
                    text.chars().take(40).collect::<String>()
                ))
            }),
    }
}

fn audit_request(req: &HttpRequest, slug: &str) -> Result<AuditRequest, Error> {
    let pairs = query_pairs(req.query_string());
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    let from = day("From", param("from"))?;
    let to = day("To", param("to"))?;
    let start = |day: NaiveDate| NaiveDateTime::from(day);
    let filter = AuditFilter::new(
        param("actor"),
        param("action"),
        param("target"),
        from.map(start),
        // "To" includes its day.
        to.and_then(|day| day.succ_opt()).map(start),
    )?;
    let place = match (param("older"), param("newer")) {
        ("", "") => AuditPlace::Newest,
        (older, "") => AuditPlace::Older(AuditCursor::parse(older)?),
        ("", newer) => AuditPlace::Newer(AuditCursor::parse(newer)?),
        _ => {
            return Err(Error::Invalid(
                "Ask for older or for newer events, not both.".to_owned(),
            ));
        }
    };
    let format = match param("format") {
        "" => None,
        "csv" => Some(ExportFormat::Csv),
        "jsonl" => Some(ExportFormat::JsonLines),
        other => {
            return Err(Error::Invalid(format!(
                "“{}” is not a download format; choose csv or jsonl.",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let keep = |text: &str| text.trim().to_owned();
    Ok(AuditRequest {
        typed: AuditFilterView {
            slug: slug.to_owned(),
            actor: keep(param("actor")),
            action: filter
                .action
                .map(|action| action.as_str().to_owned())
                .unwrap_or_default(),
            target: keep(param("target")),
            from: from.map(|day| day.to_string()).unwrap_or_default(),
            to: to.map(|day| day.to_string()).unwrap_or_default(),
        },
        filter,
        place,
        format,
    })
}

pub async fn page(
    state: web::Data<AppState>,
    signed: SignedIn,
    req: HttpRequest,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let asked = audit_request(&req, &slug.to_string())?;
    let events_only = signed.htmx && htmx_target(&req) == Some("audit-events");
    let AuditRequest {
        typed, filter, place, ..
    } = asked;
    let (user, (context, listed)) = signed
        .read_org(&state, slug, move |conn, _, context| {
            let listed = audit::page(conn, &context.viewer, &filter, &place)?;
            Ok((context, listed))
        })
        .await?;
    let fragment = AuditEventsFragment {
        rows: listed.events.iter().map(AuditRowView::from).collect(),
        older: listed.older.as_ref().map(AuditCursor::encode),
        newer: listed.newer.as_ref().map(AuditCursor::encode),
        filter: typed,
    };
    let events = render(&fragment, "the audit events")?;
    if events_only {
        return Ok(html(StatusCode::OK, events));
    }
    let org = &context.viewer.org;
    let page = AuditLogPage {
        layout: layout(
            &state,
            &signed.session,
            format!("Audit log of {}", org.name),
            Some(&user),
            context.orgs.clone(),
            Some(&org.slug),
        ),
        org: OrgView::from(org),
        tabs: Tabs::for_role(context.viewer.role),
        filter: fragment.filter,
        actions: AuditAction::of_organizations().collect(),
        events,
    };
    Ok(html(StatusCode::OK, render(&page, "the audit log")?))
}

/// The filtered events as a file. The download is recorded before its first
/// byte; then each batch is read afresh (with the downloader's role checked
/// again), written and sent before the next is read, so memory stays flat
/// however many events there are.
pub async fn download(
    state: web::Data<AppState>,
    signed: SignedIn,
    req: HttpRequest,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    // Another site may link here, but a download it starts would be recorded
    // in the name of whoever followed the link.
    if req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site")
    {
        return Err(Error::Invalid(
            "Downloads of the audit log start from the Audit log tab, not from another site.".to_owned(),
        ));
    }
    // A download is recorded, so what it is asked is read strictly: a
    // parameter it does not know is refused, not ignored.
    let known = ["actor", "action", "target", "from", "to", "format"];
    let pairs = query_pairs(req.query_string());
    if let Some((unknown, _)) = pairs.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        return Err(Error::Invalid(format!(
            "A download takes actor, action, target, from, to and format; not “{}”.",
            unknown.chars().take(40).collect::<String>()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((repeated, _)) = pairs.iter().find(|(key, _)| !seen.insert(key.as_str())) {
        return Err(Error::Invalid(format!("“{repeated}” is given twice.")));
    }
    let asked = audit_request(&req, slug.as_str())?;
    let format = asked.format.unwrap_or(ExportFormat::Csv);
    let filter = asked.filter;
    let actor = signed.actor.clone();
    {
        let (actor, slug, filter) = (actor.clone(), slug.clone(), filter.clone());
        state
            .db(move |conn| {
                let viewer = Viewer::open(conn, &actor, &slug)?;
                audit::record_download(conn, &actor, &viewer, &filter, format)
            })
            .await?;
    }
    let file_name = format!(
        "{}-audit-{}.{}",
        slug.as_str(),
        crate::services::now().format("%Y-%m-%d"),
        format.as_str()
    );
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::JsonLines => "application/jsonl; charset=utf-8",
    };
    let mut reader = Reader {
        state: state.clone(),
        actor,
        slug,
        filter,
        format,
        cursor: None,
        started: false,
        done: false,
    };
    // The first batch is read before the answer starts, so that a failure
    // there is an error page, not a cut connection.
    let first = reader.next_chunk().await?;
    let rest = futures_util::stream::unfold(reader, |mut reader| async move {
        let chunk = reader.next_chunk().await.transpose()?;
        Some((chunk, reader))
    });
    let body = futures_util::stream::iter(first.map(Ok)).chain(rest);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .streaming(body))
}

/// Where a download is: the cursor after the last batch sent.
struct Reader {
    state: web::Data<AppState>,
    actor: Actor,
    slug: crate::domain::Slug,
    filter: AuditFilter,
    format: ExportFormat,
    cursor: Option<AuditCursor>,
    started: bool,
    done: bool,
}

impl Reader {
    /// The next piece of the file, or `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if self.done {
            return Ok(None);
        }
        let (actor, slug, filter, cursor) = (
            self.actor.clone(),
            self.slug.clone(),
            self.filter.clone(),
            self.cursor.clone(),
        );
        let (events, next) = self
            .state
            .read(move |conn| {
                let viewer = Viewer::open(conn, &actor, &slug)?;
                audit::batch(conn, &viewer, &filter, cursor.as_ref(), DOWNLOAD_BATCH)
            })
            .await?;
        let mut out = Vec::with_capacity(events.len() * 400 + 256);
        match self.format {
            ExportFormat::Csv => write_csv(&mut out, &events, !self.started)?,
            ExportFormat::JsonLines => write_json_lines(&mut out, &events)?,
        }
        self.started = true;
        self.done = next.is_none();
        self.cursor = next;
        Ok(Some(Bytes::from(out)))
    }
}

const CSV_HEADER: [&str; 16] = [
    "time",
    "action",
    "summary",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_email",
    "credential",
    "target_kind",
    "target_id",
    "target_name",
    "target_email",
    "before",
    "after",
    "client_ip",
    "id",
];

/// Writes events as RFC 4180 rows, every cell made safe to open in a
/// spreadsheet ([`neutralised`]) and free of characters that break or
/// reorder a line ([`text::escape_unprintable`]: rows kept from before the
/// one-line rule may hold them).
fn write_csv(out: &mut Vec<u8>, events: &[RecordedEvent], header: bool) -> Result<(), Error> {
    let failed = |error: csv::Error| Error::Invalid(format!("The download could not be written: {error}"));
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if header {
        writer.write_record(CSV_HEADER).map_err(failed)?;
    }
    for event in events {
        let time = event.created_at.and_utc().to_rfc3339();
        let summary = event.summary();
        let cells: [&str; 16] = [
            &time,
            &event.action,
            &summary,
            &event.actor_kind,
            event.actor_id.as_deref().unwrap_or(""),
            &event.actor_name,
            event.actor_email.as_deref().unwrap_or(""),
            &event.credential,
            &event.target_kind,
            event.target_id.as_deref().unwrap_or(""),
            &event.target_name,
            event.target_email.as_deref().unwrap_or(""),
            event.before_state.as_deref().unwrap_or(""),
            event.after_state.as_deref().unwrap_or(""),
            event.client_ip.as_deref().unwrap_or(""),
            &event.id,
        ];
        for cell in cells {
            writer
                .write_field(neutralised(&text::escape_unprintable(cell)).as_bytes())
                .map_err(failed)?;
        }
        writer.write_record(std::iter::empty::<&[u8]>()).map_err(failed)?;
    }
    writer
        .flush()
        .map_err(|error| Error::Invalid(format!("The download could not be written: {error}")))?;
    Ok(())
}

/// A cell a spreadsheet would read as a formula (it begins with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading apostrophe, which
/// makes it text (OWASP's advice on CSV injection).
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write_json_lines(out: &mut Vec<u8>, events: &[RecordedEvent]) -> Result<(), Error> {
    for event in events {
        event
            .write_json_line(out)
            .map_err(|error| Error::Invalid(format!("The download could not be written: {error}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::neutralised;

    #[test]
    fn cells_that_spreadsheets_would_run_become_text() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(neutralised(cell), format!("'{cell}"));
        }
        for cell in ["Ada Lovelace", "ada@example.com", "", "1=1"] {
            assert_eq!(neutralised(cell), cell);
        }
    }
}
