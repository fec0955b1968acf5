//! Types and rules of the domain: no I/O here.
//!
//! Everything that comes from outside (a form, a command-line argument, a URL) is
//! parsed into one of these types at the edge; inside, the types are trusted.

mod api_token;
pub mod audit;
mod email;
mod membership_end;
mod message;
mod name;
pub mod policy;
mod role;
mod slug;
pub mod text;
mod token;
mod token_limits;

pub use api_token::{
    AccessLevel, ApiSecret, InvalidAccessLevel, InvalidLifetime, InvalidSecret, Lifetime, SecretKind,
};
pub use email::{
    DomainList, EmailAddress, EmailDomain, InvalidDomain, InvalidEmail, MAX_ALLOWED_DOMAINS,
    parse_address_list, parse_domain_list,
};
pub use membership_end::{InvalidMembershipEnd, MembershipEnd, MembershipTerm, format_day};
pub use message::{Message, SentInvitation};
pub use name::{Description, InvalidDescription, InvalidName, LabelName, OrganizationName, PersonName};
pub use policy::InvalidRole;
pub use policy::{Action, Permission};
pub use role::Role;
pub use slug::{InvalidSlug, Slug};
pub use text::{LocalPath, SearchText};
pub use token::{InvalidToken, InviteToken, TokenHash, random_bytes};
pub use token_limits::{
    ClientNetworks, InvalidNetworks, InvalidRate, KeyRate, LimitsChange, MAX_NETWORKS, RateOnKeysOnly,
    TokenLimits,
};

/// `FromStr` for the types a form's field is parsed into: the type's own
/// `parse`, so that a form and the command line refuse the same text alike.
macro_rules! parsed_from_text {
    ($($kind:ty => $refusal:ty),* $(,)?) => {
        $(impl std::str::FromStr for $kind {
            type Err = $refusal;

            fn from_str(text: &str) -> Result<Self, $refusal> {
                Self::parse(text)
            }
        })*
    };
}

parsed_from_text!(
    OrganizationName => InvalidName,
    LabelName => InvalidName,
    Description => InvalidDescription,
    Lifetime => InvalidLifetime,
);
