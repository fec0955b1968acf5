//! What Rollcall tells people by email, as facts: who did what, in which
//! organization, until when, and where to look. The services queue a
//! [`Message`] in the outbox; the mail layer puts it into words when it sends
//! it. Names are as they were when the message was queued; links are whole
//! URLs.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::role::Role;

/// One email's content. The outbox keeps it as JSON until it is sent: a
/// variant or a field may be added, but one that queued messages may still
/// hold is never renamed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// An invitation link, to the address invited.
    Invitation {
        /// The address invited, which they sign in with to accept.
        email: String,
        /// The name the inviter gave them, if any.
        name: Option<String>,
        inviter: String,
        org: String,
        role: Role,
        /// Works once: a secret until then.
        link: String,
        expires_at: NaiveDateTime,
    },
    /// The inviter's copy of a batch: one email listing whom they invited.
    InvitationsSent {
        org: String,
        invitations: Vec<SentInvitation>,
        expires_at: NaiveDateTime,
        members_url: String,
    },
    /// To the member asked to take over ownership.
    TransferAsked {
        reader: String,
        /// The owner who asks.
        from: String,
        org: String,
        settings_url: String,
    },
    /// To the owner who asked: what happens once the member confirms.
    TransferAskedCopy {
        reader: String,
        /// The member asked.
        to: String,
        org: String,
        /// The role the asking owner keeps then; None: they leave.
        then_role: Option<Role>,
        settings_url: String,
    },
    /// To the former owner and the new one, once the new one confirmed.
    TransferConfirmed {
        reader: String,
        new_owner: String,
        former_owner: String,
        org: String,
        /// The role the former owner kept; None: they left.
        former_owner_role: Option<Role>,
        members_url: String,
    },
    /// To the owners, the new one among them: a member was made an owner at
    /// once, from the command line.
    MadeOwner {
        reader: String,
        by: String,
        new_owner: String,
        org: String,
        members_url: String,
    },
    /// To the owners of an organization just deleted.
    OrganizationDeleted {
        reader: String,
        by: String,
        org: String,
        /// When the owners' chance to restore it ends.
        restorable_until: NaiveDateTime,
        profile_url: String,
    },
    /// To the owners of an organization just restored.
    OrganizationRestored {
        reader: String,
        by: String,
        org: String,
        members_url: String,
    },
    /// To a member whose membership ends within the week.
    MembershipEndingSoon {
        reader: String,
        org: String,
        last_day: NaiveDate,
        members_url: String,
    },
    /// To the owners: a member's membership ends within the week.
    MembershipEndingSoonToOwners {
        reader: String,
        member: String,
        member_email: String,
        org: String,
        last_day: NaiveDate,
        members_url: String,
    },
    /// To the owners: the last owner's membership ended, and they were kept.
    LastOwnerHeld {
        reader: String,
        member: String,
        org: String,
        last_day: NaiveDate,
        members_url: String,
    },
}

/// One line of the inviter's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInvitation {
    pub email: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_its_facts_through_json() {
        let message = Message::TransferAskedCopy {
            reader: "Ada".to_owned(),
            to: "Bob".to_owned(),
            org: "Acme AI".to_owned(),
            then_role: Some(Role::ADMIN),
            settings_url: "http://127.0.0.1:8080/orgs/acme-ai/settings".to_owned(),
        };
        let json = serde_json::to_string(&message).unwrap();
        assert!(json.starts_with(r#"{"kind":"transfer_asked_copy","#), "{json}");
        assert!(json.contains(r#""then_role":"admin""#), "{json}");
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
    }
}
