//! The gateway's check (`/gateway/check`) through the real proxies a
//! platform runs, nginx (`auth_request`) and Caddy (`forward_auth`), each in
//! front of an upstream that echoes the request it receives, all on
//! loopback: the upstream sees who the caller is and never their token; a
//! request without a token, with a mistyped or revoked one, without the
//! permission, or to a path no rule names never reaches it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Needs;
use crate::helpers::TestDb;
use crate::policy_file::{
    BENTOCLOUD, Scratch, Server, join, link_path, listed_id, rollcall, secret_printed, stderr,
};
use crate::tokens::within_a_second;

fn program(path: &str, install: &str) -> Result<PathBuf, String> {
    Some(PathBuf::from(path))
        .filter(|path| path.exists())
        .ok_or_else(|| format!("{path} is not installed: apt-get install {install}"))
}

fn proxies_missing() -> Option<String> {
    program("/usr/sbin/nginx", "nginx")
        .and(program("/usr/bin/caddy", "caddy"))
        .err()
}

fn apache_missing() -> Option<String> {
    program("/usr/sbin/apache2", "apache2")
        .and(program(MOD_AUTH_OPENIDC, "libapache2-mod-auth-openidc"))
        .and(program("/usr/bin/caddy", "caddy"))
        .err()
}

/// What the tests need: a failure in CI when missing, ignored elsewhere.
const PROXIES: Needs = Needs::Program(proxies_missing);
const APACHE: Needs = Needs::Program(apache_missing);

const MODULES: &str = "/usr/lib/apache2/modules";
const MOD_AUTH_OPENIDC: &str = "/usr/lib/apache2/modules/mod_auth_openidc.so";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The upstream: answers every request with the request's head, as received.
fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the upstream");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || echo(stream));
        }
    });
    port
}

fn echo(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|read| read == 1) {
        head.push(byte[0]);
    }
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        head.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.write_all(&head);
}

/// A proxy, a process of its own, stopped with the test.
struct Proxy {
    child: Child,
    base: String,
}

impl Proxy {
    /// Starts the proxy `configure` sets up on the port it is given, trying
    /// another port if another test took that one since it was picked.
    fn start(configure: impl Fn(u16) -> Command) -> Self {
        let mut said = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::start_on(configure(port), port) {
                Ok(proxy) => return proxy,
                Err(stopped) => said = stopped,
            }
        }
        panic!("the proxy stopped: {said}")
    }

    fn start_on(mut command: Command, port: u16) -> Result<Self, String> {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the proxy");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(_)) = child.try_wait() {
                let output = child.wait_with_output().expect("its output");
                return Err(stderr(&output));
            }
            assert!(Instant::now() < deadline, "the proxy did not listen within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const IDENTITY: [&str; 5] = ["Org", "Subject", "Kind", "Role", "Token"];

/// nginx with `auth_request`, as docs/gateway.md sets it up.
fn nginx(dir: &Path, rollcall: &str, client: &str, upstream: u16) -> Proxy {
    Proxy::start(|port| {
        let sets: String = IDENTITY
        .iter()
        .map(|name| {
            let variable = format!("rollcall_{}", name.to_ascii_lowercase());
            format!(
                "            auth_request_set ${variable} $upstream_http_x_rollcall_{};\n            proxy_set_header X-Rollcall-{name} ${variable};\n",
                name.to_ascii_lowercase()
            )
        })
        .collect();
        let config = format!(
            r#"master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        listen [::1]:{port};
        location / {{
            auth_request /_rollcall;
            auth_request_set $rollcall_status $upstream_status;
            auth_request_set $rollcall_retry_after $upstream_http_retry_after;
            error_page 500 = @rollcall_error;
{sets}            proxy_set_header Authorization "";
            proxy_pass http://127.0.0.1:{upstream};
        }}
        location @rollcall_error {{
            if ($rollcall_status = 429) {{
                add_header Retry-After $rollcall_retry_after always;
                return 429 "This key's rate is spent.\n";
            }}
            return 500;
        }}
        location = /_rollcall {{
            internal;
            proxy_pass {rollcall}/gateway/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Rollcall-Client "{client}";
        }}
    }}
}}
"#,
            dir = dir.display()
        );
        let file = dir.join("nginx.conf");
        std::fs::write(&file, config).expect("nginx.conf");
        let mut command = Command::new("/usr/sbin/nginx");
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&file)
            .args(["-g", "daemon off;"]);
        command
    })
}

