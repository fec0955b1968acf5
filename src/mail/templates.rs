//! The emails' templates (`templates/emails/<name>/`), each filled in as
//! text and as HTML from one message.

use askama::Template;
use chrono::NaiveDateTime;

use crate::domain::{Role, SentInvitation};
use crate::error::Error;

/// An email's words, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// "29 November 2026 at 14:05 UTC": when a link stops working, in words.
fn format_expiry(at: NaiveDateTime) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}

/// "an Owner", "a Viewer": by how the role's label sounds, as well as its
/// first letter tells.
pub(super) fn article(role: Role) -> &'static str {
    match role.label().chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o') => "an",
        _ => "a",
    }
}

/// The email that carries an invitation link.
pub(super) struct Invitation<'a> {
    pub(super) email: &'a str,
    pub(super) invitee_name: Option<&'a str>,
    pub(super) inviter: &'a str,
    pub(super) org: &'a str,
    pub(super) role: Role,
    pub(super) link: &'a str,
    pub(super) expires_at: NaiveDateTime,
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

impl Invitation<'_> {
    pub(super) fn render(&self) -> Result<Words, Error> {
        // The subject names the inviter and the organization: generic
        // subjects ("You have been invited") are what spam filters learn to drop.
        let subject = format!("{} invited you to {} on Rollcall", self.inviter, self.org);
        let expires = format_expiry(self.expires_at);
        let role = self.role.label();
        let text = InvitationText {
            invitee_name: self.invitee_name,
            inviter: self.inviter,
            org: self.org,
            role,
            role_article: article(self.role),
            link: self.link,
            email: self.email,
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
            email: self.email,
            expires: &expires,
        }
        .render();
        let template_error = |source| Error::Template {
            what: "the invitation email",
            source,
        };
        Ok(Words {
            subject,
            text: text.map_err(template_error)?,
            html: html.map_err(template_error)?,
        })
    }
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

/// The inviter's copy: one email per batch, listing whom they invited.
pub(super) fn invitations_sent(
    org: &str,
    invitations: &[SentInvitation],
    expires_at: NaiveDateTime,
    members_url: &str,
) -> Result<Words, Error> {
    let subject = match invitations {
        [one] => format!("You invited {} to {org} on Rollcall", one.email),
        many => format!("You invited {} people to {org} on Rollcall", many.len()),
    };
    let expires = format_expiry(expires_at);
    let text = InvitationsSentText {
        org,
        invitations,
        expires: &expires,
        members_url,
    }
    .render();
    let html = InvitationsSentHtml {
        subject: &subject,
        org,
        invitations,
        expires: &expires,
        members_url,
    }
    .render();
    let template_error = |source| Error::Template {
        what: "the invitation confirmation email",
        source,
    };
    Ok(Words {
        subject,
        text: text.map_err(template_error)?,
        html: html.map_err(template_error)?,
    })
}

/// A short notice about a change to an organization or a membership
/// (a transfer, a deletion, an end date): a few paragraphs and at most one link.
pub(super) struct Notice<'a> {
    /// Who it is for, as the greeting names them.
    pub(super) greeting: &'a str,
    pub(super) subject: String,
    pub(super) paragraphs: Vec<String>,
    /// The button's words and where it goes.
    pub(super) link: Option<(&'static str, &'a str)>,
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

impl Notice<'_> {
    pub(super) fn render(self) -> Result<Words, Error> {
        let text = NoticeText {
            greeting: self.greeting,
            paragraphs: &self.paragraphs,
            link: self.link,
        }
        .render();
        let html = NoticeHtml {
            subject: &self.subject,
            greeting: self.greeting,
            paragraphs: &self.paragraphs,
            link: self.link,
        }
        .render();
        let template_error = |source| Error::Template {
            what: "a notice email",
            source,
        };
        Ok(Words {
            subject: self.subject,
            text: text.map_err(template_error)?,
            html: html.map_err(template_error)?,
        })
    }
}
