//! Configuration: environment variables (a `.env` file is read first), each
//! with a command-line flag of the same meaning. The defaults make `cargo run`
//! work on a fresh machine with nothing configured.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::db::DatabaseUrl;
use crate::domain::policy::{self, Policy};
use crate::error::Error;
use crate::telemetry::LogFormat;

/// Everything `rollcall` can be told, from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// sqlite://FILE, sqlite:///ABSOLUTE/FILE or postgres://USER@HOST/DB
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://rollcall.db", value_parser = parse_database_url, global = true)]
    pub database_url: DatabaseUrl,

    /// Address to listen on.
    #[arg(long, env = "ROLLCALL_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,

    /// Base of links in emails and of OAuth redirects, as people reach the console.
    #[arg(long, env = "ROLLCALL_PUBLIC_URL", default_value = "http://127.0.0.1:8080", value_parser = parse_public_url, global = true)]
    pub public_url: String,

    /// Key for the session cookies: 64 or more bytes, base64. Generated and kept
    /// in the database when unset.
    #[arg(long, env = "ROLLCALL_SESSION_KEY", hide_env_values = true, global = true)]
    pub session_key: Option<String>,

    /// smtp://host:port (plain), smtp://host?tls=required (STARTTLS) or smtps://user:pass@host (TLS).
    /// Unset: emails are written as .eml files under the outbox directory.
    #[arg(long, env = "ROLLCALL_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender of every email.
    #[arg(
        long,
        env = "ROLLCALL_MAIL_FROM",
        default_value = "Rollcall <rollcall@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Where the file outbox writes .eml files.
    #[arg(long, env = "ROLLCALL_OUTBOX_DIR", default_value = "./outbox", global = true)]
    pub outbox_dir: PathBuf,

    /// How long invitation links work: 7d, 12h, 30m, 2s…
    #[arg(long, env = "ROLLCALL_INVITE_TTL", default_value = "7d", value_parser = parse_ttl, global = true)]
    pub invite_ttl: Duration,

    #[arg(long, env = "ROLLCALL_GITHUB_CLIENT_ID", global = true)]
    pub github_client_id: Option<String>,
    #[arg(
        long,
        env = "ROLLCALL_GITHUB_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub github_client_secret: Option<String>,
    #[arg(
        long,
        env = "ROLLCALL_GITHUB_AUTH_URL",
        default_value = "https://github.com/login/oauth/authorize",
        global = true
    )]
    pub github_auth_url: String,
    #[arg(
        long,
        env = "ROLLCALL_GITHUB_TOKEN_URL",
        default_value = "https://github.com/login/oauth/access_token",
        global = true
    )]
    pub github_token_url: String,
    #[arg(
        long,
        env = "ROLLCALL_GITHUB_API_URL",
        default_value = "https://api.github.com",
        global = true
    )]
    pub github_api_url: String,

    #[arg(long, env = "ROLLCALL_GOOGLE_CLIENT_ID", global = true)]
    pub google_client_id: Option<String>,
    #[arg(
        long,
        env = "ROLLCALL_GOOGLE_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub google_client_secret: Option<String>,
    #[arg(
        long,
        env = "ROLLCALL_GOOGLE_AUTH_URL",
        default_value = "https://accounts.google.com/o/oauth2/v2/auth",
        global = true
    )]
    pub google_auth_url: String,
    #[arg(
        long,
        env = "ROLLCALL_GOOGLE_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token",
        global = true
    )]
    pub google_token_url: String,
    #[arg(
        long,
        env = "ROLLCALL_GOOGLE_USERINFO_URL",
        default_value = "https://openidconnect.googleapis.com/v1/userinfo",
        global = true
    )]
    pub google_userinfo_url: String,

    /// Development sign-in (type any email): on, off, or unset for automatic
    /// (on only when no provider is configured and the server listens on loopback).
    #[arg(long, env = "ROLLCALL_DEV_LOGIN", value_parser = parse_switch, global = true)]
    pub dev_login: Option<bool>,

    /// Megabytes of rendered member tables and pending-invitation lists each
    /// server keeps while what they show is unchanged; 0 renders them afresh.
    #[arg(long, env = "ROLLCALL_FRAGMENT_CACHE_MB", default_value_t = 16, value_parser = clap::value_parser!(u16).range(0..=4096), global = true)]
    pub fragment_cache_mb: u16,

    /// How long a sign-in lasts at most, however active the session: 7d, 12h…
    #[arg(long, env = "ROLLCALL_SESSION_LIFETIME", default_value = "7d", value_parser = parse_ttl, global = true)]
    pub session_lifetime: Duration,

    /// How long a session lasts without a request before it must sign in again.
    #[arg(long, env = "ROLLCALL_SESSION_IDLE", default_value = "12h", value_parser = parse_ttl, global = true)]
    pub session_idle: Duration,

    /// Requests per API token to the JSON API, per server: 600/min, 20/s, or off.
    #[arg(
        long,
        env = "ROLLCALL_RATE_LIMIT_API",
        default_value = "1200/min",
        global = true
    )]
    pub rate_limit_api: RateLimit,

    /// Requests per client address to sign-in and invitation pages, per server.
    #[arg(
        long,
        env = "ROLLCALL_RATE_LIMIT_SIGN_IN",
        default_value = "120/min",
        global = true
    )]
    pub rate_limit_sign_in: RateLimit,

    /// Token checks per client address (a gateway), per server.
    #[arg(
        long,
        env = "ROLLCALL_RATE_LIMIT_INTROSPECTION",
        default_value = "20000/s",
        global = true
    )]
    pub rate_limit_introspection: RateLimit,

    /// Load balancers (addresses or networks, comma-separated) whose
    /// X-Forwarded-For names the client; from anyone else it is ignored.
    #[arg(long, env = "ROLLCALL_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Where `/metrics` (Prometheus) listens, apart from the console: for
    /// example 127.0.0.1:9090. Unset, there are no metrics to scrape.
    #[arg(long, env = "ROLLCALL_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// The header the gateway's check reads the caller's token from
    /// besides `Authorization: Bearer`, for a platform whose clients send
    /// `X-Api-Key: rcp_…`.
    #[arg(long, env = "ROLLCALL_GATEWAY_TOKEN_HEADER", value_parser = parse_header_name, global = true)]
    pub gateway_token_header: Option<actix_web::http::header::HeaderName>,

    /// The platform's permissions and what each role holds (TOML; see the
    /// README). Unset: the built-in policy.
    #[arg(long, env = "ROLLCALL_POLICY_FILE", global = true)]
    pub policy_file: Option<PathBuf>,

    /// Log lines as text, or as one JSON object a line.
    #[arg(long, env = "ROLLCALL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// How long a request waits for the database (a connection, or a lock
    /// another process holds) before it is answered 503.
    #[arg(long, env = "ROLLCALL_DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_ttl, global = true)]
    pub database_timeout: Duration,

    /// How long audit events are kept: 400d, 90d… The background worker
    /// deletes older ones.
    #[arg(long, env = "ROLLCALL_AUDIT_RETENTION", default_value = "400d", value_parser = parse_retention, global = true)]
    pub audit_retention: Duration,

    /// For how many days the owners of a deleted organization can restore
    /// it (0 to 365); the background worker purges it after that.
    #[arg(long, env = "ROLLCALL_ORG_RESTORE_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u16).range(0..=365), global = true)]
    pub org_restore_days: u16,
}

