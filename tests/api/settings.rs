use rollcall::services::settings::{self, KeySource};

use crate::helpers::TestApp;

fn a_generated_session_key_is_kept_and_reused() {
    let app = TestApp::new();
    let (first, source) = settings::session_key(&mut app.conn(), None).unwrap();
    assert_eq!(source, KeySource::Generated);
    assert_eq!(first.len(), 64);
    let (again, source) = settings::session_key(&mut app.conn(), None).unwrap();
    assert_eq!((again, source), (first, KeySource::Stored));
}

fn a_configured_session_key_must_be_long_enough_base64() {
    let app = TestApp::new();
    let short = settings::session_key(&mut app.conn(), Some("c2hvcnQ=")).unwrap_err();
    assert!(short.to_string().contains("at least 64 bytes"), "{short}");
    let garbage = settings::session_key(&mut app.conn(), Some("not base64!")).unwrap_err();
    assert!(garbage.to_string().contains("must be base64"));
    let good = "A".repeat(88);
    let (key, source) = settings::session_key(&mut app.conn(), Some(&good)).unwrap();
    assert_eq!((key.len(), source), (66, KeySource::Configured));
    assert_eq!(app.count("settings"), 0, "a configured key is never stored");
}

crate::tests![
    a_generated_session_key_is_kept_and_reused,
    a_configured_session_key_must_be_long_enough_base64,
];
