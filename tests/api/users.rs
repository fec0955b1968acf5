use rollcall::domain::EmailAddress;
use rollcall::services::users::{self, Provider, SignIn};

use crate::helpers::TestApp;

fn sign_in(provider: Provider, subject: &str, emails: &[&str]) -> SignIn {
    SignIn::new(
        provider,
        subject,
        Some("Ada Lovelace"),
        None,
        emails.iter().map(|e| EmailAddress::parse(e).unwrap()),
    )
    .expect("a sign-in")
}

fn identities_are_keyed_on_provider_and_subject() {
    let app = TestApp::new();
    let first = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "42", &["ada@example.com"]),
    )
    .unwrap();
    let again = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "42", &["ada@example.com"]),
    )
    .unwrap();
    assert_eq!(first.id, again.id);
    assert!(again.last_sign_in_at.is_some());
    let other = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "43", &["eve@example.com"]),
    )
    .unwrap();
    assert_ne!(first.id, other.id);
}

fn two_identities_with_one_verified_address_are_one_user() {
    let app = TestApp::new();
    let github = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "42", &["ada@example.com", "ada@work.example"]),
    )
    .unwrap();
    let google = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::Google, "g-1", &["ada@work.example"]),
    )
    .unwrap();
    assert_eq!(github.id, google.id);
    let emails = users::verified_emails(&mut app.conn(), &github.id).unwrap();
    let emails: Vec<&str> = emails.iter().map(EmailAddress::as_str).collect();
    assert_eq!(emails, ["ada@example.com", "ada@work.example"]);
}

fn an_address_no_longer_verified_stops_counting() {
    let app = TestApp::new();
    let user = users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "42", &["ada@example.com", "old@example.com"]),
    )
    .unwrap();
    users::sign_in(
        &mut app.conn(),
        &sign_in(Provider::GitHub, "42", &["ada@example.com"]),
    )
    .unwrap();
    let emails = users::verified_emails(&mut app.conn(), &user.id).unwrap();
    assert_eq!(emails.len(), 1);
}

fn a_sign_in_without_a_verified_address_is_refused() {
    let app = TestApp::new();
    let refused = users::sign_in(&mut app.conn(), &sign_in(Provider::GitHub, "42", &[])).unwrap_err();
    assert_eq!(refused.status(), 422);
    assert!(refused.to_string().contains("no verified email address"));
    assert_eq!(app.count("users"), 0);
}

crate::tests![
    identities_are_keyed_on_provider_and_subject,
    two_identities_with_one_verified_address_are_one_user,
    an_address_no_longer_verified_stops_counting,
    a_sign_in_without_a_verified_address_is_refused,
];
