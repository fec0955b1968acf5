//! What the people who run Rollcall rely on: readiness, metrics, request
//! ids, the database going away and coming back, SQLite locked by another
//! process, a server killed in the middle of a change, and a graceful stop.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rollcall::domain::{AccessLevel, LabelName, Lifetime, Role};
use rollcall::services::tokens::{self, TokenRequest};

use crate::harness::Needs;
use crate::helpers::{TestApp, as_user};
use crate::http::{Page, TestServer};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A GET with no cookies, bounded so that a hang fails the test.
pub fn fetch(url: &str) -> (u16, Vec<(String, String)>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut response = agent.get(url).call().expect("an answer");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (
        status,
        headers,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn page_header<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    header(&page.headers, name)
}

pub fn operations_token(
    app: &TestApp,
    org: &rollcall::services::Organization,
    user: &rollcall::services::users::User,
) -> String {
    let request = TokenRequest {
        name: LabelName::parse("ops").unwrap(),
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    };
    tokens::create_personal(&mut app.conn(), &as_user(user), org, None, &request)
        .expect("a token")
        .secret
        .expose()
        .to_owned()
}

fn is_postgres() -> bool {
    crate::harness::postgres()
}

fn readiness_follows_the_database_and_its_migrations() {
    let server = TestServer::start();
    assert_eq!(fetch(&format!("{}/healthz", server.base)).0, 200);
    let (status, _, body) = fetch(&format!("{}/readyz", server.base));
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    let newest: String = {
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        let rows: Vec<Version> =
            diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version DESC")
                .load(&mut *server.app.conn())
                .expect("the migrations");
        rows[0].version.clone()
    };
    server
        .app
        .conn()
        .batch_execute(&format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = '{newest}'"
        ))
        .expect("forget a migration");
    let (status, headers, body) = fetch(&format!("{}/readyz", server.base));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("migrations"), "{body}");
    assert!(
        header(&headers, "retry-after").is_some(),
        "a 503 says when to ask again"
    );
    assert_eq!(
        fetch(&format!("{}/healthz", server.base)).0,
        200,
        "the process still answers"
    );
    server
        .app
        .conn()
        .batch_execute(&format!(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('{newest}')"
        ))
        .expect("remember it");
    assert_eq!(fetch(&format!("{}/readyz", server.base)).0, 200);
}

