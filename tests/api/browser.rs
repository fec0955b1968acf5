//! A real browser drives the whole story: Debian's headless Chromium through
//! chromedriver (WebDriver, from Rust with fantoccini), against the server on
//! loopback with the fake providers and the SMTP sink. Once with JavaScript
//! (dialogs, htmx swaps, axe-core on every screen), once without (full pages).
//!
//! In CI a missing browser fails; elsewhere these tests are reported ignored,
//! with how to install it. With ROLLCALL_SCREENSHOTS=1 the story also
//! refreshes the screenshots in docs/.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::fakes::{Account, FakeProviders, SmtpSink};
use crate::harness::Needs;
use crate::http::TestServer;

const AXE: &str = include_str!("../vendor/axe.min.js");
const WAIT: Duration = Duration::from_secs(30);
const ESCAPE: &str = "\u{E00C}";

/// chromedriver, running for one test.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The program `env` names (which must exist: `CHROMIUM=/nonexistent` hides
/// Chromium), or else the first of `candidates` that exists.
fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    match std::env::var_os(env) {
        Some(path) => Some(PathBuf::from(path)).filter(|path| path.exists()),
        None => candidates.iter().map(PathBuf::from).find(|path| path.exists()),
    }
}

/// chromedriver and Chromium, or which of them this machine lacks and how to install them.
fn programs() -> Result<(PathBuf, PathBuf), String> {
    let chromedriver = find_program(
        "CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    let chromium = find_program("CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let missing = match (chromedriver, chromium) {
        (Some(chromedriver), Some(chromium)) => return Ok((chromedriver, chromium)),
        (Some(_), None) => "Chromium is",
        (None, Some(_)) => "chromedriver is",
        (None, None) => "Chromium and chromedriver are",
    };
    Err(format!(
        "{missing} not installed: apt-get install chromium chromium-driver"
    ))
}

/// What every test here needs: a failure in CI when missing, ignored elsewhere.
const CHROMIUM: Needs = Needs::Program(chromium_missing);

fn chromium_missing() -> Option<String> {
    programs().err()
}

/// Starts chromedriver (the harness has made sure it is there: `CHROMIUM`).
fn driver() -> (Driver, PathBuf) {
    let (chromedriver, chromium) = programs().unwrap_or_else(|missing| panic!("{missing}"));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let process = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    while ureq::get(&format!("{url}/status")).call().is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver { process, url }, chromium)
}

/// One person's browser: its own profile, so its own cookies.
struct Person {
    client: Client,
    base: String,
    /// Runs axe-core on every screen this person sees.
    audit: bool,
}

async fn open_browser(driver: &Driver, chromium: &PathBuf, base: &str, javascript: bool) -> Person {
    let mut options = json!({
        "binary": chromium,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--window-size=1280,860", "--force-device-scale-factor=1",
        ],
    });
    if !javascript {
        options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("open a browser session");
    Person {
        client,
        base: base.to_owned(),
        audit: javascript,
    }
}

impl Person {
    async fn go(&self, path_or_url: &str) {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        self.client.goto(&url).await.expect("navigate");
        self.check_accessibility(path_or_url).await;
    }

    async fn wait(&self, css: &str) -> Element {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self
                .client
                .wait()
                .at_most(left)
                .for_element(Locator::Css(css))
                .await
            {
                Ok(element) => return element,
                // Asked while a form's answer was loading: Chromium drops the
                // question with the old page; the new one is asked again.
                Err(error)
                    if error.to_string().contains("aborted by navigation")
                        && std::time::Instant::now() < deadline =>
                {
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(error) => {
                    let page = self.client.source().await.unwrap_or_default();
                    panic!("{css} never appeared: {error}\n{page}")
                }
            }
        }
    }

