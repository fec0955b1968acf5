//! What the templates show: view models built from domain results, and the
//! template structs, one file per folder of `templates/`. Permissions are
//! decided here by asking the policy, never in the templates.
//!
//! `base` holds what every page shares (the layout, dates and numbers as
//! people read them); `partials` the notices, dialogs and confirmations that
//! any screen shows.

mod audit;
mod auth;
mod base;
mod errors;
mod invitations;
mod members;
mod partials;
mod profile;
mod roles;
mod service_accounts;
mod settings;
mod tokens;

pub use audit::{AuditEventsFragment, AuditFilterView, AuditLogPage, AuditRowView};
pub use auth::LoginPage;
pub use base::{Day, DayTime, Layout, OrgChoice, OrgView, Tabs, UserView, render, thousands};
pub use errors::{ErrorNotice, ErrorPage, SignedInErrorPage};
pub use invitations::{
    InvitationPage, InvitationRowFragment, InvitationRowView, InvitationsPage, InvitationsSent,
    InvitationsSentBefore, InviteRowView, InviteStepOne, InviteStepTwo, PendingFragment, PendingList,
    ResentBefore,
};
pub use members::{
    ChangeRoleDialog, Filters, LeaveDialog, MemberRowFragment, MemberRowView, MembersPage, MembersTable,
    MembersTableFragment, RemoveDialog,
};
pub use partials::{ConfirmPage, DialogPage, NoticeFragment, NoticePage, NoticesOob};
pub use profile::{MembershipView, ProfileInvitation, ProfilePage, RestorableView};
pub use roles::RolesPage;
pub use service_accounts::{AccountForm, AccountRowView, ServiceAccountsPage};
pub use settings::{SettingsFields, SettingsForm, SettingsPage, TransferView};
pub use tokens::{
    CreatedSecret, PermissionChoice, SecretShownBefore, TokenForm, TokenLimitsPage, TokenRowView, TokensPage,
};
