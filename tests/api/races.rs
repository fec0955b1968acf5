//! Two servers on one database, racing: invitations answered and changed at
//! once, first sign-ins of one account, and what each side is told. The state
//! afterwards is checked, not only the answers.

use std::sync::{Arc, Barrier};
use std::thread;

use rollcall::domain::Role;

use crate::http::{Browser, Page, TestServer};

const ROUNDS: usize = 6;

/// Runs each of `moves` on its own thread, released together.
fn at_once(moves: Vec<Box<dyn FnOnce() -> Page + Send>>) -> Vec<Page> {
    let barrier = Arc::new(Barrier::new(moves.len()));
    let handles: Vec<_> = moves
        .into_iter()
        .map(|play| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                play()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("a racer"))
        .collect()
}

fn acme(server: &TestServer) -> Browser {
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    ada.get("/orgs/acme-ai/members");
    ada
}

/// Ada signed in on the server at `base`, with a CSRF token for its forms.
fn ada_at(base: &str) -> Browser {
    let mut ada = Browser::at(base);
    ada.sign_in("ada@example.com");
    ada.get("/orgs/acme-ai/members");
    ada
}

/// The path of an invitation link (the services here write links to another host).
fn link_path(link: &str) -> &str {
    link.find("/invite/").map_or(link, |at| &link[at..])
}

fn live_tokens(server: &TestServer, invitation_id: &str) -> i64 {
    server.app.count(&format!(
        "invitation_tokens WHERE invitation_id = '{invitation_id}' AND replaced_at IS NULL"
    ))
}

fn queued_emails(server: &TestServer, invitation_id: &str) -> i64 {
    server.app.count(&format!(
        "email_outbox WHERE invitation_id = '{invitation_id}' AND state = 'queued'"
    ))
}

fn a_revoke_racing_an_accept_tells_each_side_what_really_happened() {
    let server = TestServer::start();
    acme(&server);
    let second = server.another_server();
    let org = server.app.org("acme-ai");
    for round in 0..ROUNDS {
        let email = format!("carol{round}@example.com");
        let issued = server.app.invite(&org, &email, Role::VIEWER);
        let mut carol = Browser::at(&second);
        carol.sign_in(&email);
        assert_eq!(carol.get(link_path(&issued.link)).status, 200);
        let mut ada = ada_at(&server.base);
        let id = issued.invitation_id.clone();
        let answers = at_once(vec![
            Box::new(move || carol.post("/invitation/accept", &[("invitation_id", &id)])),
            Box::new({
                let id = issued.invitation_id.clone();
                move || ada.post(&format!("/orgs/acme-ai/invitations/{id}/revoke"), &[])
            }),
        ]);
        let (accepted, revoked) = (&answers[0], &answers[1]);
        let joined = server
            .app
            .role_of(&org, &server.app.user_by_email(&email))
            .is_some();
        if joined {
            assert_eq!(accepted.status, 303, "round {round}: {}", accepted.body);
            assert_eq!(
                revoked.status, 409,
                "round {round}: said revoked, yet {email} joined"
            );
            revoked.assert_contains("accepted");
        } else {
            assert_eq!(revoked.status, 303, "round {round}: {}", revoked.body);
            assert_eq!(accepted.status, 410, "round {round}: {}", accepted.body);
        }
    }
}

fn racing_resends_leave_exactly_one_live_link() {
    let server = TestServer::start();
    acme(&server);
    let second = server.another_server();
    let org = server.app.org("acme-ai");
    let issued = server.app.invite(&org, "carol@example.com", Role::VIEWER);
    let moves: Vec<Box<dyn FnOnce() -> Page + Send>> = (0..10)
        .map(|n| {
            let mut ada = ada_at(if n % 2 == 0 { &server.base } else { &second });
            let id = issued.invitation_id.clone();
            Box::new(move || ada.hx_post(&format!("/orgs/acme-ai/invitations/{id}/resend"), &[]))
                as Box<dyn FnOnce() -> Page + Send>
        })
        .collect();
    for page in at_once(moves) {
        assert_eq!(page.status, 200, "{}", page.body);
    }
    assert_eq!(live_tokens(&server, &issued.invitation_id), 1);
    assert!(queued_emails(&server, &issued.invitation_id) <= 1);
}

