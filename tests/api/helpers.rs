//! The test harness: a fresh database per test (SQLite by default, Postgres
//! when TEST_DATABASE_URL is set), and helpers that read like the story.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rollcall::db::{self, DatabaseUrl, DbPool, PooledConn};
use rollcall::domain::{EmailAddress, OrganizationName, Role};
use rollcall::error::Error;
use rollcall::services::invitations::{
    self, AcceptOutcome, InvitationRef, InviteOutcome, Invitee, IssuedInvitation,
};
use rollcall::services::users::{self, Provider, SignIn, User};
use rollcall::services::{Actor, Organization, Settings, Viewer, organizations};

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub url: DatabaseUrl,
    pub raw_url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDb {
    pub fn new() -> Self {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            Some(base) => {
                let mut admin = url::Url::parse(&base).expect("TEST_DATABASE_URL is a URL");
                if admin.path().len() <= 1 {
                    admin.set_path("/postgres");
                }
                let name = format!("rollcall_test_{unique}");
                let mut conn = PgConnection::establish(admin.as_str()).expect("connect to TEST_DATABASE_URL");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create the test database");
                let mut url = admin.clone();
                url.set_path(&format!("/{name}"));
                Self {
                    url: DatabaseUrl::Postgres(url.to_string()),
                    raw_url: url.to_string(),
                    cleanup: Cleanup::PostgresDatabase {
                        admin_url: admin.to_string(),
                        name,
                    },
                }
            }
            None => {
                let dir = std::env::temp_dir().join(format!("rollcall-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("create a temporary directory");
                let path = dir.join("rollcall.db");
                Self {
                    url: DatabaseUrl::Sqlite(path.display().to_string()),
                    raw_url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::SqliteDir(dir),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// The services over a fresh, migrated database.
pub struct TestApp {
    pub pool: DbPool,
    pub settings: Settings,
    // Held for its Drop, and declared last: the pool's connections close
    // before the database is removed.
    _database: TestDb,
}

impl TestApp {
    pub fn new() -> Self {
        let db = TestDb::new();
        let pool = db::connect(&db.url, 8, std::time::Duration::from_secs(10)).expect("open the pool");
        db::migrate(&mut pool.get().expect("a connection")).expect("migrate");
        Self {
            pool,
            settings: Settings {
                public_url: "http://127.0.0.1:9".to_owned(),
                invite_ttl: Duration::from_secs(7 * 24 * 3600),
                org_restore_days: 7,
            },
            _database: db,
        }
    }

    /// The DATABASE_URL of this test's database.
    pub fn database_url(&self) -> &str {
        &self._database.raw_url
    }

    pub fn conn(&self) -> PooledConn {
        self.pool.get().expect("a connection")
    }

    /// The organization as `actor` sees it, opened by its slug as the console does.
    pub fn viewer(&self, actor: &Actor, org: &Organization) -> Result<Viewer, Error> {
        let slug = rollcall::domain::Slug::parse(&org.slug).expect("a stored slug");
        Viewer::open(&mut self.conn(), actor, &slug)
    }

    /// Signs someone in through the development provider, which trusts the address.
    pub fn sign_in(&self, email: &str) -> User {
        let local = email.split('@').next().unwrap_or(email);
        let sign_in = SignIn::new(
            Provider::Dev,
            email,
            Some(&capitalize(local)),
            None,
            [EmailAddress::parse(email).unwrap()],
        )
        .expect("a sign-in");
        users::sign_in(&mut self.conn(), &sign_in).expect("sign in")
    }

    /// An organization owned by a freshly signed-in `owner_email`.
    pub fn org_owned_by(&self, name: &str, owner_email: &str) -> (Organization, User) {
        let owner = self.sign_in(owner_email);
        let org = organizations::create_owned_by(
            &mut self.conn(),
            &Actor::user(&owner.id, None),
            &OrganizationName::parse(name).unwrap(),
        )
        .expect("create the organization");
        (org, owner)
    }

    /// Invites `email` as `role` from the command line and returns the link.
    pub fn invite(&self, org: &Organization, email: &str, role: Role) -> IssuedInvitation {
        let outcomes = invitations::invite(
            &mut self.conn(),
            &self.settings,
            &Actor::command_line(),
            org,
            &[Invitee {
                email: EmailAddress::parse(email).unwrap(),
                name: None,
                role,
                ends: None,
            }],
        )
        .expect("invite");
        match outcomes.into_iter().next() {
            Some((_, InviteOutcome::Invited(issued))) => issued,
            other => panic!("expected an invitation, got {other:?}"),
        }
    }

    /// Signs `email` in and has them accept `issued`.
    pub fn accept(&self, issued: &IssuedInvitation, email: &str) -> (User, AcceptOutcome) {
        let user = self.sign_in(email);
        let outcome = invitations::accept(&mut self.conn(), &Actor::user(&user.id, None), &token_of(issued))
            .expect("accept");
        (user, outcome)
    }

    /// A member with `role`, invited and accepted the normal way.
    pub fn member(&self, org: &Organization, email: &str, role: Role) -> User {
        let issued = self.invite(org, email, role);
        let (user, outcome) = self.accept(&issued, email);
        assert!(matches!(outcome, AcceptOutcome::Joined { .. }), "{outcome:?}");
        user
    }

    /// The organization's audit log, newest first, as the command line reads it.
    pub fn audit_events(&self, org: &Organization) -> Vec<rollcall::services::audit::RecordedEvent> {
        let viewer = self
            .viewer(&Actor::command_line(), org)
            .expect("the organization");
        let mut all = Vec::new();
        rollcall::services::audit::walk(&mut self.conn(), &viewer, &Default::default(), |event| {
            all.push(event.clone());
            Ok(true)
        })
        .expect("the log");
        all
    }

    pub fn count(&self, sql_table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn();
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql_table}"))
            .load(&mut *conn)
            .expect("count");
        rows[0].n
    }

    /// Everything a forbidden action must leave alone, in one comparable value.
    pub fn snapshot(&self) -> Vec<i64> {
        [
            "memberships",
            "invitations",
            "invitation_tokens",
            "email_outbox",
            // Sign-ins, refused ones included, belong to no organization and
            // are recorded whatever the request: the organizations' events.
            "audit_events WHERE org_id IS NOT NULL",
            "organizations",
        ]
        .iter()
        .map(|table| self.count(table))
        .collect()
    }

    pub fn org(&self, slug: &str) -> Organization {
        organizations::find_by_slug(
            &mut self.conn(),
            &Actor::command_line(),
            &rollcall::domain::Slug::parse(slug).unwrap(),
        )
        .expect("the organization")
    }

    pub fn user_by_email(&self, email: &str) -> User {
        use rollcall::db::schema::users;
        users::table
            .filter(users::email.eq(email))
            .select(User::as_select())
            .first(&mut *self.conn())
            .expect("the user")
    }

    pub fn role_of(&self, org: &Organization, user: &User) -> Option<Role> {
        rollcall::services::members::role(&mut self.conn(), org, &user.id).expect("read the role")
    }
}

/// The token at the end of an invitation link.
pub fn token_of(issued: &IssuedInvitation) -> InvitationRef {
    let token = issued.link.rsplit('/').next().expect("a link");
    InvitationRef::Token(rollcall::domain::InviteToken::parse(token).expect("a valid token"))
}

pub fn as_user(user: &User) -> Actor {
    Actor::user(&user.id, None)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `rollcall` command line on `app`'s database.
pub fn rollcall(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rollcall")
}
