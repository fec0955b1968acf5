//! Stand-ins for the outside world, served by the tests on loopback: Google
//! and GitHub's OAuth endpoints (authorize, token, profile) and an SMTP server
//! that keeps what it receives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

/// An account at a fake provider: who signs in when the browser reaches
/// its authorize endpoint.
#[derive(Debug, Clone)]
pub enum Account {
    Google {
        sub: String,
        email: String,
        verified: bool,
        name: String,
    },
    GitHub {
        id: u64,
        login: String,
        name: Option<String>,
        emails: Vec<(String, bool, bool)>,
    },
}

impl Account {
    pub fn google(sub: &str, email: &str, verified: bool) -> Self {
        Self::Google {
            sub: sub.into(),
            email: email.into(),
            verified,
            name: format!("Google {sub}"),
        }
    }

    /// `emails`: (address, verified, primary).
    pub fn github(id: u64, login: &str, emails: &[(&str, bool, bool)]) -> Self {
        Self::GitHub {
            id,
            login: login.into(),
            name: None,
            emails: emails.iter().map(|(e, v, p)| ((*e).to_owned(), *v, *p)).collect(),
        }
    }

    /// The account's display name at the provider.
    pub fn named(self, display: &str) -> Self {
        match self {
            Self::Google {
                sub, email, verified, ..
            } => Self::Google {
                sub,
                email,
                verified,
                name: display.into(),
            },
            Self::GitHub {
                id, login, emails, ..
            } => Self::GitHub {
                id,
                login,
                name: Some(display.into()),
                emails,
            },
        }
    }
}