fn a_revoke_racing_resends_leaves_no_live_link_and_no_email() {
    let server = TestServer::start();
    acme(&server);
    let second = server.another_server();
    let org = server.app.org("acme-ai");
    for round in 0..ROUNDS {
        let issued = server
            .app
            .invite(&org, &format!("dan{round}@example.com"), Role::VIEWER);
        let mut moves: Vec<Box<dyn FnOnce() -> Page + Send>> = Vec::new();
        for n in 0..4 {
            let mut ada = ada_at(if n % 2 == 0 { &server.base } else { &second });
            let id = issued.invitation_id.clone();
            moves.push(Box::new(move || {
                ada.hx_post(&format!("/orgs/acme-ai/invitations/{id}/resend"), &[])
            }));
        }
        let mut ada = ada_at(&second);
        let id = issued.invitation_id.clone();
        moves.push(Box::new(move || {
            ada.hx_post(&format!("/orgs/acme-ai/invitations/{id}/revoke"), &[])
        }));
        let answers = at_once(moves);
        assert_eq!(answers[4].status, 200, "the revoke: {}", answers[4].body);
        for resend in &answers[..4] {
            assert!(
                resend.status == 200 || resend.status == 409,
                "round {round}: {} {}",
                resend.status,
                resend.body
            );
            if resend.status == 409 {
                resend.assert_contains("already revoked");
            }
        }
        assert_eq!(queued_emails(&server, &issued.invitation_id), 0, "round {round}");
        let link = Browser::at(&server.base).get(link_path(&issued.link));
        assert_eq!(link.status, 410, "round {round}");
    }
}

fn racing_first_sign_ins_of_one_account_make_one_user_and_all_sign_in() {
    let server = TestServer::start();
    let second = server.another_server();
    let moves: Vec<Box<dyn FnOnce() -> Page + Send>> = (0..10)
        .map(|n| {
            let mut browser = Browser::at(if n % 2 == 0 { &server.base } else { &second });
            browser.get("/login");
            Box::new(move || {
                browser.post(
                    "/login/dev",
                    &[("email", "newcomer@example.com"), ("next", "/profile")],
                )
            }) as Box<dyn FnOnce() -> Page + Send>
        })
        .collect();
    for page in at_once(moves) {
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/profile"));
    }
    assert_eq!(server.app.count("users"), 1);
    assert_eq!(server.app.count("identities"), 1);
}

fn the_same_token_form_sent_to_two_servers_at_once_makes_one_token() {
    let server = TestServer::start();
    acme(&server);
    let second = server.another_server();
    for round in 0..ROUNDS {
        // One form, loaded once, sent twice at the same moment: a reload
        // racing the first submission, each reaching another server.
        let mut on_first = ada_at(&server.base);
        let mut on_second = ada_at(&second);
        let once = on_first
            .get("/orgs/acme-ai/tokens")
            .field("once")
            .expect("a one-time value");
        on_second.get("/orgs/acme-ai/tokens");
        let moves: Vec<Box<dyn FnOnce() -> Page + Send>> = [on_first, on_second]
            .into_iter()
            .map(|mut ada| {
                let once = once.clone();
                Box::new(move || {
                    ada.post(
                        "/orgs/acme-ai/tokens",
                        &[
                            ("name", "CI deploys"),
                            ("access", "inference"),
                            ("days", "30"),
                            ("once", once.as_str()),
                        ],
                    )
                }) as Box<dyn FnOnce() -> Page + Send>
            })
            .collect();
        let answers = at_once(moves);
        for answer in &answers {
            assert_eq!(answer.status, 200, "round {round}: {}", answer.body);
        }
        let with_secret = answers
            .iter()
            .filter(|answer| answer.contains("id=\"new-secret\""))
            .count();
        let told_made = answers
            .iter()
            .filter(|answer| answer.contains("was already created; its secret was shown once"))
            .count();
        assert_eq!((with_secret, told_made), (1, 1), "round {round}");
        assert_eq!(
            server.app.count("api_tokens"),
            round as i64 + 1,
            "round {round}: one token per form"
        );
    }
}

crate::tests![
    a_revoke_racing_an_accept_tells_each_side_what_really_happened,
    racing_resends_leave_exactly_one_live_link,
    a_revoke_racing_resends_leaves_no_live_link_and_no_email,
    racing_first_sign_ins_of_one_account_make_one_user_and_all_sign_in,
    the_same_token_form_sent_to_two_servers_at_once_makes_one_token,
];
