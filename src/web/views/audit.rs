//! The audit log page and its rows and filters.

use askama::Template;

use super::base::{DayTime, Iso, Layout, OrgView, Tabs};

/// An event's row in the audit log.
pub struct AuditRowView {
    pub at: DayTime,
    pub iso: Iso,
    pub actor: String,
    pub actor_email: Option<String>,
    pub credential: String,
    pub summary: String,
    pub action: String,
    pub client_ip: Option<String>,
}

impl From<&crate::services::audit::RecordedEvent> for AuditRowView {
    fn from(event: &crate::services::audit::RecordedEvent) -> Self {
        Self {
            at: DayTime(event.created_at),
            iso: Iso(event.created_at),
            actor: event.actor(),
            actor_email: event
                .actor_email
                .clone()
                .filter(|email| *email != event.actor_name),
            credential: event.credential.clone(),
            summary: event.summary(),
            action: event.action.clone(),
            client_ip: event.client_ip.clone(),
        }
    }
}

impl AuditRowView {
    /// "via console session": said unless the actor already says it.
    pub fn shows_credential(&self) -> bool {
        !self.credential.is_empty()
            && !self
                .actor
                .eq_ignore_ascii_case(&format!("the {}", self.credential))
    }
}

/// The audit log's filter, as typed, and the links that keep it.
pub struct AuditFilterView {
    pub slug: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub from: String,
    pub to: String,
}

impl AuditFilterView {
    fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        for (name, value) in extra {
            query.append_pair(name, value);
        }
        query.finish()
    }

    /// The log at another place, with the same filter.
    pub fn page_link(&self, place: &str, cursor: &str) -> String {
        format!("/orgs/{}/audit?{}", self.slug, self.query(&[(place, cursor)]))
    }

    /// The filtered events as a download.
    pub fn download_link(&self, format: &str) -> String {
        format!(
            "/orgs/{}/audit/download?{}",
            self.slug,
            self.query(&[("format", format)])
        )
    }

    pub fn is_filtered(&self) -> bool {
        !self.query(&[]).is_empty()
    }
}

/// The events table and its pager: the part a filter or a pager link swaps.
#[derive(Template)]
#[template(path = "audit/events.html")]
pub struct AuditEventsFragment {
    pub filter: AuditFilterView,
    pub rows: Vec<AuditRowView>,
    pub older: Option<String>,
    pub newer: Option<String>,
}

#[derive(Template)]
#[template(path = "audit/page.html")]
pub struct AuditLogPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub filter: AuditFilterView,
    pub actions: Vec<crate::services::audit::AuditAction>,
    /// The rendered [`AuditEventsFragment`].
    pub events: String,
}
