//! The server on a random loopback port, and a cookie-keeping client that
//! behaves like a browser with or without htmx.

use std::sync::mpsc;
use std::thread;

use clap::Parser;
use rollcall::cli::Cli;
use rollcall::web::Application;

use crate::helpers::TestApp;

/// A running server over the test app's database.
pub struct TestServer {
    /// First, so that the servers stop before the database is dropped.
    servers: std::sync::Mutex<Vec<Stopper>>,
    pub app: TestApp,
    pub base: String,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server; `extra` are additional command-line flags.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on(TestApp::new(), extra)
    }

    /// Starts a server over an existing test database.
    pub fn start_on(app: TestApp, extra: &[&str]) -> Self {
        let (base, server) = serve(app.database_url(), extra);
        Self {
            servers: std::sync::Mutex::new(vec![server]),
            app,
            base,
        }
    }

    /// Starts a server over the test app's database, reached at
    /// `database_url` (through a proxy the test controls, say).
    pub fn start_through(app: TestApp, database_url: &str, extra: &[&str]) -> Self {
        let (base, server) = serve(database_url, extra);
        Self {
            servers: std::sync::Mutex::new(vec![server]),
            app,
            base,
        }
    }

    /// Another server over the same database, as a second one behind a load
    /// balancer would be: the address of its console.
    pub fn another_server(&self) -> String {
        let (base, server) = serve(self.app.database_url(), &[]);
        self.servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(server);
        base
    }

    /// A new browser with no cookies.
    pub fn browser(&self) -> Browser {
        Browser::at(&self.base)
    }

    /// A browser signed in through the development sign-in.
    pub fn signed_in(&self, email: &str) -> Browser {
        let mut browser = self.browser();
        browser.sign_in(email);
        browser
    }
}

/// Starts a server over the database at `database_url` on a free loopback
/// port; `extra` are additional command-line flags. Returns its address.
fn serve(database_url: &str, extra: &[&str]) -> (String, Stopper) {
    // The public URL (in emails and OAuth redirects) must name the real
    // port, so the port is picked before the server starts; another test
    // may take it in between, and then another port is tried.
    let mut refusals = Vec::new();
    for _ in 0..5 {
        match serve_on(free_port(), database_url, extra) {
            Ok(started) => return started,
            Err(refused) => refusals.push(refused),
        }
    }
    panic!("no port would do: {refusals:?}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn serve_on(port: u16, database_url: &str, extra: &[&str]) -> Result<(String, Stopper), String> {
    let mut args = vec![
        "rollcall".to_owned(),
        "--database-url".to_owned(),
        database_url.to_owned(),
        "--bind".to_owned(),
        format!("127.0.0.1:{port}"),
        "--public-url".to_owned(),
        format!("http://127.0.0.1:{port}"),
    ];
    if !extra.contains(&"--dev-login") {
        args.extend(["--dev-login".to_owned(), "on".to_owned()]);
    }
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let config = Cli::try_parse_from(args).expect("valid flags").config;
    let (ports, port) = mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(config) {
                Ok(server) => {
                    let _ = ports.send(Ok((server.port(), server.handle())));
                    server.run_until_stopped().await.expect("serve");
                }
                // Taken since it was picked: the caller tries another.
                Err(error) if error.to_string().contains("Address already in use") => {
                    let _ = ports.send(Err(error.to_string()));
                }
                Err(error) => panic!("build the server: {error:?}"),
            }
        })
    });
    let (port, handle) = port.recv().expect("the server started")?;
    Ok((format!("http://127.0.0.1:{port}"), Stopper(handle)))
}

/// Stops a test's server when the test is over, before its database goes:
/// a server left running would keep reconnecting to a database that is gone.
pub struct Stopper(actix_web::dev::ServerHandle);

impl Drop for Stopper {
    fn drop(&mut self) {
        let handle = self.0.clone();
        // On a thread of its own: the test may be inside a runtime already.
        let stopped = thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
        let _ = stopped.join();
    }
}

