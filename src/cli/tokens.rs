//! `rollcall token …`, `rollcall service-account …` and
//! `rollcall introspection-client …`: the machine half from a shell, under
//! the same rules and audit trail as the console.

use clap::Subcommand;
use serde::Serialize;

use super::{migrated, parse_email, parse_role, parse_slug, write_out};
use crate::config::Config;
use crate::domain::policy::TokenScope;
use crate::domain::{AccessLevel, ClientNetworks, Description, KeyRate, LabelName, Lifetime, TokenLimits};
use crate::error::Error;
use crate::services::service_accounts::{self, AccountRequest, KeyRequest};
use crate::services::tokens::{self, IssuedToken, TokenRequest};
use crate::services::{Actor, Viewer, introspection};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal API token for a member; prints the secret once.
    Create {
        #[arg(long)]
        org: String,
        /// The member the token is for.
        #[arg(long)]
        user: String,
        /// operations or inference.
        #[arg(long)]
        access: String,
        /// How long it works: 1d to 366d.
        #[arg(long, default_value = "30d")]
        expires: String,
        #[arg(long, default_value = "Command-line token")]
        name: String,
        /// Carry only this permission of the member's role (repeat for
        /// more); none given, everything the role allows.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Work only from this network (CIDR, or an address; repeat for
        /// more); none given, from anywhere.
        #[arg(long = "network")]
        networks: Vec<String>,
    },
    /// List the organization's tokens and keys.
    List {
        #[arg(long)]
        org: String,
        /// Print a JSON array of {id, name, holder, kind, access, prefix, created_at, expires_at, last_used_at, networks, rate}.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token or key by its id.
    Revoke {
        #[arg(long)]
        org: String,
        id: String,
    },
    /// Set where a token or key works from and (a key's) rate, in place of
    /// what it had: with neither, it works from anywhere at any rate.
    Restrict {
        #[arg(long)]
        org: String,
        id: String,
        /// Work only from this network (CIDR, or an address; repeat for more).
        #[arg(long = "network")]
        networks: Vec<String>,
        /// A service account key's calls per second, minute or hour on each
        /// server: 600/min, 10/s, 5000/h.
        #[arg(long)]
        rate: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceAccountCommand {
    /// Create a service account.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// A role of the policy in force, as the Roles page names it; never owner.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the organization's service accounts.
    List {
        #[arg(long)]
        org: String,
        /// Print a JSON array of {id, name, description, role, created_at, disabled, active_keys}.
        #[arg(long)]
        json: bool,
    },
    /// Disable a service account: every key stops working.
    Disable {
        #[arg(long)]
        org: String,
        name: String,
    },
    /// Delete a service account and its keys.
    Delete {
        #[arg(long)]
        org: String,
        name: String,
    },
    /// Create a key for a service account; prints the secret once.
    KeyCreate {
        #[arg(long)]
        org: String,
        name: String,
        /// operations or inference.
        #[arg(long)]
        access: String,
        /// How long it works: 1d to 366d.
        #[arg(long, default_value = "30d")]
        expires: String,
        /// The key's own name.
        #[arg(long)]
        key_name: Option<String>,
        /// Work only from this network (CIDR, or an address; repeat for
        /// more); none given, from anywhere.
        #[arg(long = "network")]
        networks: Vec<String>,
        /// Calls per second, minute or hour on each server: 600/min, 10/s,
        /// 5000/h; none given, as often as the servers answer.
        #[arg(long)]
        rate: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntrospectionClientCommand {
    /// Create a client for the platform's gateway; prints its secret once.
    Create { name: String },
    /// List the clients.
    List,
    /// Revoke a client: its secret stops working.
    Revoke { name: String },
}

fn parse_access(access: &str) -> Result<AccessLevel, Error> {
    access.parse().map_err(Error::from)
}

fn parse_lifetime(expires: &str) -> Result<Lifetime, Error> {
    Lifetime::parse(expires).map_err(Error::from)
}

/// The limits the flags name: one network to each `--network`.
fn limits(networks: &[String], rate: Option<&str>) -> Result<TokenLimits, Error> {
    Ok(TokenLimits {
        networks: ClientNetworks::parse_each(networks.iter().map(String::as_str))?,
        rate: rate.map(KeyRate::parse).transpose()?,
    })
}

fn request(
    name: &str,
    access: &str,
    expires: &str,
    permissions: &[String],
    networks: &[String],
) -> Result<TokenRequest, Error> {
    Ok(TokenRequest {
        name: LabelName::parse(name).map_err(|e| Error::Invalid(format!("Name: {e}")))?,
        access: parse_access(access)?,
        lifetime: parse_lifetime(expires)?,
        scope: TokenScope::named(permissions.iter().map(String::as_str))?,
        limits: limits(networks, None)?,
    })
}

fn print_secret(issued: &IssuedToken) {
    println!(
        "Created “{}” ({} access, id {}); it expires on {}. Copy the secret now: it is not shown again.",
        issued.name,
        issued.access.as_str(),
        issued.id,
        issued.expires_at.format("%-d %B %Y at %H:%M UTC")
    );
    println!("{}", issued.secret.expose());
}

#[derive(Serialize)]
struct TokenJson<'a> {
    id: &'a str,
    name: &'a str,
    holder: &'a str,
    kind: &'a str,
    access: &'a str,
    prefix: &'a str,
    last_four: &'a str,
    status: &'a str,
    created_at: String,
    expires_at: String,
    last_used_at: Option<String>,
    networks: Vec<String>,
    rate: Option<String>,
}

#[derive(Serialize)]
struct AccountJson<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    role: &'a str,
    created_at: String,
    disabled: bool,
    active_keys: i64,
}

pub fn token(config: &Config, command: TokenCommand) -> Result<(), Error> {
    let actor = Actor::command_line();
    match command {
        TokenCommand::Create {
            org,
            user,
            access,
            expires,
            name,
            permissions,
            networks,
        } => {
            let (slug, email, request) = (
                parse_slug(&org)?,
                parse_email(&user)?,
                request(&name, &access, &expires, &permissions, &networks)?,
            );
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let issued = tokens::create_personal(conn, &actor, &viewer.org, Some(&email), &request)?;
            print_secret(&issued);
            Ok(())
        }
        TokenCommand::List { org, json } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let listed = tokens::list(conn, &viewer, &actor)?;
            let rows: Vec<TokenJson> = listed
                .iter()
                .map(|token| TokenJson {
                    id: &token.id,
                    name: &token.name,
                    holder: &token.holder,
                    kind: token.kind.as_str(),
                    access: token.access.as_str(),
                    prefix: token.prefix(),
                    last_four: &token.last_four,
                    status: token.status.label(),
                    created_at: token.created_at.and_utc().to_rfc3339(),
                    expires_at: token.expires_at.and_utc().to_rfc3339(),
                    last_used_at: token.last_used_at.map(|at| at.and_utc().to_rfc3339()),
                    networks: token.limits.networks.iter().map(ToString::to_string).collect(),
                    rate: token.limits.rate.map(|rate| rate.to_string()),
                })
                .collect();
            write_out(json, &rows, |token| {
                format!(
                    "{}\t{}\t{}\t{}…{}\t{}\t{}\t{}",
                    token.id,
                    token.name,
                    token.holder,
                    token.prefix,
                    token.last_four,
                    token.access,
                    token.status,
                    token.expires_at
                )
            })
        }
        TokenCommand::Revoke { org, id } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let name = tokens::revoke(conn, &actor, &viewer.org, &id)?;
            println!("Revoked “{name}”; it no longer works.");
            Ok(())
        }
        TokenCommand::Restrict {
            org,
            id,
            networks,
            rate,
        } => {
            let (slug, limits) = (parse_slug(&org)?, limits(&networks, rate.as_deref())?);
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let (name, limits) = tokens::restrict(conn, &actor, &viewer.org, &id, &limits.into())?;
            match limits.describe() {
                Some(limits) => println!("“{name}” now works {limits}."),
                None => println!("“{name}” now works from anywhere, at any rate."),
            }
            Ok(())
        }
    }
}