    async fn click(&self, css: &str) {
        self.wait(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    async fn fill(&self, css: &str, text: &str) {
        let element = self.wait(css).await;
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.expect("text")
    }

    async fn script(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("run a script")
    }

    /// Waits until `css` matches nothing.
    async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
        {
            assert!(Instant::now() < deadline, "{css} never went away");
            tokio_sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page body contains `text`.
    async fn wait_text(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let body = self
                .script("return document.body ? document.body.innerText : ''")
                .await;
            if body.as_str().is_some_and(|body| body.contains(text)) {
                return;
            }
            assert!(Instant::now() < deadline, "never saw {text:?} in:\n{body}");
            tokio_sleep(Duration::from_millis(50)).await;
        }
    }

    async fn path(&self) -> String {
        self.client.current_url().await.expect("a URL").path().to_owned()
    }

    /// axe-core on the current screen: no serious or critical violation.
    async fn check_accessibility(&self, screen: &str) {
        if !self.audit {
            return;
        }
        self.client.execute(AXE, vec![]).await.expect("load axe-core");
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 // A dialog fades in; contrast is judged once it has finished.
                 Promise.all(document.getAnimations().map(a => a.finished))
                   .then(() => axe.run(document, { resultTypes: ['violations'] }))
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let violations: Vec<String> = serde_json::from_value(violations).unwrap_or_default();
        assert!(
            violations.is_empty(),
            "accessibility of {screen}:\n{}",
            violations.join("\n")
        );
    }

    /// The open dialog traps focus: the focused element is inside it.
    async fn assert_focus_in_dialog(&self) {
        let inside = self
            .script("const d = document.querySelector('#modal dialog[open]'); return !!d && d.contains(document.activeElement);")
            .await;
        assert_eq!(inside, Value::Bool(true), "focus is not inside the open dialog");
    }

    async fn screenshot(&self, name: &str) {
        if std::env::var_os("ROLLCALL_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("wrote {}", path.display());
    }

    async fn sign_in_with(&self, providers: &FakeProviders, button: &str, account: Account) {
        providers.will_sign_in(account);
        self.click(button).await;
    }
}

async fn tokio_sleep(duration: Duration) {
    actix_web::rt::time::sleep(duration).await;
}

struct Story {
    server: TestServer,
    providers: FakeProviders,
    smtp: SmtpSink,
}

fn story() -> Story {
    let providers = FakeProviders::start();
    let smtp = SmtpSink::start();
    let mut flags = providers.flags();
    flags.extend([
        "--smtp-url".to_owned(),
        smtp.url(),
        "--dev-login".to_owned(),
        "off".to_owned(),
    ]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Story {
        server: TestServer::start_with(&flags),
        providers,
        smtp,
    }
}

/// `rollcall org create`, as the operator runs it; returns the first owner's link.
fn operator_creates_acme(story: &Story) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["org", "create", "Acme AI", "--owner", "ada@example.com"])
        .env("DATABASE_URL", story.server.app.database_url())
        .env("ROLLCALL_PUBLIC_URL", &story.server.base)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rollcall org create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.contains("/invite/"))
        .expect("the link")
        .trim()
        .to_owned()
}

fn ada() -> Account {
    Account::google("ada-sub", "ada@example.com", true).named("Ada Lovelace")
}
fn bob() -> Account {
    Account::github(101, "bob", &[("bob@example.com", true, true)]).named("Bob Kahn")
}
fn dave() -> Account {
    Account::github(104, "dave", &[("dave@example.com", true, true)]).named("Dave Clark")
}

/// Opens an emailed link and accepts it after signing in with `button`.
async fn accept_from_email(person: &Person, story: &Story, email: &str, button: &str, account: Account) {
    let link = story
        .smtp
        .wait_for(email, WAIT)
        .link()
        .expect("a link in the email");
    person.go(&link).await;
    person.wait_text("Join Acme AI on Rollcall").await;
    person.sign_in_with(&story.providers, button, account).await;
    person.wait("form[action='/invitation/accept'] button").await;
    person.check_accessibility("the invitation page, signed in").await;
    person.click("form[action='/invitation/accept'] button").await;
    person.wait("#members-table").await;
    person.wait_text("Welcome to Acme AI.").await;
}

/// Bob and Dave each open their email in their own browser and join with
/// GitHub; returns their browsers and user ids.
async fn bob_and_dave_join(
    driver: &Driver,
    chromium: &PathBuf,
    story: &Story,
    javascript: bool,
) -> ((Person, String), (Person, String)) {
    let base = &story.server.base;
    let mut joined = Vec::new();
    for (email, account) in [("bob@example.com", bob()), ("dave@example.com", dave())] {
        let person = open_browser(driver, chromium, base, javascript).await;
        accept_from_email(&person, story, email, "a[href^='/auth/github']", account).await;
        joined.push((person, story.server.app.user_by_email(email).id));
    }
    let dave = joined.pop().expect("Dave joined");
    let bob = joined.pop().expect("Bob joined");
    (bob, dave)
}

fn the_whole_story_with_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move {
        let story = story();
        let base = story.server.base.clone();
        let ada_browser = open_browser(&driver, &chromium, &base, true).await;
        let ada_page = &ada_browser;

        // The operator's link brings the first owner in.
        let link = operator_creates_acme(&story);
        ada_page.go(&link).await;
        ada_page.wait_text("Join Acme AI on Rollcall").await;
        ada_page
            .sign_in_with(&story.providers, "a[href^='/auth/google']", ada())
            .await;
        ada_page.wait("form[action='/invitation/accept'] button").await;
        ada_page.click("form[action='/invitation/accept'] button").await;
        ada_page.wait("#members-table").await;
        assert_eq!(ada_page.path().await, "/orgs/acme-ai/members");
        ada_page.check_accessibility("the Members page").await;

        // Invite three, one mistyped; fix it in step 2; send.
        ada_page.click("a[href$='/invitations/new']").await;
        ada_page.wait("#modal dialog[open] #invite-emails").await;
        ada_page.assert_focus_in_dialog().await;
        ada_page.check_accessibility("the invite dialog, step 1").await;
        ada_page
            .fill(
                "#invite-emails",
                "bob@example.com, carol@example\ndave@example.com",
            )
            .await;
        ada_page.click("#modal button.primary").await;
        ada_page.wait("#modal #review-title").await;
        ada_page.wait_text("This is not a valid email address.").await;
        ada_page.assert_focus_in_dialog().await;
        ada_page.check_accessibility("the invite dialog, step 2").await;
        ada_page.screenshot("invite-dialog.png").await;
        ada_page.fill("#email-1", "carol@example.com").await;
        ada_page.click("#modal button.primary").await;
        ada_page.wait("#modal #sent-title").await;
        ada_page.wait_text("Invited 3 people to Acme AI.").await;
        ada_page.check_accessibility("the invitations-sent dialog").await;
        ada_page.click("#modal a[data-close]").await;
        ada_page.wait_gone("#modal dialog").await;
        ada_page.wait_text("bob@example.com").await;

        // Bob opens the real email in his own browser and joins with GitHub;
        // Dave too, for later.
        let ((bob_browser, bob_id), (dave_browser, dave_id)) =
            bob_and_dave_join(&driver, &chromium, &story, true).await;

        // Ada changes Bob's role in the modal: the row updates, the page stays.
        ada_page.go("/orgs/acme-ai/members").await;
        ada_page.wait(&format!("#member-{bob_id}")).await;
        ada_page.screenshot("members.png").await;
        ada_page.script("window.rollcallStayed = true").await;
        ada_page
            .click(&format!("#member-{bob_id} a[href$='/role']"))
            .await;
        ada_page.wait("#modal dialog[open] #new-role").await;
        assert_eq!(
            ada_page.script("return location.pathname").await,
            Value::String("/orgs/acme-ai/members".to_owned()),
            "a dialog leaves the address alone"
        );
        ada_page.assert_focus_in_dialog().await;
        ada_page.check_accessibility("the Change role dialog").await;
        ada_page
            .wait("#new-role")
            .await
            .select_by_value("admin")
            .await
            .expect("choose a role");
        ada_page.click("#modal button.primary").await;
        ada_page.wait_gone("#modal dialog").await;
        let deadline = Instant::now() + WAIT;
        while ada_page.text(&format!("#member-{bob_id} .role-badge")).await != "Admin" {
            assert!(Instant::now() < deadline, "the row never showed Admin");
            tokio_sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            ada_page.script("return window.rollcallStayed === true").await,
            Value::Bool(true),
            "no page reload"
        );
        ada_page.wait_text("Bob Kahn is now Admin of Acme AI.").await;

        // Ada removes Bob: the row goes away.
        ada_page
            .click(&format!("#member-{bob_id} a[href$='/remove']"))
            .await;
        ada_page.wait("#modal dialog[open] button.danger").await;
        ada_page.wait_text("Remove Bob Kahn from Acme AI?").await;
        ada_page.check_accessibility("the Remove access dialog").await;
        ada_page.click("#modal button.danger").await;
        ada_page.wait_gone(&format!("#member-{bob_id}")).await;
        assert_eq!(
            ada_page.script("return window.rollcallStayed === true").await,
            Value::Bool(true)
        );

        // The last owner cannot leave, and is told why; Escape closes the
        // dialog and gives focus back to the button that opened it.
        ada_page.click("a[href$='/leave']").await;
        ada_page.wait("#modal dialog[open] .notice-warn").await;
        ada_page.wait_text("make another member an owner first").await;
        assert!(
            ada_page
                .client
                .find_all(Locator::Css("#modal button.danger"))
                .await
                .expect("find")
                .is_empty()
        );
        ada_page
            .check_accessibility("the Leave dialog of the last owner")
            .await;
        ada_page
            .client
            .active_element()
            .await
            .expect("focus")
            .send_keys(ESCAPE)
            .await
            .expect("Escape");
        ada_page.wait_gone("#modal dialog").await;
        let focused = ada_page
            .script("return document.activeElement.getAttribute('href')")
            .await;
        assert!(
            focused.as_str().is_some_and(|href| href.ends_with("/leave")),
            "focus returned to {focused}"
        );

        // Promote Dave to owner; now Ada can leave, and lands on her profile.
        ada_page
            .click(&format!("#member-{dave_id} a[href$='/role']"))
            .await;
        ada_page
            .wait("#new-role")
            .await
            .select_by_value("owner")
            .await
            .expect("choose a role");
        ada_page.click("#modal button.primary").await;
        ada_page.wait_text("Dave Clark is now Owner of Acme AI.").await;
        ada_page.click("a[href$='/leave']").await;
        ada_page.wait("#modal dialog[open] button.danger").await;
        ada_page.click("#modal button.danger").await;
        ada_page.wait_text("You left Acme AI.").await;
        assert_eq!(ada_page.path().await, "/profile");
        ada_page.check_accessibility("the profile").await;
        ada_page.go("/orgs/acme-ai/roles").await;
        ada_page.wait_text("You are no longer a member of Acme AI.").await;

        dave_browser.go("/orgs/acme-ai/roles").await;
        dave_browser.wait(".policy").await;
        dave_browser
            .client
            .set_window_size(390, 844)
            .await
            .expect("resize");
        dave_browser.go("/orgs/acme-ai/members").await;
        dave_browser.wait("#members-table").await;
        dave_browser.screenshot("members-narrow.png").await;

        for person in [ada_browser, bob_browser, dave_browser] {
            let _ = person.client.close().await;
        }
    });
}