/// An address is a network of one.
fn parse_header_name(text: &str) -> Result<actix_web::http::header::HeaderName, String> {
    actix_web::http::header::HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| format!("“{text}” is not a header's name, such as X-Api-Key"))
}

fn parse_network(input: &str) -> Result<ipnet::IpNet, String> {
    let input = input.trim();
    input
        .parse::<ipnet::IpNet>()
        .or_else(|_| input.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("“{input}” is not an address or a network like 10.0.0.0/8"))
}

fn parse_database_url(input: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(input).map_err(|error| error.to_string())
}

/// Longest invitation lifetime accepted: a year.
const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

fn parse_ttl(input: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(input.trim())
        .map_err(|error| format!("“{input}” is not a duration like 7d, 12h or 30m ({error})"))?;
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!("“{input}” must be more than zero and at most a year"));
    }
    Ok(ttl)
}

/// Retention: at least a day (less would lose today's record), at most 100 years.
fn parse_retention(input: &str) -> Result<Duration, String> {
    let kept = humantime::parse_duration(input.trim())
        .map_err(|error| format!("“{input}” is not a duration like 400d or 90d ({error})"))?;
    if kept < Duration::from_secs(24 * 3600) || kept > Duration::from_secs(100 * 365 * 24 * 3600) {
        return Err(format!("“{input}” must be at least a day and at most 100 years"));
    }
    Ok(kept)
}

