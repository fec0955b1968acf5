//! The `rollcall` command line: serve the console, migrate, and manage
//! organizations and members from a shell with the same rules and audit trail
//! as the console (the actor is recorded as "command line").

mod audit;
mod operations;
mod org;
mod tokens;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::Config;
use crate::db::{self, DbPool};
use crate::domain::{EmailAddress, PersonName, Role, Slug, policy};
use crate::error::Error;
use crate::services::invitations::{self, InviteOutcome, Invitee};
use crate::services::members::{self, MemberRef};
use crate::services::{Actor, Viewer, organizations, seed};

#[derive(Debug, Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Manage who is in your organization and what each member may do."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the console (the default).
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage an organization's members and invitations.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Manage service accounts and their keys.
    #[command(subcommand)]
    ServiceAccount(tokens::ServiceAccountCommand),
    /// Manage the clients (the platform's gateways) that may check tokens.
    #[command(subcommand)]
    IntrospectionClient(tokens::IntrospectionClientCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Copy the SQLite database, consistently, while servers run.
    Backup {
        /// The new file to write.
        path: std::path::PathBuf,
    },
    /// Check the configuration a server would start with, and say what is wrong.
    Doctor,
    /// Tools for developing and measuring Rollcall.
    #[command(subcommand, hide = true)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Add synthetic members and pending invitations to an organization, for benchmarks.
    Seed {
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 0)]
        members: u64,
        /// Invited through the usual path, so their emails are queued too.
        #[arg(long, default_value_t = 0)]
        invitations: u64,
        /// Inference tokens held by the members in turn.
        #[arg(long, default_value_t = 0)]
        tokens: u64,
        /// Where the tokens' secrets are written, one a line (for the benchmark's load).
        #[arg(long)]
        tokens_file: Option<std::path::PathBuf>,
        /// Synthetic audit events over the last year.
        #[arg(long, default_value_t = 0)]
        audit_events: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization and invite its first owner; prints the invitation link.
    Create {
        /// The organization's name, e.g. "Acme AI".
        name: String,
        /// Email address of the first owner.
        #[arg(long)]
        owner: String,
    },
    /// Change an organization's name or slug (the old slug answers 301 for 90 days).
    Rename {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// The new slug.
        #[arg(long = "slug")]
        new_slug: Option<String>,
    },
    /// Make a member an owner at once (the command line has no ownership of its own to hand over).
    Transfer {
        slug: String,
        /// The member's email address or user id.
        #[arg(long)]
        to: String,
    },
    /// Delete an organization; its owners can restore it for ROLLCALL_ORG_RESTORE_DAYS.
    Delete {
        slug: String,
        /// The slug again, to confirm.
        #[arg(long)]
        confirm: String,
    },
    /// Restore a deleted organization.
    Restore { slug: String },
    /// Show, set or clear the email domains invitations may go to.
    Domains {
        slug: String,
        /// Allow only these domains (replaces the list).
        #[arg(long, num_args = 1.., conflicts_with = "clear")]
        allow: Vec<String>,
        /// Allow every domain again.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Invite someone to an organization; prints the invitation link.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// A role of the policy in force, as the Roles page names it: the
        /// policy's default role unless given.
        #[arg(long)]
        role: Option<String>,
        /// The invitee's name, used in the email's greeting.
        #[arg(long)]
        name: Option<String>,
        /// When the membership ends: a last day (2027-01-31), a duration from now (90d), or never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List an organization's members.
    List {
        #[arg(long)]
        org: String,
        /// Print a JSON array of {id, email, name, role, joined_at}.
        #[arg(long)]
        json: bool,
    },
    /// Change a member's role or when their membership ends. USER is a user id or an email address.
    Update {
        #[arg(long)]
        org: String,
        user: String,
        #[arg(long, required_unless_present = "expires")]
        role: Option<String>,
        /// A last day (2027-01-31), a duration from now (90d), or never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Remove a member. USER is a user id or an email address.
    Delete {
        #[arg(long)]
        org: String,
        user: String,
    },
}

/// Parses the command line, runs the command, and reports a failure as one
/// line on stderr with a non-zero exit.
pub fn run() -> ExitCode {
    // A missing .env is the normal case.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    crate::telemetry::init(cli.config.log_format);
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.is_refusal() {
                tracing::error!(error = ?error, "command failed");
            }
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> Result<(), Error> {
    let config = cli.config;
    // The doctor reports a policy that cannot be used; everything else
    // stops on it, as the server does.
    if !matches!(cli.command, Some(Command::Doctor)) {
        config.install_policy()?;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::web::serve(config),
        Command::Migrate => {
            migrated(&config)?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Org(command) => org::run(&config, command),
        Command::User(command) => user(&config, command),
        Command::Backup { path } => {
            operations::backup(&config, &path)?;
            println!("Wrote a consistent copy of the database to {}.", path.display());
            Ok(())
        }
        Command::Doctor => operations::doctor(&config),
        Command::Token(command) => tokens::token(&config, command),
        Command::Audit(command) => audit::run(&config, command),
        Command::ServiceAccount(command) => tokens::service_account(&config, command),
        Command::IntrospectionClient(command) => tokens::introspection_client(&config, command),
        Command::Dev(DevCommand::Seed {
            org,
            members: member_count,
            invitations: invitation_count,
            tokens: token_count,
            tokens_file,
            audit_events,
        }) => {
            let slug = parse_slug(&org)?;
            let pool = migrated(&config)?;
            let conn = &mut pool.get()?;
            let actor = Actor::command_line();
            let viewer = Viewer::open(conn, &actor, &slug)?;
            let org = &viewer.org;
            let members = seed::members(conn, org, member_count)?;
            seed::audit_events(conn, org, audit_events)?;
            let already = invitations::pending_for_org(conn, &viewer, 1, 0)?.total;
            let first = u64::try_from(already).unwrap_or_default();
            let default_role = policy::current().default_role();
            let lowest_role = Role::all().last().copied().unwrap_or(default_role);
            let invitees: Vec<Invitee> = (first..first + invitation_count)
                .map(|n| {
                    Ok(Invitee {
                        email: parse_email(&format!("invitee.{n}@example.org"))?,
                        name: None,
                        // The default role and the lowest, in turn.
                        role: if n % 2 == 0 { default_role } else { lowest_role },
                        ends: None,
                    })
                })
                .collect::<Result<_, Error>>()?;
            for batch in invitees.chunks(1_000) {
                invitations::invite(conn, &config.service_settings(), &actor, org, batch)?;
            }
            if token_count > 0 {
                let path = tokens_file.ok_or_else(|| {
                    Error::Invalid("Say where the secrets go: --tokens-file PATH.".to_owned())
                })?;
                let secrets = seed::tokens(conn, org, token_count)?;
                let lines: String = secrets
                    .iter()
                    .map(|secret| format!("{}\n", secret.expose()))
                    .collect();
                std::fs::write(&path, lines)
                    .map_err(|error| Error::Invalid(format!("cannot write {}: {error}", path.display())))?;
            }
            let pending = invitations::pending_for_org(conn, &viewer, 1, 0)?.total;
            println!(
                "{} has {members} members and {pending} pending invitations.",
                org.name
            );
            Ok(())
        }
    }
}

fn user(config: &Config, command: UserCommand) -> Result<(), Error> {
    let actor = Actor::command_line();
    match command {
        UserCommand::Create {
            org,
            email,
            role,
            name,
            expires,
        } => {
            let invitee = Invitee {
                ends: expires.as_deref().map(parse_expires).transpose()?.flatten(),
                email: parse_email(&email)?,
                role: match role {
                    Some(role) => parse_role(&role)?,
                    None => policy::current().default_role(),
                },
                name: name
                    .as_deref()
                    .map(PersonName::parse_optional)
                    .transpose()
                    .map_err(|e| Error::Invalid(format!("Name: {e}")))?
                    .flatten(),
            };
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let outcomes = invitations::invite(conn, &config.service_settings(), &actor, &org, &[invitee])?;
            match outcomes.into_iter().next().map(|(_, outcome)| outcome) {
                Some(InviteOutcome::Invited(issued)) => {
                    print_link(&issued);
                    Ok(())
                }
                Some(InviteOutcome::AlreadyMember) => Err(Error::Conflict(format!(
                    "{email} is already a member of {}.",
                    org.name
                ))),
                Some(InviteOutcome::AlreadyInvited { .. }) => Err(Error::Conflict(format!(
                    "{email} already has a pending invitation to {}; resend it from the Members page.",
                    org.name
                ))),
                Some(InviteOutcome::DomainNotAllowed) => Err(Error::Invalid(
                    invitations::domain_not_allowed(&org, &parse_email(&email)?),
                )),
                Some(InviteOutcome::Duplicate) | None => {
                    Err(Error::Conflict(format!("{email} was not invited.")))
                }
            }
        }
        UserCommand::List { org, json } => {
            let slug = parse_slug(&org)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let all = members::all(conn, &actor, &org)?;
            let rows: Vec<MemberJson> = all
                .iter()
                .map(|member| MemberJson {
                    id: &member.user_id,
                    email: &member.email,
                    name: &member.name,
                    role: member.role.as_str(),
                    joined_at: member.joined_at.and_utc().to_rfc3339(),
                })
                .collect();
            write_out(json, &rows, |member| {
                format!(
                    "{}\t{}\t{}\t{}\t{}",
                    member.id,
                    member.email,
                    member.name,
                    member.role,
                    &member.joined_at[..16].replacen('T', " ", 1)
                )
            })
        }
        UserCommand::Update {
            org,
            user,
            role,
            expires,
        } => {
            let slug = parse_slug(&org)?;
            let member = MemberRef::parse(&user)?;
            let change = members::MemberChange {
                role: role.as_deref().map(parse_role).transpose()?,
                ends: expires.as_deref().map(parse_expires).transpose()?,
            };
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let updated = members::update(conn, &actor, &org, &member, &change)?;
            let ends = match updated.ends {
                Some(ends) => format!("; their access ends after {} (UTC)", ends.last_day()),
                None => String::new(),
            };
            println!(
                "{} is now {} of {}{ends}.",
                updated.email,
                updated.role.label(),
                org.name
            );
            Ok(())
        }
        UserCommand::Delete { org, user } => {
            let slug = parse_slug(&org)?;
            let member = MemberRef::parse(&user)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let removed = members::remove(conn, &actor, &org, &member)?;
            println!("Removed {} from {}.", removed.email, org.name);
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct MemberJson<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    role: &'a str,
    joined_at: String,
}

/// Writes a list: pretty JSON, or one line per row.
fn write_out<T: Serialize>(json: bool, rows: &[T], line: impl Fn(&T) -> String) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, rows)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        rows.iter().try_for_each(|row| writeln!(out, "{}", line(row)))
    };
    // A closed pipe (`rollcall user list | head`) is not an error.
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Invalid(format!("could not write the list: {error}")))
        }
        _ => Ok(()),
    }
}