fn the_main_story_without_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move {
        let story = story();
        let base = story.server.base.clone();
        let ada_page = open_browser(&driver, &chromium, &base, false).await;
        let link = operator_creates_acme(&story);
        ada_page.go(&link).await;
        ada_page
            .sign_in_with(&story.providers, "a[href^='/auth/google']", ada())
            .await;
        ada_page.click("form[action='/invitation/accept'] button").await;
        ada_page.wait("#members-table").await;

        // The invite dialog as pages.
        ada_page.click("a[href$='/invitations/new']").await;
        ada_page.wait("dialog[open] #invite-emails").await;
        assert_eq!(ada_page.path().await, "/orgs/acme-ai/invitations/new");
        ada_page
            .fill(
                "#invite-emails",
                "bob@example.com, carol@example\ndave@example.com",
            )
            .await;
        ada_page.click("dialog button.primary").await;
        ada_page.wait_text("This is not a valid email address.").await;
        ada_page.fill("#email-1", "carol@example.com").await;
        ada_page.click("dialog button.primary").await;
        ada_page.wait_text("Invited 3 people to Acme AI.").await;
        // The links are on the page the form lands on, shown this once.
        ada_page.wait_text("share the link yourself").await;
        ada_page.click("dialog a.button.primary").await;
        ada_page.wait("#members-table").await;
        assert_eq!(ada_page.path().await, "/orgs/acme-ai/members");

        let ((bob_page, bob_id), (dave_page, dave_id)) =
            bob_and_dave_join(&driver, &chromium, &story, false).await;

        ada_page.go("/orgs/acme-ai/members").await;
        ada_page
            .click(&format!("#member-{bob_id} a[href$='/role']"))
            .await;
        ada_page
            .wait("#new-role")
            .await
            .select_by_value("admin")
            .await
            .expect("choose a role");
        ada_page.click("dialog button.primary").await;
        ada_page.wait_text("Bob Kahn is now Admin of Acme AI.").await;
        assert_eq!(
            ada_page.text(&format!("#member-{bob_id} .role-badge")).await,
            "Admin"
        );

        ada_page
            .click(&format!("#member-{bob_id} a[href$='/remove']"))
            .await;
        ada_page.click("dialog button.danger").await;
        ada_page
            .wait_text("Bob Kahn no longer has access to Acme AI.")
            .await;
        ada_page.wait_gone(&format!("#member-{bob_id}")).await;

        ada_page.click("a[href$='/leave']").await;
        ada_page.wait_text("make another member an owner first").await;
        assert!(
            ada_page
                .client
                .find_all(Locator::Css("dialog button.danger"))
                .await
                .expect("find")
                .is_empty()
        );

        ada_page.go("/orgs/acme-ai/members").await;
        ada_page
            .click(&format!("#member-{dave_id} a[href$='/role']"))
            .await;
        ada_page
            .wait("#new-role")
            .await
            .select_by_value("owner")
            .await
            .expect("choose a role");
        ada_page.click("dialog button.primary").await;
        ada_page.wait_text("Dave Clark is now Owner of Acme AI.").await;
        ada_page.click("a[href$='/leave']").await;
        ada_page.click("dialog button.danger").await;
        ada_page.wait_text("You left Acme AI.").await;
        assert_eq!(ada_page.path().await, "/profile");

        for person in [ada_page, bob_page, dave_page] {
            let _ = person.client.close().await;
        }
    });
}

