//! What the server answers is what `docs/contract.md` says, to the header:
//! the points where the two had drifted apart.

use reqwest::header;

use crate::common::{json, spawn_app};

const IDLE: u64 = 900;

/// Signing out ends the session the call was checked against: its answer
/// says no time is left, not what the session had before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_answers_that_no_time_is_left() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let listed = browser.list_items(1).await;
    assert_eq!(listed.headers()["session-idle-remaining"], IDLE.to_string());
    let res = browser.sign_out().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["session-idle-remaining"], "0");
}

/// A form posted without JavaScript after the session ended is sent to the
/// login page with the headers every ended answer carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_after_the_end_carries_the_reason_and_no_time_left() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let cookie = browser.session_cookie().expect("signed in");
    app.advance(IDLE);
    let res = app
        .http
        .post(app.url("/api/create_item"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml;q=0.9")
        .header(header::COOKIE, &cookie)
        .form(&[("title", "t"), ("description", "d")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["session-end-reason"], "idle");
    assert_eq!(res.headers()["session-idle-remaining"], "0");
}

/// Only a request that asks for the media type `text/html` is a form post;
/// a script whose `Accept` merely contains those letters, or refuses HTML,
/// gets the typed 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_whose_accept_only_contains_text_html_gets_the_typed_401() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let cookie = browser.session_cookie().expect("signed in");
    app.advance(IDLE);
    for accept in ["text/html-fragment", "application/json, text/html;q=0"] {
        let res = app
            .http
            .post(app.url("/api/list_items"))
            .header(header::ACCEPT, accept)
            .header(header::COOKIE, &cookie)
            .form(&[("page", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{accept}");
        assert_eq!(json(res).await["reason"], "idle", "{accept}");
    }
}

/// `add-user --help` says how the password is read and what it must be.
#[test]
fn add_user_help_says_how_the_password_is_read() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_session-guard"))
        .args(["add-user", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for words in ["without echo", "standard input", "at least 8 characters"] {
        assert!(help.contains(words), "{words}: {help}");
    }
}