/// Caddy with `forward_auth`, as docs/gateway.md sets it up.
fn caddy(dir: &Path, rollcall: &str, client: &str, upstream: u16) -> Proxy {
    Proxy::start(|port| {
        let rollcall = rollcall.trim_start_matches("http://");
        let copied: Vec<String> = IDENTITY.iter().map(|name| format!("X-Rollcall-{name}")).collect();
        let config = format!(
            "{{\n    admin off\n    auto_https off\n}}\nhttp://127.0.0.1:{port}, http://[::1]:{port} {{\n    forward_auth {rollcall} {{\n        uri /gateway/check\n        header_up X-Rollcall-Client {client}\n        copy_headers {}\n    }}\n    reverse_proxy 127.0.0.1:{upstream} {{\n        header_up -Authorization\n    }}\n}}\n",
            copied.join(" ")
        );
        let file = dir.join("Caddyfile");
        std::fs::write(&file, config).expect("Caddyfile");
        let mut command = Command::new("/usr/bin/caddy");
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("HOME", dir);
        command
    })
}

/// A request through the proxy: the status and the body.
fn call(base: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let (status, body, _) = call_for_wait(base, method, path, token);
    (status, body)
}

/// A request through the proxy: the status, the body and `Retry-After`.
fn call_for_wait(base: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut answer = agent
        .run(request.body(Vec::<u8>::new()).expect("a request"))
        .expect("an answer");
    let status = answer.status().as_u16();
    let wait = answer
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (
        status,
        answer.body_mut().read_to_string().unwrap_or_default(),
        wait,
    )
}