fn parse_public_url(input: &str) -> Result<String, String> {
    let parsed =
        url::Url::parse(input.trim()).map_err(|error| format!("“{input}” is not a URL ({error})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("“{input}” must be an http:// or https:// URL"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

fn parse_switch(input: &str) -> Result<bool, String> {
    match input.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("“{input}” must be on or off")),
    }
}

impl Config {
    /// The policy `ROLLCALL_POLICY_FILE` declares, or the built-in one. A
    /// file that cannot be used is one line naming it, the line and what is
    /// wrong.
    pub fn policy(&self) -> Result<Policy, Error> {
        let Some(path) = &self.policy_file else {
            return Ok(Policy::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::Invalid(format!("ROLLCALL_POLICY_FILE {shown} cannot be read: {error}."))
        })?;
        policy::parse_policy(&text, &shown)
            .map_err(|error| Error::Invalid(format!("ROLLCALL_POLICY_FILE {shown}, {error}.")))
    }

    /// Puts the configured policy in force for this process: every command
    /// and the server act under it. Another policy in force already (a
    /// second server in one process, as the tests start them) is refused.
    pub fn install_policy(&self) -> Result<(), Error> {
        let wanted = self.policy()?;
        if self.policy_file.is_none() && policy::current() == &wanted {
            return Ok(());
        }
        match policy::install(wanted) {
            Ok(()) => Ok(()),
            Err(wanted) if policy::current() == &*wanted => Ok(()),
            Err(_) => Err(Error::Invalid(
                "Another policy is in force in this process already; start a process of its own for this one."
                    .to_owned(),
            )),
        }
    }

    /// [`Config::fragment_cache_mb`] in bytes.
    pub fn fragment_cache_bytes(&self) -> usize {
        usize::from(self.fragment_cache_mb) << 20
    }

    /// What the services need of the configuration.
    pub fn service_settings(&self) -> crate::services::Settings {
        crate::services::Settings {
            public_url: self.public_url.clone(),
            invite_ttl: self.invite_ttl,
            org_restore_days: self.org_restore_days,
        }
    }
}

/// A limit as configured: `600/min`, `20/s`, `5000/h`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    Every { requests: NonZeroU32, per: Duration },
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let unusable = || format!("“{input}” is not a rate like 600/min, 20/s or 5000/h (or off)");
        let (requests, per) = input.split_once('/').ok_or_else(unusable)?;
        let requests: NonZeroU32 = requests.trim().parse().map_err(|_| unusable())?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(unusable()),
        };
        Ok(Self::Every { requests, per })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Every { requests, per } => write!(f, "{requests}/{}s", per.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_written_as_rates() {
        let per_minute = RateLimit::from_str("600/min").unwrap();
        assert_eq!(
            per_minute,
            RateLimit::Every {
                requests: NonZeroU32::new(600).unwrap(),
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(RateLimit::from_str(" off ").unwrap(), RateLimit::Off);
        assert!(RateLimit::from_str("20/s").is_ok());
        for bad in ["", "600", "0/min", "-1/s", "ten/s", "10/week", "10/"] {
            assert!(RateLimit::from_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_ttls_in_humantime_syntax() {
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(parse_ttl("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("forever").is_err());
        assert!(parse_ttl("1000d").is_err());
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        assert_eq!(
            parse_public_url("https://rollcall.example.com/").unwrap(),
            "https://rollcall.example.com"
        );
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("not a url").is_err());
    }
}
