//! The organization's Settings page.

use askama::Template;

use super::base::{DayTime, Layout, OrgView, Tabs};
use crate::domain::Role;
use crate::services::Organization;

/// Which form of the Settings tab an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsSection {
    Rename,
    Domains,
    Transfer,
    Delete,
}

/// What one form of the Settings tab sent: the only fields a refusal shows
/// as typed. Every other field shows what is in force, so that pressing
/// another form's button after a refusal never saves a value nobody chose.
#[derive(Debug, Clone)]
pub enum SettingsForm {
    Rename {
        name: String,
        slug: String,
    },
    Domains {
        domains: String,
    },
    Transfer {
        to: String,
        afterwards: String,
    },
    /// Accepting, declining or cancelling a transfer: nothing is typed.
    TransferAnswer,
    /// The confirmation is typed afresh each time.
    Delete,
}

impl SettingsForm {
    pub fn section(&self) -> SettingsSection {
        match self {
            Self::Rename { .. } => SettingsSection::Rename,
            Self::Domains { .. } => SettingsSection::Domains,
            Self::Transfer { .. } | Self::TransferAnswer => SettingsSection::Transfer,
            Self::Delete => SettingsSection::Delete,
        }
    }
}

/// The values of the Settings tab's fields.
#[derive(Debug, Clone)]
pub struct SettingsFields {
    pub name: String,
    pub slug: String,
    pub domains: String,
    pub transfer_to: String,
    pub afterwards: String,
}

impl SettingsFields {
    /// The fields as the organization is now: its name, its address, its
    /// allowed domains (one a line); no transfer typed.
    pub fn in_force(org: &Organization, domains: &[String]) -> Self {
        Self {
            name: org.name.clone(),
            slug: org.slug.clone(),
            domains: domains.join("\n"),
            transfer_to: String::new(),
            // Stay with the highest role below Owner, unless told otherwise.
            afterwards: Role::all()
                .get(1)
                .map_or("leave", |role| role.as_str())
                .to_owned(),
        }
    }

    /// These fields, with the ones `form` sent shown as typed.
    pub fn with_typed(self, form: SettingsForm) -> Self {
        match form {
            SettingsForm::Rename { name, slug } => Self { name, slug, ..self },
            SettingsForm::Domains { domains } => Self { domains, ..self },
            SettingsForm::Transfer { to, afterwards } => Self {
                transfer_to: to,
                afterwards,
                ..self
            },
            SettingsForm::TransferAnswer | SettingsForm::Delete => self,
        }
    }
}

/// The Settings tab.
#[derive(Template)]
#[template(path = "settings/page.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    /// May rename and delete (the policy's answer for the viewer).
    pub manage: bool,
    pub manage_domains: bool,
    pub transfer_ownership: bool,
    pub domains: Vec<String>,
    pub transfer: Option<TransferView>,
    /// The roles a former owner may stay with, highest first.
    pub stay_roles: Vec<Role>,
    pub fields: SettingsFields,
    pub error: Option<(SettingsSection, String)>,
}

impl SettingsPage {
    /// The error of one section, if it is the one that failed.
    pub fn error_of(&self, section: SettingsSection) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(failed, _)| *failed == section)
            .map(|(_, message)| message.as_str())
    }
}

/// A waiting transfer of ownership, as the Settings tab shows it.
pub struct TransferView {
    pub from: String,
    pub to: String,
    pub to_email: String,
    pub afterwards: String,
    pub requested: DayTime,
    /// The viewer is the member named, who confirms or declines.
    pub for_viewer: bool,
}