fn metrics_are_served_apart_from_the_console() {
    let metrics_port = free_port();
    let bind = format!("127.0.0.1:{metrics_port}");
    let server = TestServer::start_with(&["--metrics-bind", &bind]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    server.app.invite(&org, "grace@example.com", Role::DEVELOPER);
    assert_eq!(fetch(&format!("{}/healthz", server.base)).0, 200);
    assert_eq!(
        fetch(&format!("{}/metrics", server.base)).0,
        404,
        "never on the console's address"
    );
    let (status, headers, text) = fetch(&format!("http://{bind}/metrics"));
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").is_some_and(|t| t.starts_with("text/plain")));
    for expected in [
        r#"rollcall_http_requests_total{route="/healthz",method="GET",status="2xx"}"#,
        r#"rollcall_http_requests_total{route="/orgs",method="POST",status="3xx"}"#,
        r#"rollcall_http_request_duration_seconds_bucket{route="/healthz",method="GET",le="0.005"}"#,
        r#"rollcall_db_connections{state="in_use"}"#,
        r#"rollcall_db_connections{state="idle"}"#,
        "rollcall_db_waiting ",
        r#"rollcall_outbox_emails{state="queued"}"#,
        r#"rollcall_outbox_emails{state="retrying"}"#,
        r#"rollcall_outbox_emails{state="failed"}"#,
        "rollcall_outbox_oldest_waiting_seconds ",
        "rollcall_invitations_created_total ",
        r#"rollcall_sign_ins_total{provider="dev",outcome="success"}"#,
        "rollcall_database_up 1",
    ] {
        assert!(text.contains(expected), "{expected} is not in\n{text}");
    }
    assert!(!text.contains("/invite/"), "no path, only route templates");
}

fn every_answer_has_a_request_id_and_a_failure_shows_it() {
    let server = TestServer::start();
    let (org, ada) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let bob = server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let token = operations_token(&server.app, &org, &ada);
    let (_, headers, _) = fetch(&format!("{}/login", server.base));
    let first = header(&headers, "x-request-id").expect("a request id").to_owned();
    let (_, headers, _) = fetch(&format!("{}/login", server.base));
    assert_ne!(
        header(&headers, "x-request-id"),
        Some(first.as_str()),
        "one id per request"
    );

    // A failure of the machinery: the audit log's table is gone.
    let mut browser = server.signed_in("ada@example.com");
    server
        .app
        .conn()
        .batch_execute("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .expect("break the database");
    let failed = browser.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer")],
    );
    assert_eq!(failed.status, 500, "{}", failed.body);
    let id = page_header(&failed, "x-request-id").expect("a request id");
    assert!(
        failed.body.contains(&format!("Reference: {id}")),
        "{}",
        failed.body
    );
    assert!(!failed.body.contains("audit_events"), "no internals on the page");

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .patch(&format!("{}/api/v1/orgs/acme-ai/members/{}", server.base, bob.id))
        .header("Authorization", &format!("Bearer {token}"))
        .send(r#"{"role":"viewer"}"#)
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 500);
    let id = answer
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("a request id")
        .to_owned();
    let problem: serde_json::Value =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(problem["type"], "/problems/internal");
    assert!(problem["detail"].as_str().unwrap().contains(&id), "{problem}");
    assert_eq!(server.app.role_of(&org, &bob), Some(Role::DEVELOPER));
}

/// A TCP proxy in front of Postgres that the test can take down (every
/// connection cut, new ones refused) and bring back, or turn into a black
/// hole: connections stay open and every byte sent either way is dropped, as
/// on a network path that swallows packets.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    swallowing: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn to(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a proxy port");
        let port = listener.local_addr().expect("its address").port();
        let up = Arc::new(AtomicBool::new(true));
        let swallowing = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accepting, tracked, dropping) = (Arc::clone(&up), Arc::clone(&open), Arc::clone(&swallowing));
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !accepting.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let mut tracked = tracked.lock().unwrap();
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        tracked.push(clone);
                    }
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let dropping = Arc::clone(&dropping);
                    thread::spawn(move || {
                        let mut buffer = [0u8; 16 * 1024];
                        while let Ok(read) = from.read(&mut buffer) {
                            if read == 0 {
                                break;
                            }
                            if dropping.load(Ordering::SeqCst) {
                                continue;
                            }
                            if to.write_all(&buffer[..read]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Self {
            port,
            up,
            swallowing,
            open,
        }
    }

    fn stop(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn start(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    fn swallow(&self, swallowing: bool) {
        self.swallowing.store(swallowing, Ordering::SeqCst);
    }

    /// A database URL that reaches `app`'s database through a new proxy.
    fn in_front_of(app: &TestApp) -> (Self, String) {
        let direct = url::Url::parse(app.database_url()).expect("a URL");
        let upstream: SocketAddr = format!(
            "{}:{}",
            direct.host_str().unwrap_or("127.0.0.1"),
            direct.port().unwrap_or(5432)
        )
        .parse()
        .expect("the Postgres address");
        let proxy = Proxy::to(upstream);
        let mut through = direct.clone();
        through.set_port(Some(proxy.port)).expect("a port");
        let through = format!(
            "{through}{}sslmode=disable",
            if through.query().is_some() { "&" } else { "?" }
        );
        (proxy, through)
    }
}

fn postgres_going_away_is_a_503_and_the_same_server_serves_when_it_is_back() {
    let app = TestApp::new();
    let (proxy, through) = Proxy::in_front_of(&app);
    let server = TestServer::start_through(app, &through, &["--database-timeout", "2s"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    let bob = server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let acknowledged = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer")],
    );
    assert_eq!(acknowledged.status, 303, "{}", acknowledged.body);

    proxy.stop();
    let before = server.app.snapshot();
    for round in 0..3 {
        let started = Instant::now();
        let page = ada.get("/orgs/acme-ai/members");
        assert_eq!(page.status, 503, "round {round}: {}", page.body);
        assert!(page.body.contains("not answering"), "{}", page.body);
        assert!(page_header(&page, "retry-after").is_some());
        let change = ada.post(
            &format!("/orgs/acme-ai/members/{}/role", bob.id),
            &[("role", "admin")],
        );
        assert_eq!(change.status, 503, "{}", change.body);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a request hung for {:?}",
            started.elapsed()
        );
        assert_eq!(fetch(&format!("{}/readyz", server.base)).0, 503);
        assert_eq!(fetch(&format!("{}/healthz", server.base)).0, 200);
    }
    assert_eq!(
        server.app.snapshot(),
        before,
        "nothing was written during the outage"
    );

    proxy.start();
    assert!(
        serves_again(&mut ada),
        "the same server serves again once the database is back"
    );
    assert_eq!(fetch(&format!("{}/readyz", server.base)).0, 200);
    assert_eq!(
        server.app.role_of(&org, &bob),
        Some(Role::VIEWER),
        "what was acknowledged is kept"
    );
    let change = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "admin")],
    );
    assert_eq!(change.status, 303, "{}", change.body);
}

/// Whether the Members page answers 200 again within fifteen seconds.
fn serves_again(browser: &mut crate::http::Browser) -> bool {
    (0..75).any(|_| {
        let served = browser.get("/orgs/acme-ai/members").status == 200;
        if !served {
            thread::sleep(Duration::from_millis(200));
        }
        served
    })
}

/// How a test makes the database stop answering.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stall {
    /// Another session holds a lock on the tables the pages read (on SQLite,
    /// another process keeps the whole file to itself).
    LockedTables,
    /// The network path to Postgres swallows every packet and closes nothing.
    BlackHole,
}

