//! `rollcall backup` and `rollcall doctor`: what an operator runs beside
//! the servers.

use std::path::Path;

use diesel::connection::SimpleConnection;

use crate::config::Config;
use crate::db::{self, DatabaseUrl};
use crate::error::Error;
use crate::services::settings;

/// An online, consistent copy of the SQLite database at `target`, taken
/// while servers run: `VACUUM INTO` reads the database in one transaction
/// (writers go on; the copy is as of its start) and writes a compact file.
/// For Postgres, the words for `pg_dump`.
pub fn backup(config: &Config, target: &Path) -> Result<(), Error> {
    let DatabaseUrl::Sqlite(_) = &config.database_url else {
        return Err(Error::Invalid(
            "This database is Postgres: back it up with pg_dump, for example \
             pg_dump --format=custom --file=rollcall.dump \"$DATABASE_URL\" \
             (restore with pg_restore --clean --dbname=\"$DATABASE_URL\" rollcall.dump)."
                .to_owned(),
        ));
    };
    if target.exists() {
        return Err(Error::Invalid(format!(
            "{} already exists; name a new file.",
            target.display()
        )));
    }
    let target_text = target
        .to_str()
        .filter(|text| !text.contains('\0'))
        .ok_or_else(|| Error::Invalid("Name the backup file with a UTF-8 path.".to_owned()))?;
    let pool = db::connect(&config.database_url, 1, config.database_timeout)?;
    let mut conn = pool.get()?;
    conn.batch_execute(&format!("VACUUM INTO '{}'", target_text.replace('\'', "''")))?;
    Ok(())
}

/// One line of the doctor's report.
enum Finding {
    Good(String),
    Note(String),
    Wrong(String),
}

/// Checks the configuration a server would start with, and says what is
/// wrong in plain words. Fails if anything would stop a server or break
/// sign-in or email.
pub fn doctor(config: &Config) -> Result<(), Error> {
    let mut findings = vec![database(config)];
    findings.push(match config.session_key.as_deref() {
        Some(key) => match settings::parse_session_key(key) {
            Ok(_) => Finding::Good("ROLLCALL_SESSION_KEY is a usable key.".to_owned()),
            Err(error) => Finding::Wrong(error.to_string()),
        },
        None => Finding::Note(
            "ROLLCALL_SESSION_KEY is not set: a key is generated and kept in the database, \
             which every server on it shares. Set one to keep sessions across a new database."
                .to_owned(),
        ),
    });
    findings.push(public_url(&config.public_url));
    findings.push(match (config.policy(), &config.policy_file) {
        (Ok(policy), Some(path)) => Finding::Good(format!(
            "ROLLCALL_POLICY_FILE {} declares {} permissions of the platform.",
            path.display(),
            policy.permissions().len() - crate::domain::policy::OWN.len()
        )),
        (Ok(_), None) => Finding::Note(
            "ROLLCALL_POLICY_FILE is not set: the built-in roles and permissions are in force.".to_owned(),
        ),
        (Err(error), _) => Finding::Wrong(error.to_string()),
    });
    for (provider, id, secret) in [
        ("github", &config.github_client_id, &config.github_client_secret),
        ("google", &config.google_client_id, &config.google_client_secret),
    ] {
        match (id, secret) {
            (Some(_), Some(_)) => findings.push(Finding::Good(format!(
                "{provider}: register {}/auth/{provider}/callback as the OAuth redirect URL.",
                config.public_url
            ))),
            (Some(_), None) | (None, Some(_)) => findings.push(Finding::Wrong(format!(
                "{provider}: set both the client id and the client secret, or neither."
            ))),
            (None, None) => {}
        }
    }
    if config.github_client_id.is_none() && config.google_client_id.is_none() {
        findings.push(Finding::Note(
            "No sign-in provider is set up: only the development sign-in (on loopback) lets anyone in."
                .to_owned(),
        ));
    }
    findings.extend(roles_in_use(config));
    findings.push(mail(config));
    let mut wrong = 0;
    for finding in &findings {
        let (mark, words) = match finding {
            Finding::Good(words) => ("ok  ", words),
            Finding::Note(words) => ("note", words),
            Finding::Wrong(words) => {
                wrong += 1;
                ("FAIL", words)
            }
        };
        println!("{mark}  {words}");
    }
    if wrong == 0 {
        println!("Nothing is wrong.");
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{wrong} thing(s) to fix before a server will work as configured."
        )))
    }
}

/// Roles the database holds that the policy does not declare stop a server;
/// checked only where the policy can be read and the database reached.
fn roles_in_use(config: &Config) -> Option<Finding> {
    config.install_policy().ok()?;
    let pool = db::connect(&config.database_url, 1, config.database_timeout).ok()?;
    let mut conn = pool.get().ok()?;
    if !db::is_migrated(&mut conn).unwrap_or(false) {
        return None;
    }
    let undeclared = crate::services::roles_in_use::undeclared_roles(&mut conn).ok()?;
    Some(if undeclared.is_empty() {
        Finding::Good("Every role the database holds is declared by the policy.".to_owned())
    } else {
        Finding::Wrong(format!(
            "The database holds roles the policy does not declare: {}. A server will not start until they are declared or given another role.",
            crate::services::roles_in_use::in_words(&undeclared)
        ))
    })
}

fn database(config: &Config) -> Finding {
    let checked = db::connect(&config.database_url, 1, config.database_timeout).and_then(|pool| {
        let mut conn = pool.get()?;
        db::is_migrated(&mut conn)
    });
    match checked {
        Ok(true) => Finding::Good("The database answers and is up to date.".to_owned()),
        Ok(false) => Finding::Note(
            "The database answers but lacks migrations: a server applies them as it starts \
             (or run rollcall migrate)."
                .to_owned(),
        ),
        Err(error) => Finding::Wrong(format!("The database cannot be reached: {error}")),
    }
}

fn public_url(url: &str) -> Finding {
    let loopback = url::Url::parse(url)
        .ok()
        .and_then(|parsed| parsed.host_str().map(str::to_owned))
        .is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    if url.starts_with("https://") {
        Finding::Good(format!(
            "ROLLCALL_PUBLIC_URL is {url}; cookies are sent over HTTPS only."
        ))
    } else if loopback {
        Finding::Note(format!(
            "ROLLCALL_PUBLIC_URL is {url}: fine on this machine; use https:// for anyone else."
        ))
    } else {
        Finding::Wrong(format!(
            "ROLLCALL_PUBLIC_URL is {url}: over plain http, sign-in cookies and invitation links \
             cross the network readable. Serve Rollcall behind HTTPS and use https://."
        ))
    }
}

fn mail(config: &Config) -> Finding {
    // The SMTP transport's pool lives on the runtime: made, used and
    // dropped inside it.
    let checked = actix_web::rt::System::new().block_on(async move {
        match crate::mail::Mailer::from_config(config) {
            Ok(mailer) => mailer.check().await,
            Err(error) => Err(error.to_string()),
        }
    });
    match (checked, &config.smtp_url) {
        (Ok(()), Some(_)) => Finding::Good("The SMTP server answers.".to_owned()),
        (Ok(()), None) => Finding::Note(format!(
            "ROLLCALL_SMTP_URL is not set: emails are written to {} (development).",
            config.outbox_dir.display()
        )),
        (Err(error), _) => Finding::Wrong(format!("Emails cannot be sent: {error}")),
    }
}
