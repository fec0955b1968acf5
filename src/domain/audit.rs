//! The audit log's vocabulary: what happened, who acted and what was acted
//! on, as the database records them.

/// What happened, as recorded in `audit_events.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    OrganizationCreated,
    InvitationCreated,
    InvitationResent,
    InvitationRevoked,
    InvitationAccepted,
    InvitationDeclined,
    MemberAdded,
    RoleChanged,
    MemberRemoved,
    MemberLeft,
    TokenCreated,
    TokenRevoked,
    TokenRestricted,
    ServiceAccountCreated,
    ServiceAccountDisabled,
    ServiceAccountDeleted,
    ServiceAccountKeyCreated,
    AuditDownloaded,
    SignedIn,
    SignInRefused,
    SessionsEnded,
    IntrospectionClientCreated,
    IntrospectionClientRevoked,
    OrganizationRenamed,
    OrganizationDeleted,
    OrganizationRestored,
    OrganizationPurged,
    DomainsChanged,
    TransferRequested,
    TransferCancelled,
    OwnershipTransferred,
    MembershipEndChanged,
    MemberExpired,
}

impl AuditAction {
    /// Every action, in the order the filter offers them.
    pub const ALL: [AuditAction; 33] = [
        AuditAction::OrganizationCreated,
        AuditAction::InvitationCreated,
        AuditAction::InvitationResent,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationDeclined,
        AuditAction::MemberAdded,
        AuditAction::RoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::MemberLeft,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::TokenRestricted,
        AuditAction::ServiceAccountCreated,
        AuditAction::ServiceAccountDisabled,
        AuditAction::ServiceAccountDeleted,
        AuditAction::ServiceAccountKeyCreated,
        AuditAction::AuditDownloaded,
        AuditAction::SignedIn,
        AuditAction::SignInRefused,
        AuditAction::SessionsEnded,
        AuditAction::IntrospectionClientCreated,
        AuditAction::IntrospectionClientRevoked,
        AuditAction::OrganizationRenamed,
        AuditAction::OrganizationDeleted,
        AuditAction::OrganizationRestored,
        AuditAction::OrganizationPurged,
        AuditAction::DomainsChanged,
        AuditAction::TransferRequested,
        AuditAction::TransferCancelled,
        AuditAction::OwnershipTransferred,
        AuditAction::MembershipEndChanged,
        AuditAction::MemberExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrganizationCreated => "organization.created",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationResent => "invitation.resent",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::InvitationDeclined => "invitation.declined",
            AuditAction::MemberAdded => "member.added",
            AuditAction::RoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberLeft => "member.left",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::TokenRestricted => "token.restricted",
            AuditAction::ServiceAccountCreated => "service_account.created",
            AuditAction::ServiceAccountDisabled => "service_account.disabled",
            AuditAction::ServiceAccountDeleted => "service_account.deleted",
            AuditAction::ServiceAccountKeyCreated => "service_account.key_created",
            AuditAction::AuditDownloaded => "audit.downloaded",
            AuditAction::SignedIn => "session.signed_in",
            AuditAction::SignInRefused => "session.sign_in_refused",
            AuditAction::SessionsEnded => "session.all_ended",
            AuditAction::IntrospectionClientCreated => "introspection_client.created",
            AuditAction::IntrospectionClientRevoked => "introspection_client.revoked",
            AuditAction::OrganizationRenamed => "organization.renamed",
            AuditAction::OrganizationDeleted => "organization.deleted",
            AuditAction::OrganizationRestored => "organization.restored",
            AuditAction::OrganizationPurged => "organization.purged",
            AuditAction::DomainsChanged => "organization.domains_changed",
            AuditAction::TransferRequested => "organization.transfer_requested",
            AuditAction::TransferCancelled => "organization.transfer_cancelled",
            AuditAction::OwnershipTransferred => "organization.ownership_transferred",
            AuditAction::MembershipEndChanged => "member.end_changed",
            AuditAction::MemberExpired => "member.expired",
        }
    }

    /// The name the filter shows.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::OrganizationCreated => "Organization created",
            AuditAction::InvitationCreated => "Invitation sent",
            AuditAction::InvitationResent => "Invitation resent",
            AuditAction::InvitationRevoked => "Invitation revoked",
            AuditAction::InvitationAccepted => "Invitation accepted",
            AuditAction::InvitationDeclined => "Invitation declined",
            AuditAction::MemberAdded => "Member added",
            AuditAction::RoleChanged => "Role changed",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::MemberLeft => "Member left",
            AuditAction::TokenCreated => "API token created",
            AuditAction::TokenRevoked => "API token revoked",
            AuditAction::TokenRestricted => "API token limits changed",
            AuditAction::ServiceAccountCreated => "Service account created",
            AuditAction::ServiceAccountDisabled => "Service account disabled",
            AuditAction::ServiceAccountDeleted => "Service account deleted",
            AuditAction::ServiceAccountKeyCreated => "Service account key created",
            AuditAction::AuditDownloaded => "Audit log downloaded",
            AuditAction::SignedIn => "Signed in",
            AuditAction::SignInRefused => "Sign-in refused",
            AuditAction::SessionsEnded => "Signed out of every session",
            AuditAction::IntrospectionClientCreated => "Introspection client created",
            AuditAction::IntrospectionClientRevoked => "Introspection client revoked",
            AuditAction::OrganizationRenamed => "Organization renamed",
            AuditAction::OrganizationDeleted => "Organization deleted",
            AuditAction::OrganizationRestored => "Organization restored",
            AuditAction::OrganizationPurged => "Deleted organization purged",
            AuditAction::DomainsChanged => "Allowed email domains changed",
            AuditAction::TransferRequested => "Ownership transfer requested",
            AuditAction::TransferCancelled => "Ownership transfer cancelled or declined",
            AuditAction::OwnershipTransferred => "Ownership transferred",
            AuditAction::MembershipEndChanged => "Membership end date changed",
            AuditAction::MemberExpired => "Membership ended",
        }
    }

    /// The actions an organization's log holds: not the sessions, which are
    /// the person's, nor the introspection clients, which are the instance's.
    pub fn of_organizations() -> impl Iterator<Item = AuditAction> {
        Self::ALL.into_iter().filter(|action| {
            !matches!(
                action,
                AuditAction::SignedIn
                    | AuditAction::SignInRefused
                    | AuditAction::SessionsEnded
                    | AuditAction::IntrospectionClientCreated
                    | AuditAction::IntrospectionClientRevoked
                    | AuditAction::OrganizationPurged
            )
        })
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }

    /// Whether the action belongs to no organization (see [`Self::of_organizations`]).
    pub fn is_instance(self) -> bool {
        !Self::of_organizations().any(|action| action == self)
    }
}

/// Who acted, as a kind of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ServiceAccount,
    CommandLine,
    /// Someone whose sign-in was refused: not known to be anyone yet.
    Visitor,
    /// Rollcall's background worker (a membership that ended, a purge).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ServiceAccount => "service_account",
            ActorKind::CommandLine => "command_line",
            ActorKind::Visitor => "visitor",
            ActorKind::System => "system",
        }
    }
}

/// What was acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Organization,
    Member,
    Invitation,
    Token,
    ServiceAccount,
    AuditLog,
    Session,
    IntrospectionClient,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Organization => "organization",
            TargetKind::Member => "member",
            TargetKind::Invitation => "invitation",
            TargetKind::Token => "token",
            TargetKind::ServiceAccount => "service_account",
            TargetKind::AuditLog => "audit_log",
            TargetKind::Session => "session",
            TargetKind::IntrospectionClient => "introspection_client",
        }
    }
}
