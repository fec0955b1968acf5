//! Messages put into words: the subject here, the text and HTML bodies from
//! the templates under `templates/emails/<name>/`. Every sentence Rollcall
//! emails is in this file or in those templates.

use crate::domain::{Message, format_day};
use crate::error::{Error, day_and_time};
use crate::services::outbox::Content;

use super::templates::{Invitation, Notice, Words, article, invitations_sent};

/// The button of most notices.
const OPEN_THE_ORGANIZATION: &str = "Open the organization";

/// Puts a message into words: the invitation and the inviter's copy have
/// templates of their own, every other message is a notice.
pub fn render(message: &Message) -> Result<Words, Error> {
    let notice = match message {
        Message::Invitation {
            email,
            name,
            inviter,
            org,
            role,
            link,
            expires_at,
        } => {
            return Invitation {
                email,
                invitee_name: name.as_deref(),
                inviter,
                org,
                role: *role,
                link,
                expires_at: *expires_at,
            }
            .render();
        }
        Message::InvitationsSent {
            org,
            invitations,
            expires_at,
            members_url,
        } => return invitations_sent(org, invitations, *expires_at, members_url),
        Message::TransferAsked {
            reader,
            from,
            org,
            settings_url,
        } => Notice {
            greeting: reader,
            subject: format!("{from} asks you to become an owner of {org} on Rollcall"),
            paragraphs: vec![format!(
                "{from} asks you to take over ownership of {org}. Nothing changes until you confirm on its Settings page; you can also decline there."
            )],
            link: Some(("Review the transfer", settings_url)),
        },
        Message::TransferAskedCopy {
            reader,
            to,
            org,
            then_role,
            settings_url,
        } => {
            let then = match then_role {
                Some(role) => format!("you stay as {} {}", article(*role), role.label()),
                None => "you leave the organization".to_owned(),
            };
            Notice {
                greeting: reader,
                subject: format!("You asked {to} to become an owner of {org} on Rollcall"),
                paragraphs: vec![format!(
                    "{to} becomes an owner of {org} once they confirm; then {then}. You can cancel the transfer on the Settings page until then."
                )],
                link: Some(("Review the transfer", settings_url)),
            }
        }
        Message::TransferConfirmed {
            reader,
            new_owner,
            former_owner,
            org,
            former_owner_role,
            members_url,
        } => {
            let then = match former_owner_role {
                Some(role) => format!("{former_owner} stays as {} {}.", article(*role), role.label()),
                None => format!("{former_owner} left the organization."),
            };
            Notice {
                greeting: reader,
                subject: format!("{new_owner} is now an owner of {org} on Rollcall"),
                paragraphs: vec![format!(
                    "{new_owner} confirmed the transfer and is now an owner of {org}. {then}"
                )],
                link: Some((OPEN_THE_ORGANIZATION, members_url)),
            }
        }
        Message::MadeOwner {
            reader,
            by,
            new_owner,
            org,
            members_url,
        } => Notice {
            greeting: reader,
            subject: format!("{new_owner} is now an owner of {org} on Rollcall"),
            paragraphs: vec![format!("{by} made {new_owner} an owner of {org}.")],
            link: Some((OPEN_THE_ORGANIZATION, members_url)),
        },
        Message::OrganizationDeleted {
            reader,
            by,
            org,
            restorable_until,
            profile_url,
        } => {
            let until = day_and_time(*restorable_until);
            Notice {
                greeting: reader,
                subject: format!("{by} deleted {org} on Rollcall"),
                paragraphs: vec![
                    format!(
                        "{by} deleted the organization {org}. Its members can no longer open it, its pending invitations were withdrawn, and its API tokens and service account keys stopped working."
                    ),
                    format!(
                        "As an owner, you can restore it from your profile until {until}. After that it is purged for good."
                    ),
                ],
                link: Some(("Open your profile", profile_url)),
            }
        }
        Message::OrganizationRestored {
            reader,
            by,
            org,
            members_url,
        } => Notice {
            greeting: reader,
            subject: format!("{by} restored {org} on Rollcall"),
            paragraphs: vec![format!(
                "{by} restored the organization {org}. Its members, API tokens and service account keys work again; invitations withdrawn when it was deleted stay withdrawn."
            )],
            link: Some((OPEN_THE_ORGANIZATION, members_url)),
        },
        Message::MembershipEndingSoon {
            reader,
            org,
            last_day,
            members_url,
        } => {
            let day = format_day(*last_day);
            Notice {
                greeting: reader,
                subject: format!("Your access to {org} ends after {day}"),
                paragraphs: vec![format!(
                    "Your membership of {org} ends after {day}. If you still need access, ask one of its owners or admins to change the date."
                )],
                link: Some((OPEN_THE_ORGANIZATION, members_url)),
            }
        }
        Message::MembershipEndingSoonToOwners {
            reader,
            member,
            member_email,
            org,
            last_day,
            members_url,
        } => {
            let day = format_day(*last_day);
            Notice {
                greeting: reader,
                subject: format!("{member}’s access to {org} ends after {day}"),
                paragraphs: vec![format!(
                    "The membership of {member} ({member_email}) in {org} ends after {day}; Rollcall removes them then, and revokes their API tokens. To keep them, change or clear the date in the Change role dialog."
                )],
                link: Some((OPEN_THE_ORGANIZATION, members_url)),
            }
        }
        Message::LastOwnerHeld {
            reader,
            member,
            org,
            last_day,
            members_url,
        } => {
            let day = format_day(*last_day);
            Notice {
                greeting: reader,
                subject: format!("{org} keeps its last owner, whose access was to end after {day}"),
                paragraphs: vec![format!(
                    "The membership of {member} in {org} was to end after {day}, but they are its last owner, and an organization always keeps one. They stay an owner. Make another member an owner, then change or clear the date."
                )],
                link: Some((OPEN_THE_ORGANIZATION, members_url)),
            }
        }
    };
    notice.render()
}