/// While the database does not answer, every request that needs it is
/// answered 503 with `Retry-After` within the timeout and a margin, and
/// `/healthz` and the assets at once all the while; nothing is changed; and
/// once the database answers again, the same server serves.
fn the_server_answers_while_the_database_stalls(stall: Stall) {
    let timeout = Duration::from_secs(2);
    let bound = timeout + Duration::from_secs(2);
    let app = TestApp::new();
    let (proxy, url) = match stall {
        Stall::BlackHole => {
            let (proxy, url) = Proxy::in_front_of(&app);
            (Some(proxy), url)
        }
        Stall::LockedTables => (None, app.database_url().to_owned()),
    };
    let server = TestServer::start_through(app, &url, &["--database-timeout", "2s"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    let ada_user = server.app.user_by_email("ada@example.com");
    let bob = server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let kept = operations_token(&server.app, &org, &ada_user);
    let unseen = operations_token(&server.app, &org, &ada_user);
    let gateway = rollcall::services::introspection::create_client(
        &mut server.app.conn(),
        &LabelName::parse("gateway").unwrap(),
    )
    .expect("a gateway")
    .expose()
    .to_owned();
    let introspect = {
        let base = server.base.clone();
        let gateway = gateway.clone();
        move |token: &str| -> (u16, Option<String>, String) {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(20)))
                .build()
                .into();
            let mut answer = agent
                .post(format!("{base}/api/v1/tokens/introspect"))
                .header("Authorization", &format!("Bearer {gateway}"))
                .send_form([("token", token)])
                .expect("an answer");
            let retry = answer
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            (
                answer.status().as_u16(),
                retry,
                answer.body_mut().read_to_string().unwrap_or_default(),
            )
        }
    };
    assert!(introspect(&kept).2.contains("\"active\":true"));
    let before = server.app.snapshot();

    // The stall begins.
    let holder = match (stall, &proxy) {
        (Stall::BlackHole, Some(proxy)) => {
            proxy.swallow(true);
            None
        }
        _ => Some(hold_tables(&server.app)),
    };
    let stalled_at = Instant::now();
    // The kept answer of a token checked just before needs no database.
    let (status, _, body) = introspect(&kept);
    assert_eq!(status, 200, "{body}");
    assert!(
        stalled_at.elapsed() < Duration::from_millis(900),
        "the kept answer waited {:?}",
        stalled_at.elapsed()
    );

    // More requests than the server has threads for database work, each of
    // which needs the database.
    let mut waiting = Vec::new();
    for round in 0..12 {
        let mut browser = ada.clone();
        let base = server.base.clone();
        let introspect = introspect.clone();
        let (unseen, kept, bob_id) = (unseen.clone(), kept.clone(), bob.id.clone());
        waiting.push(thread::spawn(move || {
            let started = Instant::now();
            let (what, status, retry) = match round % 6 {
                0 => {
                    let page = browser.get("/orgs/acme-ai/members");
                    (
                        "members page",
                        page.status,
                        page_header(&page, "retry-after").map(str::to_owned),
                    )
                }
                1 => {
                    let page = browser.post(
                        &format!("/orgs/acme-ai/members/{bob_id}/role"),
                        &[("role", "admin")],
                    );
                    (
                        "role change",
                        page.status,
                        page_header(&page, "retry-after").map(str::to_owned),
                    )
                }
                2 => {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let answer = agent
                        .get(format!("{base}/api/v1/orgs/acme-ai/members"))
                        .header("Authorization", &format!("Bearer {kept}"))
                        .call()
                        .expect("an answer");
                    let retry = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    ("API", answer.status().as_u16(), retry)
                }
                3 => {
                    let (status, retry, _) = introspect(&unseen);
                    ("token check", status, retry)
                }
                4 => {
                    let (status, headers, _) = fetch(&format!("{base}/readyz"));
                    (
                        "readiness",
                        status,
                        header(&headers, "retry-after").map(str::to_owned),
                    )
                }
                _ => {
                    let page = browser.get("/profile");
                    (
                        "profile",
                        page.status,
                        page_header(&page, "retry-after").map(str::to_owned),
                    )
                }
            };
            (what, status, retry, started.elapsed())
        }));
    }
    // All the while, what needs no database answers at once.
    let mut looks = 0;
    while waiting.iter().any(|request| !request.is_finished()) {
        for path in ["/healthz", "/static/app.css", "/login"] {
            let started = Instant::now();
            let (status, _, _) = fetch(&format!("{}{path}", server.base));
            assert_eq!(status, 200, "{path} during the stall");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{path} waited {:?} behind requests for the database",
                started.elapsed()
            );
        }
        looks += 1;
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        looks > 3 || stall == Stall::LockedTables && !is_postgres(),
        "the requests for the database were answered at once"
    );
    for request in waiting {
        let (what, status, retry, took) = request.join().expect("a request");
        assert!(took < bound, "{what} was answered after {took:?}");
        let waits = match stall {
            Stall::BlackHole => true,
            // Postgres answers, but every connection may be waiting for a
            // lock: either answer is right for readiness.
            Stall::LockedTables if what == "readiness" && is_postgres() => status == 503,
            Stall::LockedTables if is_postgres() => true,
            // SQLite's readers never wait for its writer (WAL).
            Stall::LockedTables => what == "role change",
        };
        if waits {
            assert_eq!(status, 503, "{what}");
            assert!(retry.is_some(), "{what}: 503 without Retry-After");
        } else {
            assert_eq!(status, 200, "{what}");
        }
    }

    // Seconds into the stall: where the change record can still be read
    // (the locked tables are others), kept answers are still used; where
    // nothing can be, they are not trusted past a second, and the check
    // says so rather than answer from what may be stale.
    let (status, retry, body) = introspect(&kept);
    match stall {
        Stall::LockedTables => assert_eq!(status, 200, "{body}"),
        Stall::BlackHole => {
            assert_eq!(status, 503, "{body}");
            assert!(retry.is_some(), "a 503 without Retry-After");
        }
    }

    // The stall ends.
    match (holder, &proxy) {
        (Some(holder), _) => drop(holder),
        (None, Some(proxy)) => proxy.swallow(false),
        (None, None) => unreachable!(),
    }
    assert!(
        serves_again(&mut ada),
        "the same server serves again once the database answers"
    );
    assert_eq!(
        server.app.snapshot(),
        before,
        "nothing was changed during the stall"
    );
    assert_eq!(
        server.app.role_of(&org, &bob),
        Some(Role::DEVELOPER),
        "the refused change was not made"
    );
    assert_eq!(fetch(&format!("{}/readyz", server.base)).0, 200);
    assert!(introspect(&unseen).2.contains("\"active\":true"));
    let change = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer")],
    );
    assert_eq!(change.status, 303, "{}", change.body);
}

