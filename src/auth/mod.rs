//! Sign-in with Google and GitHub: the authorization-code flow with PKCE and a
//! state bound to the session (oauth2 crate), then the provider's profile,
//! keeping only the addresses it reports as verified.

mod http;
mod providers;

pub use providers::{Authorization, Provider, ProviderKind, Providers, SignInFailed};
