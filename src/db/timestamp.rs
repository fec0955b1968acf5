//! Reading timestamps quickly.
//!
//! diesel reads an SQLite timestamp by matching it against chrono format
//! patterns, parsing the pattern again for every value: a Members page reads
//! a hundred timestamps, and that took a tenth of its time. Rollcall writes
//! one shape ("2026-11-22 14:05:09.123456"), which [`StoredTime`] reads by
//! hand; any other shape still goes through diesel. Use it on a row field with
//! `#[diesel(deserialize_as = StoredTime)]`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteType};

use super::connection::MultiBackend;

/// A timestamp column's value, read as [`NaiveDateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct StoredTime(NaiveDateTime);

impl From<StoredTime> for NaiveDateTime {
    fn from(stored: StoredTime) -> Self {
        stored.0
    }
}

impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text)
            && let Some(at) = parse(value.read_text())
        {
            return Ok(Self(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

/// "YYYY-MM-DD HH:MM:SS", with up to nine digits of fraction after a dot.
fn parse(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b' '
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !shaped {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let nanoseconds = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(&bytes[0..4])?).ok()?,
        number(&bytes[5..7])?,
        number(&bytes[8..10])?,
    )?;
    let time = NaiveTime::from_hms_nano_opt(
        number(&bytes[11..13])?,
        number(&bytes[14..16])?,
        number(&bytes[17..19])?,
        nanoseconds,
    )?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_chrono_reads() {
        for text in [
            "2026-11-22 14:05:09.123456",
            "2026-11-22 14:05:09",
            "2026-01-02 03:04:05.1",
            "1999-12-31 23:59:59.999999999",
        ] {
            let expected = NaiveDateTime::parse_from_str(text, "%F %T%.f").ok();
            assert!(expected.is_some(), "chrono cannot read {text}");
            assert_eq!(parse(text), expected, "{text}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_diesel() {
        for text in [
            "",
            "2026-11-22",
            "2026-11-22T14:05:09",
            "2026-11-22 14:05:09Z",
            "2026-11-22 14:05:09.",
            "2026-11-22 14:05:09.1234567890",
            "2026-13-22 14:05:09",
            "2026-02-30 14:05:09",
            "2026-11-22 24:05:09",
            "2026-1a-22 14:05:09",
            "+026-11-22 14:05:09",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