/// Holds, until dropped, what keeps the pages from reading: on Postgres a
/// lock on the members', users' and tokens' tables; on SQLite the write lock
/// (another process's writer, which its readers do not wait for).
fn hold_tables(app: &TestApp) -> Box<dyn std::any::Any> {
    if is_postgres() {
        let mut holder = PgConnection::establish(app.database_url()).expect("connect");
        holder
            .batch_execute("BEGIN; LOCK TABLE memberships, api_tokens, users IN ACCESS EXCLUSIVE MODE")
            .expect("lock the tables");
        Box::new(holder)
    } else {
        let path = app
            .database_url()
            .strip_prefix("sqlite://")
            .expect("an SQLite URL")
            .to_owned();
        let mut holder = SqliteConnection::establish(&path).expect("open the file");
        holder
            .batch_execute("BEGIN IMMEDIATE")
            .expect("take the write lock");
        Box::new(holder)
    }
}

fn a_locked_table_answers_503_in_time_and_healthz_at_once() {
    the_server_answers_while_the_database_stalls(Stall::LockedTables);
}

fn a_network_that_swallows_packets_answers_503_in_time_and_healthz_at_once() {
    the_server_answers_while_the_database_stalls(Stall::BlackHole);
}

fn sqlite_locked_by_another_process_makes_writers_wait_then_answer_503() {
    let server = TestServer::start_with(&["--database-timeout", "1s"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    let bob = server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let path = server
        .app
        .database_url()
        .strip_prefix("sqlite://")
        .expect("an SQLite URL")
        .to_owned();
    // Another process's writer (a backup tool, a second server) holds the lock.
    let mut other = SqliteConnection::establish(&path).expect("open the file");
    other
        .batch_execute("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let started = Instant::now();
    let change = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer")],
    );
    assert_eq!(change.status, 503, "{}", change.body);
    assert!(!change.body.contains("locked"), "{}", change.body);
    assert!(page_header(&change, "retry-after").is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited for the lock first"
    );
    assert_eq!(ada.get("/orgs/acme-ai/members").status, 200, "readers go on");
    other.batch_execute("ROLLBACK").expect("let go");
    let change = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer")],
    );
    assert_eq!(change.status, 303, "{}", change.body);
    assert_eq!(server.app.role_of(&org, &bob), Some(Role::VIEWER));
}

/// The release or debug binary as a process of its own.
pub fn spawn_server(database_url: &str, port: u16, extra_env: &[(&str, &str)]) -> Child {
    let outbox = std::env::temp_dir().join(format!("rollcall-outbox-{port}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("ROLLCALL_BIND", format!("127.0.0.1:{port}"))
        .env("ROLLCALL_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("ROLLCALL_OUTBOX_DIR", outbox)
        .env("ROLLCALL_DEV_LOGIN", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start the server");
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn a_server_killed_in_the_middle_of_a_bulk_invite_leaves_all_or_none_of_it() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let token = operations_token(&app, &org, &ada);
    let count_invited = || -> i64 {
        use rollcall::db::schema::invitations;
        invitations::table
            .filter(invitations::org_id.eq(&org.id))
            .count()
            .get_result(&mut *app.conn())
            .expect("count")
    };
    for (round, delay) in [5u64, 40, 150].into_iter().enumerate() {
        let port = free_port();
        let mut child = spawn_server(app.database_url(), port, &[("ROLLCALL_RATE_LIMIT_API", "off")]);
        let before = count_invited();
        let rows: Vec<serde_json::Value> = (0..2000)
            .map(|n| serde_json::json!({"email": format!("r{round}.n{n}@example.com"), "role": "viewer"}))
            .collect();
        let body = serde_json::json!({ "invitations": rows }).to_string();
        let token = token.clone();
        let sender = thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into();
            agent
                .post(&format!(
                    "http://127.0.0.1:{port}/api/v1/orgs/acme-ai/invitations"
                ))
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .send(body)
                .map(|response| response.status().as_u16())
                .ok()
        });
        thread::sleep(Duration::from_millis(delay));
        signal(&child, "KILL");
        let _ = child.wait();
        let answered = sender.join().expect("the sender");
        let added = count_invited() - before;
        assert!(
            added == 0 || added == 2000,
            "round {round}: {added} of 2,000 were invited"
        );
        if answered == Some(201) {
            assert_eq!(added, 2000, "an acknowledged invite was kept");
        }
    }
}

fn sigterm_stops_gracefully_and_hands_claimed_emails_back() {
    // An SMTP server that accepts connections and never greets: every send hangs.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a port");
    let smtp_port = silent.local_addr().unwrap().port();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let holder = Arc::clone(&held);
    thread::spawn(move || {
        for stream in silent.incoming().flatten() {
            holder.lock().unwrap().push(stream);
        }
    });
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let mut child = spawn_server(app.database_url(), port, &[("ROLLCALL_SMTP_URL", &smtp)]);
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        app.invite(&org, email, Role::VIEWER);
    }
    let claimed = || -> i64 {
        use rollcall::db::schema::email_outbox;
        let leased = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(30);
        email_outbox::table
            .filter(email_outbox::state.eq("queued"))
            .filter(email_outbox::next_attempt_at.gt(leased))
            .count()
            .get_result(&mut *app.conn())
            .expect("count")
    };
    let started = Instant::now();
    // Claiming comes before connecting: wait for both, so a send is under way.
    while claimed() == 0 || held.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the worker claimed nothing or never reached the mail server"
        );
        thread::sleep(Duration::from_millis(100));
    }
    signal(&child, "TERM");
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(40),
            "the server did not stop"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut log);
    }
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        claimed(),
        0,
        "every claimed email is handed back for another server to send at once"
    );
}

