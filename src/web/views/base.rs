//! What every page shares: rendering, the layout and its navigation, and
//! dates and numbers as people read them.

use askama::Template;
use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::domain::Role;
use crate::domain::policy::{self};
use crate::error::Error;
use crate::services::Organization;
use crate::services::users::User;
use crate::web::session::Flash;

/// Room for a whole Members page, so that it is not copied as it grows. Only
/// what is written is ever touched, so a small fragment costs no more.
const RENDER_CAPACITY: usize = 64 * 1024;

/// Renders a template, or explains which one failed.
pub fn render<T: Template>(template: &T, what: &'static str) -> Result<String, Error> {
    let mut out = String::with_capacity(RENDER_CAPACITY.max(T::SIZE_HINT));
    template
        .render_into(&mut out)
        .map_err(|source| Error::Template { what, source })?;
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A day for people: "22 Nov 2026".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDateTime);

/// A moment for people: "22 Nov 2026, 14:05 UTC".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTime(pub NaiveDateTime);

/// A moment for machines, as `<time datetime>` wants it: "2026-11-22T14:05:09Z".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub NaiveDateTime);

/// Up to 32 bytes of ASCII written on the stack. A Members page writes a
/// hundred dates; written out like this, rather than through format patterns,
/// they cost next to nothing.
struct Ascii {
    bytes: [u8; 32],
    len: usize,
}

impl Ascii {
    fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn text(&mut self, text: &str) -> &mut Self {
        let end = (self.len + text.len()).min(self.bytes.len());
        self.bytes[self.len..end].copy_from_slice(&text.as_bytes()[..end - self.len]);
        self.len = end;
        self
    }

    /// `value` in decimal, with leading zeros to `width` digits.
    fn number(&mut self, value: u32, width: usize) -> &mut Self {
        let mut digits = [b'0'; 10];
        let mut rest = value;
        let mut count = 0;
        while count < digits.len() && (rest > 0 || count < width.max(1)) {
            digits[digits.len() - 1 - count] = b'0' + (rest % 10) as u8;
            rest /= 10;
            count += 1;
        }
        for &digit in &digits[digits.len() - count..] {
            if self.len < self.bytes.len() {
                self.bytes[self.len] = digit;
                self.len += 1;
            }
        }
        self
    }

    fn day(&mut self, at: NaiveDateTime) -> &mut Self {
        self.number(at.day(), 1)
            .text(" ")
            .text(MONTHS[at.month0() as usize % 12])
            .text(" ")
            .number(at.year().unsigned_abs(), 4)
    }

    fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only ASCII is ever written in.
        f.write_str(std::str::from_utf8(&self.bytes[..self.len]).map_err(|_| std::fmt::Error)?)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ascii::new().day(self.0).write(f)
    }
}

impl std::fmt::Display for DayTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ascii::new()
            .day(self.0)
            .text(", ")
            .number(self.0.hour(), 2)
            .text(":")
            .number(self.0.minute(), 2)
            .text(" UTC")
            .write(f)
    }
}

impl std::fmt::Display for Iso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.0;
        Ascii::new()
            .number(at.year().unsigned_abs(), 4)
            .text("-")
            .number(at.month(), 2)
            .text("-")
            .number(at.day(), 2)
            .text("T")
            .number(at.hour(), 2)
            .text(":")
            .number(at.minute(), 2)
            .text(":")
            .number(at.second(), 2)
            .text("Z")
            .write(f)
    }
}

// Digits, letters, spaces and punctuation that is not markup: nothing to escape.
impl askama::filters::HtmlSafe for Day {}
impl askama::filters::HtmlSafe for DayTime {}
impl askama::filters::HtmlSafe for Iso {}

pub(super) fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// The signed-in user, as the header shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    pub initial: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            name: user.name.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
            initial: initial(&user.name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub name: String,
    pub slug: String,
}

/// What every full page needs: the header, the banner, the notices.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub user: Option<UserView>,
    pub orgs: Vec<OrgChoice>,
    pub current_org: Option<String>,
    pub dev_banner: bool,
    pub flashes: Vec<Flash>,
}

#[derive(Debug, Clone)]
pub struct OrgView {
    pub name: String,
    pub slug: String,
}

impl From<&Organization> for OrgView {
    fn from(org: &Organization) -> Self {
        Self {
            name: org.name.clone(),
            slug: org.slug.clone(),
        }
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The organization's tabs, as the policy lets the viewer see them.
#[derive(Debug, Clone, Copy)]
pub struct Tabs {
    pub service_accounts: bool,
    pub audit: bool,
    pub settings: bool,
}

impl Tabs {
    pub fn for_role(role: Role) -> Self {
        Self {
            service_accounts: !policy::service_account_roles(role).is_empty(),
            audit: policy::authorize(role, policy::Action::ViewAuditLog).is_ok(),
            settings: policy::authorize(role, policy::Action::ViewSettings).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Day, DayTime, Iso, thousands};

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100000), "100,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn writes_dates_for_people_and_for_machines() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 3, 7)
            .and_then(|day| day.and_hms_micro_opt(9, 5, 2, 123_456))
            .expect("a valid date");
        assert_eq!(Day(at).to_string(), "7 Mar 2026");
        assert_eq!(DayTime(at).to_string(), "7 Mar 2026, 09:05 UTC");
        assert_eq!(Iso(at).to_string(), "2026-03-07T09:05:02Z");
        let late = chrono::NaiveDate::from_ymd_opt(12026, 12, 31)
            .and_then(|day| day.and_hms_opt(23, 59, 59))
            .expect("a valid date");
        assert_eq!(DayTime(late).to_string(), "31 Dec 12026, 23:59 UTC");
        assert_eq!(Iso(late).to_string(), "12026-12-31T23:59:59Z");
    }
}