/// Ada makes an API token, copies its secret, and revokes it; with
/// JavaScript the Copy button copies, without it the field is there to copy
/// by hand. axe checks each screen (with JavaScript).
async fn token_story(driver: &Driver, chromium: &PathBuf, javascript: bool) {
    let story = story();
    let base = story.server.base.clone();
    let ada_page = open_browser(driver, chromium, &base, javascript).await;
    let link = operator_creates_acme(&story);
    ada_page.go(&link).await;
    ada_page
        .sign_in_with(&story.providers, "a[href^='/auth/google']", ada())
        .await;
    ada_page.click("form[action='/invitation/accept'] button").await;
    ada_page.wait("#members-table").await;

    ada_page.click("nav.tabs a[href$='/tokens']").await;
    ada_page.wait_text("No tokens yet.").await;
    ada_page.check_accessibility("the API tokens tab").await;
    ada_page.fill("#token-name", "CI deploys").await;
    ada_page
        .wait("#token-access")
        .await
        .select_by_value("operations")
        .await
        .expect("choose an access");
    ada_page.click("form[action$='/tokens'] button.primary").await;
    let field = ada_page.wait("#new-secret").await;
    let secret = field.prop("value").await.expect("a value").unwrap_or_default();
    assert!(secret.starts_with("rcp_"), "{secret}");
    assert_eq!(
        field.attr("readonly").await.expect("an attribute").as_deref(),
        Some("true")
    );
    ada_page.check_accessibility("the new token's secret").await;
    let copy_shown = ada_page
        .script("const b = document.querySelector('[data-copy]'); return !!b && !b.hidden;")
        .await;
    assert_eq!(copy_shown, Value::Bool(javascript), "Copy only with JavaScript");
    if javascript {
        ada_page.click("[data-copy]").await;
        ada_page.wait_text("Copied").await;
        let selected = ada_page.script("return window.getSelection().toString() || document.activeElement.value.substring(document.activeElement.selectionStart, document.activeElement.selectionEnd);").await;
        assert_eq!(
            selected.as_str(),
            Some(secret.as_str()),
            "the secret is what was copied"
        );
    }

    // Afterwards only the prefix and last four are ever shown.
    ada_page.go("/orgs/acme-ai/tokens").await;
    let listed = ada_page.text("table").await;
    assert!(!listed.contains(&secret[4..]), "the secret shown again");
    assert!(
        listed.contains(&format!("rcp_…{}", &secret[secret.len() - 4..])),
        "{listed}"
    );
    if javascript {
        ada_page.screenshot("tokens.png").await;
    }
    ada_page.click("a[href$='/revoke']").await;
    ada_page.wait_text("Revoke “CI deploys”?").await;
    ada_page.check_accessibility("the revoke confirmation").await;
    ada_page.click("button.danger").await;
    ada_page
        .wait_text("Revoked “CI deploys”; it no longer works.")
        .await;
    assert_eq!(ada_page.text("td .status").await, "Revoked");
    assert_eq!(
        story.server.app.count("api_tokens WHERE revoked_at IS NOT NULL"),
        1
    );

    // The audit log tells it, and its filter narrows it.
    ada_page.click("nav.tabs a[href$='/audit']").await;
    ada_page.wait_text("revoked the API token “CI deploys”").await;
    ada_page
        .wait_text("created the API token “CI deploys” (operations access)")
        .await;
    ada_page.check_accessibility("the audit log").await;
    if javascript {
        ada_page.screenshot("audit.png").await;
    }
    ada_page
        .wait("#audit-action")
        .await
        .select_by_value("token.created")
        .await
        .expect("choose an action");
    ada_page.click("#audit-filters button[type='submit']").await;
    let deadline = Instant::now() + WAIT;
    loop {
        // Read by script: the table is replaced under any element handle.
        let shown = ada_page
            .script("const t = document.querySelector('#audit-events tbody'); return t ? t.innerText : '';")
            .await;
        let shown = shown.as_str().unwrap_or_default();
        if !shown.contains("revoked the API token") {
            assert!(shown.contains("created the API token “CI deploys”"), "{shown}");
            break;
        }
        assert!(Instant::now() < deadline, "the filter never applied: {shown}");
        tokio_sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ada_page
            .client
            .current_url()
            .await
            .expect("a URL")
            .query()
            .unwrap_or("")
            .contains("action=token.created")
    );
    ada_page.check_accessibility("the filtered audit log").await;
    ada_page.click("a.button[href='/orgs/acme-ai/audit']").await;
    ada_page.wait_text("revoked the API token “CI deploys”").await;
    let _ = ada_page.client.close().await;
}

