//! `/metrics` as Prometheus itself reads it: its checker (`promtool check
//! metrics`, Debian package `prometheus`) accepts every scrape, and the
//! counters are there at zero before anything has happened, so that a rate
//! or an alert sees the first event too.
//!
//! The server runs as a process of its own: the metrics recorder is one per
//! process, and the other tests' servers in this one count into it.
//! In CI a missing promtool fails; elsewhere the test is reported ignored,
//! with how to install it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::Needs;
use crate::helpers::TestApp;
use crate::operations::{fetch, free_port, operations_token, spawn_server};

/// Prometheus's checker, or how to install it.
fn promtool() -> Result<PathBuf, String> {
    std::env::var_os("PROMTOOL")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/promtool")))
        .filter(|path| path.exists())
        .ok_or_else(|| "promtool is not installed: apt-get install prometheus".to_owned())
}

/// What the test needs: a failure in CI when missing, ignored elsewhere.
const PROMTOOL: Needs = Needs::Program(promtool_missing);

fn promtool_missing() -> Option<String> {
    promtool().err()
}

/// What `promtool check metrics` says of a scrape: whether it passed, and its words.
fn check(promtool: &PathBuf, scrape: &str) -> (bool, String) {
    let mut checker = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    checker
        .stdin
        .take()
        .expect("promtool's input")
        .write_all(scrape.as_bytes())
        .expect("hand promtool the scrape");
    let output = checker.wait_with_output().expect("promtool's answer");
    let words = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), words)
}

/// The server process, stopped however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scrape of the metrics listener at `bind`, once it answers (it starts
/// just after the console's).
fn scrape(bind: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(bind).is_ok() {
            let (status, _, text) = fetch(&format!("http://{bind}/metrics"));
            assert_eq!(status, 200, "{text}");
            return text;
        }
        assert!(Instant::now() < deadline, "the metrics listener did not start");
        thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the sample named exactly `series`, if the scrape has it.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

fn every_scrape_passes_prometheus_own_check_and_counters_start_at_zero() {
    let promtool = promtool().unwrap_or_else(|missing| panic!("{missing}"));
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let token = operations_token(&app, &org, &ada);
    let port = free_port();
    let metrics = format!("127.0.0.1:{}", free_port());
    let _server = Server(spawn_server(
        app.database_url(),
        port,
        &[("ROLLCALL_METRICS_BIND", &metrics)],
    ));

    let fresh = scrape(&metrics);
    let (passed, words) = check(&promtool, &fresh);
    assert!(passed, "promtool refused the first scrape: {words}\n{fresh}");
    for counter in [
        "rollcall_invitations_created_total",
        "rollcall_invitations_accepted_total",
    ] {
        assert_eq!(
            sample(&fresh, counter),
            Some(0.0),
            "{counter} is there at zero before any use:\n{fresh}"
        );
        assert!(
            fresh.contains(&format!("# HELP {counter} ")),
            "{counter} has help text:\n{fresh}"
        );
    }

    let invited = ureq::post(&format!(
        "http://127.0.0.1:{port}/api/v1/orgs/acme-ai/invitations"
    ))
    .header("Authorization", &format!("Bearer {token}"))
    .header("Content-Type", "application/json")
    .send(r#"{"invitations":[{"email":"grace@example.com","role":"developer"}]}"#)
    .expect("an invitation");
    assert_eq!(invited.status().as_u16(), 201);

    let used = scrape(&metrics);
    let (passed, words) = check(&promtool, &used);
    assert!(passed, "promtool refused a scrape after use: {words}\n{used}");
    assert_eq!(sample(&used, "rollcall_invitations_created_total"), Some(1.0));
    assert_eq!(sample(&used, "rollcall_invitations_accepted_total"), Some(0.0));
    for family in [
        "rollcall_http_requests_total",
        "rollcall_http_request_duration_seconds",
        "rollcall_db_connections",
        "rollcall_database_up",
        "rollcall_outbox_emails",
    ] {
        assert!(
            used.contains(&format!("# HELP {family} ")),
            "{family} has help text:\n{used}"
        );
    }
}

crate::tests![
    every_scrape_passes_prometheus_own_check_and_counters_start_at_zero: PROMTOOL,
];