/// What a claimed or listed row sends: its message in words, or the words
/// stored with it; the error says why there are none.
pub(crate) fn words_of(content: &Content) -> Result<Words, String> {
    match content {
        Content::Message(message) => render(message).map_err(|error| error.to_string()),
        Content::Written { subject, text, html } => Ok(Words {
            subject: subject.clone(),
            text: text.clone(),
            html: html.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};

    use super::*;
    use crate::domain::{Role, SentInvitation};

    fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(year, month, day)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap()
    }

    fn escaped(html: &str, text: &str) -> bool {
        let numeric = text.replace('<', "&#60;").replace('>', "&#62;");
        let named = text.replace('<', "&lt;").replace('>', "&gt;");
        html.contains(&numeric) || html.contains(&named)
    }

    #[test]
    fn invitation_names_inviter_org_role_link_and_expiry_and_escapes_html() {
        let email = render(&Message::Invitation {
            email: "bob@example.com".to_owned(),
            name: Some("Bob".to_owned()),
            inviter: "Ada <script>".to_owned(),
            org: "Acme AI".to_owned(),
            role: Role::ADMIN,
            link: "http://127.0.0.1:8080/invite/abc".to_owned(),
            expires_at: at(2026, 11, 29, 14, 5),
        })
        .unwrap();
        assert_eq!(email.subject, "Ada <script> invited you to Acme AI on Rollcall");
        assert!(email.text.starts_with("Hello Bob,\n"));
        assert!(email.text.contains("as an Admin"));
        assert!(email.text.contains("http://127.0.0.1:8080/invite/abc"));
        assert!(email.text.contains("expires on 29 November 2026 at 14:05 UTC"));
        assert!(email.text.contains("It is meant for bob@example.com"));
        assert!(escaped(&email.html, "Ada <script>"));
        assert!(!email.html.contains("<script>"));
    }

    #[test]
    fn the_inviters_copy_names_one_invitee_or_counts_many() {
        let copy = |emails: &[&str]| {
            render(&Message::InvitationsSent {
                org: "Acme AI".to_owned(),
                invitations: emails
                    .iter()
                    .map(|email| SentInvitation {
                        email: (*email).to_owned(),
                        role: Role::DEVELOPER,
                    })
                    .collect(),
                expires_at: at(2026, 11, 29, 14, 5),
                members_url: "http://127.0.0.1:8080/orgs/acme-ai/members".to_owned(),
            })
            .unwrap()
        };
        let one = copy(&["bob@example.com"]);
        assert_eq!(one.subject, "You invited bob@example.com to Acme AI on Rollcall");
        assert!(
            one.text
                .starts_with("You invited 1 person to Acme AI on Rollcall:")
        );
        assert!(one.text.contains("- bob@example.com as Developer\n"));
        let two = copy(&["bob@example.com", "carol@example.com"]);
        assert_eq!(two.subject, "You invited 2 people to Acme AI on Rollcall");
        assert!(two.html.contains("<li>carol@example.com as Developer</li>"));
        assert!(
            two.text
                .contains("The invitations expire on 29 November 2026 at 14:05 UTC.")
        );
    }

    #[test]
    fn a_transfer_tells_the_asking_owner_what_becomes_of_them() {
        let copy = |then_role| {
            render(&Message::TransferAskedCopy {
                reader: "Ada".to_owned(),
                to: "Bob".to_owned(),
                org: "Acme AI".to_owned(),
                then_role,
                settings_url: "http://127.0.0.1:8080/orgs/acme-ai/settings".to_owned(),
            })
            .unwrap()
        };
        let stays = copy(Some(Role::ADMIN));
        assert_eq!(
            stays.subject,
            "You asked Bob to become an owner of Acme AI on Rollcall"
        );
        assert!(stays.text.starts_with("Hello Ada,\n"));
        assert!(stays.text.contains(
            "Bob becomes an owner of Acme AI once they confirm; then you stay as an Admin. You can cancel"
        ));
        assert!(
            stays
                .text
                .contains("Review the transfer: http://127.0.0.1:8080/orgs/acme-ai/settings\n")
        );
        let leaves = copy(None);
        assert!(leaves.text.contains("then you leave the organization."));
        let confirmed = render(&Message::TransferConfirmed {
            reader: "Bob".to_owned(),
            new_owner: "Bob".to_owned(),
            former_owner: "Ada".to_owned(),
            org: "Acme AI".to_owned(),
            former_owner_role: Some(Role::VIEWER),
            members_url: "http://127.0.0.1:8080/orgs/acme-ai/members".to_owned(),
        })
        .unwrap();
        assert!(
            confirmed.text.contains(
                "Bob confirmed the transfer and is now an owner of Acme AI. Ada stays as a Viewer."
            )
        );
    }

    #[test]
    fn a_deleted_organization_says_until_when_it_can_be_restored() {
        let email = render(&Message::OrganizationDeleted {
            reader: "Bob".to_owned(),
            by: "Ada".to_owned(),
            org: "Acme AI".to_owned(),
            restorable_until: at(2026, 12, 17, 9, 30),
            profile_url: "http://127.0.0.1:8080/profile".to_owned(),
        })
        .unwrap();
        assert_eq!(email.subject, "Ada deleted Acme AI on Rollcall");
        assert!(email.text.contains(
            "As an owner, you can restore it from your profile until 2026-12-17 09:30 UTC. After that it is purged for good."
        ));
        assert!(email.html.contains(r#"<a href="http://127.0.0.1:8080/profile""#));
        assert!(email.html.contains(">Open your profile</a>"));
    }

    #[test]
    fn ending_memberships_name_the_last_day_and_escape_names_in_html() {
        let owners = render(&Message::MembershipEndingSoonToOwners {
            reader: "Ada".to_owned(),
            member: "Carol <b>".to_owned(),
            member_email: "carol@example.com".to_owned(),
            org: "Acme & Co".to_owned(),
            last_day: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            members_url: "http://127.0.0.1:8080/orgs/acme/members".to_owned(),
        })
        .unwrap();
        assert_eq!(
            owners.subject,
            "Carol <b>’s access to Acme & Co ends after 31 January 2027"
        );
        assert!(owners.text.contains(
            "The membership of Carol <b> (carol@example.com) in Acme & Co ends after 31 January 2027;"
        ));
        assert!(escaped(&owners.html, "Carol <b>"));
        assert!(!owners.html.contains("<b>"));
        assert!(owners.html.contains("Acme &#38; Co") || owners.html.contains("Acme &amp; Co"));
        let held = render(&Message::LastOwnerHeld {
            reader: "Ada".to_owned(),
            member: "Ada".to_owned(),
            org: "Acme AI".to_owned(),
            last_day: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            members_url: "http://127.0.0.1:8080/orgs/acme-ai/members".to_owned(),
        })
        .unwrap();
        assert_eq!(
            held.subject,
            "Acme AI keeps its last owner, whose access was to end after 31 January 2027"
        );
        assert!(held.text.contains("They stay an owner."));
    }

    #[test]
    fn an_email_queued_in_words_is_sent_in_those_words() {
        let written = Content::Written {
            subject: "Old".to_owned(),
            text: "text".to_owned(),
            html: "<p>html</p>".to_owned(),
        };
        assert_eq!(
            words_of(&written).unwrap(),
            Words {
                subject: "Old".to_owned(),
                text: "text".to_owned(),
                html: "<p>html</p>".to_owned(),
            }
        );
    }
}
