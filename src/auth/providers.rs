use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;

use super::http;
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::error::Error;
use crate::services::users::{Provider as IdentityProvider, SignIn};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    GitHub,
}

impl ProviderKind {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "google" => Some(Self::Google),
            "github" => Some(Self::GitHub),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::GitHub => "github",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Google => "Google",
            Self::GitHub => "GitHub",
        }
    }

    /// The provider, as the services know it.
    pub fn provider(self) -> IdentityProvider {
        match self {
            Self::Google => IdentityProvider::Google,
            Self::GitHub => IdentityProvider::GitHub,
        }
    }
}

/// Why a sign-in did not complete, in words for the person signing in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignInFailed(pub String);

/// A configured provider.
pub struct Provider {
    pub kind: ProviderKind,
    client: Client,
    /// Google's userinfo endpoint, or GitHub's API base.
    profile_url: String,
}

/// Where to send the browser, and what the session must remember to check
/// the answer.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

impl Provider {
    fn new(
        kind: ProviderKind,
        id: &str,
        secret: Option<&str>,
        auth_url: &str,
        token_url: &str,
        profile_url: &str,
        public_url: &str,
    ) -> Result<Self, Error> {
        let invalid = |what: &str, error: oauth2::url::ParseError| {
            Error::Invalid(format!("the {} {what} is not a URL: {error}", kind.label()))
        };
        let mut client = BasicClient::new(ClientId::new(id.to_owned()))
            .set_auth_uri(AuthUrl::new(auth_url.to_owned()).map_err(|e| invalid("authorization URL", e))?)
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|e| invalid("token URL", e))?)
            .set_redirect_uri(
                RedirectUrl::new(format!("{public_url}/auth/{}/callback", kind.as_str()))
                    .map_err(|e| invalid("redirect URL", e))?,
            );
        if let Some(secret) = secret {
            client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        Ok(Self {
            kind,
            client,
            profile_url: profile_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Starts a sign-in: a fresh state and PKCE verifier, and the provider's URL.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes: &[&str] = match self.kind {
            ProviderKind::Google => &["openid", "email", "profile"],
            ProviderKind::GitHub => &["read:user", "user:email"],
        };
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
        }
    }

    /// Finishes a sign-in (blocking): exchanges the code, then reads who signed in.
    pub fn finish(&self, code: &str, verifier: &str) -> Result<SignIn, SignInFailed> {
        let agent = http::agent();
        let label = self.kind.label();
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request(&|request| http::send(&agent, request))
            .map_err(|error| {
                tracing::warn!(provider = label, %error, "token exchange failed");
                SignInFailed(format!(
                    "{label} did not accept this sign-in (the code may have been used already or expired). Please try again."
                ))
            })?;
        let access = token.access_token().secret();
        let profile = match self.kind {
            ProviderKind::Google => self.google_profile(&agent, access),
            ProviderKind::GitHub => self.github_profile(&agent, access),
        };
        profile.map_err(|error| {
            tracing::warn!(provider = label, %error, "reading the profile failed");
            SignInFailed(format!("Could not read your {label} profile. Please try again."))
        })
    }

    fn google_profile(&self, agent: &ureq::Agent, token: &str) -> Result<SignIn, http::HttpError> {
        let info = http::get_json(agent, &self.profile_url, token)?;
        let subject =
            text(&info, "sub").ok_or_else(|| http::HttpError("no sub in the userinfo".to_owned()))?;
        // email_verified is a boolean, though some deployments send "true".
        let verified = matches!(info.get("email_verified"), Some(Value::Bool(true)))
            || matches!(info.get("email_verified"), Some(Value::String(s)) if s == "true");
        let verified_emails: Vec<EmailAddress> = text(&info, "email")
            .filter(|_| verified)
            .and_then(|email| EmailAddress::parse(&email).ok())
            .into_iter()
            .collect();
        SignIn::new(
            IdentityProvider::Google,
            &subject,
            text(&info, "name").as_deref(),
            text(&info, "picture").as_deref(),
            verified_emails,
        )
        .map_err(|error| http::HttpError(error.to_string()))
    }

    fn github_profile(&self, agent: &ureq::Agent, token: &str) -> Result<SignIn, http::HttpError> {
        let user = http::get_json(agent, &format!("{}/user", self.profile_url), token)?;
        let subject = match user.get("id") {
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(id)) => id.clone(),
            _ => return Err(http::HttpError("no id in /user".to_owned())),
        };
        let emails = http::get_json(agent, &format!("{}/user/emails", self.profile_url), token)?;
        let mut listed: Vec<(bool, EmailAddress)> = emails
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry.get("verified") == Some(&Value::Bool(true)))
            .filter_map(|entry| {
                let email = EmailAddress::parse(entry.get("email")?.as_str()?).ok()?;
                Some((entry.get("primary") == Some(&Value::Bool(true)), email))
            })
            .collect();
        // The primary address first: it becomes the user's address.
        listed.sort_by_key(|(primary, _)| !primary);
        SignIn::new(
            IdentityProvider::GitHub,
            &subject,
            text(&user, "name").or_else(|| text(&user, "login")).as_deref(),
            text(&user, "avatar_url").as_deref(),
            listed.into_iter().map(|(_, email)| email),
        )
        .map_err(|error| http::HttpError(error.to_string()))
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The providers this server offers.
#[derive(Default)]
pub struct Providers {
    google: Option<Provider>,
    github: Option<Provider>,
}

impl Providers {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let google = config
            .google_client_id
            .as_deref()
            .map(|id| {
                Provider::new(
                    ProviderKind::Google,
                    id,
                    config.google_client_secret.as_deref(),
                    &config.google_auth_url,
                    &config.google_token_url,
                    &config.google_userinfo_url,
                    &config.public_url,
                )
            })
            .transpose()?;
        let github = config
            .github_client_id
            .as_deref()
            .map(|id| {
                Provider::new(
                    ProviderKind::GitHub,
                    id,
                    config.github_client_secret.as_deref(),
                    &config.github_auth_url,
                    &config.github_token_url,
                    &config.github_api_url,
                    &config.public_url,
                )
            })
            .transpose()?;
        Ok(Self { google, github })
    }

    pub fn get(&self, kind: ProviderKind) -> Option<&Provider> {
        match kind {
            ProviderKind::Google => self.google.as_ref(),
            ProviderKind::GitHub => self.github.as_ref(),
        }
    }

    pub fn has(&self, kind: ProviderKind) -> bool {
        self.get(kind).is_some()
    }
}