struct Grant {
    account: Account,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct ProviderState {
    signing_in: Option<Account>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Account>,
    counter: u64,
}

/// Fake Google and GitHub on one loopback server.
pub struct FakeProviders {
    pub base: String,
    state: Arc<Mutex<ProviderState>>,
}

impl FakeProviders {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(ProviderState::default()));
        let shared = web::Data::from(Arc::clone(&state));
        let (ports, port) = mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(shared.clone())
                        .route("/google/authorize", web::get().to(authorize))
                        .route("/google/token", web::post().to(token))
                        .route("/google/userinfo", web::get().to(google_userinfo))
                        .route("/github/login/oauth/authorize", web::get().to(authorize))
                        .route("/github/login/oauth/access_token", web::post().to(token))
                        .route("/github/api/user", web::get().to(github_user))
                        .route("/github/api/user/emails", web::get().to(github_emails))
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("bind the fake providers");
                ports.send(server.addrs()[0].port()).expect("report the port");
                server.run().await.expect("serve");
            })
        });
        let port = port.recv().expect("the fake providers started");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// The account that signs in at the next authorize request.
    pub fn will_sign_in(&self, account: Account) {
        self.state.lock().unwrap().signing_in = Some(account);
    }

    /// Flags that point Rollcall at these fakes.
    pub fn flags(&self) -> Vec<String> {
        let b = &self.base;
        [
            ("--google-client-id", "google-client".to_owned()),
            ("--google-client-secret", "google-secret".to_owned()),
            ("--google-auth-url", format!("{b}/google/authorize")),
            ("--google-token-url", format!("{b}/google/token")),
            ("--google-userinfo-url", format!("{b}/google/userinfo")),
            ("--github-client-id", "github-client".to_owned()),
            ("--github-client-secret", "github-secret".to_owned()),
            ("--github-auth-url", format!("{b}/github/login/oauth/authorize")),
            (
                "--github-token-url",
                format!("{b}/github/login/oauth/access_token"),
            ),
            ("--github-api-url", format!("{b}/github/api")),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
    }
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// Signs in whoever the test said, and sends the browser back with a code.
async fn authorize(req: HttpRequest, state: web::Data<Mutex<ProviderState>>) -> HttpResponse {
    let params = query(&req);
    let mut state = state.lock().unwrap();
    let Some(account) = state.signing_in.clone() else {
        return HttpResponse::BadRequest().body("no account is signing in");
    };
    if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return HttpResponse::BadRequest().body("PKCE S256 is required");
    }
    state.counter += 1;
    let code = format!("code-{}", state.counter);
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    state.codes.insert(
        code.clone(),
        Grant {
            account,
            challenge: params.get("code_challenge").cloned().unwrap_or_default(),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let back = format!(
        "{redirect_uri}?code={code}&state={}",
        url::form_urlencoded::byte_serialize(params.get("state").map(String::as_bytes).unwrap_or_default())
            .collect::<String>()
    );
    HttpResponse::Found().insert_header(("Location", back)).finish()
}

/// Exchanges a code, once, for a token, checking the PKCE verifier.
async fn token(body: web::Bytes, state: web::Data<Mutex<ProviderState>>) -> HttpResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut state = state.lock().unwrap();
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = state.codes.remove(&code) else {
        return HttpResponse::BadRequest()
            .json(json!({ "error": "invalid_grant", "error_description": "code already used or unknown" }));
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return HttpResponse::BadRequest()
            .json(json!({ "error": "invalid_grant", "error_description": "PKCE or redirect mismatch" }));
    }
    state.counter += 1;
    let access = format!("token-{}", state.counter);
    state.tokens.insert(access.clone(), grant.account);
    HttpResponse::Ok().json(json!({ "access_token": access, "token_type": "bearer", "scope": "" }))
}

fn bearer(req: &HttpRequest, state: &Mutex<ProviderState>) -> Option<Account> {
    let header = req.headers().get("Authorization")?.to_str().ok()?;
    let token = header.strip_prefix("Bearer ")?;
    state.lock().unwrap().tokens.get(token).cloned()
}

async fn google_userinfo(req: HttpRequest, state: web::Data<Mutex<ProviderState>>) -> HttpResponse {
    match bearer(&req, &state) {
        Some(Account::Google {
            sub,
            email,
            verified,
            name,
        }) => HttpResponse::Ok().json(json!({
            "sub": sub, "email": email, "email_verified": verified, "name": name
        })),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

async fn github_user(req: HttpRequest, state: web::Data<Mutex<ProviderState>>) -> HttpResponse {
    match bearer(&req, &state) {
        Some(Account::GitHub { id, login, name, .. }) => HttpResponse::Ok().json(json!({
            "id": id, "login": login, "name": name, "avatar_url": null
        })),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

async fn github_emails(req: HttpRequest, state: web::Data<Mutex<ProviderState>>) -> HttpResponse {
    match bearer(&req, &state) {
        Some(Account::GitHub { emails, .. }) => HttpResponse::Ok().json(
            emails
                .iter()
                .map(|(email, verified, primary)| json!({ "email": email, "verified": verified, "primary": primary, "visibility": null }))
                .collect::<Vec<_>>(),
        ),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

/// A message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The message with quoted-printable soft line breaks undone.
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|line| line.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The invitation link in the message.
    pub fn link(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("http://")?;
        let candidate: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
            .collect();
        candidate.contains("/invite/").then_some(candidate)
    }
}

/// A plain SMTP server on loopback that accepts everything.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink"))
    }

    pub fn start_on(listener: TcpListener) -> Self {
        let port = listener.local_addr().expect("an address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let inbox = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let inbox = Arc::clone(&inbox);
                thread::spawn(move || {
                    let _ = serve_smtp(stream, &inbox);
                });
            }
        });
        Self { port, received }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits for a message to `to`.
    pub fn wait_for(&self, to: &str, within: Duration) -> ReceivedMail {
        let deadline = Instant::now() + within;
        loop {
            if let Some(mail) = self
                .received
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.to.iter().any(|t| t == to))
            {
                return mail.clone();
            }
            assert!(Instant::now() < deadline, "no email to {to} within {within:?}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the `n`th message (counting from 1) to `to`.
    pub fn wait_for_nth(&self, to: &str, n: usize, within: Duration) -> ReceivedMail {
        let deadline = Instant::now() + within;
        loop {
            let found: Vec<ReceivedMail> = self
                .received
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.to.iter().any(|t| t == to))
                .cloned()
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no email number {n} to {to} within {within:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_smtp(stream: TcpStream, inbox: &Mutex<Vec<ReceivedMail>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 sink ESMTP\r\n")?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            writer.write_all(b"250-sink\r\n250 8BITMIME\r\n")?;
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_start_matches(':')
                .trim()
                .trim_matches(['<', '>'])
                .to_owned();
            to.push(address);
            writer.write_all(b"250 OK\r\n")?;
        } else if command == "DATA" {
            writer.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            inbox.lock().unwrap().push(ReceivedMail { to: to.clone(), data });
            writer.write_all(b"250 OK queued\r\n")?;
        } else if command == "QUIT" {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"250 OK\r\n")?;
        }
    }
}
