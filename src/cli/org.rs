//! `rollcall org rename|transfer|delete|restore|domains`: an organization's
//! settings from a shell, under the same rules and audit trail as the console.

use super::{OrgCommand, migrated, parse_email, parse_slug, print_link};
use crate::config::Config;
use crate::domain::{OrganizationName, Slug, parse_domain_list};
use crate::error::Error;
use crate::services::Actor;
use crate::services::members::MemberRef;
use crate::services::organizations::{self, Rename};

pub fn run(config: &Config, command: OrgCommand) -> Result<(), Error> {
    let actor = Actor::command_line();
    let settings = config.service_settings();
    match command {
        OrgCommand::Create { name, owner } => {
            let name = OrganizationName::parse(&name)
                .map_err(|e| Error::Invalid(format!("Organization name: {e}")))?;
            let owner = parse_email(&owner)?;
            let pool = migrated(config)?;
            let created = organizations::create_with_owner_invitation(
                &mut *pool.get()?,
                &settings,
                &actor,
                &name,
                &owner,
            )?;
            let org = &created.organization;
            println!("Created organization “{}” ({}).", org.name, org.slug);
            print_link(&created.invitation);
            Ok(())
        }
        OrgCommand::Rename { slug, name, new_slug } => {
            let change = Rename {
                name: name
                    .as_deref()
                    .map(OrganizationName::parse)
                    .transpose()
                    .map_err(|e| Error::Invalid(format!("Organization name: {e}")))?,
                slug: new_slug
                    .as_deref()
                    .map(Slug::parse)
                    .transpose()
                    .map_err(Error::from)?,
            };
            if change.name.is_none() && change.slug.is_none() {
                return Err(Error::Invalid(
                    "Say what changes: --name NAME, --slug SLUG, or both.".to_owned(),
                ));
            }
            let slug = parse_slug(&slug)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let renamed = organizations::rename(conn, &actor, &org, &change)?;
            println!(
                "{} is now “{}” at /orgs/{}.",
                org.slug, renamed.name, renamed.slug
            );
            Ok(())
        }
        OrgCommand::Transfer { slug, to } => {
            let slug = parse_slug(&slug)?;
            let to = MemberRef::parse(&to)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let owner = organizations::make_owner_now(conn, &settings, &actor, &org, &to)?;
            println!("{} is now an owner of {}.", owner.email, org.name);
            Ok(())
        }
        OrgCommand::Delete { slug, confirm } => {
            let slug = parse_slug(&slug)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let deleted = organizations::delete(conn, &settings, &actor, &org, &confirm)?;
            println!(
                "Deleted {}. Its owners can restore it until {} (rollcall org restore {}).",
                deleted.name,
                crate::error::day_and_time(deleted.purge_after.unwrap_or_default()),
                deleted.slug
            );
            Ok(())
        }
        OrgCommand::Restore { slug } => {
            let slug = parse_slug(&slug)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let restored = organizations::restore(conn, &settings, &actor, &slug)?;
            println!("Restored {}.", restored.name);
            Ok(())
        }
        OrgCommand::Domains { slug, allow, clear } => {
            let slug = parse_slug(&slug)?;
            let pool = migrated(config)?;
            let conn = &mut pool.get()?;
            let org = organizations::find_by_slug(conn, &actor, &slug)?;
            let domains = if clear {
                organizations::set_allowed_domains(conn, &actor, &org, &[])?
            } else if allow.is_empty() {
                organizations::allowed_domains(conn, &org.id)?
            } else {
                let domains = parse_domain_list(&allow.join(" ")).map_err(Error::from)?;
                organizations::set_allowed_domains(conn, &actor, &org, &domains)?
            };
            if domains.is_empty() {
                println!("{} accepts invitations to addresses at any domain.", org.name);
            } else {
                let listed: Vec<&str> = domains.iter().map(|domain| domain.as_str()).collect();
                println!(
                    "{} accepts invitations only to addresses at {}.",
                    org.name,
                    listed.join(", ")
                );
            }
            Ok(())
        }
    }
}
