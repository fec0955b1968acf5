//! `rollcall audit list`: an organization's audit log (or the instance's) from
//! a shell, newest first, under the same policy as the console.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime};
use clap::Subcommand;

use super::{migrated, parse_slug};
use crate::config::Config;
use crate::domain::text;
use crate::error::Error;
use crate::services::audit::{self, AuditFilter, RecordedEvent};
use crate::services::{Actor, Viewer, now};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print events, newest first: one a line, tab-separated, or JSON Lines.
    #[command(group(clap::ArgGroup::new("whose").required(true).args(["org", "instance"])))]
    List {
        /// The organization whose log to print.
        #[arg(long)]
        org: Option<String>,
        /// Print the events that belong to no organization instead: sign-ins,
        /// refused sign-ins, sessions ended, introspection clients.
        #[arg(long)]
        instance: bool,
        /// From this long ago (7d, 12h) or this day or moment (2026-12-01, 2026-12-01T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Until this long ago or this moment; a day is included.
        #[arg(long)]
        until: Option<String>,
        /// Only this action, e.g. member.role_changed.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor: an email address, a service account's name, or "command line".
        #[arg(long)]
        actor: Option<String>,
        /// Only this target: an email address or a name.
        #[arg(long)]
        target: Option<String>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON object a line, as the console's JSON Lines download.
        #[arg(long)]
        json: bool,
    },
}

/// A moment on the command line: a duration before `now`, a day (its start,
/// or with `end_of_day` the start of the next, as the console's "To"), or an
/// RFC 3339 time.
fn moment(name: &str, text: &str, now: NaiveDateTime, end_of_day: bool) -> Result<NaiveDateTime, Error> {
    let text = text.trim();
    if let Ok(ago) = humantime::parse_duration(text) {
        let ago = chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::MAX);
        return Ok(now.checked_sub_signed(ago).unwrap_or(NaiveDateTime::MIN));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        return Ok(day.into());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.naive_utc())
        .map_err(|_| {
            Error::Invalid(format!(
                "--{name}: “{text}” is not a duration (7d), a day (2026-12-01) or a time (2026-12-01T09:00:00Z)"
            ))
        })
}

/// A field of a tab-separated line: a tab, a line break, an escape or a
/// text-direction mark that a name carried would forge a line, drive the
/// terminal or reorder what is shown, so each is written as `\u{…}`.
fn field(text: &str) -> std::borrow::Cow<'_, str> {
    text::escape_unprintable(text)
}

pub fn run(config: &Config, command: AuditCommand) -> Result<(), Error> {
    let AuditCommand::List {
        org,
        instance: _,
        since,
        until,
        action,
        actor,
        target,
        limit,
        json,
    } = command;
    let asked_at = now();
    let filter = AuditFilter::new(
        actor.as_deref().unwrap_or(""),
        action.as_deref().unwrap_or(""),
        target.as_deref().unwrap_or(""),
        since
            .as_deref()
            .map(|text| moment("since", text, asked_at, false))
            .transpose()?,
        until
            .as_deref()
            .map(|text| moment("until", text, asked_at, true))
            .transpose()?,
    )?;
    let slug = org.as_deref().map(parse_slug).transpose()?;
    let pool = migrated(config)?;
    let conn = &mut pool.get()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut left = limit.unwrap_or(u64::MAX);
    let mut print = |event: &RecordedEvent| -> Result<bool, Error> {
        if left == 0 {
            return Ok(false);
        }
        left -= 1;
        let written = if json {
            event.write_json_line(&mut out)
        } else {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}",
                event.created_at.format("%Y-%m-%d %H:%M:%S"),
                field(&event.actor()),
                field(&event.summary()),
                field(&event.action),
                field(&event.credential),
                field(event.client_ip.as_deref().unwrap_or("-")),
            )
        };
        match written {
            Ok(()) => Ok(true),
            // A closed pipe (`rollcall audit list | head`) ends the list.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(error) => Err(Error::Invalid(format!("could not write the list: {error}"))),
        }
    };
    // clap lets exactly one of --org and --instance through.
    match slug {
        Some(slug) => {
            let viewer = Viewer::open(conn, &Actor::command_line(), &slug)?;
            audit::walk(conn, &viewer, &filter, &mut print)
        }
        None => audit::walk_instance(conn, &filter, &mut print),
    }
}
