//! The `rollcall` binary, run as an operator would.

use std::process::{Command, Output};

use crate::helpers::TestDb;

fn rollcall(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("DATABASE_URL", &db.raw_url)
        .env("ROLLCALL_PUBLIC_URL", "https://rollcall.example.com")
        .env("RUST_LOG", "warn")
        .env_remove("ROLLCALL_INVITE_TTL")
        .output()
        .expect("run rollcall")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A refused command: one line on stderr, a failing exit code.
fn assert_refused(output: &Output, message: &str) {
    assert!(!output.status.success(), "succeeded: {}", stdout(output));
    let err = stderr(output);
    assert_eq!(err.lines().count(), 1, "one line on stderr, got {err:?}");
    assert!(err.contains(message), "{err:?} does not say {message:?}");
}

fn link_in(output: &Output) -> String {
    stdout(output)
        .lines()
        .find(|line| line.starts_with("https://rollcall.example.com/invite/"))
        .unwrap_or_else(|| panic!("no link in {:?}", stdout(output)))
        .to_owned()
}

fn the_operator_creates_an_organization_and_manages_its_members() {
    let db = TestDb::new();
    let migrated = rollcall(&db, &["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let created = rollcall(&db, &["org", "create", "Acme AI", "--owner", "Ada@Example.com"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("Created organization “Acme AI” (acme-ai)."));
    assert!(stdout(&created).contains("Invited ada@example.com as Owner"));
    let _owner_link = link_in(&created);

    let same_name = rollcall(&db, &["org", "create", "Acme AI", "--owner", "ada@example.com"]);
    assert!(
        stdout(&same_name).contains("(acme-ai-2)"),
        "{}",
        stdout(&same_name)
    );

    let invited = rollcall(
        &db,
        &["user", "create", "--org", "acme-ai", "--email", "bob@example.com"],
    );
    assert!(stdout(&invited).contains("Invited bob@example.com as Developer"));
    link_in(&invited);

    let again = rollcall(
        &db,
        &[
            "user",
            "create",
            "--org",
            "acme-ai",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
        ],
    );
    assert_refused(&again, "already has a pending invitation");

    let list = rollcall(&db, &["user", "list", "--org", "acme-ai", "--json"]);
    assert!(list.status.success());
    let members: serde_json::Value = serde_json::from_slice(&list.stdout).expect("JSON");
    assert_eq!(members, serde_json::json!([]), "invitations are not members yet");
}

fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let db = TestDb::new();
    assert!(
        rollcall(&db, &["org", "create", "Acme AI", "--owner", "ada@example.com"])
            .status
            .success()
    );
    let cases: [(&[&str], &str); 9] = [
        (
            &["org", "create", "Other", "--owner", "not-an-email"],
            "not a valid email address",
        ),
        (
            &["org", "create", "   ", "--owner", "ada@example.com"],
            "name cannot be empty",
        ),
        (
            &[
                "user",
                "create",
                "--org",
                "acme-ai",
                "--email",
                "bob@example.com",
                "--role",
                "god",
            ],
            "is not a role",
        ),
        (
            &[
                "user",
                "create",
                "--org",
                "Not A Slug",
                "--email",
                "bob@example.com",
            ],
            "not a valid organization slug",
        ),
        (
            &["user", "create", "--org", "nope", "--email", "bob@example.com"],
            "There is no organization “nope”",
        ),
        (
            &[
                "user",
                "update",
                "--org",
                "acme-ai",
                "bob@example.com",
                "--role",
                "admin",
            ],
            "bob@example.com is not a member of Acme AI",
        ),
        (
            &["user", "delete", "--org", "acme-ai", "no-such-id"],
            "No user with id no-such-id is not a member",
        ),
        (
            &["user", "update", "--org", "acme-ai", "x@@y", "--role", "admin"],
            "not a valid email address",
        ),
        (
            &["user", "list", "--org", "acme-ai", "--database-url", "mysql://x"],
            "is not supported",
        ),
    ];
    let before = rollcall(&db, &["user", "list", "--org", "acme-ai", "--json"]);
    for (args, message) in cases {
        let output = rollcall(&db, args);
        if args.contains(&"--database-url") {
            // clap reports usage errors itself, with exit code 2.
            assert_eq!(output.status.code(), Some(2));
            assert!(stderr(&output).contains(message), "{}", stderr(&output));
        } else {
            assert_refused(&output, message);
        }
    }
    let after = rollcall(&db, &["user", "list", "--org", "acme-ai", "--json"]);
    assert_eq!(stdout(&before), stdout(&after));
    let orgs = rollcall(
        &db,
        &["user", "create", "--org", "other", "--email", "x@example.com"],
    );
    assert_refused(&orgs, "There is no organization “other”");
}

crate::tests![
    the_operator_creates_an_organization_and_manages_its_members,
    bad_input_gets_one_clear_line_and_changes_nothing,
];