fn a_token_is_made_copied_and_revoked_with_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move { token_story(&driver, &chromium, true).await });
}

fn a_token_is_made_copied_and_revoked_without_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move { token_story(&driver, &chromium, false).await });
}

/// Ada renames Acme AI (its old address still leads to it), deletes it with
/// its slug typed, and restores it from her profile. axe checks each screen
/// (with JavaScript).
async fn settings_story(driver: &Driver, chromium: &PathBuf, javascript: bool) {
    let story = story();
    let base = story.server.base.clone();
    let ada_page = open_browser(driver, chromium, &base, javascript).await;
    let link = operator_creates_acme(&story);
    ada_page.go(&link).await;
    ada_page
        .sign_in_with(&story.providers, "a[href^='/auth/google']", ada())
        .await;
    ada_page.click("form[action='/invitation/accept'] button").await;
    ada_page.wait("#members-table").await;

    ada_page.click("nav.tabs a[href$='/settings']").await;
    ada_page.wait_text("Name and address").await;
    ada_page.check_accessibility("the settings tab").await;
    ada_page.fill("#org-name", "Acme Labs").await;
    ada_page.fill("#org-slug", "acme-labs").await;
    ada_page.click("form[action$='/settings/rename'] button").await;
    ada_page
        .wait_text("Saved: the organization is “Acme Labs”.")
        .await;
    assert_eq!(ada_page.path().await, "/orgs/acme-labs/settings");
    if javascript {
        ada_page.screenshot("settings.png").await;
    }
    ada_page.go("/orgs/acme-ai/members").await;
    ada_page.wait("#members-table").await;
    assert_eq!(
        ada_page.path().await,
        "/orgs/acme-labs/members",
        "the old address leads here"
    );

    ada_page.go("/orgs/acme-labs/settings").await;
    ada_page.fill("#delete-confirm", "acme-labs").await;
    ada_page.click("form[action$='/settings/delete'] button").await;
    ada_page.wait_text("Deleted Acme Labs.").await;
    assert_eq!(ada_page.path().await, "/profile");
    ada_page
        .check_accessibility("the profile with a deleted organization")
        .await;
    ada_page.go("/orgs/acme-labs/members").await;
    ada_page.wait_text("This organization was deleted").await;
    ada_page.wait_text("Acme Labs was deleted on").await;
    ada_page.go("/profile").await;
    ada_page
        .click("form[action='/orgs/acme-labs/restore'] button")
        .await;
    ada_page
        .wait_text("Restored Acme Labs; its members can use it again.")
        .await;
    ada_page.wait("#members-table").await;
    assert_eq!(ada_page.path().await, "/orgs/acme-labs/members");
    let _ = ada_page.client.close().await;
}

fn an_organization_is_renamed_deleted_and_restored_with_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move { settings_story(&driver, &chromium, true).await });
}

fn an_organization_is_renamed_deleted_and_restored_without_javascript() {
    let (driver, chromium) = driver();
    actix_web::rt::System::new().block_on(async move { settings_story(&driver, &chromium, false).await });
}

crate::tests![
    the_whole_story_with_javascript: CHROMIUM,
    the_main_story_without_javascript: CHROMIUM,
    a_token_is_made_copied_and_revoked_with_javascript: CHROMIUM,
    a_token_is_made_copied_and_revoked_without_javascript: CHROMIUM,
    an_organization_is_renamed_deleted_and_restored_with_javascript: CHROMIUM,
    an_organization_is_renamed_deleted_and_restored_without_javascript: CHROMIUM,
];
