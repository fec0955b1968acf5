use askama::Template;
use chrono::NaiveDateTime;

use crate::domain::{EmailAddress, Role};
use crate::error::Error;

/// A rendered email, ready for the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// "29 November 2026 at 14:05 UTC": when a link stops working, in words.
fn format_expiry(at: NaiveDateTime) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Owner | Role::Admin => "an",
        Role::Developer | Role::Contributor | Role::Viewer => "a",
    }
}

/// The email that carries an invitation link.
pub struct InvitationEmail<'a> {
    pub to: &'a EmailAddress,
    pub invitee_name: Option<&'a str>,
    pub inviter: &'a str,
    pub org: &'a str,
    pub role: Role,
    pub link: &'a str,
    pub expires_at: NaiveDateTime,
}

#[derive(Template)]
#[template(path = "emails/invitation/body.txt")]
struct InvitationText<'a> {
    invitee_name: Option<&'a str>,
    inviter: &'a str,
    org: &'a str,
    role: &'a str,
    role_article: &'a str,
    link: &'a str,
    email: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "emails/invitation/body.html")]
struct InvitationHtml<'a> {
    subject: &'a str,
    invitee_name: Option<&'a str>,
    inviter: &'a str,
    org: &'a str,
    role: &'a str,
    role_article: &'a str,
    link: &'a str,
    email: &'a str,
    expires: &'a str,
}

impl InvitationEmail<'_> {
    /// The subject names the inviter and the organization: generic subjects
    /// ("You have been invited") are what spam filters learn to drop.
    pub fn subject(&self) -> String {
        format!("{} invited you to {} on Rollcall", self.inviter, self.org)
    }

    pub fn render(&self) -> Result<OutgoingEmail, Error> {
        let subject = self.subject();
        let expires = format_expiry(self.expires_at);
        let role = self.role.label();
        let text = InvitationText {
            invitee_name: self.invitee_name,
            inviter: self.inviter,
            org: self.org,
            role,
            role_article: article(self.role),
            link: self.link,
            email: self.to.as_str(),
            expires: &expires,
        }
        .render();
        let html = InvitationHtml {
            subject: &subject,
            invitee_name: self.invitee_name,
            inviter: self.inviter,
            org: self.org,
            role,
            role_article: article(self.role),
            link: self.link,
            email: self.to.as_str(),
            expires: &expires,
        }
        .render();
        let template_error = |source| Error::Template {
            what: "the invitation email",
            source,
        };
        Ok(OutgoingEmail {
            to: self.to.clone(),
            subject,
            text: text.map_err(template_error)?,
            html: html.map_err(template_error)?,
        })
    }
}

/// One line of the inviter's confirmation copy.
pub struct SentInvitation {
    pub email: String,
    pub role: &'static str,
}

/// The inviter's copy: one email per batch, listing whom they invited.
pub struct InvitationsSentEmail<'a> {
    pub to: &'a EmailAddress,
    pub org: &'a str,
    pub invitations: &'a [SentInvitation],
    pub expires_at: NaiveDateTime,
    pub members_url: &'a str,
}

#[derive(Template)]
#[template(path = "emails/invitations_sent/body.txt")]
struct InvitationsSentText<'a> {
    org: &'a str,
    invitations: &'a [SentInvitation],
    expires: &'a str,
    members_url: &'a str,
}

#[derive(Template)]
#[template(path = "emails/invitations_sent/body.html")]
struct InvitationsSentHtml<'a> {
    subject: &'a str,
    org: &'a str,
    invitations: &'a [SentInvitation],
    expires: &'a str,
    members_url: &'a str,
}

impl InvitationsSentEmail<'_> {
    pub fn render(&self) -> Result<OutgoingEmail, Error> {
        let subject = match self.invitations {
            [one] => format!("You invited {} to {} on Rollcall", one.email, self.org),
            many => format!("You invited {} people to {} on Rollcall", many.len(), self.org),
        };
        let expires = format_expiry(self.expires_at);
        let text = InvitationsSentText {
            org: self.org,
            invitations: self.invitations,
            expires: &expires,
            members_url: self.members_url,
        }
        .render();
        let html = InvitationsSentHtml {
            subject: &subject,
            org: self.org,
            invitations: self.invitations,
            expires: &expires,
            members_url: self.members_url,
        }
        .render();
        let template_error = |source| Error::Template {
            what: "the invitation confirmation email",
            source,
        };
        Ok(OutgoingEmail {
            to: self.to.clone(),
            subject,
            text: text.map_err(template_error)?,
            html: html.map_err(template_error)?,
        })
    }
}

/// A short notice about a change to an organization or a membership
/// (a transfer, a deletion, an end date): a few paragraphs and at most one link.
pub struct NoticeEmail<'a> {
    pub to: &'a EmailAddress,
    /// Who it is for, as the greeting names them.
    pub greeting: &'a str,
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// The button's words and where it goes.
    pub link: Option<(&'a str, String)>,
}

#[derive(Template)]
#[template(path = "emails/notice/body.txt")]
struct NoticeText<'a> {
    greeting: &'a str,
    paragraphs: &'a [String],
    link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "emails/notice/body.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    paragraphs: &'a [String],
    link: Option<(&'a str, &'a str)>,
}

impl NoticeEmail<'_> {
    pub fn render(&self) -> Result<OutgoingEmail, Error> {
        let link = self.link.as_ref().map(|(label, url)| (*label, url.as_str()));
        let text = NoticeText {
            greeting: self.greeting,
            paragraphs: &self.paragraphs,
            link,
        }
        .render();
        let html = NoticeHtml {
            subject: &self.subject,
            greeting: self.greeting,
            paragraphs: &self.paragraphs,
            link,
        }
        .render();
        let template_error = |source| Error::Template {
            what: "a notice email",
            source,
        };
        Ok(OutgoingEmail {
            to: self.to.clone(),
            subject: self.subject.clone(),
            text: text.map_err(template_error)?,
            html: html.map_err(template_error)?,
        })
    }
}

/// "31 January 2027": a day in words.
pub fn format_day(day: chrono::NaiveDate) -> String {
    day.format("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_names_inviter_org_role_link_and_expiry_and_escapes_html() {
        let to = EmailAddress::parse("bob@example.com").unwrap();
        let expires_at = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_opt(14, 5, 0)
            .unwrap();
        let email = InvitationEmail {
            to: &to,
            invitee_name: Some("Bob"),
            inviter: "Ada <script>",
            org: "Acme AI",
            role: Role::Admin,
            link: "http://127.0.0.1:8080/invite/abc",
            expires_at,
        }
        .render()
        .unwrap();
        assert_eq!(email.subject, "Ada <script> invited you to Acme AI on Rollcall");
        assert!(email.text.contains("as an Admin"));
        assert!(email.text.contains("http://127.0.0.1:8080/invite/abc"));
        assert!(email.text.contains("expires on 29 November 2026 at 14:05 UTC"));
        assert!(email.html.contains("Ada &#60;script&#62;") || email.html.contains("Ada &lt;script&gt;"));
        assert!(!email.html.contains("<script>"));
    }
}