fn rollcall(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run rollcall")
}

fn a_backup_taken_while_the_server_runs_is_a_whole_database() {
    let server = TestServer::start();
    let (org, _) = server.app.org_owned_by("Acme AI", "ada@example.com");
    for n in 0..20 {
        server
            .app
            .member(&org, &format!("m{n}@example.com"), Role::VIEWER);
    }
    let dir = std::env::temp_dir().join(format!("rollcall-backup-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let copy = dir.join("copy.db");
    let copy_text = copy.display().to_string();
    let output = rollcall(server.app.database_url(), &["backup", &copy_text], &[]);
    if is_postgres() {
        assert!(!output.status.success());
        let words = String::from_utf8_lossy(&output.stderr);
        assert!(words.contains("pg_dump"), "{words}");
        return;
    }
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The copy is a database a server starts on, with everything in it.
    let mut conn = SqliteConnection::establish(&copy_text).expect("open the copy");
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let members: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM memberships")
        .load(&mut conn)
        .expect("count");
    assert_eq!(members[0].n, 21);
    let again = rollcall(server.app.database_url(), &["backup", &copy_text], &[]);
    assert!(!again.status.success(), "an existing file is never overwritten");
    let _ = std::fs::remove_dir_all(&dir);
}

fn the_doctor_says_what_is_wrong_in_plain_words() {
    let app = TestApp::new();
    let good = rollcall(app.database_url(), &["doctor"], &[]);
    let words = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{words}{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        words.contains("The database answers and is up to date."),
        "{words}"
    );
    let closed = free_port();
    let smtp = format!("smtp://127.0.0.1:{closed}");
    let bad = rollcall(
        app.database_url(),
        &["doctor"],
        &[
            ("ROLLCALL_PUBLIC_URL", "http://rollcall.example.com"),
            ("ROLLCALL_SESSION_KEY", "c2hvcnQ="),
            ("ROLLCALL_SMTP_URL", &smtp),
            ("ROLLCALL_GITHUB_CLIENT_ID", "abc"),
        ],
    );
    assert!(!bad.status.success());
    let words = String::from_utf8_lossy(&bad.stdout);
    for expected in [
        "FAIL  ROLLCALL_SESSION_KEY must decode to at least 64 bytes",
        "FAIL  ROLLCALL_PUBLIC_URL is http://rollcall.example.com",
        "FAIL  github: set both the client id and the client secret",
        "FAIL  Emails cannot be sent",
    ] {
        assert!(words.contains(expected), "{expected}:\n{words}");
    }
    let unreachable = rollcall("postgres://nobody@127.0.0.1:1/nothing", &["doctor"], &[]);
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stdout).contains("FAIL  The database cannot be reached"));
}