/// An answer: status, a few headers, the body.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub hx_redirect: Option<String>,
    pub hx_retarget: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn contains(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.body.contains(text),
            "expected {text:?} in ({}) {}",
            self.status,
            self.body
        );
    }

    /// The value of the first field named `name` (a form's one-time value, say).
    pub fn field(&self, name: &str) -> Option<String> {
        self.field_after("", name)
    }

    /// The value of the first field named `name` after `anchor` (in the
    /// form whose action it is, say).
    pub fn field_after(&self, anchor: &str, name: &str) -> Option<String> {
        let rest = &self.body[self.body.find(anchor)? + anchor.len()..];
        let marker = format!("name=\"{name}\" value=\"");
        let start = rest.find(&marker)? + marker.len();
        let end = rest[start..].find('"')? + start;
        Some(rest[start..end].to_owned())
    }

    /// The value of the first `csrf_token` hidden field.
    pub fn csrf(&self) -> Option<String> {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

#[derive(Clone)]
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    pub csrf: String,
}

fn page(mut response: ureq::http::Response<ureq::Body>) -> Page {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location");
    let hx_redirect = header("hx-redirect");
    let hx_retarget = header("hx-retarget");
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Page {
        status,
        location,
        hx_redirect,
        hx_retarget,
        headers,
        body,
    }
}

impl Browser {
    /// A new browser with no cookies, for the server at `base`.
    pub fn at(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
            csrf: String::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Follows redirects (to this server or another) until an answer that is not one.
    pub fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match (page.status, page.location.clone()) {
                (301 | 302 | 303 | 307, Some(location)) => page = self.get(&location),
                _ => return page,
            }
        }
        page
    }

    pub fn get(&mut self, path: &str) -> Page {
        let page = page(self.agent.get(self.url(path)).call().expect("GET"));
        if let Some(token) = page.csrf() {
            self.csrf = token;
        }
        page
    }

    /// A GET with extra headers (as a browser adds them, say `Sec-Fetch-Site`).
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.agent.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        page(request.call().expect("GET"))
    }

    /// A GET as htmx makes it, aimed at the element `target`.
    pub fn hx_get(&mut self, path: &str, target: &str) -> Page {
        page(
            self.agent
                .get(self.url(path))
                .header("HX-Request", "true")
                .header("HX-Target", target)
                .call()
                .expect("GET"),
        )
    }

    /// A form post without JavaScript: the CSRF token goes in the form.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        page(self.agent.post(self.url(path)).send_form(form).expect("POST"))
    }

    /// A post as htmx makes it: the CSRF token in a header.
    pub fn hx_post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        page(
            self.agent
                .post(self.url(path))
                .header("HX-Request", "true")
                .header("X-CSRF-Token", &self.csrf)
                .send_form(fields.to_vec())
                .expect("POST"),
        )
    }

    /// A post with no CSRF token at all, as a forged cross-site form would be.
    pub fn post_without_csrf(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        page(
            self.agent
                .post(self.url(path))
                .send_form(fields.to_vec())
                .expect("POST"),
        )
    }

    /// A post with a raw body of the given size.
    pub fn post_bytes(&mut self, path: &str, body: Vec<u8>) -> Page {
        page(
            self.agent
                .post(self.url(path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-CSRF-Token", &self.csrf)
                .send(&body[..])
                .expect("POST"),
        )
    }

    /// A request with any method, content type and body, the CSRF token in
    /// its header, htmx or not: what a crafted request can be.
    pub fn raw(&mut self, method: &str, path: &str, content_type: &str, body: &[u8], htmx: bool) -> Page {
        if method == "GET" {
            return self.get(path);
        }
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Content-Type", content_type)
            .header("X-CSRF-Token", &self.csrf);
        let request = if htmx {
            request.header("HX-Request", "true")
        } else {
            request
        };
        let request = request.body(body.to_vec()).expect("a request");
        page(self.agent.run(request).expect("an answer"))
    }

    pub fn sign_in(&mut self, email: &str) {
        let login = self.get("/login");
        assert_eq!(login.status, 200);
        let signed = self.post("/login/dev", &[("email", email), ("next", "/profile")]);
        assert_eq!(signed.status, 303, "{}", signed.body);
        let profile = self.get("/profile");
        assert_eq!(profile.status, 200, "{}", profile.body);
    }
}
