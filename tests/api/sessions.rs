//! Sessions end for real: a saved cookie replayed after signing out opens
//! nothing, on any server; "sign out of every session" ends them all; and
//! sessions run out after the idle timeout. The cookie stays small.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::http::{Browser, TestServer};

/// A GET with exactly this cookie, as a copied cookie would be replayed.
fn replay(base: &str, path: &str, cookie: &str) -> u16 {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .expect("a status line")
}

/// Signs in and returns the session cookie as the browser holds it.
fn signed_in_cookie(browser: &mut Browser, email: &str) -> String {
    browser.get("/login");
    let signed = browser.post("/login/dev", &[("email", email), ("next", "/profile")]);
    assert_eq!(signed.status, 303);
    let cookie = signed.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

fn a_cookie_saved_before_signing_out_opens_nothing_on_any_server() {
    let server = TestServer::start();
    let second = server.another_server();
    let mut ada = server.browser();
    let cookie = signed_in_cookie(&mut ada, "ada@example.com");
    assert_eq!(replay(&server.base, "/profile", &cookie), 200);
    assert_eq!(replay(&second, "/profile", &cookie), 200);
    ada.get("/profile");
    assert_eq!(ada.post("/logout", &[]).status, 303);
    assert_eq!(replay(&server.base, "/profile", &cookie), 303);
    assert_eq!(replay(&second, "/profile", &cookie), 303);
    // Signing in again starts a session that works.
    let mut again = server.browser();
    let fresh = signed_in_cookie(&mut again, "ada@example.com");
    assert_eq!(replay(&second, "/profile", &fresh), 200);
}

fn signing_out_of_every_session_ends_them_all() {
    let server = TestServer::start();
    let second = server.another_server();
    let mut laptop = server.browser();
    let laptop_cookie = signed_in_cookie(&mut laptop, "ada@example.com");
    let mut phone = Browser::at(&second);
    let phone_cookie = signed_in_cookie(&mut phone, "ada@example.com");
    let mut bob = server.browser();
    let bob_cookie = signed_in_cookie(&mut bob, "bob@example.com");

    let profile = laptop.get("/profile");
    profile.assert_contains("Sign out of every session");
    let ended = laptop.post("/profile/sessions/end", &[]);
    assert_eq!(ended.location.as_deref(), Some("/login"));
    assert_eq!(replay(&server.base, "/profile", &laptop_cookie), 303);
    assert_eq!(replay(&second, "/profile", &phone_cookie), 303);
    assert_eq!(
        replay(&second, "/profile", &bob_cookie),
        200,
        "only Ada's sessions end"
    );
    assert_eq!(phone.get("/profile").status, 303);
}

fn an_idle_session_runs_out() {
    let server = TestServer::start_with(&["--session-idle", "1s"]);
    let mut ada = server.browser();
    let cookie = signed_in_cookie(&mut ada, "ada@example.com");
    assert_eq!(replay(&server.base, "/profile", &cookie), 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(replay(&server.base, "/profile", &cookie), 303);
}

fn notices_never_outgrow_the_cookie() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    ada.get("/orgs/acme-ai/members");
    let org = server.app.org("acme-ai");
    let mut largest = 0;
    for n in 0..15 {
        let long = format!("{}{n}@example.com", "x".repeat(60));
        let issued = server.app.invite(&org, &long, rollcall::domain::Role::VIEWER);
        let resent = ada.post(
            &format!("/orgs/acme-ai/invitations/{}/resend", issued.invitation_id),
            &[],
        );
        assert_eq!(resent.status, 200, "{}", resent.body);
        let revoked = ada.post(
            &format!("/orgs/acme-ai/invitations/{}/revoke", issued.invitation_id),
            &[],
        );
        assert_eq!(revoked.status, 303, "{}", revoked.body);
        if let Some(cookie) = revoked.header("set-cookie") {
            largest = largest.max(cookie.len());
        }
    }
    assert!(largest > 0 && largest < 4096, "a {largest}-byte cookie");
}

fn a_dead_invitation_link_does_not_take_over_later_sign_ins() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    let issued = server
        .app
        .invite(&org, "bob@example.com", rollcall::domain::Role::VIEWER);
    ada.get("/orgs/acme-ai/members");
    let revoked = ada.post(
        &format!("/orgs/acme-ai/invitations/{}/revoke", issued.invitation_id),
        &[],
    );
    assert_eq!(revoked.status, 303);

    let mut bob = server.browser();
    let path = &issued.link[issued.link.find("/invite/").expect("a link")..];
    assert_eq!(bob.get(path).status, 410);
    bob.get("/login");
    let signed = bob.post(
        "/login/dev",
        &[("email", "bob@example.com"), ("next", "/profile")],
    );
    assert_eq!(signed.location.as_deref(), Some("/profile"));
}

fn a_crafted_invite_with_missing_role_fields_is_refused() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    ada.get("/orgs/acme-ai/members");
    let before = server.app.snapshot();
    let sent = ada.post(
        "/orgs/acme-ai/invitations",
        &[
            ("email", "bob@example.com"),
            ("name", ""),
            ("row_role", "viewer"),
            ("email", "carol@example.com"),
            ("name", ""),
        ],
    );
    assert_eq!(sent.status, 422, "{}", sent.body);
    assert_eq!(server.app.snapshot(), before, "nothing invited");
}

fn switching_account_or_signing_in_again_ends_the_session_before() {
    let server = TestServer::start();
    let mut carol = server.browser();
    let cookie = signed_in_cookie(&mut carol, "carol@example.com");
    carol.get("/profile");
    let switched = carol.post("/invitation/switch", &[]);
    assert_eq!(switched.status, 303);
    assert_eq!(
        replay(&server.base, "/profile", &cookie),
        303,
        "the old session still works"
    );

    let mut ada = server.browser();
    let first = signed_in_cookie(&mut ada, "ada@example.com");
    ada.get("/profile");
    let again = ada.post(
        "/login/dev",
        &[("email", "bob@example.com"), ("next", "/profile")],
    );
    assert_eq!(again.status, 303);
    assert_eq!(
        replay(&server.base, "/profile", &first),
        303,
        "Ada's session outlived Bob's sign-in"
    );
}

crate::tests![
    a_cookie_saved_before_signing_out_opens_nothing_on_any_server,
    signing_out_of_every_session_ends_them_all,
    an_idle_session_runs_out,
    notices_never_outgrow_the_cookie,
    a_dead_invitation_link_does_not_take_over_later_sign_ins,
    a_crafted_invite_with_missing_role_fields_is_refused,
    switching_account_or_signing_in_again_ends_the_session_before,
];