fn nginx_and_caddy_let_through_only_what_the_route_rules_allow() {
    let db = TestDb::new();
    let scratch = Scratch::new();
    let policy = scratch.file("bentocloud.toml", BENTOCLOUD);
    let created = rollcall(
        &db,
        &policy,
        &["org", "create", "Acme AI", "--owner", "ada@example.com"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let metrics_port = free_port().to_string();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    // Every log line, the debug ones included, is read for tokens at the end.
    let env = [
        ("ROLLCALL_TRUSTED_PROXIES", "127.0.0.1"),
        ("RUST_LOG", "debug"),
        ("ROLLCALL_METRICS_BIND", metrics_bind.as_str()),
    ];
    let server = Server::start_with(&db, &policy, &scratch, &env).unwrap_or_else(|said| panic!("{said}"));
    join(&server.base, "ada@example.com", &link_path(&created));
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
    join(&server.base, "eve@example.com", &link_path(&invited));
    let token = |user: &str, access: &str| {
        secret_printed(&rollcall(
            &db,
            &policy,
            &[
                "token", "create", "--org", "acme-ai", "--user", user, "--access", access,
            ],
        ))
    };
    let (eve, ada) = (
        token("eve@example.com", "inference"),
        token("ada@example.com", "operations"),
    );
    let dan_invited = rollcall(
        &db,
        &policy,
        &[
            "user",
            "create",
            "--org",
            "acme-ai",
            "--email",
            "dan@example.com",
            "--role",
            "developer",
        ],
    );
    join(&server.base, "dan@example.com", &link_path(&dan_invited));
    let dan = token("dan@example.com", "inference");
    let made = rollcall(
        &db,
        &policy,
        &[
            "service-account",
            "create",
            "--org",
            "acme-ai",
            "--name",
            "bot",
            "--role",
            "developer",
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let bot = secret_printed(&rollcall(
        &db,
        &policy,
        &[
            "service-account",
            "key-create",
            "--org",
            "acme-ai",
            "bot",
            "--access",
            "inference",
        ],
    ));
    let key = |name: &str, limit: &[&str]| {
        let mut args = vec![
            "service-account",
            "key-create",
            "--org",
            "acme-ai",
            "bot",
            "--access",
            "inference",
            "--key-name",
            name,
        ];
        args.extend_from_slice(limit);
        secret_printed(&rollcall(&db, &policy, &args))
    };
    let metered = key("metered", &["--rate", "3/min"]);
    let elsewhere = key("elsewhere", &["--network", "10.0.0.0/8"]);
    let here = key("here", &["--network", "10.0.0.0/8", "--network", "::1"]);
    // Caddy asks a second server on the same database.
    let second =
        Server::start_with(&db, &policy, &scratch, &env[..2]).unwrap_or_else(|said| panic!("{said}"));
    let client = secret_printed(&rollcall(
        &db,
        &policy,
        &["introspection-client", "create", "proxies"],
    ));
    let eve_id = listed_id(&db, &policy, "user", "email", "eve@example.com");

    let upstream = echo_upstream();
    let nginx_dir = scratch.0.join("nginx");
    let caddy_dir = scratch.0.join("caddy");
    for dir in [&nginx_dir, &caddy_dir] {
        std::fs::create_dir_all(dir).expect("a directory for the proxy");
    }
    let proxies = [
        ("nginx", nginx(&nginx_dir, &server.base, &client, upstream)),
        ("caddy", caddy(&caddy_dir, &second.base, &client, upstream)),
    ];
    for (name, proxy) in &proxies {
        let base = proxy.base.as_str();
        // Eve may call a deployment's endpoint: the upstream learns who she
        // is, and never sees her token.
        let (status, seen) = call(base, "POST", "/v1/deployments/d1/infer", Some(&eve));
        assert_eq!(status, 200, "{name}: {seen}");
        let seen_lower = seen.to_ascii_lowercase();
        for expected in [
            "x-rollcall-org: acme-ai".to_owned(),
            format!("x-rollcall-subject: {}", eve_id.to_ascii_lowercase()),
            "x-rollcall-kind: personal".to_owned(),
            "x-rollcall-role: endpoint_user".to_owned(),
            "x-rollcall-token: ".to_owned(),
        ] {
            assert!(seen_lower.contains(&expected), "{name}: {expected} not in {seen}");
        }
        assert!(
            !seen.contains(&eve) && !seen.contains("rcp_"),
            "{name}: the upstream saw the token: {seen}"
        );
        assert!(
            !seen.contains(&client),
            "{name}: the upstream saw the client's secret"
        );

        // No token, a mistyped one: 401, and the upstream is not reached.
        let (status, body) = call(base, "POST", "/v1/deployments/d1/infer", None);
        assert_eq!(status, 401, "{name}: {body}");
        let mut mistyped = eve.clone();
        mistyped.pop();
        mistyped.push(if eve.ends_with('a') { 'b' } else { 'a' });
        assert_eq!(
            call(base, "POST", "/v1/deployments/d1/infer", Some(&mistyped)).0,
            401,
            "{name}"
        );
        // A live token without the permission, a path no rule names: 403.
        let (status, body) = call(base, "DELETE", "/v1/deployments/d1", Some(&eve));
        assert_eq!(status, 403, "{name}: {body}");
        assert!(
            !body.contains("POST /v1"),
            "{name}: the upstream answered: {body}"
        );
        assert_eq!(call(base, "GET", "/v1/secrets", Some(&ada)).0, 403, "{name}");
        assert_eq!(
            call(base, "POST", "/v1/deployments/d1/../../admin/infer", Some(&ada)).0 / 100,
            4,
            "{name}"
        );
        // The owner may delete the deployment.
        assert_eq!(
            call(base, "DELETE", "/v1/deployments/d1", Some(&ada)).0,
            200,
            "{name}"
        );
        // A service account's key passes as the account.
        let (status, seen) = call(base, "POST", "/v1/deployments/d1/infer", Some(&bot));
        assert_eq!(status, 200, "{name}: {seen}");
        assert!(
            seen.to_ascii_lowercase()
                .contains("x-rollcall-kind: service_account"),
            "{name}: {seen}"
        );
        assert_eq!(
            call(base, "POST", "/v1/deployments/d1/infer", Some(&dan)).0,
            200,
            "{name}"
        );

        // A key used from outside its networks: 403, whatever it may do.
        let (status, body) = call(base, "POST", "/v1/deployments/d1/infer", Some(&elsewhere));
        assert_eq!(status, 403, "{name}: {body}");
        // nginx answers its own page for a 403; Caddy passes the reason on.
        assert!(
            *name == "nginx" || body.contains("networks set on it"),
            "{name}: {body}"
        );
        // From an address the key lists: over IPv6 loopback, since
        // 127.0.0.1 is the proxy's own address, which is never the caller's.
        let over_ipv6 = base.replace("127.0.0.1", "[::1]");
        let (status, body) = call(&over_ipv6, "POST", "/v1/deployments/d1/infer", Some(&here));
        assert_eq!(status, 200, "{name}: {body}");
        // A key past its rate: 429 with when to try again. Each server
        // counts its own calls: nginx and Caddy ask different servers, and
        // each lets three through.
        for _ in 0..3 {
            let (status, body) = call(base, "POST", "/v1/deployments/d1/infer", Some(&metered));
            assert_eq!(status, 200, "{name}: {body}");
        }
        let (status, body, wait) = call_for_wait(base, "POST", "/v1/deployments/d1/infer", Some(&metered));
        assert_eq!(status, 429, "{name}: {body}");
        let wait: u64 = wait
            .and_then(|wait| wait.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=20).contains(&wait), "{name}: Retry-After {wait}");
        assert!(
            !body.contains("POST /v1"),
            "{name}: the upstream answered: {body}"
        );
    }

    // Eve's token is limited to a network she is not in: both proxies
    // refuse it within a second; set back to anywhere, both let it through.
    let eve_token_id = listed_id(&db, &policy, "token", "holder", "eve@");
    let restrict = |networks: &[&str]| {
        let mut args = vec!["token", "restrict", "--org", "acme-ai", eve_token_id.as_str()];
        for network in networks {
            args.extend_from_slice(&["--network", network]);
        }
        let restricted = rollcall(&db, &policy, &args);
        assert!(restricted.status.success(), "{}", stderr(&restricted));
    };
    restrict(&["192.0.2.0/24"]);
    for (name, proxy) in &proxies {
        assert!(
            within_a_second(|| call(&proxy.base, "POST", "/v1/deployments/d1/infer", Some(&eve)).0 == 403),
            "{name} still lets a token through from outside its networks"
        );
    }
    restrict(&[]);
    for (name, proxy) in &proxies {
        assert!(
            within_a_second(|| call(&proxy.base, "POST", "/v1/deployments/d1/infer", Some(&eve)).0 == 200),
            "{name} still refuses a token whose networks were taken away"
        );
    }

    // Dan is removed and the bot disabled: both proxies refuse them within a
    // second, nginx through the server that made the change, Caddy through
    // the other.
    let removed = rollcall(
        &db,
        &policy,
        &["user", "delete", "--org", "acme-ai", "dan@example.com"],
    );
    assert!(removed.status.success(), "{}", stderr(&removed));
    let disabled = rollcall(
        &db,
        &policy,
        &["service-account", "disable", "--org", "acme-ai", "bot"],
    );
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    for (name, proxy) in &proxies {
        for (who, secret) in [("a removed member", &dan), ("a disabled service account", &bot)] {
            assert!(
                within_a_second(
                    || call(&proxy.base, "POST", "/v1/deployments/d1/infer", Some(secret)).0 == 401
                ),
                "{name} still lets {who} through"
            );
        }
    }

    // Eve's token is revoked: both proxies refuse it within a second.
    let revoked = rollcall(
        &db,
        &policy,
        &["token", "revoke", "--org", "acme-ai", &eve_token_id],
    );
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    for (name, proxy) in &proxies {
        assert!(
            within_a_second(|| call(&proxy.base, "POST", "/v1/deployments/d1/infer", Some(&eve)).0 == 401),
            "{name} still lets a revoked token through"
        );
    }

    // Each answer is counted by its outcome; no token is in the scrape.
    let scrape = ureq::get(format!("http://{metrics_bind}/metrics"))
        .call()
        .ok()
        .and_then(|mut answer| answer.body_mut().read_to_string().ok())
        .unwrap_or_default();
    for outcome in [
        "allowed",
        "no_token",
        "not_a_token",
        "forbidden",
        "no_route",
        "inactive",
        "outside_networks",
        "rate_spent",
    ] {
        let counted = format!("rollcall_gateway_checks_total{{outcome=\"{outcome}\"}}");
        assert!(scrape.contains(&counted), "{counted} not in the scrape");
    }
    assert!(!scrape.contains("rcp_") && !scrape.contains(&client));

    // No log line of either server carries a secret, whole or in part.
    for log in [server.log(), second.log()] {
        assert!(
            log.lines().count() > 10,
            "the servers logged too little to tell: {log}"
        );
        for secret in [&eve, &ada, &dan, &bot, &metered, &elsewhere, &here, &client] {
            let random_part = &secret[4..36];
            assert!(!log.contains(random_part), "a log line carries a secret");
        }
    }
}

/// Apache httpd with `mod_auth_openidc` as an OAuth 2.0 resource server,
/// asking the token check (RFC 7662) with HTTP Basic, as docs/gateway.md
/// sets it up.
fn apache(dir: &Path, rollcall: &str, client: &str, upstream: u16) -> Proxy {
    Proxy::start(|port| {
        let modules: String = [
            ("mpm_event", "mod_mpm_event"),
            ("authn_core", "mod_authn_core"),
            ("authz_core", "mod_authz_core"),
            ("authz_user", "mod_authz_user"),
            ("headers", "mod_headers"),
            ("proxy", "mod_proxy"),
            ("proxy_http", "mod_proxy_http"),
            ("auth_openidc", "mod_auth_openidc"),
        ]
        .iter()
        .map(|(name, file)| format!("LoadModule {name}_module {MODULES}/{file}.so\n"))
        .collect();
        let config = format!(
            r#"ServerRoot "{dir}"
ServerName 127.0.0.1
PidFile {dir}/httpd.pid
Listen 127.0.0.1:{port}
ErrorLog {dir}/error.log
LogLevel warn
{modules}User nobody
Group nogroup
OIDCCryptoPassphrase a-passphrase-for-the-test-only
OIDCOAuthIntrospectionEndpoint {rollcall}/api/v1/tokens/introspect
OIDCOAuthClientID gateway
OIDCOAuthClientSecret {client}
OIDCOAuthIntrospectionEndpointAuth client_secret_basic
OIDCOAuthSSLValidateServer Off
OIDCOAuthRemoteUserClaim sub
OIDCOAuthTokenExpiryClaim exp absolute optional
OIDCOAuthTokenIntrospectionInterval 1
OIDCPassClaimsAs environment
<Location "/v1/">
    AuthType oauth20
    Require valid-user
    RequestHeader set X-Rollcall-Org "%{{OIDC_CLAIM_org}}e"
    RequestHeader set X-Rollcall-Subject "%{{OIDC_CLAIM_sub}}e"
    RequestHeader set X-Rollcall-Kind "%{{OIDC_CLAIM_kind}}e"
    RequestHeader set X-Rollcall-Role "%{{OIDC_CLAIM_role}}e"
    RequestHeader unset Authorization
    ProxyPass "http://127.0.0.1:{upstream}/v1/"
</Location>
"#,
            dir = dir.display()
        );
        let file = dir.join("httpd.conf");
        std::fs::write(&file, config).expect("httpd.conf");
        let mut command = Command::new("/usr/sbin/apache2");
        command.arg("-f").arg(&file).arg("-DFOREGROUND");
        command
    })
}

/// Caddy in front of Rollcall with HTTPS, its certificate from Caddy's own
/// authority: what an RFC 7662 client that will speak only HTTPS needs here.
fn tls_front(dir: &Path, rollcall: &str) -> Proxy {
    let mut proxy = Proxy::start(|port| {
        let config = format!(
            "{{\n    admin off\n    skip_install_trust\n}}\nhttps://127.0.0.1:{port} {{\n    tls internal\n    reverse_proxy {}\n}}\n",
            rollcall.trim_start_matches("http://")
        );
        let file = dir.join("Caddyfile");
        std::fs::write(&file, config).expect("Caddyfile");
        let mut command = Command::new("/usr/bin/caddy");
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("HOME", dir);
        command
    });
    proxy.base = proxy.base.replacen("http://", "https://", 1);
    proxy
}

fn apache_asks_the_token_check_as_an_rfc_7662_resource_server() {
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
    join(&server.base, "ada@example.com", &link_path(&created));
    let token = secret_printed(&rollcall(
        &db,
        &policy,
        &[
            "token",
            "create",
            "--org",
            "acme-ai",
            "--user",
            "ada@example.com",
            "--access",
            "inference",
        ],
    ));
    let client = secret_printed(&rollcall(
        &db,
        &policy,
        &["introspection-client", "create", "gateway"],
    ));
    let upstream = echo_upstream();
    let dir = scratch.0.join("apache");
    let tls_dir = scratch.0.join("tls");
    for dir in [&dir, &tls_dir] {
        std::fs::create_dir_all(dir).expect("a directory for the proxy");
    }
    // mod_auth_openidc asks only over HTTPS: Caddy, with a certificate of its
    // own making, carries the token check to Rollcall.
    let tls = tls_front(&tls_dir, &server.base);
    let apache = apache(&dir, &tls.base, &client, upstream);

    let (status, seen) = call(&apache.base, "GET", "/v1/deployments/d1", Some(&token));
    assert_eq!(status, 200, "{seen}");
    let ada_id = listed_id(&db, &policy, "user", "email", "ada@example.com");
    assert!(
        seen.to_ascii_lowercase()
            .contains(&format!("x-rollcall-subject: {}", ada_id.to_ascii_lowercase())),
        "{seen}"
    );
    assert!(seen.contains("X-Rollcall-Role: owner"), "{seen}");
    assert!(!seen.contains("rcp_"), "the upstream saw the token: {seen}");
    assert_eq!(call(&apache.base, "GET", "/v1/deployments/d1", None).0, 401);
    let mut mistyped = token.clone();
    mistyped.pop();
    mistyped.push(if token.ends_with('a') { 'b' } else { 'a' });
    assert_eq!(
        call(&apache.base, "GET", "/v1/deployments/d1", Some(&mistyped)).0,
        401
    );

    // Revoked: refused once the result it keeps is a second old.
    let token_id = listed_id(&db, &policy, "token", "holder", "ada@");
    let revoked = rollcall(&db, &policy, &["token", "revoke", "--org", "acme-ai", &token_id]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let deadline = Instant::now() + Duration::from_secs(3);
    while call(&apache.base, "GET", "/v1/deployments/d1", Some(&token)).0 != 401 {
        assert!(
            Instant::now() < deadline,
            "httpd still lets a revoked token through"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

crate::tests![
    nginx_and_caddy_let_through_only_what_the_route_rules_allow: PROXIES,
    apache_asks_the_token_check_as_an_rfc_7662_resource_server: APACHE,
];