pub(crate) fn print_link(issued: &invitations::IssuedInvitation) {
    println!(
        "Invited {} as {}; the link works once and expires on {}:",
        issued.email,
        issued.role.label(),
        issued.expires_at.format("%-d %B %Y at %H:%M UTC")
    );
    println!("{}", issued.link);
}

pub(crate) fn parse_email(input: &str) -> Result<EmailAddress, Error> {
    EmailAddress::parse(input).map_err(Error::from)
}

fn parse_role(input: &str) -> Result<Role, Error> {
    input.parse().map_err(Error::from)
}

/// `--expires`: a last day, a duration from now, or `never` (None).
fn parse_expires(input: &str) -> Result<Option<crate::domain::MembershipEnd>, Error> {
    crate::domain::MembershipEnd::parse_argument(input, crate::services::now())
        .map_err(|error| Error::Invalid(format!("--expires: {error}")))
}

pub(crate) fn parse_slug(input: &str) -> Result<Slug, Error> {
    Slug::parse(input).map_err(Error::from)
}

/// A pool on a database with every migration applied.
pub(crate) fn migrated(config: &Config) -> Result<DbPool, Error> {
    let pool = db::connect(&config.database_url, 2, config.database_timeout)?;
    db::migrate(&mut *pool.get()?)?;
    Ok(pool)
}