pub fn service_account(config: &Config, command: ServiceAccountCommand) -> Result<(), Error> {
    let actor = Actor::command_line();
    match command {
        ServiceAccountCommand::Create {
            org,
            name,
            role,
            description,
        } => {
            let account = AccountRequest {
                name: LabelName::parse(&name).map_err(|e| Error::Invalid(format!("Name: {e}")))?,
                description: Description::parse(&description)
                    .map_err(|e| Error::Invalid(format!("Description: {e}")))?,
                role: parse_role(&role)?,
            };
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let created = service_accounts::create(conn, &actor, &viewer.org, &account)?;
            println!(
                "Created the service account “{}” ({}) in {}.",
                created.name,
                created.role.label(),
                viewer.org.name
            );
            Ok(())
        }
        ServiceAccountCommand::List { org, json } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let listed = service_accounts::list(conn, &viewer)?;
            let rows: Vec<AccountJson> = listed
                .iter()
                .map(|account| AccountJson {
                    id: &account.id,
                    name: &account.name,
                    description: &account.description,
                    role: account.role.as_str(),
                    created_at: account.created_at.and_utc().to_rfc3339(),
                    disabled: account.disabled_at.is_some(),
                    active_keys: account.active_keys,
                })
                .collect();
            write_out(json, &rows, |account| {
                format!(
                    "{}\t{}\t{}\t{}\t{} keys",
                    account.id,
                    account.name,
                    account.role,
                    if account.disabled { "disabled" } else { "enabled" },
                    account.active_keys
                )
            })
        }
        ServiceAccountCommand::Disable { org, name } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let name = service_accounts::disable(conn, &actor, &viewer.org, &name)?;
            println!("Disabled “{name}”; its keys no longer work.");
            Ok(())
        }
        ServiceAccountCommand::Delete { org, name } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let name = service_accounts::delete(conn, &actor, &viewer.org, &name)?;
            println!("Deleted “{name}” and its keys.");
            Ok(())
        }
        ServiceAccountCommand::KeyCreate {
            org,
            name,
            access,
            expires,
            key_name,
            networks,
            rate,
        } => {
            let key = KeyRequest {
                name: key_name
                    .as_deref()
                    .map(LabelName::parse)
                    .transpose()
                    .map_err(|e| Error::Invalid(format!("Key name: {e}")))?,
                access: parse_access(&access)?,
                lifetime: parse_lifetime(&expires)?,
                limits: limits(&networks, rate.as_deref())?,
            };
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let issued = service_accounts::create_key(conn, &actor, &viewer.org, &name, &key)?;
            print_secret(&issued);
            Ok(())
        }
    }
}

pub fn introspection_client(config: &Config, command: IntrospectionClientCommand) -> Result<(), Error> {
    let pool = migrated(config)?;
    let conn = &mut pool.get()?;
    match command {
        IntrospectionClientCommand::Create { name } => {
            let name = LabelName::parse(&name).map_err(|e| Error::Invalid(format!("Name: {e}")))?;
            let secret = introspection::create_client(conn, &name)?;
            println!(
                "Created the introspection client “{}”. Give the gateway this secret (Authorization: Bearer …); it is not shown again.",
                name.as_str()
            );
            println!("{}", secret.expose());
            Ok(())
        }
        IntrospectionClientCommand::List => {
            for client in introspection::list_clients(conn)? {
                println!(
                    "{}\trci_…{}\t{}\t{}",
                    client.name,
                    client.last_four,
                    client.created_at.format("%Y-%m-%d %H:%M"),
                    if client.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
            Ok(())
        }
        IntrospectionClientCommand::Revoke { name } => {
            introspection::revoke_client(conn, &name)?;
            println!("Revoked “{name}”; its secret no longer works.");
            Ok(())
        }
    }
}
