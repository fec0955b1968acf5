//! An audit event told in words and written as a JSON or CSV line.

use std::fmt::Write as _;

use serde_json::Value;

use super::read::RecordedEvent;
use crate::domain::audit::AuditAction;
use crate::domain::{Role, text};

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
            AuditAction::TokenRestricted => {
                let limits = |side: &Value| match (text(side, "networks"), text(side, "rate")) {
                    ("", "") => "none".to_owned(),
                    (networks, "") => format!("only from {networks}"),
                    ("", rate) => format!("at most {rate}"),
                    (networks, rate) => format!("only from {networks}, at most {rate}"),
                };
                let of = match text(&before, "holder") {
                    "" => String::new(),
                    holder if holder == self.actor_name => String::new(),
                    holder => format!(" of {holder}"),
                };
                format!(
                    "changed the limits of the API token “{target}”{of} from {} to {}",
                    limits(&before),
                    limits(&after)
                )
            }
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

pub(super) fn text<'v>(state: &'v Value, field: &str) -> &'v str {
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