fn logs_are_one_json_line_per_request_and_hold_no_secret() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let token = operations_token(&app, &org, &ada);
    let invitation = app.invite(&org, "grace@example.com", Role::VIEWER);
    let invite_token = invitation.link.rsplit('/').next().expect("a token").to_owned();
    let client = rollcall::services::introspection::create_client(
        &mut app.conn(),
        &LabelName::parse("gateway").unwrap(),
    )
    .expect("a client")
    .expose()
    .to_owned();
    let port = free_port();
    let mut child = spawn_server(
        app.database_url(),
        port,
        &[("RUST_LOG", "info"), ("ROLLCALL_LOG_FORMAT", "json")],
    );
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let opened = agent
        .get(&invitation.link.replace(&app_public_url(&invitation.link), &base))
        .call()
        .expect("an answer");
    assert!(opened.status().as_u16() < 500);
    let me = agent
        .get(&format!("{base}/api/v1/me"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("an answer");
    assert_eq!(me.status().as_u16(), 200);
    let checked = agent
        .post(&format!("{base}/api/v1/tokens/introspect"))
        .header("Authorization", &format!("Bearer {client}"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("token={token}"))
        .expect("an answer");
    assert_eq!(checked.status().as_u16(), 200);
    let _ = agent.get(&format!("{base}/login?next=/orgs/acme-ai")).call();
    signal(&child, "TERM");
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("the log")
        .read_to_string(&mut log)
        .expect("read the log");
    for secret in [&token, &invite_token, &client] {
        assert!(!log.contains(secret.as_str()), "a secret is in the log:\n{log}");
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "answered")
        .collect();
    assert!(answered.len() >= 4, "{log}");
    for line in &answered {
        assert!(
            line["span"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{line}"
        );
        assert!(line["route"].as_str().is_some(), "{line}");
    }
    assert!(
        answered.iter().any(|line| line["route"] == "/invite/{token}"),
        "{log}"
    );
}

/// The scheme, host and port of a link.
fn app_public_url(link: &str) -> String {
    let parsed = url::Url::parse(link).expect("a link");
    parsed[..url::Position::BeforePath].to_owned()
}

crate::tests![
    readiness_follows_the_database_and_its_migrations,
    metrics_are_served_apart_from_the_console,
    every_answer_has_a_request_id_and_a_failure_shows_it,
    postgres_going_away_is_a_503_and_the_same_server_serves_when_it_is_back: Needs::Postgres,
    a_locked_table_answers_503_in_time_and_healthz_at_once,
    a_network_that_swallows_packets_answers_503_in_time_and_healthz_at_once: Needs::Postgres,
    sqlite_locked_by_another_process_makes_writers_wait_then_answer_503: Needs::Sqlite,
    a_server_killed_in_the_middle_of_a_bulk_invite_leaves_all_or_none_of_it,
    sigterm_stops_gracefully_and_hands_claimed_emails_back,
    a_backup_taken_while_the_server_runs_is_a_whole_database,
    the_doctor_says_what_is_wrong_in_plain_words,
    logs_are_one_json_line_per_request_and_hold_no_secret,
];
