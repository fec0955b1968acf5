//! When a membership ends: the member keeps access through the day named
//! (UTC), loses it the moment it is over (every request asks), and the
//! background worker removes them soon after.

use chrono::{Days, NaiveDate, NaiveDateTime};

/// The moment a membership ends: midnight UTC after its last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MembershipEnd(NaiveDateTime);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMembershipEnd {
    #[error("“{0}” is not a date: write it as YYYY-MM-DD, like 2027-01-31")]
    NotADate(String),
    #[error("“{0}” is not a date or a duration: write YYYY-MM-DD, a duration like 90d, or never")]
    NotADateOrDuration(String),
    #[error("A membership can only end in the future: {0} has passed.")]
    Past(String),
    #[error("A membership can end at most ten years from now.")]
    TooFar,
}

/// The furthest end accepted, from now.
const MAX_DAYS_AHEAD: u64 = 3653;

impl MembershipEnd {
    /// An end typed in a form's date field: empty means none.
    pub fn parse_date_field(input: &str, now: NaiveDateTime) -> Result<Option<Self>, InvalidMembershipEnd> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let day = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
            .map_err(|_| InvalidMembershipEnd::NotADate(shown(trimmed)))?;
        Self::after_day(day, now).map(Some)
    }

    /// `--expires` on the command line: a date, a duration from now
    /// (`90d`, `12h`), or `never` (None).
    pub fn parse_argument(input: &str, now: NaiveDateTime) -> Result<Option<Self>, InvalidMembershipEnd> {
        let trimmed = input.trim();
        if trimmed.eq_ignore_ascii_case("never") {
            return Ok(None);
        }
        if let Ok(day) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
            return Self::after_day(day, now).map(Some);
        }
        let duration = humantime::parse_duration(trimmed)
            .map_err(|_| InvalidMembershipEnd::NotADateOrDuration(shown(trimmed)))?;
        let duration = chrono::Duration::from_std(duration).map_err(|_| InvalidMembershipEnd::TooFar)?;
        let end = now
            .checked_add_signed(duration)
            .ok_or(InvalidMembershipEnd::TooFar)?;
        Self::checked(end, now, trimmed).map(Some)
    }

    fn after_day(day: NaiveDate, now: NaiveDateTime) -> Result<Self, InvalidMembershipEnd> {
        let end = day
            .checked_add_days(Days::new(1))
            .ok_or(InvalidMembershipEnd::TooFar)?
            .and_hms_opt(0, 0, 0)
            .ok_or(InvalidMembershipEnd::TooFar)?;
        Self::checked(end, now, &day.to_string())
    }

    fn checked(end: NaiveDateTime, now: NaiveDateTime, typed: &str) -> Result<Self, InvalidMembershipEnd> {
        if end <= now {
            return Err(InvalidMembershipEnd::Past(shown(typed)));
        }
        let furthest = now
            .checked_add_days(Days::new(MAX_DAYS_AHEAD))
            .unwrap_or(NaiveDateTime::MAX);
        if end > furthest {
            return Err(InvalidMembershipEnd::TooFar);
        }
        Ok(Self(end))
    }

    /// An end as the database keeps it (already checked when it was set).
    pub fn stored(at: NaiveDateTime) -> Self {
        Self(at)
    }

    pub fn at(self) -> NaiveDateTime {
        self.0
    }

    /// The last day of access, as a date field shows it ("2027-01-31").
    pub fn last_day(self) -> NaiveDate {
        let day = self.0.date();
        if self.0.time() == chrono::NaiveTime::MIN {
            day.pred_opt().unwrap_or(day)
        } else {
            day
        }
    }
}

/// Whether a membership still opens anything: its end, if it has one, and
/// whether it is kept past that end. The background worker never removes an
/// organization's last owner: it holds them and tells the owners, so an
/// owner who is the only one, or whom the worker already held, keeps access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipTerm {
    ends: Option<MembershipEnd>,
    kept_past_end: bool,
}

impl MembershipTerm {
    /// A membership's term as the database keeps it: its end, whether the
    /// worker held it past that end, and whether it is the organization's
    /// only owner now.
    pub fn stored(ends: Option<NaiveDateTime>, held: bool, only_owner: bool) -> Self {
        Self {
            ends: ends.map(MembershipEnd::stored),
            kept_past_end: held || only_owner,
        }
    }

    /// The moment access stops, if it does.
    pub fn access_ends(self) -> Option<NaiveDateTime> {
        self.ends.filter(|_| !self.kept_past_end).map(MembershipEnd::at)
    }

    /// Whether access has stopped at `now`: from the first moment after the
    /// last day, whether or not the worker has been by.
    pub fn is_over(self, now: NaiveDateTime) -> bool {
        self.access_ends().is_some_and(|end| end <= now)
    }
}

/// "31 January 2027": a day in words, as emails and refusals name a last day.
pub fn format_day(day: NaiveDate) -> String {
    day.format("%-d %B %Y").to_string()
}

fn shown(input: &str) -> String {
    input.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_date_keeps_access_through_that_day() {
        let end = MembershipEnd::parse_date_field("2027-01-31", now())
            .unwrap()
            .unwrap();
        assert_eq!(end.at().to_string(), "2027-02-01 00:00:00");
        assert_eq!(end.last_day().to_string(), "2027-01-31");
        assert_eq!(MembershipEnd::parse_date_field(" ", now()).unwrap(), None);
        // Today still counts: access ends at midnight.
        assert!(MembershipEnd::parse_date_field("2026-12-04", now()).is_ok());
    }

    #[test]
    fn bad_and_past_ends_are_refused() {
        for bad in ["31/01/2027", "2027-02-30", "tomorrow", "<b>"] {
            assert!(MembershipEnd::parse_date_field(bad, now()).is_err(), "{bad}");
        }
        assert!(matches!(
            MembershipEnd::parse_date_field("2026-12-03", now()),
            Err(InvalidMembershipEnd::Past(_))
        ));
        assert_eq!(
            MembershipEnd::parse_date_field("2040-01-01", now()),
            Err(InvalidMembershipEnd::TooFar)
        );
    }

    #[test]
    fn access_stops_the_moment_the_end_passes_except_for_the_last_owner() {
        let end = MembershipEnd::parse_date_field("2026-12-04", now())
            .unwrap()
            .map(MembershipEnd::at);
        let midnight = end.unwrap();
        let term = MembershipTerm::stored(end, false, false);
        assert!(!term.is_over(now()));
        assert!(!term.is_over(midnight - chrono::Duration::microseconds(1)));
        assert!(term.is_over(midnight));
        assert_eq!(term.access_ends(), Some(midnight));
        // The worker keeps an organization's last owner, so access stays.
        assert!(!MembershipTerm::stored(end, true, false).is_over(midnight));
        assert!(!MembershipTerm::stored(end, false, true).is_over(midnight));
        assert!(!MembershipTerm::stored(None, false, false).is_over(midnight));
    }

    #[test]
    fn the_command_line_takes_dates_durations_and_never() {
        assert_eq!(MembershipEnd::parse_argument("never", now()).unwrap(), None);
        let in_90_days = MembershipEnd::parse_argument("90d", now()).unwrap().unwrap();
        assert_eq!(in_90_days.at(), now() + chrono::Duration::days(90));
        assert!(
            MembershipEnd::parse_argument("2027-01-31", now())
                .unwrap()
                .is_some()
        );
        assert!(MembershipEnd::parse_argument("soon", now()).is_err());
        assert_eq!(
            MembershipEnd::parse_argument("99999d", now()),
            Err(InvalidMembershipEnd::TooFar)
        );
    }
}
