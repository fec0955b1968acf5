//! An operator's policy file (`ROLLCALL_POLICY_FILE`), through the real
//! binary: the server and the command line start under it, every screen and
//! answer speaks its roles and permissions, and a file or a database it
//! cannot work with stops them with one line that says why. The policy is
//! the process's, so each server here is a process of its own.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::TestDb;
use crate::http::{Browser, Page};

pub const BENTOCLOUD: &str = include_str!("../../docs/policies/bentocloud.toml");
const FIREWORKS: &str = include_str!("../../docs/policies/fireworks.toml");

/// A directory of the test's own for its policy files and outbox.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("rollcall-policy-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("a policy file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn command(db: &TestDb, policy: &Path, base: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .env("DATABASE_URL", &db.raw_url)
        .env("ROLLCALL_POLICY_FILE", policy)
        .env("ROLLCALL_PUBLIC_URL", base)
        .env("RUST_LOG", "warn")
        .env_remove("ROLLCALL_INVITE_TTL");
    command
}

pub fn rollcall(db: &TestDb, policy: &Path, args: &[&str]) -> Output {
    command(db, policy, "http://127.0.0.1:9")
        .args(args)
        .output()
        .expect("run rollcall")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The path of the invitation link a command printed.
pub fn link_path(output: &Output) -> String {
    let printed = stdout(output);
    let at = printed
        .find("/invite/")
        .unwrap_or_else(|| panic!("no link in {printed:?} ({})", stderr(output)));
    printed[at..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The secret a command printed (`rcp_…`, `rcs_…` or `rci_…`), shown once.
pub fn secret_printed(output: &Output) -> String {
    stdout(output)
        .split_whitespace()
        .find(|word| ["rcp_", "rcs_", "rci_"].iter().any(|kind| word.starts_with(kind)))
        .unwrap_or_else(|| panic!("no secret in {:?} ({})", stdout(output), stderr(output)))
        .to_owned()
}

/// The `id` of the first row of `rollcall WHAT list --org acme-ai --json`
/// whose `field` contains `needle`.
pub fn listed_id(db: &TestDb, policy: &Path, what: &str, field: &str, needle: &str) -> String {
    let listed = rollcall(db, policy, &[what, "list", "--org", "acme-ai", "--json"]);
    serde_json::from_str::<Value>(&stdout(&listed))
        .ok()
        .and_then(|rows| {
            rows.as_array()?
                .iter()
                .find(|row| row[field].as_str().is_some_and(|text| text.contains(needle)))
                .and_then(|row| row["id"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| panic!("no {what} whose {field} holds {needle}"))
}

/// The real server, a process of its own, under `policy`.
pub struct Server {
    child: Child,
    pub base: String,
    /// Where its log goes: a file, which never fills as a pipe would.
    log: PathBuf,
}

impl Server {
    /// Starts it, or answers what it said as it stopped.
    pub fn start(db: &TestDb, policy: &Path, scratch: &Scratch) -> Result<Self, String> {
        Self::start_with(db, policy, scratch, &[])
    }

    /// Starts it with more of the environment set. A port another test took
    /// since it was picked is tried again with another.
    pub fn start_with(
        db: &TestDb,
        policy: &Path,
        scratch: &Scratch,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut said = String::new();
        for _ in 0..5 {
            match Self::start_once(db, policy, scratch, env) {
                Err(refused) if refused.contains("Address already in use") => said = refused,
                started => return started,
            }
        }
        Err(said)
    }

    fn start_once(
        db: &TestDb,
        policy: &Path,
        scratch: &Scratch,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let log = scratch.0.join(format!("server-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("a log file");
        let mut child = command(db, policy, &base)
            .arg("serve")
            .env("ROLLCALL_BIND", format!("127.0.0.1:{port}"))
            .env("ROLLCALL_DEV_LOGIN", "on")
            .env("ROLLCALL_OUTBOX_DIR", scratch.0.join("outbox"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start rollcall serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(std::fs::read_to_string(&log).unwrap_or_default());
            }
            if ureq::get(format!("{base}/healthz")).call().is_ok() {
                return Ok(Self { child, base, log });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("the server did not answer within 20 seconds".to_owned())
    }
}

impl Server {
    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs `email` in and accepts the invitation at `link`.
pub fn join(base: &str, email: &str, link: &str) -> Browser {
    let mut browser = Browser::at(base);
    browser.sign_in(email);
    let page = browser.get(link);
    let page = browser.follow(page);
    assert_eq!(page.status, 200, "{}", page.body);
    let id = page.field("invitation_id").expect("an invitation to accept");
    let accepted = browser.post("/invitation/accept", &[("invitation_id", &id)]);
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    browser
}

fn secret_on(page: &Page) -> String {
    let at = page.body.find("rcp_").expect("a secret shown once") + "rcp_".len();
    let rest: String = page.body[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    format!("rcp_{rest}")
}

fn ask(base: &str, client: &str, body: &Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .post(format!("{base}/api/v1/authorize"))
        .header("Authorization", &format!("Bearer {client}"))
        .content_type("application/json")
        .send(body.to_string())
        .expect("an answer");
    serde_json::from_str(&answer.body_mut().read_to_string().unwrap_or_default()).unwrap_or(Value::Null)
}

fn the_operators_roles_and_permissions_are_the_ones_everything_speaks() {
    let db = TestDb::new();
    let scratch = Scratch::new();
    let policy = scratch.file("bentocloud.toml", BENTOCLOUD);
    let created = rollcall(
        &db,
        &policy,
        &["org", "create", "Acme AI", "--owner", "ada@example.com"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let server = Server::start(&db, &policy, &scratch).unwrap_or_else(|said| panic!("{said}"));
    let base = server.base.as_str();
    let mut ada = join(base, "ada@example.com", &link_path(&created));

    // The Roles page is the file's.
    let roles = ada.get("/orgs/acme-ai/roles");
    assert_eq!(roles.status, 200);
    for words in [
        "Endpoint User",
        "Configure standby instances",
        "deployments.invoke",
        "Owner",
    ] {
        roles.assert_contains(words);
    }
    assert!(
        !roles.contains("Contributor") && !roles.contains("platform.use"),
        "built-in roles shown"
    );

    // The command line invites under it, with its default role or a named one.
    let refused = rollcall(
        &db,
        &policy,
        &[
            "user",
            "create",
            "--org",
            "acme-ai",
            "--email",
            "vic@example.com",
            "--role",
            "viewer",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused)
            .contains("“viewer” is not a role; use one of owner, admin, developer, endpoint_user"),
        "{}",
        stderr(&refused)
    );
    let invited = rollcall(
        &db,
        &policy,
        &[
            "user",
            "create",
            "--org",
            "acme-ai",
            "--email",
            "eve@example.com",
            "--role",
            "endpoint_user",
        ],
    );
    assert!(invited.status.success(), "{}", stderr(&invited));
    let mut eve = join(base, "eve@example.com", &link_path(&invited));
    let dev = rollcall(
        &db,
        &policy,
        &["user", "create", "--org", "acme-ai", "--email", "dan@example.com"],
    );
    join(base, "dan@example.com", &link_path(&dev));

    // The Members page shows the roles by their labels, and filters by them.
    let members = ada.get("/orgs/acme-ai/members");
    members.assert_contains("Endpoint User");
    let filtered = ada.get("/orgs/acme-ai/members?role=endpoint_user");
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    filtered.assert_contains("eve@example.com");
    assert!(
        !filtered.contains("dan@example.com"),
        "the filter let a developer through"
    );
    let listed = rollcall(&db, &policy, &["user", "list", "--org", "acme-ai", "--json"]);
    let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap_or(Value::Null);
    let roles_listed: Vec<&str> = listed
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row["role"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(roles_listed.len(), 3, "{listed}");
    assert!(roles_listed.contains(&"endpoint_user") && roles_listed.contains(&"developer"));

    // Eve may make an inference token and not an operations one.
    eve.get("/orgs/acme-ai/tokens");
    let refused = eve.post(
        "/orgs/acme-ai/tokens",
        &[("name", "CI"), ("access", "operations"), ("days", "30")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let made = eve.post(
        "/orgs/acme-ai/tokens",
        &[("name", "Calls"), ("access", "inference"), ("days", "30")],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let token = secret_on(&made);

    // The gateway asks in the file's words.
    let client = secret_printed(&rollcall(
        &db,
        &policy,
        &["introspection-client", "create", "gateway"],
    ));
    let invoke = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "deployments.invoke" }),
    );
    assert_eq!(
        (&invoke["allowed"], &invoke["role"]),
        (&json!(true), &json!("endpoint_user")),
        "{invoke}"
    );
    let manage = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "deployments.manage" }),
    );
    assert_eq!(manage["allowed"], false, "{manage}");
    assert_eq!(
        manage["reason"],
        "Only owners, admins and developers can create, terminate, restore and delete deployments."
    );
    let unknown = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "platform.use" }),
    );
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("is not a permission"),
        "{unknown}"
    );

    // A file it cannot use stops the server and the command line with one
    // line; the doctor says the same.
    let broken = scratch.file(
        "broken.toml",
        &BENTOCLOUD.replace("\"bentos.push\",\n]", "\"bentos.pull\",\n]"),
    );
    let said = Server::start(&db, &broken, &scratch).err().unwrap_or_default();
    assert!(said.contains("ROLLCALL_POLICY_FILE"), "{said}");
    assert!(
        said.contains("line 55: the role “developer” holds “bentos.pull”, which is not a permission"),
        "{said}"
    );
    let doctor = rollcall(&db, &broken, &["doctor"]);
    assert!(!doctor.status.success());
    assert!(
        stdout(&doctor).contains("FAIL  ROLLCALL_POLICY_FILE"),
        "{}",
        stdout(&doctor)
    );

    // A policy that does not declare a role the database holds stops them too.
    let fireworks = scratch.file("fireworks.toml", FIREWORKS);
    let said = Server::start(&db, &fireworks, &scratch).err().unwrap_or_default();
    assert!(
        said.contains("does not declare: developer (1 member), endpoint_user (1 member)"),
        "{said}"
    );
    let doctor = rollcall(&db, &fireworks, &["doctor"]);
    assert!(
        stdout(&doctor).contains("endpoint_user (1 member)"),
        "{}",
        stdout(&doctor)
    );
    drop(server);
}

/// A policy whose roles do not nest: its admins manage people but not
/// deployments, which its engineers hold.
const UNNESTED: &str = r#"
[[permissions]]
name = "deployments.manage"
description = "Create and delete deployments"

[[permissions]]
name = "billing.view"
description = "View usage and billing"

[[roles]]
name = "admin"
permissions = [
    "members.view", "members.invite", "members.change_role", "members.remove",
    "members.set_end", "service_accounts.manage", "audit.view", "settings.view",
    "tokens.create_operations", "tokens.create_inference", "billing.view",
]

[[roles]]
name = "engineer"
default = true
permissions = ["members.view", "settings.view", "tokens.create_operations", "tokens.create_inference", "deployments.manage"]

[[roles]]
name = "viewer"
permissions = ["members.view", "tokens.create_inference"]
"#;

/// A call of the JSON API with `token`: the status and the answer.
fn api(base: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body.map(Value::to_string).unwrap_or_default())
        .expect("a request");
    let mut answer = agent.run(request).expect("an answer");
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap_or_default()).unwrap_or(Value::Null),
    )
}

fn nobody_gives_or_manages_a_role_holding_what_they_lack_on_any_path() {
    let db = TestDb::new();
    let scratch = Scratch::new();
    let policy = scratch.file("unnested.toml", UNNESTED);
    let created = rollcall(
        &db,
        &policy,
        &["org", "create", "Acme AI", "--owner", "ada@example.com"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let server = Server::start(&db, &policy, &scratch).unwrap_or_else(|said| panic!("{said}"));
    let base = server.base.as_str();
    join(base, "ada@example.com", &link_path(&created));
    let invite = |email: &str, role: &str| {
        let output = rollcall(
            &db,
            &policy,
            &[
                "user", "create", "--org", "acme-ai", "--email", email, "--role", role,
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        link_path(&output)
    };
    let mut alan = join(base, "alan@example.com", &invite("alan@example.com", "admin"));
    join(base, "dan@example.com", &invite("dan@example.com", "engineer"));
    join(base, "vic@example.com", &invite("vic@example.com", "viewer"));
    let id_of = |email: &str| listed_id(&db, &policy, "user", "email", email);
    let (dan, vic) = (id_of("dan@example.com"), id_of("vic@example.com"));
    alan.get("/orgs/acme-ai/tokens");
    let made = alan.post(
        "/orgs/acme-ai/tokens",
        &[("name", "Scripts"), ("access", "operations"), ("days", "30")],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let token = secret_on(&made);
    let snapshot = |what: &str| {
        stdout(&rollcall(
            &db,
            &policy,
            &[what, "list", "--org", "acme-ai", "--json"],
        ))
    };
    let before = (
        snapshot("user"),
        rollcall(&db, &policy, &["audit", "list", "--org", "acme-ai"])
            .stdout
            .len(),
    );

    // The invite dialog, one row or among others.
    alan.get("/orgs/acme-ai/members");
    for rows in [
        vec![("eng@example.com", "engineer")],
        vec![("v1@example.com", "viewer"), ("eng@example.com", "engineer")],
    ] {
        let mut fields = Vec::new();
        for (email, role) in &rows {
            fields.extend([("email", *email), ("name", ""), ("row_role", *role)]);
        }
        let refused = alan.post("/orgs/acme-ai/invitations", &fields);
        assert_eq!(refused.status, 403, "{rows:?}: {}", refused.body);
        refused.assert_contains("You cannot give or manage the role Engineer");
    }
    // The API's batch, all or nothing.
    let batch = json!({ "invitations": [
        { "email": "v2@example.com", "role": "viewer" },
        { "email": "eng@example.com", "role": "engineer" },
    ]});
    let (status, answer) = api(
        base,
        "POST",
        "/api/v1/orgs/acme-ai/invitations",
        &token,
        Some(&batch),
    );
    assert_eq!(status, 403, "{answer}");
    // A role change up to a role holding more, over the API and the console.
    let up = json!({ "role": "engineer" });
    let (status, answer) = api(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/members/{vic}"),
        &token,
        Some(&up),
    );
    assert_eq!(status, 403, "{answer}");
    let refused = alan.hx_post(
        &format!("/orgs/acme-ai/members/{vic}/role"),
        &[("role", "engineer")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Nor down from one, nor removing its holder.
    let down = json!({ "role": "viewer" });
    let (status, answer) = api(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/members/{dan}"),
        &token,
        Some(&down),
    );
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = api(
        base,
        "DELETE",
        &format!("/api/v1/orgs/acme-ai/members/{dan}"),
        &token,
        None,
    );
    assert_eq!(status, 403, "{answer}");
    // A service account with it.
    alan.get("/orgs/acme-ai/service-accounts");
    let refused = alan.post(
        "/orgs/acme-ai/service-accounts",
        &[("name", "deployer"), ("description", ""), ("role", "engineer")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    // And the gateway says his token does not reach deployments.
    let client = secret_printed(&rollcall(
        &db,
        &policy,
        &["introspection-client", "create", "gateway"],
    ));
    let answer = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "deployments.manage" }),
    );
    assert_eq!(answer["allowed"], false, "{answer}");

    // Nothing changed: the same members, in the same roles, and nothing new
    // in the audit log; no invitation, no service account.
    assert_eq!(
        (
            snapshot("user"),
            rollcall(&db, &policy, &["audit", "list", "--org", "acme-ai"])
                .stdout
                .len()
        ),
        before
    );
    let pending = alan.get("/orgs/acme-ai/invitations");
    assert!(!pending.contains("eng@example.com") && !pending.contains("v1@example.com"));
    assert!(!alan.get("/orgs/acme-ai/service-accounts").contains("deployer"));

    // What is within his own he may give.
    let (status, answer) = api(
        base,
        "POST",
        "/api/v1/orgs/acme-ai/invitations",
        &token,
        Some(&json!({ "invitations": [{ "email": "v3@example.com", "role": "viewer" }] })),
    );
    assert_eq!(status, 201, "{answer}");
}

crate::tests![
    the_operators_roles_and_permissions_are_the_ones_everything_speaks,
    nobody_gives_or_manages_a_role_holding_what_they_lack_on_any_path,
];
